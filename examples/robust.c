/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * robust: recovering a PsMutex whose holder was killed.
 *
 * Two accounts hold 100 units between them; a transfer moves units from
 * one to the other under a mutex. A child starts a transfer, and is killed
 * with SIGKILL halfway through, while holding the mutex: the data is
 * inconsistent and the holder can never unlock.
 *
 * With an ordinary process-shared mutex the parent would now wait forever.
 * A PsMutex instead hands the parent the lock with PS_ERROR_OWNER_DEAD; the
 * parent repairs the data, calls ps_mutex_mark_consistent() and carries on.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

typedef struct
{
  gint64 account_a;
  gint64 account_b;
} Accounts;

#define TOTAL 100

#define MUTEX_OFFSET     0
#define SEMAPHORE_OFFSET PS_MUTEX_SIZE
#define ACCOUNTS_OFFSET  (PS_MUTEX_SIZE + PS_SEMAPHORE_SIZE)
#define SEGMENT_SIZE     (ACCOUNTS_OFFSET + sizeof (Accounts))

#define TIMEOUT_US       (5 * G_USEC_PER_SEC)
#define WATCHDOG_SECONDS 10

/* The holder: it never finishes its transfer. */
G_NORETURN static void
run_holder (PsMutex     *mutex,
            PsSemaphore *in_the_middle,
            Accounts    *accounts)
{
  g_autoptr(GError) error = NULL;

  /* If the parent fails to kill us, the alarm does. */
  alarm (WATCHDOG_SECONDS);

  if (!ps_mutex_lock (mutex, TIMEOUT_US, NULL, &error))
    {
      g_printerr ("holder: lock: %s\n", error->message);
      _exit (1);
    }

  /* First half of a transfer of 30 from a to b... */
  accounts->account_a -= 30;
  g_print ("holder (pid %d): took 30 from a, about to credit b\n", (int) getpid ());
  fflush (stdout);

  /* ...then tell the parent we are in the middle of it, and hang. */
  if (!ps_semaphore_release (in_the_middle, &error))
    {
      g_printerr ("holder: release: %s\n", error->message);
      _exit (1);
    }
  for (;;)
    pause ();
}

static gboolean
repair (Accounts *accounts)
{
  if (accounts->account_a + accounts->account_b == TOTAL)
    return FALSE;

  /* Only a debit can have happened without its credit: complete it. */
  accounts->account_b = TOTAL - accounts->account_a;
  return TRUE;
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) in_the_middle = NULL;
  Accounts *accounts;
  pid_t pid;

  alarm (WATCHDOG_SECONDS);

  memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  if (memory != NULL)
    mutex = ps_mutex_new_at (memory, MUTEX_OFFSET, &error);
  if (mutex != NULL)
    in_the_middle = ps_semaphore_new_at (memory, SEMAPHORE_OFFSET, 0, &error);
  if (in_the_middle == NULL)
    {
      g_printerr ("robust: setup: %s\n", error->message);
      return 1;
    }
  /* The data is 64-byte aligned, and so is ACCOUNTS_OFFSET. */
  accounts = (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + ACCOUNTS_OFFSET);
  accounts->account_a = TOTAL;
  accounts->account_b = 0;

  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    {
      g_printerr ("robust: fork: %s\n", g_strerror (errno));
      return 1;
    }
  if (pid == 0)
    run_holder (mutex, in_the_middle, accounts);

  if (!ps_semaphore_acquire (in_the_middle, TIMEOUT_US, NULL, &error))
    {
      g_printerr ("robust: the holder never got going: %s\n", error->message);
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      return 1;
    }

  /* A crash at the worst moment: no handler, no cleanup, no unlock. */
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  g_print ("parent (pid %d): killed the holder %d; the mutex still names it as owner: %d\n",
           (int) getpid (), (int) pid, (int) ps_mutex_get_owner_pid (mutex));

  if (ps_mutex_lock (mutex, TIMEOUT_US, NULL, &error))
    {
      g_printerr ("robust: expected PS_ERROR_OWNER_DEAD, the lock succeeded\n");
      return 1;
    }
  if (!g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
    {
      g_printerr ("robust: lock: %s\n", error->message);
      return 1;
    }
  g_print ("parent: lock: %s\n", error->message);
  g_clear_error (&error);

  /* We hold the lock now, and the data is as the holder left it. */
  g_print ("parent: found a=%" G_GINT64_FORMAT " b=%" G_GINT64_FORMAT "\n",
           accounts->account_a, accounts->account_b);
  if (repair (accounts))
    g_print ("parent: repaired to a=%" G_GINT64_FORMAT " b=%" G_GINT64_FORMAT "\n",
             accounts->account_a, accounts->account_b);

  /* Without this, unlocking would make the mutex unusable for good
   * (PS_ERROR_NOT_RECOVERABLE). */
  if (!ps_mutex_mark_consistent (mutex, &error) ||
      !ps_mutex_unlock (mutex, &error))
    {
      g_printerr ("robust: recovery: %s\n", error->message);
      return 1;
    }

  /* Business as usual: the mutex locks normally again. */
  if (!ps_mutex_lock (mutex, TIMEOUT_US, NULL, &error))
    {
      g_printerr ("robust: lock after recovery: %s\n", error->message);
      return 1;
    }
  accounts->account_a -= 10;
  accounts->account_b += 10;
  g_print ("parent: next transfer done, a=%" G_GINT64_FORMAT " b=%" G_GINT64_FORMAT "\n",
           accounts->account_a, accounts->account_b);
  if (!ps_mutex_unlock (mutex, &error))
    {
      g_printerr ("robust: unlock: %s\n", error->message);
      return 1;
    }

  return accounts->account_a + accounts->account_b == TOTAL ? 0 : 1;
}
