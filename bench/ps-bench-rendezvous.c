/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The PsEvent and PsBarrier rows of ps-bench (issue 15), each for N = 2,
 * 3, 4, 6 and 8 processes:
 *
 *   - event ring: N processes pass a token around a ring of N auto-reset
 *     events, each waiting on its own and setting the next one's (against
 *     a ring of pshared sem_t, the usual C stand-in for an auto-reset
 *     event); N = 2 is the set→wake-up ping-pong of two processes;
 *   - event broadcast: one process sets a manual-reset event that N - 1
 *     processes wait on, and waits until all of them are back waiting
 *     for the next one (against the usual pthread event: a flag under a
 *     pshared mutex, with a pshared condition broadcast);
 *   - barrier round: N parties (against a pshared pthread_barrier_t).
 *
 * Every batch forks its N - 1 other processes afresh and starts them at a
 * gate they sleep on (a futex), unpinned. Each N is two groups of the
 * row: the wall time per round, timed by the first process, and the CPU
 * time per round of all N processes together.
 */

#include <math.h>
#include <semaphore.h>
#include <string.h>
#include <unistd.h>

#include "ps-bench.h"

#define MAX_PROCESSES 8

static const guint process_counts[] = { 2, 3, 4, 6, 8 };

/* N processes through a gate ------------------------------------------------- */

/* Process @index of @n runs @iterations rounds. */
typedef void (*PartyLoop) (gpointer data,
                           guint    index,
                           guint    n,
                           guint64  iterations);

typedef struct
{
  gint   ready;                   /* processes at the gate */
  gint   go;
  gint64 cpu[MAX_PROCESSES];      /* each one's CPU time over its rounds, ns */
} Gate;

typedef struct
{
  PartyLoop  loop;
  gpointer   data;
  guint      n;
  Gate      *gate;
  Series    *cpu;     /* the CPU-time series beside the wall-time one */
} Group;

/* One batch: µs of wall time per round, as process 0 sees it; the CPU
 * time per round of all N goes to the group's CPU series. */
static double
run_group (gpointer data,
           guint64  iterations)
{
  Group *g = data;
  Gate *gate = g->gate;
  pid_t pids[MAX_PROCESSES];
  gint64 start, wall, cpu;
  gint ready;
  guint i;

  /* A process that died would leave the others waiting for ever. */
  alarm (600);
  memset (gate, 0, sizeof *gate);
  for (i = 1; i < g->n; i++)
    {
      pids[i] = fork_worker (-1);
      if (pids[i] == 0)
        {
          g_atomic_int_inc (&gate->ready);
          word_wake (&gate->ready);
          word_wait (&gate->go, 0);
          cpu = cpu_now_ns ();
          g->loop (g->data, i, g->n, iterations);
          gate->cpu[i] = cpu_now_ns () - cpu;
          _exit (0);
        }
    }
  while ((ready = g_atomic_int_get (&gate->ready)) < (gint) g->n - 1)
    word_wait (&gate->ready, ready);

  cpu = cpu_now_ns ();
  start = now_ns ();
  g_atomic_int_set (&gate->go, 1);
  word_wake (&gate->go);
  g->loop (g->data, 0, g->n, iterations);
  wall = now_ns () - start;
  gate->cpu[0] = cpu_now_ns () - cpu;
  wait_workers (pids + 1, g->n - 1);
  alarm (0);

  for (i = 1; i < g->n; i++)
    gate->cpu[0] += gate->cpu[i];
  if (!warming_up)
    series_add (g->cpu, (double) gate->cpu[0] / (double) iterations / 1000.0);
  return (double) wall / (double) iterations / 1000.0;
}

/* A contestant of a row: its loop and what the loop gets. */
typedef struct
{
  const char *id;
  const char *label;
  SeriesKind  kind;
  PartyLoop   loop;
  gpointer    data;
} Entrant;

/* The contestants at N processes: their wall series in the group "N = n,
 * wall", then their CPU series in "N = n, CPU of all". */
static void
add_groups (Row           *row,
            GArray        *contestants,
            guint          n,
            const Entrant *entrants,
            guint          n_entrants)
{
  g_autofree char *wall_group = g_strdup_printf ("N = %u, wall", n);
  g_autofree char *cpu_group = g_strdup_printf ("N = %u, CPU of all", n);
  Group *groups[4];

  g_assert (n_entrants <= G_N_ELEMENTS (groups));
  for (guint e = 0; e < n_entrants; e++)
    {
      g_autofree char *wall_id = g_strdup_printf ("%s-n%u", entrants[e].id, n);

      groups[e] = defer_free (g_new0 (Group, 1));
      groups[e]->loop = entrants[e].loop;
      groups[e]->data = entrants[e].data;
      groups[e]->n = n;
      groups[e]->gate = shared_alloc (sizeof (Gate));
      add_contestant (contestants,
                      row_add_group_series (row, wall_group, wall_id, entrants[e].label,
                                            entrants[e].kind),
                      run_group, NULL, groups[e]);
    }
  for (guint e = 0; e < n_entrants; e++)
    {
      g_autofree char *cpu_id = g_strdup_printf ("%s-n%u-cpu", entrants[e].id, n);

      groups[e]->cpu = row_add_group_series (row, cpu_group, cpu_id, entrants[e].label,
                                             entrants[e].kind);
    }
}

/* The targets of one N: wall and CPU ≤ @limit× the baseline's, and for a
 * miss, why (what the other measure and the spread of the rounds say). */
static void
group_targets (Row        *row,
               guint       n,
               const char *what,
               const char *subject,
               const char *reference,
               const char *reference_label,
               double      limit)
{
  static const char *const measures[] = { "wall", "CPU" };

  for (guint m = 0; m < 2; m++)
    {
      g_autofree char *text = g_strdup_printf ("N = %u: %s %s ≤ %.1f× %s", n, what,
                                               measures[m], limit, reference_label);
      g_autofree char *s = g_strdup_printf ("%s-n%u%s", subject, n, m ? "-cpu" : "");
      g_autofree char *r = g_strdup_printf ("%s-n%u%s", reference, n, m ? "-cpu" : "");
      g_autofree char *so = g_strdup_printf ("%s-n%u%s", subject, n, m ? "" : "-cpu");
      g_autofree char *ro = g_strdup_printf ("%s-n%u%s", reference, n, m ? "" : "-cpu");
      Series *ss = row_find_series (row, s), *rs = row_find_series (row, r);
      double ratio = ratio_of (ss, rs);
      double other = ratio_of (row_find_series (row, so), row_find_series (row, ro));
      double low = NAN, high = NAN;

      row_target_ratio (row, text, s, r, TRUE, limit);
      if (isnan (ratio) || ratio <= limit)
        continue;
      series_ratio_spread (ss, rs, &low, &high);
      row_target_why (row, "%s %.2f×, rounds' ratios %.2f–%.2f (p10–p90)%s; its %s is %.2f× "
                      "%s's: %s", measures[m], ratio, low, high,
                      low <= limit ? ", the target inside that spread" : "",
                      measures[1 - m], other, reference_label,
                      m == 0 && other <= limit
                      ? "the time goes to waiting for wake-ups and CPUs (N processes on a "
                        "loaded machine), not to work of ours"
                      : other > limit ? "over too, so some of the extra is work of ours"
                                      : "the extra CPU is work of ours");
    }
}

/* Event ring ---------------------------------------------------------------------- */

typedef struct
{
  PsEvent *events[MAX_PROCESSES];
} EventRing;

typedef struct
{
  sem_t *sems[MAX_PROCESSES];
} SemRing;

static void
event_wait_or_die (PsEvent *event)
{
  if (G_UNLIKELY (!ps_event_wait (event, PS_TIMEOUT_INFINITE, NULL, NULL)))
    die ("ps_event_wait failed");
}

static void
sem_wait_or_die (sem_t *sem)
{
  while (sem_wait (sem) != 0)
    if (errno != EINTR)
      die ("sem_wait failed");
}

/* Process i waits on its event and sets the next one's; process 0 sets
 * first. A round is the token once around the ring. */
static void
loop_event_ring (gpointer data,
                 guint    index,
                 guint    n,
                 guint64  iterations)
{
  EventRing *ring = data;
  PsEvent *own = ring->events[index], *next = ring->events[(index + 1) % n];

  for (guint64 i = 0; i < iterations; i++)
    {
      if (index == 0)
        {
          ps_event_set (next);
          event_wait_or_die (own);
        }
      else
        {
          event_wait_or_die (own);
          ps_event_set (next);
        }
    }
}

static void
loop_sem_ring (gpointer data,
               guint    index,
               guint    n,
               guint64  iterations)
{
  SemRing *ring = data;
  sem_t *own = ring->sems[index], *next = ring->sems[(index + 1) % n];

  for (guint64 i = 0; i < iterations; i++)
    {
      if (index == 0)
        {
          check_zero (sem_post (next), "sem_post");
          sem_wait_or_die (own);
        }
      else
        {
          sem_wait_or_die (own);
          check_zero (sem_post (next), "sem_post");
        }
    }
}

static PsEvent *
row_event_new (gboolean auto_reset)
{
  g_autoptr(GError) error = NULL;
  PsEvent *event = ps_event_new (auto_reset, &error);

  check_error (event != NULL, error, "ps_event_new");
  return defer_unref (event);
}

static sem_t *
row_sem_new (void)
{
  sem_t *sem = shared_alloc (sizeof (sem_t));

  check_zero (sem_init (sem, 1, 0), "sem_init");
  return sem;
}

static void
setup_event_ring (Row    *row,
                  GArray *contestants)
{
  row_set_placement (row, "N processes, N - 1 of them forked per batch, unpinned; a "
                     "sleeping start gate");
  for (guint i = 0; i < G_N_ELEMENTS (process_counts); i++)
    {
      guint n = process_counts[i];
      EventRing *events = defer_free (g_new0 (EventRing, 1));
      SemRing *sems = defer_free (g_new0 (SemRing, 1));
      Entrant entrants[] = {
        { "ps-event", "PsEvent ring (auto-reset)", KIND_PROCSHARED, loop_event_ring, events },
        { "sem-t", "pshared sem_t ring", KIND_BASELINE, loop_sem_ring, sems },
      };

      for (guint k = 0; k < n; k++)
        {
          events->events[k] = row_event_new (TRUE);
          sems->sems[k] = row_sem_new ();
        }
      add_groups (row, contestants, n, entrants, G_N_ELEMENTS (entrants));
    }
}

static void
finish_event_ring (Row *row)
{
  row_note (row, "a round: the token once around the ring of N processes, N set→wake-ups; "
            "wall: µs per round as the first process times it; CPU: µs of CPU time per "
            "round of all N processes");
  for (guint i = 0; i < G_N_ELEMENTS (process_counts); i++)
    group_targets (row, process_counts[i], "PsEvent set→wake", "ps-event", "sem-t",
                   "sem_t", 1.1);
}

const RowDef ps_bench_row_event_ping_pong = {
  "event-ping-pong", "Event set→wake-up around a ring of N processes", "µs/round",
  FALSE, ROW_LOCAL, 11, 2, 500, setup_event_ring, finish_event_ring, NULL
};

/* Event broadcast --------------------------------------------------------------- */

/* The usual event of C programs: a flag under a pshared mutex, and a
 * pshared condition broadcast when it is set. */
typedef struct
{
  pthread_mutex_t *mutex;
  pthread_cond_t  *cond;
  gint            *flag;
} PthreadEvent;

typedef struct
{
  gpointer  go[2];        /* PsEvent or PthreadEvent: round r sets go[r % 2] */
  gint     *registered;   /* waiters that arrived at a round, all rounds together */
  gboolean  ps;
} Broadcast;

static void
broadcast_set (Broadcast *b,
               gpointer   event,
               gboolean   set)
{
  PthreadEvent *e = event;

  if (b->ps)
    {
      if (set)
        ps_event_set (event);
      else
        ps_event_reset (event);
      return;
    }
  check_zero (pthread_mutex_lock (e->mutex), "pthread_mutex_lock");
  *e->flag = set;
  if (set)
    check_zero (pthread_cond_broadcast (e->cond), "pthread_cond_broadcast");
  check_zero (pthread_mutex_unlock (e->mutex), "pthread_mutex_unlock");
}

static void
broadcast_wait (Broadcast *b,
                gpointer   event)
{
  PthreadEvent *e = event;

  if (b->ps)
    {
      event_wait_or_die (event);
      return;
    }
  check_zero (pthread_mutex_lock (e->mutex), "pthread_mutex_lock");
  while (!*e->flag)
    check_zero (pthread_cond_wait (e->cond, e->mutex), "pthread_cond_wait");
  check_zero (pthread_mutex_unlock (e->mutex), "pthread_mutex_unlock");
}

/* Process 0 sets round r's event once the N - 1 others wait for it (and
 * clears the previous round's, which all of them left); a round ends when
 * all are back waiting for the next. */
static void
loop_broadcast (gpointer data,
                guint    index,
                guint    n,
                guint64  iterations)
{
  Broadcast *b = data;
  gint waiters = (gint) n - 1;

  for (guint64 r = 0; r <= iterations; r++)
    {
      gint expected = (gint) (r + 1) * waiters;
      gint seen;

      if (index != 0)
        {
          if (g_atomic_int_add (b->registered, 1) + 1 == expected)
            word_wake (b->registered);
          if (r < iterations)
            broadcast_wait (b, b->go[r % 2]);
          continue;
        }
      while ((seen = g_atomic_int_get (b->registered)) < expected)
        word_wait (b->registered, seen);
      if (r == iterations)
        {
          /* Every waiter is gone: the next batch starts from scratch. */
          broadcast_set (b, b->go[0], FALSE);
          broadcast_set (b, b->go[1], FALSE);
          g_atomic_int_set (b->registered, 0);
          break;
        }
      broadcast_set (b, b->go[(r + 1) % 2], FALSE);
      broadcast_set (b, b->go[r % 2], TRUE);
    }
}

static PthreadEvent *
row_pthread_event_new (void)
{
  PthreadEvent *e = defer_free (g_new0 (PthreadEvent, 1));

  e->mutex = row_pthread_mutex_new (FALSE);
  e->cond = row_pthread_cond_new ();
  e->flag = shared_alloc (sizeof (gint));
  return e;
}

static void
setup_event_broadcast (Row    *row,
                       GArray *contestants)
{
  row_set_placement (row, "one setting process and N - 1 waiting processes forked per "
                     "batch, unpinned; a sleeping start gate");
  for (guint i = 0; i < G_N_ELEMENTS (process_counts); i++)
    {
      guint n = process_counts[i];
      Broadcast *ps = defer_free (g_new0 (Broadcast, 1));
      Broadcast *posix = defer_free (g_new0 (Broadcast, 1));
      Entrant entrants[] = {
        { "ps-event", "PsEvent (manual-reset)", KIND_PROCSHARED, loop_broadcast, ps },
        { "pthread-event", "pshared mutex+cond+flag", KIND_BASELINE, loop_broadcast, posix },
      };

      ps->ps = TRUE;
      for (guint k = 0; k < 2; k++)
        {
          ps->go[k] = row_event_new (FALSE);
          posix->go[k] = row_pthread_event_new ();
        }
      ps->registered = shared_alloc (sizeof (gint));
      posix->registered = shared_alloc (sizeof (gint));
      add_groups (row, contestants, n, entrants, G_N_ELEMENTS (entrants));
    }
}

static void
finish_event_broadcast (Row *row)
{
  row_note (row, "a round: the event set, its N - 1 waiters woken, and all of them back "
            "at the next round (told to the setter through a futex word, the same for "
            "both); wall: µs per round as the setter times it; CPU: µs of CPU time per "
            "round of all N processes");
  for (guint i = 0; i < G_N_ELEMENTS (process_counts); i++)
    group_targets (row, process_counts[i], "PsEvent broadcast", "ps-event", "pthread-event",
                   "mutex+cond", 1.1);
}

const RowDef ps_bench_row_event_broadcast = {
  "event-broadcast", "Manual-reset event set→wake-up of N - 1 waiting processes", "µs/round",
  FALSE, ROW_LOCAL, 11, 2, 300, setup_event_broadcast, finish_event_broadcast, NULL
};

/* Barrier round --------------------------------------------------------------- */

static void
loop_ps_barrier (gpointer data,
                 guint    index,
                 guint    n,
                 guint64  iterations)
{
  for (guint64 i = 0; i < iterations; i++)
    if (G_UNLIKELY (ps_barrier_wait (data, PS_TIMEOUT_INFINITE, NULL, NULL) < 0))
      die ("ps_barrier_wait failed");
}

static void
loop_pthread_barrier (gpointer data,
                      guint    index,
                      guint    n,
                      guint64  iterations)
{
  for (guint64 i = 0; i < iterations; i++)
    {
      int r = pthread_barrier_wait (data);

      if (G_UNLIKELY (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD))
        die ("pthread_barrier_wait failed");
    }
}

static void
destroy_pthread_barrier (gpointer barrier)
{
  pthread_barrier_destroy (barrier);
}

static void
setup_barrier_round (Row    *row,
                     GArray *contestants)
{
  row_set_placement (row, "N parties, N - 1 of them forked per batch, unpinned; a "
                     "sleeping start gate");
  for (guint i = 0; i < G_N_ELEMENTS (process_counts); i++)
    {
      guint n = process_counts[i];
      g_autoptr(GError) error = NULL;
      PsBarrier *barrier = ps_barrier_new (n, &error);
      pthread_barrier_t *baseline = shared_alloc (sizeof (pthread_barrier_t));
      pthread_barrierattr_t attr;
      Entrant entrants[] = {
        { "ps-barrier", "PsBarrier", KIND_PROCSHARED, loop_ps_barrier, barrier },
        { "pthread-barrier", "pshared pthread_barrier_t", KIND_BASELINE,
          loop_pthread_barrier, baseline },
      };

      check_error (barrier != NULL, error, "ps_barrier_new");
      defer_unref (barrier);
      check_zero (pthread_barrierattr_init (&attr), "pthread_barrierattr_init");
      check_zero (pthread_barrierattr_setpshared (&attr, PTHREAD_PROCESS_SHARED), "setpshared");
      check_zero (pthread_barrier_init (baseline, &attr, n), "pthread_barrier_init");
      pthread_barrierattr_destroy (&attr);
      defer (destroy_pthread_barrier, baseline);
      add_groups (row, contestants, n, entrants, G_N_ELEMENTS (entrants));
    }
}

static void
finish_barrier_round (Row *row)
{
  row_note (row, "wall: µs per round as the first party times it; CPU: µs of CPU time per "
            "round of all N parties");
  row_note (row, "in a round where a party sleeps, the last arrival reads each sleeping "
            "party's death mark (a word the kernel changes if its thread dies) before it "
            "ends the round, with no system call on the futex backend (one getpgid per "
            "sleeping party on the others); with 3 parties or more, every sleeper sleeps "
            "with a 50 ms timer to look at the others (the kernel wakes only one sleeper "
            "of a dead thread's mark, which may be dying too), a timer armed and "
            "cancelled per sleep that pthread_barrier_t does not need; a round where all "
            "meet while polling makes no system call");
  for (guint i = 0; i < G_N_ELEMENTS (process_counts); i++)
    group_targets (row, process_counts[i], "PsBarrier round", "ps-barrier", "pthread-barrier",
                   "pthread_barrier_t", 1.1);
}

const RowDef ps_bench_row_barrier_round = {
  "barrier-round", "Barrier round of N processes", "µs/round",
  FALSE, ROW_LOCAL, 11, 2, 500, setup_barrier_round, finish_barrier_round, NULL
};
