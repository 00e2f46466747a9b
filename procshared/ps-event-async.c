/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsEvent's async wait (ps-async-watch-private.h): every look at the
 * event in the caller's main context, and between them its word watched,
 * without a thread per pending wait.
 */

#include "ps-async-watch-private.h"
#include "ps-event-private.h"

/* An async wait's own state (the task's data). */
typedef struct
{
  gboolean counted;   /* counted in the waiters a set wakes */
  guint32  first;     /* manual-reset: the flag at the first look */
} EventWait;

static void
stop_counting (guint32   *waiters,
               EventWait *wait)
{
  if (wait->counted)
    g_atomic_int_dec_and_test (waiters);
  wait->counted = FALSE;
}

/* Auto-reset: one set taken by the thread that runs the callback, or
 * none. A set taken just as the caller cancelled goes back to the event;
 * a wake-up meant for one waiter that this wait cannot use is passed on
 * (as acquire_step() in ps-semaphore.c does). */
static gboolean
auto_step (GTask         *task,
           PsAsyncReason  reason,
           PsWatch       *watch)
{
  PsEvent *self = g_task_get_source_object (task);
  EventWait *wait = g_task_get_task_data (task);
  PsCounter *signal = &ps_event_get_state (self)->signal;
  GCancellable *cancellable = g_task_get_cancellable (task);
  gboolean was_counted = wait->counted;

  if (reason != PS_ASYNC_CANCELLED && ps_counter_try_take (signal))
    {
      stop_counting (&signal->waiters, wait);
      if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
        {
          ps_event_set (self);
          ps_async_return_error (task, PS_ASYNC_CANCELLED, "event");
          return TRUE;
        }
      g_task_return_boolean (task, TRUE);
      return TRUE;
    }
  if (reason == PS_ASYNC_WOKEN && !wait->counted)
    {
      /* Counted before the last look: a set sees us, or we see it. */
      g_atomic_int_inc (&signal->waiters);
      wait->counted = TRUE;
      return auto_step (task, reason, watch);
    }
  if (reason == PS_ASYNC_WOKEN)
    {
      watch->address = ps_wait_word_watch_address (&signal->count);
      watch->expected = 0;
      return FALSE;
    }
  stop_counting (&signal->waiters, wait);
  /* A set may have woken this wait as it gave up: pass it on. */
  if (was_counted && g_atomic_int_get (ps_counter_value (signal)) > 0 &&
      g_atomic_int_get (&signal->waiters) > 0)
    ps_wait_word_wake (&signal->count, FALSE);
  ps_async_return_error (task, reason, "event");
  return TRUE;
}

/* Manual-reset: until the flag is set, or was set (its count of sets
 * moved) since the first look, as wait_manual(). */
static gboolean
manual_step (GTask         *task,
             PsAsyncReason  reason,
             PsWatch       *watch)
{
  PsEvent *self = g_task_get_source_object (task);
  EventWait *wait = g_task_get_task_data (task);
  PsEventState *state = ps_event_get_state (self);
  guint32 value;

  if (reason == PS_ASYNC_CANCELLED)
    {
      stop_counting (&state->waiters, wait);
      ps_async_return_error (task, reason, "event");
      return TRUE;
    }
  value = g_atomic_int_get (ps_event_flag_value (state));
  if (!wait->counted && !(value & PS_EVENT_FLAG_SET) && reason == PS_ASYNC_WOKEN)
    {
      /* Counted before the first look, as wait_manual(). */
      g_atomic_int_inc (&state->waiters);
      wait->counted = TRUE;
      value = g_atomic_int_get (ps_event_flag_value (state));
      wait->first = value;
    }
  if ((value & PS_EVENT_FLAG_SET) || (wait->counted && (value >> 1) != (wait->first >> 1)))
    {
      stop_counting (&state->waiters, wait);
      g_task_return_boolean (task, TRUE);
      return TRUE;
    }
  if (reason != PS_ASYNC_WOKEN)
    {
      /* Timed out, or a timeout of 0, with no set: a set that came with
       * the deadline counted above. */
      stop_counting (&state->waiters, wait);
      ps_async_return_error (task, reason, "event");
      return TRUE;
    }
  watch->address = ps_wait_word_watch_address (&state->flag);
  watch->expected = value;
  watch->wake_all = TRUE;
  return FALSE;
}

/**
 * ps_event_wait_async:
 * @self: a #PsEvent
 * @timeout_us: how long to wait in microseconds, as for [method@Event.wait]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the wait is over
 * @user_data: data for @callback
 *
 * Waits until the event is set without blocking the calling thread;
 * @callback runs in the thread-default main context of the caller, and
 * so does every look at the event after the first. Call
 * [method@Event.wait_finish] from it. No thread waits for it: on Linux a
 * few threads of the process sleep on every pending wait's word at once
 * (127 waits each, woken by the kernel), and its timeout is the main
 * context's own; the posix and darwin backends look at the event every
 * few milliseconds instead (from 0.2 ms, doubling up to 8 ms), from the
 * main context.
 *
 * If @cancellable is cancelled, the result is %G_IO_ERROR_CANCELLED, and
 * a set an auto-reset wait won just then is given back to the event.
 *
 * Across fork(): a wait pending then ends only in the parent; the child's
 * own waits work.
 *
 * Since: 1.1
 */
void
ps_event_wait_async (PsEvent             *self,
                     gint64               timeout_us,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PS_IS_EVENT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ps_event_wait_async);
  g_task_set_name (task, "[procshared] event wait");
  g_task_set_check_cancellable (task, FALSE);

  g_task_set_task_data (task, g_new0 (EventWait, 1), g_free);
  if (G_UNLIKELY (ps_event_get_state (self) == NULL))
    {
      GError *error = NULL;

      /* The error the event's construction failed with. */
      ps_event_wait (self, 0, NULL, &error);
      g_task_return_error (task, error);
      return;
    }
  ps_async_watch_start (task, timeout_us,
                        ps_event_get_auto_reset (self) ? auto_step : manual_step, TRUE);
}

/**
 * ps_event_wait_finish:
 * @self: a #PsEvent
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Event.wait_async].
 *
 * Across fork(): only in the process that started the wait.
 *
 * Returns: %TRUE if the event was set; %FALSE with
 *   %G_IO_ERROR_WOULD_BLOCK, %G_IO_ERROR_TIMED_OUT or
 *   %G_IO_ERROR_CANCELLED
 *
 * Since: 1.1
 */
gboolean
ps_event_wait_finish (PsEvent       *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (PS_IS_EVENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ps_event_wait_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

