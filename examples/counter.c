/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * counter: two forked processes increment one counter under a PsMutex.
 *
 * The mutex lives in the same PsSharedMemory as the counter it guards, so
 * one segment holds both. Each child does a read-modify-write N times;
 * without the lock increments would be lost, with it the total is exact.
 * Exits non-zero if it is not.
 */

#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

#define N_PROCESSES     2
#define N_INCREMENTS    100000
#define MUTEX_OFFSET    0
#define COUNTER_OFFSET  PS_MUTEX_SIZE   /* right after the mutex */
#define SEGMENT_SIZE    (PS_MUTEX_SIZE + sizeof (gint64))

/* Bounds every wait, so that a bug fails the example instead of hanging it. */
#define LOCK_TIMEOUT_US  (10 * G_USEC_PER_SEC)
#define WATCHDOG_SECONDS 30

G_NORETURN static void
run_child (int             id,
           PsSharedMemory *memory,
           PsMutex        *mutex)
{
  /* Through gpointer: the data is 64-byte aligned, COUNTER_OFFSET a multiple of 8. */
  gint64 *counter = (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + COUNTER_OFFSET);

  alarm (WATCHDOG_SECONDS);

  for (guint i = 0; i < N_INCREMENTS; i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 value;

      if (!ps_mutex_lock (mutex, LOCK_TIMEOUT_US, NULL, &error))
        {
          /* Even PS_ERROR_OWNER_DEAD is fatal here: robust.c shows recovery. */
          g_printerr ("child %d: lock: %s\n", id, error->message);
          _exit (1);
        }

      /* A deliberately non-atomic read-modify-write: the lock makes it safe. */
      value = *counter;
      *counter = value + 1;

      if (!ps_mutex_unlock (mutex, &error))
        {
          g_printerr ("child %d: unlock: %s\n", id, error->message);
          _exit (1);
        }
    }

  g_print ("child %d (pid %d): did %d increments\n", id, (int) getpid (), N_INCREMENTS);
  fflush (stdout);
  _exit (0);
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  pid_t pids[N_PROCESSES];
  gboolean children_ok = TRUE;
  gint64 total;

  alarm (WATCHDOG_SECONDS);

  /* Zero-filled, so the counter starts at 0. */
  memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  if (memory == NULL)
    {
      g_printerr ("counter: shared memory: %s\n", error->message);
      return 1;
    }

  mutex = ps_mutex_new_at (memory, MUTEX_OFFSET, &error);
  if (mutex == NULL)
    {
      g_printerr ("counter: mutex: %s\n", error->message);
      return 1;
    }

  fflush (stdout);
  for (int i = 0; i < N_PROCESSES; i++)
    {
      pids[i] = fork ();
      if (pids[i] < 0)
        {
          g_printerr ("counter: fork: %s\n", g_strerror (errno));
          return 1;
        }
      /* The children inherit memory and mutex: both are MAP_SHARED. */
      if (pids[i] == 0)
        run_child (i + 1, memory, mutex);
    }

  for (int i = 0; i < N_PROCESSES; i++)
    {
      int status;

      if (waitpid (pids[i], &status, 0) != pids[i] || !WIFEXITED (status) ||
          WEXITSTATUS (status) != 0)
        {
          g_printerr ("counter: child %d failed\n", i + 1);
          children_ok = FALSE;
        }
    }

  total = ps_shared_memory_get_int64 (memory, COUNTER_OFFSET, &error);
  if (error != NULL)
    {
      g_printerr ("counter: %s\n", error->message);
      return 1;
    }

  g_print ("total: %" G_GINT64_FORMAT " (expected %d)\n", total, N_PROCESSES * N_INCREMENTS);
  if (!children_ok || total != N_PROCESSES * N_INCREMENTS)
    return 1;
  return 0;
}
