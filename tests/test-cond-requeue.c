/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsCond's broadcast by the holder of the mutex, which on the futex
 * backend moves the waiters onto the mutex word (wait morphing): every
 * waiter comes back holding the mutex, one at a time; the death of the
 * holder reaches a moved waiter as OWNER_DEAD; a moved waiter's timeout
 * or cancellation ends its wait with the mutex held again, once the
 * holder unlocks; a moved waiter killed does not strand the others. On
 * the posix and darwin backends the same broadcast wakes every waiter,
 * and the same guarantees hold.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ps-test-util.h"

#include "ps-backend-private.h"
#include "ps-cond-private.h"

#define MAX_WAITERS 16

typedef struct
{
  gint  waiting;              /* under the mutex */
  gint  go;                   /* under the mutex */
  gint  inside;               /* holders right now: never above 1 */
  gint  back;                 /* waiters back holding the mutex */
  gint  owner_dead;
  gint  timed_out;
  gint  cancelled;
  gint  woken;
  gint  tids[MAX_WAITERS];
  gint64 back_at[MAX_WAITERS];
} Shared;

typedef struct
{
  PsSharedMemory *memory;
  Shared         *shared;
  PsMutex        *mutex;
  PsCond         *cond;
  int             index;
  gint64          timeout_us;  /* of each waiter's wait; -1: none */
  gboolean        cancel;      /* a thread of the waiter cancels its wait */
} Setup;

static void
setup (Setup *s)
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
  s->timeout_us = PS_TIMEOUT_INFINITE;
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

typedef struct
{
  GCancellable *cancellable;
  gint         *go;
} Canceller;

static gpointer
cancel_on_go (gpointer data)
{
  Canceller *c = data;
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (30 * G_USEC_PER_SEC);

  /* Read without the mutex, which the broadcaster holds meanwhile. */
  while (!g_atomic_int_get (c->go) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_usleep (ps_test_scaled_us (50 * 1000));
  g_cancellable_cancel (c->cancellable);
  return NULL;
}

/* One waiter: waits once, and records how its wait ended, holding the
 * mutex (checked: nobody else is inside with it). */
static int
waiter (gpointer data)
{
  Setup *s = data;
  Shared *sh = s->shared;
  g_autoptr(GCancellable) cancellable = s->cancel ? g_cancellable_new () : NULL;
  g_autoptr(GError) error = NULL;
  Canceller c = { cancellable, &sh->go };
  GThread *thread = NULL;
  gboolean ok;

  g_atomic_int_set (&sh->tids[s->index], (gint) syscall (SYS_gettid));
  if (s->cancel)
    thread = g_thread_new ("cancel", cancel_on_go, &c);
  if (!ps_mutex_lock (s->mutex, PS_TIMEOUT_INFINITE, NULL, &error))
    return 2;
  sh->waiting++;
  /* With a timeout, short waits in a loop: the broadcast finds one
   * asleep, and its deadline passes while the broadcaster still holds
   * the mutex. */
  do
    {
      g_clear_error (&error);
      ok = ps_cond_wait (s->cond, s->mutex, s->timeout_us, cancellable, &error);
    }
  while (!sh->go);

  /* Held again, whatever the outcome. */
  PS_CHILD_CHECK (ps_mutex_get_owner_pid (s->mutex) == getpid ());
  PS_CHILD_CHECK (g_atomic_int_add (&sh->inside, 1) == 0);
  PS_CHILD_CHECK (sh->go == 1);
  if (ok)
    g_atomic_int_inc (&sh->woken);
  else if (g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
    {
      g_atomic_int_inc (&sh->owner_dead);
      PS_CHILD_CHECK (ps_mutex_mark_consistent (s->mutex, NULL));
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_atomic_int_inc (&sh->timed_out);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_atomic_int_inc (&sh->cancelled);
  else
    {
      g_printerr ("unexpected: %s\n", error != NULL ? error->message : "?");
      return 1;
    }
  sh->back_at[s->index] = g_get_monotonic_time ();
  g_usleep (200);   /* holding it: another waiter inside now would show */
  g_atomic_int_add (&sh->inside, -1);
  g_atomic_int_inc (&sh->back);
  PS_CHILD_CHECK (ps_mutex_unlock (s->mutex, NULL));
  if (thread != NULL)
    g_thread_join (thread);
  return 0;
}

/* Forks @n waiters and waits until each is asleep in its wait. */
static void
start_waiters (Setup *s,
               pid_t *pids,
               int    n)
{
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (30 * G_USEC_PER_SEC);
  int i;

  for (i = 0; i < n; i++)
    {
      s->index = i;
      pids[i] = ps_test_fork (waiter, s, ps_test_scaled_s (60));
    }
  for (;;)
    {
      gint waiting;

      lock (s->mutex);
      waiting = s->shared->waiting;
      unlock (s->mutex);
      if (waiting == n)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
  for (i = 0; i < n; i++)
    ps_test_wait_until_blocked (pids[i], g_atomic_int_get (&s->shared->tids[i]));
}

/* N = 16: one broadcast by the holder, and every waiter comes back
 * holding the mutex, one after another, soon after the unlock. */
static void
test_broadcast_all_in_turn (void)
{
  pid_t pids[MAX_WAITERS];
  gint64 unlocked_at;
  Setup s;
  int i;

  setup (&s);
  start_waiters (&s, pids, MAX_WAITERS);

  lock (s.mutex);
  s.shared->go = 1;
  ps_cond_broadcast (s.cond);
  /* Moved or woken, nobody gets the mutex while it is held here. */
  g_usleep (ps_test_scaled_us (20 * 1000));
  g_assert_cmpint (g_atomic_int_get (&s.shared->back), ==, 0);
  unlocked_at = g_get_monotonic_time ();
  unlock (s.mutex);

  for (i = 0; i < MAX_WAITERS; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (60));
  g_assert_cmpint (s.shared->back, ==, MAX_WAITERS);
  g_assert_cmpint (s.shared->woken, ==, MAX_WAITERS);
  for (i = 0; i < MAX_WAITERS; i++)
    {
      g_assert_cmpint (s.shared->back_at[i], >=, unlocked_at);
      g_assert_cmpint (s.shared->back_at[i] - unlocked_at, <=,
                       ps_test_scaled_us (2 * G_USEC_PER_SEC));
    }
  /* The mutex is free, and no wake-up is owed to anybody. */
  g_assert_cmpint (ps_mutex_get_owner_pid (s.mutex), ==, 0);
  g_assert_cmpuint (ps_cond_get_waiter_count (s.cond), ==, 0);
  setup_clear (&s);
}

static int
broadcast_and_die (gpointer data)
{
  Setup *s = data;

  if (!ps_mutex_lock (s->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 2;
  s->shared->go = 1;
  ps_cond_broadcast (s->cond);
  g_usleep (ps_test_scaled_us (20 * 1000));
  raise (SIGKILL);
  return 3;
}

/* The holder broadcasts, then dies holding the mutex: exactly one of the
 * (moved) waiters gets OWNER_DEAD, and the others come back after it. */
static void
test_owner_dead_after_broadcast (void)
{
  pid_t pids[4];
  Setup s;
  int i;

  setup (&s);
  start_waiters (&s, pids, 4);
  ps_test_reap_killed (ps_test_fork (broadcast_and_die, &s, ps_test_scaled_s (30)));
  for (i = 0; i < 4; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (60));
  g_assert_cmpint (s.shared->owner_dead, ==, 1);
  g_assert_cmpint (s.shared->woken, ==, 3);
  g_assert_cmpint (s.shared->back, ==, 4);

  /* Repaired by the one told: the mutex works as before. */
  lock (s.mutex);
  unlock (s.mutex);
  setup_clear (&s);
}

/* A waiter's deadline (or its cancellation) comes while the holder that
 * broadcast still holds the mutex: on the futex backend it was moved
 * onto the mutex, and its wait ends timed out (cancelled) once it holds
 * the mutex again, after the unlock, never before; elsewhere the
 * broadcast woke it before its deadline (or just after it timed out). */
/* Whether moved waiters stay on the mutex word until woken there: on the
 * futex backend with futex_waitv(2). Without it (kernels before 5.16,
 * valgrind) waits sleep in slices of a few milliseconds, and a moved
 * waiter goes to take the mutex at the end of its slice. */
static gboolean
waits_stay_moved (void)
{
  if (PS_BACKEND_ID != PS_BACKEND_FUTEX)
    return FALSE;
#ifdef SYS_futex_waitv
  errno = 0;
  return syscall (SYS_futex_waitv, NULL, 0, 0, NULL, 0) < 0 && errno != ENOSYS;
#else
  return FALSE;
#endif
}

static void
check_ends_held (gboolean cancel)
{
  gboolean moved = waits_stay_moved ();
  pid_t pids[2];
  gint64 unlocked_at;
  Setup s;
  int i;

  setup (&s);
  s.timeout_us = cancel ? PS_TIMEOUT_INFINITE : 100 * 1000;
  s.cancel = cancel;
  start_waiters (&s, pids, 2);

  lock (s.mutex);
  s.shared->go = 1;
  ps_cond_broadcast (s.cond);
  /* Past both deadlines, and past the cancellations. */
  g_usleep (ps_test_scaled_us (500 * 1000));
  g_assert_cmpint (g_atomic_int_get (&s.shared->back), ==, 0);
  unlocked_at = g_get_monotonic_time ();
  unlock (s.mutex);

  for (i = 0; i < 2; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (60));
  g_assert_cmpint (s.shared->back, ==, 2);
  if (moved || cancel)
    {
      /* Cancelled after the broadcast woke them, elsewhere. */
      g_assert_cmpint (cancel ? s.shared->cancelled : s.shared->timed_out, ==, moved ? 2 : 0);
      g_assert_cmpint (s.shared->woken, ==, moved ? 0 : 2);
    }
  else
    {
      /* Woken by the broadcast, or timed out just before it. */
      g_assert_cmpint (s.shared->woken + s.shared->timed_out, ==, 2);
    }
  for (i = 0; i < 2; i++)
    g_assert_cmpint (s.shared->back_at[i], >=, unlocked_at);
  setup_clear (&s);
}

static void
test_moved_timeout (void)
{
  check_ends_held (FALSE);
}

static void
test_moved_cancel (void)
{
  check_ends_held (TRUE);
}

/* A moved waiter is killed before the holder unlocks: the others still
 * come back, each woken by the unlock before it. */
static void
test_moved_waiter_killed (void)
{
  pid_t pids[4];
  gint64 unlocked_at;
  Setup s;
  int i;

  setup (&s);
  start_waiters (&s, pids, 4);

  lock (s.mutex);
  s.shared->go = 1;
  ps_cond_broadcast (s.cond);
  g_assert_cmpint (kill (pids[1], SIGKILL), ==, 0);
  ps_test_reap_killed (pids[1]);
  unlocked_at = g_get_monotonic_time ();
  unlock (s.mutex);

  for (i = 0; i < 4; i++)
    if (i != 1)
      ps_test_reap_ok (pids[i], ps_test_scaled_s (60));
  g_assert_cmpint (s.shared->back, ==, 3);
  g_assert_cmpint (s.shared->woken, ==, 3);
  for (i = 0; i < 4; i++)
    if (i != 1)
      g_assert_cmpint (s.shared->back_at[i] - unlocked_at, <=,
                       ps_test_scaled_us (2 * G_USEC_PER_SEC));
  lock (s.mutex);
  unlock (s.mutex);
  setup_clear (&s);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/cond-requeue/broadcast/sixteen-back-in-turn", test_broadcast_all_in_turn);
  ps_test_add ("/cond-requeue/owner-dead-after-broadcast", test_owner_dead_after_broadcast);
  ps_test_add ("/cond-requeue/moved/timeout-ends-held", test_moved_timeout);
  ps_test_add ("/cond-requeue/moved/cancel-ends-held", test_moved_cancel);
  ps_test_add ("/cond-requeue/moved/waiter-killed", test_moved_waiter_killed);

  return g_test_run ();
}
