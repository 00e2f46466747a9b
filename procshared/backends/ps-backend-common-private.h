/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* The names of the platform layer that every backend's header needs
 * before it can define its types and inline operations: apart from
 * ps-backend-private.h, which includes the backend's header, so that
 * neither has to include the other. */

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PsWaitWord   PsWaitWord;
typedef struct _PsRobustLock PsRobustLock;
typedef struct _PsCanceller  PsCanceller;

/* A 32-bit word watched for an async wait (ps-async-watch.c): the
 * backend calls @ready once the word may no longer hold @expected, from
 * its own thread and under its own lock (so @ready takes no lock and
 * does not block), then forgets the watch. The fields after @wake_all
 * are the backend's. */
typedef struct _PsWatch PsWatch;
struct _PsWatch
{
  void         (*ready) (PsWatch *watch);
  const guint32 *address;
  guint32        expected;
  /* TRUE where every change matters to every watcher (a condition's
   * sequence); FALSE where a waker wakes one (a count, a lock): such a
   * watch is made ready when the kernel wakes it, or when its word
   * already differs as it is put to sleep, so that one release does not
   * wake every watcher of this process. */
  gboolean       wake_all;
  gpointer       waiter;
  guint          slot;
  gpointer       holder;
};

typedef enum
{
  PS_WAIT_WOKEN,      /* woken, the value differed, or a spurious return */
  PS_WAIT_TIMED_OUT,  /* the deadline passed */
  PS_WAIT_CANCELLED,  /* the canceller fired */
} PsWaitStatus;

typedef enum
{
  PS_LOCK_ACQUIRED,
  PS_LOCK_BUSY,
  PS_LOCK_OWNER_DIED,       /* acquired; the previous holder died holding it */
  PS_LOCK_NOT_RECOVERABLE,
  PS_LOCK_WOULD_DEADLOCK,   /* the caller holds this non-recursive lock */
  PS_LOCK_NOT_OWNER,
  PS_LOCK_TIMED_OUT,
  PS_LOCK_CANCELLED,
  PS_LOCK_FAILED,           /* e.g. the recursion count would overflow */
  PS_LOCK_CORRUPT,          /* the platform does not recognise the lock */
} PsLockStatus;

/* The numeric identity of the backend, stored in every object's header so
 * that objects made by another backend are refused as incompatible. */
#define PS_BACKEND_FUTEX  1
#define PS_BACKEND_POSIX  2
#define PS_BACKEND_DARWIN 3

G_END_DECLS
