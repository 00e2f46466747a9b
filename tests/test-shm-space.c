/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * A full or too small /dev/shm never loses data silently.
 *
 * Each case runs in a child that enters a mount namespace of its own
 * (unshare(CLONE_NEWNS), / made private) and mounts a small tmpfs on
 * /dev/shm there, so that it can fill it without touching the machine's.
 * Where that is refused (not root, no CAP_SYS_ADMIN, a seccomp profile),
 * the cases are skipped with the reason.
 *
 * The checks inside the child print what failed to stderr and exit with
 * a non-zero status; the parent turns that, or a death by a signal (the
 * SIGBUS of an unreserved page), into a failed test.
 */

#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "ps-test-util.h"

#define SKIP_STATUS 77
#define KIB ((gsize) 1024)
#define MIB (KIB * KIB)
#define PAGE ((gsize) 4096)

typedef int (*ScenarioFunc) (void);

typedef struct
{
  gsize        dev_shm_size;
  ScenarioFunc func;
} Scenario;

/* Private mount namespace, small tmpfs on /dev/shm: 0, or the errno of
 * the step the system refused. */
static int
enter_small_dev_shm (gsize        size,
                     const char **step)
{
  g_autofree char *options = g_strdup_printf ("size=%" G_GSIZE_FORMAT ",mode=1777", size);

  *step = "unshare(CLONE_NEWNS)";
  if (unshare (CLONE_NEWNS) != 0)
    return errno;
  *step = "making / private";
  if (mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
    return errno;
  *step = "mounting a tmpfs on /dev/shm";
  if (mount ("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, options) != 0)
    return errno;
  return 0;
}

static int
scenario_child (gpointer data)
{
  const Scenario *scenario = data;
  const char *step = NULL;
  int saved_errno = enter_small_dev_shm (scenario->dev_shm_size, &step);

  if (saved_errno != 0)
    {
      g_printerr ("%s: %s\n", step, g_strerror (saved_errno));
      return SKIP_STATUS;
    }
  return scenario->func ();
}

static void
run_scenario (gconstpointer data)
{
  pid_t pid = ps_test_fork (scenario_child, (gpointer) data, ps_test_scaled_s (60));
  int status = ps_test_reap (pid, ps_test_scaled_s (90));

  if (WIFEXITED (status) && WEXITSTATUS (status) == SKIP_STATUS)
    g_test_skip ("no private tmpfs on /dev/shm here (needs root, or CAP_SYS_ADMIN, "
                 "and unshare(CLONE_NEWNS); see the reason above)");
  else if (WIFSIGNALED (status))
    g_test_fail_printf ("the process using the small /dev/shm died of signal %d (%s)",
                        WTERMSIG (status), g_strsignal (WTERMSIG (status)));
  else if (WEXITSTATUS (status) != 0)
    g_test_fail_printf ("a check failed in the process using the small /dev/shm "
                        "(exit status %d, see above)", WEXITSTATUS (status));
}

/* Fills /dev/shm to the last block with a file of its own; its
 * descriptor. */
static int
fill_dev_shm (void)
{
  static const char block[4096] = { 1, };
  int fd = open ("/dev/shm/filler", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  for (;;)
    {
      ssize_t n = write (fd, block, sizeof block);

      if (n <= 0)
        {
          g_assert_cmpint (errno, ==, ENOSPC);
          return fd;
        }
    }
}

static void
empty_dev_shm (int filler)
{
  close (filler);
  g_assert_cmpint (unlink ("/dev/shm/filler"), ==, 0);
}

static guint64
dev_shm_free_bytes (void)
{
  struct statvfs st;

  g_assert_cmpint (statvfs ("/dev/shm", &st), ==, 0);
  return (guint64) st.f_bfree * st.f_frsize;
}

/* (a) Creating any named object on a full /dev/shm: NO_SPACE, nothing
 * left behind (the name is free), and the name works once there is room.
 * It used to die of SIGBUS writing the header, leaving a blank file that
 * every later open or create refused as corrupt. */
static int
scenario_create_on_full (void)
{
  char *names[PS_TEST_N_KINDS];
  int filler = fill_dev_shm ();

  for (int kind = 0; kind < PS_TEST_N_KINDS; kind++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GObject) object = NULL;
      g_autoptr(GObject) opened = NULL;
      g_autofree char *path = NULL;

      names[kind] = ps_test_unique_name ("space-full");
      path = ps_test_dev_shm_path (names[kind]);
      object = ps_test_create_named (kind, names[kind], 64 * KIB, 1, &error);
      PS_CHILD_CHECK (object == NULL);
      PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
      PS_CHILD_CHECK (!g_file_test (path, G_FILE_TEST_EXISTS));
      g_clear_error (&error);

      opened = ps_test_open_named (kind, names[kind], PS_OPEN_NONE, 0, 0, &error);
      PS_CHILD_CHECK (opened == NULL);
      PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    }

  empty_dev_shm (filler);
  for (int kind = 0; kind < PS_TEST_N_KINDS; kind++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GObject) object = ps_test_create_named (kind, names[kind], 64 * KIB, 1, &error);

      PS_CHILD_CHECK_NO_ERROR (error);
      PS_CHILD_CHECK (object != NULL);
      PS_CHILD_CHECK (ps_unlink (names[kind], &error));
      g_free (names[kind]);
    }
  return 0;
}

/* Marks the first 8 bytes of every page of @memory with its number + 1. */
static gboolean
mark_pages (PsSharedMemory *memory,
            GError        **error)
{
  gsize size = ps_shared_memory_get_size (memory);

  for (gsize offset = 0; offset + 8 <= size; offset += PAGE)
    if (!ps_shared_memory_set_int64 (memory, offset, (gint64) (offset / PAGE + 1), error))
      return FALSE;
  return TRUE;
}

/* How many pages of @memory do not read back their mark. */
static guint
count_wrong_pages (PsSharedMemory *memory)
{
  gsize size = ps_shared_memory_get_size (memory);
  guint wrong = 0;

  for (gsize offset = 0; offset + 8 <= size; offset += PAGE)
    {
      g_autoptr(GError) error = NULL;

      if (ps_shared_memory_get_int64 (memory, offset, &error) != (gint64) (offset / PAGE + 1))
        wrong++;
    }
  return wrong;
}

static int
check_marks_by_name (gpointer data)
{
  const char *name = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);

  PS_CHILD_CHECK_NO_ERROR (error);
  if (count_wrong_pages (memory) != 0)
    {
      g_printerr ("another process sees %u wrong pages\n", count_wrong_pages (memory));
      return 1;
    }
  return 0;
}

/* (b) Writing to pages of a named segment never written before, once
 * /dev/shm is full: the writes land, earlier data stays, and another
 * process sees all of it. It used to "succeed" into private zeros that
 * replaced everything this process had written. */
static int
scenario_write_on_full (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("space-write");
  g_autoptr(PsSharedMemory) memory = NULL;
  int filler;

  memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 256 * KIB, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_shared_memory_set_int64 (memory, 0, 1, &error));

  filler = fill_dev_shm ();
  PS_CHILD_CHECK (mark_pages (memory, &error));
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (count_wrong_pages (memory) == 0);
  ps_test_reap_ok (ps_test_fork (check_marks_by_name, name, ps_test_scaled_s (30)),
                   ps_test_scaled_s (40));

  empty_dev_shm (filler);
  PS_CHILD_CHECK (ps_unlink (name, &error));
  return 0;
}

/* (c) A segment larger than /dev/shm (100 MiB in Docker's 64 MiB, here
 * 2 MiB in 1 MiB) is refused with NO_SPACE and leaves nothing behind; one
 * that fits is reserved in full when it is made. It used to be created,
 * and most of its pages then read back wrong. Anonymous segments do not
 * live in /dev/shm at all (the kernel's internal tmpfs): they are not
 * limited by its size. */
static int
scenario_larger_than_dev_shm (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("space-large");
  g_autofree char *path = ps_test_dev_shm_path (name);
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSharedMemory) fits = NULL;
  g_autoptr(PsSharedMemory) anonymous = NULL;
  guint64 free_before;

  memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 2 * MIB, &error);
  if (memory != NULL)
    {
      guint wrong;

      mark_pages (memory, NULL);
      wrong = count_wrong_pages (memory);
      g_printerr ("a 2 MiB segment was created in a 1 MiB /dev/shm; "
                  "%u of %" G_GSIZE_FORMAT " pages read back wrong\n",
                  wrong, 2 * MIB / PAGE);
      return 1;
    }
  PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  PS_CHILD_CHECK (!g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* What fits is taken from /dev/shm at once, not page by page later. */
  free_before = dev_shm_free_bytes ();
  fits = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 512 * KIB, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (free_before - dev_shm_free_bytes () >= 512 * KIB);
  PS_CHILD_CHECK (mark_pages (fits, &error));
  PS_CHILD_CHECK (count_wrong_pages (fits) == 0);
  PS_CHILD_CHECK (ps_unlink (name, &error));

  anonymous = ps_shared_memory_new (2 * MIB, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (mark_pages (anonymous, &error));
  PS_CHILD_CHECK (count_wrong_pages (anonymous) == 0);
  return 0;
}

#define MUTEX_OFFSET (256 * KIB - PAGE)

/* Locks a mutex placed on a page of the segment no one wrote yet, unlocks
 * it, locks it again and dies holding it. */
static int
lock_placed_and_die (gpointer data)
{
  const char *name = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
  g_autoptr(PsMutex) mutex = NULL;

  PS_CHILD_CHECK_NO_ERROR (error);
  mutex = ps_mutex_new_at (memory, MUTEX_OFFSET, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  PS_CHILD_CHECK (ps_mutex_unlock (mutex, &error));
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  _exit (0);
}

/* (d) A mutex placed in a named segment, on /dev/shm full: its holder can
 * unlock it, and when a holder dies the next locker gets the lock with
 * OWNER_DEAD. It used to be CORRUPT for its holder, and lost for everyone
 * once the holder was gone. */
static int
scenario_mutex_on_full (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("space-mutex");
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  int filler;

  memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 256 * KIB, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  filler = fill_dev_shm ();

  ps_test_reap_ok (ps_test_fork (lock_placed_and_die, name, ps_test_scaled_s (30)),
                   ps_test_scaled_s (40));

  mutex = ps_mutex_attach (memory, MUTEX_OFFSET, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (!ps_mutex_lock (mutex, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, &error));
  PS_CHILD_CHECK_ERROR (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);
  PS_CHILD_CHECK (ps_mutex_mark_consistent (mutex, &error));
  PS_CHILD_CHECK (ps_mutex_unlock (mutex, &error));
  PS_CHILD_CHECK (ps_mutex_lock (mutex, 0, NULL, &error));
  PS_CHILD_CHECK (ps_mutex_unlock (mutex, &error));
  PS_CHILD_CHECK_NO_ERROR (error);

  empty_dev_shm (filler);
  PS_CHILD_CHECK (ps_unlink (name, &error));
  return 0;
}

static const Scenario create_on_full = { 1 * MIB, scenario_create_on_full };
static const Scenario write_on_full = { 1 * MIB, scenario_write_on_full };
static const Scenario larger_than_dev_shm = { 1 * MIB, scenario_larger_than_dev_shm };
static const Scenario mutex_on_full = { 1 * MIB, scenario_mutex_on_full };

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add_data ("/shm-space/create-on-full", run_scenario, &create_on_full);
  ps_test_add_data ("/shm-space/write-on-full", run_scenario, &write_on_full);
  ps_test_add_data ("/shm-space/larger-than-dev-shm", run_scenario, &larger_than_dev_shm);
  ps_test_add_data ("/shm-space/mutex-on-full", run_scenario, &mutex_on_full);

  return g_test_run ();
}
