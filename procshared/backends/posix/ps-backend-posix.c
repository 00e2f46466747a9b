/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The portable POSIX backend.
 *
 * A PsWaitWord carries its own process-shared mutex and condition
 * variable (on CLOCK_MONOTONIC). A waiter checks the value and its
 * canceller under that mutex and sleeps on the condition; a waker (or a
 * canceller) changes the value first, then broadcasts under the mutex, so
 * a change can never fall between a waiter's check and its sleep.
 *
 * Ownership is a robust process-shared pthread mutex. A thread blocked on
 * it cannot be woken by a cancellation, so blockers sleep on the
 * `released` word instead, which every unlock that sees waiters bumps.
 * POSIX gives no notification when a holder dies, so sleepers also retry
 * the mutex every DEATH_POLL_US: the first retry after a death returns
 * EOWNERDEAD. Cancellation and release still wake them at once.
 */

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>

#include "ps-backend-private.h"

#define DEATH_POLL_US (20 * 1000)

static int
lock_guard (pthread_mutex_t *mutex)
{
  int r = pthread_mutex_lock (mutex);

  /* The guard only ever protects a sleep, never data: a holder that died
   * left nothing to repair. */
  if (r == EOWNERDEAD)
    {
      pthread_mutex_consistent (mutex);
      r = 0;
    }
  return r;
}

static gboolean
init_shared_mutex (pthread_mutex_t *mutex,
                   int              type,
                   GError         **error)
{
  pthread_mutexattr_t attr;
  int r;

  pthread_mutexattr_init (&attr);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_settype (&attr, type);
  r = pthread_mutex_init (mutex, &attr);
  pthread_mutexattr_destroy (&attr);

  if (r != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (r),
                   "Could not initialise a process-shared mutex: %s", g_strerror (r));
      return FALSE;
    }
  return TRUE;
}

gboolean
ps_wait_word_init (PsWaitWord *word,
                   guint32     value,
                   GError    **error)
{
  pthread_condattr_t attr;
  int r;

  if (!init_shared_mutex (&word->mutex, PTHREAD_MUTEX_NORMAL, error))
    return FALSE;

  pthread_condattr_init (&attr);
  pthread_condattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  r = pthread_cond_init (&word->cond, &attr);
  pthread_condattr_destroy (&attr);
  if (r != 0)
    {
      pthread_mutex_destroy (&word->mutex);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (r),
                   "Could not initialise a process-shared condition: %s", g_strerror (r));
      return FALSE;
    }

  g_atomic_int_set (&word->value, value);
  return TRUE;
}

void
ps_wait_word_destroy (PsWaitWord *word)
{
  pthread_cond_destroy (&word->cond);
  pthread_mutex_destroy (&word->mutex);
}

PsWaitStatus
ps_wait_word_wait (PsWaitWord  *word,
                   guint32      expected,
                   gint64       deadline,
                   PsCanceller *canceller)
{
  PsWaitStatus status = PS_WAIT_WOKEN;
  struct timespec ts;

  if (deadline >= 0)
    {
      ts.tv_sec = deadline / G_USEC_PER_SEC;
      ts.tv_nsec = (deadline % G_USEC_PER_SEC) * 1000;
    }

  if (canceller != NULL)
    g_atomic_pointer_set (&canceller->word, word);

  if (lock_guard (&word->mutex) != 0)
    return PS_WAIT_WOKEN;

  while ((guint32) g_atomic_int_get (&word->value) == expected)
    {
      int r;

      if (canceller != NULL && g_atomic_int_get (&canceller->fired))
        {
          status = PS_WAIT_CANCELLED;
          break;
        }
      if (deadline >= 0)
        r = pthread_cond_timedwait (&word->cond, &word->mutex, &ts);
      else
        r = pthread_cond_wait (&word->cond, &word->mutex);
      if (r == EOWNERDEAD)
        pthread_mutex_consistent (&word->mutex);
      else if (r == ETIMEDOUT)
        {
          if ((guint32) g_atomic_int_get (&word->value) == expected)
            status = PS_WAIT_TIMED_OUT;
          break;
        }
    }

  pthread_mutex_unlock (&word->mutex);

  if (canceller != NULL)
    g_atomic_pointer_set (&canceller->word, NULL);

  return status;
}

void
ps_wait_word_wake (PsWaitWord *word,
                   gboolean    all)
{
  if (lock_guard (&word->mutex) != 0)
    return;
  if (all)
    pthread_cond_broadcast (&word->cond);
  else
    pthread_cond_signal (&word->cond);
  pthread_mutex_unlock (&word->mutex);
}

void
ps_canceller_init (PsCanceller *canceller)
{
  canceller->fired = 0;
  canceller->word = NULL;
}

void
ps_canceller_fire (PsCanceller *canceller)
{
  PsWaitWord *word;

  g_atomic_int_set (&canceller->fired, 1);
  /* The waiter publishes its word before checking `fired` under the
   * word's mutex; broadcasting under that mutex cannot miss it. */
  word = g_atomic_pointer_get (&canceller->word);
  if (word != NULL)
    ps_wait_word_wake (word, TRUE);
}

/* Robust locks ----------------------------------------------------------- */

gboolean
ps_robust_lock_init (PsRobustLock *lock,
                     gboolean      recursive,
                     GError      **error)
{
  if (!init_shared_mutex (&lock->mutex,
                          recursive ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_ERRORCHECK,
                          error))
    return FALSE;
  lock->waiters = 0;
  if (!ps_wait_word_init (&lock->released, 0, error))
    {
      pthread_mutex_destroy (&lock->mutex);
      return FALSE;
    }
  return TRUE;
}

void
ps_robust_lock_destroy (PsRobustLock *lock)
{
  ps_wait_word_destroy (&lock->released);
  pthread_mutex_destroy (&lock->mutex);
}

PsLockStatus
ps_robust_lock_wait (PsRobustLock *lock,
                     gint64        deadline,
                     PsCanceller  *canceller)
{
  PsLockStatus status;

  g_atomic_int_inc (&lock->waiters);
  for (;;)
    {
      /* Read the release count before trying: a release after the try
       * changes it, so the sleep below returns at once. */
      guint32 seen = (guint32) g_atomic_int_get (&lock->released.value);
      gint64 poll_deadline;
      PsWaitStatus wait_status;

      status = ps_robust_lock_try (lock);
      if (status != PS_LOCK_BUSY)
        break;

      poll_deadline = g_get_monotonic_time () + DEATH_POLL_US;
      if (deadline >= 0 && deadline < poll_deadline)
        poll_deadline = deadline;

      wait_status = ps_wait_word_wait (&lock->released, seen, poll_deadline, canceller);
      if (wait_status == PS_WAIT_CANCELLED)
        {
          /* An unlock wakes one sleeper; if that was us, pass it on. */
          if (g_atomic_int_get (&lock->waiters) > 1)
            ps_wait_word_wake (&lock->released, FALSE);
          status = PS_LOCK_CANCELLED;
          break;
        }
      if (wait_status == PS_WAIT_TIMED_OUT && poll_deadline == deadline)
        {
          status = ps_robust_lock_try (lock);
          if (status == PS_LOCK_BUSY)
            {
              if (g_atomic_int_get (&lock->waiters) > 1)
                ps_wait_word_wake (&lock->released, FALSE);
              status = PS_LOCK_TIMED_OUT;
            }
          break;
        }
    }
  g_atomic_int_dec_and_test (&lock->waiters);
  return status;
}

void
ps_posix_lock_wake_waiter (PsRobustLock *lock)
{
  g_atomic_int_inc (&lock->released.value);
  ps_wait_word_wake (&lock->released, FALSE);
}

void
ps_robust_lock_make_consistent (PsRobustLock *lock)
{
  pthread_mutex_consistent (&lock->mutex);
}

guint64
ps_backend_thread_id (void)
{
  /* Unique among the live threads of this process; the classes pair it
   * with the pid. */
  return (guint64) (guintptr) pthread_self ();
}

const char *
ps_backend_name (void)
{
  return "posix";
}
