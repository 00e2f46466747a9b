/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps-bench: procshared side by side with the primitives it replaces.
 *
 * Every row measures procshared and its baselines in the same process,
 * interleaved: round after round, each contestant runs one batch, the
 * starting contestant rotating from one round to the next. Whatever the
 * machine does meanwhile (frequency changes, other load on two noisy
 * cores) then hits every contestant alike, and the ratio of two
 * contestants is taken round by round before its median is taken, so
 * that a slow stretch of the run cancels out of it.
 *
 * Each row prints, per contestant, the median and the 10th and 90th
 * percentiles over the rounds, and the ratio to the best baseline; then
 * PASS or MISS for the targets of issue 5. Timings never make the
 * program fail: it fails only when something does not work (an
 * operation returns an error, a counter shows a lost update, a peer
 * process dies), which is what --check (the `benchmark-quick` test)
 * relies on.
 *
 * Rows with two processes fork a peer that walks the same schedule; the
 * contended row pins the two to two different CPUs (see choose_two_cpus()).
 *
 * --profile ID runs one contestant's loop alone, inside
 * profile_collect(), for `valgrind --tool=callgrind
 * --toggle-collect=profile_collect` (see bench/profile.py).
 */

#include <dirent.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <procshared/procshared.h>

#ifdef PS_BENCH_HAVE_BOOST
# include "bench-boost.h"
#endif

/* Options ------------------------------------------------------------------ */

static gboolean  opt_quick;
static gboolean  opt_check;
static gboolean  opt_list;
static char     *opt_json;
static char     *opt_svg;
static char    **opt_filters;
static gint      opt_rounds;
static char     *opt_profile;
static gint64    opt_iterations;

static GOptionEntry option_entries[] = {
  { "quick", 'q', 0, G_OPTION_ARG_NONE, &opt_quick,
    "Smoke run: few rounds of few iterations (numbers are not meaningful)", NULL },
  { "json", 'j', 0, G_OPTION_ARG_FILENAME, &opt_json,
    "Write every row, with its samples, to FILE as JSON", "FILE" },
  { "svg", 0, 0, G_OPTION_ARG_FILENAME, &opt_svg,
    "Also draw the chart into FILE (runs bench/chart.py on the JSON)", "FILE" },
  { "filter", 'f', 0, G_OPTION_ARG_STRING_ARRAY, &opt_filters,
    "Run only the rows whose id contains ROW (repeatable, or comma-separated)", "ROW" },
  { "rounds", 'r', 0, G_OPTION_ARG_INT, &opt_rounds,
    "Rounds (samples) per row instead of each row's default", "N" },
  { "check", 0, 0, G_OPTION_ARG_NONE, &opt_check,
    "Fail unless every available contestant produced a number and the JSON is valid", NULL },
  { "list", 'l', 0, G_OPTION_ARG_NONE, &opt_list,
    "List the rows and the contestant ids usable with --profile", NULL },
  { "profile", 'p', 0, G_OPTION_ARG_STRING, &opt_profile,
    "Run contestant ID alone inside profile_collect(), for callgrind", "ID" },
  { "iterations", 'n', 0, G_OPTION_ARG_INT64, &opt_iterations,
    "Iterations for --profile (default 100000)", "N" },
  { NULL }
};

/* Helpers ------------------------------------------------------------------ */

static G_GNUC_NORETURN G_GNUC_PRINTF (1, 2) void
die (const char *format,
     ...)
{
  va_list args;

  va_start (args, format);
  fprintf (stderr, "ps-bench: ");
  vfprintf (stderr, format, args);
  fprintf (stderr, "\n");
  va_end (args);
  /* _exit: a forked peer must not run the parent's atexit handlers. */
  fflush (stdout);
  _exit (1);
}

static void
check_error (gboolean    ok,
             GError     *error,
             const char *what)
{
  if (G_UNLIKELY (!ok))
    die ("%s failed: %s", what, error != NULL ? error->message : "(no error set)");
}

static void
check_zero (int         r,
            const char *what)
{
  if (G_UNLIKELY (r != 0))
    die ("%s failed: %s", what, g_strerror (r > 0 ? r : errno));
}

static inline gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static inline double
ns_per_op_since (gint64  start,
                 guint64 iterations)
{
  return (double) (now_ns () - start) / (double) iterations;
}

/* Scales a row's normal batch size down for --quick. */
static guint64
iterations_for (guint64 normal)
{
  return opt_quick ? MAX (normal / 100, 1) : normal;
}

static guint
rounds_for (guint normal,
            guint quick)
{
  if (opt_rounds > 0)
    return (guint) opt_rounds;
  return opt_quick ? quick : normal;
}

/* What a row set up is released once the row is done, in reverse order,
 * so that rows do not pile up objects and mappings for the next ones, and
 * the sanitizers see no leak. */
typedef struct
{
  GDestroyNotify func;
  gpointer       data;
} Cleanup;

static GArray *cleanups;

static void
defer (GDestroyNotify func,
       gpointer       data)
{
  Cleanup cleanup = { func, data };

  if (cleanups == NULL)
    cleanups = g_array_new (FALSE, FALSE, sizeof (Cleanup));
  g_array_append_val (cleanups, cleanup);
}

static void
run_cleanups (void)
{
  while (cleanups != NULL && cleanups->len > 0)
    {
      Cleanup cleanup = g_array_index (cleanups, Cleanup, cleanups->len - 1);

      g_array_set_size (cleanups, cleanups->len - 1);
      cleanup.func (cleanup.data);
    }
  g_clear_pointer (&cleanups, g_array_unref);
}

static gpointer
shared_map (gsize size)
{
  gpointer p = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  if (p == MAP_FAILED)
    die ("mmap of %" G_GSIZE_FORMAT " bytes failed: %s", size, g_strerror (errno));
  return p;
}

typedef struct
{
  gpointer address;
  gsize    size;
} Mapping;

static void
mapping_free (gpointer data)
{
  Mapping *mapping = data;

  munmap (mapping->address, mapping->size);
  g_free (mapping);
}

/* Shared memory that lives as long as the row. */
static gpointer
shared_alloc (gsize size)
{
  Mapping *mapping = g_new0 (Mapping, 1);

  mapping->address = shared_map (size);
  mapping->size = size;
  defer (mapping_free, mapping);
  return mapping->address;
}

static gpointer
defer_unref (gpointer object)
{
  defer (g_object_unref, object);
  return object;
}

static gpointer
defer_free (gpointer memory)
{
  defer (g_free, memory);
  return memory;
}

static void
init_pthread_mutex (pthread_mutex_t *mutex,
                    gboolean         robust,
                    int              type)
{
  pthread_mutexattr_t attr;

  check_zero (pthread_mutexattr_init (&attr), "pthread_mutexattr_init");
  check_zero (pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED), "setpshared");
  if (robust)
    check_zero (pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST), "setrobust");
  check_zero (pthread_mutexattr_settype (&attr, type), "settype");
  check_zero (pthread_mutex_init (mutex, &attr), "pthread_mutex_init");
  pthread_mutexattr_destroy (&attr);
}

static void
init_pthread_cond (pthread_cond_t *cond)
{
  pthread_condattr_t attr;

  check_zero (pthread_condattr_init (&attr), "pthread_condattr_init");
  check_zero (pthread_condattr_setpshared (&attr, PTHREAD_PROCESS_SHARED), "setpshared");
  check_zero (pthread_condattr_setclock (&attr, CLOCK_MONOTONIC), "setclock");
  check_zero (pthread_cond_init (cond, &attr), "pthread_cond_init");
  pthread_condattr_destroy (&attr);
}

/* A two-party barrier in shared memory, used only outside timed regions
 * (and at the end of the contended row, where waiting for the peer to
 * finish is part of what is timed). */
typedef struct
{
  gint count;
  gint generation;
} Barrier;

static void
barrier_wait (Barrier *barrier)
{
  gint generation = g_atomic_int_get (&barrier->generation);
  guint spins = 0;

  if (g_atomic_int_add (&barrier->count, 1) == 1)
    {
      g_atomic_int_set (&barrier->count, 0);
      g_atomic_int_inc (&barrier->generation);
      return;
    }
  while (g_atomic_int_get (&barrier->generation) == generation)
    if (++spins > 64)
      sched_yield ();
}

/* What a process holds: entries in /proc/self/fd and lines of
 * /proc/self/maps. */
static gint
count_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  gint n = 0;

  if (dir == NULL)
    return -1;
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.')
      n++;
  closedir (dir);
  return n;
}

static gint
count_mappings (void)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  gint n = 0;
  gsize i;

  if (!g_file_get_contents ("/proc/self/maps", &contents, &length, NULL))
    return -1;
  for (i = 0; i < length; i++)
    if (contents[i] == '\n')
      n++;
  return n;
}

/* Rows, series, statistics -------------------------------------------------- */

typedef enum
{
  KIND_PROCSHARED,
  KIND_BASELINE,
} SeriesKind;

typedef struct
{
  char       *id;
  char       *label;
  SeriesKind  kind;
  char       *skip_reason;   /* not measured, and why */
  GArray     *samples;       /* double: one per round, in round order */
  double      median, p10, p90, p99, mad;
  double      ratio;         /* to the best baseline, round by round */
} Series;

typedef struct
{
  char     *text;
  char     *kind;        /* "ratio" or "value" */
  char     *subject;     /* series id, or NULL for a row metric */
  char     *reference;   /* series id, for "ratio" */
  char     *stat;        /* "median", "p99" or the metric's name */
  char     *unit;
  double    limit;
  gboolean  at_most;
  double    value;
  gboolean  evaluated;
  gboolean  pass;
} Target;

typedef struct
{
  char      *key;
  double     value;
} Metric;

typedef struct
{
  char      *id;
  char      *title;
  char      *unit;
  gboolean   higher_is_better;
  GPtrArray *series;    /* Series */
  GPtrArray *targets;   /* Target */
  GPtrArray *metrics;   /* Metric */
  GPtrArray *notes;     /* char */
  Series    *best_baseline;
  gboolean   failed;
} Row;

static void
series_free (gpointer data)
{
  Series *series = data;

  g_free (series->id);
  g_free (series->label);
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
  g_free (target);
}

static void
metric_free (gpointer data)
{
  Metric *metric = data;

  g_free (metric->key);
  g_free (metric);
}

static Row *
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

static void
row_free (gpointer data)
{
  Row *row = data;

  g_free (row->id);
  g_free (row->title);
  g_free (row->unit);
  g_ptr_array_unref (row->series);
  g_ptr_array_unref (row->targets);
  g_ptr_array_unref (row->metrics);
  g_ptr_array_unref (row->notes);
  g_free (row);
}

static Series *
row_add_series (Row        *row,
                const char *id,
                const char *label,
                SeriesKind  kind)
{
  Series *series = g_new0 (Series, 1);

  series->id = g_strdup (id);
  series->label = g_strdup (label);
  series->kind = kind;
  series->samples = g_array_new (FALSE, FALSE, sizeof (double));
  series->median = series->p10 = series->p90 = series->p99 = series->mad = NAN;
  series->ratio = NAN;
  g_ptr_array_add (row->series, series);
  return series;
}

static Series *
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

static G_GNUC_PRINTF (2, 3) void
row_note (Row        *row,
          const char *format,
          ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (row->notes, g_strdup_vprintf (format, args));
  va_end (args);
}

static void
row_metric (Row        *row,
            const char *key,
            double      value)
{
  Metric *metric = g_new0 (Metric, 1);

  metric->key = g_strdup (key);
  metric->value = value;
  g_ptr_array_add (row->metrics, metric);
}

static void
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

static double
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
static double
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

static void
row_finish (Row *row)
{
  guint i;

  row->best_baseline = NULL;
  for (i = 0; i < row->series->len; i++)
    {
      Series *series = g_ptr_array_index (row->series, i);

      series_compute (series);
      if (series->kind != KIND_BASELINE || isnan (series->median))
        continue;
      if (row->best_baseline == NULL ||
          (row->higher_is_better ? series->median > row->best_baseline->median
                                 : series->median < row->best_baseline->median))
        row->best_baseline = series;
    }
  for (i = 0; i < row->series->len; i++)
    {
      Series *series = g_ptr_array_index (row->series, i);

      series->ratio = ratio_of (series, row->best_baseline);
    }
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
static void
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
static void
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
static void
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

/* Printing ------------------------------------------------------------------- */

/* printf pads by bytes; labels hold “×” and “µ”. */
static void
print_padded (const char *text,
              glong       width)
{
  glong length = g_utf8_strlen (text, -1);

  fputs (text, stdout);
  for (; length < width; length++)
    fputc (' ', stdout);
}

static void
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

static void
row_print (Row *row)
{
  guint i;

  printf ("\n%s — %s [%s, %s is better]\n", row->id, row->title, row->unit,
          row->higher_is_better ? "higher" : "lower");
  printf ("  ");
  print_padded ("", 58);
  printf ("%10s %10s %10s %10s %9s\n", "median", "p10", "p90", "p99", "×best");
  for (i = 0; i < row->series->len; i++)
    {
      Series *series = g_ptr_array_index (row->series, i);
      g_autofree char *label = g_strdup_printf ("%s %s",
                                                series->kind == KIND_PROCSHARED ? "*" : " ",
                                                series->label);

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
      if (series == row->best_baseline)
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
    }
  fflush (stdout);
}

/* Running contestants ------------------------------------------------------- */

/* Runs one batch of @iterations and returns its value in the row's unit. */
typedef double (*RunFunc)  (gpointer data, guint64 iterations);
/* The other process's half of a two-process batch. */
typedef void   (*PeerFunc) (gpointer data, guint64 iterations);

typedef struct
{
  Series   *series;
  RunFunc   run;
  PeerFunc  peer;
  gpointer  data;
} Contestant;

static Barrier *pair_barrier;

static void
add_contestant (GArray   *contestants,
                Series   *series,
                RunFunc   run,
                PeerFunc  peer,
                gpointer  data)
{
  Contestant contestant = { series, run, peer, data };

  g_array_append_val (contestants, contestant);
}

/* Round r starts with contestant r mod n, so that none always runs right
 * after the same other one. Round 0 is a warm-up and is not recorded.
 * The peer process walks the same schedule, so the two stay in step
 * without any other signalling than the barrier before each batch. */
static void
run_rounds (GArray   *contestants,
            guint     rounds,
            guint64   iterations,
            gboolean  peer_side)
{
  guint n = contestants->len;
  guint r, k;

  for (r = 0; r <= rounds; r++)
    {
      guint64 batch = r == 0 ? MAX (iterations / 10, 1) : iterations;

      for (k = 0; k < n; k++)
        {
          Contestant *c = &g_array_index (contestants, Contestant, (r + k) % n);
          double value;

          if (pair_barrier != NULL)
            barrier_wait (pair_barrier);
          if (peer_side)
            {
              c->peer (c->data, batch);
              continue;
            }
          value = c->run (c->data, batch);
          if (r > 0)
            series_add (c->series, value);
        }
    }
}

static void
run_interleaved (GArray  *contestants,
                 guint    rounds,
                 guint64  iterations)
{
  run_rounds (contestants, rounds, iterations, FALSE);
}

/* The contended row pins its two processes to two different CPUs: left
 * to the scheduler, they often share one CPU and take turns, and the lock
 * is then hardly contended at all (throughput swings by 3× from run to
 * run). The ping-pong rows are not pinned: there the scheduler moving a
 * woken process next to its waker is what users get, and pinned
 * cross-CPU wake-ups on a virtual machine cost ~35 µs each, which would
 * drown the primitives in the hypervisor's latency. Returns FALSE,
 * pinning nothing, when fewer than two CPUs are available. */
static cpu_set_t saved_affinity;
static gint      pinned_cpus[2] = { -1, -1 };

static gboolean
choose_two_cpus (void)
{
  gint cpu, found = 0;

  if (sched_getaffinity (0, sizeof saved_affinity, &saved_affinity) != 0)
    return FALSE;
  for (cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
    if (CPU_ISSET (cpu, &saved_affinity))
      pinned_cpus[found++] = cpu;
  return found == 2;
}

static void
pin_to (gint cpu)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  if (sched_setaffinity (0, sizeof set, &set) != 0)
    die ("sched_setaffinity failed: %s", g_strerror (errno));
}

/* The same, with a forked peer process running each batch's other half.
 * A watchdog ends a run whose peer died instead of letting it hang. */
static void
run_interleaved_pair (GArray   *contestants,
                      guint     rounds,
                      guint64   iterations,
                      gboolean  pin)
{
  gboolean pinned = pin && choose_two_cpus ();
  pid_t pid;
  int status;

  pair_barrier = shared_map (sizeof (Barrier));
  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    die ("fork failed: %s", g_strerror (errno));
  if (pid == 0)
    {
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (pinned)
        pin_to (pinned_cpus[1]);
      run_rounds (contestants, rounds, iterations, TRUE);
      _exit (0);
    }

  if (pinned)
    pin_to (pinned_cpus[0]);
  alarm (600);
  run_rounds (contestants, rounds, iterations, FALSE);
  if (waitpid (pid, &status, 0) != pid)
    die ("waitpid failed: %s", g_strerror (errno));
  alarm (0);
  if (pinned)
    sched_setaffinity (0, sizeof saved_affinity, &saved_affinity);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    die ("the peer process failed (status 0x%x)", status);

  munmap (pair_barrier, sizeof (Barrier));
  pair_barrier = NULL;
}

/* Uncontended lock+unlock ---------------------------------------------------- */

static double
run_ps_mutex (gpointer data,
              guint64  iterations)
{
  PsMutex *mutex = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_mutex_lock failed");
      if (G_UNLIKELY (!ps_mutex_unlock (mutex, NULL)))
        die ("ps_mutex_unlock failed");
    }
  return ns_per_op_since (start, iterations);
}

static double
run_pthread_mutex (gpointer data,
                   guint64  iterations)
{
  pthread_mutex_t *mutex = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (pthread_mutex_lock (mutex) != 0))
        die ("pthread_mutex_lock failed");
      if (G_UNLIKELY (pthread_mutex_unlock (mutex) != 0))
        die ("pthread_mutex_unlock failed");
    }
  return ns_per_op_since (start, iterations);
}

#ifdef PS_BENCH_HAVE_BOOST
static double
run_boost_mutex (gpointer data,
                 guint64  iterations)
{
  gint64 start = now_ns ();

  if (bench_boost_mutex_run (data, iterations) != 0)
    die ("boost::interprocess::interprocess_mutex failed");
  return ns_per_op_since (start, iterations);
}

static double
run_boost_semaphore (gpointer data,
                     guint64  iterations)
{
  gint64 start = now_ns ();

  if (bench_boost_semaphore_run (data, iterations) != 0)
    die ("boost::interprocess::interprocess_semaphore failed");
  return ns_per_op_since (start, iterations);
}
#endif

static void
setup_lock_unlock (Row    *row,
                   GArray *contestants)
{
  g_autoptr(GError) error = NULL;
  PsMutex *mutex, *recursive;
  pthread_mutex_t *robust, *plain;
  Series *boost;

  mutex = ps_mutex_new (&error);
  check_error (mutex != NULL, error, "ps_mutex_new");
  defer_unref (mutex);
  recursive = ps_mutex_new_recursive (&error);
  check_error (recursive != NULL, error, "ps_mutex_new_recursive");
  defer_unref (recursive);
  robust = shared_alloc (sizeof *robust);
  init_pthread_mutex (robust, TRUE, PTHREAD_MUTEX_ERRORCHECK);
  plain = shared_alloc (sizeof *plain);
  init_pthread_mutex (plain, FALSE, PTHREAD_MUTEX_NORMAL);

  add_contestant (contestants, row_add_series (row, "ps-mutex", "PsMutex", KIND_PROCSHARED),
                  run_ps_mutex, NULL, mutex);
  add_contestant (contestants,
                  row_add_series (row, "ps-mutex-recursive", "PsMutex (recursive)", KIND_PROCSHARED),
                  run_ps_mutex, NULL, recursive);
  add_contestant (contestants,
                  row_add_series (row, "glibc-robust",
                                  "glibc pshared robust errorcheck mutex", KIND_BASELINE),
                  run_pthread_mutex, NULL, robust);
  add_contestant (contestants,
                  row_add_series (row, "glibc-plain", "glibc pshared plain mutex", KIND_BASELINE),
                  run_pthread_mutex, NULL, plain);
  boost = row_add_series (row, "boost-mutex", "Boost interprocess_mutex", KIND_BASELINE);
#ifdef PS_BENCH_HAVE_BOOST
  {
    gpointer memory = shared_alloc (bench_boost_mutex_size ());

    if (bench_boost_mutex_init (memory) != 0)
      die ("boost::interprocess::interprocess_mutex() failed");
    defer (bench_boost_mutex_destroy, memory);
    add_contestant (contestants, boost, run_boost_mutex, NULL, memory);
  }
#else
  boost->skip_reason = g_strdup ("built without Boost");
#endif
}

static void
finish_lock_unlock (Row *row)
{
  row_target_ratio (row, "PsMutex ≤ 1.3× glibc robust mutex",
                    "ps-mutex", "glibc-robust", TRUE, 1.3);
  row_target_ratio (row, "recursive PsMutex ≤ 1.3× glibc robust mutex",
                    "ps-mutex-recursive", "glibc-robust", TRUE, 1.3);
}

/* Uncontended acquire+release ------------------------------------------------ */

static double
run_ps_semaphore (gpointer data,
                  guint64  iterations)
{
  PsSemaphore *semaphore = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (!ps_semaphore_acquire (semaphore, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_semaphore_acquire failed");
      if (G_UNLIKELY (!ps_semaphore_release (semaphore, NULL)))
        die ("ps_semaphore_release failed");
    }
  return ns_per_op_since (start, iterations);
}

static double
run_sem (gpointer data,
         guint64  iterations)
{
  sem_t *sem = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (sem_wait (sem) != 0))
        die ("sem_wait failed");
      if (G_UNLIKELY (sem_post (sem) != 0))
        die ("sem_post failed");
    }
  return ns_per_op_since (start, iterations);
}

static void
setup_acquire_release (Row    *row,
                       GArray *contestants)
{
  g_autoptr(GError) error = NULL;
  PsSemaphore *semaphore;
  sem_t *sem;
  Series *boost;

  semaphore = ps_semaphore_new (1, &error);
  check_error (semaphore != NULL, error, "ps_semaphore_new");
  defer_unref (semaphore);
  sem = shared_alloc (sizeof *sem);
  check_zero (sem_init (sem, 1, 1), "sem_init");

  add_contestant (contestants,
                  row_add_series (row, "ps-semaphore", "PsSemaphore", KIND_PROCSHARED),
                  run_ps_semaphore, NULL, semaphore);
  add_contestant (contestants,
                  row_add_series (row, "sem-t", "pshared sem_t (sem_wait+sem_post)", KIND_BASELINE),
                  run_sem, NULL, sem);
  boost = row_add_series (row, "boost-semaphore", "Boost interprocess_semaphore", KIND_BASELINE);
#ifdef PS_BENCH_HAVE_BOOST
  {
    gpointer memory = shared_alloc (bench_boost_semaphore_size ());

    if (bench_boost_semaphore_init (memory, 1) != 0)
      die ("boost::interprocess::interprocess_semaphore() failed");
    defer (bench_boost_semaphore_destroy, memory);
    add_contestant (contestants, boost, run_boost_semaphore, NULL, memory);
  }
#else
  boost->skip_reason = g_strdup ("built without Boost");
#endif
}

static void
finish_acquire_release (Row *row)
{
  row_target_ratio (row, "PsSemaphore ≤ 1.3× sem_t", "ps-semaphore", "sem-t", TRUE, 1.3);
}

/* Semaphore ping-pong ---------------------------------------------------------- */

typedef struct
{
  gpointer ping;
  gpointer pong;
} PingPong;

static double
run_ps_ping (gpointer data,
             guint64  iterations)
{
  PingPong *pp = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (!ps_semaphore_release (pp->ping, NULL)))
        die ("ps_semaphore_release failed");
      if (G_UNLIKELY (!ps_semaphore_acquire (pp->pong, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_semaphore_acquire failed");
    }
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_ps_pong (gpointer data,
              guint64  iterations)
{
  PingPong *pp = data;
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (!ps_semaphore_acquire (pp->ping, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_semaphore_acquire failed");
      if (G_UNLIKELY (!ps_semaphore_release (pp->pong, NULL)))
        die ("ps_semaphore_release failed");
    }
}

static double
run_sem_ping (gpointer data,
              guint64  iterations)
{
  PingPong *pp = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (sem_post (pp->ping) != 0))
        die ("sem_post failed");
      while (sem_wait (pp->pong) != 0)
        if (errno != EINTR)
          die ("sem_wait failed");
    }
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_sem_pong (gpointer data,
               guint64  iterations)
{
  PingPong *pp = data;
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      while (sem_wait (pp->ping) != 0)
        if (errno != EINTR)
          die ("sem_wait failed");
      if (G_UNLIKELY (sem_post (pp->pong) != 0))
        die ("sem_post failed");
    }
}

#ifdef PS_BENCH_HAVE_BOOST
static double
run_boost_ping (gpointer data,
                guint64  iterations)
{
  PingPong *pp = data;
  gint64 start = now_ns ();

  if (bench_boost_ping_pong_initiator (pp->ping, pp->pong, iterations) != 0)
    die ("boost::interprocess::interprocess_semaphore failed");
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_boost_pong (gpointer data,
                 guint64  iterations)
{
  PingPong *pp = data;

  if (bench_boost_ping_pong_responder (pp->ping, pp->pong, iterations) != 0)
    die ("boost::interprocess::interprocess_semaphore failed");
}
#endif

static void
setup_ping_pong (Row    *row,
                 GArray *contestants)
{
  g_autoptr(GError) error = NULL;
  PingPong *ps = defer_free (g_new0 (PingPong, 1));
  PingPong *posix = defer_free (g_new0 (PingPong, 1));
  Series *boost;

  ps->ping = ps_semaphore_new (0, &error);
  check_error (ps->ping != NULL, error, "ps_semaphore_new");
  defer_unref (ps->ping);
  ps->pong = ps_semaphore_new (0, &error);
  check_error (ps->pong != NULL, error, "ps_semaphore_new");
  defer_unref (ps->pong);
  posix->ping = shared_alloc (sizeof (sem_t));
  posix->pong = shared_alloc (sizeof (sem_t));
  check_zero (sem_init (posix->ping, 1, 0), "sem_init");
  check_zero (sem_init (posix->pong, 1, 0), "sem_init");

  add_contestant (contestants,
                  row_add_series (row, "ps-semaphore-pair", "PsSemaphore pair", KIND_PROCSHARED),
                  run_ps_ping, peer_ps_pong, ps);
  add_contestant (contestants,
                  row_add_series (row, "sem-t-pair", "pshared sem_t pair", KIND_BASELINE),
                  run_sem_ping, peer_sem_pong, posix);
  boost = row_add_series (row, "boost-semaphore-pair", "Boost interprocess_semaphore pair",
                          KIND_BASELINE);
#ifdef PS_BENCH_HAVE_BOOST
  {
    PingPong *pp = defer_free (g_new0 (PingPong, 1));

    pp->ping = shared_alloc (bench_boost_semaphore_size ());
    pp->pong = shared_alloc (bench_boost_semaphore_size ());
    if (bench_boost_semaphore_init (pp->ping, 0) != 0 ||
        bench_boost_semaphore_init (pp->pong, 0) != 0)
      die ("boost::interprocess::interprocess_semaphore() failed");
    defer (bench_boost_semaphore_destroy, pp->ping);
    defer (bench_boost_semaphore_destroy, pp->pong);
    add_contestant (contestants, boost, run_boost_ping, peer_boost_pong, pp);
  }
#else
  boost->skip_reason = g_strdup ("built without Boost");
#endif
}

static void
finish_ping_pong (Row *row)
{
  row_target_ratio (row, "PsSemaphore ping-pong ≤ 1.15× sem_t",
                    "ps-semaphore-pair", "sem-t-pair", TRUE, 1.15);
}

/* Mutex+condition handshake ------------------------------------------------------ */

typedef struct
{
  PsMutex  *mutex;
  PsCond   *cond;
  gint     *turn;   /* 1: the peer's turn, 0: ours */
} PsHandshake;

typedef struct
{
  pthread_mutex_t *mutex;
  pthread_cond_t  *cond;
  gint            *turn;
} PosixHandshake;

static void
ps_lock_or_die (PsMutex *mutex)
{
  if (G_UNLIKELY (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL)))
    die ("ps_mutex_lock failed");
}

static void
ps_unlock_or_die (PsMutex *mutex)
{
  if (G_UNLIKELY (!ps_mutex_unlock (mutex, NULL)))
    die ("ps_mutex_unlock failed");
}

static void
ps_wait_or_die (PsCond  *cond,
                PsMutex *mutex)
{
  if (G_UNLIKELY (!ps_cond_wait (cond, mutex, PS_TIMEOUT_INFINITE, NULL, NULL)))
    die ("ps_cond_wait failed");
}

static double
run_ps_handshake (gpointer data,
                  guint64  iterations)
{
  PsHandshake *h = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      ps_lock_or_die (h->mutex);
      g_atomic_int_set (h->turn, 1);
      ps_cond_signal (h->cond);
      while (g_atomic_int_get (h->turn) != 0)
        ps_wait_or_die (h->cond, h->mutex);
      ps_unlock_or_die (h->mutex);
    }
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_ps_handshake (gpointer data,
                   guint64  iterations)
{
  PsHandshake *h = data;
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      ps_lock_or_die (h->mutex);
      while (g_atomic_int_get (h->turn) != 1)
        ps_wait_or_die (h->cond, h->mutex);
      g_atomic_int_set (h->turn, 0);
      ps_cond_signal (h->cond);
      ps_unlock_or_die (h->mutex);
    }
}

static double
run_posix_handshake (gpointer data,
                     guint64  iterations)
{
  PosixHandshake *h = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      check_zero (pthread_mutex_lock (h->mutex), "pthread_mutex_lock");
      g_atomic_int_set (h->turn, 1);
      check_zero (pthread_cond_signal (h->cond), "pthread_cond_signal");
      while (g_atomic_int_get (h->turn) != 0)
        check_zero (pthread_cond_wait (h->cond, h->mutex), "pthread_cond_wait");
      check_zero (pthread_mutex_unlock (h->mutex), "pthread_mutex_unlock");
    }
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_posix_handshake (gpointer data,
                      guint64  iterations)
{
  PosixHandshake *h = data;
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      check_zero (pthread_mutex_lock (h->mutex), "pthread_mutex_lock");
      while (g_atomic_int_get (h->turn) != 1)
        check_zero (pthread_cond_wait (h->cond, h->mutex), "pthread_cond_wait");
      g_atomic_int_set (h->turn, 0);
      check_zero (pthread_cond_signal (h->cond), "pthread_cond_signal");
      check_zero (pthread_mutex_unlock (h->mutex), "pthread_mutex_unlock");
    }
}

static PosixHandshake *
posix_handshake_new (gboolean robust)
{
  PosixHandshake *h = defer_free (g_new0 (PosixHandshake, 1));

  h->mutex = shared_alloc (sizeof *h->mutex);
  init_pthread_mutex (h->mutex, robust, robust ? PTHREAD_MUTEX_ERRORCHECK : PTHREAD_MUTEX_NORMAL);
  h->cond = shared_alloc (sizeof *h->cond);
  init_pthread_cond (h->cond);
  h->turn = shared_alloc (sizeof *h->turn);
  return h;
}

static void
setup_handshake (Row    *row,
                 GArray *contestants)
{
  g_autoptr(GError) error = NULL;
  PsHandshake *ps = defer_free (g_new0 (PsHandshake, 1));

  ps->mutex = ps_mutex_new (&error);
  check_error (ps->mutex != NULL, error, "ps_mutex_new");
  defer_unref (ps->mutex);
  ps->cond = ps_cond_new (&error);
  check_error (ps->cond != NULL, error, "ps_cond_new");
  defer_unref (ps->cond);
  ps->turn = shared_alloc (sizeof *ps->turn);

  add_contestant (contestants,
                  row_add_series (row, "ps-mutex-cond", "PsMutex+PsCond", KIND_PROCSHARED),
                  run_ps_handshake, peer_ps_handshake, ps);
  add_contestant (contestants,
                  row_add_series (row, "pthread-mutex-cond",
                                  "pshared pthread mutex+cond", KIND_BASELINE),
                  run_posix_handshake, peer_posix_handshake, posix_handshake_new (FALSE));
  add_contestant (contestants,
                  row_add_series (row, "pthread-robust-mutex-cond",
                                  "pshared robust pthread mutex+cond", KIND_BASELINE),
                  run_posix_handshake, peer_posix_handshake, posix_handshake_new (TRUE));
}

static void
finish_handshake (Row *row)
{
  row_target_ratio (row, "PsMutex+PsCond handshake ≤ 1.0× pthread pair",
                    "ps-mutex-cond", "pthread-mutex-cond", TRUE, 1.0);
}

/* Contended throughput ------------------------------------------------------------ */

/* Both processes lock, bump a shared counter and unlock, in chunks, until
 * the parent's time window closes; the counter checks that no increment
 * was lost, i.e. that the lock excluded. */
#define HAMMER_CHUNK 32

typedef struct
{
  gint     stop;
  guint64  peer_count;
  guint64  peer_switches;
  guint64  counter;
  gint     kind;   /* 0 PsMutex, 1 pthread, 2 Boost */
  gpointer lock;
  /* Totals over all batches: how often the processes slept. */
  guint64  acquisitions;
  guint64  switches;
} Hammer;

static Hammer *hammers[4];

static guint64
context_switches (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return (guint64) usage.ru_nvcsw + (guint64) usage.ru_nivcsw;
}

static void
hammer_chunk (Hammer *h)
{
  guint i;

  switch (h->kind)
    {
    case 0:
      for (i = 0; i < HAMMER_CHUNK; i++)
        {
          ps_lock_or_die (h->lock);
          h->counter++;
          ps_unlock_or_die (h->lock);
        }
      break;
    case 1:
      for (i = 0; i < HAMMER_CHUNK; i++)
        {
          check_zero (pthread_mutex_lock (h->lock), "pthread_mutex_lock");
          h->counter++;
          check_zero (pthread_mutex_unlock (h->lock), "pthread_mutex_unlock");
        }
      break;
#ifdef PS_BENCH_HAVE_BOOST
    case 2:
      if (bench_boost_mutex_hammer (h->lock, &h->counter, HAMMER_CHUNK) != 0)
        die ("boost::interprocess::interprocess_mutex failed");
      break;
#endif
    default:
      g_assert_not_reached ();
    }
}

static double
run_hammer (gpointer data,
            guint64  iterations)
{
  Hammer *h = data;
  gint64 start, end, deadline;
  guint64 own = 0, total, switches;

  h->counter = 0;
  g_atomic_int_set (&h->stop, 0);
  barrier_wait (pair_barrier);   /* both start together */
  switches = context_switches ();
  start = now_ns ();
  deadline = start + (gint64) iterations * 1000000;   /* a window of @iterations ms */
  do
    {
      hammer_chunk (h);
      own += HAMMER_CHUNK;
    }
  while (now_ns () < deadline);
  g_atomic_int_set (&h->stop, 1);
  barrier_wait (pair_barrier);   /* the peer has finished its last chunk */
  end = now_ns ();
  switches = context_switches () - switches;

  total = own + h->peer_count;
  h->acquisitions += total;
  h->switches += switches + h->peer_switches;
  if (h->counter != total)
    die ("lost updates under the lock: counter %" G_GUINT64_FORMAT ", expected %"
         G_GUINT64_FORMAT, h->counter, total);
  return (double) total * 1000.0 / (double) (end - start);   /* million per second */
}

static void
peer_hammer (gpointer data,
             guint64  iterations)
{
  Hammer *h = data;
  guint64 own = 0, switches;

  barrier_wait (pair_barrier);
  switches = context_switches ();
  while (!g_atomic_int_get (&h->stop))
    {
      hammer_chunk (h);
      own += HAMMER_CHUNK;
    }
  h->peer_count = own;
  h->peer_switches = context_switches () - switches;
  barrier_wait (pair_barrier);
}

static void
forget_hammers (gpointer unused)
{
  memset (hammers, 0, sizeof hammers);
}

static Hammer *
hammer_new (gint     kind,
            gpointer lock)
{
  Hammer *h = shared_alloc (sizeof (Hammer));

  h->kind = kind;
  h->lock = lock;
  hammers[kind == 1 && hammers[1] != NULL ? 3 : kind] = h;
  return h;
}

static void
setup_contended (Row    *row,
                 GArray *contestants)
{
  g_autoptr(GError) error = NULL;
  PsMutex *mutex;
  pthread_mutex_t *robust, *plain;
  Series *boost;

  mutex = ps_mutex_new (&error);
  check_error (mutex != NULL, error, "ps_mutex_new");
  defer_unref (mutex);
  defer (forget_hammers, NULL);
  robust = shared_alloc (sizeof *robust);
  init_pthread_mutex (robust, TRUE, PTHREAD_MUTEX_ERRORCHECK);
  plain = shared_alloc (sizeof *plain);
  init_pthread_mutex (plain, FALSE, PTHREAD_MUTEX_NORMAL);

  add_contestant (contestants, row_add_series (row, "ps-mutex", "PsMutex", KIND_PROCSHARED),
                  run_hammer, peer_hammer, hammer_new (0, mutex));
  add_contestant (contestants,
                  row_add_series (row, "glibc-robust",
                                  "glibc pshared robust errorcheck mutex", KIND_BASELINE),
                  run_hammer, peer_hammer, hammer_new (1, robust));
  add_contestant (contestants,
                  row_add_series (row, "glibc-plain", "glibc pshared plain mutex", KIND_BASELINE),
                  run_hammer, peer_hammer, hammer_new (1, plain));
  boost = row_add_series (row, "boost-mutex", "Boost interprocess_mutex", KIND_BASELINE);
#ifdef PS_BENCH_HAVE_BOOST
  {
    gpointer memory = shared_alloc (bench_boost_mutex_size ());

    if (bench_boost_mutex_init (memory) != 0)
      die ("boost::interprocess::interprocess_mutex() failed");
    defer (bench_boost_mutex_destroy, memory);
    add_contestant (contestants, boost, run_hammer, peer_hammer, hammer_new (2, memory));
  }
#else
  boost->skip_reason = g_strdup ("built without Boost");
#endif
}

static void
finish_contended (Row *row)
{
  static const char *keys[] = { "ps_mutex", "glibc_robust", "boost", "glibc_plain" };
  guint i;

  /* Sleeping is what makes a contended lock slow: report how often. */
  for (i = 0; i < G_N_ELEMENTS (hammers); i++)
    if (hammers[i] != NULL && hammers[i]->acquisitions > 0)
      {
        g_autofree char *key = g_strdup_printf ("%s_context_switches_per_1k", keys[i]);

        row_metric (row, key, 1000.0 * hammers[i]->switches / hammers[i]->acquisitions);
      }
  row_note (row, "two processes, pinned to two CPUs, lock, bump a shared counter and unlock "
            "for %d ms windows; the counter is checked for lost updates",
            (int) iterations_for (20));
  row_target_ratio (row, "contended PsMutex ≥ 0.9× glibc robust mutex",
                    "ps-mutex", "glibc-robust", FALSE, 0.9);
}

/* Creating and dropping anonymous mutexes ----------------------------------------- */

#define CREATE_OBJECTS 1000

typedef struct
{
  gboolean  procshared;
  gpointer  objects[CREATE_OBJECTS];
  gint      max_fds;        /* held while the objects lived, beyond the baseline */
  gint      max_mappings;
} Creation;

static double
run_create (gpointer data,
            guint64  iterations)
{
  Creation *c = data;
  pthread_mutexattr_t attr;
  gint64 elapsed = 0;
  guint64 r;
  guint i;

  check_zero (pthread_mutexattr_init (&attr), "pthread_mutexattr_init");
  check_zero (pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED), "setpshared");
  check_zero (pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST), "setrobust");
  check_zero (pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK), "settype");

  for (r = 0; r < iterations; r++)
    {
      gint fds_before = count_fds ();
      gint mappings_before = count_mappings ();
      gint64 start;

      /* Created, counted while alive (not timed), dropped. */
      start = now_ns ();
      for (i = 0; i < CREATE_OBJECTS; i++)
        {
          if (c->procshared)
            {
              g_autoptr(GError) error = NULL;

              c->objects[i] = ps_mutex_new (&error);
              check_error (c->objects[i] != NULL, error, "ps_mutex_new");
            }
          else
            {
              c->objects[i] = shared_map (sizeof (pthread_mutex_t));
              check_zero (pthread_mutex_init (c->objects[i], &attr), "pthread_mutex_init");
            }
        }
      elapsed += now_ns () - start;

      c->max_fds = MAX (c->max_fds, count_fds () - fds_before);
      c->max_mappings = MAX (c->max_mappings, count_mappings () - mappings_before);

      start = now_ns ();
      for (i = 0; i < CREATE_OBJECTS; i++)
        {
          if (c->procshared)
            g_object_unref (c->objects[i]);
          else
            {
              pthread_mutex_destroy (c->objects[i]);
              munmap (c->objects[i], sizeof (pthread_mutex_t));
            }
        }
      elapsed += now_ns () - start;
    }

  pthread_mutexattr_destroy (&attr);
  return (double) elapsed / (double) (iterations * CREATE_OBJECTS) / 1000.0;
}

static Creation *ps_creation, *mmap_creation;

static void
setup_create (Row    *row,
              GArray *contestants)
{
  ps_creation = defer_free (g_new0 (Creation, 1));
  ps_creation->procshared = TRUE;
  mmap_creation = defer_free (g_new0 (Creation, 1));

  add_contestant (contestants,
                  row_add_series (row, "ps-mutex-new", "ps_mutex_new + unref", KIND_PROCSHARED),
                  run_create, NULL, ps_creation);
  add_contestant (contestants,
                  row_add_series (row, "mmap-robust-mutex",
                                  "mmap + robust pthread_mutex_init each", KIND_BASELINE),
                  run_create, NULL, mmap_creation);
}

static void
finish_create (Row *row)
{
  Series *ps = row_find_series (row, "ps-mutex-new");
  double fds = ps_creation->max_fds * 64.0 / CREATE_OBJECTS;
  double mappings = ps_creation->max_mappings * 64.0 / CREATE_OBJECTS;

  row_metric (row, "ps_fds_held", ps_creation->max_fds);
  row_metric (row, "ps_mappings_held", ps_creation->max_mappings);
  row_metric (row, "ps_fds_per_64", fds);
  row_metric (row, "ps_mappings_per_64", mappings);
  row_metric (row, "mmap_fds_held", mmap_creation->max_fds);
  row_metric (row, "mmap_mappings_held", mmap_creation->max_mappings);
  row_note (row, "%d mutexes created, counted while alive, then dropped; µs per object, "
            "creation and drop together", CREATE_OBJECTS);
  row_target_stat (row, "anonymous creation ≤ 2 µs per object", "ps-mutex-new", "median",
                   TRUE, 2.0);
  row_target_metric (row, "≤ 1 file descriptor per 64 objects", "ps_fds_per_64", "fd/64",
                     TRUE, 1.0, ps != NULL && ps->samples->len > 0 ? fds : NAN);
  row_target_metric (row, "≤ 1 mapping per 64 objects", "ps_mappings_per_64", "map/64",
                     TRUE, 1.0, ps != NULL && ps->samples->len > 0 ? mappings : NAN);
}

/* Variant records --------------------------------------------------------------- */

typedef struct
{
  PsSharedMemory *memory;
  guint8         *data;
  GVariant       *value;
  guint8         *source;
  guint8         *destination;
  gsize           size;
  gint            mode;   /* 0 variant round trip, 1 memcpy in, 2 memcpy in+out */
} Records;

static double
run_records (gpointer data,
             guint64  iterations)
{
  Records *r = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (r->mode == 0)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(GVariant) back = NULL;

          check_error (ps_shared_memory_write_variant (r->memory, 0, r->value, &error),
                       error, "ps_shared_memory_write_variant");
          back = ps_shared_memory_read_variant (r->memory, 0, &error);
          check_error (back != NULL, error, "ps_shared_memory_read_variant");
        }
      else
        {
          memcpy (r->data, r->source, r->size);
          if (r->mode == 2)
            memcpy (r->destination, r->data, r->size);
          /* The copies must happen: nothing reads them otherwise. */
          __asm__ __volatile__ ("" : : "r" (r->data), "r" (r->destination) : "memory");
        }
    }
  return (double) r->size * (double) iterations / (double) (now_ns () - start);
}

static Records *
records_new (PsSharedMemory *memory,
             GVariant       *value,
             guint8         *source,
             gsize           size,
             gint            mode)
{
  Records *r = defer_free (g_new0 (Records, 1));

  r->memory = memory;
  r->data = ps_shared_memory_get_data (memory);
  r->value = value;
  r->source = source;
  r->destination = defer_free (g_malloc (size));
  memset (r->destination, 0, size);
  r->size = size;
  r->mode = mode;
  return r;
}

static void
setup_records (Row    *row,
               GArray *contestants,
               gsize   size)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory;
  GVariant *value;
  guint8 *source = defer_free (g_malloc (size));
  gsize i;

  for (i = 0; i < size; i++)
    source[i] = (guint8) (i * 7);
  value = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, source, size, 1));
  defer ((GDestroyNotify) g_variant_unref, value);
  memory = ps_shared_memory_new (ps_shared_memory_measure_variant (value) + 4096, &error);
  check_error (memory != NULL, error, "ps_shared_memory_new");
  defer_unref (memory);

  add_contestant (contestants,
                  row_add_series (row, "ps-variant", "write_variant+read_variant (ay)",
                                  KIND_PROCSHARED),
                  run_records, NULL, records_new (memory, value, source, size, 0));
  add_contestant (contestants,
                  row_add_series (row, "memcpy-in", "memcpy into the mapping", KIND_BASELINE),
                  run_records, NULL, records_new (memory, value, source, size, 1));
  add_contestant (contestants,
                  row_add_series (row, "memcpy-in-out", "memcpy into the mapping and out",
                                  KIND_BASELINE),
                  run_records, NULL, records_new (memory, value, source, size, 2));
}

static void
setup_records_1k (Row    *row,
                  GArray *contestants)
{
  setup_records (row, contestants, 1024);
}

static void
setup_records_1m (Row    *row,
                  GArray *contestants)
{
  setup_records (row, contestants, 1024 * 1024);
}

static void
finish_records_1k (Row *row)
{
  row_note (row, "GB/s of payload per round trip (one write_variant and one read_variant)");
}

static void
finish_records_1m (Row *row)
{
  row_note (row, "GB/s of payload per round trip (one write_variant and one read_variant); "
            "the target is against one memcpy into the mapping");
  row_target_ratio (row, "1 MiB variant round trip ≥ 25% of memcpy bandwidth",
                    "ps-variant", "memcpy-in", FALSE, 0.25);
}

/* Timed-wait accuracy ------------------------------------------------------------ */

#define TIMED_WAIT_US 1000

typedef struct
{
  PsSemaphore *semaphore;
  sem_t       *sem;
  guint        early;   /* returned before the deadline: must stay 0 */
} TimedWait;

static TimedWait *timed_wait;

static double
sample_timed_ps (gpointer data)
{
  TimedWait *t = data;
  g_autoptr(GError) error = NULL;
  gint64 start, elapsed;
  gboolean ok;

  start = now_ns ();
  ok = ps_semaphore_acquire (t->semaphore, TIMED_WAIT_US, NULL, &error);
  elapsed = now_ns () - start;
  if (ok || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    die ("ps_semaphore_acquire on an empty semaphore did not time out: %s",
         error != NULL ? error->message : "it succeeded");
  /* A microsecond of slack: the library's deadline is in whole µs. */
  if (elapsed < (TIMED_WAIT_US - 1) * 1000)
    t->early++;
  return (double) elapsed / 1000.0 - TIMED_WAIT_US;
}

/* One sample per call in the rows; the mean of @iterations for --profile. */
static double
run_timed_ps (gpointer data,
              guint64  iterations)
{
  double sum = 0;
  guint64 i;

  for (i = 0; i < iterations; i++)
    sum += sample_timed_ps (data);
  return sum / (double) iterations;
}

static double
sample_timed_sem (gpointer data)
{
  TimedWait *t = data;
  struct timespec deadline;
  gint64 start, elapsed;
  int r;

  start = now_ns ();
  deadline.tv_sec = (start + TIMED_WAIT_US * 1000) / 1000000000;
  deadline.tv_nsec = (start + TIMED_WAIT_US * 1000) % 1000000000;
  do
    r = sem_clockwait (t->sem, CLOCK_MONOTONIC, &deadline);
  while (r != 0 && errno == EINTR);
  elapsed = now_ns () - start;
  if (r == 0 || errno != ETIMEDOUT)
    die ("sem_clockwait on an empty semaphore did not time out");
  return (double) elapsed / 1000.0 - TIMED_WAIT_US;
}

/* One sample per call in the rows; the mean of @iterations for --profile. */
static double
run_timed_sem (gpointer data,
               guint64  iterations)
{
  double sum = 0;
  guint64 i;

  for (i = 0; i < iterations; i++)
    sum += sample_timed_sem (data);
  return sum / (double) iterations;
}

static void
setup_timed_wait (Row    *row,
                  GArray *contestants)
{
  g_autoptr(GError) error = NULL;

  timed_wait = defer_free (g_new0 (TimedWait, 1));
  timed_wait->semaphore = ps_semaphore_new (0, &error);
  check_error (timed_wait->semaphore != NULL, error, "ps_semaphore_new");
  defer_unref (timed_wait->semaphore);
  timed_wait->sem = shared_alloc (sizeof (sem_t));
  check_zero (sem_init (timed_wait->sem, 1, 0), "sem_init");

  add_contestant (contestants,
                  row_add_series (row, "ps-semaphore-timed", "PsSemaphore.acquire (1 ms)",
                                  KIND_PROCSHARED),
                  run_timed_ps, NULL, timed_wait);
  add_contestant (contestants,
                  row_add_series (row, "sem-clockwait", "sem_clockwait (1 ms, CLOCK_MONOTONIC)",
                                  KIND_BASELINE),
                  run_timed_sem, NULL, timed_wait);
}

static void
finish_timed_wait (Row *row)
{
  row_metric (row, "ps_early_returns", timed_wait->early);
  row_note (row, "overshoot past a 1 ms timeout on an empty semaphore, one sample per wait; "
            "early returns (before the deadline): %u", timed_wait->early);
  row_target_stat (row, "timed-wait overshoot median ≤ 200 µs", "ps-semaphore-timed", "median",
                   TRUE, 200.0);
  row_target_stat (row, "timed-wait overshoot p99 ≤ 2 ms", "ps-semaphore-timed", "p99",
                   TRUE, 2000.0);
}

/* Cancellation latency ------------------------------------------------------------- */

/* A waiter thread blocks (in PsSemaphore.acquire with a GCancellable, or
 * in sem_wait), the main thread makes sure it sleeps in the kernel, then
 * cancels (or posts) and the waiter notes when its call returned. */
typedef struct
{
  GThread      *thread;
  sem_t         start;
  sem_t         done;
  gint          mode;           /* 0 PsSemaphore+cancel, 1 sem_t+post, 2 quit */
  gint          about_to_wait;
  gint          tid;
  PsSemaphore  *semaphore;
  GCancellable *cancellable;
  sem_t         target;
  gint64        returned_at;
  gboolean      cancelled_ok;
} Cancel;

typedef struct
{
  Cancel *cancel;
  gint    mode;
} CancelMode;

static gpointer
cancel_waiter (gpointer data)
{
  Cancel *c = data;

  g_atomic_int_set (&c->tid, (gint) gettid ());
  for (;;)
    {
      while (sem_wait (&c->start) != 0)
        ;
      if (c->mode == 2)
        break;
      g_atomic_int_set (&c->about_to_wait, 1);
      if (c->mode == 0)
        {
          g_autoptr(GError) error = NULL;
          gboolean ok = ps_semaphore_acquire (c->semaphore, PS_TIMEOUT_INFINITE,
                                              c->cancellable, &error);

          c->returned_at = now_ns ();
          c->cancelled_ok = !ok && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        }
      else
        {
          while (sem_wait (&c->target) != 0)
            ;
          c->returned_at = now_ns ();
          c->cancelled_ok = TRUE;
        }
      sem_post (&c->done);
    }
  return NULL;
}

/* Whether the thread sleeps: the state field of /proc/self/task/TID/stat. */
static gboolean
thread_is_sleeping (gint tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/stat", tid);
  g_autofree char *contents = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  paren = strrchr (contents, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] == 'S';
}

static double
sample_cancel (gpointer data)
{
  CancelMode *cm = data;
  Cancel *c = cm->cancel;
  gint64 deadline, cancelled_at;

  c->mode = cm->mode;
  if (cm->mode == 0)
    c->cancellable = g_cancellable_new ();
  g_atomic_int_set (&c->about_to_wait, 0);
  sem_post (&c->start);

  while (!g_atomic_int_get (&c->about_to_wait))
    sched_yield ();
  /* Generous: under a sanitizer or a loaded CI machine, the waiter may
   * take a while to be scheduled at all. */
  deadline = now_ns () + 10 * G_GINT64_CONSTANT (1000000000);
  while (!thread_is_sleeping (g_atomic_int_get (&c->tid)))
    {
      if (now_ns () > deadline)
        die ("the waiter thread never went to sleep");
      g_usleep (20);
    }

  cancelled_at = now_ns ();
  if (cm->mode == 0)
    g_cancellable_cancel (c->cancellable);
  else
    sem_post (&c->target);
  while (sem_wait (&c->done) != 0)
    ;

  if (!c->cancelled_ok)
    die ("a cancelled PsSemaphore.acquire did not return G_IO_ERROR_CANCELLED");
  g_clear_object (&c->cancellable);
  return (double) (c->returned_at - cancelled_at) / 1000.0;
}

/* One sample per call in the rows; the mean of @iterations for --profile. */
static double
run_cancel (gpointer data,
            guint64  iterations)
{
  double sum = 0;
  guint64 i;

  for (i = 0; i < iterations; i++)
    sum += sample_cancel (data);
  return sum / (double) iterations;
}

static void
stop_cancel_waiter (gpointer data)
{
  Cancel *c = data;

  c->mode = 2;
  sem_post (&c->start);
  g_thread_join (c->thread);
  sem_destroy (&c->start);
  sem_destroy (&c->done);
  sem_destroy (&c->target);
}

static void
setup_cancel (Row    *row,
              GArray *contestants)
{
  g_autoptr(GError) error = NULL;
  Cancel *c = defer_free (g_new0 (Cancel, 1));
  CancelMode *ps = defer_free (g_new0 (CancelMode, 1));
  CancelMode *posix = defer_free (g_new0 (CancelMode, 1));

  c->semaphore = ps_semaphore_new (0, &error);
  check_error (c->semaphore != NULL, error, "ps_semaphore_new");
  defer_unref (c->semaphore);
  check_zero (sem_init (&c->start, 0, 0), "sem_init");
  check_zero (sem_init (&c->done, 0, 0), "sem_init");
  check_zero (sem_init (&c->target, 0, 0), "sem_init");
  c->thread = g_thread_new ("cancel-waiter", cancel_waiter, c);
  while (g_atomic_int_get (&c->tid) == 0)
    g_usleep (100);
  defer (stop_cancel_waiter, c);   /* runs first: before c is freed */

  ps->cancel = c;
  ps->mode = 0;
  posix->cancel = c;
  posix->mode = 1;
  add_contestant (contestants,
                  row_add_series (row, "ps-cancel", "cancel → blocked PsSemaphore.acquire returns",
                                  KIND_PROCSHARED),
                  run_cancel, NULL, ps);
  add_contestant (contestants,
                  row_add_series (row, "sem-post-wake", "sem_post → blocked sem_wait returns",
                                  KIND_BASELINE),
                  run_cancel, NULL, posix);
}

static void
finish_cancel (Row *row)
{
  row_note (row, "from the call in one thread to the return of the blocked call in another; "
            "the baseline is the kernel's own wake-up of a sleeping sem_wait");
  row_target_stat (row, "cancellation latency p99 ≤ 1 ms", "ps-cancel", "p99", TRUE, 1000.0);
}

/* Python through the typelib -------------------------------------------------- */

/* bench_python.py does the Python rows: it runs the same interleaved
 * rounds and prints tab-separated lines (series, sample, skip, note,
 * meta) that are turned into a row here, so that statistics, targets and
 * the JSON are the same for every row. */

static const char *
configured_path (const char *variable,
                 const char *built_in)
{
  const char *value = g_getenv (variable);

  if (value != NULL && *value != '\0')
    return value;
  return built_in;
}

static const char *
python_program (void)
{
#ifdef PS_BENCH_PYTHON
  return configured_path ("PS_BENCH_PYTHON", PS_BENCH_PYTHON);
#else
  return configured_path ("PS_BENCH_PYTHON", NULL);
#endif
}

static const char *
bench_script (const char *name)
{
  g_autofree char *variable = g_strdup_printf ("PS_BENCH_%s", name);
  const char *built_in = NULL;

#ifdef PS_BENCH_SOURCE_DIR
  static char *python_script, *chart_script;

  if (python_script == NULL)
    {
      python_script = g_build_filename (PS_BENCH_SOURCE_DIR, "bench_python.py", NULL);
      chart_script = g_build_filename (PS_BENCH_SOURCE_DIR, "chart.py", NULL);
    }
  built_in = g_str_equal (name, "PYTHON_SCRIPT") ? python_script : chart_script;
#endif
  return configured_path (variable, built_in);
}

/* Run alone (not under meson), the program still finds the typelib and
 * library of the build it belongs to. */
static char **
child_environment (void)
{
  char **env = g_get_environ ();

#ifdef PS_BENCH_OVERRIDES_DIR
  /* The Python overrides, from the source tree as the test suites use them. */
  if (g_file_test (PS_BENCH_OVERRIDES_DIR, G_FILE_TEST_IS_DIR))
    {
      const char *old = g_environ_getenv (env, "PYTHONPATH");
      g_autofree char *value = old != NULL && *old != '\0'
                               ? g_strconcat (PS_BENCH_OVERRIDES_DIR, ":", old, NULL)
                               : g_strdup (PS_BENCH_OVERRIDES_DIR);

      env = g_environ_setenv (env, "PYTHONPATH", value, TRUE);
    }
#endif
#ifdef PS_BENCH_TYPELIB_DIR
  if (g_file_test (PS_BENCH_TYPELIB_DIR, G_FILE_TEST_IS_DIR))
    {
      const char *variables[] = { "GI_TYPELIB_PATH", "LD_LIBRARY_PATH" };
      guint i;

      for (i = 0; i < G_N_ELEMENTS (variables); i++)
        {
          const char *old = g_environ_getenv (env, variables[i]);
          g_autofree char *value = old != NULL && *old != '\0'
                                   ? g_strconcat (PS_BENCH_TYPELIB_DIR, ":", old, NULL)
                                   : g_strdup (PS_BENCH_TYPELIB_DIR);

          env = g_environ_setenv (env, variables[i], value, TRUE);
        }
    }
#endif
  return env;
}

static gboolean python_expected;
static gboolean python_failed;

static void
python_placeholders (Row        *row,
                     const char *reason)
{
  static const struct { const char *id, *label; SeriesKind kind; } series[] = {
    { "ps-lock-unlock", "PsMutex lock(-1, None)+unlock()", KIND_PROCSHARED },
    { "ps-try-finally", "PsMutex lock(); try/finally unlock() (`with` stand-in)", KIND_PROCSHARED },
    { "mp-lock", "multiprocessing.Lock acquire()+release()", KIND_BASELINE },
    { "gi-noop-x2", "two no-op GI calls (Gio.Cancellable.is_cancelled)", KIND_BASELINE },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (series); i++)
    row_add_series (row, series[i].id, series[i].label, series[i].kind)->skip_reason =
      g_strdup (reason);
}

static void
parse_python_output (Row        *row,
                     const char *output)
{
  g_auto(GStrv) lines = g_strsplit (output, "\n", -1);
  guint i;

  for (i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], "\t", 4);
      guint n = g_strv_length (fields);
      Series *series;

      if (n == 4 && g_str_equal (fields[0], "series"))
        row_add_series (row, fields[1], fields[3],
                        g_str_equal (fields[2], "procshared") ? KIND_PROCSHARED : KIND_BASELINE);
      else if (n == 3 && g_str_equal (fields[0], "sample") &&
               (series = row_find_series (row, fields[1])) != NULL)
        series_add (series, g_ascii_strtod (fields[2], NULL));
      else if (n == 3 && g_str_equal (fields[0], "skip") &&
               (series = row_find_series (row, fields[1])) != NULL)
        series->skip_reason = g_strdup (fields[2]);
      else if (n == 3 && g_str_equal (fields[0], "meta"))
        row_metric (row, fields[1], g_ascii_strtod (fields[2], NULL));
      else if (n == 2 && g_str_equal (fields[0], "note"))
        row_note (row, "%s", fields[1]);
    }
}

static void
custom_python (Row   *row,
               guint  rounds,
               guint64 iterations)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *errors = NULL;
  g_autofree char *rounds_arg = g_strdup_printf ("%u", rounds);
  g_autofree char *iterations_arg = g_strdup_printf ("%" G_GUINT64_FORMAT, iterations);
  g_auto(GStrv) env = child_environment ();
  const char *python = python_program ();
  const char *script = bench_script ("PYTHON_SCRIPT");
  const char *argv[] = { python, script, "--raw", "--rounds", rounds_arg,
                         "--iterations", iterations_arg, NULL };
  int status = 0;

  if (python == NULL || script == NULL)
    {
      python_placeholders (row, "no Python with PyGObject, or no typelib, at build time");
      return;
    }
  python_expected = TRUE;

  if (!g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL,
                     &output, &errors, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    {
      fprintf (stderr, "%s", errors != NULL ? errors : "");
      row_note (row, "%s %s failed: %s", python, script, error->message);
      row->failed = TRUE;
      python_failed = TRUE;
      if (row->series->len == 0)
        python_placeholders (row, "the Python benchmark failed");
      return;
    }
  parse_python_output (row, output);
  if (row->series->len == 0)
    {
      row->failed = TRUE;
      python_failed = TRUE;
      python_placeholders (row, "the Python benchmark printed nothing");
    }
}

static void
finish_python (Row *row)
{
  Series *typelib = row_find_series (row, "ps-lock-unlock-typelib");

  if (typelib != NULL)
    row_note (row, "without the overrides' Python layer (typelib methods called directly): "
              "%.2f× two no-op GI calls",
              ratio_of (typelib, row_find_series (row, "gi-noop-x2")));
  row_target_ratio (row, "Python lock+unlock ≤ 1.25× two no-op GI calls",
                    "ps-lock-unlock", "gi-noop-x2", TRUE, 1.25);
}

/* The rows ------------------------------------------------------------------------- */

typedef enum
{
  ROW_LOCAL,   /* one process (maybe with threads) */
  ROW_PAIR,    /* with a forked peer process */
  ROW_PINNED_PAIR,   /* the same, the two processes on two different CPUs */
  ROW_CUSTOM,
} RowMode;

typedef struct
{
  const char *id;
  const char *title;
  const char *unit;
  gboolean    higher_is_better;
  RowMode     mode;
  guint       rounds;
  guint       quick_rounds;
  guint64     iterations;   /* per batch; scaled down by --quick */
  void      (*setup)  (Row *row, GArray *contestants);
  void      (*finish) (Row *row);
  void      (*custom) (Row *row, guint rounds, guint64 iterations);
} RowDef;

static const RowDef row_defs[] = {
  { "lock-unlock", "Uncontended lock+unlock", "ns/op", FALSE, ROW_LOCAL,
    101, 3, 20000, setup_lock_unlock, finish_lock_unlock, NULL },
  { "acquire-release", "Uncontended acquire+release", "ns/op", FALSE, ROW_LOCAL,
    101, 3, 20000, setup_acquire_release, finish_acquire_release, NULL },
  { "sem-ping-pong", "Semaphore ping-pong between two processes", "µs/round trip", FALSE,
    ROW_PAIR, 31, 3, 1000, setup_ping_pong, finish_ping_pong, NULL },
  { "cond-handshake", "Mutex+condition handshake between two processes", "µs/round trip",
    FALSE, ROW_PAIR, 31, 3, 1000, setup_handshake, finish_handshake, NULL },
  { "contended", "Contended throughput, two processes on one lock", "M acquisitions/s",
    TRUE, ROW_PINNED_PAIR, 41, 3, 20, setup_contended, finish_contended, NULL },
  { "create-drop", "Creating and dropping 1000 anonymous mutexes", "µs/object", FALSE,
    ROW_LOCAL, 31, 3, 1, setup_create, finish_create, NULL },
  { "variant-1k", "write_variant+read_variant, 1 KiB ay record", "GB/s", TRUE, ROW_LOCAL,
    41, 3, 20000, setup_records_1k, finish_records_1k, NULL },
  { "variant-1m", "write_variant+read_variant, 1 MiB ay record", "GB/s", TRUE, ROW_LOCAL,
    31, 3, 20, setup_records_1m, finish_records_1m, NULL },
  { "timed-wait", "Timed-wait accuracy: overshoot of 1 ms waits", "µs", FALSE, ROW_LOCAL,
    300, 10, 1, setup_timed_wait, finish_timed_wait, NULL },
  { "cancel", "Cancellation latency of a blocked acquire", "µs", FALSE, ROW_LOCAL,
    200, 10, 1, setup_cancel, finish_cancel, NULL },
  { "python-lock", "From Python through the typelib: PsMutex lock+unlock", "ns/op", FALSE,
    ROW_CUSTOM, 61, 3, 5000, NULL, finish_python, custom_python },
};

static gboolean
row_selected (const RowDef *def)
{
  guint i;

  if (opt_filters == NULL)
    return TRUE;
  for (i = 0; opt_filters[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (opt_filters[i], ",", -1);
      guint j;

      for (j = 0; parts[j] != NULL; j++)
        if (*parts[j] != '\0' && strstr (def->id, parts[j]) != NULL)
          return TRUE;
    }
  return FALSE;
}

static Row *
run_row (const RowDef *def)
{
  Row *row = row_new (def->id, def->title, def->unit, def->higher_is_better);
  guint rounds = rounds_for (def->rounds, def->quick_rounds);
  guint64 iterations = iterations_for (def->iterations);
  g_autoptr(GArray) contestants = g_array_new (FALSE, FALSE, sizeof (Contestant));

  switch (def->mode)
    {
    case ROW_LOCAL:
      def->setup (row, contestants);
      run_interleaved (contestants, rounds, iterations);
      break;
    case ROW_PAIR:
    case ROW_PINNED_PAIR:
      def->setup (row, contestants);
      run_interleaved_pair (contestants, rounds, iterations, def->mode == ROW_PINNED_PAIR);
      break;
    case ROW_CUSTOM:
      def->custom (row, rounds, iterations);
      break;
    default:
      g_assert_not_reached ();
    }
  row_finish (row);
  def->finish (row);
  run_cleanups ();
  return row;
}

/* Machine and JSON ------------------------------------------------------------------ */

static char *
cpu_model (void)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  guint i;

  if (!g_file_get_contents ("/proc/cpuinfo", &contents, NULL, NULL))
    return g_strdup ("unknown");
  lines = g_strsplit (contents, "\n", -1);
  for (i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "model name"))
      {
        const char *colon = strchr (lines[i], ':');

        if (colon != NULL)
          return g_strstrip (g_strdup (colon + 1));
      }
  return g_strdup ("unknown");
}

typedef struct
{
  char *cpu;
  char *kernel;
  char *glibc;
  char *glib;
  char *boost;
  char *compiler;
  char *buildtype;
  char *backend;
  char *date;
  guint cores;
} Machine;

static void
machine_clear (Machine *m)
{
  g_free (m->cpu);
  g_free (m->kernel);
  g_free (m->glibc);
  g_free (m->glib);
  g_free (m->boost);
  g_free (m->compiler);
  g_free (m->buildtype);
  g_free (m->backend);
  g_free (m->date);
}

static void
machine_init (Machine *m)
{
  struct utsname uts;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  m->cpu = cpu_model ();
  m->kernel = g_strdup (uname (&uts) == 0 ? uts.release : "unknown");
  m->glibc = g_strdup (gnu_get_libc_version ());
  m->glib = g_strdup_printf ("%u.%u.%u", glib_major_version, glib_minor_version,
                             glib_micro_version);
#ifdef PS_BENCH_HAVE_BOOST
  m->boost = g_strdup (bench_boost_version ());
#endif
#ifdef __clang__
  m->compiler = g_strdup (__VERSION__);   /* "Debian Clang 14.0.6", say */
#else
  m->compiler = g_strdup ("gcc " __VERSION__);
#endif
#ifdef PS_BENCH_BUILDTYPE
  m->buildtype = g_strdup (PS_BENCH_BUILDTYPE);
#else
  m->buildtype = g_strdup ("unknown");
#endif
#ifdef PS_BENCH_BACKEND
  m->backend = g_strdup (PS_BENCH_BACKEND);
#else
  m->backend = g_strdup ("unknown");
#endif
  m->date = g_date_time_format_iso8601 (now);
  m->cores = g_get_num_processors ();
}

static void
json_string (GString    *out,
             const char *s)
{
  const char *p;

  if (s == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append_c (out, '"');
  for (p = s; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c < 0x20)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

static void
json_number (GString *out,
             double   value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    g_string_append (out, "null");
  else
    g_string_append (out, g_ascii_formatd (buffer, sizeof buffer, "%.6g", value));
}

static void
json_key (GString    *out,
          const char *key)
{
  json_string (out, key);
  g_string_append (out, ": ");
}

static void
json_row (GString *out,
          Row     *row)
{
  guint i, j;

  g_string_append (out, "    {\n      ");
  json_key (out, "id");
  json_string (out, row->id);
  g_string_append (out, ",\n      ");
  json_key (out, "title");
  json_string (out, row->title);
  g_string_append (out, ",\n      ");
  json_key (out, "unit");
  json_string (out, row->unit);
  g_string_append (out, ",\n      ");
  json_key (out, "better");
  json_string (out, row->higher_is_better ? "higher" : "lower");
  g_string_append (out, ",\n      ");
  json_key (out, "best_baseline");
  json_string (out, row->best_baseline != NULL ? row->best_baseline->id : NULL);
  g_string_append (out, ",\n      ");
  json_key (out, "failed");
  g_string_append (out, row->failed ? "true" : "false");

  g_string_append (out, ",\n      \"series\": [");
  for (i = 0; i < row->series->len; i++)
    {
      Series *s = g_ptr_array_index (row->series, i);

      g_string_append (out, i > 0 ? ",\n        {" : "\n        {");
      json_key (out, "id");
      json_string (out, s->id);
      g_string_append (out, ", ");
      json_key (out, "label");
      json_string (out, s->label);
      g_string_append (out, ", ");
      json_key (out, "kind");
      json_string (out, s->kind == KIND_PROCSHARED ? "procshared" : "baseline");
      g_string_append (out, ", ");
      json_key (out, "skipped");
      json_string (out, s->skip_reason);
      g_string_append (out, ",\n         ");
      json_key (out, "median");
      json_number (out, s->median);
      g_string_append (out, ", ");
      json_key (out, "p10");
      json_number (out, s->p10);
      g_string_append (out, ", ");
      json_key (out, "p90");
      json_number (out, s->p90);
      g_string_append (out, ", ");
      json_key (out, "p99");
      json_number (out, s->p99);
      g_string_append (out, ", ");
      json_key (out, "mad");
      json_number (out, s->mad);
      g_string_append (out, ", ");
      json_key (out, "ratio_to_best_baseline");
      json_number (out, s->ratio);
      g_string_append (out, ",\n         ");
      json_key (out, "samples");
      g_string_append_c (out, '[');
      for (j = 0; j < s->samples->len; j++)
        {
          if (j > 0)
            g_string_append (out, ", ");
          json_number (out, g_array_index (s->samples, double, j));
        }
      g_string_append (out, "]}");
    }
  g_string_append (out, "\n      ],\n      \"targets\": [");
  for (i = 0; i < row->targets->len; i++)
    {
      Target *t = g_ptr_array_index (row->targets, i);

      g_string_append (out, i > 0 ? ",\n        {" : "\n        {");
      json_key (out, "text");
      json_string (out, t->text);
      g_string_append (out, ", ");
      json_key (out, "kind");
      json_string (out, t->kind);
      g_string_append (out, ", ");
      json_key (out, "subject");
      json_string (out, t->subject);
      g_string_append (out, ", ");
      json_key (out, "reference");
      json_string (out, t->reference);
      g_string_append (out, ", ");
      json_key (out, "stat");
      json_string (out, t->stat);
      g_string_append (out, ",\n         ");
      json_key (out, "unit");
      json_string (out, t->unit);
      g_string_append (out, ", ");
      json_key (out, "at_most");
      g_string_append (out, t->at_most ? "true" : "false");
      g_string_append (out, ", ");
      json_key (out, "limit");
      json_number (out, t->limit);
      g_string_append (out, ", ");
      json_key (out, "value");
      json_number (out, t->value);
      g_string_append (out, ", ");
      json_key (out, "result");
      json_string (out, !t->evaluated ? "SKIP" : t->pass ? "PASS" : "MISS");
      g_string_append (out, "}");
    }
  g_string_append (out, "\n      ],\n      \"metrics\": {");
  for (i = 0; i < row->metrics->len; i++)
    {
      Metric *m = g_ptr_array_index (row->metrics, i);

      g_string_append (out, i > 0 ? ", " : "");
      json_key (out, m->key);
      json_number (out, m->value);
    }
  g_string_append (out, "},\n      \"notes\": [");
  for (i = 0; i < row->notes->len; i++)
    {
      g_string_append (out, i > 0 ? ", " : "");
      json_string (out, g_ptr_array_index (row->notes, i));
    }
  g_string_append (out, "]\n    }");
}

static gboolean
write_json (const char *path,
            Machine    *m,
            GPtrArray  *rows,
            GError    **error)
{
  g_autoptr(GString) out = g_string_new ("{\n  \"machine\": {");
  guint i;

  g_string_append (out, "\n    ");
  json_key (out, "cpu");
  json_string (out, m->cpu);
  g_string_append (out, ",\n    ");
  json_key (out, "cores");
  g_string_append_printf (out, "%u", m->cores);
  g_string_append (out, ",\n    ");
  json_key (out, "kernel");
  json_string (out, m->kernel);
  g_string_append (out, ",\n    ");
  json_key (out, "glibc");
  json_string (out, m->glibc);
  g_string_append (out, ",\n    ");
  json_key (out, "glib");
  json_string (out, m->glib);
  g_string_append (out, ",\n    ");
  json_key (out, "boost");
  json_string (out, m->boost);
  g_string_append (out, ",\n    ");
  json_key (out, "compiler");
  json_string (out, m->compiler);
  g_string_append (out, ",\n    ");
  json_key (out, "buildtype");
  json_string (out, m->buildtype);
  g_string_append (out, ",\n    ");
  json_key (out, "backend");
  json_string (out, m->backend);
  g_string_append (out, ",\n    ");
  json_key (out, "date");
  json_string (out, m->date);
  g_string_append (out, "\n  },\n  ");
  json_key (out, "quick");
  g_string_append (out, opt_quick ? "true" : "false");
  g_string_append (out, ",\n  \"rows\": [\n");
  for (i = 0; i < rows->len; i++)
    {
      json_row (out, g_ptr_array_index (rows, i));
      g_string_append (out, i + 1 < rows->len ? ",\n" : "\n");
    }
  g_string_append (out, "  ]\n}\n");
  return g_file_set_contents (path, out->str, out->len, error);
}

/* Runs a Python helper (chart.py, or a one-line JSON check). */
static gboolean
run_python (const char * const *args,
            GError            **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) env = child_environment ();
  const char *python = python_program ();
  int status = 0;
  guint i;

  if (python == NULL)
    python = "python3";
  g_ptr_array_add (argv, (gpointer) python);
  for (i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  if (!g_spawn_sync (NULL, (char **) argv->pdata, env, G_SPAWN_SEARCH_PATH, NULL, NULL,
                     NULL, NULL, &status, error))
    return FALSE;
  return g_spawn_check_wait_status (status, error);
}

/* --check: the program worked, whatever the timings. */
static gboolean
check_rows (GPtrArray *rows)
{
  gboolean ok = TRUE;
  guint i, j, k;

  for (i = 0; i < rows->len; i++)
    {
      Row *row = g_ptr_array_index (rows, i);

      if (row->failed)
        {
          fprintf (stderr, "check: row %s failed\n", row->id);
          ok = FALSE;
        }
      for (j = 0; j < row->series->len; j++)
        {
          Series *s = g_ptr_array_index (row->series, j);

          if (s->skip_reason != NULL)
            continue;
          if (s->samples->len == 0)
            {
              fprintf (stderr, "check: %s/%s produced no number\n", row->id, s->id);
              ok = FALSE;
            }
          for (k = 0; k < s->samples->len; k++)
            if (!isfinite (g_array_index (s->samples, double, k)))
              {
                fprintf (stderr, "check: %s/%s produced a non-finite number\n", row->id, s->id);
                ok = FALSE;
                break;
              }
        }
    }
  return ok;
}

/* Profiling -------------------------------------------------------------------------- */

double profile_collect (RunFunc  run,
                        gpointer data,
                        guint64  iterations);

/* What `callgrind --toggle-collect=profile_collect` counts: the loop of
 * one contestant and nothing else (no set-up, no warm-up). Not static,
 * so that its symbol keeps this name. */
G_GNUC_NO_INLINE double
profile_collect (RunFunc  run,
                 gpointer data,
                 guint64  iterations)
{
  return run (data, iterations);
}

static int
run_profile (const char *wanted,
             guint64     iterations)
{
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (row_defs); i++)
    {
      const RowDef *def = &row_defs[i];
      g_autoptr(GArray) contestants = NULL;
      Row *row;

      if (def->mode == ROW_CUSTOM || !g_str_has_prefix (wanted, def->id) ||
          wanted[strlen (def->id)] != ':')
        continue;

      row = row_new (def->id, def->title, def->unit, def->higher_is_better);
      contestants = g_array_new (FALSE, FALSE, sizeof (Contestant));
      def->setup (row, contestants);
      for (j = 0; j < contestants->len; j++)
        {
          Contestant *c = &g_array_index (contestants, Contestant, j);
          guint64 warm_up = MAX (MIN (iterations / 10, 1000), 1);
          pid_t pid = 0;
          double value;

          if (!g_str_equal (wanted + strlen (def->id) + 1, c->series->id))
            continue;

          if (def->mode == ROW_PAIR || def->mode == ROW_PINNED_PAIR)
            {
              gboolean pinned = def->mode == ROW_PINNED_PAIR && choose_two_cpus ();

              pair_barrier = shared_map (sizeof (Barrier));
              pid = fork ();
              if (pid == 0)
                {
                  prctl (PR_SET_PDEATHSIG, SIGKILL);
                  if (pinned)
                    pin_to (pinned_cpus[1]);
                  barrier_wait (pair_barrier);
                  c->peer (c->data, warm_up);
                  barrier_wait (pair_barrier);
                  c->peer (c->data, iterations);
                  _exit (0);
                }
              if (pinned)
                pin_to (pinned_cpus[0]);
              barrier_wait (pair_barrier);
            }
          c->run (c->data, warm_up);
          if (pair_barrier != NULL)
            barrier_wait (pair_barrier);
          value = profile_collect (c->run, c->data, iterations);
          if (pid > 0)
            waitpid (pid, NULL, 0);
          if (pair_barrier != NULL)
            munmap (pair_barrier, sizeof (Barrier));
          pair_barrier = NULL;
          printf ("%s: %" G_GUINT64_FORMAT " iterations, %g %s\n",
                  wanted, iterations, value, def->unit);
          run_cleanups ();
          row_free (row);
          return 0;
        }
      run_cleanups ();
      row_free (row);
    }
  fprintf (stderr, "ps-bench: no contestant “%s”; see --list\n", wanted);
  return 2;
}

static void
list_rows (void)
{
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (row_defs); i++)
    {
      const RowDef *def = &row_defs[i];
      g_autoptr(GArray) contestants = NULL;
      Row *row;

      printf ("%s — %s\n", def->id, def->title);
      if (def->mode == ROW_CUSTOM)
        continue;
      row = row_new (def->id, def->title, def->unit, def->higher_is_better);
      contestants = g_array_new (FALSE, FALSE, sizeof (Contestant));
      def->setup (row, contestants);
      for (j = 0; j < contestants->len; j++)
        printf ("    --profile %s:%s\n", def->id,
                g_array_index (contestants, Contestant, j).series->id);
      run_cleanups ();
      row_free (row);
    }
}

/* Main ---------------------------------------------------------------------------------- */

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func (row_free);
  g_autofree char *json_path = NULL;
  Machine machine = { 0 };
  guint passes = 0, misses = 0, skips = 0;
  gboolean ok = TRUE;
  guint i, j;

  context = g_option_context_new ("— procshared beside glibc, Boost.Interprocess and Python");
  g_option_context_add_main_entries (context, option_entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "ps-bench: %s\n", error->message);
      return 2;
    }

  /* Line-buffered even into meson's pipe: a forked peer must not inherit
   * (and print again) output the parent has not flushed yet. */
  setvbuf (stdout, NULL, _IOLBF, 0);

  if (opt_list)
    {
      list_rows ();
      return 0;
    }
  if (opt_profile != NULL)
    return run_profile (opt_profile, opt_iterations > 0 ? (guint64) opt_iterations : 100000);

  machine_init (&machine);
  printf ("ps-bench%s: %s (%u cores), Linux %s, glibc %s, GLib %s, Boost %s, %s build, "
          "%s backend\n", opt_quick ? " --quick" : "", machine.cpu, machine.cores,
          machine.kernel, machine.glibc, machine.glib,
          machine.boost != NULL ? machine.boost : "absent", machine.buildtype,
          machine.backend);
  printf ("Each row: median, 10th/90th/99th percentiles over interleaved rounds; "
          "×best = median over rounds of (contestant / best baseline). * = procshared.\n");

  for (i = 0; i < G_N_ELEMENTS (row_defs); i++)
    {
      Row *row;

      if (!row_selected (&row_defs[i]))
        continue;
      row = run_row (&row_defs[i]);
      row_print (row);
      g_ptr_array_add (rows, row);
    }

  printf ("\nTargets (issue 5):\n");
  for (i = 0; i < rows->len; i++)
    {
      Row *row = g_ptr_array_index (rows, i);

      for (j = 0; j < row->targets->len; j++)
        {
          Target *t = g_ptr_array_index (row->targets, j);
          char value[64];

          format_number (value, sizeof value, t->value);
          printf ("  %s  ", !t->evaluated ? "SKIP" : t->pass ? "PASS" : "MISS");
          print_padded (t->text, 58);
          printf (" %8s %s\n", value, t->unit);
          if (!t->evaluated)
            skips++;
          else if (t->pass)
            passes++;
          else
            misses++;
        }
    }
  printf ("%u PASS, %u MISS, %u SKIP%s\n", passes, misses, skips,
          opt_quick ? " (--quick: too few rounds for the numbers to mean anything)" : "");

  json_path = g_strdup (opt_json);
  if (json_path == NULL && (opt_svg != NULL || opt_check))
    json_path = g_build_filename (g_get_tmp_dir (), "ps-bench-results.json", NULL);
  if (json_path != NULL)
    {
      if (!write_json (json_path, &machine, rows, &error))
        {
          fprintf (stderr, "ps-bench: %s\n", error->message);
          machine_clear (&machine);
          return 1;
        }
      if (opt_json != NULL)
        printf ("JSON written to %s\n", json_path);
    }

  if (opt_svg != NULL)
    {
      const char *args[] = { bench_script ("CHART_SCRIPT"), json_path, opt_svg, NULL };

      if (args[0] == NULL || !run_python (args, &error))
        {
          fprintf (stderr, "ps-bench: could not draw the chart: %s\n",
                   error != NULL ? error->message : "chart.py not found");
          g_clear_error (&error);
          ok = FALSE;
        }
      else
        printf ("Chart written to %s\n", opt_svg);
    }

  if (opt_check)
    {
      const char *args[] = { "-c", "import json, sys; json.load(open(sys.argv[1]))",
                             json_path, NULL };

      ok = check_rows (rows) && ok;
      if (python_expected && python_failed)
        ok = FALSE;
      if (!run_python (args, &error))
        {
          fprintf (stderr, "check: the JSON does not parse: %s\n", error->message);
          g_clear_error (&error);
          ok = FALSE;
        }
      printf ("check: %s\n", ok ? "every contestant produced numbers; the JSON is valid"
                                : "FAILED");
    }

  machine_clear (&machine);
  return ok ? 0 : 1;
}
