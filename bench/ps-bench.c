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
 *
 * This file is the harness: the options, the rows in the order they run
 * and print, --list, --profile, --check and the summary. The rows are in
 * ps-bench-mutex.c, -semaphore.c, -cond.c, -shared-memory.c and
 * -python.c, and those of issue 13 (placements, many processes,
 * segments) in -placement.c, -processes.c and -segments.c; ps-bench.h
 * says how they plug in.
 */

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps-bench.h"

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

/* The rows ------------------------------------------------------------------------- */

/* Scales a row's normal batch size down for --quick. */
guint64
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

/* In the order they run, print and are listed. */
static const RowDef *const row_defs[] = {
  &ps_bench_row_lock_unlock,
  &ps_bench_row_acquire_release,
  &ps_bench_row_sem_ping_pong,
  &ps_bench_row_ping_pong_one_cpu,
  &ps_bench_row_ping_pong_apart,
  &ps_bench_row_ping_pong_fresh,
  &ps_bench_row_cond_handshake,
  &ps_bench_row_contended,
  &ps_bench_row_contended_processes,
  &ps_bench_row_cond_broadcast,
  &ps_bench_row_create_drop,
  &ps_bench_row_segment_sizes,
  &ps_bench_row_segments_open,
  &ps_bench_row_variant_1k,
  &ps_bench_row_variant_1m,
  &ps_bench_row_variant_sizes,
  &ps_bench_row_timed_wait,
  &ps_bench_row_cancel,
  &ps_bench_row_python_lock,
  &ps_bench_row_async_pending,
  &ps_bench_row_python_records,
  &ps_bench_row_rw_lock,
  &ps_bench_row_rw_readers,
  &ps_bench_row_event_ping_pong,
  &ps_bench_row_barrier_round,
  &ps_bench_row_event_broadcast,
  &ps_bench_row_queue_ping_pong_64_one_cpu,
  &ps_bench_row_queue_ping_pong_64_apart,
  &ps_bench_row_queue_ping_pong_4k_one_cpu,
  &ps_bench_row_queue_ping_pong_4k_apart,
  &ps_bench_row_queue_throughput_1,
  &ps_bench_row_queue_throughput_4,
  &ps_bench_row_python_queue,
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
  if (row->placement == NULL && def->mode == ROW_PINNED_PAIR && pinned_cpus[1] >= 0)
    row_set_placement (row, "two processes, pinned to CPUs %d and %d; a long-lived peer",
                       pinned_cpus[0], pinned_cpus[1]);
  else if (row->placement == NULL && def->mode != ROW_LOCAL && def->mode != ROW_CUSTOM)
    row_set_placement (row, "two processes, unpinned; a long-lived peer; "
                       "a spinning barrier between batches");
  else if (row->placement == NULL)
    row_set_placement (row, "one process, unpinned");
  row_finish (row);
  def->finish (row);
  run_cleanups ();
  return row;
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
      const RowDef *def = row_defs[i];
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
          profiling = TRUE;

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
      const RowDef *def = row_defs[i];
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

      if (!row_selected (row_defs[i]))
        continue;
      row = run_row (row_defs[i]);
      row_print (row);
      g_ptr_array_add (rows, row);
    }

  printf ("\nTargets (from the issues; a MISS shows the measured value):\n");
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
          if (t->why != NULL && t->evaluated && !t->pass)
            printf ("        why: %s\n", t->why);
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
      if (!write_json (json_path, &machine, opt_quick, rows, &error))
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
      if (python_row_failed ())
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
