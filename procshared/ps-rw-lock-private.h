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

G_END_DECLS
