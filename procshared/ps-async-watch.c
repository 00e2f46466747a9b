/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The async waits' side in the main contexts (see
 * ps-async-watch-private.h). Each GMainContext with waits has one hub, a
 * GSource of its own: a main loop costs as much per iteration as it has
 * sources, so 10,000 waits must not be 10,000 sources. The hub keeps
 *
 *  - a list of the waits that are ready (their word changed, or their
 *    cancellable fired), pushed onto without a lock from the backend's
 *    thread or the cancelling one, which then wakes the context;
 *  - the waits' deadlines (and poll times, where the backend cannot
 *    watch), in order, the earliest one being its ready time.
 *
 * Everything else about a wait is touched only while the hub dispatches,
 * in the context's thread (or by the caller, before the wait is handed
 * to the hub).
 */

#include "ps-async-watch-private.h"
#include "ps-identity-private.h"
#include "ps-wait-private.h"

/* Polling, where the backend cannot watch: from this interval, doubling
 * up to the last. */
#define POLL_MIN_US 200
#define POLL_MAX_US (8 * 1000)

typedef struct _Hub       Hub;
typedef struct _AsyncWait AsyncWait;

struct _AsyncWait
{
  PsWatch         watch;         /* first: the backend's ready() gets it */
  gint            ref_count;
  gint            queued;        /* on the hub's ready list */
  AsyncWait      *next_ready;
  Hub            *hub;
  GTask          *task;
  PsAsyncTryFunc  try_func;
  gint64          deadline;      /* -1: none, or no longer counted */
  gint64          wake_at;       /* key in the hub's deadlines, -1 if not there */
  gint64          retry_at;      /* -1, or when the try asked to be tried again */
  GSequenceIter  *timer;
  gint64          poll_us;       /* 0: not polling */
  gboolean        would_block;   /* the timeout was 0 */
  gboolean        watching;      /* the watch is with the backend */
  gboolean        finished;
  gboolean        disarmed;      /* cancellation and deadline no longer count */
  GCancellable   *cancellable;   /* while it counts */
  gulong          handler_id;
  guint32         process_id;
};

struct _Hub
{
  GSource    source;
  AsyncWait *ready;              /* pushed without a lock, newest first */
  GSequence *timers;             /* AsyncWait, by wake_at */
};

static AsyncWait *
async_wait_ref (AsyncWait *wait)
{
  g_atomic_int_inc (&wait->ref_count);
  return wait;
}

static void
async_wait_unref (AsyncWait *wait)
{
  if (!g_atomic_int_dec_and_test (&wait->ref_count))
    return;
  ps_watch_done (&wait->watch);
  g_clear_object (&wait->cancellable);
  g_clear_object (&wait->task);
  g_source_unref (&wait->hub->source);
  g_free (wait);
}

/* From any thread, perhaps under the backend's lock: no lock here. */
static void
wait_ready (PsWatch *watch)
{
  AsyncWait *wait = (AsyncWait *) watch;
  Hub *hub = wait->hub;
  AsyncWait *head;

  if (!g_atomic_int_compare_and_exchange (&wait->queued, 0, 1))
    return;
  async_wait_ref (wait);
  head = g_atomic_pointer_get (&hub->ready);
  do
    wait->next_ready = head;
  while (!g_atomic_pointer_compare_and_exchange_full (&hub->ready, head, wait, &head));
  g_main_context_wakeup (g_source_get_context (&hub->source));
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  wait_ready (user_data);
}

static inline gboolean
started_here (AsyncWait *wait)
{
  return wait->process_id == ps_self_process_id ();
}

static void
stop_watching (AsyncWait *wait)
{
  if (wait->watching)
    {
      ps_watch_remove (&wait->watch);
      wait->watching = FALSE;
    }
}

static void
stop_timer (AsyncWait *wait)
{
  if (wait->timer != NULL)
    {
      g_sequence_remove (wait->timer);
      wait->timer = NULL;
    }
}

/* Cancellation and the deadline no longer count. */
static void
disarm (AsyncWait *wait)
{
  if (wait->cancellable != NULL)
    {
      g_cancellable_disconnect (wait->cancellable, wait->handler_id);
      wait->handler_id = 0;
      g_clear_object (&wait->cancellable);
    }
  wait->deadline = -1;
  wait->would_block = FALSE;
  wait->disarmed = TRUE;
}

/* One try; TRUE when the task is over. */
static gboolean
step (AsyncWait     *wait,
      PsAsyncReason  reason)
{
  wait->watch.address = NULL;
  wait->watch.wake_all = FALSE;
  wait->retry_at = -1;
  if (wait->try_func (wait->task, reason, &wait->watch))
    {
      wait->finished = TRUE;
      disarm (wait);
      return TRUE;
    }
  if (reason == PS_ASYNC_WOKEN && wait->would_block)
    return step (wait, PS_ASYNC_WOULD_BLOCK);
  if (reason != PS_ASYNC_WOKEN)
    disarm (wait);
  return FALSE;
}

static gint
compare_wake_at (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  gint64 x = ((const AsyncWait *) a)->wake_at, y = ((const AsyncWait *) b)->wake_at;

  return x < y ? -1 : x > y;
}

/* In the hub's dispatch: watch the word the try asked for, and time the
 * deadline (or the next poll). */
static void
arm (AsyncWait *wait)
{
  wait->wake_at = wait->deadline;
  if (wait->retry_at >= 0 && (wait->wake_at < 0 || wait->retry_at < wait->wake_at))
    wait->wake_at = wait->retry_at;
  if (wait->watch.address != NULL && ps_watch_add (&wait->watch))
    {
      wait->watching = TRUE;
      wait->poll_us = 0;
    }
  else
    {
      gint64 poll_at;

      wait->poll_us = wait->poll_us == 0 ? POLL_MIN_US : MIN (wait->poll_us * 2, POLL_MAX_US);
      poll_at = g_get_monotonic_time () + wait->poll_us;
      if (wait->wake_at < 0 || poll_at < wait->wake_at)
        wait->wake_at = poll_at;
    }
  if (wait->wake_at >= 0)
    wait->timer = g_sequence_insert_sorted (wait->hub->timers, wait, compare_wake_at, NULL);
}

static void
finish (AsyncWait *wait)
{
  stop_watching (wait);
  stop_timer (wait);
  async_wait_unref (wait);   /* the hub's */
}

/* A wait that is ready, or whose time came. */
static void
run_wait (AsyncWait *wait,
          gint64     now)
{
  PsAsyncReason reason = PS_ASYNC_WOKEN;

  if (wait->finished)
    return;
  /* A wait of the parent, copied by fork(): not the child's to end. */
  if (!started_here (wait))
    {
      wait->finished = TRUE;
      wait->watching = FALSE;
      stop_timer (wait);
      async_wait_unref (wait);
      return;
    }

  stop_watching (wait);
  stop_timer (wait);
  if (wait->cancellable != NULL && g_cancellable_is_cancelled (wait->cancellable))
    reason = PS_ASYNC_CANCELLED;
  else if (wait->deadline >= 0 && now >= wait->deadline)
    reason = PS_ASYNC_TIMED_OUT;

  if (step (wait, reason))
    {
      ps_watch_done (&wait->watch);
      finish (wait);
      return;
    }
  ps_watch_done (&wait->watch);
  arm (wait);
  /* Cancelled since it was looked at: it is ready again. */
  if (wait->cancellable != NULL && g_cancellable_is_cancelled (wait->cancellable))
    wait_ready (&wait->watch);
}

static void
update_ready_time (Hub *hub)
{
  GSequenceIter *first = g_sequence_get_begin_iter (hub->timers);

  g_source_set_ready_time (&hub->source,
                           g_sequence_iter_is_end (first)
                           ? -1 : ((AsyncWait *) g_sequence_get (first))->wake_at);
}

static gboolean
hub_prepare (GSource *source,
             gint    *timeout)
{
  Hub *hub = (Hub *) source;

  *timeout = -1;
  return g_atomic_pointer_get (&hub->ready) != NULL;
}

static gboolean
hub_check (GSource *source)
{
  Hub *hub = (Hub *) source;

  return g_atomic_pointer_get (&hub->ready) != NULL;
}

static gboolean
hub_dispatch (GSource     *source,
              GSourceFunc  callback,
              gpointer     user_data)
{
  Hub *hub = (Hub *) source;
  AsyncWait *ready = g_atomic_pointer_exchange (&hub->ready, NULL);
  AsyncWait *in_order = NULL;
  gint64 now = g_get_monotonic_time ();

  /* Oldest first. */
  while (ready != NULL)
    {
      AsyncWait *next = ready->next_ready;

      ready->next_ready = in_order;
      in_order = ready;
      ready = next;
    }
  while (in_order != NULL)
    {
      AsyncWait *wait = in_order;

      in_order = wait->next_ready;
      g_atomic_int_set (&wait->queued, 0);
      run_wait (wait, now);
      async_wait_unref (wait);   /* the ready list's */
    }

  /* Every wait whose time came. */
  for (;;)
    {
      GSequenceIter *first = g_sequence_get_begin_iter (hub->timers);
      AsyncWait *wait;

      if (g_sequence_iter_is_end (first))
        break;
      wait = g_sequence_get (first);
      if (wait->wake_at > now)
        break;
      /* Timed again, if at all, after now: the loop ends. */
      async_wait_ref (wait);
      run_wait (wait, now);
      async_wait_unref (wait);
    }

  update_ready_time (hub);
  return G_SOURCE_CONTINUE;
}

static void
hub_finalize (GSource *source)
{
  Hub *hub = (Hub *) source;

  /* Every wait holds the hub: none is left. */
  g_sequence_free (hub->timers);
}

static GSourceFuncs hub_funcs = {
  .prepare = hub_prepare,
  .check = hub_check,
  .dispatch = hub_dispatch,
  .finalize = hub_finalize,
};

static gboolean
hub_callback (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* The hub of @context, made if need be; a new reference. */
static Hub *
hub_for (GMainContext *context,
         gint          priority)
{
  GSource *source = g_main_context_find_source_by_funcs_user_data (context, &hub_funcs, NULL);
  Hub *hub;

  if (source != NULL)
    return (Hub *) g_source_ref (source);

  /* Two threads may make one each at once: both work. */
  source = g_source_new (&hub_funcs, sizeof (Hub));
  hub = (Hub *) source;
  hub->timers = g_sequence_new (NULL);
  g_source_set_callback (source, hub_callback, NULL, NULL);
  g_source_set_priority (source, priority);
  g_source_set_static_name (source, "[procshared] async waits");
  g_source_attach (source, context);
  return hub;
}

void
ps_async_watch_start (GTask          *task,
                      gint64          timeout_us,
                      PsAsyncTryFunc  try_func,
                      gboolean        first_try_here)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  AsyncWait *wait = g_new0 (AsyncWait, 1);

  wait->ref_count = 1;
  wait->watch.ready = wait_ready;
  wait->task = g_object_ref (task);
  wait->try_func = try_func;
  /* A timeout of 0 is one try, then G_IO_ERROR_WOULD_BLOCK. */
  wait->deadline = timeout_us == 0 ? -1 : ps_deadline_from_timeout (timeout_us);
  wait->wake_at = -1;
  wait->retry_at = -1;
  wait->would_block = timeout_us == 0;
  wait->process_id = ps_self_process_id ();
  wait->hub = hub_for (g_task_get_context (task), g_task_get_priority (task));

  if (first_try_here)
    {
      PsAsyncReason reason = PS_ASYNC_WOKEN;

      if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
        reason = PS_ASYNC_CANCELLED;
      if (step (wait, reason))
        {
          async_wait_unref (wait);
          return;
        }
    }

  if (cancellable != NULL && !wait->disarmed)
    {
      wait->cancellable = g_object_ref (cancellable);
      /* Runs at once if already cancelled. */
      wait->handler_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                                async_wait_ref (wait),
                                                (GDestroyNotify) async_wait_unref);
    }
  /* The rest happens in the hub: the first try (or the first watch after
   * the caller's try) is one of its rounds. */
  wait_ready (&wait->watch);
}

void
ps_async_watch_retry_after (PsWatch *watch,
                            gint64   delay_us)
{
  ((AsyncWait *) watch)->retry_at = g_get_monotonic_time () + MAX (delay_us, 1);
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
    default:
      g_assert_not_reached ();
    }
  g_task_return_error (task, error);
}
