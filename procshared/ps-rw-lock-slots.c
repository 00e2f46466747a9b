/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsRWLock's reader slots: this process's private record of the read
 * shares its threads hold, taking and giving back a slot, and the
 * handles on a lock's state (see ps-rw-lock-private.h). Every decision
 * about who holds what is taken from private memory.
 */

#include <pthread.h>

#include "ps-error.h"
#include "ps-identity-private.h"
#include "ps-rw-lock-slots-private.h"
static GMutex      records_lock;
static GHashTable *records;

static void
records_prepare_fork (void)
{
  g_mutex_lock (&records_lock);
}

static void
records_after_fork (void)
{
  g_mutex_unlock (&records_lock);
}

static PsRwOwnership *
record_ref (guint64 instance)
{
  static gsize initialised;
  PsRwOwnership *own;

  if (g_once_init_enter (&initialised))
    {
      records = g_hash_table_new (g_int64_hash, g_int64_equal);
      pthread_atfork (records_prepare_fork, records_after_fork, records_after_fork);
      g_once_init_leave (&initialised, 1);
    }

  g_mutex_lock (&records_lock);
  own = g_hash_table_lookup (records, &instance);
  if (own == NULL)
    {
      own = g_new0 (PsRwOwnership, 1);
      own->instance = instance;
      g_hash_table_insert (records, &own->instance, own);
    }
  own->ref_count++;
  g_mutex_unlock (&records_lock);
  return own;
}

static void
record_unref (PsRwOwnership *own)
{
  g_mutex_lock (&records_lock);
  if (--own->ref_count == 0)
    {
      g_hash_table_remove (records, &own->instance);
      g_free (own);
    }
  g_mutex_unlock (&records_lock);
}

PsRwReadHold *
ps_rw_lock_find_hold (PsRwOwnership *own,
                      guint64        thread_id)
{
  guint home = ps_rw_lock_home_slot (thread_id);

  if (__atomic_load_n (&own->holds[home].holder, __ATOMIC_RELAXED) == thread_id)
    return &own->holds[home];
  /* Only this thread can have made a hold of its own away from home, and
   * it counted it first. */
  if (g_atomic_int_get (&own->n_away) == 0)
    return NULL;
  for (guint i = 0; i < PS_RW_LOCK_N_SLOTS; i++)
    if (__atomic_load_n (&own->holds[i].holder, __ATOMIC_RELAXED) == thread_id)
      return &own->holds[i];
  return NULL;
}

gboolean
ps_rw_lock_handle_holds_read (PsRwLockHandle *handle)
{
  return ps_rw_lock_find_hold (handle->own, ps_self_thread_id ()) != NULL;
}

void
ps_rw_lock_set_corrupt_error (GError **error)
{
  g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                       "The reader-writer lock's shared state is corrupt");
}

/* The mutex's errors, said of the reader-writer lock. */
PsLockStatus
ps_rw_lock_wait_slot (PsRwSlot     *slot,
                      gint64        deadline,
                      GCancellable *cancellable)
{
  PsWaitContext context;
  PsLockStatus status;

  if (!ps_wait_context_begin (&context, cancellable, NULL))
    return PS_LOCK_CANCELLED;
  status = ps_robust_lock_wait (&slot->lock, deadline, ps_wait_context_get_canceller (&context));
  ps_wait_context_end (&context);
  return status;
}

void
ps_rw_lock_pin_slot (PsRwLockHandle *handle,
                     PsRwSlot       *slot)
{
  handle->own->pinned = slot;   /* it may still be linked where the kernel looks */
  handle->pinned = TRUE;
}

void
ps_rw_lock_unlock_slot (PsRwLockHandle *handle,
                        PsRwSlot       *slot)
{
  if (ps_robust_lock_unlock (&slot->lock) != PS_LOCK_ACQUIRED)
    ps_rw_lock_pin_slot (handle, slot);
}

/* What the backend's answer for a slot's lock means. A dead reader's slot
 * is taken over as it is, with nothing to repair: readers write nothing. */
PsRwTake
ps_rw_lock_take_status (PsRwSlot     *slot,
                        PsLockStatus  status)
{
  switch (status)
    {
    case PS_LOCK_OWNER_DIED:
      ps_robust_lock_make_consistent (&slot->lock);
      return PS_RW_TAKE_OK;
    case PS_LOCK_ACQUIRED:
      return PS_RW_TAKE_OK;
    case PS_LOCK_BUSY:
      return PS_RW_TAKE_BUSY;
    case PS_LOCK_TIMED_OUT:
      return PS_RW_TAKE_TIMED_OUT;
    case PS_LOCK_CANCELLED:
      return PS_RW_TAKE_CANCELLED;
    case PS_LOCK_NOT_RECOVERABLE:
    case PS_LOCK_WOULD_DEADLOCK:
    case PS_LOCK_NOT_OWNER:
    case PS_LOCK_FAILED:
    case PS_LOCK_CORRUPT:
    default:
      /* Slots are never condemned, and never tried by their holder. */
      return PS_RW_TAKE_CORRUPT;
    }
}

/* After the backend answered for a slot's lock: mark the slot, then look
 * at the gate (the reader's half of the handshake). */
PsRwTake
ps_rw_lock_finish_take (PsRwLockHandle *handle,
                        PsRwSlot       *slot,
                        PsLockStatus    status,
                        gboolean        check_gate)
{
  PsRwTake take = ps_rw_lock_take_status (slot, status);

  if (take != PS_RW_TAKE_OK)
    return take;
  __atomic_exchange_n (&slot->occupied, 1, __ATOMIC_SEQ_CST);
  return ps_rw_lock_check_marked (handle, slot, check_gate);
}


/* The rest of the reader's half, its slot marked: the gate, then the
 * slot's bit in the in-use mask (see ps-rw-lock-private.h). */
PsRwTake
ps_rw_lock_check_marked (PsRwLockHandle *handle,
                         PsRwSlot       *slot,
                         gboolean        check_gate)
{
  PsRwLockState *state = handle->state;
  guint64 bit = G_GUINT64_CONSTANT (1) << (slot - state->slots);

  if (check_gate && G_UNLIKELY (__atomic_load_n (&state->gate, __ATOMIC_SEQ_CST) != 0))
    {
      ps_rw_lock_give_back_slot (handle, slot);
      return PS_RW_TAKE_GATE;
    }
  if (G_LIKELY ((__atomic_load_n (&state->in_use, __ATOMIC_SEQ_CST) & bit) != 0))
    return PS_RW_TAKE_OK;
  /* Cleared by a writer since this slot was last used: set, then look
   * again, as a writer may have read the mask before. */
  __atomic_fetch_or (&state->in_use, bit, __ATOMIC_SEQ_CST);
  if (check_gate && G_UNLIKELY (__atomic_load_n (&state->gate, __ATOMIC_SEQ_CST) != 0))
    {
      ps_rw_lock_give_back_slot (handle, slot);
      return PS_RW_TAKE_GATE;
    }
  return PS_RW_TAKE_OK;
}

void
ps_rw_lock_record_read (PsRwLockHandle *handle,
                        guint           index,
                        guint64         thread_id)
{
  if (index != ps_rw_lock_home_slot (thread_id))
    g_atomic_int_inc (&handle->own->n_away);
  ps_rw_lock_record_home (handle, &handle->own->holds[index], &handle->state->slots[index],
                          thread_id);
}

/* Forgets a hold, just before its slot is given back. */
PsRwSlot *
ps_rw_lock_forget_read (PsRwLockHandle *handle,
                        PsRwReadHold   *hold)
{
  PsRwSlot *held = hold->held;
  guint index = (guint) (hold - handle->own->holds);

  __atomic_store_n (&hold->holder, 0, __ATOMIC_RELAXED);
  hold->depth = 0;
  hold->through = NULL;
  hold->held = NULL;
  if (index != ps_rw_lock_home_slot (ps_self_thread_id ()))
    g_atomic_int_add (&handle->own->n_away, -1);
  return held;
}

/* A read share taken: kept, or (probing) given straight back. */
gboolean
ps_rw_lock_read_taken (PsRwLockHandle *handle,
                       guint           index,
                       guint64         thread_id,
                       gboolean        probe)
{
  if (probe)
    ps_rw_lock_give_back_slot (handle, &handle->state->slots[index]);
  else
    ps_rw_lock_record_read (handle, index, thread_id);
  return TRUE;
}

gboolean
ps_rw_lock_set_take_error (PsRwTake   result,
                           GError     **error)
{
  switch (result)
    {
    case PS_RW_TAKE_TIMED_OUT:
      ps_set_wait_error (error, PS_WAIT_TIMED_OUT, "reader-writer lock");
      break;
    case PS_RW_TAKE_CANCELLED:
      ps_set_wait_error (error, PS_WAIT_CANCELLED, "reader-writer lock");
      break;
    case PS_RW_TAKE_BUSY:
      ps_set_would_block_error (error, "reader-writer lock");
      break;
    case PS_RW_TAKE_OK:
    case PS_RW_TAKE_GATE:
    case PS_RW_TAKE_CORRUPT:
    default:
      ps_rw_lock_set_corrupt_error (error);
      break;
    }
  return FALSE;
}

/* Writers --------------------------------------------------------------- */

/* Waits for every share taken before the gate closed. */
PsRwTake
ps_rw_lock_take_free_slot (PsRwLockHandle *handle,
                           guint64         thread_id,
                           gboolean        check_gate,
                           guint          *out_index)
{
  PsRwLockState *state = handle->state;
  guint home = ps_rw_lock_home_slot (thread_id);

  for (guint k = 0; k < PS_RW_LOCK_N_SLOTS; k++)
    {
      guint i = (home + k) % PS_RW_LOCK_N_SLOTS;
      PsRwSlot *slot = &state->slots[i];
      PsLockStatus status;
      PsRwTake result;

      /* Away from home, a marked slot is skipped without a write to its
       * line (a dead reader's mark is cleared by the next writer). */
      if (k > 0 && __atomic_load_n (&slot->occupied, __ATOMIC_RELAXED) != 0)
        continue;
      status = ps_robust_lock_try_fast (&slot->lock) ? PS_LOCK_ACQUIRED
                                                     : ps_robust_lock_try (&slot->lock);
      result = ps_rw_lock_finish_take (handle, slot, status, check_gate);
      if (result == PS_RW_TAKE_OK)
        *out_index = i;
      if (result != PS_RW_TAKE_BUSY)
        return result;
    }
  return PS_RW_TAKE_BUSY;
}

/* The gate is shut: wait for the writer on the writers' mutex, and take
 * a share while holding it (no writer can then come in). 1 done, 0
 * failed, -1 to be tried again. */
gboolean
ps_rw_lock_state_init (PsRwLockState  *state,
                       GError        **error)
{
  state->gate = 0;
  state->n_slots = PS_RW_LOCK_FORMAT;
  state->in_use = 0;
  state->dead_writer_pid = 0;
  state->writers_waiting = 0;
  if (!ps_robust_mutex_init (&state->writer, FALSE, error))
    return FALSE;
  for (guint i = 0; i < PS_RW_LOCK_N_SLOTS; i++)
    {
      state->slots[i].occupied = 0;
      state->slots[i].holder_pid = 0;
      if (!ps_robust_lock_init (&state->slots[i].lock, FALSE, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
ps_rw_lock_handle_open (PsRwLockHandle  *handle,
                        gconstpointer    owner,
                        PsRwLockState   *state,
                        GError         **error)
{
  if (state->n_slots == PS_RW_LOCK_FORMAT_V1)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_INCOMPATIBLE,
                           "The reader-writer lock was made by an older version of procshared, "
                           "whose protocol this one does not follow");
      return FALSE;
    }
  if (state->n_slots != PS_RW_LOCK_FORMAT ||
      state->gate > (PS_RW_GATE_WRITER | PS_RW_GATE_BROKEN) ||
      state->writer.recursive != 0)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                           "The reader-writer lock's state is corrupt");
      return FALSE;
    }
  for (guint i = 0; i < PS_RW_LOCK_N_SLOTS; i++)
    if (state->slots[i].occupied > 1 || !ps_robust_lock_check (&state->slots[i].lock, FALSE))
      {
        g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                     "The reader-writer lock's state is corrupt (reader slot %u)", i);
        return FALSE;
      }
  if (!ps_robust_mutex_handle_open (&handle->writer, owner, &state->writer, error))
    return FALSE;

  handle->owner = owner;
  handle->state = state;
  handle->own = record_ref (__atomic_load_n (&state->writer.instance, __ATOMIC_RELAXED));
  return TRUE;
}

void
ps_rw_lock_handle_close (PsRwLockHandle *handle)
{
  PsRwOwnership *own = handle->own;
  guint64 thread_id = ps_self_thread_id ();

  if (handle->state == NULL)
    return;

  /* As ps_robust_mutex_handle_close(): a share held through this handle
   * is on its holder's robust list, which points into this mapping. The
   * caller's own is given back; another thread's keeps the mapping. */
  for (guint i = 0; i < PS_RW_LOCK_N_SLOTS; i++)
    {
      PsRwReadHold *hold = &own->holds[i];
      guint64 holder = __atomic_load_n (&hold->holder, __ATOMIC_RELAXED);

      if (holder == 0 || hold->through != handle->owner)
        continue;
      if (holder == thread_id)
        ps_rw_lock_give_back_slot (handle, ps_rw_lock_forget_read (handle, hold));
      else
        handle->pinned = TRUE;
    }
  if (own->pinned >= handle->state->slots &&
      own->pinned < handle->state->slots + PS_RW_LOCK_N_SLOTS)
    handle->pinned = TRUE;

  ps_robust_mutex_handle_close (&handle->writer);
  handle->pinned |= handle->writer.pinned;
  record_unref (own);
  handle->own = NULL;
  handle->state = NULL;
}

guint
ps_rw_lock_state_count_readers (PsRwLockState *state)
{
  guint n = 0;

  for (guint i = 0; i < PS_RW_LOCK_N_SLOTS; i++)
    n += __atomic_load_n (&state->slots[i].occupied, __ATOMIC_RELAXED) != 0;
  return n;
}
