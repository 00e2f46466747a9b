/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-read-buffer-private.h"

/* Before the data: how much room the allocation has, and 16 bytes so the
 * data keeps g_malloc()'s alignment, which GVariant needs. */
typedef struct
{
  gsize capacity;
  gsize padding;
} ReadBuffer;

G_STATIC_ASSERT (sizeof (ReadBuffer) == 16);

/* The one buffer kept; exchanged atomically, so no lock that a thread of
 * the parent could hold at fork() time. */
static ReadBuffer *kept_buffer;

static ReadBuffer *
header_of (guint8 *data)
{
  return (ReadBuffer *) (gpointer) (data - sizeof (ReadBuffer));
}

static gboolean
worth_keeping (gsize capacity)
{
  return capacity >= PS_READ_BUFFER_MIN && capacity <= PS_READ_BUFFER_MAX;
}

guint8 *
ps_read_buffer_new (gsize size)
{
  ReadBuffer *buffer = NULL;

  if (worth_keeping (size))
    {
      buffer = __atomic_exchange_n (&kept_buffer, NULL, __ATOMIC_ACQ_REL);
      /* Reused only where it is no more than twice as large, so that a
       * small read does not pin a large buffer. */
      if (buffer != NULL && (buffer->capacity < size || buffer->capacity / 2 > size))
        {
          ReadBuffer *expected = NULL;

          if (!__atomic_compare_exchange_n (&kept_buffer, &expected, buffer, FALSE,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            g_free (buffer);
          buffer = NULL;
        }
    }
  if (buffer == NULL)
    {
      buffer = g_malloc (sizeof (ReadBuffer) + MAX (size, 1));
      buffer->capacity = size;
    }
  return (guint8 *) (buffer + 1);
}

void
ps_read_buffer_free (guint8 *data)
{
  ReadBuffer *buffer = header_of (data);

  if (worth_keeping (buffer->capacity))
    buffer = __atomic_exchange_n (&kept_buffer, buffer, __ATOMIC_ACQ_REL);
  g_free (buffer);
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
  g_free (__atomic_exchange_n (&kept_buffer, NULL, __ATOMIC_ACQ_REL));
}
