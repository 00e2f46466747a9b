/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The buffer a large variant is read into is kept when the variant is
 * freed and reused by the next large read of its class, never while
 * still in use; buffers of 2 MiB and more are mappings of their own.
 * Large reads give back exactly the bytes of the segment, and a record
 * whose fields a peer damages, even while it is read, is CORRUPT. */

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ps-test-util.h"

#include "ps-platform-memory-private.h"
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

  /* The 1 MiB buffer is kept beside the 4 MiB one, not instead of it:
   * the next 4 MiB read still reuses the one kept before. */
  write_bytes_record (memory, 4 * MIB, 0x88);
  large = read_record (memory, 4 * MIB, 0x88);
  g_assert_true (g_variant_get_data (large) == kept);
  g_variant_unref (large);
  ps_read_buffer_trim ();
}

/* A program reading 1 MiB and 4 MiB values in turn reuses a buffer for
 * each: the classes below and from ps_platform_memory_large_size() keep
 * one buffer each. */
static void
test_one_kept_per_class (void)
{
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (5 * MIB, NULL);
  gconstpointer kept[2] = { NULL, NULL };
  const gsize sizes[2] = { MIB, 4 * MIB };

  g_assert_cmpuint (ps_platform_memory_large_size (), >, MIB);
  g_assert_cmpuint (ps_platform_memory_large_size (), <=, 4 * MIB);
  ps_read_buffer_trim ();
  for (guint round = 0; round < 3; round++)
    for (guint c = 0; c < 2; c++)
      {
        GVariant *value;

        write_bytes_record (memory, sizes[c], (guint8) (0x10 * round + c + 1));
        value = read_record (memory, sizes[c], (guint8) (0x10 * round + c + 1));
        if (round == 0)
          kept[c] = g_variant_get_data (value);
        else
          g_assert_true (g_variant_get_data (value) == kept[c]);
        g_variant_unref (value);
      }
  g_assert_true (kept[0] != kept[1]);
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

/* The mapping under a large buffer: zeroed, writable, aligned for huge
 * pages, and given back. */
static void
test_platform_map (void)
{
  gsize large = ps_platform_memory_large_size ();
  const gsize sizes[] = { 1, 4096, large, 3 * MIB + 1 };

  g_assert_cmpuint (large & (large - 1), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      guint8 *memory = ps_platform_memory_map (sizes[i]);

      g_test_message ("%" G_GSIZE_FORMAT " bytes at %p", sizes[i], memory);
      g_assert_nonnull (memory);
      g_assert_cmpuint ((guintptr) memory % large, ==, 0);
      for (gsize b = 0; b < sizes[i]; b += 4093)
        g_assert_cmpuint (memory[b], ==, 0);
      g_assert_cmpuint (memory[sizes[i] - 1], ==, 0);
      memset (memory, 0x5a, sizes[i]);
      g_assert_cmpuint (memory[sizes[i] - 1], ==, 0x5a);
      ps_platform_memory_unmap (memory, sizes[i]);
    }
}

/* The value of @field (in kB) in /proc/self/smaps for the mapping that
 * holds @address, or -1 where the system does not say. */
static gint64
smaps_kb (gconstpointer address,
          const char   *field)
{
  g_autofree char *smaps = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean inside = FALSE;
  gsize field_length = strlen (field);

  if (!g_file_get_contents ("/proc/self/smaps", &smaps, NULL, NULL))
    return -1;
  lines = g_strsplit (smaps, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      guint64 start, end;

      if (sscanf (lines[i], "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x ", &start, &end) == 2
          && strchr (lines[i], ':') != NULL && strchr (lines[i], ':') > strchr (lines[i], ' '))
        inside = (guintptr) address >= start && (guintptr) address < end;
      else if (inside && strncmp (lines[i], field, field_length) == 0
               && lines[i][field_length] == ':')
        return g_ascii_strtoll (lines[i] + field_length + 1, NULL, 10);
    }
  return -1;
}

/* A large buffer kept for the next read is the system's to take back
 * when memory runs short (lazily freed), and a read after the system
 * took it is as exact as one before. */
static void
test_kept_large_lazily_freed (void)
{
  gsize size = 6 * MIB;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (size + MIB, NULL);
  GVariant *value;
  gconstpointer data;
  gint64 lazy_kb;

  ps_read_buffer_trim ();
  write_bytes_record (memory, size, 0x11);
  value = read_record (memory, size, 0x11);
  data = g_variant_get_data (value);
  lazy_kb = smaps_kb (data, "LazyFree");
  if (lazy_kb < 0)
    {
      g_variant_unref (value);
      g_test_skip ("/proc/self/smaps has no LazyFree field here");
      return;
    }
  g_assert_cmpint (lazy_kb, ==, 0);           /* in use: nothing to take */
  g_variant_unref (value);
  lazy_kb = smaps_kb (data, "LazyFree");
  g_test_message ("kept buffer of %" G_GSIZE_FORMAT " bytes: %" G_GINT64_FORMAT " kB lazily free",
                  size, lazy_kb);
  /* The data's pages but the first, which holds the header; smaps
   * counts small pages only once the kernel's per-CPU batch they wait
   * in is drained, and a huge page it cannot split stays whole: most of
   * them, not all. */
  g_assert_cmpint (lazy_kb, >, (gint64) (size / 1024) / 2);

#ifdef MADV_PAGEOUT
  {
    /* Memory pressure, for this range: the lazily freed pages are
     * dropped (they read as zeroes from then on). */
    gsize page = (gsize) sysconf (_SC_PAGESIZE);
    guintptr start = ((guintptr) data + page - 1) & ~(guintptr) (page - 1);

    if (madvise ((gpointer) start, size - page, MADV_PAGEOUT) == 0)
      g_assert_cmpint (smaps_kb (data, "LazyFree"), <, lazy_kb);
  }
#endif

  write_bytes_record (memory, size, 0x22);
  value = read_record (memory, size, 0x22);
  g_assert_true (g_variant_get_data (value) == data);    /* the same buffer */
  g_assert_cmpint (smaps_kb (data, "LazyFree"), ==, 0);
  g_variant_unref (value);
  ps_read_buffer_trim ();
}

/* @size bytes that differ from one 8 bytes to the next, from @seed;
 * written by words, which valgrind runs eight times as fast. */
static guint8 *
pattern_new (gsize   size,
             guint64 seed)
{
  guint8 *data = g_malloc (size + 8);
  gsize i;

  for (i = 0; i < size; i += 8)
    {
      guint64 word = (i + 1) * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) ^ seed;

      memcpy (data + i, &word, 8);
    }
  return data;
}

/* Writes an "ay" of @data at @offset, reads it back as a variant and as
 * bytes, and checks both are exactly @data. */
static void
check_round_trip (PsSharedMemory *memory,
                  gsize           offset,
                  const guint8   *data,
                  gsize           size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) back = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GVariant *value = g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, data, size,
                                             FALSE, NULL, NULL);
  gsize data_offset = ps_shared_memory_measure_variant (value) - size;
  const guint8 *got;
  gsize length;

  g_assert_true (ps_shared_memory_write_variant (memory, offset, value, &error));
  g_assert_no_error (error);
  back = ps_shared_memory_read_variant (memory, offset, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_cmpstr (g_variant_get_type_string (back), ==, "ay");
  g_assert_cmpuint ((guintptr) g_variant_get_data (back) % 16, ==, 0);
  got = g_variant_get_fixed_array (back, &length, 1);
  g_assert_cmpuint (length, ==, size);
  g_assert_cmpint (memcmp (got, data, size), ==, 0);

  bytes = ps_shared_memory_read (memory, offset + data_offset, size, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), data, size);
}

/* The largest kept size, at an aligned and at an odd offset, twice with
 * different bytes: the reused buffer holds the new ones, all of them. */
static void
test_large_exact (void)
{
  gsize size = PS_READ_BUFFER_MAX;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (size + 4096, NULL);
  g_autofree guint8 *first = pattern_new (size, 0x21);
  g_autofree guint8 *second = pattern_new (size, 0x84);

  g_assert_nonnull (memory);
  ps_read_buffer_trim ();
  check_round_trip (memory, 0, first, size);
  check_round_trip (memory, 3, second, size);
  check_round_trip (memory, 8, first, size - 5);
  ps_read_buffer_trim ();
}

/* Past PS_READ_BUFFER_MAX: a buffer of its own, not kept, exact. */
static void
test_past_max_exact (void)
{
  gsize size = PS_READ_BUFFER_MAX + 4099;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (size + 4096, NULL);
  g_autofree guint8 *data = pattern_new (size, 0x3c);

  g_assert_nonnull (memory);
  ps_read_buffer_trim ();
  check_round_trip (memory, 0, data, size);
  check_round_trip (memory, 5, data, size);
  ps_read_buffer_trim ();
}

/* The record's data length field, after its magic and type length. */
#define RECORD_DATA_LENGTH_OFFSET 8

static void
set_data_length (PsSharedMemory *memory,
                 guint64         length)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_shared_memory_set_int64 (memory, RECORD_DATA_LENGTH_OFFSET,
                                             (gint64) length, &error));
  g_assert_no_error (error);
}

static void
assert_corrupt (PsSharedMemory *memory)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = ps_shared_memory_read_variant (memory, 0, &error);

  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (value);
}

/* A large record whose size field or data a peer damaged is CORRUPT,
 * before or after its copy into a large buffer. */
static void
test_large_hostile_fields (void)
{
  gsize size = 3 * MIB;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (size + 64, NULL);
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *zeros = g_malloc0 (size);
  gsize data_offset;
  gsize room;

  write_bytes_record (memory, size, 0x99);
  value = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, NULL, 0, 1));
  data_offset = ps_shared_memory_measure_variant (value);
  g_clear_pointer (&value, g_variant_unref);
  room = ps_shared_memory_get_size (memory) - data_offset;

  /* Past the end of the segment by one byte, by much, by all. */
  set_data_length (memory, room + 1);
  assert_corrupt (memory);
  set_data_length (memory, (guint64) room + PS_READ_BUFFER_MAX);
  assert_corrupt (memory);
  set_data_length (memory, G_MAXUINT64);
  assert_corrupt (memory);
  set_data_length (memory, G_MAXUINT64 - data_offset + 1);
  assert_corrupt (memory);

  /* Up to the very end: the data is what the segment holds there. */
  set_data_length (memory, room);
  value = ps_shared_memory_read_variant (memory, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_size (value), ==, room);
  g_clear_pointer (&value, g_variant_unref);

  /* An array of booleans, checked in full after the copy: one byte
   * that is neither 0 nor 1, anywhere, is CORRUPT. */
  value = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BOOLEAN, zeros,
                                                         size, 1));
  g_assert_true (ps_shared_memory_write_variant (memory, 0, value, &error));
  g_assert_no_error (error);
  g_clear_pointer (&value, g_variant_unref);
  value = ps_shared_memory_read_variant (memory, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (value), ==, size);
  g_clear_pointer (&value, g_variant_unref);
  g_assert_true (ps_shared_memory_set_uint8 (memory, data_offset + size - 1, 2, &error));
  g_assert_no_error (error);
  assert_corrupt (memory);

  /* An array of 32-bit numbers whose length is not a whole number of
   * them. */
  g_assert_true (ps_shared_memory_write_variant (
    memory, 0, g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, zeros, size / 4, 4), &error));
  g_assert_no_error (error);
  set_data_length (memory, size - 3);
  assert_corrupt (memory);
  ps_read_buffer_trim ();
}

typedef struct
{
  PsSharedMemory *memory;
  gsize           size;
  gint            started;
  gint            stop;
} Scribbler;

/* A peer rewriting the record while it is read: its length field, its
 * type ("ay" and "ab") and a data byte (1 and 2, a bad boolean). */
static gpointer
scribble (gpointer data)
{
  Scribbler *s = data;
  guint8 *base = ps_shared_memory_get_data (s->memory);
  guint64 lengths[] = { s->size, s->size / 2, G_MAXUINT64, s->size * 2 };
  guint i;

  /* Every combination of the three, in turn; until told to stop, or
   * after a bound the reads never take. */
  g_atomic_int_set (&s->started, 1);
  for (i = 0; !g_atomic_int_get (&s->stop) && i < G_MAXUINT / 2; i++)
    {
      __atomic_store_n ((guint64 *) (gpointer) (base + RECORD_DATA_LENGTH_OFFSET),
                        lengths[i % G_N_ELEMENTS (lengths)], __ATOMIC_RELAXED);
      __atomic_store_n (base + 17, (i & 4) ? 'b' : 'y', __ATOMIC_RELAXED);
      __atomic_store_n (base + 24 + s->size / 3, (i & 8) ? 2 : 1, __ATOMIC_RELAXED);
    }
  return NULL;
}

/* Every read either gives a value in normal form, of one of the lengths
 * written, or CORRUPT: never a crash or a read past the segment (which
 * valgrind and the sanitizers would catch). Which of the two each read
 * gives depends on the scheduler. Once the peer stops and the record is
 * whole again, it reads back exactly. */
static void
test_large_scribbled_while_read (void)
{
  Scribbler s = { NULL, 4 * MIB, 0, 0 };
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (4 * MIB + 64, NULL);
  g_autoptr(GThread) thread = NULL;
  guint values = 0, corrupt = 0, reads;

  s.memory = memory;
  write_bytes_record (memory, s.size, 1);
  g_assert_cmpuint (ps_shared_memory_get_uint8 (memory, 16, NULL), ==, 'a');
  thread = g_thread_new ("scribbler", scribble, &s);
  while (!g_atomic_int_get (&s.started))
    g_usleep (1000);
  for (reads = 0; reads < 50; reads++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = NULL;

      /* On one CPU, the scribbler runs between reads. */
      g_thread_yield ();
      value = ps_shared_memory_read_variant (memory, 0, &error);
      if (value == NULL)
        {
          g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
          corrupt++;
          continue;
        }
      g_assert_no_error (error);
      g_assert_true (g_variant_is_normal_form (value));
      g_assert_true (g_variant_get_size (value) == s.size ||
                     g_variant_get_size (value) == s.size / 2);
      values++;
    }
  g_atomic_int_set (&s.stop, 1);
  g_thread_join (g_steal_pointer (&thread));
  g_test_message ("%u reads: %u values, %u corrupt", reads, values, corrupt);
  g_assert_cmpuint (values + corrupt, ==, 50);

  write_bytes_record (memory, s.size, 0x42);
  g_variant_unref (read_record (memory, s.size, 0x42));
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
  ps_test_add ("/read-buffer/one-kept-per-class", test_one_kept_per_class);
  ps_test_add ("/read-buffer/direct", test_direct);
  ps_test_add ("/read-buffer/platform-map", test_platform_map);
  ps_test_add ("/read-buffer/kept-large-lazily-freed", test_kept_large_lazily_freed);
  ps_test_add ("/read-buffer/large-exact", test_large_exact);
  ps_test_add ("/read-buffer/past-max-exact", test_past_max_exact);
  ps_test_add ("/read-buffer/large-hostile-fields", test_large_hostile_fields);
  ps_test_add ("/read-buffer/large-scribbled-while-read", test_large_scribbled_while_read);

  return g_test_run ();
}
