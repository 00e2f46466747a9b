/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The PsCond row of ps-bench: a mutex+condition handshake between two
 * processes.
 */

#include "ps-bench.h"

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

pthread_cond_t *
row_pthread_cond_new (void)
{
  pthread_cond_t *cond = shared_alloc (sizeof *cond);

  init_pthread_cond (cond);
  return cond;
}

static PosixHandshake *
posix_handshake_new (gboolean robust)
{
  PosixHandshake *h = defer_free (g_new0 (PosixHandshake, 1));

  h->mutex = row_pthread_mutex_new (robust);
  h->cond = row_pthread_cond_new ();
  h->turn = shared_alloc (sizeof *h->turn);
  return h;
}

static void
setup_handshake (Row    *row,
                 GArray *contestants)
{
  g_autoptr(GError) error = NULL;
  PsHandshake *ps = defer_free (g_new0 (PsHandshake, 1));

  ps->mutex = row_ps_mutex_new (FALSE);
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

const RowDef ps_bench_row_cond_handshake = {
  "cond-handshake", "Mutex+condition handshake between two processes", "µs/round trip",
  FALSE, ROW_PAIR, 31, 3, 1000, setup_handshake, finish_handshake, NULL
};
