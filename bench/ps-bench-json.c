/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps-bench's JSON (--json, which bench/chart.py draws and
 * bench/results.json keeps): the machine it ran on, then every row with
 * its series, samples, targets, metrics and notes. Numbers that were not
 * measured (NAN) are null.
 */

#include <gnu/libc-version.h>
#include <math.h>
#include <string.h>
#include <sys/utsname.h>

#include <json-glib/json-glib.h>

#include "ps-bench.h"

/* Machine --------------------------------------------------------------------------- */

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

void
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

void
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

/* JSON ------------------------------------------------------------------------------ */

/* A number, or null where there is none (NAN: not measured). */
static void
add_number (JsonBuilder *builder,
            double       value)
{
  if (isfinite (value))
    json_builder_add_double_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

/* A string, or null. */
static void
add_string (JsonBuilder *builder,
            const char  *value)
{
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
member_string (JsonBuilder *builder,
               const char  *key,
               const char  *value)
{
  add_string (json_builder_set_member_name (builder, key), value);
}

static void
member_number (JsonBuilder *builder,
               const char  *key,
               double       value)
{
  add_number (json_builder_set_member_name (builder, key), value);
}

static void
member_bool (JsonBuilder *builder,
             const char  *key,
             gboolean     value)
{
  json_builder_add_boolean_value (json_builder_set_member_name (builder, key), value);
}

static void
add_series (JsonBuilder *builder,
            Series      *s)
{
  guint i;

  json_builder_begin_object (builder);
  member_string (builder, "id", s->id);
  member_string (builder, "label", s->label);
  member_string (builder, "kind", s->kind == KIND_PROCSHARED ? "procshared" : "baseline");
  member_string (builder, "group", s->group);
  member_string (builder, "best_baseline_of_group", s->best != NULL ? s->best->id : NULL);
  member_string (builder, "skipped", s->skip_reason);
  member_number (builder, "median", s->median);
  member_number (builder, "p10", s->p10);
  member_number (builder, "p90", s->p90);
  member_number (builder, "p99", s->p99);
  member_number (builder, "mad", s->mad);
  member_number (builder, "ratio_to_best_baseline", s->ratio);
  json_builder_set_member_name (builder, "samples");
  json_builder_begin_array (builder);
  for (i = 0; i < s->samples->len; i++)
    add_number (builder, g_array_index (s->samples, double, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

static void
add_target (JsonBuilder *builder,
            Target      *t)
{
  json_builder_begin_object (builder);
  member_string (builder, "text", t->text);
  member_string (builder, "kind", t->kind);
  member_string (builder, "subject", t->subject);
  member_string (builder, "reference", t->reference);
  member_string (builder, "stat", t->stat);
  member_string (builder, "unit", t->unit);
  member_bool (builder, "at_most", t->at_most);
  member_number (builder, "limit", t->limit);
  member_number (builder, "value", t->value);
  member_string (builder, "result", !t->evaluated ? "SKIP" : t->pass ? "PASS" : "MISS");
  member_string (builder, "why", t->why);
  json_builder_end_object (builder);
}

static void
add_row (JsonBuilder *builder,
         Row         *row)
{
  guint i;

  json_builder_begin_object (builder);
  member_string (builder, "id", row->id);
  member_string (builder, "title", row->title);
  member_string (builder, "unit", row->unit);
  member_string (builder, "better", row->higher_is_better ? "higher" : "lower");
  member_string (builder, "best_baseline",
                 row->best_baseline != NULL ? row->best_baseline->id : NULL);
  member_bool (builder, "failed", row->failed);
  member_string (builder, "placement", row->placement);

  json_builder_set_member_name (builder, "series");
  json_builder_begin_array (builder);
  for (i = 0; i < row->series->len; i++)
    add_series (builder, g_ptr_array_index (row->series, i));
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "targets");
  json_builder_begin_array (builder);
  for (i = 0; i < row->targets->len; i++)
    add_target (builder, g_ptr_array_index (row->targets, i));
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "metrics");
  json_builder_begin_object (builder);
  for (i = 0; i < row->metrics->len; i++)
    {
      Metric *m = g_ptr_array_index (row->metrics, i);

      member_number (builder, m->key, m->value);
    }
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "notes");
  json_builder_begin_array (builder);
  for (i = 0; i < row->notes->len; i++)
    add_string (builder, g_ptr_array_index (row->notes, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

gboolean
write_json (const char  *path,
            Machine     *m,
            gboolean     quick,
            GPtrArray   *rows,
            GError     **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autofree char *contents = NULL;
  guint i;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "machine");
  json_builder_begin_object (builder);
  member_string (builder, "cpu", m->cpu);
  json_builder_add_int_value (json_builder_set_member_name (builder, "cores"), m->cores);
  member_string (builder, "kernel", m->kernel);
  member_string (builder, "glibc", m->glibc);
  member_string (builder, "glib", m->glib);
  member_string (builder, "boost", m->boost);
  member_string (builder, "compiler", m->compiler);
  member_string (builder, "buildtype", m->buildtype);
  member_string (builder, "backend", m->backend);
  member_string (builder, "date", m->date);
  json_builder_end_object (builder);
  member_bool (builder, "quick", quick);
  json_builder_set_member_name (builder, "rows");
  json_builder_begin_array (builder);
  for (i = 0; i < rows->len; i++)
    add_row (builder, g_ptr_array_index (rows, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  text = json_generator_to_data (generator, NULL);
  contents = g_strconcat (text, "\n", NULL);
  return g_file_set_contents (path, contents, -1, error);
}
