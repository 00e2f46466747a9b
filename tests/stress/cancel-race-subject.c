/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * test-cancel-race: the subjects, the waits under test, each cancelled by
 * its companion thread or given a timeout, and what each outcome must
 * mean.
 */

#include "cancel-race.h"

#define MAX_DELAY_US      1000

/* Fires each cancellable after its delay, one at a time. */
gpointer
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

void
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

gpointer
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
