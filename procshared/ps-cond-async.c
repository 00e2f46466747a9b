/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* PsCond: the async wait, over ps-async-watch-private.h. The wait on the
 * condition's sequence is watched by the backend; the mutex is taken back
 * by the thread that runs the callback (ps_mutex_lock_step()). */

#include "ps-async-watch-private.h"
#include "ps-backend-private.h"
#include "ps-cond-private.h"
#include "ps-error.h"
#include "ps-mutex-private.h"

/* An async wait: first on the sequence, then for the mutex back. */
typedef struct
{
  PsMutex       *mutex;
  PsWaitWord    *sequence_word; /* in the condition's state, which the task keeps */
  guint32        sequence;
  gboolean       counted;       /* among the waiters, which a signal wakes */
  guint64        generation;    /* of the waiters' count it was counted in */
  gboolean       relocking;
  gboolean       lock_watched;
  PsAsyncReason  ended_by;      /* how the wait on the sequence ended */
} CondWait;

static void
cond_wait_free (gpointer data)
{
  CondWait *wait = data;

  g_object_unref (wait->mutex);
  g_free (wait);
}

static void
stop_counting (PsCond   *self,
               CondWait *wait)
{
  if (wait->counted)
    ps_cond_waiter_leave (self, wait->generation);
  wait->counted = FALSE;
}

static gboolean
wait_step (GTask         *task,
           PsAsyncReason  reason,
           PsWatch       *watch)
{
  PsCond *self = g_task_get_source_object (task);
  CondWait *wait = g_task_get_task_data (task);
  GError *error = NULL;

  if (!wait->relocking)
    {
      guint32 now = (guint32) g_atomic_int_get (ps_wait_word_value (wait->sequence_word));

      if (reason == PS_ASYNC_WOKEN && now == wait->sequence)
        {
          watch->address = ps_wait_word_watch_address (wait->sequence_word);
          watch->expected = wait->sequence;
          watch->wake_all = TRUE;
          return FALSE;
        }
      /* Signalled (or spuriously woken), timed out or cancelled: the
       * mutex comes back in every case, without a deadline. */
      stop_counting (self, wait);
      wait->ended_by = reason;
      wait->relocking = TRUE;
    }

  if (!ps_mutex_lock_step (wait->mutex, &wait->lock_watched, watch, &error))
    return FALSE;

  if (error != NULL)
    g_task_return_error (task, error);   /* a holder's death matters more */
  else if (wait->ended_by != PS_ASYNC_WOKEN)
    ps_async_return_error (task, wait->ended_by, "condition");
  else
    g_task_return_boolean (task, TRUE);
  return TRUE;
}

/**
 * ps_cond_wait_async:
 * @self: a #PsCond
 * @mutex: the #PsMutex guarding the condition, held by the caller
 * @timeout_us: how long to wait in microseconds, as for [method@Cond.wait]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the wait is over
 * @user_data: data for @callback
 *
 * Releases @mutex now, waits for a signal without blocking the calling
 * thread, and takes @mutex back for the thread that runs @callback (in
 * the thread-default main context of the caller): every try to take it
 * is made there. Call [method@Cond.wait_finish] from @callback. As with
 * [method@Cond.wait], @mutex is taken back whatever ended the wait
 * (signal, timeout, cancellation), and wake-ups can be spurious.
 *
 * No thread waits for it: on Linux a few threads of the process sleep on
 * the words of every pending wait at once, and the timeout is the main
 * context's own; the posix and darwin backends look every few
 * milliseconds instead (from 0.2 ms, doubling up to 8 ms), from the main
 * context.
 *
 * Across fork(): a child forked while its parent holds @mutex does not
 * hold it, so its wait fails with %PS_ERROR_NOT_OWNER; a wait pending at
 * fork() time ends only in the parent, and the child's own waits work.
 *
 * Since: 1.1
 */
void
ps_cond_wait_async (PsCond              *self,
                    PsMutex             *mutex,
                    gint64               timeout_us,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  PsWaitWord *sequence_word;
  CondWait *wait;

  g_return_if_fail (PS_IS_COND (self));
  g_return_if_fail (PS_IS_MUTEX (mutex));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ps_cond_wait_async);
  g_task_set_name (task, "[procshared] condition wait");
  /* The result goes with the mutex held again: a late cancellation must
   * not replace it. */
  g_task_set_check_cancellable (task, FALSE);

  sequence_word = ps_cond_get_sequence (self, &error);
  if (G_UNLIKELY (sequence_word == NULL))
    {
      g_task_return_error (task, error);
      return;
    }
  /* Cancelled already: as ps_cond_wait(), the mutex is not released. */
  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  wait = g_new0 (CondWait, 1);
  wait->mutex = g_object_ref (mutex);
  g_task_set_task_data (task, wait, cond_wait_free);

  /* Read under the mutex, as ps_cond_wait() reads it. */
  wait->sequence_word = sequence_word;
  wait->sequence = (guint32) g_atomic_int_get (ps_wait_word_value (sequence_word));
  wait->generation = ps_cond_waiter_enter (self);
  wait->counted = TRUE;
  if (!ps_mutex_release_for_wait (mutex, &error))
    {
      stop_counting (self, wait);
      g_task_return_error (task, error);
      return;
    }

  ps_async_watch_start (task, timeout_us, wait_step, FALSE);
}

/**
 * ps_cond_wait_finish:
 * @self: a #PsCond
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Cond.wait_async], in its callback.
 *
 * Across fork(): only in the process that started the wait.
 *
 * Returns: %TRUE if woken, the thread running the callback holding the
 *   mutex; %FALSE with the errors of [method@Cond.wait], and as there,
 *   the mutex is held again in every case but %PS_ERROR_NOT_OWNER,
 *   %PS_ERROR_WOULD_DEADLOCK and %PS_ERROR_NOT_RECOVERABLE (and a
 *   %G_IO_ERROR_CANCELLED for a @cancellable cancelled before the call,
 *   which leaves the mutex held by the caller)
 *
 * Since: 1.1
 */
gboolean
ps_cond_wait_finish (PsCond        *self,
                     GAsyncResult  *result,
                     GError       **error)
{
  g_return_val_if_fail (PS_IS_COND (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ps_cond_wait_async, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
