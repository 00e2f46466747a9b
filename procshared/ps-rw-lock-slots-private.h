/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* PsRWLock's reader slots (ps-rw-lock-slots.c), for its protocol
 * (ps-rw-lock-shares.c). */

#include "ps-identity-private.h"
#include "ps-rw-lock-private.h"

G_BEGIN_DECLS

typedef enum
{
  PS_RW_TAKE_OK,
  PS_RW_TAKE_BUSY,
  PS_RW_TAKE_GATE,        /* taken, then given back: a writer closed the gate */
  PS_RW_TAKE_TIMED_OUT,
  PS_RW_TAKE_CANCELLED,
  PS_RW_TAKE_CORRUPT,
} PsRwTake;

/* The slot a thread tries first: spread by a multiplicative hash of its
 * unique id, whose low word is a per-process serial number. */
static inline guint
ps_rw_lock_home_slot (guint64 thread_id)
{
  /* The hash's high word scaled to the slots: a multiplication, no
   * division. */
  return (guint) ((((thread_id * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15)) >> 32) *
                   PS_RW_LOCK_N_SLOTS) >> 32);
}

/* The slot's lock given back by the backend's general path, and the
 * slot pinned if that failed (ps-rw-lock-slots.c). */
void ps_rw_lock_unlock_slot (PsRwLockHandle *handle,
                             PsRwSlot       *slot);
void ps_rw_lock_pin_slot    (PsRwLockHandle *handle,
                             PsRwSlot       *slot);

/* Gives back a slot this thread took, its mark cleared: the uncontended
 * case without calls where the backend has one. */
static inline __attribute__((always_inline)) void
ps_rw_lock_give_back_slot (PsRwLockHandle *handle,
                           PsRwSlot       *slot)
{
  __atomic_store_n (&slot->holder_pid, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&slot->occupied, 0, __ATOMIC_RELEASE);
  if (G_LIKELY (ps_robust_lock_can_unlock_fast (&slot->lock)))
    {
      if (G_UNLIKELY (!ps_robust_lock_unlock_fast (&slot->lock)))
        ps_rw_lock_pin_slot (handle, slot);
    }
  else
    ps_rw_lock_unlock_slot (handle, slot);
}

/* This thread's record of a share just taken in its home slot, where
 * ps_rw_lock_find_hold() looks first. */
static inline __attribute__((always_inline)) void
ps_rw_lock_record_home (PsRwLockHandle *handle,
                        PsRwReadHold   *hold,
                        PsRwSlot       *slot,
                        guint64         thread_id)
{
  hold->depth = 1;
  hold->through = handle->owner;
  hold->held = slot;
  __atomic_store_n (&hold->holder, thread_id, __ATOMIC_RELAXED);
  __atomic_store_n (&slot->holder_pid, ps_self_process_id (), __ATOMIC_RELAXED);
}

PsRwTake ps_rw_lock_check_marked (PsRwLockHandle *handle,
                                  PsRwSlot *slot,
                                  gboolean check_gate);

void ps_rw_lock_set_corrupt_error (GError **error);

/* A read share in the common case, without calls: the process holds no
 * share in the calling thread's home slot and none away from home (so
 * the thread holds none), nor the writers' mutex; no writer is in; the
 * home slot is free. Its lock, its mark, the gate again and the slot's
 * in-use bit, then this thread's record. FALSE, holding nothing new, if
 * not the common case. */
static inline __attribute__((always_inline)) gboolean
ps_rw_lock_read_fast (PsRwLockHandle *handle)
{
  PsRwLockState *state = handle->state;
  PsRwOwnership *own = handle->own;
  guint64 thread_id = ps_cached_thread_id;
  guint home = ps_rw_lock_home_slot (thread_id);
  PsRwReadHold *hold = &own->holds[home];
  PsRwSlot *slot = &state->slots[home];

  if (G_UNLIKELY (thread_id == 0 || __atomic_load_n (&hold->holder, __ATOMIC_RELAXED) != 0 ||
                  g_atomic_int_get (&own->n_away) != 0 || handle->writer.own->depth != 0 ||
                  __atomic_load_n (&state->gate, __ATOMIC_RELAXED) != 0) ||
      G_UNLIKELY (!ps_robust_lock_try_fast (&slot->lock)))
    return FALSE;
  __atomic_exchange_n (&slot->occupied, 1, __ATOMIC_SEQ_CST);
  if (G_LIKELY (__atomic_load_n (&state->gate, __ATOMIC_SEQ_CST) == 0 &&
                (__atomic_load_n (&state->in_use, __ATOMIC_SEQ_CST) &
                 (G_GUINT64_CONSTANT (1) << home)) != 0) ||
      ps_rw_lock_check_marked (handle, slot, TRUE) == PS_RW_TAKE_OK)
    {
      ps_rw_lock_record_home (handle, hold, slot, thread_id);
      return TRUE;
    }
  return FALSE;   /* a writer came: the slot was given back */
}

/* A read unlock in the common case, without calls: a share held once,
 * in the thread's home slot. 1 done, 0 failed (@error), -1 not the
 * common case (nothing done). */
static inline __attribute__((always_inline)) gint
ps_rw_lock_read_release_fast (PsRwLockHandle  *handle,
                              GError         **error)
{
  guint64 thread_id = ps_cached_thread_id;
  PsRwReadHold *hold = &handle->own->holds[ps_rw_lock_home_slot (thread_id)];
  PsRwSlot *held;

  if (G_UNLIKELY (__atomic_load_n (&hold->holder, __ATOMIC_RELAXED) != thread_id ||
                  thread_id == 0 || hold->depth != 1))
    return -1;
  held = hold->held;
  hold->depth = 0;
  hold->through = NULL;
  hold->held = NULL;
  __atomic_store_n (&hold->holder, 0, __ATOMIC_RELAXED);
  ps_rw_lock_give_back_slot (handle, held);
  if (G_UNLIKELY (handle->pinned && handle->own->pinned == held))
    {
      ps_rw_lock_set_corrupt_error (error);
      return 0;
    }
  return 1;
}
PsLockStatus ps_rw_lock_wait_slot (PsRwSlot *slot,
                                   gint64 deadline,
                                   GCancellable *cancellable);
PsRwTake ps_rw_lock_take_status (PsRwSlot *slot,
                                 PsLockStatus status);
PsRwTake ps_rw_lock_finish_take (PsRwLockHandle *handle,
                                   PsRwSlot *slot,
                                   PsLockStatus status,
                                   gboolean check_gate);
void ps_rw_lock_record_read (PsRwLockHandle *handle,
                             guint index,
                             guint64 thread_id);
gboolean ps_rw_lock_read_taken (PsRwLockHandle *handle,
                                guint index,
                                guint64 thread_id,
                                gboolean probe);
gboolean ps_rw_lock_set_take_error (PsRwTake result,
                                    GError **error);
PsRwTake ps_rw_lock_take_free_slot (PsRwLockHandle *handle,
                                      guint64 thread_id,
                                      gboolean check_gate,
                                      guint *out_index);
PsRwReadHold * ps_rw_lock_find_hold (PsRwOwnership *own,
                                     guint64 thread_id);
PsRwSlot * ps_rw_lock_forget_read (PsRwLockHandle *handle,
                                   PsRwReadHold *hold);


/* The protocol's steps (ps-rw-lock-shares.c), for the async locks
 * (ps-rw-lock-async.c), which take them one try at a time. */
gboolean ps_rw_lock_lock_writers        (PsRwLockHandle  *handle,
                                         gint64           deadline,
                                         GCancellable    *cancellable,
                                         gboolean        *out_dead,
                                         GError         **error);
void     ps_rw_lock_unlock_writers      (PsRwLockHandle  *handle,
                                         gboolean         dead);
gboolean ps_rw_lock_close_gate          (PsRwLockHandle  *handle,
                                         GError         **error);
guint64  ps_rw_lock_marked_slots        (PsRwLockState   *state);
PsRwTake ps_rw_lock_drain_marked        (PsRwLockHandle  *handle,
                                         guint64         *marked,
                                         gint64           deadline,
                                         GCancellable    *cancellable,
                                         PsRwAsyncLock   *wait);
gboolean ps_rw_lock_check_writer        (PsRwLockHandle  *handle,
                                         guint64          thread_id,
                                         GError         **error);
gint     ps_rw_lock_read_under_writers  (PsRwLockHandle  *handle,
                                         guint64          thread_id,
                                         gboolean         probe,
                                         GError         **error);
void     ps_rw_lock_set_owner_dead_error (GError        **error,
                                          guint32         dead_pid);
void     ps_rw_lock_end_watch           (PsRwAsyncLock   *wait,
                                         gboolean         taken);

gboolean ps_rw_lock_drain_readers       (PsRwLockHandle  *handle,
                                         gint64           deadline,
                                         GCancellable    *cancellable,
                                         GError         **error);
void     ps_rw_lock_write_fast_back_out (PsRwLockHandle  *handle,
                                         gboolean         gate_closed);

/* A write lock in the common case, without calls unless readers are in:
 * the calling thread holds no share (none in its home slot, and the
 * process none away from home), the process not the writers' mutex,
 * which is consistent and free. Its lock, the gate closed, then the
 * readers in waited for (the in-use mask says whether any may be).
 * 1 taken, 0 failed (@error, holding nothing), -1 not the common case
 * (nothing done). */
static inline __attribute__((always_inline)) gint
ps_rw_lock_write_fast (PsRwLockHandle  *handle,
                       gint64           deadline,
                       GCancellable    *cancellable,
                       GError         **error)
{
  PsRwLockState *state = handle->state;
  PsMutexOwnership *own = handle->writer.own;
  guint64 thread_id = ps_cached_thread_id;
  guint32 process_id = __atomic_load_n (&ps_cached_process_id, __ATOMIC_RELAXED);
  PsRwReadHold *hold = &handle->own->holds[ps_rw_lock_home_slot (thread_id)];
  guint32 gate;

  if (G_UNLIKELY (thread_id == 0 || process_id == 0 || own->depth != 0 ||
                  __atomic_load_n (&hold->holder, __ATOMIC_RELAXED) == thread_id ||
                  g_atomic_int_get (&handle->own->n_away) != 0 ||
                  g_atomic_int_get (&state->writer.consistency) != PS_MUTEX_CONSISTENT) ||
      G_UNLIKELY (!ps_robust_lock_try_fast (&state->writer.lock)))
    return -1;
  ps_robust_mutex_record_hold (own, handle->writer.owner, &state->writer, thread_id, process_id);
  if (G_UNLIKELY (g_atomic_int_get (&state->writer.consistency) != PS_MUTEX_CONSISTENT))
    {
      ps_rw_lock_write_fast_back_out (handle, FALSE);
      return -1;
    }
  gate = __atomic_fetch_or (&state->gate, PS_RW_GATE_WRITER, __ATOMIC_SEQ_CST);
  if (G_UNLIKELY (gate != 0))
    {
      ps_rw_lock_write_fast_back_out (handle, (gate & PS_RW_GATE_WRITER) == 0);
      return -1;
    }
  if (G_LIKELY (__atomic_load_n (&state->in_use, __ATOMIC_SEQ_CST) == 0))
    {
      __atomic_thread_fence (__ATOMIC_ACQUIRE);
      return 1;
    }
  if (ps_rw_lock_drain_readers (handle, deadline, cancellable, error))
    return 1;
  ps_rw_lock_unlock_writers (handle, FALSE);
  return 0;
}

/* A write unlock in the common case, without calls, as PsMutex's: held
 * once by this thread (not as an async write's drainer), consistent,
 * nobody waiting. 1 done, 0 failed (@error), -1 not the common case
 * (nothing done). */
static inline __attribute__((always_inline)) gint
ps_rw_lock_write_release_fast (PsRwLockHandle  *handle,
                               GError         **error)
{
  PsRwLockState *state = handle->state;
  PsMutexOwnership *own = handle->writer.own;
  PsRobustMutex *held = own->held_state;
  guint64 thread_id = ps_cached_thread_id;

  if (G_UNLIKELY (own->depth != 1 || own->holder != thread_id || thread_id == 0 ||
                  ps_rw_lock_drainer (handle) == thread_id ||
                  g_atomic_int_get (&state->writer.consistency) != PS_MUTEX_CONSISTENT) ||
      G_UNLIKELY (!ps_robust_lock_can_unlock_fast (&held->lock)))
    return -1;
  __atomic_store_n (&state->gate, 0, __ATOMIC_RELEASE);
  ps_robust_mutex_clear_hold (own, &state->writer);
  if (G_LIKELY (ps_robust_lock_unlock_fast (&held->lock)))
    return 1;
  ps_robust_mutex_pin (own, held);
  ps_rw_lock_set_corrupt_error (error);
  return 0;
}

G_END_DECLS
