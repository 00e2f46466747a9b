/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsQueue's blocking sends and receives: a slot claimed (waiting for one
 * on the side's word, see ps-queue-slots.c), the message copied in or
 * out outside the lock, the slot handed over.
 */

#include <string.h>

#include "ps-error.h"
#include "ps-queue-private.h"
#include "ps-spin-private.h"
#include "ps-variant-record-private.h"
#include "ps-wait-private.h"

/* About 40 µs of polling on current x86 CPUs: longer than a sleeping
 * peer on another CPU takes to wake up and answer (about 30 µs in a
 * virtual machine), so that a busy producer and consumer settle into
 * both polling instead of both sleeping. ps_spin_should_poll() stops
 * the polls that do not pay. */
#define POLL_SPINS 2000

static void
set_would_block (GError      **error,
                 PsQueueSide   side)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                       side == PS_QUEUE_SEND ? "The queue is full" : "The queue is empty");
}

/* The wait for the queue's lock a claim may make: to the deadline, but
 * at least PS_QUEUE_LOCK_TRY_US. */
static gint64
lock_timeout (gint64 deadline)
{
  if (deadline < 0)
    return -1;
  return MAX (deadline - g_get_monotonic_time (), PS_QUEUE_LOCK_TRY_US);
}

/* Claims a slot for @side, waiting up to @timeout_us. */
static gboolean
claim_waiting (PsQueue        *self,
               PsQueueSide     side,
               gint64          timeout_us,
               GCancellable   *cancellable,
               PsQueueTicket  *ticket,
               GError        **error)
{
  PsQueueHandle *handle = ps_queue_get_handle (self);
  PsQueueProbe probe = PS_QUEUE_PROBE_QUICK;
  GError *local = NULL;
  PsWaitContext context;
  PsQueueClaim claim;
  guint32 seen = 0;
  gboolean busy = FALSE;
  gint64 deadline;

  if (G_UNLIKELY (handle->state == NULL))
    return ps_queue_set_init_error (self, error);
  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  /* The uncontended path: one look, nothing set up. */
  deadline = ps_deadline_from_timeout (timeout_us);
  claim = ps_queue_claim (handle, side, FALSE, NULL, probe, lock_timeout (deadline),
                          cancellable, ticket, &seen, &busy, &local);
  if (claim != PS_QUEUE_NONE_NOW)
    {
      /* A lock held past a timeout of 0: the queue could not be used. */
      if (timeout_us == 0 && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          g_clear_error (&local);
          set_would_block (error, side);
        }
      else if (local != NULL)
        g_propagate_error (error, local);
      return claim == PS_QUEUE_CLAIMED;
    }
  if (timeout_us == 0)
    {
      set_would_block (error, side);
      return FALSE;
    }

  /* The peer that will answer is often running on another CPU right
   * now: a few microseconds of looking spare a sleep and a wake-up. */
  if (ps_spin_should_poll_for (ps_queue_side_word (handle, side),
                               ps_queue_last_cpu (handle, side == PS_QUEUE_SEND ? PS_QUEUE_RECEIVE
                                                                                : PS_QUEUE_SEND)))
    {
      const guint32 *word = ps_wait_word_value (ps_queue_side_word (handle, side));
      gboolean answered;

      for (guint spins = 0; spins < POLL_SPINS && __atomic_load_n (word, __ATOMIC_ACQUIRE) == seen;
           spins++)
        ps_cpu_relax ();
      answered = __atomic_load_n (word, __ATOMIC_ACQUIRE) != seen;
      ps_spin_record (ps_queue_side_word (handle, side), answered);
      if (answered)
        {
          claim = ps_queue_claim (handle, side, FALSE, NULL, probe, lock_timeout (deadline),
                                  cancellable, ticket, &seen, &busy, error);
          if (claim != PS_QUEUE_NONE_NOW)
            return claim == PS_QUEUE_CLAIMED;
        }
    }

  if (!ps_wait_context_begin (&context, cancellable, error))
    return FALSE;
  for (gboolean counted = FALSE;;)
    {
      gint64 wake_at = deadline;
      gboolean probe_wake = FALSE;
      PsWaitStatus status;

      claim = ps_queue_claim (handle, side, TRUE, counted ? &seen : NULL, probe,
                              lock_timeout (deadline), cancellable, ticket, &seen, &busy, error);
      if (claim != PS_QUEUE_NONE_NOW)
        break;
      counted = TRUE;
      /* Slots being written or read: their owners may die, and nothing
       * would tell. */
      if (busy)
        {
          gint64 probe_at = g_get_monotonic_time () + PS_QUEUE_PROBE_US;

          if (deadline < 0 || probe_at < deadline)
            {
              wake_at = probe_at;
              probe_wake = TRUE;
            }
        }
      status = ps_wait_word_wait (ps_queue_side_word (handle, side), seen, wake_at,
                                  ps_wait_context_get_canceller (&context));
      if (status == PS_WAIT_CANCELLED)
        {
          ps_queue_stop_waiting (handle, side, seen);
          ps_set_wait_error (error, status, "queue");
          claim = PS_QUEUE_FAILED;
          break;
        }
      if (status == PS_WAIT_TIMED_OUT && !probe_wake)
        {
          /* One last look, then the timeout. */
          claim = ps_queue_claim (handle, side, FALSE, &seen, PS_QUEUE_PROBE_FULL,
                                  PS_QUEUE_LOCK_TRY_US, NULL, ticket, &seen, &busy, error);
          if (claim == PS_QUEUE_NONE_NOW)
            {
              ps_set_wait_error (error, status, "queue");
              claim = PS_QUEUE_FAILED;
            }
          break;
        }
      probe = status == PS_WAIT_TIMED_OUT ? PS_QUEUE_PROBE_FULL : PS_QUEUE_PROBE_QUICK;
    }
  ps_wait_context_end (&context);
  return claim == PS_QUEUE_CLAIMED;
}

static gboolean
check_size (PsQueueHandle  *handle,
            gsize           size,
            GError        **error)
{
  if (size > handle->max_message_size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "A message of %" G_GSIZE_FORMAT " bytes is larger than the queue's "
                   "maximum of %" G_GSIZE_FORMAT, size, handle->max_message_size);
      return FALSE;
    }
  return TRUE;
}

gboolean
ps_queue_check_message_size (PsQueueHandle  *handle,
                             GBytes         *bytes,
                             GVariant       *variant,
                             GError        **error)
{
  return check_size (handle, bytes != NULL ? g_bytes_get_size (bytes)
                                           : ps_variant_record_measure (variant), error);
}

gboolean
ps_queue_write_message (PsQueueHandle  *handle,
                        PsQueueTicket  *ticket,
                        GBytes         *bytes,
                        GVariant       *variant,
                        guint           priority,
                        GError        **error)
{
  GError *local = NULL;
  gsize size;

  if (bytes != NULL)
    {
      gconstpointer data = g_bytes_get_data (bytes, &size);

      if (size > 0)
        memcpy (ticket->data, data, size);
      return ps_queue_finish_write (handle, ticket, TRUE, size, PS_QUEUE_MESSAGE_BYTES,
                                    priority, error);
    }

  size = ps_variant_record_measure (variant);
  if (!ps_variant_record_write (ticket->data, handle->max_message_size, 0, variant, &local))
    {
      ps_queue_finish_write (handle, ticket, FALSE, 0, 0, 0, NULL);
      g_propagate_error (error, local);
      return FALSE;
    }
  return ps_queue_finish_write (handle, ticket, TRUE, size, PS_QUEUE_MESSAGE_VARIANT,
                                priority, error);
}

gboolean
ps_queue_convert_message (PsQueueMessageKind   kind,
                          GBytes              *message,
                          guint                priority,
                          PsQueueMessageKind  *out_kind,
                          GBytes             **out_bytes,
                          GVariant           **out_variant,
                          guint               *out_priority,
                          GError             **error)
{
  GVariant *variant = NULL;

  if (kind == PS_QUEUE_MESSAGE_VARIANT && out_variant != NULL)
    {
      variant = ps_variant_record_read (g_bytes_get_data (message, NULL),
                                        g_bytes_get_size (message), 0, error);
      if (variant == NULL)
        return FALSE;
    }
  else if (kind == PS_QUEUE_MESSAGE_BYTES && out_bytes == NULL && out_variant != NULL)
    variant = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, message,
                                                            TRUE));

  if (out_kind != NULL)
    *out_kind = kind;
  if (out_priority != NULL)
    *out_priority = priority;
  if (out_variant != NULL)
    *out_variant = variant;
  else
    g_clear_pointer (&variant, g_variant_unref);
  if (out_bytes != NULL && (kind == PS_QUEUE_MESSAGE_BYTES || out_variant == NULL))
    *out_bytes = g_bytes_ref (message);
  return TRUE;
}

GBytes *
ps_queue_take_message (PsQueueHandle  *handle,
                       PsQueueTicket  *ticket,
                       GError        **error)
{
  GBytes *bytes = g_bytes_new (ticket->data, ticket->size);

  /* Taken: the copy is ours, whatever a peer writes there now. */
  if (!ps_queue_finish_read (handle, ticket, TRUE, error))
    g_clear_pointer (&bytes, g_bytes_unref);
  return bytes;
}

static gboolean
send_message (PsQueue       *self,
              GBytes        *bytes,
              GVariant      *variant,
              guint          priority,
              gint64         timeout_us,
              GCancellable  *cancellable,
              GError       **error)
{
  PsQueueHandle *handle = ps_queue_get_handle (self);
  PsQueueTicket ticket = { 0 };

  if (handle->state != NULL && !ps_queue_check_message_size (handle, bytes, variant, error))
    return FALSE;
  if (bytes != NULL && g_bytes_get_size (bytes) <= PS_QUEUE_DIRECT_MAX)
    {
      ticket.direct = TRUE;
      ticket.direct_data = g_bytes_get_data (bytes, &ticket.direct_size);
      ticket.direct_priority = priority;
    }
  if (!claim_waiting (self, PS_QUEUE_SEND, timeout_us, cancellable, &ticket, error))
    return FALSE;
  if (ticket.done)
    return TRUE;
  return ps_queue_write_message (handle, &ticket, bytes, variant, priority, error);
}

/**
 * ps_queue_send:
 * @self: a #PsQueue
 * @message: the message
 * @priority: its priority: higher priorities are received first
 * @timeout_us: how long to wait for room, in microseconds; -1 waits
 *   forever, 0 does not wait
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends a copy of @message (which may be empty), waiting while the queue
 * is full. The message becomes visible to receivers whole, at once, when
 * the copy is done.
 *
 * Across fork(): parent and child send into the same queue.
 *
 * Returns: %TRUE if sent; %FALSE (nothing sent) with
 *   %G_IO_ERROR_MESSAGE_TOO_LARGE, %G_IO_ERROR_WOULD_BLOCK (full, and
 *   @timeout_us 0), %G_IO_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED or
 *   %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
gboolean
ps_queue_send (PsQueue       *self,
               GBytes        *message,
               guint          priority,
               gint64         timeout_us,
               GCancellable  *cancellable,
               GError       **error)
{
  g_return_val_if_fail (PS_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return send_message (self, message, NULL, priority, timeout_us, cancellable, error);
}

/**
 * ps_queue_send_variant:
 * @self: a #PsQueue
 * @value: the message; a floating reference is consumed
 * @priority: its priority: higher priorities are received first
 * @timeout_us: how long to wait for room, as for [method@Queue.send]
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends @value as a variant message, in the self-describing record
 * format of [method@SharedMemory.write_variant] (its type string, then
 * its serialised data in normal form): the record must fit in
 * #PsQueue:max-message-size bytes.
 *
 * Across fork(): parent and child send into the same queue.
 *
 * Returns: %TRUE if sent; %FALSE (nothing sent) with the errors of
 *   [method@Queue.send]
 *
 * Since: 1.1
 */
gboolean
ps_queue_send_variant (PsQueue       *self,
                       GVariant      *value,
                       guint          priority,
                       gint64         timeout_us,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autoptr(GVariant) sunk = NULL;
  g_autoptr(GVariant) normal = NULL;

  g_return_val_if_fail (PS_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Measured in the form it is written in. */
  sunk = g_variant_ref_sink (value);
  normal = g_variant_get_normal_form (sunk);
  return send_message (self, NULL, normal, priority, timeout_us, cancellable, error);
}

/**
 * ps_queue_send_with:
 * @self: a #PsQueue
 * @size: the message's size in bytes
 * @priority: its priority: higher priorities are received first
 * @fill: (scope call): writes the message into the queue
 * @user_data: data for @fill
 * @timeout_us: how long to wait for room, as for [method@Queue.send]
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends a bytes message of @size bytes that @fill writes in place, in
 * the queue's memory, without a copy. Once there is room, @fill is
 * called once, outside any lock; the message becomes visible to
 * receivers when it returns. If the process dies inside @fill, the
 * message is never received and its slot is reclaimed.
 *
 * Across fork(): parent and child send into the same queue.
 *
 * Returns: %TRUE if sent; %FALSE (nothing sent, @fill not called) with
 *   the errors of [method@Queue.send]
 *
 * Since: 1.1
 */
gboolean
ps_queue_send_with (PsQueue          *self,
                    gsize             size,
                    guint             priority,
                    PsQueueFillFunc   fill,
                    gpointer          user_data,
                    gint64            timeout_us,
                    GCancellable     *cancellable,
                    GError          **error)
{
  PsQueueHandle *handle;
  PsQueueTicket ticket = { 0 };

  g_return_val_if_fail (PS_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (fill != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  handle = ps_queue_get_handle (self);
  if (handle->state != NULL && !check_size (handle, size, error))
    return FALSE;
  if (!claim_waiting (self, PS_QUEUE_SEND, timeout_us, cancellable, &ticket, error))
    return FALSE;
  fill (ticket.data, size, user_data);
  return ps_queue_finish_write (handle, &ticket, TRUE, size, PS_QUEUE_MESSAGE_BYTES, priority,
                                error);
}

/**
 * ps_queue_receive_message:
 * @self: a #PsQueue
 * @out_kind: (out) (optional): how the message was sent
 * @out_bytes: (out) (optional) (transfer full) (nullable): the message
 *   as bytes
 * @out_variant: (out) (optional) (transfer full) (nullable): the message
 *   as a variant
 * @out_priority: (out) (optional): the message's priority
 * @timeout_us: how long to wait for a message, in microseconds; -1 waits
 *   forever, 0 does not wait
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the next message: the oldest of the highest priority, waiting
 * while the queue is empty, and tells how it was sent. A bytes message
 * fills @out_bytes (and @out_variant is %NULL); a variant message fills
 * @out_variant (and @out_bytes is %NULL). When the caller passes %NULL
 * for the one that matches, the other is filled instead: a bytes message
 * as an `ay` variant, a variant message as its record's bytes (the
 * format of [method@SharedMemory.write_variant]).
 *
 * Across fork(): parent and child receive from the same queue; each
 * message goes to one of them.
 *
 * Returns: %TRUE if a message was taken; %FALSE (nothing taken) with
 *   %G_IO_ERROR_WOULD_BLOCK (empty, and @timeout_us 0),
 *   %G_IO_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED, or %PS_ERROR_CORRUPT
 *   (a message that could not be read is taken and dropped)
 *
 * Since: 1.1
 */
gboolean
ps_queue_receive_message (PsQueue             *self,
                          PsQueueMessageKind  *out_kind,
                          GBytes             **out_bytes,
                          GVariant           **out_variant,
                          guint               *out_priority,
                          gint64               timeout_us,
                          GCancellable        *cancellable,
                          GError             **error)
{
  g_autoptr(GBytes) message = NULL;
  PsQueueTicket ticket = { 0 };
  guint8 buffer[PS_QUEUE_DIRECT_MAX];

  g_return_val_if_fail (PS_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (out_bytes != NULL)
    *out_bytes = NULL;
  if (out_variant != NULL)
    *out_variant = NULL;
  ticket.direct = TRUE;
  ticket.direct_buffer = buffer;
  ticket.direct_size = sizeof buffer;
  if (!claim_waiting (self, PS_QUEUE_RECEIVE, timeout_us, cancellable, &ticket, error))
    return FALSE;
  if (ticket.done)
    message = g_bytes_new (buffer, ticket.size);
  else
    message = ps_queue_take_message (ps_queue_get_handle (self), &ticket, error);
  return message != NULL &&
         ps_queue_convert_message (ticket.kind, message, ticket.priority, out_kind, out_bytes,
                                   out_variant, out_priority, error);
}

/**
 * ps_queue_receive:
 * @self: a #PsQueue
 * @out_priority: (out) (optional): the message's priority
 * @timeout_us: how long to wait for a message, as for
 *   [method@Queue.receive_message]
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the next message as bytes: the oldest of the highest priority,
 * waiting while the queue is empty. A variant message comes as its
 * record's bytes (see [method@Queue.receive_message]).
 *
 * Across fork(): parent and child receive from the same queue; each
 * message goes to one of them.
 *
 * Returns: (transfer full): the message, or %NULL (nothing taken) with
 *   the errors of [method@Queue.receive_message]
 *
 * Since: 1.1
 */
GBytes *
ps_queue_receive (PsQueue       *self,
                  guint         *out_priority,
                  gint64         timeout_us,
                  GCancellable  *cancellable,
                  GError       **error)
{
  GBytes *bytes = NULL;

  g_return_val_if_fail (PS_IS_QUEUE (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ps_queue_receive_message (self, NULL, &bytes, NULL, out_priority, timeout_us,
                                 cancellable, error))
    return NULL;
  return bytes;
}

/**
 * ps_queue_receive_variant:
 * @self: a #PsQueue
 * @out_priority: (out) (optional): the message's priority
 * @timeout_us: how long to wait for a message, as for
 *   [method@Queue.receive_message]
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the next message as a variant: the oldest of the highest
 * priority, waiting while the queue is empty. A bytes message comes as
 * an `ay` variant.
 *
 * Across fork(): parent and child receive from the same queue; each
 * message goes to one of them.
 *
 * Returns: (transfer full): the message, or %NULL (nothing taken) with
 *   the errors of [method@Queue.receive_message]
 *
 * Since: 1.1
 */
GVariant *
ps_queue_receive_variant (PsQueue       *self,
                          guint         *out_priority,
                          gint64         timeout_us,
                          GCancellable  *cancellable,
                          GError       **error)
{
  GVariant *variant = NULL;

  g_return_val_if_fail (PS_IS_QUEUE (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ps_queue_receive_message (self, NULL, NULL, &variant, out_priority, timeout_us,
                                 cancellable, error))
    return NULL;
  return variant;
}

/**
 * ps_queue_receive_with:
 * @self: a #PsQueue
 * @read: (scope call): reads the message in place
 * @user_data: data for @read
 * @timeout_us: how long to wait for a message, as for
 *   [method@Queue.receive_message]
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the next message and gives it to @read in place, in the queue's
 * memory, without a copy; its slot is freed when @read returns. A
 * variant message comes as its record's bytes. If the process dies
 * inside @read, the message goes back to the queue, in its place, and is
 * delivered again: what @read does happens at least once.
 *
 * Across fork(): parent and child receive from the same queue; each
 * message goes to one of them.
 *
 * Returns: %TRUE if a message was read; %FALSE (nothing taken, @read not
 *   called) with the errors of [method@Queue.receive_message]
 *
 * Since: 1.1
 */
gboolean
ps_queue_receive_with (PsQueue          *self,
                       PsQueueReadFunc   read,
                       gpointer          user_data,
                       gint64            timeout_us,
                       GCancellable     *cancellable,
                       GError          **error)
{
  PsQueueTicket ticket = { 0 };

  g_return_val_if_fail (PS_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (read != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!claim_waiting (self, PS_QUEUE_RECEIVE, timeout_us, cancellable, &ticket, error))
    return FALSE;
  read (ticket.data, ticket.size, ticket.kind, ticket.priority, user_data);
  return ps_queue_finish_read (ps_queue_get_handle (self), &ticket, TRUE, error);
}
