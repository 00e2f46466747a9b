/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The portable POSIX backend.
 *
 * Ownership is a robust, process-shared pthread mutex: the C library
 * reports EOWNERDEAD to the next locker when a holder dies.
 *
 * Sleeping is the hard part. The obvious tool, a process-shared condition
 * variable next to the word, is not safe against a process killed while
 * waiting in it: glibc keeps counting the dead waiter, and the next
 * pthread_cond_broadcast() blocks for ever waiting for it to leave,
 * holding the condition's internal lock, so every later wait and wake on
 * that object hangs. POSIX offers nothing robust to sleep on across
 * processes. So a waiter here sleeps on a condition variable private to
 * its own process, with a timeout that grows from POLL_MIN_US to
 * POLL_MAX_US, and checks the shared word each time it wakes:
 *
 *  - a change made by another process is seen within POLL_MAX_US;
 *  - a change made in this process, and a cancellation, wake it at once
 *    (they broadcast the private condition, under its mutex, after
 *    changing the word or the canceller, so neither can slip between the
 *    waiter's check and its sleep);
 *  - a process that dies while waiting leaves nothing in shared memory.
 *
 * A dead lock holder is noticed the same way: sleepers retry the mutex at
 * every poll, and the first retry after a death gets EOWNERDEAD. The futex
 * backend, the default on Linux, is woken by the kernel in every case.
 */

#include <errno.h>
#include <time.h>

#include <gio/gio.h>

#include "ps-backend-private.h"

#define POLL_MIN_US 20
#define POLL_MAX_US 2000

gint ps_posix_local_sleepers;

static pthread_mutex_t local_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t local_cond;

static void
local_prepare_fork (void)
{
  pthread_mutex_lock (&local_mutex);
}

static void
local_after_fork (void)
{
  pthread_mutex_unlock (&local_mutex);
}

static void
local_after_fork_in_child (void)
{
  /* The sleepers were other threads of the parent: none exist here. */
  g_atomic_int_set (&ps_posix_local_sleepers, 0);
  pthread_mutex_unlock (&local_mutex);
}

static void
ensure_local_cond (void)
{
  static gsize initialised;

  if (g_once_init_enter (&initialised))
    {
      pthread_condattr_t attr;

      pthread_condattr_init (&attr);
      pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
      pthread_cond_init (&local_cond, &attr);
      pthread_condattr_destroy (&attr);
      pthread_atfork (local_prepare_fork, local_after_fork, local_after_fork_in_child);
      g_once_init_leave (&initialised, 1);
    }
}

void
ps_posix_wake_local_sleepers (void)
{
  ensure_local_cond ();
  pthread_mutex_lock (&local_mutex);
  pthread_cond_broadcast (&local_cond);
  pthread_mutex_unlock (&local_mutex);
}

/* The condition a sleeper waits for, checked under local_mutex. */
typedef gboolean (*WakeCheck) (gpointer data);

static PsWaitStatus
sleep_until (WakeCheck     check,
             gpointer      data,
             gint64        deadline,
             gint64        poll_limit_us,
             PsCanceller  *canceller)
{
  PsWaitStatus status = PS_WAIT_WOKEN;
  gint64 interval = POLL_MIN_US;

  ensure_local_cond ();

  pthread_mutex_lock (&local_mutex);
  g_atomic_int_inc (&ps_posix_local_sleepers);

  while (!check (data))
    {
      gint64 now = g_get_monotonic_time ();
      gint64 until = now + MIN (interval, poll_limit_us);
      struct timespec ts;

      if (canceller != NULL && g_atomic_int_get (&canceller->fired))
        {
          status = PS_WAIT_CANCELLED;
          break;
        }
      if (deadline >= 0 && now >= deadline)
        {
          status = PS_WAIT_TIMED_OUT;
          break;
        }
      if (deadline >= 0 && deadline < until)
        until = deadline;

      ts.tv_sec = until / G_USEC_PER_SEC;
      ts.tv_nsec = (until % G_USEC_PER_SEC) * 1000;
      pthread_cond_timedwait (&local_cond, &local_mutex, &ts);
      interval = MIN (interval * 2, POLL_MAX_US);
    }

  g_atomic_int_dec_and_test (&ps_posix_local_sleepers);
  pthread_mutex_unlock (&local_mutex);
  return status;
}

gboolean
ps_wait_word_init (PsWaitWord *word,
                   guint32     value,
                   GError    **error)
{
  g_atomic_int_set (&word->value, value);
  return TRUE;
}

typedef struct
{
  PsWaitWord *word;
  guint32     expected;
} WordCheck;

static gboolean
word_changed (gpointer data)
{
  WordCheck *check = data;

  return (guint32) g_atomic_int_get (&check->word->value) != check->expected;
}

PsWaitStatus
ps_wait_word_wait (PsWaitWord  *word,
                   guint32      expected,
                   gint64       deadline,
                   PsCanceller *canceller)
{
  WordCheck check = { word, expected };

  return sleep_until (word_changed, &check, deadline, POLL_MAX_US, canceller);
}

void
ps_wait_word_wake (PsWaitWord *word,
                   gboolean    all)
{
  /* Sleepers in other processes see the change at their next poll. */
  if (g_atomic_int_get (&ps_posix_local_sleepers) > 0)
    ps_posix_wake_local_sleepers ();
}

void
ps_canceller_init (PsCanceller *canceller)
{
  canceller->fired = 0;
}

void
ps_canceller_fire (PsCanceller *canceller)
{
  g_atomic_int_set (&canceller->fired, 1);
  ps_posix_wake_local_sleepers ();
}

/* Robust locks ----------------------------------------------------------- */

#ifdef __GLIBC__
/* glibc's __kind for a robust process-shared error-checking mutex; -1
 * until learnt, which happens before any lock exists in this process (and
 * is inherited). */
int ps_pthread_lock_kind = -1;

void
ps_pthread_lock_learn_kind (void)
{
  static gsize learnt;

  if (g_once_init_enter (&learnt))
    {
      pthread_mutexattr_t attr;
      pthread_mutex_t probe;

      pthread_mutexattr_init (&attr);
      pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
      pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
      pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK);
      pthread_mutex_init (&probe, &attr);
      pthread_mutexattr_destroy (&attr);
      ps_pthread_lock_kind = probe.__data.__kind;
      pthread_mutex_destroy (&probe);
      g_once_init_leave (&learnt, 1);
    }
}
#endif

gboolean
ps_robust_lock_init (PsRobustLock *lock,
                     gboolean      recursive,
                     GError      **error)
{
  pthread_mutexattr_t attr;
  int r;

  /* Error-checking even for a recursive PsMutex, which counts relocks
   * itself: a lock word forged to name the caller is then refused. */
  ps_pthread_lock_learn_kind ();
  pthread_mutexattr_init (&attr);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK);
  r = pthread_mutex_init (&lock->mutex, &attr);
  pthread_mutexattr_destroy (&attr);

  if (r != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (r),
                   "Could not initialise a process-shared mutex: %s", g_strerror (r));
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  PsRobustLock *lock;
  PsLockStatus  status;
} LockCheck;

static gboolean
lock_taken (gpointer data)
{
  LockCheck *check = data;

  check->status = ps_robust_lock_try (check->lock);
  return check->status != PS_LOCK_BUSY;
}

PsLockStatus
ps_robust_lock_wait (PsRobustLock *lock,
                     gint64        deadline,
                     PsCanceller  *canceller)
{
  LockCheck check = { lock, PS_LOCK_BUSY };
  PsWaitStatus status;

  status = sleep_until (lock_taken, &check, deadline, POLL_MAX_US, canceller);
  if (status == PS_WAIT_CANCELLED)
    return PS_LOCK_CANCELLED;
  if (status == PS_WAIT_TIMED_OUT)
    return PS_LOCK_TIMED_OUT;
  return check.status;
}

void
ps_robust_lock_make_consistent (PsRobustLock *lock)
{
  pthread_mutex_consistent (&lock->mutex);
}

gboolean
ps_robust_lock_check (PsRobustLock *lock,
                      gboolean      recursive)
{
  /* Where the layout is known, a foreign kind is refused; elsewhere POSIX
   * keeps pthread_mutex_t opaque and there is nothing to look at. */
  ps_pthread_lock_learn_kind ();
  return ps_pthread_lock_kind_is_ours (&lock->mutex);
}

const char *
ps_backend_name (void)
{
  return "posix";
}
