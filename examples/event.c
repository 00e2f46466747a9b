/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * event.c: a starting gun. Forked workers wait on a manual-reset PsEvent
 * until the parent sets it: every one of them starts, and it stays set
 * for latecomers. Then an auto-reset event lets one worker through per
 * set, as a token.
 *
 *     cc event.c $(pkg-config --cflags --libs procshared-1)
 */

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

#define N_WORKERS  3
#define TIMEOUT_US (10 * G_USEC_PER_SEC)   /* a bug fails, never hangs */

static int
worker (PsEvent *start,
        PsEvent *token)
{
  g_autoptr(GError) error = NULL;

  alarm (30);
  if (!ps_event_wait (start, TIMEOUT_US, NULL, &error) ||
      !ps_event_wait (token, TIMEOUT_US, NULL, &error))
    {
      fprintf (stderr, "worker %d: %s\n", (int) getpid (), error->message);
      return 1;
    }
  printf ("worker %d: started, and got the token\n", (int) getpid ());
  fflush (stdout);
  ps_event_set (token);      /* pass the token on */
  return 0;
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsEvent) start = NULL;
  g_autoptr(PsEvent) token = NULL;
  pid_t pids[N_WORKERS];
  int failed = 0;

  alarm (60);
  start = ps_event_new (FALSE, &error);     /* manual-reset */
  if (start != NULL)
    token = ps_event_new (TRUE, &error);    /* auto-reset */
  if (token == NULL)
    {
      fprintf (stderr, "event: %s\n", error->message);
      return 1;
    }

  for (int i = 0; i < N_WORKERS; i++)
    {
      pids[i] = fork ();
      if (pids[i] == 0)
        _exit (worker (start, token));
    }

  g_usleep (50 * 1000);
  ps_event_set (start);    /* every worker goes */
  ps_event_set (token);    /* one at a time */

  for (int i = 0; i < N_WORKERS; i++)
    {
      int status = 0;

      waitpid (pids[i], &status, 0);
      failed |= !WIFEXITED (status) || WEXITSTATUS (status) != 0;
    }
  printf ("start is %s\n", ps_event_is_set (start) ? "still set" : "clear");
  return failed || !ps_event_is_set (start) ? 1 : 0;
}
