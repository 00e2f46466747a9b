/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsMutex robustness: a holder (a process, or a thread of one that lives
 * on) dies, and the next locker or a waiting one learns it, recovers the
 * mutex or leaves it not recoverable; anonymous, named and placed.
 *
 * The named peer re-execs this binary with `--peer MODE ARGS...`,
 * handled by ps_test_init().
 */

#include <pthread.h>
#include <string.h>

#include "ps-test-mutex.h"

#define DEATH_BOUND_US    (2 * G_USEC_PER_SEC)

/* Robustness ---------------------------------------------------------------- */

/* Fork a child that holds @mutex (locked @depth times) until it is
 * killed; returns once it holds it. */
static int
hold_until_killed_child (gpointer data)
{
  HoldArgs *args = data;
  guint i;

  for (i = 0; i < args->depth; i++)
    if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
      return 1;
  g_atomic_int_set (&args->shared->step, 1);
  /* The parent kills us; the watchdog bounds this otherwise. */
  g_usleep (ps_test_scaled_us (120 * G_USEC_PER_SEC));
  return 2;
}

static pid_t
fork_holder (PsMutex *mutex,
             Shared  *shared,
             guint    depth)
{
  HoldArgs args = { mutex, shared, depth };
  pid_t pid;

  g_atomic_int_set (&shared->step, 0);
  pid = ps_test_fork (hold_until_killed_child, &args, ps_test_scaled_s (120));
  assert_wait_int (&shared->step, 1);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  return pid;
}

static void
kill_holder (pid_t pid)
{
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  ps_test_reap_killed (pid);
}

static gpointer
mark_thread (gpointer data)
{
  Waiter *waiter = data;

  waiter->result = ps_mutex_mark_consistent (waiter->mutex, &waiter->error);
  return NULL;
}

/* The caller got OWNER_DEAD: check it holds the lock, recover, and that
 * the death is not reported again, here or in another process. */
static void
assert_holds_and_recover (PsMutex *mutex)
{
  g_autoptr(GError) error = NULL;
  Waiter waiter = { .mutex = mutex };

  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_busy_for_other_thread (mutex);
  assert_busy_for_other_process (mutex, getpid ());
  run_in_thread (unlock_thread, &waiter);
  g_assert_error (waiter.error, PS_ERROR, PS_ERROR_NOT_OWNER);
  waiter_clear (&waiter);
  run_in_thread (mark_thread, &waiter);
  g_assert_false (waiter.result);
  g_assert_error (waiter.error, PS_ERROR, PS_ERROR_NOT_OWNER);
  waiter_clear (&waiter);

  g_assert_true (ps_mutex_mark_consistent (mutex, &error));
  g_assert_no_error (error);
  assert_unlock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);

  assert_free_for_other_process (mutex);
  assert_lock (mutex);
  assert_unlock (mutex);
}

static void
test_owner_death_next_locker (gconstpointer data)
{
  LockHow how = GPOINTER_TO_INT (data);
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GError) error = NULL;
  pid_t pid;

  pid = fork_holder (mutex, shared, 1);
  kill_holder (pid);

  g_assert_false (lock_how (mutex, how, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  assert_holds_and_recover (mutex);
}

/* A thread of this process blocked in lock when the holder dies. */
static gpointer
death_waiter_thread (gpointer data)
{
  Waiter *waiter = data;

  g_atomic_int_set (&waiter->tid, gettid ());
  g_atomic_int_set (&waiter->started, 1);
  waiter->result = ps_mutex_lock (waiter->mutex, waiter->timeout, waiter->cancellable,
                                  &waiter->error);
  waiter->end_time = g_get_monotonic_time ();
  /* Ownership is per thread: only this thread can show it holds it. */
  waiter->owner_after = ps_mutex_get_owner_pid (waiter->mutex);
  g_atomic_int_set (&waiter->finished, 1);
  if (!ps_test_wait_int (&waiter->checked, 1, 30))
    return NULL;
  waiter->mark_ok = ps_mutex_mark_consistent (waiter->mutex, NULL);
  waiter->unlock_ok = ps_mutex_unlock (waiter->mutex, NULL);
  return NULL;
}

static void
test_owner_death_waiting_locker (gconstpointer data)
{
  LockHow how = GPOINTER_TO_INT (data);
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Waiter waiter = { .mutex = mutex };
  GThread *thread;
  gint64 death_time;
  pid_t pid;

  waiter.timeout = how == HOW_TIMED ? 30 * G_USEC_PER_SEC : PS_TIMEOUT_INFINITE;
  waiter.cancellable = how == HOW_CANCELLABLE ? cancellable : NULL;

  pid = fork_holder (mutex, shared, 1);
  thread = g_thread_new ("death-waiter", death_waiter_thread, &waiter);
  assert_wait_int (&waiter.started, 1);
  ps_test_wait_until_blocked (getpid (), g_atomic_int_get (&waiter.tid));

  death_time = g_get_monotonic_time ();
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);

  /* Woken by the death, not left to sleep until some other event. */
  while (!g_atomic_int_get (&waiter.finished))
    {
      if (g_get_monotonic_time () - death_time > ps_test_scaled_us (DEATH_BOUND_US))
        g_error ("the waiting locker was not woken by the death of the holder");
      g_usleep (500);
    }
  ps_test_reap_killed (pid);

  g_assert_false (waiter.result);
  g_assert_error (waiter.error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_assert_cmpint (waiter.owner_after, ==, getpid ());
  /* It holds it: another thread of ours and another process see it busy. */
  assert_busy_for_other_thread (mutex);
  assert_busy_for_other_process (mutex, getpid ());
  assert_unlock_not_owner (mutex);
  g_atomic_int_set (&waiter.checked, 1);
  g_thread_join (thread);
  g_assert_true (waiter.mark_ok);
  g_assert_true (waiter.unlock_ok);
  waiter_clear (&waiter);

  /* Reported once: later lockers get a plain success. */
  assert_free_for_other_process (mutex);
  assert_lock (mutex);
  assert_unlock (mutex);
}

/* Several waiters at the moment of death: exactly one hears of it. */
static void
test_owner_death_one_of_many (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  WaitChildArgs args = { mutex, shared };
  pid_t waiters[4];
  pid_t holder;
  guint i;

  holder = fork_holder (mutex, shared, 1);
  for (i = 0; i < G_N_ELEMENTS (waiters); i++)
    waiters[i] = ps_test_fork (waiting_locker_child, &args, ps_test_scaled_s (60));
  assert_wait_int (&shared->ready, G_N_ELEMENTS (waiters));
  for (i = 0; i < G_N_ELEMENTS (waiters); i++)
    ps_test_wait_until_blocked (waiters[i], waiters[i]);

  kill_holder (holder);
  for (i = 0; i < G_N_ELEMENTS (waiters); i++)
    ps_test_reap_ok (waiters[i], ps_test_scaled_s (10));

  g_assert_cmpint (shared->owner_dead, ==, 1);
  g_assert_cmpint (shared->plain, ==, G_N_ELEMENTS (waiters) - 1);
  g_assert_cmpint (shared->failures, ==, 0);
  g_assert_cmpint (shared->violations, ==, 0);
  assert_lock (mutex);
  assert_unlock (mutex);
}

static int
not_recoverable_child (gpointer data)
{
  PsMutex *mutex = data;
  g_autoptr(GError) error = NULL;

  if (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE))
    return 1;
  g_clear_error (&error);
  if (ps_mutex_try_lock (mutex, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE))
    return 2;
  return 0;
}

static void
assert_not_recoverable (PsMutex *mutex)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  static const gint64 timeouts[] = { PS_TIMEOUT_INFINITE, 0, 100 * 1000 };
  Waiter waiter = { .mutex = mutex, .how = HOW_INFINITE };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (timeouts) * 2; i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (ps_mutex_lock (mutex, timeouts[i / 2], i % 2 ? cancellable : NULL,
                                     &error));
      g_assert_error (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE);
    }
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (ps_mutex_try_lock (mutex, &error));
    g_assert_error (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE);
  }

  /* Nobody holds it. */
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_unlock_not_owner (mutex);

  run_in_thread (lock_thread, &waiter);
  g_assert_false (waiter.result);
  g_assert_error (waiter.error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE);
  waiter_clear (&waiter);

  ps_test_reap_ok (ps_test_fork (not_recoverable_child, mutex, ps_test_scaled_s (30)), ps_test_scaled_s (30));
}

static void
test_owner_death_not_recoverable (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GError) error = NULL;

  kill_holder (fork_holder (mutex, shared, 1));
  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);

  /* Unlocking unrepaired data condemns the mutex. */
  assert_unlock (mutex);
  assert_not_recoverable (mutex);
  /* For good: a second round sees the same. */
  assert_not_recoverable (mutex);
}

/* A waiter blocked while the recovering holder gives up must be woken
 * and told, not left asleep. */
static void
test_owner_death_not_recoverable_wakes_waiter (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GError) error = NULL;
  Waiter waiter = { .mutex = mutex, .timeout = PS_TIMEOUT_INFINITE };
  GThread *thread;
  gint64 unlock_time;

  kill_holder (fork_holder (mutex, shared, 1));
  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);

  waiter.checked = 1;
  thread = g_thread_new ("waiter", death_waiter_thread, &waiter);
  assert_wait_int (&waiter.started, 1);
  ps_test_wait_until_blocked (getpid (), g_atomic_int_get (&waiter.tid));

  unlock_time = g_get_monotonic_time ();
  assert_unlock (mutex);
  while (!g_atomic_int_get (&waiter.finished))
    {
      if (g_get_monotonic_time () - unlock_time > ps_test_scaled_us (DEATH_BOUND_US))
        g_error ("the waiter was not woken when the mutex became unrecoverable");
      g_usleep (500);
    }
  g_thread_join (thread);
  g_assert_false (waiter.result);
  g_assert_error (waiter.error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE);
  g_assert_cmpint (waiter.owner_after, ==, 0);
  waiter_clear (&waiter);
  assert_not_recoverable (mutex);
}

/* A thread of this very process that exits holding the lock. */
typedef struct
{
  PsMutex *mutex;
  pid_t    waiter_tid;
  gint     holding;
} ExitingArgs;

static void *
lock_and_exit_thread (void *data)
{
  ExitingArgs *args = data;

  if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return NULL;
  g_atomic_int_set (&args->holding, 1);
  if (args->waiter_tid != 0)
    ps_test_wait_until_blocked (getpid (), args->waiter_tid);
  return NULL;   /* exits still holding it */
}

/* macOS has no robust mutexes: the darwin backend recognises a dead holder
 * by its process, so a thread that exits holding a lock while its process
 * lives on cannot be detected there (see backends/darwin). */
static gboolean
skip_thread_death_on_darwin (void)
{
  if (g_strcmp0 (g_getenv ("PS_TEST_BACKEND"), "darwin") == 0)
    {
      g_test_skip ("the darwin backend cannot detect the death of a thread whose process lives on");
      return TRUE;
    }
  return FALSE;
}

static void
test_owner_death_thread_exit (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GError) error = NULL;
  ExitingArgs args = { mutex, 0, 0 };
  pthread_t thread;

  if (skip_thread_death_on_darwin ())
    return;

  g_assert_cmpint (pthread_create (&thread, NULL, lock_and_exit_thread, &args), ==, 0);
  g_assert_cmpint (pthread_join (thread, NULL), ==, 0);
  g_assert_cmpint (args.holding, ==, 1);

  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  assert_holds_and_recover (mutex);
}

static void
test_owner_death_thread_exit_waiting (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GError) error = NULL;
  ExitingArgs args = { mutex, gettid (), 0 };
  pthread_t thread;
  gint64 start;

  if (skip_thread_death_on_darwin ())
    return;

  g_assert_cmpint (pthread_create (&thread, NULL, lock_and_exit_thread, &args), ==, 0);
  assert_wait_int (&args.holding, 1);
  start = g_get_monotonic_time ();
  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  /* The thread exits as soon as it sees us blocked. */
  g_assert_cmpint (g_get_monotonic_time () - start, <=, ps_test_scaled_us (10 * G_USEC_PER_SEC));
  g_assert_cmpint (pthread_join (thread, NULL), ==, 0);
  assert_holds_and_recover (mutex);
}

/* A thread that exits holding the lock, and a new thread of the same
 * process after it (which may well get the dead one's thread id: the C
 * library recycles thread descriptors). The newcomer is not the holder. */
typedef struct
{
  PsMutex   *mutex;
  guint      depth;
  pthread_t  dead_id;
  gboolean   same_id;
  gboolean   unlock_result;
  GError    *unlock_error;
  gboolean   mark_result;
  GError    *mark_error;
  gboolean   lock_result;
  GError    *lock_error;
  GPid       owner_before;
  GPid       owner_after;
  gboolean   recovered;
} ReuseArgs;

static void *
lock_deep_and_exit_thread (void *data)
{
  ReuseArgs *args = data;
  guint i;

  args->dead_id = pthread_self ();
  for (i = 0; i < args->depth; i++)
    if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
      return NULL;
  return NULL;   /* exits still holding it */
}

static void *
newcomer_thread (void *data)
{
  ReuseArgs *args = data;

  args->same_id = pthread_equal (pthread_self (), args->dead_id);
  args->mark_result = ps_mutex_mark_consistent (args->mutex, &args->mark_error);
  args->unlock_result = ps_mutex_unlock (args->mutex, &args->unlock_error);
  args->owner_before = ps_mutex_get_owner_pid (args->mutex);
  args->lock_result = ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, &args->lock_error);
  args->owner_after = ps_mutex_get_owner_pid (args->mutex);
  if (g_error_matches (args->lock_error, PS_ERROR, PS_ERROR_OWNER_DEAD))
    args->recovered = ps_mutex_mark_consistent (args->mutex, NULL) &&
                      ps_mutex_unlock (args->mutex, NULL);
  return NULL;
}

static void
test_owner_death_thread_id_reuse (gconstpointer data)
{
  gboolean recursive = GPOINTER_TO_INT (data);
  g_autoptr(PsMutex) mutex = new_mutex (recursive);
  ReuseArgs args = { .mutex = mutex, .depth = recursive ? 2 : 1 };
  pthread_t thread;

  if (skip_thread_death_on_darwin ())
    return;

  g_assert_cmpint (pthread_create (&thread, NULL, lock_deep_and_exit_thread, &args), ==, 0);
  g_assert_cmpint (pthread_join (thread, NULL), ==, 0);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  g_assert_cmpint (pthread_create (&thread, NULL, newcomer_thread, &args), ==, 0);
  g_assert_cmpint (pthread_join (thread, NULL), ==, 0);
  g_test_message ("the newcomer %s the dead holder's pthread_t",
                  args.same_id ? "reused" : "did not reuse");

  g_assert_false (args.mark_result);
  g_assert_error (args.mark_error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_assert_false (args.unlock_result);
  g_assert_error (args.unlock_error, PS_ERROR, PS_ERROR_NOT_OWNER);
  /* The failed calls left the dead holder's record alone. */
  g_assert_cmpint (args.owner_before, ==, getpid ());
  g_assert_false (args.lock_result);
  g_assert_error (args.lock_error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_assert_cmpint (args.owner_after, ==, getpid ());
  g_assert_true (args.recovered);
  g_clear_error (&args.unlock_error);
  g_clear_error (&args.mark_error);
  g_clear_error (&args.lock_error);

  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_lock (mutex);
  assert_unlock (mutex);
}

/* Each death is reported once: a recovering holder that dies in turn
 * is a second death, reported to the next locker. */
static int
die_recovering_child (gpointer data)
{
  PsMutex *mutex = data;
  g_autoptr(GError) error = NULL;

  if (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
    return 1;
  kill (getpid (), SIGKILL);
  return 2;
}

static void
test_owner_death_twice (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GError) error = NULL;

  kill_holder (fork_holder (mutex, shared, 1));
  ps_test_reap_killed (ps_test_fork (die_recovering_child, mutex, ps_test_scaled_s (30)));

  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  assert_holds_and_recover (mutex);
}

static void
test_owner_death_recursive (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (TRUE);
  g_autoptr(GError) error = NULL;

  kill_holder (fork_holder (mutex, shared, 3));

  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());

  /* Held once, by us: the dead holder's depth is not inherited. */
  assert_lock (mutex);
  g_assert_true (ps_mutex_mark_consistent (mutex, &error));
  g_assert_no_error (error);
  assert_unlock (mutex);
  assert_busy_for_other_process (mutex, getpid ());
  assert_last_unlock_frees (mutex);
}

static void
test_owner_death_recursive_not_recoverable (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (TRUE);
  g_autoptr(GError) error = NULL;

  kill_holder (fork_holder (mutex, shared, 2));
  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  assert_unlock (mutex);
  assert_not_recoverable (mutex);
}

static int
peer_die_holding (const char *mutex_name,
                  const char *shm_name)
{
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = peer_open (mutex_name, shm_name, &mutex, &memory);

  assert_lock (mutex);
  g_atomic_int_set (&shared->step, 1);
  g_usleep (ps_test_scaled_us (120 * G_USEC_PER_SEC));   /* until killed */
  return 2;
}

static void
test_owner_death_named_peer (void)
{
  g_autoptr(GError) error = NULL;
  NamedPeer peer;
  GPid pid;

  named_peer_init (&peer, "mutex-death");
  pid = ps_test_spawn_peer ("die-holding", peer.mutex_name, peer.shm_name, NULL);
  assert_wait_int (&peer.shared->step, 1);
  g_assert_cmpint (ps_mutex_get_owner_pid (peer.mutex), ==, pid);
  kill_holder (pid);

  g_assert_false (ps_mutex_lock (peer.mutex, 10 * G_USEC_PER_SEC, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  assert_holds_and_recover (peer.mutex);

  named_peer_clear (&peer);
}

static int
placed_hold_child (gpointer data)
{
  PsSharedMemory *memory = data;
  g_autoptr(PsMutex) mutex = NULL;
  gint *step = ps_shared_memory_get_data (memory);

  mutex = ps_mutex_attach (memory, PLACED_OFFSET, NULL);
  if (mutex == NULL || !ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 1;
  g_atomic_int_set (step, 1);
  g_usleep (ps_test_scaled_us (120 * G_USEC_PER_SEC));   /* until killed */
  return 2;
}

static void
test_owner_death_placed (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;
  pid_t pid;

  memory = ps_shared_memory_new (PLACED_SIZE, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_new_at (memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);

  pid = ps_test_fork (placed_hold_child, memory, ps_test_scaled_s (120));
  assert_wait_int (ps_shared_memory_get_data (memory), 1);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  kill_holder (pid);

  g_assert_false (ps_mutex_try_lock (mutex, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  assert_holds_and_recover (mutex);
}

/* Main ---------------------------------------------------------------------- */

static int
run_peer (int    argc,
          char **argv)
{
  ps_test_watchdog (ps_test_scaled_s (150));

  if (argc == 3 && g_str_equal (argv[0], "die-holding"))
    return peer_die_holding (argv[1], argv[2]);

  g_printerr ("test-owner-death: unknown peer mode\n");
  return 99;
}

int
main (int argc, char *argv[])
{
  static const struct { const char *name; LockHow how; } next_lockers[] = {
    { "infinite", HOW_INFINITE },
    { "zero", HOW_ZERO },
    { "timed", HOW_TIMED },
    { "cancellable", HOW_CANCELLABLE },
    { "try-lock", HOW_TRY },
  };
  static const struct { const char *name; LockHow how; } waiting_lockers[] = {
    { "infinite", HOW_INFINITE },
    { "timed", HOW_TIMED },
    { "cancellable", HOW_CANCELLABLE },
  };
  guint i;

  ps_test_init (&argc, &argv, run_peer);
  ps_test_watchdog (ps_test_scaled_s (170));

  for (i = 0; i < G_N_ELEMENTS (next_lockers); i++)
    {
      g_autofree char *path = g_strdup_printf ("/mutex/owner-death/next-locker/%s",
                                               next_lockers[i].name);

      ps_test_add_data (path, test_owner_death_next_locker,
                        GINT_TO_POINTER (next_lockers[i].how));
    }
  for (i = 0; i < G_N_ELEMENTS (waiting_lockers); i++)
    {
      g_autofree char *path = g_strdup_printf ("/mutex/owner-death/waiting-locker/%s",
                                               waiting_lockers[i].name);

      ps_test_add_data (path, test_owner_death_waiting_locker,
                        GINT_TO_POINTER (waiting_lockers[i].how));
    }
  ps_test_add ("/mutex/owner-death/one-of-many-waiters", test_owner_death_one_of_many);
  ps_test_add ("/mutex/owner-death/not-recoverable", test_owner_death_not_recoverable);
  ps_test_add ("/mutex/owner-death/not-recoverable-wakes-waiter",
               test_owner_death_not_recoverable_wakes_waiter);
  ps_test_add ("/mutex/owner-death/thread-exit", test_owner_death_thread_exit);
  ps_test_add ("/mutex/owner-death/thread-exit-waiting", test_owner_death_thread_exit_waiting);
  ps_test_add_data ("/mutex/owner-death/thread-id-reuse/plain",
                    test_owner_death_thread_id_reuse, GINT_TO_POINTER (FALSE));
  ps_test_add_data ("/mutex/owner-death/thread-id-reuse/recursive",
                    test_owner_death_thread_id_reuse, GINT_TO_POINTER (TRUE));
  ps_test_add ("/mutex/owner-death/twice", test_owner_death_twice);
  ps_test_add ("/mutex/owner-death/recursive", test_owner_death_recursive);
  ps_test_add ("/mutex/owner-death/recursive-not-recoverable",
               test_owner_death_recursive_not_recoverable);
  ps_test_add ("/mutex/owner-death/named-peer", test_owner_death_named_peer);
  ps_test_add ("/mutex/owner-death/placed", test_owner_death_placed);

  return g_test_run ();
}
