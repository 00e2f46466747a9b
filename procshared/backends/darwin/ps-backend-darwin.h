/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* macOS 14.4 or later: os_sync_wait_on_address() on plain 32-bit words,
 * and robust ownership built here, since macOS has no robust mutexes.
 * See ps-backend-darwin.c for the protocols. */

#include <glib.h>

#include "ps-backend-common-private.h"

#define PS_BACKEND_ID PS_BACKEND_DARWIN

struct _PsWaitWord
{
  guint32 value;
};

struct _PsRobustLock
{
  guint32 word;           /* holder's pid, takeover count, contended bit */
  guint32 recursive;
  guint32 depth;          /* holder only: 1 while held (PsMutex counts relocks) */
  guint32 owner_pid;      /* the pid owner_start belongs to, published last */
  guint64 owner_start;    /* the holder process's start time, against pid reuse */
  guint64 owner_thread;   /* the holder's pthread_threadid_np() */
};

struct _PsCanceller
{
  guint32  fired;
  guint32  padding;
  guint32 *address;       /* the word its waiter sleeps on, or NULL */
};

/* The lock, out of line: taking it asks the process's identity, kept in
 * ps-backend-darwin.c, and has no shortcut that would skip recording the
 * holder. */
PsLockStatus ps_robust_lock_try    (PsRobustLock *lock);
PsLockStatus ps_robust_lock_unlock (PsRobustLock *lock);

static inline gboolean ps_robust_lock_try_fast        (PsRobustLock *lock) { return FALSE; }
static inline gboolean ps_robust_lock_can_unlock_fast (PsRobustLock *lock) { return FALSE; }
static inline gboolean ps_robust_lock_unlock_fast     (PsRobustLock *lock) { return FALSE; }
static inline gboolean ps_robust_lock_looks_busy      (PsRobustLock *lock) { return FALSE; }

#include "ps-no-death-marks-private.h"
