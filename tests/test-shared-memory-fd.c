/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Segments shared by file descriptor: anonymous segments have one, a
 * receiver maps it after checking it, objects placed in it work across
 * processes that only share the descriptor (robust recovery included),
 * seals spare the receiver the SIGBUS guard, and read-only descriptors
 * give read-only segments whose write access cannot be regained.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps-test-fd.h"
#include "ps-platform-fd-private.h"
#include "ps-shared-memory-private.h"

#define SEGMENT_SIZE (4 * PS_MUTEX_SIZE)

static PsSharedMemory *
new_segment (void)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory = ps_shared_memory_new (SEGMENT_SIZE, &error);

  g_assert_no_error (error);
  return memory;
}

static PsSharedMemory *
receive_in_process (int fd)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory = ps_shared_memory_new_from_fd (fd, &error);

  g_assert_no_error (error);
  g_assert_nonnull (memory);
  return memory;
}

static void
assert_cloexec (int fd)
{
  g_assert_cmpint (fd, >, 2);
  g_assert_cmpint (fcntl (fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
}

/* Runs each fd test twice: over a memfd, and over the fallback of systems
 * without one (an unlinked POSIX shared-memory object). */
typedef struct
{
  const char *path;
  GTestFunc   func;
  gboolean    fallback;
} FdCase;

static void
run_case (gconstpointer data)
{
  const FdCase *fd_case = data;

  ps_platform_fd_set_memfd_disabled (fd_case->fallback);
  fd_case->func ();
  ps_platform_fd_set_memfd_disabled (FALSE);
}

static gboolean
using_fallback (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();

  return ps_shared_memory_get_fd (memory)->read_only_twin >= 0;
}

/* The same memory through two mappings: the creator's and a receiver's. */
static void
test_round_trip (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(PsSharedMemory) received = NULL;
  g_autoptr(PsSharedMemory) again = NULL;
  g_autoptr(GError) error = NULL;
  int fd, fd2;

  g_assert_false (ps_shared_memory_is_read_only (memory));
  g_assert_false (ps_shared_memory_is_guarded (memory));   /* no fd out yet */
  fd = ps_shared_memory_dup_fd (memory, &error);
  g_assert_no_error (error);
  assert_cloexec (fd);
  g_assert_true (ps_shared_memory_is_guarded (memory));    /* now someone may truncate */

  received = receive_in_process (fd);
  g_assert_true (ps_shared_memory_get_fd (received)->fd != fd);
  assert_cloexec (ps_shared_memory_get_fd (received)->fd);
  close (fd);   /* not taken: the segment has its own */

  g_assert_null (ps_shared_memory_get_name (received));
  g_assert_false (ps_shared_memory_get_created (received));
  g_assert_true (ps_shared_memory_get_created (memory));
  g_assert_cmpuint (ps_shared_memory_get_size (received), ==, SEGMENT_SIZE);
  g_assert_false (ps_shared_memory_is_read_only (received));
  g_assert_true (ps_shared_memory_get_data (received) != ps_shared_memory_get_data (memory));

  g_assert_true (ps_shared_memory_set_int64 (memory, 8, 0x0102030405060708, &error));
  g_assert_cmpint (ps_shared_memory_get_int64 (received, 8, &error), ==, 0x0102030405060708);
  g_assert_true (ps_shared_memory_set_int32 (received, 16, -7, &error));
  g_assert_cmpint (ps_shared_memory_get_int32 (memory, 16, &error), ==, -7);
  g_assert_no_error (error);

  /* A receiver can pass it on in turn. */
  fd2 = ps_shared_memory_dup_fd (received, &error);
  g_assert_no_error (error);
  assert_cloexec (fd2);
  again = receive_in_process (fd2);
  close (fd2);
  g_assert_cmpint (ps_shared_memory_get_int32 (again, 16, &error), ==, -7);
  g_assert_no_error (error);
}

/* A named segment has no descriptor to share. */
static void
test_named_has_none (void)
{
  g_autofree char *name = ps_test_unique_name ("fd-named");
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GUnixFDList) list = g_unix_fd_list_new ();
  g_autoptr(GError) error = NULL;

  memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 64, &error);
  g_assert_no_error (error);
  ps_unlink (name, NULL);

  g_assert_cmpint (ps_shared_memory_dup_fd (memory, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_cmpint (ps_shared_memory_dup_read_only_fd (memory, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_false (ps_shared_memory_seal (memory, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_null (ps_shared_memory_to_handle (memory, list, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_cmpint (g_unix_fd_list_get_length (list), ==, 0);
  g_assert_false (ps_shared_memory_is_read_only (memory));
}

/* GVariant handles and GUnixFDList, as D-Bus carries them. */
static void
test_handle (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(PsSharedMemory) received = NULL;
  g_autoptr(GUnixFDList) list = g_unix_fd_list_new ();
  g_autoptr(GVariant) handle = NULL;
  g_autoptr(GVariant) bad = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_shared_memory_set_uint8 (memory, 3, 42, &error));
  handle = ps_shared_memory_to_handle (memory, list, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (handle, G_VARIANT_TYPE_HANDLE));
  g_assert_false (g_variant_is_floating (handle));
  g_assert_cmpint (g_variant_get_handle (handle), ==, 0);
  g_assert_cmpint (g_unix_fd_list_get_length (list), ==, 1);
  assert_cloexec (g_unix_fd_list_peek_fds (list, NULL)[0]);

  received = ps_shared_memory_new_from_handle (handle, list, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_shared_memory_get_uint8 (received, 3, &error), ==, 42);
  g_assert_cmpint (g_unix_fd_list_get_length (list), ==, 1);   /* the list keeps its own */

  bad = g_variant_ref_sink (g_variant_new_handle (1));
  g_assert_null (ps_shared_memory_new_from_handle (bad, list, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* Objects placed in a segment work in a process that only received its
 * descriptor over a Unix socket; a holder's death is noticed there. */
static int
receiver_dies_holding (gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_test_receive_segment (GPOINTER_TO_INT (data), &error);
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;

  PS_CHILD_CHECK_NO_ERROR (error);
  mutex = ps_mutex_attach (memory, 0, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  semaphore = ps_semaphore_open_at (memory, PS_MUTEX_SIZE, PS_OPEN_NONE, 0, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  PS_CHILD_CHECK (ps_semaphore_release (semaphore, &error));
  kill (getpid (), SIGKILL);
  return 1;
}

static void
test_placed_across_processes (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(GError) error = NULL;
  int sockets[2];
  pid_t pid;

  /* Forked before the segment exists: the child shares nothing with it
   * but the descriptor it will receive. */
  ps_test_socket_pair (sockets);
  pid = ps_test_fork (receiver_dies_holding, GINT_TO_POINTER (sockets[1]), ps_test_scaled_s (60));
  close (sockets[1]);

  memory = new_segment ();
  mutex = ps_mutex_new_at (memory, 0, &error);
  g_assert_no_error (error);
  semaphore = ps_semaphore_new_at (memory, PS_MUTEX_SIZE, 0, &error);
  g_assert_no_error (error);
  ps_test_send_segment (sockets[0], memory, FALSE);

  g_assert_true (ps_semaphore_acquire (semaphore, ps_test_scaled_us (30 * G_USEC_PER_SEC),
                                       NULL, &error));
  g_assert_no_error (error);
  ps_test_reap_killed (pid);

  g_assert_false (ps_mutex_lock (mutex, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);
  g_assert_cmpint (ps_mutex_get_previous_owner_pid (mutex), ==, pid);
  g_assert_true (ps_mutex_mark_consistent (mutex, &error));
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
}

/* Sealed: nobody can resize the file, and a receiver needs no guard;
 * unsealed: the receiver is guarded. */
static void
test_seal (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(PsSharedMemory) unsealed = NULL;
  g_autoptr(PsSharedMemory) sealed = NULL;
  g_autoptr(GError) error = NULL;
  int fd;

  fd = ps_shared_memory_dup_fd (memory, &error);
  g_assert_no_error (error);
  unsealed = receive_in_process (fd);
  g_assert_true (ps_shared_memory_is_guarded (unsealed));
  close (fd);

  if (using_fallback ())
    {
      g_assert_false (ps_shared_memory_seal (memory, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      return;
    }

  g_assert_true (ps_shared_memory_seal (memory, &error));
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_seal (memory, &error));   /* again: still sealed */
  g_assert_true (ps_shared_memory_seal (unsealed, &error)); /* the same file */
  g_assert_no_error (error);

  fd = ps_shared_memory_dup_fd (memory, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ps_platform_fd_get_seals (fd), ==,
                   PS_FD_SEAL_SHRINK | PS_FD_SEAL_GROW | PS_FD_SEAL_SEAL);
  sealed = receive_in_process (fd);
  g_assert_false (ps_shared_memory_is_guarded (sealed));
  g_assert_false (ps_shared_memory_is_read_only (sealed));
  g_assert_cmpint (ftruncate (fd, 0), ==, -1);
  g_assert_cmpint (errno, ==, EPERM);
  g_assert_cmpint (ftruncate (fd, 2 * (64 + SEGMENT_SIZE)), ==, -1);
  g_assert_cmpint (errno, ==, EPERM);
  close (fd);

  g_assert_true (ps_shared_memory_set_double (sealed, 0, 2.5, &error));
  g_assert_cmpfloat (ps_shared_memory_get_double (memory, 0, &error), ==, 2.5);
  g_assert_no_error (error);
}

/* A sender truncating an unsealed segment crashes nobody: the receiver's
 * and the creator's accessors fail with CORRUPT. */
static void
test_truncated_unsealed (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(PsSharedMemory) received = NULL;
  g_autoptr(GError) error = NULL;
  int fd = ps_shared_memory_dup_fd (memory, &error);

  g_assert_no_error (error);
  received = receive_in_process (fd);
  g_assert_true (ps_shared_memory_set_int32 (memory, 1000, 5, &error));
  g_assert_cmpint (ps_shared_memory_get_int32 (received, 1000, &error), ==, 5);
  g_assert_no_error (error);

  g_assert_cmpint (ftruncate (fd, 0), ==, 0);
  close (fd);

  g_assert_cmpint (ps_shared_memory_get_int32 (received, 1000, &error), ==, 0);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  g_assert_false (ps_shared_memory_set_int32 (memory, 1000, 6, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
}

static void
assert_read_only_everywhere (PsSharedMemory *reader)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree guint8 *before = NULL;
  const guint8 data[4] = { 1, 2, 3, 4 };

  before = g_memdup2 (ps_shared_memory_get_data (reader), SEGMENT_SIZE);

  /* Reading works. */
  g_assert_cmpint (ps_shared_memory_get_int64 (reader, 8, &error), ==, 77);
  value = ps_shared_memory_read_variant (reader, PS_MUTEX_SIZE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "read me");
  bytes = ps_shared_memory_read (reader, 8, 8, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 8);

  /* Writing does not, and no placed object can be made or attached. */
  g_assert_false (ps_shared_memory_write (reader, 0, data, sizeof data, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (ps_shared_memory_set_uint8 (reader, 0, 1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (ps_shared_memory_set_int32 (reader, 0, 1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (ps_shared_memory_set_int64 (reader, 0, 1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (ps_shared_memory_set_double (reader, 0, 1.0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (ps_shared_memory_write_variant (reader, 0, g_variant_new_int32 (1), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);

  g_assert_null (ps_mutex_attach (reader, 2 * PS_MUTEX_SIZE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_null (ps_mutex_open_at (reader, 2 * PS_MUTEX_SIZE, PS_OPEN_NONE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_null (ps_mutex_new_at (reader, 3 * PS_MUTEX_SIZE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_null (ps_semaphore_new_at (reader, 3 * PS_MUTEX_SIZE, 1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_null (ps_semaphore_attach (reader, 2 * PS_MUTEX_SIZE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_null (ps_cond_new_at (reader, 3 * PS_MUTEX_SIZE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_null (ps_cond_open_at (reader, 3 * PS_MUTEX_SIZE, PS_OPEN_CREATE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);

  g_assert_cmpmem (ps_shared_memory_get_data (reader), SEGMENT_SIZE, before, SEGMENT_SIZE);
}

/* The receiver of a read-only descriptor can read, cannot write, and
 * cannot get write access back through the descriptor. */
static void
test_read_only (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(PsSharedMemory) reader = NULL;
  g_autoptr(PsSharedMemory) reader2 = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GUnixFDList) list = g_unix_fd_list_new ();
  g_autoptr(GVariant) handle = NULL;
  g_autoptr(GError) error = NULL;
  gboolean fallback = using_fallback ();
  char path[64];
  gpointer mapping;
  int fd, fd2, reopened;

  g_assert_true (ps_shared_memory_set_int64 (memory, 8, 77, &error));
  g_assert_true (ps_shared_memory_write_variant (memory, PS_MUTEX_SIZE,
                                                 g_variant_new_string ("read me"), &error));
  mutex = ps_mutex_new_at (memory, 2 * PS_MUTEX_SIZE, &error);
  g_assert_no_error (error);

  fd = ps_shared_memory_dup_read_only_fd (memory, &error);
  g_assert_no_error (error);
  assert_cloexec (fd);
  g_assert_cmpint (fcntl (fd, F_GETFL) & O_ACCMODE, ==, O_RDONLY);
  g_assert_true (ps_shared_memory_is_guarded (memory));

  /* No writable mapping through it. */
  mapping = mmap (NULL, 64 + SEGMENT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  g_assert_true (mapping == MAP_FAILED);
  g_assert_cmpint (errno, ==, EACCES);

  /* Nor through reopening it. A memfd's write seal holds for every
   * descriptor of it: opening it read-write may succeed (as root, or as
   * its owner), but gives no write access. The fallback's object has mode
   * 0400: only root can reopen it for writing. */
  g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  reopened = open (path, O_RDWR | O_CLOEXEC);
  if (!fallback)
    {
      g_assert_cmpint (ps_platform_fd_get_seals (fd), ==, PS_FD_SEAL_WRITE);
      g_assert_cmpint (reopened, >=, 0);
      g_assert_cmpint (write (reopened, "x", 1), ==, -1);
      g_assert_cmpint (errno, ==, EPERM);
      g_assert_cmpint (pwrite (reopened, "x", 1, 100), ==, -1);
      g_assert_cmpint (errno, ==, EPERM);
      mapping = mmap (NULL, 64 + SEGMENT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, reopened, 0);
      g_assert_true (mapping == MAP_FAILED);
      g_assert_cmpint (errno, ==, EPERM);
      close (reopened);
    }
  else if (geteuid () != 0)
    {
      g_assert_cmpint (reopened, ==, -1);
      g_assert_cmpint (errno, ==, EACCES);
    }
  else if (reopened >= 0)
    close (reopened);

  reader = receive_in_process (fd);
  close (fd);
  g_assert_true (ps_shared_memory_is_read_only (reader));
  g_assert_false (ps_shared_memory_is_read_only (memory));
  assert_read_only_everywhere (reader);

  /* The writer keeps writing, and the reader sees it. */
  g_assert_true (ps_shared_memory_set_int64 (memory, 16, 99, &error));
  g_assert_cmpint (ps_shared_memory_get_int64 (reader, 16, &error), ==, 99);
  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);

  /* After a read-only descriptor, only read-only ones. */
  g_assert_cmpint (ps_shared_memory_dup_fd (memory, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_cmpint (ps_shared_memory_dup_fd (reader, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (ps_shared_memory_seal (reader, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);

  /* A reader passes on what it has: read-only. */
  handle = ps_shared_memory_to_handle (reader, list, &error);
  g_assert_no_error (error);
  reader2 = ps_shared_memory_new_from_handle (handle, list, &error);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_is_read_only (reader2));
  g_clear_object (&reader2);

  /* Sealing after the read-only descriptors works where seals exist;
   * its receivers need no guard. */
  if (fallback)
    {
      g_assert_false (ps_shared_memory_seal (memory, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      g_clear_error (&error);
    }
  else
    {
      g_assert_true (ps_shared_memory_seal (memory, &error));
      g_assert_no_error (error);
    }
  fd2 = ps_shared_memory_dup_read_only_fd (memory, &error);
  g_assert_no_error (error);
  if (!fallback)
    {
      /* Sealed, a reopened descriptor cannot even resize it. */
      g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd2);
      reopened = open (path, O_RDWR | O_CLOEXEC);
      g_assert_cmpint (reopened, >=, 0);
      g_assert_cmpint (ftruncate (reopened, 0), ==, -1);
      g_assert_cmpint (errno, ==, EPERM);
      close (reopened);
    }
  reader2 = receive_in_process (fd2);
  close (fd2);
  g_assert_true (ps_shared_memory_is_read_only (reader2));
  g_assert_cmpint (ps_shared_memory_is_guarded (reader2), ==, fallback);
  g_assert_cmpint (ps_shared_memory_get_int64 (reader2, 16, &error), ==, 99);
  g_assert_no_error (error);
}

/* Sealing first closes the way to read-only descriptors of a memfd: the
 * write seal cannot be added after F_SEAL_SEAL. */
static void
test_read_only_after_seal (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  int fd;

  if (using_fallback ())
    {
      g_test_skip ("The fallback has no seals");
      return;
    }
  g_assert_true (ps_shared_memory_seal (memory, &error));
  g_assert_cmpint (ps_shared_memory_dup_read_only_fd (memory, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  /* Writable descriptors still work. */
  fd = ps_shared_memory_dup_fd (memory, &error);
  g_assert_no_error (error);
  close (fd);
}

/* A read-only receiver in another process: reads, and fails to write. */
static int
read_only_receiver (gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_test_receive_segment (GPOINTER_TO_INT (data), &error);
  g_autoptr(PsMutex) mutex = NULL;

  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_shared_memory_is_read_only (memory));
  PS_CHILD_CHECK (ps_shared_memory_get_int64 (memory, 8, &error) == 77);
  PS_CHILD_CHECK (!ps_shared_memory_set_int64 (memory, 8, 78, &error));
  PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  mutex = ps_mutex_attach (memory, PS_MUTEX_SIZE, &error);
  PS_CHILD_CHECK (mutex == NULL);
  PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  return 0;
}

static void
test_read_only_across_processes (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;
  int sockets[2];
  pid_t pid;

  ps_test_socket_pair (sockets);
  pid = ps_test_fork (read_only_receiver, GINT_TO_POINTER (sockets[1]), ps_test_scaled_s (60));
  close (sockets[1]);

  memory = new_segment ();
  g_assert_true (ps_shared_memory_set_int64 (memory, 8, 77, &error));
  mutex = ps_mutex_new_at (memory, PS_MUTEX_SIZE, &error);
  g_assert_no_error (error);
  ps_test_send_segment (sockets[0], memory, TRUE);
  close (sockets[0]);
  ps_test_reap_ok (pid, ps_test_scaled_s (60));
  g_assert_cmpint (ps_shared_memory_get_int64 (memory, 8, &error), ==, 77);
}

static void
assert_refused (int          fd,
                GQuark       domain,
                int          code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new_from_fd (fd, &error);

  g_assert_null (memory);
  g_assert_error (error, domain, code);
}

/* A segment's descriptor, resized to @size bytes behind its back. */
static int
resized_segment_fd (goffset size)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  int fd = ps_shared_memory_dup_fd (memory, &error);

  g_assert_no_error (error);
  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  return fd;
}

static gboolean
is_on_tmpfs (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInfo) info = g_file_query_filesystem_info (file, G_FILE_ATTRIBUTE_FILESYSTEM_TYPE,
                                                            NULL, NULL);

  return info != NULL &&
         g_strcmp0 (g_file_info_get_attribute_string (info, G_FILE_ATTRIBUTE_FILESYSTEM_TYPE),
                    "tmpfs") == 0;
}

/* Whatever is not a whole segment is refused, each with its own error. */
static void
test_bad_descriptors (void)
{
  g_autofree char *name = ps_test_unique_name ("fd-mutex");
  g_autofree char *path = ps_test_dev_shm_path (name);
  g_autoptr(PsMutex) named = NULL;
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  char fd_path[64];
  int pipe_fds[2], sockets[2];
  int fd, closed, directory, device, file, write_only;

  /* Closed, or never open. */
  closed = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  close (closed);
  assert_refused (closed, G_IO_ERROR, G_IO_ERROR_CLOSED);
  assert_refused (100000, G_IO_ERROR, G_IO_ERROR_CLOSED);

  /* Not files. */
  g_assert_cmpint (pipe (pipe_fds), ==, 0);
  assert_refused (pipe_fds[0], G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  assert_refused (pipe_fds[1], G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  close (pipe_fds[0]);
  close (pipe_fds[1]);
  ps_test_socket_pair (sockets);
  assert_refused (sockets[0], G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  close (sockets[0]);
  close (sockets[1]);
  directory = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_refused (directory, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY);
  close (directory);
  device = open ("/dev/null", O_RDWR | O_CLOEXEC);
  assert_refused (device, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  close (device);

  /* A file on disk is not shared memory. */
  file = open (ps_test_self_exe (), O_RDONLY | O_CLOEXEC);
  assert_refused (file, is_on_tmpfs (ps_test_self_exe ()) ? PS_ERROR : G_IO_ERROR,
                  is_on_tmpfs (ps_test_self_exe ()) ? PS_ERROR_CORRUPT : G_IO_ERROR_NOT_SUPPORTED);
  close (file);

  /* Too small for a header, empty, or not the size its header says. */
  fd = resized_segment_fd (32);
  assert_refused (fd, PS_ERROR, PS_ERROR_CORRUPT);
  close (fd);
  fd = resized_segment_fd (0);
  assert_refused (fd, PS_ERROR, PS_ERROR_CORRUPT);
  close (fd);
  fd = resized_segment_fd (64 + SEGMENT_SIZE - 1);
  assert_refused (fd, PS_ERROR, PS_ERROR_CORRUPT);
  close (fd);
  fd = resized_segment_fd (64 + 2 * SEGMENT_SIZE);
  assert_refused (fd, PS_ERROR, PS_ERROR_CORRUPT);
  close (fd);

  /* Shrunk, then sealed so: still refused. */
  if (!using_fallback ())
    {
      fd = ps_shared_memory_dup_fd (memory, &error);
      g_assert_no_error (error);
      g_assert_cmpint (ftruncate (fd, 48), ==, 0);
      g_assert_true (ps_shared_memory_seal (memory, &error));
      g_assert_no_error (error);
      assert_refused (fd, PS_ERROR, PS_ERROR_CORRUPT);
      close (fd);
    }

  /* Not (yet) a segment: an unpublished header. */
  fd = resized_segment_fd (64 + SEGMENT_SIZE);
  g_assert_cmpint (pwrite (fd, "\0\0\0\0\0\0\0\0\0\0\0\0", 12, 0), ==, 12);
  assert_refused (fd, PS_ERROR, PS_ERROR_CORRUPT);
  close (fd);

  /* Another kind of object. */
  named = ps_mutex_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_assert_no_error (error);
  file = open (path, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (file, >=, 0);
  ps_unlink (name, NULL);
  assert_refused (file, PS_ERROR, PS_ERROR_WRONG_TYPE);
  close (file);

  /* Open for writing only. */
  g_clear_object (&memory);
  memory = new_segment ();
  fd = ps_shared_memory_dup_fd (memory, &error);
  g_assert_no_error (error);
  g_snprintf (fd_path, sizeof fd_path, "/proc/self/fd/%d", fd);
  write_only = open (fd_path, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (write_only, >=, 0);
  assert_refused (write_only, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  close (write_only);
  close (fd);
}

int
main (int argc, char *argv[])
{
  static const FdCase cases[] = {
    { "round-trip", test_round_trip, FALSE },
    { "handle", test_handle, FALSE },
    { "placed-across-processes", test_placed_across_processes, FALSE },
    { "seal", test_seal, FALSE },
    { "truncated-unsealed", test_truncated_unsealed, FALSE },
    { "read-only", test_read_only, FALSE },
    { "read-only-after-seal", test_read_only_after_seal, FALSE },
    { "read-only-across-processes", test_read_only_across_processes, FALSE },
    { "bad-descriptors", test_bad_descriptors, FALSE },
  };

  static FdCase both[2 * G_N_ELEMENTS (cases)];

  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/shared-memory-fd/named-has-none", test_named_has_none);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint fallback = 0; fallback < 2; fallback++)
      {
        FdCase *fd_case = &both[2 * i + fallback];
        g_autofree char *path = g_strdup_printf ("/shared-memory-fd/%s/%s",
                                                 fallback ? "fallback" : "memfd",
                                                 cases[i].path);

        *fd_case = cases[i];
        fd_case->fallback = fallback;
        ps_test_add_data (path, run_case, fd_case);
      }

  return g_test_run ();
}
