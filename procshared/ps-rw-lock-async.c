/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsRWLock's async locks, over ps-async-watch-private.h. Ownership is per
 * thread, so every try is made by the thread that runs the callback (the
 * one dispatching the caller's thread-default main context), never by
 * another: what a try takes is that thread's. Between tries, the backend
 * watches the word a blocking lock would sleep on: the writers' mutex
 * (while a writer holds or waits for its readers), or the lock of a
 * reader slot a writer waits for. A 61st concurrent reader, which the
 * blocking lock has look again every 10 ms, is tried every few
 * milliseconds.
 *
 * A writer that has taken the writers' mutex keeps it, with the gate
 * shut, across the tries that wait for the readers already in (writer
 * preference, as for the blocking lock); meanwhile its thread is this
 * process's drainer of the lock (PsRwOwnership), which holds nothing it
 * may unlock, and the thread's other async locks wait for it.
 */

#include "ps-async-watch-private.h"
#include "ps-error.h"
#include "ps-identity-private.h"
#include "ps-rw-lock-slots-private.h"

/* How many times a lock seen free is tried again before the wait polls:
 * only a peer rewriting its word in a loop gets there. */
#define MAX_ASYNC_RACES 64

/* Watches @lock, found busy: FALSE if it looks free now (try again). */
static gboolean
watch_lock (PsRwAsyncLock *wait,
            PsRobustLock  *lock,
            PsWatch       *watch)
{
  if (wait->watched != lock)
    ps_rw_lock_end_watch (wait, FALSE);
  if (!ps_robust_lock_watch (lock, &watch->address, &watch->expected))
    return FALSE;
  wait->watched = lock;
  return TRUE;
}

/* The writers' mutex for an async lock: 1 taken (*dead: a writer died),
 * 0 failed (@error), -1 busy (@watch set). */
static gint
async_lock_writers (PsRwLockHandle  *handle,
                    PsRwAsyncLock   *wait,
                    PsWatch         *watch,
                    gboolean        *dead,
                    GError         **error)
{
  PsRobustLock *lock = &handle->writer.state->lock;

  for (guint races = 0; races < MAX_ASYNC_RACES; races++)
    {
      GError *local = NULL;

      /* Another async write of this thread holds it, waiting for
       * readers: wait for it to be given back. */
      if (ps_rw_lock_drainer (handle) == ps_self_thread_id ())
        {
          if (watch_lock (wait, lock, watch))
            return -1;
          continue;
        }
      if (ps_rw_lock_lock_writers (handle, 0, NULL, dead, &local))
        {
          ps_rw_lock_end_watch (wait, TRUE);
          return 1;
        }
      if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          ps_rw_lock_end_watch (wait, FALSE);
          g_propagate_error (error, local);
          return 0;
        }
      g_clear_error (&local);
      if (watch_lock (wait, lock, watch))
        return -1;
    }
  watch->address = NULL;
  return -1;
}

/* With the writers' mutex just taken: shut the gate, and wait for the
 * readers in over the next tries. */
static gboolean
async_start_drain (PsRwLockHandle  *handle,
                   PsRwAsyncLock   *wait,
                   GError         **error)
{
  if (!ps_rw_lock_close_gate (handle, error))
    return FALSE;
  wait->marked = ps_rw_lock_marked_slots (handle->state);
  wait->draining = TRUE;
  ps_rw_lock_set_drainer (handle, ps_self_thread_id ());
  return TRUE;
}

/* Waits for the readers in: TRUE when over (holding the lock, or with
 * @error), FALSE with @watch set. */
static gboolean
async_drain (PsRwLockHandle  *handle,
             PsRwAsyncLock   *wait,
             PsWatch         *watch,
             GError         **error)
{
  PsRwTake take = PS_RW_TAKE_BUSY;

  for (guint races = 0; races < MAX_ASYNC_RACES; races++)
    {
      take = ps_rw_lock_drain_marked (handle, &wait->marked, 0, NULL, wait);
      if (take != PS_RW_TAKE_BUSY)
        break;
      if (watch_lock (wait, &handle->state->slots[__builtin_ctzll (wait->marked)].lock, watch))
        return FALSE;
    }
  if (take == PS_RW_TAKE_BUSY)
    {
      watch->address = NULL;   /* raced too often: poll */
      return FALSE;
    }

  wait->draining = FALSE;
  ps_rw_lock_set_drainer (handle, 0);
  if (take != PS_RW_TAKE_OK)
    {
      ps_rw_lock_end_watch (wait, FALSE);
      ps_rw_lock_unlock_writers (handle, wait->dead);
      ps_rw_lock_set_take_error (take, error);
    }
  else if (wait->dead)
    ps_rw_lock_set_owner_dead_error (error, __atomic_load_n (&handle->state->dead_writer_pid,
                                                  __ATOMIC_RELAXED));
  return TRUE;
}

static gboolean
async_write_try (PsRwLockHandle  *handle,
                 PsRwAsyncLock   *wait,
                 PsWatch         *watch,
                 GError         **error)
{
  guint64 thread_id = ps_self_thread_id ();

  if (!wait->draining)
    {
      if (ps_rw_lock_drainer (handle) != thread_id &&
          !ps_rw_lock_check_writer (handle, thread_id, error))
        {
          ps_rw_lock_end_watch (wait, FALSE);
          return TRUE;
        }
      switch (async_lock_writers (handle, wait, watch, &wait->dead, error))
        {
        case 0:
          return TRUE;
        case -1:
          return FALSE;
        default:
          break;
        }
      if (!async_start_drain (handle, wait, error))
        return TRUE;
    }
  return async_drain (handle, wait, watch, error);
}

static gboolean
async_read_try (PsRwLockHandle  *handle,
                PsRwAsyncLock   *wait,
                PsWatch         *watch,
                GError         **error)
{
  guint64 thread_id = ps_self_thread_id ();
  PsRwTake result = PS_RW_TAKE_GATE;
  gboolean dead = FALSE;
  guint index = 0;

  if (wait->draining)
    return async_drain (handle, wait, watch, error);

  /* A share held already (counted at once), or the lock held for
   * writing (an error): as the blocking lock. */
  if (ps_rw_lock_find_hold (handle->own, thread_id) != NULL ||
      (ps_robust_mutex_is_held_by_self (&handle->writer, thread_id) &&
       ps_rw_lock_drainer (handle) != thread_id))
    {
      ps_rw_lock_end_watch (wait, FALSE);
      ps_rw_lock_read_acquire (handle, 0, NULL, FALSE, error);
      return TRUE;
    }

  if (__atomic_load_n (&handle->state->gate, __ATOMIC_ACQUIRE) == 0)
    result = ps_rw_lock_take_free_slot (handle, thread_id, TRUE, &index);
  if (result != PS_RW_TAKE_GATE)
    ps_rw_lock_end_watch (wait, FALSE);
  else
    {
      switch (async_lock_writers (handle, wait, watch, &dead, error))
        {
        case 0:
          return TRUE;
        case -1:
          return FALSE;
        default:
          break;
        }
      if (dead)
        {
          /* A writer died: this reader inherits the lock, exclusively. */
          wait->dead = TRUE;
          return !async_start_drain (handle, wait, error) ||
                 async_drain (handle, wait, watch, error);
        }
      if (ps_rw_lock_read_under_writers (handle, thread_id, FALSE, error) >= 0)
        return TRUE;
      result = PS_RW_TAKE_BUSY;
    }

  if (result == PS_RW_TAKE_OK)
    ps_rw_lock_record_read (handle, index, thread_id);
  else if (result != PS_RW_TAKE_BUSY)
    ps_rw_lock_set_take_error (result, error);
  else
    {
      /* More readers than slots: readers give theirs back without
       * looking for waiters, so no word says when one is free; look
       * every few milliseconds, as the blocking lock does. */
      watch->address = NULL;
      return FALSE;
    }
  return TRUE;
}

/* Ends a wait that was not over: lets go of what it held meanwhile. */
static void
async_abandon (PsRwLockHandle *handle,
               PsRwAsyncLock  *wait)
{
  ps_rw_lock_end_watch (wait, FALSE);
  if (!wait->draining)
    return;
  wait->draining = FALSE;
  ps_rw_lock_set_drainer (handle, 0);
  ps_rw_lock_unlock_writers (handle, wait->dead);
}

/* One try: TRUE when the wait is over, holding what was asked (a read
 * share, the write lock) or, with PS_ERROR_OWNER_DEAD, the lock for
 * writing; with any other error, nothing (taken just as @cancellable was
 * cancelled: given back, CANCELLED). FALSE with @watch set (its address
 * NULL: poll). */
static gboolean
async_try (PsRwLockHandle  *handle,
           PsRwAsyncLock   *wait,
           GCancellable    *cancellable,
           PsWatch         *watch,
           GError         **error)
{
  GError *local = NULL;
  gboolean over;

  if (wait->write)
    over = async_write_try (handle, wait, watch, &local);
  else
    over = async_read_try (handle, wait, watch, &local);
  if (!over)
    return FALSE;

  /* Taken just as the caller cancelled: give it back rather than hand
   * it to a caller who will not unlock it (a writer's death stays to be
   * reported to the next locker). */
  if ((local == NULL || g_error_matches (local, PS_ERROR, PS_ERROR_OWNER_DEAD)) &&
      cancellable != NULL && g_cancellable_is_cancelled (cancellable))
    {
      if (local != NULL)
        ps_rw_lock_unlock_writers (handle, TRUE);
      else if (wait->write)
        ps_rw_lock_write_release (handle, NULL);
      else
        ps_rw_lock_read_release (handle, NULL);
      g_clear_error (&local);
      ps_set_wait_error (&local, PS_WAIT_CANCELLED, "reader-writer lock");
    }
  if (local != NULL)
    g_propagate_error (error, local);
  return TRUE;
}

static gboolean
lock_step (GTask         *task,
           PsAsyncReason  reason,
           PsWatch       *watch)
{
  PsRwLockHandle *handle = ps_rw_lock_get_handle (g_task_get_source_object (task));
  PsRwAsyncLock *wait = g_task_get_task_data (task);
  GError *error = NULL;

  if (reason != PS_ASYNC_CANCELLED &&
      async_try (handle, wait, g_task_get_cancellable (task), watch, &error))
    {
      if (error != NULL)
        g_task_return_error (task, error);
      else
        g_task_return_boolean (task, TRUE);
      return TRUE;
    }
  if (reason == PS_ASYNC_WOKEN)
    return FALSE;
  /* Cancelled (nothing is tried), or the deadline passed and the last
   * try failed: nothing is kept. */
  async_abandon (handle, wait);
  ps_async_return_error (task, reason, "reader-writer lock");
  return TRUE;
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
  PsRwAsyncLock *wait;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, write ? "[procshared] reader-writer lock write_lock"
                               : "[procshared] reader-writer lock read_lock");
  /* The result says whether the callback's thread holds the lock; a late
   * cancellation must not replace it. */
  g_task_set_check_cancellable (task, FALSE);

  if (ps_rw_lock_get_handle (self)->state == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                               "The object was not initialised");
      return;
    }
  wait = g_new0 (PsRwAsyncLock, 1);
  wait->write = write;
  g_task_set_task_data (task, wait, g_free);
  /* The first try too is made in the callback's context. */
  ps_async_watch_start (task, timeout_us, lock_step, FALSE);
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
 * Takes a read share without blocking the calling thread. @callback
 * runs in the thread-default main context of the caller, and the share
 * then belongs to the thread that runs it (the one iterating that
 * context): every try to take it is made there, while the callback's
 * context runs, never by another thread. Call
 * [method@RWLock.read_lock_finish] from @callback, and read-unlock from
 * that thread.
 *
 * No thread waits for it: on Linux a few threads of the process sleep on
 * the words of every pending wait at once (127 waits each), and the
 * timeout is the main context's own; the posix and darwin backends try
 * the lock every few milliseconds instead (from 0.2 ms, doubling up to
 * 8 ms), from the main context. A reader beyond the lock's 60 slots is
 * tried so on every backend, as [method@RWLock.read_lock] looks again
 * every 10 ms.
 *
 * Each try is as [method@RWLock.read_lock]'s: one made while the thread
 * holds a share takes another at once, and one made while it holds the
 * lock for writing fails with %PS_ERROR_WOULD_DEADLOCK.
 *
 * If @cancellable is cancelled, the result is %G_IO_ERROR_CANCELLED and
 * nothing is held, even if the share was taken just as the cancellation
 * happened. A wait whose context is never iterated again takes nothing.
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
 * [method@RWLock.read_lock_async], every try is made by the thread that
 * runs @callback, which then holds the lock and must write-unlock it;
 * nothing waits in a thread of its own, and the cost is the same. Call
 * [method@RWLock.write_lock_finish] from @callback.
 *
 * Once it has its turn among the writers, the wait shuts later readers
 * out and waits for the readers already in, as [method@RWLock.write_lock]
 * does: meanwhile the calling thread holds nothing it may unlock, its own
 * blocking locks of this lock fail with %PS_ERROR_WOULD_DEADLOCK, and its
 * other async locks of it wait. So a context that is no longer iterated
 * keeps other lockers out, as a blocked writer would: cancel its waits
 * first.
 *
 * If @cancellable is cancelled, or the timeout passes, nothing is held,
 * even if the lock was taken just as the cancellation happened (a
 * writer's death then stays to be reported to the next locker).
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
