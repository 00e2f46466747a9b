/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* The lock fast path of the POSIX backend, whose ownership is a robust
 * process-shared error-checking pthread mutex, inline so that an
 * uncontended PsMutex costs little more than the mutex itself. PsMutex
 * counts a recursive mutex's relocks itself, so the pthread mutex is
 * never recursive: a lock word forged to name the caller is refused. */

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

/* glibc picks its lock and unlock code from the mutex's __kind, in shared
 * memory: a kind a peer scribbled could send it down a path this machine
 * cannot run (lock elision faults without TSX). Where the C library's
 * mutex layout is known, only the kind we create is handed to it;
 * elsewhere pthread_mutex_t is opaque and there is nothing to check. */
#ifdef __GLIBC__
extern int ps_pthread_lock_kind;   /* glibc's errorcheck kind, learnt at first use */
void       ps_pthread_lock_learn_kind (void);

static inline gboolean
ps_pthread_lock_kind_is_ours (pthread_mutex_t *mutex)
{
  int kind = __atomic_load_n (&mutex->__data.__kind, __ATOMIC_RELAXED);

  return kind == ps_pthread_lock_kind;
}
#else
static inline void     ps_pthread_lock_learn_kind (void) { }
static inline gboolean ps_pthread_lock_kind_is_ours (pthread_mutex_t *mutex) { return TRUE; }
#endif
