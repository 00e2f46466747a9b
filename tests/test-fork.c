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

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} AsyncOutcome;

static void
locked_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  AsyncOutcome *o = user_data;

  o->ok = ps_mutex_lock_finish (PS_MUTEX (source), result, &o->error);
  o->done = TRUE;
}

static void
waited_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  AsyncOutcome *o = user_data;

  o->ok = ps_cond_wait_finish (PS_COND (source), result, &o->error);
  o->done = TRUE;
}

static gboolean
keep_ticking (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
run_until (AsyncOutcome *o)
{
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (15 * G_USEC_PER_SEC);
  GSource *ticker = g_timeout_source_new (10);

  g_source_set_callback (ticker, keep_ticking, NULL, NULL);
  g_source_attach (ticker, NULL);
  while (!o->done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (ticker);
  g_source_unref (ticker);
  return o->done;
}

/* In a child forked while its parent holds the mutex: the child's
 * lock_async waits for the parent's unlock, and its wait_async needs the
 * mutex held by its own thread. */
static int
lock_async_in_child (gpointer data)
{
  gpointer *objects = data;
  PsMutex *mutex = objects[0];
  PsCond *cond = objects[1];
  AsyncOutcome o = { FALSE, FALSE, NULL };

  ps_cond_wait_async (cond, mutex, -1, NULL, waited_cb, &o);
  PS_CHILD_CHECK (run_until (&o));
  PS_CHILD_CHECK_ERROR (o.error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_clear_error (&o.error);

  o.done = FALSE;
  ps_mutex_lock_async (mutex, -1, NULL, locked_cb, &o);
  PS_CHILD_CHECK (run_until (&o));
  PS_CHILD_CHECK_NO_ERROR (o.error);
  PS_CHILD_CHECK (o.ok);

  o.done = FALSE;
  ps_cond_wait_async (cond, mutex, 10 * 1000, NULL, waited_cb, &o);
  PS_CHILD_CHECK (run_until (&o));
  PS_CHILD_CHECK_ERROR (o.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&o.error);
  PS_CHILD_CHECK (ps_mutex_unlock (mutex, NULL));
  return 0;
}

static void
test_lock_async_in_child (void)
{
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  g_autoptr(PsCond) cond = ps_cond_new (NULL);
  gpointer objects[2] = { mutex, cond };
  pid_t pid;

  g_assert_true (ps_mutex_lock (mutex, -1, NULL, NULL));
  pid = ps_test_fork (lock_async_in_child, objects, ps_test_scaled_s (30));
  g_usleep (50 * 1000);
  g_assert_true (ps_mutex_unlock (mutex, NULL));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
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

/* PsRWLock: a child holds none of its parent's shares or write lock. */
static int
child_of_rw_reader (gpointer data)
{
  PsRWLock *lock = data;
  g_autoptr(GError) error = NULL;

  if (ps_rw_lock_read_unlock (lock, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 10;
  g_clear_error (&error);
  /* A share of its own beside the parent's, not a recursive one. */
  if (!ps_rw_lock_read_lock (lock, 0, NULL, &error) || ps_rw_lock_get_n_readers (lock) != 2)
    return 11;
  if (!ps_rw_lock_read_unlock (lock, &error) ||
      ps_rw_lock_read_unlock (lock, NULL))
    return 12;
  /* Its write lock waits for the parent's share. */
  if (ps_rw_lock_write_lock (lock, SHORT_US, NULL, &error) ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return 13;
  return 0;
}

static int
child_of_rw_writer (gpointer data)
{
  PsRWLock *lock = data;
  g_autoptr(GError) error = NULL;

  if (ps_rw_lock_get_writer_pid (lock) != getppid ())
    return 20;
  if (ps_rw_lock_write_unlock (lock, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 21;
  g_clear_error (&error);
  if (ps_rw_lock_mark_consistent (lock, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 22;
  g_clear_error (&error);
  if (ps_rw_lock_try_read_lock (lock, &error) || error != NULL ||
      ps_rw_lock_try_write_lock (lock, &error) || error != NULL)
    return 23;
  if (ps_rw_lock_read_lock (lock, SHORT_US, NULL, &error) ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return 24;
  return 0;
}

/* An event is one flag for parent and child: each sets it for the other,
 * and the child's handle says what the parent's does. */
static int
event_child (gpointer data)
{
  PsEvent *event = data;
  g_autoptr(GError) error = NULL;

  if (!ps_event_get_auto_reset (event) || !ps_event_get_created (event) ||
      ps_event_get_name (event) != NULL)
    return 10;
  if (!ps_event_wait (event, ps_test_scaled_us (20 * G_USEC_PER_SEC), NULL, &error))
    return 11;
  if (ps_event_is_set (event))
    return 12;
  ps_event_set (event);
  ps_event_reset (event);
  ps_event_set (event);
  return 0;
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
test_rw_lock_held_by_parent (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (&error);

  g_assert_no_error (error);
  g_assert_true (ps_rw_lock_read_lock (lock, 0, NULL, &error));
  ps_test_reap_ok (ps_test_fork (child_of_rw_reader, lock, ps_test_scaled_s (20)),
                   ps_test_scaled_s (20));
  g_assert_true (ps_rw_lock_read_unlock (lock, &error));

  g_assert_true (ps_rw_lock_write_lock (lock, 0, NULL, &error));
  ps_test_reap_ok (ps_test_fork (child_of_rw_writer, lock, ps_test_scaled_s (20)),
                   ps_test_scaled_s (20));
  g_assert_cmpint (ps_rw_lock_get_writer_pid (lock), ==, getpid ());
  g_assert_true (ps_rw_lock_write_unlock (lock, &error));
  g_assert_no_error (error);
}

static void
test_event (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsEvent) event = ps_event_new (TRUE, &error);
  pid_t pid;

  g_assert_no_error (error);
  pid = ps_test_fork (event_child, event, ps_test_scaled_s (30));
  ps_event_set (event);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  g_assert_true (ps_event_is_set (event));
  g_assert_true (ps_event_wait (event, 0, NULL, &error));
  g_assert_no_error (error);
}

static void
on_rw_locked (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  int *status = user_data;

  *status = ps_rw_lock_read_lock_finish (PS_RW_LOCK (source), result, NULL) ? 1 : 2;
}

static int
rw_lock_async_in_child (gpointer data)
{
  PsRWLock *lock = data;
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (10 * G_USEC_PER_SEC);
  int status = 0;

  ps_rw_lock_read_lock_async (lock, -1, NULL, on_rw_locked, &status);
  while (status == 0 && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  if (status != 1)
    return 30;
  return ps_rw_lock_read_unlock (lock, NULL) ? 0 : 31;
}

/* The async forms work in a child, whose lock is its own. */
static void
test_rw_lock_async_in_child (void)
{
  g_autoptr(PsRWLock) lock = ps_rw_lock_new (NULL);

  ps_test_reap_ok (ps_test_fork (rw_lock_async_in_child, lock, ps_test_scaled_s (20)),
                   ps_test_scaled_s (20));
  g_assert_cmpuint (ps_rw_lock_get_n_readers (lock), ==, 0);
}

static void
event_waited_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  gint *outcome = data;

  *outcome = ps_event_wait_finish (PS_EVENT (source), result, NULL) ? 1 : 2;
}

/* A child's async wait works, whatever its parent waited for. */
static int
event_async_child (gpointer data)
{
  gint outcome = 0;

  ps_event_wait_async (data, -1, NULL, event_waited_cb, &outcome);
  while (outcome == 0)
    g_main_context_iteration (NULL, TRUE);
  return outcome == 1 ? 0 : 1;
}

static void
test_event_async_after_fork (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsEvent) event = ps_event_new (FALSE, &error);
  gint outcome = 0;
  pid_t pid;

  g_assert_no_error (error);
  ps_event_set (event);
  ps_event_wait_async (event, -1, NULL, event_waited_cb, &outcome);
  while (outcome == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (outcome, ==, 1);
  ps_event_reset (event);
  pid = ps_test_fork (event_async_child, event, ps_test_scaled_s (30));
  g_usleep (20 * 1000);
  ps_event_set (event);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
}

static void
queue_received_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  GBytes **bytes = data;

  *bytes = ps_queue_receive_finish (PS_QUEUE (source), result, NULL, NULL);
  if (*bytes == NULL)
    *bytes = g_bytes_new_static ("", 0);
}

/* A queue made before fork() is the child's too, with the same answers
 * from its getters; a message either sends may go to the other, and the
 * child's own async receive works. */
static int
queue_child (gpointer data)
{
  PsQueue *queue = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) reply = g_bytes_new_static ("child", 5);
  GBytes *async_bytes = NULL;
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (10 * G_USEC_PER_SEC);

  if (ps_queue_get_capacity (queue) != 2 || ps_queue_get_max_message_size (queue) != 16 ||
      !ps_queue_get_created (queue) || ps_queue_get_name (queue) != NULL)
    return 40;
  bytes = ps_queue_receive (queue, NULL, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, &error);
  if (bytes == NULL || g_bytes_get_size (bytes) != 6)
    return 41;
  ps_queue_receive_async (queue, -1, NULL, queue_received_cb, &async_bytes);
  while (async_bytes == NULL && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  if (async_bytes == NULL || g_bytes_get_size (async_bytes) != 7)
    return 42;
  g_bytes_unref (async_bytes);
  return ps_queue_send (queue, reply, 0, -1, NULL, NULL) ? 0 : 43;
}

static void
test_queue (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) queue = ps_queue_new (2, 16, &error);
  g_autoptr(GBytes) first = g_bytes_new_static ("parent", 6);
  g_autoptr(GBytes) second = g_bytes_new_static ("parent2", 7);
  g_autoptr(GBytes) reply = NULL;
  pid_t pid;

  g_assert_no_error (error);
  g_assert_true (ps_queue_send (queue, first, 0, 0, NULL, &error));
  pid = ps_test_fork (queue_child, queue, ps_test_scaled_s (30));
  g_assert_true (ps_queue_send (queue, second, 0, -1, NULL, &error));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  reply = ps_queue_receive (queue, NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), "child", 5);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 0);
}

/* Parent and child are two parties; either may abort or reset the
 * barrier for both, and they see one state. */
static int
barrier_child (gpointer data)
{
  PsBarrier *barrier = data;
  g_autoptr(GError) error = NULL;
  gint index;

  if (ps_barrier_get_parties (barrier) != 2 || !ps_barrier_get_created (barrier) ||
      ps_barrier_get_name (barrier) != NULL)
    return 10;
  index = ps_barrier_wait (barrier, ps_test_scaled_us (20 * G_USEC_PER_SEC), NULL, &error);
  if (index < 0)
    return 11;
  /* The parent now waits alone: abort it. */
  for (guint tries = 0; ps_barrier_get_n_waiting (barrier) != 1; tries++)
    {
      if (tries > ps_test_scaled_s (20) * 1000)
        return 13;
      g_usleep (1000);
    }
  ps_barrier_abort (barrier);
  if (!ps_barrier_is_broken (barrier))
    return 12;
  return 0;
}

static void
barrier_waited_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  gint *index = data;

  *index = ps_barrier_wait_finish (PS_BARRIER (source), result, NULL);
}

static void
test_barrier (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsBarrier) barrier = ps_barrier_new (2, &error);
  gint index = -2;
  pid_t pid;

  g_assert_no_error (error);
  pid = ps_test_fork (barrier_child, barrier, ps_test_scaled_s (30));
  g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), >=, 0);
  g_assert_no_error (error);
  g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), ==, -1);
  g_assert_error (error, PS_ERROR, PS_ERROR_BROKEN);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  g_assert_true (ps_barrier_reset (barrier, NULL));

  /* An async wait in the parent, completed by a child's wait. */
  ps_barrier_wait_async (barrier, -1, NULL, barrier_waited_cb, &index);
  pid = ps_test_fork (barrier_child, barrier, ps_test_scaled_s (30));
  while (index == -2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (index, >=, 0);
  g_clear_error (&error);
  g_assert_cmpint (ps_barrier_wait (barrier, -1, NULL, &error), ==, -1);
  g_assert_error (error, PS_ERROR, PS_ERROR_BROKEN);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
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

/* Streams over a segment: one made before fork() is the child's too,
 * at the position it had then, and moves on in each process on its own;
 * what the child writes through its copy, the parent reads. */
static int
stream_in_child (gpointer data)
{
  GOutputStream *out = data;
  g_autoptr(GError) error = NULL;

  PS_CHILD_CHECK (g_seekable_tell (G_SEEKABLE (out)) == 6);
  PS_CHILD_CHECK (g_output_stream_write_all (out, "child\n", 6, NULL, NULL, &error));
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (g_seekable_tell (G_SEEKABLE (out)) == 12);
  return 0;
}

static void
test_shared_memory_stream (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (64, &error);
  g_autoptr(GOutputStream) out = ps_shared_memory_get_output_stream (memory, 8, 32, &error);
  g_autoptr(GInputStream) in = ps_shared_memory_get_input_stream (memory, 8, 32, &error);
  g_autoptr(GDataInputStream) lines = g_data_input_stream_new (in);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  g_assert_no_error (error);
  g_assert_true (g_output_stream_write_all (out, "first\n", 6, NULL, NULL, &error));
  ps_test_reap_ok (ps_test_fork (stream_in_child, out, ps_test_scaled_s (20)),
                   ps_test_scaled_s (20));
  /* The parent's stream is where it was, and writes over the child's. */
  g_assert_cmpint (g_seekable_tell (G_SEEKABLE (out)), ==, 6);
  first = g_data_input_stream_read_line (lines, NULL, NULL, &error);
  second = g_data_input_stream_read_line (lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first, ==, "first");
  g_assert_cmpstr (second, ==, "child");
  g_assert_true (g_output_stream_write_all (out, "parent", 6, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_shared_memory_get_uint8 (memory, 8 + 6, NULL), ==, 'p');
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/fork/mutex-held-by-parent", test_mutex_held_by_parent);
  ps_test_add ("/fork/recursive-mutex-held-by-parent", test_recursive_mutex_held_by_parent);
  ps_test_add ("/fork/mark-consistent-not-inherited", test_mark_consistent_not_inherited);
  ps_test_add ("/fork/acquire-async-after-fork", test_acquire_async_after_fork);
  ps_test_add ("/fork/lock-async-in-child", test_lock_async_in_child);
  ps_test_add ("/fork/shared-memory", test_shared_memory);
  ps_test_add ("/fork/rw-lock-held-by-parent", test_rw_lock_held_by_parent);
  ps_test_add ("/fork/rw-lock-async-in-child", test_rw_lock_async_in_child);
  ps_test_add ("/fork/event", test_event);
  ps_test_add ("/fork/event-async-after-fork", test_event_async_after_fork);
  ps_test_add ("/fork/barrier", test_barrier);
  ps_test_add ("/fork/queue", test_queue);
  ps_test_add ("/fork/shared-memory-fd", test_shared_memory_fd);
  ps_test_add ("/fork/shared-memory-stream", test_shared_memory_stream);

  return g_test_run ();
}
