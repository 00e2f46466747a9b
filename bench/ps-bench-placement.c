/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The placement rows of ps-bench (issue 13): the semaphore ping-pong of
 * ps-bench-semaphore.c, where the two processes run as users' processes
 * do, each batch timed in wall time and in CPU time (of both processes):
 *
 *   - both pinned to one CPU: every wake-up is a context switch, and
 *     spinning before sleeping can only waste the CPU the peer needs;
 *   - pinned to two different CPUs;
 *   - unpinned, a fresh child process for every batch.
 *
 * Between batches the two processes wait in the kernel (a futex barrier),
 * not spinning, so that no CPU is kept busy (and warm) for the next
 * batch. The peer measures its own CPU time over its half of the batch
 * and hands it over through shared memory.
 */

#include <sched.h>
#include <unistd.h>

#include "ps-bench.h"

typedef enum
{
  PLACE_ONE_CPU,
  PLACE_APART,
  PLACE_FRESH_CHILD,
} Placement;

typedef struct
{
  Barrier start;
  Barrier end;
  gint    contestant;   /* which one runs this batch */
  gint    quit;
  guint64 batch;
  gint64  peer_cpu_ns;
} PairControl;

#define CPU_GROUP "CPU time of both processes"

/* The peer's side: batches until told to quit (or one batch, for a fresh
 * child). */
static void
serve_batches (PairControl *ctl,
               GArray      *contestants,
               gboolean     once)
{
  do
    {
      Contestant *c;
      gint64 cpu;

      sleeping_barrier_wait (&ctl->start, 2);
      if (g_atomic_int_get (&ctl->quit))
        return;
      c = &g_array_index (contestants, Contestant, ctl->contestant);
      cpu = cpu_now_ns ();
      c->peer (c->data, ctl->batch);
      ctl->peer_cpu_ns = cpu_now_ns () - cpu;
      sleeping_barrier_wait (&ctl->end, 2);
    }
  while (!once);
}

static void
run_placement (Row       *row,
               guint      rounds,
               guint64    iterations,
               Placement  placement,
               void     (*setup) (Row *row, GArray *contestants))
{
  g_autoptr(GArray) contestants = g_array_new (FALSE, FALSE, sizeof (Contestant));
  g_autoptr(GPtrArray) cpu_series = g_ptr_array_new ();
  PairControl *ctl = shared_alloc (sizeof (PairControl));
  cpu_set_t saved;
  gint cpus[2] = { -1, -1 };
  gint n_cpus = allowed_cpus (cpus, 2);
  pid_t peer = 0;
  guint n, r, k, i;

  setup (row, contestants);
  /* A CPU-time series beside each wall-time one, skipped alike. */
  n = row->series->len;
  for (i = 0; i < n; i++)
    {
      Series *wall = g_ptr_array_index (row->series, i);
      g_autofree char *id = g_strconcat (wall->id, "-cpu", NULL);
      g_autofree char *label = g_strconcat (wall->label, " (CPU)", NULL);
      Series *s = row_add_group_series (row, CPU_GROUP, id, label, wall->kind);

      s->skip_reason = g_strdup (wall->skip_reason);
    }
  for (k = 0; k < contestants->len; k++)
    {
      Series *wall = g_array_index (contestants, Contestant, k).series;
      g_autofree char *id = g_strconcat (wall->id, "-cpu", NULL);

      g_ptr_array_add (cpu_series, row_find_series (row, id));
    }

  if (sched_getaffinity (0, sizeof saved, &saved) != 0)
    die ("sched_getaffinity failed");
  switch (placement)
    {
    case PLACE_ONE_CPU:
      row_set_placement (row, "both processes pinned to CPU %d; a long-lived peer; "
                         "a sleeping (futex) barrier between batches", cpus[0]);
      break;
    case PLACE_APART:
      if (n_cpus < 2)
        row_set_placement (row, "only one CPU available: both processes on CPU %d", cpus[0]);
      else
        row_set_placement (row, "pinned apart: CPUs %d and %d; a long-lived peer; "
                           "a sleeping (futex) barrier between batches", cpus[0], cpus[1]);
      break;
    case PLACE_FRESH_CHILD:
      row_set_placement (row, "unpinned (%d CPUs allowed); a freshly forked child per batch "
                         "of %" G_GUINT64_FORMAT " round trips; a sleeping (futex) barrier",
                         n_cpus, iterations);
      break;
    default:
      g_assert_not_reached ();
    }

  if (placement != PLACE_FRESH_CHILD)
    {
      gint peer_cpu = placement == PLACE_APART && n_cpus >= 2 ? cpus[1] : cpus[0];

      peer = fork_worker (peer_cpu);
      if (peer == 0)
        {
          serve_batches (ctl, contestants, FALSE);
          _exit (0);
        }
      pin_to (cpus[0]);
    }

  alarm (600);
  for (r = 0; r <= rounds; r++)
    for (k = 0; k < contestants->len; k++)
      {
        guint index = (r + k) % contestants->len;
        Contestant *c = &g_array_index (contestants, Contestant, index);
        pid_t child = 0;
        gint64 cpu;
        double wall;

        ctl->contestant = index;
        ctl->batch = r == 0 ? MAX (iterations / 10, 1) : iterations;
        if (placement == PLACE_FRESH_CHILD)
          {
            child = fork_worker (-1);
            if (child == 0)
              {
                serve_batches (ctl, contestants, TRUE);
                _exit (0);
              }
          }
        sleeping_barrier_wait (&ctl->start, 2);
        cpu = cpu_now_ns ();
        wall = c->run (c->data, ctl->batch);
        cpu = cpu_now_ns () - cpu;
        sleeping_barrier_wait (&ctl->end, 2);
        if (child > 0)
          wait_workers (&child, 1);
        if (r > 0)
          {
            series_add (c->series, wall);
            series_add (g_ptr_array_index (cpu_series, index),
                        (double) (cpu + ctl->peer_cpu_ns) / (double) ctl->batch / 1000.0);
          }
      }

  if (peer > 0)
    {
      g_atomic_int_set (&ctl->quit, 1);
      sleeping_barrier_wait (&ctl->start, 2);
      wait_workers (&peer, 1);
    }
  alarm (0);
  sched_setaffinity (0, sizeof saved, &saved);
}

/* The three rows, told apart by their ids. */
static const struct
{
  const char *id;
  Placement   placement;
  const char *where;
  double      limit;
} placements[] = {
  { "ping-pong-one-cpu", PLACE_ONE_CPU, "on one CPU", 1.05 },
  { "ping-pong-apart", PLACE_APART, "pinned apart", 1.0 },
  { "ping-pong-fresh-child", PLACE_FRESH_CHILD, "unpinned, fresh child", 1.0 },
};

static guint
placement_of (Row *row)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (placements); i++)
    if (g_str_equal (row->id, placements[i].id))
      return i;
  g_assert_not_reached ();
}

static void
custom_placement (Row     *row,
                  guint    rounds,
                  guint64  iterations)
{
  run_placement (row, rounds, iterations, placements[placement_of (row)].placement,
                 setup_ping_pong);
}

void
run_ping_pong_placed (Row      *row,
                      guint     rounds,
                      guint64   iterations,
                      gboolean  apart,
                      void    (*setup) (Row *row, GArray *contestants))
{
  run_placement (row, rounds, iterations, apart ? PLACE_APART : PLACE_ONE_CPU, setup);
}

static void
finish_placement (Row *row)
{
  guint i = placement_of (row);
  g_autofree char *wall = g_strdup_printf ("ping-pong %s: wall ≤ %.2f× sem_t",
                                           placements[i].where, placements[i].limit);
  g_autofree char *cpu = g_strdup_printf ("ping-pong %s: CPU ≤ %.2f× sem_t",
                                          placements[i].where, placements[i].limit);

  row_note (row, "µs per round trip; CPU time is the two processes' together "
            "(CLOCK_PROCESS_CPUTIME_ID of each, over its half of the batch)");
  row_target_ratio (row, wall, "ps-semaphore-pair", "sem-t-pair", TRUE, placements[i].limit);
  row_target_ratio (row, cpu, "ps-semaphore-pair-cpu", "sem-t-pair-cpu", TRUE,
                    placements[i].limit);
}

const RowDef ps_bench_row_ping_pong_one_cpu = {
  "ping-pong-one-cpu", "Semaphore ping-pong, both processes pinned to one CPU",
  "µs/round trip", FALSE, ROW_CUSTOM, 11, 3, 20000, NULL, finish_placement, custom_placement
};

const RowDef ps_bench_row_ping_pong_apart = {
  "ping-pong-apart", "Semaphore ping-pong, processes pinned to two different CPUs",
  "µs/round trip", FALSE, ROW_CUSTOM, 11, 3, 1000, NULL, finish_placement, custom_placement
};

const RowDef ps_bench_row_ping_pong_fresh = {
  "ping-pong-fresh-child", "Semaphore ping-pong, unpinned, a fresh child process per batch",
  "µs/round trip", FALSE, ROW_CUSTOM, 11, 3, 20000, NULL, finish_placement, custom_placement
};
