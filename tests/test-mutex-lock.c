/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Locking a PsMutex: who may unlock it, relocking and recursion,
 * timeouts, cancellation, and counters that many processes increment
 * under the lock.
 */

#include <sched.h>

#include "ps-test-mutex.h"

#define N_COUNTER_PROCS   10
#define N_COUNTER_ITERS   1000
#define CANCEL_BOUND_US   (50 * 1000)

/* Ownership ----------------------------------------------------------------- */

static void
test_not_owner_nobody (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(PsMutex) recursive = new_mutex (TRUE);

  assert_unlock_not_owner (mutex);
  assert_unlock_not_owner (recursive);
  /* Nothing changed: it is still free for anyone. */
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_lock (mutex);
  assert_unlock (mutex);
  assert_unlock_not_owner (mutex);
}

static void
test_not_owner_other_thread (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  Waiter waiter = { .mutex = mutex };
  Waiter locker = { .mutex = mutex, .how = HOW_ZERO };

  assert_lock (mutex);
  run_in_thread (unlock_thread, &waiter);
  g_assert_false (waiter.result);
  g_assert_error (waiter.error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_assert_cmpint (waiter.owner_after, ==, getpid ());
  waiter_clear (&waiter);

  /* Same process, other thread: busy, not a relock. */
  assert_busy_for_other_thread (mutex);
  run_in_thread (lock_thread, &locker);
  g_assert_false (locker.result);
  g_assert_error (locker.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  waiter_clear (&locker);

  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_unlock (mutex);
}

static int
unlock_not_owner_child (gpointer data)
{
  ForkArgs *args = data;
  g_autoptr(GError) error = NULL;

  if (ps_mutex_unlock (args->mutex, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 1;
  g_clear_error (&error);
  if (ps_mutex_mark_consistent (args->mutex, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 2;
  if (ps_mutex_get_owner_pid (args->mutex) != args->parent)
    return 3;
  return 0;
}

static void
test_not_owner_other_process (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  ForkArgs args = { mutex, shared, getpid () };
  pid_t pid;

  /* A child cannot unlock the parent's lock... */
  assert_lock (mutex);
  ps_test_reap_ok (ps_test_fork (unlock_not_owner_child, &args, ps_test_scaled_s (30)),
                   ps_test_scaled_s (30));
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_busy_for_other_process (mutex, getpid ());
  assert_unlock (mutex);

  /* ...nor the parent the child's. */
  pid = fork_step_holder (mutex, shared);
  assert_unlock_not_owner (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  assert_busy_for_other_thread (mutex);
  release_step_holder (shared, pid);   /* the child's own unlock still works */
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
}

static void
test_relock_would_deadlock (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  assert_lock (mutex);

  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_mutex_lock (mutex, 10 * G_USEC_PER_SEC, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, cancellable, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_mutex_try_lock (mutex, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);

  /* Still held, once: one unlock frees it. */
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_busy_for_other_process (mutex, getpid ());
  assert_last_unlock_frees (mutex);
}

/* Recursion ----------------------------------------------------------------- */

static int
recursive_busy_child (gpointer data)
{
  ForkArgs *args = data;
  g_autoptr(GError) error = NULL;

  if (ps_mutex_get_owner_pid (args->mutex) != args->parent)
    return 1;
  if (ps_mutex_try_lock (args->mutex, &error) || error != NULL)
    return 2;
  if (ps_mutex_lock (args->mutex, 1000, NULL, &error) ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return 3;
  return 0;
}

static void
test_recursive_nested (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (TRUE);
  g_autoptr(GError) error = NULL;
  ForkArgs args = { mutex, NULL, getpid () };
  Waiter waiter = { .mutex = mutex };
  guint depth;

  assert_lock (mutex);
  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_lock (mutex, G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  assert_lock (mutex);
  depth = 5;

  while (depth > 1)
    {
      /* Held by us against everyone else until the last unlock. */
      g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
      assert_busy_for_other_thread (mutex);
      run_in_thread (unlock_thread, &waiter);
      g_assert_false (waiter.result);
      g_assert_error (waiter.error, PS_ERROR, PS_ERROR_NOT_OWNER);
      waiter_clear (&waiter);
      if (depth == 2)
        ps_test_reap_ok (ps_test_fork (recursive_busy_child, &args, ps_test_scaled_s (30)),
                         ps_test_scaled_s (30));
      assert_unlock (mutex);
      depth--;
    }

  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_busy_for_other_thread (mutex);
  assert_last_unlock_frees (mutex);
}

/* Timeouts ------------------------------------------------------------------ */

static void
test_timeout_zero (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(PsMutex) recursive = new_mutex (TRUE);
  g_autoptr(GError) error = NULL;
  pid_t pid;

  pid = fork_step_holder (mutex, shared);
  g_assert_false (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  release_step_holder (shared, pid);

  pid = fork_step_holder (recursive, shared);
  g_assert_false (ps_mutex_lock (recursive, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  release_step_holder (shared, pid);
}

static void
test_timeout_never_early (void)
{
  static const gint64 timeouts[] = { 1, 999, 10 * 1000, 50 * 1000, 200 * 1000 };
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  pid_t pid;
  guint i;

  pid = fork_step_holder (mutex, shared);
  for (i = 0; i < G_N_ELEMENTS (timeouts) * 2; i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 timeout = timeouts[i / 2];
      gint64 start = g_get_monotonic_time ();
      gboolean ok;

      ok = ps_mutex_lock (mutex, timeout, i % 2 ? cancellable : NULL, &error);
      g_assert_cmpint (g_get_monotonic_time () - start, >=, timeout);
      g_assert_false (ok);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
    }
  release_step_holder (shared, pid);
}

/* A timed or infinite lock is woken by an unlock in another process. */
typedef struct
{
  PsMutex *mutex;
  Shared  *shared;
} UnlockLaterArgs;

static int
unlock_later_child (gpointer data)
{
  UnlockLaterArgs *args = data;

  if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 1;
  args->shared->counter = 0;
  g_atomic_int_set (&args->shared->step, 1);
  /* Unlock once the parent sleeps on the lock. */
  if (!ps_test_wait_int (&args->shared->go, 1, 30))
    return 2;
  args->shared->counter = 99;
  if (!ps_mutex_unlock (args->mutex, NULL))
    return 3;
  return 0;
}

typedef struct
{
  gint  *flag;
  pid_t  tid;
} BlockedArgs;

static gpointer
signal_when_blocked_thread (gpointer data)
{
  BlockedArgs *args = data;

  ps_test_wait_until_blocked (getpid (), args->tid);
  g_atomic_int_set (args->flag, 1);
  return NULL;
}

static void
check_woken_by_unlock (gint64 timeout_us)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  UnlockLaterArgs args = { mutex, shared };
  BlockedArgs blocked = { &shared->go, gettid () };
  GThread *watcher;
  pid_t pid;
  gint64 start;

  pid = ps_test_fork (unlock_later_child, &args, ps_test_scaled_s (60));
  assert_wait_int (&shared->step, 1);

  watcher = g_thread_new ("watcher", signal_when_blocked_thread, &blocked);
  start = g_get_monotonic_time ();
  g_assert_true (ps_mutex_lock (mutex, timeout_us, cancellable, &error));
  g_assert_no_error (error);
  g_thread_join (watcher);
  if (timeout_us > 0)
    g_assert_cmpint (g_get_monotonic_time () - start, <,
                     MIN (timeout_us, ps_test_scaled_us (30 * G_USEC_PER_SEC)));
  g_assert_cmpint (shared->counter, ==, 99);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_unlock (mutex);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
}

static void
test_timeout_infinite_woken (void)
{
  check_woken_by_unlock (PS_TIMEOUT_INFINITE);
}

static void
test_timeout_positive_woken (void)
{
  check_woken_by_unlock (ps_test_scaled_us (30 * G_USEC_PER_SEC));
}

/* A deadline past the end of the clock waits, rather than overflowing
 * into the past. */
static void
test_timeout_huge_woken (void)
{
  check_woken_by_unlock (G_MAXINT64);
}

/* Cancellation -------------------------------------------------------------- */

static void
test_cancel_already_cancelled (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  static const gint64 timeouts[] = { PS_TIMEOUT_INFINITE, 0, 30 * G_USEC_PER_SEC };
  pid_t pid;
  guint i;

  g_cancellable_cancel (cancellable);

  /* A free mutex is not taken... */
  for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (ps_mutex_lock (mutex, timeouts[i], cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
      assert_unlock_not_owner (mutex);
    }
  assert_free_for_other_process (mutex);

  /* ...and a busy one is not waited for. */
  pid = fork_step_holder (mutex, shared);
  for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (ps_mutex_lock (mutex, timeouts[i], cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    }
  release_step_holder (shared, pid);

  assert_lock (mutex);
  assert_unlock (mutex);
}

typedef struct
{
  GCancellable *cancellable;
  pid_t         tid;
  gint64        cancel_time;
} CancelArgs;

static gpointer
cancel_when_blocked_thread (gpointer data)
{
  CancelArgs *args = data;

  ps_test_wait_until_blocked (getpid (), args->tid);
  args->cancel_time = g_get_monotonic_time ();
  g_cancellable_cancel (args->cancellable);
  return NULL;
}

static void
test_cancel_wakes_blocked (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  pid_t pid;
  guint round;

  pid = fork_step_holder (mutex, shared);

  /* Twice, the second time with the cancellable reset: what the first
   * wait connected to it must not get in the way. */
  for (round = 0; round < 2; round++)
    {
      g_autoptr(GError) error = NULL;
      CancelArgs args = { cancellable, gettid (), 0 };
      GThread *canceller;
      gint64 start, end;

      g_cancellable_reset (cancellable);
      canceller = g_thread_new ("canceller", cancel_when_blocked_thread, &args);
      start = g_get_monotonic_time ();
      g_assert_false (ps_mutex_lock (mutex, 30 * G_USEC_PER_SEC, cancellable, &error));
      end = g_get_monotonic_time ();
      g_thread_join (canceller);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      g_assert_cmpint (args.cancel_time, >, start);
      g_assert_cmpint (end - args.cancel_time, <=, ps_test_scaled_us (CANCEL_BOUND_US));

      /* The cancelled waiter does not hold it; the holder still does. */
      g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
      assert_unlock_not_owner (mutex);
      g_assert_false (ps_mutex_try_lock (mutex, &error));
      g_assert_no_error (error);
    }

  release_step_holder (shared, pid);
  assert_lock (mutex);
  assert_unlock (mutex);
}

/* A cancelled waiter must not swallow the wake-up meant for another. */
static void
test_cancel_other_waiter_still_woken (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  WaitChildArgs wait_args = { mutex, shared };
  CancelArgs args = { cancellable, gettid (), 0 };
  GThread *canceller;
  pid_t holder, waiter;

  holder = fork_step_holder (mutex, shared);
  waiter = ps_test_fork (waiting_locker_child, &wait_args, ps_test_scaled_s (60));
  assert_wait_int (&shared->ready, 1);
  ps_test_wait_until_blocked (waiter, waiter);

  canceller = g_thread_new ("canceller", cancel_when_blocked_thread, &args);
  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, cancellable, &error));
  g_thread_join (canceller);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  release_step_holder (shared, holder);
  ps_test_reap_ok (waiter, ps_test_scaled_s (10));
  g_assert_cmpint (shared->plain, ==, 1);
  g_assert_cmpint (shared->owner_dead, ==, 0);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
}

/* Counters ------------------------------------------------------------------ */

typedef struct
{
  PsMutex *mutex;
  Shared  *shared;
  gint     delta;
  gboolean nested;
} CounterArgs;

static int
counter_child (gpointer data)
{
  CounterArgs *args = data;
  guint i;

  if (!ps_test_wait_int (&args->shared->go, 1, 30))
    return 1;
  for (i = 0; i < N_COUNTER_ITERS; i++)
    {
      if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
        return 2;
      if (args->nested && !ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
        return 3;
      critical_section (args->shared, args->delta, i);
      if (args->nested && !ps_mutex_unlock (args->mutex, NULL))
        return 4;
      if (!ps_mutex_unlock (args->mutex, NULL))
        return 5;
    }
  return 0;
}

static void
test_counter (gconstpointer data)
{
  gboolean recursive = GPOINTER_TO_INT (data);
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (recursive);
  pid_t pids[N_COUNTER_PROCS];
  guint i;

  for (i = 0; i < N_COUNTER_PROCS; i++)
    {
      CounterArgs args = { mutex, shared, i % 2 ? -1 : 1, recursive };

      pids[i] = ps_test_fork (counter_child, &args, ps_test_scaled_s (120));
    }
  g_atomic_int_set (&shared->go, 1);
  for (i = 0; i < N_COUNTER_PROCS; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (120));

  g_assert_cmpint (shared->violations, ==, 0);
  g_assert_cmpint (shared->counter, ==, 0);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
}

/* Main ---------------------------------------------------------------------- */

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);
  ps_test_watchdog (ps_test_scaled_s (170));

  ps_test_add ("/mutex/not-owner/nobody", test_not_owner_nobody);
  ps_test_add ("/mutex/not-owner/other-thread", test_not_owner_other_thread);
  ps_test_add ("/mutex/not-owner/other-process", test_not_owner_other_process);
  ps_test_add ("/mutex/relock/would-deadlock", test_relock_would_deadlock);
  ps_test_add ("/mutex/recursive/nested", test_recursive_nested);

  ps_test_add ("/mutex/timeout/zero", test_timeout_zero);
  ps_test_add ("/mutex/timeout/never-early", test_timeout_never_early);
  ps_test_add ("/mutex/timeout/infinite-woken-by-unlock", test_timeout_infinite_woken);
  ps_test_add ("/mutex/timeout/positive-woken-by-unlock", test_timeout_positive_woken);
  ps_test_add ("/mutex/timeout/huge-woken-by-unlock", test_timeout_huge_woken);

  ps_test_add ("/mutex/cancel/already-cancelled", test_cancel_already_cancelled);
  ps_test_add ("/mutex/cancel/wakes-blocked", test_cancel_wakes_blocked);
  ps_test_add ("/mutex/cancel/other-waiter-still-woken", test_cancel_other_waiter_still_woken);

  ps_test_add_data ("/mutex/counter/plain", test_counter, GINT_TO_POINTER (FALSE));
  ps_test_add_data ("/mutex/counter/recursive", test_counter, GINT_TO_POINTER (TRUE));

  return g_test_run ();
}
