/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* Death marks (ps-backend-private.h) over the robust futex ABI: the mark
 * holds the thread's TID, and the thread's list_op_pending names it for
 * as long as it is set, as it names a lock being taken, so that if the
 * thread dies the kernel sets FUTEX_OWNER_DIED in it (and clears the
 * TID), and wakes a thread asleep on it if FUTEX_WAITERS is there, which
 * arming puts (and releasing takes away). An armed mark also carries its
 * tag in the FUTEX_OWNER_DIED bit, which the kernel ignores while the
 * TID is there: a dead mark is the one whose TID is 0. The kernel only computes the mark's address from the pending
 * entry and never reads the entry itself, so the mark needs no list
 * links beside it. The thread must take and release no robust lock
 * while its mark is set (a lock's own pending entry would replace it). */

#include <limits.h>
#include <glib.h>

#include "ps-futex-robust-list.h"
#include "ps-futex-wait.h"

typedef struct
{
  gpointer pending;   /* list_op_pending before the mark was set */
} PsDeathMark;

/* The entry whose lock word, at the offset glibc registered, is @mark. */
static inline gpointer
ps_futex_mark_node (guint32 *mark)
{
  /* Never dereferenced: an address, computed as one. */
  return (gpointer) ((guintptr) mark +
                     (offsetof (PsRobustLock, list_next) - offsetof (PsRobustLock, word)));
}

static inline gboolean
ps_death_mark_set (guint32     *mark,
                   PsDeathMark *saved)
{
  PsFutexThread *me = ps_futex_self ();

  if (G_UNLIKELY (!me->registered))
    return FALSE;
  saved->pending = *me->pending;
  /* Named before the TID is there: dying in between leaves no TID the
   * kernel would have to find. */
  ps_futex_set_pending (me, ps_futex_mark_node (mark));
  __atomic_store_n (mark, me->tid, __ATOMIC_SEQ_CST);
  return TRUE;
}

static inline void
ps_death_mark_clear (guint32     *mark,
                     PsDeathMark *saved)
{
  PsFutexThread *me = ps_futex_self ();
  guint32 seen = __atomic_load_n (mark, __ATOMIC_RELAXED);

  /* Ours still (a peer may have scribbled on it): cleared before the
   * kernel stops looking at it, so that it is never left with our TID
   * and nobody to mark it. */
  while ((seen & FUTEX_TID_MASK) == me->tid &&
         !__atomic_compare_exchange_n (mark, &seen, 0, FALSE, __ATOMIC_SEQ_CST,
                                       __ATOMIC_RELAXED))
    ;
  ps_futex_set_pending (me, saved->pending);
}

static inline gboolean
ps_death_mark_is_dead (guint32 value)
{
  return (value & ~(guint32) FUTEX_WAITERS) == FUTEX_OWNER_DIED;
}

static inline void
ps_death_mark_arm (guint32 *mark,
                   guint    tag)
{
  PsFutexThread *me = ps_futex_self ();
  guint32 seen = me->tid;

  __atomic_compare_exchange_n (mark, &seen, me->tid | FUTEX_WAITERS | ((tag & 1u) << 30),
                               FALSE, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

static inline gboolean
ps_death_mark_is_armed (guint32 value)
{
  return (value & FUTEX_WAITERS) && (value & FUTEX_TID_MASK) != 0;
}

static inline PsWaitStatus
ps_death_mark_wait (guint32     *mark,
                    guint32      expected,
                    gint64       deadline,
                    PsCanceller *canceller)
{
  return ps_futex_wait_until (mark, expected, deadline, canceller);
}

static inline void
ps_death_mark_release (guint32 *mark)
{
  guint32 seen = __atomic_load_n (mark, __ATOMIC_RELAXED);

  while ((seen & FUTEX_WAITERS) &&
         !__atomic_compare_exchange_n (mark, &seen, seen & ~(guint32) FUTEX_WAITERS, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
    ;
  ps_futex_wake (mark, INT_MAX, FALSE);
}
