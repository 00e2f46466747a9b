/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * GIO streams over a range of a PsSharedMemory (the seed's
 * SharedMemoryIO): a GInputStream and a GOutputStream, both GSeekable
 * within the range and GPollable (always ready, as memory streams are),
 * copying through the same checks as the segment's accessors
 * (ps-shared-memory-access.c): bounds fixed when the stream is made, the
 * backing checked before and after every copy, so that a segment whose
 * file another process truncated gives PS_ERROR_CORRUPT, never SIGBUS.
 */

#include <string.h>

#include "ps-errors-private.h"
#include "ps-shared-memory-private.h"
#include "ps-shared-memory-stream-private.h"

/* Where a stream reads or writes: [offset, offset + length) of @memory,
 * at @position from @offset. Segments are mapped, so @length fits in a
 * goffset. */
typedef struct
{
  PsSharedMemory *memory;   /* a reference: the stream keeps the segment */
  gsize           offset;
  gsize           length;
  gsize           position; /* 0 to @length */
} StreamRange;

struct _PsSharedMemoryInputStream
{
  GInputStream parent_instance;

  StreamRange range;
};

struct _PsSharedMemoryOutputStream
{
  GOutputStream parent_instance;

  StreamRange range;
};

static void seekable_iface_init        (GSeekableIface               *iface);
static void pollable_input_iface_init  (GPollableInputStreamInterface  *iface);
static void pollable_output_iface_init (GPollableOutputStreamInterface *iface);

/* GSeekable comes last: GJS (1.74) finds the methods of only the last
 * interface of a type that has no introspection data of its own, and
 * seek() and tell() matter more there than the pollable calls. */
G_DEFINE_FINAL_TYPE_WITH_CODE (PsSharedMemoryInputStream, ps_shared_memory_input_stream,
                               G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      pollable_input_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_SEEKABLE, seekable_iface_init))

G_DEFINE_FINAL_TYPE_WITH_CODE (PsSharedMemoryOutputStream, ps_shared_memory_output_stream,
                               G_TYPE_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      pollable_output_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_SEEKABLE, seekable_iface_init))

/* The range ------------------------------------------------------------------ */

static StreamRange *
get_range (gpointer stream)
{
  if (PS_IS_SHARED_MEMORY_INPUT_STREAM (stream))
    return &PS_SHARED_MEMORY_INPUT_STREAM (stream)->range;
  return &PS_SHARED_MEMORY_OUTPUT_STREAM (stream)->range;
}

static gboolean
is_closed (gpointer stream)
{
  if (G_IS_INPUT_STREAM (stream))
    return g_input_stream_is_closed (stream);
  return g_output_stream_is_closed (stream);
}

/* The bytes at the range's position, or NULL with PS_ERROR_CORRUPT if
 * the segment lost its backing. */
static guint8 *
range_peek (StreamRange  *range,
            GError      **error)
{
  gsize size;
  guint8 *base = ps_shared_memory_peek (range->memory, &size);

  if (!ps_shared_memory_check_backing (range->memory, error))
    return NULL;
  return base + range->offset + range->position;
}

static gssize
range_read (StreamRange  *range,
            void         *buffer,
            gsize         count,
            GError      **error)
{
  gsize n = MIN (count, range->length - range->position);
  guint8 *from = range_peek (range, error);

  if (from == NULL)
    return -1;
  if (n > 0)
    memcpy (buffer, from, n);
  /* Zeros put in for lost pages are not what the segment held. */
  if (!ps_shared_memory_check_backing (range->memory, error))
    return -1;
  range->position += n;
  return (gssize) n;
}

/* As GMemoryOutputStream over a buffer it cannot grow: a write that
 * partly fits writes what fits and returns that count; one at the end
 * of the range fails with G_IO_ERROR_NO_SPACE. */
static gssize
range_write (StreamRange  *range,
             const void   *buffer,
             gsize         count,
             GError      **error)
{
  gsize n = MIN (count, range->length - range->position);
  guint8 *to;

  if (n == 0 && count > 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "No room left in the stream: its range of the segment, %" G_GSIZE_FORMAT
                   " bytes at offset %" G_GSIZE_FORMAT ", is full",
                   range->length, range->offset);
      return -1;
    }
  to = range_peek (range, error);
  if (to == NULL)
    return -1;
  if (n > 0)
    memcpy (to, buffer, n);
  if (!ps_shared_memory_check_backing (range->memory, error))
    return -1;
  range->position += n;
  return (gssize) n;
}

/* The dispose of both classes: the segment goes with the stream. */
static void
stream_dispose (GObject *object)
{
  GObjectClass *parent_class = PS_IS_SHARED_MEMORY_INPUT_STREAM (object)
    ? ps_shared_memory_input_stream_parent_class
    : ps_shared_memory_output_stream_parent_class;

  g_clear_object (&get_range (object)->memory);
  parent_class->dispose (object);
}

/* GSeekable, for both classes ------------------------------------------------- */

static goffset
stream_tell (GSeekable *seekable)
{
  return (goffset) get_range (seekable)->position;
}

static gboolean
stream_can_seek (GSeekable *seekable)
{
  return TRUE;
}

static gboolean
stream_seek (GSeekable     *seekable,
             goffset        offset,
             GSeekType      type,
             GCancellable  *cancellable,
             GError       **error)
{
  StreamRange *range = get_range (seekable);
  goffset length = (goffset) range->length;
  goffset from;

  if (is_closed (seekable))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is already closed");
      return FALSE;
    }
  switch (type)
    {
    case G_SEEK_SET:
      from = 0;
      break;
    case G_SEEK_CUR:
      from = (goffset) range->position;
      break;
    case G_SEEK_END:
      from = length;
      break;
    default:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "Invalid GSeekType supplied");
      return FALSE;
    }
  /* Written so that nothing overflows, whatever @offset is. */
  if (offset < -from || offset > length - from)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Requested seek outside the stream: it has %" G_GSIZE_FORMAT " bytes",
                   range->length);
      return FALSE;
    }
  range->position = (gsize) (from + offset);
  return TRUE;
}

static gboolean
stream_can_truncate (GSeekable *seekable)
{
  return FALSE;
}

static gboolean
stream_truncate (GSeekable     *seekable,
                 goffset        offset,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "Cannot truncate a stream over shared memory: its range of the "
                       "segment has a fixed size");
  return FALSE;
}

static void
seekable_iface_init (GSeekableIface *iface)
{
  iface->tell = stream_tell;
  iface->can_seek = stream_can_seek;
  iface->seek = stream_seek;
  iface->can_truncate = stream_can_truncate;
  iface->truncate_fn = stream_truncate;
}

/* Memory is always ready: a source that dispatches at once, as
 * GMemoryInputStream's. */
static GSource *
ready_source_new (GObject      *stream,
                  GCancellable *cancellable)
{
  g_autoptr(GSource) base_source = g_timeout_source_new (0);

  return g_pollable_source_new_full (stream, base_source, cancellable);
}

/* The input stream ------------------------------------------------------------ */

static gssize
input_stream_read (GInputStream  *stream,
                   void          *buffer,
                   gsize          count,
                   GCancellable  *cancellable,
                   GError       **error)
{
  return range_read (get_range (stream), buffer, count, error);
}

static gssize
input_stream_skip (GInputStream  *stream,
                   gsize          count,
                   GCancellable  *cancellable,
                   GError       **error)
{
  StreamRange *range = get_range (stream);
  gsize n = MIN (count, range->length - range->position);

  range->position += n;
  return (gssize) n;
}

static void
ps_shared_memory_input_stream_class_init (PsSharedMemoryInputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->dispose = stream_dispose;
  stream_class->read_fn = input_stream_read;
  stream_class->skip = input_stream_skip;
}

static void
ps_shared_memory_input_stream_init (PsSharedMemoryInputStream *self)
{
}

static gssize
input_stream_read_nonblocking (GPollableInputStream  *stream,
                               void                  *buffer,
                               gsize                  count,
                               GError               **error)
{
  return range_read (get_range (stream), buffer, count, error);
}

static gboolean
input_stream_is_readable (GPollableInputStream *stream)
{
  return TRUE;
}

static GSource *
input_stream_create_source (GPollableInputStream *stream,
                            GCancellable         *cancellable)
{
  return ready_source_new (G_OBJECT (stream), cancellable);
}

static void
pollable_input_iface_init (GPollableInputStreamInterface *iface)
{
  iface->is_readable = input_stream_is_readable;
  iface->create_source = input_stream_create_source;
  iface->read_nonblocking = input_stream_read_nonblocking;
}

/* The output stream ----------------------------------------------------------- */

static gssize
output_stream_write (GOutputStream  *stream,
                     const void     *buffer,
                     gsize           count,
                     GCancellable   *cancellable,
                     GError        **error)
{
  return range_write (get_range (stream), buffer, count, error);
}

static void
ps_shared_memory_output_stream_class_init (PsSharedMemoryOutputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  object_class->dispose = stream_dispose;
  stream_class->write_fn = output_stream_write;
}

static void
ps_shared_memory_output_stream_init (PsSharedMemoryOutputStream *self)
{
}

static gssize
output_stream_write_nonblocking (GPollableOutputStream  *stream,
                                 const void             *buffer,
                                 gsize                   count,
                                 GError                **error)
{
  return range_write (get_range (stream), buffer, count, error);
}

static gboolean
output_stream_is_writable (GPollableOutputStream *stream)
{
  return TRUE;
}

static GSource *
output_stream_create_source (GPollableOutputStream *stream,
                             GCancellable          *cancellable)
{
  return ready_source_new (G_OBJECT (stream), cancellable);
}

static void
pollable_output_iface_init (GPollableOutputStreamInterface *iface)
{
  iface->is_writable = output_stream_is_writable;
  iface->create_source = output_stream_create_source;
  iface->write_nonblocking = output_stream_write_nonblocking;
}

/* The public constructors ----------------------------------------------------- */

/* A stream of @type over [@offset, @offset + @length) of @memory, or NULL
 * with PS_ERROR_OUT_OF_BOUNDS. */
static gpointer
stream_new (GType            type,
            PsSharedMemory  *memory,
            gsize            offset,
            gsize            length,
            GError         **error)
{
  gsize size;
  gpointer stream;
  StreamRange *range;

  ps_shared_memory_peek (memory, &size);
  if (!ps_check_range (size, offset, length, error))
    return NULL;
  stream = g_object_new (type, NULL);
  range = get_range (stream);
  range->memory = g_object_ref (memory);
  range->offset = offset;
  range->length = length;
  return stream;
}

/**
 * ps_shared_memory_get_input_stream:
 * @self: a #PsSharedMemory
 * @offset: where the stream's range starts in the segment
 * @length: how many bytes the range has
 * @error: return location for a #GError
 *
 * Makes a new stream that reads `[@offset, @offset + @length)` of the
 * segment, from its start: with #GDataInputStream over it,
 * g_data_input_stream_read_line() reads text lines another process wrote
 * there, g_output_stream_splice() copies the range into a file, and so
 * on. Reading the last byte of the range ends the stream (a read returns
 * 0). Each call makes a stream of its own, with its own position; the
 * stream keeps the segment alive.
 *
 * The stream implements #GSeekable within the range: positions go from 0
 * (@offset in the segment) to @length, and a seek outside them fails with
 * %G_IO_ERROR_INVALID_ARGUMENT, as in #GMemoryInputStream; it cannot be
 * truncated (%G_IO_ERROR_NOT_SUPPORTED). It implements
 * #GPollableInputStream too, always readable, so that its `_async` reads
 * run in the caller's main context without a thread.
 *
 * Reads copy out of the segment with the checks of
 * [method@SharedMemory.read]: if the segment lost its backing (another
 * process truncated its file), a read fails with %PS_ERROR_CORRUPT and
 * the position stays where it was. A read-only segment can be read. The
 * stream does no locking: guard what other processes write concurrently
 * with a [class@Mutex].
 *
 * Across fork(): a stream made before fork() is the child's too, with
 * the position it had then, from which parent and child move on
 * independently; both read the same memory.
 *
 * Returns: (transfer full): a new #GInputStream, or %NULL with
 *   %PS_ERROR_OUT_OF_BOUNDS if the range does not fit in the segment
 *
 * Since: 1.1
 */
GInputStream *
ps_shared_memory_get_input_stream (PsSharedMemory  *self,
                                   gsize            offset,
                                   gsize            length,
                                   GError         **error)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), NULL);
  g_return_val_if_fail (ps_shared_memory_get_data (self) != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return stream_new (PS_TYPE_SHARED_MEMORY_INPUT_STREAM, self, offset, length, error);
}

/**
 * ps_shared_memory_get_output_stream:
 * @self: a #PsSharedMemory
 * @offset: where the stream's range starts in the segment
 * @length: how many bytes the range has
 * @error: return location for a #GError
 *
 * Makes a new stream that writes `[@offset, @offset + @length)` of the
 * segment, from its start: g_output_stream_printf(),
 * g_output_stream_splice() from a file, a #GDataOutputStream over it, and
 * so on. Each call makes a stream of its own, with its own position; the
 * stream keeps the segment alive. Nothing outside the range is ever
 * written.
 *
 * The range does not grow. As in a #GMemoryOutputStream over a buffer it
 * cannot resize, a write that only partly fits writes what fits and
 * returns that count (g_output_stream_write_all() then fails on the
 * rest), and a write at the end of the range fails with
 * %G_IO_ERROR_NO_SPACE, writing nothing.
 *
 * The stream implements #GSeekable within the range: positions go from 0
 * (@offset in the segment) to @length, and a seek outside them fails with
 * %G_IO_ERROR_INVALID_ARGUMENT; it cannot be truncated
 * (%G_IO_ERROR_NOT_SUPPORTED). It implements #GPollableOutputStream too,
 * always writable, so that its `_async` writes run in the caller's main
 * context without a thread.
 *
 * Writes copy into the segment with the checks of
 * [method@SharedMemory.write]: if the segment lost its backing (another
 * process truncated its file), a write fails with %PS_ERROR_CORRUPT. The
 * stream does no locking: guard what other processes read or write
 * concurrently with a [class@Mutex].
 *
 * Across fork(): a stream made before fork() is the child's too, with
 * the position it had then, from which parent and child move on
 * independently; what either writes, the other reads.
 *
 * Returns: (transfer full): a new #GOutputStream, or %NULL with
 *   %PS_ERROR_OUT_OF_BOUNDS if the range does not fit in the segment, or
 *   %G_IO_ERROR_READ_ONLY if the segment is read-only
 *   ([method@SharedMemory.is_read_only])
 *
 * Since: 1.1
 */
GOutputStream *
ps_shared_memory_get_output_stream (PsSharedMemory  *self,
                                    gsize            offset,
                                    gsize            length,
                                    GError         **error)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), NULL);
  g_return_val_if_fail (ps_shared_memory_get_data (self) != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ps_shared_memory_check_writable (self, error))
    return NULL;
  return stream_new (PS_TYPE_SHARED_MEMORY_OUTPUT_STREAM, self, offset, length, error);
}
