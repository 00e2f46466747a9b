/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * PsRWLock's shared state and protocol (ps-rw-lock-shares.c), below the
 * GObject (ps-rw-lock.c).
 *
 * Writers: a PsRobustMutex (ps-robust-mutex-private.h) orders them and
 * gives owner death and consistency. Its holder closes the gate, a word
 * every reader checks, then waits for the shares taken before: a writer
 * waits only for the readers already in, never for those that come
 * after it (writer preference).
 *
 * Readers: PS_RW_LOCK_N_SLOTS slots, each a cache line with a robust lock
 * of the backend. A reader holds the lock of one slot (the one its thread
 * id hashes to, or the next free one) for the length of its share, and
 * marks the slot occupied; a writer looks at the marks and waits on the
 * lock of every occupied slot. When a reader dies, the platform releases
 * its slot's lock as it releases a dead holder's mutex (the kernel's
 * robust list, robust pthread mutexes, or the darwin backend's process
 * identities, which defeat pid reuse): the writer, or the next reader of
 * that slot, takes it over and clears the mark, silently.
 *
 * The reader's mark and the writer's gate are a Dekker handshake: the
 * reader marks, then looks at the gate; the writer closes the gate, then
 * looks at the marks, all sequentially consistent, so that at least one
 * of them sees the other (and a reader that sees the gate closed backs
 * out, and waits on the writers' mutex).
 *
 * The writer looks only at the slots named in the in-use mask, on the
 * gate's line, which readers read on every share but write only when
 * their slot's bit is clear: a reader marks its slot, looks at the gate,
 * then at its bit, and if the bit is clear sets it and looks at the gate
 * again. A writer, the gate closed, clears the bits of the slots it
 * found unmarked, so that an uncontended writer looks at one line and
 * the slots of the readers in, not at all 60. A bit set is never missed:
 * a writer that reads the mask before a reader's bit is set closed the
 * gate before, and the reader sees it on its second look and backs out.
 */

#include "ps-backend-private.h"
#include "ps-identity-private.h"
#include "ps-object-header-private.h"
#include "ps-robust-mutex-private.h"
#include "ps-rw-lock.h"
#include "ps-wait-private.h"

G_BEGIN_DECLS

#define PS_RW_LOCK_N_SLOTS 60
#define PS_RW_LOCK_LINE    64

/* In n_slots: the slot count, and the protocol's version above it. The
 * first version had 60 alone there and no in-use mask: its processes,
 * which would not keep the mask, call this one's state corrupt, and
 * this one calls theirs incompatible. */
#define PS_RW_LOCK_FORMAT_V1 PS_RW_LOCK_N_SLOTS
#define PS_RW_LOCK_FORMAT    (PS_RW_LOCK_N_SLOTS | (2u << 16))
#define PS_RW_LOCK_ALL_SLOTS ((G_GUINT64_CONSTANT (1) << PS_RW_LOCK_N_SLOTS) - 1)

/* The gate: 0 open; bits set while a writer holds or is draining, or for
 * good once the lock is not recoverable. */
#define PS_RW_GATE_WRITER  1u
#define PS_RW_GATE_BROKEN  2u

typedef struct
{
  PsRobustLock lock;
  guint32      occupied;     /* 1 while a reader holds lock; 0 otherwise */
  guint32      holder_pid;   /* for diagnostics */
  guint8       padding[PS_RW_LOCK_LINE - sizeof (PsRobustLock) - 2 * sizeof (guint32)];
} PsRwSlot;

G_STATIC_ASSERT (sizeof (PsRwSlot) == PS_RW_LOCK_LINE);

/* In shared memory, after the 32-byte object header: the gate's line
 * (read by every reader, written by writers), the writers' mutex, then
 * the slots, each on a line of its own when the object is line-aligned. */
typedef struct
{
  guint32       gate;
  guint32       n_slots;          /* PS_RW_LOCK_FORMAT */
  guint32       dead_writer_pid;  /* named by the OWNER_DEAD not yet reported */
  guint32       reserved;
  guint64       in_use;           /* a superset of the marked slots, bit i for slot i */
  guint8        padding1[PS_RW_LOCK_LINE - sizeof (PsObjectHeader) - 4 * sizeof (guint32) -
                         sizeof (guint64)];
  PsRobustMutex writer;
  guint8        padding2[2 * PS_RW_LOCK_LINE - sizeof (PsRobustMutex)];
  guint32       writers_waiting;  /* for diagnostics */
  guint8        padding3[PS_RW_LOCK_LINE - sizeof (guint32)];
  PsRwSlot      slots[PS_RW_LOCK_N_SLOTS];
} PsRwLockState;

G_STATIC_ASSERT (sizeof (PsRobustMutex) <= 2 * PS_RW_LOCK_LINE);
G_STATIC_ASSERT (sizeof (PsObjectHeader) + sizeof (PsRwLockState) == PS_RW_LOCK_SIZE);
G_STATIC_ASSERT ((sizeof (PsObjectHeader) + G_STRUCT_OFFSET (PsRwLockState, slots)) %
                 PS_RW_LOCK_LINE == 0);
G_STATIC_ASSERT ((sizeof (PsObjectHeader) + G_STRUCT_OFFSET (PsRwLockState, in_use)) % 8 == 0);

/* This thread's record of its read share of one lock, in the process's
 * private record of that lock (found by its instance id). Written only by
 * the thread holding the slot's lock; read by others only to compare
 * holder with their own id. */
typedef struct
{
  guint64        holder;   /* ps_self_thread_id(), 0 if none here */
  guint          depth;    /* recursive read locks */
  gconstpointer  through;  /* the handle it was taken through (compared only) */
  PsRwSlot      *held;     /* the slot as mapped there */
} PsRwReadHold;

typedef struct
{
  guint64      instance;
  gint         ref_count;
  gint         n_away;       /* holds not in their thread's home slot */
  guint64      drainer;      /* a thread whose async write lock holds the
                              * writers' mutex while it waits for readers
                              * (it does not hold the lock yet), or 0 */
  PsRwSlot    *pinned;       /* a slot that could not be given back */
  PsRwReadHold holds[PS_RW_LOCK_N_SLOTS];
} PsRwOwnership;

/* One mapping of a lock, as a PsRWLock holds it. */
typedef struct
{
  gconstpointer        owner;
  PsRwLockState       *state;
  PsRobustMutexHandle  writer;
  PsRwOwnership       *own;
  gboolean             pinned;  /* a slot could not be given back: keep mapped */
} PsRwLockHandle;

/* The drainer (PsRwOwnership): written by that thread only, compared by
 * others with their own id. */
static inline guint64
ps_rw_lock_drainer (PsRwLockHandle *handle)
{
  return __atomic_load_n (&handle->own->drainer, __ATOMIC_RELAXED);
}

static inline void
ps_rw_lock_set_drainer (PsRwLockHandle *handle,
                        guint64         thread_id)
{
  __atomic_store_n (&handle->own->drainer, thread_id, __ATOMIC_RELAXED);
}

gboolean ps_rw_lock_state_init     (PsRwLockState   *state,
                                    GError         **error);
gboolean ps_rw_lock_handle_open    (PsRwLockHandle  *handle,
                                    gconstpointer    owner,
                                    PsRwLockState   *state,
                                    GError         **error);
void     ps_rw_lock_handle_close   (PsRwLockHandle  *handle);

/* The operations past the argument checks. @deadline: -1 waits as long
 * as it takes, 0 does not wait, anything else is a deadline of
 * g_get_monotonic_time(). @probe (for the async forms) waits until the
 * lock could be had, without keeping it and without reporting or
 * consuming an owner death. */
gint64   ps_rw_lock_deadline_from_timeout (gint64     timeout_us);
gboolean ps_rw_lock_read_acquire   (PsRwLockHandle  *handle,
                                    gint64           deadline,
                                    GCancellable    *cancellable,
                                    gboolean         probe,
                                    GError         **error);
gboolean ps_rw_lock_read_release   (PsRwLockHandle  *handle,
                                    GError         **error);
gboolean ps_rw_lock_write_acquire  (PsRwLockHandle  *handle,
                                    gint64           deadline,
                                    GCancellable    *cancellable,
                                    gboolean         probe,
                                    GError         **error);
gboolean ps_rw_lock_write_release  (PsRwLockHandle  *handle,
                                    GError         **error);
gboolean ps_rw_lock_handle_mark_consistent (PsRwLockHandle  *handle,
                                            GError         **error);
gboolean ps_rw_lock_handle_holds_read      (PsRwLockHandle  *handle);

static inline gint64
ps_rw_lock_deadline (gint64 timeout_us)
{
  return timeout_us <= 0 ? MAX (timeout_us, -1) : ps_rw_lock_deadline_from_timeout (timeout_us);
}

/* For ps-rw-lock-async.c. */
PsRwLockHandle *ps_rw_lock_get_handle (PsRWLock *self);

/* An async lock between its tries, each made by the thread that runs
 * its callback (ps-async-watch-private.h). A writer's wait keeps the
 * writers' mutex and the gate shut while it waits for the readers in, as
 * a blocking writer does: then this process's record names its thread
 * the drainer, which holds nothing it may unlock. */
typedef struct
{
  gboolean      write;
  gboolean      draining;  /* holds the writers' mutex, gate shut */
  gboolean      dead;      /* a writer died: reported once drained */
  guint64       marked;    /* the readers' slots still to wait for */
  PsRobustLock *watched;   /* the lock watched since the last try */
} PsRwAsyncLock;

/* Diagnostics (the procshared tool): a snapshot. */
guint    ps_rw_lock_state_count_readers (PsRwLockState *state);

/* The fast paths, inline in the class's entry points and in the
 * protocol's (ps-rw-lock-slots.c, ps-rw-lock-shares.c). ------------------ */

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

void     ps_rw_lock_unlock_writers      (PsRwLockHandle  *handle,
                                         gboolean         dead);
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
