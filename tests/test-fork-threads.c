/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * fork() from a threaded program: while other threads of the parent
 * create, lock and await objects (and so hold the library's private
 * locks and keep its async workers busy), a child forked at any moment
 * must still be able to create, lock and await anything. A child that
 * deadlocks on a lock some parent thread held at fork() time hits its
 * own alarm and fails.
 *
 * What GLib itself does not survive is kept out of the way: GType
 * registration and (before GLib 2.76) GSlice (see main()).
 *
 * PS_TEST_FORKS sets the number of forks (1,000 by default, divided by
 * PS_TEST_TIME_SCALE, so a valgrind run does fewer).
 */

#include "ps-test-util.h"
#include "ps-object-pool-private.h"
#include "ps-robust-mutex-private.h"

/* GCC's AddressSanitizer (libasan of GCC 12) keeps its allocator's locks
 * across fork(): a child forked while another thread of the parent
 * allocates can hang in malloc(), in the sanitizer, not in procshared
 * (seen with gdb: a child's new thread waits in
 * SizeClassAllocator64::GetFromAllocator). */
#if defined(__SANITIZE_ADDRESS__)
# define ALLOCATOR_FORK_UNSAFE 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define ALLOCATOR_FORK_UNSAFE 1
# endif
#endif

#define BUSY_THREADS 3
#define FORKS        1000

/* Child exit codes: which step failed. The alarm kills a deadlocked one. */
enum
{
  CHILD_OK = 0,
  CHILD_MUTEX_NEW = 10,
  CHILD_MUTEX_LOCK,
  CHILD_MUTEX_UNLOCK,
  CHILD_COND,
  CHILD_SEMAPHORE_NEW,
  CHILD_RELEASE,
  CHILD_ASYNC_STUCK,
  CHILD_ASYNC_FAILED,
};

typedef struct
{
  gboolean done;
  gboolean ok;
  GError *error;
  GAsyncResult *task;
} AsyncResult;

static void
acquired (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  AsyncResult *r = user_data;

  r->ok = ps_semaphore_acquire_finish (PS_SEMAPHORE (source), result, &r->error);
  r->task = g_object_ref (result);
  r->done = TRUE;
}

static gboolean
give_up (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Starts an acquire of @sem that only a worker thread can complete
 * (nothing to take yet), releases, and iterates @context until the
 * callback ran: FALSE if that took more than @limit_us or too many
 * iterations. */
static gboolean
await_acquire (GMainContext *context,
               PsSemaphore  *sem,
               gint64        limit_us,
               gboolean     *ok)
{
  AsyncResult r = { FALSE, FALSE, NULL, NULL };
  gboolean expired = FALSE;
  GSource *timeout = g_timeout_source_new ((guint) (limit_us / 1000));
  guint iterations = 0;

  g_source_set_callback (timeout, give_up, &expired, NULL);
  g_source_attach (timeout, context);
  ps_semaphore_acquire_async (sem, limit_us, NULL, acquired, &r);
  *ok = ps_semaphore_release (sem, NULL);
  while (!r.done && !expired && iterations++ < 10000)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  /* Stuck: leave the pending callback be (the process is about to end). */
  if (!r.done)
    return FALSE;
  *ok = *ok && r.ok;
  g_clear_error (&r.error);
  g_object_unref (r.task);
  return TRUE;
}

static int
child_main (void)
{
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  g_autoptr(PsSemaphore) sem = NULL;
  g_autoptr(GMainContext) context = NULL;
  gboolean ok = FALSE;

  mutex = ps_mutex_new (NULL);
  if (mutex == NULL)
    return CHILD_MUTEX_NEW;
  if (!ps_mutex_lock (mutex, -1, NULL, NULL))
    return CHILD_MUTEX_LOCK;
  if (!ps_mutex_unlock (mutex, NULL))
    return CHILD_MUTEX_UNLOCK;
  cond = ps_cond_new (NULL);
  if (cond == NULL)
    return CHILD_COND;
  ps_cond_signal (cond);

  sem = ps_semaphore_new (0, NULL);
  if (sem == NULL)
    return CHILD_SEMAPHORE_NEW;
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  if (!await_acquire (context, sem, ps_test_scaled_us (4 * G_USEC_PER_SEC), &ok))
    return CHILD_ASYNC_STUCK;
  if (!ok)
    return CHILD_ASYNC_FAILED;
  g_main_context_pop_thread_default (context);
  return CHILD_OK;
}

static gint stop;

/*
 * GLib 2.74 takes locks of its own that no fork handler takes: GObject's
 * (a construction, a notification, a last unref: a child forked meanwhile
 * deadlocks in its first GObject), GType registration, thread creation.
 * What procshared cannot fix is kept out of fork()'s way: the busy
 * threads make those calls under glib_guard, which the forking thread
 * holds across fork(). procshared's own locks are taken outside it: the
 * locks and signals of the objects, the pool and the ownership records
 * through their private entry points, and the async workers' waits.
 */
static GMutex glib_guard;

/* Iterates @context until @r is done, never blocking under the guard. */
static void
busy_await (GMainContext *context,
            PsSemaphore  *sem)
{
  AsyncResult r = { FALSE, FALSE, NULL, NULL };
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (10 * G_USEC_PER_SEC);

  g_mutex_lock (&glib_guard);
  ps_semaphore_acquire_async (sem, -1, NULL, acquired, &r);
  g_mutex_unlock (&glib_guard);
  g_assert_true (ps_semaphore_release (sem, NULL));
  while (!r.done)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20);
      g_mutex_lock (&glib_guard);
      g_main_context_iteration (context, FALSE);
      g_mutex_unlock (&glib_guard);
    }
  g_assert_true (r.ok);
  /* The worker's reference goes last, so that the task is finalised here,
   * under the guard, rather than in the worker. */
  while (g_atomic_int_get (&G_OBJECT (r.task)->ref_count) > 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20);
    }
  g_mutex_lock (&glib_guard);
  g_object_unref (r.task);
  g_mutex_unlock (&glib_guard);
}

/* One round of what the threads do. */
static void
busy_round (GMainContext *context,
            gboolean      await)
{
  PsMutex *mutex;
  PsCond *cond;
  PsSemaphore *sem;
  PsRobustMutex raw;
  PsRobustMutexHandle handle = { 0 };
  PsPoolChunk *chunk = NULL;
  gpointer slot;

  g_mutex_lock (&glib_guard);
  mutex = ps_mutex_new (NULL);
  cond = ps_cond_new (NULL);
  sem = ps_semaphore_new (0, NULL);
  g_mutex_unlock (&glib_guard);
  g_assert_nonnull (mutex);
  g_assert_nonnull (cond);
  g_assert_nonnull (sem);

  g_assert_true (ps_mutex_lock (mutex, -1, NULL, NULL));
  ps_cond_broadcast (cond);
  g_assert_true (ps_mutex_unlock (mutex, NULL));

  /* What ps_mutex_new() and its finalisation do, without the GObject. */
  slot = ps_object_pool_take (&chunk, NULL);
  g_assert_nonnull (slot);
  g_assert_true (ps_robust_mutex_init (&raw, FALSE, NULL));
  g_assert_true (ps_robust_mutex_handle_open (&handle, &handle, &raw, NULL));
  ps_robust_mutex_handle_close (&handle);
  ps_object_pool_give_back (chunk, slot);

  if (await)
    busy_await (context, sem);

  g_mutex_lock (&glib_guard);
  g_object_unref (mutex);
  g_object_unref (cond);
  g_object_unref (sem);
  g_mutex_unlock (&glib_guard);
}

/* A parent thread that keeps the library busy: creating objects, locking,
 * signalling, and async waits served by the worker pool. */
static gpointer
busy_thread (gpointer data)
{
  GMainContext *context;
  guint round = 0;

  g_mutex_lock (&glib_guard);
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  g_mutex_unlock (&glib_guard);
  while (!g_atomic_int_get (&stop))
    busy_round (context, round++ % 2 == 0);
  g_mutex_lock (&glib_guard);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  g_mutex_unlock (&glib_guard);
  return NULL;
}

static guint
n_forks (void)
{
  const char *forced = g_getenv ("PS_TEST_FORKS");
  double scaled;

  if (forced != NULL && *forced != '\0')
    return (guint) g_ascii_strtoull (forced, NULL, 10);
  scaled = FORKS / ps_test_time_scale ();
  return scaled < 20 ? 20 : (guint) scaled;
}

/* Waits for @pid for at most @limit_us, then kills it: its status. */
static int
reap_within (pid_t  pid,
             gint64 limit_us)
{
  gint64 deadline = g_get_monotonic_time () + limit_us;
  int status = 0;
  pid_t got;

  while ((got = waitpid (pid, &status, WNOHANG)) == 0 && g_get_monotonic_time () < deadline)
    g_usleep (200);
  if (got == 0)
    {
      kill (pid, SIGKILL);
      got = waitpid (pid, &status, 0);
    }
  g_assert_cmpint (got, ==, pid);
  return status;
}

static void
test_fork_while_threads_work (void)
{
  GThread *threads[BUSY_THREADS];
  guint forks = n_forks ();
  guint failed = 0, deadlocked = 0;
  g_autoptr(GString) codes = g_string_new (NULL);

#ifdef ALLOCATOR_FORK_UNSAFE
  g_test_skip ("AddressSanitizer's allocator is not fork-safe: a child forked while "
               "another thread allocates can hang in malloc()");
  return;
#endif

  /* GLib's types (GTask's among them) are registered once per program
   * under GLib's own lock: a child forked while a thread of its parent is
   * half-way through that registration waits for it for ever, whatever
   * procshared does. Real programs register them early too. */
  {
    g_autoptr(GMainContext) context = g_main_context_new ();

    g_main_context_push_thread_default (context);
    busy_round (context, TRUE);
    g_main_context_pop_thread_default (context);
  }

  g_atomic_int_set (&stop, 0);
  for (guint i = 0; i < BUSY_THREADS; i++)
    {
      g_mutex_lock (&glib_guard);
      threads[i] = g_thread_new ("busy", busy_thread, NULL);
      g_mutex_unlock (&glib_guard);
    }

  for (guint i = 0; i < forks; i++)
    {
      pid_t pid;
      int status;

      /* Let the busy threads get somewhere between two forks. */
      g_usleep (g_random_int_range (0, 500));
      g_mutex_lock (&glib_guard);
      pid = fork ();
      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        {
          ps_test_child_no_leak_check ();
          ps_test_watchdog (ps_test_scaled_s (5));
          _exit (child_main ());
        }
      g_mutex_unlock (&glib_guard);
      status = reap_within (pid, ps_test_scaled_us (10 * G_USEC_PER_SEC));
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        {
          failed++;
          if (WIFSIGNALED (status))
            deadlocked++;
          g_string_append_printf (codes, " %s%d", WIFSIGNALED (status) ? "sig" : "exit",
                                  WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));
        }
    }

  g_atomic_int_set (&stop, 1);
  for (guint i = 0; i < BUSY_THREADS; i++)
    g_thread_join (threads[i]);

  g_test_message ("%u of %u children failed (%u killed by a signal):%s",
                  failed, forks, deadlocked, codes->str);
  g_assert_cmpuint (failed, ==, 0);
}

int
main (int argc, char **argv)
{
  /* Before GLib 2.76, GSlice's magazines are refilled under a lock of
   * GLib's that no fork handler takes: a child forked while another
   * thread refills one deadlocks in its first g_slice_alloc(), whatever
   * procshared does. GLib 2.76 and later always use malloc(), as this
   * makes older ones do. GLib reads it before main(): run again with it. */
  if (g_strcmp0 (g_getenv ("G_SLICE"), "always-malloc") != 0)
    {
      g_setenv ("G_SLICE", "always-malloc", TRUE);
      execv ("/proc/self/exe", argv);
      execv (argv[0], argv);
      g_error ("execv: %s", g_strerror (errno));
    }
  g_test_init (&argc, &argv, NULL);
  ps_test_add_timed ("/fork/threads/create-lock-await", test_fork_while_threads_work, 300);
  return g_test_run ();
}
