/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The Python row of ps-bench (bench_python.py through the typelib), and
 * where the program finds Python, its scripts and the build's typelib.
 */

#include <stdio.h>

#include "ps-bench.h"

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

const char *
python_program (void)
{
#ifdef PS_BENCH_PYTHON
  return configured_path ("PS_BENCH_PYTHON", PS_BENCH_PYTHON);
#else
  return configured_path ("PS_BENCH_PYTHON", NULL);
#endif
}

const char *
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
char **
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

gboolean
python_row_failed (void)
{
  return python_expected && python_failed;
}

/* What a Python row shows when it cannot run: its series, skipped. */
typedef struct
{
  const char *group;
  const char *id;
  const char *label;
  SeriesKind  kind;
} Placeholder;

static const Placeholder lock_placeholders[] = {
  { NULL, "ps-lock-unlock", "PsMutex lock()+unlock()", KIND_PROCSHARED },
  { NULL, "ps-try-finally", "PsMutex lock(); try/finally unlock() (`with` stand-in)",
    KIND_PROCSHARED },
  { NULL, "mp-lock", "multiprocessing.Lock acquire()+release()", KIND_BASELINE },
  { NULL, "gi-noop-x2", "two no-op GI calls (Gio.Cancellable.is_cancelled)", KIND_BASELINE },
  { NULL, NULL, NULL, 0 }
};

static const Placeholder record_placeholders[] = {
  { "64 B", "ps-record-64b", "PsSharedMemory write_bytes_record+read_bytes_record",
    KIND_PROCSHARED },
  { "64 B", "ps-variant-record-64b", "PsSharedMemory write_variant+read_variant of bytes",
    KIND_PROCSHARED },
  { "64 B", "pickle-shm-64b", "pickle via multiprocessing.shared_memory", KIND_BASELINE },
  { "1 MiB", "ps-record-1m", "PsSharedMemory write_bytes_record+read_bytes_record",
    KIND_PROCSHARED },
  { "1 MiB", "ps-variant-record-1m", "PsSharedMemory write_variant+read_variant of bytes",
    KIND_PROCSHARED },
  { "1 MiB", "pickle-shm-1m", "pickle via multiprocessing.shared_memory", KIND_BASELINE },
  { NULL, NULL, NULL, 0 }
};

static const Placeholder queue_placeholders[] = {
  { NULL, "ps-queue-put-get", "PsQueue put()+get() of 64 B bytes", KIND_PROCSHARED },
  { NULL, "mp-queue-put-get", "multiprocessing.Queue put()+get() of 64 B bytes", KIND_BASELINE },
  { NULL, NULL, NULL, 0 }
};

static void
python_placeholders (Row               *row,
                     const Placeholder *series,
                     const char        *reason)
{
  guint i;

  for (i = 0; series[i].id != NULL; i++)
    row_add_group_series (row, series[i].group, series[i].id, series[i].label,
                          series[i].kind)->skip_reason = g_strdup (reason);
}

static void
parse_python_output (Row        *row,
                     const char *output)
{
  g_auto(GStrv) lines = g_strsplit (output, "\n", -1);
  guint i;

  for (i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], "\t", g_str_has_prefix (lines[i], "group-")
                                                          ? 5 : 4);
      guint n = g_strv_length (fields);
      Series *series;

      if (n == 5 && g_str_equal (fields[0], "group-series"))
        row_add_group_series (row, fields[1], fields[2], fields[4],
                              g_str_equal (fields[3], "procshared") ? KIND_PROCSHARED
                                                                    : KIND_BASELINE);
      else if (n == 4 && g_str_equal (fields[0], "series"))
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
run_python_row (Row               *row,
                guint              rounds,
                guint64            iterations,
                const char        *mode,
                const Placeholder *placeholders)
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
                         "--iterations", iterations_arg, mode, NULL };
  int status = 0;

  if (python == NULL || script == NULL)
    {
      python_placeholders (row, placeholders,
                           "no Python with PyGObject, or no typelib, at build time");
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
        python_placeholders (row, placeholders, "the Python benchmark failed");
      return;
    }
  parse_python_output (row, output);
  if (row->series->len == 0)
    {
      row->failed = TRUE;
      python_failed = TRUE;
      python_placeholders (row, placeholders, "the Python benchmark printed nothing");
    }
}

static void
custom_python (Row     *row,
               guint    rounds,
               guint64  iterations)
{
  run_python_row (row, rounds, iterations, NULL, lock_placeholders);
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

const RowDef ps_bench_row_python_lock = {
  "python-lock", "From Python through the typelib: PsMutex lock+unlock", "ns/op", FALSE,
  ROW_CUSTOM, 61, 3, 5000, NULL, finish_python, custom_python
};

/* Records from Python ------------------------------------------------------------- */

static void
custom_python_records (Row     *row,
                       guint    rounds,
                       guint64  iterations)
{
  run_python_row (row, rounds, iterations, "--records", record_placeholders);
}

static void
finish_python_records (Row *row)
{
  row_note (row, "µs per record written and read back from Python, as bytes both ways: "
            "write_bytes_record(0, data) and read_bytes_record(0) (the overrides write the "
            "record of an \"ay\" variant through the mapping, no introspection call); "
            "write_variant(GLib.Variant.new_from_bytes(GLib.VariantType('ay'), "
            "GLib.Bytes.new(data), True)) and read_variant(0).get_data_as_bytes().get_data(); "
            "beside pickle.dumps into a multiprocessing.shared_memory segment and "
            "pickle.loads from it");
  row_target_ratio (row, "Python 64 B record write+read ≤ 2× pickle + shared_memory",
                    "ps-record-64b", "pickle-shm-64b", TRUE, 2.0);
  row_target_ratio (row, "Python 1 MiB record write+read ≤ 0.6× pickle + shared_memory",
                    "ps-record-1m", "pickle-shm-1m", TRUE, 0.6);
}

const RowDef ps_bench_row_python_records = {
  "python-records", "From Python through the typelib: a bytes record written and read back",
  "µs/record", FALSE, ROW_CUSTOM, 31, 3, 2000, NULL, finish_python_records,
  custom_python_records
};

/* A queue from Python ------------------------------------------------------------- */

static void
custom_python_queue (Row     *row,
                     guint    rounds,
                     guint64  iterations)
{
  run_python_row (row, rounds, iterations, "--queue", queue_placeholders);
}

static void
finish_python_queue (Row *row)
{
  row_note (row, "µs per 64 B bytes object put and got back in one process: a PsQueue "
            "(through the Python overrides' put/get when they are there, else the typelib's "
            "send/receive) beside multiprocessing.Queue (its feeder thread and pipe)");
  row_target_ratio (row, "Python put+get of 64 B ≤ 0.5× multiprocessing.Queue",
                    "ps-queue-put-get", "mp-queue-put-get", TRUE, 0.5);
}

const RowDef ps_bench_row_python_queue = {
  "python-queue", "From Python through the typelib: a 64 B message put and got back",
  "µs/message", FALSE, ROW_CUSTOM, 31, 3, 5000, NULL, finish_python_queue, custom_python_queue
};
