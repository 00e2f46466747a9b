/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsRWLock under load: exactness with 8 processes mixing readers and
 * writers (a reader never sees a torn pair, no increment is lost), a
 * crash storm of readers and writers SIGKILLed at random points (no hang,
 * OWNER_DEAD at most once per dead writer and always for one killed while
 * it wrote, shares of dead readers reclaimed), and timeouts and
 * cancellations racing with a writer (nothing held afterwards).
 */

#include <sys/mman.h>

#include "ps-rw-lock-private.h"
#include "stress-util.h"

#define N_PROCS   8
#define LOCK_US   (ps_test_scaled_us (30 * G_USEC_PER_SEC))

/* What the processes share, after the lock, in one anonymous segment. */
typedef struct
{
  gint64 a;
  gint64 b;            /* a writer sets a, then b: equal outside a write */
  gint   writing_pid;  /* set by a writer while it holds the lock */
  gint   write_pause_us; /* how long a writer leaves the pair torn */
  gint   reports;      /* OWNER_DEADs seen */
  gint   reported[64]; /* the dead pids they named */
  StressFailures failures;
} Shared;

static Shared *
shared_new (void)
{
  Shared *shared = mmap (NULL, sizeof (Shared), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  g_assert_true (shared != MAP_FAILED);
  return shared;
}

/* After OWNER_DEAD: note the dead pid, repair the pair, go on holding
 * the lock for writing. */
static void
recover (PsRWLock *lock,
         Shared   *shared,
         GError   *error)
{
  const char *found = strstr (error->message, "process ");
  gint index = g_atomic_int_add (&shared->reports, 1);

  if (index < (gint) G_N_ELEMENTS (shared->reported))
    shared->reported[index] = found != NULL ? atoi (found + 8) : -1;
  shared->b = shared->a;
  if (!ps_rw_lock_mark_consistent (lock, NULL))
    stress_fail (&shared->failures, "mark_consistent failed");
}

static gboolean
write_once (PsRWLock *lock,
            Shared   *shared)
{
  g_autoptr(GError) error = NULL;

  if (!ps_rw_lock_write_lock (lock, LOCK_US, NULL, &error))
    {
      if (!g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
        {
          stress_fail (&shared->failures, "write_lock: %s", error->message);
          return FALSE;
        }
      recover (lock, shared, error);
    }
  g_atomic_int_set (&shared->writing_pid, getpid ());
  shared->a++;
  if (shared->write_pause_us > 0)
    g_usleep (shared->write_pause_us);
  shared->b = shared->a;
  g_atomic_int_set (&shared->writing_pid, 0);
  return ps_rw_lock_write_unlock (lock, NULL);
}

static gboolean
read_once (PsRWLock *lock,
           Shared   *shared)
{
  g_autoptr(GError) error = NULL;
  gboolean torn;

  if (!ps_rw_lock_read_lock (lock, LOCK_US, NULL, &error))
    {
      if (!g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
        {
          stress_fail (&shared->failures, "read_lock: %s", error->message);
          return FALSE;
        }
      recover (lock, shared, error);
      return ps_rw_lock_write_unlock (lock, NULL);
    }
  torn = shared->a != shared->b;
  if (!ps_rw_lock_read_unlock (lock, NULL) || torn)
    {
      stress_fail (&shared->failures, "torn pair or failed read_unlock");
      return FALSE;
    }
  return TRUE;
}

/* Exactness ---------------------------------------------------------------- */

typedef struct
{
  PsRWLock *lock;
  Shared   *shared;
  guint     rounds;
  guint     writes_every;   /* 1 in N operations writes */
} Worker;

static int
worker_main (gpointer data)
{
  Worker *worker = data;

  stress_die_with_parent ();
  for (guint i = 0; i < worker->rounds; i++)
    {
      gboolean ok = (i % worker->writes_every == 0) ? write_once (worker->lock, worker->shared)
                                                    : read_once (worker->lock, worker->shared);
      if (!ok)
        return 1;
    }
  return 0;
}

static void
test_exactness (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  Shared *shared = shared_new ();
  guint rounds = stress_is_slow () ? 500 : 5000;
  pid_t pids[N_PROCS];
  gint64 writes = 0;

  for (guint p = 0; p < N_PROCS; p++)
    {
      /* Half mostly readers, half mostly writers. */
      Worker worker = { lock, shared, rounds, p % 2 == 0 ? 10 : 2 };

      writes += (rounds + worker.writes_every - 1) / worker.writes_every;
      pids[p] = ps_test_fork (worker_main, &worker, ps_test_scaled_s (300));
    }
  for (guint p = 0; p < N_PROCS; p++)
    ps_test_reap (pids[p], ps_test_scaled_s (300));
  if (shared->failures.count > 0)
    g_error ("%d failures, the first: %s", shared->failures.count, shared->failures.first);
  g_assert_cmpint (shared->a, ==, writes);
  g_assert_cmpint (shared->b, ==, writes);
  g_assert_cmpint (shared->reports, ==, 0);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
  munmap (shared, sizeof *shared);
}

/* Crash storm --------------------------------------------------------------- */

static int
storm_worker (gpointer data)
{
  Worker *worker = data;

  stress_die_with_parent ();
  g_random_set_seed (getpid ());
  /* Bounded by the parent's SIGKILL, or its watchdog. */
  for (guint i = 0; i < G_MAXUINT; i++)
    if (!(g_random_int_range (0, 3) == 0 ? write_once (worker->lock, worker->shared)
                                         : read_once (worker->lock, worker->shared)))
      return 1;
  return 0;
}

static void
test_crash_storm (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;
  Shared *shared = shared_new ();
  guint kills = stress_is_slow () ? 20 : 150;
  pid_t pids[N_PROCS];
  GHashTable *killed_writing = g_hash_table_new (NULL, NULL);
  GHashTable *killed = g_hash_table_new (NULL, NULL);

  /* Writers that linger, so that some are killed with the pair torn. */
  shared->write_pause_us = 300;
  for (guint p = 0; p < N_PROCS; p++)
    {
      Worker worker = { lock, shared, 0, 0 };

      pids[p] = ps_test_fork (storm_worker, &worker, ps_test_scaled_s (300));
    }
  for (guint k = 0; k < kills; k++)
    {
      guint victim = g_random_int_range (0, N_PROCS);
      Worker worker = { lock, shared, 0, 0 };
      gint writing;
      int status;

      g_usleep (g_random_int_range (100, 3000));
      /* Stopped first, so that what it was doing is known when it dies. */
      g_assert_cmpint (kill (pids[victim], SIGSTOP), ==, 0);
      g_assert_cmpint (waitpid (pids[victim], &status, WUNTRACED), ==, pids[victim]);
      g_assert_true (WIFSTOPPED (status));
      writing = g_atomic_int_get (&shared->writing_pid);
      g_assert_cmpint (kill (pids[victim], SIGKILL), ==, 0);
      ps_test_reap (pids[victim], ps_test_scaled_s (20));
      g_hash_table_add (killed, GINT_TO_POINTER (pids[victim]));
      if (writing == pids[victim])
        g_hash_table_add (killed_writing, GINT_TO_POINTER (pids[victim]));
      pids[victim] = ps_test_fork (storm_worker, &worker, ps_test_scaled_s (300));
    }
  for (guint p = 0; p < N_PROCS; p++)
    {
      kill (pids[p], SIGKILL);
      ps_test_reap (pids[p], ps_test_scaled_s (20));
      g_hash_table_add (killed, GINT_TO_POINTER (pids[p]));
    }
  if (shared->failures.count > 0)
    g_error ("%d failures, the first: %s", shared->failures.count, shared->failures.first);

  /* Whatever the last ones left: usable within the bound. */
  if (!ps_rw_lock_write_lock (lock, LOCK_US, NULL, &error))
    {
      g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
      recover (lock, shared, error);
      g_clear_error (&error);
    }
  g_assert_cmpint (shared->a, ==, shared->b);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));

  /* Every report that names a process names a killed one, none twice (at most once per
   * death), and a process killed while it wrote was reported (a reporter
   * killed before it noted its report passes the death on under its own
   * pid, so this asks for a report, not that very pid). */
  {
    g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
    gint reports = MIN (shared->reports, (gint) G_N_ELEMENTS (shared->reported));

    for (gint i = 0; i < reports; i++)
      {
        gpointer pid = GINT_TO_POINTER (shared->reported[i]);

        /* A holder killed between taking the lock and noting its pid
         * is reported without one. */
        if (shared->reported[i] == -1)
          continue;
        if (!g_hash_table_contains (killed, pid))
          g_error ("report %d names pid %d, which was not killed", i, shared->reported[i]);
        g_assert_false (g_hash_table_contains (seen, pid));
        g_hash_table_add (seen, pid);
      }
    if (g_hash_table_size (killed_writing) > 0)
      g_assert_cmpint (shared->reports, >, 0);
    g_test_message ("%u kills, %u while writing, %d OWNER_DEAD reports", kills,
                    g_hash_table_size (killed_writing), shared->reports);
  }
  g_hash_table_unref (killed_writing);
  g_hash_table_unref (killed);
  munmap (shared, sizeof *shared);
}

/* Timeouts and cancellations racing with a writer ------------------------------ */

typedef struct
{
  PsRWLock *lock;
  gint      stop;
  gint      done;
} Race;

static gpointer
race_thread (gpointer data)
{
  Race *race = data;

  for (guint i = 0; i < 2000 && !g_atomic_int_get (&race->stop); i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      gboolean write = g_random_boolean ();
      gboolean ok;

      if (g_random_boolean ())
        g_cancellable_cancel (cancellable);
      if (write)
        ok = ps_rw_lock_write_lock (race->lock, g_random_int_range (0, 200), cancellable, &error);
      else
        ok = ps_rw_lock_read_lock (race->lock, g_random_int_range (0, 200), cancellable, &error);
      if (ok)
        g_assert_true (write ? ps_rw_lock_write_unlock (race->lock, NULL)
                             : ps_rw_lock_read_unlock (race->lock, NULL));
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) &&
               !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) &&
               !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_error ("unexpected: %s", error->message);
    }
  g_atomic_int_inc (&race->done);
  return NULL;
}

static void
test_timeout_cancel_races (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  Race race = { lock, 0, 0 };
  GThread *threads[6];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("race", race_thread, &race);
  /* A writer holding it in short bursts meanwhile. */
  for (guint i = 0; i < 500 && g_atomic_int_get (&race.done) < (gint) G_N_ELEMENTS (threads); i++)
    {
      if (ps_rw_lock_write_lock (lock, 1000, NULL, NULL))
        {
          g_usleep (100);
          g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
        }
      g_usleep (100);
    }
  g_atomic_int_set (&race.stop, 1);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  /* Nothing held, nothing shut: every aborted wait gave back what it had. */
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
  g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, 0);
  g_assert_true (ps_rw_lock_try_write_lock (lock, NULL));
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
  g_assert_true (ps_rw_lock_try_read_lock (lock, NULL));
  g_assert_true (ps_rw_lock_read_unlock (lock, NULL));
}

int
main (int    argc,
      char **argv)
{
  stress_init (&argc, &argv, NULL);

  ps_test_add_timed ("/rw-lock-stress/exactness", test_exactness, 300);
  ps_test_add_timed ("/rw-lock-stress/crash-storm", test_crash_storm, 300);
  ps_test_add_timed ("/rw-lock-stress/timeout-cancel-races", test_timeout_cancel_races, 120);

  return g_test_run ();
}
