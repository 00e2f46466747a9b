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

/* glibc picks its lock and unlock code from the mutex's __kind, in shared
 * memory: a kind a peer scribbled could send it down a path this machine
 * cannot run (lock elision faults without TSX). Only the two kinds
 * ps_robust_lock_init() makes are handed to it. */
extern int ps_futex_lock_kinds[2];

static inline gboolean
ps_futex_lock_kind_is_ours (struct _PsRobustLock *lock)
{
  int kind = __atomic_load_n (&lock->mutex.__data.__kind, __ATOMIC_RELAXED);

  return kind == ps_futex_lock_kinds[0] || kind == ps_futex_lock_kinds[1];
}

static inline PsLockStatus
ps_robust_lock_try (struct _PsRobustLock *lock)
{
  if (G_UNLIKELY (!ps_futex_lock_kind_is_ours (lock)))
    return PS_LOCK_CORRUPT;
  return ps_lock_status_from_pthread (pthread_mutex_trylock (&lock->mutex));
}

static inline PsLockStatus
ps_robust_lock_unlock (struct _PsRobustLock *lock)
{
  if (G_UNLIKELY (!ps_futex_lock_kind_is_ours (lock)))
    return PS_LOCK_CORRUPT;
  /* glibc wakes one sleeper itself when FUTEX_WAITERS is set. */
  return ps_lock_status_from_pthread (pthread_mutex_unlock (&lock->mutex));
}
