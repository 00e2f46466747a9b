/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsRWLock's protocol: the writers' mutex and gate, and the readers'
 * way in past them (see ps-rw-lock-private.h). The shared state only
 * says who waits for whom; a peer that scribbles on it gets CORRUPT
 * errors, never a crash.
 */

#include "ps-error.h"
#include "ps-identity-private.h"
#include "ps-rw-lock-slots-private.h"
gint64
ps_rw_lock_deadline_from_timeout (gint64 timeout_us)
{
  gint64 deadline;

  if (timeout_us == 0)
    return 0;
  deadline = ps_deadline_from_timeout (timeout_us);
  return deadline == 0 ? 1 : deadline;
}

/* What is left of @deadline, for the writers' mutex, which takes a
 * timeout: at least 1 µs, so that a deadline that passed is a timeout
 * rather than a try. */
static gint64
timeout_left (gint64 deadline)
{
  gint64 now;

  if (deadline <= 0)
    return deadline;
  now = g_get_monotonic_time ();
  return deadline > now ? deadline - now : 1;
}

static void
set_error_from_writer (GError **error,
                       GError  *local)
{
  if (local->domain == PS_ERROR && local->code == PS_ERROR_NOT_RECOVERABLE)
    g_set_error_literal (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE,
                         "The reader-writer lock is not recoverable: a writer died and "
                         "the lock was unlocked without being marked consistent");
  else if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    ps_set_wait_error (error, PS_WAIT_TIMED_OUT, "reader-writer lock");
  else if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    ps_set_would_block_error (error, "reader-writer lock");
  else if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_propagate_error (error, g_steal_pointer (&local));
  else
    ps_rw_lock_set_corrupt_error (error);
  g_clear_error (&local);
}

void
ps_rw_lock_set_owner_dead_error (GError  **error,
                                 guint32   dead_pid)
{
  if (dead_pid != 0)
    g_set_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD,
                 "A writer of the reader-writer lock, process %u, died holding it; the "
                 "lock is now held for writing: repair the data, mark it consistent, "
                 "then write-unlock it", dead_pid);
  else
    g_set_error_literal (error, PS_ERROR, PS_ERROR_OWNER_DEAD,
                         "A writer of the reader-writer lock died holding it; the lock is "
                         "now held for writing: repair the data, mark it consistent, then "
                         "write-unlock it");
}

/* Whether the calling thread holds the lock for writing: the writers'
 * mutex, and not only as the drainer of an async write. */
static gboolean
holds_write (PsRwLockHandle *handle)
{
  guint64 thread_id = ps_self_thread_id ();

  return ps_robust_mutex_is_held_by_self (&handle->writer, thread_id) &&
         ps_rw_lock_drainer (handle) != thread_id;
}

/* A thread that holds the writers' mutex must not wait for it. */
static gboolean
check_not_writer (PsRwLockHandle  *handle,
                  guint64          thread_id,
                  const char      *holding,
                  GError         **error)
{
  if (!ps_robust_mutex_is_held_by_self (&handle->writer, thread_id))
    return TRUE;
  if (ps_rw_lock_drainer (handle) == thread_id)
    g_set_error_literal (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK,
                         "An async write lock of the calling thread waits for this lock's "
                         "readers: waiting here would deadlock");
  else
    g_set_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK, "The calling thread %s", holding);
  return FALSE;
}

/* Slots ------------------------------------------------------------------ */

/* An async wait's watch of @lock is over, @taken by the calling thread
 * or not: pass on a wake-up it may have had. */
void
ps_rw_lock_end_watch (PsRwAsyncLock *wait,
                      gboolean       taken)
{
  if (wait != NULL && wait->watched != NULL)
    ps_robust_lock_watch_done (wait->watched, taken);
  if (wait != NULL)
    wait->watched = NULL;
}

/* The slots marked, once the gate is shut: those of the in-use mask
 * only; the bits of the others are cleared (their next reader sets its
 * own again, and sees the gate). */
guint64
ps_rw_lock_marked_slots (PsRwLockState *state)
{
  guint64 in_use = __atomic_load_n (&state->in_use, __ATOMIC_SEQ_CST);
  guint64 marked = 0;

  G_STATIC_ASSERT (PS_RW_LOCK_N_SLOTS < 64);

  if (G_LIKELY (in_use == 0))
    return 0;
  /* Bits beyond the slots are a peer's scribbles: cleared below. */
  for (guint64 bits = in_use & PS_RW_LOCK_ALL_SLOTS; bits != 0; bits &= bits - 1)
    {
      guint i = (guint) __builtin_ctzll (bits);

      marked |= (guint64) (__atomic_load_n (&state->slots[i].occupied,
                                            __ATOMIC_SEQ_CST) != 0) << i;
    }
  if (in_use != marked)
    __atomic_fetch_and (&state->in_use, ~(in_use & ~marked), __ATOMIC_SEQ_CST);
  return marked;
}

/* Waits for the reader of each slot in @marked (@deadline 0: tries),
 * clearing the bit of each one gone. PS_RW_TAKE_BUSY leaves the busy
 * one lowest. */
PsRwTake
ps_rw_lock_drain_marked (PsRwLockHandle *handle,
                         guint64        *marked,
                         gint64          deadline,
                         GCancellable   *cancellable,
                         PsRwAsyncLock  *wait)
{
  for (; *marked != 0; *marked &= *marked - 1)
    {
      PsRwSlot *slot = &handle->state->slots[__builtin_ctzll (*marked)];
      PsLockStatus status;
      PsRwTake take;

      status = ps_robust_lock_try (&slot->lock);
      if (status == PS_LOCK_BUSY && deadline != 0)
        status = ps_rw_lock_wait_slot (slot, deadline, cancellable);
      /* A dead reader's share is reclaimed there, silently. */
      take = ps_rw_lock_take_status (slot, status);
      if (take != PS_RW_TAKE_OK)
        return take;
      if (wait != NULL && wait->watched == &slot->lock)
        ps_rw_lock_end_watch (wait, TRUE);
      ps_rw_lock_give_back_slot (handle, slot);
    }
  /* What the readers wrote before they left is ours to see. */
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  return PS_RW_TAKE_OK;
}

gboolean
ps_rw_lock_drain_readers (PsRwLockHandle  *handle,
                          gint64           deadline,
                          GCancellable    *cancellable,
                          GError         **error)
{
  guint64 marked = ps_rw_lock_marked_slots (handle->state);
  PsRwTake take = ps_rw_lock_drain_marked (handle, &marked, deadline, cancellable, NULL);

  return take == PS_RW_TAKE_OK || ps_rw_lock_set_take_error (take, error);
}

/* ps_robust_mutex_try_lock(), its uncontended case without calls, as
 * PsMutex's: FALSE without an error if busy. */
static inline gboolean
try_writers (PsRwLockHandle  *handle,
             GError         **error)
{
  PsMutexOwnership *own = handle->writer.own;
  PsRobustMutex *state = handle->writer.state;
  guint64 thread_id = ps_cached_thread_id;
  guint32 process_id = __atomic_load_n (&ps_cached_process_id, __ATOMIC_RELAXED);

  if (G_LIKELY (own->depth == 0 && thread_id != 0 && process_id != 0) &&
      G_LIKELY (ps_robust_lock_try_fast (&state->lock)))
    {
      if (G_UNLIKELY (g_atomic_int_get (&state->consistency) == PS_MUTEX_NOT_RECOVERABLE))
        return ps_robust_mutex_finish_lock (&handle->writer, PS_LOCK_ACQUIRED, error);
      ps_robust_mutex_record_hold (own, handle->writer.owner, state, thread_id, process_id);
      return TRUE;
    }
  return ps_robust_mutex_try_lock (&handle->writer, error);
}

/* Takes the writers' mutex. TRUE with *out_dead set if a writer died
 * with it (reported now, or left for whoever held it next). */
gboolean
ps_rw_lock_lock_writers (PsRwLockHandle  *handle,
                         gint64           deadline,
                         GCancellable    *cancellable,
                         gboolean        *out_dead,
                         GError         **error)
{
  PsRwLockState *state = handle->state;
  GError *local = NULL;
  gboolean ok;

  /* Uncontended, the try alone: waiting writers are counted only when
   * they wait. */
  ok = try_writers (handle, &local);
  if (!ok && local == NULL && deadline == 0)
    ps_set_would_block_error (&local, "reader-writer lock");
  else if (!ok && local == NULL)
    {
      guint waiting;

      g_atomic_int_inc (&state->writers_waiting);
      ok = ps_robust_mutex_lock_contended (&handle->writer, timeout_left (deadline), cancellable,
                                           &local);
      /* Saturating: a writer killed while it waited left one too many. */
      waiting = g_atomic_int_get (&state->writers_waiting);
      while (waiting > 0 &&
             !g_atomic_int_compare_and_exchange_full (&state->writers_waiting, waiting,
                                                      waiting - 1, &waiting))
        ;
    }

  if (!ok && g_error_matches (local, PS_ERROR, PS_ERROR_OWNER_DEAD))
    {
      g_clear_error (&local);
      __atomic_store_n (&state->dead_writer_pid, handle->writer.previous_owner_pid,
                        __ATOMIC_RELAXED);
      *out_dead = TRUE;
      return TRUE;
    }
  if (!ok)
    {
      set_error_from_writer (error, local);
      return FALSE;
    }
  /* A death that its first finder could not report. */
  *out_dead = g_atomic_int_get (&state->writer.consistency) == PS_MUTEX_INCONSISTENT;
  return TRUE;
}

/* Gives the writers' mutex back after a failed or probing acquisition,
 * the gate as it was found: open, or closed over a death to report. */
void
ps_rw_lock_unlock_writers (PsRwLockHandle *handle,
                           gboolean        dead)
{
  if (dead)
    {
      ps_robust_mutex_unlock_unrepaired (&handle->writer, NULL);
      return;
    }
  __atomic_store_n (&handle->state->gate, 0, __ATOMIC_RELEASE);
  ps_robust_mutex_unlock (&handle->writer, FALSE, NULL);
}

/* With the writers' mutex held: shuts the gate. FALSE, the mutex given
 * back, if the gate says the state is corrupt. */
gboolean
ps_rw_lock_close_gate (PsRwLockHandle  *handle,
                       GError         **error)
{
  guint32 gate = __atomic_fetch_or (&handle->state->gate, PS_RW_GATE_WRITER, __ATOMIC_SEQ_CST);

  if (G_UNLIKELY ((gate & ~PS_RW_GATE_WRITER) != 0))
    {
      ps_rw_lock_unlock_writers (handle, TRUE);
      ps_rw_lock_set_corrupt_error (error);
      return FALSE;
    }
  return TRUE;
}

/* With the writers' mutex held: close the gate, wait for the readers in.
 * TRUE holding the lock for writing (FALSE with OWNER_DEAD too); any
 * other error holding nothing. */
static gboolean
become_writer (PsRwLockHandle  *handle,
               gint64           deadline,
               GCancellable    *cancellable,
               gboolean         dead,
               gboolean         probe,
               GError         **error)
{
  if (!ps_rw_lock_close_gate (handle, error))
    return FALSE;
  if (!ps_rw_lock_drain_readers (handle, deadline, cancellable, error))
    {
      ps_rw_lock_unlock_writers (handle, dead);
      return FALSE;
    }
  if (probe)
    {
      ps_rw_lock_unlock_writers (handle, dead);
      return TRUE;
    }
  if (dead)
    {
      ps_rw_lock_set_owner_dead_error (error, __atomic_load_n (&handle->state->dead_writer_pid,
                                                    __ATOMIC_RELAXED));
      return FALSE;
    }
  return TRUE;
}

/* The fast write lock found the state unusable once it held the
 * writers' mutex: given back as found, for the full path to report. */
void
ps_rw_lock_write_fast_back_out (PsRwLockHandle *handle,
                                gboolean        gate_closed)
{
  if (gate_closed)
    __atomic_and_fetch (&handle->state->gate, ~PS_RW_GATE_WRITER, __ATOMIC_RELEASE);
  ps_robust_mutex_unlock_unrepaired (&handle->writer, NULL);
}

/* Whether the calling thread may wait to write: not while it holds the
 * lock in any way, or an async write of its own waits for readers. */
gboolean
ps_rw_lock_check_writer (PsRwLockHandle  *handle,
                         guint64          thread_id,
                         GError         **error)
{
  if (ps_rw_lock_find_hold (handle->own, thread_id) != NULL)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK,
                           "The calling thread holds a read share of this lock: it is "
                           "not upgraded; read-unlock it first");
      return FALSE;
    }
  return check_not_writer (handle, thread_id, "already holds this lock for writing", error);
}

gboolean
ps_rw_lock_write_acquire (PsRwLockHandle  *handle,
                          gint64           deadline,
                          GCancellable    *cancellable,
                          gboolean         probe,
                          GError         **error)
{
  gboolean dead = FALSE;
  gint done = probe ? -1 : ps_rw_lock_write_fast (handle, deadline, cancellable, error);

  if (done >= 0)
    return done;
  if (!ps_rw_lock_check_writer (handle, ps_self_thread_id (), error))
    return FALSE;
  if (!ps_rw_lock_lock_writers (handle, deadline, cancellable, &dead, error))
    return FALSE;
  return become_writer (handle, deadline, cancellable, dead, probe, error);
}

gboolean
ps_rw_lock_write_release (PsRwLockHandle  *handle,
                          GError         **error)
{
  PsRwLockState *state = handle->state;
  GError *local = NULL;
  gint done = ps_rw_lock_write_release_fast (handle, error);

  if (done >= 0)
    return done;
  if (!holds_write (handle))
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_NOT_OWNER,
                           "The calling thread does not hold the lock for writing");
      return FALSE;
    }
  /* Unrepaired data condemns the lock, and its gate stays shut. */
  if (g_atomic_int_get (&state->writer.consistency) != PS_MUTEX_CONSISTENT)
    __atomic_store_n (&state->gate, PS_RW_GATE_WRITER | PS_RW_GATE_BROKEN, __ATOMIC_RELEASE);
  else
    __atomic_store_n (&state->gate, 0, __ATOMIC_RELEASE);
  if (!ps_robust_mutex_unlock (&handle->writer, TRUE, &local))
    {
      set_error_from_writer (error, local);
      return FALSE;
    }
  return TRUE;
}

gboolean
ps_rw_lock_handle_mark_consistent (PsRwLockHandle  *handle,
                                   GError         **error)
{
  if (!holds_write (handle))
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_NOT_OWNER,
                           "The calling thread does not hold the lock for writing");
      return FALSE;
    }
  __atomic_store_n (&handle->state->dead_writer_pid, 0, __ATOMIC_RELAXED);
  return ps_robust_mutex_mark_consistent (&handle->writer, error);
}

/* Readers --------------------------------------------------------------- */

#define OVERFLOW_SLICE_US (10 * 1000)

/* With the writers' mutex held, consistent: a share, then the mutex
 * given back. 1 done, 0 failed, -1 every slot taken. */
gint
ps_rw_lock_read_under_writers (PsRwLockHandle  *handle,
                               guint64          thread_id,
                               gboolean         probe,
                               GError         **error)
{
  PsRwTake result;
  guint index = 0;

  /* No writer is in, whatever the gate says. */
  __atomic_store_n (&handle->state->gate, 0, __ATOMIC_SEQ_CST);
  result = ps_rw_lock_take_free_slot (handle, thread_id, FALSE, &index);
  ps_robust_mutex_unlock (&handle->writer, FALSE, NULL);
  if (result == PS_RW_TAKE_OK)
    return ps_rw_lock_read_taken (handle, index, thread_id, probe) ? 1 : 0;
  if (result == PS_RW_TAKE_BUSY)
    return -1;   /* every slot taken: wait for one, outside the mutex */
  ps_rw_lock_set_take_error (result, error);
  return 0;
}

/* A share while no writer is in: the thread's home slot, then any other
 * free one. PS_RW_TAKE_BUSY if every slot is held. */
static gint
read_past_writer (PsRwLockHandle  *handle,
                  guint64          thread_id,
                  gint64           deadline,
                  GCancellable    *cancellable,
                  gboolean         probe,
                  GError         **error)
{
  gboolean dead = FALSE;

  if (!ps_rw_lock_lock_writers (handle, deadline, cancellable, &dead, error))
    return 0;
  /* A writer died: this reader inherits the lock, exclusively. */
  if (dead)
    return become_writer (handle, deadline, cancellable, TRUE, probe, error) ? 1 : 0;
  return ps_rw_lock_read_under_writers (handle, thread_id, probe, error);
}

static gboolean read_acquire_full (PsRwLockHandle  *handle,
                                   gint64           deadline,
                                   GCancellable    *cancellable,
                                   gboolean         probe,
                                   GError         **error);

gboolean
ps_rw_lock_read_acquire (PsRwLockHandle  *handle,
                         gint64           deadline,
                         GCancellable    *cancellable,
                         gboolean         probe,
                         GError         **error)
{
  if (!probe && ps_rw_lock_read_fast (handle))
    return TRUE;
  return read_acquire_full (handle, deadline, cancellable, probe, error);
}

static gboolean
read_acquire_full (PsRwLockHandle  *handle,
                   gint64           deadline,
                   GCancellable    *cancellable,
                   gboolean         probe,
                   GError         **error)
{
  PsRwLockState *state = handle->state;
  guint64 thread_id = ps_self_thread_id ();
  guint home = ps_rw_lock_home_slot (thread_id);
  PsRwReadHold *hold = ps_rw_lock_find_hold (handle->own, thread_id);

  /* A recursive read lock is counted here, and never waits, even for a
   * writer that waits for this very share (that would deadlock). */
  if (hold != NULL)
    {
      if (probe)
        return TRUE;
      if (hold->depth == G_MAXUINT)
        {
          g_set_error_literal (error, PS_ERROR, PS_ERROR_FAILED,
                               "The lock could not be read-locked: recursion too deep");
          return FALSE;
        }
      hold->depth++;
      return TRUE;
    }
  if (!check_not_writer (handle, thread_id, "holds this lock for writing", error))
    return FALSE;

  for (;;)
    {
      PsRwTake result = PS_RW_TAKE_GATE;
      guint index = 0;

      if (__atomic_load_n (&state->gate, __ATOMIC_ACQUIRE) == 0)
        result = ps_rw_lock_take_free_slot (handle, thread_id, TRUE, &index);
      if (result == PS_RW_TAKE_OK)
        return ps_rw_lock_read_taken (handle, index, thread_id, probe);

      if (result == PS_RW_TAKE_GATE)
        {
          gint done = read_past_writer (handle, thread_id, deadline, cancellable, probe, error);

          if (done >= 0)
            return done == 1;
          result = PS_RW_TAKE_BUSY;
        }
      if (result != PS_RW_TAKE_BUSY)
        return ps_rw_lock_set_take_error (result, error);
      if (deadline == 0)
        return ps_rw_lock_set_take_error (PS_RW_TAKE_BUSY, error);

      /* More readers than slots: wait for the home slot, and look at the
       * others every OVERFLOW_SLICE_US (readers give theirs back without
       * looking for waiters, which keeps their unlock cheap). */
      {
        gint64 slice_end = g_get_monotonic_time () + OVERFLOW_SLICE_US;
        gboolean last = deadline > 0 && deadline <= slice_end;

        result = ps_rw_lock_finish_take (handle, &state->slots[home],
                              ps_rw_lock_wait_slot (&state->slots[home], last ? deadline : slice_end,
                                         cancellable), TRUE);
        if (result == PS_RW_TAKE_OK)
          return ps_rw_lock_read_taken (handle, home, thread_id, probe);
        if (result == PS_RW_TAKE_TIMED_OUT && !last)
          continue;
        if (result != PS_RW_TAKE_BUSY && result != PS_RW_TAKE_GATE)
          return ps_rw_lock_set_take_error (result, error);
      }
    }
}

static gboolean read_release_full (PsRwLockHandle  *handle,
                                   GError         **error);

gboolean
ps_rw_lock_read_release (PsRwLockHandle  *handle,
                         GError         **error)
{
  gint done = ps_rw_lock_read_release_fast (handle, error);

  if (done >= 0)
    return done;
  return read_release_full (handle, error);
}

static gboolean
read_release_full (PsRwLockHandle  *handle,
                   GError         **error)
{
  PsRwReadHold *hold = ps_rw_lock_find_hold (handle->own, ps_self_thread_id ());
  PsRwSlot *held;

  if (hold == NULL)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_NOT_OWNER,
                           "The calling thread holds no read share of the lock");
      return FALSE;
    }
  if (hold->depth > 1)
    {
      hold->depth--;
      return TRUE;
    }
  held = ps_rw_lock_forget_read (handle, hold);
  ps_rw_lock_give_back_slot (handle, held);
  if (handle->pinned && handle->own->pinned == held)
    {
      ps_rw_lock_set_corrupt_error (error);
      return FALSE;
    }
  return TRUE;
}

