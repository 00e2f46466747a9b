/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsQueue's async sends and receives (ps-async-watch-private.h): every
 * try in the caller's main context, and between tries the side's word
 * watched, without a thread per pending operation. A try that claims a
 * slot finishes with it at once, in the same try; if the caller
 * cancelled meanwhile, the slot goes back as it was (a free slot freed,
 * a message put back in its place), so a cancelled operation sends or
 * takes nothing.
 */

#include "ps-async-watch-private.h"
#include "ps-error.h"
#include "ps-queue-private.h"

typedef struct
{
  PsQueueSide         side;
  gboolean            counted;    /* among the side's waiters, since the word was seen */
  guint32             seen;
  gint64              probe_at;   /* when to look for dead owners thoroughly */
  /* A send's message. */
  GBytes             *bytes;
  GVariant           *variant;
  guint               priority;
} QueueWait;

/* What a receive took, converted at finish time as the caller asks. */
typedef struct
{
  PsQueueMessageKind  kind;
  GBytes             *message;
  guint               priority;
} Received;

static void
queue_wait_free (gpointer data)
{
  QueueWait *wait = data;

  g_clear_pointer (&wait->bytes, g_bytes_unref);
  g_clear_pointer (&wait->variant, g_variant_unref);
  g_free (wait);
}

static void
received_free (gpointer data)
{
  Received *received = data;

  g_bytes_unref (received->message);
  g_free (received);
}

static void
stop_counting (PsQueueHandle *handle,
               QueueWait     *wait)
{
  if (wait->counted)
    ps_queue_stop_waiting (handle, wait->side, wait->seen);
  wait->counted = FALSE;
}

static gboolean
is_cancelled (GTask *task)
{
  GCancellable *cancellable = g_task_get_cancellable (task);

  return cancellable != NULL && g_cancellable_is_cancelled (cancellable);
}

/* With a slot claimed: sends or receives, unless the caller cancelled. */
static void
finish_claimed (GTask          *task,
                PsQueueHandle  *handle,
                QueueWait      *wait,
                PsQueueTicket  *ticket)
{
  GError *error = NULL;

  if (wait->side == PS_QUEUE_SEND)
    {
      if (is_cancelled (task))
        {
          ps_queue_finish_write (handle, ticket, FALSE, 0, 0, 0, NULL);
          ps_async_return_error (task, PS_ASYNC_CANCELLED, "queue");
        }
      else if (ps_queue_write_message (handle, ticket, wait->bytes, wait->variant,
                                       wait->priority, &error))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, error);
    }
  else
    {
      Received *received;
      GBytes *message;

      if (is_cancelled (task))
        {
          ps_queue_finish_read (handle, ticket, FALSE, NULL);
          ps_async_return_error (task, PS_ASYNC_CANCELLED, "queue");
          return;
        }
      message = ps_queue_take_message (handle, ticket, &error);
      if (message == NULL)
        {
          g_task_return_error (task, error);
          return;
        }
      received = g_new (Received, 1);
      received->kind = ticket->kind;
      received->message = message;
      received->priority = ticket->priority;
      g_task_return_pointer (task, received, received_free);
    }
}

static gboolean
queue_step (GTask         *task,
            PsAsyncReason  reason,
            PsWatch       *watch)
{
  PsQueue *self = g_task_get_source_object (task);
  QueueWait *wait = g_task_get_task_data (task);
  PsQueueHandle *handle = ps_queue_get_handle (self);
  PsQueueProbe probe = PS_QUEUE_PROBE_QUICK;
  PsQueueTicket ticket = { 0 };
  const guint32 *registered;
  GError *error = NULL;
  gboolean busy = FALSE;
  guint32 seen = 0;
  gint64 now;

  if (reason == PS_ASYNC_CANCELLED)
    {
      stop_counting (handle, wait);
      ps_async_return_error (task, reason, "queue");
      return TRUE;
    }

  now = g_get_monotonic_time ();
  if (wait->probe_at != 0 && now >= wait->probe_at)
    probe = PS_QUEUE_PROBE_FULL;
  registered = wait->counted ? &wait->seen : NULL;
  wait->counted = FALSE;
  switch (ps_queue_claim (handle, wait->side, reason == PS_ASYNC_WOKEN, registered, probe,
                          PS_QUEUE_LOCK_TRY_US, NULL, &ticket, &seen, &busy, &error))
    {
    case PS_QUEUE_CLAIMED:
      finish_claimed (task, handle, wait, &ticket);
      return TRUE;
    case PS_QUEUE_FAILED:
      if (reason == PS_ASYNC_WOKEN && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          /* The lock is held by a stopped peer: look again later (still
           * counted, if the wait was). */
          g_clear_error (&error);
          wait->counted = registered != NULL;
          watch->address = NULL;
          return FALSE;
        }
      g_task_return_error (task, error);
      return TRUE;
    case PS_QUEUE_NONE_NOW:
    default:
      break;
    }

  if (reason == PS_ASYNC_WOULD_BLOCK)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "%s",
                               wait->side == PS_QUEUE_SEND ? "The queue is full"
                                                           : "The queue is empty");
      return TRUE;
    }
  if (reason != PS_ASYNC_WOKEN)
    {
      ps_async_return_error (task, reason, "queue");
      return TRUE;
    }

  /* Counted by the claim: a change after it sees us. */
  wait->counted = TRUE;
  wait->seen = seen;
  watch->address = ps_wait_word_watch_address (ps_queue_side_word (handle, wait->side));
  watch->expected = seen;
  watch->wake_all = TRUE;
  if (busy)
    {
      if (wait->probe_at == 0 || now >= wait->probe_at)
        wait->probe_at = now + PS_QUEUE_PROBE_US;
      ps_async_watch_retry_after (watch, wait->probe_at - now);
    }
  else
    wait->probe_at = 0;
  return FALSE;
}

static void
start (PsQueue              *self,
       PsQueueSide           side,
       GBytes               *bytes,
       GVariant             *variant,
       guint                 priority,
       gint64                timeout_us,
       GCancellable         *cancellable,
       GAsyncReadyCallback   callback,
       gpointer              user_data,
       gpointer              source_tag)
{
  PsQueueHandle *handle = ps_queue_get_handle (self);
  g_autoptr(GTask) task = NULL;
  QueueWait *wait;
  GError *error = NULL;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, side == PS_QUEUE_SEND ? "[procshared] queue send"
                                               : "[procshared] queue receive");
  g_task_set_check_cancellable (task, FALSE);

  wait = g_new0 (QueueWait, 1);
  wait->side = side;
  wait->bytes = bytes != NULL ? g_bytes_ref (bytes) : NULL;
  wait->variant = variant != NULL ? g_variant_ref (variant) : NULL;
  wait->priority = priority;
  g_task_set_task_data (task, wait, queue_wait_free);

  if (G_UNLIKELY (handle->state == NULL))
    {
      ps_queue_set_init_error (self, &error);
      g_task_return_error (task, error);
      return;
    }
  if (side == PS_QUEUE_SEND && !ps_queue_check_message_size (handle, bytes, variant, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  ps_async_watch_start (task, timeout_us, queue_step, TRUE);
}

/**
 * ps_queue_send_async:
 * @self: a #PsQueue
 * @message: the message
 * @priority: its priority: higher priorities are received first
 * @timeout_us: how long to wait for room, as for [method@Queue.send]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the send is over
 * @user_data: data for @callback
 *
 * Sends a copy of @message as [method@Queue.send] does, without blocking
 * the calling thread; @callback runs in the thread-default main context
 * of the caller, and so does every try after the first. Call
 * [method@Queue.send_finish] from it. No thread waits for room: on Linux
 * a few threads of the process sleep on every pending wait's word at
 * once; the posix and darwin backends look at the queue every few
 * milliseconds instead, from the main context.
 *
 * If @cancellable is cancelled, the result is %G_IO_ERROR_CANCELLED and
 * nothing is sent.
 *
 * Across fork(): a send pending then ends only in the parent; the
 * child's own sends work.
 *
 * Since: 1.1
 */
void
ps_queue_send_async (PsQueue              *self,
                     GBytes               *message,
                     guint                 priority,
                     gint64                timeout_us,
                     GCancellable         *cancellable,
                     GAsyncReadyCallback   callback,
                     gpointer              user_data)
{
  g_return_if_fail (PS_IS_QUEUE (self));
  g_return_if_fail (message != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start (self, PS_QUEUE_SEND, message, NULL, priority, timeout_us, cancellable, callback,
         user_data, ps_queue_send_async);
}

/**
 * ps_queue_send_variant_async:
 * @self: a #PsQueue
 * @value: the message; a floating reference is consumed
 * @priority: its priority: higher priorities are received first
 * @timeout_us: how long to wait for room, as for [method@Queue.send]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the send is over
 * @user_data: data for @callback
 *
 * Sends @value as [method@Queue.send_variant] does, without blocking the
 * calling thread, as [method@Queue.send_async] does. Call
 * [method@Queue.send_finish] from @callback.
 *
 * Across fork(): a send pending then ends only in the parent; the
 * child's own sends work.
 *
 * Since: 1.1
 */
void
ps_queue_send_variant_async (PsQueue              *self,
                             GVariant             *value,
                             guint                 priority,
                             gint64                timeout_us,
                             GCancellable         *cancellable,
                             GAsyncReadyCallback   callback,
                             gpointer              user_data)
{
  g_autoptr(GVariant) sunk = NULL;
  g_autoptr(GVariant) normal = NULL;

  g_return_if_fail (PS_IS_QUEUE (self));
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sunk = g_variant_ref_sink (value);
  normal = g_variant_get_normal_form (sunk);
  start (self, PS_QUEUE_SEND, NULL, normal, priority, timeout_us, cancellable, callback,
         user_data, ps_queue_send_async);
}

/**
 * ps_queue_send_finish:
 * @self: a #PsQueue
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Queue.send_async] or [method@Queue.send_variant_async].
 *
 * Across fork(): only in the process that started the send.
 *
 * Returns: %TRUE if sent; %FALSE (nothing sent) with the errors of
 *   [method@Queue.send]
 *
 * Since: 1.1
 */
gboolean
ps_queue_send_finish (PsQueue       *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (PS_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ps_queue_send_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * ps_queue_receive_async:
 * @self: a #PsQueue
 * @timeout_us: how long to wait for a message, as for
 *   [method@Queue.receive_message]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the receive is over
 * @user_data: data for @callback
 *
 * Takes the next message as [method@Queue.receive] does, without
 * blocking the calling thread, as [method@Queue.send_async] waits. Call
 * [method@Queue.receive_finish] from @callback. The message is taken in
 * the caller's main context, just before @callback runs; if
 * @cancellable is cancelled, the result is %G_IO_ERROR_CANCELLED and no
 * message is taken.
 *
 * Across fork(): a receive pending then ends only in the parent; the
 * child's own receives work.
 *
 * Since: 1.1
 */
void
ps_queue_receive_async (PsQueue              *self,
                        gint64                timeout_us,
                        GCancellable         *cancellable,
                        GAsyncReadyCallback   callback,
                        gpointer              user_data)
{
  g_return_if_fail (PS_IS_QUEUE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start (self, PS_QUEUE_RECEIVE, NULL, NULL, 0, timeout_us, cancellable, callback, user_data,
         ps_queue_receive_async);
}

static Received *
propagate_received (PsQueue       *self,
                    GAsyncResult  *result,
                    gpointer       source_tag,
                    GError       **error)
{
  g_return_val_if_fail (PS_IS_QUEUE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * ps_queue_receive_finish:
 * @self: a #PsQueue
 * @result: the #GAsyncResult given to the callback
 * @out_priority: (out) (optional): the message's priority
 * @error: return location for a #GError
 *
 * Finishes [method@Queue.receive_async].
 *
 * Across fork(): only in the process that started the receive.
 *
 * Returns: (transfer full): the message (a variant message as its
 *   record's bytes), or %NULL (nothing taken) with the errors of
 *   [method@Queue.receive]
 *
 * Since: 1.1
 */
GBytes *
ps_queue_receive_finish (PsQueue       *self,
                         GAsyncResult  *result,
                         guint         *out_priority,
                         GError       **error)
{
  Received *received = propagate_received (self, result, ps_queue_receive_async, error);
  GBytes *message;

  if (received == NULL)
    return NULL;
  if (out_priority != NULL)
    *out_priority = received->priority;
  message = g_bytes_ref (received->message);
  received_free (received);
  return message;
}

/**
 * ps_queue_receive_message_async:
 * @self: a #PsQueue
 * @timeout_us: how long to wait for a message, as for
 *   [method@Queue.receive_message]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the receive is over
 * @user_data: data for @callback
 *
 * Takes the next message as [method@Queue.receive_async] does; call
 * [method@Queue.receive_message_finish] from @callback, which tells how
 * it was sent.
 *
 * Across fork(): a receive pending then ends only in the parent; the
 * child's own receives work.
 *
 * Since: 1.1
 */
void
ps_queue_receive_message_async (PsQueue              *self,
                                gint64                timeout_us,
                                GCancellable         *cancellable,
                                GAsyncReadyCallback   callback,
                                gpointer              user_data)
{
  g_return_if_fail (PS_IS_QUEUE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start (self, PS_QUEUE_RECEIVE, NULL, NULL, 0, timeout_us, cancellable, callback, user_data,
         ps_queue_receive_message_async);
}

/**
 * ps_queue_receive_message_finish:
 * @self: a #PsQueue
 * @result: the #GAsyncResult given to the callback
 * @out_kind: (out) (optional): how the message was sent
 * @out_bytes: (out) (optional) (transfer full) (nullable): the message
 *   as bytes
 * @out_variant: (out) (optional) (transfer full) (nullable): the message
 *   as a variant
 * @out_priority: (out) (optional): the message's priority
 * @error: return location for a #GError
 *
 * Finishes [method@Queue.receive_message_async], filling the out values
 * as [method@Queue.receive_message] does.
 *
 * Across fork(): only in the process that started the receive.
 *
 * Returns: %TRUE if a message was taken; %FALSE with the errors of
 *   [method@Queue.receive_message] (%PS_ERROR_CORRUPT: a variant message
 *   whose record could not be read; it was taken all the same)
 *
 * Since: 1.1
 */
gboolean
ps_queue_receive_message_finish (PsQueue             *self,
                                 GAsyncResult        *result,
                                 PsQueueMessageKind  *out_kind,
                                 GBytes             **out_bytes,
                                 GVariant           **out_variant,
                                 guint               *out_priority,
                                 GError             **error)
{
  Received *received;
  gboolean ok;

  if (out_bytes != NULL)
    *out_bytes = NULL;
  if (out_variant != NULL)
    *out_variant = NULL;
  received = propagate_received (self, result, ps_queue_receive_message_async, error);
  if (received == NULL)
    return FALSE;
  ok = ps_queue_convert_message (received->kind, received->message, received->priority,
                                 out_kind, out_bytes, out_variant, out_priority, error);
  received_free (received);
  return ok;
}
