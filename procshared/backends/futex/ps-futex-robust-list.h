/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* Each thread's robust list, the one glibc registers with the kernel for
 * its own robust mutexes: linking a held lock there, and unlinking it,
 * with what this process privately knows of the links. See
 * ps-futex-robust-list.c. */

#include <glib.h>

#include "ps-backend-common-private.h"
#include "ps-futex-types.h"

/* What this process privately knows of the robust list of one thread.
 * The list's links live in shared memory, where a peer may scribble on
 * them: we unlink our entries from the links we expect, which we keep
 * here, and only look at (and check) the shared ones when they differ. */
#define PS_FUTEX_TRACKED_LOCKS 16

typedef struct
{
  gpointer node;   /* &lock->list_next */
  gpointer prev;   /* the links it should have */
  gpointer next;
} PsFutexLink;

typedef struct
{
  guint32   tid;
  gboolean  registered; /* the kernel walks @head when the thread dies */
  gpointer  head;      /* the thread's struct robust_list_head, as a list node */
  gpointer *pending;   /* its list_op_pending */
  guint     n_links;
  PsFutexLink links[PS_FUTEX_TRACKED_LOCKS];   /* most recent last */
} PsFutexThread;

extern _Thread_local __attribute__((tls_model ("initial-exec"))) PsFutexThread *ps_futex_thread;

PsFutexThread *ps_futex_thread_slow   (void);
void           ps_futex_link_slow     (PsFutexThread *me,
                                       gpointer       node,
                                       gpointer       first);
gboolean       ps_futex_unlink_slow   (PsFutexThread *me,
                                       PsRobustLock  *lock);

static inline PsFutexThread *
ps_futex_self (void)
{
  PsFutexThread *me = ps_futex_thread;

  return G_LIKELY (me != NULL) ? me : ps_futex_thread_slow ();
}

/* A next link may carry a tag in bit 0 (glibc marks its
 * priority-inheritance mutexes so); prev links never do. */
static inline gpointer
ps_futex_untag (gpointer link)
{
  return (gpointer) ((guintptr) link & ~(guintptr) 1);
}

/* The prev link of the entry a next link points at. */
static inline gpointer *
ps_futex_prev_slot (gpointer link)
{
  return (gpointer *) ps_futex_untag (link) - 1;   /* list_prev sits just before list_next */
}

/* Puts @lock first on the thread's robust list, as glibc's
 * ENQUEUE_MUTEX does, and notes the links it was given. */
static inline void
ps_futex_link (PsFutexThread *me,
               PsRobustLock  *lock)
{
  gpointer node = &lock->list_next;
  gpointer *head_next = me->head;
  gpointer first = *head_next;

  *ps_futex_prev_slot (first) = node;
  lock->list_next = first;
  lock->list_prev = me->head;
  /* The entry must be whole before the kernel can reach it. */
  __asm__ __volatile__ ("" ::: "memory");
  *head_next = node;

  if (G_LIKELY (first == me->head && me->n_links < PS_FUTEX_TRACKED_LOCKS))
    {
      me->links[me->n_links++] = (PsFutexLink) { node, me->head, first };
      return;
    }
  ps_futex_link_slow (me, node, first);
}

/* list_op_pending, which the kernel reads if the thread dies: kept in
 * program order with the list and lock word updates around it. */
static inline void
ps_futex_set_pending (PsFutexThread *me,
                      gpointer       node)
{
  __asm__ __volatile__ ("" ::: "memory");
  *me->pending = node;
  __asm__ __volatile__ ("" ::: "memory");
}

/* Takes our entry off the list when it is first and its links are the
 * ones we gave it (the usual, last-in first-out case); otherwise the
 * slow path checks what it finds. */
static inline gboolean
ps_futex_unlink (PsFutexThread *me,
                 PsRobustLock  *lock)
{
  gpointer node = &lock->list_next;
  gpointer *head_next = me->head;
  guint n = me->n_links;

  /* First on the list (the head, private, says so), so its true prev is
   * the head. Its next is the one we recorded if that is the head or one
   * of ours: entries are only ever inserted at the head, so nothing can
   * have come between (a glibc mutex recorded there could have gone). */
  if (G_LIKELY (n > 0 && *head_next == node && me->links[n - 1].node == node))
    {
      gpointer next = me->links[n - 1].next;

      if (next == me->head || (n > 1 && me->links[n - 2].node == next))
        {
          *head_next = next;
          *ps_futex_prev_slot (next) = me->head;
          if (next != me->head)
            me->links[n - 2].prev = me->head;
          /* Off the list before its links go, as the kernel may read them. */
          __asm__ __volatile__ ("" ::: "memory");
          lock->list_prev = lock->list_next = NULL;
          me->n_links = n - 1;
          return TRUE;
        }
    }
  return ps_futex_unlink_slow (me, lock);
}
