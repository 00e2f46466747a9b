/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * The platform layer. Everything above this interface reads the same on
 * every platform; everything platform-specific lives behind it, in one
 * directory per backend (futex/, posix/, darwin/), chosen by meson.
 *
 * The backend provides three things:
 *
 *  - PsWaitWord: a 32-bit word in shared memory that threads of any
 *    process can sleep on until it changes, an absolute monotonic
 *    deadline passes, or their PsCanceller fires. The semaphore and the
 *    condition variable are written once on top of it.
 *  - PsRobustLock: lock ownership that survives the death of its holder,
 *    in whatever way the platform allows.
 *  - Its name, for messages.
 *
 * The types are defined by the backend's ps-backend-types.h because their
 * size differs per platform; each must fit in the state area of the
 * objects (checked with static assertions in the classes).
 */

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PsWaitWord   PsWaitWord;
typedef struct _PsRobustLock PsRobustLock;
typedef struct _PsCanceller  PsCanceller;

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

/* The backend's types; it may also define the lock fast path (try and
 * unlock) inline there, announcing it with PS_BACKEND_INLINE_LOCK, since
 * an uncontended lock must cost little more than the platform's own. */
#include "ps-backend-types.h"

G_BEGIN_DECLS

/* Waiting on a word. @deadline is in g_get_monotonic_time() microseconds,
 * or -1 for none. A return of PS_WAIT_WOKEN may be spurious: callers
 * re-check their condition and call again with the same deadline. */
gboolean     ps_wait_word_init (PsWaitWord   *word,
                                guint32       value,
                                GError      **error);
PsWaitStatus ps_wait_word_wait (PsWaitWord   *word,
                                guint32       expected,
                                gint64        deadline,
                                PsCanceller  *canceller);
void         ps_wait_word_wake (PsWaitWord   *word,
                                gboolean      all);

static inline guint32 *
ps_wait_word_value (PsWaitWord *word)
{
  return (guint32 *) word;   /* every backend puts the value first */
}

/* Cancelling a wait from another thread: init before the wait, fire from
 * a GCancellable handler, clear after the handler is disconnected. */
void ps_canceller_init  (PsCanceller *canceller);
void ps_canceller_fire  (PsCanceller *canceller);

/* Robust locks. They are never recursive: PsMutex counts a recursive
 * mutex's relocks itself, in private memory, and asks the backend only
 * for the first lock and the last unlock, so a try by the holder (which
 * only a forged lock word can make look held) gives
 * PS_LOCK_WOULD_DEADLOCK. @recursive is recorded so that a mutex opened
 * elsewhere behaves as created. */
gboolean     ps_robust_lock_init            (PsRobustLock *lock,
                                             gboolean      recursive,
                                             GError      **error);
#ifndef PS_BACKEND_INLINE_LOCK
PsLockStatus ps_robust_lock_try             (PsRobustLock *lock);
PsLockStatus ps_robust_lock_unlock          (PsRobustLock *lock);
#endif
#ifndef PS_BACKEND_FAST_LOCK
/* The backend may offer call-free fast paths for the uncontended lock
 * and unlock (see the futex backend); without them, callers always take
 * the general ones. */
static inline gboolean ps_robust_lock_try_fast        (PsRobustLock *lock) { return FALSE; }
static inline gboolean ps_robust_lock_can_unlock_fast (PsRobustLock *lock) { return FALSE; }
static inline gboolean ps_robust_lock_unlock_fast     (PsRobustLock *lock) { return FALSE; }
static inline gboolean ps_robust_lock_looks_busy      (PsRobustLock *lock) { return FALSE; }
static inline void     ps_cpu_relax                   (void) { }
#endif
PsLockStatus ps_robust_lock_wait            (PsRobustLock *lock,
                                             gint64        deadline,
                                             PsCanceller  *canceller);
void         ps_robust_lock_make_consistent (PsRobustLock *lock);
/* Whether a lock found in shared memory is of the kind
 * ps_robust_lock_init() makes (recursive or not), as far as the platform
 * lets us look. */
gboolean     ps_robust_lock_check           (PsRobustLock *lock,
                                             gboolean      recursive);

const char  *ps_backend_name                (void);

G_END_DECLS
