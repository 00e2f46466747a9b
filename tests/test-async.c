/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The async waits of PsMutex and PsCond (and the semaphore's, on the same
 * machinery, ps-async-watch): who holds the mutex afterwards (the thread
 * running the callback), owner death, timeouts, cancellation, a context
 * that never runs, fork() with waits pending, and many pending waits
 * with few threads.
 */

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procshared.h"
#include "ps-cond-private.h"
#include "ps-test-async.h"

typedef struct
{
  gint locked;
  gint unlocked;
  gint go;
} Shared;

static void
on_locked (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  PsTestOutcome *r = user_data;

  ps_test_outcome_record (r, ps_mutex_lock_finish (PS_MUTEX (source), result, &r->error));
}

static void
on_waited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  PsTestOutcome *r = user_data;

  ps_test_outcome_record (r, ps_cond_wait_finish (PS_COND (source), result, &r->error));
}

static void
on_acquired (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  PsTestOutcome *r = user_data;

  ps_test_outcome_record (r, ps_semaphore_acquire_finish (PS_SEMAPHORE (source), result,
                                                          &r->error));
}

/* A thread that holds a mutex until told to let go. */
typedef struct
{
  PsMutex *mutex;
  gint     held;
  gint     release;
} Holder;

static gpointer
holder_thread (gpointer data)
{
  Holder *h = data;

  g_assert_true (ps_mutex_lock (h->mutex, -1, NULL, NULL));
  g_atomic_int_set (&h->held, 1);
  g_assert_true (ps_test_wait_int (&h->release, 1, 30));
  g_assert_true (ps_mutex_unlock (h->mutex, NULL));
  return NULL;
}

static GThread *
hold_in_thread (Holder  *h,
                PsMutex *mutex)
{
  GThread *thread;

  h->mutex = mutex;
  h->held = h->release = 0;
  thread = g_thread_new ("holder", holder_thread, h);
  g_assert_true (ps_test_wait_int (&h->held, 1, 10));
  return thread;
}

static void
test_mutex_uncontended (void)
{
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  g_autoptr(GError) error = NULL;
  PsTestOutcome r = { 0, };

  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, NULL, on_locked, &r);
  g_assert_false (r.done);   /* taken in the context, not in the call */
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_true (r.thread == g_thread_self ());
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);

  /* The holder's own lock_async of a non-recursive mutex: as lock(). */
  g_assert_true (ps_mutex_lock (mutex, -1, NULL, NULL));
  ps_test_outcome_clear (&r);
  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, NULL, on_locked, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_assert_false (r.ok);
  g_assert_true (ps_mutex_unlock (mutex, NULL));
  ps_test_outcome_clear (&r);
}

typedef struct
{
  PsMutex       *mutex;
  PsTestOutcome  r;
  gint           locked;
  gint           unlock;
  gboolean       unlocked;
} ThreadLock;

static gpointer
lock_in_own_context (gpointer data)
{
  ThreadLock *t = data;
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  ps_mutex_lock_async (t->mutex, PS_TIMEOUT_INFINITE, NULL, on_locked, &t->r);
  g_assert_true (ps_test_run_until_done (&t->r, 10));
  g_atomic_int_set (&t->locked, 1);
  g_assert_true (ps_test_wait_int (&t->unlock, 1, 30));
  t->unlocked = ps_mutex_unlock (t->mutex, NULL);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  return NULL;
}

static void
test_mutex_held_by_callback_thread (void)
{
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  g_autoptr(GError) error = NULL;
  ThreadLock t = { mutex, };
  GThread *thread;

  thread = g_thread_new ("locker", lock_in_own_context, &t);
  g_assert_true (ps_test_wait_int (&t.locked, 1, 10));
  g_assert_no_error (t.r.error);
  g_assert_true (t.r.ok);
  g_assert_true (t.r.thread == thread);

  /* Held by that thread, not this one. */
  g_assert_false (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  g_assert_false (ps_mutex_unlock (mutex, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);

  g_atomic_int_set (&t.unlock, 1);
  g_thread_join (thread);
  g_assert_true (t.unlocked);
  g_assert_true (ps_mutex_try_lock (mutex, NULL));
  g_assert_true (ps_mutex_unlock (mutex, NULL));
}

static int
lock_then_unlock_later (gpointer data)
{
  PsMutex *mutex = ((gpointer *) data)[0];
  Shared *shared = ((gpointer *) data)[1];

  PS_CHILD_CHECK (ps_mutex_lock (mutex, -1, NULL, NULL));
  g_atomic_int_set (&shared->locked, 1);
  g_usleep (100 * 1000);
  g_atomic_int_set (&shared->unlocked, 1);
  PS_CHILD_CHECK (ps_mutex_unlock (mutex, NULL));
  return 0;
}

static void
test_mutex_contended_by_process (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  gpointer args[2] = { mutex, shared };
  PsTestOutcome r = { 0, };
  pid_t pid;

  pid = ps_test_fork (lock_then_unlock_later, args, ps_test_scaled_s (30));
  g_assert_true (ps_test_wait_int (&shared->locked, 1, 10));
  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, NULL, on_locked, &r);
  g_assert_true (ps_test_run_until_done (&r, 30));
  g_assert_cmpint (g_atomic_int_get (&shared->unlocked), ==, 1);
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  g_assert_true (ps_mutex_unlock (mutex, NULL));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
}

static void
test_mutex_timeout (void)
{
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  Holder h;
  GThread *thread = hold_in_thread (&h, mutex);
  PsTestOutcome r = { 0, };
  gint64 start = g_get_monotonic_time ();

  ps_mutex_lock_async (mutex, 50 * 1000, NULL, on_locked, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_false (r.ok);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 50 * 1000);
  ps_test_outcome_clear (&r);

  ps_mutex_lock_async (mutex, 0, NULL, on_locked, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  ps_test_outcome_clear (&r);

  /* A pending wait is woken by an unlock in another thread. */
  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, NULL, on_locked, &r);
  ps_test_run_for (20 * 1000);
  g_assert_false (r.done);
  g_atomic_int_set (&h.release, 1);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_thread_join (thread);
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_true (ps_mutex_unlock (mutex, NULL));
}

static void
test_mutex_cancel (void)
{
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Holder h;
  GThread *thread = hold_in_thread (&h, mutex);
  PsTestOutcome r = { 0, };

  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, cancellable, on_locked, &r);
  ps_test_run_for (20 * 1000);
  g_assert_false (r.done);
  g_cancellable_cancel (cancellable);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (r.ok);
  ps_test_outcome_clear (&r);

  /* Cancelled before the call: nothing is tried. */
  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, cancellable, on_locked, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  ps_test_outcome_clear (&r);

  g_atomic_int_set (&h.release, 1);
  g_thread_join (thread);
  /* Nobody took it for the cancelled waits. */
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  g_assert_true (ps_mutex_try_lock (mutex, NULL));
  g_assert_true (ps_mutex_unlock (mutex, NULL));
}

static int
lock_and_die (gpointer data)
{
  PS_CHILD_CHECK (ps_mutex_lock (data, -1, NULL, NULL));
  _exit (0);
}

static void
test_mutex_owner_dead (void)
{
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  PsTestOutcome r = { 0, };
  pid_t pid;

  pid = ps_test_fork (lock_and_die, mutex, ps_test_scaled_s (30));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, NULL, on_locked, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_assert_false (r.ok);
  g_assert_cmpint (ps_mutex_get_previous_owner_pid (mutex), ==, pid);
  g_assert_true (ps_mutex_mark_consistent (mutex, NULL));
  g_assert_true (ps_mutex_unlock (mutex, NULL));
  ps_test_outcome_clear (&r);

  /* Unlocked unrepaired: condemned, as lock() reports it. */
  pid = ps_test_fork (lock_and_die, mutex, ps_test_scaled_s (30));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, NULL, on_locked, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_assert_true (ps_mutex_unlock (mutex, NULL));
  ps_test_outcome_clear (&r);
  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, NULL, on_locked, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE);
  ps_test_outcome_clear (&r);
}

static void
test_mutex_context_never_runs (void)
{
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  GMainContext *context = g_main_context_new ();
  Holder h;
  GThread *thread = hold_in_thread (&h, mutex);
  PsTestOutcome r = { 0, };

  g_main_context_push_thread_default (context);
  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, NULL, on_locked, &r);
  g_main_context_pop_thread_default (context);

  /* Released while the wait's context is not running: the waiter
   * threads see it, but nothing takes it without the context. */
  g_atomic_int_set (&h.release, 1);
  g_thread_join (thread);
  g_usleep (ps_test_scaled_us (50 * 1000));
  g_assert_false (r.done);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  g_assert_true (ps_mutex_try_lock (mutex, NULL));
  g_assert_true (ps_mutex_unlock (mutex, NULL));

  /* Run at last, the context takes it for its own thread. */
  g_main_context_push_thread_default (context);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_main_context_pop_thread_default (context);
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_true (ps_mutex_unlock (mutex, NULL));
  g_main_context_unref (context);
}

static gpointer
signal_under_mutex (gpointer data)
{
  gpointer *args = data;
  PsMutex *mutex = args[0];
  PsCond *cond = args[1];

  /* The waiter released the mutex: this lock proves it. */
  g_assert_true (ps_mutex_lock (mutex, -1, NULL, NULL));
  ps_cond_signal (cond);
  g_assert_true (ps_mutex_unlock (mutex, NULL));
  return NULL;
}

static void
test_cond_signal (void)
{
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  g_autoptr(PsCond) cond = ps_cond_new (NULL);
  gpointer args[2] = { mutex, cond };
  PsTestOutcome r = { 0, };
  GThread *thread;

  g_assert_true (ps_mutex_lock (mutex, -1, NULL, NULL));
  ps_cond_wait_async (cond, mutex, PS_TIMEOUT_INFINITE, NULL, on_waited, &r);
  g_assert_cmpuint (ps_cond_get_waiter_count (cond), ==, 1);
  thread = g_thread_new ("signaller", signal_under_mutex, args);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_thread_join (thread);
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_true (r.thread == g_thread_self ());
  g_assert_cmpuint (ps_cond_get_waiter_count (cond), ==, 0);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  g_assert_true (ps_mutex_unlock (mutex, NULL));
}

static int
signal_from_child (gpointer data)
{
  gpointer *args = data;

  PS_CHILD_CHECK (ps_mutex_lock (args[0], -1, NULL, NULL));
  ps_cond_signal (args[1]);
  PS_CHILD_CHECK (ps_mutex_unlock (args[0], NULL));
  return 0;
}

static int
signal_and_die_holding (gpointer data)
{
  gpointer *args = data;

  PS_CHILD_CHECK (ps_mutex_lock (args[0], -1, NULL, NULL));
  ps_cond_signal (args[1]);
  _exit (0);
}

static void
test_cond_across_processes (void)
{
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  g_autoptr(PsCond) cond = ps_cond_new (NULL);
  gpointer args[2] = { mutex, cond };
  PsTestOutcome r = { 0, };
  pid_t pid;

  g_assert_true (ps_mutex_lock (mutex, -1, NULL, NULL));
  ps_cond_wait_async (cond, mutex, PS_TIMEOUT_INFINITE, NULL, on_waited, &r);
  pid = ps_test_fork (signal_from_child, args, ps_test_scaled_s (30));
  g_assert_true (ps_test_run_until_done (&r, 30));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  ps_test_outcome_clear (&r);

  /* The signaller dies holding the mutex: the wait ends holding it,
   * with OWNER_DEAD, as ps_cond_wait() does. */
  ps_cond_wait_async (cond, mutex, PS_TIMEOUT_INFINITE, NULL, on_waited, &r);
  pid = ps_test_fork (signal_and_die_holding, args, ps_test_scaled_s (30));
  g_assert_true (ps_test_run_until_done (&r, 30));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  g_assert_error (r.error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_assert_cmpint (ps_mutex_get_previous_owner_pid (mutex), ==, pid);
  g_assert_true (ps_mutex_mark_consistent (mutex, NULL));
  g_assert_true (ps_mutex_unlock (mutex, NULL));
  ps_test_outcome_clear (&r);
}

static void
test_cond_timeout_cancel (void)
{
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  g_autoptr(PsCond) cond = ps_cond_new (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  PsTestOutcome r = { 0, };
  gint64 start;

  g_assert_true (ps_mutex_lock (mutex, -1, NULL, NULL));

  start = g_get_monotonic_time ();
  ps_cond_wait_async (cond, mutex, 30 * 1000, NULL, on_waited, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 30 * 1000);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  ps_test_outcome_clear (&r);

  ps_cond_wait_async (cond, mutex, 0, NULL, on_waited, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  ps_test_outcome_clear (&r);

  ps_cond_wait_async (cond, mutex, PS_TIMEOUT_INFINITE, cancellable, on_waited, &r);
  ps_test_run_for (20 * 1000);
  g_assert_false (r.done);
  g_cancellable_cancel (cancellable);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (ps_cond_get_waiter_count (cond), ==, 0);
  ps_test_outcome_clear (&r);

  /* Cancelled before: the mutex is not even released. */
  ps_cond_wait_async (cond, mutex, PS_TIMEOUT_INFINITE, cancellable, on_waited, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  ps_test_outcome_clear (&r);

  /* Each ended holding the mutex again. */
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);

  /* Not held: NOT_OWNER, and nothing waits. */
  ps_cond_wait_async (cond, mutex, PS_TIMEOUT_INFINITE, NULL, on_waited, &r);
  g_assert_true (ps_test_run_until_done (&r, 10));
  g_assert_error (r.error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_assert_cmpuint (ps_cond_get_waiter_count (cond), ==, 0);
  ps_test_outcome_clear (&r);
}

/* fork() with a wait of each kind pending: the child has none pending
 * (none of them completes there) and its own waits work. */
typedef struct
{
  PsSemaphore   *sem;
  PsMutex       *mutex;
  PsCond        *cond;
  PsMutex       *cond_mutex;
  PsTestOutcome *pending;   /* three */
} ForkCase;

static int
child_after_fork (gpointer data)
{
  ForkCase *f = data;
  g_autoptr(PsMutex) mine = ps_mutex_new (NULL);
  g_autoptr(PsSemaphore) sem = ps_semaphore_new (1, NULL);
  PsTestOutcome r = { 0, };

  ps_test_run_for (50 * 1000);
  for (guint i = 0; i < 3; i++)
    PS_CHILD_CHECK (!f->pending[i].done);

  ps_semaphore_acquire_async (sem, PS_TIMEOUT_INFINITE, NULL, on_acquired, &r);
  PS_CHILD_CHECK (ps_test_run_until_done (&r, 10));
  PS_CHILD_CHECK (r.ok);
  memset (&r, 0, sizeof r);
  ps_mutex_lock_async (mine, PS_TIMEOUT_INFINITE, NULL, on_locked, &r);
  PS_CHILD_CHECK (ps_test_run_until_done (&r, 10));
  PS_CHILD_CHECK (r.ok);
  PS_CHILD_CHECK (ps_mutex_unlock (mine, NULL));
  for (guint i = 0; i < 3; i++)
    PS_CHILD_CHECK (!f->pending[i].done);
  return 0;
}

static void
test_fork_with_waits_pending (void)
{
  g_autoptr(PsSemaphore) sem = ps_semaphore_new (0, NULL);
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  g_autoptr(PsMutex) cond_mutex = ps_mutex_new (NULL);
  g_autoptr(PsCond) cond = ps_cond_new (NULL);
  PsTestOutcome pending[3] = { { 0, }, };
  ForkCase f = { sem, mutex, cond, cond_mutex, pending };
  Holder h;
  GThread *thread = hold_in_thread (&h, mutex);
  pid_t pid;

  ps_semaphore_acquire_async (sem, PS_TIMEOUT_INFINITE, NULL, on_acquired, &pending[0]);
  ps_mutex_lock_async (mutex, PS_TIMEOUT_INFINITE, NULL, on_locked, &pending[1]);
  g_assert_true (ps_mutex_lock (cond_mutex, -1, NULL, NULL));
  ps_cond_wait_async (cond, cond_mutex, PS_TIMEOUT_INFINITE, NULL, on_waited, &pending[2]);
  ps_test_run_for (10 * 1000);

  pid = ps_test_fork (child_after_fork, &f, ps_test_scaled_s (30));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));

  /* The parent's waits go on. */
  g_assert_true (ps_semaphore_release (sem, NULL));
  g_atomic_int_set (&h.release, 1);
  g_thread_join (thread);
  g_assert_true (ps_mutex_lock (cond_mutex, -1, NULL, NULL));
  ps_cond_signal (cond);
  g_assert_true (ps_mutex_unlock (cond_mutex, NULL));
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (ps_test_run_until_done (&pending[i], 10));
      g_assert_no_error (pending[i].error);
      g_assert_true (pending[i].ok);
    }
  g_assert_true (ps_mutex_unlock (mutex, NULL));
  g_assert_true (ps_mutex_unlock (cond_mutex, NULL));
}

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

#define MANY 2000

static void
test_many_pending (void)
{
  g_autoptr(PsSemaphore) sem = ps_semaphore_new (0, NULL);
  GCancellable *cancellables[MANY];
  PsTestOutcome *results = g_new0 (PsTestOutcome, MANY);
  guint threads_before = count_threads ();
  guint n_done = 0;
  /* Valgrind has no futex_waitv(2): its waits are tried every few
   * milliseconds, each. */
  guint many = ps_test_time_scale () > 1 ? MANY / 10 : MANY;
  guint one = many / 3;

  for (guint i = 0; i < many; i++)
    {
      cancellables[i] = g_cancellable_new ();
      ps_semaphore_acquire_async (sem, PS_TIMEOUT_INFINITE, cancellables[i], on_acquired,
                                  &results[i]);
    }
  ps_test_run_for (20 * 1000);
  /* 127 waits per waiter thread on Linux, none elsewhere. */
  g_assert_cmpuint (count_threads (), <=, threads_before + (many + 126) / 127);

  /* Cancelling one ends that one only. */
  g_cancellable_cancel (cancellables[one]);
  g_assert_true (ps_test_run_until_done (&results[one], 10));
  g_assert_error (results[one].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  ps_test_run_for (20 * 1000);
  for (guint i = 0; i < many; i++)
    n_done += results[i].done;
  g_assert_cmpuint (n_done, ==, 1);

  /* One release, one waiter. */
  g_assert_true (ps_semaphore_release_many (sem, 3, NULL));
  for (guint round = 0; round < 1000 && n_done < 4; round++)
    {
      ps_test_run_for (5 * 1000);
      n_done = 0;
      for (guint i = 0; i < many; i++)
        n_done += results[i].done;
    }
  g_assert_cmpuint (n_done, ==, 4);
  ps_test_run_for (20 * 1000);
  n_done = 0;
  for (guint i = 0; i < many; i++)
    n_done += results[i].done && results[i].ok;
  g_assert_cmpuint (n_done, ==, 3);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);

  for (guint i = 0; i < many; i++)
    g_cancellable_cancel (cancellables[i]);
  for (guint i = 0; i < many; i++)
    {
      g_assert_true (ps_test_run_until_done (&results[i], 10));
      g_clear_error (&results[i].error);
      g_object_unref (cancellables[i]);
    }
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
  g_free (results);
}

int
main (int argc, char **argv)
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/async/mutex/uncontended", test_mutex_uncontended);
  ps_test_add ("/async/mutex/held-by-callback-thread", test_mutex_held_by_callback_thread);
  ps_test_add ("/async/mutex/contended-by-process", test_mutex_contended_by_process);
  ps_test_add ("/async/mutex/timeout", test_mutex_timeout);
  ps_test_add ("/async/mutex/cancel", test_mutex_cancel);
  ps_test_add ("/async/mutex/owner-dead", test_mutex_owner_dead);
  ps_test_add ("/async/mutex/context-never-runs", test_mutex_context_never_runs);
  ps_test_add ("/async/cond/signal", test_cond_signal);
  ps_test_add ("/async/cond/across-processes", test_cond_across_processes);
  ps_test_add ("/async/cond/timeout-cancel", test_cond_timeout_cancel);
  ps_test_add ("/async/fork-with-waits-pending", test_fork_with_waits_pending);
  ps_test_add ("/async/many-pending", test_many_pending);

  return g_test_run ();
}
