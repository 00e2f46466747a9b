/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsRWLock's async locks. Ownership is per thread, and a lock taken by a
 * worker would belong to the worker (the futex backend's lock word even
 * names its thread for the kernel). So the lock is never taken where
 * the wait happens: ps_async_wait_start() waits, elsewhere, until the
 * lock *could* be had (a probe that takes and gives it straight back,
 * and leaves an owner death to be reported), and the lock is then taken
 * without waiting in the thread that dispatches the caller's main
 * context, just before the callback runs there. If another locker was
 * quicker, the wait starts again, with what is left of the timeout.
 */

#include "ps-async-wait-private.h"
#include "ps-error.h"
#include "ps-rw-lock-private.h"
#include "ps-wait-private.h"

typedef struct
{
  gboolean write;
  gint64   deadline;   /* as ps_rw_lock_deadline() */
} LockRequest;

static gboolean
probe (PsRWLock      *self,
       gboolean       write,
       gint64         timeout_us,
       GCancellable  *cancellable,
       GError       **error)
{
  gint64 deadline = ps_rw_lock_deadline (timeout_us);

  if (write)
    return ps_rw_lock_write_acquire (ps_rw_lock_get_handle (self), deadline, cancellable, TRUE,
                                     error);
  return ps_rw_lock_read_acquire (ps_rw_lock_get_handle (self), deadline, cancellable, TRUE,
                                  error);
}

static gboolean
probe_read (gpointer       source_object,
            gint64         timeout_us,
            GCancellable  *cancellable,
            GError       **error)
{
  return probe (source_object, FALSE, timeout_us, cancellable, error);
}

static gboolean
probe_write (gpointer       source_object,
             gint64         timeout_us,
             GCancellable  *cancellable,
             GError       **error)
{
  return probe (source_object, TRUE, timeout_us, cancellable, error);
}

static void
keep_nothing (gpointer source_object)
{
  /* A probe keeps nothing. */
}

/* Takes the lock now, in the calling thread: TRUE when the request is
 * over (the task returned), FALSE to wait again. */
static gboolean
take_now (GTask *task)
{
  PsRWLock *self = g_task_get_source_object (task);
  LockRequest *request = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  gboolean ok;

  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (task, error);
      return TRUE;
    }
  if (request->write)
    ok = ps_rw_lock_write_acquire (ps_rw_lock_get_handle (self), 0, NULL, FALSE, &error);
  else
    ok = ps_rw_lock_read_acquire (ps_rw_lock_get_handle (self), 0, NULL, FALSE, &error);
  if (ok)
    {
      g_task_return_boolean (task, TRUE);
      return TRUE;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_task_return_error (task, error);   /* OWNER_DEAD among them: held */
      return TRUE;
    }
  g_clear_error (&error);
  if (request->deadline == 0)
    {
      ps_set_would_block_error (&error, "reader-writer lock");
      g_task_return_error (task, error);
      return TRUE;
    }
  if (request->deadline > 0 && g_get_monotonic_time () >= request->deadline)
    {
      ps_set_wait_error (&error, PS_WAIT_TIMED_OUT, "reader-writer lock");
      g_task_return_error (task, error);
      return TRUE;
    }
  return FALSE;
}

static void wait_round (GTask *task);

static void
on_round_over (GObject      *source_object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (!take_now (task))
    wait_round (task);
}

/* One wait, in ps-async-wait, until the lock could be had. */
static void
wait_round (GTask *task)
{
  LockRequest *request = g_task_get_task_data (task);
  GTask *round;
  gint64 timeout_us = -1;

  if (request->deadline > 0)
    timeout_us = MAX (request->deadline - g_get_monotonic_time (), 1);

  round = g_task_new (g_task_get_source_object (task), g_task_get_cancellable (task),
                      on_round_over, g_object_ref (task));
  g_task_set_source_tag (round, wait_round);
  g_task_set_name (round, "[procshared] reader-writer lock wait");
  g_task_set_check_cancellable (round, FALSE);
  ps_async_wait_start (round, timeout_us, request->write ? probe_write : probe_read,
                       keep_nothing, "reader-writer lock");
  g_object_unref (round);
}

static void
lock_async (PsRWLock            *self,
            gboolean             write,
            gint64               timeout_us,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data,
            gpointer             source_tag)
{
  g_autoptr(GTask) task = NULL;
  LockRequest *request;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, write ? "[procshared] reader-writer lock write_lock"
                               : "[procshared] reader-writer lock read_lock");
  /* The result says whether the caller holds the lock. */
  g_task_set_check_cancellable (task, FALSE);

  if (ps_rw_lock_get_handle (self)->state == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                               "The object was not initialised");
      return;
    }
  request = g_new0 (LockRequest, 1);
  request->write = write;
  request->deadline = ps_rw_lock_deadline (timeout_us);
  g_task_set_task_data (task, request, g_free);

  if (!take_now (task))
    wait_round (task);
}

static gboolean
lock_finish (PsRWLock      *self,
             GAsyncResult  *result,
             gpointer       source_tag,
             GError       **error)
{
  g_return_val_if_fail (PS_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * ps_rw_lock_read_lock_async:
 * @self: a #PsRWLock
 * @timeout_us: how long to wait in microseconds, as for
 *   [method@RWLock.read_lock]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the share is taken or the wait is over
 * @user_data: data for @callback
 *
 * Takes a read share without blocking the calling thread. The share
 * belongs to the thread that runs @callback (the one dispatching the
 * thread-default main context of the caller): the wait happens
 * elsewhere, but the share is only taken there, just before @callback
 * runs, so read-unlock it from that thread. Call
 * [method@RWLock.read_lock_finish] from @callback.
 *
 * Across fork(): a wait pending then ends only in the parent; the
 * child's own waits work.
 *
 * Since: 1.1
 */
void
ps_rw_lock_read_lock_async (PsRWLock            *self,
                            gint64               timeout_us,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (PS_IS_RW_LOCK (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  lock_async (self, FALSE, timeout_us, cancellable, callback, user_data,
              ps_rw_lock_read_lock_async);
}

/**
 * ps_rw_lock_read_lock_finish:
 * @self: a #PsRWLock
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@RWLock.read_lock_async].
 *
 * Across fork(): only in the process that started the wait.
 *
 * Returns: %TRUE if the thread running the callback holds a read share;
 *   %FALSE with the errors of [method@RWLock.read_lock]
 *   (%PS_ERROR_OWNER_DEAD: it holds the lock for writing)
 *
 * Since: 1.1
 */
gboolean
ps_rw_lock_read_lock_finish (PsRWLock      *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  return lock_finish (self, result, ps_rw_lock_read_lock_async, error);
}

/**
 * ps_rw_lock_write_lock_async:
 * @self: a #PsRWLock
 * @timeout_us: how long to wait in microseconds, as for
 *   [method@RWLock.write_lock]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the lock is taken or the wait is over
 * @user_data: data for @callback
 *
 * Locks for writing without blocking the calling thread. As for
 * [method@RWLock.read_lock_async], the lock is taken in the thread that
 * runs @callback, which holds it and must write-unlock it. Call
 * [method@RWLock.write_lock_finish] from @callback.
 *
 * Across fork(): a wait pending then ends only in the parent; the
 * child's own waits work.
 *
 * Since: 1.1
 */
void
ps_rw_lock_write_lock_async (PsRWLock            *self,
                             gint64               timeout_us,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (PS_IS_RW_LOCK (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  lock_async (self, TRUE, timeout_us, cancellable, callback, user_data,
              ps_rw_lock_write_lock_async);
}

/**
 * ps_rw_lock_write_lock_finish:
 * @self: a #PsRWLock
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@RWLock.write_lock_async].
 *
 * Across fork(): only in the process that started the wait.
 *
 * Returns: %TRUE if the thread running the callback holds the lock for
 *   writing; %FALSE with the errors of [method@RWLock.write_lock]
 *   (%PS_ERROR_OWNER_DEAD: it holds it)
 *
 * Since: 1.1
 */
gboolean
ps_rw_lock_write_lock_finish (PsRWLock      *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  return lock_finish (self, result, ps_rw_lock_write_lock_async, error);
}
