/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * barrier.c: three processes work in phases, and none starts a phase
 * before all have finished the last one. Each writes its part of a phase
 * in shared memory and waits at a PsBarrier; the party that arrived first
 * (index 0) then checks that the phase is complete.
 *
 *     cc barrier.c $(pkg-config --cflags --libs procshared-1)
 */

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

#define N_PARTIES  3
#define N_PHASES   4
#define TIMEOUT_US (10 * G_USEC_PER_SEC)   /* a late party breaks the barrier */

static int
work (PsBarrier *barrier,
      gint      *phases,
      int        party)
{
  for (int phase = 0; phase < N_PHASES; phase++)
    {
      g_autoptr(GError) error = NULL;
      gint index;

      g_atomic_int_or (&phases[phase], 1 << party);       /* this phase's work */
      index = ps_barrier_wait (barrier, TIMEOUT_US, NULL, &error);
      if (index < 0)
        {
          /* PS_ERROR_BROKEN: another party timed out, died, or aborted. */
          fprintf (stderr, "party %d: %s\n", party, error->message);
          return 1;
        }
      if (index == 0)
        {
          printf ("phase %d done by all %d parties\n", phase, N_PARTIES);
          fflush (stdout);
          if (g_atomic_int_get (&phases[phase]) != (1 << N_PARTIES) - 1)
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
  g_autoptr(PsBarrier) barrier = NULL;
  gint *phases;
  pid_t pids[N_PARTIES - 1];
  int failed;

  alarm (60);
  /* The barrier, then the phases' records, in one anonymous segment. */
  memory = ps_shared_memory_new (PS_BARRIER_SIZE + N_PHASES * sizeof (gint), &error);
  if (memory != NULL)
    barrier = ps_barrier_new_at (memory, 0, N_PARTIES, &error);
  if (barrier == NULL)
    {
      fprintf (stderr, "barrier: %s\n", error->message);
      return 1;
    }
  phases = (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + PS_BARRIER_SIZE);

  for (int i = 0; i < N_PARTIES - 1; i++)
    {
      pids[i] = fork ();
      if (pids[i] == 0)
        {
          alarm (30);
          _exit (work (barrier, phases, i + 1));
        }
    }
  failed = work (barrier, phases, 0);
  for (int i = 0; i < N_PARTIES - 1; i++)
    {
      int status = 0;

      waitpid (pids[i], &status, 0);
      failed |= !WIFEXITED (status) || WEXITSTATUS (status) != 0;
    }
  return failed ? 1 : 0;
}
