/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-async-wait-private.h"
#include "ps-identity-private.h"
#include "ps-wait-private.h"

typedef struct
{
  gint64           deadline;
  PsAsyncWaitFunc  wait_func;
  PsAsyncUndoFunc  undo_func;
  const char      *what;
} AsyncWait;

/* The worker threads of this process, one per pending wait. A pool is
 * per process: one inherited over fork() counts threads that the child
 * does not have (fork() copies only the calling thread), and would queue
 * the child's waits for an idle worker that is not there. */
typedef struct
{
  GThreadPool *pool;
  guint32      pid;
} AsyncWaiters;

static AsyncWaiters *async_waiters;

static void
wait_in_thread (gpointer data,
                gpointer pool_data)
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
      return;
    }

  /* Won, but the caller cancelled meanwhile: give it back rather than
   * hand a cancelled caller something it will not release. */
  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
    {
      wait->undo_func (source_object);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "Operation was cancelled");
      return;
    }

  g_task_return_boolean (task, TRUE);
}

static GThreadPool *
waiters_of_this_process (void)
{
  guint32 pid = ps_self_process_id ();
  AsyncWaiters *current = g_atomic_pointer_get (&async_waiters);

  /* Without a lock, which a thread of the parent could have held at
   * fork() time. Losing the race costs a pool that never ran a thread. */
  while (current == NULL || current->pid != pid)
    {
      AsyncWaiters *mine = g_new (AsyncWaiters, 1);

      mine->pid = pid;
      mine->pool = g_thread_pool_new (wait_in_thread, NULL, -1, FALSE, NULL);
      /* An inherited pool is left as it is: its threads are the parent's. */
      if (g_atomic_pointer_compare_and_exchange_full (&async_waiters, current, mine, &current))
        return mine->pool;
      g_thread_pool_free (mine->pool, TRUE, FALSE);
      g_free (mine);
    }
  return current->pool;
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

  g_thread_pool_push (waiters_of_this_process (), g_object_ref (task), NULL);
}
