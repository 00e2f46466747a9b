/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The sandbox case: a receiver in its own mount namespace with a private,
 * empty /dev/shm, as Flatpak gives each app. Named objects of the host
 * are not found there; a segment passed by descriptor, and the mutexes
 * and semaphores in it, work both ways, owner-death recovery included:
 * a host process dies holding a mutex and the sandbox recovers it, and
 * the other way round. Needs the right to unshare the mount namespace
 * (root, CAP_SYS_ADMIN); skipped, saying why, elsewhere.
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "ps-test-fd.h"
#include "ps-platform-fd-private.h"

#define SLOT(i)        ((gsize) (i) * PS_MUTEX_SIZE)
#define HOST_MUTEX     SLOT (0)   /* a host process dies holding it */
#define SANDBOX_MUTEX  SLOT (1)   /* the sandboxed process dies holding it */
#define GO             SLOT (2)   /* host -> sandbox */
#define HELD           SLOT (3)   /* holder -> host */
#define DATA           SLOT (4)
#define SEGMENT_SIZE   SLOT (5)

#define WAIT_US        ps_test_scaled_us (30 * G_USEC_PER_SEC)

typedef struct
{
  int   socket;
  char *name;   /* a named semaphore of the host */
} Sandbox;

/* Makes this process's /dev/shm a private, empty tmpfs in a mount
 * namespace of its own; FALSE, with errno, where it may not. */
static gboolean
enter_sandbox_sized (const char *size)
{
  g_autofree char *options = g_strdup_printf ("mode=1777,size=%s", size);

  if (unshare (CLONE_NEWNS) != 0)
    return FALSE;
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return FALSE;
  return mount ("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, options) == 0;
}

static gboolean
enter_sandbox (void)
{
  return enter_sandbox_sized ("1m");
}

static int
probe_child (gpointer data)
{
  return enter_sandbox () ? 0 : errno;
}

static int
count_dev_shm (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/dev/shm", 0, NULL);
  int count = 0;

  if (dir == NULL)
    return -1;
  while (g_dir_read_name (dir) != NULL)
    count++;
  return count;
}

static int
sandboxed (gpointer data)
{
  Sandbox *sandbox = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) named = NULL;
  g_autoptr(PsSharedMemory) named_memory = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) host_mutex = NULL;
  g_autoptr(PsMutex) sandbox_mutex = NULL;
  g_autoptr(PsSemaphore) go = NULL;

  PS_CHILD_CHECK (enter_sandbox ());
  PS_CHILD_CHECK (count_dev_shm () == 0);

  /* The host's names are not here. */
  named = ps_semaphore_open (sandbox->name, PS_OPEN_NONE, 0, &error);
  PS_CHILD_CHECK (named == NULL);
  PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  named_memory = ps_shared_memory_open (sandbox->name, PS_OPEN_NONE, 0, &error);
  PS_CHILD_CHECK (named_memory == NULL);
  PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Its descriptor gets through. */
  memory = ps_test_receive_segment (sandbox->socket, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  host_mutex = ps_mutex_attach (memory, HOST_MUTEX, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  sandbox_mutex = ps_mutex_attach (memory, SANDBOX_MUTEX, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  go = ps_semaphore_attach (memory, GO, &error);
  PS_CHILD_CHECK_NO_ERROR (error);

  /* A host process died holding host_mutex: recovered here. */
  PS_CHILD_CHECK (ps_semaphore_acquire (go, WAIT_US, NULL, &error));
  PS_CHILD_CHECK (ps_shared_memory_get_int64 (memory, DATA, NULL) == 11);
  PS_CHILD_CHECK (!ps_mutex_lock (host_mutex, WAIT_US, NULL, &error));
  PS_CHILD_CHECK_ERROR (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);
  PS_CHILD_CHECK (ps_shared_memory_set_int64 (memory, DATA, 22, NULL));
  PS_CHILD_CHECK (ps_mutex_mark_consistent (host_mutex, &error));
  PS_CHILD_CHECK (ps_mutex_unlock (host_mutex, &error));

  /* Now die holding sandbox_mutex, for the host to recover. */
  PS_CHILD_CHECK (ps_mutex_lock (sandbox_mutex, WAIT_US, NULL, &error));
  PS_CHILD_CHECK (ps_semaphore_release (go, &error));
  kill (getpid (), SIGKILL);
  return 1;
}

static int
host_holder (gpointer data)
{
  PsSharedMemory *memory = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = ps_mutex_attach (memory, HOST_MUTEX, &error);
  g_autoptr(PsSemaphore) held = ps_semaphore_attach (memory, HELD, &error);

  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_mutex_lock (mutex, WAIT_US, NULL, &error));
  PS_CHILD_CHECK (ps_semaphore_release (held, &error));
  kill (getpid (), SIGKILL);
  return 1;
}

/* A full /dev/shm: a segment over the fallback's POSIX object (which
 * lives there) fails to be made, NO_SPACE, rather than SIGBUS later; a
 * memfd does not live there and is not limited by it. */
static int
full_dev_shm_child (gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;

  PS_CHILD_CHECK (enter_sandbox_sized ("64k"));
  ps_platform_fd_set_memfd_disabled (TRUE);
  memory = ps_shared_memory_new (1024 * 1024, &error);
  PS_CHILD_CHECK (memory == NULL);
  PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_clear_error (&error);
  PS_CHILD_CHECK (count_dev_shm () == 0);   /* nothing left behind */

  ps_platform_fd_set_memfd_disabled (FALSE);
  memory = ps_shared_memory_new (1024 * 1024, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_shared_memory_set_int64 (memory, 1024 * 1024 - 8, 1, &error));
  return 0;
}

static gboolean
may_unshare (void)
{
  int status = ps_test_reap (ps_test_fork (probe_child, NULL, ps_test_scaled_s (20)),
                             ps_test_scaled_s (20));

  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      g_autofree char *reason =
        g_strdup_printf ("Cannot make a private /dev/shm in a mount namespace here "
                         "(unshare(CLONE_NEWNS) and mount need root or CAP_SYS_ADMIN): %s",
                         WIFEXITED (status) ? g_strerror (WEXITSTATUS (status)) : "killed");
      g_printerr ("%s\n", reason);
      g_test_skip (reason);
      return FALSE;
    }
  return TRUE;
}

static void
test_full_dev_shm (void)
{
  if (may_unshare ())
    ps_test_reap_ok (ps_test_fork (full_dev_shm_child, NULL, ps_test_scaled_s (60)),
                     ps_test_scaled_s (60));
}

static void
test_sandbox (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) named = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) host_mutex = NULL;
  g_autoptr(PsMutex) sandbox_mutex = NULL;
  g_autoptr(PsSemaphore) go = NULL;
  g_autoptr(PsSemaphore) held = NULL;
  Sandbox sandbox;
  int sockets[2];
  pid_t pid, holder;

  if (!may_unshare ())
    return;

  sandbox.name = ps_test_unique_name ("sandbox");
  named = ps_semaphore_open (sandbox.name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 0, &error);
  g_assert_no_error (error);

  ps_test_socket_pair (sockets);
  sandbox.socket = sockets[1];
  pid = ps_test_fork (sandboxed, &sandbox, ps_test_scaled_s (60));
  close (sockets[1]);

  memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_assert_no_error (error);
  host_mutex = ps_mutex_new_at (memory, HOST_MUTEX, &error);
  g_assert_no_error (error);
  sandbox_mutex = ps_mutex_new_at (memory, SANDBOX_MUTEX, &error);
  g_assert_no_error (error);
  go = ps_semaphore_new_at (memory, GO, 0, &error);
  g_assert_no_error (error);
  held = ps_semaphore_new_at (memory, HELD, 0, &error);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_seal (memory, &error));
  g_assert_no_error (error);
  ps_test_send_segment (sockets[0], memory, FALSE);
  close (sockets[0]);

  /* A host process dies holding host_mutex... */
  holder = ps_test_fork (host_holder, memory, ps_test_scaled_s (60));
  g_assert_true (ps_semaphore_acquire (held, WAIT_US, NULL, &error));
  g_assert_no_error (error);
  ps_test_reap_killed (holder);
  g_assert_true (ps_shared_memory_set_int64 (memory, DATA, 11, &error));
  g_assert_true (ps_semaphore_release (go, &error));
  /* ...the sandbox recovers it, then dies holding sandbox_mutex. */
  ps_test_reap_killed (pid);
  g_assert_true (ps_semaphore_acquire (go, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_shared_memory_get_int64 (memory, DATA, &error), ==, 22);

  g_assert_false (ps_mutex_lock (sandbox_mutex, WAIT_US, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);
  g_assert_cmpint (ps_mutex_get_previous_owner_pid (sandbox_mutex), ==, pid);
  g_assert_true (ps_mutex_mark_consistent (sandbox_mutex, &error));
  g_assert_true (ps_mutex_unlock (sandbox_mutex, &error));
  g_assert_true (ps_mutex_lock (host_mutex, 0, NULL, &error));   /* consistent again */
  g_assert_true (ps_mutex_unlock (host_mutex, &error));
  g_assert_no_error (error);

  ps_unlink (sandbox.name, NULL);
  g_free (sandbox.name);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/shared-memory-fd/sandbox", test_sandbox);
  ps_test_add ("/shared-memory-fd/full-dev-shm", test_full_dev_shm);

  return g_test_run ();
}
