/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsQueue's claims and hand-overs: the short critical sections on the
 * queue's robust lock that claim a slot, commit a message, free a slot
 * or put a message back, and the wake-ups after them (see the design at
 * the top of ps-queue-slots.c).
 */

#include <string.h>

#include "ps-error.h"
#include "ps-identity-private.h"
#include "ps-queue-private.h"
#include "ps-queue-slots-private.h"

/* After the lock is given back: wakes the waiters of @side that the
 * section found (ps_queue_bump() forgot them). */
static void
wake_side (PsQueueHandle *handle,
           PsQueueSide    side)
{
  ps_wait_word_wake (ps_queue_side_word (handle, side), TRUE);
}

/* Under the lock: a waiter of @side that counted itself when the word
 * was @seen no longer waits; if the word moved since, the change forgot
 * it already. */
static void
uncount (PsQueueHandle *handle,
         PsQueueSide    side,
         guint32        seen)
{
  guint32 *waiters = ps_queue_side_waiters (handle, side);
  guint32 value = __atomic_load_n (ps_wait_word_value (ps_queue_side_word (handle, side)),
                                   __ATOMIC_SEQ_CST);

  if (value == seen && *waiters > 0)
    __atomic_store_n (waiters, *waiters - 1, __ATOMIC_SEQ_CST);
}

/* The queue's sections are a few stores and at most a copy of
 * PS_QUEUE_DIRECT_MAX bytes: a holder on another CPU lets go within a
 * microsecond or so, far sooner than a sleep and a wake-up. */
#define LOCK_SPINS 100

/* @timeout_us and @cancellable bound the wait for a lock that a stopped
 * peer holds, or a peer forged to look held for ever. */
static gboolean
lock_queue (PsQueueHandle  *handle,
            gint64          timeout_us,
            GCancellable   *cancellable,
            GError        **error)
{
  GError *local = NULL;
  gboolean repaired;

  if (G_LIKELY (ps_robust_mutex_lock_polling (&handle->lock, LOCK_SPINS, timeout_us, cancellable,
                                              &local)))
    return TRUE;
  if (g_error_matches (local, PS_ERROR, PS_ERROR_NOT_RECOVERABLE))
    {
      /* Never by the queue's own hand: it marks every repair consistent. */
      g_clear_error (&local);
      ps_queue_set_corrupt (error, "its lock was marked unrecoverable");
      return FALSE;
    }
  if (!g_error_matches (local, PS_ERROR, PS_ERROR_OWNER_DEAD))
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  g_clear_error (&local);
  repaired = ps_queue_repair (handle, error);
  /* Consistent either way: a corrupt state is reported to every caller
   * as such, rather than as an unrecoverable lock. */
  ps_robust_mutex_mark_consistent (&handle->lock, NULL);
  if (!repaired)
    {
      ps_robust_mutex_unlock (&handle->lock, FALSE, NULL);
      return FALSE;
    }
  ps_robust_mutex_unlock (&handle->lock, FALSE, NULL);
  wake_side (handle, PS_QUEUE_SEND);
  wake_side (handle, PS_QUEUE_RECEIVE);
  return lock_queue (handle, timeout_us, cancellable, error);
}

static void
unlock_queue (PsQueueHandle *handle)
{
  ps_robust_mutex_unlock (&handle->lock, FALSE, NULL);
}

/* The whole transfer of a small message, under the lock, in a slot just
 * claimed for it. */
static gboolean
transfer_direct (PsQueueHandle  *handle,
                 PsQueueSide     side,
                 PsQueueTicket  *ticket,
                 gboolean       *gained_space,
                 gboolean       *gained_messages,
                 GError        **error)
{
  PsQueueState *state = handle->state;
  PsQueueSlot *slot = ps_queue_slot_at (handle, ticket->index);
  gboolean wake = FALSE;

  if (side == PS_QUEUE_SEND)
    {
      if (ticket->direct_size > 0)
        memcpy (ticket->data, ticket->direct_data, ticket->direct_size);
      slot->kind = PS_QUEUE_MESSAGE_BYTES;
      slot->size = ticket->direct_size;
      slot->priority = ticket->direct_priority;
      slot->sequence = state->next_sequence++;
      state->n_writing -= state->n_writing > 0;
      if (!ps_queue_make_ready (handle, ticket->index, &wake, error))
        return FALSE;
      *gained_messages |= wake;
      ticket->done = TRUE;
    }
  else if (ticket->size <= ticket->direct_size)
    {
      if (ticket->size > 0)
        memcpy (ticket->direct_buffer, ticket->data, ticket->size);
      state->n_reading -= state->n_reading > 0;
      *gained_space |= ps_queue_push_free (handle, ticket->index);
      ticket->done = TRUE;
    }
  return TRUE;
}

/* Claims ------------------------------------------------------------------- */

PsQueueClaim
ps_queue_claim (PsQueueHandle  *handle,
                PsQueueSide     side,
                gboolean        wait,
                const guint32  *registered,
                PsQueueProbe    probe,
                gint64          lock_timeout_us,
                GCancellable   *cancellable,
                PsQueueTicket  *ticket,
                guint32        *out_seen,
                gboolean       *out_busy,
                GError        **error)
{
  PsQueueState *state = handle->state;
  gboolean gained_space = FALSE;
  gboolean gained_messages = FALSE;
  GError *local = NULL;
  guint32 index;
  PsQueueSlot *slot;

  if (!lock_queue (handle, lock_timeout_us, cancellable, error))
    return PS_QUEUE_FAILED;
  if (registered != NULL)
    uncount (handle, side, *registered);

  /* Dead owners looked for before the first message or free slot is
   * taken, so that a message put back keeps its place: when there is
   * none, and every PS_QUEUE_PROBE_US while slots are claimed. */
  if (probe != PS_QUEUE_PROBE_NONE && state->n_writing + state->n_reading > 0)
    {
      guint32 head = side == PS_QUEUE_SEND ? state->free_head : state->ready_head;
      gint64 now = g_get_monotonic_time ();

      if ((head == PS_QUEUE_NONE &&
           (probe == PS_QUEUE_PROBE_FULL || now >= handle->empty_probe_after)) ||
          now >= handle->probe_after)
        {
          handle->probe_after = now + PS_QUEUE_PROBE_US;
          handle->empty_probe_after = now + PS_QUEUE_EMPTY_PROBE_US;
          ps_queue_probe_owners (handle, probe == PS_QUEUE_PROBE_QUICK, &gained_space,
                                 &gained_messages, &local);
        }
    }
  index = local == NULL ? ps_queue_pop (handle, side) : PS_QUEUE_NONE;
  if (local != NULL || index == PS_QUEUE_CORRUPT_INDEX)
    {
      unlock_queue (handle);
      if (local != NULL)
        g_propagate_error (error, local);
      else
        ps_queue_set_corrupt (error, side == PS_QUEUE_SEND ? "its list of free slots"
                                                           : "its list of messages");
      return PS_QUEUE_FAILED;
    }

  if (index == PS_QUEUE_NONE)
    {
      *out_busy = state->n_writing + state->n_reading > 0;
      if (wait)
        __atomic_fetch_add (ps_queue_side_waiters (handle, side), 1, __ATOMIC_SEQ_CST);
      *out_seen = __atomic_load_n (ps_wait_word_value (ps_queue_side_word (handle, side)),
                                   __ATOMIC_SEQ_CST);
      unlock_queue (handle);
      goto wake;
    }

  ps_queue_note_cpu (handle, side);
  slot = ps_queue_slot_at (handle, index);
  ticket->index = index;
  ticket->data = (guint8 *) slot + sizeof (PsQueueSlot);
  if (side == PS_QUEUE_RECEIVE)
    {
      guint64 size = slot->size;
      guint32 kind = slot->kind;

      if (size > handle->max_message_size || kind > PS_QUEUE_MESSAGE_VARIANT)
        {
          /* Dropped: a message nobody could read. */
          state->n_ready -= state->n_ready > 0;
          gained_space |= ps_queue_push_free (handle, index);
          unlock_queue (handle);
          ps_queue_set_corrupt (error, "a message's size or kind");
          index = PS_QUEUE_CORRUPT_INDEX;
          goto wake;
        }
      ticket->size = size;
      ticket->kind = kind;
      ticket->priority = slot->priority;
      state->n_ready -= state->n_ready > 0;
      state->n_reading++;
    }
  else
    {
      state->n_free -= state->n_free > 0;
      state->n_writing++;
    }
  slot->owner_pid = ps_self_process_id ();
  slot->owner_stamp = ps_process_self_stamp ();
  __atomic_store_n (&slot->state,
                    side == PS_QUEUE_SEND ? PS_QUEUE_SLOT_WRITING : PS_QUEUE_SLOT_READING,
                    __ATOMIC_RELAXED);
  /* A small message: copied now, the slot handed over in the same
   * section. Killed while copying, this process leaves the lock's next
   * holder a slot WRITING or READING by a dead owner, which it reclaims. */
  if (ticket->direct && !transfer_direct (handle, side, ticket, &gained_space,
                                          &gained_messages, &local))
    {
      unlock_queue (handle);
      g_propagate_error (error, local);
      index = PS_QUEUE_CORRUPT_INDEX;
      goto wake;
    }
  unlock_queue (handle);

wake:
  if (gained_space)
    wake_side (handle, PS_QUEUE_SEND);
  if (gained_messages)
    wake_side (handle, PS_QUEUE_RECEIVE);
  if (index == PS_QUEUE_CORRUPT_INDEX)
    return PS_QUEUE_FAILED;
  return index == PS_QUEUE_NONE ? PS_QUEUE_NONE_NOW : PS_QUEUE_CLAIMED;
}

void
ps_queue_stop_waiting (PsQueueHandle *handle,
                       PsQueueSide    side,
                       guint32        seen)
{
  /* Bounded: a waiter left counted costs a wake-up, until the next
   * change forgets it. */
  if (!lock_queue (handle, PS_QUEUE_LOCK_TRY_US, NULL, NULL))
    return;
  uncount (handle, side, seen);
  unlock_queue (handle);
}

/* The slot of @ticket, if it is still this process's in @expected. */
static PsQueueSlot *
owned_slot (PsQueueHandle  *handle,
            PsQueueTicket  *ticket,
            guint32         expected,
            GError        **error)
{
  PsQueueSlot *slot = ps_queue_slot_at (handle, ticket->index);

  if (__atomic_load_n (&slot->state, __ATOMIC_RELAXED) != expected ||
      slot->owner_pid != ps_self_process_id ())
    {
      ps_queue_set_corrupt (error, "a claimed slot was taken away");
      return NULL;
    }
  return slot;
}

gboolean
ps_queue_finish_write (PsQueueHandle       *handle,
                       PsQueueTicket       *ticket,
                       gboolean             commit,
                       gsize                size,
                       PsQueueMessageKind   kind,
                       guint                priority,
                       GError             **error)
{
  PsQueueState *state = handle->state;
  PsQueueSlot *slot;
  gboolean wake = FALSE;
  gboolean ok;

  /* Without a bound: the slot is ours until this is done. */
  if (!lock_queue (handle, -1, NULL, error))
    return FALSE;
  slot = owned_slot (handle, ticket, PS_QUEUE_SLOT_WRITING, error);
  if (slot == NULL)
    {
      unlock_queue (handle);
      return FALSE;
    }
  state->n_writing -= state->n_writing > 0;
  if (!commit)
    {
      wake = ps_queue_push_free (handle, ticket->index);
      unlock_queue (handle);
      if (wake)
        wake_side (handle, PS_QUEUE_SEND);
      return TRUE;
    }
  slot->kind = kind;
  slot->size = size;
  slot->priority = priority;
  slot->sequence = state->next_sequence++;
  ok = ps_queue_make_ready (handle, ticket->index, &wake, error);
  unlock_queue (handle);
  if (wake)
    wake_side (handle, PS_QUEUE_RECEIVE);
  return ok;
}

gboolean
ps_queue_finish_read (PsQueueHandle  *handle,
                      PsQueueTicket  *ticket,
                      gboolean        consumed,
                      GError        **error)
{
  PsQueueState *state = handle->state;
  PsQueueSlot *slot;
  gboolean wake = FALSE;
  gboolean ok = TRUE;

  /* Without a bound: the slot is ours until this is done. */
  if (!lock_queue (handle, -1, NULL, error))
    return FALSE;
  slot = owned_slot (handle, ticket, PS_QUEUE_SLOT_READING, error);
  if (slot == NULL)
    {
      unlock_queue (handle);
      return FALSE;
    }
  state->n_reading -= state->n_reading > 0;
  if (consumed)
    wake = ps_queue_push_free (handle, ticket->index);
  else
    ok = ps_queue_make_ready (handle, ticket->index, &wake, error);
  unlock_queue (handle);
  if (wake)
    wake_side (handle, consumed ? PS_QUEUE_SEND : PS_QUEUE_RECEIVE);
  return ok;
}
