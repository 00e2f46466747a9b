/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The buffer a large variant is read into is kept when the variant is
 * freed and reused by the next large read, never while still in use. */

#include <string.h>

#include "ps-test-util.h"

#include "ps-read-buffer-private.h"

#define MIB ((gsize) 1024 * 1024)

/* Writes an "ay" record of @size bytes, all @fill, at offset 0. */
static void
write_bytes_record (PsSharedMemory *memory,
                    gsize           size,
                    guint8          fill)
{
  g_autofree guint8 *data = g_malloc (size);
  g_autoptr(GError) error = NULL;
  GVariant *value;

  memset (data, fill, size);
  value = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, size, 1);
  g_assert_true (ps_shared_memory_write_variant (memory, 0, value, &error));
  g_assert_no_error (error);
}

static GVariant *
read_record (PsSharedMemory *memory,
             gsize           size,
             guint8          fill)
{
  g_autoptr(GError) error = NULL;
  GVariant *value = ps_shared_memory_read_variant (memory, 0, &error);
  const guint8 *data;
  gsize length;

  g_assert_no_error (error);
  g_assert_nonnull (value);
  data = g_variant_get_fixed_array (value, &length, 1);
  g_assert_cmpuint (length, ==, size);
  for (gsize i = 0; i < length; i += 4093)
    g_assert_cmpuint (data[i], ==, fill);
  g_assert_cmpuint (data[length - 1], ==, fill);
  return value;
}

static void
test_reused_after_release (void)
{
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (5 * MIB, NULL);
  GVariant *first;
  GVariant *second;
  gconstpointer first_data;

  ps_read_buffer_trim ();
  write_bytes_record (memory, MIB, 0x11);
  first = read_record (memory, MIB, 0x11);
  first_data = g_variant_get_data (first);
  g_variant_unref (first);

  write_bytes_record (memory, MIB, 0x22);
  second = read_record (memory, MIB, 0x22);
  g_assert_true (g_variant_get_data (second) == first_data);
  g_variant_unref (second);
  ps_read_buffer_trim ();
}

static void
test_never_shared_while_alive (void)
{
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (5 * MIB, NULL);
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GVariant) second = NULL;
  const guint8 *data;
  gsize length;

  ps_read_buffer_trim ();
  write_bytes_record (memory, MIB, 0x33);
  first = read_record (memory, MIB, 0x33);
  write_bytes_record (memory, MIB, 0x44);
  second = read_record (memory, MIB, 0x44);
  g_assert_true (g_variant_get_data (first) != g_variant_get_data (second));

  /* The first value still holds what it read. */
  data = g_variant_get_fixed_array (first, &length, 1);
  g_assert_cmpuint (length, ==, MIB);
  g_assert_cmpuint (data[0], ==, 0x33);
  g_assert_cmpuint (data[MIB - 1], ==, 0x33);
  ps_read_buffer_trim ();
}

static void
test_small_and_much_smaller_reads_leave_it (void)
{
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (5 * MIB, NULL);
  GVariant *large;
  GVariant *other;
  gconstpointer kept;

  ps_read_buffer_trim ();
  write_bytes_record (memory, 4 * MIB, 0x55);
  large = read_record (memory, 4 * MIB, 0x55);
  kept = g_variant_get_data (large);
  g_variant_unref (large);

  /* Below PS_READ_BUFFER_MIN, and less than half of the kept buffer:
   * each gets its own memory and the kept buffer stays. */
  write_bytes_record (memory, 1024, 0x66);
  other = read_record (memory, 1024, 0x66);
  g_assert_true (g_variant_get_data (other) != kept);
  g_variant_unref (other);
  write_bytes_record (memory, MIB, 0x77);
  other = read_record (memory, MIB, 0x77);
  g_assert_true (g_variant_get_data (other) != kept);
  g_variant_unref (other);

  /* The last buffer let go of is the one kept, now the 1 MiB one: a
   * 4 MiB read needs new memory, and the read after it reuses that. */
  write_bytes_record (memory, 4 * MIB, 0x88);
  large = read_record (memory, 4 * MIB, 0x88);
  kept = g_variant_get_data (large);
  g_variant_unref (large);
  large = read_record (memory, 4 * MIB, 0x88);
  g_assert_true (g_variant_get_data (large) == kept);
  g_variant_unref (large);
  ps_read_buffer_trim ();
}

static void
test_direct (void)
{
  guint8 *data;
  guint8 *again;
  g_autoptr(GBytes) bytes = NULL;

  ps_read_buffer_trim ();
  data = ps_read_buffer_new (PS_READ_BUFFER_MIN);
  g_assert_cmpuint ((guintptr) data % 16, ==, 0);
  ps_read_buffer_free (data);
  again = ps_read_buffer_new (PS_READ_BUFFER_MIN);
  g_assert_true (again == data);

  /* Handed on as GBytes of fewer bytes than the buffer holds. */
  memset (again, 0xab, 16);
  bytes = ps_read_buffer_to_bytes (again, 16);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 16);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (bytes, NULL))[15], ==, 0xab);
  g_clear_pointer (&bytes, g_bytes_unref);
  g_assert_true (ps_read_buffer_new (PS_READ_BUFFER_MIN) == data);
  ps_read_buffer_free (data);

  /* An empty read still gets a valid pointer. */
  data = ps_read_buffer_new (0);
  g_assert_nonnull (data);
  ps_read_buffer_free (data);
  ps_read_buffer_trim ();
}

int
main (int    argc,
      char **argv)
{
  ps_test_init (&argc, &argv, NULL);
  ps_test_watchdog (120);

  ps_test_add ("/read-buffer/reused-after-release", test_reused_after_release);
  ps_test_add ("/read-buffer/never-shared-while-alive", test_never_shared_while_alive);
  ps_test_add ("/read-buffer/small-reads-leave-it", test_small_and_much_smaller_reads_leave_it);
  ps_test_add ("/read-buffer/direct", test_direct);

  return g_test_run ();
}
