/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The constructors of PsQueue: one call each into what every class shares
 * (ps-object-storage-private.h), with the queue's capacity and maximum
 * message size, and the sizing helper of placed queues.
 */

#include "ps-object-storage-private.h"
#include "ps-queue-private.h"

/**
 * ps_queue_measure:
 * @capacity: how many messages the queue holds at most (1 to 65536)
 * @max_message_size: the largest message it takes, in bytes (up to
 *   64 MiB)
 *
 * Gives the bytes a queue of @capacity messages of up to
 * @max_message_size bytes takes inside a [class@SharedMemory]: what
 * [ctor@Queue.new_at] needs from its offset on.
 *
 * Across fork(): the same in both.
 *
 * Returns: the size in bytes, or 0 if no such queue can be made
 *
 * Since: 1.1
 */
gsize
ps_queue_measure (guint capacity,
                  gsize max_message_size)
{
  gsize state_size;

  if (!ps_queue_state_measure (capacity, max_message_size, &state_size))
    return 0;
  return sizeof (PsObjectHeader) + state_size;
}

/**
 * ps_queue_new:
 * @capacity: how many messages the queue holds at most (1 to 65536)
 * @max_message_size: the largest message it takes, in bytes (up to
 *   64 MiB)
 * @error: return location for a #GError
 *
 * Creates an anonymous queue, shared with the children forked after this
 * call. It takes a mapping of its own, of [func@Queue.measure] bytes.
 *
 * Returns: (transfer full): the new queue, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT or %G_IO_ERROR_NO_SPACE
 *
 * Since: 1.1
 */
PsQueue *
ps_queue_new (guint     capacity,
              gsize     max_message_size,
              GError  **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (PS_TYPE_QUEUE, NULL, error,
                         "capacity", capacity,
                         "max-message-size", (guint64) max_message_size,
                         NULL);
}

/**
 * ps_queue_open:
 * @name: the name of the queue, such as `/my-app.queue`
 * @flags: how to open it
 * @capacity: with %PS_OPEN_CREATE, the capacity of a queue created (1 to
 *   65536); ignored otherwise
 * @max_message_size: with %PS_OPEN_CREATE, the largest message a queue
 *   created takes (up to 64 MiB); ignored otherwise
 * @error: return location for a #GError
 *
 * Opens the named queue @name, creating it (mode 0600) if @flags asks for
 * it. Creation is race-free. A queue that existed keeps its own capacity
 * and maximum message size, whatever the call asked for: the getters tell
 * them.
 *
 * Returns: (transfer full): the queue, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %G_IO_ERROR_NOT_FOUND,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_PERMISSION_DENIED,
 *   %G_IO_ERROR_NO_SPACE, %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or
 *   %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsQueue *
ps_queue_open (const char   *name,
               PsOpenFlags   flags,
               guint         capacity,
               gsize         max_message_size,
               GError      **error)
{
  return ps_object_new_named (PS_TYPE_QUEUE, name, flags, 0600, error,
                              "capacity", capacity,
                              "max-message-size", (guint64) max_message_size,
                              NULL);
}

/**
 * ps_queue_new_at:
 * @memory: the segment to place the queue in
 * @offset: where, a multiple of 8 leaving room for
 *   [func@Queue.measure] bytes (a multiple of 64 keeps each slot on cache
 *   lines of its own)
 * @capacity: how many messages the queue holds at most (1 to 65536)
 * @max_message_size: the largest message it takes, in bytes (up to
 *   64 MiB)
 * @error: return location for a #GError
 *
 * Initialises a new queue inside @memory. Other processes that share
 * @memory use it through [func@Queue.attach] or [func@Queue.open_at].
 * Whatever the place holds is overwritten, unless it is a live object of
 * any type: then nothing changes and the result is %G_IO_ERROR_EXISTS.
 *
 * Returns: (transfer full): the queue, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS or
 *   %G_IO_ERROR_EXISTS
 *
 * Since: 1.1
 */
PsQueue *
ps_queue_new_at (PsSharedMemory  *memory,
                 gsize            offset,
                 guint            capacity,
                 gsize            max_message_size,
                 GError         **error)
{
  return ps_object_new_placed (PS_TYPE_QUEUE, memory, offset, PS_PLACE_NEW, 0, error,
                               "capacity", capacity,
                               "max-message-size", (guint64) max_message_size,
                               NULL);
}

/**
 * ps_queue_open_at:
 * @memory: the segment holding the queue
 * @offset: where, a multiple of 8
 * @flags: how to open it
 * @capacity: with %PS_OPEN_CREATE, the capacity of a queue created;
 *   ignored otherwise
 * @max_message_size: with %PS_OPEN_CREATE, the largest message a queue
 *   created takes; ignored otherwise
 * @error: return location for a #GError
 *
 * Opens the queue at @offset of @memory as [func@Queue.open] opens a
 * name: %PS_OPEN_CREATE initialises a new queue if the place is empty
 * (all zeros; it must leave room for [func@Queue.measure] bytes) and
 * attaches to the queue there otherwise, %PS_OPEN_EXCLUSIVE fails with
 * %G_IO_ERROR_EXISTS if an object is there, and %PS_OPEN_NONE attaches,
 * waiting a bounded while (2 seconds) for a creator still initialising
 * it. Of many creating at once, exactly one creates (see
 * #PsQueue:created).
 *
 * Returns: (transfer full): the queue, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_NOT_FOUND (nobody created it),
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsQueue *
ps_queue_open_at (PsSharedMemory  *memory,
                  gsize            offset,
                  PsOpenFlags      flags,
                  guint            capacity,
                  gsize            max_message_size,
                  GError         **error)
{
  return ps_object_new_placed (PS_TYPE_QUEUE, memory, offset, PS_PLACE_OPEN, flags, error,
                               "capacity", capacity,
                               "max-message-size", (guint64) max_message_size,
                               NULL);
}

/**
 * ps_queue_attach:
 * @memory: the segment holding the queue
 * @offset: where [ctor@Queue.new_at] placed it
 * @error: return location for a #GError
 *
 * Attaches to a queue that [ctor@Queue.new_at] placed in @memory, in
 * this or another process, with the capacity and maximum message size it
 * was made with.
 *
 * Returns: (transfer full): the queue, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsQueue *
ps_queue_attach (PsSharedMemory  *memory,
                 gsize            offset,
                 GError         **error)
{
  return ps_object_new_placed (PS_TYPE_QUEUE, memory, offset, PS_PLACE_ATTACH, 0, error,
                               NULL);
}
