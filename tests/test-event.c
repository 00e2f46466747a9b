/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsEvent across threads and processes: manual- and auto-reset, no lost
 * set, timeouts, cancellation, async waits, the sharing models, and the
 * states a peer could have written that an opener must refuse.
 */

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ps-test-async.h"

#include "ps-object-header-private.h"

typedef struct
{
  gint ready;
  gint passed;
  gint failed;
} Shared;

/* Helpers ------------------------------------------------------------------ */

static PsEvent *
event_new (gboolean auto_reset)
{
  g_autoptr(GError) error = NULL;
  PsEvent *event = ps_event_new (auto_reset, &error);

  g_assert_no_error (error);
  g_assert_nonnull (event);
  return event;
}

typedef struct
{
  PsEvent *event;
  Shared  *shared;
  gint64   timeout_us;
} Waiter;

static int
wait_in_child (gpointer data)
{
  Waiter *waiter = data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_atomic_int_inc (&waiter->shared->ready);
  ok = ps_event_wait (waiter->event, waiter->timeout_us, NULL, &error);
  g_atomic_int_inc (ok ? &waiter->shared->passed : &waiter->shared->failed);
  return ok ? 0 : 2;
}

/* Waits until the single-threaded child @pid sleeps. */
static void
wait_blocked (pid_t pid)
{
  ps_test_wait_until_blocked (pid, pid);
}

/* Basics ------------------------------------------------------------------- */

static void
test_manual_basics (void)
{
  g_autoptr(PsEvent) event = event_new (FALSE);
  g_autoptr(GError) error = NULL;

  g_assert_false (ps_event_get_auto_reset (event));
  g_assert_true (ps_event_get_created (event));
  g_assert_null (ps_event_get_name (event));
  g_assert_false (ps_event_is_set (event));

  g_assert_false (ps_event_wait (event, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_false (ps_event_wait (event, 20 * 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  ps_event_set (event);
  ps_event_set (event);
  g_assert_true (ps_event_is_set (event));
  /* It stays set: every wait passes. */
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (ps_event_wait (event, 0, NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_true (ps_event_is_set (event));
  ps_event_reset (event);
  ps_event_reset (event);
  g_assert_false (ps_event_is_set (event));
  g_assert_false (ps_event_wait (event, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
}

static void
test_auto_basics (void)
{
  g_autoptr(PsEvent) event = event_new (TRUE);
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_event_get_auto_reset (event));
  g_assert_false (ps_event_is_set (event));
  /* A set while nobody waits is kept for one wait, and only one. */
  ps_event_set (event);
  ps_event_set (event);
  g_assert_true (ps_event_is_set (event));
  g_assert_true (ps_event_wait (event, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (ps_event_is_set (event));
  g_assert_false (ps_event_wait (event, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);

  ps_event_set (event);
  ps_event_reset (event);
  g_assert_false (ps_event_is_set (event));
  g_assert_false (ps_event_wait (event, 20 * 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

/* Across processes ----------------------------------------------------------- */

#define N_WAITERS 4

/* N_WAITERS children asleep in a wait on @waiter's event. */
static void
fork_waiters (Waiter *waiter,
              pid_t  *pids)
{
  for (guint i = 0; i < N_WAITERS; i++)
    pids[i] = ps_test_fork (wait_in_child, waiter, ps_test_scaled_s (40));
  g_assert_true (ps_test_wait_int (&waiter->shared->ready, N_WAITERS, 20));
  for (guint i = 0; i < N_WAITERS; i++)
    wait_blocked (pids[i]);
}

static void
test_manual_wakes_all (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
  g_autoptr(PsEvent) event = event_new (FALSE);
  Waiter waiter = { event, shared, -1 };
  pid_t pids[N_WAITERS];

  fork_waiters (&waiter, pids);

  /* Cleared again before any waiter runs: each still returns TRUE. */
  ps_event_set (event);
  ps_event_reset (event);
  for (guint i = 0; i < N_WAITERS; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (20));
  g_assert_cmpint (shared->passed, ==, N_WAITERS);
  g_assert_cmpint (shared->failed, ==, 0);
  g_assert_false (ps_event_is_set (event));
}

static void
test_auto_wakes_one (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);
  g_autoptr(PsEvent) event = event_new (TRUE);
  Waiter waiter = { event, shared, -1 };
  pid_t pids[N_WAITERS];

  fork_waiters (&waiter, pids);

  for (gint round = 1; round <= N_WAITERS; round++)
    {
      ps_event_set (event);
      g_assert_true (ps_test_wait_int (&shared->passed, round, 20));
      /* Exactly one went through, and its return cleared the event. */
      g_usleep (ps_test_scaled_us (50 * 1000));
      g_assert_cmpint (g_atomic_int_get (&shared->passed), ==, round);
      g_assert_false (ps_event_is_set (event));
    }
  for (guint i = 0; i < N_WAITERS; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (20));
  g_assert_cmpint (shared->failed, ==, 0);
}

/* A set races the waiter's look at the flag: never lost. */
static void
test_no_lost_set (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);

  for (guint kind = 0; kind < 2; kind++)
    for (guint i = 0; i < 200; i++)
      {
        g_autoptr(PsEvent) event = event_new (kind == 1);
        Waiter waiter = { event, shared, ps_test_scaled_us (20 * G_USEC_PER_SEC) };
        pid_t pid;

        pid = ps_test_fork (wait_in_child, &waiter, ps_test_scaled_s (30));
        if (i % 2 == 0)
          g_assert_true (ps_test_wait_at_least (&shared->ready, 1, 20));
        ps_event_set (event);
        ps_test_reap_ok (pid, ps_test_scaled_s (25));
        g_atomic_int_set (&shared->ready, 0);
      }
}

/* A waiter killed while it waits leaves nothing behind. */
static void
test_killed_waiter (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = ps_test_shared_new (sizeof (Shared), &memory);

  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(PsEvent) event = event_new (kind == 1);
      g_autoptr(GError) error = NULL;
      Waiter waiter = { event, shared, -1 };
      pid_t pid;

      g_atomic_int_set (&shared->ready, 0);
      pid = ps_test_fork (wait_in_child, &waiter, ps_test_scaled_s (30));
      g_assert_true (ps_test_wait_int (&shared->ready, 1, 20));
      wait_blocked (pid);
      kill (pid, SIGKILL);
      ps_test_reap_killed (pid);

      ps_event_set (event);
      g_assert_true (ps_event_is_set (event));
      g_assert_true (ps_event_wait (event, 0, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpint (ps_event_is_set (event), ==, kind == 0);
    }
}

/* Cancellation and async --------------------------------------------------- */

static gpointer
cancel_later (gpointer data)
{
  g_usleep (30 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_cancel (void)
{
  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(PsEvent) event = event_new (kind == 1);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      GThread *thread;

      thread = g_thread_new ("cancel", cancel_later, cancellable);
      g_assert_false (ps_event_wait (event, -1, cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_thread_join (thread);
      g_clear_error (&error);
      /* Already cancelled: fails before looking, even at a set event. */
      ps_event_set (event);
      g_assert_false (ps_event_wait (event, -1, cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_true (ps_event_is_set (event));
    }
}

static gpointer
set_later (gpointer data)
{
  g_usleep (30 * 1000);
  ps_event_set (data);
  return NULL;
}

static void
on_waited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  PsTestOutcome *outcome = user_data;

  ps_test_outcome_record (outcome, ps_event_wait_finish (PS_EVENT (source), result,
                                                         &outcome->error));
}

static void
test_async (void)
{
  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(PsEvent) event = event_new (kind == 1);
      PsTestOutcome woken = { 0, };
      PsTestOutcome at_once = { 0, };
      GThread *thread;

      thread = g_thread_new ("set", set_later, event);
      ps_event_wait_async (event, -1, NULL, on_waited, &woken);
      g_assert_true (ps_test_run_until_done (&woken, 30));
      g_thread_join (thread);
      g_assert_no_error (woken.error);
      g_assert_true (woken.ok);
      g_assert_cmpint (ps_event_is_set (event), ==, kind == 0);

      ps_event_set (event);
      ps_event_wait_async (event, 0, NULL, on_waited, &at_once);
      g_assert_true (ps_test_run_until_done (&at_once, 30));
      g_assert_no_error (at_once.error);
      g_assert_true (at_once.ok);
    }
}

/* Runs the default main context for about @us microseconds. */
static void
run_for (gint64 us)
{
  gint64 end = g_get_monotonic_time () + us;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (500);
}

static guint
count_done (const PsTestOutcome *outcomes,
            guint          n,
            gboolean       ok)
{
  guint done = 0;

  for (guint i = 0; i < n; i++)
    done += outcomes[i].done && outcomes[i].ok == ok;
  return done;
}

#define PENDING 8

/* Sets the event once (manual-reset), or once per wait, each set taken. */
static int
set_in_child (gpointer data)
{
  PsEvent *event = data;

  for (guint i = 0; i < (ps_event_get_auto_reset (event) ? PENDING : 1); i++)
    {
      ps_event_set (event);
      for (guint polls = 0; ps_event_is_set (event) && ps_event_get_auto_reset (event); polls++)
        {
          PS_CHILD_CHECK (polls < 100000);
          g_usleep (100);
        }
    }
  return 0;
}

/* Pending async waits, watched rather than parked on a thread each, end
 * when another process sets the event: all of them at once for a
 * manual-reset event, one per set for an auto-reset one. */
static void
test_async_across_processes (void)
{
  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(PsEvent) event = event_new (kind == 1);
      PsTestOutcome outcomes[PENDING + 1] = { { 0 } };
      pid_t pid;

      for (guint i = 0; i < PENDING; i++)
        ps_event_wait_async (event, -1, NULL, on_waited, &outcomes[i]);
      run_for (10 * 1000);
      g_assert_cmpuint (count_done (outcomes, PENDING, FALSE), ==, 0);

      pid = ps_test_fork (set_in_child, event, ps_test_scaled_s (30));
      for (guint i = 0; i < PENDING; i++)
        g_assert_true (ps_test_run_until_done (&outcomes[i], 30));
      ps_test_reap_ok (pid, ps_test_scaled_s (30));
      g_assert_cmpuint (count_done (outcomes, PENDING, TRUE), ==, PENDING);
      g_assert_cmpint (ps_event_is_set (event), ==, kind == 0);

      ps_event_reset (event);
      ps_event_wait_async (event, 0, NULL, on_waited, &outcomes[PENDING]);
      g_assert_true (ps_test_run_until_done (&outcomes[PENDING], 30));
      g_assert_error (outcomes[PENDING].error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
      g_clear_error (&outcomes[PENDING].error);
    }
}

/* Cancelling one of many pending waits ends that one only, and takes
 * nothing: a set made before the cancelled wait ran is the others'. */
static void
test_async_cancel_one (void)
{
  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(PsEvent) event = event_new (kind == 1);
      GCancellable *cancellables[PENDING];
      PsTestOutcome outcomes[PENDING] = { { 0 } };

      for (guint i = 0; i < PENDING; i++)
        {
          cancellables[i] = g_cancellable_new ();
          ps_event_wait_async (event, -1, cancellables[i], on_waited, &outcomes[i]);
        }
      run_for (10 * 1000);
      g_cancellable_cancel (cancellables[2]);
      g_assert_true (ps_test_run_until_done (&outcomes[2], 30));
      g_assert_error (outcomes[2].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      run_for (20 * 1000);
      g_assert_cmpuint (count_done (outcomes, PENDING, FALSE), ==, 1);
      g_assert_cmpuint (count_done (outcomes, PENDING, TRUE), ==, 0);

      /* A set, then the cancellation of a wait before its context ran;
       * then, for an auto-reset event, one more set per other wait. */
      ps_event_set (event);
      g_cancellable_cancel (cancellables[5]);
      g_assert_true (ps_test_run_until_done (&outcomes[5], 30));
      g_assert_error (outcomes[5].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      for (guint sets = 1; sets <= (kind == 1 ? PENDING - 2 : 1); sets++)
        {
          guint expected = kind == 1 ? sets : PENDING - 2;

          if (sets > 1)
            ps_event_set (event);
          while (count_done (outcomes, PENDING, TRUE) < expected)
            g_main_context_iteration (NULL, TRUE);
          run_for (10 * 1000);
          g_assert_cmpuint (count_done (outcomes, PENDING, TRUE), ==, expected);
        }
      g_assert_cmpint (ps_event_is_set (event), ==, kind == 0);
      for (guint i = 0; i < PENDING; i++)
        {
          g_clear_error (&outcomes[i].error);
          g_object_unref (cancellables[i]);
        }
    }
}

/* A timeout ends a pending wait on time, woken by the context's own. */
static void
test_async_timeout (void)
{
  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(PsEvent) event = event_new (kind == 1);
      PsTestOutcome outcome = { 0, };
      gint64 start = g_get_monotonic_time (), elapsed;

      ps_event_wait_async (event, 50 * 1000, NULL, on_waited, &outcome);
      g_assert_true (ps_test_run_until_done (&outcome, 30));
      elapsed = g_get_monotonic_time () - start;
      g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_clear_error (&outcome.error);
      g_assert_cmpint (elapsed, >=, 50 * 1000);
      g_assert_cmpint (elapsed, <, ps_test_scaled_us (2 * G_USEC_PER_SEC));
    }
}

/* The threads of this process, as /proc/self/task lists them. */
static guint
count_threads (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nThreads:");
  g_assert_nonnull (line);
  return (guint) g_ascii_strtoull (line + strlen ("\nThreads:"), NULL, 10);
}

#define MANY 1000

/* 1,000 pending waits cost no thread each: at most one waiter thread
 * per 127 watched words on Linux, none elsewhere. */
static void
test_async_many_pending (void)
{
  g_autoptr(PsEvent) event = event_new (FALSE);
  PsTestOutcome *outcomes = g_new0 (PsTestOutcome, MANY);
  guint threads_before = count_threads ();
  /* Valgrind has no futex_waitv(2): its waits are polled, each. */
  guint many = ps_test_time_scale () > 1 ? MANY / 10 : MANY;

  for (guint i = 0; i < many; i++)
    ps_event_wait_async (event, -1, NULL, on_waited, &outcomes[i]);
  run_for (20 * 1000);
  g_assert_cmpuint (count_threads (), <=, threads_before + (many + 126) / 127);
  g_assert_cmpuint (count_done (outcomes, many, FALSE), ==, 0);

  ps_event_set (event);
  for (guint i = 0; i < many; i++)
    g_assert_true (ps_test_run_until_done (&outcomes[i], 30));
  g_assert_cmpuint (count_done (outcomes, many, TRUE), ==, many);
  g_free (outcomes);
}

/* Sharing models ------------------------------------------------------------- */

static void
test_named (void)
{
  g_autofree char *name = ps_test_unique_name ("event");
  g_autoptr(GError) error = NULL;
  g_autoptr(PsEvent) creator = NULL;
  g_autoptr(PsEvent) opener = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;

  opener = ps_event_open (name, PS_OPEN_NONE, FALSE, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (opener);
  g_clear_error (&error);

  creator = ps_event_open (name, PS_OPEN_CREATE, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (ps_event_get_created (creator));
  g_assert_cmpstr (ps_event_get_name (creator), ==, name);

  /* The opener's kind is ignored: the creator's holds. */
  opener = ps_event_open (name, PS_OPEN_CREATE, FALSE, &error);
  g_assert_no_error (error);
  g_assert_false (ps_event_get_created (opener));
  g_assert_true (ps_event_get_auto_reset (opener));
  {
    gboolean auto_reset = FALSE;

    g_object_get (opener, "auto-reset", &auto_reset, NULL);
    g_assert_true (auto_reset);
  }
  ps_event_set (creator);
  g_assert_true (ps_event_wait (opener, 0, NULL, &error));
  g_assert_false (ps_event_is_set (creator));

  semaphore = ps_semaphore_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_clear_error (&error);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

static void
test_placed (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsEvent) placed = NULL;
  g_autoptr(PsEvent) attached = NULL;
  g_autoptr(PsEvent) opened = NULL;
  g_autoptr(PsEvent) again = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsEvent) wrong = NULL;

  memory = ps_shared_memory_new (4 * PS_EVENT_SIZE, &error);
  g_assert_no_error (error);

  placed = ps_event_new_at (memory, 0, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (ps_event_get_created (placed));
  again = ps_event_new_at (memory, 0, FALSE, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_null (again);
  g_clear_error (&error);

  attached = ps_event_attach (memory, 0, &error);
  g_assert_no_error (error);
  g_assert_false (ps_event_get_created (attached));
  ps_event_set (placed);
  g_assert_true (ps_event_is_set (attached));

  /* open_at: creates at an empty place with the kind asked for, and
   * attaches (ignoring it) where one is. */
  opened = ps_event_open_at (memory, PS_EVENT_SIZE, PS_OPEN_CREATE, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (ps_event_get_created (opened));
  g_assert_true (ps_event_get_auto_reset (opened));
  g_clear_object (&again);
  again = ps_event_open_at (memory, PS_EVENT_SIZE, PS_OPEN_CREATE, FALSE, &error);
  g_assert_no_error (error);
  g_assert_false (ps_event_get_created (again));
  g_assert_true (ps_event_get_auto_reset (again));
  g_clear_object (&again);
  again = ps_event_open_at (memory, PS_EVENT_SIZE, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, FALSE,
                            &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  semaphore = ps_semaphore_new_at (memory, 2 * PS_EVENT_SIZE, 0, &error);
  g_assert_no_error (error);
  wrong = ps_event_attach (memory, 2 * PS_EVENT_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (wrong);
  g_clear_error (&error);

  wrong = ps_event_attach (memory, 3, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  wrong = ps_event_attach (memory, 4 * PS_EVENT_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
}

/* The state after the header: auto_reset, waiters, then the words. */
static void
test_corrupt (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsEvent) placed = NULL;
  g_autoptr(PsEvent) attached = NULL;
  guint32 *state;

  memory = ps_shared_memory_new (PS_EVENT_SIZE, &error);
  g_assert_no_error (error);
  placed = ps_event_new_at (memory, 0, FALSE, &error);
  g_assert_no_error (error);
  state = (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + sizeof (PsObjectHeader));

  state[0] = 2;   /* neither kind */
  attached = ps_event_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (attached);
  g_clear_error (&error);

  state[0] = 0xffffffffu;
  attached = ps_event_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);

  /* A manual-reset flag with any bits works as a flag. */
  state[0] = 0;
  attached = ps_event_attach (memory, 0, &error);
  g_assert_no_error (error);
  g_assert_false (ps_event_is_set (attached));
}

/* Property-based construction gives a working anonymous event. */
static void
test_construct (void)
{
  g_autoptr(PsEvent) event = g_object_new (PS_TYPE_EVENT, "auto-reset", TRUE, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_initable_init (G_INITABLE (event), NULL, &error));
  g_assert_true (g_initable_init (G_INITABLE (event), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_event_get_auto_reset (event));
  ps_event_set (event);
  g_assert_true (ps_event_wait (event, 0, NULL, &error));
  g_assert_false (ps_event_is_set (event));
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/event/manual/basics", test_manual_basics);
  ps_test_add ("/event/auto/basics", test_auto_basics);
  ps_test_add ("/event/manual/wakes-all", test_manual_wakes_all);
  ps_test_add ("/event/auto/wakes-one", test_auto_wakes_one);
  ps_test_add ("/event/no-lost-set", test_no_lost_set);
  ps_test_add ("/event/killed-waiter", test_killed_waiter);
  ps_test_add ("/event/cancel", test_cancel);
  ps_test_add ("/event/async", test_async);
  ps_test_add ("/event/async/across-processes", test_async_across_processes);
  ps_test_add ("/event/async/cancel-one", test_async_cancel_one);
  ps_test_add ("/event/async/timeout", test_async_timeout);
  ps_test_add ("/event/async/many-pending", test_async_many_pending);
  ps_test_add ("/event/named", test_named);
  ps_test_add ("/event/placed", test_placed);
  ps_test_add ("/event/corrupt", test_corrupt);
  ps_test_add ("/event/construct", test_construct);

  return g_test_run ();
}
