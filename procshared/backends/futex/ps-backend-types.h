/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Linux: shared futexes, and a robust lock of our own over the kernel's
 * robust futex ABI, linked on the thread's robust list beside glibc's own
 * robust mutexes, so that the kernel repairs and wakes it when its holder
 * dies. See ps-backend-futex.c. */

#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>
#include <glib.h>

#define PS_BACKEND_ID PS_BACKEND_FUTEX

struct _PsWaitWord
{
  guint32 value;
};

/* Laid out as glibc lays out pthread_mutex_t where it matters: the
 * kernel finds the lock word of each entry on a thread's robust list at
 * the offset glibc registered for the thread, and glibc's own list code
 * reaches a neighbour's prev link just before its next link. */
struct _PsRobustLock
{
  guint32  word;          /* holder's TID | FUTEX_WAITERS | FUTEX_OWNER_DIED */
  guint32  kind;          /* PS_FUTEX_LOCK_KIND, | 1 if recursive (PsMutex counts) */
  guint32  reserved[4];
  gpointer list_prev;     /* links on the holder's robust list, which */
  gpointer list_next;     /* point at other entries' list_next */
};

#if !defined(__GLIBC__) || !defined(__PTHREAD_MUTEX_HAVE_PREV) || !__PTHREAD_MUTEX_HAVE_PREV
# error "The futex backend needs a 64-bit glibc; build with -Dsync_backend=posix"
#endif
G_STATIC_ASSERT (offsetof (struct _PsRobustLock, word) - offsetof (struct _PsRobustLock, list_next) ==
                 offsetof (pthread_mutex_t, __data.__lock) - offsetof (pthread_mutex_t, __data.__list.__next));
G_STATIC_ASSERT (offsetof (struct _PsRobustLock, list_next) - offsetof (struct _PsRobustLock, list_prev) ==
                 offsetof (pthread_mutex_t, __data.__list.__next) - offsetof (pthread_mutex_t, __data.__list.__prev));

#define PS_FUTEX_LOCK_KIND 0x50534c30u   /* "PSL0" */

struct _PsCanceller
{
  guint32 fired;   /* a private futex the waiter sleeps on as well */
};

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
PsLockStatus   ps_futex_try_slow      (PsFutexThread *me,
                                       PsRobustLock  *lock,
                                       guint32        seen);
PsLockStatus   ps_futex_unlock_slow   (PsFutexThread *me,
                                       PsRobustLock  *lock,
                                       gboolean       unlinked);

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

#define PS_BACKEND_INLINE_LOCK 1

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

/* The uncontended cases alone, for callers that keep their own fast path
 * free of calls: each either does all its work and returns TRUE, or does
 * nothing and returns FALSE, leaving the caller to the functions above. */
#define PS_BACKEND_FAST_LOCK 1

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

/* A pause while polling a word another CPU is about to change. */
static inline void
ps_cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield" ::: "memory");
#else
  __asm__ __volatile__ ("" ::: "memory");
#endif
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
