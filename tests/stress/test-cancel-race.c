/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Cancellation and timeout races. For each primitive (PsSemaphore, its
 * async acquire, PsMutex, PsCond, and PsRWLock's async read and write
 * locks), 2,000 waits are made by 4 threads
 * while 2 other threads and 2 other processes keep acquiring and
 * releasing (locking and unlocking, signalling) the same object. Each
 * wait is either cancelled by a companion thread after a random delay of
 * 0-1 ms, or given a random timeout of 0-1 ms. Then:
 *
 *  - every wait returns acquired, or fails with exactly CANCELLED (or
 *    TIMED_OUT, or WOULD_BLOCK for a timeout of 0), and does so within a
 *    generous bound after its cancellation or deadline;
 *  - a timed-out wait never returns before its deadline;
 *  - the outcome is true: a mutex is held exactly when lock() said so,
 *    a condition wait holds the mutex again on every return;
 *  - afterwards the semaphore count is exactly what it was, the mutex is
 *    free, no condition waiter is left, and every participant finished
 *    (so none was left asleep).
 */

#include <sched.h>

#include "stress-util.h"
#include "ps-cond-private.h"

#define N_SUBJECTS        4
#define N_WAITS           500      /* per subject thread: 2,000 in all */
#define N_WAITS_SLOW      100
#define N_CHURN_THREADS   2
#define N_CHURN_PROCS     2
#define SEM_UNITS         2
#define MAX_DELAY_US      1000

typedef enum
{
  PRIM_SEMAPHORE,
  PRIM_SEMAPHORE_ASYNC,
  PRIM_MUTEX,
  PRIM_COND,
  PRIM_MUTEX_ASYNC,
  PRIM_COND_ASYNC,
  PRIM_RW_READ_ASYNC,
  PRIM_RW_WRITE_ASYNC,
} Prim;

static inline gboolean
is_cond (Prim prim)
{
  return prim == PRIM_COND || prim == PRIM_COND_ASYNC;
}

typedef enum
{
  END_CANCEL,
  END_TIMEOUT,
} EndKind;

typedef struct
{
  Prim    prim;
  EndKind end;
} RaceCase;

typedef struct
{
  gint           stop;
  gint           holder;       /* mutex and cond cases: who holds the mutex, 0 if nobody */
  gint           next_id;
  gint           churn_ops;
  StressFailures failures;
  gint           readers;      /* rw-lock cases: read shares held */
} RaceShared;

typedef struct
{
  const RaceCase *race;
  RaceShared     *shared;
  PsSemaphore    *semaphore;
  PsMutex        *mutex;
  PsCond         *cond;
  PsRWLock       *rw_lock;
} Race;

/* The holder marks itself: two marks at once are two holders. */
static void
mark_held (RaceShared *shared,
           gint        id)
{
  gint previous = g_atomic_int_get (&shared->holder);

  if (previous != 0 || !g_atomic_int_compare_and_exchange (&shared->holder, 0, id))
    stress_fail (&shared->failures, "%d got the mutex while %d held it", id, previous);
}

static void
mark_released (RaceShared *shared,
               gint        id)
{
  if (!g_atomic_int_compare_and_exchange (&shared->holder, id, 0))
    stress_fail (&shared->failures, "%d released a mutex marked as held by %d",
                 id, g_atomic_int_get (&shared->holder));
}

/* A writer is alone: no other writer (mark_held()), no reader. */
static void
mark_writing (RaceShared *shared,
              gint        id)
{
  mark_held (shared, id);
  if (g_atomic_int_get (&shared->readers) != 0)
    stress_fail (&shared->failures, "%d got the write lock while %d read shares were held",
                 id, g_atomic_int_get (&shared->readers));
}

static void
mark_reading (RaceShared *shared,
              gint        id)
{
  g_atomic_int_inc (&shared->readers);
  if (g_atomic_int_get (&shared->holder) != 0)
    stress_fail (&shared->failures, "%d got a read share while %d held the write lock",
                 id, g_atomic_int_get (&shared->holder));
}

/* Holds the rw-lock as taken (marked), then gives it back. */
static void
use_rw_lock (Race     *race,
             GRand    *rand,
             gint      id,
             gboolean  write,
             gint      max_us)
{
  RaceShared *shared = race->shared;
  g_autoptr(GError) error = NULL;

  if (write)
    mark_writing (shared, id);
  else
    mark_reading (shared, id);
  g_usleep (g_rand_int_range (rand, 0, max_us));
  if (write)
    mark_released (shared, id);
  else
    g_atomic_int_add (&shared->readers, -1);
  if (!(write ? ps_rw_lock_write_unlock (race->rw_lock, &error)
              : ps_rw_lock_read_unlock (race->rw_lock, &error)))
    stress_fail (&shared->failures, "rw-lock unlock: %s", error->message);
}

/* Churn: the others, acquiring and releasing all along ---------------- */

static void
churn_once (Race  *race,
            GRand *rand,
            gint   id)
{
  RaceShared *shared = race->shared;
  g_autoptr(GError) error = NULL;
  gint64 long_wait = ps_test_scaled_us (30 * G_USEC_PER_SEC);

  switch (race->race->prim)
    {
    case PRIM_SEMAPHORE:
    case PRIM_SEMAPHORE_ASYNC:
      if (!ps_semaphore_acquire (race->semaphore, long_wait, NULL, &error))
        {
          stress_fail (&shared->failures, "churn acquire: %s", error->message);
          return;
        }
      g_usleep (g_rand_int_range (rand, 0, 300));
      if (!ps_semaphore_release (race->semaphore, &error))
        stress_fail (&shared->failures, "churn release: %s", error->message);
      break;

    case PRIM_MUTEX:
    case PRIM_COND:
    case PRIM_MUTEX_ASYNC:
    case PRIM_COND_ASYNC:
      if (!ps_mutex_lock (race->mutex, long_wait, NULL, &error))
        {
          stress_fail (&shared->failures, "churn lock: %s", error->message);
          return;
        }
      mark_held (shared, id);
      if (is_cond (race->race->prim))
        {
          switch (g_rand_int_range (rand, 0, 4))
            {
            case 0:
              ps_cond_signal (race->cond);
              break;
            case 1:
              ps_cond_broadcast (race->cond);
              break;
            case 2:
              /* A waiter among the waiters, briefly. */
              mark_released (shared, id);
              if (!ps_cond_wait (race->cond, race->mutex, g_rand_int_range (rand, 1, 2000),
                                 NULL, &error) &&
                  !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
                stress_fail (&shared->failures, "churn cond wait: %s", error->message);
              g_clear_error (&error);
              mark_held (shared, id);
              break;
            default:
              break;
            }
        }
      else
        g_usleep (g_rand_int_range (rand, 0, 300));
      mark_released (shared, id);
      if (!ps_mutex_unlock (race->mutex, &error))
        stress_fail (&shared->failures, "churn unlock: %s", error->message);
      /* Signals from outside the mutex too. */
      if (is_cond (race->race->prim) && g_rand_boolean (rand))
        ps_cond_signal (race->cond);
      break;

    case PRIM_RW_READ_ASYNC:
    case PRIM_RW_WRITE_ASYNC:
      {
        gboolean write = g_rand_boolean (rand);

        if (!(write ? ps_rw_lock_write_lock (race->rw_lock, long_wait, NULL, &error)
                    : ps_rw_lock_read_lock (race->rw_lock, long_wait, NULL, &error)))
          {
            stress_fail (&shared->failures, "churn rw-lock: %s", error->message);
            return;
          }
        use_rw_lock (race, rand, id, write, 300);
      }
      break;

    default:
      g_assert_not_reached ();
    }

  g_atomic_int_inc (&shared->churn_ops);
  g_usleep (g_rand_int_range (rand, 0, 200));
}

typedef struct
{
  Race    *race;
  guint32  seed;
} ChurnArgs;

static void
churn_loop (Race    *race,
            guint32  seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  gint id = g_atomic_int_add (&race->shared->next_id, 1) + 1;

  while (!g_atomic_int_get (&race->shared->stop) &&
         g_atomic_int_get (&race->shared->failures.count) == 0)
    churn_once (race, rand, id);
}

static gpointer
churn_thread (gpointer data)
{
  ChurnArgs *args = data;

  churn_loop (args->race, args->seed);
  return NULL;
}

static int
churn_child (gpointer data)
{
  ChurnArgs *args = data;

  stress_die_with_parent ();
  churn_loop (args->race, args->seed);
  return 0;
}

/* Subjects: the waits under test ------------------------------------------ */

typedef struct
{
  GCancellable *cancellable;
  gint64        delay_us;
} CancelRequest;

typedef struct
{
  Race          *race;
  guint32        seed;
  guint          n_waits;
  GAsyncQueue   *requests;    /* to the companion */
  GAsyncQueue   *fired;       /* back from it */
  GThread       *companion;

  /* results */
  guint          acquired;
  guint          cancelled;
  guint          timed_out;
  guint          would_block;
  gint64         max_late_us;  /* how long after its cancellation or deadline a wait returned */
} Subject;

/* Fires each cancellable after its delay, one at a time. */
static gpointer
companion_thread (gpointer data)
{
  Subject *subject = data;

  for (;;)
    {
      CancelRequest *request = g_async_queue_pop (subject->requests);

      if (request->cancellable == NULL)
        {
          g_free (request);
          return NULL;
        }
      if (request->delay_us > 0)
        g_usleep (request->delay_us);
      g_cancellable_cancel (request->cancellable);
      g_object_unref (request->cancellable);
      g_free (request);
      g_async_queue_push (subject->fired, GINT_TO_POINTER (1));
    }
}

typedef struct
{
  gboolean      done;
  gboolean      result;
  GError       *error;
} AsyncResult;

static void
on_acquired (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AsyncResult *async = user_data;

  async->result = ps_semaphore_acquire_finish (PS_SEMAPHORE (source), result, &async->error);
  async->done = TRUE;
}

static void
on_locked (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  AsyncResult *async = user_data;

  async->result = ps_mutex_lock_finish (PS_MUTEX (source), result, &async->error);
  async->done = TRUE;
}

static void
on_waited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  AsyncResult *async = user_data;

  async->result = ps_cond_wait_finish (PS_COND (source), result, &async->error);
  async->done = TRUE;
}

static void
on_rw_locked (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AsyncResult *async = user_data;
  GTask *task = G_TASK (result);

  if (g_task_get_source_tag (task) == ps_rw_lock_write_lock_async)
    async->result = ps_rw_lock_write_lock_finish (PS_RW_LOCK (source), result, &async->error);
  else
    async->result = ps_rw_lock_read_lock_finish (PS_RW_LOCK (source), result, &async->error);
  async->done = TRUE;
}

/* Runs @context until @async is done; its outcome. */
static gboolean
finish_async (AsyncResult   *async,
              GMainContext  *context,
              GError       **error)
{
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (30 * G_USEC_PER_SEC);

  while (!async->done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  if (!async->done)
    g_error ("an async wait never completed");
  if (async->error != NULL)
    g_propagate_error (error, async->error);
  return async->result;
}

/* One wait; returns the error (or NULL if acquired). */
static gboolean
subject_wait (Subject       *subject,
              GMainContext  *context,
              gint64         timeout_us,
              GCancellable  *cancellable,
              GError       **error)
{
  Race *race = subject->race;

  switch (race->race->prim)
    {
    case PRIM_SEMAPHORE:
      return ps_semaphore_acquire (race->semaphore, timeout_us, cancellable, error);

    case PRIM_SEMAPHORE_ASYNC:
      {
        AsyncResult async = { 0 };

        ps_semaphore_acquire_async (race->semaphore, timeout_us, cancellable,
                                    on_acquired, &async);
        return finish_async (&async, context, error);
      }

    case PRIM_MUTEX_ASYNC:
      {
        AsyncResult async = { 0 };

        ps_mutex_lock_async (race->mutex, timeout_us, cancellable, on_locked, &async);
        return finish_async (&async, context, error);
      }

    case PRIM_COND_ASYNC:
      {
        AsyncResult async = { 0 };

        ps_cond_wait_async (race->cond, race->mutex, timeout_us, cancellable, on_waited, &async);
        return finish_async (&async, context, error);
      }

    case PRIM_RW_READ_ASYNC:
    case PRIM_RW_WRITE_ASYNC:
      {
        AsyncResult async = { 0 };

        if (race->race->prim == PRIM_RW_WRITE_ASYNC)
          ps_rw_lock_write_lock_async (race->rw_lock, timeout_us, cancellable, on_rw_locked,
                                       &async);
        else
          ps_rw_lock_read_lock_async (race->rw_lock, timeout_us, cancellable, on_rw_locked,
                                      &async);
        return finish_async (&async, context, error);
      }

    case PRIM_MUTEX:
      return ps_mutex_lock (race->mutex, timeout_us, cancellable, error);

    case PRIM_COND:
      return ps_cond_wait (race->cond, race->mutex, timeout_us, cancellable, error);

    default:
      g_assert_not_reached ();
    }
}

static gpointer
subject_thread (gpointer data)
{
  Subject *subject = data;
  Race *race = subject->race;
  RaceShared *shared = race->shared;
  g_autoptr(GRand) rand = g_rand_new_with_seed (subject->seed);
  g_autoptr(GMainContext) context = g_main_context_new ();
  gint id = g_atomic_int_add (&shared->next_id, 1) + 1;
  gint64 bound = ps_test_scaled_us (2 * G_USEC_PER_SEC);

  g_main_context_push_thread_default (context);

  for (guint i = 0; i < subject->n_waits && g_atomic_int_get (&shared->failures.count) == 0; i++)
    {
      g_autoptr(GCancellable) cancellable = NULL;
      g_autoptr(GError) error = NULL;
      gint64 limit_us = g_rand_int_range (rand, 0, MAX_DELAY_US + 1);
      gint64 timeout_us = PS_TIMEOUT_INFINITE;
      gint64 start, elapsed;
      gboolean ok;

      if (is_cond (race->race->prim))
        {
          if (!ps_mutex_lock (race->mutex, ps_test_scaled_us (30 * G_USEC_PER_SEC), NULL, &error))
            {
              stress_fail (&shared->failures, "subject lock: %s", error->message);
              break;
            }
          mark_held (shared, id);
          /* The wait releases the mutex: unmark first. */
          mark_released (shared, id);
        }

      if (race->race->end == END_CANCEL)
        {
          CancelRequest *request = g_new0 (CancelRequest, 1);

          cancellable = g_cancellable_new ();
          request->cancellable = g_object_ref (cancellable);
          request->delay_us = limit_us;
          g_async_queue_push (subject->requests, request);
        }
      else
        timeout_us = limit_us;

      start = g_get_monotonic_time ();
      ok = subject_wait (subject, context, timeout_us, cancellable, &error);
      elapsed = g_get_monotonic_time () - start;

      /* Woken by its cancellation or deadline, not by luck much later. */
      if (elapsed > limit_us + bound)
        stress_fail (&shared->failures,
                     "a wait returned %" G_GINT64_FORMAT " us after its %s of %"
                     G_GINT64_FORMAT " us", elapsed,
                     race->race->end == END_CANCEL ? "cancellation" : "timeout", limit_us);
      subject->max_late_us = MAX (subject->max_late_us, elapsed - limit_us);

      if (ok)
        subject->acquired++;
      else if (race->race->end == END_CANCEL &&
               g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        subject->cancelled++;
      else if (race->race->end == END_TIMEOUT && timeout_us > 0 &&
               g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          subject->timed_out++;
          if (elapsed < timeout_us)
            stress_fail (&shared->failures,
                         "timed out after %" G_GINT64_FORMAT " us, before its "
                         "timeout of %" G_GINT64_FORMAT " us", elapsed, timeout_us);
        }
      else if (race->race->end == END_TIMEOUT && timeout_us == 0 &&
               g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        subject->would_block++;
      else
        {
          stress_fail (&shared->failures, "a wait failed unexpectedly: %s (%s %d)",
                       error->message, g_quark_to_string (error->domain), error->code);
          break;
        }

      /* What the outcome says must be true. */
      switch (race->race->prim)
        {
        case PRIM_SEMAPHORE:
        case PRIM_SEMAPHORE_ASYNC:
          if (ok)
            {
              g_autoptr(GError) release_error = NULL;

              g_usleep (g_rand_int_range (rand, 0, 100));
              /* OVERFLOW here would mean a unit was made out of thin air. */
              if (!ps_semaphore_release (race->semaphore, &release_error))
                stress_fail (&shared->failures, "subject release: %s", release_error->message);
            }
          break;

        case PRIM_MUTEX:
        case PRIM_MUTEX_ASYNC:
          if (ok)
            {
              mark_held (shared, id);
              g_usleep (g_rand_int_range (rand, 0, 100));
              mark_released (shared, id);
              if (!ps_mutex_unlock (race->mutex, NULL))
                stress_fail (&shared->failures, "the subject could not unlock what it locked");
            }
          else
            {
              g_autoptr(GError) unlock_error = NULL;

              /* A failed lock holds nothing. */
              if (ps_mutex_unlock (race->mutex, &unlock_error) ||
                  !g_error_matches (unlock_error, PS_ERROR, PS_ERROR_NOT_OWNER))
                stress_fail (&shared->failures, "a failed lock left the mutex held");
            }
          break;

        case PRIM_COND:
        case PRIM_COND_ASYNC:
          {
            g_autoptr(GError) unlock_error = NULL;

            /* Held again on every return path. */
            mark_held (shared, id);
            mark_released (shared, id);
            if (!ps_mutex_unlock (race->mutex, &unlock_error))
              stress_fail (&shared->failures,
                           "the mutex was not held after a condition wait (%s): %s",
                           ok ? "woken" : error->message, unlock_error->message);
          }
          break;

        case PRIM_RW_READ_ASYNC:
        case PRIM_RW_WRITE_ASYNC:
          if (ok)
            use_rw_lock (race, rand, id, race->race->prim == PRIM_RW_WRITE_ASYNC, 100);
          else
            {
              g_autoptr(GError) read_error = NULL;
              g_autoptr(GError) write_error = NULL;

              /* A failed lock holds nothing. */
              if (ps_rw_lock_read_unlock (race->rw_lock, &read_error) ||
                  !g_error_matches (read_error, PS_ERROR, PS_ERROR_NOT_OWNER) ||
                  ps_rw_lock_write_unlock (race->rw_lock, &write_error) ||
                  !g_error_matches (write_error, PS_ERROR, PS_ERROR_NOT_OWNER))
                stress_fail (&shared->failures, "a failed rw-lock lock left it held");
            }
          break;

        default:
          g_assert_not_reached ();
        }

      /* Let the companion finish with this wait before the next one, so
       * that every delay counts from the start of its own wait. */
      if (cancellable != NULL &&
          g_async_queue_timeout_pop (subject->fired, ps_test_scaled_us (10 * G_USEC_PER_SEC)) == NULL)
        g_error ("the companion never fired");
    }

  g_main_context_pop_thread_default (context);
  return NULL;
}

static void
test_race (gconstpointer data)
{
  const RaceCase *race_case = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  g_autoptr(PsRWLock) rw_lock = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  RaceShared *shared = ps_test_shared_new (sizeof (RaceShared), &memory);
  Race race;
  ChurnArgs churn_args[N_CHURN_THREADS + N_CHURN_PROCS];
  GThread *churn_threads[N_CHURN_THREADS];
  pid_t churn_pids[N_CHURN_PROCS];
  Subject subjects[N_SUBJECTS] = { { 0 } };
  GThread *subject_threads[N_SUBJECTS];
  guint acquired = 0, cancelled = 0, timed_out = 0, would_block = 0;
  gint64 max_late = 0;
  gint64 start = g_get_monotonic_time ();

  semaphore = ps_semaphore_new_bounded (SEM_UNITS, SEM_UNITS, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_new (&error);
  g_assert_no_error (error);
  cond = ps_cond_new (&error);
  g_assert_no_error (error);
  race = (Race) { race_case, shared, semaphore, mutex, cond };
  rw_lock = ps_rw_lock_new (&error);
  g_assert_no_error (error);
  race.rw_lock = rw_lock;

  for (guint i = 0; i < N_CHURN_THREADS + N_CHURN_PROCS; i++)
    churn_args[i] = (ChurnArgs) { &race, g_rand_int (rand) };
  for (guint i = 0; i < N_CHURN_PROCS; i++)
    churn_pids[i] = ps_test_fork (churn_child, &churn_args[N_CHURN_THREADS + i],
                                  ps_test_scaled_s (200));
  for (guint i = 0; i < N_CHURN_THREADS; i++)
    churn_threads[i] = g_thread_new ("churn", churn_thread, &churn_args[i]);

  for (guint i = 0; i < N_SUBJECTS; i++)
    {
      Subject *subject = &subjects[i];

      subject->race = &race;
      subject->seed = g_rand_int (rand);
      subject->n_waits = stress_is_slow () ? N_WAITS_SLOW : N_WAITS;
      subject->requests = g_async_queue_new ();
      subject->fired = g_async_queue_new ();
      subject->companion = g_thread_new ("companion", companion_thread, subject);
      subject_threads[i] = g_thread_new ("subject", subject_thread, subject);
    }

  for (guint i = 0; i < N_SUBJECTS; i++)
    {
      Subject *subject = &subjects[i];
      CancelRequest *last = g_new0 (CancelRequest, 1);

      g_thread_join (subject_threads[i]);
      g_async_queue_push (subject->requests, last);
      g_thread_join (subject->companion);
      g_async_queue_unref (subject->requests);
      g_async_queue_unref (subject->fired);

      acquired += subject->acquired;
      cancelled += subject->cancelled;
      timed_out += subject->timed_out;
      would_block += subject->would_block;
      max_late = MAX (max_late, subject->max_late_us);
    }

  /* Every participant must finish: one left asleep would hang here (and
   * be killed by its watchdog, failing the test). */
  g_atomic_int_set (&shared->stop, 1);
  for (guint i = 0; i < N_CHURN_THREADS; i++)
    g_thread_join (churn_threads[i]);
  for (guint i = 0; i < N_CHURN_PROCS; i++)
    ps_test_reap_ok (churn_pids[i], ps_test_scaled_s (60));

  g_test_message ("%u waits in %.1f s: %u acquired, %u cancelled, %u timed out, "
                  "%u would block; latest return %" G_GINT64_FORMAT " us past its limit; "
                  "%d churn operations",
                  acquired + cancelled + timed_out + would_block,
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC,
                  acquired, cancelled, timed_out, would_block, max_late, shared->churn_ops);
  if (shared->failures.count != 0)
    g_error ("%d failures; the first: %s", shared->failures.count, shared->failures.first);

  g_assert_cmpuint (acquired + cancelled + timed_out + would_block, ==,
                    N_SUBJECTS * subjects[0].n_waits);
  /* Both outcomes happened, so the race was run, not just one side. */
  g_assert_cmpuint (acquired, >, 0);
  g_assert_cmpuint (cancelled + timed_out + would_block, >, 0);

  /* Left exactly as found. */
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, SEM_UNITS);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  g_assert_cmpint (shared->holder, ==, 0);
  g_assert_true (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ps_cond_get_waiter_count (cond), ==, 0);
  g_assert_cmpint (shared->readers, ==, 0);
  g_assert_cmpuint (ps_rw_lock_get_n_readers (rw_lock), ==, 0);
  g_assert_cmpint (ps_rw_lock_get_writer_pid (rw_lock), ==, 0);
  g_assert_true (ps_rw_lock_try_write_lock (rw_lock, &error));
  g_assert_no_error (error);
  g_assert_true (ps_rw_lock_write_unlock (rw_lock, &error));
  g_assert_no_error (error);
}

/* Async acquires whose timeout ends just about when the worker thread
 * starts on them: the remaining time must be worked out once. Were it
 * computed twice (checked positive, then read again as negative), a
 * timed wait would become an infinite one. Each must end, timed out,
 * within a generous bound. */

#define N_TINY_TIMEOUTS      20000
#define N_TINY_TIMEOUTS_SLOW 500

static gboolean
on_too_late (gpointer user_data)
{
  gboolean *late = user_data;

  *late = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_async_tiny_timeouts (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = ps_semaphore_new (0, &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  guint n = stress_is_slow () ? N_TINY_TIMEOUTS_SLOW : N_TINY_TIMEOUTS;

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      AsyncResult tiny = { FALSE, FALSE, NULL };
      gint64 timeout_us = g_rand_int_range (rand, 1, 200);
      gboolean late = FALSE;
      GSource *bound = g_timeout_source_new ((guint) (ps_test_scaled_us (2 * G_USEC_PER_SEC) / 1000));

      g_source_set_callback (bound, on_too_late, &late, NULL);
      g_source_attach (bound, NULL);
      ps_semaphore_acquire_async (semaphore, timeout_us, NULL, on_acquired, &tiny);
      while (!tiny.done && !late)
        g_main_context_iteration (NULL, TRUE);
      g_source_destroy (bound);
      g_source_unref (bound);

      if (!tiny.done)
        g_error ("an async acquire with a timeout of %" G_GINT64_FORMAT " us was still "
                 "waiting after 2 s (attempt %u)", timeout_us, i);
      g_assert_false (tiny.result);
      g_assert_error (tiny.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_clear_error (&tiny.error);
    }
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 0);
}

/* PsEvent's and PsBarrier's async waits cancelled as the set or the
 * other party's arrival comes, 2,000 times each: an auto-reset event's
 * set is either the wait's or still the event's, never lost nor both; a
 * barrier's two parties either both pass (indices 0 and 1) or the
 * cancelled one gets CANCELLED and the other BROKEN. */

#define N_ASYNC_RACES      2000
#define N_ASYNC_RACES_SLOW 200

typedef struct
{
  PsEvent   *event;
  PsBarrier *barrier;
  gint64     delay_us;
  gint       index;
  GError    *error;
} RacePeer;

static gpointer
race_peer (gpointer data)
{
  RacePeer *peer = data;

  g_usleep ((gulong) peer->delay_us);
  if (peer->event != NULL)
    ps_event_set (peer->event);
  else
    peer->index = ps_barrier_wait (peer->barrier, -1, NULL, &peer->error);
  return NULL;
}

static void
on_race_event (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncResult *async = user_data;

  async->result = ps_event_wait_finish (PS_EVENT (source), result, &async->error);
  async->done = TRUE;
}

static void
on_race_barrier (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  AsyncResult *async = user_data;

  async->result = ps_barrier_wait_finish (PS_BARRIER (source), result, &async->error) + 1;
  async->done = TRUE;
}

static void
test_event_barrier_async_race (gconstpointer data)
{
  gboolean barrier = GPOINTER_TO_INT (data);
  g_autoptr(PsEvent) event = ps_event_new (TRUE, NULL);
  g_autoptr(PsBarrier) pair = ps_barrier_new (2, NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  guint n = stress_is_slow () ? N_ASYNC_RACES_SLOW : N_ASYNC_RACES;
  guint passed = 0, cancelled = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      RacePeer peer = { barrier ? NULL : event, pair, g_rand_int_range (rand, 0, 300), -1, NULL };
      AsyncResult async = { FALSE, FALSE, NULL };
      gint64 cancel_at;
      GThread *thread;

      if (barrier)
        ps_barrier_wait_async (pair, -1, cancellable, on_race_barrier, &async);
      else
        ps_event_wait_async (event, -1, cancellable, on_race_event, &async);
      thread = g_thread_new ("race-peer", race_peer, &peer);
      cancel_at = g_get_monotonic_time () + g_rand_int_range (rand, 0, 600);
      while (!async.done && g_get_monotonic_time () < cancel_at)
        g_main_context_iteration (NULL, FALSE);
      g_cancellable_cancel (cancellable);
      while (!async.done)
        g_main_context_iteration (NULL, TRUE);
      g_thread_join (thread);

      if (async.result)
        {
          g_assert_no_error (async.error);
          g_assert_no_error (peer.error);
          if (barrier)
            g_assert_cmpint ((gint) async.result - 1 + peer.index, ==, 1);
          else
            g_assert_false (ps_event_is_set (event));
          passed++;
          continue;
        }
      g_assert_error (async.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&async.error);
      if (barrier)
        {
          g_assert_error (peer.error, PS_ERROR, PS_ERROR_BROKEN);
          g_clear_error (&peer.error);
          g_assert_true (ps_barrier_reset (pair, NULL));
        }
      else
        {
          /* The set was not lost: it is still the event's. */
          g_assert_true (ps_event_is_set (event));
          ps_event_reset (event);
        }
      cancelled++;
    }
  g_test_message ("%u passed, %u cancelled", passed, cancelled);
  g_assert_cmpuint (passed + cancelled, ==, n);
}

int
main (int argc, char *argv[])
{
  static const struct { const char *path; RaceCase race; } cases[] = {
    { "/stress/cancel-race/semaphore/cancel", { PRIM_SEMAPHORE, END_CANCEL } },
    { "/stress/cancel-race/semaphore/timeout", { PRIM_SEMAPHORE, END_TIMEOUT } },
    { "/stress/cancel-race/semaphore-async/cancel", { PRIM_SEMAPHORE_ASYNC, END_CANCEL } },
    { "/stress/cancel-race/semaphore-async/timeout", { PRIM_SEMAPHORE_ASYNC, END_TIMEOUT } },
    { "/stress/cancel-race/mutex/cancel", { PRIM_MUTEX, END_CANCEL } },
    { "/stress/cancel-race/mutex/timeout", { PRIM_MUTEX, END_TIMEOUT } },
    { "/stress/cancel-race/cond/cancel", { PRIM_COND, END_CANCEL } },
    { "/stress/cancel-race/cond/timeout", { PRIM_COND, END_TIMEOUT } },
    { "/stress/cancel-race/mutex-async/cancel", { PRIM_MUTEX_ASYNC, END_CANCEL } },
    { "/stress/cancel-race/mutex-async/timeout", { PRIM_MUTEX_ASYNC, END_TIMEOUT } },
    { "/stress/cancel-race/cond-async/cancel", { PRIM_COND_ASYNC, END_CANCEL } },
    { "/stress/cancel-race/cond-async/timeout", { PRIM_COND_ASYNC, END_TIMEOUT } },
    { "/stress/cancel-race/rw-lock-read-async/cancel", { PRIM_RW_READ_ASYNC, END_CANCEL } },
    { "/stress/cancel-race/rw-lock-read-async/timeout", { PRIM_RW_READ_ASYNC, END_TIMEOUT } },
    { "/stress/cancel-race/rw-lock-write-async/cancel", { PRIM_RW_WRITE_ASYNC, END_CANCEL } },
    { "/stress/cancel-race/rw-lock-write-async/timeout", { PRIM_RW_WRITE_ASYNC, END_TIMEOUT } },
  };

  stress_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    ps_test_add_full (cases[i].path, test_race, &cases[i].race, 120);
  ps_test_add_timed ("/stress/cancel-race/semaphore-async/tiny-timeouts",
                     test_async_tiny_timeouts, 150);
  ps_test_add_full ("/stress/cancel-race/event-async/cancel", test_event_barrier_async_race,
                    GINT_TO_POINTER (FALSE), 120);
  ps_test_add_full ("/stress/cancel-race/barrier-async/cancel", test_event_barrier_async_race,
                    GINT_TO_POINTER (TRUE), 120);

  return g_test_run ();
}
