/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The PsRWLock rows of ps-bench: uncontended read lock+unlock and write
 * lock+unlock, and the read throughput of 1 to 8 reader processes, beside
 * glibc's process-shared pthread_rwlock_t (which is not robust: a dead
 * reader blocks its writers for ever).
 */

#include <sys/wait.h>
#include <unistd.h>

#include "ps-bench.h"

static double
run_ps_read (gpointer data,
             guint64  iterations)
{
  PsRWLock *lock = data;
  gint64 start = now_ns ();

  for (guint64 i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (!ps_rw_lock_read_lock (lock, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_rw_lock_read_lock failed");
      if (G_UNLIKELY (!ps_rw_lock_read_unlock (lock, NULL)))
        die ("ps_rw_lock_read_unlock failed");
    }
  return ns_per_op_since (start, iterations);
}

static double
run_ps_write (gpointer data,
              guint64  iterations)
{
  PsRWLock *lock = data;
  gint64 start = now_ns ();

  for (guint64 i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (!ps_rw_lock_write_lock (lock, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_rw_lock_write_lock failed");
      if (G_UNLIKELY (!ps_rw_lock_write_unlock (lock, NULL)))
        die ("ps_rw_lock_write_unlock failed");
    }
  return ns_per_op_since (start, iterations);
}

static double
run_pthread_read (gpointer data,
                  guint64  iterations)
{
  pthread_rwlock_t *lock = data;
  gint64 start = now_ns ();

  for (guint64 i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (pthread_rwlock_rdlock (lock) != 0))
        die ("pthread_rwlock_rdlock failed");
      if (G_UNLIKELY (pthread_rwlock_unlock (lock) != 0))
        die ("pthread_rwlock_unlock failed");
    }
  return ns_per_op_since (start, iterations);
}

static double
run_pthread_write (gpointer data,
                   guint64  iterations)
{
  pthread_rwlock_t *lock = data;
  gint64 start = now_ns ();

  for (guint64 i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (pthread_rwlock_wrlock (lock) != 0))
        die ("pthread_rwlock_wrlock failed");
      if (G_UNLIKELY (pthread_rwlock_unlock (lock) != 0))
        die ("pthread_rwlock_unlock failed");
    }
  return ns_per_op_since (start, iterations);
}

static void
destroy_pthread_rwlock (gpointer data)
{
  pthread_rwlock_destroy (data);
}

/* A process-shared pthread_rwlock_t in shared memory, as long as the row. */
static pthread_rwlock_t *
row_pthread_rwlock_new (void)
{
  pthread_rwlock_t *lock = shared_alloc (sizeof *lock);
  pthread_rwlockattr_t attr;

  pthread_rwlockattr_init (&attr);
  pthread_rwlockattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  if (pthread_rwlock_init (lock, &attr) != 0)
    die ("pthread_rwlock_init failed");
  pthread_rwlockattr_destroy (&attr);
  defer (destroy_pthread_rwlock, lock);
  return lock;
}

static PsRWLock *
row_ps_rw_lock_new (void)
{
  g_autoptr(GError) error = NULL;
  PsRWLock *lock = ps_rw_lock_new (&error);

  check_error (lock != NULL, error, "ps_rw_lock_new");
  return defer_unref (lock);
}

static void
setup_rw (Row    *row,
          GArray *contestants)
{
  PsRWLock *lock = row_ps_rw_lock_new ();
  pthread_rwlock_t *baseline = row_pthread_rwlock_new ();

  add_contestant (contestants, row_add_series (row, "ps-rw-read", "PsRWLock read", KIND_PROCSHARED),
                  run_ps_read, NULL, lock);
  add_contestant (contestants, row_add_series (row, "ps-rw-write", "PsRWLock write",
                                               KIND_PROCSHARED),
                  run_ps_write, NULL, lock);
  add_contestant (contestants, row_add_series (row, "glibc-rw-read",
                                               "glibc pshared pthread_rwlock_t rdlock",
                                               KIND_BASELINE),
                  run_pthread_read, NULL, baseline);
  add_contestant (contestants, row_add_series (row, "glibc-rw-write",
                                               "glibc pshared pthread_rwlock_t wrlock",
                                               KIND_BASELINE),
                  run_pthread_write, NULL, baseline);
  /* What any share that outlives a dead holder costs at least: one
   * registration where the kernel finds it when its thread dies. */
  add_contestant (contestants, row_add_series (row, "glibc-robust-mutex",
                                               "glibc pshared robust mutex lock+unlock "
                                               "(a robust hold's floor)",
                                               KIND_BASELINE),
                  run_pthread_mutex, NULL, row_pthread_mutex_new (TRUE));
}

/* Why a PsRWLock share cannot cost what a pthread_rwlock_t one does,
 * with this run's numbers. */
static void
robust_floor_why (Row        *row,
                  const char *subject,
                  const char *reference)
{
  Series *ps = row_find_series (row, subject);
  Series *glibc = row_find_series (row, reference);
  Series *floor = row_find_series (row, "glibc-robust-mutex");

  if (ps == NULL || glibc == NULL || floor == NULL || glibc->median <= 0 || floor->median <= 0)
    return;
  row_target_why (row, "a share that survives its holder's death is registered where the "
                  "kernel looks when a thread dies (its robust list), and pthread_rwlock_t "
                  "keeps only a count, which is why a dead reader blocks its writers for "
                  "ever: glibc's own robust mutex lock+unlock costs %.2f× the rwlock's "
                  "here, so no share registered per lock can meet 1.3×; PsRWLock's costs "
                  "%.2f× that floor (its mark for writers and its per-thread record)",
                  floor->median / glibc->median, ps->median / floor->median);
}

static void
finish_rw (Row *row)
{
  row_target_ratio (row, "PsRWLock read ≤ 1.3× glibc pshared rwlock",
                    "ps-rw-read", "glibc-rw-read", TRUE, 1.3);
  robust_floor_why (row, "ps-rw-read", "glibc-rw-read");
  row_target_ratio (row, "PsRWLock write ≤ 1.3× glibc pshared rwlock",
                    "ps-rw-write", "glibc-rw-write", TRUE, 1.3);
  robust_floor_why (row, "ps-rw-write", "glibc-rw-write");
}

const RowDef ps_bench_row_rw_lock = {
  "rw-lock-unlock", "Uncontended reader-writer lock+unlock", "ns/op", FALSE, ROW_LOCAL,
  101, 3, 20000, setup_rw, finish_rw, NULL
};

/* Read throughput with N reader processes ------------------------------------ */

static const guint reader_counts[] = { 1, 2, 4, 8 };

/* Forks @n readers that each take and give back a share @iterations
 * times, released together; returns millions of shares per second. */
static double
readers_throughput (gboolean  ps,
                    gpointer  lock,
                    guint     n,
                    guint64   iterations)
{
  gint *go = shared_alloc (sizeof (gint));
  pid_t pids[8];
  gint64 start;

  for (guint p = 0; p < n; p++)
    {
      pids[p] = fork ();
      if (pids[p] < 0)
        die ("fork failed");
      if (pids[p] == 0)
        {
          while (!g_atomic_int_get (go))
            ;
          if (ps)
            run_ps_read (lock, iterations);
          else
            run_pthread_read (lock, iterations);
          _exit (0);
        }
    }
  start = now_ns ();
  g_atomic_int_set (go, 1);
  for (guint p = 0; p < n; p++)
    {
      int status;

      if (waitpid (pids[p], &status, 0) != pids[p] || !WIFEXITED (status) ||
          WEXITSTATUS (status) != 0)
        die ("a reader process failed");
    }
  return (double) n * (double) iterations * 1e3 / (double) (now_ns () - start);
}

static void
custom_readers (Row     *row,
                guint    rounds,
                guint64  iterations)
{
  PsRWLock *lock = row_ps_rw_lock_new ();
  pthread_rwlock_t *baseline = row_pthread_rwlock_new ();
  Series *ps[G_N_ELEMENTS (reader_counts)];
  Series *glibc[G_N_ELEMENTS (reader_counts)];

  for (guint c = 0; c < G_N_ELEMENTS (reader_counts); c++)
    {
      g_autofree char *ps_id = g_strdup_printf ("ps-readers-%u", reader_counts[c]);
      g_autofree char *ps_label = g_strdup_printf ("PsRWLock, N = %u readers",
                                                   reader_counts[c]);
      g_autofree char *glibc_id = g_strdup_printf ("glibc-readers-%u", reader_counts[c]);
      g_autofree char *glibc_label = g_strdup_printf ("glibc pthread_rwlock_t, N = %u readers",
                                                      reader_counts[c]);

      ps[c] = row_add_series (row, ps_id, ps_label, KIND_PROCSHARED);
      glibc[c] = row_add_series (row, glibc_id, glibc_label, KIND_BASELINE);
    }
  /* Interleaved, round by round, as the other rows. */
  for (guint r = 0; r < rounds; r++)
    for (guint c = 0; c < G_N_ELEMENTS (reader_counts); c++)
      {
        series_add (ps[c], readers_throughput (TRUE, lock, reader_counts[c], iterations));
        series_add (glibc[c], readers_throughput (FALSE, baseline, reader_counts[c], iterations));
      }
}

static void
finish_readers (Row *row)
{
  for (guint c = 0; c < G_N_ELEMENTS (reader_counts); c++)
    {
      g_autofree char *text = g_strdup_printf ("PsRWLock ≥ 1.0× glibc pthread_rwlock_t, N = %u readers",
                                               reader_counts[c]);
      g_autofree char *ps_id = g_strdup_printf ("ps-readers-%u", reader_counts[c]);
      g_autofree char *glibc_id = g_strdup_printf ("glibc-readers-%u", reader_counts[c]);

      row_target_ratio (row, text, ps_id, glibc_id, FALSE, 1.0);
      if (reader_counts[c] == 1)
        row_target_why (row, "a reader alone pays what an uncontended share costs, and a "
                        "share that survives its holder's death costs at least a robust "
                        "mutex's lock+unlock (see the uncontended row); from 2 readers up "
                        "each reader has a slot of its own, where pthread_rwlock_t's readers "
                        "all write one count's cache line");
    }
  row_note (row, "each reader process takes and gives back a read share in a loop; "
            "on a machine with fewer cores than readers, they also share the CPUs");
}

const RowDef ps_bench_row_rw_readers = {
  "rw-readers", "Read throughput, N reader processes on one reader-writer lock",
  "M shares/s", TRUE, ROW_CUSTOM, 11, 2, 200000, NULL, finish_readers, custom_readers
};
