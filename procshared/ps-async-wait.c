/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-async-wait-private.h"
#include "ps-wait-private.h"

typedef struct
{
  gint64           deadline;
  PsAsyncWaitFunc  wait_func;
  PsAsyncUndoFunc  undo_func;
  const char      *what;
} AsyncWait;

/* One thread per pending wait, of its own: no GThreadPool, because a
 * child of fork() inherits GLib's record of the parent's idle pool
 * threads (which the child does not have: fork() copies only the calling
 * thread) and would hand its waits to one of them, never to run. */
static gpointer
wait_in_thread (gpointer data)
{
  g_autoptr(GTask) task = data;
  gpointer source_object = g_task_get_source_object (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  AsyncWait *wait = g_task_get_task_data (task);
  GError *error = NULL;
  gint64 timeout_us = -1;

  if (wait->deadline >= 0)
    {
      /* One reading of the clock: MAX() would read it twice. */
      gint64 remaining = wait->deadline - g_get_monotonic_time ();

      timeout_us = MAX (0, remaining);
    }

  /* The deadline was fixed when the caller asked; if it has passed by
   * now, this is one last try. */
  if (!wait->wait_func (source_object, timeout_us, cancellable, &error))
    {
      if (timeout_us == 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_clear_error (&error);
          ps_set_wait_error (&error, PS_WAIT_TIMED_OUT, wait->what);
        }
      g_task_return_error (task, error);
      return NULL;
    }

  /* Won, but the caller cancelled meanwhile: give it back rather than
   * hand a cancelled caller something it will not release. */
  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
    {
      wait->undo_func (source_object);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "Operation was cancelled");
      return NULL;
    }

  g_task_return_boolean (task, TRUE);
  return NULL;
}

void
ps_async_wait_start (GTask            *task,
                     gint64            timeout_us,
                     PsAsyncWaitFunc   wait_func,
                     PsAsyncUndoFunc   undo_func,
                     const char       *what)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  AsyncWait *wait;
  GThread *thread;

  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "Operation was cancelled");
      return;
    }

  /* What is there to take now, and a timeout of 0, need no thread. */
  if (wait_func (g_task_get_source_object (task), 0, NULL, &error))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (timeout_us == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_task_return_error (task, error);
      return;
    }
  g_clear_error (&error);

  wait = g_new0 (AsyncWait, 1);
  wait->deadline = ps_deadline_from_timeout (timeout_us);
  wait->wait_func = wait_func;
  wait->undo_func = undo_func;
  wait->what = what;
  g_task_set_task_data (task, wait, g_free);

  thread = g_thread_try_new ("ps-async-wait", wait_in_thread, g_object_ref (task), &error);
  if (thread == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_thread_unref (thread);
}
