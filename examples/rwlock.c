/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * rwlock.c: readers and a writer sharing a pair of numbers under a
 * PsRWLock placed next to them. The writer keeps the two equal, changing
 * them one after the other; readers, in other processes and at the same
 * time as each other, must never see them differ. Then a writer is
 * killed halfway through, and the next reader gets PS_ERROR_OWNER_DEAD,
 * holding the lock for writing: it repairs the pair.
 *
 *     cc rwlock.c $(pkg-config --cflags --libs procshared-1)
 */

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

#define A        PS_RW_LOCK_SIZE
#define B        (A + 8)
#define ROUNDS   2000
#define READERS  3
#define TIMEOUT  (10 * G_USEC_PER_SEC)   /* a bug fails, never hangs */

static int
reader (PsSharedMemory *memory,
        PsRWLock       *lock)
{
  for (int i = 0; i < ROUNDS; i++)
    {
      gint64 a, b;

      if (!ps_rw_lock_read_lock (lock, TIMEOUT, NULL, NULL))
        return 1;
      a = ps_shared_memory_get_int64 (memory, A, NULL);
      b = ps_shared_memory_get_int64 (memory, B, NULL);
      ps_rw_lock_read_unlock (lock, NULL);
      if (a != b)
        {
          g_printerr ("reader %d saw %" G_GINT64_FORMAT " != %" G_GINT64_FORMAT "\n",
                      (int) getpid (), a, b);
          return 1;
        }
    }
  return 0;
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsRWLock) lock = NULL;
  pid_t pids[READERS];
  int failed = 0;

  alarm (60);
  memory = ps_shared_memory_new (B + 8, &error);
  if (memory != NULL)
    lock = ps_rw_lock_new_at (memory, 0, &error);
  if (lock == NULL)
    {
      g_printerr ("rwlock: %s\n", error->message);
      return 1;
    }

  for (int r = 0; r < READERS; r++)
    if ((pids[r] = fork ()) == 0)
      {
        alarm (30);
        _exit (reader (memory, lock));
      }

  for (int i = 0; i < ROUNDS; i++)
    {
      if (!ps_rw_lock_write_lock (lock, TIMEOUT, NULL, &error))
        break;
      ps_shared_memory_set_int64 (memory, A, i, NULL);
      ps_shared_memory_set_int64 (memory, B, i, NULL);
      ps_rw_lock_write_unlock (lock, NULL);
    }
  for (int r = 0; r < READERS; r++)
    {
      int status;

      waitpid (pids[r], &status, 0);
      failed |= !WIFEXITED (status) || WEXITSTATUS (status) != 0;
    }
  if (error != NULL || failed)
    return 1;
  g_print ("%d readers never saw a torn pair\n", READERS);

  /* A writer killed between the two stores. */
  if ((pids[0] = fork ()) == 0)
    {
      ps_rw_lock_write_lock (lock, TIMEOUT, NULL, NULL);
      ps_shared_memory_set_int64 (memory, A, -1, NULL);
      kill (getpid (), SIGKILL);
    }
  waitpid (pids[0], NULL, 0);

  if (!ps_rw_lock_read_lock (lock, TIMEOUT, NULL, &error))
    {
      if (!g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
        return 1;
      /* Held for writing: repair, mark consistent, write-unlock. */
      g_print ("writer died: repairing\n");
      ps_shared_memory_set_int64 (memory, A, ps_shared_memory_get_int64 (memory, B, NULL), NULL);
      ps_rw_lock_mark_consistent (lock, NULL);
      ps_rw_lock_write_unlock (lock, NULL);
      g_clear_error (&error);
    }
  else
    return 1;   /* the death must be reported */

  if (!ps_rw_lock_read_lock (lock, 0, NULL, &error))
    return 1;
  g_print ("pair: %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
           ps_shared_memory_get_int64 (memory, A, NULL),
           ps_shared_memory_get_int64 (memory, B, NULL));
  ps_rw_lock_read_unlock (lock, NULL);
  return 0;
}
