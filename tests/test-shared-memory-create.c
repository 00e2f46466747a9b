/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * What creating a segment does to its memory (issue 13): no page of a new
 * segment is touched (an anonymous one's header is written when its
 * first descriptor leaves, a named one's through its file), yet a named
 * segment's memory is all reserved, its header is published for openers,
 * and a descriptor handed out, by the creator or by a child forked
 * before, carries a segment its receiver accepts.
 */

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps-test-util.h"
#include "ps-object-header-private.h"
#include "ps-platform-fd-private.h"
#include "ps-shared-memory-private.h"

/* The data follow the header at this offset (ps-shared-memory.c). */
#define DATA_OFFSET 64
#define SEGMENT_SIZE 4096

/* The mapping of @memory: its data start DATA_OFFSET bytes in. */
static guint8 *
mapping_of (PsSharedMemory *memory)
{
  return (guint8 *) ps_shared_memory_get_data (memory) - DATA_OFFSET;
}

/* Kilobytes of @mapping that this process's page tables map ("Rss" in
 * /proc/self/smaps): pages touched through it, whatever the file holds. */
static guint
rss_kb (gconstpointer mapping)
{
  g_autofree char *smaps = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean in_mapping = FALSE;

  g_assert_true (g_file_get_contents ("/proc/self/smaps", &smaps, NULL, NULL));
  lines = g_strsplit (smaps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *end = NULL;
      guint64 start = g_ascii_strtoull (lines[i], &end, 16);

      /* A mapping's line starts with its range, zero-padded: "START-END". */
      if (end != lines[i] && *end == '-')
        in_mapping = start == (guint64) (guintptr) mapping;
      else if (in_mapping && g_str_has_prefix (lines[i], "Rss:"))
        return (guint) g_ascii_strtoull (lines[i] + strlen ("Rss:"), NULL, 10);
    }
  g_assert_not_reached ();
  return 0;
}

/* Whether the first page of @mapping is in its file's memory at all. */
static gboolean
first_page_resident (gpointer mapping)
{
  unsigned char vector = 0;

  g_assert_cmpint (mincore (mapping, 1, &vector), ==, 0);
  return (vector & 1) != 0;
}

static void
assert_header (int    fd,
               gsize  payload_size)
{
  PsObjectHeader header;

  g_assert_cmpint (pread (fd, &header, sizeof header, 0), ==, sizeof header);
  g_assert_cmpuint (header.magic, ==, PS_OBJECT_MAGIC);
  g_assert_cmpuint (header.layout_version, ==, PS_OBJECT_LAYOUT_VERSION);
  g_assert_cmpuint (header.type, ==, PS_OBJECT_TYPE_SHARED_MEMORY);
  g_assert_cmpuint (header.ready, ==, PS_OBJECT_READY);
  g_assert_cmpuint (header.payload_size, ==, payload_size);
}

/* An anonymous segment: nothing touched until a descriptor leaves, then
 * a header its receiver accepts; over a memfd, and over the fallback. */
static void
test_anonymous_untouched (gconstpointer data)
{
  gboolean fallback = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSharedMemory) received = NULL;
  struct stat st;
  int fd;

  ps_platform_fd_set_memfd_disabled (fallback);
  memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  ps_platform_fd_set_memfd_disabled (FALSE);
  g_assert_no_error (error);
  g_assert_cmpint (ps_shared_memory_get_fd (memory)->read_only_twin >= 0, ==, fallback);

  g_assert_cmpuint (rss_kb (mapping_of (memory)), ==, 0);
  if (!fallback)
    g_assert_false (first_page_resident (mapping_of (memory)));
  g_assert_false (ps_shared_memory_get_fd (memory)->header_written);

  fd = ps_shared_memory_dup_fd (memory, &error);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_get_fd (memory)->header_written);
  assert_header (fd, SEGMENT_SIZE);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, DATA_OFFSET + SEGMENT_SIZE);
  if (fallback)
    {
      /* It lives in /dev/shm: reserved in full when made. */
      g_assert_cmpint ((gint64) st.st_blocks * 512, >=, DATA_OFFSET + SEGMENT_SIZE);
    }

  received = ps_shared_memory_new_from_fd (fd, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_shared_memory_get_size (received), ==, SEGMENT_SIZE);
  g_assert_true (ps_shared_memory_set_int32 (memory, 8, 0x5eed, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_shared_memory_get_int32 (received, 8, &error), ==, 0x5eed);
  g_assert_no_error (error);
  /* The header is not the data: the first data bytes are the user's. */
  g_assert_cmpint (ps_shared_memory_get_int32 (received, 0, &error), ==, 0);
  g_assert_no_error (error);
  close (fd);
}

/* A read-only descriptor is the first to leave: it carries the header. */
static void
test_anonymous_read_only_first (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_autoptr(PsSharedMemory) received = NULL;
  int fd;

  g_assert_no_error (error);
  fd = ps_shared_memory_dup_read_only_fd (memory, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    {
      g_test_skip (error->message);
      return;
    }
  g_assert_no_error (error);
  assert_header (fd, SEGMENT_SIZE);
  received = ps_shared_memory_new_from_fd (fd, &error);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_is_read_only (received));
  g_assert_cmpuint (ps_shared_memory_get_size (received), ==, SEGMENT_SIZE);
  close (fd);
}

static int
child_hands_out (gpointer data)
{
  PsSharedMemory *memory = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) received = NULL;
  int fd = ps_shared_memory_dup_fd (memory, &error);

  PS_CHILD_CHECK_NO_ERROR (error);
  received = ps_shared_memory_new_from_fd (fd, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_shared_memory_set_int32 (received, 16, 77, &error));
  PS_CHILD_CHECK_NO_ERROR (error);
  close (fd);
  return 0;
}

/* A child forked before any descriptor left writes the header into the
 * memory it shares with its parent; the parent's own descriptors, made
 * afterwards, carry the same header. */
static void
test_anonymous_header_across_fork (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_autoptr(PsSharedMemory) received = NULL;
  int status, fd;
  pid_t pid;

  g_assert_no_error (error);
  pid = ps_test_fork (child_hands_out, memory, ps_test_scaled_s (30));
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  /* Written by the child, in the memory both share. */
  g_assert_false (ps_shared_memory_get_fd (memory)->header_written);
  assert_header (ps_shared_memory_get_fd (memory)->fd, SEGMENT_SIZE);
  g_assert_cmpint (ps_shared_memory_get_int32 (memory, 16, &error), ==, 77);
  g_assert_no_error (error);

  fd = ps_shared_memory_dup_fd (memory, &error);
  g_assert_no_error (error);
  assert_header (fd, SEGMENT_SIZE);
  received = ps_shared_memory_new_from_fd (fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ps_shared_memory_get_int32 (received, 16, &error), ==, 77);
  g_assert_no_error (error);
  close (fd);
}

/* A named segment: sized and reserved in full, its header published
 * through the file, its mapping untouched; an opener sees it whole. */
static void
test_named_untouched (void)
{
  g_autofree char *name = ps_test_unique_name ("create");
  g_autofree char *path = g_strdup_printf ("/dev/shm%s", name);
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSharedMemory) opened = NULL;
  struct stat st;
  int fd;

  memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, SEGMENT_SIZE,
                                  &error);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_get_created (memory));
  g_assert_cmpuint (rss_kb (mapping_of (memory)), ==, 0);

  fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  assert_header (fd, SEGMENT_SIZE);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, DATA_OFFSET + SEGMENT_SIZE);
  g_assert_cmpint ((gint64) st.st_blocks * 512, >=, DATA_OFFSET + SEGMENT_SIZE);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0600);
  close (fd);

  opened = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  g_assert_false (ps_shared_memory_get_created (opened));
  g_assert_cmpuint (ps_shared_memory_get_size (opened), ==, SEGMENT_SIZE);
  g_assert_cmpuint (rss_kb (mapping_of (opened)), ==, 0);
  g_assert_true (ps_shared_memory_set_int32 (opened, 0, -5, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_shared_memory_get_int32 (memory, 0, &error), ==, -5);
  g_assert_no_error (error);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

/* The mode asked for is the mode given, whatever the umask: sizing the
 * file with posix_fallocate() kept the fchmod() before it. */
static void
test_named_mode_despite_umask (void)
{
  g_autofree char *name = ps_test_unique_name ("create-mode");
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  mode_t saved = umask (0077);

  memory = ps_shared_memory_open_full (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, SEGMENT_SIZE,
                                       0644, &error);
  umask (saved);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_shared_memory_get_mode (memory), ==, 0644);
  g_clear_object (&memory);
  memory = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_shared_memory_get_mode (memory), ==, 0644);
  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add_data ("/shared-memory-create/anonymous-untouched/memfd",
                    test_anonymous_untouched, GINT_TO_POINTER (FALSE));
  ps_test_add_data ("/shared-memory-create/anonymous-untouched/fallback",
                    test_anonymous_untouched, GINT_TO_POINTER (TRUE));
  ps_test_add ("/shared-memory-create/anonymous-read-only-first",
               test_anonymous_read_only_first);
  ps_test_add ("/shared-memory-create/anonymous-header-across-fork",
               test_anonymous_header_across_fork);
  ps_test_add ("/shared-memory-create/named-untouched", test_named_untouched);
  ps_test_add ("/shared-memory-create/named-mode-despite-umask",
               test_named_mode_despite_umask);

  return g_test_run ();
}
