/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * A robust mutex in shared memory, without the GObject around it: the
 * state PsMutex keeps there, this process's private record of who holds
 * it, and the protocol that turns the backend's lock into PsMutex's
 * guarantees (per-thread ownership, relocks counted privately, owner
 * death reported once, a mutex unlocked unrepaired condemned for good).
 * Any class that needs a robust lock inside its own state uses it too.
 *
 * Every decision about ownership is taken from process-private memory,
 * never from the shared state, which a peer may have scribbled on.
 */

#include <gio/gio.h>

#include "ps-backend-private.h"

G_BEGIN_DECLS

/* For diagnostics (the procshared tool). */
typedef enum
{
  PS_MUTEX_CONSISTENT,
  PS_MUTEX_INCONSISTENT,       /* a holder died; the new holder has not repaired it yet */
  PS_MUTEX_NOT_RECOVERABLE,
} PsMutexConsistency;

/* In shared memory. */
typedef struct
{
  PsRobustLock lock;
  guint32      recursive;
  guint32      consistency;    /* a PsMutexConsistency */
  guint32      owner_pid;      /* in pid_namespace */
  guint32      pid_namespace;  /* the creator's (ps_self_pid_namespace()); only
                                * processes of that one may open the mutex */
  guint64      instance;       /* unique, set by the creator: see PsMutexOwnership */
} PsRobustMutex;

typedef struct _PsRobustMutexHandle PsRobustMutexHandle;

/* This process's view of who holds one mutex, shared by all the handles
 * that open it (a thread may lock through one and unlock through
 * another). Found by the unique instance id the creator stored in the
 * mutex, read once when opening. holder, depth and through are written
 * only by the holding thread. */
typedef struct
{
  guint64              instance;
  gint                 ref_count;
  guint64              holder;      /* ps_self_thread_id() of the holder, 0 if none here */
  guint                depth;
  gconstpointer        through;     /* the owner of the handle it was taken
                                     * through, while held (compared only) */
  PsRobustMutex       *held_state;  /* the state as mapped there: the platform
                                     * releases it where it took it */
  PsRobustMutex       *pinned_state; /* a mapping whose lock could not be given
                                      * back: every handle on it keeps it mapped */
} PsMutexOwnership;

/* One mapping of a mutex, as a PsMutex holds it. */
struct _PsRobustMutexHandle
{
  gconstpointer     owner;   /* the object holding the handle: its identity
                              * is what a hold records, at no cost */
  PsRobustMutex    *state;
  PsMutexOwnership *own;
  gboolean          recursive;
  guint32           previous_owner_pid;  /* the dead holder of the last OWNER_DEAD */
  /* Set when the platform could not release the lock cleanly (a peer
   * rewrote it while we held it): its memory may still be linked where
   * the kernel looks, so it must never be unmapped. */
  gboolean          pinned;
};

gboolean ps_robust_mutex_init         (PsRobustMutex        *state,
                                       gboolean              recursive,
                                       GError              **error);
/* Whether a process of this PID namespace may use a mutex made in
 * @creator_namespace (see ps_robust_mutex_handle_open()); FALSE with
 * G_IO_ERROR_NOT_SUPPORTED if not. */
gboolean ps_robust_mutex_check_pid_namespace (guint32        creator_namespace,
                                              GError       **error);
/* Checks a state found in shared memory and opens a handle on it for
 * @owner, in the PID namespace it was made in. */
gboolean ps_robust_mutex_handle_open  (PsRobustMutexHandle  *handle,
                                       gconstpointer         owner,
                                       PsRobustMutex        *state,
                                       GError              **error);
/* Gives back a lock held through @handle, and tells (in handle->pinned)
 * whether its memory must stay mapped. */
void     ps_robust_mutex_handle_close (PsRobustMutexHandle  *handle);

static inline gboolean
ps_robust_mutex_is_held_by_self (PsRobustMutexHandle *handle,
                                 guint64              thread_id)
{
  return handle->own->depth > 0 && handle->own->holder == thread_id;
}

/* The holder's records of a lock it has just taken: in private memory
 * (every decision is taken from there) and, for diagnostics, its pid in
 * the shared state. */
static inline __attribute__((always_inline)) void
ps_robust_mutex_record_hold (PsMutexOwnership *own,
                             gconstpointer     through,
                             PsRobustMutex    *state,
                             guint64           thread_id,
                             guint32           process_id)
{
  own->holder = thread_id;
  own->depth = 1;
  own->through = through;
  own->held_state = state;
  /* Relaxed: the lock itself orders what its holder writes. */
  __atomic_store_n (&state->owner_pid, process_id, __ATOMIC_RELAXED);
}

/* Forgets the hold, just before the lock is given back: once it is,
 * another of our threads may take it through another handle and write
 * these records. */
static inline __attribute__((always_inline)) void
ps_robust_mutex_clear_hold (PsMutexOwnership *own,
                            PsRobustMutex    *state)
{
  own->depth = 0;
  own->holder = 0;
  own->through = NULL;
  __atomic_store_n (&state->owner_pid, 0, __ATOMIC_RELAXED);
}

/* After the platform refused to give back the lock held in @held (a peer
 * rewrote it while we held it): its memory may still be linked where the
 * kernel looks. */
static inline void
ps_robust_mutex_pin (PsMutexOwnership *own,
                     PsRobustMutex    *held)
{
  own->pinned_state = held;
}

/* The operations, past PsMutex's argument checks and fast paths. */
gboolean ps_robust_mutex_lock            (PsRobustMutexHandle  *handle,
                                          gint64                timeout_us,
                                          GCancellable         *cancellable,
                                          GError              **error);
/* The wait of a lock found busy by a fast path. */
gboolean ps_robust_mutex_lock_contended  (PsRobustMutexHandle  *handle,
                                          gint64                timeout_us,
                                          GCancellable         *cancellable,
                                          GError              **error);
/* What a lock that ended with @status means for the caller. */
gboolean ps_robust_mutex_finish_lock     (PsRobustMutexHandle  *handle,
                                          PsLockStatus          status,
                                          GError              **error);
gboolean ps_robust_mutex_try_lock        (PsRobustMutexHandle  *handle,
                                          GError              **error);
/* @allow_recursion FALSE refuses to unlock a relocked mutex (a condition
 * wait would keep it held). */
gboolean ps_robust_mutex_unlock          (PsRobustMutexHandle  *handle,
                                          gboolean              allow_recursion,
                                          GError              **error);
gboolean ps_robust_mutex_mark_consistent (PsRobustMutexHandle  *handle,
                                          GError              **error);
/* Gives the mutex back without the verdict an unlock gives unrepaired
 * data: an INCONSISTENT mutex stays so, and its next holder finds it so
 * (for PsRWLock, whose holder could not finish taking the lock the mutex
 * guards, and so could not be told of the death). */
gboolean ps_robust_mutex_unlock_unrepaired (PsRobustMutexHandle  *handle,
                                            GError              **error);
/* ps_robust_mutex_lock(), polling first up to @max_spins times while
 * another thread holds the lock (when ps_spin_should_poll() allows),
 * trying it each time it looks free. */
gboolean ps_robust_mutex_lock_polling    (PsRobustMutexHandle  *handle,
                                          guint                 max_spins,
                                          gint64                timeout_us,
                                          GCancellable         *cancellable,
                                          GError              **error);
/* Locks again after a condition wait, whatever ended it: no timeout, no
 * cancellable. */
gboolean ps_robust_mutex_reacquire       (PsRobustMutexHandle  *handle,
                                          GError              **error);
void     ps_robust_mutex_set_corrupt_error (GError            **error);

G_END_DECLS
