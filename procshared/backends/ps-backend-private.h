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
 * Each backend has one header, futex/ps-backend-futex.h,
 * posix/ps-backend-posix.h or darwin/ps-backend-darwin.h, which the build
 * picks (through the generated ps-backend-select.h). It defines the
 * types, whose size differs per platform (each must fit in the state
 * area of the objects: checked with static assertions in the classes),
 * PS_BACKEND_ID, and the lock operations that the classes' fast paths
 * call, inline where the platform allows:
 *
 *   PsLockStatus ps_robust_lock_try             (PsRobustLock *lock);
 *   PsLockStatus ps_robust_lock_unlock          (PsRobustLock *lock);
 *
 * and the uncontended cases alone, for callers that keep their own fast
 * path free of calls. Each either does all its work and returns TRUE, or
 * does nothing and returns FALSE, leaving the caller to the general
 * operations; a backend without such a path returns FALSE, at no cost:
 *
 *   gboolean ps_robust_lock_try_fast        (PsRobustLock *lock);
 *   gboolean ps_robust_lock_can_unlock_fast (PsRobustLock *lock);
 *       whether _unlock_fast() would succeed, without doing it, so that
 *       the caller can update its own records first;
 *   gboolean ps_robust_lock_unlock_fast     (PsRobustLock *lock);
 *   gboolean ps_robust_lock_looks_busy      (PsRobustLock *lock);
 *       whether another thread visibly holds the lock: a caller whose
 *       fast try failed can then go straight to waiting.
 *
 * Each header also defines death marks, inline, for objects that must
 * notice a participant's death without a lock it holds (a barrier's
 * sleeping parties), without a system call per look:
 *
 *   gboolean ps_death_mark_set     (guint32 *mark, PsDeathMark *saved);
 *       puts a value in the 32-bit @mark (in shared memory) that the
 *       platform changes if the calling thread dies before
 *       ps_death_mark_clear(), and takes no robust lock meanwhile;
 *       FALSE, with nothing done, where the platform cannot (then look
 *       with ps_process_is_gone() below);
 *   void     ps_death_mark_clear   (guint32 *mark, PsDeathMark *saved);
 *       gives it back, @mark 0 if it still held what was put there;
 *   gboolean ps_death_mark_is_dead (guint32 value);
 *       whether a mark read from memory says its thread died while it
 *       was set: a system call on the dying thread's side, once, and
 *       none on the looker's;
 *   void     ps_death_mark_arm      (guint32 *mark, guint tag);
 *       by the mark's thread: lets others sleep on it, its death waking
 *       one of them, and gives it one of two values per @tag (0 or 1),
 *       so that a thread that read the mark armed with the other tag
 *       does not sleep on it;
 *   gboolean ps_death_mark_is_armed (guint32 value);
 *   PsWaitStatus ps_death_mark_wait (guint32 *mark, guint32 expected,
 *                                    gint64 deadline, PsCanceller *canceller);
 *       sleeps on an armed mark, as ps_wait_word_wait() on a word;
 *   void     ps_death_mark_release (guint32 *mark);
 *       disarms a mark, so that a thread about to sleep on the value it
 *       held does not sleep, and wakes every thread asleep on it; its
 *       thread's death then still shows in it, but wakes nobody.
 */

#include <glib.h>

#include "ps-backend-common-private.h"
#include "ps-backend-select.h"
#include "ps-cpu-relax-private.h"

G_BEGIN_DECLS

/* Waiting on a word. @deadline is in g_get_monotonic_time() microseconds,
 * or -1 for none. A return of PS_WAIT_WOKEN may be spurious: callers
 * re-check their condition and call again with the same deadline. A
 * waker changes the value, then wakes one of the threads asleep on it
 * (@all FALSE) or all of them; a thread that goes to sleep afterwards is
 * not woken by it. */
gboolean     ps_wait_word_init (PsWaitWord   *word,
                                guint32       value,
                                GError      **error);
PsWaitStatus ps_wait_word_wait (PsWaitWord   *word,
                                guint32       expected,
                                gint64        deadline,
                                PsCanceller  *canceller);
void         ps_wait_word_wake (PsWaitWord   *word,
                                gboolean      all);
/* Wakes one sleeper as ps_wait_word_wake (@word, FALSE) does, and tells
 * how many it woke: 1, or 0 when no thread was asleep on @word (a thread
 * that dies asleep is no longer asleep), or -1 where the platform cannot
 * tell. */
gint         ps_wait_word_wake_one (PsWaitWord *word);

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

/* Async waits without a thread each (ps-async-watch.c). A backend that
 * can sleep on many words at once makes a watch's source ready once its
 * word may have changed (see PsWatch); the futex backend does it with a
 * few threads per process, each asleep in futex_waitv(2) on up to 127
 * words and a private control word, which ps_watch_add() and
 * ps_watch_remove() change to wake that one thread. A backend that
 * cannot returns FALSE from ps_watch_add(), and the caller polls.
 * ps_watch_remove() may be called on a watch not (or no longer) added;
 * once it returns, the backend no longer reads @watch, though a
 * readiness it set just before may still be seen (a spurious wake).
 * Both take a leaf lock of the backend's only. Once a watch made ready
 * has been acted on (its wait tried), or before its memory goes,
 * ps_watch_done() tells the backend, which may have held back the other
 * watches of its word meanwhile. */
gboolean       ps_watch_add                (PsWatch      *watch);
void           ps_watch_remove             (PsWatch      *watch);
void           ps_watch_done               (PsWatch      *watch);
/* The word a watch on @word watches, or NULL if this backend's wait
 * words cannot be watched (then the caller polls). */
const guint32 *ps_wait_word_watch_address  (PsWaitWord   *word);
/* Prepares a watch of @lock by a thread that found it busy: FALSE if it
 * looks free now (try again); TRUE with the word and the value to watch
 * (*@address NULL: poll), the unlock being sure to wake a watcher. */
gboolean       ps_robust_lock_watch        (PsRobustLock *lock,
                                            const guint32 **address,
                                            guint32      *expected);
/* After a watch of @lock ended, the lock taken by the calling thread
 * (@taken) or not: passes on the wake-up an unlock may have given the
 * watch, so that other waiters are not left asleep beside a free lock. */
void           ps_robust_lock_watch_done   (PsRobustLock *lock,
                                            gboolean      taken);

/* Processes, for objects that must notice a participant's death without
 * a lock it holds (a barrier's waiting parties): a process records its
 * pid and ps_process_self_stamp(), and another later asks
 * ps_process_is_gone() about them. The stamp (a digest of the process's
 * start time, never 0; 0 where the platform cannot tell) keeps a later
 * process given the same pid from passing for the one recorded; a zombie
 * is gone. Each is a few system calls: callers probe on an interval. */
guint32      ps_process_self_stamp          (void);
/* TRUE only when sure; FALSE when alive or when it cannot tell. @quick
 * asks only whether the pid still exists (one system call): a zombie, or
 * a process given the pid since, then passes for alive. */
gboolean     ps_process_is_gone             (guint32       pid,
                                             guint32       stamp,
                                             gboolean      quick);

static inline guint32
ps_process_stamp_from_start (guint64 start)
{
  return start == 0 ? 0 : ((guint32) start ^ (guint32) (start >> 32)) | 1u;
}

G_END_DECLS
