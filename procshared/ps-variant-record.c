/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The self-describing record a GVariant is stored as in shared memory, so
 * that a program in any language can read back what another wrote: a
 * header, the type string padded to 8 bytes, the serialised data.
 */

#include <string.h>

#include "ps-error.h"
#include "ps-errors-private.h"
#include "ps-read-buffer-private.h"
#include "ps-variant-record-private.h"

#define RECORD_MAGIC           0x31525650u   /* "PVR1" */
#define RECORD_TYPE_MAX_LENGTH 65535

typedef struct
{
  guint32 magic;
  guint32 type_length;
  guint64 data_length;
} RecordHeader;

G_STATIC_ASSERT (sizeof (RecordHeader) == 16);

static gsize
record_data_offset (gsize type_length)
{
  return sizeof (RecordHeader) + ((type_length + 7) & ~(gsize) 7);
}

/* The element size of an array of fixed-size numbers ("ay", "ai", "ad",
 * ...), for which every byte pattern is a valid value; 0 for any other
 * type (booleans, for one, must be 0 or 1). */
static gsize
numeric_array_element_size (const char *type_string)
{
  if (type_string[0] != 'a' || type_string[1] == '\0' || type_string[2] != '\0')
    return 0;
  switch (type_string[1])
    {
    case 'y':
      return 1;
    case 'n': case 'q':
      return 2;
    case 'i': case 'u': case 'h':
      return 4;
    case 'x': case 't': case 'd':
      return 8;
    default:
      return 0;
    }
}

/* TRUE when every byte string of @value's length is the normal form of a
 * value of its type, so that the normal-form walk (which visits each
 * element of an array, at many times the cost of copying it) can only
 * confirm what is known: the arrays of numbers above. */
static gboolean
is_normal_whatever_its_bytes (const char *type_string,
                              gsize       data_length)
{
  gsize element_size = numeric_array_element_size (type_string);

  return element_size != 0 && data_length % element_size == 0;
}

gsize
ps_variant_record_measure (GVariant *value)
{
  return record_data_offset (strlen (g_variant_get_type_string (value))) +
         g_variant_get_size (value);
}

gboolean
ps_variant_record_write (guint8    *base,
                         gsize      size,
                         gsize      offset,
                         GVariant  *value,
                         GError   **error)
{
  g_autoptr(GVariant) sunk = NULL;
  g_autoptr(GVariant) normal = NULL;
  RecordHeader header;
  const char *type_string;
  gsize data_offset;
  gsize data_length;
  guint8 *record;

  sunk = g_variant_ref_sink (value);
  /* Readers insist on normal form. A value built from untrusted bytes
   * (g_variant_new_fixed_array, g_variant_new_from_bytes) is checked
   * unless its type makes every byte string normal. */
  if (is_normal_whatever_its_bytes (g_variant_get_type_string (sunk),
                                    g_variant_get_size (sunk)))
    normal = g_variant_ref (sunk);
  else
    normal = g_variant_get_normal_form (sunk);

  type_string = g_variant_get_type_string (normal);
  data_offset = record_data_offset (strlen (type_string));
  data_length = g_variant_get_size (normal);

  if (data_length > G_MAXSIZE - data_offset)
    return ps_check_range (size, offset, G_MAXSIZE, error);
  if (!ps_check_range (size, offset, data_offset + data_length, error))
    return FALSE;

  header.magic = RECORD_MAGIC;
  header.type_length = (guint32) strlen (type_string);
  header.data_length = data_length;

  record = base + offset;
  memcpy (record, &header, sizeof header);
  memset (record + sizeof header, 0, data_offset - sizeof header);
  memcpy (record + sizeof header, type_string, header.type_length);
  /* GVariant serialises only to suitably aligned memory; a record at an
   * odd offset gets a copy of the serialised form instead. */
  if (((guintptr) (record + data_offset) & 7) == 0)
    g_variant_store (normal, record + data_offset);
  else if (data_length > 0)
    memcpy (record + data_offset, g_variant_get_data (normal), data_length);
  return TRUE;
}

GVariant *
ps_variant_record_read (const guint8  *base,
                        gsize          size,
                        gsize          offset,
                        GError       **error)
{
  g_autofree char *type_string = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  RecordHeader header;
  gsize available;
  gsize data_offset;
  gboolean trusted;
  guint8 *data;

  if (!ps_check_range (size, offset, 0, error))
    return NULL;

  available = size - offset;
  if (available < sizeof header)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "No room for a variant record at offset %" G_GSIZE_FORMAT, offset);
      return NULL;
    }

  /* Every field is read once, into our own memory: a peer changing the
   * segment meanwhile cannot make us use a length we did not check. */
  memcpy (&header, base + offset, sizeof header);

  if (header.magic != RECORD_MAGIC)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "No variant record at offset %" G_GSIZE_FORMAT, offset);
      return NULL;
    }
  if (header.type_length == 0 || header.type_length > RECORD_TYPE_MAX_LENGTH)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "The variant record at offset %" G_GSIZE_FORMAT
                   " has an invalid type length %u", offset, header.type_length);
      return NULL;
    }
  data_offset = record_data_offset (header.type_length);
  if (data_offset > available || header.data_length > available - data_offset)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "The variant record at offset %" G_GSIZE_FORMAT " claims %"
                   G_GUINT64_FORMAT " bytes of data, past the end of the segment",
                   offset, header.data_length);
      return NULL;
    }

  type_string = g_strndup ((const char *) base + offset + sizeof header,
                           header.type_length);
  if (strlen (type_string) != header.type_length ||
      !g_variant_type_string_is_valid (type_string) ||
      !g_variant_type_is_definite (G_VARIANT_TYPE (type_string)))
    {
      g_autofree char *escaped = g_strescape (type_string, NULL);

      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "The variant record at offset %" G_GSIZE_FORMAT
                   " has an invalid type “%s”", offset, escaped);
      return NULL;
    }

  data = ps_read_buffer_new (header.data_length);
  memcpy (data, base + offset + data_offset, header.data_length);
  bytes = ps_read_buffer_to_bytes (data, header.data_length);

  /* An array of fixed-size numbers is valid whatever its bytes, as long
   * as its length is a whole number of elements: skip the element-by-
   * element normal-form walk, which would cost more than the copy. */
  trusted = is_normal_whatever_its_bytes (type_string, header.data_length);
  value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type_string),
                                                        bytes, trusted));
  if (!trusted && !g_variant_is_normal_form (value))
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "The data of the variant record at offset %" G_GSIZE_FORMAT
                   " is not a valid “%s”", offset, type_string);
      return NULL;
    }

  return g_steal_pointer (&value);
}
