/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-platform-memory-private.h"
#include "ps-read-buffer-private.h"

/* Before the data: how much room the buffer has, and how large a mapping
 * it is (0 if it came from g_malloc()); 16 bytes, so the data keeps the
 * 16-byte alignment GVariant needs. */
typedef struct
{
  gsize capacity;
  gsize mapped;
} ReadBuffer;

G_STATIC_ASSERT (sizeof (ReadBuffer) == 16);

/* The buffers kept, one below ps_platform_memory_large_size() and one
 * from it on, so that a program reading values of both sizes in turn
 * (a 1 MiB one, then a 64 MiB one) reuses a buffer for each instead of
 * trading one for the other at every read. Exchanged atomically, so no
 * lock that a thread of the parent could hold at fork() time. */
static ReadBuffer *kept_buffers[2];

static ReadBuffer *
header_of (guint8 *data)
{
  return (ReadBuffer *) (gpointer) (data - sizeof (ReadBuffer));
}

/* Which of kept_buffers a buffer of @capacity bytes goes to, or -1 if
 * it is not kept. */
static gint
slot_of (gsize capacity)
{
  if (capacity < PS_READ_BUFFER_MIN || capacity > PS_READ_BUFFER_MAX)
    return -1;
  return capacity < ps_platform_memory_large_size () ? 0 : 1;
}

static void
release (ReadBuffer *buffer)
{
  if (buffer == NULL)
    return;
  if (buffer->mapped > 0)
    ps_platform_memory_unmap (buffer, buffer->mapped);
  else
    g_free (buffer);
}

/* A buffer of @size bytes of its own: mapped when large, where the
 * system maps it, else from g_malloc(). */
static ReadBuffer *
allocate (gsize size)
{
  gsize total = sizeof (ReadBuffer) + MAX (size, 1);
  ReadBuffer *buffer = NULL;

  if (total >= ps_platform_memory_large_size ())
    buffer = ps_platform_memory_map (total);
  if (buffer != NULL)
    buffer->mapped = total;
  else
    {
      buffer = g_malloc (total);
      buffer->mapped = 0;
    }
  buffer->capacity = size;
  return buffer;
}

guint8 *
ps_read_buffer_new (gsize size)
{
  gint slot = slot_of (size);
  ReadBuffer *buffer = NULL;

  if (slot >= 0)
    {
      buffer = __atomic_exchange_n (&kept_buffers[slot], NULL, __ATOMIC_ACQ_REL);
      /* Reused only where it is no more than twice as large, so that a
       * small read does not pin a large buffer. */
      if (buffer != NULL && (buffer->capacity < size || buffer->capacity / 2 > size))
        {
          ReadBuffer *expected = NULL;

          if (!__atomic_compare_exchange_n (&kept_buffers[slot], &expected, buffer, FALSE,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            release (buffer);
          buffer = NULL;
        }
    }
  if (buffer == NULL)
    buffer = allocate (size);
  return (guint8 *) (buffer + 1);
}

void
ps_read_buffer_free (guint8 *data)
{
  ReadBuffer *buffer = header_of (data);
  gint slot = slot_of (buffer->capacity);

  if (slot >= 0)
    {
      /* A large buffer kept for the next read (up to 64 MiB) is the
       * system's to take back when it runs short of memory; its header,
       * on the first page, stays. */
      if (buffer->mapped > 0)
        ps_platform_memory_discard (buffer + 1, buffer->mapped - sizeof (ReadBuffer));
      buffer = __atomic_exchange_n (&kept_buffers[slot], buffer, __ATOMIC_ACQ_REL);
    }
  release (buffer);
}

static void
release_bytes (gpointer data)
{
  ps_read_buffer_free (data);
}

GBytes *
ps_read_buffer_to_bytes (guint8 *data,
                         gsize   size)
{
  g_assert (size <= header_of (data)->capacity);
  return g_bytes_new_with_free_func (data, size, release_bytes, data);
}

void
ps_read_buffer_trim (void)
{
  gsize slot;

  for (slot = 0; slot < G_N_ELEMENTS (kept_buffers); slot++)
    release (__atomic_exchange_n (&kept_buffers[slot], NULL, __ATOMIC_ACQ_REL));
}
