/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The PsSemaphore rows of ps-bench: uncontended acquire+release,
 * ping-pong between two processes, the accuracy of timed waits, and how
 * fast a cancelled acquire returns.
 */

#include <sched.h>
#include <semaphore.h>
#include <string.h>
#include <unistd.h>

#include "ps-bench.h"

/* Uncontended acquire+release ------------------------------------------------ */

static double
run_ps_semaphore (gpointer data,
                  guint64  iterations)
{
  PsSemaphore *semaphore = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (!ps_semaphore_acquire (semaphore, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_semaphore_acquire failed");
      if (G_UNLIKELY (!ps_semaphore_release (semaphore, NULL)))
        die ("ps_semaphore_release failed");
    }
  return ns_per_op_since (start, iterations);
}

static double
run_sem (gpointer data,
         guint64  iterations)
{
  sem_t *sem = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (sem_wait (sem) != 0))
        die ("sem_wait failed");
      if (G_UNLIKELY (sem_post (sem) != 0))
        die ("sem_post failed");
    }
  return ns_per_op_since (start, iterations);
}

#ifdef PS_BENCH_HAVE_BOOST
static double
run_boost_semaphore (gpointer data,
                     guint64  iterations)
{
  gint64 start = now_ns ();

  if (bench_boost_semaphore_run (data, iterations) != 0)
    die ("boost::interprocess::interprocess_semaphore failed");
  return ns_per_op_since (start, iterations);
}

/* An interprocess_semaphore that lives as long as the row. */
static gpointer
boost_semaphore_new (guint value)
{
  gpointer memory = shared_alloc (bench_boost_semaphore_size ());

  if (bench_boost_semaphore_init (memory, value) != 0)
    die ("boost::interprocess::interprocess_semaphore() failed");
  defer (bench_boost_semaphore_destroy, memory);
  return memory;
}
#endif

/* A PsSemaphore that lives as long as the row. */
static PsSemaphore *
row_ps_semaphore_new (guint value)
{
  g_autoptr(GError) error = NULL;
  PsSemaphore *semaphore = ps_semaphore_new (value, &error);

  check_error (semaphore != NULL, error, "ps_semaphore_new");
  return defer_unref (semaphore);
}

/* A process-shared sem_t in shared memory that lives as long as the row. */
static sem_t *
row_sem_new (guint value)
{
  sem_t *sem = shared_alloc (sizeof (sem_t));

  check_zero (sem_init (sem, 1, value), "sem_init");
  return sem;
}

static void
setup_acquire_release (Row    *row,
                       GArray *contestants)
{
  PsSemaphore *semaphore = row_ps_semaphore_new (1);
  sem_t *sem = row_sem_new (1);
  G_GNUC_UNUSED Series *boost;

  add_contestant (contestants,
                  row_add_series (row, "ps-semaphore", "PsSemaphore", KIND_PROCSHARED),
                  run_ps_semaphore, NULL, semaphore);
  add_contestant (contestants,
                  row_add_series (row, "sem-t", "pshared sem_t (sem_wait+sem_post)", KIND_BASELINE),
                  run_sem, NULL, sem);
  boost = row_add_boost_series (row, "boost-semaphore", "Boost interprocess_semaphore");
#ifdef PS_BENCH_HAVE_BOOST
  add_contestant (contestants, boost, run_boost_semaphore, NULL, boost_semaphore_new (1));
#endif
}

static void
finish_acquire_release (Row *row)
{
  row_target_ratio (row, "PsSemaphore ≤ 1.3× sem_t", "ps-semaphore", "sem-t", TRUE, 1.3);
}

const RowDef ps_bench_row_acquire_release = {
  "acquire-release", "Uncontended acquire+release", "ns/op", FALSE, ROW_LOCAL,
  101, 3, 20000, setup_acquire_release, finish_acquire_release, NULL
};

/* Semaphore ping-pong ---------------------------------------------------------- */

typedef struct
{
  gpointer ping;
  gpointer pong;
} PingPong;

static double
run_ps_ping (gpointer data,
             guint64  iterations)
{
  PingPong *pp = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (!ps_semaphore_release (pp->ping, NULL)))
        die ("ps_semaphore_release failed");
      if (G_UNLIKELY (!ps_semaphore_acquire (pp->pong, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_semaphore_acquire failed");
    }
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_ps_pong (gpointer data,
              guint64  iterations)
{
  PingPong *pp = data;
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (!ps_semaphore_acquire (pp->ping, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_semaphore_acquire failed");
      if (G_UNLIKELY (!ps_semaphore_release (pp->pong, NULL)))
        die ("ps_semaphore_release failed");
    }
}

static double
run_sem_ping (gpointer data,
              guint64  iterations)
{
  PingPong *pp = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (sem_post (pp->ping) != 0))
        die ("sem_post failed");
      while (sem_wait (pp->pong) != 0)
        if (errno != EINTR)
          die ("sem_wait failed");
    }
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_sem_pong (gpointer data,
               guint64  iterations)
{
  PingPong *pp = data;
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      while (sem_wait (pp->ping) != 0)
        if (errno != EINTR)
          die ("sem_wait failed");
      if (G_UNLIKELY (sem_post (pp->pong) != 0))
        die ("sem_post failed");
    }
}

#ifdef PS_BENCH_HAVE_BOOST
static double
run_boost_ping (gpointer data,
                guint64  iterations)
{
  PingPong *pp = data;
  gint64 start = now_ns ();

  if (bench_boost_ping_pong_initiator (pp->ping, pp->pong, iterations) != 0)
    die ("boost::interprocess::interprocess_semaphore failed");
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_boost_pong (gpointer data,
                 guint64  iterations)
{
  PingPong *pp = data;

  if (bench_boost_ping_pong_responder (pp->ping, pp->pong, iterations) != 0)
    die ("boost::interprocess::interprocess_semaphore failed");
}
#endif

static PingPong *
ping_pong_new (gpointer ping,
               gpointer pong)
{
  PingPong *pp = defer_free (g_new0 (PingPong, 1));

  pp->ping = ping;
  pp->pong = pong;
  return pp;
}

/* Also the contestants of the placement rows (ps-bench-placement.c). */
void
setup_ping_pong (Row    *row,
                 GArray *contestants)
{
  PingPong *ps = ping_pong_new (row_ps_semaphore_new (0), row_ps_semaphore_new (0));
  PingPong *posix = ping_pong_new (row_sem_new (0), row_sem_new (0));
  G_GNUC_UNUSED Series *boost;

  add_contestant (contestants,
                  row_add_series (row, "ps-semaphore-pair", "PsSemaphore pair", KIND_PROCSHARED),
                  run_ps_ping, peer_ps_pong, ps);
  add_contestant (contestants,
                  row_add_series (row, "sem-t-pair", "pshared sem_t pair", KIND_BASELINE),
                  run_sem_ping, peer_sem_pong, posix);
  boost = row_add_boost_series (row, "boost-semaphore-pair", "Boost interprocess_semaphore pair");
#ifdef PS_BENCH_HAVE_BOOST
  add_contestant (contestants, boost, run_boost_ping, peer_boost_pong,
                  ping_pong_new (boost_semaphore_new (0), boost_semaphore_new (0)));
#endif
}

static void
finish_ping_pong (Row *row)
{
  row_target_ratio (row, "PsSemaphore ping-pong ≤ 1.15× sem_t",
                    "ps-semaphore-pair", "sem-t-pair", TRUE, 1.15);
}

const RowDef ps_bench_row_sem_ping_pong = {
  "sem-ping-pong", "Semaphore ping-pong between two processes", "µs/round trip", FALSE,
  ROW_PAIR, 31, 3, 1000, setup_ping_pong, finish_ping_pong, NULL
};

/* Timed-wait accuracy ------------------------------------------------------------ */

/* The timed-wait and cancellation rows take one sample per call (their
 * batches are of one iteration); --profile gets the mean of @iterations. */
static double
mean_of_samples (double  (*sample) (gpointer data),
                 gpointer  data,
                 guint64   iterations)
{
  double sum = 0;
  guint64 i;

  for (i = 0; i < iterations; i++)
    sum += sample (data);
  return sum / (double) iterations;
}

#define TIMED_WAIT_US 1000

typedef struct
{
  PsSemaphore *semaphore;
  sem_t       *sem;
  guint        early;   /* returned before the deadline: must stay 0 */
} TimedWait;

static TimedWait *timed_wait;

static double
sample_timed_ps (gpointer data)
{
  TimedWait *t = data;
  g_autoptr(GError) error = NULL;
  gint64 start, elapsed;
  gboolean ok;

  start = now_ns ();
  ok = ps_semaphore_acquire (t->semaphore, TIMED_WAIT_US, NULL, &error);
  elapsed = now_ns () - start;
  if (ok || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    die ("ps_semaphore_acquire on an empty semaphore did not time out: %s",
         error != NULL ? error->message : "it succeeded");
  /* A microsecond of slack: the library's deadline is in whole µs. */
  if (elapsed < (TIMED_WAIT_US - 1) * 1000)
    t->early++;
  return (double) elapsed / 1000.0 - TIMED_WAIT_US;
}

static double
run_timed_ps (gpointer data,
              guint64  iterations)
{
  return mean_of_samples (sample_timed_ps, data, iterations);
}

static double
sample_timed_sem (gpointer data)
{
  TimedWait *t = data;
  struct timespec deadline;
  gint64 start, elapsed;
  int r;

  start = now_ns ();
  deadline.tv_sec = (start + TIMED_WAIT_US * 1000) / 1000000000;
  deadline.tv_nsec = (start + TIMED_WAIT_US * 1000) % 1000000000;
  do
    r = sem_clockwait (t->sem, CLOCK_MONOTONIC, &deadline);
  while (r != 0 && errno == EINTR);
  elapsed = now_ns () - start;
  if (r == 0 || errno != ETIMEDOUT)
    die ("sem_clockwait on an empty semaphore did not time out");
  return (double) elapsed / 1000.0 - TIMED_WAIT_US;
}

static double
run_timed_sem (gpointer data,
               guint64  iterations)
{
  return mean_of_samples (sample_timed_sem, data, iterations);
}

static void
setup_timed_wait (Row    *row,
                  GArray *contestants)
{
  timed_wait = defer_free (g_new0 (TimedWait, 1));
  timed_wait->semaphore = row_ps_semaphore_new (0);
  timed_wait->sem = row_sem_new (0);

  add_contestant (contestants,
                  row_add_series (row, "ps-semaphore-timed", "PsSemaphore.acquire (1 ms)",
                                  KIND_PROCSHARED),
                  run_timed_ps, NULL, timed_wait);
  add_contestant (contestants,
                  row_add_series (row, "sem-clockwait", "sem_clockwait (1 ms, CLOCK_MONOTONIC)",
                                  KIND_BASELINE),
                  run_timed_sem, NULL, timed_wait);
}

static void
finish_timed_wait (Row *row)
{
  row_metric (row, "ps_early_returns", timed_wait->early);
  row_note (row, "overshoot past a 1 ms timeout on an empty semaphore, one sample per wait; "
            "early returns (before the deadline): %u", timed_wait->early);
  row_target_stat (row, "timed-wait overshoot median ≤ 200 µs", "ps-semaphore-timed", "median",
                   TRUE, 200.0);
  row_target_stat (row, "timed-wait overshoot p99 ≤ 2 ms", "ps-semaphore-timed", "p99",
                   TRUE, 2000.0);
}

const RowDef ps_bench_row_timed_wait = {
  "timed-wait", "Timed-wait accuracy: overshoot of 1 ms waits", "µs", FALSE, ROW_LOCAL,
  300, 10, 1, setup_timed_wait, finish_timed_wait, NULL
};

/* Cancellation latency ------------------------------------------------------------- */

/* A waiter thread blocks (in PsSemaphore.acquire with a GCancellable, or
 * in sem_wait), the main thread makes sure it sleeps in the kernel, then
 * cancels (or posts) and the waiter notes when its call returned. */
typedef struct
{
  GThread      *thread;
  sem_t         start;
  sem_t         done;
  gint          mode;           /* 0 PsSemaphore+cancel, 1 sem_t+post, 2 quit */
  gint          about_to_wait;
  gint          tid;
  PsSemaphore  *semaphore;
  GCancellable *cancellable;
  sem_t         target;
  gint64        returned_at;
  gboolean      cancelled_ok;
} Cancel;

typedef struct
{
  Cancel *cancel;
  gint    mode;
} CancelMode;

static gpointer
cancel_waiter (gpointer data)
{
  Cancel *c = data;

  g_atomic_int_set (&c->tid, (gint) gettid ());
  for (;;)
    {
      while (sem_wait (&c->start) != 0)
        ;
      if (c->mode == 2)
        break;
      g_atomic_int_set (&c->about_to_wait, 1);
      if (c->mode == 0)
        {
          g_autoptr(GError) error = NULL;
          gboolean ok = ps_semaphore_acquire (c->semaphore, PS_TIMEOUT_INFINITE,
                                              c->cancellable, &error);

          c->returned_at = now_ns ();
          c->cancelled_ok = !ok && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        }
      else
        {
          while (sem_wait (&c->target) != 0)
            ;
          c->returned_at = now_ns ();
          c->cancelled_ok = TRUE;
        }
      sem_post (&c->done);
    }
  return NULL;
}

/* Whether the thread sleeps: the state field of /proc/self/task/TID/stat. */
static gboolean
thread_is_sleeping (gint tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/stat", tid);
  g_autofree char *contents = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  paren = strrchr (contents, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] == 'S';
}

static double
sample_cancel (gpointer data)
{
  CancelMode *cm = data;
  Cancel *c = cm->cancel;
  gint64 deadline, cancelled_at;

  c->mode = cm->mode;
  if (cm->mode == 0)
    c->cancellable = g_cancellable_new ();
  g_atomic_int_set (&c->about_to_wait, 0);
  sem_post (&c->start);

  while (!g_atomic_int_get (&c->about_to_wait))
    sched_yield ();
  /* Generous: under a sanitizer or a loaded CI machine, the waiter may
   * take a while to be scheduled at all. */
  deadline = now_ns () + 10 * G_GINT64_CONSTANT (1000000000);
  while (!thread_is_sleeping (g_atomic_int_get (&c->tid)))
    {
      if (now_ns () > deadline)
        die ("the waiter thread never went to sleep");
      g_usleep (20);
    }

  cancelled_at = now_ns ();
  if (cm->mode == 0)
    g_cancellable_cancel (c->cancellable);
  else
    sem_post (&c->target);
  while (sem_wait (&c->done) != 0)
    ;

  if (!c->cancelled_ok)
    die ("a cancelled PsSemaphore.acquire did not return G_IO_ERROR_CANCELLED");
  g_clear_object (&c->cancellable);
  return (double) (c->returned_at - cancelled_at) / 1000.0;
}

static double
run_cancel (gpointer data,
            guint64  iterations)
{
  return mean_of_samples (sample_cancel, data, iterations);
}

static void
stop_cancel_waiter (gpointer data)
{
  Cancel *c = data;

  c->mode = 2;
  sem_post (&c->start);
  g_thread_join (c->thread);
  sem_destroy (&c->start);
  sem_destroy (&c->done);
  sem_destroy (&c->target);
}

static void
setup_cancel (Row    *row,
              GArray *contestants)
{
  Cancel *c = defer_free (g_new0 (Cancel, 1));
  CancelMode *ps = defer_free (g_new0 (CancelMode, 1));
  CancelMode *posix = defer_free (g_new0 (CancelMode, 1));

  c->semaphore = row_ps_semaphore_new (0);
  check_zero (sem_init (&c->start, 0, 0), "sem_init");
  check_zero (sem_init (&c->done, 0, 0), "sem_init");
  check_zero (sem_init (&c->target, 0, 0), "sem_init");
  c->thread = g_thread_new ("cancel-waiter", cancel_waiter, c);
  while (g_atomic_int_get (&c->tid) == 0)
    g_usleep (100);
  defer (stop_cancel_waiter, c);   /* runs first: before c is freed */

  ps->cancel = c;
  ps->mode = 0;
  posix->cancel = c;
  posix->mode = 1;
  add_contestant (contestants,
                  row_add_series (row, "ps-cancel", "cancel → blocked PsSemaphore.acquire returns",
                                  KIND_PROCSHARED),
                  run_cancel, NULL, ps);
  add_contestant (contestants,
                  row_add_series (row, "sem-post-wake", "sem_post → blocked sem_wait returns",
                                  KIND_BASELINE),
                  run_cancel, NULL, posix);
}

static void
finish_cancel (Row *row)
{
  row_note (row, "from the call in one thread to the return of the blocked call in another; "
            "the baseline is the kernel's own wake-up of a sleeping sem_wait");
  row_target_stat (row, "cancellation latency p99 ≤ 1 ms", "ps-cancel", "p99", TRUE, 1000.0);
}

const RowDef ps_bench_row_cancel = {
  "cancel", "Cancellation latency of a blocked acquire", "µs", FALSE, ROW_LOCAL,
  200, 10, 1, setup_cancel, finish_cancel, NULL
};
