/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsQueue's protocol over its slots (layout in ps-queue-private.h).
 *
 * Every slot has a state word: FREE, WRITING (claimed by a sender,
 * whose pid and start-time stamp it records), READY (a committed
 * message: kind, size, priority and commit sequence), READING (claimed
 * by a receiver, the READY fields kept). Short critical sections on the
 * queue's robust lock move slots between states and keep two lists
 * threaded through the slots' next fields: the free slots, and the ready
 * messages in delivery order (highest priority first, then lowest
 * sequence), so that claiming a free slot, committing a message (mostly
 * appended at the tail) and taking the first one cost O(1). Copies into
 * and out of a slot happen outside the lock, in the slot's owner.
 *
 * The slots' states are the truth; the lists and counts are derived
 * from them. So:
 *
 *  - a lock holder that dies (OWNER_DEAD) leaves at most the lists and
 *    counts half-changed: the next holder rebuilds them from the states
 *    (repair()) and marks the lock consistent; no caller ever sees an
 *    owner death;
 *  - a slot WRITING or READING whose owner process is gone is reclaimed:
 *    WRITING becomes FREE (the half-written message is never seen),
 *    READING becomes READY again, in its place (same priority and
 *    sequence), to be delivered to another receiver. While slots are
 *    claimed, a claimant looks for such owners (one system call per
 *    claimed slot) when it finds nothing to claim, and at most every
 *    PS_QUEUE_PROBE_US otherwise, before it takes anything (so a message
 *    put back keeps its place); a waiter that sleeps while slots are
 *    claimed wakes every PS_QUEUE_PROBE_US to look again, more
 *    thoroughly (a dead process may be a zombie still).
 *
 * Waiting: each side sleeps on a word (messages, space) that changes
 * when its list (ready, free) stops being empty, the only change a
 * sleeper can be waiting for; a thread counts itself as a waiter under
 * the lock before it reads the word, and the change, under the lock,
 * forgets every waiter counted and wakes them all once the lock is
 * given back: a waiter that dies just after a wake-up meant for it
 * leaves nobody else asleep beside a message or a slot, and one that
 * dies asleep is counted only until the next change. Uncontended sends
 * and receives make no system call, and messages up to
 * PS_QUEUE_DIRECT_MAX bytes are copied inside the claiming section (one
 * section per send or receive).
 *
 * Everything read from shared memory is checked before use (indices,
 * states, sizes, kinds, the length of walks): a peer's scribbles give
 * PS_ERROR_CORRUPT, never a crash, a hang or an over-read.
 */

#include <stdlib.h>

#include "ps-error.h"
#include "ps-identity-private.h"
#include "ps-queue-private.h"
#include "ps-queue-slots-private.h"
#include "ps-spin-private.h"

#define ALIGN64(n) (((n) + 63) & ~(gsize) 63)

static gsize
slots_offset (void)
{
  return ALIGN64 (sizeof (PsQueueState));
}

gboolean
ps_queue_state_measure (guint   capacity,
                        gsize   max_message_size,
                        gsize  *out_state_size)
{
  gsize stride;
  gsize slots;

  if (capacity == 0 || capacity > PS_QUEUE_MAX_CAPACITY ||
      max_message_size > PS_QUEUE_MAX_MESSAGE_SIZE)
    return FALSE;
  stride = ALIGN64 (sizeof (PsQueueSlot) + max_message_size);
  if (!g_size_checked_mul (&slots, stride, capacity) ||
      slots > (gsize) G_MAXSSIZE - slots_offset () - 4096)
    return FALSE;
  *out_state_size = slots_offset () + slots;
  return TRUE;
}

gboolean
ps_queue_state_init (PsQueueState  *state,
                     gsize          state_size,
                     guint          capacity,
                     gsize          max_message_size,
                     GError       **error)
{
  gsize needed = 0;
  gsize stride = ALIGN64 (sizeof (PsQueueSlot) + max_message_size);
  guint8 *slots = (guint8 *) state + slots_offset ();

  g_assert (ps_queue_state_measure (capacity, max_message_size, &needed) &&
            needed <= state_size);

  state->magic = PS_QUEUE_MAGIC;
  state->capacity = capacity;
  state->max_message_size = max_message_size;
  state->slot_stride = stride;
  state->slots_offset = slots_offset ();
  for (guint i = 0; i < capacity; i++)
    {
      PsQueueSlot *slot = (gpointer) (slots + (gsize) i * stride);

      slot->state = PS_QUEUE_SLOT_FREE;
      slot->kind = 0;
      slot->owner_pid = 0;
      slot->owner_stamp = 0;
      slot->size = 0;
      slot->sequence = 0;
      slot->priority = 0;
      slot->next = i + 1 < capacity ? i + 1 : PS_QUEUE_NONE;
    }
  state->ready_head = PS_QUEUE_NONE;
  state->ready_tail = PS_QUEUE_NONE;
  state->free_head = 0;
  state->n_ready = 0;
  state->n_free = capacity;
  state->n_writing = 0;
  state->n_reading = 0;
  state->next_sequence = 1;
  state->receivers_waiting = 0;
  state->senders_waiting = 0;
  return ps_robust_mutex_init (&state->lock, FALSE, error) &&
         ps_wait_word_init (&state->messages, 0, error) &&
         ps_wait_word_init (&state->space, 0, error);
}

void
ps_queue_set_corrupt (GError     **error,
                      const char  *what)
{
  g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT, "The queue's state is corrupt (%s)", what);
}

/* The creator's parameters, checked against each other and the size;
 * each read once, into @out_capacity and @out_max_message_size. */
static gboolean
check_geometry (const PsQueueState  *state,
                gsize                state_size,
                guint32             *out_capacity,
                gsize               *out_max_message_size,
                GError             **error)
{
  guint32 capacity;
  guint64 max_message_size;
  gsize needed = 0;

  if (state_size < sizeof (PsQueueState))
    {
      ps_queue_set_corrupt (error, "too small");
      return FALSE;
    }
  capacity = __atomic_load_n (&state->capacity, __ATOMIC_RELAXED);
  max_message_size = __atomic_load_n (&state->max_message_size, __ATOMIC_RELAXED);
  if (__atomic_load_n (&state->magic, __ATOMIC_RELAXED) != PS_QUEUE_MAGIC ||
      max_message_size > PS_QUEUE_MAX_MESSAGE_SIZE ||
      !ps_queue_state_measure (capacity, max_message_size, &needed) || needed > state_size ||
      __atomic_load_n (&state->slot_stride, __ATOMIC_RELAXED) !=
        ALIGN64 (sizeof (PsQueueSlot) + max_message_size) ||
      __atomic_load_n (&state->slots_offset, __ATOMIC_RELAXED) != slots_offset ())
    {
      ps_queue_set_corrupt (error, "its size or geometry");
      return FALSE;
    }
  *out_capacity = capacity;
  *out_max_message_size = max_message_size;
  return TRUE;
}

static guint
clamp_count (const guint32 *count,
             guint          capacity)
{
  return MIN (__atomic_load_n (count, __ATOMIC_RELAXED), capacity);
}

gboolean
ps_queue_state_inspect (const PsQueueState  *state,
                        gsize                state_size,
                        PsQueueInfo         *info,
                        GError             **error)
{
  guint32 capacity;
  gsize max_message_size;

  if (!check_geometry (state, state_size, &capacity, &max_message_size, error))
    return FALSE;
  info->capacity = capacity;
  info->max_message_size = max_message_size;
  info->length = clamp_count (&state->n_ready, capacity);
  info->n_free = clamp_count (&state->n_free, capacity);
  info->n_writing = clamp_count (&state->n_writing, capacity);
  info->n_reading = clamp_count (&state->n_reading, capacity);
  info->senders_waiting = __atomic_load_n (&state->senders_waiting, __ATOMIC_RELAXED);
  info->receivers_waiting = __atomic_load_n (&state->receivers_waiting, __ATOMIC_RELAXED);
  return TRUE;
}

gboolean
ps_queue_handle_open (PsQueueHandle  *handle,
                      gconstpointer   owner,
                      PsQueueState   *state,
                      gsize           state_size,
                      GError        **error)
{
  guint32 capacity;
  gsize max_message_size;

  if (!check_geometry (state, state_size, &capacity, &max_message_size, error) ||
      !ps_robust_mutex_handle_open (&handle->lock, owner, &state->lock, error))
    return FALSE;
  if (handle->lock.recursive)
    {
      ps_robust_mutex_handle_close (&handle->lock);
      ps_queue_set_corrupt (error, "its lock");
      return FALSE;
    }
  /* From now on, only these copies are trusted. */
  handle->capacity = capacity;
  handle->max_message_size = max_message_size;
  handle->stride = ALIGN64 (sizeof (PsQueueSlot) + handle->max_message_size);
  handle->slots = (guint8 *) state + slots_offset ();
  handle->state = state;
  return TRUE;
}

void
ps_queue_handle_close (PsQueueHandle *handle)
{
  if (handle->state == NULL)
    return;
  ps_robust_mutex_handle_close (&handle->lock);
  handle->state = NULL;
}

guint
ps_queue_handle_length (PsQueueHandle *handle)
{
  return clamp_count (&handle->state->n_ready, handle->capacity);
}

PsWaitWord *
ps_queue_side_word (PsQueueHandle *handle,
                    PsQueueSide    side)
{
  return side == PS_QUEUE_SEND ? &handle->state->space : &handle->state->messages;
}

#define CPU_SHIFT(side) ((side) == PS_QUEUE_SEND ? 0 : 16)

void
ps_queue_note_cpu (PsQueueHandle *handle,
                   PsQueueSide    side)
{
  guint32 mark = ps_spin_cpu_mark ();
  guint32 cpus = __atomic_load_n (&handle->state->last_cpus, __ATOMIC_RELAXED);
  guint32 noted = (cpus & ~(0xffffu << CPU_SHIFT (side))) | (mark << CPU_SHIFT (side));

  /* Written under the lock, read without it: a stale or forged value only
   * makes a waiter poll when it need not, or not when it could. */
  if (noted != cpus)
    __atomic_store_n (&handle->state->last_cpus, noted, __ATOMIC_RELAXED);
}

gint
ps_queue_last_cpu (PsQueueHandle *handle,
                   PsQueueSide    side)
{
  guint32 cpus = __atomic_load_n (&handle->state->last_cpus, __ATOMIC_RELAXED);

  return ps_spin_cpu_of_mark (cpus >> CPU_SHIFT (side));
}

/* The lists ---------------------------------------------------------------- */

static gboolean
valid_link (PsQueueHandle *handle,
            guint32        index)
{
  return index == PS_QUEUE_NONE || index < handle->capacity;
}

gboolean
ps_queue_push_free (PsQueueHandle *handle,
                    guint32        index)
{
  PsQueueState *state = handle->state;
  PsQueueSlot *slot = ps_queue_slot_at (handle, index);
  gboolean was_empty = state->free_head == PS_QUEUE_NONE;

  __atomic_store_n (&slot->state, PS_QUEUE_SLOT_FREE, __ATOMIC_RELAXED);
  slot->next = state->free_head;
  state->free_head = index;
  state->n_free++;
  /* Senders wait only while there is no free slot. */
  return was_empty && ps_queue_bump (handle, PS_QUEUE_SEND);
}

/* Whether slot @a comes before a message of @priority and @sequence. */
static inline gboolean
goes_before (PsQueueSlot *a,
             guint32      priority,
             guint64      sequence)
{
  return a->priority > priority || (a->priority == priority && a->sequence < sequence);
}

/* Links the READY slot @index in delivery order: at the tail, unless a
 * message of a lower priority is there. */
gboolean
ps_queue_insert_ready (PsQueueHandle  *handle,
                       guint32         index,
                       GError        **error)
{
  PsQueueState *state = handle->state;
  PsQueueSlot *slot = ps_queue_slot_at (handle, index);
  guint32 tail = state->ready_tail;
  guint32 prev = PS_QUEUE_NONE;
  guint32 cur = state->ready_head;

  if (!valid_link (handle, tail) || !valid_link (handle, cur) ||
      (cur == PS_QUEUE_NONE) != (tail == PS_QUEUE_NONE))
    goto corrupt;
  if (cur == PS_QUEUE_NONE)
    {
      slot->next = PS_QUEUE_NONE;
      state->ready_head = index;
      state->ready_tail = index;
      return TRUE;
    }
  if (goes_before (ps_queue_slot_at (handle, tail), slot->priority, slot->sequence))
    {
      slot->next = PS_QUEUE_NONE;
      ps_queue_slot_at (handle, tail)->next = index;
      state->ready_tail = index;
      return TRUE;
    }
  for (guint steps = 0; cur != PS_QUEUE_NONE; steps++)
    {
      PsQueueSlot *c = ps_queue_slot_at (handle, cur);

      if (steps >= handle->capacity || !valid_link (handle, c->next))
        goto corrupt;
      if (!goes_before (c, slot->priority, slot->sequence))
        break;
      prev = cur;
      cur = c->next;
    }
  slot->next = cur;
  if (prev == PS_QUEUE_NONE)
    state->ready_head = index;
  else
    ps_queue_slot_at (handle, prev)->next = index;
  if (cur == PS_QUEUE_NONE)
    state->ready_tail = index;
  return TRUE;

corrupt:
  ps_queue_set_corrupt (error, "its list of messages");
  return FALSE;
}

gboolean
ps_queue_make_ready (PsQueueHandle  *handle,
                     guint32         index,
                     gboolean       *out_wake,
                     GError        **error)
{
  PsQueueState *state = handle->state;
  gboolean was_empty = state->ready_head == PS_QUEUE_NONE;

  __atomic_store_n (&ps_queue_slot_at (handle, index)->state, PS_QUEUE_SLOT_READY,
                    __ATOMIC_RELAXED);
  if (!ps_queue_insert_ready (handle, index, error))
    return FALSE;
  state->n_ready++;
  /* Receivers wait only while there is no message. */
  *out_wake = was_empty && ps_queue_bump (handle, PS_QUEUE_RECEIVE);
  return TRUE;
}

guint32
ps_queue_pop (PsQueueHandle *handle,
              PsQueueSide    side)
{
  PsQueueState *state = handle->state;
  guint32 *head = side == PS_QUEUE_SEND ? &state->free_head : &state->ready_head;
  guint32 index = *head;
  PsQueueSlot *slot;
  guint32 next;

  if (index == PS_QUEUE_NONE)
    return PS_QUEUE_NONE;
  if (index >= handle->capacity)
    return PS_QUEUE_CORRUPT_INDEX;
  slot = ps_queue_slot_at (handle, index);
  next = slot->next;
  if (!valid_link (handle, next) ||
      __atomic_load_n (&slot->state, __ATOMIC_RELAXED) !=
        (side == PS_QUEUE_SEND ? PS_QUEUE_SLOT_FREE : PS_QUEUE_SLOT_READY))
    return PS_QUEUE_CORRUPT_INDEX;
  *head = next;
  if (side == PS_QUEUE_RECEIVE && next == PS_QUEUE_NONE)
    state->ready_tail = PS_QUEUE_NONE;
  return index;
}

/* Repair -------------------------------------------------------------------- */

typedef struct
{
  guint32 priority;
  guint32 index;
  guint64 sequence;
} ReadyKey;

static int
compare_keys (const void *a,
              const void *b)
{
  const ReadyKey *x = a;
  const ReadyKey *y = b;

  if (x->priority != y->priority)
    return x->priority > y->priority ? -1 : 1;
  if (x->sequence != y->sequence)
    return x->sequence < y->sequence ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static gboolean
owner_is_gone (PsQueueSlot *slot,
               gboolean     quick)
{
  guint32 pid = __atomic_load_n (&slot->owner_pid, __ATOMIC_RELAXED);
  guint32 stamp = __atomic_load_n (&slot->owner_stamp, __ATOMIC_RELAXED);

  if (pid == ps_self_process_id ())
    return stamp != ps_process_self_stamp ();   /* an earlier process with our pid */
  return ps_process_is_gone (pid, stamp, quick);
}

/* Rebuilds the lists and counts from the slots' states (under the lock,
 * after its holder died), reclaiming the slots of gone owners. */
gboolean
ps_queue_repair (PsQueueHandle  *handle,
                 GError        **error)
{
  PsQueueState *state = handle->state;
  g_autofree ReadyKey *keys = g_new (ReadyKey, handle->capacity);
  guint n_keys = 0;
  guint64 last_sequence = 0;

  state->free_head = PS_QUEUE_NONE;
  state->ready_head = PS_QUEUE_NONE;
  state->ready_tail = PS_QUEUE_NONE;
  state->n_free = state->n_ready = state->n_writing = state->n_reading = 0;

  for (guint32 i = handle->capacity; i-- > 0;)
    {
      PsQueueSlot *slot = ps_queue_slot_at (handle, i);

      switch (__atomic_load_n (&slot->state, __ATOMIC_RELAXED))
        {
        case PS_QUEUE_SLOT_WRITING:
          if (!owner_is_gone (slot, FALSE))
            {
              state->n_writing++;
              break;
            }
          G_GNUC_FALLTHROUGH;
        case PS_QUEUE_SLOT_FREE:
          ps_queue_push_free (handle, i);
          break;
        case PS_QUEUE_SLOT_READING:
          if (!owner_is_gone (slot, FALSE))
            {
              state->n_reading++;
              break;
            }
          G_GNUC_FALLTHROUGH;
        case PS_QUEUE_SLOT_READY:
          __atomic_store_n (&slot->state, PS_QUEUE_SLOT_READY, __ATOMIC_RELAXED);
          keys[n_keys].priority = slot->priority;
          keys[n_keys].sequence = slot->sequence;
          keys[n_keys].index = i;
          last_sequence = MAX (last_sequence, keys[n_keys].sequence);
          n_keys++;
          break;
        default:
          ps_queue_set_corrupt (error, "a slot's state");
          return FALSE;
        }
    }

  /* From the snapshot of the keys: a peer rewriting them meanwhile must
   * not make the sort's comparisons inconsistent. */
  qsort (keys, n_keys, sizeof *keys, compare_keys);
  for (guint k = 0; k < n_keys; k++)
    {
      PsQueueSlot *slot = ps_queue_slot_at (handle, keys[k].index);

      slot->next = k + 1 < n_keys ? keys[k + 1].index : PS_QUEUE_NONE;
    }
  state->ready_head = n_keys > 0 ? keys[0].index : PS_QUEUE_NONE;
  state->ready_tail = n_keys > 0 ? keys[n_keys - 1].index : PS_QUEUE_NONE;
  state->n_ready = n_keys;
  if (state->next_sequence <= last_sequence)
    state->next_sequence = last_sequence + 1;
  ps_queue_bump (handle, PS_QUEUE_RECEIVE);
  ps_queue_bump (handle, PS_QUEUE_SEND);
  return TRUE;
}

/* Reclaims the slots of gone owners: returns which sides gained. */
void
ps_queue_probe_owners (PsQueueHandle  *handle,
                       gboolean        quick,
                       gboolean       *out_space,
                       gboolean       *out_messages,
                       GError        **error)
{
  PsQueueState *state = handle->state;

  for (guint32 i = 0; i < handle->capacity; i++)
    {
      PsQueueSlot *slot = ps_queue_slot_at (handle, i);
      guint32 slot_state = __atomic_load_n (&slot->state, __ATOMIC_RELAXED);

      if ((slot_state != PS_QUEUE_SLOT_WRITING && slot_state != PS_QUEUE_SLOT_READING) ||
          !owner_is_gone (slot, quick))
        continue;
      if (slot_state == PS_QUEUE_SLOT_WRITING)
        {
          state->n_writing -= state->n_writing > 0;
          *out_space |= ps_queue_push_free (handle, i);
        }
      else
        {
          gboolean wake = FALSE;

          if (!ps_queue_make_ready (handle, i, &wake, error))
            return;
          state->n_reading -= state->n_reading > 0;
          *out_messages |= wake;
        }
    }
}

