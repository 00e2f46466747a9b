/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsQueue: the class, its construction and getters.
 *
 * Design (details at the top of ps-queue-slots.c): the object's state is
 * a header (ps-queue-private.h) and `capacity` slots, each a slot header
 * (state word FREE / WRITING / READY / READING, owner pid and start-time
 * stamp, kind, size, priority, commit sequence, next) and room for
 * max_message_size bytes, on cache lines of their own. Short critical
 * sections on a robust lock inside the header claim a free slot,
 * commit a message (its sequence number given then), take the first
 * ready message (highest priority, then lowest sequence: a list threaded
 * through the slots, appended to at its tail in the common case), and
 * free a slot; the copies happen outside the lock. The slots' states
 * alone say what the queue holds: after a lock holder's death the next
 * holder rebuilds the lists from them, and the slots of dead writers and
 * readers go back to FREE and READY (ps-queue-claim.c looks for them).
 * Senders and receivers sleep on a word per side, woken only when the
 * free or ready list stops being empty and someone waits.
 *
 * The blocking sends and receives are in ps-queue-transfer.c, the async
 * ones in ps-queue-async.c, the constructors in ps-queue-constructors.c.
 */

#include "ps-error.h"
#include "ps-object-storage-private.h"
#include "ps-queue-private.h"

/**
 * PsQueue:
 *
 * A bounded queue of messages shared between processes, for any number
 * of producers and consumers, that keeps working when any of them is
 * killed.
 *
 * A queue holds up to #PsQueue:capacity messages of up to
 * #PsQueue:max-message-size bytes each, both fixed when it is created.
 * [method@Queue.send] copies a message in (waiting while the queue is
 * full), [method@Queue.receive] takes the next one out (waiting while it
 * is empty). Messages come out by priority, highest first, as POSIX
 * `mq_send()` orders them, and in the order their sends finished within a
 * priority, so one producer's messages of one priority keep their order.
 * Empty messages are messages too.
 *
 * Each message remembers whether it was sent as bytes or as a #GVariant
 * ([method@Queue.send_variant], stored in the self-describing record
 * format of [method@SharedMemory.write_variant]), and
 * [method@Queue.receive_message] tells which. A kind mismatch never loses
 * a message: [method@Queue.receive] gives a variant message's record
 * bytes, [method@Queue.receive_variant] gives a bytes message as an `ay`
 * variant. [method@Queue.send_with] and [method@Queue.receive_with] write
 * and read a message in place, without a copy.
 *
 * Waits take a timeout in microseconds (-1: forever; 0: do not wait,
 * failing with %G_IO_ERROR_WOULD_BLOCK on a full or empty queue) and a
 * #GCancellable; a send that fails (%G_IO_ERROR_TIMED_OUT,
 * %G_IO_ERROR_CANCELLED, %G_IO_ERROR_MESSAGE_TOO_LARGE) sends nothing,
 * and a receive that fails takes nothing. Waiting threads sleep until a
 * message or a slot comes; an uncontended send or receive makes no
 * system call.
 *
 * Robustness: a message is written into a slot of the queue outside any
 * lock, then made visible at once, whole. A producer killed while it
 * writes never lets its half-written message be received, and its slot
 * is reclaimed. A consumer killed while it receives, before the call
 * returns, gives the message back to the queue, in its place (same
 * priority, same order), for another receiver: a message is received
 * exactly once by callers whose receive returns it. With
 * [method@Queue.receive_with] the message is given back if the process
 * dies inside the callback, so the callback's effects happen at least
 * once. Dead processes are noticed when a sender finds no free slot or a
 * receiver no message while slots are being written or read (at most
 * once a millisecond in each process), and every 50 ms by a waiter while
 * that lasts. A process killed while it holds
 * the queue's short internal lock is repaired after, by the next
 * caller: no caller ever sees an owner-death error. A peer that
 * scribbles on the queue's memory makes calls fail with
 * %PS_ERROR_CORRUPT; it never makes them crash, hang or read outside the
 * queue.
 *
 * Like every procshared object, a queue is anonymous ([ctor@Queue.new],
 * shared over fork()), named ([func@Queue.open]) or placed inside a
 * [class@SharedMemory] ([ctor@Queue.new_at], [func@Queue.open_at],
 * [func@Queue.attach]; [func@Queue.measure] gives the room it takes).
 *
 * Across fork(): parent and child share the queue and its messages; a
 * message either of them sends may be received by the other. A send or
 * receive in progress in the parent's other threads at the fork is not
 * the child's.
 *
 * Since: 1.1
 */

struct _PsQueue
{
  GObject parent_instance;

  PsObjectStorage storage;
  guint           capacity;           /* asked for; then the queue's own */
  guint64         max_message_size;
  PsQueueHandle   handle;
};

static void ps_queue_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PsQueue, ps_queue, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      ps_queue_initable_iface_init))

enum {
  PROP_CAPACITY = PS_OBJECT_N_PROPS,
  PROP_MAX_MESSAGE_SIZE,
  N_PROPS
};

static GParamSpec *properties [N_PROPS];

static gboolean
measure_state (gpointer   instance,
               gsize     *out_state_size,
               GError   **error)
{
  PsQueue *self = instance;

  if (self->max_message_size > G_MAXSIZE ||
      !ps_queue_state_measure (self->capacity, self->max_message_size, out_state_size))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "A queue of %u messages of %" G_GUINT64_FORMAT " bytes cannot be made "
                   "(capacity 1 to %u, messages of up to %" G_GSIZE_FORMAT " bytes)",
                   self->capacity, self->max_message_size, PS_QUEUE_MAX_CAPACITY,
                   PS_QUEUE_MAX_MESSAGE_SIZE);
      return FALSE;
    }
  return TRUE;
}

static gboolean
init_state (gpointer   data,
            gpointer   instance,
            GError   **error)
{
  PsQueue *self = instance;

  return ps_queue_state_init (data, self->storage.state_size, self->capacity,
                              self->max_message_size, error);
}

static gboolean
adopt_state (gpointer   data,
             gpointer   instance,
             GError   **error)
{
  PsQueue *self = instance;

  if (!ps_queue_handle_open (&self->handle, self, data, self->storage.state_size, error))
    return FALSE;
  self->capacity = self->handle.capacity;
  self->max_message_size = self->handle.max_message_size;
  return TRUE;
}

static const PsObjectKind queue_kind = {
  .type = PS_OBJECT_TYPE_QUEUE,
  .init_state = init_state,
  .adopt_state = adopt_state,
  .measure_state = measure_state,
};

static gboolean
ps_queue_initable_init (GInitable     *initable,
                        GCancellable  *cancellable,
                        GError       **error)
{
  return ps_object_storage_initable_init (&PS_QUEUE (initable)->storage, &queue_kind,
                                          initable, error);
}

static void
ps_queue_constructed (GObject *object)
{
  G_OBJECT_CLASS (ps_queue_parent_class)->constructed (object);
  ps_object_storage_constructed (&PS_QUEUE (object)->storage, &queue_kind, object);
}

static void
ps_queue_initable_iface_init (GInitableIface *iface)
{
  iface->init = ps_queue_initable_init;
}

static void
ps_queue_finalize (GObject *object)
{
  PsQueue *self = (PsQueue *)object;

  ps_queue_handle_close (&self->handle);
  if (self->handle.lock.pinned)
    ps_object_storage_keep_mapped (&self->storage);
  ps_object_storage_clear (&self->storage);

  G_OBJECT_CLASS (ps_queue_parent_class)->finalize (object);
}

static void
ps_queue_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  PsQueue *self = PS_QUEUE (object);

  if (ps_object_storage_get_property (&self->storage, prop_id, value))
    return;

  switch (prop_id)
    {
    case PROP_CAPACITY:
      g_value_set_uint (value, self->capacity);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint64 (value, self->max_message_size);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ps_queue_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  PsQueue *self = PS_QUEUE (object);

  if (ps_object_storage_set_property (&self->storage, prop_id, value, pspec))
    return;

  switch (prop_id)
    {
    case PROP_CAPACITY:
      self->capacity = g_value_get_uint (value);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      self->max_message_size = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ps_queue_class_init (PsQueueClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  object_class->constructed = ps_queue_constructed;
  object_class->finalize = ps_queue_finalize;
  object_class->get_property = ps_queue_get_property;
  object_class->set_property = ps_queue_set_property;

  /**
   * PsQueue:name: (getter get_name)
   *
   * The name of a named queue, or %NULL.
   *
   * Since: 1.1
   */
  /**
   * PsQueue:open-flags:
   *
   * How a named queue is opened.
   *
   * Since: 1.1
   */
  /**
   * PsQueue:mode:
   *
   * The permission bits a named queue is created with (default 0600);
   * once a named queue that existed is opened, its real ones.
   *
   * Since: 1.1
   */
  /**
   * PsQueue:memory:
   *
   * The segment a placed queue lives in, or %NULL.
   *
   * Since: 1.1
   */
  /**
   * PsQueue:offset:
   *
   * The offset of a placed queue inside #PsQueue:memory.
   *
   * Since: 1.1
   */
  /**
   * PsQueue:attach:
   *
   * Whether construction attaches to the queue already at
   * #PsQueue:offset of #PsQueue:memory, as [func@Queue.attach] does.
   *
   * Since: 1.1
   */
  /**
   * PsQueue:created: (getter get_created)
   *
   * Whether this handle created the queue, rather than opening or
   * attaching to one that was there.
   *
   * Since: 1.1
   */
  ps_object_storage_install_properties (object_class, properties);

  /**
   * PsQueue:capacity: (getter get_capacity)
   *
   * How many messages the queue holds at most: given to create a queue
   * (1 to 65536), then the queue's own (an opened queue's creator chose
   * it).
   *
   * Since: 1.1
   */
  properties [PROP_CAPACITY] =
    g_param_spec_uint ("capacity", NULL, NULL, 0, G_MAXUINT, 0, flags);

  /**
   * PsQueue:max-message-size: (getter get_max_message_size)
   *
   * The largest message the queue takes, in bytes: given to create a
   * queue (up to 64 MiB), then the queue's own.
   *
   * Since: 1.1
   */
  properties [PROP_MAX_MESSAGE_SIZE] =
    g_param_spec_uint64 ("max-message-size", NULL, NULL, 0, G_MAXUINT64, 0, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ps_queue_init (PsQueue *self)
{
  ps_object_storage_init_defaults (&self->storage);
}

PsQueueHandle *
ps_queue_get_handle (PsQueue *self)
{
  return &self->handle;
}

/* For the methods of a queue whose construction failed. */
gboolean
ps_queue_set_init_error (PsQueue  *self,
                         GError  **error)
{
  return ps_object_storage_set_init_error (&self->storage, error);
}

/**
 * ps_queue_get_length:
 * @self: a #PsQueue
 *
 * Counts the messages in the queue, ready to be received (not those
 * being sent or received this very moment). Other processes may change
 * it at any time: it is a snapshot.
 *
 * Across fork(): parent and child see the same queue.
 *
 * Returns: the number of messages waiting in the queue
 *
 * Since: 1.1
 */
guint
ps_queue_get_length (PsQueue *self)
{
  g_return_val_if_fail (PS_IS_QUEUE (self), 0);
  g_return_val_if_fail (self->handle.state != NULL, 0);

  return ps_queue_handle_length (&self->handle);
}

/**
 * ps_queue_get_capacity:
 * @self: a #PsQueue
 *
 * Gets how many messages the queue holds at most, as its creator chose.
 *
 * Across fork(): the same in both.
 *
 * Returns: the capacity
 *
 * Since: 1.1
 */
guint
ps_queue_get_capacity (PsQueue *self)
{
  g_return_val_if_fail (PS_IS_QUEUE (self), 0);
  g_return_val_if_fail (self->handle.state != NULL, 0);

  return self->handle.capacity;
}

/**
 * ps_queue_get_max_message_size:
 * @self: a #PsQueue
 *
 * Gets the size of the largest message the queue takes, as its creator
 * chose.
 *
 * Across fork(): the same in both.
 *
 * Returns: the maximum message size, in bytes
 *
 * Since: 1.1
 */
gsize
ps_queue_get_max_message_size (PsQueue *self)
{
  g_return_val_if_fail (PS_IS_QUEUE (self), 0);
  g_return_val_if_fail (self->handle.state != NULL, 0);

  return self->handle.max_message_size;
}

/**
 * ps_queue_get_created:
 * @self: a #PsQueue
 *
 * Whether this handle created the queue: %TRUE for an anonymous one, and
 * for the one process or thread that created a named or placed one;
 * %FALSE for those that opened or attached to it.
 *
 * Across fork(): a child sees its parent's handle, with the same answer.
 *
 * Returns: whether this handle created it
 *
 * Since: 1.1
 */
gboolean
ps_queue_get_created (PsQueue *self)
{
  g_return_val_if_fail (PS_IS_QUEUE (self), FALSE);

  return self->storage.created;
}

/**
 * ps_queue_get_name:
 * @self: a #PsQueue
 *
 * Gets the name of a named queue.
 *
 * Across fork(): the same in both.
 *
 * Returns: (nullable): the name, or %NULL
 *
 * Since: 1.1
 */
const char *
ps_queue_get_name (PsQueue *self)
{
  g_return_val_if_fail (PS_IS_QUEUE (self), NULL);

  return self->storage.name;
}
