/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps-inspect.c: classifying files without touching them. Crafted files
 * live in a private temporary directory (ps_inspect_file() takes a
 * directory descriptor), real objects in /dev/shm under unique names.
 */

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps-test-util.h"
#include "ps-backend-private.h"
#include "ps-inspect.h"
#include "ps-queue-private.h"

typedef struct
{
  char *path;
  int   dirfd;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->path = g_dir_make_tmp ("ps-inspect-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->dirfd = open (fixture->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (fixture->dirfd, >=, 0);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GDir) dir = g_dir_open (fixture->path, 0, NULL);
  const char *name;

  /* Bounded: the directory holds the few files one test made. */
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      if (unlinkat (fixture->dirfd, name, 0) != 0)
        g_assert_cmpint (unlinkat (fixture->dirfd, name, AT_REMOVEDIR), ==, 0);
    }
  close (fixture->dirfd);
  g_assert_cmpint (rmdir (fixture->path), ==, 0);
  g_free (fixture->path);
}

static void
write_file (Fixture      *fixture,
            const char   *name,
            gconstpointer bytes,
            gsize         length)
{
  g_autofree char *path = g_build_filename (fixture->path, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, bytes, (gssize) length, &error);
  g_assert_no_error (error);
}

static void
make_header (guint8        *buffer,
             gsize          length,
             guint32        magic,
             guint16        layout,
             guint8         type,
             guint8         backend,
             guint32        ready,
             guint64        payload)
{
  PsObjectHeader header = { 0, };

  g_assert_cmpuint (length, >=, sizeof header);
  memset (buffer, 0, length);
  header.magic = magic;
  header.layout_version = layout;
  header.type = type;
  header.backend = backend;
  header.ready = ready;
  header.payload_size = payload;
  memcpy (buffer, &header, sizeof header);
}

static PsInspectKind
classify (Fixture        *fixture,
          const char     *name,
          PsInspectInfo  *info)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_inspect_file (fixture->dirfd, name, info, &error));
  g_assert_no_error (error);
  g_assert_true ((info->kind == PS_INSPECT_OBJECT) == (info->detail == NULL));
  return info->kind;
}

static void
test_missing (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  PsInspectInfo info;

  g_assert_false (ps_inspect_file (fixture->dirfd, "absent", &info, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpuint (info.file_type, ==, 0);
}

static void
test_blank (Fixture       *fixture,
            gconstpointer  data)
{
  guint8 zeros[PS_OBJECT_SLOT_SIZE] = { 0, };
  PsInspectInfo info;

  write_file (fixture, "empty", "", 0);
  g_assert_cmpint (classify (fixture, "empty", &info), ==, PS_INSPECT_BLANK);
  g_assert_cmpstr (info.detail, ==, "an empty file: being created, or not a procshared object");
  g_assert_cmpuint (info.file_size, ==, 0);
  g_assert_cmpuint (info.file_type, ==, S_IFREG);
  ps_inspect_info_clear (&info);

  write_file (fixture, "short-zeros", zeros, 10);
  g_assert_cmpint (classify (fixture, "short-zeros", &info), ==, PS_INSPECT_BLANK);
  g_assert_cmpstr (info.detail, ==, "10 zero bytes: being created, or not a procshared object");
  ps_inspect_info_clear (&info);

  /* What a creator leaves between ftruncate() and its header. */
  write_file (fixture, "sized", zeros, sizeof zeros);
  g_assert_cmpint (classify (fixture, "sized", &info), ==, PS_INSPECT_BLANK);
  g_assert_cmpstr (info.detail, ==, "a zero-filled header: being created, or not a procshared object");
  g_assert_cmpuint (info.file_size, ==, PS_OBJECT_SLOT_SIZE);
  g_assert_cmpuint (info.type, ==, 0);
  ps_inspect_info_clear (&info);

  /* A header being written without its magic yet. */
  zeros[4] = 1;
  write_file (fixture, "no-magic", zeros, sizeof zeros);
  g_assert_cmpint (classify (fixture, "no-magic", &info), ==, PS_INSPECT_BLANK);
  g_assert_cmpstr (info.detail, ==, "no procshared magic yet: being created, or not a procshared object");
  ps_inspect_info_clear (&info);
}

static void
test_foreign (Fixture       *fixture,
              gconstpointer  data)
{
  g_autofree char *fifo = g_build_filename (fixture->path, "fifo", NULL);
  g_autofree char *subdir = g_build_filename (fixture->path, "dir", NULL);
  const char text[] = "#!/bin/sh\necho not a procshared object at all\n";
  PsInspectInfo info;

  write_file (fixture, "text", text, sizeof text - 1);
  g_assert_cmpint (classify (fixture, "text", &info), ==, PS_INSPECT_FOREIGN);
  g_assert_cmpstr (info.detail, ==, "not a procshared object");
  g_assert_cmpuint (info.type, ==, 0);
  g_assert_cmpuint (info.layout_version, ==, 0);
  g_assert_cmpuint (info.file_size, ==, sizeof text - 1);
  ps_inspect_info_clear (&info);

  write_file (fixture, "short-text", "abc", 3);
  g_assert_cmpint (classify (fixture, "short-text", &info), ==, PS_INSPECT_FOREIGN);
  g_assert_cmpstr (info.detail, ==, "not a procshared object");
  ps_inspect_info_clear (&info);

  /* Never opened: a FIFO would block, a link would be followed. */
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (classify (fixture, "fifo", &info), ==, PS_INSPECT_FOREIGN);
  g_assert_cmpstr (info.detail, ==, "a named pipe");
  g_assert_cmpuint (info.file_type, ==, S_IFIFO);
  ps_inspect_info_clear (&info);

  g_assert_cmpint (symlinkat ("text", fixture->dirfd, "link"), ==, 0);
  g_assert_cmpint (classify (fixture, "link", &info), ==, PS_INSPECT_FOREIGN);
  g_assert_cmpstr (info.detail, ==, "a symbolic link");
  g_assert_cmpuint (info.file_type, ==, S_IFLNK);
  ps_inspect_info_clear (&info);

  g_assert_cmpint (mkdir (subdir, 0700), ==, 0);
  g_assert_cmpint (classify (fixture, "dir", &info), ==, PS_INSPECT_FOREIGN);
  g_assert_cmpstr (info.detail, ==, "a directory");
  ps_inspect_info_clear (&info);
}

static void
test_ours_but_not_usable (Fixture       *fixture,
                          gconstpointer  data)
{
  guint8 buffer[PS_OBJECT_SLOT_SIZE];
  g_autofree char *expected = NULL;
  PsInspectInfo info;

  /* Our magic in a file cut below the header. */
  make_header (buffer, sizeof buffer, PS_OBJECT_MAGIC, PS_OBJECT_LAYOUT_VERSION,
               PS_OBJECT_TYPE_MUTEX, PS_BACKEND_ID, PS_OBJECT_READY, PS_OBJECT_STATE_SIZE);
  write_file (fixture, "truncated-header", buffer, 16);
  g_assert_cmpint (classify (fixture, "truncated-header", &info), ==, PS_INSPECT_CORRUPT);
  g_assert_cmpstr (info.detail, ==, "truncated to 16 bytes, shorter than the 32-byte object header");
  ps_inspect_info_clear (&info);

  /* A whole header, but not the state after it. */
  write_file (fixture, "truncated-state", buffer, 100);
  g_assert_cmpint (classify (fixture, "truncated-state", &info), ==, PS_INSPECT_CORRUPT);
  g_assert_cmpstr (info.detail, ==, "truncated to 100 bytes; a mutex takes 256");
  g_assert_cmpuint (info.type, ==, PS_OBJECT_TYPE_MUTEX);
  ps_inspect_info_clear (&info);

  /* Never published: a creator at work, or one that died. */
  make_header (buffer, sizeof buffer, PS_OBJECT_MAGIC, PS_OBJECT_LAYOUT_VERSION,
               PS_OBJECT_TYPE_SEMAPHORE, PS_BACKEND_ID, 0, PS_OBJECT_STATE_SIZE);
  write_file (fixture, "unfinished", buffer, sizeof buffer);
  g_assert_cmpint (classify (fixture, "unfinished", &info), ==, PS_INSPECT_UNFINISHED);
  g_assert_cmpstr (info.detail, ==, "being created, or its creator died");
  g_assert_cmpuint (info.type, ==, PS_OBJECT_TYPE_SEMAPHORE);
  ps_inspect_info_clear (&info);

  make_header (buffer, sizeof buffer, PS_OBJECT_MAGIC, PS_OBJECT_LAYOUT_VERSION + 1,
               PS_OBJECT_TYPE_COND, PS_BACKEND_ID, PS_OBJECT_READY, PS_OBJECT_STATE_SIZE);
  write_file (fixture, "layout", buffer, sizeof buffer);
  g_assert_cmpint (classify (fixture, "layout", &info), ==, PS_INSPECT_INCOMPATIBLE);
  expected = g_strdup_printf ("made by an incompatible procshared (layout %d, backend %s; "
                              "this one uses layout %d, backend %s)",
                              PS_OBJECT_LAYOUT_VERSION + 1, ps_backend_name (),
                              PS_OBJECT_LAYOUT_VERSION, ps_backend_name ());
  g_assert_cmpstr (info.detail, ==, expected);
  g_assert_cmpuint (info.layout_version, ==, PS_OBJECT_LAYOUT_VERSION + 1);
  g_assert_cmpuint (info.type, ==, PS_OBJECT_TYPE_COND);
  ps_inspect_info_clear (&info);
  g_clear_pointer (&expected, g_free);

  make_header (buffer, sizeof buffer, PS_OBJECT_MAGIC, PS_OBJECT_LAYOUT_VERSION,
               PS_OBJECT_TYPE_COND, 77, PS_OBJECT_READY, PS_OBJECT_STATE_SIZE);
  write_file (fixture, "backend", buffer, sizeof buffer);
  g_assert_cmpint (classify (fixture, "backend", &info), ==, PS_INSPECT_INCOMPATIBLE);
  expected = g_strdup_printf ("made by an incompatible procshared (layout %d, backend 77; "
                              "this one uses layout %d, backend %s)",
                              PS_OBJECT_LAYOUT_VERSION, PS_OBJECT_LAYOUT_VERSION,
                              ps_backend_name ());
  g_assert_cmpstr (info.detail, ==, expected);
  g_assert_cmpuint (info.backend, ==, 77);
  ps_inspect_info_clear (&info);

  make_header (buffer, sizeof buffer, PS_OBJECT_MAGIC, PS_OBJECT_LAYOUT_VERSION,
               9, PS_BACKEND_ID, PS_OBJECT_READY, PS_OBJECT_STATE_SIZE);
  write_file (fixture, "type", buffer, sizeof buffer);
  g_assert_cmpint (classify (fixture, "type", &info), ==, PS_INSPECT_CORRUPT);
  g_assert_cmpstr (info.detail, ==, "unknown object type 9");
  g_assert_cmpuint (info.type, ==, 0);
  ps_inspect_info_clear (&info);

  make_header (buffer, sizeof buffer, PS_OBJECT_MAGIC, PS_OBJECT_LAYOUT_VERSION,
               PS_OBJECT_TYPE_MUTEX, PS_BACKEND_ID, PS_OBJECT_READY, 1000);
  write_file (fixture, "state-size", buffer, sizeof buffer);
  g_assert_cmpint (classify (fixture, "state-size", &info), ==, PS_INSPECT_CORRUPT);
  g_assert_cmpstr (info.detail, ==, "a mutex state of 1000 bytes, expected 224");
  ps_inspect_info_clear (&info);

  make_header (buffer, sizeof buffer, PS_OBJECT_MAGIC, PS_OBJECT_LAYOUT_VERSION,
               PS_OBJECT_TYPE_SHARED_MEMORY, PS_BACKEND_ID, PS_OBJECT_READY, G_MAXUINT64);
  write_file (fixture, "segment-size", buffer, sizeof buffer);
  g_assert_cmpint (classify (fixture, "segment-size", &info), ==, PS_INSPECT_CORRUPT);
  g_assert_cmpstr (info.detail, ==,
                   "claims 18446744073709551615 bytes of data, but the file has only 256 bytes");
  ps_inspect_info_clear (&info);

  /* The same header, complete: an object. */
  make_header (buffer, sizeof buffer, PS_OBJECT_MAGIC, PS_OBJECT_LAYOUT_VERSION,
               PS_OBJECT_TYPE_SHARED_MEMORY, PS_BACKEND_ID, PS_OBJECT_READY, 192);
  write_file (fixture, "segment", buffer, sizeof buffer);
  g_assert_cmpint (classify (fixture, "segment", &info), ==, PS_INSPECT_OBJECT);
  g_assert_cmpuint (info.type, ==, PS_OBJECT_TYPE_SHARED_MEMORY);
  g_assert_cmpuint (info.payload_size, ==, 192);
  g_assert_cmpuint (info.backend, ==, PS_BACKEND_ID);
  ps_inspect_info_clear (&info);
}

static GBytes *
read_shm (const char *name)
{
  g_autofree char *path = g_strconcat (PS_INSPECT_SHM_DIR, name, NULL);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize length = 0;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, length);
}

static void
test_real_objects (void)
{
  g_autofree char *mutex_name = ps_test_unique_name ("inspect-mutex");
  g_autofree char *memory_name = ps_test_unique_name ("inspect-shm");
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GBytes) before = NULL;
  g_autoptr(GBytes) after = NULL;
  g_autoptr(GError) error = NULL;
  PsInspectInfo info;

  mutex = g_initable_new (PS_TYPE_MUTEX, NULL, &error, "name", mutex_name,
                          "open-flags", PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                          "mode", 0640, NULL);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));

  /* A held mutex: looking at it changes no byte of it. */
  before = read_shm (mutex_name);
  g_assert_true (ps_inspect_name (mutex_name, &info, &error));
  g_assert_no_error (error);
  after = read_shm (mutex_name);
  g_assert_true (g_bytes_equal (before, after));

  g_assert_cmpint (info.kind, ==, PS_INSPECT_OBJECT);
  g_assert_cmpuint (info.type, ==, PS_OBJECT_TYPE_MUTEX);
  g_assert_cmpuint (info.file_size, ==, PS_MUTEX_SIZE);
  g_assert_cmpuint (info.payload_size, ==, PS_OBJECT_STATE_SIZE);
  g_assert_cmpuint (info.layout_version, ==, PS_OBJECT_LAYOUT_VERSION);
  g_assert_cmpuint (info.backend, ==, PS_BACKEND_ID);
  g_assert_cmpuint (info.mode, ==, 0640);
  g_assert_cmpuint (info.uid, ==, geteuid ());
  g_assert_null (info.detail);
  ps_inspect_info_clear (&info);
  g_assert_true (ps_mutex_unlock (mutex, &error));

  memory = ps_shared_memory_open (memory_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 1000, &error);
  g_assert_no_error (error);
  g_assert_true (ps_inspect_name (memory_name, &info, &error));
  g_assert_cmpint (info.kind, ==, PS_INSPECT_OBJECT);
  g_assert_cmpuint (info.type, ==, PS_OBJECT_TYPE_SHARED_MEMORY);
  g_assert_cmpuint (info.payload_size, ==, 1000);
  g_assert_cmpuint (info.mode, ==, 0600);
  ps_inspect_info_clear (&info);

  g_assert_true (ps_unlink (mutex_name, &error));
  g_assert_true (ps_unlink (memory_name, &error));
  g_assert_false (ps_inspect_name (memory_name, &info, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_false (ps_inspect_name ("no-slash", &info, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* A queue's size is its own: accepted as it is, corrupt cut short. */
static void
test_queue (Fixture       *fixture,
            gconstpointer  data)
{
  g_autofree char *name = ps_test_unique_name ("inspect-queue");
  g_autoptr(PsQueue) queue = NULL;
  g_autoptr(GBytes) contents = NULL;
  g_autoptr(GError) error = NULL;
  PsInspectInfo info;
  gsize state_size = 0;

  queue = ps_queue_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 5, 300, &error);
  g_assert_no_error (error);
  g_assert_true (ps_queue_state_measure (5, 300, &state_size));

  g_assert_true (ps_inspect_name (name, &info, &error));
  g_assert_no_error (error);
  g_assert_cmpint (info.kind, ==, PS_INSPECT_OBJECT);
  g_assert_cmpuint (info.type, ==, PS_OBJECT_TYPE_QUEUE);
  g_assert_cmpuint (info.payload_size, ==, state_size);
  g_assert_cmpuint (info.file_size, >=, sizeof (PsObjectHeader) + state_size);
  g_assert_null (info.detail);
  ps_inspect_info_clear (&info);

  contents = read_shm (name);
  write_file (fixture, "cut-queue", g_bytes_get_data (contents, NULL),
              sizeof (PsObjectHeader) + state_size - 1);
  g_assert_true (ps_inspect_file (fixture->dirfd, "cut-queue", &info, &error));
  g_assert_no_error (error);
  g_assert_cmpint (info.kind, ==, PS_INSPECT_CORRUPT);
  g_assert_cmpuint (info.type, ==, PS_OBJECT_TYPE_QUEUE);
  g_assert_true (g_str_has_prefix (info.detail, "claims "));
  ps_inspect_info_clear (&info);

  g_assert_true (ps_unlink (name, &error));
}

static void
test_strings (void)
{
  g_assert_cmpstr (ps_inspect_kind_to_string (PS_INSPECT_OBJECT), ==, "object");
  g_assert_cmpstr (ps_inspect_kind_to_string (PS_INSPECT_UNFINISHED), ==, "unfinished");
  g_assert_cmpstr (ps_inspect_kind_to_string (PS_INSPECT_BLANK), ==, "blank");
  g_assert_cmpstr (ps_inspect_kind_to_string (PS_INSPECT_INCOMPATIBLE), ==, "incompatible");
  g_assert_cmpstr (ps_inspect_kind_to_string (PS_INSPECT_CORRUPT), ==, "corrupt");
  g_assert_cmpstr (ps_inspect_kind_to_string (PS_INSPECT_FOREIGN), ==, "foreign");
  g_assert_cmpstr (ps_inspect_backend_to_string (PS_BACKEND_FUTEX), ==, "futex");
  g_assert_cmpstr (ps_inspect_backend_to_string (PS_BACKEND_POSIX), ==, "posix");
  g_assert_cmpstr (ps_inspect_backend_to_string (PS_BACKEND_DARWIN), ==, "darwin");
  g_assert_null (ps_inspect_backend_to_string (0));
  g_assert_cmpstr (ps_inspect_backend_to_string (PS_BACKEND_ID), ==, ps_backend_name ());
}

/* A test of a fresh fixture: set up, run, torn down. */
typedef void (*FixtureTestFunc) (Fixture *fixture, gconstpointer data);

static void
run_in_fixture (gconstpointer data)
{
  FixtureTestFunc func = (FixtureTestFunc) data;
  Fixture fixture = { 0 };

  fixture_set_up (&fixture, NULL);
  func (&fixture, NULL);
  fixture_tear_down (&fixture, NULL);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);
  ps_test_watchdog (120);

  ps_test_add_data ("/inspect/missing", run_in_fixture, test_missing);
  ps_test_add_data ("/inspect/blank", run_in_fixture, test_blank);
  ps_test_add_data ("/inspect/foreign", run_in_fixture, test_foreign);
  ps_test_add_data ("/inspect/ours-but-not-usable", run_in_fixture, test_ours_but_not_usable);
  ps_test_add ("/inspect/real-objects", test_real_objects);
  ps_test_add_data ("/inspect/queue", run_in_fixture, test_queue);
  ps_test_add ("/inspect/strings", test_strings);

  return g_test_run ();
}
