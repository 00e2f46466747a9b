/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* PsMutex: the async lock, over ps-async-watch-private.h. Every try is
 * made by the thread that runs the callback, so that it is the one that
 * holds the mutex: the backend's threads only watch the lock's word. */

#include "ps-async-watch-private.h"
#include "ps-error.h"
#include "ps-mutex-private.h"

/* How many times a lock seen free is tried again before the wait polls:
 * only a peer rewriting the word in a loop gets there. */
#define MAX_LOCK_RACES 64

gboolean
ps_mutex_lock_step (PsMutex   *self,
                    gboolean  *watched,
                    PsWatch   *watch,
                    GError   **error)
{
  PsRobustLock *lock = ps_mutex_get_robust_lock (self);

  for (guint races = 0; races < MAX_LOCK_RACES; races++)
    {
      GError *local_error = NULL;

      if (ps_mutex_try_lock (self, &local_error) || local_error != NULL)
        {
          gboolean held = local_error == NULL ||
                          g_error_matches (local_error, PS_ERROR, PS_ERROR_OWNER_DEAD);

          if (*watched)
            ps_robust_lock_watch_done (lock, held);
          *watched = FALSE;
          if (local_error != NULL)
            g_propagate_error (error, local_error);
          return TRUE;
        }
      if (ps_robust_lock_watch (lock, &watch->address, &watch->expected))
        {
          *watched = TRUE;
          return FALSE;
        }
    }
  watch->address = NULL;
  return FALSE;
}

void
ps_mutex_lock_step_abandon (PsMutex  *self,
                            gboolean *watched)
{
  if (*watched)
    ps_robust_lock_watch_done (ps_mutex_get_robust_lock (self), FALSE);
  *watched = FALSE;
}

static gboolean
lock_step (GTask         *task,
           PsAsyncReason  reason,
           PsWatch       *watch)
{
  PsMutex *self = g_task_get_source_object (task);
  gboolean *watched = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;

  if (reason == PS_ASYNC_CANCELLED)
    {
      ps_mutex_lock_step_abandon (self, watched);
      ps_async_return_error (task, reason, "mutex");
      return TRUE;
    }

  if (!ps_mutex_lock_step (self, watched, watch, &error))
    {
      if (reason == PS_ASYNC_WOKEN)
        return FALSE;
      /* The deadline passed, and the last try failed. */
      ps_mutex_lock_step_abandon (self, watched);
      ps_async_return_error (task, reason, "mutex");
      return TRUE;
    }

  if (error != NULL)
    {
      g_task_return_error (task, error);
      return TRUE;
    }
  /* Taken just as the caller cancelled: give it back rather than hand
   * it to a caller who will not unlock it. */
  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable) &&
      ps_mutex_unlock (self, NULL))
    {
      ps_async_return_error (task, PS_ASYNC_CANCELLED, "mutex");
      return TRUE;
    }
  g_task_return_boolean (task, TRUE);
  return TRUE;
}

/**
 * ps_mutex_lock_async:
 * @self: a #PsMutex
 * @timeout_us: how long to wait in microseconds, as for
 *   [method@Mutex.lock]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the wait is over
 * @user_data: data for @callback
 *
 * Locks the mutex without blocking the calling thread. @callback runs in
 * the thread-default main context of the caller, and the mutex is then
 * held by the thread that runs it (the one iterating that context): every
 * try to take it is made there, while the callback's context runs, never
 * by another thread. Call [method@Mutex.lock_finish] from @callback, and
 * unlock from that thread.
 *
 * No thread waits for it: on Linux a few threads of the process sleep on
 * the words of every pending wait at once (127 waits each), and the
 * timeout is the main context's own; the posix and darwin backends try
 * the lock every few milliseconds instead (from 0.2 ms, doubling up to
 * 8 ms), from the main context.
 *
 * If @cancellable is cancelled, the result is %G_IO_ERROR_CANCELLED and
 * the mutex is not held, even if it was taken just as the cancellation
 * happened. A wait whose context is never iterated again never takes the
 * mutex.
 *
 * Across fork(): a wait pending then ends only in the parent; the child
 * has none pending, and its own waits work.
 *
 * Since: 1.1
 */
void
ps_mutex_lock_async (PsMutex             *self,
                     gint64               timeout_us,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (PS_IS_MUTEX (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ps_mutex_lock_async);
  g_task_set_name (task, "[procshared] mutex lock");
  /* The result says whether the callback's thread holds the mutex; a
   * late cancellation must not replace it. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, g_new0 (gboolean, 1), g_free);

  if (!ps_mutex_check_ready (self, &error))
    g_task_return_error (task, error);
  else
    ps_async_watch_start (task, timeout_us, lock_step, FALSE);
}

/**
 * ps_mutex_lock_finish:
 * @self: a #PsMutex
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mutex.lock_async], in its callback.
 *
 * Across fork(): only in the process that started the wait.
 *
 * Returns: %TRUE if the thread running the callback now holds the mutex.
 *   %FALSE with %PS_ERROR_OWNER_DEAD means it holds it too, the previous
 *   holder having died: repair the data and call
 *   [method@Mutex.mark_consistent]. Any other error means it does not
 *   hold it: the errors of [method@Mutex.lock]
 *
 * Since: 1.1
 */
gboolean
ps_mutex_lock_finish (PsMutex       *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ps_mutex_lock_async, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
