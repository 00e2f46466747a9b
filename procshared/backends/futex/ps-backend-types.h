/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Linux: shared futexes, and glibc's robust process-shared mutexes, whose
 * lock word the kernel itself repairs and wakes when its holder dies. */

#include <pthread.h>
#include <glib.h>

#define PS_BACKEND_ID PS_BACKEND_FUTEX

struct _PsWaitWord
{
  guint32 value;
};

struct _PsRobustLock
{
  pthread_mutex_t mutex;
};

struct _PsCanceller
{
  guint32 fired;   /* a private futex the waiter sleeps on as well */
};

#include "ps-pthread-lock-private.h"

#define PS_BACKEND_INLINE_LOCK 1

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
  if (G_UNLIKELY (!ps_pthread_lock_kind_is_ours (&lock->mutex)))
    return PS_LOCK_CORRUPT;
  /* glibc wakes one sleeper itself when FUTEX_WAITERS is set. */
  return ps_lock_status_from_pthread (pthread_mutex_unlock (&lock->mutex));
}
