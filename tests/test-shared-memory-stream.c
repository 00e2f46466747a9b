/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * GIO streams over a range of a PsSharedMemory: ranges and their errors,
 * seeking, writes that do not fit (and nothing outside the range ever
 * touched), read-only segments, GDataInputStream lines, splicing from a
 * file and back, read_bytes, async and pollable use, the segment kept
 * alive, a truncated backing file, and a child writing lines that its
 * parent reads.
 */

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "ps-test-fd.h"
#include "ps-test-util.h"

#define SEGMENT_SIZE 4096
#define FILL 0xa5

/* A segment whose every byte is FILL, so that a write outside a range
 * shows. */
static PsSharedMemory *
filled_segment (gsize size)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory = ps_shared_memory_new (size, &error);

  g_assert_no_error (error);
  memset (ps_shared_memory_get_data (memory), FILL, size);
  return memory;
}

/* Every byte of @memory outside [@offset, @offset + @length) is FILL. */
static void
assert_untouched_outside (PsSharedMemory *memory,
                          gsize           offset,
                          gsize           length)
{
  const guint8 *data = ps_shared_memory_get_data (memory);
  gsize size = ps_shared_memory_get_size (memory);

  for (gsize i = 0; i < size; i++)
    if (i < offset || i >= offset + length)
      g_assert_cmphex (data[i], ==, FILL);
}

static void
test_ranges (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = filled_segment (SEGMENT_SIZE);
  const struct { gsize offset, length; } bad[] = {
    { SEGMENT_SIZE + 1, 0 },
    { 0, SEGMENT_SIZE + 1 },
    { SEGMENT_SIZE, 1 },
    { 1, SEGMENT_SIZE },
    { 16, G_MAXSIZE },             /* offset + length wraps around */
    { G_MAXSIZE, 2 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_null (ps_shared_memory_get_input_stream (memory, bad[i].offset, bad[i].length, &error));
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_clear_error (&error);
      g_assert_null (ps_shared_memory_get_output_stream (memory, bad[i].offset, bad[i].length, &error));
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_clear_error (&error);
    }

  /* The whole segment, and empty ranges at its start and at its end. */
  {
    g_autoptr(GInputStream) whole = ps_shared_memory_get_input_stream (memory, 0, SEGMENT_SIZE, &error);
    g_autoptr(GInputStream) at_end = ps_shared_memory_get_input_stream (memory, SEGMENT_SIZE, 0, &error);
    g_autoptr(GOutputStream) empty = ps_shared_memory_get_output_stream (memory, 0, 0, &error);
    g_autoptr(GOutputStream) out_at_end = ps_shared_memory_get_output_stream (memory, SEGMENT_SIZE, 0, &error);
    guint8 buffer[8];

    g_assert_no_error (error);
    g_assert_true (G_IS_SEEKABLE (whole) && G_IS_POLLABLE_INPUT_STREAM (whole));
    g_assert_true (G_IS_SEEKABLE (empty) && G_IS_POLLABLE_OUTPUT_STREAM (empty));
    g_assert_cmpint (g_input_stream_read (at_end, buffer, sizeof buffer, NULL, &error), ==, 0);
    g_assert_no_error (error);
    g_assert_cmpint (g_seekable_tell (G_SEEKABLE (at_end)), ==, 0);
    /* Nothing to write to: a write of nothing succeeds, any other fails. */
    g_assert_cmpint (g_output_stream_write (empty, buffer, 0, NULL, &error), ==, 0);
    g_assert_no_error (error);
    g_assert_cmpint (g_output_stream_write (empty, "x", 1, NULL, &error), ==, -1);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
    g_clear_error (&error);
    g_assert_cmpint (g_output_stream_write (out_at_end, "x", 1, NULL, &error), ==, -1);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
    g_clear_error (&error);
    assert_untouched_outside (memory, 0, 0);
  }
}

static void
assert_seek_fails (GSeekable *seekable,
                   goffset    offset,
                   GSeekType  type)
{
  g_autoptr(GError) error = NULL;
  goffset before = g_seekable_tell (seekable);

  g_assert_false (g_seekable_seek (seekable, offset, type, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (g_seekable_tell (seekable), ==, before);
}

static void
assert_seek (GSeekable *seekable,
             goffset    offset,
             GSeekType  type,
             goffset    expected)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_seekable_seek (seekable, offset, type, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_seekable_tell (seekable), ==, expected);
}

/* The same seeks on both kinds of stream, over a range of 100 bytes. */
static void
check_seeking (GSeekable *seekable)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_seekable_can_seek (seekable));
  g_assert_false (g_seekable_can_truncate (seekable));
  g_assert_false (g_seekable_truncate (seekable, 10, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  g_assert_cmpint (g_seekable_tell (seekable), ==, 0);
  assert_seek (seekable, 10, G_SEEK_SET, 10);
  assert_seek (seekable, 5, G_SEEK_CUR, 15);
  assert_seek (seekable, -15, G_SEEK_CUR, 0);
  assert_seek (seekable, 0, G_SEEK_END, 100);
  assert_seek (seekable, -100, G_SEEK_END, 0);
  assert_seek (seekable, 100, G_SEEK_SET, 100);     /* the end is a position */
  assert_seek (seekable, -1, G_SEEK_END, 99);

  /* Past the end, before the start, and offsets that would overflow. */
  assert_seek_fails (seekable, 101, G_SEEK_SET);
  assert_seek_fails (seekable, -1, G_SEEK_SET);
  assert_seek_fails (seekable, 2, G_SEEK_CUR);
  assert_seek_fails (seekable, -100, G_SEEK_CUR);
  assert_seek_fails (seekable, 1, G_SEEK_END);
  assert_seek_fails (seekable, -101, G_SEEK_END);
  assert_seek_fails (seekable, G_MAXINT64, G_SEEK_CUR);
  assert_seek_fails (seekable, G_MININT64, G_SEEK_CUR);
  assert_seek_fails (seekable, G_MININT64, G_SEEK_END);
  assert_seek_fails (seekable, 0, (GSeekType) 42);
  g_assert_cmpint (g_seekable_tell (seekable), ==, 99);
}

static void
test_seek (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = filled_segment (SEGMENT_SIZE);
  g_autoptr(GInputStream) in = ps_shared_memory_get_input_stream (memory, 1000, 100, &error);
  g_autoptr(GOutputStream) out = ps_shared_memory_get_output_stream (memory, 1000, 100, &error);
  guint8 byte = 0;

  g_assert_no_error (error);
  check_seeking (G_SEEKABLE (in));
  check_seeking (G_SEEKABLE (out));

  /* At 99: one byte left, then the end. */
  g_assert_cmpint (g_output_stream_write (out, "z", 1, NULL, &error), ==, 1);
  g_assert_cmpint (ps_shared_memory_get_uint8 (memory, 1099, NULL), ==, 'z');
  g_assert_cmpint (g_input_stream_read (in, &byte, 1, NULL, &error), ==, 1);
  g_assert_cmpint (byte, ==, 'z');
  g_assert_cmpint (g_input_stream_read (in, &byte, 1, NULL, &error), ==, 0);
  g_assert_no_error (error);
  assert_untouched_outside (memory, 1099, 1);

  /* Skipping stops at the end, touching nothing. */
  assert_seek (G_SEEKABLE (in), 40, G_SEEK_SET, 40);
  g_assert_cmpint (g_input_stream_skip (in, 50, NULL, &error), ==, 50);
  g_assert_cmpint (g_input_stream_skip (in, 50, NULL, &error), ==, 10);
  g_assert_cmpint (g_input_stream_skip (in, 50, NULL, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (g_seekable_tell (G_SEEKABLE (in)), ==, 100);

  /* A closed stream neither seeks nor reads. */
  g_assert_true (g_input_stream_close (in, NULL, &error));
  g_assert_false (g_seekable_seek (G_SEEKABLE (in), 0, G_SEEK_SET, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpint (g_input_stream_read (in, &byte, 1, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_true (g_output_stream_close (out, NULL, &error));
  g_assert_false (g_seekable_seek (G_SEEKABLE (out), 0, G_SEEK_SET, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

/* Reads stop at the range's end; what lies beyond it is never read. */
static void
test_read (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = filled_segment (SEGMENT_SIZE);
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint8 buffer[16];

  g_assert_true (ps_shared_memory_write (memory, 10, (const guint8 *) "abcdefghij", 10, &error));
  in = ps_shared_memory_get_input_stream (memory, 10, 8, &error);
  g_assert_no_error (error);

  g_assert_cmpint (g_input_stream_read (in, buffer, 3, NULL, &error), ==, 3);
  g_assert_cmpmem (buffer, 3, "abc", 3);
  memset (buffer, 0, sizeof buffer);
  g_assert_cmpint (g_input_stream_read (in, buffer, sizeof buffer, NULL, &error), ==, 5);
  g_assert_cmpmem (buffer, 6, "defgh\0", 6);
  g_assert_cmpint (g_input_stream_read (in, buffer, sizeof buffer, NULL, &error), ==, 0);
  g_assert_no_error (error);

  g_assert_true (g_seekable_seek (G_SEEKABLE (in), 2, G_SEEK_SET, NULL, &error));
  bytes = g_input_stream_read_bytes (in, 100, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "cdefgh", 6);
}

/* Writes that do not fit, as GMemoryOutputStream over a fixed buffer:
 * what fits, with its count, then NO_SPACE; nothing outside the range. */
static void
test_write_past_end (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = filled_segment (SEGMENT_SIZE);
  g_autoptr(GOutputStream) out = ps_shared_memory_get_output_stream (memory, 100, 10, &error);
  g_autoptr(GBytes) bytes = NULL;
  gsize written = 0;

  g_assert_no_error (error);
  g_assert_cmpint (g_output_stream_write (out, "0123456", 7, NULL, &error), ==, 7);
  g_assert_cmpint (g_output_stream_write (out, "abcdef", 6, NULL, &error), ==, 3);
  g_assert_no_error (error);
  g_assert_cmpint (g_seekable_tell (G_SEEKABLE (out)), ==, 10);
  g_assert_cmpint (g_output_stream_write (out, "x", 1, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_clear_error (&error);
  g_assert_cmpint (g_seekable_tell (G_SEEKABLE (out)), ==, 10);
  bytes = ps_shared_memory_read (memory, 100, 10, &error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), 10, "0123456abc", 10);
  assert_untouched_outside (memory, 100, 10);

  /* write_all() writes what fits, says how much, and fails on the rest. */
  g_assert_true (g_seekable_seek (G_SEEKABLE (out), 6, G_SEEK_SET, NULL, &error));
  g_assert_false (g_output_stream_write_all (out, "ABCDEFGH", 8, &written, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_clear_error (&error);
  g_assert_cmpuint (written, ==, 4);
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = ps_shared_memory_read (memory, 100, 10, &error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), 10, "012345ABCD", 10);
  assert_untouched_outside (memory, 100, 10);

  /* g_output_stream_printf() fails the same way. */
  g_assert_true (g_seekable_seek (G_SEEKABLE (out), 0, G_SEEK_SET, NULL, &error));
  g_assert_false (g_output_stream_printf (out, &written, NULL, &error, "%s-%d", "twelve", 12345));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_cmpuint (written, ==, 10);
  assert_untouched_outside (memory, 100, 10);
}

/* A read-only segment (a read-only descriptor's) reads, never writes. */
static void
test_read_only (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = filled_segment (SEGMENT_SIZE);
  g_autoptr(PsSharedMemory) reader = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GOutputStream) out = NULL;
  char buffer[6] = { 0 };
  int fd;

  g_assert_true (ps_shared_memory_write (memory, 0, (const guint8 *) "hello", 5, &error));
  fd = ps_shared_memory_dup_read_only_fd (memory, &error);
  g_assert_no_error (error);
  reader = ps_shared_memory_new_from_fd (fd, &error);
  close (fd);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_is_read_only (reader));

  out = ps_shared_memory_get_output_stream (reader, 0, 5, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_assert_null (out);
  g_clear_error (&error);
  /* Read-only comes first, as in the accessors. */
  g_assert_null (ps_shared_memory_get_output_stream (reader, SEGMENT_SIZE + 1, 5, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);

  in = ps_shared_memory_get_input_stream (reader, 0, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_input_stream_read (in, buffer, sizeof buffer, NULL, &error), ==, 5);
  g_assert_cmpstr (buffer, ==, "hello");
}

static void
test_read_lines (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = filled_segment (SEGMENT_SIZE);
  const char text[] = "first line\n\nthird, after an empty one\r\nlast, without newline";
  const char *expected[] = { "first line", "", "third, after an empty one\r",
                             "last, without newline" };
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GDataInputStream) data = NULL;
  g_autoptr(GInputStream) cut = NULL;
  g_autoptr(GDataInputStream) cut_data = NULL;
  char *line;
  gsize length;

  g_assert_true (ps_shared_memory_write (memory, 64, (const guint8 *) text, strlen (text), &error));
  in = ps_shared_memory_get_input_stream (memory, 64, strlen (text), &error);
  g_assert_no_error (error);
  data = g_data_input_stream_new (in);
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      line = g_data_input_stream_read_line (data, &length, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (line, ==, expected[i]);
      g_assert_cmpuint (length, ==, strlen (expected[i]));
      g_free (line);
    }
  g_assert_null (g_data_input_stream_read_line (data, &length, NULL, &error));
  g_assert_no_error (error);

  /* A range that ends inside a line ends that line; FILL never shows. */
  cut = ps_shared_memory_get_input_stream (memory, 64, 16, &error);
  cut_data = g_data_input_stream_new (cut);
  line = g_data_input_stream_read_line (cut_data, NULL, NULL, &error);
  g_assert_cmpstr (line, ==, "first line");
  g_free (line);
  line = g_data_input_stream_read_line (cut_data, NULL, NULL, &error);
  g_assert_cmpstr (line, ==, "");
  g_free (line);
  line = g_data_input_stream_read_line (cut_data, NULL, NULL, &error);
  g_assert_cmpstr (line, ==, "thir");
  g_free (line);
  g_assert_null (g_data_input_stream_read_line (cut_data, NULL, NULL, &error));
  g_assert_no_error (error);
}

/* A file spliced into the segment and back out, through GIO's splice. */
static void
test_splice (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = filled_segment (3 * 8192);
  g_autoptr(GFileIOStream) io = NULL;
  g_autoptr(GFile) source = g_file_new_tmp ("ps-stream-XXXXXX", &io, &error);
  g_autoptr(GFileIOStream) io_back = NULL;
  g_autoptr(GFile) back = NULL;
  g_autoptr(GInputStream) from_file = NULL;
  g_autoptr(GOutputStream) into_segment = NULL;
  g_autoptr(GInputStream) from_segment = NULL;
  g_autoptr(GOutputStream) small = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *text = g_malloc (10000);
  gsize length;

  g_assert_no_error (error);
  for (gsize i = 0; i < 10000; i++)
    text[i] = (char) ('a' + i % 26);
  g_assert_true (g_file_replace_contents (source, text, 10000, NULL, FALSE,
                                          G_FILE_CREATE_NONE, NULL, NULL, &error));
  g_assert_no_error (error);

  /* In: more than one of splice's 8 KiB chunks, into the middle. */
  from_file = G_INPUT_STREAM (g_file_read (source, NULL, &error));
  into_segment = ps_shared_memory_get_output_stream (memory, 100, 20000, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_output_stream_splice (into_segment, from_file,
                                           G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE |
                                           G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                           NULL, &error), ==, 10000);
  g_assert_no_error (error);
  g_assert_cmpmem ((guint8 *) ps_shared_memory_get_data (memory) + 100, 10000, text, 10000);
  assert_untouched_outside (memory, 100, 10000);

  /* Out: the range back into a new file. */
  back = g_file_new_tmp ("ps-stream-back-XXXXXX", &io_back, &error);
  g_assert_no_error (error);
  from_segment = ps_shared_memory_get_input_stream (memory, 100, 10000, &error);
  g_assert_cmpint (g_output_stream_splice (g_io_stream_get_output_stream (G_IO_STREAM (io_back)),
                                           from_segment, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                           NULL, &error), ==, 10000);
  g_assert_no_error (error);
  g_assert_true (g_file_load_contents (back, NULL, &contents, &length, NULL, &error));
  g_assert_cmpmem (contents, length, text, 10000);

  /* A file larger than the range: NO_SPACE, nothing past the range. */
  memset (ps_shared_memory_get_data (memory), FILL, 3 * 8192);
  g_clear_object (&from_file);
  from_file = G_INPUT_STREAM (g_file_read (source, NULL, &error));
  small = ps_shared_memory_get_output_stream (memory, 1, 9000, &error);
  g_assert_cmpint (g_output_stream_splice (small, from_file, G_OUTPUT_STREAM_SPLICE_NONE,
                                           NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_cmpmem ((guint8 *) ps_shared_memory_get_data (memory) + 1, 9000, text, 9000);
  assert_untouched_outside (memory, 1, 9000);

  g_file_delete (source, NULL, NULL);
  g_file_delete (back, NULL, NULL);
}

static void
async_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_for_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static gboolean
count_dispatch_cb (GObject  *stream,
                   gpointer  user_data)
{
  (*(int *) user_data)++;
  return G_SOURCE_REMOVE;
}

/* Async reads and writes, and the pollable interfaces, in the main
 * context; a splice between two ranges of the segment, async too. */
static void
test_async (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = filled_segment (SEGMENT_SIZE);
  g_autoptr(GOutputStream) out = ps_shared_memory_get_output_stream (memory, 0, 8, &error);
  g_autoptr(GInputStream) in = ps_shared_memory_get_input_stream (memory, 0, 8, &error);
  g_autoptr(GOutputStream) copy = ps_shared_memory_get_output_stream (memory, 100, 8, &error);
  g_autoptr(GInputStream) copied = ps_shared_memory_get_input_stream (memory, 100, 8, &error);
  g_autoptr(GSource) source = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GAsyncResult *result = NULL;
  int dispatched = 0;
  char buffer[8];

  g_assert_no_error (error);
  g_output_stream_write_async (out, "asyncly!", 8, G_PRIORITY_DEFAULT, NULL, async_done_cb, &result);
  g_assert_cmpint (g_output_stream_write_finish (out, wait_for_result (&result), &error), ==, 8);
  g_assert_no_error (error);
  g_clear_object (&result);
  g_output_stream_write_async (out, "x", 1, G_PRIORITY_DEFAULT, NULL, async_done_cb, &result);
  g_assert_cmpint (g_output_stream_write_finish (out, wait_for_result (&result), &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_clear_error (&error);
  g_clear_object (&result);

  g_input_stream_read_async (in, buffer, 5, G_PRIORITY_DEFAULT, NULL, async_done_cb, &result);
  g_assert_cmpint (g_input_stream_read_finish (in, wait_for_result (&result), &error), ==, 5);
  g_assert_cmpmem (buffer, 5, "async", 5);
  g_clear_object (&result);
  g_input_stream_read_bytes_async (in, 100, G_PRIORITY_DEFAULT, NULL, async_done_cb, &result);
  bytes = g_input_stream_read_bytes_finish (in, wait_for_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "ly!", 3);
  g_clear_object (&result);

  /* Pollable: always ready, its source dispatches at once. */
  g_assert_true (g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (in)));
  g_assert_true (g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (in)));
  g_assert_true (g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (out)));
  g_assert_true (g_seekable_seek (G_SEEKABLE (in), 0, G_SEEK_SET, NULL, &error));
  g_assert_cmpint (g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), buffer,
                                                             8, NULL, &error), ==, 8);
  g_assert_cmpmem (buffer, 8, "asyncly!", 8);
  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out), "x",
                                                               1, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_clear_error (&error);
  source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (in), NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (count_dispatch_cb), &dispatched, NULL);
  g_source_attach (source, NULL);
  g_clear_pointer (&source, g_source_unref);
  source = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (out), NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (count_dispatch_cb), &dispatched, NULL);
  g_source_attach (source, NULL);
  while (dispatched < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (dispatched, ==, 2);

  /* Async splice of one range into another. */
  g_assert_true (g_seekable_seek (G_SEEKABLE (in), 0, G_SEEK_SET, NULL, &error));
  g_output_stream_splice_async (copy, in, G_OUTPUT_STREAM_SPLICE_NONE, G_PRIORITY_DEFAULT, NULL,
                                async_done_cb, &result);
  g_assert_cmpint (g_output_stream_splice_finish (copy, wait_for_result (&result), &error), ==, 8);
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (g_input_stream_read (copied, buffer, 8, NULL, &error), ==, 8);
  g_assert_cmpmem (buffer, 8, "asyncly!", 8);
  assert_untouched_outside (memory, 0, 108);
}

/* The streams keep the segment alive, and let it go when they go. */
static void
test_keeps_segment (void)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory = filled_segment (SEGMENT_SIZE);
  GInputStream *in = ps_shared_memory_get_input_stream (memory, 0, 4, &error);
  GOutputStream *out = ps_shared_memory_get_output_stream (memory, 0, 4, &error);
  char buffer[4];

  g_assert_no_error (error);
  g_object_add_weak_pointer (G_OBJECT (memory), (gpointer *) &memory);
  g_object_unref (memory);
  g_assert_nonnull (memory);
  g_assert_cmpint (g_output_stream_write (out, "kept", 4, NULL, &error), ==, 4);
  g_object_unref (out);
  g_assert_nonnull (memory);
  g_assert_cmpint (g_input_stream_read (in, buffer, 4, NULL, &error), ==, 4);
  g_assert_cmpmem (buffer, 4, "kept", 4);
  g_object_unref (in);
  g_assert_null (memory);
}

/* Another process truncated the named segment's file: the streams fail
 * with CORRUPT, where they were, instead of dying of SIGBUS. */
static void
test_truncated (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("stream-trunc");
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                                            100000, &error);
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GOutputStream) out = NULL;
  char buffer[16];
  int fd;

  g_assert_no_error (error);
  in = ps_shared_memory_get_input_stream (memory, 80000, 16, &error);
  out = ps_shared_memory_get_output_stream (memory, 80000, 16, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_output_stream_write (out, "before", 6, NULL, &error), ==, 6);

  fd = shm_open (name, O_RDWR, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 10), ==, 0);
  close (fd);

  g_assert_cmpint (g_input_stream_read (in, buffer, sizeof buffer, NULL, &error), ==, -1);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  g_assert_cmpint (g_seekable_tell (G_SEEKABLE (in)), ==, 0);
  g_assert_cmpint (g_output_stream_write (out, "after", 5, NULL, &error), ==, -1);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  g_assert_cmpint (g_seekable_tell (G_SEEKABLE (out)), ==, 6);
  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

/* Cross-process: a child, which receives the segment by descriptor (a
 * mapping of its own), writes lines with an output stream, one call each,
 * and says so with a semaphore; the parent reads them from a
 * GDataInputStream (which reads ahead: so only once they are all there). */
#define N_LINES 200

typedef struct
{
  int          socket;
  PsSemaphore *written;
} LinesChild;

static int
write_lines_in_child (gpointer data)
{
  LinesChild *child = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_test_receive_segment (child->socket, &error);
  g_autoptr(GOutputStream) out = NULL;

  PS_CHILD_CHECK_NO_ERROR (error);
  out = ps_shared_memory_get_output_stream (memory, 16, SEGMENT_SIZE - 16, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  for (int i = 0; i < N_LINES; i++)
    PS_CHILD_CHECK (g_output_stream_printf (out, NULL, NULL, &error, "%d\n", i * 7));
  PS_CHILD_CHECK (g_output_stream_write_all (out, "end\n", 4, NULL, NULL, &error));
  PS_CHILD_CHECK (ps_semaphore_release (child->written, &error));
  return 0;
}

static void
test_lines_across_processes (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = filled_segment (SEGMENT_SIZE);
  g_autoptr(PsSemaphore) written = ps_semaphore_new (0, &error);
  g_autoptr(GInputStream) in = ps_shared_memory_get_input_stream (memory, 16, SEGMENT_SIZE - 16, &error);
  g_autoptr(GDataInputStream) data = g_data_input_stream_new (in);
  g_autofree char *last = NULL;
  LinesChild child = { -1, written };
  gsize total = 0;
  int fds[2];
  pid_t pid;

  g_assert_no_error (error);
  ps_test_socket_pair (fds);
  child.socket = fds[1];
  pid = ps_test_fork (write_lines_in_child, &child, ps_test_scaled_s (30));
  close (fds[1]);
  ps_test_send_segment (fds[0], memory, FALSE);
  close (fds[0]);
  g_assert_true (ps_semaphore_acquire (written, ps_test_scaled_us (30 * G_USEC_PER_SEC),
                                       NULL, &error));
  g_assert_no_error (error);
  for (int i = 0; i < N_LINES; i++)
    {
      g_autofree char *expected = g_strdup_printf ("%d", i * 7);
      g_autofree char *line = g_data_input_stream_read_line (data, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (line, ==, expected);
      total += strlen (line) + 1;
    }
  last = g_data_input_stream_read_line (data, NULL, NULL, &error);
  g_assert_cmpstr (last, ==, "end");
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  assert_untouched_outside (memory, 16, total + 4);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/shared-memory-stream/ranges", test_ranges);
  ps_test_add ("/shared-memory-stream/seek", test_seek);
  ps_test_add ("/shared-memory-stream/read", test_read);
  ps_test_add ("/shared-memory-stream/write-past-end", test_write_past_end);
  ps_test_add ("/shared-memory-stream/read-only", test_read_only);
  ps_test_add ("/shared-memory-stream/read-lines", test_read_lines);
  ps_test_add ("/shared-memory-stream/splice", test_splice);
  ps_test_add ("/shared-memory-stream/async", test_async);
  ps_test_add ("/shared-memory-stream/keeps-segment", test_keeps_segment);
  ps_test_add ("/shared-memory-stream/truncated", test_truncated);
  ps_test_add ("/shared-memory-stream/lines-across-processes", test_lines_across_processes);
  return g_test_run ();
}
