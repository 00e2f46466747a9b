/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The platform layer on its own (procshared/backends/ps-backend-private.h),
 * without PsMutex, PsSemaphore or PsCond above it: what every backend must
 * do with wait words, cancellers and robust locks, asserted as exact
 * statuses. It runs against whichever backend the build chose; CI builds
 * all three.
 *
 * Where the backends may differ, the interface leaves it to the classes
 * (consistency after an owner's death, unlocking a lock one does not
 * hold): the expected status is then chosen by PS_BACKEND_ID, and the
 * comment says why.
 *
 * Every wait here has a deadline, every loop a bound, every child a
 * watchdog. Timing is never asserted except as a generous bound proving
 * that a wait was ended by what the test did rather than by its deadline.
 */

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "ps-test-util.h"
#include "ps-backend-private.h"

#define N_SLEEPERS 4

/* A deadline short enough to wait out in every test run. */
#define SHORT_WAIT_US (20 * 1000)

/* What the tests share with their threads and forked children. Lives in a
 * MAP_SHARED mapping, as the objects' state does. */
typedef struct
{
  PsWaitWord   word;
  PsRobustLock lock;
  gint         child_ready;   /* the child holds the lock */
  gint         kill_child;    /* the parent will SIGKILL it, rather than it exit */
} Shared;

/* A thread that waits on the word or the lock, and what it got. */
typedef struct
{
  Shared      *shared;
  PsCanceller  canceller;
  gboolean     use_canceller;
  gboolean     make_consistent;   /* lock waiters: before unlocking */
  guint32      expected;          /* word waiters */
  gint64       deadline;
  gint         tid;
  gint         done;
  int          status;            /* a PsWaitStatus or a PsLockStatus */
  int          unlock_status;     /* lock waiters that got the lock */
  gint64       returned_at;
  GThread     *thread;
} Waiter;

/* How long anything this test does may take to end a wait. */
static gint64
bound_us (void)
{
  return ps_test_scaled_us (10 * G_USEC_PER_SEC);
}

static Shared *
shared_new (void)
{
  Shared *shared = mmap (NULL, sizeof (Shared), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  g_autoptr(GError) error = NULL;

  g_assert_true (shared != MAP_FAILED);
  memset (shared, 0, sizeof *shared);
  g_assert_true (ps_wait_word_init (&shared->word, 0, &error));
  g_assert_no_error (error);
  g_assert_true (ps_robust_lock_init (&shared->lock, FALSE, &error));
  g_assert_no_error (error);
  return shared;
}

static void
shared_free (Shared *shared)
{
  g_assert_cmpint (munmap (shared, sizeof (Shared)), ==, 0);
}

/* Until thread @tid of @pid sleeps in the kernel: seen there twice in a
 * row, 2 ms apart, so not a futex call on its way somewhere else. */
static void
await_asleep (pid_t pid,
              pid_t tid)
{
  gint64 deadline = g_get_monotonic_time () + bound_us ();
  guint sightings = 0;

  while (sightings < 2)
    {
      sightings = ps_test_task_in_futex_wait (pid, tid) ? sightings + 1 : 0;
      if (g_get_monotonic_time () > deadline)
        g_error ("thread %d of %d never went to sleep", (int) tid, (int) pid);
      g_usleep (sightings > 0 ? 2000 : 200);
    }
}

/* Until @flag is set by another thread or process. */
static void
await_flag (gint *flag)
{
  gint64 deadline = g_get_monotonic_time () + bound_us ();

  while (!g_atomic_int_get (flag))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("a peer never got ready");
      g_usleep (200);
    }
}

/* Waiters ------------------------------------------------------------------ */

static void
waiter_init (Waiter   *waiter,
             Shared   *shared,
             gboolean  use_canceller)
{
  memset (waiter, 0, sizeof *waiter);
  waiter->shared = shared;
  waiter->use_canceller = use_canceller;
  waiter->deadline = g_get_monotonic_time () + bound_us ();
  ps_canceller_init (&waiter->canceller);
}

static gpointer
word_waiter_thread (gpointer data)
{
  Waiter *waiter = data;
  guint32 *value = ps_wait_word_value (&waiter->shared->word);
  PsCanceller *canceller = waiter->use_canceller ? &waiter->canceller : NULL;
  PsWaitStatus status;
  guint spurious = 0;

  g_atomic_int_set (&waiter->tid, (gint) gettid ());
  /* A WOKEN return may be spurious: look again, as callers do. */
  do
    status = ps_wait_word_wait (&waiter->shared->word, waiter->expected,
                                waiter->deadline, canceller);
  while (status == PS_WAIT_WOKEN &&
         (guint32) g_atomic_int_get (value) == waiter->expected &&
         ++spurious < 1000);

  waiter->status = status;
  waiter->returned_at = g_get_monotonic_time ();
  g_atomic_int_set (&waiter->done, TRUE);
  return NULL;
}

static gpointer
lock_waiter_thread (gpointer data)
{
  Waiter *waiter = data;
  PsRobustLock *lock = &waiter->shared->lock;
  PsLockStatus status;

  g_atomic_int_set (&waiter->tid, (gint) gettid ());
  status = ps_robust_lock_wait (lock, waiter->deadline,
                                waiter->use_canceller ? &waiter->canceller : NULL);
  waiter->status = status;
  waiter->returned_at = g_get_monotonic_time ();
  /* Only the holder may unlock. */
  if (status == PS_LOCK_ACQUIRED || status == PS_LOCK_OWNER_DIED)
    {
      if (waiter->make_consistent)
        ps_robust_lock_make_consistent (lock);
      waiter->unlock_status = ps_robust_lock_unlock (lock);
    }
  g_atomic_int_set (&waiter->done, TRUE);
  return NULL;
}

static void
waiter_start (Waiter      *waiter,
              GThreadFunc  func)
{
  gint64 deadline = g_get_monotonic_time () + bound_us ();

  waiter->thread = g_thread_new ("waiter", func, waiter);
  while (g_atomic_int_get (&waiter->tid) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100);
    }
}

/* Starts @func and returns once it sleeps in the backend's wait. */
static void
waiter_start_asleep (Waiter      *waiter,
                     GThreadFunc  func)
{
  waiter_start (waiter, func);
  await_asleep (getpid (), g_atomic_int_get (&waiter->tid));
}

static void
waiter_join (Waiter *waiter)
{
  g_thread_join (waiter->thread);
  waiter->thread = NULL;
  g_assert_true (g_atomic_int_get (&waiter->done));
}

static guint
count_done (Waiter *waiters,
            guint   n)
{
  guint done = 0;

  for (guint i = 0; i < n; i++)
    done += g_atomic_int_get (&waiters[i].done) ? 1 : 0;
  return done;
}

/* Until at least @n of @waiters have returned. */
static void
await_done (Waiter *waiters,
            guint   n_waiters,
            guint   n)
{
  gint64 deadline = g_get_monotonic_time () + bound_us ();

  while (count_done (waiters, n_waiters) < n)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("only %u of %u waiters returned", count_done (waiters, n_waiters), n);
      g_usleep (500);
    }
}

/* Wait words ----------------------------------------------------------- */

static void
test_backend_name (void)
{
  const char *expected = g_getenv ("PS_TEST_BACKEND");

  if (expected == NULL)
    {
      g_test_skip ("PS_TEST_BACKEND is not set (meson test sets it)");
      return;
    }
  g_assert_cmpstr (ps_backend_name (), ==, expected);
}

static void
test_word_differs (void)
{
  Shared *shared = shared_new ();
  PsCanceller canceller;

  /* Whether or not there is a deadline or a canceller, a value that
   * already differs is never slept on. */
  ps_canceller_init (&canceller);
  g_atomic_int_set (ps_wait_word_value (&shared->word), 5);
  g_assert_cmpint (ps_wait_word_wait (&shared->word, 4, -1, NULL), ==, PS_WAIT_WOKEN);
  g_assert_cmpint (ps_wait_word_wait (&shared->word, 4, -1, &canceller), ==, PS_WAIT_WOKEN);
  g_assert_cmpint (ps_wait_word_wait (&shared->word, 4, g_get_monotonic_time () + bound_us (), NULL),
                   ==, PS_WAIT_WOKEN);
  g_assert_cmpint (ps_wait_word_wait (&shared->word, 4, g_get_monotonic_time () + bound_us (), &canceller),
                   ==, PS_WAIT_WOKEN);
  shared_free (shared);
}

/* Waits on an unchanging word until @deadline, looking again after
 * spurious returns. */
static PsWaitStatus
wait_out (Shared      *shared,
          gint64       deadline,
          PsCanceller *canceller)
{
  PsWaitStatus status;
  guint spurious = 0;

  do
    status = ps_wait_word_wait (&shared->word, 0, deadline, canceller);
  while (status == PS_WAIT_WOKEN && ++spurious < 1000);
  return status;
}

static void
test_word_timeout (void)
{
  Shared *shared = shared_new ();
  PsCanceller canceller;
  gint64 deadline;

  ps_canceller_init (&canceller);

  /* The deadline is absolute: the wait never ends before it. */
  deadline = g_get_monotonic_time () + SHORT_WAIT_US;
  g_assert_cmpint (wait_out (shared, deadline, NULL), ==, PS_WAIT_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time (), >=, deadline);

  deadline = g_get_monotonic_time () + SHORT_WAIT_US;
  g_assert_cmpint (wait_out (shared, deadline, &canceller), ==, PS_WAIT_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time (), >=, deadline);

  /* One that passed already. */
  deadline = g_get_monotonic_time () - 1;
  g_assert_cmpint (wait_out (shared, deadline, NULL), ==, PS_WAIT_TIMED_OUT);
  g_assert_cmpint (wait_out (shared, deadline, &canceller), ==, PS_WAIT_TIMED_OUT);
  shared_free (shared);
}

static void
test_word_wake_thread (void)
{
  Shared *shared = shared_new ();

  for (guint with_canceller = 0; with_canceller < 2; with_canceller++)
    {
      Waiter waiter;

      g_atomic_int_set (ps_wait_word_value (&shared->word), 0);
      waiter_init (&waiter, shared, with_canceller);
      waiter_start_asleep (&waiter, word_waiter_thread);

      g_atomic_int_set (ps_wait_word_value (&shared->word), 1);
      ps_wait_word_wake (&shared->word, FALSE);
      waiter_join (&waiter);
      g_assert_cmpint (waiter.status, ==, PS_WAIT_WOKEN);
      g_assert_cmpint (waiter.returned_at, <, waiter.deadline);
    }
  shared_free (shared);
}

static int
word_waiter_child (gpointer data)
{
  Shared *shared = data;
  gint64 deadline = g_get_monotonic_time () + bound_us ();
  guint32 *value = ps_wait_word_value (&shared->word);
  PsWaitStatus status;
  guint spurious = 0;

  do
    status = ps_wait_word_wait (&shared->word, 0, deadline, NULL);
  while (status == PS_WAIT_WOKEN && g_atomic_int_get (value) == 0 && ++spurious < 1000);

  if (status != PS_WAIT_WOKEN || g_atomic_int_get (value) != 1)
    return 1;
  return g_get_monotonic_time () < deadline ? 0 : 2;
}

static void
test_word_wake_process (void)
{
  Shared *shared = shared_new ();
  pid_t pid = ps_test_fork (word_waiter_child, shared, ps_test_scaled_s (60));

  /* The child's only thread has the child's pid as its TID. */
  await_asleep (pid, pid);
  g_atomic_int_set (ps_wait_word_value (&shared->word), 1);
  ps_wait_word_wake (&shared->word, FALSE);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  shared_free (shared);
}

static void
test_word_wake_one_or_all (void)
{
  Shared *shared = shared_new ();
  Waiter waiters[N_SLEEPERS];

  /* No canceller: a futex-backend wait with one polls when futex_waitv(2)
   * is missing (valgrind), and would see the change without any wake. */
  for (guint i = 0; i < N_SLEEPERS; i++)
    {
      waiter_init (&waiters[i], shared, FALSE);
      waiter_start_asleep (&waiters[i], word_waiter_thread);
    }

  /* Every waker changes the word before it wakes. One wakes one... */
  g_atomic_int_set (ps_wait_word_value (&shared->word), 1);
  ps_wait_word_wake (&shared->word, FALSE);
  await_done (waiters, N_SLEEPERS, 1);
  /* ...and no more: the others sleep on (the posix backend's poll, and
   * see the changed word each time), which a moment's grace would give
   * away. */
  g_usleep (ps_test_scaled_us (50 * 1000));
  g_assert_cmpuint (count_done (waiters, N_SLEEPERS), ==, 1);
  for (guint i = 0; i < N_SLEEPERS; i++)
    if (!g_atomic_int_get (&waiters[i].done))
      await_asleep (getpid (), g_atomic_int_get (&waiters[i].tid));

  /* All wakes the rest. */
  ps_wait_word_wake (&shared->word, TRUE);
  await_done (waiters, N_SLEEPERS, N_SLEEPERS);
  for (guint i = 0; i < N_SLEEPERS; i++)
    {
      waiter_join (&waiters[i]);
      g_assert_cmpint (waiters[i].status, ==, PS_WAIT_WOKEN);
      g_assert_cmpint (waiters[i].returned_at, <, waiters[i].deadline);
    }
  shared_free (shared);
}

/* Fires @waiter's canceller once it sleeps, and asserts that the wait
 * ends promptly with @cancelled. */
static void
cancel_asleep (Waiter      *waiter,
               GThreadFunc  func,
               int          cancelled)
{
  gint64 fired_at;

  waiter_start_asleep (waiter, func);
  fired_at = g_get_monotonic_time ();
  ps_canceller_fire (&waiter->canceller);
  waiter_join (waiter);
  g_assert_cmpint (waiter->status, ==, cancelled);
  g_assert_cmpint (waiter->returned_at - fired_at, <, bound_us ());
}

static void
test_word_cancel (void)
{
  Shared *shared = shared_new ();
  Waiter waiter;

  waiter_init (&waiter, shared, TRUE);
  cancel_asleep (&waiter, word_waiter_thread, PS_WAIT_CANCELLED);
  g_assert_cmpuint (g_atomic_int_get (ps_wait_word_value (&shared->word)), ==, 0);

  /* A canceller that fired before the wait ends it at once. */
  g_assert_cmpint (ps_wait_word_wait (&shared->word, 0, g_get_monotonic_time () + bound_us (),
                                      &waiter.canceller), ==, PS_WAIT_CANCELLED);
  shared_free (shared);
}

/* Robust locks ---------------------------------------------------------- */

static void
test_lock_init_check (void)
{
  Shared *shared = shared_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_robust_lock_check (&shared->lock, FALSE));
  g_assert_true (ps_robust_lock_init (&shared->lock, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (ps_robust_lock_check (&shared->lock, TRUE));

  /* Only the futex backend records the kind in the lock; the posix one
   * has one pthread kind for both, and the darwin one checks the word as
   * it is used. */
  if (PS_BACKEND_ID == PS_BACKEND_FUTEX)
    {
      g_assert_false (ps_robust_lock_check (&shared->lock, FALSE));
      memset (&shared->lock, 0xa5, sizeof shared->lock);
      g_assert_false (ps_robust_lock_check (&shared->lock, TRUE));
      g_assert_cmpint (ps_robust_lock_try (&shared->lock), ==, PS_LOCK_CORRUPT);
    }
#ifdef __GLIBC__
  if (PS_BACKEND_ID == PS_BACKEND_POSIX)
    {
      memset (&shared->lock, 0xa5, sizeof shared->lock);
      g_assert_false (ps_robust_lock_check (&shared->lock, FALSE));
      g_assert_cmpint (ps_robust_lock_try (&shared->lock), ==, PS_LOCK_CORRUPT);
    }
#endif
  shared_free (shared);
}

static gpointer
try_in_thread (gpointer data)
{
  return GINT_TO_POINTER (ps_robust_lock_try (data));
}

/* ps_robust_lock_try() by another thread of this process, which unlocks
 * again whatever it got. */
static PsLockStatus
try_elsewhere (PsRobustLock *lock)
{
  GThread *thread = g_thread_new ("try", try_in_thread, lock);
  PsLockStatus status = GPOINTER_TO_INT (g_thread_join (thread));

  g_assert_cmpint (status, !=, PS_LOCK_ACQUIRED);
  return status;
}

/* Takes and releases @lock, which must be free. */
static void
assert_lock_free (PsRobustLock *lock)
{
  g_assert_cmpint (ps_robust_lock_try (lock), ==, PS_LOCK_ACQUIRED);
  g_assert_cmpint (ps_robust_lock_unlock (lock), ==, PS_LOCK_ACQUIRED);
}

static void
test_lock_try_unlock (void)
{
  Shared *shared = shared_new ();
  PsRobustLock *lock = &shared->lock;

  g_assert_cmpint (ps_robust_lock_try (lock), ==, PS_LOCK_ACQUIRED);
  g_assert_cmpint (try_elsewhere (lock), ==, PS_LOCK_BUSY);
  /* Never recursive (PsMutex counts relocks): the holder's try is refused. */
  g_assert_cmpint (ps_robust_lock_try (lock), ==, PS_LOCK_WOULD_DEADLOCK);
  g_assert_cmpint (ps_robust_lock_unlock (lock), ==, PS_LOCK_ACQUIRED);

  /* Free again, for anyone. */
  assert_lock_free (lock);
  shared_free (shared);
}

static void
test_lock_fast_paths (void)
{
  Shared *shared = shared_new ();
  PsRobustLock *lock = &shared->lock;
  gboolean fast = PS_BACKEND_ID == PS_BACKEND_FUTEX;

  g_assert_false (ps_robust_lock_looks_busy (lock));

  /* Only the futex backend has them; the others always send the caller
   * to the general operations, having done nothing. */
  g_assert_cmpint (ps_robust_lock_try_fast (lock), ==, fast);
  if (!fast)
    g_assert_cmpint (ps_robust_lock_try (lock), ==, PS_LOCK_ACQUIRED);
  g_assert_cmpint (try_elsewhere (lock), ==, PS_LOCK_BUSY);
  g_assert_false (ps_robust_lock_looks_busy (lock));   /* not to its holder */

  g_assert_cmpint (ps_robust_lock_can_unlock_fast (lock), ==, fast);
  if (fast)
    g_assert_true (ps_robust_lock_unlock_fast (lock));
  else
    g_assert_cmpint (ps_robust_lock_unlock (lock), ==, PS_LOCK_ACQUIRED);

  g_assert_false (ps_robust_lock_can_unlock_fast (lock));
  assert_lock_free (lock);
  shared_free (shared);
}

static void
test_lock_not_owner (void)
{
  Shared *shared = shared_new ();

  /* Unlocking a free lock. PsMutex checks ownership itself and unlocks
   * only what it holds, so the backends answer in their own ways: the
   * futex one finds no entry on the caller's robust list and leaves the
   * lock alone. */
  g_assert_cmpint (ps_robust_lock_unlock (&shared->lock), ==,
                   PS_BACKEND_ID == PS_BACKEND_FUTEX ? PS_LOCK_CORRUPT : PS_LOCK_NOT_OWNER);
  assert_lock_free (&shared->lock);
  shared_free (shared);
}

/* A thread that holds the lock until told to let go. */
typedef struct
{
  Shared  *shared;
  gint     held;
  gint     release;
  GThread *thread;
} Holder;

static gpointer
holder_thread (gpointer data)
{
  Holder *holder = data;

  g_assert_cmpint (ps_robust_lock_try (&holder->shared->lock), ==, PS_LOCK_ACQUIRED);
  g_atomic_int_set (&holder->held, TRUE);
  await_flag (&holder->release);
  g_assert_cmpint (ps_robust_lock_unlock (&holder->shared->lock), ==, PS_LOCK_ACQUIRED);
  return NULL;
}

static void
holder_start (Holder *holder,
              Shared *shared)
{
  memset (holder, 0, sizeof *holder);
  holder->shared = shared;
  holder->thread = g_thread_new ("holder", holder_thread, holder);
  await_flag (&holder->held);
}

static void
holder_stop (Holder *holder)
{
  g_atomic_int_set (&holder->release, TRUE);
  g_thread_join (holder->thread);
}

static void
test_lock_timeout (void)
{
  Shared *shared = shared_new ();
  PsCanceller canceller;
  Holder holder;
  gint64 deadline;

  ps_canceller_init (&canceller);
  holder_start (&holder, shared);
  g_assert_cmpint (ps_robust_lock_try (&shared->lock), ==, PS_LOCK_BUSY);

  deadline = g_get_monotonic_time () + SHORT_WAIT_US;
  g_assert_cmpint (ps_robust_lock_wait (&shared->lock, deadline, NULL), ==, PS_LOCK_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time (), >=, deadline);

  deadline = g_get_monotonic_time () + SHORT_WAIT_US;
  g_assert_cmpint (ps_robust_lock_wait (&shared->lock, deadline, &canceller), ==, PS_LOCK_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time (), >=, deadline);

  holder_stop (&holder);
  assert_lock_free (&shared->lock);
  shared_free (shared);
}

static void
test_lock_wait (void)
{
  Shared *shared = shared_new ();
  Waiter cancelled, woken;
  Holder holder;

  holder_start (&holder, shared);

  /* A cancelled waiter takes nothing: the holder still has the lock. */
  waiter_init (&cancelled, shared, TRUE);
  cancel_asleep (&cancelled, lock_waiter_thread, PS_LOCK_CANCELLED);
  g_assert_cmpint (ps_robust_lock_try (&shared->lock), ==, PS_LOCK_BUSY);

  /* An unlock ends a wait, which then holds the lock. */
  waiter_init (&woken, shared, TRUE);
  waiter_start_asleep (&woken, lock_waiter_thread);
  holder_stop (&holder);
  waiter_join (&woken);
  g_assert_cmpint (woken.status, ==, PS_LOCK_ACQUIRED);
  g_assert_cmpint (woken.unlock_status, ==, PS_LOCK_ACQUIRED);
  g_assert_cmpint (woken.returned_at, <, woken.deadline);

  assert_lock_free (&shared->lock);
  shared_free (shared);
}

/* Owner death ------------------------------------------------------------ */

/* Takes the lock and dies holding it: by _exit() at once, or by the
 * parent's SIGKILL. */
static int
dying_holder_child (gpointer data)
{
  Shared *shared = data;
  gint64 deadline = g_get_monotonic_time () + bound_us ();

  if (ps_robust_lock_try (&shared->lock) != PS_LOCK_ACQUIRED)
    return 1;
  g_atomic_int_set (&shared->child_ready, TRUE);
  if (!g_atomic_int_get (&shared->kill_child))
    _exit (0);
  while (g_get_monotonic_time () < deadline)
    g_usleep (1000);
  return 2;   /* never killed */
}

/* What the next locker gets after the taker-over unlocked: the posix
 * backend's pthread mutex keeps the consistency state, so that unlocking
 * without ps_robust_lock_make_consistent() makes the lock unusable; the
 * futex and darwin backends leave that state to PsMutex, and the lock
 * works on. */
static void
assert_next_locker (PsRobustLock *lock,
                    gboolean      made_consistent)
{
  if (made_consistent || PS_BACKEND_ID != PS_BACKEND_POSIX)
    assert_lock_free (lock);
  else
    g_assert_cmpint (ps_robust_lock_try (lock), ==, PS_LOCK_NOT_RECOVERABLE);
}

static void
test_lock_owner_exit (void)
{
  for (guint consistent = 0; consistent < 2; consistent++)
    {
      Shared *shared = shared_new ();
      pid_t pid = ps_test_fork (dying_holder_child, shared, ps_test_scaled_s (60));

      ps_test_reap_ok (pid, ps_test_scaled_s (30));
      g_assert_true (g_atomic_int_get (&shared->child_ready));

      /* Taken over, and held. */
      g_assert_cmpint (ps_robust_lock_try (&shared->lock), ==, PS_LOCK_OWNER_DIED);
      g_assert_cmpint (try_elsewhere (&shared->lock), ==, PS_LOCK_BUSY);
      if (consistent)
        ps_robust_lock_make_consistent (&shared->lock);
      g_assert_cmpint (ps_robust_lock_unlock (&shared->lock), ==, PS_LOCK_ACQUIRED);

      assert_next_locker (&shared->lock, consistent);
      shared_free (shared);
    }
}

static void
test_lock_owner_killed (void)
{
  for (guint consistent = 0; consistent < 2; consistent++)
    {
      Shared *shared = shared_new ();
      Waiter waiter;
      pid_t pid;
      int status;

      g_atomic_int_set (&shared->kill_child, TRUE);
      pid = ps_test_fork (dying_holder_child, shared, ps_test_scaled_s (60));
      await_flag (&shared->child_ready);

      /* A waiter already asleep is woken by the death. */
      waiter_init (&waiter, shared, TRUE);
      waiter.make_consistent = consistent;
      waiter_start_asleep (&waiter, lock_waiter_thread);
      g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
      status = ps_test_reap (pid, ps_test_scaled_s (30));
      g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);

      waiter_join (&waiter);
      g_assert_cmpint (waiter.status, ==, PS_LOCK_OWNER_DIED);
      g_assert_cmpint (waiter.returned_at, <, waiter.deadline);
      g_assert_cmpint (waiter.unlock_status, ==, PS_LOCK_ACQUIRED);

      assert_next_locker (&shared->lock, consistent);
      shared_free (shared);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ps_test_add ("/backend/name", test_backend_name);
  ps_test_add ("/backend/word/differs", test_word_differs);
  ps_test_add ("/backend/word/timeout", test_word_timeout);
  ps_test_add ("/backend/word/wake-thread", test_word_wake_thread);
  ps_test_add ("/backend/word/wake-process", test_word_wake_process);
  ps_test_add ("/backend/word/wake-one-or-all", test_word_wake_one_or_all);
  ps_test_add ("/backend/word/cancel", test_word_cancel);
  ps_test_add ("/backend/lock/init-check", test_lock_init_check);
  ps_test_add ("/backend/lock/try-unlock", test_lock_try_unlock);
  ps_test_add ("/backend/lock/fast-paths", test_lock_fast_paths);
  ps_test_add ("/backend/lock/not-owner", test_lock_not_owner);
  ps_test_add ("/backend/lock/timeout", test_lock_timeout);
  ps_test_add ("/backend/lock/wait", test_lock_wait);
  ps_test_add ("/backend/lock/owner-exit", test_lock_owner_exit);
  ps_test_add ("/backend/lock/owner-killed", test_lock_owner_killed);

  return g_test_run ();
}
