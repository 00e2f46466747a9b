/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * PsQueue's slots and lists (ps-queue-slots.c), for its claims and
 * hand-overs (ps-queue-claim.c). Every function but ps_queue_slot_at()
 * and ps_queue_side_waiters() runs under the queue's lock.
 */

#include "ps-queue-private.h"

G_BEGIN_DECLS

/* What ps_queue_pop() gives for a list a peer scribbled on. */
#define PS_QUEUE_CORRUPT_INDEX (PS_QUEUE_NONE - 1)

/* @index: below handle->capacity (the caller checked it). */
static inline PsQueueSlot *
ps_queue_slot_at (PsQueueHandle *handle,
                  guint32        index)
{
  return (gpointer) (handle->slots + (gsize) index * handle->stride);
}

static inline guint32 *
ps_queue_side_waiters (PsQueueHandle *handle,
                       PsQueueSide    side)
{
  return side == PS_QUEUE_SEND ? &handle->state->senders_waiting
                               : &handle->state->receivers_waiting;
}

/* Under the lock, when the side's list stops being empty: changes the
 * side's word, so that its waiters sleep no longer, and forgets them
 * (each counts itself again if it sleeps again, so a waiter that died
 * asleep is not counted for ever); TRUE if there were any, to wake
 * once the lock is given back. */
static inline gboolean
ps_queue_bump (PsQueueHandle *handle,
               PsQueueSide    side)
{
  __atomic_fetch_add (ps_wait_word_value (ps_queue_side_word (handle, side)), 1,
                      __ATOMIC_SEQ_CST);
  return __atomic_exchange_n (ps_queue_side_waiters (handle, side), 0, __ATOMIC_SEQ_CST) != 0;
}

void     ps_queue_set_corrupt   (GError        **error,
                                 const char     *what);
/* Marks the slot FREE and links it in the free list; TRUE if senders
 * wait for it (see ps_queue_bump()). */
gboolean ps_queue_push_free     (PsQueueHandle  *handle,
                                 guint32         index);
/* Links the READY slot @index in delivery order. */
gboolean ps_queue_insert_ready  (PsQueueHandle  *handle,
                                 guint32         index,
                                 GError        **error);
/* Marks the slot READY and links it in delivery order; *@out_wake if
 * receivers wait for it (see ps_queue_bump()). */
gboolean ps_queue_make_ready    (PsQueueHandle  *handle,
                                 guint32         index,
                                 gboolean       *out_wake,
                                 GError        **error);
/* Unlinks the head of the free list (@side SEND) or of the ready list:
 * PS_QUEUE_NONE if empty, PS_QUEUE_CORRUPT_INDEX if corrupt. */
guint32  ps_queue_pop           (PsQueueHandle  *handle,
                                 PsQueueSide     side);
/* Rebuilds the lists and counts from the slots' states, after the
 * lock's holder died, reclaiming the slots of gone owners. */
gboolean ps_queue_repair        (PsQueueHandle  *handle,
                                 GError        **error);
/* Reclaims the slots of gone owners; tells which sides gained. */
void     ps_queue_probe_owners  (PsQueueHandle  *handle,
                                 gboolean        quick,
                                 gboolean       *out_space,
                                 gboolean       *out_messages,
                                 GError        **error);

G_END_DECLS
