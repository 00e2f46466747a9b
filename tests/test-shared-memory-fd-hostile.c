/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Descriptors under stress: no descriptor leaks over 100,000 cycles,
 * every descriptor the library makes is close-on-exec, and a hostile
 * sender that truncates or scribbles over an unsealed segment while the
 * receiver waits on a primitive in it crashes nothing and leaves every
 * wait bounded.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ps-test-fd.h"
#include "ps-platform-fd-private.h"

#define SEGMENT_SIZE (2 * PS_MUTEX_SIZE)
#define CYCLES 100000

/* 100,000 segments made, shared, received and dropped: the descriptor
 * count comes back exactly. */
static void
test_no_leak (void)
{
  g_autoptr(GError) error = NULL;
  int before = ps_test_count_descriptors ();
  gint64 start = g_get_monotonic_time ();

  if (before < 0)
    {
      g_test_skip ("No /proc/self/fd to count descriptors with");
      return;
    }

  for (guint i = 0; i < CYCLES; i++)
    {
      g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (64, &error);
      g_autoptr(PsSharedMemory) received = NULL;
      int fd;

      g_assert_no_error (error);
      fd = i % 2 == 0 ? ps_shared_memory_dup_fd (memory, &error)
                      : ps_shared_memory_dup_read_only_fd (memory, &error);
      g_assert_no_error (error);
      if (i % 10 == 0)
        {
          received = ps_shared_memory_new_from_fd (fd, &error);
          g_assert_no_error (error);
        }
      g_assert_cmpint (close (fd), ==, 0);
    }

  g_assert_cmpint (ps_test_count_descriptors (), ==, before);
  g_test_message ("%d cycles in %.1f s", CYCLES,
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);

  /* A refused descriptor costs none either. */
  for (guint i = 0; i < 1000; i++)
    {
      int pipe_fds[2];

      g_assert_cmpint (pipe (pipe_fds), ==, 0);
      g_assert_null (ps_shared_memory_new_from_fd (pipe_fds[0], &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
      g_clear_error (&error);
      close (pipe_fds[0]);
      close (pipe_fds[1]);
    }
  g_assert_cmpint (ps_test_count_descriptors (), ==, before);
}

static gboolean
was_open (const GPtrArray *names,
          const char      *name)
{
  for (guint i = 0; i < names->len; i++)
    if (g_str_equal (g_ptr_array_index (names, i), name))
      return TRUE;
  return FALSE;
}

/* The descriptors open now, without the listing's own. */
static GPtrArray *
list_descriptors (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  guint i = 0;

  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_dir_close (dir);
  while (i < names->len)
    if (fcntl (atoi (g_ptr_array_index (names, i)), F_GETFD) < 0)
      g_ptr_array_remove_index (names, i);
    else
      i++;
  return names;
}

/* Every descriptor the library opens is close-on-exec: a segment's own
 * (memfd, fallback and its twin, a receiver's duplicate) and those it
 * hands out (writable, read-only, in a GUnixFDList). */
static void
test_close_on_exec (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) before = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autoptr(PsSharedMemory) memfd_segment = NULL;
  g_autoptr(PsSharedMemory) fallback_segment = NULL;
  g_autoptr(PsSharedMemory) received = NULL;
  g_autoptr(PsSharedMemory) reader = NULL;
  g_autoptr(GUnixFDList) list = g_unix_fd_list_new ();
  g_autoptr(GVariant) handle = NULL;
  int fds[4];
  guint checked = 0;

  if (!g_file_test ("/proc/self/fd", G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("No /proc/self/fd to list descriptors with");
      return;
    }
  before = list_descriptors ();

  memfd_segment = ps_shared_memory_new (64, &error);
  g_assert_no_error (error);
  ps_platform_fd_set_memfd_disabled (TRUE);
  fallback_segment = ps_shared_memory_new (64, &error);
  ps_platform_fd_set_memfd_disabled (FALSE);
  g_assert_no_error (error);
  fds[0] = ps_shared_memory_dup_fd (memfd_segment, &error);
  g_assert_no_error (error);
  received = ps_shared_memory_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  fds[1] = ps_shared_memory_dup_fd (fallback_segment, &error);
  g_assert_no_error (error);
  fds[2] = ps_shared_memory_dup_read_only_fd (memfd_segment, &error);
  g_assert_no_error (error);
  reader = ps_shared_memory_new_from_fd (fds[2], &error);
  g_assert_no_error (error);
  handle = ps_shared_memory_to_handle (received, list, &error);
  g_assert_null (handle);   /* the memory is write-sealed since fds[2] */
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  handle = ps_shared_memory_to_handle (fallback_segment, list, &error);
  g_assert_no_error (error);
  fds[3] = ps_shared_memory_dup_read_only_fd (fallback_segment, &error);
  g_assert_no_error (error);

  after = list_descriptors ();
  for (guint i = 0; i < after->len; i++)
    {
      const char *name = g_ptr_array_index (after, i);
      int fd = atoi (name);

      if (was_open (before, name))
        continue;
      g_assert_cmpint (fcntl (fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
      checked++;
    }
  /* memfd, received dup, fallback + twin, reader's dup, 4 handed out,
   * the list's. */
  g_assert_cmpuint (checked, ==, 10);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
}

typedef enum
{
  HOSTILE_TRUNCATE,
  HOSTILE_SCRIBBLE,
} HostileAct;

typedef struct
{
  int        socket;
  HostileAct act;
  gboolean   on_mutex;
} HostileCase;

#define WAIT_US (ps_test_scaled_us (2 * G_USEC_PER_SEC))

/* The receiver: waits on the semaphore (or the mutex, which a helper of
 * the sender holds) at offset 0 while the sender attacks the segment. Its
 * wait must end by its timeout, with the outcome the sender's act allows. */
static int
waiting_receiver (gpointer data)
{
  const HostileCase *hostile = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_test_receive_segment (hostile->socket, &error);
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  gint64 start, elapsed;
  gboolean acquired;

  PS_CHILD_CHECK_NO_ERROR (error);
  if (hostile->on_mutex)
    mutex = ps_mutex_attach (memory, 0, &error);
  else
    semaphore = ps_semaphore_attach (memory, 0, &error);
  PS_CHILD_CHECK_NO_ERROR (error);

  start = g_get_monotonic_time ();
  if (hostile->on_mutex)
    acquired = ps_mutex_lock (mutex, WAIT_US, NULL, &error);
  else
    acquired = ps_semaphore_acquire (semaphore, WAIT_US, NULL, &error);
  elapsed = g_get_monotonic_time () - start;

  g_test_message ("act %d on a %s: acquired %d after %" G_GINT64_FORMAT " us (%s)",
                  hostile->act, hostile->on_mutex ? "mutex" : "semaphore", acquired, elapsed,
                  error != NULL ? error->message : "no error");
  /* Bounded: by the timeout, give or take a loaded machine. */
  PS_CHILD_CHECK (elapsed < WAIT_US + ps_test_scaled_us (5 * G_USEC_PER_SEC));

  if (!hostile->on_mutex)
    {
      /* Nobody wakes a semaphore that was truncated or scribbled over:
       * the wait ends with its timeout, on every backend. */
      PS_CHILD_CHECK (!acquired);
      PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      PS_CHILD_CHECK (elapsed >= WAIT_US);
    }
  else if (!acquired)
    {
      /* What a lock word of zeros or of garbage gives depends on the
       * backend: refused as corrupt, taken from a holder that looks dead,
       * or waited for until the timeout. */
      PS_CHILD_CHECK (g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT) ||
                      g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD) ||
                      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
    }
  g_clear_error (&error);

  /* A truncated segment lost its backing in the receiver too (once
   * touched): its accessors say so. */
  if (hostile->act == HOSTILE_TRUNCATE)
    {
      PS_CHILD_CHECK (ps_shared_memory_get_int32 (memory, 0, &error) == 0);
      PS_CHILD_CHECK_ERROR (error, PS_ERROR, PS_ERROR_CORRUPT);
    }
  return 0;
}

/* Holds the mutex at offset 0 for the receiver to wait on, until killed:
 * a holder of this process would pin the segment for good once the
 * mutex's state is lost (see ps_mutex_finalize()). */
static int
hold_until_killed (gpointer data)
{
  PsSharedMemory *memory = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = ps_mutex_attach (memory, 0, &error);
  g_autoptr(PsSemaphore) held = ps_semaphore_attach (memory, PS_MUTEX_SIZE, &error);

  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_mutex_lock (mutex, 0, NULL, &error));
  PS_CHILD_CHECK (ps_semaphore_release (held, &error));
  g_usleep (ps_test_scaled_us (120 * G_USEC_PER_SEC));
  return 1;
}

static void
run_hostile (gconstpointer data)
{
  HostileCase hostile = *(const HostileCase *) data;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) held = NULL;
  g_autoptr(GError) error = NULL;
  int sockets[2], fd;
  pid_t pid, holder = 0;

  ps_test_socket_pair (sockets);
  hostile.socket = sockets[1];
  pid = ps_test_fork (waiting_receiver, &hostile, ps_test_scaled_s (60));
  close (sockets[1]);

  memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_assert_no_error (error);
  if (hostile.on_mutex)
    {
      mutex = ps_mutex_new_at (memory, 0, &error);
      g_assert_no_error (error);
      held = ps_semaphore_new_at (memory, PS_MUTEX_SIZE, 0, &error);
      g_assert_no_error (error);
      holder = ps_test_fork (hold_until_killed, memory, ps_test_scaled_s (180));
      g_assert_true (ps_semaphore_acquire (held, ps_test_scaled_us (30 * G_USEC_PER_SEC),
                                           NULL, &error));
    }
  else
    semaphore = ps_semaphore_new_at (memory, 0, 0, &error);
  g_assert_no_error (error);
  fd = ps_shared_memory_dup_fd (memory, &error);
  g_assert_no_error (error);
  ps_test_send_segment (sockets[0], memory, FALSE);
  close (sockets[0]);

  ps_test_wait_until_blocked (pid, pid);
  if (hostile.act == HOSTILE_TRUNCATE)
    g_assert_cmpint (ftruncate (fd, 0), ==, 0);
  else
    memset (ps_shared_memory_get_data (memory), 0xa5, PS_MUTEX_SIZE);
  close (fd);

  ps_test_reap_ok (pid, ps_test_scaled_s (60));
  if (holder != 0)
    {
      kill (holder, SIGKILL);
      ps_test_reap_killed (holder);
    }
  /* The sender's own mapping lost its backing too. */
  if (hostile.act == HOSTILE_TRUNCATE)
    {
      g_assert_cmpint (ps_shared_memory_get_int32 (memory, 0, &error), ==, 0);
      g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
    }
}

int
main (int argc, char *argv[])
{
  static const HostileCase cases[] = {
    { -1, HOSTILE_TRUNCATE, FALSE },
    { -1, HOSTILE_SCRIBBLE, FALSE },
    { -1, HOSTILE_TRUNCATE, TRUE },
    { -1, HOSTILE_SCRIBBLE, TRUE },
  };

  ps_test_init (&argc, &argv, NULL);

  ps_test_add_timed ("/shared-memory-fd/no-leak", test_no_leak, 300);
  ps_test_add ("/shared-memory-fd/close-on-exec", test_close_on_exec);
  ps_test_add_data ("/shared-memory-fd/hostile/truncate-semaphore", run_hostile, &cases[0]);
  ps_test_add_data ("/shared-memory-fd/hostile/scribble-semaphore", run_hostile, &cases[1]);
  ps_test_add_data ("/shared-memory-fd/hostile/truncate-mutex", run_hostile, &cases[2]);
  ps_test_add_data ("/shared-memory-fd/hostile/scribble-mutex", run_hostile, &cases[3]);

  return g_test_run ();
}
