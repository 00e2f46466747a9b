/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Reading and writing the bytes of a PsSharedMemory: raw, typed and as
 * variant records, every access checked against the segment's bounds
 * before anything is touched.
 */

#include <string.h>

#include "ps-errors-private.h"
#include "ps-read-buffer-private.h"
#include "ps-shared-memory-private.h"
#include "ps-variant-record-private.h"

/**
 * ps_shared_memory_read:
 * @self: a #PsSharedMemory
 * @offset: where to start
 * @length: how many bytes to copy
 * @error: return location for a #GError
 *
 * Copies @length bytes starting at @offset out of the segment.
 *
 * Across fork(): parent and child read the same memory; what either
 * writes, the other reads.
 *
 * Returns: (transfer full): the bytes, or %NULL with
 *   %PS_ERROR_OUT_OF_BOUNDS, or %PS_ERROR_CORRUPT if the segment lost its
 *   backing (another process truncated it)
 *
 * Since: 1.0
 */
GBytes *
ps_shared_memory_read (PsSharedMemory  *self,
                       gsize            offset,
                       gsize            length,
                       GError         **error)
{
  gsize size;
  guint8 *base = ps_shared_memory_peek (self, &size);
  GBytes *bytes;

  g_return_val_if_fail (base != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ps_check_range (size, offset, length, error) ||
      !ps_shared_memory_check_backing (self, error))
    return NULL;

  /* A large read goes into a buffer that takes no fault per page and is
   * reused once freed (ps-read-buffer), like read_variant()'s. */
  if (length >= PS_READ_BUFFER_MIN)
    {
      guint8 *data = ps_read_buffer_new (length);

      memcpy (data, base + offset, length);
      bytes = ps_read_buffer_to_bytes (data, length);
    }
  else
    bytes = g_bytes_new (base + offset, length);
  if (!ps_shared_memory_check_backing (self, error))
    g_clear_pointer (&bytes, g_bytes_unref);
  return bytes;
}

/**
 * ps_shared_memory_write:
 * @self: a #PsSharedMemory
 * @offset: where to start
 * @data: (array length=length): the bytes to write
 * @length: how many bytes to write
 * @error: return location for a #GError
 *
 * Copies @length bytes from @data into the segment at @offset. Nothing is
 * written unless all of it fits.
 *
 * Across fork(): parent and child write the same memory.
 *
 * Returns: %TRUE on success, %FALSE with %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_CORRUPT if the segment lost its backing (another process
 *   truncated it), or %G_IO_ERROR_READ_ONLY if it is read-only (since 1.1)
 *
 * Since: 1.0
 */
gboolean
ps_shared_memory_write (PsSharedMemory  *self,
                        gsize            offset,
                        const guint8    *data,
                        gsize            length,
                        GError         **error)
{
  gsize size;
  guint8 *base = ps_shared_memory_peek (self, &size);

  g_return_val_if_fail (base != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!ps_shared_memory_check_writable (self, error) ||
      !ps_check_range (size, offset, length, error) ||
      !ps_shared_memory_check_backing (self, error))
    return FALSE;

  if (length > 0)
    memcpy (base + offset, data, length);
  return ps_shared_memory_check_backing (self, error);
}

/* The typed accessors copy through memcpy(): offsets need not be aligned,
 * and the compiler turns it into a single load or store when they are. */
#define DEFINE_TYPED_ACCESSORS(type_name, ctype, zero)                            \
ctype                                                                             \
ps_shared_memory_get_##type_name (PsSharedMemory  *self,                          \
                                  gsize            offset,                        \
                                  GError         **error)                         \
{                                                                                 \
  gsize size;                                                                     \
  guint8 *base = ps_shared_memory_peek (self, &size);                             \
  ctype value;                                                                    \
                                                                                  \
  g_return_val_if_fail (base != NULL, zero);                                      \
  g_return_val_if_fail (error == NULL || *error == NULL, zero);                   \
                                                                                  \
  if (!ps_check_range (size, offset, sizeof value, error) ||                      \
      !ps_shared_memory_check_backing (self, error))                              \
    return zero;                                                                  \
  memcpy (&value, base + offset, sizeof value);                                   \
  return ps_shared_memory_check_backing (self, error) ? value : zero;             \
}                                                                                 \
                                                                                  \
gboolean                                                                          \
ps_shared_memory_set_##type_name (PsSharedMemory  *self,                          \
                                  gsize            offset,                        \
                                  ctype            value,                         \
                                  GError         **error)                         \
{                                                                                 \
  gsize size;                                                                     \
  guint8 *base = ps_shared_memory_peek (self, &size);                             \
                                                                                  \
  g_return_val_if_fail (base != NULL, FALSE);                                     \
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);                  \
                                                                                  \
  if (!ps_shared_memory_check_writable (self, error) ||                          \
      !ps_check_range (size, offset, sizeof value, error) ||                      \
      !ps_shared_memory_check_backing (self, error))                              \
    return FALSE;                                                                 \
  memcpy (base + offset, &value, sizeof value);                                   \
  return ps_shared_memory_check_backing (self, error);                            \
}

/**
 * ps_shared_memory_get_uint8:
 * @self: a #PsSharedMemory
 * @offset: the offset of the byte
 * @error: return location for a #GError
 *
 * Reads the byte at @offset.
 *
 * Across fork(): parent and child read the same memory.
 *
 * Returns: the value; 0 with %PS_ERROR_OUT_OF_BOUNDS or
 *   %PS_ERROR_CORRUPT (the segment lost its backing) set on error
 *
 * Since: 1.0
 */
/**
 * ps_shared_memory_set_uint8:
 * @self: a #PsSharedMemory
 * @offset: the offset of the byte
 * @value: the value to store
 * @error: return location for a #GError
 *
 * Stores @value at @offset.
 *
 * Across fork(): parent and child write the same memory.
 *
 * Returns: %TRUE on success, %FALSE with %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_CORRUPT if the segment lost its backing (another process
 *   truncated it), or %G_IO_ERROR_READ_ONLY if it is read-only (since 1.1)
 *
 * Since: 1.0
 */
DEFINE_TYPED_ACCESSORS (uint8, guint8, 0)

/**
 * ps_shared_memory_get_int32:
 * @self: a #PsSharedMemory
 * @offset: the offset of the value, aligned or not
 * @error: return location for a #GError
 *
 * Reads the 32-bit signed integer (host byte order) at @offset.
 *
 * Across fork(): parent and child read the same memory.
 *
 * Returns: the value; 0 with %PS_ERROR_OUT_OF_BOUNDS or
 *   %PS_ERROR_CORRUPT (the segment lost its backing) set on error
 *
 * Since: 1.0
 */
/**
 * ps_shared_memory_set_int32:
 * @self: a #PsSharedMemory
 * @offset: the offset of the value, aligned or not
 * @value: the value to store
 * @error: return location for a #GError
 *
 * Stores @value (host byte order) at @offset.
 *
 * Across fork(): parent and child write the same memory.
 *
 * Returns: %TRUE on success, %FALSE with %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_CORRUPT if the segment lost its backing (another process
 *   truncated it), or %G_IO_ERROR_READ_ONLY if it is read-only (since 1.1)
 *
 * Since: 1.0
 */
DEFINE_TYPED_ACCESSORS (int32, gint32, 0)

/**
 * ps_shared_memory_get_int64:
 * @self: a #PsSharedMemory
 * @offset: the offset of the value, aligned or not
 * @error: return location for a #GError
 *
 * Reads the 64-bit signed integer (host byte order) at @offset.
 *
 * Across fork(): parent and child read the same memory.
 *
 * Returns: the value; 0 with %PS_ERROR_OUT_OF_BOUNDS or
 *   %PS_ERROR_CORRUPT (the segment lost its backing) set on error
 *
 * Since: 1.0
 */
/**
 * ps_shared_memory_set_int64:
 * @self: a #PsSharedMemory
 * @offset: the offset of the value, aligned or not
 * @value: the value to store
 * @error: return location for a #GError
 *
 * Stores @value (host byte order) at @offset.
 *
 * Across fork(): parent and child write the same memory.
 *
 * Returns: %TRUE on success, %FALSE with %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_CORRUPT if the segment lost its backing (another process
 *   truncated it), or %G_IO_ERROR_READ_ONLY if it is read-only (since 1.1)
 *
 * Since: 1.0
 */
DEFINE_TYPED_ACCESSORS (int64, gint64, 0)

/**
 * ps_shared_memory_get_double:
 * @self: a #PsSharedMemory
 * @offset: the offset of the value, aligned or not
 * @error: return location for a #GError
 *
 * Reads the IEEE 754 double at @offset.
 *
 * Across fork(): parent and child read the same memory.
 *
 * Returns: the value; 0.0 with %PS_ERROR_OUT_OF_BOUNDS or
 *   %PS_ERROR_CORRUPT (the segment lost its backing) set on error
 *
 * Since: 1.0
 */
/**
 * ps_shared_memory_set_double:
 * @self: a #PsSharedMemory
 * @offset: the offset of the value, aligned or not
 * @value: the value to store
 * @error: return location for a #GError
 *
 * Stores @value at @offset.
 *
 * Across fork(): parent and child write the same memory.
 *
 * Returns: %TRUE on success, %FALSE with %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_CORRUPT if the segment lost its backing (another process
 *   truncated it), or %G_IO_ERROR_READ_ONLY if it is read-only (since 1.1)
 *
 * Since: 1.0
 */
DEFINE_TYPED_ACCESSORS (double, double, 0.0)

/**
 * ps_shared_memory_measure_variant:
 * @value: a #GVariant
 *
 * Computes how many bytes [method@SharedMemory.write_variant] needs to
 * store @value, so that records can be laid out one after another.
 *
 * Returns: the size of the record in bytes
 *
 * Since: 1.0
 */
gsize
ps_shared_memory_measure_variant (GVariant *value)
{
  g_return_val_if_fail (value != NULL, 0);

  return ps_variant_record_measure (value);
}

/**
 * ps_shared_memory_write_variant:
 * @self: a #PsSharedMemory
 * @offset: where the record starts
 * @value: the value to store
 * @error: return location for a #GError
 *
 * Stores @value at @offset as a self-describing record: its type string,
 * its length and its serialised data. Any process (in any language) can
 * read it back with [method@SharedMemory.read_variant]. The record takes
 * [func@SharedMemory.measure_variant] bytes; nothing is written unless
 * all of it fits.
 *
 * Writing is not atomic: guard records that others read concurrently
 * with a [class@Mutex].
 *
 * Across fork(): parent and child write the same memory.
 *
 * Returns: %TRUE on success, %FALSE with %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_CORRUPT if the segment lost its backing (another process
 *   truncated it), or %G_IO_ERROR_READ_ONLY if it is read-only (since 1.1)
 *
 * Since: 1.0
 */
gboolean
ps_shared_memory_write_variant (PsSharedMemory  *self,
                                gsize            offset,
                                GVariant        *value,
                                GError         **error)
{
  gsize size;
  guint8 *base = ps_shared_memory_peek (self, &size);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GVariant) owned = NULL;
  gboolean written;

  g_return_val_if_fail (base != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* A floating @value is consumed, whether it is written or not. */
  owned = g_variant_ref_sink (value);

  if (!ps_shared_memory_check_writable (self, error) ||
      !ps_shared_memory_check_backing (self, error))
    return FALSE;
  written = ps_variant_record_write (base, size, offset, value, &local_error);
  if (!ps_shared_memory_check_backing (self, error))
    return FALSE;
  if (!written)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return written;
}

/**
 * ps_shared_memory_read_variant:
 * @self: a #PsSharedMemory
 * @offset: where the record starts
 * @error: return location for a #GError
 *
 * Reads back a record stored by [method@SharedMemory.write_variant], in
 * this process or any other. The record is copied out of the segment
 * first and then validated in full (header, lengths against the segment,
 * type string, and the data in normal form), so nothing a peer writes
 * there can make this crash or read past the segment.
 *
 * Across fork(): parent and child read the same memory.
 *
 * Returns: (transfer full): the value, or %NULL with
 *   %PS_ERROR_OUT_OF_BOUNDS if @offset lies outside the segment, or
 *   %PS_ERROR_CORRUPT if there is no whole, valid record at @offset
 *   or the segment lost its backing
 *
 * Since: 1.0
 */
GVariant *
ps_shared_memory_read_variant (PsSharedMemory  *self,
                               gsize            offset,
                               GError         **error)
{
  gsize size;
  guint8 *base = ps_shared_memory_peek (self, &size);

  g_autoptr(GError) local_error = NULL;
  GVariant *result;

  g_return_val_if_fail (base != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ps_shared_memory_check_backing (self, error))
    return NULL;
  result = ps_variant_record_read (base, size, offset, &local_error);
  /* Zeros put in for lost pages are no record: say why. */
  if (!ps_shared_memory_check_backing (self, error))
    {
      g_clear_pointer (&result, g_variant_unref);
      return NULL;
    }
  if (result == NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return result;
}
