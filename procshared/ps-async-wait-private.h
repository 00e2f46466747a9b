/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * The async form of a blocking wait: its GTask finishes in the caller's
 * thread-default main context, while the wait itself runs elsewhere. The
 * deadline is fixed when the caller asks, and whatever a wait wins for a
 * caller that cancelled meanwhile is given back rather than lost.
 *
 * Every pending wait holds a worker thread of a pool with no limit
 * (GTask's shared pool would make the eleventh wait behind ten blocked
 * ones). A class whose wait sleeps on a PsWaitWord or a PsRobustLock
 * should use ps-async-watch-private.h instead, which needs no thread per
 * wait and makes its tries in the caller's main context (as PsSemaphore,
 * PsMutex and PsCond do); this stays as the generic fallback.
 */

#include <gio/gio.h>

G_BEGIN_DECLS

/* The blocking wait, as the class's own (timeout 0 tries once). */
typedef gboolean (*PsAsyncWaitFunc) (gpointer       source_object,
                                     gint64         timeout_us,
                                     GCancellable  *cancellable,
                                     GError       **error);
/* Gives back what a successful wait took. */
typedef void     (*PsAsyncUndoFunc) (gpointer       source_object);

/* Returns @task's result when @wait_func is over: TRUE, or its error.
 * What can be had at once is had before this returns, without a thread;
 * otherwise a @timeout_us of 0 gives G_IO_ERROR_WOULD_BLOCK, a deadline
 * that passes G_IO_ERROR_TIMED_OUT, and a cancelled @task
 * G_IO_ERROR_CANCELLED, even after the wait won (@undo_func gives that
 * back). @what names the object in messages. GTask must not check the
 * cancellable itself (g_task_set_check_cancellable (task, FALSE)): the
 * result says whether the caller holds something. */
void ps_async_wait_start (GTask            *task,
                          gint64            timeout_us,
                          PsAsyncWaitFunc   wait_func,
                          PsAsyncUndoFunc   undo_func,
                          const char       *what);

G_END_DECLS
