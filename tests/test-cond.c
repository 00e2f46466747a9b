/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsCond with PsMutex across real processes: ownership rules, the mutex
 * held again on every return path, timeouts, cancellation, no lost
 * wake-ups, a signal that wakes exactly one, broadcast, dead waiters, the
 * three sharing models, and the ways an object can be refused.
 *
 * "Separately spawned" peers re-execute this binary with --peer, handled
 * by ps_test_init() at the top of main().
 */

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ps-test-util.h"

/* The object header, to forge other layout versions. */
#include "ps-object-header-private.h"
/* The backend, whose signals may or may not tell that nobody slept. */
#include "ps-backend-private.h"
#include "ps-cond-private.h"

/* Helpers ------------------------------------------------------------------ */

#define MAX_WAITERS 16

/* Variables shared with children. Predicate fields are only touched
 * under the mutex; the others atomically. */
typedef struct
{
  gint   turn;
  gint   waiting;
  gint   go;
  gint   tokens;
  gint   woken;
  gint   flag;
  gint   holds;
  gint   released;
  gint   returns;
  gint64 signalled_at;
  gint64 woke_at[MAX_WAITERS];
  gint   tids[MAX_WAITERS];
  gint   done[MAX_WAITERS];
} Shared;

/* The usual trio: a mutex, a condition and the data they guard, all
 * anonymous and shared with children forked afterwards. */
typedef struct
{
  PsSharedMemory *memory;
  Shared         *shared;
  PsMutex        *mutex;
  PsCond         *cond;
  int             index;
} Setup;

static void
setup_anonymous (Setup *s)
{
  g_autoptr(GError) error = NULL;

  memset (s, 0, sizeof *s);
  s->memory = ps_shared_memory_new (sizeof (Shared), &error);
  g_assert_no_error (error);
  s->shared = ps_shared_memory_get_data (s->memory);
  s->mutex = ps_mutex_new (&error);
  g_assert_no_error (error);
  s->cond = ps_cond_new (&error);
  g_assert_no_error (error);
}

static void
setup_clear (Setup *s)
{
  g_clear_object (&s->cond);
  g_clear_object (&s->mutex);
  g_clear_object (&s->memory);
}

static void
lock (PsMutex *mutex)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_no_error (error);
}

static void
unlock (PsMutex *mutex)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
}

static gpointer
try_lock_thread (gpointer data)
{
  PsMutex *mutex = data;
  g_autoptr(GError) error = NULL;

  if (ps_mutex_try_lock (mutex, &error))
    {
      ps_mutex_unlock (mutex, NULL);
      return GINT_TO_POINTER (1);
    }
  return GINT_TO_POINTER (error != NULL ? 2 : 0);
}

/* Held by this very thread: by the bookkeeping, and by the lock itself
 * (another thread finds it busy). */
static void
assert_held_by_me (PsMutex *mutex)
{
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (g_thread_new ("try-lock", try_lock_thread,
                                                                 mutex))), ==, 0);
}

/* Waits until @n processes have announced, under the mutex, that they
 * are about to wait. Seeing that under the mutex means they have
 * released it, which they only do inside ps_cond_wait(). */
static void
wait_for_waiters (Setup *s,
                  gint   n)
{
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (20 * G_USEC_PER_SEC);

  for (;;)
    {
      gint waiting;

      lock (s->mutex);
      waiting = s->shared->waiting;
      unlock (s->mutex);
      if (waiting >= n)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

typedef struct
{
  GCancellable *cancellable;
  gint64        delay_us;
  gint64        cancelled_at;
  gint         *wait_for;    /* if set: cancel once it is non-zero */
} DelayedCancel;

static gpointer
delayed_cancel_thread (gpointer data)
{
  DelayedCancel *dc = data;

  if (dc->wait_for != NULL)
    {
      gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (20 * G_USEC_PER_SEC);

      while (!g_atomic_int_get (dc->wait_for) && g_get_monotonic_time () < deadline)
        g_usleep (500);
    }
  g_usleep (dc->delay_us);
  dc->cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (dc->cancellable);
  return NULL;
}

/* Passes the turn back and forth: each side waits in a predicate loop
 * for its turn, then hands it over and signals, alternately while
 * holding the mutex and after releasing it. A lost wake-up shows as a
 * timed-out wait. */
static gboolean
ping_pong (PsMutex  *mutex,
           PsCond   *cond,
           gint     *turn,
           gint      me,
           guint     rounds,
           GError  **error)
{
  guint i;

  for (i = 0; i < rounds; i++)
    {
      gint64 start = g_get_monotonic_time ();
      gint64 end_time = start + ps_test_scaled_us (10 * G_USEC_PER_SEC);

      if (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, error))
        return FALSE;
      while (*turn != me)
        {
          if (!ps_cond_wait_until (cond, mutex, end_time, NULL, error))
            {
              g_prefix_error (error, "round %u of %u: ", i, rounds);
              ps_mutex_unlock (mutex, NULL);
              return FALSE;
            }
          if (ps_mutex_get_owner_pid (mutex) != getpid ())
            {
              g_set_error (error, PS_ERROR, PS_ERROR_FAILED,
                           "woke up without holding the mutex");
              return FALSE;
            }
        }
      /* A wait may legitimately return at its deadline, so a lost
       * wake-up can look like a slow one: a turn takes microseconds. */
      if (g_get_monotonic_time () - start > ps_test_scaled_us (2 * G_USEC_PER_SEC))
        {
          g_set_error (error, PS_ERROR, PS_ERROR_FAILED,
                       "round %u of %u took %" G_GINT64_FORMAT " us: a wake-up was lost",
                       i, rounds, g_get_monotonic_time () - start);
          ps_mutex_unlock (mutex, NULL);
          return FALSE;
        }
      *turn = 1 - me;
      if (i % 2 == 0)
        ps_cond_signal (cond);
      if (!ps_mutex_unlock (mutex, error))
        return FALSE;
      if (i % 2 == 1)
        ps_cond_signal (cond);
    }
  return TRUE;
}

typedef struct
{
  PsMutex *mutex;
  PsCond  *cond;
  gint    *turn;
  guint    rounds;
} PingPong;

static int
ping_pong_child (gpointer data)
{
  PingPong *pp = data;
  g_autoptr(GError) error = NULL;

  if (!ping_pong (pp->mutex, pp->cond, pp->turn, 1, pp->rounds, &error))
    {
      g_printerr ("child: %s\n", error->message);
      return 2;
    }
  return 0;
}

/* Ownership ------------------------------------------------------------------ */

static gpointer
hold_mutex_thread (gpointer data)
{
  Setup *s = data;

  lock (s->mutex);
  g_atomic_int_set (&s->shared->holds, 1);
  g_assert_true (ps_test_wait_at_least (&s->shared->go, 1, 20));
  return GINT_TO_POINTER (ps_mutex_unlock (s->mutex, NULL));
}

static int
hold_mutex_child (gpointer data)
{
  return GPOINTER_TO_INT (hold_mutex_thread (data)) ? 0 : 2;
}

static void
assert_wait_not_owner (Setup *s)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (ps_cond_wait (s->cond, s->mutex, 30 * G_USEC_PER_SEC, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_false (ps_cond_wait (s->cond, s->mutex, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_false (ps_cond_wait (s->cond, s->mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_false (ps_cond_wait_until (s->cond, s->mutex,
                                      g_get_monotonic_time () + 30 * G_USEC_PER_SEC,
                                      NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
}

static void
test_wait_not_owner (void)
{
  g_autoptr(GError) error = NULL;
  Setup s;
  GThread *thread;
  pid_t pid;

  setup_anonymous (&s);

  /* Nobody holds it: refused, and it stays unlocked. */
  assert_wait_not_owner (&s);
  g_assert_cmpint (ps_mutex_get_owner_pid (s.mutex), ==, 0);
  g_assert_true (ps_mutex_try_lock (s.mutex, &error));
  g_assert_no_error (error);
  unlock (s.mutex);

  /* Another thread holds it: refused, and that thread still holds it. */
  thread = g_thread_new ("holder", hold_mutex_thread, &s);
  g_assert_true (ps_test_wait_at_least (&s.shared->holds, 1, 20));
  assert_wait_not_owner (&s);
  g_assert_cmpint (ps_mutex_get_owner_pid (s.mutex), ==, getpid ());
  g_assert_false (ps_mutex_unlock (s.mutex, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_atomic_int_set (&s.shared->go, 1);
  g_assert_true (GPOINTER_TO_INT (g_thread_join (thread)));
  g_assert_cmpint (ps_mutex_get_owner_pid (s.mutex), ==, 0);

  /* Another process holds it: likewise. */
  g_atomic_int_set (&s.shared->holds, 0);
  g_atomic_int_set (&s.shared->go, 0);
  pid = ps_test_fork (hold_mutex_child, &s, ps_test_scaled_s (30));
  g_assert_true (ps_test_wait_at_least (&s.shared->holds, 1, 20));
  assert_wait_not_owner (&s);
  g_assert_cmpint (ps_mutex_get_owner_pid (s.mutex), ==, pid);
  g_atomic_int_set (&s.shared->go, 1);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));   /* its unlock succeeded */
  g_assert_cmpint (ps_mutex_get_owner_pid (s.mutex), ==, 0);

  setup_clear (&s);
}

static void
test_wait_zero_timeout (void)
{
  g_autoptr(GError) error = NULL;
  Setup s;

  setup_anonymous (&s);
  lock (s.mutex);

  g_assert_false (ps_cond_wait (s.cond, s.mutex, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  assert_held_by_me (s.mutex);

  /* Even right after a signal: nothing is remembered to be taken. */
  ps_cond_signal (s.cond);
  g_assert_false (ps_cond_wait (s.cond, s.mutex, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  assert_held_by_me (s.mutex);

  unlock (s.mutex);
  setup_clear (&s);
}

static void
test_wait_recursive_would_deadlock (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;

  mutex = ps_mutex_new_recursive (&error);
  g_assert_no_error (error);
  cond = ps_cond_new (&error);
  g_assert_no_error (error);

  lock (mutex);
  lock (mutex);
  g_assert_false (ps_cond_wait (cond, mutex, 30 * G_USEC_PER_SEC, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_cond_wait (cond, mutex, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_cond_wait_until (cond, mutex, g_get_monotonic_time () + 30 * G_USEC_PER_SEC,
                                      NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);

  /* Still held twice. */
  assert_held_by_me (mutex);
  unlock (mutex);
  assert_held_by_me (mutex);
  unlock (mutex);
  g_assert_false (ps_mutex_unlock (mutex, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);

  /* Held once, a recursive mutex waits like any other, and comes back
   * held once. */
  lock (mutex);
  g_assert_false (ps_cond_wait (cond, mutex, 10000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  assert_held_by_me (mutex);
  unlock (mutex);
  g_assert_false (ps_mutex_unlock (mutex, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&error);
}

/* Timeouts ---------------------------------------------------------------------- */

static void
test_timeout_never_early (void)
{
  static const gint64 timeouts[] = { 1, 1000, 20000, 100000 };
  g_autoptr(GError) error = NULL;
  Setup s;
  guint i, round;

  setup_anonymous (&s);
  lock (s.mutex);

  for (round = 0; round < 4; round++)
    for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
      {
        /* With a cancellable the wait takes another path in the backend. */
        g_autoptr(GCancellable) cancellable = round % 2 ? g_cancellable_new () : NULL;
        gint64 start = g_get_monotonic_time ();
        gint64 end_time;

        g_assert_false (ps_cond_wait (s.cond, s.mutex, timeouts[i], cancellable, &error));
        g_assert_cmpint (g_get_monotonic_time () - start, >=, timeouts[i]);
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
        g_clear_error (&error);
        g_assert_cmpint (ps_mutex_get_owner_pid (s.mutex), ==, getpid ());

        end_time = g_get_monotonic_time () + timeouts[i];
        g_assert_false (ps_cond_wait_until (s.cond, s.mutex, end_time, cancellable, &error));
        g_assert_cmpint (g_get_monotonic_time (), >=, end_time);
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
        g_clear_error (&error);
        g_assert_cmpint (ps_mutex_get_owner_pid (s.mutex), ==, getpid ());
      }

  assert_held_by_me (s.mutex);
  unlock (s.mutex);
  setup_clear (&s);
}

static void
test_timeout_wait_until_past (void)
{
  g_autoptr(GError) error = NULL;
  const gint64 now = g_get_monotonic_time ();
  const gint64 end_times[] = { now, now - G_USEC_PER_SEC, 1, 0, -1, G_MININT64 };
  Setup s;
  guint i;

  setup_anonymous (&s);
  lock (s.mutex);

  for (i = 0; i < G_N_ELEMENTS (end_times); i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();

      g_assert_false (ps_cond_wait_until (s.cond, s.mutex, end_times[i], NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_clear_error (&error);
      assert_held_by_me (s.mutex);

      g_assert_false (ps_cond_wait_until (s.cond, s.mutex, end_times[i], cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_clear_error (&error);
      assert_held_by_me (s.mutex);
    }

  unlock (s.mutex);
  setup_clear (&s);
}

/* Someone else grabs the mutex while we wait and keeps it: whatever ends
 * our wait, we only return once we hold it again. */
static int
grab_mutex_child (gpointer data)
{
  Setup *s = data;
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (20 * G_USEC_PER_SEC);

  while (!g_atomic_int_get (&s->shared->waiting))
    {
      if (g_get_monotonic_time () > deadline)
        return 2;
      g_usleep (200);
    }
  if (!ps_mutex_lock (s->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 3;
  g_atomic_int_set (&s->shared->holds, 1);
  /* Long past the waiter's timeout, or its cancellation. */
  g_usleep (300000);
  g_atomic_int_set (&s->shared->released, 1);
  return ps_mutex_unlock (s->mutex, NULL) ? 0 : 4;
}

static void
test_reacquires_contended_mutex (void)
{
  guint round, conclusive = 0;

  for (round = 0; round < 6; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      gboolean cancel = round % 2 == 1;
      DelayedCancel dc = { cancellable, 0, 0, NULL };
      GThread *thread = NULL;
      Setup s;
      pid_t pid;

      setup_anonymous (&s);
      pid = ps_test_fork (grab_mutex_child, &s, ps_test_scaled_s (30));

      lock (s.mutex);
      g_atomic_int_set (&s.shared->waiting, 1);
      if (cancel)
        {
          /* Cancel only once the other process holds the mutex. */
          dc.wait_for = &s.shared->holds;
          dc.delay_us = 10000;
          thread = g_thread_new ("canceller", delayed_cancel_thread, &dc);
          g_assert_false (ps_cond_wait (s.cond, s.mutex, 30 * G_USEC_PER_SEC, cancellable, &error));
          g_thread_join (thread);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        }
      else
        {
          g_assert_false (ps_cond_wait (s.cond, s.mutex, ps_test_scaled_us (100000), NULL, &error));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
        }

      /* Held, exclusively: the other process either never got the
       * mutex or has given it back. */
      assert_held_by_me (s.mutex);
      g_assert_cmpint (g_atomic_int_get (&s.shared->holds), ==,
                       g_atomic_int_get (&s.shared->released));
      if (g_atomic_int_get (&s.shared->released))
        conclusive++;
      if (cancel)
        g_assert_cmpint (g_atomic_int_get (&s.shared->released), ==, 1);
      unlock (s.mutex);

      ps_test_reap_ok (pid, ps_test_scaled_s (30));
      setup_clear (&s);
    }

  /* The cancelled rounds are conclusive by construction. */
  g_assert_cmpuint (conclusive, >=, 3);
}

/* Cancellation --------------------------------------------------------------- */

static void
test_cancel_already_cancelled (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Setup s;

  setup_anonymous (&s);
  g_cancellable_cancel (cancellable);
  lock (s.mutex);

  g_assert_false (ps_cond_wait (s.cond, s.mutex, PS_TIMEOUT_INFINITE, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  assert_held_by_me (s.mutex);

  g_assert_false (ps_cond_wait (s.cond, s.mutex, 1000, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  assert_held_by_me (s.mutex);

  g_assert_false (ps_cond_wait_until (s.cond, s.mutex, g_get_monotonic_time () + G_USEC_PER_SEC,
                                      cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  assert_held_by_me (s.mutex);

  unlock (s.mutex);
  setup_clear (&s);
}

static void
test_cancel_wakes_blocked_wait (void)
{
  Setup s;
  guint round;

  setup_anonymous (&s);

  for (round = 0; round < 6; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      DelayedCancel dc = { cancellable, 30000 + round * 5000, 0, NULL };
      GThread *thread;
      gint64 returned_at;
      gboolean ok;

      lock (s.mutex);
      thread = g_thread_new ("canceller", delayed_cancel_thread, &dc);
      if (round % 2 == 0)
        ok = ps_cond_wait (s.cond, s.mutex, 30 * G_USEC_PER_SEC, cancellable, &error);
      else
        ok = ps_cond_wait_until (s.cond, s.mutex, g_get_monotonic_time () + 30 * G_USEC_PER_SEC,
                                 cancellable, &error);
      returned_at = g_get_monotonic_time ();
      g_thread_join (thread);

      g_assert_false (ok);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (dc.cancelled_at, >, 0);
      g_assert_cmpint (returned_at - dc.cancelled_at, <=, ps_test_scaled_us (50000));
      assert_held_by_me (s.mutex);
      unlock (s.mutex);
    }

  setup_clear (&s);
}

/* Signals ---------------------------------------------------------------------- */

static int
signal_nobody_child (gpointer data)
{
  Setup *s = data;
  guint i;

  for (i = 0; i < 5; i++)
    {
      ps_cond_signal (s->cond);
      ps_cond_broadcast (s->cond);
    }
  return 0;
}

static void
test_signal_no_waiter_not_remembered (void)
{
  g_autoptr(GError) error = NULL;
  const gint64 timeout = 100000;
  gint64 start;
  Setup s;

  setup_anonymous (&s);

  /* From another process, then from this one, while nobody waits. */
  ps_test_reap_ok (ps_test_fork (signal_nobody_child, &s, ps_test_scaled_s (30)),
                   ps_test_scaled_s (30));
  ps_cond_signal (s.cond);
  ps_cond_broadcast (s.cond);

  lock (s.mutex);
  start = g_get_monotonic_time ();
  g_assert_false (ps_cond_wait (s.cond, s.mutex, timeout, NULL, &error));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, timeout);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  assert_held_by_me (s.mutex);

  /* Signalled while holding the mutex, before waiting: still nothing. */
  ps_cond_signal (s.cond);
  start = g_get_monotonic_time ();
  g_assert_false (ps_cond_wait (s.cond, s.mutex, timeout, NULL, &error));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, timeout);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  unlock (s.mutex);

  setup_clear (&s);
}

static void
test_signal_handshake (void)
{
  g_autoptr(GError) error = NULL;
  Setup s;
  PingPong pp;
  pid_t pid;

  setup_anonymous (&s);
  pp.mutex = s.mutex;
  pp.cond = s.cond;
  pp.turn = &s.shared->turn;
  pp.rounds = 2000;

  pid = ps_test_fork (ping_pong_child, &pp, ps_test_scaled_s (50));
  g_assert_true (ping_pong (s.mutex, s.cond, &s.shared->turn, 0, pp.rounds, &error));
  g_assert_no_error (error);
  ps_test_reap_ok (pid, ps_test_scaled_s (50));

  setup_clear (&s);
}

/* A waiter in a predicate loop: announces itself (and the thread that
 * waits), waits for a token, takes it, and records when it woke; it
 * counts every return of its wait. It never returns holding the mutex, so
 * that a waiter thread's failure leaves the others free to fail on their
 * own. */
static int
token_waiter (gpointer data)
{
  Setup *s = data;
  gint64 end_time = g_get_monotonic_time () + ps_test_scaled_us (20 * G_USEC_PER_SEC);

  if (!ps_mutex_lock (s->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 2;
  g_atomic_int_set (&s->shared->tids[s->index], (gint) gettid ());
  s->shared->waiting++;
  while (s->shared->tokens == 0 && !s->shared->go)
    {
      g_autoptr(GError) error = NULL;
      gboolean woken = ps_cond_wait_until (s->cond, s->mutex, end_time, NULL, &error);

      g_atomic_int_inc (&s->shared->returns);
      if (!woken)
        {
          g_printerr ("waiter %d: %s\n", s->index, error->message);
          ps_mutex_unlock (s->mutex, NULL);
          return 3;
        }
      if (ps_mutex_get_owner_pid (s->mutex) != getpid ())
        return 4;
    }
  if (!s->shared->go)
    s->shared->tokens--;
  s->shared->woke_at[s->index] = g_get_monotonic_time ();
  g_atomic_int_inc (&s->shared->woken);
  g_atomic_int_set (&s->shared->done[s->index], 1);
  return ps_mutex_unlock (s->mutex, NULL) ? 0 : 5;
}

#define BROADCAST_WAITERS 10

static void
test_broadcast_wakes_all (void)
{
  pid_t pids[BROADCAST_WAITERS];
  gint64 broadcast_at;
  Setup s;
  int i;

  setup_anonymous (&s);
  for (i = 0; i < BROADCAST_WAITERS; i++)
    {
      s.index = i;
      pids[i] = ps_test_fork (token_waiter, &s, ps_test_scaled_s (40));
    }
  wait_for_waiters (&s, BROADCAST_WAITERS);

  lock (s.mutex);
  broadcast_at = g_get_monotonic_time ();
  s.shared->go = 1;
  ps_cond_broadcast (s.cond);
  unlock (s.mutex);

  for (i = 0; i < BROADCAST_WAITERS; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (40));
  g_assert_cmpint (s.shared->woken, ==, BROADCAST_WAITERS);
  /* One broadcast woke them all, not their 20 s deadline. */
  for (i = 0; i < BROADCAST_WAITERS; i++)
    {
      g_assert_cmpint (s.shared->woke_at[i], >=, broadcast_at);
      g_assert_cmpint (s.shared->woke_at[i] - broadcast_at, <=,
                       ps_test_scaled_us (2 * G_USEC_PER_SEC));
    }

  setup_clear (&s);
}

#define SIGNAL_WAITERS 3

static void
test_signal_wakes_at_least_one (void)
{
  pid_t pids[SIGNAL_WAITERS];
  gint64 deadline;
  Setup s;
  int i;

  setup_anonymous (&s);
  for (i = 0; i < SIGNAL_WAITERS; i++)
    {
      s.index = i;
      pids[i] = ps_test_fork (token_waiter, &s, ps_test_scaled_s (40));
    }
  wait_for_waiters (&s, SIGNAL_WAITERS);

  lock (s.mutex);
  s.shared->tokens = 1;
  ps_cond_signal (s.cond);
  unlock (s.mutex);

  deadline = g_get_monotonic_time () + ps_test_scaled_us (5 * G_USEC_PER_SEC);
  while (g_atomic_int_get (&s.shared->woken) < 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }

  /* Let the others go too. */
  lock (s.mutex);
  s.shared->tokens += SIGNAL_WAITERS - 1;
  ps_cond_broadcast (s.cond);
  unlock (s.mutex);
  for (i = 0; i < SIGNAL_WAITERS; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (40));
  g_assert_cmpint (s.shared->woken, ==, SIGNAL_WAITERS);
  g_assert_cmpint (s.shared->tokens, ==, 0);

  setup_clear (&s);
}

static gpointer
token_waiter_thread (gpointer data)
{
  return GINT_TO_POINTER (token_waiter (data));
}

#define ONE_OF_WAITERS 5

/* Five threads, or five processes, wait; one signal wakes exactly one of
 * them, and the four others sleep on until a broadcast. */
static void
test_signal_wakes_exactly_one (gconstpointer data)
{
  gboolean processes = GPOINTER_TO_INT (data);
  Setup s, each[ONE_OF_WAITERS];
  GThread *threads[ONE_OF_WAITERS] = { NULL, };
  pid_t pids[ONE_OF_WAITERS] = { 0, };
  gint64 signalled_at, broadcast_at, deadline;
  guint done;
  int i;

  setup_anonymous (&s);
  for (i = 0; i < ONE_OF_WAITERS; i++)
    {
      each[i] = s;
      each[i].index = i;
      if (processes)
        pids[i] = ps_test_fork (token_waiter, &each[i], ps_test_scaled_s (40));
      else
        threads[i] = g_thread_new ("waiter", token_waiter_thread, &each[i]);
    }
  wait_for_waiters (&s, ONE_OF_WAITERS);
  /* Having released the mutex is not being asleep: a waiter on its way
   * there would find the signal's change and return at once, which is no
   * wake-up. A forked waiter's only thread has the process's pid. */
  for (i = 0; i < ONE_OF_WAITERS; i++)
    ps_test_wait_until_blocked (processes ? pids[i] : getpid (),
                                g_atomic_int_get (&s.shared->tids[i]));

  lock (s.mutex);
  signalled_at = g_get_monotonic_time ();
  s.shared->tokens = 1;
  ps_cond_signal (s.cond);
  unlock (s.mutex);

  /* One wait returns, woken by the signal... */
  deadline = signalled_at + ps_test_scaled_us (2 * G_USEC_PER_SEC);
  while (g_atomic_int_get (&s.shared->returns) < 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (500);
    }
  g_assert_true (ps_test_wait_int (&s.shared->woken, 1, 20));
  /* ...and no other: a moment's grace would let a second one show (the
   * posix backend's sleepers look every 2 ms at most). */
  g_usleep (ps_test_scaled_us (200 * 1000));
  g_assert_cmpint (g_atomic_int_get (&s.shared->returns), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&s.shared->woken), ==, 1);
  g_assert_cmpint (s.shared->tokens, ==, 0);
  done = 0;
  for (i = 0; i < ONE_OF_WAITERS; i++)
    {
      if (g_atomic_int_get (&s.shared->done[i]))
        done++;
      else
        ps_test_wait_until_blocked (processes ? pids[i] : getpid (),
                                    g_atomic_int_get (&s.shared->tids[i]));
    }
  g_assert_cmpuint (done, ==, 1);

  /* A broadcast lets the four others go. */
  lock (s.mutex);
  broadcast_at = g_get_monotonic_time ();
  s.shared->go = 1;
  ps_cond_broadcast (s.cond);
  unlock (s.mutex);

  for (i = 0; i < ONE_OF_WAITERS; i++)
    {
      if (processes)
        ps_test_reap_ok (pids[i], ps_test_scaled_s (40));
      else
        g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (threads[i])), ==, 0);
    }
  g_assert_cmpint (s.shared->woken, ==, ONE_OF_WAITERS);
  g_assert_cmpint (s.shared->returns, >=, ONE_OF_WAITERS);
  for (i = 0; i < ONE_OF_WAITERS; i++)
    {
      gint64 woke_at = s.shared->woke_at[i];

      /* Each by the signal or the broadcast, not by its 20 s deadline. */
      g_assert_cmpint (woke_at, >=, signalled_at);
      g_assert_cmpint (woke_at - (woke_at >= broadcast_at ? broadcast_at : signalled_at), <=,
                       ps_test_scaled_us (2 * G_USEC_PER_SEC));
    }

  setup_clear (&s);
}

/* A dead waiter -------------------------------------------------------------- */

static int
doomed_waiter (gpointer data)
{
  Setup *s = data;
  guint i;

  if (!ps_mutex_lock (s->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 2;
  s->shared->waiting++;
  /* Killed long before this ends; bounded all the same. */
  for (i = 0; i < 1000; i++)
    {
      if (s->index == 0)
        ps_cond_wait (s->cond, s->mutex, PS_TIMEOUT_INFINITE, NULL, NULL);
      else
        ps_cond_wait (s->cond, s->mutex, 30 * G_USEC_PER_SEC, NULL, NULL);
    }
  return 3;
}

static int
flag_waiter (gpointer data)
{
  Setup *s = data;
  gint64 end_time = g_get_monotonic_time () + ps_test_scaled_us (10 * G_USEC_PER_SEC);

  if (!ps_mutex_lock (s->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 2;
  s->shared->waiting++;
  while (!s->shared->flag)
    {
      g_autoptr(GError) error = NULL;

      if (!ps_cond_wait_until (s->cond, s->mutex, end_time, NULL, &error))
        {
          g_printerr ("flag waiter: %s\n", error->message);
          return 3;
        }
    }
  s->shared->flag = 0;
  s->shared->woke_at[0] = g_get_monotonic_time ();
  return ps_mutex_unlock (s->mutex, NULL) ? 0 : 4;
}

static int
signal_flag_child (gpointer data)
{
  Setup *s = data;

  if (!ps_mutex_lock (s->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 2;
  s->shared->signalled_at = g_get_monotonic_time ();
  s->shared->flag = 1;
  ps_cond_signal (s->cond);
  return ps_mutex_unlock (s->mutex, NULL) ? 0 : 3;
}

static int
ping_pong_first (gpointer data)
{
  PingPong *pp = data;
  g_autoptr(GError) error = NULL;

  if (!ping_pong (pp->mutex, pp->cond, pp->turn, 0, pp->rounds, &error))
    {
      g_printerr ("first: %s\n", error->message);
      return 2;
    }
  return 0;
}

/* Signals and round trips after the deaths run in helper processes, so
 * that one wedged on the dead waiters' state fails the test within a
 * bound rather than hanging it. */
static void
test_dead_waiter (void)
{
  g_autoptr(GError) error = NULL;
  const gint64 timeout = 100000;
  pid_t doomed[2], pid, other;
  PingPong pp;
  gint64 start;
  Setup s;
  int i;

  setup_anonymous (&s);

  /* Two waiters, one waiting forever and one with a timeout, killed in
   * the middle of their waits. */
  for (i = 0; i < 2; i++)
    {
      s.index = i;
      doomed[i] = ps_test_fork (doomed_waiter, &s, ps_test_scaled_s (40));
    }
  wait_for_waiters (&s, 2);
  g_usleep (20000);   /* let them get to sleep in the kernel */
  for (i = 0; i < 2; i++)
    {
      int status;

      g_assert_cmpint (kill (doomed[i], SIGKILL), ==, 0);
      status = ps_test_reap (doomed[i], ps_test_scaled_s (30));
      g_assert_true (WIFSIGNALED (status));
      g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
    }

  /* They did not hold the mutex when they died. */
  g_assert_cmpint (ps_mutex_get_owner_pid (s.mutex), ==, 0);
  g_assert_true (ps_mutex_lock (s.mutex, 0, NULL, &error));
  g_assert_no_error (error);
  unlock (s.mutex);

  /* One signal reaches a live waiter: the dead ones do not absorb it. */
  for (i = 0; i < 3; i++)
    {
      lock (s.mutex);
      s.shared->waiting = 0;
      unlock (s.mutex);
      pid = ps_test_fork (flag_waiter, &s, ps_test_scaled_s (40));
      wait_for_waiters (&s, 1);
      g_test_message ("signal %d after the waiters died", i);
      ps_test_reap_ok (ps_test_fork (signal_flag_child, &s, ps_test_scaled_s (20)),
                       ps_test_scaled_s (10));
      ps_test_reap_ok (pid, ps_test_scaled_s (40));
      /* Woken by the signal, not by its own 10 s deadline. */
      g_assert_cmpint (s.shared->woke_at[0] - s.shared->signalled_at, <=,
                       ps_test_scaled_us (2 * G_USEC_PER_SEC));
    }

  /* Round trips still work. */
  pp.mutex = s.mutex;
  pp.cond = s.cond;
  pp.turn = &s.shared->turn;
  pp.rounds = 200;
  pid = ps_test_fork (ping_pong_child, &pp, ps_test_scaled_s (40));
  other = ps_test_fork (ping_pong_first, &pp, ps_test_scaled_s (40));
  ps_test_reap_ok (other, ps_test_scaled_s (30));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));

  /* And a timed wait with no signal still times out, not earlier. */
  lock (s.mutex);
  start = g_get_monotonic_time ();
  g_assert_false (ps_cond_wait (s.cond, s.mutex, timeout, NULL, &error));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, timeout);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  assert_held_by_me (s.mutex);
  unlock (s.mutex);

  setup_clear (&s);
}

/* The count of waiters forgets the dead: at the next broadcast on every
 * backend, and at the next signal that finds nobody asleep where the
 * backend can tell (futex, darwin; the posix one cannot). */
static void
wait_for_waiter_count (Setup *s,
                       guint  n)
{
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (20 * G_USEC_PER_SEC);

  while (ps_cond_get_waiter_count (s->cond) != n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static void
kill_doomed_waiter (Setup *s)
{
  pid_t doomed;
  guint before = ps_cond_get_waiter_count (s->cond);

  lock (s->mutex);
  s->shared->waiting = 0;
  unlock (s->mutex);
  s->index = 0;
  doomed = ps_test_fork (doomed_waiter, s, ps_test_scaled_s (40));
  wait_for_waiters (s, 1);
  wait_for_waiter_count (s, before + 1);
  g_assert_cmpint (kill (doomed, SIGKILL), ==, 0);
  ps_test_reap_killed (doomed);
  /* Nothing told anyone yet. */
  g_assert_cmpuint (ps_cond_get_waiter_count (s->cond), ==, before + 1);
}

static pid_t
fork_flag_waiter (Setup *s)
{
  guint before = ps_cond_get_waiter_count (s->cond);
  pid_t pid;

  lock (s->mutex);
  s->shared->waiting = 0;
  s->shared->flag = 0;
  unlock (s->mutex);
  pid = ps_test_fork (flag_waiter, s, ps_test_scaled_s (40));
  wait_for_waiters (s, 1);
  wait_for_waiter_count (s, before + 1);
  return pid;
}

static void
test_dead_waiter_discounted (void)
{
  gboolean signal_tells = !g_str_equal (ps_backend_name (), "posix");
  pid_t live;
  Setup s;

  setup_anonymous (&s);

  /* A dead waiter alone: the next signal finds nobody asleep. */
  kill_doomed_waiter (&s);
  ps_cond_signal (s.cond);
  g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, (signal_tells ? 0u : 1u));
  ps_cond_broadcast (s.cond);
  g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, 0);

  /* A broadcast forgets the dead at once, beside live waiters; those it
   * woke do not count down past it. */
  kill_doomed_waiter (&s);
  live = fork_flag_waiter (&s);
  g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, 2);
  lock (s.mutex);
  s.shared->flag = 1;
  ps_cond_broadcast (s.cond);
  g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, 0);
  unlock (s.mutex);
  ps_test_reap_ok (live, ps_test_scaled_s (40));
  g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, 0);

  /* Beside a live waiter asleep, a signal wakes it, and it counts itself
   * out; the dead one stays counted (unless the live one was not asleep
   * yet after all: then the signal found nobody and forgot both). The
   * next signal finds nobody asleep. */
  kill_doomed_waiter (&s);
  live = fork_flag_waiter (&s);
  ps_test_wait_until_blocked (live, live);
  ps_test_reap_ok (ps_test_fork (signal_flag_child, &s, ps_test_scaled_s (20)),
                   ps_test_scaled_s (10));
  ps_test_reap_ok (live, ps_test_scaled_s (40));
  if (signal_tells)
    g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), <=, 1);
  else
    g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, 1);
  ps_cond_signal (s.cond);
  g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, (signal_tells ? 0u : 1u));
  ps_cond_broadcast (s.cond);
  g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, 0);

  /* And the count goes on exactly. */
  live = fork_flag_waiter (&s);
  g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, 1);
  ps_test_reap_ok (ps_test_fork (signal_flag_child, &s, ps_test_scaled_s (20)),
                   ps_test_scaled_s (10));
  ps_test_reap_ok (live, ps_test_scaled_s (40));
  g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, 0);

  setup_clear (&s);
}

/* Sharing models --------------------------------------------------------------- */

static int
peer_cond_named (int    argc,
                 char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;

  g_assert_cmpint (argc, ==, 4);
  memory = ps_shared_memory_open (argv[0], PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_open (argv[1], PS_OPEN_NONE, &error);
  g_assert_no_error (error);
  cond = ps_cond_open (argv[2], PS_OPEN_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ps_cond_get_name (cond), ==, argv[2]);

  g_assert_true (ping_pong (mutex, cond, ps_shared_memory_get_data (memory), 1,
                            (guint) g_ascii_strtoull (argv[3], NULL, 10), &error));
  g_assert_no_error (error);
  return 0;
}

static void
test_named_exec_peer (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *memory_name = ps_test_unique_name ("cond-data");
  g_autofree char *mutex_name = ps_test_unique_name ("cond-mutex");
  g_autofree char *cond_name = ps_test_unique_name ("cond-cond");
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  const guint rounds = 300;
  g_autofree char *rounds_arg = g_strdup_printf ("%u", rounds);
  pid_t pid;

  memory = ps_shared_memory_open (memory_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 64, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_open (mutex_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_assert_no_error (error);
  cond = ps_cond_open (cond_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ps_cond_get_name (cond), ==, cond_name);

  pid = ps_test_spawn_peer ("cond-named", memory_name, mutex_name, cond_name,
                            rounds_arg, NULL);
  g_assert_true (ping_pong (mutex, cond, ps_shared_memory_get_data (memory), 0, rounds, &error));
  g_assert_no_error (error);
  ps_test_reap_ok (pid, ps_test_scaled_s (40));

  /* Opening it again is the same condition; exclusively, refused. */
  {
    g_autoptr(PsCond) again = ps_cond_open (cond_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);

    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_assert_null (again);
    g_clear_error (&error);
  }

  g_assert_true (ps_unlink (cond_name, &error));
  g_assert_no_error (error);
  g_assert_true (ps_unlink (mutex_name, &error));
  g_assert_no_error (error);
  g_assert_true (ps_unlink (memory_name, &error));
  g_assert_no_error (error);

  {
    g_autoptr(PsCond) gone = ps_cond_open (cond_name, PS_OPEN_NONE, &error);

    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_null (gone);
    g_clear_error (&error);
  }
}

/* One segment: the data, then the mutex, then the condition. */
#define PLACED_MUTEX_OFFSET 8
#define PLACED_COND_OFFSET  (PLACED_MUTEX_OFFSET + PS_MUTEX_SIZE)
#define PLACED_SIZE         (PLACED_COND_OFFSET + PS_COND_SIZE)

typedef struct
{
  PsSharedMemory *memory;
  guint           rounds;
} Placed;

static gboolean
placed_ping_pong (PsSharedMemory  *memory,
                  guint            rounds,
                  GError         **error)
{
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;

  mutex = ps_mutex_attach (memory, PLACED_MUTEX_OFFSET, error);
  if (mutex == NULL)
    return FALSE;
  cond = ps_cond_attach (memory, PLACED_COND_OFFSET, error);
  if (cond == NULL)
    return FALSE;
  return ping_pong (mutex, cond, ps_shared_memory_get_data (memory), 1, rounds, error);
}

static int
placed_child (gpointer data)
{
  Placed *placed = data;
  g_autoptr(GError) error = NULL;

  if (!placed_ping_pong (placed->memory, placed->rounds, &error))
    {
      g_printerr ("child: %s\n", error->message);
      return 2;
    }
  return 0;
}

static void
test_placed_fork_attach (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  Placed placed;
  pid_t pid;

  memory = ps_shared_memory_new (PLACED_SIZE, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_new_at (memory, PLACED_MUTEX_OFFSET, &error);
  g_assert_no_error (error);
  cond = ps_cond_new_at (memory, PLACED_COND_OFFSET, &error);
  g_assert_no_error (error);
  g_assert_null (ps_cond_get_name (cond));

  placed.memory = memory;
  placed.rounds = 500;
  pid = ps_test_fork (placed_child, &placed, ps_test_scaled_s (40));
  g_assert_true (ping_pong (mutex, cond, ps_shared_memory_get_data (memory), 0,
                            placed.rounds, &error));
  g_assert_no_error (error);
  ps_test_reap_ok (pid, ps_test_scaled_s (40));
}

static int
peer_cond_placed (int    argc,
                  char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;

  g_assert_cmpint (argc, ==, 2);
  memory = ps_shared_memory_open (argv[0], PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  g_assert_true (placed_ping_pong (memory, (guint) g_ascii_strtoull (argv[1], NULL, 10), &error));
  g_assert_no_error (error);
  return 0;
}

static void
test_placed_exec_peer (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("cond-placed");
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  const guint rounds = 300;
  g_autofree char *rounds_arg = g_strdup_printf ("%u", rounds);
  pid_t pid;

  memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, PLACED_SIZE, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_new_at (memory, PLACED_MUTEX_OFFSET, &error);
  g_assert_no_error (error);
  cond = ps_cond_new_at (memory, PLACED_COND_OFFSET, &error);
  g_assert_no_error (error);

  pid = ps_test_spawn_peer ("cond-placed", name, rounds_arg, NULL);
  g_assert_true (ping_pong (mutex, cond, ps_shared_memory_get_data (memory), 0, rounds, &error));
  g_assert_no_error (error);
  ps_test_reap_ok (pid, ps_test_scaled_s (40));

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

static void
test_placed_bad_offset (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsCond) edge = NULL;
  const gsize size = 1024;
  const gsize bad_aligned[] = { 1, 4, 7, 12, 100 };
  const gsize out_of_bounds[] = {
    size - PS_COND_SIZE + 8, size, size + 8, G_MAXSIZE - 7,
  };
  PsCond *cond;
  guint i;

  memory = ps_shared_memory_new (size, &error);
  g_assert_no_error (error);

  for (i = 0; i < G_N_ELEMENTS (bad_aligned); i++)
    {
      cond = ps_cond_new_at (memory, bad_aligned[i], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (cond);
      g_clear_error (&error);
      cond = ps_cond_attach (memory, bad_aligned[i], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (cond);
      g_clear_error (&error);
    }
  for (i = 0; i < G_N_ELEMENTS (out_of_bounds); i++)
    {
      cond = ps_cond_new_at (memory, out_of_bounds[i], &error);
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_assert_null (cond);
      g_clear_error (&error);
      cond = ps_cond_attach (memory, out_of_bounds[i], &error);
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_assert_null (cond);
      g_clear_error (&error);
    }
  ps_test_assert_all_zero (memory);

  edge = ps_cond_new_at (memory, size - PS_COND_SIZE, &error);
  g_assert_no_error (error);
}

static void
test_wrong_type (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) named_sem = NULL;
  g_autoptr(PsSharedMemory) named_memory = NULL;
  g_autofree char *sem_name = ps_test_unique_name ("cond-wrong-sem");
  g_autofree char *memory_name = ps_test_unique_name ("cond-wrong-shm");
  PsCond *cond;

  memory = ps_shared_memory_new (PS_SEMAPHORE_SIZE + PS_MUTEX_SIZE, &error);
  g_assert_no_error (error);
  sem = ps_semaphore_new_at (memory, 0, 3, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_new_at (memory, PS_SEMAPHORE_SIZE, &error);
  g_assert_no_error (error);

  cond = ps_cond_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (cond);
  g_clear_error (&error);
  cond = ps_cond_attach (memory, PS_SEMAPHORE_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (cond);
  g_clear_error (&error);
  /* The refusals left both objects intact. */
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 3);
  lock (mutex);
  unlock (mutex);

  named_sem = ps_semaphore_open (sem_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 2, &error);
  g_assert_no_error (error);
  cond = ps_cond_open (sem_name, PS_OPEN_NONE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (cond);
  g_clear_error (&error);
  cond = ps_cond_open (sem_name, PS_OPEN_CREATE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (cond);
  g_clear_error (&error);
  g_assert_cmpuint (ps_semaphore_get_value (named_sem), ==, 2);

  named_memory = ps_shared_memory_open (memory_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 4096, &error);
  g_assert_no_error (error);
  cond = ps_cond_open (memory_name, PS_OPEN_NONE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (cond);
  g_clear_error (&error);

  g_assert_true (ps_unlink (sem_name, &error));
  g_assert_no_error (error);
  g_assert_true (ps_unlink (memory_name, &error));
  g_assert_no_error (error);
}

static void
test_corrupt (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsCond) placed = NULL;
  PsObjectHeader *header;
  guint8 *bytes;
  PsCond *cond;
  gint64 start;
  gsize i;

  memory = ps_shared_memory_new (3 * PS_COND_SIZE, &error);
  g_assert_no_error (error);
  bytes = ps_shared_memory_get_data (memory);

  cond = ps_cond_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (cond);
  g_clear_error (&error);

  for (i = 0; i < PS_COND_SIZE; i++)
    bytes[PS_COND_SIZE + i] = (guint8) (i * 53 + 7);
  cond = ps_cond_attach (memory, PS_COND_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (cond);
  g_clear_error (&error);

  /* Begun and never published: its creator died. Refused after a grace
   * period, never used half-made. */
  placed = ps_cond_new_at (memory, 2 * PS_COND_SIZE, &error);
  g_assert_no_error (error);
  g_clear_object (&placed);
  header = (gpointer) (bytes + 2 * PS_COND_SIZE);
  header->ready = 0;
  start = g_get_monotonic_time ();
  cond = ps_cond_attach (memory, 2 * PS_COND_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (cond);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, PS_OBJECT_INIT_GRACE_US);
}

static void
test_incompatible (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsCond) placed = NULL;
  g_autoptr(PsCond) named = NULL;
  g_autofree char *name = ps_test_unique_name ("cond-incompatible");
  PsObjectHeader *header;
  guint16 version;
  PsCond *cond;
  int fd;

  memory = ps_shared_memory_new (PS_COND_SIZE, &error);
  g_assert_no_error (error);
  placed = ps_cond_new_at (memory, 0, &error);
  g_assert_no_error (error);
  header = ps_shared_memory_get_data (memory);
  g_assert_cmpuint (header->layout_version, ==, PS_OBJECT_LAYOUT_VERSION);

  header->layout_version = PS_OBJECT_LAYOUT_VERSION + 1;
  cond = ps_cond_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_assert_null (cond);
  g_clear_error (&error);

  header->layout_version = PS_OBJECT_LAYOUT_VERSION;
  header->backend ^= 0x80;
  cond = ps_cond_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_assert_null (cond);
  g_clear_error (&error);
  header->backend ^= 0x80;

  cond = ps_cond_attach (memory, 0, &error);
  g_assert_no_error (error);
  g_object_unref (cond);

  named = ps_cond_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_assert_no_error (error);
  g_clear_object (&named);
  fd = shm_open (name, O_RDWR, 0);
  g_assert_cmpint (fd, >=, 0);
  version = PS_OBJECT_LAYOUT_VERSION + 1;
  g_assert_cmpint (pwrite (fd, &version, sizeof version,
                           G_STRUCT_OFFSET (PsObjectHeader, layout_version)), ==, sizeof version);
  close (fd);
  cond = ps_cond_open (name, PS_OPEN_NONE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_assert_null (cond);
  g_clear_error (&error);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

/* Peers and main ---------------------------------------------------------------- */

static int
peer_main (int    argc,
           char **argv)
{
  ps_test_watchdog (ps_test_scaled_s (60));
  g_assert_cmpint (argc, >=, 1);

  if (g_str_equal (argv[0], "cond-named"))
    return peer_cond_named (argc - 1, argv + 1);
  if (g_str_equal (argv[0], "cond-placed"))
    return peer_cond_placed (argc - 1, argv + 1);
  g_error ("unknown peer role %s", argv[0]);
  return 1;
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, peer_main);

  ps_test_add ("/cond/wait/not-owner", test_wait_not_owner);
  ps_test_add ("/cond/wait/zero-timeout-would-block", test_wait_zero_timeout);
  ps_test_add ("/cond/wait/recursive-would-deadlock", test_wait_recursive_would_deadlock);
  ps_test_add ("/cond/wait/reacquires-contended-mutex", test_reacquires_contended_mutex);
  ps_test_add ("/cond/timeout/never-early", test_timeout_never_early);
  ps_test_add ("/cond/timeout/wait-until-past", test_timeout_wait_until_past);
  ps_test_add ("/cond/cancel/already-cancelled", test_cancel_already_cancelled);
  ps_test_add ("/cond/cancel/wakes-blocked-wait", test_cancel_wakes_blocked_wait);
  ps_test_add ("/cond/signal/no-waiter-not-remembered", test_signal_no_waiter_not_remembered);
  ps_test_add ("/cond/signal/handshake-2000-round-trips", test_signal_handshake);
  ps_test_add ("/cond/signal/wakes-at-least-one", test_signal_wakes_at_least_one);
  ps_test_add_data ("/cond/signal/wakes-exactly-one/threads", test_signal_wakes_exactly_one,
                    GINT_TO_POINTER (FALSE));
  ps_test_add_data ("/cond/signal/wakes-exactly-one/processes", test_signal_wakes_exactly_one,
                    GINT_TO_POINTER (TRUE));
  ps_test_add ("/cond/broadcast/wakes-ten-processes", test_broadcast_wakes_all);
  ps_test_add ("/cond/dead-waiter/sigkill", test_dead_waiter);
  ps_test_add ("/cond/dead-waiter/discounted", test_dead_waiter_discounted);
  ps_test_add ("/cond/named/exec-peer", test_named_exec_peer);
  ps_test_add ("/cond/placed/fork-attach", test_placed_fork_attach);
  ps_test_add ("/cond/placed/exec-peer-attach", test_placed_exec_peer);
  ps_test_add ("/cond/placed/bad-offset", test_placed_bad_offset);
  ps_test_add ("/cond/wrong-type", test_wrong_type);
  ps_test_add ("/cond/corrupt", test_corrupt);
  ps_test_add ("/cond/incompatible", test_incompatible);

  return g_test_run ();
}
