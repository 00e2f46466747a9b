/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * When waits poll before sleeping (procshared/ps-spin-private.h): never
 * when the thread can use one CPU only (unless its peer was last seen on
 * another), while polls keep finding their answer, and, once they stop,
 * only now and then.
 */

#include "ps-test-util.h"
#include "ps-counter-private.h"
#include "ps-system-private.h"
#include "ps-spin-private.h"

/* The policy reads the affinity mask again after at most 50 ms. */
#define AFFINITY_NOTICED_US (60 * 1000)

/* One object per test, far from the others' records. */
static guint8 objects[3][4096];

static void
test_cpus_usable_follows_affinity (void)
{
  cpu_set_t saved;

  g_assert_cmpint (sched_getaffinity (0, sizeof saved, &saved), ==, 0);
  g_assert_cmpuint (ps_system_cpus_usable (), ==, (guint) CPU_COUNT (&saved));

  ps_test_pin_to_first_cpu (&saved);
  g_assert_cmpuint (ps_system_cpus_usable (), ==, 1);
  g_assert_cmpint (sched_setaffinity (0, sizeof saved, &saved), ==, 0);
}

static void
test_never_on_one_cpu (void)
{
  cpu_set_t saved;

  ps_test_pin_to_first_cpu (&saved);
  g_usleep (AFFINITY_NOTICED_US);

  /* A new object would poll anywhere else; not here, however often. */
  for (guint i = 0; i < 200; i++)
    g_assert_false (ps_spin_should_poll (objects[0]));

  g_assert_cmpint (sched_setaffinity (0, sizeof saved, &saved), ==, 0);
  g_usleep (AFFINITY_NOTICED_US);
  if (CPU_COUNT (&saved) > 1)
    g_assert_true (ps_spin_should_poll (objects[0]));
}

/* Two processes pinned apart: each may use one CPU, and still be
 * answered by the other. */
static void
test_peer_on_another_cpu (void)
{
  cpu_set_t saved;
  gint cpu, other;

  cpu = ps_test_pin_to_first_cpu (&saved);
  g_usleep (AFFINITY_NOTICED_US);
  g_assert_cmpint (ps_system_current_cpu (), ==, cpu);

  other = cpu == 0 ? 1 : 0;
  for (guint i = 0; i < 200; i++)
    {
      /* A peer on this CPU, or nowhere known: never. */
      g_assert_false (ps_spin_should_poll_for (objects[2], cpu));
      g_assert_false (ps_spin_should_poll_for (objects[2], -1));
    }
  if (ps_system_cpus_online () > 1)
    g_assert_true (ps_spin_should_poll_for (objects[2], other));
  else
    g_assert_false (ps_spin_should_poll_for (objects[2], other));

  g_assert_cmpint (sched_setaffinity (0, sizeof saved, &saved), ==, 0);
  g_usleep (AFFINITY_NOTICED_US);
}

static gpointer
take_one (gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_counter_take_waiting (data, ps_test_scaled_us (30 * G_USEC_PER_SEC), NULL,
                                          "semaphore", &error));
  g_assert_no_error (error);
  return NULL;
}

/* A give that wakes a waiter leaves its CPU for the waiters to come; one
 * that wakes nobody writes nothing (the uncontended path stays as it was). */
static void
test_giver_leaves_its_cpu (void)
{
  g_autoptr(GError) error = NULL;
  PsCounter *counter = g_new0 (PsCounter, 1);
  GThread *taker;
  cpu_set_t saved;
  gint cpu;

  g_assert_true (ps_counter_init (counter, 0, 10, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_spin_cpu_of_mark (counter->giver_cpu), ==, -1);

  cpu = ps_test_pin_to_first_cpu (&saved);
  g_assert_true (ps_counter_give (counter, 1, 10, "semaphore", &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_spin_cpu_of_mark (counter->giver_cpu), ==, -1);
  g_assert_true (ps_counter_try_take (counter));

  taker = g_thread_new ("taker", take_one, counter);
  g_assert_true (ps_test_wait_int ((gint *) &counter->waiters, 1, 30));
  g_assert_true (ps_counter_give (counter, 1, 10, "semaphore", &error));
  g_assert_no_error (error);
  g_thread_join (taker);
  g_assert_cmpint (ps_spin_cpu_of_mark (counter->giver_cpu), ==, cpu);

  /* Whatever a peer writes there reads as a CPU or as unknown. */
  g_assert_cmpint (ps_spin_cpu_of_mark (G_MAXUINT32), ==, 0xfffe);
  g_assert_cmpint (ps_spin_cpu_of_mark (0x10000), ==, -1);

  g_assert_cmpint (sched_setaffinity (0, sizeof saved, &saved), ==, 0);
  g_usleep (AFFINITY_NOTICED_US);
  g_free (counter);
}

static void
test_polls_while_they_pay (void)
{
  guint polled = 0;
  guint i;

  if (ps_system_cpus_usable () < 2)
    {
      g_test_skip ("this process may use one CPU only: waits never poll");
      return;
    }

  /* A new object polls; each answered poll keeps it polling. */
  for (i = 0; i < 100; i++)
    {
      g_assert_true (ps_spin_should_poll (objects[1]));
      ps_spin_record (objects[1], TRUE);
    }

  /* Polls that end in sleep use the credit up: 16 of them at most. */
  for (i = 0; i < 100 && ps_spin_should_poll (objects[1]); i++)
    ps_spin_record (objects[1], FALSE);
  g_assert_cmpuint (i, ==, 16);

  /* Then one wait in 64 polls, to notice a change. */
  for (i = 0; i < 64 * 4; i++)
    if (ps_spin_should_poll (objects[1]))
      {
        polled++;
        ps_spin_record (objects[1], FALSE);
      }
  g_assert_cmpuint (polled, ==, 4);

  /* A poll that is answered again starts polling again. */
  ps_spin_record (objects[1], TRUE);
  g_assert_true (ps_spin_should_poll (objects[1]));
}

int
main (int   argc,
      char *argv[])
{
  ps_test_init (&argc, &argv, NULL);
  ps_test_add ("/spin/cpus-usable-follows-affinity", test_cpus_usable_follows_affinity);
  ps_test_add ("/spin/never-on-one-cpu", test_never_on_one_cpu);
  ps_test_add ("/spin/peer-on-another-cpu", test_peer_on_another_cpu);
  ps_test_add ("/spin/giver-leaves-its-cpu", test_giver_leaves_its_cpu);
  ps_test_add ("/spin/polls-while-they-pay", test_polls_while_they_pay);
  return g_test_run ();
}
