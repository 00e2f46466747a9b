/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsRWLock: per-thread ownership and its exact errors, shares across
 * processes, writer preference, timeouts and cancellation, the async
 * forms, a dead writer (OWNER_DEAD exactly once, NOT_RECOVERABLE), a dead
 * reader (reclaimed silently), more readers than slots, the three
 * sharing models, and a state that a peer scribbled on.
 */

#include <string.h>
#include <sys/mman.h>

#include "ps-rw-lock-private.h"
#include "ps-test-async.h"

#define SHORT_US (50 * 1000)

typedef struct
{
  PsRWLock *lock;
  gboolean  write;
  gint64    timeout_us;
  GCancellable *cancellable;
  gint      state;       /* 1 while holding, 2 after the attempt */
  gint      release;     /* set to make a holder give it back */
  gboolean  result;
  GError   *error;
} Locker;

/* In a thread: lock as asked, hold until told, give back. */
static gpointer
locker_thread (gpointer data)
{
  Locker *locker = data;

  if (locker->write)
    locker->result = ps_rw_lock_write_lock (locker->lock, locker->timeout_us,
                                            locker->cancellable, &locker->error);
  else
    locker->result = ps_rw_lock_read_lock (locker->lock, locker->timeout_us,
                                           locker->cancellable, &locker->error);
  if (locker->result)
    {
      g_atomic_int_set (&locker->state, 1);
      g_assert_true (ps_test_wait_int (&locker->release, 1, 60));
      if (locker->write)
        g_assert_true (ps_rw_lock_write_unlock (locker->lock, NULL));
      else
        g_assert_true (ps_rw_lock_read_unlock (locker->lock, NULL));
    }
  g_atomic_int_set (&locker->state, 2);
  return NULL;
}

static GThread *
start_locker (Locker   *locker,
              PsRWLock *lock,
              gboolean  write,
              gint64    timeout_us)
{
  memset (locker, 0, sizeof *locker);
  locker->lock = lock;
  locker->write = write;
  locker->timeout_us = timeout_us;
  return g_thread_new ("locker", locker_thread, locker);
}

/* A holder in another thread, returned once it holds. */
static GThread *
hold_in_thread (Locker   *locker,
                PsRWLock *lock,
                gboolean  write)
{
  GThread *thread = start_locker (locker, lock, write, -1);

  g_assert_true (ps_test_wait_int (&locker->state, 1, 20));
  return thread;
}

static void
release_thread (Locker  *locker,
                GThread *thread)
{
  g_atomic_int_set (&locker->release, 1);
  g_thread_join (thread);
  g_clear_error (&locker->error);
}

typedef struct
{
  PsRWLock *lock;
  gboolean  write;
  gboolean  result;
  GError   *error;
} TryArgs;

static gpointer
try_thread (gpointer data)
{
  TryArgs *args = data;

  if (args->write)
    args->result = ps_rw_lock_try_write_lock (args->lock, &args->error);
  else
    args->result = ps_rw_lock_try_read_lock (args->lock, &args->error);
  if (args->result && args->write)
    g_assert_true (ps_rw_lock_write_unlock (args->lock, NULL));
  else if (args->result)
    g_assert_true (ps_rw_lock_read_unlock (args->lock, NULL));
  return NULL;
}

/* Whether another thread's try would get the lock (given straight back),
 * with no error whatever the answer. */
static gboolean
other_thread_can (PsRWLock *lock,
                  gboolean  write)
{
  TryArgs args = { lock, write, FALSE, NULL };

  g_thread_join (g_thread_new ("try", try_thread, &args));
  g_assert_no_error (args.error);
  return args.result;
}

static int
try_child (gpointer data)
{
  TryArgs *args = data;

  try_thread (args);
  PS_CHILD_CHECK_NO_ERROR (args->error);
  return args->result ? 10 : 11;
}

/* The same, from another process. */
static gboolean
other_process_can (PsRWLock *lock,
                   gboolean  write)
{
  TryArgs args = { lock, write, FALSE, NULL };
  int status = ps_test_reap (ps_test_fork (try_child, &args, ps_test_scaled_s (30)),
                             ps_test_scaled_s (30));

  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), >=, 10);
  return WEXITSTATUS (status) == 10;
}

/* Ownership and its errors ------------------------------------------------- */

static void
test_ownership (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (lock);
  g_assert_true (ps_rw_lock_get_created (lock));
  g_assert_null (ps_rw_lock_get_name (lock));

  /* Nothing held: every unlock is NOT_OWNER. */
  g_assert_false (ps_rw_lock_read_unlock (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_write_unlock (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_mark_consistent (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);

  /* A read share, taken again recursively, in this thread only. */
  g_assert_true (ps_rw_lock_read_lock (lock, -1, NULL, &error));
  g_assert_true (ps_rw_lock_try_read_lock (lock, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 1);
  g_assert_true (other_thread_can (lock, FALSE));
  g_assert_false (other_thread_can (lock, TRUE));
  g_assert_true (other_process_can (lock, FALSE));
  g_assert_false (other_process_can (lock, TRUE));
  g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, 0);

  /* No upgrade. */
  g_assert_false (ps_rw_lock_write_lock (lock, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_try_write_lock (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_write_unlock (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);

  g_assert_true (ps_rw_lock_read_unlock (lock, &error));
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 1);
  g_assert_true (ps_rw_lock_read_unlock (lock, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
  g_assert_false (ps_rw_lock_read_unlock (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);

  /* The write lock: exclusive, not relocked, in either mode. */
  g_assert_true (ps_rw_lock_write_lock (lock, -1, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, getpid ());
  g_assert_false (other_thread_can (lock, FALSE));
  g_assert_false (other_thread_can (lock, TRUE));
  g_assert_false (other_process_can (lock, FALSE));
  g_assert_false (other_process_can (lock, TRUE));
  g_assert_false (ps_rw_lock_write_lock (lock, -1, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_read_lock (lock, -1, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_read_unlock (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_true (ps_rw_lock_mark_consistent (lock, &error));   /* consistent: nothing */
  g_assert_true (ps_rw_lock_write_unlock (lock, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, 0);
  g_assert_true (other_thread_can (lock, TRUE));
  g_assert_true (other_process_can (lock, TRUE));
}

/* Another thread's unlock is NOT_OWNER, and changes nothing. */
static gpointer
unlock_both_thread (gpointer data)
{
  PsRWLock *lock = data;
  GError *error = NULL;

  g_assert_false (ps_rw_lock_read_unlock (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_write_unlock (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  return NULL;
}

static void
test_not_owner_elsewhere (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);

  g_assert_true (ps_rw_lock_read_lock (lock, -1, NULL, NULL));
  g_thread_join (g_thread_new ("unlock", unlock_both_thread, lock));
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 1);
  g_assert_true (ps_rw_lock_read_unlock (lock, NULL));

  g_assert_true (ps_rw_lock_write_lock (lock, -1, NULL, NULL));
  g_thread_join (g_thread_new ("unlock", unlock_both_thread, lock));
  g_assert_false (other_thread_can (lock, FALSE));
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
}

/* Timeouts and cancellation ------------------------------------------------- */

static void
test_timeouts (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;
  Locker holder;
  GThread *thread;
  gint64 start;

  /* A writer in: readers and writers time out. */
  thread = hold_in_thread (&holder, lock, TRUE);
  g_assert_false (ps_rw_lock_read_lock (lock, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_write_lock (lock, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  start = g_get_monotonic_time ();
  g_assert_false (ps_rw_lock_read_lock (lock, SHORT_US, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, SHORT_US);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_write_lock (lock, SHORT_US, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_try_read_lock (lock, &error));
  g_assert_no_error (error);
  release_thread (&holder, thread);

  /* A reader in: a writer times out, and readers come in again after. */
  thread = hold_in_thread (&holder, lock, FALSE);
  g_assert_false (ps_rw_lock_try_write_lock (lock, &error));
  g_assert_no_error (error);
  g_assert_false (ps_rw_lock_write_lock (lock, SHORT_US, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, 0);
  g_assert_true (ps_rw_lock_read_lock (lock, 0, NULL, &error));
  g_assert_true (ps_rw_lock_read_unlock (lock, NULL));
  g_assert_true (other_process_can (lock, FALSE));
  release_thread (&holder, thread);
  g_assert_true (ps_rw_lock_write_lock (lock, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static gpointer
cancel_thread (gpointer data)
{
  g_usleep (SHORT_US);
  cancel_later (data);
  return NULL;
}

static void
test_cancel (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;
  Locker holder;
  GThread *thread;

  for (guint write_holder = 0; write_holder < 2; write_holder++)
    for (guint write_waiter = 0; write_waiter < 2; write_waiter++)
      {
        g_autoptr(GCancellable) cancellable = g_cancellable_new ();
        GThread *canceller;

        if (!write_holder && !write_waiter)
          continue;   /* readers do not wait for readers */
        thread = hold_in_thread (&holder, lock, write_holder);
        canceller = g_thread_new ("cancel", cancel_thread, cancellable);
        if (write_waiter)
          g_assert_false (ps_rw_lock_write_lock (lock, -1, cancellable, &error));
        else
          g_assert_false (ps_rw_lock_read_lock (lock, -1, cancellable, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_clear_error (&error);
        g_thread_join (canceller);

        /* Already cancelled: not even tried. */
        g_assert_false (ps_rw_lock_read_lock (lock, 0, cancellable, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_clear_error (&error);
        release_thread (&holder, thread);
      }
  g_assert_true (ps_rw_lock_write_lock (lock, 0, NULL, &error));
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
}

/* Across processes ------------------------------------------------------------ */

typedef struct
{
  PsRWLock *lock;
  gint     *step;
} ChildArgs;

/* A reader in another process, while the parent reads too; then a writer,
 * who waits for the parent's share. */
static int
reader_then_writer_child (gpointer data)
{
  ChildArgs *args = data;
  g_autoptr(GError) error = NULL;

  PS_CHILD_CHECK (ps_rw_lock_read_lock (args->lock, 0, NULL, &error));
  PS_CHILD_CHECK (ps_rw_lock_get_n_readers (args->lock) == 2);
  PS_CHILD_CHECK (ps_rw_lock_read_unlock (args->lock, &error));
  g_atomic_int_set (args->step, 1);
  PS_CHILD_CHECK (ps_rw_lock_write_lock (args->lock, ps_test_scaled_us (20 * G_USEC_PER_SEC),
                                         NULL, &error));
  PS_CHILD_CHECK (g_atomic_int_get (args->step) == 2);
  PS_CHILD_CHECK (ps_rw_lock_write_unlock (args->lock, &error));
  PS_CHILD_CHECK_NO_ERROR (error);
  return 0;
}

static gint *
shared_ints (guint n)
{
  gint *ints = mmap (NULL, n * sizeof (gint), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  g_assert_true (ints != MAP_FAILED);
  return ints;
}

static void
test_cross_process (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  gint *step = shared_ints (1);
  ChildArgs args = { lock, step };
  pid_t pid;

  g_assert_true (ps_rw_lock_read_lock (lock, 0, NULL, NULL));
  pid = ps_test_fork (reader_then_writer_child, &args, ps_test_scaled_s (60));
  g_assert_true (ps_test_wait_int (step, 1, 20));
  /* The child's writer is waiting for this share (or about to). */
  g_usleep (SHORT_US);
  g_atomic_int_set (step, 2);
  g_assert_true (ps_rw_lock_read_unlock (lock, NULL));
  ps_test_reap_ok (pid, ps_test_scaled_s (60));
  munmap (step, sizeof (gint));
}

/* Writer preference ------------------------------------------------------------- */

typedef struct
{
  PsRWLock *lock;
  gint      stop;
  gint      rounds;
} ReaderStream;

static gpointer
stream_reader (gpointer data)
{
  ReaderStream *stream = data;

  /* Bounded: the writer stops us, or 20 s of 1 ms holds. */
  for (guint i = 0; i < 20000 && !g_atomic_int_get (&stream->stop); i++)
    {
      g_assert_true (ps_rw_lock_read_lock (stream->lock, -1, NULL, NULL));
      g_atomic_int_inc (&stream->rounds);
      g_usleep (1000);
      g_assert_true (ps_rw_lock_read_unlock (stream->lock, NULL));
    }
  return NULL;
}

static void
test_writer_not_starved (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;
  ReaderStream stream = { lock, 0, 0 };
  GThread *readers[8];

  for (guint i = 0; i < G_N_ELEMENTS (readers); i++)
    readers[i] = g_thread_new ("reader", stream_reader, &stream);
  /* Eight overlapping readers: the shares never all go at once. */
  g_assert_true (ps_test_wait_at_least (&stream.rounds, 200, 20));
  for (guint n = 0; n < 5; n++)
    {
      g_assert_true (ps_rw_lock_write_lock (lock, ps_test_scaled_us (2 * G_USEC_PER_SEC),
                                            NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
      g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
      g_usleep (5000);
    }
  g_atomic_int_set (&stream.stop, 1);
  for (guint i = 0; i < G_N_ELEMENTS (readers); i++)
    g_thread_join (readers[i]);
}

/* More readers than slots ---------------------------------------------------------- */

static void
test_readers_beyond_slots (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  Locker holders[PS_RW_LOCK_N_SLOTS];
  GThread *threads[PS_RW_LOCK_N_SLOTS];
  Locker extra;
  GThread *extra_thread;

  for (guint i = 0; i < PS_RW_LOCK_N_SLOTS; i++)
    threads[i] = hold_in_thread (&holders[i], lock, FALSE);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, PS_RW_LOCK_N_SLOTS);

  /* One more: it waits, it does not fail. */
  g_assert_false (other_thread_can (lock, FALSE));
  extra_thread = start_locker (&extra, lock, FALSE, -1);
  g_usleep (ps_test_scaled_us (200 * 1000));
  g_assert_cmpint (g_atomic_int_get (&extra.state), ==, 0);

  /* A share given back: it gets in. */
  release_thread (&holders[0], threads[0]);
  g_assert_true (ps_test_wait_int (&extra.state, 1, 20));
  g_assert_no_error (extra.error);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, PS_RW_LOCK_N_SLOTS);
  release_thread (&extra, extra_thread);
  for (guint i = 1; i < PS_RW_LOCK_N_SLOTS; i++)
    release_thread (&holders[i], threads[i]);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
  g_assert_true (ps_rw_lock_try_write_lock (lock, NULL));
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
}

/* Robustness ------------------------------------------------------------------------- */

static int
hold_until_killed_child (gpointer data)
{
  ChildArgs *args = data;

  if (g_atomic_int_get (args->step) == 0)
    {
      if (!ps_rw_lock_write_lock (args->lock, -1, NULL, NULL))
        return 1;
    }
  else if (!ps_rw_lock_read_lock (args->lock, -1, NULL, NULL))
    return 1;
  g_atomic_int_set (args->step, 10);
  g_usleep (ps_test_scaled_us (120 * G_USEC_PER_SEC));
  return 2;
}

/* Forks a child that holds @lock (for writing, or a read share) until it
 * is killed, and kills it. */
static pid_t
kill_holder (PsRWLock *lock,
             gboolean  write)
{
  gint *step = shared_ints (1);
  ChildArgs args = { lock, step };
  pid_t pid;

  *step = write ? 0 : 1;
  pid = ps_test_fork (hold_until_killed_child, &args, ps_test_scaled_s (120));
  g_assert_true (ps_test_wait_int (step, 10, 20));
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  ps_test_reap_killed (pid);
  munmap (step, sizeof (gint));
  return pid;
}

static int
owner_dead_not_again_child (gpointer data)
{
  PsRWLock *lock = data;
  g_autoptr(GError) error = NULL;

  PS_CHILD_CHECK (ps_rw_lock_write_lock (lock, 0, NULL, &error));
  PS_CHILD_CHECK (ps_rw_lock_write_unlock (lock, &error));
  PS_CHILD_CHECK (ps_rw_lock_read_lock (lock, 0, NULL, &error));
  PS_CHILD_CHECK (ps_rw_lock_read_unlock (lock, &error));
  PS_CHILD_CHECK_NO_ERROR (error);
  return 0;
}

static void
check_owner_dead_once (gboolean write_first,
                       gboolean wait)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;
  pid_t dead = kill_holder (lock, TRUE);
  g_autofree char *pid_text = g_strdup_printf ("process %d", (int) dead);
  gint64 timeout = wait ? -1 : 0;
  gboolean ok;

  g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, dead);
  if (write_first)
    ok = ps_rw_lock_write_lock (lock, timeout, NULL, &error);
  else
    ok = ps_rw_lock_read_lock (lock, timeout, NULL, &error);
  g_assert_false (ok);
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_assert_nonnull (strstr (error->message, pid_text));
  g_clear_error (&error);

  /* Held for writing, exclusively, whoever asked. */
  g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, getpid ());
  g_assert_false (other_thread_can (lock, FALSE));
  g_assert_false (other_process_can (lock, FALSE));
  g_assert_false (other_process_can (lock, TRUE));
  g_assert_false (ps_rw_lock_read_unlock (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);

  g_assert_true (ps_rw_lock_mark_consistent (lock, &error));
  g_assert_true (ps_rw_lock_write_unlock (lock, &error));
  g_assert_no_error (error);

  /* Reported once: not again, here or elsewhere. */
  g_assert_true (ps_rw_lock_read_lock (lock, 0, NULL, &error));
  g_assert_true (ps_rw_lock_read_unlock (lock, &error));
  g_assert_true (ps_rw_lock_write_lock (lock, 0, NULL, &error));
  g_assert_true (ps_rw_lock_write_unlock (lock, &error));
  g_assert_no_error (error);
  ps_test_reap_ok (ps_test_fork (owner_dead_not_again_child, lock, ps_test_scaled_s (30)),
                   ps_test_scaled_s (30));
}

static void
test_dead_writer (void)
{
  check_owner_dead_once (TRUE, TRUE);
  check_owner_dead_once (TRUE, FALSE);
  check_owner_dead_once (FALSE, TRUE);
  check_owner_dead_once (FALSE, FALSE);
}

/* A death found by a writer that then timed out waiting for a reader is
 * reported to the next locker. */
static void
test_dead_writer_report_survives_timeout (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;
  PsRwLockState *state;
  Locker reader;
  GThread *thread;

  /* A reader holds a share; a writer dies while it waits for it, the
   * gate closed: the state a writer killed while draining leaves. */
  thread = hold_in_thread (&reader, lock, FALSE);
  state = ps_rw_lock_get_handle (lock)->state;
  {
    gint *step = shared_ints (1);
    ChildArgs args = { lock, step };
    pid_t pid;

    *step = 0;
    pid = ps_test_fork (hold_until_killed_child, &args, ps_test_scaled_s (60));
    g_assert_true (ps_test_wait_int ((gint *) &state->gate, PS_RW_GATE_WRITER, 20));
    g_usleep (SHORT_US);
    g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
    ps_test_reap_killed (pid);
    munmap (step, sizeof (gint));
  }

  g_assert_false (ps_rw_lock_write_lock (lock, SHORT_US, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_try_read_lock (lock, &error));
  g_assert_no_error (error);
  release_thread (&reader, thread);

  g_assert_false (ps_rw_lock_read_lock (lock, -1, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);
  g_assert_true (ps_rw_lock_mark_consistent (lock, NULL));
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
  g_assert_true (ps_rw_lock_try_read_lock (lock, &error));
  g_assert_no_error (error);
  g_assert_true (ps_rw_lock_read_unlock (lock, NULL));
}

static int
not_recoverable_child (gpointer data)
{
  PsRWLock *lock = data;
  g_autoptr(GError) error = NULL;

  PS_CHILD_CHECK (!ps_rw_lock_read_lock (lock, -1, NULL, &error));
  PS_CHILD_CHECK_ERROR (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE);
  g_clear_error (&error);
  PS_CHILD_CHECK (!ps_rw_lock_write_lock (lock, -1, NULL, &error));
  PS_CHILD_CHECK_ERROR (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE);
  return 0;
}

static void
test_not_recoverable (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;

  kill_holder (lock, TRUE);
  g_assert_false (ps_rw_lock_write_lock (lock, -1, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);
  g_assert_true (ps_rw_lock_write_unlock (lock, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < 2; i++)
    {
      g_assert_false (ps_rw_lock_read_lock (lock, -1, NULL, &error));
      g_assert_error (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE);
      g_clear_error (&error);
      g_assert_false (ps_rw_lock_try_read_lock (lock, &error));
      g_assert_error (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE);
      g_clear_error (&error);
      g_assert_false (ps_rw_lock_write_lock (lock, 0, NULL, &error));
      g_assert_error (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE);
      g_clear_error (&error);
    }
  ps_test_reap_ok (ps_test_fork (not_recoverable_child, lock, ps_test_scaled_s (30)),
                   ps_test_scaled_s (30));
}

static void
test_dead_reader (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;

  /* Found by a writer, which takes it back silently. */
  kill_holder (lock, FALSE);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 1);
  g_assert_true (ps_rw_lock_write_lock (lock, ps_test_scaled_us (10 * G_USEC_PER_SEC),
                                        NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
  g_assert_true (ps_rw_lock_write_unlock (lock, &error));

  /* Many dead readers: a try finds them all gone. */
  for (guint i = 0; i < 5; i++)
    kill_holder (lock, FALSE);
  g_assert_true (ps_rw_lock_try_write_lock (lock, &error));
  g_assert_no_error (error);
  g_assert_true (ps_rw_lock_write_unlock (lock, &error));
  g_assert_true (ps_rw_lock_read_lock (lock, 0, NULL, &error));
  g_assert_true (ps_rw_lock_read_unlock (lock, &error));
  g_assert_no_error (error);
}

/* A thread that ends holding a share: given back as well. */
static gpointer
exit_holding_thread (gpointer data)
{
  g_assert_true (ps_rw_lock_read_lock (data, -1, NULL, NULL));
  return NULL;
}

static void
test_thread_exit_with_share (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (g_getenv ("PS_TEST_BACKEND"), "darwin") == 0)
    {
      g_test_skip ("the darwin backend's locks belong to processes, not threads");
      return;
    }
  g_thread_join (g_thread_new ("reader", exit_holding_thread, lock));
  g_assert_true (ps_rw_lock_write_lock (lock, ps_test_scaled_us (10 * G_USEC_PER_SEC),
                                        NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
}

/* Async ------------------------------------------------------------------------------ */

static void
on_read_locked (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  PsTestOutcome *out = user_data;

  ps_test_outcome_record (out, ps_rw_lock_read_lock_finish (PS_RW_LOCK (source), result,
                                                            &out->error));
}

static void
on_write_locked (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  PsTestOutcome *out = user_data;

  ps_test_outcome_record (out, ps_rw_lock_write_lock_finish (PS_RW_LOCK (source), result,
                                                             &out->error));
}

static void
test_async (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  PsTestOutcome out = { 0 };
  Locker holder;
  GThread *thread;

  /* At once, held by this thread, which runs the callback. */
  ps_rw_lock_read_lock_async (lock, -1, NULL, on_read_locked, &out);
  g_assert_true (ps_test_run_until_done (&out, 20));
  g_assert_no_error (out.error);
  g_assert_true (out.ok);
  g_assert_true (out.thread == g_thread_self ());
  g_assert_true (ps_rw_lock_read_unlock (lock, NULL));

  /* After a wait: a reader is in, a writer waits for it. */
  thread = hold_in_thread (&holder, lock, FALSE);
  memset (&out, 0, sizeof out);
  ps_rw_lock_write_lock_async (lock, -1, NULL, on_write_locked, &out);
  g_usleep (SHORT_US);
  g_main_context_iteration (NULL, FALSE);
  g_assert_false (out.done);
  release_thread (&holder, thread);
  g_assert_true (ps_test_run_until_done (&out, 20));
  g_assert_no_error (out.error);
  g_assert_true (out.ok);
  g_assert_true (out.thread == g_thread_self ());
  g_assert_false (other_thread_can (lock, FALSE));
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));

  /* Timed out, would block, cancelled: nothing held. */
  thread = hold_in_thread (&holder, lock, TRUE);
  memset (&out, 0, sizeof out);
  ps_rw_lock_read_lock_async (lock, SHORT_US, NULL, on_read_locked, &out);
  g_assert_true (ps_test_run_until_done (&out, 20));
  g_assert_error (out.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&out.error);
  memset (&out, 0, sizeof out);
  ps_rw_lock_write_lock_async (lock, 0, NULL, on_write_locked, &out);
  g_assert_true (ps_test_run_until_done (&out, 20));
  g_assert_error (out.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&out.error);
  memset (&out, 0, sizeof out);
  ps_rw_lock_write_lock_async (lock, -1, cancellable, on_write_locked, &out);
  g_timeout_add (SHORT_US / 1000, cancel_later, cancellable);
  g_assert_true (ps_test_run_until_done (&out, 20));
  g_assert_error (out.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&out.error);
  release_thread (&holder, thread);
  g_assert_true (other_thread_can (lock, TRUE));
}

static void
test_async_owner_dead (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  PsTestOutcome out = { 0 };

  kill_holder (lock, TRUE);
  ps_rw_lock_read_lock_async (lock, -1, NULL, on_read_locked, &out);
  g_assert_true (ps_test_run_until_done (&out, 20));
  g_assert_error (out.error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&out.error);
  g_assert_true (ps_rw_lock_mark_consistent (lock, NULL));
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
}

/* Iterates the thread-default context, for @us microseconds. */
static void
iterate_for (gint64 us)
{
  gint64 end = g_get_monotonic_time () + us;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
}

static void
start_async (PsRWLock      *lock,
             gboolean       write,
             gint64         timeout_us,
             GCancellable  *cancellable,
             PsTestOutcome *out)
{
  memset (out, 0, sizeof *out);
  if (write)
    ps_rw_lock_write_lock_async (lock, timeout_us, cancellable, on_write_locked, out);
  else
    ps_rw_lock_read_lock_async (lock, timeout_us, cancellable, on_read_locked, out);
}

typedef struct
{
  PsRWLock *lock;
  gboolean  write;
  gboolean  result;
  GError   *error;
} UnlockArgs;

static gpointer
unlock_thread (gpointer data)
{
  UnlockArgs *args = data;

  if (args->write)
    args->result = ps_rw_lock_write_unlock (args->lock, &args->error);
  else
    args->result = ps_rw_lock_read_unlock (args->lock, &args->error);
  return NULL;
}

/* Held by the calling thread as asked, and by nobody else: another
 * thread neither gets it nor may unlock it; this one unlocks it. */
static void
check_held_here_then_unlock (PsRWLock *lock,
                             gboolean  write)
{
  UnlockArgs args = { lock, write, FALSE, NULL };

  g_assert_false (other_thread_can (lock, TRUE));
  g_assert_cmpint (other_thread_can (lock, FALSE), ==, !write);
  g_thread_join (g_thread_new ("unlock", unlock_thread, &args));
  g_assert_false (args.result);
  g_assert_error (args.error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&args.error);
  if (write)
    {
      g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, getpid ());
      g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
    }
  else
    g_assert_true (ps_rw_lock_read_unlock (lock, NULL));
  g_assert_true (other_thread_can (lock, TRUE));
}

/* Holds @lock as step says (0 write, 1 read), says so (10), gives it
 * back when told (20), and says so (30). */
static int
hold_until_told_child (gpointer data)
{
  ChildArgs *args = data;
  gboolean write = g_atomic_int_get (args->step) == 0;

  PS_CHILD_CHECK (write ? ps_rw_lock_write_lock (args->lock, -1, NULL, NULL)
                        : ps_rw_lock_read_lock (args->lock, -1, NULL, NULL));
  g_atomic_int_set (args->step, 10);
  PS_CHILD_CHECK (ps_test_wait_int (args->step, 20, 60));
  g_atomic_int_set (args->step, 30);
  PS_CHILD_CHECK (write ? ps_rw_lock_write_unlock (args->lock, NULL)
                        : ps_rw_lock_read_unlock (args->lock, NULL));
  return 0;
}

/* An async lock pending while another process holds the lock: the
 * callback runs once it is given back, in this thread, which holds it. */
static void
check_pending_on_process (gboolean holder_writes,
                          gboolean write)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  gint *step = shared_ints (1);
  ChildArgs args = { lock, step };
  PsTestOutcome out;
  pid_t pid;

  *step = holder_writes ? 0 : 1;
  pid = ps_test_fork (hold_until_told_child, &args, ps_test_scaled_s (60));
  g_assert_true (ps_test_wait_int (step, 10, 20));
  start_async (lock, write, -1, NULL, &out);
  iterate_for (SHORT_US);
  g_assert_false (out.done);
  g_atomic_int_set (step, 20);
  g_assert_true (ps_test_run_until_done (&out, 20));
  /* Not before the holder gave it back. */
  g_assert_cmpint (g_atomic_int_get (step), ==, 30);
  g_assert_no_error (out.error);
  g_assert_true (out.ok);
  g_assert_true (out.thread == g_thread_self ());
  check_held_here_then_unlock (lock, write);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  munmap (step, sizeof (gint));
}

static void
test_async_pending_on_process (void)
{
  check_pending_on_process (TRUE, FALSE);
  check_pending_on_process (TRUE, TRUE);
  check_pending_on_process (FALSE, TRUE);
}

typedef struct
{
  gboolean write;
  gboolean done;
  gboolean result;
  GError  *error;
  guint    order;    /* among the callbacks run */
} ManyResult;

static guint n_callbacks;

/* Records the outcome and gives the lock straight back. */
static void
on_locked_give_back (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  ManyResult *out = user_data;
  PsRWLock *lock = PS_RW_LOCK (source);

  g_assert_false (out->done);
  if (out->write)
    out->result = ps_rw_lock_write_lock_finish (lock, result, &out->error);
  else
    out->result = ps_rw_lock_read_lock_finish (lock, result, &out->error);
  out->order = ++n_callbacks;
  if (out->result && out->write)
    {
      g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, getpid ());
      g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
    }
  else if (out->result)
    g_assert_true (ps_rw_lock_read_unlock (lock, NULL));
  out->done = TRUE;
}

/* A writer's async lock waiting for a reader keeps later readers out
 * (writer preference), holds nothing its thread may unlock, and keeps
 * the thread's other async locks waiting; cancelled, it lets them in. */
static void
test_async_writer_waits_for_readers (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  PsTestOutcome first;
  ManyResult second = { 0 }, reader = { 0 };
  Locker holder;
  GThread *thread = hold_in_thread (&holder, lock, FALSE);

  start_async (lock, TRUE, -1, cancellable, &first);
  iterate_for (SHORT_US);
  g_assert_false (first.done);
  g_assert_false (other_thread_can (lock, FALSE));
  g_assert_false (ps_rw_lock_write_unlock (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_mark_consistent (lock, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_read_lock (lock, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_rw_lock_write_lock (lock, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);

  second.write = TRUE;
  ps_rw_lock_write_lock_async (lock, -1, NULL, on_locked_give_back, &second);
  ps_rw_lock_read_lock_async (lock, -1, NULL, on_locked_give_back, &reader);
  iterate_for (SHORT_US);
  g_assert_false (second.done);
  g_assert_false (reader.done);

  g_cancellable_cancel (cancellable);
  g_assert_true (ps_test_run_until_done (&first, 20));
  g_assert_error (first.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&first.error);
  /* The next writer waits for the reader now, the gate shut again. */
  iterate_for (SHORT_US);
  g_assert_false (second.done);
  g_assert_false (reader.done);
  g_assert_false (other_thread_can (lock, FALSE));

  /* The writer first (its callback gives it back), then the reader. */
  release_thread (&holder, thread);
  for (guint i = 0; i < 4000 && !(second.done && reader.done); i++)
    iterate_for (5 * 1000);
  g_assert_no_error (second.error);
  g_assert_no_error (reader.error);
  g_assert_true (second.result && reader.result);
  g_assert_cmpuint (second.order, <, reader.order);
  g_assert_true (other_thread_can (lock, TRUE));
}

/* Whether the backend watches words (else the async waits poll), and
 * the kernel lets it: valgrind has no futex_waitv(2). */
static gboolean
backend_watches (void)
{
  PsWaitWord word = { 0 };

  return ps_wait_word_watch_address (&word) != NULL && ps_test_time_scale () <= 1.0;
}

/* Iterates a context of its own until @out is done: how many times the
 * hub was dispatched (a wait that polls would be tried every few ms). */
static guint
iterations_until_done (GMainContext  *context,
                       PsTestOutcome *out)
{
  guint n = 0;

  for (guint i = 0; i < 100000 && !out->done; i++)
    n += g_main_context_iteration (context, TRUE);
  g_assert_true (out->done);
  return n;
}

static gpointer
cancel_after_thread (gpointer data)
{
  g_usleep (ps_test_scaled_us (200 * 1000));
  g_cancellable_cancel (data);
  return NULL;
}

/* Timeouts and cancellation wake the wait: nothing polls (where the
 * backend watches), and it ends soon after. */
static void
test_async_woken_not_polled (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GMainContext) context = g_main_context_new ();
  gint64 timeout = ps_test_scaled_us (200 * 1000);
  gint64 bound = ps_test_scaled_us (2 * G_USEC_PER_SEC);
  Locker holder;
  GThread *thread;

  g_main_context_push_thread_default (context);
  for (guint kind = 0; kind < 4; kind++)
    {
      gboolean write = kind & 1, cancel = kind >= 2;
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      GThread *canceller = NULL;
      PsTestOutcome out;
      gint64 start, elapsed;
      guint n;

      /* A writer holds, or (for a writer) a reader it waits for. */
      thread = hold_in_thread (&holder, lock, !write || kind == 1);
      start = g_get_monotonic_time ();
      start_async (lock, write, cancel ? -1 : timeout, cancellable, &out);
      if (cancel)
        canceller = g_thread_new ("cancel", cancel_after_thread, cancellable);
      n = iterations_until_done (context, &out);
      elapsed = g_get_monotonic_time () - start;
      g_test_message ("%s %s: %u iterations, %" G_GINT64_FORMAT " us",
                      write ? "write" : "read", cancel ? "cancelled" : "timed out", n, elapsed);
      if (canceller != NULL)
        g_thread_join (canceller);
      if (cancel)
        g_assert_error (out.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      else
        g_assert_error (out.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_clear_error (&out.error);
      g_assert_cmpint (elapsed, >=, timeout);
      g_assert_cmpint (elapsed, <=, timeout + bound);
      /* The first try, and the wake-up. */
      if (backend_watches ())
        g_assert_cmpuint (n, <=, 3);
      release_thread (&holder, thread);
      g_assert_true (other_thread_can (lock, TRUE));
    }
  g_main_context_pop_thread_default (context);
}

/* Cancelled just as the lock was given back: either it is held by this
 * thread and the result says so, or it is cancelled and nothing is kept. */
typedef struct
{
  GCancellable *cancellable;
  Locker       *holder;
  gint          delay_us;
} CancelRace;

static gpointer
release_and_cancel_thread (gpointer data)
{
  CancelRace *race = data;

  g_atomic_int_set (&race->holder->release, 1);
  if (race->delay_us > 0)
    g_usleep (race->delay_us);
  g_cancellable_cancel (race->cancellable);
  return NULL;
}

#define N_CANCEL_RACES 200

static void
test_async_cancelled_keeps_nothing (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  guint taken = 0, cancelled = 0;

  for (guint i = 0; i < N_CANCEL_RACES; i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      gboolean write = i & 1;
      CancelRace race;
      PsTestOutcome out;
      Locker holder;
      GThread *thread = hold_in_thread (&holder, lock, !write || (i & 2));
      GThread *racer;

      start_async (lock, write, -1, cancellable, &out);
      iterate_for (1000);
      race = (CancelRace) { cancellable, &holder, g_rand_int_range (rand, 0, 3000) };
      racer = g_thread_new ("race", release_and_cancel_thread, &race);
      g_assert_true (ps_test_run_until_done (&out, 20));
      g_thread_join (racer);
      g_thread_join (thread);
      g_clear_error (&holder.error);
      if (out.ok)
        {
          g_assert_no_error (out.error);
          taken++;
          check_held_here_then_unlock (lock, write);
          continue;
        }
      g_assert_error (out.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&out.error);
      cancelled++;
      /* Nothing kept: free for every other thread, no share here. */
      g_assert_true (other_thread_can (lock, TRUE));
      g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
      g_assert_false (ps_rw_lock_read_unlock (lock, NULL));
      g_assert_false (ps_rw_lock_write_unlock (lock, NULL));
    }
  g_test_message ("%u taken, %u cancelled", taken, cancelled);
  g_assert_cmpuint (taken + cancelled, ==, N_CANCEL_RACES);
}

/* A writer dies while an async lock waits: OWNER_DEAD, held for writing
 * by this thread alone, as the blocking locks report it. */
static void
check_async_owner_dead_pending (gboolean write)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  gint *step = shared_ints (1);
  ChildArgs args = { lock, step };
  g_autofree char *pid_text = NULL;
  PsTestOutcome out;
  pid_t pid;

  *step = 0;
  pid = ps_test_fork (hold_until_killed_child, &args, ps_test_scaled_s (120));
  g_assert_true (ps_test_wait_int (step, 10, 20));
  start_async (lock, write, -1, NULL, &out);
  iterate_for (SHORT_US);
  g_assert_false (out.done);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  ps_test_reap_killed (pid);
  g_assert_true (ps_test_run_until_done (&out, 20));
  g_assert_false (out.ok);
  g_assert_error (out.error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  pid_text = g_strdup_printf ("process %d", (int) pid);
  g_assert_nonnull (strstr (out.error->message, pid_text));
  g_clear_error (&out.error);
  g_assert_true (out.thread == g_thread_self ());
  g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, getpid ());
  g_assert_false (other_thread_can (lock, FALSE));
  g_assert_false (other_process_can (lock, FALSE));
  g_assert_true (ps_rw_lock_mark_consistent (lock, NULL));
  check_held_here_then_unlock (lock, TRUE);
  munmap (step, sizeof (gint));
}

static void
test_async_owner_dead_pending (void)
{
  check_async_owner_dead_pending (FALSE);
  check_async_owner_dead_pending (TRUE);
}

/* Many pending waits, few threads -------------------------------------------------- */

static guint
count_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static guint
count_done (ManyResult *results,
            guint       n)
{
  guint done = 0;

  for (guint i = 0; i < n; i++)
    done += results[i].done;
  return done;
}

#define MANY 1000

static void
test_async_many_pending (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  /* Valgrind has no futex_waitv(2): its waits poll, each. */
  guint many = ps_test_time_scale () > 1 ? MANY / 10 : MANY;
  guint one = many / 3;
  ManyResult *results = g_new0 (ManyResult, many);
  GCancellable **cancellables = g_new0 (GCancellable *, many);
  guint threads_before;
  Locker holder;
  GThread *thread = hold_in_thread (&holder, lock, TRUE);

  threads_before = count_threads ();
  for (guint i = 0; i < many; i++)
    {
      results[i].write = i & 1;
      cancellables[i] = g_cancellable_new ();
      if (results[i].write)
        ps_rw_lock_write_lock_async (lock, -1, cancellables[i], on_locked_give_back,
                                     &results[i]);
      else
        ps_rw_lock_read_lock_async (lock, -1, cancellables[i], on_locked_give_back,
                                    &results[i]);
    }
  iterate_for (20 * 1000);
  g_test_message ("%u threads before, %u with %u waits pending", threads_before,
                  count_threads (), many);
  /* 127 waits per waiter thread on Linux, none elsewhere. */
  g_assert_cmpuint (count_threads (), <=, threads_before + (many + 126) / 127);
  g_assert_cmpuint (count_done (results, many), ==, 0);

  /* Cancelling one ends that one only. */
  g_cancellable_cancel (cancellables[one]);
  for (guint i = 0; i < 2000 && !results[one].done; i++)
    iterate_for (5 * 1000);
  g_assert_true (results[one].done);
  g_assert_error (results[one].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  iterate_for (20 * 1000);
  g_assert_cmpuint (count_done (results, many), ==, 1);

  /* Given back: every other one gets it, in turn. */
  release_thread (&holder, thread);
  for (guint i = 0; i < 4000 && count_done (results, many) < many; i++)
    iterate_for (5 * 1000);
  g_assert_cmpuint (count_done (results, many), ==, many);
  for (guint i = 0; i < many; i++)
    {
      if (i == one)
        continue;
      g_assert_no_error (results[i].error);
      g_assert_true (results[i].result);
    }
  g_clear_error (&results[one].error);
  g_assert_true (other_thread_can (lock, TRUE));
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
  for (guint i = 0; i < many; i++)
    g_object_unref (cancellables[i]);
  g_free (cancellables);
  g_free (results);
}

/* Sharing models ----------------------------------------------------------------------- */

static void
test_named (void)
{
  g_autofree char *name = ps_test_unique_name ("rwlock");
  g_autoptr(GError) error = NULL;
  g_autoptr(PsRWLock) lock = ps_rw_lock_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_autoptr(PsRWLock) again = NULL;
  g_autoptr(PsMutex) mutex = NULL;

  g_assert_no_error (error);
  g_assert_true (ps_rw_lock_get_created (lock));
  g_assert_cmpstr (ps_rw_lock_get_name (lock), ==, name);
  again = ps_rw_lock_open (name, PS_OPEN_NONE, &error);
  g_assert_no_error (error);
  g_assert_false (ps_rw_lock_get_created (again));
  g_assert_null (ps_rw_lock_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  mutex = ps_mutex_open (name, PS_OPEN_NONE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_clear_error (&error);

  /* Taken through one handle, given back through the other. */
  g_assert_true (ps_rw_lock_read_lock (lock, 0, NULL, NULL));
  g_assert_true (ps_rw_lock_read_lock (again, 0, NULL, NULL));
  g_assert_true (ps_rw_lock_read_unlock (again, NULL));
  g_assert_true (ps_rw_lock_read_unlock (again, NULL));
  g_assert_true (ps_rw_lock_write_lock (again, 0, NULL, NULL));
  g_assert_false (other_process_can (lock, FALSE));
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
  /* Dropping a handle gives back what this thread holds through it. */
  g_assert_true (ps_rw_lock_read_lock (again, 0, NULL, NULL));
  g_clear_object (&again);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
  g_assert_true (ps_unlink (name, NULL));
}

static void
test_placed (void)
{
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (2 * PS_RW_LOCK_SIZE, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PsRWLock) lock = ps_rw_lock_new_at (memory, 64, &error);
  g_autoptr(PsRWLock) attached = NULL;
  g_autoptr(PsRWLock) opened = NULL;
  g_autoptr(PsRWLock) created = NULL;
  g_autoptr(PsMutex) mutex = NULL;

  g_assert_no_error (error);
  g_assert_true (ps_rw_lock_get_created (lock));
  attached = ps_rw_lock_attach (memory, 64, &error);
  g_assert_no_error (error);
  g_assert_false (ps_rw_lock_get_created (attached));
  opened = ps_rw_lock_open_at (memory, 64, PS_OPEN_CREATE, &error);
  g_assert_no_error (error);
  g_assert_false (ps_rw_lock_get_created (opened));
  g_assert_null (ps_rw_lock_new_at (memory, 64, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_null (ps_rw_lock_open_at (memory, 64, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  mutex = ps_mutex_attach (memory, 64, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_clear_error (&error);

  /* Bounds: the whole 4 KiB must fit. */
  g_assert_null (ps_rw_lock_new_at (memory, PS_RW_LOCK_SIZE + 8, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
  g_clear_error (&error);
  g_assert_null (ps_rw_lock_new_at (memory, 4, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  created = ps_rw_lock_open_at (memory, PS_RW_LOCK_SIZE + 64, PS_OPEN_NONE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
  g_clear_error (&error);

  g_assert_true (ps_rw_lock_write_lock (attached, 0, NULL, NULL));
  g_assert_false (other_process_can (opened, FALSE));
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
  g_assert_true (other_process_can (opened, TRUE));

  /* Built from properties alone: anonymous. */
  g_clear_object (&created);
  created = g_object_new (PS_TYPE_RW_LOCK, NULL);
  g_assert_true (ps_rw_lock_get_created (created));
  g_assert_true (ps_rw_lock_write_lock (created, 0, NULL, NULL));
  g_assert_true (ps_rw_lock_write_unlock (created, NULL));
}

/* Hostile memory ------------------------------------------------------------------------- */

static void
assert_attach_corrupt (PsSharedMemory *memory)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsRWLock) lock = ps_rw_lock_attach (memory, 0, &error);

  g_assert_null (lock);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
}

static void
assert_taken_or_refused (PsRWLock *lock,
                         gboolean  write)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (write)
    ok = ps_rw_lock_write_lock (lock, ps_test_scaled_us (G_USEC_PER_SEC), NULL, &error);
  else
    ok = ps_rw_lock_read_lock (lock, ps_test_scaled_us (G_USEC_PER_SEC), NULL, &error);
  if (ok && write)
    g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
  else if (ok)
    g_assert_true (ps_rw_lock_read_unlock (lock, NULL));
  else if (!g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT) &&
           !g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD) &&
           !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_error ("unexpected: %s", error->message);
  else if (g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
    {
      /* The garbage writer's lock named a dead holder: held for writing. */
      g_assert_true (ps_rw_lock_mark_consistent (lock, NULL));
      g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
    }
}

static void
test_hostile (void)
{
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (PS_RW_LOCK_SIZE, NULL);
  g_autoptr(PsRWLock) lock = ps_rw_lock_new_at (memory, 0, NULL);
  g_autoptr(GError) error = NULL;
  guint8 *data = ps_shared_memory_get_data (memory);
  PsRwLockState *state = (gpointer) (data + sizeof (PsObjectHeader));
  g_autofree guint8 *saved = g_memdup2 (data, PS_RW_LOCK_SIZE);

  state->n_slots = 7;
  assert_attach_corrupt (memory);
  memcpy (data, saved, PS_RW_LOCK_SIZE);
  state->gate = 0x100;
  assert_attach_corrupt (memory);
  memcpy (data, saved, PS_RW_LOCK_SIZE);
  state->slots[17].occupied = 9;
  assert_attach_corrupt (memory);
  memcpy (data, saved, PS_RW_LOCK_SIZE);
  state->writer.consistency = 77;
  assert_attach_corrupt (memory);
  memcpy (data, saved, PS_RW_LOCK_SIZE);
  ((PsObjectHeader *) (gpointer) data)->payload_size = 224;
  assert_attach_corrupt (memory);
  memcpy (data, saved, PS_RW_LOCK_SIZE);

  /* Scribbled on after attaching: errors, never a hang or a crash. */
  state->gate = 0xffff0000u;
  g_assert_false (ps_rw_lock_write_lock (lock, ps_test_scaled_us (G_USEC_PER_SEC), NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);

  /* A reader's slot scribbled on: what the backend makes of a lock word
   * naming nobody alive (a dead holder's, taken back), or CORRUPT. */
  memcpy (data, saved, PS_RW_LOCK_SIZE);
  memset (&state->slots[3].lock, 0xa5, sizeof state->slots[3].lock);
  state->slots[3].occupied = 1;
  assert_taken_or_refused (lock, TRUE);

  /* Every lock garbage: the same, for readers and writers. */
  for (guint i = 0; i < PS_RW_LOCK_N_SLOTS; i++)
    memset (&state->slots[i].lock, 0x5a, sizeof state->slots[i].lock);
  memset (&state->writer.lock, 0x5a, sizeof state->writer.lock);
  assert_taken_or_refused (lock, FALSE);
  assert_taken_or_refused (lock, TRUE);
  memcpy (data, saved, PS_RW_LOCK_SIZE);
}

/* The in-use mask (version 2 of the protocol) ------------------------------------------- */

/* The one slot marked, or -1. */
static gint
marked_slot (PsRwLockState *state)
{
  gint found = -1;

  for (guint i = 0; i < PS_RW_LOCK_N_SLOTS; i++)
    if (state->slots[i].occupied != 0)
      {
        g_assert_cmpint (found, ==, -1);
        found = (gint) i;
      }
  return found;
}

/* A reader sets its slot's bit; a writer clears the bits of the slots it
 * finds free, waits for the readers whose bits are set, and a reader
 * whose bit was cleared sets it again before its share counts. */
static void
test_in_use_mask (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);
  g_autoptr(GError) error = NULL;
  PsRwLockState *state = ps_rw_lock_get_handle (lock)->state;
  guint64 bit;
  Locker reader;
  GThread *thread;
  gint slot;

  g_assert_cmpuint (state->n_slots, ==, PS_RW_LOCK_FORMAT);
  g_assert_cmpuint (state->in_use, ==, 0);

  /* The first share sets its bit, which stays once the share is given back. */
  g_assert_true (ps_rw_lock_read_lock (lock, 0, NULL, NULL));
  slot = marked_slot (state);
  g_assert_cmpint (slot, >=, 0);
  bit = G_GUINT64_CONSTANT (1) << slot;
  g_assert_cmpuint (state->in_use, ==, bit);
  g_assert_true (ps_rw_lock_read_unlock (lock, NULL));
  g_assert_cmpint (marked_slot (state), ==, -1);
  g_assert_cmpuint (state->in_use, ==, bit);

  /* A writer clears it: the slot is free. */
  g_assert_true (ps_rw_lock_write_lock (lock, 0, NULL, NULL));
  g_assert_cmpuint (state->in_use, ==, 0);
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));

  /* Set again by the next share, which a writer then waits for. */
  thread = hold_in_thread (&reader, lock, FALSE);
  slot = marked_slot (state);
  g_assert_cmpint (slot, >=, 0);
  bit = G_GUINT64_CONSTANT (1) << slot;
  g_assert_cmpuint (state->in_use, ==, bit);
  g_assert_false (ps_rw_lock_try_write_lock (lock, &error));
  g_assert_no_error (error);
  g_assert_false (ps_rw_lock_write_lock (lock, SHORT_US, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpuint (state->in_use, ==, bit);
  release_thread (&reader, thread);

  /* A bit cleared under a share (as a writer that found the slot free a
   * moment before would): the next share of that slot sets it again. */
  g_assert_true (ps_rw_lock_read_lock (lock, 0, NULL, NULL));
  bit = G_GUINT64_CONSTANT (1) << marked_slot (state);
  g_assert_true (ps_rw_lock_read_unlock (lock, NULL));
  state->in_use = 0;
  g_assert_true (ps_rw_lock_read_lock (lock, 0, NULL, NULL));
  g_assert_cmpuint (state->in_use, ==, bit);
  {
    Locker writer;

    thread = start_locker (&writer, lock, TRUE, 0);
    g_thread_join (thread);
    g_assert_false (writer.result);
    g_assert_error (writer.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
    g_clear_error (&writer.error);
  }
  g_assert_true (ps_rw_lock_read_unlock (lock, NULL));

  /* Bits of no reader, and beyond the slots (a peer's scribbles): the
   * writer gets in, and clears them. */
  state->in_use = G_MAXUINT64;
  g_assert_true (ps_rw_lock_write_lock (lock, 0, NULL, NULL));
  g_assert_cmpuint (state->in_use, ==, 0);
  g_assert_true (ps_rw_lock_write_unlock (lock, NULL));
}

/* A lock of the first protocol, without the mask, is refused. */
static void
test_older_format (void)
{
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (PS_RW_LOCK_SIZE, NULL);
  g_autoptr(PsRWLock) lock = ps_rw_lock_new_at (memory, 0, NULL);
  g_autoptr(PsRWLock) attached = NULL;
  g_autoptr(GError) error = NULL;
  guint8 *data = ps_shared_memory_get_data (memory);
  PsRwLockState *state = (gpointer) (data + sizeof (PsObjectHeader));

  g_assert_nonnull (lock);
  state->n_slots = PS_RW_LOCK_FORMAT_V1;
  attached = ps_rw_lock_attach (memory, 0, &error);
  g_assert_null (attached);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_clear_error (&error);

  state->n_slots = PS_RW_LOCK_FORMAT;
  attached = ps_rw_lock_attach (memory, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (attached);
}

int
main (int    argc,
      char **argv)
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/rw-lock/ownership", test_ownership);
  ps_test_add ("/rw-lock/not-owner-elsewhere", test_not_owner_elsewhere);
  ps_test_add ("/rw-lock/timeouts", test_timeouts);
  ps_test_add ("/rw-lock/cancel", test_cancel);
  ps_test_add ("/rw-lock/cross-process", test_cross_process);
  ps_test_add ("/rw-lock/writer-not-starved", test_writer_not_starved);
  ps_test_add ("/rw-lock/readers-beyond-slots", test_readers_beyond_slots);
  ps_test_add ("/rw-lock/dead-writer", test_dead_writer);
  ps_test_add ("/rw-lock/dead-writer-report-survives-timeout",
               test_dead_writer_report_survives_timeout);
  ps_test_add ("/rw-lock/not-recoverable", test_not_recoverable);
  ps_test_add ("/rw-lock/dead-reader", test_dead_reader);
  ps_test_add ("/rw-lock/thread-exit-with-share", test_thread_exit_with_share);
  ps_test_add ("/rw-lock/async", test_async);
  ps_test_add ("/rw-lock/async-owner-dead", test_async_owner_dead);
  ps_test_add ("/rw-lock/async-pending-on-process", test_async_pending_on_process);
  ps_test_add ("/rw-lock/async-writer-waits-for-readers", test_async_writer_waits_for_readers);
  ps_test_add ("/rw-lock/async-woken-not-polled", test_async_woken_not_polled);
  ps_test_add ("/rw-lock/async-cancelled-keeps-nothing", test_async_cancelled_keeps_nothing);
  ps_test_add ("/rw-lock/async-owner-dead-pending", test_async_owner_dead_pending);
  ps_test_add ("/rw-lock/async-many-pending", test_async_many_pending);
  ps_test_add ("/rw-lock/named", test_named);
  ps_test_add ("/rw-lock/placed", test_placed);
  ps_test_add ("/rw-lock/hostile", test_hostile);
  ps_test_add ("/rw-lock/in-use-mask", test_in_use_mask);
  ps_test_add ("/rw-lock/older-format", test_older_format);

  return g_test_run ();
}
