/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Any POSIX system: process-shared robust pthread mutexes and condition
 * variables only. */

#include <pthread.h>
#include <glib.h>

#define PS_BACKEND_ID PS_BACKEND_POSIX

struct _PsWaitWord
{
  guint32 value;
  guint32 padding;
  pthread_mutex_t mutex;   /* guards sleeping, not the value */
  pthread_cond_t cond;
};

struct _PsRobustLock
{
  pthread_mutex_t mutex;
  guint32 waiters;
  guint32 padding;
  struct _PsWaitWord released;   /* bumped by an unlock that sees waiters */
};

struct _PsCanceller
{
  guint32 fired;
  guint32 padding;
  struct _PsWaitWord *word;      /* the word being waited on, if any */
};

#include "ps-pthread-lock-private.h"

#define PS_BACKEND_INLINE_LOCK 1

/* Out of line: the rare path of an unlock that has sleepers to wake. */
void ps_posix_lock_wake_waiter (struct _PsRobustLock *lock);

static inline PsLockStatus
ps_robust_lock_try (struct _PsRobustLock *lock)
{
  return ps_lock_status_from_pthread (pthread_mutex_trylock (&lock->mutex));
}

static inline PsLockStatus
ps_robust_lock_unlock (struct _PsRobustLock *lock)
{
  int r = pthread_mutex_unlock (&lock->mutex);

  if (r == 0 && G_UNLIKELY (g_atomic_int_get (&lock->waiters) > 0))
    ps_posix_lock_wake_waiter (lock);
  return ps_lock_status_from_pthread (r);
}
