/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * consumer: the program of examples/subproject, a project that uses
 * procshared as a dependency. A forked child releases a semaphore that
 * its parent waits on, with a deadline.
 */

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) done = NULL;
  pid_t pid;
  int status;

  alarm (30);   /* a watchdog: this example never hangs */

  done = ps_semaphore_new (0, &error);
  if (done == NULL)
    {
      g_printerr ("consumer: %s\n", error->message);
      return 1;
    }

  pid = fork ();
  if (pid < 0)
    {
      g_printerr ("consumer: fork: %s\n", g_strerror (errno));
      return 1;
    }
  if (pid == 0)
    {
      ps_semaphore_release (done, NULL);
      _exit (0);
    }

  if (!ps_semaphore_acquire (done, 10 * G_USEC_PER_SEC, NULL, &error))
    {
      g_printerr ("consumer: %s\n", error->message);
      return 1;
    }
  if (waitpid (pid, &status, 0) != pid || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return 1;

  g_print ("procshared %s: the child released the semaphore\n", PS_VERSION_S);
  return 0;
}
