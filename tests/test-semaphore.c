/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsSemaphore across real processes: counting, bounds, timeouts,
 * cancellation, async waits, the three sharing models, and the ways an
 * object can be refused (wrong type, corrupt, incompatible, misplaced).
 *
 * "Separately spawned" peers re-execute this binary with --peer, handled
 * by ps_test_init() at the top of main().
 */

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ps-test-util.h"

/* The object header, to forge other layout versions. */
#include "ps-object-header-private.h"

/* Helpers ------------------------------------------------------------------ */

/* Variables shared with forked children, in a fresh anonymous segment. */
typedef struct
{
  gint   go;
  gint   ready;
  gint   stop;
  gint   succeeded;
  gint   overflowed;
  gint   acquired;
  gint   released;
  gint   inside;
  gint   violations;
  gint   ticks;
  gint   flag;
  gint   bad;
  gint   cancelled;
  gint   timed_out;
  gint64 counter;
  gint64 released_at;
} Shared;

static Shared *
shared_new (PsSharedMemory **out_memory)
{
  return ps_test_shared_new (sizeof (Shared), out_memory);
}

/* Cancels from another thread after @delay_us, recording when. */
typedef struct
{
  GCancellable *cancellable;
  gint64        delay_us;
  gint64        cancelled_at;
} DelayedCancel;

static gpointer
delayed_cancel_thread (gpointer data)
{
  DelayedCancel *dc = data;

  g_usleep (dc->delay_us);
  dc->cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (dc->cancellable);
  return NULL;
}

/* Basic semantics ------------------------------------------------------------ */

static void
test_counting (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  guint i;

  sem = ps_semaphore_new (3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 3);
  g_assert_cmpuint (ps_semaphore_get_max_value (sem), ==, G_MAXINT32);
  g_assert_null (ps_semaphore_get_name (sem));

  for (i = 3; i > 0; i--)
    {
      g_assert_true (ps_semaphore_try_acquire (sem));
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, i - 1);
    }
  g_assert_false (ps_semaphore_try_acquire (sem));
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);

  for (i = 1; i <= 4; i++)
    {
      g_assert_true (ps_semaphore_release (sem, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, i);
    }

  g_assert_true (ps_semaphore_acquire (sem, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_semaphore_acquire (sem, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_semaphore_acquire (sem, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 1);
}

static void
test_invalid_values (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) edge = NULL;
  g_autofree char *name = ps_test_unique_name ("sem-invalid");
  const guint8 *bytes;
  PsSemaphore *sem;
  gsize i;

  sem = ps_semaphore_new ((guint) G_MAXINT32 + 1, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (sem);
  g_clear_error (&error);

  sem = ps_semaphore_new_bounded (5, 4, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (sem);
  g_clear_error (&error);

  sem = ps_semaphore_new_bounded (0, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (sem);
  g_clear_error (&error);

  sem = ps_semaphore_new_bounded (0, (guint) G_MAXINT32 + 1, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (sem);
  g_clear_error (&error);

  sem = ps_semaphore_new_bounded (G_MAXUINT, G_MAXUINT, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (sem);
  g_clear_error (&error);

  /* The largest legal values are accepted, and already at the bound. */
  edge = ps_semaphore_new_bounded (G_MAXINT32, G_MAXINT32, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (edge), ==, G_MAXINT32);
  g_assert_false (ps_semaphore_release (edge, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OVERFLOW);
  g_clear_error (&error);
  g_assert_cmpuint (ps_semaphore_get_value (edge), ==, G_MAXINT32);

  /* A refused named creation leaves nothing behind. */
  sem = ps_semaphore_open (name, PS_OPEN_CREATE, (guint) G_MAXINT32 + 1, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (sem);
  g_clear_error (&error);
  sem = ps_semaphore_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (sem);
  g_clear_error (&error);

  /* A refused placement writes nothing. */
  memory = ps_shared_memory_new (4096, &error);
  g_assert_no_error (error);
  sem = ps_semaphore_new_at (memory, 0, (guint) G_MAXINT32 + 1, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (sem);
  g_clear_error (&error);
  bytes = ps_shared_memory_get_data (memory);
  for (i = 0; i < PS_SEMAPHORE_SIZE; i++)
    g_assert_cmpuint (bytes[i], ==, 0);
}

static void
test_bounded_overflow (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(PsSemaphore) binary = NULL;

  sem = ps_semaphore_new_bounded (1, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_max_value (sem), ==, 2);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 1);

  g_assert_true (ps_semaphore_release (sem, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 2);

  g_assert_false (ps_semaphore_release (sem, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OVERFLOW);
  g_clear_error (&error);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 2);

  g_assert_true (ps_semaphore_try_acquire (sem));
  g_assert_true (ps_semaphore_release (sem, &error));
  g_assert_no_error (error);
  g_assert_false (ps_semaphore_release (sem, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OVERFLOW);
  g_clear_error (&error);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 2);

  binary = ps_semaphore_new_bounded (0, 1, &error);
  g_assert_no_error (error);
  g_assert_true (ps_semaphore_release (binary, &error));
  g_assert_no_error (error);
  g_assert_false (ps_semaphore_release (binary, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OVERFLOW);
  g_clear_error (&error);
  g_assert_cmpuint (ps_semaphore_get_value (binary), ==, 1);
}

/* Concurrent releases into a bounded semaphore ------------------------------ */

#define OVERFLOW_MAX       1000
#define OVERFLOW_WORKERS   4
#define OVERFLOW_ATTEMPTS  1000
#define HOVER_MAX          2
#define HOVER_RELEASES     20000

typedef struct
{
  PsSemaphore *sem;
  Shared      *shared;
} Workers;

static int
release_until_full (gpointer data)
{
  Workers *w = data;
  int succeeded = 0, overflowed = 0;
  int i;

  g_atomic_int_inc (&w->shared->ready);
  /* Start together, so that many releases meet at the bound. */
  while (!g_atomic_int_get (&w->shared->go))
    g_thread_yield ();

  for (i = 0; i < OVERFLOW_ATTEMPTS; i++)
    {
      g_autoptr(GError) error = NULL;

      if (ps_semaphore_release (w->sem, &error))
        succeeded++;
      else if (g_error_matches (error, PS_ERROR, PS_ERROR_OVERFLOW))
        overflowed++;
      else
        return 2;
    }
  g_atomic_int_add (&w->shared->succeeded, succeeded);
  g_atomic_int_add (&w->shared->overflowed, overflowed);
  return 0;
}

static gpointer
release_until_full_thread (gpointer data)
{
  return GINT_TO_POINTER (release_until_full (data));
}

static void
check_full (PsSemaphore *sem,
            Shared      *shared)
{
  g_assert_cmpint (shared->succeeded, ==, OVERFLOW_MAX);
  g_assert_cmpint (shared->overflowed, ==, OVERFLOW_WORKERS * OVERFLOW_ATTEMPTS - OVERFLOW_MAX);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, OVERFLOW_MAX);
}

static void
test_bounded_atomic_threads (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared = shared_new (&memory);
  GThread *threads[OVERFLOW_WORKERS];
  Workers w;
  guint i;

  sem = ps_semaphore_new_bounded (0, OVERFLOW_MAX, &error);
  g_assert_no_error (error);
  w.sem = sem;
  w.shared = shared;

  for (i = 0; i < OVERFLOW_WORKERS; i++)
    threads[i] = g_thread_new ("releaser", release_until_full_thread, &w);
  g_assert_true (ps_test_wait_at_least (&shared->ready, OVERFLOW_WORKERS, 10));
  g_atomic_int_set (&shared->go, 1);
  for (i = 0; i < OVERFLOW_WORKERS; i++)
    g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (threads[i])), ==, 0);

  check_full (sem, shared);
}

static void
test_bounded_atomic_processes (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared = shared_new (&memory);
  pid_t pids[OVERFLOW_WORKERS];
  Workers w;
  guint i;

  sem = ps_semaphore_new_bounded (0, OVERFLOW_MAX, &error);
  g_assert_no_error (error);
  w.sem = sem;
  w.shared = shared;

  for (i = 0; i < OVERFLOW_WORKERS; i++)
    pids[i] = ps_test_fork (release_until_full, &w, ps_test_scaled_s (30));
  g_assert_true (ps_test_wait_at_least (&shared->ready, OVERFLOW_WORKERS, 10));
  g_atomic_int_set (&shared->go, 1);
  for (i = 0; i < OVERFLOW_WORKERS; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (30));

  check_full (sem, shared);
}

/* Releasers against one taker keep the count at its bound for a long
 * time: a check-then-increment would be caught going past it. */
static int
hover_releaser (gpointer data)
{
  Workers *w = data;
  int succeeded = 0;
  int i;

  for (i = 0; i < HOVER_RELEASES; i++)
    {
      g_autoptr(GError) error = NULL;

      if (ps_semaphore_release (w->sem, &error))
        succeeded++;
      else if (!g_error_matches (error, PS_ERROR, PS_ERROR_OVERFLOW))
        return 2;
      if (ps_semaphore_get_value (w->sem) > HOVER_MAX)
        g_atomic_int_inc (&w->shared->violations);
    }
  g_atomic_int_add (&w->shared->succeeded, succeeded);
  g_atomic_int_inc (&w->shared->stop);
  return 0;
}

static int
hover_taker (gpointer data)
{
  Workers *w = data;
  int acquired = 0;
  guint spins = 0;

  /* Bounded by the releasers finishing, and by the child watchdog. */
  while (g_atomic_int_get (&w->shared->stop) < 3)
    {
      if (ps_semaphore_try_acquire (w->sem))
        acquired++;
      if (ps_semaphore_get_value (w->sem) > HOVER_MAX)
        g_atomic_int_inc (&w->shared->violations);
      if (++spins % 64 == 0)
        g_thread_yield ();
    }
  g_atomic_int_add (&w->shared->acquired, acquired);
  return 0;
}

static void
test_bounded_atomic_hover (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared = shared_new (&memory);
  pid_t pids[4];
  Workers w;
  guint i;

  sem = ps_semaphore_new_bounded (0, HOVER_MAX, &error);
  g_assert_no_error (error);
  w.sem = sem;
  w.shared = shared;

  pids[0] = ps_test_fork (hover_taker, &w, ps_test_scaled_s (30));
  for (i = 1; i < 4; i++)
    pids[i] = ps_test_fork (hover_releaser, &w, ps_test_scaled_s (30));
  for (i = 0; i < 4; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (30));

  g_assert_cmpint (shared->violations, ==, 0);
  g_assert_cmpuint (ps_semaphore_get_value (sem), <=, HOVER_MAX);
  /* Every successful release is either still counted or was taken. */
  g_assert_cmpint (shared->succeeded - shared->acquired, ==, (gint) ps_semaphore_get_value (sem));
  /* The releasers reached the bound (how often the taker got in between
   * depends on scheduling, which a test must not assert on). */
  g_assert_cmpint (shared->succeeded, >=, HOVER_MAX);
}

/* Timeouts ---------------------------------------------------------------------- */

static void
test_timeout_zero (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 start;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);

  start = g_get_monotonic_time ();
  g_assert_false (ps_semaphore_acquire (sem, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_false (ps_semaphore_acquire (sem, 0, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  /* "At once": far less than any wait would take. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, ps_test_scaled_us (G_USEC_PER_SEC));
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);

  g_assert_true (ps_semaphore_release (sem, &error));
  g_assert_no_error (error);
  g_assert_true (ps_semaphore_acquire (sem, 0, cancellable, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
}

static void
test_timeout_never_early (void)
{
  static const gint64 timeouts[] = { 1, 10, 1000, 10000, 50000, 200000 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  guint i, round;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);

  for (round = 0; round < 4; round++)
    for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
      {
        /* With a cancellable the wait takes another path in the backend. */
        g_autoptr(GCancellable) cancellable = round % 2 ? g_cancellable_new () : NULL;
        gint64 start = g_get_monotonic_time ();
        gint64 elapsed;

        g_assert_false (ps_semaphore_acquire (sem, timeouts[i], cancellable, &error));
        elapsed = g_get_monotonic_time () - start;
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
        g_clear_error (&error);
        g_assert_cmpint (elapsed, >=, timeouts[i]);
        g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
      }
}

static volatile sig_atomic_t interruptions;

static void
on_sigusr1 (int signum)
{
  interruptions++;
}

typedef struct
{
  pthread_t target;
  gint      stop;
} Interrupter;

static gpointer
interrupter_thread (gpointer data)
{
  Interrupter *in = data;
  guint i;

  /* Bounded even if the waiter never returns: the watchdog kills us. */
  for (i = 0; !g_atomic_int_get (&in->stop) && i < 100000; i++)
    {
      pthread_kill (in->target, SIGUSR1);
      g_usleep (2000);
    }
  return NULL;
}

/* Signals interrupt the sleep again and again; the deadline must not move
 * (a wait that recomputed it from each restart would never end). */
static void
test_timeout_eintr (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  struct sigaction action, old_action;
  Interrupter in = { 0, };
  const gint64 timeout = 200000;
  GThread *thread;
  guint round;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);

  memset (&action, 0, sizeof action);
  action.sa_handler = on_sigusr1;
  sigemptyset (&action.sa_mask);
  action.sa_flags = 0;   /* no SA_RESTART: let every sleep see EINTR */
  g_assert_cmpint (sigaction (SIGUSR1, &action, &old_action), ==, 0);

  for (round = 0; round < 2; round++)
    {
      gint64 start, elapsed;

      interruptions = 0;
      in.target = pthread_self ();
      g_atomic_int_set (&in.stop, 0);
      thread = g_thread_new ("interrupter", interrupter_thread, &in);

      start = g_get_monotonic_time ();
      g_assert_false (ps_semaphore_acquire (sem, timeout, round ? cancellable : NULL, &error));
      elapsed = g_get_monotonic_time () - start;
      g_atomic_int_set (&in.stop, 1);
      g_thread_join (thread);

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_clear_error (&error);
      g_assert_cmpint (elapsed, >=, timeout);
      g_assert_cmpint (elapsed, <, timeout + ps_test_scaled_us (5 * G_USEC_PER_SEC));
      g_assert_cmpint (interruptions, >, 0);
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
    }

  g_assert_cmpint (sigaction (SIGUSR1, &old_action, NULL), ==, 0);
}

typedef struct
{
  PsSemaphore *sem;
  Shared      *shared;
} SemAndShared;

static int
release_after_a_while (gpointer data)
{
  SemAndShared *ctx = data;

  g_usleep (100000);
  g_atomic_int_set (&ctx->shared->released, 1);
  return ps_semaphore_release (ctx->sem, NULL) ? 0 : 1;
}

static void
test_infinite_woken_by_other_process (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared = shared_new (&memory);
  SemAndShared ctx;
  pid_t pid;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);
  ctx.sem = sem;
  ctx.shared = shared;

  pid = ps_test_fork (release_after_a_while, &ctx, ps_test_scaled_s (30));
  g_assert_true (ps_semaphore_acquire (sem, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_no_error (error);
  /* Only the other process's release could have let us through. */
  g_assert_cmpint (g_atomic_int_get (&shared->released), ==, 1);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
}

/* Cancellation --------------------------------------------------------------- */

static void
test_cancel_already_cancelled (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  const gint64 timeouts[] = { 0, 1000, PS_TIMEOUT_INFINITE };
  guint i;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);
  g_cancellable_cancel (cancellable);

  for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      g_assert_false (ps_semaphore_acquire (sem, timeouts[i], cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
    }

  /* The cancellable is checked before the count: a unit that is there
   * is left alone. */
  g_assert_true (ps_semaphore_release (sem, &error));
  g_assert_no_error (error);
  for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      g_assert_false (ps_semaphore_acquire (sem, timeouts[i], cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 1);
    }
}

static void
test_cancel_wakes_blocked_wait (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  guint round;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);

  for (round = 0; round < 5; round++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      DelayedCancel dc = { cancellable, 30000 + round * 10000, 0 };
      GThread *thread;
      gint64 returned_at;

      thread = g_thread_new ("canceller", delayed_cancel_thread, &dc);
      g_assert_false (ps_semaphore_acquire (sem, 30 * G_USEC_PER_SEC, cancellable, &error));
      returned_at = g_get_monotonic_time ();
      g_thread_join (thread);

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      g_assert_cmpint (dc.cancelled_at, >, 0);
      g_assert_cmpint (returned_at - dc.cancelled_at, <=, ps_test_scaled_us (50000));

      /* Nothing was taken or lost: a release is there to take. */
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
      g_assert_true (ps_semaphore_release (sem, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 1);
      g_assert_true (ps_semaphore_try_acquire (sem));
    }
}

/* Count conservation under a storm of acquires, releases, timeouts and
 * cancellations from several processes and threads. */
#define STORM_RELEASERS      2
#define STORM_RELEASES       3000
#define STORM_TAKERS         2
#define STORM_TAKER_THREADS  2

typedef struct
{
  PsSemaphore *sem;
  Shared      *shared;
  GAsyncQueue *to_cancel;
  gint         acquired;
  gint         timed_out;
  gint         cancelled;
  gint         would_block;
  gint         bad;
} Taker;

typedef struct
{
  GCancellable *cancellable;
  gint64        when;
} CancelJob;

/* Cancels each queued cancellable at its own moment, so that the
 * cancellations land while the waits are still blocked. */
static gpointer
storm_canceller_thread (gpointer data)
{
  Taker *taker = data;

  for (;;)
    {
      CancelJob *job = g_async_queue_pop (taker->to_cancel);
      gint64 now;

      if (job->cancellable == NULL)
        {
          g_free (job);
          return NULL;   /* the stop marker */
        }
      now = g_get_monotonic_time ();
      if (job->when > now)
        g_usleep (job->when - now);
      g_cancellable_cancel (job->cancellable);
      g_object_unref (job->cancellable);
      g_free (job);
    }
}

static gpointer
storm_taker_thread (gpointer data)
{
  Taker *taker = data;
  GRand *rand = g_rand_new ();

  while (!g_atomic_int_get (&taker->shared->stop))
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      guint kind = g_rand_int_range (rand, 0, 100);
      gint64 timeout;

      if (kind < 20)
        timeout = 0;
      else if (kind < 55)
        timeout = g_rand_int_range (rand, 1, 2000);
      else
        {
          CancelJob *job = g_new0 (CancelJob, 1);

          timeout = 20000;
          job->cancellable = g_object_ref (cancellable);
          job->when = g_get_monotonic_time () + g_rand_int_range (rand, 0, 300);
          g_async_queue_push (taker->to_cancel, job);
        }

      if (ps_semaphore_acquire (taker->sem, timeout, cancellable, &error))
        g_atomic_int_inc (&taker->acquired);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_atomic_int_inc (&taker->timed_out);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_atomic_int_inc (&taker->cancelled);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        g_atomic_int_inc (&taker->would_block);
      else
        g_atomic_int_inc (&taker->bad);
    }

  g_rand_free (rand);
  return NULL;
}

static int
storm_taker (gpointer data)
{
  Workers *w = data;
  Taker taker = { w->sem, w->shared, g_async_queue_new (), 0, };
  GThread *threads[STORM_TAKER_THREADS];
  GThread *canceller;
  guint i;

  canceller = g_thread_new ("canceller", storm_canceller_thread, &taker);
  for (i = 0; i < STORM_TAKER_THREADS; i++)
    threads[i] = g_thread_new ("taker", storm_taker_thread, &taker);
  for (i = 0; i < STORM_TAKER_THREADS; i++)
    g_thread_join (threads[i]);
  g_async_queue_push (taker.to_cancel, g_new0 (CancelJob, 1));   /* stop marker */
  g_thread_join (canceller);
  g_async_queue_unref (taker.to_cancel);

  g_atomic_int_add (&w->shared->acquired, taker.acquired);
  g_atomic_int_add (&w->shared->bad, taker.bad);
  g_atomic_int_add (&w->shared->cancelled, taker.cancelled);
  g_atomic_int_add (&w->shared->timed_out, taker.timed_out);
  return 0;
}

static int
storm_releaser (gpointer data)
{
  Workers *w = data;
  int i;

  for (i = 0; i < STORM_RELEASES; i++)
    {
      if (!ps_semaphore_release (w->sem, NULL))
        return 2;
      g_atomic_int_inc (&w->shared->released);
      /* Bursts and gaps: the takers keep finding the count at 0 and
       * blocking, which is where timeouts and cancellations race. */
      if (g_random_int_range (0, 4) == 0)
        g_usleep (g_random_int_range (0, 600));
    }
  return 0;
}

static void
test_race_count_conserved (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared = shared_new (&memory);
  pid_t takers[STORM_TAKERS], releasers[STORM_RELEASERS];
  Workers w;
  guint i;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);
  w.sem = sem;
  w.shared = shared;

  for (i = 0; i < STORM_TAKERS; i++)
    takers[i] = ps_test_fork (storm_taker, &w, ps_test_scaled_s (40));
  for (i = 0; i < STORM_RELEASERS; i++)
    releasers[i] = ps_test_fork (storm_releaser, &w, ps_test_scaled_s (40));
  for (i = 0; i < STORM_RELEASERS; i++)
    ps_test_reap_ok (releasers[i], ps_test_scaled_s (40));

  /* Let the takers work through what is left for a moment. */
  g_usleep (50000);
  g_atomic_int_set (&shared->stop, 1);
  for (i = 0; i < STORM_TAKERS; i++)
    ps_test_reap_ok (takers[i], ps_test_scaled_s (40));

  g_test_message ("acquired %d, cancelled %d, timed out %d, left %u",
                  shared->acquired, shared->cancelled, shared->timed_out,
                  ps_semaphore_get_value (sem));
  g_assert_cmpint (shared->bad, ==, 0);
  g_assert_cmpint (shared->released, ==, STORM_RELEASERS * STORM_RELEASES);
  g_assert_cmpint (shared->acquired + (gint) ps_semaphore_get_value (sem), ==,
                   STORM_RELEASERS * STORM_RELEASES);
  g_assert_cmpint (shared->acquired, >, 0);
}

/* A dead waiter ------------------------------------------------------------------ */

static int
doomed_acquirer (gpointer data)
{
  SemAndShared *ctx = data;
  gint index = g_atomic_int_add (&ctx->shared->ready, 1);

  /* Killed long before either wait could end. */
  ps_semaphore_acquire (ctx->sem, index == 0 ? PS_TIMEOUT_INFINITE : 30 * G_USEC_PER_SEC,
                        NULL, NULL);
  return 2;
}

static int
live_acquirer (gpointer data)
{
  SemAndShared *ctx = data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_atomic_int_inc (&ctx->shared->flag);
  ok = ps_semaphore_acquire (ctx->sem, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, &error);
  ctx->shared->counter = g_get_monotonic_time ();
  if (!ok)
    {
      g_printerr ("live acquirer: %s\n", error->message);
      return 2;
    }
  return 0;
}

static int
release_once (gpointer data)
{
  SemAndShared *ctx = data;

  ctx->shared->released_at = g_get_monotonic_time ();
  return ps_semaphore_release (ctx->sem, NULL) ? 0 : 2;
}

/* Waiters killed in the middle of acquire() leave nothing behind that
 * swallows a later release or its wake-up. The releases come from
 * helper processes, so that a release wedged on the dead waiters' state
 * fails the test within a bound rather than hanging it. */
static void
test_dead_waiter (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared = shared_new (&memory);
  const gint64 timeout = 100000;
  SemAndShared ctx;
  pid_t doomed[2];
  gint64 start;
  guint i;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);
  ctx.sem = sem;
  ctx.shared = shared;

  for (i = 0; i < 2; i++)
    doomed[i] = ps_test_fork (doomed_acquirer, &ctx, ps_test_scaled_s (40));
  g_assert_true (ps_test_wait_at_least (&shared->ready, 2, 20));
  g_usleep (50000);   /* let them get to sleep in the kernel */
  for (i = 0; i < 2; i++)
    {
      int status;

      g_assert_cmpint (kill (doomed[i], SIGKILL), ==, 0);
      status = ps_test_reap (doomed[i], ps_test_scaled_s (30));
      g_assert_true (WIFSIGNALED (status));
      g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
    }
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);

  /* One release reaches a live waiter at once. */
  for (i = 0; i < 3; i++)
    {
      pid_t pid;

      g_atomic_int_set (&shared->flag, 0);
      pid = ps_test_fork (live_acquirer, &ctx, ps_test_scaled_s (40));
      g_assert_true (ps_test_wait_at_least (&shared->flag, 1, 20));
      g_usleep (20000);
      g_test_message ("release %u after the waiters died", i);
      ps_test_reap_ok (ps_test_fork (release_once, &ctx, ps_test_scaled_s (20)),
                       ps_test_scaled_s (10));
      ps_test_reap_ok (pid, ps_test_scaled_s (40));
      /* Woken by the release, not by its own 10 s deadline. */
      g_assert_cmpint (shared->counter - shared->released_at, <=,
                       ps_test_scaled_us (2 * G_USEC_PER_SEC));
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
    }

  /* And a timed wait with nothing released still times out, not earlier. */
  start = g_get_monotonic_time ();
  g_assert_false (ps_semaphore_acquire (sem, timeout, NULL, &error));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, timeout);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
}

/* A binary semaphore as a lock ------------------------------------------------- */

#define LOCK_PROCESSES  10
#define LOCK_ITERATIONS 500

typedef struct
{
  PsSemaphore *sem;
  Shared      *shared;
  int          delta;
} Locker;

static int
lock_and_count (gpointer data)
{
  Locker *locker = data;
  volatile gint64 *counter = &locker->shared->counter;
  int i;

  for (i = 0; i < LOCK_ITERATIONS; i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 value;

      if (!ps_semaphore_acquire (locker->sem, ps_test_scaled_us (20 * G_USEC_PER_SEC),
                                 NULL, &error))
        return 2;
      if (g_atomic_int_add (&locker->shared->inside, 1) != 0)
        g_atomic_int_inc (&locker->shared->violations);
      /* A read-modify-write with a gap: lost updates if two get in. */
      value = *counter;
      if (i % 16 == 0)
        g_thread_yield ();
      *counter = value + locker->delta;
      g_atomic_int_add (&locker->shared->inside, -1);
      if (!ps_semaphore_release (locker->sem, &error))
        return 3;
    }
  return 0;
}

static void
test_lock_ten_processes (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared = shared_new (&memory);
  pid_t pids[LOCK_PROCESSES];
  guint i;

  sem = ps_semaphore_new_bounded (1, 1, &error);
  g_assert_no_error (error);

  for (i = 0; i < LOCK_PROCESSES; i++)
    {
      Locker locker = { sem, shared, i % 2 ? -1 : 1 };

      pids[i] = ps_test_fork (lock_and_count, &locker, ps_test_scaled_s (40));
    }
  for (i = 0; i < LOCK_PROCESSES; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (40));

  g_assert_cmpint (shared->violations, ==, 0);
  g_assert_cmpint (shared->counter, ==, 0);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 1);
}

/* Sharing models --------------------------------------------------------------- */

static int
anonymous_child (gpointer data)
{
  PsSemaphore *sem = data;
  int i;

  /* The count the parent set before fork() is the one we see. */
  if (ps_semaphore_get_value (sem) != 2)
    return 2;
  for (i = 0; i < 2; i++)
    if (!ps_semaphore_acquire (sem, 0, NULL, NULL))
      return 3;
  for (i = 0; i < 5; i++)
    if (!ps_semaphore_release (sem, NULL))
      return 4;
  return 0;
}

static void
test_anonymous_fork (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  guint i;

  sem = ps_semaphore_new (2, &error);
  g_assert_no_error (error);

  ps_test_reap_ok (ps_test_fork (anonymous_child, sem, ps_test_scaled_s (30)),
                   ps_test_scaled_s (30));
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 5);
  for (i = 0; i < 5; i++)
    g_assert_true (ps_semaphore_try_acquire (sem));
  g_assert_false (ps_semaphore_try_acquire (sem));
}

typedef struct
{
  PsSemaphore *to_parent;
  PsSemaphore *to_child;
} Pair;

static int
no_aliasing_child (gpointer data)
{
  Pair *pair = data;
  g_autoptr(PsSemaphore) mine = NULL;
  guint i;

  mine = ps_semaphore_new (5, NULL);
  if (mine == NULL)
    return 2;
  if (!ps_semaphore_release (pair->to_parent, NULL))
    return 3;
  /* The parent now creates objects of its own; ours must not change. */
  if (!ps_semaphore_acquire (pair->to_child, ps_test_scaled_us (20 * G_USEC_PER_SEC), NULL, NULL))
    return 4;
  if (ps_semaphore_get_value (mine) != 5)
    return 5;
  for (i = 0; i < 3; i++)
    if (!ps_semaphore_release (mine, NULL))
      return 6;
  return ps_semaphore_release (pair->to_parent, NULL) ? 0 : 7;
}

/* Objects made after fork() in parent and child must not share memory. */
static void
test_anonymous_fork_no_aliasing (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) to_parent = NULL;
  g_autoptr(PsSemaphore) to_child = NULL;
  g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func (g_object_unref);
  Pair pair;
  pid_t pid;
  guint i;

  to_parent = ps_semaphore_new (0, &error);
  g_assert_no_error (error);
  to_child = ps_semaphore_new (0, &error);
  g_assert_no_error (error);
  pair.to_parent = to_parent;
  pair.to_child = to_child;

  pid = ps_test_fork (no_aliasing_child, &pair, ps_test_scaled_s (30));
  g_assert_true (ps_semaphore_acquire (to_parent, ps_test_scaled_us (20 * G_USEC_PER_SEC),
                                       NULL, &error));
  g_assert_no_error (error);

  for (i = 0; i < 8; i++)
    {
      PsSemaphore *sem = ps_semaphore_new (i, &error);

      g_assert_no_error (error);
      g_ptr_array_add (created, sem);
    }
  g_assert_true (ps_semaphore_release (to_child, &error));
  g_assert_no_error (error);
  g_assert_true (ps_semaphore_acquire (to_parent, ps_test_scaled_us (20 * G_USEC_PER_SEC),
                                       NULL, &error));
  g_assert_no_error (error);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));

  for (i = 0; i < created->len; i++)
    g_assert_cmpuint (ps_semaphore_get_value (created->pdata[i]), ==, i);
}

static int
peer_sem_named (int    argc,
                char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) to_parent = NULL;
  g_autoptr(PsSemaphore) to_peer = NULL;
  guint i;

  g_assert_cmpint (argc, ==, 2);
  to_parent = ps_semaphore_open (argv[0], PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  to_peer = ps_semaphore_open (argv[1], PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ps_semaphore_get_name (to_peer), ==, argv[1]);

  /* The creator's initial count, not ours (0). */
  g_assert_cmpuint (ps_semaphore_get_value (to_peer), ==, 5);
  for (i = 0; i < 5; i++)
    g_assert_true (ps_semaphore_try_acquire (to_peer));
  g_assert_false (ps_semaphore_try_acquire (to_peer));

  for (i = 0; i < 3; i++)
    {
      g_assert_true (ps_semaphore_release (to_parent, &error));
      g_assert_no_error (error);
    }

  /* And a wait that only the parent can end. */
  g_assert_true (ps_semaphore_acquire (to_peer, ps_test_scaled_us (20 * G_USEC_PER_SEC),
                                       NULL, &error));
  g_assert_no_error (error);
  return 0;
}

static void
test_named_exec_peer (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *parent_name = ps_test_unique_name ("sem-to-parent");
  g_autofree char *peer_name = ps_test_unique_name ("sem-to-peer");
  g_autoptr(PsSemaphore) to_parent = NULL;
  g_autoptr(PsSemaphore) to_peer = NULL;
  pid_t pid;
  guint i;

  to_parent = ps_semaphore_open (parent_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 0, &error);
  g_assert_no_error (error);
  to_peer = ps_semaphore_open (peer_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ps_semaphore_get_name (to_parent), ==, parent_name);

  pid = ps_test_spawn_peer ("sem-named", parent_name, peer_name, NULL);
  for (i = 0; i < 3; i++)
    {
      g_assert_true (ps_semaphore_acquire (to_parent, ps_test_scaled_us (20 * G_USEC_PER_SEC), NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (ps_semaphore_get_value (to_parent), ==, 0);
  g_assert_cmpuint (ps_semaphore_get_value (to_peer), ==, 0);
  g_assert_true (ps_semaphore_release (to_peer, &error));
  g_assert_no_error (error);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  g_assert_cmpuint (ps_semaphore_get_value (to_peer), ==, 0);

  /* Creating it again exclusively is refused; without EXCLUSIVE it is
   * the same object, whatever value is passed. */
  {
    g_autoptr(PsSemaphore) again = NULL;

    again = ps_semaphore_open (parent_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 0, &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_assert_null (again);
    g_clear_error (&error);
    again = ps_semaphore_open (parent_name, PS_OPEN_CREATE, 9, &error);
    g_assert_no_error (error);
    g_assert_true (ps_semaphore_release (again, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (ps_semaphore_get_value (to_parent), ==, 1);
  }

  g_assert_true (ps_unlink (parent_name, &error));
  g_assert_no_error (error);
  g_assert_true (ps_unlink (peer_name, &error));
  g_assert_no_error (error);
}

#define RACE_PEERS 10

static int
peer_sem_race (int    argc,
               char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) gate = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  gint *words;
  guint value;

  g_assert_cmpint (argc, ==, 3);
  value = (guint) g_ascii_strtoull (argv[2], NULL, 10);
  gate = ps_shared_memory_open (argv[1], PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  words = ps_shared_memory_get_data (gate);

  g_atomic_int_inc (&words[1]);
  /* Spin rather than sleep, so that all peers hit open() together. */
  {
    gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (20 * G_USEC_PER_SEC);

    while (!g_atomic_int_get (&words[0]))
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_thread_yield ();
      }
  }

  sem = ps_semaphore_open (argv[0], PS_OPEN_CREATE, value, &error);
  g_assert_no_error (error);
  /* Each peer takes one unit of the one shared count; a peer that made
   * an object of its own, or re-initialised it, leaves a surplus. */
  g_assert_true (ps_semaphore_try_acquire (sem));
  return 0;
}

static void
test_named_racing_create (void)
{
  guint round;

  for (round = 0; round < 3; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("sem-race");
      g_autofree char *gate_name = ps_test_unique_name ("sem-race-gate");
      g_autofree char *value = g_strdup_printf ("%d", RACE_PEERS);
      g_autoptr(PsSharedMemory) gate = NULL;
      g_autoptr(PsSemaphore) sem = NULL;
      pid_t pids[RACE_PEERS];
      gint *words;
      guint i;

      gate = ps_shared_memory_open (gate_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 64, &error);
      g_assert_no_error (error);
      words = ps_shared_memory_get_data (gate);

      for (i = 0; i < RACE_PEERS; i++)
        pids[i] = ps_test_spawn_peer ("sem-race", name, gate_name, value, NULL);
      g_assert_true (ps_test_wait_at_least (&words[1], RACE_PEERS, 20));
      g_atomic_int_set (&words[0], 1);
      for (i = 0; i < RACE_PEERS; i++)
        ps_test_reap_ok (pids[i], ps_test_scaled_s (30));

      sem = ps_semaphore_open (name, PS_OPEN_NONE, 0, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
      g_assert_false (ps_semaphore_try_acquire (sem));

      g_assert_true (ps_unlink (name, &error));
      g_assert_no_error (error);
      g_assert_true (ps_unlink (gate_name, &error));
      g_assert_no_error (error);
    }
}

#define PLACED_OFFSET 256

typedef struct
{
  PsSharedMemory *memory;
} Placed;

static int
placed_child (gpointer data)
{
  Placed *placed = data;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;

  sem = ps_semaphore_attach (placed->memory, PLACED_OFFSET, &error);
  if (sem == NULL)
    return 2;
  if (ps_semaphore_get_value (sem) != 1 || ps_semaphore_get_max_value (sem) != G_MAXINT32)
    return 3;
  if (!ps_semaphore_acquire (sem, 0, NULL, NULL))
    return 4;
  /* The data next to the semaphore, published before the release. */
  if (!ps_shared_memory_set_int32 (placed->memory, 0, 42, NULL))
    return 5;
  if (!ps_semaphore_release (sem, NULL) || !ps_semaphore_release (sem, NULL))
    return 6;
  return 0;
}

static void
test_placed_fork_attach (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  Placed placed;
  guint i;

  memory = ps_shared_memory_new (PLACED_OFFSET + PS_SEMAPHORE_SIZE, &error);
  g_assert_no_error (error);
  sem = ps_semaphore_new_at (memory, PLACED_OFFSET, 1, &error);
  g_assert_no_error (error);
  g_assert_null (ps_semaphore_get_name (sem));
  placed.memory = memory;

  ps_test_reap_ok (ps_test_fork (placed_child, &placed, ps_test_scaled_s (30)),
                   ps_test_scaled_s (30));
  g_assert_cmpint (ps_shared_memory_get_int32 (memory, 0, &error), ==, 42);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 2);

  /* A second attachment in this process is the same semaphore. */
  {
    g_autoptr(PsSemaphore) again = ps_semaphore_attach (memory, PLACED_OFFSET, &error);

    g_assert_no_error (error);
    for (i = 0; i < 2; i++)
      g_assert_true (ps_semaphore_try_acquire (again));
    g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
  }
}

static int
peer_sem_placed (int    argc,
                 char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;

  g_assert_cmpint (argc, ==, 1);
  memory = ps_shared_memory_open (argv[0], PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  sem = ps_semaphore_attach (memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 3);
  g_assert_true (ps_semaphore_acquire (sem, 0, NULL, &error));
  g_assert_no_error (error);
  return 0;
}

static void
test_placed_exec_peer (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("sem-placed");
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;

  memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                  PLACED_OFFSET + PS_SEMAPHORE_SIZE, &error);
  g_assert_no_error (error);
  sem = ps_semaphore_new_at (memory, PLACED_OFFSET, 3, &error);
  g_assert_no_error (error);

  ps_test_reap_ok (ps_test_spawn_peer ("sem-placed", name, NULL), ps_test_scaled_s (30));
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 2);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

static void
test_placed_bad_offset (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) edge = NULL;
  const gsize size = 1024;
  const gsize bad_aligned[] = { 1, 4, 7, 12, 100 };
  const gsize out_of_bounds[] = {
    size - PS_SEMAPHORE_SIZE + 8, size, size + 8, G_MAXSIZE - 7,
  };
  PsSemaphore *sem;
  guint i;

  memory = ps_shared_memory_new (size, &error);
  g_assert_no_error (error);

  for (i = 0; i < G_N_ELEMENTS (bad_aligned); i++)
    {
      sem = ps_semaphore_new_at (memory, bad_aligned[i], 1, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (sem);
      g_clear_error (&error);
      sem = ps_semaphore_attach (memory, bad_aligned[i], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (sem);
      g_clear_error (&error);
    }
  for (i = 0; i < G_N_ELEMENTS (out_of_bounds); i++)
    {
      sem = ps_semaphore_new_at (memory, out_of_bounds[i], 1, &error);
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_assert_null (sem);
      g_clear_error (&error);
      sem = ps_semaphore_attach (memory, out_of_bounds[i], &error);
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_assert_null (sem);
      g_clear_error (&error);
    }
  ps_test_assert_all_zero (memory);

  /* The last slot that fits is fine. */
  edge = ps_semaphore_new_at (memory, size - PS_SEMAPHORE_SIZE, 4, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (edge), ==, 4);
}

static void
test_wrong_type (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  g_autoptr(PsMutex) named_mutex = NULL;
  g_autoptr(PsSharedMemory) named_memory = NULL;
  g_autofree char *mutex_name = ps_test_unique_name ("sem-wrong-mutex");
  g_autofree char *memory_name = ps_test_unique_name ("sem-wrong-shm");
  PsSemaphore *sem;

  memory = ps_shared_memory_new (2 * PS_MUTEX_SIZE, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_new_at (memory, 0, &error);
  g_assert_no_error (error);
  cond = ps_cond_new_at (memory, PS_MUTEX_SIZE, &error);
  g_assert_no_error (error);

  sem = ps_semaphore_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (sem);
  g_clear_error (&error);
  sem = ps_semaphore_attach (memory, PS_MUTEX_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (sem);
  g_clear_error (&error);
  /* Refusing it did not damage the mutex. */
  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);

  named_mutex = ps_mutex_open (mutex_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_assert_no_error (error);
  sem = ps_semaphore_open (mutex_name, PS_OPEN_NONE, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (sem);
  g_clear_error (&error);
  sem = ps_semaphore_open (mutex_name, PS_OPEN_CREATE, 1, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (sem);
  g_clear_error (&error);
  g_assert_true (ps_mutex_lock (named_mutex, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_unlock (named_mutex, &error));
  g_assert_no_error (error);

  named_memory = ps_shared_memory_open (memory_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 4096, &error);
  g_assert_no_error (error);
  sem = ps_semaphore_open (memory_name, PS_OPEN_NONE, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (sem);
  g_clear_error (&error);

  g_assert_true (ps_unlink (mutex_name, &error));
  g_assert_no_error (error);
  g_assert_true (ps_unlink (memory_name, &error));
  g_assert_no_error (error);
}

static void
test_corrupt (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) placed = NULL;
  const guint32 bad_count = 0xffffffffu;
  PsObjectHeader *header;
  guint8 *bytes;
  PsSemaphore *sem;
  gint64 start;
  gsize i;

  memory = ps_shared_memory_new (4 * PS_SEMAPHORE_SIZE, &error);
  g_assert_no_error (error);
  bytes = ps_shared_memory_get_data (memory);

  /* Zeroes. */
  sem = ps_semaphore_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (sem);
  g_clear_error (&error);

  /* Noise. */
  for (i = 0; i < PS_SEMAPHORE_SIZE; i++)
    bytes[PS_SEMAPHORE_SIZE + i] = (guint8) (i * 37 + 11);
  sem = ps_semaphore_attach (memory, PS_SEMAPHORE_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (sem);
  g_clear_error (&error);

  /* A header that was begun and never published: its creator died. The
   * attacher gives it a grace period, then refuses it. */
  placed = ps_semaphore_new_at (memory, 2 * PS_SEMAPHORE_SIZE, 1, &error);
  g_assert_no_error (error);
  g_clear_object (&placed);
  header = (gpointer) (bytes + 2 * PS_SEMAPHORE_SIZE);
  header->ready = 0;
  start = g_get_monotonic_time ();
  sem = ps_semaphore_attach (memory, 2 * PS_SEMAPHORE_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (sem);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, PS_OBJECT_INIT_GRACE_US);

  /* A count no semaphore can have (every backend keeps the value first). */
  placed = ps_semaphore_new_at (memory, 3 * PS_SEMAPHORE_SIZE, 1, &error);
  g_assert_no_error (error);
  g_clear_object (&placed);
  memcpy (bytes + 3 * PS_SEMAPHORE_SIZE + sizeof (PsObjectHeader), &bad_count, sizeof bad_count);
  sem = ps_semaphore_attach (memory, 3 * PS_SEMAPHORE_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (sem);
  g_clear_error (&error);
}

static void
test_incompatible (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) placed = NULL;
  g_autoptr(PsSemaphore) named = NULL;
  g_autofree char *name = ps_test_unique_name ("sem-incompatible");
  PsObjectHeader *header;
  guint16 version;
  PsSemaphore *sem;
  int fd;

  memory = ps_shared_memory_new (PS_SEMAPHORE_SIZE, &error);
  g_assert_no_error (error);
  placed = ps_semaphore_new_at (memory, 0, 1, &error);
  g_assert_no_error (error);
  header = ps_shared_memory_get_data (memory);
  g_assert_cmpuint (header->layout_version, ==, PS_OBJECT_LAYOUT_VERSION);

  header->layout_version = PS_OBJECT_LAYOUT_VERSION + 1;
  sem = ps_semaphore_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_assert_null (sem);
  g_clear_error (&error);

  /* Another backend's object is just as foreign. */
  header->layout_version = PS_OBJECT_LAYOUT_VERSION;
  header->backend ^= 0x80;
  sem = ps_semaphore_attach (memory, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_assert_null (sem);
  g_clear_error (&error);
  header->backend ^= 0x80;

  sem = ps_semaphore_attach (memory, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 1);
  g_object_unref (sem);

  /* A named one, rewritten on disk behind the library's back. */
  named = ps_semaphore_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 1, &error);
  g_assert_no_error (error);
  g_clear_object (&named);
  fd = shm_open (name, O_RDWR, 0);
  g_assert_cmpint (fd, >=, 0);
  version = PS_OBJECT_LAYOUT_VERSION + 1;
  g_assert_cmpint (pwrite (fd, &version, sizeof version,
                           G_STRUCT_OFFSET (PsObjectHeader, layout_version)), ==, sizeof version);
  close (fd);
  sem = ps_semaphore_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_assert_null (sem);
  g_clear_error (&error);
  sem = ps_semaphore_open (name, PS_OPEN_CREATE, 0, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_assert_null (sem);
  g_clear_error (&error);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

/* Async ---------------------------------------------------------------------------- */

typedef struct
{
  gboolean done;
  gboolean ok;
  GError  *error;
  gint64   finished_at;
} AsyncResult;

static void
on_acquired (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AsyncResult *r = user_data;

  g_assert_false (r->done);
  r->ok = ps_semaphore_acquire_finish (PS_SEMAPHORE (source), result, &r->error);
  r->finished_at = g_get_monotonic_time ();
  r->done = TRUE;
}

static gboolean
on_guard_expired (gpointer data)
{
  gboolean *expired = data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until all @n results are done, failing the
 * test after a generous bound. */
static void
run_until_done (AsyncResult *results,
                guint        n)
{
  gboolean expired = FALSE;
  guint guard = g_timeout_add_seconds (ps_test_scaled_s (20), on_guard_expired, &expired);
  guint i;

  for (i = 0; i < n; i++)
    while (!results[i].done)
      {
        if (expired)
          g_error ("an asynchronous wait did not complete in time");
        g_main_context_iteration (NULL, TRUE);
      }
  g_source_remove (guard);
}

static void
clear_result (AsyncResult *r)
{
  g_clear_error (&r->error);
  memset (r, 0, sizeof *r);
}

typedef struct
{
  PsSemaphore *sem;
  Shared      *shared;
} AsyncCtx;

static gboolean
on_tick (gpointer data)
{
  Shared *shared = data;

  g_atomic_int_inc (&shared->ticks);
  return G_SOURCE_CONTINUE;
}

static int
release_after_ticks (gpointer data)
{
  AsyncCtx *ctx = data;
  gboolean saw_ticks;

  /* Only a main loop that kept running can get the ticks this high. */
  saw_ticks = ps_test_wait_at_least (&ctx->shared->ticks, 10, 10);
  g_atomic_int_set (&ctx->shared->released, 1);
  if (!ps_semaphore_release (ctx->sem, NULL))
    return 2;
  return saw_ticks ? 0 : 3;
}

static void
test_async_released_by_other_process (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared = shared_new (&memory);
  AsyncResult r = { 0, };
  AsyncCtx ctx;
  guint tick;
  pid_t pid;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);
  ctx.sem = sem;
  ctx.shared = shared;

  tick = g_timeout_add (5, on_tick, shared);
  ps_semaphore_acquire_async (sem, PS_TIMEOUT_INFINITE, NULL, on_acquired, &r);
  g_assert_false (r.done);   /* never completes from within the call */
  pid = ps_test_fork (release_after_ticks, &ctx, ps_test_scaled_s (30));
  run_until_done (&r, 1);
  g_source_remove (tick);

  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_cmpint (g_atomic_int_get (&shared->released), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&shared->ticks), >=, 10);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));

  /* A unit already there completes too (through the main loop). */
  g_assert_true (ps_semaphore_release (sem, &error));
  g_assert_no_error (error);
  clear_result (&r);
  ps_semaphore_acquire_async (sem, 0, NULL, on_acquired, &r);
  run_until_done (&r, 1);
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
}

static void
test_async_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  const gint64 timeouts[] = { 1, 1000, 50000 };
  AsyncResult r = { 0, };
  guint i;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);

  for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      gint64 start = g_get_monotonic_time ();

      ps_semaphore_acquire_async (sem, timeouts[i], NULL, on_acquired, &r);
      run_until_done (&r, 1);
      g_assert_false (r.ok);
      g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_assert_cmpint (r.finished_at - start, >=, timeouts[i]);
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
      clear_result (&r);
    }

  ps_semaphore_acquire_async (sem, 0, NULL, on_acquired, &r);
  run_until_done (&r, 1);
  g_assert_false (r.ok);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  clear_result (&r);
}

static gboolean
cancel_now (gpointer data)
{
  DelayedCancel *dc = data;

  dc->cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (dc->cancellable);
  return G_SOURCE_REMOVE;
}

static void
test_async_cancel (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  AsyncResult r = { 0, };
  guint round;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);

  for (round = 0; round < 3; round++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      DelayedCancel dc = { cancellable, 0, 0 };

      ps_semaphore_acquire_async (sem, 30 * G_USEC_PER_SEC, cancellable, on_acquired, &r);
      g_timeout_add (20, cancel_now, &dc);
      run_until_done (&r, 1);
      g_assert_false (r.ok);
      g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (r.finished_at - dc.cancelled_at, <=, ps_test_scaled_us (100000));
      clear_result (&r);

      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
      g_assert_true (ps_semaphore_release (sem, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 1);
      g_assert_true (ps_semaphore_try_acquire (sem));
    }

  /* Already cancelled: refused even with a unit there, which stays. */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();

    g_cancellable_cancel (cancellable);
    g_assert_true (ps_semaphore_release (sem, &error));
    g_assert_no_error (error);
    ps_semaphore_acquire_async (sem, PS_TIMEOUT_INFINITE, cancellable, on_acquired, &r);
    run_until_done (&r, 1);
    g_assert_false (r.ok);
    g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    clear_result (&r);
    g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 1);
  }
}

/* A unit that the worker takes once the caller has cancelled must go
 * back; one taken before the cancellation may be kept, and then the
 * result says so. Either way no unit is lost. */
static void
test_async_cancel_gives_unit_back (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  guint round, kept = 0, given_back = 0;

  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);

  for (round = 0; round < 200; round++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      gboolean cancel_first = round % 2 == 0;
      AsyncResult r = { 0, };

      ps_semaphore_acquire_async (sem, PS_TIMEOUT_INFINITE, cancellable, on_acquired, &r);
      /* Give the worker time to block, some of the time. */
      if (round % 4 < 2)
        g_usleep (1000);

      if (cancel_first)
        {
          g_cancellable_cancel (cancellable);
          g_assert_true (ps_semaphore_release (sem, &error));
          g_assert_no_error (error);
        }
      else
        {
          g_assert_true (ps_semaphore_release (sem, &error));
          g_assert_no_error (error);
          g_cancellable_cancel (cancellable);
        }
      run_until_done (&r, 1);

      if (cancel_first)
        {
          /* Any unit was released after the cancellation: never kept. */
          g_assert_false (r.ok);
          g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        }
      if (r.ok)
        {
          g_assert_no_error (r.error);
          g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
          kept++;
        }
      else
        {
          g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 1);
          g_assert_true (ps_semaphore_try_acquire (sem));
          given_back++;
        }
      clear_result (&r);
      g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
    }
  g_test_message ("kept %u, cancelled %u", kept, given_back);
}

#define ASYNC_MANY 20

static int
release_many (gpointer data)
{
  PsSemaphore *sem = data;
  guint i;

  for (i = 0; i < ASYNC_MANY; i++)
    if (!ps_semaphore_release (sem, NULL))
      return 2;
  return 0;
}

static void
test_async_many_concurrent (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(PsSemaphore) other = NULL;
  AsyncResult results[ASYNC_MANY];
  AsyncResult probe = { 0, };
  gint64 start;
  guint i;

  memset (results, 0, sizeof results);
  sem = ps_semaphore_new (0, &error);
  g_assert_no_error (error);
  other = ps_semaphore_new (0, &error);
  g_assert_no_error (error);

  for (i = 0; i < ASYNC_MANY; i++)
    ps_semaphore_acquire_async (sem, PS_TIMEOUT_INFINITE, NULL, on_acquired, &results[i]);

  /* With every worker blocked, a further wait must still get a thread of
   * its own: it times out while the others are still waiting. */
  start = g_get_monotonic_time ();
  ps_semaphore_acquire_async (other, 100000, NULL, on_acquired, &probe);
  run_until_done (&probe, 1);
  g_assert_error (probe.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (probe.finished_at - start, >=, 100000);
  clear_result (&probe);
  for (i = 0; i < ASYNC_MANY; i++)
    g_assert_false (results[i].done);

  ps_test_reap_ok (ps_test_fork (release_many, sem, ps_test_scaled_s (30)), ps_test_scaled_s (30));
  run_until_done (results, ASYNC_MANY);
  for (i = 0; i < ASYNC_MANY; i++)
    {
      g_assert_no_error (results[i].error);
      g_assert_true (results[i].ok);
    }
  g_assert_cmpuint (ps_semaphore_get_value (sem), ==, 0);
}

/* Peers and main ---------------------------------------------------------------- */

static int
peer_main (int    argc,
           char **argv)
{
  ps_test_watchdog (ps_test_scaled_s (60));
  g_assert_cmpint (argc, >=, 1);

  if (g_str_equal (argv[0], "sem-named"))
    return peer_sem_named (argc - 1, argv + 1);
  if (g_str_equal (argv[0], "sem-race"))
    return peer_sem_race (argc - 1, argv + 1);
  if (g_str_equal (argv[0], "sem-placed"))
    return peer_sem_placed (argc - 1, argv + 1);
  g_error ("unknown peer role %s", argv[0]);
  return 1;
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, peer_main);

  ps_test_add ("/semaphore/counting", test_counting);
  ps_test_add ("/semaphore/invalid-values", test_invalid_values);
  ps_test_add ("/semaphore/bounded/overflow", test_bounded_overflow);
  ps_test_add ("/semaphore/bounded/atomic-threads", test_bounded_atomic_threads);
  ps_test_add ("/semaphore/bounded/atomic-processes", test_bounded_atomic_processes);
  ps_test_add ("/semaphore/bounded/atomic-at-the-bound", test_bounded_atomic_hover);
  ps_test_add ("/semaphore/timeout/zero-would-block", test_timeout_zero);
  ps_test_add ("/semaphore/timeout/never-early", test_timeout_never_early);
  ps_test_add ("/semaphore/timeout/eintr-keeps-deadline", test_timeout_eintr);
  ps_test_add ("/semaphore/timeout/infinite-woken-by-other-process",
               test_infinite_woken_by_other_process);
  ps_test_add ("/semaphore/cancel/already-cancelled", test_cancel_already_cancelled);
  ps_test_add ("/semaphore/cancel/wakes-blocked-wait", test_cancel_wakes_blocked_wait);
  ps_test_add ("/semaphore/race/count-conserved", test_race_count_conserved);
  ps_test_add ("/semaphore/dead-waiter/sigkill", test_dead_waiter);
  ps_test_add ("/semaphore/lock/ten-processes-counter", test_lock_ten_processes);
  ps_test_add ("/semaphore/anonymous/fork", test_anonymous_fork);
  ps_test_add ("/semaphore/anonymous/fork-no-aliasing", test_anonymous_fork_no_aliasing);
  ps_test_add ("/semaphore/named/exec-peer", test_named_exec_peer);
  ps_test_add ("/semaphore/named/racing-create", test_named_racing_create);
  ps_test_add ("/semaphore/placed/fork-attach", test_placed_fork_attach);
  ps_test_add ("/semaphore/placed/exec-peer-attach", test_placed_exec_peer);
  ps_test_add ("/semaphore/placed/bad-offset", test_placed_bad_offset);
  ps_test_add ("/semaphore/wrong-type", test_wrong_type);
  ps_test_add ("/semaphore/corrupt", test_corrupt);
  ps_test_add ("/semaphore/incompatible", test_incompatible);
  ps_test_add ("/semaphore/async/released-by-other-process", test_async_released_by_other_process);
  ps_test_add ("/semaphore/async/timeout", test_async_timeout);
  ps_test_add ("/semaphore/async/cancel", test_async_cancel);
  ps_test_add ("/semaphore/async/cancel-gives-unit-back", test_async_cancel_gives_unit_back);
  ps_test_add ("/semaphore/async/many-concurrent", test_async_many_concurrent);

  return g_test_run ();
}
