/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps_queue_attach() over arbitrary bytes inside a PsSharedMemory, then
 * the queue used as an application would.
 *
 * A queue is thousands of bytes, mostly message data: rather than all of
 * them, an input gives edits to a starting point, so that the search
 * spends its time on the state and the slot headers. Input:
 *
 *   byte 0, control:
 *     bits 0-2  the object's offset, in units of 8 bytes (0 to 56)
 *     bit 3     for a header that says "ours, not ready yet": publish it
 *               (1), or wipe its magic (0), as fuzz-attach does
 *     bit 4     start from zeros instead of a queue the library made
 *     bits 5-7  how many messages that queue holds (0 to 7, some of them
 *               taken again so that its lists are not in their first order)
 *   byte 1: the seed of the calls made on the attached queue
 *   then edits, each: offset (2 bytes, little-endian, modulo the object's
 *   size), length n (1 byte, at most 32), n bytes.
 *
 * The queue has 4 slots of at most 64 bytes (the attach reads its own
 * parameters from the bytes, though). The object ends the segment
 * exactly. The attach must fail with a PS_ERROR or G_IO_ERROR, or
 * succeed; a queue attached is then used by fuzz_exercise_queue(): every
 * error one of the API's, every byte handed to a callback inside the
 * segment, and this thread's robust list empty at the end.
 *
 * corpus/fuzz-attach-queue/timeout-lock-word-*: its first finding, a
 * lock word naming a thread that never unlocks, which hung every call
 * whatever its timeout while the queue took its lock without a bound.
 */

#include <string.h>

#include "fuzz-common.h"
#include "procshared.h"

#define QUEUE_CAPACITY   4
#define QUEUE_MAX_SIZE   64
#define MAX_EDIT         32

enum
{
  CONTROL_OFFSET_MASK = 0x07,
  CONTROL_PUBLISH     = 1 << 3,
  CONTROL_ZEROS       = 1 << 4,
  CONTROL_MESSAGES    = 5,   /* shift */
};

/* The starting point: the bytes of a queue the library made at @offset
 * of @memory, holding a few messages, into @object. */
static void
make_base (PsSharedMemory *memory,
           gsize           offset,
           guint           n_messages,
           guint8         *object,
           gsize           size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) queue = ps_queue_new_at (memory, offset, QUEUE_CAPACITY, QUEUE_MAX_SIZE,
                                              &error);

  if (queue == NULL)
    fuzz_finding ("a queue could not be made", error);
  for (guint i = 0; i < MIN (n_messages, QUEUE_CAPACITY); i++)
    {
      g_autoptr(GBytes) message = g_bytes_new (&i, sizeof i);

      if (!ps_queue_send (queue, message, i % 3, 0, NULL, &error))
        fuzz_finding ("a send to a fresh queue failed", error);
    }
  for (guint i = 0; i < n_messages / 3; i++)
    {
      g_autoptr(GBytes) message = ps_queue_receive (queue, NULL, 0, NULL, &error);

      if (message == NULL)
        fuzz_finding ("a receive from a fresh queue failed", error);
    }
  memcpy (object, (guint8 *) ps_shared_memory_get_data (memory) + offset, size);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *object = NULL;
  PsSharedMemory *memory;
  PsQueue *queue;
  gsize object_size = ps_queue_measure (QUEUE_CAPACITY, QUEUE_MAX_SIZE);
  gsize offset, i;
  guint control;

  fuzz_init_once ();

  if (size < 2)
    return 0;
  control = data[0];
  offset = 8 * (control & CONTROL_OFFSET_MASK);
  memory = fuzz_segment_new (offset + object_size);
  object = g_malloc0 (object_size);
  if (!(control & CONTROL_ZEROS))
    make_base (memory, offset, control >> CONTROL_MESSAGES, object, object_size);

  for (i = 2; i + 3 <= size;)
    {
      gsize at = (data[i] | (gsize) data[i + 1] << 8) % object_size;
      gsize n = MIN (MIN ((gsize) data[i + 2], MAX_EDIT), size - i - 3);

      n = MIN (n, object_size - at);
      memcpy (object + at, data + i + 3, n);
      i += 3 + n;
    }
  fuzz_place_bytes (memory, offset, object, object_size, (control & CONTROL_PUBLISH) != 0);

  queue = ps_queue_attach (memory, offset, &error);
  if (queue != NULL)
    {
      fuzz_exercise_queue (queue, data[1]);
      g_object_unref (queue);
    }
  else
    {
      fuzz_check_error (error, "ps_queue_attach");
    }

  fuzz_segment_free (memory);
  fuzz_check_robust_list ();
  return 0;
}
