/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-async-watch-private.h"
#include "ps-identity-private.h"
#include "ps-wait-private.h"

/* Polling, where the backend cannot watch: from this interval, doubling
 * up to the last. */
#define POLL_MIN_US 200
#define POLL_MAX_US (8 * 1000)

typedef struct
{
  GSource         source;
  GTask          *task;
  PsAsyncTryFunc  try_func;
  PsWatch         watch;
  gint64          deadline;      /* -1: none, or no longer counted */
  gint64          poll_us;       /* 0: not polling */
  gboolean        would_block;   /* the timeout was 0 */
  gboolean        watching;      /* the watch is with the backend */
  gboolean        finished;
  gboolean        disarmed;      /* cancellation and deadline no longer count */
  GCancellable   *cancellable;   /* while it counts */
  gulong          handler_id;
  guint32         process_id;
} AsyncWatch;

static inline gboolean
started_here (AsyncWatch *self)
{
  return self->process_id == ps_self_process_id ();
}

static void
stop_watching (AsyncWatch *self)
{
  if (self->watching)
    {
      ps_watch_remove (&self->watch);
      self->watching = FALSE;
    }
}

/* Cancellation and the deadline no longer count. */
static void
disarm (AsyncWatch *self)
{
  if (self->cancellable != NULL)
    {
      g_cancellable_disconnect (self->cancellable, self->handler_id);
      self->handler_id = 0;
      g_clear_object (&self->cancellable);
    }
  self->deadline = -1;
  self->would_block = FALSE;
  self->disarmed = TRUE;
}

/* Sets the ready time before the backend or the cancellable can make it
 * ready, so that neither is overwritten. */
static void
arm (AsyncWatch *self)
{
  GSource *source = &self->source;

  g_source_set_ready_time (source, self->deadline);
  if (self->watch.address != NULL && ps_watch_add (&self->watch))
    {
      self->watching = TRUE;
      self->poll_us = 0;
    }
  else
    {
      gint64 poll_at;

      self->poll_us = self->poll_us == 0 ? POLL_MIN_US : MIN (self->poll_us * 2, POLL_MAX_US);
      poll_at = g_get_monotonic_time () + self->poll_us;
      g_source_set_ready_time (source, self->deadline < 0 ? poll_at
                                                           : MIN (poll_at, self->deadline));
    }
  if (self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable))
    g_source_set_ready_time (source, 0);
}

/* One try; TRUE when the task is over. */
static gboolean
step (AsyncWatch    *self,
      PsAsyncReason  reason)
{
  self->watch.address = NULL;
  self->watch.wake_all = FALSE;
  if (self->try_func (self->task, reason, &self->watch))
    {
      self->finished = TRUE;
      disarm (self);
      return TRUE;
    }
  if (reason == PS_ASYNC_WOKEN && self->would_block)
    return step (self, PS_ASYNC_WOULD_BLOCK);
  if (reason != PS_ASYNC_WOKEN)
    disarm (self);
  return FALSE;
}

static gboolean
async_watch_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  AsyncWatch *self = (AsyncWatch *) source;
  PsAsyncReason reason = PS_ASYNC_WOKEN;
  g_autoptr(GTask) task = g_object_ref (self->task);

  /* A wait of the parent, copied by fork(): not the child's to end. */
  if (!started_here (self))
    return G_SOURCE_REMOVE;

  g_source_set_ready_time (source, -1);
  stop_watching (self);

  if (self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable))
    reason = PS_ASYNC_CANCELLED;
  else if (self->deadline >= 0 && g_get_monotonic_time () >= self->deadline)
    reason = PS_ASYNC_TIMED_OUT;

  if (step (self, reason))
    return G_SOURCE_REMOVE;
  arm (self);
  return G_SOURCE_CONTINUE;
}

static void
async_watch_finalize (GSource *source)
{
  AsyncWatch *self = (AsyncWatch *) source;

  if (started_here (self))
    {
      stop_watching (self);
      if (!self->finished)
        self->try_func (self->task, PS_ASYNC_ABANDONED, &self->watch);
    }
  g_clear_object (&self->cancellable);
  g_clear_object (&self->task);
}

static GSourceFuncs async_watch_funcs = {
  .dispatch = async_watch_dispatch,
  .finalize = async_watch_finalize,
};

static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  g_source_set_ready_time (user_data, 0);
}

void
ps_async_watch_start (GTask          *task,
                      gint64          timeout_us,
                      PsAsyncTryFunc  try_func,
                      gboolean        first_try_here)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  GSource *source = g_source_new (&async_watch_funcs, sizeof (AsyncWatch));
  AsyncWatch *self = (AsyncWatch *) source;

  self->task = g_object_ref (task);
  self->try_func = try_func;
  self->watch.source = source;
  /* A timeout of 0 is one try, then G_IO_ERROR_WOULD_BLOCK. */
  self->deadline = timeout_us == 0 ? -1 : ps_deadline_from_timeout (timeout_us);
  self->would_block = timeout_us == 0;
  self->process_id = ps_self_process_id ();
  g_source_set_priority (source, g_task_get_priority (task));
  g_source_set_static_name (source, "[procshared] async wait");

  if (first_try_here)
    {
      PsAsyncReason reason = PS_ASYNC_WOKEN;

      if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
        reason = PS_ASYNC_CANCELLED;
      if (step (self, reason))
        {
          g_source_unref (source);
          return;
        }
    }
  else
    g_source_set_ready_time (source, 0);

  if (cancellable != NULL && !self->disarmed)
    {
      self->cancellable = g_object_ref (cancellable);
      /* Runs at once if already cancelled. */
      self->handler_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                                g_source_ref (source),
                                                (GDestroyNotify) g_source_unref);
    }
  if (first_try_here)
    arm (self);

  g_source_attach (source, g_task_get_context (task));
  g_source_unref (source);
}

void
ps_async_return_error (GTask         *task,
                       PsAsyncReason  reason,
                       const char    *what)
{
  GError *error = NULL;

  switch (reason)
    {
    case PS_ASYNC_WOULD_BLOCK:
      ps_set_would_block_error (&error, what);
      break;
    case PS_ASYNC_TIMED_OUT:
      ps_set_wait_error (&error, PS_WAIT_TIMED_OUT, what);
      break;
    case PS_ASYNC_CANCELLED:
      ps_set_wait_error (&error, PS_WAIT_CANCELLED, what);
      break;
    case PS_ASYNC_WOKEN:
    case PS_ASYNC_ABANDONED:
    default:
      g_assert_not_reached ();
    }
  g_task_return_error (task, error);
}
