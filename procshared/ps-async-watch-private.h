/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * The async form of a wait, without a thread per pending wait: every try
 * runs in the task's own main context (the caller's thread-default
 * context), and between tries a 32-bit word in shared memory is watched
 * for a change. What a try takes is therefore taken by the thread that
 * runs the callback: a mutex is owned by it, and nothing is ever taken
 * for a caller that cancelled, or whose context no longer runs.
 *
 * The waits of a GMainContext share one GSource there, a hub (a main
 * loop costs as much per iteration as it has sources):
 *
 *  - its ready time is the earliest deadline, so the context's own poll
 *    times the waits out: nothing polls;
 *  - a cancellable's handler puts its wait on the hub's ready list (no
 *    lock) and wakes the context;
 *  - so does the backend, when a watched word may have changed
 *    (ps_watch_add() in ps-backend-private.h: on Linux a few threads per
 *    process asleep in futex_waitv(2) on up to 127 words each; elsewhere
 *    nothing, and the wait is tried every few milliseconds instead).
 *
 * Each time a wait is ready, the class's PsAsyncTryFunc runs, with the
 * reason, and either returns the task's result (g_task_return_*(), then
 * TRUE) or says which word to watch next (FALSE). Cancelling one of many
 * pending waits wakes only the waiter thread that watched its word.
 *
 * A wait started in a process that has since forked is dropped in the
 * child, without a result: the child's own waits work as usual. A wait
 * whose context is never iterated again is never tried again: it takes
 * nothing (and keeps its task, and what the task holds, alive). A wait
 * made ready by a wake-up meant for one waiter (a release, an unlock)
 * keeps that wake-up until its context runs, as a thread woken but not
 * yet scheduled does: a try func that takes a unit with more left passes
 * a wake-up on (see acquire_step() in ps-semaphore.c).
 *
 * ps-semaphore.c, ps-mutex.c (PsMutex's lock, and the lock step that
 * PsCond's wait ends with) and ps-cond.c are the examples. Any class
 * whose blocking wait sleeps on a PsWaitWord or a PsRobustLock can use it
 * (ps_wait_word_watch_address(), ps_robust_lock_watch()); the older
 * ps_async_wait_start() (ps-async-wait-private.h) parks a thread per
 * wait instead.
 */

#include <gio/gio.h>

#include "ps-backend-private.h"

G_BEGIN_DECLS

typedef enum
{
  PS_ASYNC_WOKEN,        /* the first try, or the word changed (perhaps spuriously) */
  PS_ASYNC_WOULD_BLOCK,  /* the first try failed, with a timeout of 0 */
  PS_ASYNC_TIMED_OUT,    /* the deadline passed: one last try, then the error */
  PS_ASYNC_CANCELLED,    /* the cancellable was cancelled: take nothing now */
} PsAsyncReason;

/* Runs in the task's context (the first time, with first_try_here, in
 * the caller's). Either returns the task's result and TRUE, or fills
 * @watch->address (NULL: nothing to watch, poll), ->expected and
 * ->wake_all (see PsWatch) and returns FALSE. After a
 * PS_ASYNC_WOULD_BLOCK, TIMED_OUT or CANCELLED call that returns FALSE,
 * the deadline and the cancellable no longer count (PsCond takes its
 * mutex back, whatever ended the wait). Per-wait state goes in the
 * task's data. */
typedef gboolean (*PsAsyncTryFunc) (GTask         *task,
                                    PsAsyncReason  reason,
                                    PsWatch       *watch);

/* Starts the wait of @task (made with g_task_set_check_cancellable
 * (task, FALSE): the result says what the caller holds). @timeout_us
 * counts from now. The first try is made here if @first_try_here, else
 * in the task's context, as every later one. */
void ps_async_watch_start     (GTask          *task,
                               gint64          timeout_us,
                               PsAsyncTryFunc  try_func,
                               gboolean        first_try_here);

/* From a try func about to return FALSE: try again (PS_ASYNC_WOKEN)
 * after @delay_us at the latest, whether or not the word changed, as a
 * blocking wait that wakes now and then to look at what no word tells
 * (PsBarrier's dead parties). Counts for this return only; the hub times
 * it with the deadline, nothing polls. */
void ps_async_watch_retry_after (PsWatch        *watch,
                                 gint64          delay_us);

/* The error a wait that ended for @reason (not PS_ASYNC_WOKEN) returns. */
void ps_async_return_error    (GTask          *task,
                               PsAsyncReason   reason,
                               const char     *what);

G_END_DECLS
