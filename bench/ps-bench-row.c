/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * A row of ps-bench: its contestants' series of samples, their
 * statistics (median, percentiles, the ratio to the best baseline taken
 * round by round), its targets, metrics and notes, and how it prints.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ps-bench.h"

/* Rows, series, statistics -------------------------------------------------- */

static void
series_free (gpointer data)
{
  Series *series = data;

  g_free (series->id);
  g_free (series->label);
  g_free (series->group);
  g_free (series->skip_reason);
  g_array_unref (series->samples);
  g_free (series);
}

static void
target_free (gpointer data)
{
  Target *target = data;

  g_free (target->text);
  g_free (target->kind);
  g_free (target->subject);
  g_free (target->reference);
  g_free (target->stat);
  g_free (target->unit);
  g_free (target->why);
  g_free (target);
}

static void
metric_free (gpointer data)
{
  Metric *metric = data;

  g_free (metric->key);
  g_free (metric);
}

Row *
row_new (const char *id,
         const char *title,
         const char *unit,
         gboolean    higher_is_better)
{
  Row *row = g_new0 (Row, 1);

  row->id = g_strdup (id);
  row->title = g_strdup (title);
  row->unit = g_strdup (unit);
  row->higher_is_better = higher_is_better;
  row->series = g_ptr_array_new_with_free_func (series_free);
  row->targets = g_ptr_array_new_with_free_func (target_free);
  row->metrics = g_ptr_array_new_with_free_func (metric_free);
  row->notes = g_ptr_array_new_with_free_func (g_free);
  return row;
}

void
row_free (gpointer data)
{
  Row *row = data;

  g_free (row->id);
  g_free (row->title);
  g_free (row->unit);
  g_free (row->placement);
  g_ptr_array_unref (row->series);
  g_ptr_array_unref (row->targets);
  g_ptr_array_unref (row->metrics);
  g_ptr_array_unref (row->notes);
  g_free (row);
}

Series *
row_add_series (Row        *row,
                const char *id,
                const char *label,
                SeriesKind  kind)
{
  return row_add_group_series (row, NULL, id, label, kind);
}

/* A series compared only with the others of @group: a second measure of
 * the same contestants (their CPU time beside their wall time), or one
 * case of several in the row (N = 4 processes). Same unit and direction
 * as the row. */
Series *
row_add_group_series (Row        *row,
                      const char *group,
                      const char *id,
                      const char *label,
                      SeriesKind  kind)
{
  Series *series = g_new0 (Series, 1);

  series->group = g_strdup (group);
  series->id = g_strdup (id);
  series->label = g_strdup (label);
  series->kind = kind;
  series->samples = g_array_new (FALSE, FALSE, sizeof (double));
  series->median = series->p10 = series->p90 = series->p99 = series->mad = NAN;
  series->ratio = NAN;
  g_ptr_array_add (row->series, series);
  return series;
}

Series *
row_find_series (Row        *row,
                 const char *id)
{
  guint i;

  for (i = 0; i < row->series->len; i++)
    {
      Series *series = g_ptr_array_index (row->series, i);

      if (g_strcmp0 (series->id, id) == 0)
        return series;
    }
  return NULL;
}

void
row_note (Row        *row,
          const char *format,
          ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (row->notes, g_strdup_vprintf (format, args));
  va_end (args);
}

/* Where the row's processes ran (CPUs, pinning, fresh or long-lived
 * processes): printed and kept in the JSON. */
void
row_set_placement (Row        *row,
                   const char *format,
                   ...)
{
  va_list args;

  va_start (args, format);
  g_free (row->placement);
  row->placement = g_strdup_vprintf (format, args);
  va_end (args);
}

void
row_metric (Row        *row,
            const char *key,
            double      value)
{
  Metric *metric = g_new0 (Metric, 1);

  metric->key = g_strdup (key);
  metric->value = value;
  g_ptr_array_add (row->metrics, metric);
}

void
series_add (Series *series,
            double  value)
{
  g_array_append_val (series->samples, value);
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Linear interpolation between the closest ranks, on sorted values. */
static double
percentile (const double *sorted,
            guint         n,
            double        p)
{
  double position;
  guint below;

  if (n == 0)
    return NAN;
  position = p * (double) (n - 1);
  below = (guint) position;
  if (below + 1 >= n)
    return sorted[n - 1];
  return sorted[below] + (position - below) * (sorted[below + 1] - sorted[below]);
}

double
median_of (GArray *values)
{
  g_autofree double *sorted = NULL;
  double result;

  if (values->len == 0)
    return NAN;
  sorted = g_memdup2 (values->data, values->len * sizeof (double));
  qsort (sorted, values->len, sizeof (double), compare_doubles);
  result = percentile (sorted, values->len, 0.5);
  return result;
}

static void
series_compute (Series *series)
{
  g_autofree double *sorted = NULL;
  g_autoptr(GArray) deviations = NULL;
  guint n = series->samples->len;
  guint i;

  if (n == 0)
    return;
  sorted = g_memdup2 (series->samples->data, n * sizeof (double));
  qsort (sorted, n, sizeof (double), compare_doubles);
  series->median = percentile (sorted, n, 0.5);
  series->p10 = percentile (sorted, n, 0.1);
  series->p90 = percentile (sorted, n, 0.9);
  series->p99 = percentile (sorted, n, 0.99);

  deviations = g_array_sized_new (FALSE, FALSE, sizeof (double), n);
  for (i = 0; i < n; i++)
    {
      double d = fabs (sorted[i] - series->median);

      g_array_append_val (deviations, d);
    }
  series->mad = median_of (deviations);
}

/* Subject over reference: the median of the round-by-round ratios when
 * both ran in the same rounds, else the ratio of the medians. */
double
ratio_of (Series *subject,
          Series *reference)
{
  g_autoptr(GArray) ratios = NULL;
  guint i;

  if (subject == NULL || reference == NULL ||
      subject->samples->len == 0 || reference->samples->len == 0)
    return NAN;
  if (subject->samples->len != reference->samples->len)
    return subject->median / reference->median;

  ratios = g_array_sized_new (FALSE, FALSE, sizeof (double), subject->samples->len);
  for (i = 0; i < subject->samples->len; i++)
    {
      double r = g_array_index (subject->samples, double, i) /
                 g_array_index (reference->samples, double, i);

      g_array_append_val (ratios, r);
    }
  return median_of (ratios);
}

/* The best baseline of @group (NULL: the series of no group). */
static Series *
best_of_group (Row        *row,
               const char *group)
{
  Series *best = NULL;
  guint i;

  for (i = 0; i < row->series->len; i++)
    {
      Series *series = g_ptr_array_index (row->series, i);

      if (series->kind != KIND_BASELINE || isnan (series->median) ||
          g_strcmp0 (series->group, group) != 0)
        continue;
      if (best == NULL ||
          (row->higher_is_better ? series->median > best->median
                                 : series->median < best->median))
        best = series;
    }
  return best;
}

void
row_finish (Row *row)
{
  guint i;

  for (i = 0; i < row->series->len; i++)
    series_compute (g_ptr_array_index (row->series, i));
  for (i = 0; i < row->series->len; i++)
    {
      Series *series = g_ptr_array_index (row->series, i);

      series->best = best_of_group (row, series->group);
      series->ratio = ratio_of (series, series->best);
    }
  row->best_baseline = NULL;
  if (row->series->len > 0)
    row->best_baseline = ((Series *) g_ptr_array_index (row->series, 0))->best;
}

static Target *
row_add_target (Row        *row,
                const char *text,
                const char *kind,
                const char *subject,
                const char *reference,
                const char *stat,
                const char *unit,
                gboolean    at_most,
                double      limit,
                double      value)
{
  Target *target = g_new0 (Target, 1);

  target->text = g_strdup (text);
  target->kind = g_strdup (kind);
  target->subject = g_strdup (subject);
  target->reference = g_strdup (reference);
  target->stat = g_strdup (stat);
  target->unit = g_strdup (unit);
  target->at_most = at_most;
  target->limit = limit;
  target->value = value;
  target->evaluated = !isnan (value);
  if (target->evaluated)
    target->pass = at_most ? value <= limit : value >= limit;
  g_ptr_array_add (row->targets, target);
  return target;
}

/* A target on the ratio of two contestants of the row. */
void
row_target_ratio (Row        *row,
                  const char *text,
                  const char *subject,
                  const char *reference,
                  gboolean    at_most,
                  double      limit)
{
  row_add_target (row, text, "ratio", subject, reference, "median", "×", at_most, limit,
                  ratio_of (row_find_series (row, subject), row_find_series (row, reference)));
}

/* A target on a statistic of one contestant ("median", "p99"). */
void
row_target_stat (Row        *row,
                 const char *text,
                 const char *subject,
                 const char *stat,
                 gboolean    at_most,
                 double      limit)
{
  Series *series = row_find_series (row, subject);
  double value = NAN;

  if (series != NULL && g_str_equal (stat, "median"))
    value = series->median;
  else if (series != NULL && g_str_equal (stat, "p99"))
    value = series->p99;
  row_add_target (row, text, "value", subject, NULL, stat, row->unit, at_most, limit, value);
}

/* A target on a number the row computed itself. */
void
row_target_metric (Row        *row,
                   const char *text,
                   const char *metric,
                   const char *unit,
                   gboolean    at_most,
                   double      limit,
                   double      value)
{
  row_add_target (row, text, "value", NULL, NULL, metric, unit, at_most, limit, value);
}

void
row_target_why (Row        *row,
                const char *format,
                ...)
{
  Target *target = g_ptr_array_index (row->targets, row->targets->len - 1);
  va_list args;

  va_start (args, format);
  g_free (target->why);
  target->why = g_strdup_vprintf (format, args);
  va_end (args);
}

void
series_ratio_spread (Series *subject,
                     Series *reference,
                     double *p10,
                     double *p90)
{
  g_autofree double *ratios = NULL;
  guint n, i;

  *p10 = *p90 = NAN;
  if (subject == NULL || reference == NULL || subject->samples->len == 0 ||
      subject->samples->len != reference->samples->len)
    return;
  n = subject->samples->len;
  ratios = g_new (double, n);
  for (i = 0; i < n; i++)
    ratios[i] = g_array_index (subject->samples, double, i) /
                g_array_index (reference->samples, double, i);
  qsort (ratios, n, sizeof (double), compare_doubles);
  *p10 = percentile (ratios, n, 0.1);
  *p90 = percentile (ratios, n, 0.9);
}

/* Printing ------------------------------------------------------------------- */

/* printf pads by bytes; labels hold “×” and “µ”. */
void
print_padded (const char *text,
              glong       width)
{
  glong length = g_utf8_strlen (text, -1);

  fputs (text, stdout);
  for (; length < width; length++)
    fputc (' ', stdout);
}

void
format_number (char   *buffer,
               gsize   size,
               double  value)
{
  double magnitude = fabs (value);

  if (isnan (value))
    g_snprintf (buffer, size, "—");
  else if (magnitude >= 1000)
    g_snprintf (buffer, size, "%.0f", value);
  else if (magnitude >= 100)
    g_snprintf (buffer, size, "%.1f", value);
  else if (magnitude >= 1)
    g_snprintf (buffer, size, "%.2f", value);
  else
    g_snprintf (buffer, size, "%.3f", value);
}

static void
print_cell (double value,
            glong  width)
{
  char buffer[64];
  glong length;

  format_number (buffer, sizeof buffer, value);
  length = g_utf8_strlen (buffer, -1);
  for (; length < width; length++)
    fputc (' ', stdout);
  fputs (buffer, stdout);
}

void
row_print (Row *row)
{
  guint i;

  printf ("\n%s — %s [%s, %s is better]\n", row->id, row->title, row->unit,
          row->higher_is_better ? "higher" : "lower");
  printf ("  ");
  print_padded ("", 58);
  printf ("%10s %10s %10s %10s %9s\n", "median", "p10", "p90", "p99", "×best");
  if (row->placement != NULL)
    printf ("    placement: %s\n", row->placement);
  for (i = 0; i < row->series->len; i++)
    {
      Series *series = g_ptr_array_index (row->series, i);
      Series *previous = i > 0 ? g_ptr_array_index (row->series, i - 1) : NULL;
      g_autofree char *label = g_strdup_printf ("%s %s",
                                                series->kind == KIND_PROCSHARED ? "*" : " ",
                                                series->label);

      if (series->group != NULL &&
          (previous == NULL || g_strcmp0 (previous->group, series->group) != 0))
        printf ("  %s:\n", series->group);

      printf ("  ");
      print_padded (label, 58);
      if (series->skip_reason != NULL)
        {
          printf ("  skipped: %s\n", series->skip_reason);
          continue;
        }
      print_cell (series->median, 10);
      print_cell (series->p10, 11);
      print_cell (series->p90, 11);
      print_cell (series->p99, 11);
      if (series == series->best)
        printf ("%10s", "best");
      else
        print_cell (series->ratio, 10);
      printf ("\n");
    }
  for (i = 0; i < row->metrics->len; i++)
    {
      Metric *metric = g_ptr_array_index (row->metrics, i);

      printf ("    %s = %g\n", metric->key, metric->value);
    }
  for (i = 0; i < row->notes->len; i++)
    printf ("    note: %s\n", (const char *) g_ptr_array_index (row->notes, i));
  for (i = 0; i < row->targets->len; i++)
    {
      Target *target = g_ptr_array_index (row->targets, i);
      char value[64];

      format_number (value, sizeof value, target->value);
      printf ("  target: ");
      print_padded (target->text, 58);
      printf (" %8s %-4s %s\n", value, target->unit,
              !target->evaluated ? "SKIP" : target->pass ? "PASS" : "MISS");
      if (target->why != NULL && target->evaluated && !target->pass)
        printf ("          why: %s\n", target->why);
    }
  fflush (stdout);
}
