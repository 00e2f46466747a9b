/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* The futex backend's shared types, apart from its operations so that
 * the robust list, the lock and the waits can each include them. */

#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>
#include <glib.h>

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
