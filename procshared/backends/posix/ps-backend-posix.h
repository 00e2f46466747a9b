/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* Any POSIX system: robust process-shared pthread mutexes for ownership,
 * and no Linux-specific calls. See ps-backend-posix.c for why waits do
 * not sleep in process-shared condition variables, and how a wake of one
 * lets exactly one sleeper go without them. */

#include <pthread.h>
#include <glib.h>

#include "ps-backend-common-private.h"

#define PS_BACKEND_ID PS_BACKEND_POSIX

struct _PsWaitWord
{
  guint32 value;
  guint32 reserved;
  /* Who sleeps on the value and which of them a wake let go, one
   * compare-and-swap at a time: see ps-backend-posix.c. */
  guint64 sleepers __attribute__ ((aligned (8)));
};

struct _PsRobustLock
{
  pthread_mutex_t mutex;
};

struct _PsCanceller
{
  guint32 fired;
};

#include "ps-pthread-lock-private.h"

/* Threads of this process sleeping in a wait; an unlock wakes them at
 * once instead of letting them notice at their next poll. */
extern gint ps_posix_local_sleepers;
void ps_posix_wake_local_sleepers (void);

static inline PsLockStatus
ps_robust_lock_try (struct _PsRobustLock *lock)
{
  if (G_UNLIKELY (!ps_pthread_lock_kind_is_ours (&lock->mutex)))
    return PS_LOCK_CORRUPT;
  return ps_lock_status_from_pthread (pthread_mutex_trylock (&lock->mutex));
}

static inline PsLockStatus
ps_robust_lock_unlock (struct _PsRobustLock *lock)
{
  int r;

  if (G_UNLIKELY (!ps_pthread_lock_kind_is_ours (&lock->mutex)))
    return PS_LOCK_CORRUPT;
  r = pthread_mutex_unlock (&lock->mutex);

  if (r == 0 && G_UNLIKELY (g_atomic_int_get (&ps_posix_local_sleepers) > 0))
    ps_posix_wake_local_sleepers ();
  return ps_lock_status_from_pthread (r);
}

/* glibc's robust mutexes have no path cheaper than trylock and unlock
 * above, which PsMutex then takes. */
static inline gboolean ps_robust_lock_try_fast        (PsRobustLock *lock) { return FALSE; }
static inline gboolean ps_robust_lock_can_unlock_fast (PsRobustLock *lock) { return FALSE; }
static inline gboolean ps_robust_lock_unlock_fast     (PsRobustLock *lock) { return FALSE; }
static inline gboolean ps_robust_lock_looks_busy      (PsRobustLock *lock) { return FALSE; }

#include "ps-no-death-marks-private.h"
