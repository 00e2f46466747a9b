/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsBarrier across threads and processes: arrival indices and rounds,
 * what breaks it (timeout, cancellation, abort, reset, a waiting party's
 * death) and the errors each party gets, async waits, the sharing models,
 * and the states a peer could have written that an opener must refuse.
 */

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps-test-async.h"

#include "ps-barrier-slots-private.h"
#include "ps-object-header-private.h"

#define ROUNDS 50

typedef struct
{
  gint ready;
  gint passed;
  gint broken;
  gint other;
  gint index_sum;
  gint index_mask[ROUNDS];
} Shared;

static PsBarrier *
barrier_new (guint parties)
{
  g_autoptr(GError) error = NULL;
  PsBarrier *barrier = ps_barrier_new (parties, &error);

  g_assert_no_error (error);
  g_assert_nonnull (barrier);
  return barrier;
}

static PsBarrierState *
state_of (PsSharedMemory *memory,
          gsize           offset)
{
  return (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + offset +
                             sizeof (PsObjectHeader));
}

typedef struct
{
  PsBarrier *barrier;
  Shared    *shared;
  guint      rounds;
  gint64     timeout_us;
} Party;

/* Waits @rounds times, recording each index; counts how it ended. */
static int
party_main (gpointer data)
{
  Party *party = data;

  g_atomic_int_inc (&party->shared->ready);
  for (guint round = 0; round < party->rounds; round++)
    {
      g_autoptr(GError) error = NULL;
      gint index = ps_barrier_wait (party->barrier, party->timeout_us, NULL, &error);

      if (index < 0)
        {
          g_atomic_int_inc (g_error_matches (error, PS_ERROR, PS_ERROR_BROKEN)
                            ? &party->shared->broken : &party->shared->other);
          return 3;
        }
      g_atomic_int_or ((guint *) &party->shared->index_mask[round % ROUNDS], 1u << index);
      g_atomic_int_add (&party->shared->index_sum, index);
    }
  g_atomic_int_inc (&party->shared->passed);
  return 0;
}

static gpointer
party_thread (gpointer data)
{
  return GINT_TO_POINTER (party_main (data));
}

/* @n children, each a party of @party asleep in its wait. */
static void
fork_waiting_parties (Party *party,
                      pid_t *pids,
                      guint  n)
{
  for (guint i = 0; i < n; i++)
    {
      pids[i] = ps_test_fork (party_main, party, ps_test_scaled_s (30));
      ps_test_wait_until_blocked (pids[i], pids[i]);
    }
}

/* Arguments ---------------------------------------------------------------- */

static void
test_parties_range (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsBarrier) barrier = NULL;

  barrier = ps_barrier_new (0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (barrier);
  g_clear_error (&error);
  barrier = ps_barrier_new (PS_BARRIER_MAX_PARTIES + 1, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  barrier = ps_barrier_new (PS_BARRIER_MAX_PARTIES, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_barrier_get_parties (barrier), ==, PS_BARRIER_MAX_PARTIES);
  g_assert_true (ps_barrier_get_created (barrier));
  g_assert_null (ps_barrier_get_name (barrier));
}

static void
test_one_party (void)
{
  g_autoptr(PsBarrier) barrier = barrier_new (1);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), ==, 0);
      g_assert_no_error (error);
      g_assert_cmpint (ps_barrier_wait (barrier, 0, NULL, &error), ==, 0);
      g_assert_no_error (error);
    }
  g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, 0);
}

/* Rounds --------------------------------------------------------------------- */

/* Threads and processes, many rounds back to back: every round gives
 * each index 0 .. parties - 1 once, whoever re-enters first. */
static void
test_rounds (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
  const guint parties = 4;
  g_autoptr(PsBarrier) barrier = barrier_new (parties);
  Party party = { barrier, shared, ROUNDS, -1 };
  GThread *threads[2];
  pid_t pids[2];

  for (guint i = 0; i < 2; i++)
    pids[i] = ps_test_fork (party_main, &party, ps_test_scaled_s (60));
  for (guint i = 0; i < 2; i++)
    threads[i] = g_thread_new ("party", party_thread, &party);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (threads[i])), ==, 0);
  for (guint i = 0; i < 2; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (30));

  g_assert_cmpint (shared->passed, ==, 4);
  for (guint round = 0; round < ROUNDS; round++)
    g_assert_cmpint (shared->index_mask[round], ==, (1 << parties) - 1);
  g_assert_cmpint (shared->index_sum, ==, ROUNDS * (0 + 1 + 2 + 3));
  g_assert_false (ps_barrier_is_broken (barrier));
  g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, 0);
}

/* More threads than parties: rounds overlap, parties of a round that
 * ended leave while the next one fills. Every round gives indices 0 and
 * 1 once each, until the barrier is aborted. */
typedef struct
{
  PsBarrier *barrier;
  gint       returned[2];
  gint       broken;
} Overlap;

static gpointer
overlap_thread (gpointer data)
{
  Overlap *overlap = data;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gint index = ps_barrier_wait (overlap->barrier, -1, NULL, &error);

      if (index < 0)
        {
          g_assert_error (error, PS_ERROR, PS_ERROR_BROKEN);
          g_atomic_int_inc (&overlap->broken);
          return NULL;
        }
      g_assert_cmpint (index, <, 2);
      g_atomic_int_inc (&overlap->returned[index]);
    }
}

static void
test_overlapping_rounds (void)
{
  g_autoptr(PsBarrier) barrier = barrier_new (2);
  Overlap overlap = { barrier, { 0, 0 }, 0 };
  GThread *threads[4];

  for (guint i = 0; i < 4; i++)
    threads[i] = g_thread_new ("party", overlap_thread, &overlap);
  g_assert_true (ps_test_wait_at_least (&overlap.returned[1], 2000, 60));
  ps_barrier_abort (barrier);
  for (guint i = 0; i < 4; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (overlap.broken, ==, 4);
  g_assert_cmpint (overlap.returned[0], ==, overlap.returned[1]);
  g_assert_true (ps_barrier_is_broken (barrier));
}

static void
test_n_waiting (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
  g_autoptr(PsBarrier) barrier = barrier_new (3);
  g_autoptr(GError) error = NULL;
  Party party = { barrier, shared, 1, -1 };
  pid_t pids[2];

  g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, 0);
  for (guint i = 0; i < 2; i++)
    {
      pids[i] = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
      ps_test_wait_until_blocked (pids[i], pids[i]);
      g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, i + 1);
    }
  g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), ==, 2);
  g_assert_no_error (error);
  for (guint i = 0; i < 2; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (20));
  g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, 0);
  g_assert_cmpint (shared->index_sum, ==, 0 + 1);
}

/* What breaks it ------------------------------------------------------------- */

static void
test_timeout_breaks (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
  g_autoptr(PsBarrier) barrier = barrier_new (3);
  g_autoptr(GError) error = NULL;
  Party party = { barrier, shared, 1, -1 };
  pid_t pid;

  /* 0: arrives only if last, and changes nothing otherwise. */
  g_assert_cmpint (ps_barrier_wait (barrier, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_false (ps_barrier_is_broken (barrier));
  g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, 0);

  pid = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
  ps_test_wait_until_blocked (pid, pid);
  /* Our timeout: TIMED_OUT for us, BROKEN for the one waiting. */
  g_assert_cmpint (ps_barrier_wait (barrier, 30 * 1000, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpint (ps_test_reap (pid, ps_test_scaled_s (20)), ==, 3 << 8);
  g_assert_cmpint (shared->broken, ==, 1);
  g_assert_true (ps_barrier_is_broken (barrier));
  g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, 0);

  /* Every later wait, even a try, until reset. */
  g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), ==, -1);
  g_assert_error (error, PS_ERROR, PS_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_cmpint (ps_barrier_wait (barrier, 0, NULL, &error), ==, -1);
  g_assert_error (error, PS_ERROR, PS_ERROR_BROKEN);
  g_clear_error (&error);

  g_assert_true (ps_barrier_reset (barrier, &error));
  g_assert_no_error (error);
  g_assert_false (ps_barrier_is_broken (barrier));
  shared->passed = 0;
  party.rounds = 1;
  {
    pid_t pids[2];

    for (guint i = 0; i < 2; i++)
      pids[i] = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
    g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), >=, 0);
    g_assert_no_error (error);
    for (guint i = 0; i < 2; i++)
      ps_test_reap_ok (pids[i], ps_test_scaled_s (20));
  }
  g_assert_cmpint (shared->passed, ==, 2);
}

static gpointer
cancel_later (gpointer data)
{
  g_usleep (30 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_cancel_breaks (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
  g_autoptr(PsBarrier) barrier = barrier_new (3);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Party party = { barrier, shared, 1, -1 };
  GThread *canceller;
  pid_t pid;

  pid = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
  ps_test_wait_until_blocked (pid, pid);
  canceller = g_thread_new ("cancel", cancel_later, cancellable);
  g_assert_cmpint (ps_barrier_wait (barrier, -1, cancellable, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (canceller);
  g_assert_cmpint (ps_test_reap (pid, ps_test_scaled_s (20)), ==, 3 << 8);
  g_assert_cmpint (shared->broken, ==, 1);
  g_assert_true (ps_barrier_is_broken (barrier));

  /* Already cancelled: fails without arriving, on a working barrier too. */
  ps_barrier_reset (barrier, NULL);
  g_assert_cmpint (ps_barrier_wait (barrier, -1, cancellable, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (ps_barrier_is_broken (barrier));
}

static void
test_abort_and_reset_break_waiters (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
  g_autoptr(PsBarrier) barrier = barrier_new (3);
  g_autoptr(GError) error = NULL;
  Party party = { barrier, shared, 1, -1 };
  pid_t pids[2];

  fork_waiting_parties (&party, pids, 2);
  ps_barrier_abort (barrier);
  ps_barrier_abort (barrier);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpint (ps_test_reap (pids[i], ps_test_scaled_s (20)), ==, 3 << 8);
  g_assert_cmpint (shared->broken, ==, 2);
  g_assert_true (ps_barrier_is_broken (barrier));
  g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), ==, -1);
  g_assert_error (error, PS_ERROR, PS_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_true (ps_barrier_reset (barrier, &error));

  /* A reset breaks the parties waiting, and the barrier then works. */
  shared->broken = 0;
  fork_waiting_parties (&party, pids, 2);
  g_assert_true (ps_barrier_reset (barrier, &error));
  for (guint i = 0; i < 2; i++)
    g_assert_cmpint (ps_test_reap (pids[i], ps_test_scaled_s (20)), ==, 3 << 8);
  g_assert_cmpint (shared->broken, ==, 2);
  g_assert_false (ps_barrier_is_broken (barrier));
  g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, 0);
}

/* A party killed while it waits breaks the barrier, once, for the party
 * waiting beside it and for those that come later; reaped or a zombie. */
/* Three parties, two asleep, one of them killed: the other finds out by
 * itself. The first to sleep is the round's sentry (ps-barrier-private.h)
 * where the backend has death marks: killed, its death wakes the other
 * at once; the other killed, the sentry sees it at its next look. */
static void
test_dead_party_breaks (void)
{
  for (guint trial = 0; trial < 4; trial++)
    {
      gboolean reaped = trial % 2, victim_first = trial < 2;
      g_autoptr(PsSharedMemory) memory = NULL;
      Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
      g_autoptr(PsBarrier) barrier = barrier_new (3);
      g_autoptr(GError) error = NULL;
      Party party = { barrier, shared, 1, -1 };
      pid_t victim = 0, witness = 0;
      int status;

      for (guint i = 0; i < 2; i++)
        {
          pid_t pid = ps_test_fork (party_main, &party, ps_test_scaled_s (30));

          ps_test_wait_until_blocked (pid, pid);
          *((i == 0) == victim_first ? &victim : &witness) = pid;
        }
      kill (victim, SIGKILL);
      if (reaped)
        ps_test_reap_killed (victim);

      /* The witness finds out by itself, within its probe interval. */
      status = ps_test_reap (witness, ps_test_scaled_s (20));
      g_assert_cmpint (status, ==, 3 << 8);
      g_assert_cmpint (shared->broken, ==, 1);
      g_assert_true (ps_barrier_is_broken (barrier));
      g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), ==, -1);
      g_assert_error (error, PS_ERROR, PS_ERROR_BROKEN);
      g_clear_error (&error);
      if (!reaped)
        ps_test_reap_killed (victim);

      /* Reset: the dead party's record is gone, the barrier works. */
      g_assert_true (ps_barrier_reset (barrier, &error));
      party.rounds = 2;
      witness = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
      victim = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
      for (guint round = 0; round < 2; round++)
        {
          g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), >=, 0);
          g_assert_no_error (error);
        }
      ps_test_reap_ok (witness, ps_test_scaled_s (20));
      ps_test_reap_ok (victim, ps_test_scaled_s (20));
    }
}

/* Whether this backend keeps death marks (ps-backend-private.h). */
static gboolean
backend_has_marks (void)
{
  guint32 mark = 0;
  PsDeathMark saved;

  if (!ps_death_mark_set (&mark, &saved))
    return FALSE;
  ps_death_mark_clear (&mark, &saved);
  g_assert_cmpuint (mark, ==, 0);
  return TRUE;
}

typedef struct
{
  guint32  marks[3];
  gboolean set;
} MarkShared;

/* Sets marks[0] and dies with it, sets and clears marks[1], and sets
 * marks[2] which a peer then overwrites. */
static int
mark_child_main (gpointer data)
{
  MarkShared *shared = data;
  PsDeathMark saved[3];

  shared->set = ps_death_mark_set (&shared->marks[1], &saved[1]);
  if (shared->set)
    ps_death_mark_clear (&shared->marks[1], &saved[1]);
  if (ps_death_mark_set (&shared->marks[2], &saved[2]))
    __atomic_store_n (&shared->marks[2], 1u, __ATOMIC_SEQ_CST);
  if (ps_death_mark_set (&shared->marks[0], &saved[0]) != shared->set)
    return 1;
  _exit (0);
}

/* Only the mark a thread still held when it died reads as dead, and
 * the kernel leaves alone one that holds another value by then. */
static void
test_death_mark (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  MarkShared *shared = ps_test_shared_new (sizeof (MarkShared), &memory);
  pid_t child = ps_test_fork (mark_child_main, shared, ps_test_scaled_s (30));

  ps_test_reap_ok (child, ps_test_scaled_s (20));
  g_assert_cmpint (shared->set, ==, backend_has_marks ());
  g_assert_cmpint (ps_death_mark_is_dead (shared->marks[0]), ==, shared->set);
  g_assert_false (ps_death_mark_is_dead (shared->marks[1]));
  g_assert_cmpuint (shared->marks[1], ==, 0);
  g_assert_cmpuint (shared->marks[2], ==, shared->set ? 1u : 0u);
  g_assert_false (ps_death_mark_is_dead (0));
}

/* Sleeps on the mark of the sentry of the current round of @data (a
 * PsBarrierState) without being a party, first in line: the one thread
 * the kernel wakes when the sentry dies. It then dies without telling
 * anybody, as a party killed with the sentry would once woken. Exits 0
 * if it was the sentry's death that woke it. */
static int
first_in_line_main (gpointer data)
{
  PsBarrierState *state = data;
  guint32 round = ps_barrier_round_of (*ps_barrier_word (state));
  guint32 *mark = ps_barrier_round_sentry_mark (state, round);
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (20 * G_USEC_PER_SEC);
  guint32 armed = mark != NULL ? __atomic_load_n (mark, __ATOMIC_SEQ_CST) : 0;

  if (!ps_death_mark_is_armed (armed))
    return 1;
  while (__atomic_load_n (mark, __ATOMIC_SEQ_CST) == armed &&
         ps_death_mark_wait (mark, armed, deadline, NULL) != PS_WAIT_TIMED_OUT)
    ;
  return ps_death_mark_is_dead (__atomic_load_n (mark, __ATOMIC_SEQ_CST)) ? 0 : 2;
}

/* The round's sentry and another party die together, and the thread the
 * kernel wakes at the sentry's death (the mark's first sleeper) dies as
 * it wakes: the party left asleep on the sentry's mark finds the death
 * by itself, at its own next look, and gets PS_ERROR_BROKEN; so does
 * every wait until a reset, after which the barrier works. Where the
 * backend has no death marks, the parties asleep on the word look for
 * dead processes all the same. */
static void
test_sentry_dies_with_woken_sleeper (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
  g_autoptr(PsSharedMemory) place = NULL;
  g_autoptr(PsBarrier) barrier = NULL;
  g_autoptr(GError) error = NULL;
  gboolean marks = backend_has_marks ();
  Party party = { NULL, shared, 1, -1 };
  pid_t sentry, first = 0, victim, witness, pids[3];
  gint64 killed;
  gint index;

  place = ps_shared_memory_new (PS_BARRIER_SIZE, &error);
  g_assert_no_error (error);
  barrier = ps_barrier_new_at (place, 0, 4, &error);
  g_assert_no_error (error);
  party.barrier = barrier;

  /* The first party asleep is the round's sentry; the first thread asleep
   * on its mark gets the kernel's one wake-up; then two parties. */
  sentry = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
  ps_test_wait_until_blocked (sentry, sentry);
  if (marks)
    {
      first = ps_test_fork (first_in_line_main, state_of (place, 0), ps_test_scaled_s (30));
      ps_test_wait_until_blocked (first, first);
    }
  victim = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
  ps_test_wait_until_blocked (victim, victim);
  witness = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
  ps_test_wait_until_blocked (witness, witness);
  g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, 3);

  killed = g_get_monotonic_time ();
  /* The victim first: killed after the sentry, it could find the
   * sentry dead at its own look in between and break the round itself. */
  kill (victim, SIGKILL);
  kill (sentry, SIGKILL);
  if (marks)
    ps_test_reap_ok (first, ps_test_scaled_s (20));
  g_assert_cmpint (ps_test_reap (witness, ps_test_scaled_s (20)), ==, 3 << 8);
  g_assert_cmpint (g_get_monotonic_time () - killed, <, ps_test_scaled_us (5 * G_USEC_PER_SEC));
  g_assert_cmpint (shared->broken, ==, 1);
  g_assert_cmpint (shared->other, ==, 0);
  g_assert_true (ps_barrier_is_broken (barrier));
  g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, 0);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpint (ps_barrier_wait (barrier, i == 0 ? -1 : 0, NULL, &error), ==, -1);
      g_assert_error (error, PS_ERROR, PS_ERROR_BROKEN);
      g_clear_error (&error);
    }
  ps_test_reap_killed (sentry);
  ps_test_reap_killed (victim);

  /* Reset: the four places are there for new parties, round after round. */
  g_assert_true (ps_barrier_reset (barrier, &error));
  g_assert_false (ps_barrier_is_broken (barrier));
  party.rounds = 2;
  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    pids[i] = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
  for (guint round = 0; round < party.rounds; round++)
    {
      index = ps_barrier_wait (barrier, -1, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (index, >=, 0);
      g_atomic_int_or ((guint *) &shared->index_mask[round], 1u << index);
    }
  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (20));
  g_assert_cmpint (shared->passed, ==, 3);
  for (guint round = 0; round < party.rounds; round++)
    g_assert_cmpint (shared->index_mask[round], ==, 0xf);
  g_assert_false (ps_barrier_is_broken (barrier));
  g_assert_cmpuint (ps_barrier_get_n_waiting (barrier), ==, 0);
}

/* Two parties: the one that would end the round sees that the other,
 * which arrived, is gone. Killed asleep and not reaped yet (a zombie):
 * where the backend keeps death marks, the last arrival sees the death
 * in the mark; elsewhere its look (one system call) only sees processes
 * that are reaped, and the round passes. */
static void
test_dead_party_seen_by_last (void)
{
  for (guint reaped = 0; reaped < 2; reaped++)
    {
      g_autoptr(PsSharedMemory) memory = NULL;
      Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
      g_autoptr(PsBarrier) barrier = barrier_new (2);
      g_autoptr(GError) error = NULL;
      Party party = { barrier, shared, 1, -1 };
      siginfo_t info;
      pid_t victim;
      gint index;

      victim = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
      ps_test_wait_until_blocked (victim, victim);
      kill (victim, SIGKILL);
      if (reaped)
        ps_test_reap_killed (victim);
      else /* dead, its robust list handled, but left a zombie */
        g_assert_cmpint (waitid (P_PID, (id_t) victim, &info, WEXITED | WNOWAIT), ==, 0);
      index = ps_barrier_wait (barrier, -1, NULL, &error);
      if (reaped || backend_has_marks ())
        {
          g_assert_cmpint (index, ==, -1);
          g_assert_error (error, PS_ERROR, PS_ERROR_BROKEN);
          g_assert_true (ps_barrier_is_broken (barrier));
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpint (index, ==, 1);
          g_assert_false (ps_barrier_is_broken (barrier));
        }
      if (!reaped)
        ps_test_reap_killed (victim);
    }
}

/* Async -------------------------------------------------------------------- */

static void
on_waited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  PsTestOutcome *outcome = user_data;

  outcome->index = ps_barrier_wait_finish (PS_BARRIER (source), result, &outcome->error);
  ps_test_outcome_record (outcome, outcome->index >= 0);
}

/* Async parties of one round in this process, with a blocking one in
 * another, each with its own index; a cancelled or timed-out async party
 * gets its own error and the others PS_ERROR_BROKEN; a dead party is
 * noticed by a pending async one on its own. */
static void
test_async (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
  g_autoptr(PsBarrier) barrier = barrier_new (4);
  Party party = { barrier, shared, 1, -1 };
  GCancellable *cancellable = g_cancellable_new ();
  PsTestOutcome out[3] = { { 0 } };
  gint64 start;
  pid_t pid;

  for (guint i = 0; i < 3; i++)
    ps_barrier_wait_async (barrier, -1, i == 1 ? cancellable : NULL, on_waited, &out[i]);
  pid = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (ps_test_run_until_done (&out[i], 30));
      g_assert_no_error (out[i].error);
      shared->index_mask[0] |= 1 << out[i].index;
      out[i].done = FALSE;
    }
  g_assert_cmpint (shared->index_mask[0], ==, 0xf);

  for (guint i = 0; i < 3; i++)
    ps_barrier_wait_async (barrier, i == 2 ? 50 * 1000 : -1, i == 1 ? cancellable : NULL,
                           on_waited, &out[i]);
  g_cancellable_cancel (cancellable);
  for (guint i = 0; i < 3; i++)
    g_assert_true (ps_test_run_until_done (&out[i], 30));
  g_assert_error (out[1].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_error (out[0].error, PS_ERROR, PS_ERROR_BROKEN);
  g_assert_error (out[2].error, PS_ERROR, PS_ERROR_BROKEN);
  g_assert_true (ps_barrier_reset (barrier, NULL));

  start = g_get_monotonic_time ();
  for (guint i = 0; i < 3; i++)
    {
      g_clear_error (&out[i].error);
      out[i].done = FALSE;
      if (i != 1)
        ps_barrier_wait_async (barrier, i == 2 ? 50 * 1000 : -1, NULL, on_waited, &out[i]);
    }
  g_assert_true (ps_test_run_until_done (&out[2], 30));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 50 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, ps_test_scaled_us (2 * G_USEC_PER_SEC));
  g_assert_error (out[2].error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_true (ps_test_run_until_done (&out[0], 30));
  g_assert_error (out[0].error, PS_ERROR, PS_ERROR_BROKEN);
  g_assert_true (ps_barrier_reset (barrier, NULL));

  /* Nothing but its own look every 50 ms tells the async party. */
  pid = ps_test_fork (party_main, &party, ps_test_scaled_s (30));
  ps_test_wait_until_blocked (pid, pid);
  g_clear_error (&out[0].error);
  out[0].done = FALSE;
  ps_barrier_wait_async (barrier, -1, NULL, on_waited, &out[0]);
  kill (pid, SIGKILL);
  ps_test_reap_killed (pid);
  g_assert_true (ps_test_run_until_done (&out[0], 30));
  g_assert_error (out[0].error, PS_ERROR, PS_ERROR_BROKEN);
  for (guint i = 0; i < 3; i++)
    g_clear_error (&out[i].error);
  g_object_unref (cancellable);
}

/* Sharing models ------------------------------------------------------------- */

static void
test_named (void)
{
  g_autofree char *name = ps_test_unique_name ("barrier");
  g_autoptr(GError) error = NULL;
  g_autoptr(PsBarrier) creator = NULL;
  g_autoptr(PsBarrier) opener = NULL;

  opener = ps_barrier_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  opener = ps_barrier_open (name, PS_OPEN_CREATE, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  creator = ps_barrier_open (name, PS_OPEN_CREATE, 2, &error);
  g_assert_no_error (error);
  g_assert_true (ps_barrier_get_created (creator));
  g_assert_cmpstr (ps_barrier_get_name (creator), ==, name);
  opener = ps_barrier_open (name, PS_OPEN_CREATE, 5, &error);
  g_assert_no_error (error);
  g_assert_false (ps_barrier_get_created (opener));
  g_assert_cmpuint (ps_barrier_get_parties (opener), ==, 2);
  g_clear_object (&opener);
  opener = ps_barrier_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_barrier_get_parties (opener), ==, 2);
  ps_barrier_abort (creator);
  g_assert_true (ps_barrier_is_broken (opener));

  g_assert_true (ps_unlink (name, &error));
}

static void
test_placed (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsBarrier) placed = NULL;
  g_autoptr(PsBarrier) attached = NULL;
  g_autoptr(PsBarrier) opened = NULL;
  g_autoptr(PsBarrier) again = NULL;
  g_autoptr(PsEvent) event = NULL;
  guint parties = 0;

  memory = ps_shared_memory_new (3 * PS_BARRIER_SIZE, &error);
  g_assert_no_error (error);
  placed = ps_barrier_new_at (memory, 0, 3, &error);
  g_assert_no_error (error);
  again = ps_barrier_new_at (memory, 0, 3, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  attached = ps_barrier_attach (memory, 0, &error);
  g_assert_no_error (error);
  g_assert_false (ps_barrier_get_created (attached));
  g_object_get (attached, "parties", &parties, NULL);
  g_assert_cmpuint (parties, ==, 3);

  opened = ps_barrier_open_at (memory, PS_BARRIER_SIZE, PS_OPEN_CREATE, 4, &error);
  g_assert_no_error (error);
  g_assert_true (ps_barrier_get_created (opened));
  again = ps_barrier_open_at (memory, PS_BARRIER_SIZE, PS_OPEN_CREATE, 7, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_barrier_get_parties (again), ==, 4);
  g_clear_object (&again);
  again = ps_barrier_open_at (memory, 2 * PS_BARRIER_SIZE, PS_OPEN_NONE, 2, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  event = ps_event_new_at (memory, 2 * PS_BARRIER_SIZE, FALSE, &error);
  g_assert_no_error (error);
  again = ps_barrier_attach (memory, 2 * PS_BARRIER_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
}

static void
test_corrupt (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsBarrier) placed = NULL;
  g_autoptr(PsBarrier) attached = NULL;
  PsBarrierState *state;

  memory = ps_shared_memory_new (PS_BARRIER_SIZE, &error);
  g_assert_no_error (error);
  placed = ps_barrier_new_at (memory, 0, 2, &error);
  g_assert_no_error (error);
  state = state_of (memory, 0);

  state->parties = 0;
  attached = ps_barrier_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  state->parties = PS_BARRIER_MAX_PARTIES + 1;
  attached = ps_barrier_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  state->parties = 2;
  *ps_barrier_word (state) = 2;   /* more arrived than it has parties */
  attached = ps_barrier_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);

  /* Written after opening: a wait refuses it, with no hang. */
  *ps_barrier_word (state) = 0;
  attached = ps_barrier_attach (memory, 0, &error);
  g_assert_no_error (error);
  *ps_barrier_word (state) = 0xff;
  g_assert_cmpint (ps_barrier_wait (attached, -1, NULL, &error), ==, -1);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);
  /* A table of slots naming processes that do not exist (or are init):
   * freed or left, never a crash, and a reset makes it work again. */
  for (guint i = 0; i < PS_BARRIER_MAX_PARTIES; i++)
    state->slots[i] = i % 2 ? G_GUINT64_CONSTANT (0x3fffffffffffffff) : 1;
  g_assert_true (ps_barrier_reset (attached, &error));
  g_assert_cmpuint (ps_barrier_get_n_waiting (attached), ==, 0);
}

static void
test_construct (void)
{
  g_autoptr(PsBarrier) barrier = g_object_new (PS_TYPE_BARRIER, "parties", 1, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_initable_init (G_INITABLE (barrier), NULL, &error));
  g_assert_true (g_initable_init (G_INITABLE (barrier), NULL, &error));
  g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), ==, 0);
  g_assert_no_error (error);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/barrier/parties-range", test_parties_range);
  ps_test_add ("/barrier/one-party", test_one_party);
  ps_test_add ("/barrier/rounds", test_rounds);
  ps_test_add ("/barrier/overlapping-rounds", test_overlapping_rounds);
  ps_test_add ("/barrier/n-waiting", test_n_waiting);
  ps_test_add ("/barrier/break/timeout", test_timeout_breaks);
  ps_test_add ("/barrier/break/cancel", test_cancel_breaks);
  ps_test_add ("/barrier/break/abort-reset", test_abort_and_reset_break_waiters);
  ps_test_add ("/barrier/break/dead-party", test_dead_party_breaks);
  ps_test_add ("/barrier/break/dead-party-seen-by-last", test_dead_party_seen_by_last);
  ps_test_add ("/barrier/break/dead-sentry-and-woken-sleeper",
               test_sentry_dies_with_woken_sleeper);
  ps_test_add ("/barrier/death-mark", test_death_mark);
  ps_test_add ("/barrier/async", test_async);
  ps_test_add ("/barrier/named", test_named);
  ps_test_add ("/barrier/placed", test_placed);
  ps_test_add ("/barrier/corrupt", test_corrupt);
  ps_test_add ("/barrier/construct", test_construct);

  return g_test_run ();
}
