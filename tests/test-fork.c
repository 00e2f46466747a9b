/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * What each class does across fork(), as its reference says ("Across
 * fork(): ..."): a child forked while its parent holds a mutex is another
 * process, whose thread holds nothing; semaphores and segments are simply
 * shared; async waits work in a child, whatever its parent did before.
 */

#include "ps-test-util.h"

#define SHORT_US (50 * 1000)

typedef struct
{
  PsMutex *mutex;
  PsCond *cond;
  GPid parent;
} HeldByParent;

/* In the child: every call that needs the mutex held says it is not. */
static int
child_of_holder (gpointer data)
{
  HeldByParent *held = data;
  g_autoptr(GError) error = NULL;

  if (ps_mutex_get_owner_pid (held->mutex) != held->parent)
    return 10;
  /* Busy, held by the parent: FALSE without an error. */
  if (ps_mutex_try_lock (held->mutex, &error) || error != NULL)
    return 11;
  if (ps_mutex_unlock (held->mutex, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 12;
  g_clear_error (&error);
  if (ps_mutex_mark_consistent (held->mutex, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 13;
  g_clear_error (&error);
  /* A wait for the parent, never a relock of its own. */
  if (ps_mutex_lock (held->mutex, SHORT_US, NULL, &error) ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return 14;
  g_clear_error (&error);
  if (ps_cond_wait (held->cond, held->mutex, SHORT_US, NULL, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 15;
  return 0;
}

static void
check_held_by_parent (gboolean recursive)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  HeldByParent held;

  mutex = recursive ? ps_mutex_new_recursive (&error) : ps_mutex_new (&error);
  g_assert_no_error (error);
  cond = ps_cond_new (&error);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));

  held = (HeldByParent) { mutex, cond, getpid () };
  ps_test_reap_ok (ps_test_fork (child_of_holder, &held, ps_test_scaled_s (20)),
                   ps_test_scaled_s (20));

  /* The parent still holds it. */
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
}

static void
test_mutex_held_by_parent (void)
{
  check_held_by_parent (FALSE);
}

static void
test_recursive_mutex_held_by_parent (void)
{
  check_held_by_parent (TRUE);
}

static int
lock_and_die (gpointer data)
{
  ps_mutex_lock (data, PS_TIMEOUT_INFINITE, NULL, NULL);
  return 0;   /* exits holding it */
}

static int
mark_consistent_in_child (gpointer data)
{
  g_autoptr(GError) error = NULL;

  if (ps_mutex_mark_consistent (data, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 1;
  return 0;
}

/* After OWNER_DEAD, only the thread that got it may mark the mutex
 * consistent, not a child it forks. */
static void
test_mark_consistent_not_inherited (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = ps_mutex_new (&error);

  g_assert_no_error (error);
  ps_test_reap_ok (ps_test_fork (lock_and_die, mutex, ps_test_scaled_s (20)),
                   ps_test_scaled_s (20));
  g_assert_false (ps_mutex_lock (mutex, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);

  ps_test_reap_ok (ps_test_fork (mark_consistent_in_child, mutex, ps_test_scaled_s (20)),
                   ps_test_scaled_s (20));

  g_assert_true (ps_mutex_mark_consistent (mutex, &error));
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
}

typedef struct
{
  GMainLoop *loop;
  gboolean acquired;
  gboolean finished;
} AsyncResult;

static void
acquired_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  AsyncResult *res = data;

  res->acquired = ps_semaphore_acquire_finish (PS_SEMAPHORE (source), result, NULL);
  res->finished = TRUE;
  g_main_loop_quit (res->loop);
}

static gboolean
release_cb (gpointer data)
{
  ps_semaphore_release (data, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
give_up_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/* An async acquire that has to wait (the unit comes 20 ms later). */
static gboolean
acquire_async_waiting (PsSemaphore *semaphore)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  AsyncResult res = { loop, FALSE, FALSE };
  guint give_up;

  ps_semaphore_acquire_async (semaphore, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL,
                              acquired_cb, &res);
  g_timeout_add (20, release_cb, semaphore);
  give_up = g_timeout_add_seconds (ps_test_scaled_s (15), give_up_cb, loop);
  g_main_loop_run (loop);
  if (res.finished)
    g_source_remove (give_up);
  return res.finished && res.acquired;
}

static int
acquire_async_in_child (gpointer data)
{
  return acquire_async_waiting (data) ? 0 : 1;
}

/* A child forked after its parent waited asynchronously (and so has a
 * worker thread, idle, that the child does not have) still gets its own
 * async waits done. */
static void
test_acquire_async_after_fork (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = ps_semaphore_new (0, &error);

  g_assert_no_error (error);
  g_assert_true (acquire_async_waiting (semaphore));
  /* Lets the worker go back to waiting for work, idle. */
  g_usleep (200 * 1000);
  ps_test_reap_ok (ps_test_fork (acquire_async_in_child, semaphore, ps_test_scaled_s (30)),
                   ps_test_scaled_s (30));
  g_assert_true (acquire_async_waiting (semaphore));
}

static int
write_in_child (gpointer data)
{
  PsSharedMemory *memory = data;

  if (!ps_shared_memory_set_int64 (memory, 8, G_GINT64_CONSTANT (0x1122334455667788), NULL))
    return 1;
  /* Inherited at the same address. */
  if (!ps_shared_memory_set_int64 (memory, 0, (gint64) ps_shared_memory_get_address (memory), NULL))
    return 2;
  return 0;
}

static void
test_shared_memory (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (64, &error);

  g_assert_no_error (error);
  ps_test_reap_ok (ps_test_fork (write_in_child, memory, ps_test_scaled_s (20)),
                   ps_test_scaled_s (20));
  g_assert_cmpint (ps_shared_memory_get_int64 (memory, 8, NULL), ==,
                   G_GINT64_CONSTANT (0x1122334455667788));
  g_assert_cmpint (ps_shared_memory_get_int64 (memory, 0, NULL), ==,
                   (gint64) ps_shared_memory_get_address (memory));
}

/* Descriptors across fork(): the child inherits the segment's own, so it
 * can hand out and receive descriptors of the segment, seal it and make
 * it read-only for others; the seals are on the memory, seen by both. */
static int
share_by_fd_in_child (gpointer data)
{
  PsSharedMemory *memory = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) received = NULL;
  g_autoptr(PsSharedMemory) from_handle = NULL;
  g_autoptr(PsSharedMemory) reader = NULL;
  g_autoptr(GUnixFDList) list = g_unix_fd_list_new ();
  g_autoptr(GVariant) handle = NULL;
  int fd, read_only;

  PS_CHILD_CHECK (!ps_shared_memory_is_read_only (memory));
  fd = ps_shared_memory_dup_fd (memory, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  received = ps_shared_memory_new_from_fd (fd, &error);
  close (fd);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_shared_memory_get_int64 (received, 8, NULL) == 41);
  PS_CHILD_CHECK (ps_shared_memory_set_int64 (received, 8, 42, NULL));

  handle = ps_shared_memory_to_handle (memory, list, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  from_handle = ps_shared_memory_new_from_handle (handle, list, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_shared_memory_get_int64 (from_handle, 8, NULL) == 42);

  read_only = ps_shared_memory_dup_read_only_fd (memory, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  reader = ps_shared_memory_new_from_fd (read_only, &error);
  close (read_only);
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_shared_memory_is_read_only (reader));
  PS_CHILD_CHECK (ps_shared_memory_seal (memory, &error));
  PS_CHILD_CHECK_NO_ERROR (error);
  return 0;
}

static void
test_shared_memory_fd (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (64, &error);

  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_set_int64 (memory, 8, 41, &error));
  ps_test_reap_ok (ps_test_fork (share_by_fd_in_child, memory, ps_test_scaled_s (20)),
                   ps_test_scaled_s (20));
  g_assert_cmpint (ps_shared_memory_get_int64 (memory, 8, NULL), ==, 42);
  g_assert_false (ps_shared_memory_is_read_only (memory));
  /* The child's read-only descriptor sealed the memory against writable
   * mappings, for the parent too; its seal holds here as well. */
  g_assert_cmpint (ps_shared_memory_dup_fd (memory, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_true (ps_shared_memory_seal (memory, &error));
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_set_int64 (memory, 8, 43, &error));
  g_assert_no_error (error);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/fork/mutex-held-by-parent", test_mutex_held_by_parent);
  ps_test_add ("/fork/recursive-mutex-held-by-parent", test_recursive_mutex_held_by_parent);
  ps_test_add ("/fork/mark-consistent-not-inherited", test_mark_consistent_not_inherited);
  ps_test_add ("/fork/acquire-async-after-fork", test_acquire_async_after_fork);
  ps_test_add ("/fork/shared-memory", test_shared_memory);
  ps_test_add ("/fork/shared-memory-fd", test_shared_memory_fd);

  return g_test_run ();
}
