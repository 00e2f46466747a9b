/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Events and barriers under hostile memory and crash storms.
 *
 * Hostile: an event or a barrier is placed in a segment, random bytes go
 * over its state, its header or both (or random words here and there),
 * and a victim process runs the whole API on it, through a handle made
 * before and one attached after: every call returns, every error is one
 * the API documents, every wait ends within its timeout (plus the
 * barrier's probe interval), and nothing is killed by a signal.
 *
 * Crash storm: three parties go through rounds of a barrier while a
 * fourth is SIGKILLed, either at a random moment (the others then end,
 * by a timeout or by noticing the death, never hang) or while it sleeps
 * in the barrier's wait (the others then all get PS_ERROR_BROKEN, none a
 * timeout: the death of a waiting party breaks the barrier, once).
 */

#include "stress-util.h"
#include "ps-barrier-private.h"
#include "ps-object-header-private.h"

#define N_TRIALS        150
#define N_STORM_ROUNDS  40
#define WAIT_US         (20 * 1000)
#define SEGMENT_SIZE    (2 * PS_OBJECT_SLOT_SIZE)
#define VICTIM_WATCHDOG_S 10

typedef struct
{
  StressFailures failures;
  gint           tallies[8];
} Shared;

enum { TALLY_OK, TALLY_CORRUPT, TALLY_BROKEN, TALLY_TIMEOUT, TALLY_REFUSED };

static gboolean
allowed_error (const GError *error)
{
  return g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT) ||
         g_error_matches (error, PS_ERROR, PS_ERROR_BROKEN) ||
         g_error_matches (error, PS_ERROR, PS_ERROR_WRONG_TYPE) ||
         g_error_matches (error, PS_ERROR, PS_ERROR_INCOMPATIBLE) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
tally (Shared       *shared,
       const GError *error)
{
  int which = error == NULL ? TALLY_OK
              : g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT) ? TALLY_CORRUPT
              : g_error_matches (error, PS_ERROR, PS_ERROR_BROKEN) ? TALLY_BROKEN
              : g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ? TALLY_TIMEOUT
              : TALLY_REFUSED;

  g_atomic_int_inc (&shared->tallies[which]);
}

/* Checks one call's outcome and duration. */
static gboolean
check_call (Shared       *shared,
            const char   *what,
            gboolean      ok,
            const GError *error,
            gint64        started)
{
  gint64 took = g_get_monotonic_time () - started;
  gint64 bound = ps_test_scaled_us (WAIT_US + PS_BARRIER_PROBE_US + 2 * G_USEC_PER_SEC);

  if (!ok && (error == NULL || !allowed_error (error)))
    {
      stress_fail (&shared->failures, "%s: unexpected outcome %s", what,
                   error != NULL ? error->message : "(FALSE without an error)");
      return FALSE;
    }
  if (took > bound)
    {
      stress_fail (&shared->failures, "%s took %" G_GINT64_FORMAT " us", what, took);
      return FALSE;
    }
  tally (shared, ok ? NULL : error);
  return TRUE;
}

static gboolean
exercise_event (Shared  *shared,
                PsEvent *event)
{
  g_autoptr(GError) error = NULL;
  gint64 started = g_get_monotonic_time ();
  gboolean ok;

  ps_event_is_set (event);
  ok = ps_event_wait (event, WAIT_US, NULL, &error);
  if (!check_call (shared, "event wait", ok, error, started))
    return FALSE;
  ps_event_set (event);
  ps_event_reset (event);
  ps_event_set (event);
  g_clear_error (&error);
  started = g_get_monotonic_time ();
  ok = ps_event_wait (event, 0, NULL, &error);
  return check_call (shared, "event try", ok, error, started);
}

static gboolean
exercise_barrier (Shared    *shared,
                  PsBarrier *barrier)
{
  g_autoptr(GError) error = NULL;
  gint64 started = g_get_monotonic_time ();
  gint index;

  ps_barrier_get_n_waiting (barrier);
  ps_barrier_is_broken (barrier);
  index = ps_barrier_wait (barrier, WAIT_US, NULL, &error);
  if (index >= (gint) ps_barrier_get_parties (barrier))
    {
      stress_fail (&shared->failures, "barrier wait: index %d of %u parties", index,
                   ps_barrier_get_parties (barrier));
      return FALSE;
    }
  if (!check_call (shared, "barrier wait", index >= 0, error, started))
    return FALSE;
  ps_barrier_abort (barrier);
  g_clear_error (&error);
  if (!ps_barrier_reset (barrier, &error))
    return check_call (shared, "barrier reset", FALSE, error, started);
  started = g_get_monotonic_time ();
  index = ps_barrier_wait (barrier, 0, NULL, &error);
  return check_call (shared, "barrier try", index >= 0, error, started);
}

typedef struct
{
  Shared         *shared;
  PsSharedMemory *memory;
  GObject        *before;     /* made before the scribbling */
  gboolean        is_barrier;
} Victim;

static int
victim_main (gpointer data)
{
  Victim *victim = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) after = NULL;
  gint64 started = g_get_monotonic_time ();

  if (!(victim->is_barrier ? exercise_barrier (victim->shared, PS_BARRIER (victim->before))
                           : exercise_event (victim->shared, PS_EVENT (victim->before))))
    return 1;
  after = victim->is_barrier
          ? G_OBJECT (ps_barrier_attach (victim->memory, 0, &error))
          : G_OBJECT (ps_event_attach (victim->memory, 0, &error));
  if (after == NULL)
    return check_call (victim->shared, "attach", FALSE, error, started) ? 0 : 1;
  if (!(victim->is_barrier ? exercise_barrier (victim->shared, PS_BARRIER (after))
                           : exercise_event (victim->shared, PS_EVENT (after))))
    return 1;
  return 0;
}

static void
scribble (GRand  *rand,
          guint8 *slot,
          guint   how)
{
  switch (how)
    {
    case 0:   /* the state */
      for (gsize i = sizeof (PsObjectHeader); i < PS_OBJECT_SLOT_SIZE; i++)
        slot[i] = (guint8) g_rand_int (rand);
      break;
    case 1:   /* the header */
      for (gsize i = 0; i < sizeof (PsObjectHeader); i++)
        slot[i] = (guint8) g_rand_int (rand);
      break;
    case 2:   /* both */
      for (gsize i = 0; i < PS_OBJECT_SLOT_SIZE; i++)
        slot[i] = (guint8) g_rand_int (rand);
      break;
    default:  /* a few words of the state */
      for (guint n = 0; n < 4; n++)
        {
          gsize at = sizeof (PsObjectHeader) +
                     4 * g_rand_int_range (rand, 0, (PS_OBJECT_STATE_SIZE) / 4);
          guint32 word = g_rand_int (rand);

          memcpy (slot + at, &word, sizeof word);
        }
      break;
    }
}

static void
test_hostile (gconstpointer data)
{
  gboolean is_barrier = GPOINTER_TO_INT (data);
  g_autoptr(PsSharedMemory) shared_memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &shared_memory);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  guint trials = stress_is_slow () ? N_TRIALS / 5 : N_TRIALS;

  for (guint trial = 0; trial < trials && shared->failures.count == 0; trial++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
      g_autoptr(GObject) before = NULL;
      Victim victim;
      int status;
      pid_t pid;

      g_assert_no_error (error);
      before = is_barrier
               ? G_OBJECT (ps_barrier_new_at (memory, 0, 1 + trial % PS_BARRIER_MAX_PARTIES, &error))
               : G_OBJECT (ps_event_new_at (memory, 0, trial % 2, &error));
      g_assert_no_error (error);
      scribble (rand, ps_shared_memory_get_data (memory), trial % 4);

      victim = (Victim) { shared, memory, before, is_barrier };
      pid = ps_test_fork (victim_main, &victim, VICTIM_WATCHDOG_S);
      status = ps_test_reap (pid, ps_test_scaled_s (30));
      if (!WIFEXITED (status))
        g_error ("trial %u: the victim was killed by signal %d", trial, WTERMSIG (status));
      if (WEXITSTATUS (status) != 0 && shared->failures.count == 0)
        g_error ("trial %u: the victim exited with %d", trial, WEXITSTATUS (status));
    }
  if (shared->failures.count != 0)
    g_error ("%d failures; the first: %s", shared->failures.count, shared->failures.first);
  g_test_message ("outcomes: %d ok, %d corrupt, %d broken, %d timed out, %d refused",
                  shared->tallies[TALLY_OK], shared->tallies[TALLY_CORRUPT],
                  shared->tallies[TALLY_BROKEN], shared->tallies[TALLY_TIMEOUT],
                  shared->tallies[TALLY_REFUSED]);
  g_assert_cmpint (shared->tallies[TALLY_OK] + shared->tallies[TALLY_CORRUPT], >, 0);
}

/* Crash storm ------------------------------------------------------------- */

typedef struct
{
  PsBarrier *barrier;
  Shared    *shared;
  gint64     timeout_us;
} Storm;

/* Rounds until the barrier fails; the exit status says how. */
static int
storm_party (gpointer data)
{
  Storm *storm = data;

  stress_die_with_parent ();
  for (;;)
    {
      g_autoptr(GError) error = NULL;

      if (ps_barrier_wait (storm->barrier, storm->timeout_us, NULL, &error) >= 0)
        continue;
      if (g_error_matches (error, PS_ERROR, PS_ERROR_BROKEN))
        return 20;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return 21;
      stress_fail (&storm->shared->failures, "storm: %s", error->message);
      return 1;
    }
}

static void
test_crash_storm (void)
{
  g_autoptr(PsSharedMemory) shared_memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &shared_memory);
  guint rounds = stress_is_slow () ? N_STORM_ROUNDS / 4 : N_STORM_ROUNDS;
  gint detected = 0, timed_out = 0;

  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PsBarrier) barrier = ps_barrier_new (4, &error);
      /* Long enough that, killed while asleep, the victim's death is
       * what ends the others' waits. */
      Storm storm = { barrier, shared, ps_test_scaled_us (5 * G_USEC_PER_SEC) };
      gboolean while_asleep = round % 2 == 0;
      pid_t victim, others[3];
      gint broken = 0;

      g_assert_no_error (error);
      victim = ps_test_fork (storm_party, &storm, ps_test_scaled_s (60));
      for (guint i = 0; i < 3; i++)
        others[i] = ps_test_fork (storm_party, &storm, ps_test_scaled_s (60));
      if (while_asleep)
        {
          /* Stop the others from completing rounds: abort, reset, and
           * let only the victim arrive. */
          g_usleep (g_random_int_range (0, 20 * 1000));
          ps_barrier_abort (barrier);
          for (guint i = 0; i < 3; i++)
            g_assert_cmpint (WEXITSTATUS (ps_test_reap (others[i], ps_test_scaled_s (30))), ==, 20);
          g_assert_cmpint (WEXITSTATUS (ps_test_reap (victim, ps_test_scaled_s (30))), ==, 20);
          g_assert_true (ps_barrier_reset (barrier, NULL));
          victim = ps_test_fork (storm_party, &storm, ps_test_scaled_s (60));
          g_assert_true (stress_wait_asleep (victim, ps_test_scaled_us (10 * G_USEC_PER_SEC)));
          for (guint i = 0; i < 2; i++)
            {
              others[i] = ps_test_fork (storm_party, &storm, ps_test_scaled_s (60));
              g_assert_true (stress_wait_asleep (others[i], ps_test_scaled_us (10 * G_USEC_PER_SEC)));
            }
          kill (victim, SIGKILL);
          ps_test_reap_killed (victim);
          /* Both waiting parties learn it from the death: BROKEN, no timeout. */
          for (guint i = 0; i < 2; i++)
            g_assert_cmpint (WEXITSTATUS (ps_test_reap (others[i], ps_test_scaled_s (30))), ==, 20);
          g_assert_true (ps_barrier_is_broken (barrier));
          detected++;
          continue;
        }

      g_usleep (g_random_int_range (0, 20 * 1000));
      kill (victim, SIGKILL);
      ps_test_reap_killed (victim);
      for (guint i = 0; i < 3; i++)
        {
          int status = ps_test_reap (others[i], ps_test_scaled_s (30));

          g_assert_true (WIFEXITED (status));
          g_assert_true (WEXITSTATUS (status) == 20 || WEXITSTATUS (status) == 21);
          broken += WEXITSTATUS (status) == 20;
        }
      /* Either the death was seen (all broken), or the victim died
       * outside a wait and one party's timeout broke it for the others. */
      g_assert_true (broken == 3 || broken == 2);
      if (broken == 3)
        detected++;
      else
        timed_out++;
      g_assert_true (ps_barrier_is_broken (barrier));
    }
  if (shared->failures.count != 0)
    g_error ("%d failures; the first: %s", shared->failures.count, shared->failures.first);
  g_test_message ("%u rounds: the death seen in %d, a timeout in %d", rounds, detected, timed_out);
}

int
main (int argc, char *argv[])
{
  stress_init (&argc, &argv, NULL);

  ps_test_add_full ("/rendezvous/hostile/event", test_hostile, GINT_TO_POINTER (FALSE), 200);
  ps_test_add_full ("/rendezvous/hostile/barrier", test_hostile, GINT_TO_POINTER (TRUE), 200);
  ps_test_add_timed ("/rendezvous/crash-storm", test_crash_storm, 300);

  return g_test_run ();
}
