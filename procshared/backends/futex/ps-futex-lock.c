/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The futex backend (Linux): ownership.
 *
 * Ownership is a robust lock of our own over the kernel's robust futex
 * ABI: a word holding the holder's TID, FUTEX_WAITERS and
 * FUTEX_OWNER_DIED, and an entry on the holder thread's robust list, the
 * list glibc registers with the kernel for its own robust mutexes. When
 * the holder dies, the kernel marks the word FUTEX_OWNER_DIED and wakes a
 * waiter. Being ours rather than pthread_mutex_lock()'s, the lock path
 * costs little more than a compare-and-swap, its waits can be cancelled,
 * and the list links, which live in shared memory, are checked against
 * what we privately know before we write through them.
 */

#include <linux/futex.h>
#include <string.h>

#include "ps-backend-private.h"
#include "ps-futex-lock.h"
#include "ps-futex-wait.h"

#define LOST_WAKE_GUARD_US (50 * 1000)

/* How many times a word that keeps changing under a compare-and-swap is
 * tried before the lock is called busy: only a peer writing the word in
 * a loop gets there. */
#define MAX_WORD_RACES 1000

PsLockStatus
ps_futex_try_slow (PsFutexThread *me,
                   PsRobustLock  *lock,
                   guint32        seen)
{
  PsLockStatus status = PS_LOCK_BUSY;

  for (guint races = 0; races < MAX_WORD_RACES; races++)
    {
      guint32 holder = seen & FUTEX_TID_MASK;

      if (holder == me->tid)
        {
          /* PsMutex counts relocks itself, and never asks for one. */
          status = PS_LOCK_WOULD_DEADLOCK;
          break;
        }
      if (holder != 0)
        break;
      /* Free, perhaps left by a holder who died (FUTEX_OWNER_DIED); keep
       * FUTEX_WAITERS so that our unlock wakes whoever sleeps. */
      if (__atomic_compare_exchange_n (&lock->word, &seen, me->tid | (seen & FUTEX_WAITERS),
                                       FALSE, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        {
          ps_futex_link (me, lock);
          status = (seen & FUTEX_OWNER_DIED) ? PS_LOCK_OWNER_DIED : PS_LOCK_ACQUIRED;
          break;
        }
    }
  ps_futex_set_pending (me, NULL);
  return status;
}

PsLockStatus
ps_futex_unlock_slow (PsFutexThread *me,
                      PsRobustLock  *lock,
                      gboolean       unlinked)
{
  guint32 seen = __atomic_load_n (&lock->word, __ATOMIC_RELAXED);
  PsLockStatus status = PS_LOCK_CORRUPT;

  /* An entry we could not take off our list stays held: freed, it could
   * be taken and relinked by another thread while still on ours. The
   * kernel marks it FUTEX_OWNER_DIED when this thread ends; meanwhile
   * PsMutex reports it corrupt and keeps its memory mapped. */
  if (!unlinked)
    {
      ps_futex_set_pending (me, NULL);
      return PS_LOCK_CORRUPT;
    }

  for (guint races = 0; races < MAX_WORD_RACES; races++)
    {
      if ((seen & FUTEX_TID_MASK) != me->tid)
        break;   /* a peer rewrote the word: it is no longer ours to free */
      if (__atomic_compare_exchange_n (&lock->word, &seen, 0, FALSE,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        {
          if (seen & FUTEX_WAITERS)
            ps_futex_wake (&lock->word, 1, FALSE);
          status = PS_LOCK_ACQUIRED;
          break;
        }
    }
  ps_futex_set_pending (me, NULL);
  return status;
}

gboolean
ps_robust_lock_check (PsRobustLock *lock,
                      gboolean      recursive)
{
  return __atomic_load_n (&lock->kind, __ATOMIC_RELAXED) == (PS_FUTEX_LOCK_KIND | (recursive ? 1 : 0));
}

gboolean
ps_robust_lock_init (PsRobustLock *lock,
                     gboolean      recursive,
                     GError      **error)
{
  ps_futex_self ();
  memset (lock, 0, sizeof *lock);
  lock->kind = PS_FUTEX_LOCK_KIND | (recursive ? 1 : 0);
  return TRUE;
}

PsLockStatus
ps_robust_lock_wait (PsRobustLock *lock,
                     gint64        deadline,
                     PsCanceller  *canceller)
{
  PsFutexThread *me = ps_futex_self ();
  gboolean slept = FALSE;
  guint races = 0;

  /* Announced for the whole wait: if this thread is killed after an
   * unlock woke it and before it took the lock, the kernel finds the
   * word free and wakes another waiter in its place. */
  ps_futex_set_pending (me, &lock->list_next);

  for (;;)
    {
      guint32 seen = __atomic_load_n (&lock->word, __ATOMIC_RELAXED);
      guint32 holder = seen & FUTEX_TID_MASK;
      PsWaitStatus wait_status;
      gint64 sleep_until;

      if (holder == 0 || holder == me->tid)
        {
          guint32 taken;

          if (holder == me->tid)
            return ps_futex_try_slow (me, lock, seen);
          /* Once we have slept, others may sleep too: take it with
           * FUTEX_WAITERS so that our unlock wakes the next one. */
          taken = me->tid | (slept ? FUTEX_WAITERS : (seen & FUTEX_WAITERS));
          if (__atomic_compare_exchange_n (&lock->word, &seen, taken, FALSE,
                                           __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            {
              ps_futex_link (me, lock);
              ps_futex_set_pending (me, NULL);
              return (seen & FUTEX_OWNER_DIED) ? PS_LOCK_OWNER_DIED : PS_LOCK_ACQUIRED;
            }
          /* Lost a race. Only a peer rewriting the word in a loop makes
           * that endless; the deadline still holds then. */
          if (++races % 64 == 0 && deadline >= 0 && g_get_monotonic_time () >= deadline)
            {
              ps_futex_set_pending (me, NULL);
              return PS_LOCK_TIMED_OUT;
            }
          continue;
        }

      if ((seen & FUTEX_WAITERS) == 0)
        {
          if (!__atomic_compare_exchange_n (&lock->word, &seen, seen | FUTEX_WAITERS, FALSE,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            continue;
          seen |= FUTEX_WAITERS;
        }

      /* A safety net, not the way we are normally woken. An unlock or the
       * kernel wakes one sleeper; if that one is killed before it takes
       * the lock and another thread took it meanwhile without
       * FUTEX_WAITERS, nobody is left to wake the rest: they look again
       * after LOST_WAKE_GUARD_US. */
      sleep_until = g_get_monotonic_time () + LOST_WAKE_GUARD_US;
      if (deadline >= 0 && deadline < sleep_until)
        sleep_until = deadline;

      wait_status = ps_futex_wait_until (&lock->word, seen, sleep_until, canceller);
      slept = TRUE;

      if (wait_status == PS_WAIT_TIMED_OUT && sleep_until != deadline)
        continue;

      if (wait_status != PS_WAIT_WOKEN)
        {
          guint32 now_seen = __atomic_load_n (&lock->word, __ATOMIC_RELAXED);

          ps_futex_set_pending (me, NULL);
          /* A release or an owner death wakes one waiter only, and the
           * kernel reports a cancellation even when that wake-up came
           * with it: if it was ours, hand it on. A free lock gets a wake;
           * one another thread took meanwhile, perhaps without
           * FUTEX_WAITERS, gets that bit, so its unlock wakes the rest. */
          if ((now_seen & FUTEX_TID_MASK) == 0)
            ps_futex_wake (&lock->word, 1, FALSE);
          else if ((now_seen & FUTEX_WAITERS) == 0)
            __atomic_compare_exchange_n (&lock->word, &now_seen, now_seen | FUTEX_WAITERS, FALSE,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED);
          return wait_status == PS_WAIT_CANCELLED ? PS_LOCK_CANCELLED : PS_LOCK_TIMED_OUT;
        }
    }
}

void
ps_robust_lock_make_consistent (PsRobustLock *lock)
{
  /* FUTEX_OWNER_DIED goes when the word is taken; PsMutex keeps the
   * consistency state itself. */
}
