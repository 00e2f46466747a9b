/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps_shared_memory_read_variant() over arbitrary segment contents.
 *
 * Input: one control byte (an offset to read at, and how far to shift the
 * copy made for the round trip), then the segment's contents. The segment
 * is exactly that long and the rest of its last page is poisoned, so a
 * reader that trusts a length and reads one byte too far is caught.
 *
 * Every read must fail with PS_ERROR_OUT_OF_BOUNDS (offset past the end)
 * or PS_ERROR_CORRUPT, or return a value that survives a round trip:
 * written again elsewhere it makes the same record, byte for byte except
 * the type string's padding, and reads back equal.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "ps-error.h"
#include "ps-shared-memory.h"

#define RECORD_HEADER_SIZE 16

static G_NORETURN void
finding (const char *what,
         gsize       offset)
{
  fprintf (stderr, "FINDING: %s (record at offset %" G_GSIZE_FORMAT ")\n", what, offset);
  abort ();
}

static gsize
pad8 (gsize n)
{
  return (n + 7) & ~(gsize) 7;
}

/* A value read back must be what the record said, and write the same. */
static void
check_round_trip (PsSharedMemory *memory,
                  gsize           offset,
                  GVariant       *value,
                  guint           shift)
{
  const guint8 *record = (const guint8 *) ps_shared_memory_get_data (memory) + offset;
  PsSharedMemory *copy;
  g_autoptr(GVariant) again = NULL;
  g_autoptr(GError) error = NULL;
  const char *type_string = g_variant_get_type_string (value);
  gsize type_length = strlen (type_string);
  gsize data_length = g_variant_get_size (value);
  gsize record_length = RECORD_HEADER_SIZE + pad8 (type_length) + data_length;
  const guint8 *written;
  guint32 stored_type_length;
  guint64 stored_data_length;

  if (!g_variant_is_normal_form (value))
    finding ("read_variant returned a value not in normal form", offset);

  /* The record's own fields. */
  memcpy (&stored_type_length, record + 4, sizeof stored_type_length);
  memcpy (&stored_data_length, record + 8, sizeof stored_data_length);
  if (stored_type_length != type_length ||
      memcmp (record + RECORD_HEADER_SIZE, type_string, type_length) != 0)
    finding ("read_variant returned a value of another type than the record's", offset);
  if (stored_data_length != data_length)
    finding ("read_variant returned a value of another size than the record's", offset);
  if (record_length > ps_shared_memory_get_size (memory) - offset)
    finding ("read_variant accepted a record running past the segment", offset);
  if (data_length > 0 &&
      memcmp (g_variant_get_data (value), record + RECORD_HEADER_SIZE + pad8 (type_length),
              data_length) != 0)
    finding ("read_variant returned other bytes than the record's", offset);
  if (ps_shared_memory_measure_variant (value) != record_length)
    finding ("measure_variant disagrees with the record's length", offset);

  /* Written again, at an offset that may be unaligned. */
  copy = fuzz_segment_new (shift + record_length);

  /* One byte short: refused, and nothing written. */
  if (ps_shared_memory_write_variant (copy, shift + 1, value, &error))
    finding ("write_variant wrote a record that does not fit", offset);
  fuzz_check_error_is (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS, "write_variant (no room)");
  g_clear_error (&error);
  {
    const guint8 *bytes = ps_shared_memory_get_data (copy);
    gsize i;

    for (i = 0; i < shift + record_length; i++)
      if (bytes[i] != 0)
        finding ("a refused write_variant changed the segment", offset);
  }

  if (!ps_shared_memory_write_variant (copy, shift, value, &error))
    {
      fprintf (stderr, "write_variant: %s\n", error->message);
      finding ("a value read back cannot be written again", offset);
    }
  written = (const guint8 *) ps_shared_memory_get_data (copy) + shift;
  if (memcmp (written, record, RECORD_HEADER_SIZE + type_length) != 0 ||
      memcmp (written + RECORD_HEADER_SIZE + pad8 (type_length),
              record + RECORD_HEADER_SIZE + pad8 (type_length), data_length) != 0)
    finding ("the record written again differs from the one read", offset);

  again = ps_shared_memory_read_variant (copy, shift, &error);
  if (again == NULL)
    {
      fprintf (stderr, "read_variant: %s\n", error->message);
      finding ("a record written by write_variant does not read back", offset);
    }
  if (!g_variant_equal (value, again))
    finding ("a value does not read back equal after a round trip", offset);

  fuzz_segment_free (copy);
}

static void
read_at (PsSharedMemory *memory,
         gsize           offset,
         guint           shift)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  gsize size = ps_shared_memory_get_size (memory);

  value = ps_shared_memory_read_variant (memory, offset, &error);
  if (value == NULL)
    {
      if (offset > size)
        fuzz_check_error_is (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS, "read_variant (past the end)");
      else
        fuzz_check_error_is (error, PS_ERROR, PS_ERROR_CORRUPT, "read_variant");
      return;
    }
  if (error != NULL)
    finding ("read_variant returned a value and set an error", offset);
  if (offset > size || size - offset < RECORD_HEADER_SIZE)
    finding ("read_variant returned a value from outside the segment", offset);
  if (g_variant_is_floating (value))
    finding ("read_variant returned a floating reference", offset);

  check_round_trip (memory, offset, value, shift);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  PsSharedMemory *memory;
  gsize length;
  guint pick;

  fuzz_init_once ();

  if (size < 1)
    return 0;
  pick = data[0];
  data++;
  size--;

  /* A segment of exactly the input's size (at least one byte: a segment
   * of 0 bytes cannot be made). */
  length = MAX (size, 1);
  memory = fuzz_segment_new (length);
  if (size > 0)
    memcpy (ps_shared_memory_get_data (memory), data, size);

  read_at (memory, 0, pick & 7);
  if (pick != 0)
    read_at (memory, pick, (pick >> 3) & 7);
  if (length >= RECORD_HEADER_SIZE)
    read_at (memory, length - RECORD_HEADER_SIZE, 0);
  read_at (memory, length, 0);       /* no room for a header */
  read_at (memory, length + 1, 0);   /* out of bounds */
  read_at (memory, G_MAXSIZE, 0);

  fuzz_segment_free (memory);
  return 0;
}
