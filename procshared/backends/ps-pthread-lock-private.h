/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The lock fast path shared by the backends whose ownership is a robust
 * process-shared pthread mutex (futex and posix), inline so that an
 * uncontended PsMutex costs little more than the mutex itself. */

#include <errno.h>
#include <pthread.h>

static inline PsLockStatus
ps_lock_status_from_pthread (int r)
{
  if (G_LIKELY (r == 0))
    return PS_LOCK_ACQUIRED;
  switch (r)
    {
    case EBUSY: return PS_LOCK_BUSY;
    case EOWNERDEAD: return PS_LOCK_OWNER_DIED;
    case ENOTRECOVERABLE: return PS_LOCK_NOT_RECOVERABLE;
    case EDEADLK: return PS_LOCK_WOULD_DEADLOCK;
    case EPERM: return PS_LOCK_NOT_OWNER;
    case ETIMEDOUT: return PS_LOCK_TIMED_OUT;
    case EINVAL: return PS_LOCK_CORRUPT;
    default: return PS_LOCK_FAILED;
    }
}
