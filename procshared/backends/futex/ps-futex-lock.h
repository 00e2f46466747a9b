/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* The lock protocol over the robust list: the holder's TID in the lock
 * word, taken and released with a compare-and-swap while the entry is
 * linked and unlinked. The uncontended paths are inline, since an
 * uncontended lock must cost little more than the platform's own; the
 * rest is in ps-futex-lock.c. */

#include <glib.h>

#include "ps-backend-common-private.h"
#include "ps-futex-robust-list.h"

PsLockStatus ps_futex_try_slow    (PsFutexThread *me,
                                   PsRobustLock  *lock,
                                   guint32        seen);
PsLockStatus ps_futex_unlock_slow (PsFutexThread *me,
                                   PsRobustLock  *lock,
                                   gboolean       unlinked);

static inline PsLockStatus
ps_robust_lock_try (struct _PsRobustLock *lock)
{
  PsFutexThread *me = ps_futex_self ();
  guint32 seen = 0;

  if (G_UNLIKELY ((__atomic_load_n (&lock->kind, __ATOMIC_RELAXED) | 1) != (PS_FUTEX_LOCK_KIND | 1)))
    return PS_LOCK_CORRUPT;

  /* Announced first, so that dying between taking the word and linking
   * it still lets the kernel find it. */
  ps_futex_set_pending (me, &lock->list_next);
  if (G_LIKELY (__atomic_compare_exchange_n (&lock->word, &seen, me->tid, FALSE,
                                             __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)))
    {
      ps_futex_link (me, lock);
      ps_futex_set_pending (me, NULL);
      return PS_LOCK_ACQUIRED;
    }
  return ps_futex_try_slow (me, lock, seen);
}

static inline PsLockStatus
ps_robust_lock_unlock (struct _PsRobustLock *lock)
{
  PsFutexThread *me = ps_futex_self ();
  gboolean unlinked;
  guint32 seen;

  /* PsMutex calls this only while it holds the lock, so the entry is on
   * our list whatever the shared state now says: take it off first. */
  ps_futex_set_pending (me, &lock->list_next);
  unlinked = ps_futex_unlink (me, lock);

  seen = me->tid;
  if (G_LIKELY (unlinked) &&
      G_LIKELY (__atomic_compare_exchange_n (&lock->word, &seen, 0, FALSE,
                                             __ATOMIC_RELEASE, __ATOMIC_RELAXED)))
    {
      ps_futex_set_pending (me, NULL);
      return PS_LOCK_ACQUIRED;
    }
  return ps_futex_unlock_slow (me, lock, unlinked);
}

/* The uncontended cases alone (see ps-backend-private.h). */

static inline gboolean
ps_robust_lock_try_fast (struct _PsRobustLock *lock)
{
  PsFutexThread *me = ps_futex_thread;
  gpointer node = &lock->list_next;
  guint32 seen = 0;
  gpointer *head_next;

  /* The thread holds no other robust lock, so linking is two stores. */
  if (G_UNLIKELY (me == NULL || *(head_next = me->head) != me->head ||
                  me->n_links != 0 ||
                  (__atomic_load_n (&lock->kind, __ATOMIC_RELAXED) | 1) != (PS_FUTEX_LOCK_KIND | 1)))
    return FALSE;

  ps_futex_set_pending (me, node);
  if (G_UNLIKELY (!__atomic_compare_exchange_n (&lock->word, &seen, me->tid, FALSE,
                                                __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)))
    {
      ps_futex_set_pending (me, NULL);
      return FALSE;
    }
  *ps_futex_prev_slot (me->head) = node;
  lock->list_next = me->head;
  lock->list_prev = me->head;
  __asm__ __volatile__ ("" ::: "memory");
  *head_next = node;
  me->links[0] = (PsFutexLink) { node, me->head, me->head };
  me->n_links = 1;
  ps_futex_set_pending (me, NULL);
  return TRUE;
}

/* Whether another thread visibly holds the lock: a caller whose fast
 * try failed can then go straight to waiting. */
static inline gboolean
ps_robust_lock_looks_busy (struct _PsRobustLock *lock)
{
  PsFutexThread *me = ps_futex_thread;
  guint32 holder = __atomic_load_n (&lock->word, __ATOMIC_RELAXED) & FUTEX_TID_MASK;

  return me != NULL && holder != 0 && holder != me->tid;
}

/* Whether ps_robust_lock_unlock_fast() would succeed, without doing it,
 * so that the caller can update its own records first. */
static inline gboolean
ps_robust_lock_can_unlock_fast (struct _PsRobustLock *lock)
{
  PsFutexThread *me = ps_futex_thread;

  /* First on the list and, by our record, the only entry (see
   * ps_futex_unlink()), and nobody waiting. */
  return G_LIKELY (me != NULL && me->n_links == 1 && me->links[0].node == &lock->list_next &&
                   *(gpointer *) me->head == &lock->list_next &&
                   me->links[0].next == me->head &&
                   __atomic_load_n (&lock->word, __ATOMIC_RELAXED) == me->tid);
}

static inline gboolean
ps_robust_lock_unlock_fast (struct _PsRobustLock *lock)
{
  PsFutexThread *me = ps_futex_thread;
  guint32 seen = me->tid;

  ps_futex_set_pending (me, &lock->list_next);
  *(gpointer *) me->head = me->head;
  *ps_futex_prev_slot (me->head) = me->head;
  __asm__ __volatile__ ("" ::: "memory");
  lock->list_prev = lock->list_next = NULL;
  me->n_links = 0;
  if (G_LIKELY (__atomic_compare_exchange_n (&lock->word, &seen, 0, FALSE,
                                             __ATOMIC_RELEASE, __ATOMIC_RELAXED)))
    {
      ps_futex_set_pending (me, NULL);
      return TRUE;
    }
  /* A waiter set FUTEX_WAITERS since we looked: release and wake. */
  return ps_futex_unlock_slow (me, lock, TRUE) == PS_LOCK_ACQUIRED;
}
