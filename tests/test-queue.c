/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsQueue: creation parameters and every sharing model, sends and
 * receives with their exact errors (full, empty, timeout, cancellation,
 * too large), priorities and FIFO order, message kinds and their
 * conversions, the zero-copy paths, async operations, processes killed
 * while writing, reading or holding the queue's lock, exactly-once
 * delivery across processes, and states a peer could have scribbled.
 */

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps-test-util.h"

#include "ps-object-header-private.h"
#include "ps-queue-private.h"
#include "ps-variant-record-private.h"

static PsQueue *
queue_new (guint capacity,
           gsize max_message_size)
{
  g_autoptr(GError) error = NULL;
  PsQueue *queue = ps_queue_new (capacity, max_message_size, &error);

  g_assert_no_error (error);
  g_assert_nonnull (queue);
  return queue;
}

static void
send_string (PsQueue    *queue,
             const char *text,
             guint       priority)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_queue_send (queue, bytes, priority, 0, NULL, &error));
  g_assert_no_error (error);
}

/* Receives (without waiting) a bytes message and checks its text and
 * priority. */
static void
assert_receive (PsQueue    *queue,
                const char *text,
                guint       priority)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint got_priority = G_MAXUINT;

  bytes = ps_queue_receive (queue, &got_priority, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), text, strlen (text));
  g_assert_cmpuint (got_priority, ==, priority);
}

static void
assert_empty (PsQueue *queue)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = ps_queue_receive (queue, NULL, 0, NULL, &error);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_null (bytes);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 0);
}

static PsQueueState *
state_of (PsQueue *queue)
{
  return ps_queue_get_handle (queue)->state;
}

static PsQueueSlot *
slot_of (PsQueue *queue,
         guint    index)
{
  PsQueueHandle *handle = ps_queue_get_handle (queue);

  return (gpointer) (handle->slots + index * handle->stride);
}

/* Creation parameters ---------------------------------------------------------- */

static void
test_parameters (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) queue = NULL;
  gsize max_size = 64 * 1024 * 1024;

  g_assert_cmpuint (ps_queue_measure (0, 16), ==, 0);
  g_assert_cmpuint (ps_queue_measure (65537, 16), ==, 0);
  g_assert_cmpuint (ps_queue_measure (1, max_size + 1), ==, 0);
  g_assert_cmpuint (ps_queue_measure (1, max_size), >, max_size);
  g_assert_cmpuint (ps_queue_measure (65536, 0), >, 65536 * sizeof (PsQueueSlot));
  /* A slot per message, each on cache lines of its own. */
  g_assert_cmpuint (ps_queue_measure (2, 64) - ps_queue_measure (1, 64), ==, 128);
  g_assert_cmpuint (ps_queue_measure (1, 64) % 64, ==, sizeof (PsObjectHeader));

  queue = ps_queue_new (0, 16, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (queue);
  g_clear_error (&error);
  queue = ps_queue_new (65537, 16, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  queue = ps_queue_new (1, max_size + 1, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  queue = ps_queue_new (3, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_queue_get_capacity (queue), ==, 3);
  g_assert_cmpuint (ps_queue_get_max_message_size (queue), ==, 100);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 0);
  g_assert_true (ps_queue_get_created (queue));
  g_assert_null (ps_queue_get_name (queue));
}

static void
test_construct (void)
{
  g_autoptr(PsQueue) queue = g_object_new (PS_TYPE_QUEUE, "capacity", 2,
                                           "max-message-size", (guint64) 8, NULL);
  g_autoptr(PsQueue) bad = g_object_new (PS_TYPE_QUEUE, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);
  guint capacity = 0;

  g_assert_true (g_initable_init (G_INITABLE (queue), NULL, &error));
  g_assert_true (g_initable_init (G_INITABLE (queue), NULL, &error));
  g_assert_no_error (error);
  g_object_get (queue, "capacity", &capacity, NULL);
  g_assert_cmpuint (capacity, ==, 2);

  /* No capacity: the construction failed, and every call says why. */
  g_assert_false (g_initable_init (G_INITABLE (bad), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (ps_queue_send (bad, bytes, 0, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (ps_queue_receive (bad, NULL, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* Sends and receives -------------------------------------------------------------- */

static void
test_send_receive (void)
{
  g_autoptr(PsQueue) queue = queue_new (4, 32);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) full = NULL;
  guint8 max[32];

  send_string (queue, "hello", 0);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 1);
  g_assert_true (ps_queue_send (queue, empty, 7, -1, NULL, &error));
  g_assert_no_error (error);
  memset (max, 0xa5, sizeof max);
  full = g_bytes_new (max, sizeof max);
  g_assert_true (ps_queue_send (queue, full, 0, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 3);

  got = ps_queue_receive (queue, NULL, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_clear_pointer (&got, g_bytes_unref);
  assert_receive (queue, "hello", 0);
  got = ps_queue_receive (queue, NULL, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, full));
  assert_empty (queue);
}

static void
test_full_and_empty (void)
{
  g_autoptr(PsQueue) queue = queue_new (2, 8);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("12345678", 8);
  g_autoptr(GBytes) too_large = g_bytes_new_static ("123456789", 9);
  gint64 start;

  /* Empty. */
  g_assert_null (ps_queue_receive (queue, NULL, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  start = g_get_monotonic_time ();
  g_assert_null (ps_queue_receive (queue, NULL, 20 * 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 20 * 1000);
  g_clear_error (&error);

  /* Too large: nothing sent, whatever the room. */
  g_assert_false (ps_queue_send (queue, too_large, 0, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 0);

  /* Full. */
  g_assert_true (ps_queue_send (queue, bytes, 0, 0, NULL, &error));
  g_assert_true (ps_queue_send (queue, bytes, 0, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (ps_queue_send (queue, bytes, 0, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_false (ps_queue_send (queue, bytes, 0, 20 * 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 2);

  /* Cancelled before, and while waiting: nothing sent or taken. */
  g_cancellable_cancel (cancellable);
  g_assert_false (ps_queue_send (queue, bytes, 0, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_null (ps_queue_receive (queue, NULL, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 2);
}

static gpointer
cancel_later (gpointer data)
{
  g_usleep (20 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_cancel_waiting (void)
{
  g_autoptr(PsQueue) queue = queue_new (1, 8);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);

  for (guint side = 0; side < 2; side++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      GThread *thread = g_thread_new ("cancel", cancel_later, cancellable);

      if (side == 0)
        {
          g_assert_null (ps_queue_receive (queue, NULL, -1, cancellable, &error));
          g_assert_cmpuint (ps_queue_get_length (queue), ==, 0);
        }
      else
        {
          g_assert_false (ps_queue_send (queue, bytes, 0, -1, cancellable, &error));
          g_assert_cmpuint (ps_queue_get_length (queue), ==, 1);
        }
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      g_thread_join (thread);
      if (side == 0)
        send_string (queue, "x", 0);
    }
  assert_receive (queue, "x", 0);
}

static void
test_priorities (void)
{
  g_autoptr(PsQueue) queue = queue_new (16, 8);
  static const struct { const char *text; guint priority; } sent[] = {
    { "a0", 0 }, { "b5", 5 }, { "c0", 0 }, { "d9", 9 }, { "e5", 5 }, { "f0", 0 },
    { "g9", 9 }, { "hmax", G_MAXUINT }, { "i1", 1 }, { "j5", 5 },
  };
  static const char *order[] = { "hmax", "d9", "g9", "b5", "e5", "j5", "i1", "a0", "c0", "f0" };

  for (guint i = 0; i < G_N_ELEMENTS (sent); i++)
    send_string (queue, sent[i].text, sent[i].priority);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, G_N_ELEMENTS (sent));
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      guint priority = 0;

      for (guint j = 0; j < G_N_ELEMENTS (sent); j++)
        if (strcmp (sent[j].text, order[i]) == 0)
          priority = sent[j].priority;
      assert_receive (queue, order[i], priority);
    }
  assert_empty (queue);

  /* FIFO within a priority, over many wraps of the slots. */
  for (guint round = 0; round < 50; round++)
    {
      char text[8];

      for (guint i = 0; i < 16; i++)
        {
          g_snprintf (text, sizeof text, "%u", round * 16 + i);
          send_string (queue, text, 3);
        }
      for (guint i = 0; i < 16; i++)
        {
          g_snprintf (text, sizeof text, "%u", round * 16 + i);
          assert_receive (queue, text, 3);
        }
    }
}

/* Message kinds ------------------------------------------------------------------- */

static void
test_kinds (void)
{
  g_autoptr(PsQueue) queue = queue_new (4, 256);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new ("(sux)", "text", 7, (gint64) -3));
  g_autoptr(GVariant) got = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) big = NULL;
  PsQueueMessageKind kind = 99;
  guint priority = 0;
  guint8 buffer[300];

  /* A variant comes back as itself, from either receive_variant or
   * receive_message. */
  g_assert_true (ps_queue_send_variant (queue, value, 2, 0, NULL, &error));
  g_assert_no_error (error);
  got = ps_queue_receive_variant (queue, &priority, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (got, value));
  g_assert_cmpuint (priority, ==, 2);
  g_clear_pointer (&got, g_variant_unref);

  g_assert_true (ps_queue_send_variant (queue, g_variant_new_string ("floating"), 0, 0, NULL,
                                        &error));
  g_assert_true (ps_queue_receive_message (queue, &kind, &bytes, &got, NULL, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (kind, ==, PS_QUEUE_MESSAGE_VARIANT);
  g_assert_null (bytes);
  g_assert_cmpstr (g_variant_get_string (got, NULL), ==, "floating");
  g_clear_pointer (&got, g_variant_unref);

  /* Received as bytes: its record, which the record reader reads back. */
  g_assert_true (ps_queue_send_variant (queue, value, 0, 0, NULL, &error));
  bytes = ps_queue_receive (queue, NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, ps_variant_record_measure (value));
  got = ps_variant_record_read (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), 0,
                                &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (got, value));
  g_clear_pointer (&got, g_variant_unref);
  g_clear_pointer (&bytes, g_bytes_unref);

  /* Bytes received as a variant: "ay". */
  send_string (queue, "raw", 1);
  got = ps_queue_receive_variant (queue, &priority, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (got), ==, "ay");
  g_assert_cmpuint (g_variant_get_size (got), ==, 3);
  g_assert_cmpmem (g_variant_get_data (got), 3, "raw", 3);
  g_assert_cmpuint (priority, ==, 1);
  g_clear_pointer (&got, g_variant_unref);

  send_string (queue, "both", 0);
  g_assert_true (ps_queue_receive_message (queue, &kind, &bytes, &got, NULL, 0, NULL, &error));
  g_assert_cmpint (kind, ==, PS_QUEUE_MESSAGE_BYTES);
  g_assert_null (got);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "both", 4);
  g_clear_pointer (&bytes, g_bytes_unref);

  /* Neither asked for: taken all the same. */
  send_string (queue, "gone", 0);
  g_assert_true (ps_queue_receive_message (queue, &kind, NULL, NULL, NULL, 0, NULL, &error));
  g_assert_cmpint (kind, ==, PS_QUEUE_MESSAGE_BYTES);
  assert_empty (queue);

  /* A variant whose record does not fit. */
  memset (buffer, 1, sizeof buffer);
  big = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, buffer, 250, 1));
  g_assert_false (ps_queue_send_variant (queue, big, 0, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  assert_empty (queue);
}

/* Zero-copy ------------------------------------------------------------------------ */

static void
fill_pattern (guint8   *slot,
              gsize     size,
              gpointer  user_data)
{
  guint *calls = user_data;

  for (gsize i = 0; i < size; i++)
    slot[i] = (guint8) (i * 7 + 1);
  (*calls)++;
}

typedef struct
{
  guint              calls;
  gsize              size;
  PsQueueMessageKind kind;
  guint              priority;
  gboolean           pattern_ok;
} ReadRecord;

static void
read_record (const guint8       *message,
             gsize               size,
             PsQueueMessageKind  kind,
             guint               priority,
             gpointer            user_data)
{
  ReadRecord *record = user_data;

  record->calls++;
  record->size = size;
  record->kind = kind;
  record->priority = priority;
  record->pattern_ok = TRUE;
  for (gsize i = 0; i < size; i++)
    record->pattern_ok &= message[i] == (guint8) (i * 7 + 1);
}

static void
test_zero_copy (void)
{
  g_autoptr(PsQueue) queue = queue_new (1, 1000);
  g_autoptr(GError) error = NULL;
  ReadRecord record = { 0 };
  guint calls = 0;

  g_assert_true (ps_queue_send_with (queue, 1000, 4, fill_pattern, &calls, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (calls, ==, 1);
  /* Full, or too large: the fill is never called. */
  g_assert_false (ps_queue_send_with (queue, 10, 0, fill_pattern, &calls, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_false (ps_queue_send_with (queue, 1001, 0, fill_pattern, &calls, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  g_assert_cmpuint (calls, ==, 1);

  g_assert_true (ps_queue_receive_with (queue, read_record, &record, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (record.calls, ==, 1);
  g_assert_cmpuint (record.size, ==, 1000);
  g_assert_cmpint (record.kind, ==, PS_QUEUE_MESSAGE_BYTES);
  g_assert_cmpuint (record.priority, ==, 4);
  g_assert_true (record.pattern_ok);
  g_assert_false (ps_queue_receive_with (queue, read_record, &record, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_cmpuint (record.calls, ==, 1);
}

/* Sharing models ------------------------------------------------------------------ */

static void
test_named (void)
{
  g_autofree char *name = ps_test_unique_name ("queue");
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) creator = NULL;
  g_autoptr(PsQueue) opener = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;

  opener = ps_queue_open (name, PS_OPEN_NONE, 4, 16, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  opener = ps_queue_open (name, PS_OPEN_CREATE, 0, 16, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  creator = ps_queue_open (name, PS_OPEN_CREATE, 4, 16, &error);
  g_assert_no_error (error);
  g_assert_true (ps_queue_get_created (creator));
  g_assert_cmpstr (ps_queue_get_name (creator), ==, name);
  opener = ps_queue_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 4, 16, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  /* The queue's own parameters, whatever the opener asked for. */
  opener = ps_queue_open (name, PS_OPEN_CREATE, 100, 1000, &error);
  g_assert_no_error (error);
  g_assert_false (ps_queue_get_created (opener));
  g_assert_cmpuint (ps_queue_get_capacity (opener), ==, 4);
  g_assert_cmpuint (ps_queue_get_max_message_size (opener), ==, 16);
  g_clear_object (&opener);
  opener = ps_queue_open (name, PS_OPEN_NONE, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_queue_get_capacity (opener), ==, 4);

  send_string (creator, "across", 3);
  assert_receive (opener, "across", 3);

  semaphore = ps_semaphore_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_clear_error (&error);
  g_assert_true (ps_unlink (name, &error));

  semaphore = ps_semaphore_open (name, PS_OPEN_CREATE, 0, &error);
  g_assert_no_error (error);
  g_clear_object (&opener);
  opener = ps_queue_open (name, PS_OPEN_CREATE, 4, 16, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_clear_error (&error);
  g_assert_true (ps_unlink (name, &error));
}

static void
test_placed (void)
{
  gsize size = ps_queue_measure (3, 40);
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) placed = NULL;
  g_autoptr(PsQueue) attached = NULL;
  g_autoptr(PsQueue) opened = NULL;
  g_autoptr(PsQueue) again = NULL;
  g_autoptr(PsEvent) event = NULL;

  memory = ps_shared_memory_new (3 * size, &error);
  g_assert_no_error (error);
  again = ps_queue_new_at (memory, 2 * size + 8, 3, 40, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
  g_clear_error (&error);
  again = ps_queue_new_at (memory, 4, 3, 40, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  again = ps_queue_new_at (memory, 0, 0, 40, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  placed = ps_queue_new_at (memory, 0, 3, 40, &error);
  g_assert_no_error (error);
  again = ps_queue_new_at (memory, 0, 3, 40, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  attached = ps_queue_attach (memory, 0, &error);
  g_assert_no_error (error);
  g_assert_false (ps_queue_get_created (attached));
  g_assert_cmpuint (ps_queue_get_capacity (attached), ==, 3);
  g_assert_cmpuint (ps_queue_get_max_message_size (attached), ==, 40);
  send_string (placed, "placed", 1);
  assert_receive (attached, "placed", 1);

  opened = ps_queue_open_at (memory, size, PS_OPEN_CREATE, 2, 20, &error);
  g_assert_no_error (error);
  g_assert_true (ps_queue_get_created (opened));
  again = ps_queue_open_at (memory, size, PS_OPEN_CREATE, 3, 40, &error);
  g_assert_no_error (error);
  g_assert_false (ps_queue_get_created (again));
  g_assert_cmpuint (ps_queue_get_capacity (again), ==, 2);
  g_assert_cmpuint (ps_queue_get_max_message_size (again), ==, 20);
  g_clear_object (&again);
  again = ps_queue_open_at (memory, 2 * size, PS_OPEN_NONE, 3, 40, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  event = ps_event_new_at (memory, 2 * size, FALSE, &error);
  g_assert_no_error (error);
  again = ps_queue_attach (memory, 2 * size, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
}

/* Across processes ------------------------------------------------------------------ */

#define PRODUCERS 2
#define CONSUMERS 2
#define PER_PRODUCER 3000

typedef struct
{
  gint received[PRODUCERS * PER_PRODUCER];
  gint out_of_order;
  gint consumed;
} Tally;

typedef struct
{
  PsQueue *queue;
  Tally   *tally;
  guint    id;
} Peer;

static int
producer_main (gpointer data)
{
  Peer *peer = data;

  for (guint i = 0; i < PER_PRODUCER; i++)
    {
      guint32 message[2] = { peer->id, i };
      g_autoptr(GBytes) bytes = g_bytes_new (message, sizeof message);
      g_autoptr(GError) error = NULL;

      if (!ps_queue_send (peer->queue, bytes, 0, ps_test_scaled_us (20 * G_USEC_PER_SEC), NULL,
                          &error))
        PS_CHILD_CHECK_NO_ERROR (error);
    }
  return 0;
}

static int
consumer_main (gpointer data)
{
  Peer *peer = data;
  guint last[PRODUCERS];

  for (guint p = 0; p < PRODUCERS; p++)
    last[p] = G_MAXUINT;
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) bytes = NULL;
      const guint32 *message;

      if (g_atomic_int_get (&peer->tally->consumed) >= PRODUCERS * PER_PRODUCER)
        return 0;
      bytes = ps_queue_receive (peer->queue, NULL, 20 * 1000, NULL, &error);
      if (bytes == NULL)
        {
          PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
          continue;
        }
      PS_CHILD_CHECK (g_bytes_get_size (bytes) == 8);
      message = g_bytes_get_data (bytes, NULL);
      PS_CHILD_CHECK (message[0] < PRODUCERS && message[1] < PER_PRODUCER);
      /* One consumer sees one producer's messages in order. */
      if (last[message[0]] != G_MAXUINT && message[1] <= last[message[0]])
        g_atomic_int_inc (&peer->tally->out_of_order);
      last[message[0]] = message[1];
      g_atomic_int_inc (&peer->tally->received[message[0] * PER_PRODUCER + message[1]]);
      g_atomic_int_inc (&peer->tally->consumed);
    }
}

static void
test_exactly_once (void)
{
  g_autoptr(PsQueue) queue = queue_new (8, 8);
  g_autoptr(PsSharedMemory) memory = NULL;
  Tally *tally = ps_test_shared_new (sizeof (Tally), &memory);
  Peer peers[PRODUCERS + CONSUMERS];
  pid_t pids[PRODUCERS + CONSUMERS];

  for (guint i = 0; i < PRODUCERS + CONSUMERS; i++)
    {
      peers[i].queue = queue;
      peers[i].tally = tally;
      peers[i].id = i < PRODUCERS ? i : i - PRODUCERS;
      pids[i] = ps_test_fork (i < PRODUCERS ? producer_main : consumer_main, &peers[i],
                              ps_test_scaled_s (60));
    }
  for (guint i = 0; i < PRODUCERS + CONSUMERS; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (60));

  g_assert_cmpint (tally->consumed, ==, PRODUCERS * PER_PRODUCER);
  g_assert_cmpint (tally->out_of_order, ==, 0);
  for (guint i = 0; i < PRODUCERS * PER_PRODUCER; i++)
    g_assert_cmpint (tally->received[i], ==, 1);
  assert_empty (queue);
}

#define THREAD_MESSAGES 2000

static gpointer
thread_producer (gpointer data)
{
  PsQueue *queue = data;

  for (guint i = 0; i < THREAD_MESSAGES; i++)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (&i, sizeof i);

      g_assert_true (ps_queue_send (queue, bytes, i % 3, -1, NULL, NULL));
    }
  return NULL;
}

static gpointer
thread_consumer (gpointer data)
{
  PsQueue *queue = data;
  guint64 sum = 0;

  for (guint i = 0; i < THREAD_MESSAGES; i++)
    {
      g_autoptr(GBytes) bytes = ps_queue_receive (queue, NULL, -1, NULL, NULL);

      g_assert_cmpuint (g_bytes_get_size (bytes), ==, sizeof (guint));
      sum += *(const guint *) g_bytes_get_data (bytes, NULL);
    }
  return GSIZE_TO_POINTER ((gsize) sum);
}

/* Threads of one process share the queue's lock records: two producers
 * and two consumers, every message received once. */
static void
test_threads (void)
{
  g_autoptr(PsQueue) queue = queue_new (4, 16);
  GThread *threads[4];
  guint64 sum = 0;

  for (guint i = 0; i < 4; i++)
    threads[i] = g_thread_new ("peer", i < 2 ? thread_producer : thread_consumer, queue);
  for (guint i = 0; i < 4; i++)
    sum += GPOINTER_TO_SIZE (g_thread_join (threads[i]));
  g_assert_cmpuint (sum, ==, (guint64) THREAD_MESSAGES * (THREAD_MESSAGES - 1));
  assert_empty (queue);
}

static int
receive_one_main (gpointer data)
{
  PsQueue *queue = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = ps_queue_receive (queue, NULL, -1, NULL, &error);

  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (g_bytes_get_size (bytes) == 4 &&
                  memcmp (g_bytes_get_data (bytes, NULL), "wake", 4) == 0);
  return 0;
}

static int
send_one_main (gpointer data)
{
  PsQueue *queue = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("late", 4);

  if (!ps_queue_send (queue, bytes, 0, -1, NULL, &error))
    PS_CHILD_CHECK_NO_ERROR (error);
  return 0;
}

/* A receiver asleep on an empty queue, a sender asleep on a full one:
 * woken by the peer's send or receive. */
static void
test_wake_across_processes (void)
{
  g_autoptr(PsQueue) queue = queue_new (1, 8);
  pid_t pid;

  pid = ps_test_fork (receive_one_main, queue, ps_test_scaled_s (30));
  ps_test_wait_until_blocked (pid, pid);
  g_assert_cmpuint (state_of (queue)->receivers_waiting, ==, 1);
  send_string (queue, "wake", 0);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  assert_empty (queue);

  send_string (queue, "full", 0);
  pid = ps_test_fork (send_one_main, queue, ps_test_scaled_s (30));
  ps_test_wait_until_blocked (pid, pid);
  g_assert_cmpuint (state_of (queue)->senders_waiting, ==, 1);
  assert_receive (queue, "full", 0);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  assert_receive (queue, "late", 0);
}

/* Deaths --------------------------------------------------------------------------- */

static void
fill_half_then_die (guint8   *slot,
                    gsize     size,
                    gpointer  user_data)
{
  memset (slot, 'X', size / 2);
  raise (SIGKILL);
}

static int
die_writing_main (gpointer data)
{
  PsQueue *queue = data;

  ps_queue_send_with (queue, 8, 9, fill_half_then_die, NULL, -1, NULL, NULL);
  return 1;   /* not reached */
}

static void
read_then_die (const guint8       *message,
               gsize               size,
               PsQueueMessageKind  kind,
               guint               priority,
               gpointer            user_data)
{
  raise (SIGKILL);
}

static int
die_reading_main (gpointer data)
{
  PsQueue *queue = data;

  ps_queue_receive_with (queue, read_then_die, NULL, -1, NULL, NULL);
  return 1;   /* not reached */
}

static void
assert_info (PsQueue *queue,
             guint    length,
             guint    n_writing,
             guint    n_reading)
{
  g_autoptr(GError) error = NULL;
  PsQueueInfo info;

  g_assert_true (ps_queue_state_inspect (state_of (queue),
                                         ps_queue_measure (ps_queue_get_capacity (queue),
                                                           ps_queue_get_max_message_size (queue)) -
                                         sizeof (PsObjectHeader),
                                         &info, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (info.capacity, ==, ps_queue_get_capacity (queue));
  g_assert_cmpuint (info.max_message_size, ==, ps_queue_get_max_message_size (queue));
  g_assert_cmpuint (info.length, ==, length);
  g_assert_cmpuint (info.n_writing, ==, n_writing);
  g_assert_cmpuint (info.n_reading, ==, n_reading);
  g_assert_cmpuint (info.n_free, ==, info.capacity - length - n_writing - n_reading);
}

/* A producer killed inside send_with()'s fill: its message is never
 * received, and its slot comes back, to a sender that finds the queue
 * full (the dead process reaped), or to one that waits (a zombie still,
 * noticed by the thorough look after PS_QUEUE_PROBE_US). */
static void
test_dead_writer (void)
{
  g_autoptr(PsQueue) queue = queue_new (1, 8);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("mine", 4);
  pid_t pid;

  pid = ps_test_fork (die_writing_main, queue, ps_test_scaled_s (30));
  ps_test_reap_killed (pid);
  assert_info (queue, 0, 1, 0);
  assert_empty (queue);
  assert_info (queue, 0, 0, 0);
  send_string (queue, "mine", 2);
  assert_receive (queue, "mine", 2);

  pid = ps_test_fork (die_writing_main, queue, ps_test_scaled_s (30));
  g_assert_true (ps_test_wait_int ((gint *) &state_of (queue)->n_writing, 1, 20));
  /* Not reaped: a zombie, which only the thorough look tells from a
   * live process. */
  g_assert_true (ps_queue_send (queue, bytes, 1, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL,
                                &error));
  g_assert_no_error (error);
  ps_test_reap_killed (pid);
  assert_receive (queue, "mine", 1);
  assert_empty (queue);
}

/* A consumer killed inside receive_with()'s read: the message goes back
 * in its place, before a later message of its priority. */
static void
test_dead_reader (void)
{
  g_autoptr(PsQueue) queue = queue_new (4, 8);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  pid_t pid;

  send_string (queue, "first", 5);
  send_string (queue, "low", 1);
  pid = ps_test_fork (die_reading_main, queue, ps_test_scaled_s (30));
  ps_test_reap_killed (pid);
  assert_info (queue, 1, 0, 1);
  send_string (queue, "second", 5);
  assert_receive (queue, "first", 5);
  assert_receive (queue, "second", 5);
  assert_receive (queue, "low", 1);
  assert_empty (queue);

  /* A receiver that waits on an empty queue while the reader is a
   * zombie gets the message. */
  send_string (queue, "again", 0);
  pid = ps_test_fork (die_reading_main, queue, ps_test_scaled_s (30));
  g_assert_true (ps_test_wait_int ((gint *) &state_of (queue)->n_reading, 1, 20));
  bytes = ps_queue_receive (queue, NULL, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "again", 5);
  ps_test_reap_killed (pid);
  assert_empty (queue);
}

/* A receiver killed asleep stays counted only until the next message:
 * every change of the word forgets the waiters it wakes. */
static void
test_dead_waiter (void)
{
  g_autoptr(PsQueue) queue = queue_new (2, 8);
  pid_t pid;

  pid = ps_test_fork (receive_one_main, queue, ps_test_scaled_s (30));
  ps_test_wait_until_blocked (pid, pid);
  g_assert_cmpuint (state_of (queue)->receivers_waiting, ==, 1);
  kill (pid, SIGKILL);
  ps_test_reap_killed (pid);
  g_assert_cmpuint (state_of (queue)->receivers_waiting, ==, 1);
  send_string (queue, "wake", 0);
  g_assert_cmpuint (state_of (queue)->receivers_waiting, ==, 0);
  assert_receive (queue, "wake", 0);
}

/* Holds the queue's lock, breaks its lists as a holder dying half-way
 * through a change would, and dies. */
static int
die_holding_lock_main (gpointer data)
{
  PsQueue *queue = data;
  PsQueueHandle *handle = ps_queue_get_handle (queue);

  PS_CHILD_CHECK (ps_robust_mutex_lock (&handle->lock, -1, NULL, NULL));
  handle->state->free_head = PS_QUEUE_NONE;
  handle->state->ready_head = PS_QUEUE_NONE;
  handle->state->ready_tail = PS_QUEUE_NONE;
  handle->state->n_ready = 0;
  raise (SIGKILL);
  return 1;
}

static void
test_dead_lock_holder (void)
{
  g_autoptr(PsQueue) queue = queue_new (4, 8);
  pid_t pid;

  send_string (queue, "b", 1);
  send_string (queue, "a", 2);
  send_string (queue, "c", 1);
  pid = ps_test_fork (die_holding_lock_main, queue, ps_test_scaled_s (30));
  ps_test_reap_killed (pid);

  /* Rebuilt from the slots, silently. */
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 0);
  send_string (queue, "d", 1);
  assert_info (queue, 4, 0, 0);
  assert_receive (queue, "a", 2);
  assert_receive (queue, "b", 1);
  assert_receive (queue, "c", 1);
  assert_receive (queue, "d", 1);
  assert_empty (queue);
}

static int
stop_holding_lock_main (gpointer data)
{
  PsQueue *queue = data;
  PsQueueHandle *handle = ps_queue_get_handle (queue);

  PS_CHILD_CHECK (ps_robust_mutex_lock (&handle->lock, -1, NULL, NULL));
  raise (SIGSTOP);
  return 1;
}

/* A peer stopped while it holds the queue's lock: calls still end within
 * their timeout (at least 10 ms); killed, the queue carries on. */
static void
test_stopped_lock_holder (void)
{
  g_autoptr(PsQueue) queue = queue_new (2, 8);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);
  GThread *thread;
  pid_t pid;
  int status;

  send_string (queue, "kept", 0);
  pid = ps_test_fork (stop_holding_lock_main, queue, ps_test_scaled_s (30));
  g_assert_cmpint (waitpid (pid, &status, WUNTRACED), ==, pid);
  g_assert_true (WIFSTOPPED (status));

  g_assert_null (ps_queue_receive (queue, NULL, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_false (ps_queue_send (queue, bytes, 0, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_null (ps_queue_receive (queue, NULL, 30 * 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  thread = g_thread_new ("cancel", cancel_later, cancellable);
  g_assert_false (ps_queue_send (queue, bytes, 0, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (thread);

  kill (pid, SIGKILL);
  ps_test_reap_killed (pid);
  assert_receive (queue, "kept", 0);
  assert_empty (queue);
}

/* Dies holding the lock in the middle of a small receive and a small
 * send, copied inside the critical section: the first message claimed
 * for reading, a free slot claimed for writing and half written. */
static int
die_copying_main (gpointer data)
{
  PsQueue *queue = data;
  PsQueueHandle *handle = ps_queue_get_handle (queue);
  PsQueueState *state = handle->state;
  PsQueueSlot *slot;
  guint32 index;

  PS_CHILD_CHECK (ps_robust_mutex_lock (&handle->lock, -1, NULL, NULL));
  index = state->ready_head;
  slot = (gpointer) (handle->slots + index * handle->stride);
  state->ready_head = slot->next;
  slot->owner_pid = getpid ();
  slot->owner_stamp = ps_process_self_stamp ();
  slot->state = PS_QUEUE_SLOT_READING;
  index = state->free_head;
  slot = (gpointer) (handle->slots + index * handle->stride);
  state->free_head = slot->next;
  slot->owner_pid = getpid ();
  slot->owner_stamp = ps_process_self_stamp ();
  slot->state = PS_QUEUE_SLOT_WRITING;
  memcpy ((guint8 *) slot + sizeof *slot, "half", 4);
  raise (SIGKILL);
  return 1;
}

static void
test_dead_copying_under_lock (void)
{
  g_autoptr(PsQueue) queue = queue_new (3, 8);
  pid_t pid;

  send_string (queue, "first", 1);
  send_string (queue, "second", 1);
  pid = ps_test_fork (die_copying_main, queue, ps_test_scaled_s (30));
  ps_test_reap_killed (pid);

  /* The message being read is back first; the half-written one never
   * shows, and its slot is free again. */
  assert_receive (queue, "first", 1);
  assert_info (queue, 1, 0, 0);
  send_string (queue, "third", 1);
  send_string (queue, "fourth", 1);
  assert_info (queue, 3, 0, 0);
  assert_receive (queue, "second", 1);
  assert_receive (queue, "third", 1);
  assert_receive (queue, "fourth", 1);
  assert_empty (queue);
}

/* Scribbled memory ------------------------------------------------------------------ */

/* Each side leaves the CPU of its last claim, for the other side's
 * decision to poll (ps-spin-private.h). */
static void
test_last_cpus (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) queue = ps_queue_new (2, 8, &error);
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);
  g_autoptr(GBytes) received = NULL;
  PsQueueHandle *handle;
  cpu_set_t saved;
  gint cpu;

  g_assert_no_error (error);
  handle = ps_queue_get_handle (queue);
  g_assert_cmpint (ps_queue_last_cpu (handle, PS_QUEUE_SEND), ==, -1);
  g_assert_cmpint (ps_queue_last_cpu (handle, PS_QUEUE_RECEIVE), ==, -1);

  cpu = ps_test_pin_to_first_cpu (&saved);
  g_assert_true (ps_queue_send (queue, bytes, 0, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_queue_last_cpu (handle, PS_QUEUE_SEND), ==, cpu);
  g_assert_cmpint (ps_queue_last_cpu (handle, PS_QUEUE_RECEIVE), ==, -1);
  received = ps_queue_receive (queue, NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ps_queue_last_cpu (handle, PS_QUEUE_RECEIVE), ==, cpu);
  g_assert_cmpint (ps_queue_last_cpu (handle, PS_QUEUE_SEND), ==, cpu);

  /* Any value a peer writes there is a CPU number or "unknown". */
  handle->state->last_cpus = G_MAXUINT32;
  g_assert_cmpint (ps_queue_last_cpu (handle, PS_QUEUE_SEND), ==, 0xfffe);
  handle->state->last_cpus = 0;
  g_assert_cmpint (ps_queue_last_cpu (handle, PS_QUEUE_RECEIVE), ==, -1);

  g_assert_cmpint (sched_setaffinity (0, sizeof saved, &saved), ==, 0);
}

static void
test_corrupt (void)
{
  gsize size = ps_queue_measure (3, 16);
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) placed = NULL;
  g_autoptr(PsQueue) attached = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);
  PsObjectHeader *header;
  PsQueueState *state;
  guint32 saved;
  guint32 index;

  memory = ps_shared_memory_new (size, &error);
  g_assert_no_error (error);
  placed = ps_queue_new_at (memory, 0, 3, 16, &error);
  g_assert_no_error (error);
  header = ps_shared_memory_get_data (memory);
  state = state_of (placed);

  /* Refused when opening. */
  state->magic = 0;
  attached = ps_queue_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  state->magic = PS_QUEUE_MAGIC;
  saved = state->capacity;
  state->capacity = 4;   /* more slots than the room */
  attached = ps_queue_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  state->capacity = 0;
  attached = ps_queue_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  state->capacity = saved;
  state->slot_stride = 8;
  attached = ps_queue_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  state->slot_stride = ps_queue_get_handle (placed)->stride;
  header->payload_size = size;   /* past the segment's end */
  attached = ps_queue_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  header->payload_size = 40;   /* smaller than a queue */
  attached = ps_queue_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  header->payload_size = size - sizeof (PsObjectHeader);
  attached = ps_queue_attach (memory, 0, &error);
  g_assert_no_error (error);

  /* Scribbled after opening: CORRUPT from the call, never a crash. */
  state->lock.consistency = PS_MUTEX_NOT_RECOVERABLE;
  g_assert_false (ps_queue_send (attached, bytes, 0, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  state->lock.consistency = PS_MUTEX_CONSISTENT;
  state->free_head = 7;
  g_assert_false (ps_queue_send (attached, bytes, 0, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  state->free_head = 0;
  send_string (attached, "ok", 0);
  state->ready_head = 2;   /* a free slot */
  g_assert_null (ps_queue_receive (attached, NULL, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  state->ready_head = 0;
  slot_of (attached, 0)->size = 17;   /* larger than the maximum: dropped */
  g_assert_null (ps_queue_receive (attached, NULL, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  assert_empty (attached);

  /* A slot's next pointing back at itself: no endless walk. */
  send_string (attached, "a", 5);
  send_string (attached, "b", 1);
  index = state->ready_head;
  slot_of (attached, index)->next = index;
  g_assert_false (ps_queue_send (attached, bytes, 3, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  g_clear_object (&attached);
  g_clear_object (&placed);

  /* A bytes message made to look like a variant: CORRUPT, taken. */
  placed = queue_new (2, 16);
  attached = g_object_ref (placed);
  state = state_of (placed);
  send_string (attached, "not a record", 0);
  slot_of (attached, state->ready_head)->kind = PS_QUEUE_MESSAGE_VARIANT;
  g_assert_null (ps_queue_receive_variant (attached, NULL, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  assert_empty (attached);
  send_string (attached, "fine", 0);
  assert_receive (attached, "fine", 0);
}

/* Async ------------------------------------------------------------------------------ */

typedef struct
{
  gboolean            done;
  gboolean            ok;
  GBytes             *bytes;
  GVariant           *variant;
  PsQueueMessageKind  kind;
  guint               priority;
  GError             *error;
} Outcome;

static void
outcome_clear (Outcome *outcome)
{
  g_clear_pointer (&outcome->bytes, g_bytes_unref);
  g_clear_pointer (&outcome->variant, g_variant_unref);
  g_clear_error (&outcome->error);
  memset (outcome, 0, sizeof *outcome);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Outcome *outcome = user_data;

  outcome->ok = ps_queue_send_finish (PS_QUEUE (source), result, &outcome->error);
  outcome->done = TRUE;
}

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Outcome *outcome = user_data;

  outcome->bytes = ps_queue_receive_finish (PS_QUEUE (source), result, &outcome->priority,
                                            &outcome->error);
  outcome->ok = outcome->bytes != NULL;
  outcome->done = TRUE;
}

static void
on_received_message (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Outcome *outcome = user_data;

  outcome->ok = ps_queue_receive_message_finish (PS_QUEUE (source), result, &outcome->kind,
                                                 &outcome->bytes, &outcome->variant,
                                                 &outcome->priority, &outcome->error);
  outcome->done = TRUE;
}

static void
run_until_done (Outcome *outcome)
{
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (20 * G_USEC_PER_SEC);

  while (!outcome->done)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

/* Runs the default main context for about @us microseconds. */
static void
run_for (gint64 us)
{
  gint64 end = g_get_monotonic_time () + us;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (500);
}

static gpointer
send_later (gpointer data)
{
  g_usleep (20 * 1000);
  send_string (data, "later", 6);
  return NULL;
}

static void
test_async (void)
{
  g_autoptr(PsQueue) queue = queue_new (1, 64);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) bytes = g_bytes_new_static ("async", 5);
  g_autoptr(GBytes) too_large = g_bytes_new_take (g_malloc0 (65), 65);
  Outcome outcome = { 0 };
  GThread *thread;

  /* Empty: would block, times out. */
  ps_queue_receive_async (queue, 0, NULL, on_received, &outcome);
  run_until_done (&outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  outcome_clear (&outcome);
  ps_queue_receive_async (queue, 10 * 1000, NULL, on_received, &outcome);
  run_until_done (&outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  outcome_clear (&outcome);

  /* A message that comes while the receive waits. */
  thread = g_thread_new ("send", send_later, queue);
  ps_queue_receive_async (queue, -1, NULL, on_received, &outcome);
  run_until_done (&outcome);
  g_thread_join (thread);
  g_assert_no_error (outcome.error);
  g_assert_cmpmem (g_bytes_get_data (outcome.bytes, NULL), g_bytes_get_size (outcome.bytes),
                   "later", 5);
  g_assert_cmpuint (outcome.priority, ==, 6);
  outcome_clear (&outcome);

  /* Sends: too large, sent, then full. */
  ps_queue_send_async (queue, too_large, 0, -1, NULL, on_sent, &outcome);
  run_until_done (&outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  outcome_clear (&outcome);
  ps_queue_send_variant_async (queue, g_variant_new_int32 (42), 3, -1, NULL, on_sent, &outcome);
  run_until_done (&outcome);
  g_assert_no_error (outcome.error);
  g_assert_true (outcome.ok);
  outcome_clear (&outcome);
  ps_queue_send_async (queue, bytes, 0, 0, NULL, on_sent, &outcome);
  run_until_done (&outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  outcome_clear (&outcome);

  /* A pending send cancelled: nothing sent. */
  ps_queue_send_async (queue, bytes, 0, -1, cancellable, on_sent, &outcome);
  run_for (10 * 1000);
  g_assert_false (outcome.done);
  g_cancellable_cancel (cancellable);
  run_until_done (&outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&outcome);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 1);

  /* The variant, with its kind. */
  ps_queue_receive_message_async (queue, -1, NULL, on_received_message, &outcome);
  run_until_done (&outcome);
  g_assert_no_error (outcome.error);
  g_assert_cmpint (outcome.kind, ==, PS_QUEUE_MESSAGE_VARIANT);
  g_assert_null (outcome.bytes);
  g_assert_cmpint (g_variant_get_int32 (outcome.variant), ==, 42);
  g_assert_cmpuint (outcome.priority, ==, 3);
  outcome_clear (&outcome);

  /* A receive cancelled before it starts, and while it waits: nothing
   * taken. */
  ps_queue_receive_async (queue, -1, cancellable, on_received, &outcome);
  run_until_done (&outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&outcome);
  g_cancellable_reset (cancellable);
  ps_queue_receive_async (queue, -1, cancellable, on_received, &outcome);
  run_for (10 * 1000);
  g_cancellable_cancel (cancellable);
  run_until_done (&outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&outcome);
  send_string (queue, "kept", 0);
  assert_receive (queue, "kept", 0);
}

typedef struct
{
  PsQueue      *queue;
  GCancellable *cancellable;
  gboolean      send;
} RaceArgs;

/* Sends (or receives) one message and cancels, both at once. */
static gpointer
race_peer (gpointer data)
{
  RaceArgs *args = data;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("race", 4);
  g_autoptr(GBytes) got = NULL;

  if (args->send)
    g_assert_true (ps_queue_send (args->queue, bytes, 0, -1, NULL, NULL));
  else
    got = ps_queue_receive (args->queue, NULL, -1, NULL, NULL);
  g_cancellable_cancel (args->cancellable);
  return NULL;
}

/* An async receive (send) cancelled as a message (a slot) comes: either
 * it took the message (sent) and succeeded, or it was cancelled and took
 * (sent) nothing; the count of messages is exact after every round. */
static void
test_async_cancel_race (void)
{
  g_autoptr(PsQueue) queue = queue_new (1, 8);
  g_autoptr(GBytes) bytes = g_bytes_new_static ("mine", 4);
  guint taken = 0;
  guint cancelled = 0;

  for (guint round = 0; round < 200; round++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      RaceArgs args = { queue, cancellable, round % 2 == 0 };
      Outcome outcome = { 0 };
      GThread *thread;

      if (args.send)
        ps_queue_receive_async (queue, -1, cancellable, on_received, &outcome);
      else
        {
          send_string (queue, "full", 0);
          ps_queue_send_async (queue, bytes, 0, -1, cancellable, on_sent, &outcome);
        }
      thread = g_thread_new ("race", race_peer, &args);
      run_until_done (&outcome);
      g_thread_join (thread);
      if (outcome.ok)
        {
          g_assert_no_error (outcome.error);
          taken++;
          if (!args.send)
            assert_receive (queue, "mine", 0);
        }
      else
        {
          g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          cancelled++;
          if (args.send)
            assert_receive (queue, "race", 0);
        }
      outcome_clear (&outcome);
      assert_empty (queue);
    }
  g_assert_cmpuint (taken + cancelled, ==, 200);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/queue/parameters", test_parameters);
  ps_test_add ("/queue/construct", test_construct);
  ps_test_add ("/queue/send-receive", test_send_receive);
  ps_test_add ("/queue/full-and-empty", test_full_and_empty);
  ps_test_add ("/queue/cancel-waiting", test_cancel_waiting);
  ps_test_add ("/queue/priorities", test_priorities);
  ps_test_add ("/queue/kinds", test_kinds);
  ps_test_add ("/queue/zero-copy", test_zero_copy);
  ps_test_add ("/queue/named", test_named);
  ps_test_add ("/queue/placed", test_placed);
  ps_test_add ("/queue/exactly-once", test_exactly_once);
  ps_test_add ("/queue/threads", test_threads);
  ps_test_add ("/queue/wake-across-processes", test_wake_across_processes);
  ps_test_add ("/queue/death/writer", test_dead_writer);
  ps_test_add ("/queue/death/reader", test_dead_reader);
  ps_test_add ("/queue/death/lock-holder", test_dead_lock_holder);
  ps_test_add ("/queue/death/waiter", test_dead_waiter);
  ps_test_add ("/queue/death/copying-under-lock", test_dead_copying_under_lock);
  ps_test_add ("/queue/stopped-lock-holder", test_stopped_lock_holder);
  ps_test_add ("/queue/last-cpus", test_last_cpus);
  ps_test_add ("/queue/corrupt", test_corrupt);
  ps_test_add ("/queue/async", test_async);
  ps_test_add ("/queue/async-cancel-race", test_async_cancel_race);

  return g_test_run ();
}
