/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared helpers for the C test programs: a watchdog so that a bug fails a
 * test instead of hanging CI, names unique to this test run, and children
 * that are always reaped within a bound.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

/* Kill the whole test program if it runs longer than @seconds: meson
 * reports it as failed rather than timing the job out. Children forked
 * afterwards inherit no alarm; give them their own with this call too. */
static inline void
ps_test_watchdog (unsigned int seconds)
{
  signal (SIGALRM, SIG_DFL);
  alarm (seconds);
}

/* A name that no other test program, run or parallel job can collide
 * with. Free with g_free(). */
static inline char *
ps_test_unique_name (const char *what)
{
  static int counter;

  return g_strdup_printf ("/ps-test-%s-%d-%d", what, (int) getpid (), ++counter);
}

/* Fork a child that runs @func (@data) and exits with its return value
 * as status. The child has its own watchdog of @seconds. */
static inline pid_t
ps_test_fork (int (*func) (gpointer data),
              gpointer data,
              unsigned int seconds)
{
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      ps_test_watchdog (seconds);
      _exit (func (data));
    }
  return pid;
}

/* Wait at most @seconds for @pid; kill it if it is still running and fail
 * the test. Returns its wait status. */
static inline int
ps_test_reap (pid_t pid,
              unsigned int seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  int status = 0;

  for (;;)
    {
      pid_t r = waitpid (pid, &status, WNOHANG);

      if (r == pid)
        return status;
      g_assert_cmpint (r, ==, 0);
      if (g_get_monotonic_time () > deadline)
        {
          kill (pid, SIGKILL);
          waitpid (pid, &status, 0);
          g_error ("child %d did not finish within %u s", (int) pid, seconds);
        }
      g_usleep (1000);
    }
}

/* Reap @pid and assert it exited normally with status 0. */
static inline void
ps_test_reap_ok (pid_t pid,
                 unsigned int seconds)
{
  int status = ps_test_reap (pid, seconds);

  if (!WIFEXITED (status))
    g_error ("child %d did not exit normally (signal %d)", (int) pid,
             WIFSIGNALED (status) ? WTERMSIG (status) : 0);
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}
