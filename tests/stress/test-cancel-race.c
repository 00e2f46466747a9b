/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Cancellation and timeout races. For each primitive (PsSemaphore, its
 * async acquire, PsMutex, PsCond, and PsRWLock's async read and write
 * locks), 2,000 waits are made by 4 threads
 * while 2 other threads and 2 other processes keep acquiring and
 * releasing (locking and unlocking, signalling) the same object. Each
 * wait is either cancelled by a companion thread after a random delay of
 * 0-1 ms, or given a random timeout of 0-1 ms. Then:
 *
 *  - every wait returns acquired, or fails with exactly CANCELLED (or
 *    TIMED_OUT, or WOULD_BLOCK for a timeout of 0), and does so within a
 *    generous bound after its cancellation or deadline;
 *  - a timed-out wait never returns before its deadline;
 *  - the outcome is true: a mutex is held exactly when lock() said so,
 *    a condition wait holds the mutex again on every return;
 *  - afterwards the semaphore count is exactly what it was, the mutex is
 *    free, no condition waiter is left, and every participant finished
 *    (so none was left asleep).
 */

#include <sched.h>

#include "cancel-race.h"
#include "ps-cond-private.h"

#define N_SUBJECTS        4
#define N_WAITS           500      /* per subject thread: 2,000 in all */
#define N_WAITS_SLOW      100
#define N_CHURN_THREADS   2
#define N_CHURN_PROCS     2
#define SEM_UNITS         2

typedef struct
{
  Race    *race;
  guint32  seed;
} ChurnArgs;

/* Here, beside stress_init(): stress_die_with_parent() needs the test
 * process it recorded (stress-util.h keeps it per file). */
static gpointer
churn_thread (gpointer data)
{
  ChurnArgs *args = data;

  churn_loop (args->race, args->seed);
  return NULL;
}

static int
churn_child (gpointer data)
{
  ChurnArgs *args = data;

  stress_die_with_parent ();
  churn_loop (args->race, args->seed);
  return 0;
}

static void
test_race (gconstpointer data)
{
  const RaceCase *race_case = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  g_autoptr(PsRWLock) rw_lock = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  RaceShared *shared = ps_test_shared_new (sizeof (RaceShared), &memory);
  Race race;
  ChurnArgs churn_args[N_CHURN_THREADS + N_CHURN_PROCS];
  GThread *churn_threads[N_CHURN_THREADS];
  pid_t churn_pids[N_CHURN_PROCS];
  Subject subjects[N_SUBJECTS] = { { 0 } };
  GThread *subject_threads[N_SUBJECTS];
  guint acquired = 0, cancelled = 0, timed_out = 0, would_block = 0;
  gint64 max_late = 0;
  gint64 start = g_get_monotonic_time ();

  semaphore = ps_semaphore_new_bounded (SEM_UNITS, SEM_UNITS, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_new (&error);
  g_assert_no_error (error);
  cond = ps_cond_new (&error);
  g_assert_no_error (error);
  race = (Race) { race_case, shared, semaphore, mutex, cond };
  rw_lock = ps_rw_lock_new (&error);
  g_assert_no_error (error);
  race.rw_lock = rw_lock;

  for (guint i = 0; i < N_CHURN_THREADS + N_CHURN_PROCS; i++)
    churn_args[i] = (ChurnArgs) { &race, g_rand_int (rand) };
  for (guint i = 0; i < N_CHURN_PROCS; i++)
    churn_pids[i] = ps_test_fork (churn_child, &churn_args[N_CHURN_THREADS + i],
                                  ps_test_scaled_s (200));
  for (guint i = 0; i < N_CHURN_THREADS; i++)
    churn_threads[i] = g_thread_new ("churn", churn_thread, &churn_args[i]);

  for (guint i = 0; i < N_SUBJECTS; i++)
    {
      Subject *subject = &subjects[i];

      subject->race = &race;
      subject->seed = g_rand_int (rand);
      subject->n_waits = stress_is_slow () ? N_WAITS_SLOW : N_WAITS;
      subject->requests = g_async_queue_new ();
      subject->fired = g_async_queue_new ();
      subject->companion = g_thread_new ("companion", companion_thread, subject);
      subject_threads[i] = g_thread_new ("subject", subject_thread, subject);
    }

  for (guint i = 0; i < N_SUBJECTS; i++)
    {
      Subject *subject = &subjects[i];
      CancelRequest *last = g_new0 (CancelRequest, 1);

      g_thread_join (subject_threads[i]);
      g_async_queue_push (subject->requests, last);
      g_thread_join (subject->companion);
      g_async_queue_unref (subject->requests);
      g_async_queue_unref (subject->fired);

      acquired += subject->acquired;
      cancelled += subject->cancelled;
      timed_out += subject->timed_out;
      would_block += subject->would_block;
      max_late = MAX (max_late, subject->max_late_us);
    }

  /* Every participant must finish: one left asleep would hang here (and
   * be killed by its watchdog, failing the test). */
  g_atomic_int_set (&shared->stop, 1);
  for (guint i = 0; i < N_CHURN_THREADS; i++)
    g_thread_join (churn_threads[i]);
  for (guint i = 0; i < N_CHURN_PROCS; i++)
    ps_test_reap_ok (churn_pids[i], ps_test_scaled_s (60));

  g_test_message ("%u waits in %.1f s: %u acquired, %u cancelled, %u timed out, "
                  "%u would block; latest return %" G_GINT64_FORMAT " us past its limit; "
                  "%d churn operations",
                  acquired + cancelled + timed_out + would_block,
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC,
                  acquired, cancelled, timed_out, would_block, max_late, shared->churn_ops);
  if (shared->failures.count != 0)
    g_error ("%d failures; the first: %s", shared->failures.count, shared->failures.first);

  g_assert_cmpuint (acquired + cancelled + timed_out + would_block, ==,
                    N_SUBJECTS * subjects[0].n_waits);
  /* Both outcomes happened, so the race was run, not just one side. */
  g_assert_cmpuint (acquired, >, 0);
  g_assert_cmpuint (cancelled + timed_out + would_block, >, 0);

  /* Left exactly as found. */
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, SEM_UNITS);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  g_assert_cmpint (shared->holder, ==, 0);
  g_assert_true (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ps_cond_get_waiter_count (cond), ==, 0);
  g_assert_cmpint (shared->readers, ==, 0);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (rw_lock), ==, 0);
  g_assert_cmpint (ps_rw_lock_get_writer_pid (rw_lock), ==, 0);
  g_assert_true (ps_rw_lock_try_write_lock (rw_lock, &error));
  g_assert_no_error (error);
  g_assert_true (ps_rw_lock_write_unlock (rw_lock, &error));
  g_assert_no_error (error);
}

int
main (int argc, char *argv[])
{
  static const struct { const char *path; RaceCase race; } cases[] = {
    { "/stress/cancel-race/semaphore/cancel", { PRIM_SEMAPHORE, END_CANCEL } },
    { "/stress/cancel-race/semaphore/timeout", { PRIM_SEMAPHORE, END_TIMEOUT } },
    { "/stress/cancel-race/semaphore-async/cancel", { PRIM_SEMAPHORE_ASYNC, END_CANCEL } },
    { "/stress/cancel-race/semaphore-async/timeout", { PRIM_SEMAPHORE_ASYNC, END_TIMEOUT } },
    { "/stress/cancel-race/mutex/cancel", { PRIM_MUTEX, END_CANCEL } },
    { "/stress/cancel-race/mutex/timeout", { PRIM_MUTEX, END_TIMEOUT } },
    { "/stress/cancel-race/cond/cancel", { PRIM_COND, END_CANCEL } },
    { "/stress/cancel-race/cond/timeout", { PRIM_COND, END_TIMEOUT } },
    { "/stress/cancel-race/mutex-async/cancel", { PRIM_MUTEX_ASYNC, END_CANCEL } },
    { "/stress/cancel-race/mutex-async/timeout", { PRIM_MUTEX_ASYNC, END_TIMEOUT } },
    { "/stress/cancel-race/cond-async/cancel", { PRIM_COND_ASYNC, END_CANCEL } },
    { "/stress/cancel-race/cond-async/timeout", { PRIM_COND_ASYNC, END_TIMEOUT } },
    { "/stress/cancel-race/rw-lock-read-async/cancel", { PRIM_RW_READ_ASYNC, END_CANCEL } },
    { "/stress/cancel-race/rw-lock-read-async/timeout", { PRIM_RW_READ_ASYNC, END_TIMEOUT } },
    { "/stress/cancel-race/rw-lock-write-async/cancel", { PRIM_RW_WRITE_ASYNC, END_CANCEL } },
    { "/stress/cancel-race/rw-lock-write-async/timeout", { PRIM_RW_WRITE_ASYNC, END_TIMEOUT } },
  };

  stress_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    ps_test_add_full (cases[i].path, test_race, &cases[i].race, 120);
  ps_test_add_timed ("/stress/cancel-race/semaphore-async/tiny-timeouts",
                     test_async_tiny_timeouts, 150);
  ps_test_add_full ("/stress/cancel-race/event-async/cancel", test_event_barrier_async_race,
                    GINT_TO_POINTER (FALSE), 120);
  ps_test_add_full ("/stress/cancel-race/barrier-async/cancel", test_event_barrier_async_race,
                    GINT_TO_POINTER (TRUE), 120);

  return g_test_run ();
}
