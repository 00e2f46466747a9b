/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * PsQueue's shared state and its protocol (ps-queue-slots.c), for the
 * class (ps-queue.c), its async operations (ps-queue-async.c) and the
 * procshared tool's `info` (ps_queue_state_inspect()).
 *
 * Layout, after the object header: a PsQueueState, then, from
 * slots_offset (a multiple of 64), `capacity` slots of slot_stride bytes
 * each (a multiple of 64): a PsQueueSlot, then max_message_size bytes of
 * message. See ps-queue-slots.c for the protocol.
 */

#include <gio/gio.h>

#include "ps-backend-private.h"
#include "ps-queue.h"
#include "ps-robust-mutex-private.h"

G_BEGIN_DECLS

#define PS_QUEUE_MAGIC             0x31455551u   /* "QUE1" */
#define PS_QUEUE_MAX_CAPACITY      65536u
#define PS_QUEUE_MAX_MESSAGE_SIZE  ((gsize) 64 * 1024 * 1024)
/* No slot: the end of a list. */
#define PS_QUEUE_NONE              G_MAXUINT32
/* How often a waiter looks for dead writers and readers while slots are
 * busy (a sleep on a queue whose slots are all free or ready is woken,
 * never timed). */
#define PS_QUEUE_PROBE_US          (50 * 1000)
/* How often one process looks for them when it finds nothing to claim:
 * in a busy stream that is most tries, and a look costs a system call
 * per claimed slot, under the lock. */
#define PS_QUEUE_EMPTY_PROBE_US    1000
/* How long a call that must not wait (a timeout of 0, an async try)
 * waits for the queue's lock, held for a few dozen instructions unless
 * its holder is stopped. */
#define PS_QUEUE_LOCK_TRY_US       (10 * 1000)

/* A slot's state word. Everything a repair needs is in the slots: the
 * lists below are rebuilt from them. */
typedef enum
{
  PS_QUEUE_SLOT_FREE    = 0,
  PS_QUEUE_SLOT_WRITING = 1,   /* by owner_pid / owner_stamp */
  PS_QUEUE_SLOT_READY   = 2,   /* kind, size, priority, sequence valid */
  PS_QUEUE_SLOT_READING = 3,   /* by owner_pid / owner_stamp; the READY fields kept */
} PsQueueSlotState;

/* In shared memory, at the start of each slot. */
typedef struct
{
  guint32 state;        /* a PsQueueSlotState */
  guint32 kind;         /* a PsQueueMessageKind */
  guint32 owner_pid;
  guint32 owner_stamp;  /* ps_process_self_stamp() of the owner */
  guint64 size;
  guint64 sequence;     /* order of the commits */
  guint32 priority;
  guint32 next;         /* the next slot in its list, or PS_QUEUE_NONE */
  guint64 reserved;
} PsQueueSlot;

G_STATIC_ASSERT (sizeof (PsQueueSlot) == 48);

/* In shared memory, after the object header. Set by the creator, never
 * changed: magic, capacity, max_message_size, slot_stride, slots_offset
 * (each process keeps its own copy, checked when it opens the queue).
 * Written under the lock: the lists, the counts, next_sequence. */
typedef struct
{
  guint32       magic;
  guint32       capacity;
  guint64       max_message_size;
  guint64       slot_stride;
  guint64       slots_offset;      /* from the start of this state */

  PsRobustMutex lock;

  guint32       ready_head;        /* READY slots, highest priority first, then by sequence */
  guint32       ready_tail;
  guint32       free_head;         /* FREE slots, any order */
  guint32       n_ready;
  guint32       n_free;
  guint32       n_writing;
  guint32       n_reading;
  guint32       last_cpus;         /* a hint: 1 + the CPU of the last sender's
                                    * claim in the low half, of the last
                                    * receiver's in the high half; 0 unknown */
  guint64       next_sequence;

  /* Wake-ups: each word changes when the ready list (messages) or the
   * free list (space) stops being empty; a thread about to sleep on one
   * counts itself in its waiters first, under the lock, and the change
   * wakes and forgets the waiters counted. */
  PsWaitWord    messages;
  PsWaitWord    space;
  guint32       receivers_waiting;
  guint32       senders_waiting;
} PsQueueState;

/* What the procshared tool's `info` shows: a snapshot, read without the
 * lock. */
typedef struct
{
  guint   capacity;
  gsize   max_message_size;
  guint   length;              /* messages ready */
  guint   n_free;
  guint   senders_waiting;
  guint   receivers_waiting;
  guint   n_writing;           /* slots being written (claimed by a sender) */
  guint   n_reading;           /* slots being read (claimed by a receiver) */
} PsQueueInfo;

/* Fills @info from the state of @state_size bytes (the object's payload
 * size), checking everything it reads: PS_ERROR_CORRUPT if it is not a
 * state a queue could have. Reads only. */
gboolean ps_queue_state_inspect (const PsQueueState *state,
                                 gsize               state_size,
                                 PsQueueInfo        *info,
                                 GError            **error);

/* The state size of a queue (not counting the object header); FALSE
 * if the parameters make no queue. */
gboolean ps_queue_state_measure (guint               capacity,
                                 gsize               max_message_size,
                                 gsize              *out_state_size);
gboolean ps_queue_state_init    (PsQueueState       *state,
                                 gsize               state_size,
                                 guint               capacity,
                                 gsize               max_message_size,
                                 GError            **error);

/* One process's view of a queue: what it checked once, kept privately. */
typedef struct
{
  PsQueueState        *state;
  guint8              *slots;
  guint32              capacity;
  gsize                max_message_size;
  gsize                stride;
  PsRobustMutexHandle  lock;
  gint64               probe_after;  /* under the lock: the next look for dead owners */
  gint64               empty_probe_after;  /* the same, when there is nothing to claim */
} PsQueueHandle;

gboolean ps_queue_handle_open  (PsQueueHandle      *handle,
                                gconstpointer       owner,
                                PsQueueState       *state,
                                gsize               state_size,
                                GError            **error);
void     ps_queue_handle_close (PsQueueHandle      *handle);

/* Messages up to this size are copied in or out inside the claim's
 * critical section: one section per send or receive instead of two. */
#define PS_QUEUE_DIRECT_MAX        512

/* A slot claimed by this process, to write or to read. */
typedef struct
{
  guint32             index;
  guint8             *data;       /* the message's bytes */
  gsize               size;       /* reading: the message's size */
  PsQueueMessageKind  kind;       /* reading */
  guint               priority;   /* reading */

  /* Set by the caller (zeros otherwise): a whole send of direct_size
   * bytes of bytes message at direct_data, with direct_priority, or a
   * whole receive into direct_buffer if the message fits in direct_size
   * bytes, made by the claim itself, which then sets done. */
  gboolean            direct;
  const guint8       *direct_data;
  guint8             *direct_buffer;
  gsize               direct_size;
  guint               direct_priority;
  gboolean            done;
} PsQueueTicket;

typedef enum
{
  PS_QUEUE_SEND,       /* claims a free slot */
  PS_QUEUE_RECEIVE,    /* claims the first ready message */
} PsQueueSide;

/* Whether a claim that finds nothing looks for the dead owners of claimed
 * slots: not at all, with one system call per claimed slot (a dead
 * process not yet reaped passes for alive), or thoroughly. */
typedef enum
{
  PS_QUEUE_PROBE_NONE,
  PS_QUEUE_PROBE_QUICK,
  PS_QUEUE_PROBE_FULL,
} PsQueueProbe;

typedef enum
{
  PS_QUEUE_CLAIMED,    /* the ticket holds the slot */
  PS_QUEUE_NONE_NOW,   /* nothing to claim: wait for *out_seen to change */
  PS_QUEUE_FAILED,     /* the error is set */
} PsQueueClaim;

/* One try to claim a slot for @side. When there is none: with @wait,
 * the caller is counted as a waiter, *@out_seen is the value of the
 * side's word to sleep on (or poll), and *@out_busy tells whether slots
 * are claimed (then the sleep must end after PS_QUEUE_PROBE_US, and the
 * next try probe thoroughly). A waiter that tries again after its sleep
 * passes the value it slept on as @registered (it may be @out_seen), to
 * be counted no longer; one that gives up calls ps_queue_stop_waiting().
 * The count is forgotten at the next change of the word, so a waiter
 * killed asleep is not counted for ever. While slots are claimed, a try
 * looks for their dead owners (@probe) when there is nothing to claim
 * (at most every PS_QUEUE_EMPTY_PROBE_US in one process, unless @probe
 * is PS_QUEUE_PROBE_FULL), and at most every PS_QUEUE_PROBE_US otherwise. @lock_timeout_us and
 * @cancellable bound the wait for the queue's lock (G_IO_ERROR_TIMED_OUT
 * or G_IO_ERROR_CANCELLED), held for a few dozen instructions unless
 * its holder is stopped or forged. */
PsQueueClaim ps_queue_claim           (PsQueueHandle   *handle,
                                       PsQueueSide      side,
                                       gboolean         wait,
                                       const guint32   *registered,
                                       PsQueueProbe     probe,
                                       gint64           lock_timeout_us,
                                       GCancellable    *cancellable,
                                       PsQueueTicket   *ticket,
                                       guint32         *out_seen,
                                       gboolean        *out_busy,
                                       GError         **error);
void         ps_queue_stop_waiting    (PsQueueHandle   *handle,
                                       PsQueueSide      side,
                                       guint32          seen);
/* Under the lock: the calling thread's CPU, as the last of @side's. */
void         ps_queue_note_cpu        (PsQueueHandle   *handle,
                                       PsQueueSide      side);
/* The CPU the last claim of @side ran on, or -1 if unknown. */
gint         ps_queue_last_cpu        (PsQueueHandle   *handle,
                                       PsQueueSide      side);
/* The word a waiter of @side sleeps on. */
PsWaitWord  *ps_queue_side_word       (PsQueueHandle   *handle,
                                       PsQueueSide      side);
/* After writing: makes the message ready (of @size bytes), or, with
 * @commit FALSE, frees the slot. */
gboolean     ps_queue_finish_write    (PsQueueHandle      *handle,
                                       PsQueueTicket      *ticket,
                                       gboolean            commit,
                                       gsize               size,
                                       PsQueueMessageKind  kind,
                                       guint               priority,
                                       GError            **error);
/* After reading: frees the slot, or, with @consumed FALSE, puts the
 * message back in its place. */
gboolean     ps_queue_finish_read     (PsQueueHandle      *handle,
                                       PsQueueTicket      *ticket,
                                       gboolean            consumed,
                                       GError            **error);
guint        ps_queue_handle_length   (PsQueueHandle      *handle);

/* For ps-queue-async.c: the queue's handle (its state NULL if it failed
 * to initialise). */
PsQueueHandle *ps_queue_get_handle    (PsQueue *self);
/* For the methods of a queue whose construction failed: FALSE with the
 * construction's error. */
gboolean ps_queue_set_init_error      (PsQueue  *self,
                                       GError  **error);

/* The message transfers of ps-queue-transfer.c, shared with
 * ps-queue-async.c: the bytes (or variant record) written into a claimed
 * slot (then committed), or read out of one. */
gboolean ps_queue_write_message       (PsQueueHandle      *handle,
                                       PsQueueTicket      *ticket,
                                       GBytes             *bytes,
                                       GVariant           *variant,
                                       guint               priority,
                                       GError            **error);
/* Copies the message of a claimed slot out and frees the slot. */
GBytes  *ps_queue_take_message        (PsQueueHandle      *handle,
                                       PsQueueTicket      *ticket,
                                       GError            **error);
/* Fills what the caller asked for from a message taken, by the rules of
 * ps_queue_receive_message(). */
gboolean ps_queue_convert_message     (PsQueueMessageKind  kind,
                                       GBytes             *message,
                                       guint               priority,
                                       PsQueueMessageKind *out_kind,
                                       GBytes            **out_bytes,
                                       GVariant          **out_variant,
                                       guint              *out_priority,
                                       GError            **error);
/* The size a send of @bytes or @variant needs, and the check of it
 * against the queue's maximum (G_IO_ERROR_MESSAGE_TOO_LARGE). */
gboolean ps_queue_check_message_size  (PsQueueHandle      *handle,
                                       GBytes             *bytes,
                                       GVariant           *variant,
                                       GError            **error);

G_END_DECLS
