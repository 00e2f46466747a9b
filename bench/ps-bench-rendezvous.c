/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The PsEvent and PsBarrier rows of ps-bench: an event set→wake-up
 * ping-pong between two processes (two auto-reset events, against two
 * pshared sem_t, the usual C stand-in for an auto-reset event), and a
 * barrier round of two processes (against a pshared pthread_barrier_t).
 */

#include <semaphore.h>

#include "ps-bench.h"

/* Event ping-pong ----------------------------------------------------------- */

typedef struct
{
  PsEvent *ping;
  PsEvent *pong;
} EventPair;

typedef struct
{
  sem_t *ping;
  sem_t *pong;
} SemPair;

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

static double
run_events (gpointer data,
            guint64  iterations)
{
  EventPair *pair = data;
  gint64 start = now_ns ();

  for (guint64 i = 0; i < iterations; i++)
    {
      ps_event_set (pair->ping);
      event_wait_or_die (pair->pong);
    }
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_events (gpointer data,
             guint64  iterations)
{
  EventPair *pair = data;

  for (guint64 i = 0; i < iterations; i++)
    {
      event_wait_or_die (pair->ping);
      ps_event_set (pair->pong);
    }
}

static double
run_sems (gpointer data,
          guint64  iterations)
{
  SemPair *pair = data;
  gint64 start = now_ns ();

  for (guint64 i = 0; i < iterations; i++)
    {
      check_zero (sem_post (pair->ping), "sem_post");
      sem_wait_or_die (pair->pong);
    }
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_sems (gpointer data,
           guint64  iterations)
{
  SemPair *pair = data;

  for (guint64 i = 0; i < iterations; i++)
    {
      sem_wait_or_die (pair->ping);
      check_zero (sem_post (pair->pong), "sem_post");
    }
}

static PsEvent *
row_event_new (void)
{
  g_autoptr(GError) error = NULL;
  PsEvent *event = ps_event_new (TRUE, &error);

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
setup_event_ping_pong (Row    *row,
                       GArray *contestants)
{
  EventPair *events = defer_free (g_new0 (EventPair, 1));
  SemPair *sems = defer_free (g_new0 (SemPair, 1));

  events->ping = row_event_new ();
  events->pong = row_event_new ();
  sems->ping = row_sem_new ();
  sems->pong = row_sem_new ();
  add_contestant (contestants,
                  row_add_series (row, "ps-event", "PsEvent pair (auto-reset)", KIND_PROCSHARED),
                  run_events, peer_events, events);
  add_contestant (contestants,
                  row_add_series (row, "sem-t", "pshared sem_t pair", KIND_BASELINE),
                  run_sems, peer_sems, sems);
}

static void
finish_event_ping_pong (Row *row)
{
  row_target_ratio (row, "PsEvent set→wake ≤ 1.1× sem_t", "ps-event", "sem-t", TRUE, 1.1);
}

const RowDef ps_bench_row_event_ping_pong = {
  "event-ping-pong", "Event set→wake-up ping-pong between two processes", "µs/round trip",
  FALSE, ROW_PAIR, 31, 3, 1000, setup_event_ping_pong, finish_event_ping_pong, NULL
};

/* Barrier round --------------------------------------------------------------- */

static double
run_ps_barrier (gpointer data,
                guint64  iterations)
{
  gint64 start = now_ns ();

  for (guint64 i = 0; i < iterations; i++)
    if (G_UNLIKELY (ps_barrier_wait (data, PS_TIMEOUT_INFINITE, NULL, NULL) < 0))
      die ("ps_barrier_wait failed");
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_ps_barrier (gpointer data,
                 guint64  iterations)
{
  for (guint64 i = 0; i < iterations; i++)
    if (G_UNLIKELY (ps_barrier_wait (data, PS_TIMEOUT_INFINITE, NULL, NULL) < 0))
      die ("ps_barrier_wait failed");
}

static double
run_pthread_barrier (gpointer data,
                     guint64  iterations)
{
  gint64 start = now_ns ();

  for (guint64 i = 0; i < iterations; i++)
    {
      int r = pthread_barrier_wait (data);

      if (G_UNLIKELY (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD))
        die ("pthread_barrier_wait failed");
    }
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_pthread_barrier (gpointer data,
                      guint64  iterations)
{
  run_pthread_barrier (data, iterations);
}

static void
setup_barrier_round (Row    *row,
                     GArray *contestants)
{
  g_autoptr(GError) error = NULL;
  PsBarrier *barrier = ps_barrier_new (2, &error);
  pthread_barrier_t *baseline = shared_alloc (sizeof (pthread_barrier_t));
  pthread_barrierattr_t attr;

  check_error (barrier != NULL, error, "ps_barrier_new");
  defer_unref (barrier);
  check_zero (pthread_barrierattr_init (&attr), "pthread_barrierattr_init");
  check_zero (pthread_barrierattr_setpshared (&attr, PTHREAD_PROCESS_SHARED), "setpshared");
  check_zero (pthread_barrier_init (baseline, &attr, 2), "pthread_barrier_init");
  pthread_barrierattr_destroy (&attr);

  add_contestant (contestants,
                  row_add_series (row, "ps-barrier", "PsBarrier (2 parties)", KIND_PROCSHARED),
                  run_ps_barrier, peer_ps_barrier, barrier);
  add_contestant (contestants,
                  row_add_series (row, "pthread-barrier", "pshared pthread_barrier_t",
                                  KIND_BASELINE),
                  run_pthread_barrier, peer_pthread_barrier, baseline);
}

static void
finish_barrier_round (Row *row)
{
  row_target_ratio (row, "PsBarrier round ≤ 1.1× pthread_barrier_t", "ps-barrier",
                    "pthread-barrier", TRUE, 1.1);
}

const RowDef ps_bench_row_barrier_round = {
  "barrier-round", "Barrier round of two processes", "µs/round",
  FALSE, ROW_PAIR, 31, 3, 1000, setup_barrier_round, finish_barrier_round, NULL
};
