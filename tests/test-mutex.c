/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsMutex across real processes: the three sharing models, per-thread
 * ownership, recursion, timeouts, cancellation, robustness against the
 * death of a holder, racing named creation, header checks, and the
 * footprint of anonymous objects (the pool and its fork() semantics).
 *
 * Peers that must be separately spawned processes re-exec this binary
 * with `--peer MODE ARGS...`, handled before g_test_init().
 */

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "ps-test-util.h"
#include "ps-object-header-private.h"

G_STATIC_ASSERT (G_STRUCT_OFFSET (PsObjectHeader, layout_version) == 4);
G_STATIC_ASSERT (G_STRUCT_OFFSET (PsObjectHeader, type) == 6);
G_STATIC_ASSERT (G_STRUCT_OFFSET (PsObjectHeader, backend) == 7);

#define N_COUNTER_PROCS   10
#define N_COUNTER_ITERS   1000
#define N_RACERS          10
#define N_RACER_ITERS     300
#define N_OPENERS         4
#define N_FOOTPRINT       1000
#define N_AFTER_FORK      300
#define N_PRE_FORK        8
#define DEATH_BOUND_US    (2 * G_USEC_PER_SEC)
#define CANCEL_BOUND_US   (50 * 1000)

static char *self_exe;

/* Coordination between a test and its children, in shared memory. */
typedef struct
{
  gint   step;
  gint   ready;
  gint   go;
  gint   done;
  gint   in_critical;
  gint   violations;
  gint   owner_dead;
  gint   plain;
  gint   failures;
  gint   parent_pid;
  gint64 counter;
  gint64 stamp;
} Shared;

/* Helpers ------------------------------------------------------------------ */

static double
time_scale (void)
{
  const char *value = g_getenv ("PS_TEST_TIME_SCALE");
  double scale = value != NULL ? g_ascii_strtod (value, NULL) : 1.0;

  return scale >= 1.0 ? scale : 1.0;
}

static gint64
scaled_us (gint64 us)
{
  return (gint64) (us * time_scale ());
}

static guint
scaled_s (guint seconds)
{
  double scaled = seconds * time_scale ();
  guint whole = (guint) scaled;

  return whole < scaled ? whole + 1 : whole;   /* round up, without libm */
}

static Shared *
shared_new (PsSharedMemory **out_memory)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory;

  memory = ps_shared_memory_new (sizeof (Shared), &error);
  g_assert_no_error (error);
  *out_memory = memory;
  return ps_shared_memory_get_data (memory);
}

/* Polls (bounded) until *@location holds @value. */
static gboolean
wait_int (gint  *location,
          gint   value,
          guint  seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) scaled_s (seconds) * G_USEC_PER_SEC;

  while (g_atomic_int_get (location) != value)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (500);
    }
  return TRUE;
}

static void
assert_wait_int (gint  *location,
                 gint   value)
{
  if (!wait_int (location, value, 20))
    g_error ("waited in vain for %d (it is %d)", value, g_atomic_int_get (location));
}


static void
wait_until_blocked (pid_t pid,
                    pid_t tid)
{
  gint64 deadline = g_get_monotonic_time () + scaled_us (20 * G_USEC_PER_SEC);

  if (!g_file_test ("/proc/self/syscall", G_FILE_TEST_EXISTS))
    {
      /* No way to see it on this kernel: give it ample time instead. */
      g_usleep (scaled_us (300 * 1000));
      return;
    }

  while (!ps_test_task_in_futex_wait (pid, tid))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("thread %d of %d never blocked", (int) tid, (int) pid);
      g_usleep (200);
    }
  /* Two consecutive sightings: not a passing futex call on the way. */
  g_usleep (2000);
  while (!ps_test_task_in_futex_wait (pid, tid))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("thread %d of %d never blocked", (int) tid, (int) pid);
      g_usleep (200);
    }
}

static void
reap_killed (pid_t pid)
{
  int status = ps_test_reap (pid, scaled_s (20));

  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
}

/* Fork a child that holds @mutex (locked @depth times) until it is
 * killed; returns once it holds it. */
typedef struct
{
  PsMutex *mutex;
  Shared  *shared;
  guint    depth;
} HoldArgs;

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
  g_usleep (scaled_us (120 * G_USEC_PER_SEC));
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
  pid = ps_test_fork (hold_until_killed_child, &args, scaled_s (120));
  assert_wait_int (&shared->step, 1);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  return pid;
}

static void
kill_holder (pid_t pid)
{
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  reap_killed (pid);
}

/* Fork a child that holds @mutex until shared->step becomes 2, then
 * unlocks it and exits. */
static int
hold_until_step_child (gpointer data)
{
  HoldArgs *args = data;

  if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 1;
  g_atomic_int_set (&args->shared->step, 1);
  if (!wait_int (&args->shared->step, 2, 60))
    return 2;
  if (!ps_mutex_unlock (args->mutex, NULL))
    return 3;
  return 0;
}

static pid_t
fork_step_holder (PsMutex *mutex,
                  Shared  *shared)
{
  HoldArgs args = { mutex, shared, 1 };
  pid_t pid;

  g_atomic_int_set (&shared->step, 0);
  pid = ps_test_fork (hold_until_step_child, &args, scaled_s (90));
  assert_wait_int (&shared->step, 1);
  return pid;
}

static void
release_step_holder (Shared *shared,
                     pid_t   pid)
{
  g_atomic_int_set (&shared->step, 2);
  ps_test_reap_ok (pid, scaled_s (30));
}

static PsMutex *
new_mutex (gboolean recursive)
{
  g_autoptr(GError) error = NULL;
  PsMutex *mutex;

  mutex = recursive ? ps_mutex_new_recursive (&error) : ps_mutex_new (&error);
  g_assert_no_error (error);
  g_assert_nonnull (mutex);
  return mutex;
}

static void
assert_lock (PsMutex *mutex)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_no_error (error);
}

static void
assert_unlock (PsMutex *mutex)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
}

static void
assert_unlock_not_owner (PsMutex *mutex)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (ps_mutex_unlock (mutex, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
}

/* Locks in one of the ways a locker can meet a mutex. */
typedef enum
{
  HOW_INFINITE,
  HOW_ZERO,
  HOW_TIMED,
  HOW_CANCELLABLE,
  HOW_TRY,
} LockHow;

static gboolean
lock_how (PsMutex  *mutex,
          LockHow   how,
          GError  **error)
{
  g_autoptr(GCancellable) cancellable = NULL;

  switch (how)
    {
    case HOW_INFINITE:
      return ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, error);
    case HOW_ZERO:
      return ps_mutex_lock (mutex, 0, NULL, error);
    case HOW_TIMED:
      return ps_mutex_lock (mutex, 30 * G_USEC_PER_SEC, NULL, error);
    case HOW_CANCELLABLE:
      cancellable = g_cancellable_new ();
      return ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, cancellable, error);
    case HOW_TRY:
      return ps_mutex_try_lock (mutex, error);
    default:
      g_assert_not_reached ();
    }
}

/* A thread that runs one call and reports back. */
typedef struct
{
  PsMutex      *mutex;
  LockHow       how;
  GCancellable *cancellable;
  gint64        timeout;
  gint          tid;
  gint          started;
  gint          finished;
  gint          checked;
  gint64        end_time;
  gboolean      result;
  GError       *error;
  GPid          owner_after;
  gboolean      mark_ok;
  gboolean      unlock_ok;
} Waiter;

static void
waiter_clear (Waiter *waiter)
{
  g_clear_error (&waiter->error);
}

static gpointer
unlock_thread (gpointer data)
{
  Waiter *waiter = data;

  waiter->result = ps_mutex_unlock (waiter->mutex, &waiter->error);
  waiter->owner_after = ps_mutex_get_owner_pid (waiter->mutex);
  return NULL;
}

static gpointer
mark_thread (gpointer data)
{
  Waiter *waiter = data;

  waiter->result = ps_mutex_mark_consistent (waiter->mutex, &waiter->error);
  return NULL;
}

static gpointer
try_lock_thread (gpointer data)
{
  Waiter *waiter = data;

  waiter->result = ps_mutex_try_lock (waiter->mutex, &waiter->error);
  if (waiter->result)
    waiter->unlock_ok = ps_mutex_unlock (waiter->mutex, NULL);
  return NULL;
}

static gpointer
lock_thread (gpointer data)
{
  Waiter *waiter = data;

  waiter->result = lock_how (waiter->mutex, waiter->how, &waiter->error);
  if (waiter->result)
    waiter->unlock_ok = ps_mutex_unlock (waiter->mutex, NULL);
  return NULL;
}

/* Runs @func in a new thread and waits for it. */
static void
run_in_thread (GThreadFunc  func,
               Waiter      *waiter)
{
  GThread *thread = g_thread_new ("mutex-test", func, waiter);

  g_thread_join (thread);
}

/* What another thread of this process sees: busy, without an error. */
static void
assert_busy_for_other_thread (PsMutex *mutex)
{
  Waiter waiter = { .mutex = mutex };

  run_in_thread (try_lock_thread, &waiter);
  g_assert_false (waiter.result);
  g_assert_no_error (waiter.error);
}

/* What another process sees: busy, without an error, held by @owner. */
typedef struct
{
  PsMutex *mutex;
  GPid     owner;
} BusyArgs;

static int
busy_child (gpointer data)
{
  BusyArgs *args = data;
  g_autoptr(GError) error = NULL;

  if (ps_mutex_get_owner_pid (args->mutex) != args->owner)
    return 1;
  if (ps_mutex_try_lock (args->mutex, &error) || error != NULL)
    return 2;
  if (ps_mutex_lock (args->mutex, 0, NULL, &error) ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return 3;
  return 0;
}

static void
assert_busy_for_other_process (PsMutex *mutex,
                               GPid     owner)
{
  BusyArgs args = { mutex, owner };

  ps_test_reap_ok (ps_test_fork (busy_child, &args, scaled_s (30)), scaled_s (30));
}

static int
plain_lock_child (gpointer data)
{
  PsMutex *mutex = data;
  g_autoptr(GError) error = NULL;

  if (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error))
    return 1;
  if (ps_mutex_get_owner_pid (mutex) != getpid ())
    return 2;
  if (!ps_mutex_unlock (mutex, &error))
    return 3;
  return 0;
}

/* What another process sees: free, and taken by a plain lock. */
static void
assert_free_for_other_process (PsMutex *mutex)
{
  ps_test_reap_ok (ps_test_fork (plain_lock_child, mutex, scaled_s (30)), scaled_s (30));
}

/* Basics -------------------------------------------------------------------- */

static void
test_basic_lock_unlock (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(PsMutex) recursive = new_mutex (TRUE);
  g_autoptr(GError) error = NULL;

  g_assert_false (ps_mutex_is_recursive (mutex));
  g_assert_true (ps_mutex_is_recursive (recursive));
  g_assert_null (ps_mutex_get_name (mutex));

  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_lock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_unlock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);

  g_assert_true (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  /* On a consistent mutex, marking it consistent changes nothing. */
  g_assert_true (ps_mutex_mark_consistent (mutex, &error));
  g_assert_no_error (error);
  assert_unlock (mutex);

  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_no_error (error);
  assert_unlock (mutex);
  g_assert_true (ps_mutex_lock (mutex, G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  assert_unlock (mutex);

  /* Marking needs the lock. */
  g_assert_false (ps_mutex_mark_consistent (mutex, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_NOT_OWNER);
}

static void
test_basic_owner_pid_snapshot (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  pid_t pid;

  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  pid = fork_step_holder (mutex, shared);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  release_step_holder (shared, pid);
  /* A snapshot: it follows the mutex, not the moment we first asked. */
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_lock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_unlock (mutex);
}

static void
test_basic_try_lock_busy (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GError) error = NULL;
  pid_t pid;

  pid = fork_step_holder (mutex, shared);

  /* Merely busy: FALSE without an error. */
  g_assert_false (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  assert_busy_for_other_thread (mutex);

  release_step_holder (shared, pid);
  g_assert_true (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  assert_unlock (mutex);
}

/* Sharing models ------------------------------------------------------------ */

/* Anonymous, over fork: the child blocks on the parent's lock, and sees
 * the data written before the unlock. */
typedef struct
{
  PsMutex *mutex;
  Shared  *shared;
  GPid     parent;
} ForkArgs;

static int
anonymous_child (gpointer data)
{
  ForkArgs *args = data;
  g_autoptr(GError) error = NULL;

  if (ps_mutex_get_owner_pid (args->mutex) != args->parent)
    return 1;
  if (ps_mutex_try_lock (args->mutex, &error) || error != NULL)
    return 2;
  g_atomic_int_set (&args->shared->step, 1);
  if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, &error))
    return 3;
  if (args->shared->counter != 42)
    return 4;
  if (ps_mutex_get_owner_pid (args->mutex) != getpid ())
    return 5;
  args->shared->counter = 43;
  if (!ps_mutex_unlock (args->mutex, &error))
    return 6;
  return 0;
}

static void
test_anonymous_fork (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  ForkArgs args = { mutex, shared, getpid () };
  pid_t pid;

  assert_lock (mutex);
  pid = ps_test_fork (anonymous_child, &args, scaled_s (60));
  assert_wait_int (&shared->step, 1);
  g_usleep (20 * 1000);   /* let the child go to sleep on the lock */
  shared->counter = 42;
  assert_unlock (mutex);
  ps_test_reap_ok (pid, scaled_s (30));

  assert_lock (mutex);
  g_assert_cmpint (shared->counter, ==, 43);
  assert_unlock (mutex);
}

/* Named, with a separately spawned (exec'ed) peer. */
static GPid
spawn_peer (const char *mode,
            ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *arg;
  va_list args;
  GPid pid = 0;

  g_ptr_array_add (argv, self_exe);
  g_ptr_array_add (argv, (char *) "--peer");
  g_ptr_array_add (argv, (char *) mode);
  va_start (args, mode);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  g_spawn_async (NULL, (char **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                 NULL, NULL, &pid, &error);
  g_assert_no_error (error);
  return pid;
}

static PsMutex *
open_mutex (const char  *name,
            PsOpenFlags  flags)
{
  g_autoptr(GError) error = NULL;
  PsMutex *mutex = ps_mutex_open (name, flags, &error);

  g_assert_no_error (error);
  g_assert_nonnull (mutex);
  return mutex;
}

static PsSharedMemory *
create_named_shared (const char *name)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory;

  memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                  sizeof (Shared), &error);
  g_assert_no_error (error);
  return memory;
}

static void
unlink_name (const char *name)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

static int
peer_handshake (const char *mutex_name,
                const char *shm_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared;

  mutex = ps_mutex_open (mutex_name, PS_OPEN_NONE, &error);
  g_assert_no_error (error);
  memory = ps_shared_memory_open (shm_name, PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  shared = ps_shared_memory_get_data (memory);

  g_assert_cmpstr (ps_mutex_get_name (mutex), ==, mutex_name);
  g_assert_false (ps_mutex_is_recursive (mutex));
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, shared->parent_pid);
  g_assert_false (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  assert_unlock_not_owner (mutex);

  g_atomic_int_set (&shared->step, 1);
  assert_lock (mutex);
  g_assert_cmpint (shared->counter, ==, 7);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  g_atomic_int_set (&shared->step, 2);
  g_assert_true (wait_int (&shared->step, 3, 30));
  assert_unlock (mutex);
  g_atomic_int_set (&shared->step, 4);
  return 0;
}

static void
test_named_exec_peer (void)
{
  g_autofree char *mutex_name = ps_test_unique_name ("mutex");
  g_autofree char *shm_name = ps_test_unique_name ("mutex-data");
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared;
  GPid pid;

  mutex = open_mutex (mutex_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE);
  g_assert_cmpstr (ps_mutex_get_name (mutex), ==, mutex_name);
  memory = create_named_shared (shm_name);
  shared = ps_shared_memory_get_data (memory);
  shared->parent_pid = getpid ();

  assert_lock (mutex);
  pid = spawn_peer ("handshake", mutex_name, shm_name, NULL);
  assert_wait_int (&shared->step, 1);
  shared->counter = 7;
  assert_unlock (mutex);

  assert_wait_int (&shared->step, 2);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  g_assert_false (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  g_assert_false (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  assert_unlock_not_owner (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);

  g_atomic_int_set (&shared->step, 3);
  assert_wait_int (&shared->step, 4);
  ps_test_reap_ok (pid, scaled_s (30));
  assert_lock (mutex);
  assert_unlock (mutex);

  unlink_name (mutex_name);
  unlink_name (shm_name);
}

static int
peer_check_recursive (const char *name,
                      const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  gboolean recursive = g_str_equal (expected, "1");

  mutex = ps_mutex_open (name, PS_OPEN_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ps_mutex_is_recursive (mutex), ==, recursive);

  assert_lock (mutex);
  if (recursive)
    {
      assert_lock (mutex);
      assert_lock (mutex);
      assert_unlock (mutex);
      assert_unlock (mutex);
    }
  else
    {
      g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
      g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
    }
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_unlock (mutex);
  assert_unlock_not_owner (mutex);
  return 0;
}

static void
test_named_recursive_peer (void)
{
  g_autofree char *recursive_name = ps_test_unique_name ("mutex-rec");
  g_autofree char *plain_name = ps_test_unique_name ("mutex-plain");
  g_autoptr(PsMutex) recursive = NULL;
  g_autoptr(PsMutex) plain = NULL;
  g_autoptr(PsMutex) reopened = NULL;
  g_autoptr(GError) error = NULL;

  recursive = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                              "name", recursive_name,
                              "open-flags", PS_OPEN_CREATE,
                              "recursive", TRUE,
                              NULL);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_is_recursive (recursive));
  plain = open_mutex (plain_name, PS_OPEN_CREATE);
  g_assert_false (ps_mutex_is_recursive (plain));

  ps_test_reap_ok (spawn_peer ("check-recursive", recursive_name, "1", NULL), scaled_s (30));
  ps_test_reap_ok (spawn_peer ("check-recursive", plain_name, "0", NULL), scaled_s (30));

  /* Opening reports what the creator chose, whatever the opener asked. */
  reopened = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                             "name", plain_name,
                             "open-flags", PS_OPEN_CREATE,
                             "recursive", TRUE,
                             NULL);
  g_assert_no_error (error);
  g_assert_false (ps_mutex_is_recursive (reopened));

  unlink_name (recursive_name);
  unlink_name (plain_name);
}

/* Placed inside a PsSharedMemory, attached from a forked child. */
#define PLACED_SIZE   4096
#define PLACED_OFFSET 256

typedef struct
{
  PsSharedMemory *memory;
  GPid            parent;
} PlacedArgs;

static int
placed_child (gpointer data)
{
  PlacedArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  gint64 *guarded = ps_shared_memory_get_data (args->memory);
  gint *step = (gint *) (guarded + 1);

  mutex = ps_mutex_attach (args->memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);
  g_assert_false (ps_mutex_is_recursive (mutex));
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, args->parent);
  g_assert_false (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);

  g_atomic_int_set (step, 1);
  assert_lock (mutex);
  g_assert_cmpint (*guarded, ==, 100);
  *guarded = 101;
  assert_unlock (mutex);
  return 0;
}

static void
test_placed_fork (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsMutex) attached = NULL;
  g_autoptr(GError) error = NULL;
  gint64 *guarded;
  PlacedArgs args;
  pid_t pid;

  memory = ps_shared_memory_new (PLACED_SIZE, &error);
  g_assert_no_error (error);
  guarded = ps_shared_memory_get_data (memory);

  mutex = ps_mutex_new_at (memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);
  g_assert_false (ps_mutex_is_recursive (mutex));

  /* A second object on the same place is the same mutex. */
  attached = ps_mutex_attach (memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);
  assert_lock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (attached), ==, getpid ());
  g_assert_false (ps_mutex_lock (attached, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);

  args.memory = memory;
  args.parent = getpid ();
  pid = ps_test_fork (placed_child, &args, scaled_s (60));
  assert_wait_int ((gint *) (guarded + 1), 1);
  *guarded = 100;
  assert_unlock (attached);   /* the same lock, so either object unlocks it */
  ps_test_reap_ok (pid, scaled_s (30));

  assert_lock (attached);
  g_assert_cmpint (*guarded, ==, 101);
  assert_unlock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
}

static void
test_placed_recursive (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsMutex) attached = NULL;
  g_autoptr(GError) error = NULL;

  memory = ps_shared_memory_new (PLACED_SIZE, &error);
  g_assert_no_error (error);
  mutex = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                          "memory", memory,
                          "offset", (guint64) PLACED_OFFSET,
                          "recursive", TRUE,
                          NULL);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_is_recursive (mutex));

  attached = ps_mutex_attach (memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_is_recursive (attached));
  assert_lock (mutex);
  assert_lock (attached);
  assert_unlock (mutex);
  assert_unlock (attached);
  assert_unlock_not_owner (mutex);
}

/* Placed in a named segment and attached by an exec'ed peer, which maps
 * it at an address of its own. */
static int
peer_placed (const char *shm_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  Shared *shared;

  memory = ps_shared_memory_open (shm_name, PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  shared = ps_shared_memory_get_data (memory);
  mutex = ps_mutex_attach (memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);

  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, shared->parent_pid);
  g_atomic_int_set (&shared->step, 1);
  assert_lock (mutex);
  g_assert_cmpint (shared->counter, ==, 5);
  shared->counter = 6;
  assert_unlock (mutex);
  return 0;
}

static void
test_placed_exec_peer (void)
{
  g_autofree char *shm_name = ps_test_unique_name ("mutex-placed");
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared;
  GPid pid;

  G_STATIC_ASSERT (sizeof (Shared) <= PLACED_OFFSET);
  memory = ps_shared_memory_open (shm_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                  PLACED_SIZE, &error);
  g_assert_no_error (error);
  shared = ps_shared_memory_get_data (memory);
  shared->parent_pid = getpid ();
  mutex = ps_mutex_new_at (memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);

  assert_lock (mutex);
  pid = spawn_peer ("placed", shm_name, NULL);
  assert_wait_int (&shared->step, 1);
  shared->counter = 5;
  assert_unlock (mutex);
  ps_test_reap_ok (pid, scaled_s (30));

  assert_lock (mutex);
  g_assert_cmpint (shared->counter, ==, 6);
  assert_unlock (mutex);
  unlink_name (shm_name);
}

/* A mutex, a condition and a semaphore next to the data they guard, in
 * one segment, attached from a forked child. */
#define TRIO_MUTEX_OFFSET 0
#define TRIO_COND_OFFSET  (TRIO_MUTEX_OFFSET + PS_MUTEX_SIZE)
#define TRIO_SEM_OFFSET   (TRIO_COND_OFFSET + PS_COND_SIZE)
#define TRIO_DATA_OFFSET  (TRIO_SEM_OFFSET + PS_SEMAPHORE_SIZE)
#define TRIO_SIZE         (TRIO_DATA_OFFSET + 64)

/* Waits, predicate loop and all, until *@value reaches @wanted. */
static gboolean
cond_wait_for (PsCond  *cond,
               PsMutex *mutex,
               gint64  *value,
               gint64   wanted)
{
  gint64 end_time = g_get_monotonic_time () + scaled_us (20 * G_USEC_PER_SEC);

  while (*value != wanted)
    {
      g_autoptr(GError) error = NULL;

      if (!ps_cond_wait_until (cond, mutex, end_time, NULL, &error))
        return FALSE;
    }
  return TRUE;
}

static int
trio_child (gpointer data)
{
  PsSharedMemory *memory = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  gint64 *value = (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + TRIO_DATA_OFFSET);

  mutex = ps_mutex_attach (memory, TRIO_MUTEX_OFFSET, &error);
  g_assert_no_error (error);
  cond = ps_cond_attach (memory, TRIO_COND_OFFSET, &error);
  g_assert_no_error (error);
  semaphore = ps_semaphore_attach (memory, TRIO_SEM_OFFSET, &error);
  g_assert_no_error (error);

  /* The parent's go-ahead. */
  g_assert_true (ps_semaphore_acquire (semaphore, scaled_us (20 * G_USEC_PER_SEC), NULL, &error));
  g_assert_no_error (error);

  assert_lock (mutex);
  g_assert_cmpint (*value, ==, 0);
  *value = 1;
  ps_cond_signal (cond);
  g_assert_true (cond_wait_for (cond, mutex, value, 2));
  *value = 3;
  ps_cond_broadcast (cond);
  assert_unlock (mutex);
  return 0;
}

static void
test_placed_trio (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(GError) error = NULL;
  gint64 *value;
  pid_t pid;

  memory = ps_shared_memory_new (TRIO_SIZE, &error);
  g_assert_no_error (error);
  value = (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + TRIO_DATA_OFFSET);
  mutex = ps_mutex_new_at (memory, TRIO_MUTEX_OFFSET, &error);
  g_assert_no_error (error);
  cond = ps_cond_new_at (memory, TRIO_COND_OFFSET, &error);
  g_assert_no_error (error);
  semaphore = ps_semaphore_new_at (memory, TRIO_SEM_OFFSET, 0, &error);
  g_assert_no_error (error);

  pid = ps_test_fork (trio_child, memory, scaled_s (60));

  assert_lock (mutex);
  g_assert_true (ps_semaphore_release (semaphore, &error));
  g_assert_no_error (error);
  g_assert_true (cond_wait_for (cond, mutex, value, 1));
  *value = 2;
  ps_cond_broadcast (cond);
  g_assert_true (cond_wait_for (cond, mutex, value, 3));
  assert_unlock (mutex);

  ps_test_reap_ok (pid, scaled_s (30));
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 0);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
}

/* Ownership ----------------------------------------------------------------- */

static void
test_not_owner_nobody (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(PsMutex) recursive = new_mutex (TRUE);

  assert_unlock_not_owner (mutex);
  assert_unlock_not_owner (recursive);
  /* Nothing changed: it is still free for anyone. */
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_lock (mutex);
  assert_unlock (mutex);
  assert_unlock_not_owner (mutex);
}

static void
test_not_owner_other_thread (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  Waiter waiter = { .mutex = mutex };
  Waiter locker = { .mutex = mutex, .how = HOW_ZERO };

  assert_lock (mutex);
  run_in_thread (unlock_thread, &waiter);
  g_assert_false (waiter.result);
  g_assert_error (waiter.error, PS_ERROR, PS_ERROR_NOT_OWNER);
  g_assert_cmpint (waiter.owner_after, ==, getpid ());
  waiter_clear (&waiter);

  /* Same process, other thread: busy, not a relock. */
  assert_busy_for_other_thread (mutex);
  run_in_thread (lock_thread, &locker);
  g_assert_false (locker.result);
  g_assert_error (locker.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  waiter_clear (&locker);

  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_unlock (mutex);
}

static int
unlock_not_owner_child (gpointer data)
{
  ForkArgs *args = data;
  g_autoptr(GError) error = NULL;

  if (ps_mutex_unlock (args->mutex, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 1;
  g_clear_error (&error);
  if (ps_mutex_mark_consistent (args->mutex, &error) ||
      !g_error_matches (error, PS_ERROR, PS_ERROR_NOT_OWNER))
    return 2;
  if (ps_mutex_get_owner_pid (args->mutex) != args->parent)
    return 3;
  return 0;
}

static void
test_not_owner_other_process (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  ForkArgs args = { mutex, shared, getpid () };
  pid_t pid;

  /* A child cannot unlock the parent's lock... */
  assert_lock (mutex);
  ps_test_reap_ok (ps_test_fork (unlock_not_owner_child, &args, scaled_s (30)), scaled_s (30));
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_busy_for_other_process (mutex, getpid ());
  assert_unlock (mutex);

  /* ...nor the parent the child's. */
  pid = fork_step_holder (mutex, shared);
  assert_unlock_not_owner (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  assert_busy_for_other_thread (mutex);
  release_step_holder (shared, pid);   /* the child's own unlock still works */
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
}

static void
test_relock_would_deadlock (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  assert_lock (mutex);

  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_mutex_lock (mutex, 10 * G_USEC_PER_SEC, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, cancellable, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ps_mutex_try_lock (mutex, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);

  /* Still held, once: one unlock frees it. */
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_busy_for_other_process (mutex, getpid ());
  assert_unlock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_unlock_not_owner (mutex);
  assert_free_for_other_process (mutex);
}

/* Recursion ----------------------------------------------------------------- */

static int
recursive_busy_child (gpointer data)
{
  ForkArgs *args = data;
  g_autoptr(GError) error = NULL;

  if (ps_mutex_get_owner_pid (args->mutex) != args->parent)
    return 1;
  if (ps_mutex_try_lock (args->mutex, &error) || error != NULL)
    return 2;
  if (ps_mutex_lock (args->mutex, 1000, NULL, &error) ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return 3;
  return 0;
}

static void
test_recursive_nested (void)
{
  g_autoptr(PsMutex) mutex = new_mutex (TRUE);
  g_autoptr(GError) error = NULL;
  ForkArgs args = { mutex, NULL, getpid () };
  Waiter waiter = { .mutex = mutex };
  guint depth;

  assert_lock (mutex);
  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_lock (mutex, G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  assert_lock (mutex);
  depth = 5;

  while (depth > 1)
    {
      /* Held by us against everyone else until the last unlock. */
      g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
      assert_busy_for_other_thread (mutex);
      run_in_thread (unlock_thread, &waiter);
      g_assert_false (waiter.result);
      g_assert_error (waiter.error, PS_ERROR, PS_ERROR_NOT_OWNER);
      waiter_clear (&waiter);
      if (depth == 2)
        ps_test_reap_ok (ps_test_fork (recursive_busy_child, &args, scaled_s (30)),
                         scaled_s (30));
      assert_unlock (mutex);
      depth--;
    }

  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_busy_for_other_thread (mutex);
  assert_unlock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_unlock_not_owner (mutex);
  assert_free_for_other_process (mutex);
}

/* Timeouts ------------------------------------------------------------------ */

static void
test_timeout_zero (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(PsMutex) recursive = new_mutex (TRUE);
  g_autoptr(GError) error = NULL;
  pid_t pid;

  pid = fork_step_holder (mutex, shared);
  g_assert_false (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  release_step_holder (shared, pid);

  pid = fork_step_holder (recursive, shared);
  g_assert_false (ps_mutex_lock (recursive, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  release_step_holder (shared, pid);
}

static void
test_timeout_never_early (void)
{
  static const gint64 timeouts[] = { 1, 999, 10 * 1000, 50 * 1000, 200 * 1000 };
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  pid_t pid;
  guint i;

  pid = fork_step_holder (mutex, shared);
  for (i = 0; i < G_N_ELEMENTS (timeouts) * 2; i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 timeout = timeouts[i / 2];
      gint64 start = g_get_monotonic_time ();
      gboolean ok;

      ok = ps_mutex_lock (mutex, timeout, i % 2 ? cancellable : NULL, &error);
      g_assert_cmpint (g_get_monotonic_time () - start, >=, timeout);
      g_assert_false (ok);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
    }
  release_step_holder (shared, pid);
}

/* A timed or infinite lock is woken by an unlock in another process. */
typedef struct
{
  PsMutex *mutex;
  Shared  *shared;
} UnlockLaterArgs;

static int
unlock_later_child (gpointer data)
{
  UnlockLaterArgs *args = data;

  if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 1;
  args->shared->counter = 0;
  g_atomic_int_set (&args->shared->step, 1);
  /* Unlock once the parent sleeps on the lock. */
  if (!wait_int (&args->shared->go, 1, 30))
    return 2;
  args->shared->counter = 99;
  if (!ps_mutex_unlock (args->mutex, NULL))
    return 3;
  return 0;
}

typedef struct
{
  gint  *flag;
  pid_t  tid;
} BlockedArgs;

static gpointer
signal_when_blocked_thread (gpointer data)
{
  BlockedArgs *args = data;

  wait_until_blocked (getpid (), args->tid);
  g_atomic_int_set (args->flag, 1);
  return NULL;
}

static void
check_woken_by_unlock (gint64 timeout_us)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  UnlockLaterArgs args = { mutex, shared };
  BlockedArgs blocked = { &shared->go, gettid () };
  GThread *watcher;
  pid_t pid;
  gint64 start;

  pid = ps_test_fork (unlock_later_child, &args, scaled_s (60));
  assert_wait_int (&shared->step, 1);

  watcher = g_thread_new ("watcher", signal_when_blocked_thread, &blocked);
  start = g_get_monotonic_time ();
  g_assert_true (ps_mutex_lock (mutex, timeout_us, cancellable, &error));
  g_assert_no_error (error);
  g_thread_join (watcher);
  if (timeout_us > 0)
    g_assert_cmpint (g_get_monotonic_time () - start, <, MIN (timeout_us, scaled_us (30 * G_USEC_PER_SEC)));
  g_assert_cmpint (shared->counter, ==, 99);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  assert_unlock (mutex);
  ps_test_reap_ok (pid, scaled_s (30));
}

static void
test_timeout_infinite_woken (void)
{
  check_woken_by_unlock (PS_TIMEOUT_INFINITE);
}

static void
test_timeout_positive_woken (void)
{
  check_woken_by_unlock (scaled_us (30 * G_USEC_PER_SEC));
}

/* A deadline past the end of the clock waits, rather than overflowing
 * into the past. */
static void
test_timeout_huge_woken (void)
{
  check_woken_by_unlock (G_MAXINT64);
}

/* Cancellation -------------------------------------------------------------- */

static void
test_cancel_already_cancelled (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  static const gint64 timeouts[] = { PS_TIMEOUT_INFINITE, 0, 30 * G_USEC_PER_SEC };
  pid_t pid;
  guint i;

  g_cancellable_cancel (cancellable);

  /* A free mutex is not taken... */
  for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (ps_mutex_lock (mutex, timeouts[i], cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
      assert_unlock_not_owner (mutex);
    }
  assert_free_for_other_process (mutex);

  /* ...and a busy one is not waited for. */
  pid = fork_step_holder (mutex, shared);
  for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (ps_mutex_lock (mutex, timeouts[i], cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    }
  release_step_holder (shared, pid);

  assert_lock (mutex);
  assert_unlock (mutex);
}

typedef struct
{
  GCancellable *cancellable;
  pid_t         tid;
  gint64        cancel_time;
} CancelArgs;

static gpointer
cancel_when_blocked_thread (gpointer data)
{
  CancelArgs *args = data;

  wait_until_blocked (getpid (), args->tid);
  args->cancel_time = g_get_monotonic_time ();
  g_cancellable_cancel (args->cancellable);
  return NULL;
}

static void
test_cancel_wakes_blocked (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  pid_t pid;
  guint round;

  pid = fork_step_holder (mutex, shared);

  /* Twice, the second time with the cancellable reset: what the first
   * wait connected to it must not get in the way. */
  for (round = 0; round < 2; round++)
    {
      g_autoptr(GError) error = NULL;
      CancelArgs args = { cancellable, gettid (), 0 };
      GThread *canceller;
      gint64 start, end;

      g_cancellable_reset (cancellable);
      canceller = g_thread_new ("canceller", cancel_when_blocked_thread, &args);
      start = g_get_monotonic_time ();
      g_assert_false (ps_mutex_lock (mutex, 30 * G_USEC_PER_SEC, cancellable, &error));
      end = g_get_monotonic_time ();
      g_thread_join (canceller);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      g_assert_cmpint (args.cancel_time, >, start);
      g_assert_cmpint (end - args.cancel_time, <=, scaled_us (CANCEL_BOUND_US));

      /* The cancelled waiter does not hold it; the holder still does. */
      g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
      assert_unlock_not_owner (mutex);
      g_assert_false (ps_mutex_try_lock (mutex, &error));
      g_assert_no_error (error);
    }

  release_step_holder (shared, pid);
  assert_lock (mutex);
  assert_unlock (mutex);
}

/* A cancelled waiter must not swallow the wake-up meant for another. */
typedef struct
{
  PsMutex *mutex;
  Shared  *shared;
} WaitChildArgs;

static int
waiting_locker_child (gpointer data)
{
  WaitChildArgs *args = data;
  g_autoptr(GError) error = NULL;

  g_atomic_int_inc (&args->shared->ready);
  if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, &error))
    {
      if (g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
        {
          if (ps_mutex_get_owner_pid (args->mutex) != getpid ())
            return 1;
          g_atomic_int_inc (&args->shared->owner_dead);
          if (!ps_mutex_mark_consistent (args->mutex, NULL))
            return 2;
        }
      else
        {
          g_atomic_int_inc (&args->shared->failures);
          return 3;
        }
    }
  else
    {
      if (ps_mutex_get_owner_pid (args->mutex) != getpid ())
        return 4;
      g_atomic_int_inc (&args->shared->plain);
    }
  if (g_atomic_int_add (&args->shared->in_critical, 1) != 0)
    g_atomic_int_inc (&args->shared->violations);
  g_usleep (1000);
  g_atomic_int_add (&args->shared->in_critical, -1);
  if (!ps_mutex_unlock (args->mutex, NULL))
    return 5;
  return 0;
}

static void
test_cancel_other_waiter_still_woken (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  WaitChildArgs wait_args = { mutex, shared };
  CancelArgs args = { cancellable, gettid (), 0 };
  GThread *canceller;
  pid_t holder, waiter;

  holder = fork_step_holder (mutex, shared);
  waiter = ps_test_fork (waiting_locker_child, &wait_args, scaled_s (60));
  assert_wait_int (&shared->ready, 1);
  wait_until_blocked (waiter, waiter);

  canceller = g_thread_new ("canceller", cancel_when_blocked_thread, &args);
  g_assert_false (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, cancellable, &error));
  g_thread_join (canceller);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  release_step_holder (shared, holder);
  ps_test_reap_ok (waiter, scaled_s (10));
  g_assert_cmpint (shared->plain, ==, 1);
  g_assert_cmpint (shared->owner_dead, ==, 0);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
}

/* Robustness ---------------------------------------------------------------- */

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
  if (!wait_int (&waiter->checked, 1, 30))
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
  wait_until_blocked (getpid (), g_atomic_int_get (&waiter.tid));

  death_time = g_get_monotonic_time ();
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);

  /* Woken by the death, not left to sleep until some other event. */
  while (!g_atomic_int_get (&waiter.finished))
    {
      if (g_get_monotonic_time () - death_time > scaled_us (DEATH_BOUND_US))
        g_error ("the waiting locker was not woken by the death of the holder");
      g_usleep (500);
    }
  reap_killed (pid);

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
    waiters[i] = ps_test_fork (waiting_locker_child, &args, scaled_s (60));
  assert_wait_int (&shared->ready, G_N_ELEMENTS (waiters));
  for (i = 0; i < G_N_ELEMENTS (waiters); i++)
    wait_until_blocked (waiters[i], waiters[i]);

  kill_holder (holder);
  for (i = 0; i < G_N_ELEMENTS (waiters); i++)
    ps_test_reap_ok (waiters[i], scaled_s (10));

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

  ps_test_reap_ok (ps_test_fork (not_recoverable_child, mutex, scaled_s (30)), scaled_s (30));
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
  wait_until_blocked (getpid (), g_atomic_int_get (&waiter.tid));

  unlock_time = g_get_monotonic_time ();
  assert_unlock (mutex);
  while (!g_atomic_int_get (&waiter.finished))
    {
      if (g_get_monotonic_time () - unlock_time > scaled_us (DEATH_BOUND_US))
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
    wait_until_blocked (getpid (), args->waiter_tid);
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
  g_assert_cmpint (g_get_monotonic_time () - start, <=, scaled_us (10 * G_USEC_PER_SEC));
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
  reap_killed (ps_test_fork (die_recovering_child, mutex, scaled_s (30)));

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
  assert_unlock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_unlock_not_owner (mutex);

  assert_free_for_other_process (mutex);
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
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared;

  mutex = ps_mutex_open (mutex_name, PS_OPEN_NONE, &error);
  g_assert_no_error (error);
  memory = ps_shared_memory_open (shm_name, PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  shared = ps_shared_memory_get_data (memory);

  assert_lock (mutex);
  g_atomic_int_set (&shared->step, 1);
  g_usleep (scaled_us (120 * G_USEC_PER_SEC));   /* until killed */
  return 2;
}

static void
test_owner_death_named_peer (void)
{
  g_autofree char *mutex_name = ps_test_unique_name ("mutex-death");
  g_autofree char *shm_name = ps_test_unique_name ("mutex-death-data");
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  Shared *shared;
  GPid pid;

  mutex = open_mutex (mutex_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE);
  memory = create_named_shared (shm_name);
  shared = ps_shared_memory_get_data (memory);

  pid = spawn_peer ("die-holding", mutex_name, shm_name, NULL);
  assert_wait_int (&shared->step, 1);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  kill_holder (pid);

  g_assert_false (ps_mutex_lock (mutex, 10 * G_USEC_PER_SEC, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  assert_holds_and_recover (mutex);

  unlink_name (mutex_name);
  unlink_name (shm_name);
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
  g_usleep (scaled_us (120 * G_USEC_PER_SEC));   /* until killed */
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

  pid = ps_test_fork (placed_hold_child, memory, scaled_s (120));
  assert_wait_int (ps_shared_memory_get_data (memory), 1);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, pid);
  kill_holder (pid);

  g_assert_false (ps_mutex_try_lock (mutex, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  assert_holds_and_recover (mutex);
}

/* Counters ------------------------------------------------------------------ */

typedef struct
{
  PsMutex *mutex;
  Shared  *shared;
  gint     delta;
  gboolean nested;
} CounterArgs;

static void
critical_section (Shared *shared,
                  gint    delta,
                  guint   i)
{
  volatile gint64 *counter = &shared->counter;
  gint64 value;

  if (g_atomic_int_add (&shared->in_critical, 1) != 0)
    g_atomic_int_inc (&shared->violations);
  value = *counter;
  /* Widen the window that a broken lock would leave open. */
  if (i % 16 == 0)
    sched_yield ();
  *counter = value + delta;
  g_atomic_int_add (&shared->in_critical, -1);
}

static int
counter_child (gpointer data)
{
  CounterArgs *args = data;
  guint i;

  if (!wait_int (&args->shared->go, 1, 30))
    return 1;
  for (i = 0; i < N_COUNTER_ITERS; i++)
    {
      if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
        return 2;
      if (args->nested && !ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
        return 3;
      critical_section (args->shared, args->delta, i);
      if (args->nested && !ps_mutex_unlock (args->mutex, NULL))
        return 4;
      if (!ps_mutex_unlock (args->mutex, NULL))
        return 5;
    }
  return 0;
}

static void
test_counter (gconstpointer data)
{
  gboolean recursive = GPOINTER_TO_INT (data);
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = new_mutex (recursive);
  pid_t pids[N_COUNTER_PROCS];
  guint i;

  for (i = 0; i < N_COUNTER_PROCS; i++)
    {
      CounterArgs args = { mutex, shared, i % 2 ? -1 : 1, recursive };

      pids[i] = ps_test_fork (counter_child, &args, scaled_s (120));
    }
  g_atomic_int_set (&shared->go, 1);
  for (i = 0; i < N_COUNTER_PROCS; i++)
    ps_test_reap_ok (pids[i], scaled_s (120));

  g_assert_cmpint (shared->violations, ==, 0);
  g_assert_cmpint (shared->counter, ==, 0);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
}

/* Named objects ------------------------------------------------------------- */

typedef struct
{
  const char *name;
  Shared     *shared;
  GPid        parent;
} RacerArgs;

static int
racer_child (gpointer data)
{
  RacerArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  gint64 deadline = g_get_monotonic_time () + scaled_us (30 * G_USEC_PER_SEC);
  guint i;

  /* Spin rather than sleep, so that the opens really race. */
  g_atomic_int_inc (&args->shared->ready);
  while (!g_atomic_int_get (&args->shared->go))
    if (g_get_monotonic_time () > deadline)
      return 1;

  mutex = ps_mutex_open (args->name, PS_OPEN_CREATE, &error);
  if (mutex == NULL)
    {
      g_printerr ("racer %d: %s\n", (int) getpid (), error->message);
      return 2;
    }
  g_atomic_int_inc (&args->shared->done);

  /* The parent holds its own handle's lock: ours must be the same one. */
  if (!wait_int (&args->shared->step, 1, 30))
    return 3;
  if (ps_mutex_get_owner_pid (mutex) != args->parent)
    return 4;
  if (ps_mutex_try_lock (mutex, &error) || error != NULL)
    return 5;
  g_atomic_int_inc (&args->shared->plain);

  if (!wait_int (&args->shared->step, 2, 30))
    return 6;
  for (i = 0; i < N_RACER_ITERS; i++)
    {
      if (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
        return 7;
      critical_section (args->shared, 1, i);
      if (!ps_mutex_unlock (mutex, NULL))
        return 8;
    }
  return 0;
}

/* Racing the creators without CREATE: the object is either missing or
 * whole, never half-made. */
static int
opener_child (gpointer data)
{
  RacerArgs *args = data;
  gint64 deadline = g_get_monotonic_time () + scaled_us (30 * G_USEC_PER_SEC);
  g_autoptr(PsMutex) mutex = NULL;

  g_atomic_int_inc (&args->shared->ready);
  while (!g_atomic_int_get (&args->shared->go))
    if (g_get_monotonic_time () > deadline)
      return 1;

  while (mutex == NULL)
    {
      g_autoptr(GError) error = NULL;

      mutex = ps_mutex_open (args->name, PS_OPEN_NONE, &error);
      if (mutex == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_printerr ("opener %d: %s\n", (int) getpid (), error->message);
          return 2;
        }
      if (g_get_monotonic_time () > deadline)
        return 3;
    }
  if (ps_mutex_is_recursive (mutex))
    return 4;
  if (!wait_int (&args->shared->step, 2, 30))
    return 7;
  if (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 5;
  critical_section (args->shared, 1, 0);
  if (!ps_mutex_unlock (mutex, NULL))
    return 6;
  return 0;
}

static void
test_named_racing_create (void)
{
  g_autofree char *name = ps_test_unique_name ("mutex-race");
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  g_autoptr(PsMutex) mutex = NULL;
  RacerArgs args = { name, shared, getpid () };
  pid_t pids[N_RACERS];
  pid_t openers[N_OPENERS];
  guint i;

  for (i = 0; i < N_RACERS; i++)
    pids[i] = ps_test_fork (racer_child, &args, scaled_s (120));
  for (i = 0; i < N_OPENERS; i++)
    openers[i] = ps_test_fork (opener_child, &args, scaled_s (120));
  assert_wait_int (&shared->ready, N_RACERS + N_OPENERS);
  g_atomic_int_set (&shared->go, 1);
  assert_wait_int (&shared->done, N_RACERS);

  mutex = open_mutex (name, PS_OPEN_NONE);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_lock (mutex);
  g_atomic_int_set (&shared->step, 1);
  assert_wait_int (&shared->plain, N_RACERS);
  assert_unlock (mutex);

  g_atomic_int_set (&shared->step, 2);
  for (i = 0; i < N_RACERS; i++)
    ps_test_reap_ok (pids[i], scaled_s (120));
  for (i = 0; i < N_OPENERS; i++)
    ps_test_reap_ok (openers[i], scaled_s (120));
  g_assert_cmpint (shared->violations, ==, 0);
  g_assert_cmpint (shared->counter, ==, N_RACERS * N_RACER_ITERS + N_OPENERS);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);

  unlink_name (name);
}

static void
test_named_exclusive_missing (void)
{
  g_autofree char *name = ps_test_unique_name ("mutex-excl");
  g_autofree char *missing = ps_test_unique_name ("mutex-missing");
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsMutex) again = NULL;
  g_autoptr(GError) error = NULL;

  mutex = open_mutex (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE);
  again = ps_mutex_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_null (again);
  g_clear_error (&error);

  /* Opening without CREATE shares the existing one. */
  again = open_mutex (name, PS_OPEN_NONE);
  assert_lock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (again), ==, getpid ());
  g_assert_false (ps_mutex_lock (again, 0, NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  assert_unlock (again);
  g_clear_object (&again);

  again = ps_mutex_open (missing, PS_OPEN_NONE, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (again);
  g_clear_error (&error);

  /* A removed name is missing again, and a new object is a fresh one. */
  unlink_name (name);
  again = ps_mutex_open (name, PS_OPEN_NONE, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  assert_lock (mutex);
  again = open_mutex (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE);
  g_assert_cmpint (ps_mutex_get_owner_pid (again), ==, 0);
  assert_unlock (mutex);
  unlink_name (name);
}

static void
test_named_wrong_type (void)
{
  g_autofree char *sem_name = ps_test_unique_name ("sem");
  g_autofree char *cond_name = ps_test_unique_name ("cond");
  g_autofree char *shm_name = ps_test_unique_name ("shm");
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsCond) cond = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  const char *names[3];
  guint i;

  semaphore = ps_semaphore_open (sem_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 1, &error);
  g_assert_no_error (error);
  cond = ps_cond_open (cond_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_assert_no_error (error);
  memory = ps_shared_memory_open (shm_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 4096, &error);
  g_assert_no_error (error);

  names[0] = sem_name;
  names[1] = cond_name;
  names[2] = shm_name;
  for (i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(PsMutex) mutex = NULL;

      mutex = ps_mutex_open (names[i], PS_OPEN_NONE, &error);
      g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
      g_assert_null (mutex);
      g_clear_error (&error);

      mutex = ps_mutex_open (names[i], PS_OPEN_CREATE, &error);
      g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
      g_assert_null (mutex);
      g_clear_error (&error);

      mutex = ps_mutex_open (names[i], PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
      g_assert_null (mutex);
      g_clear_error (&error);
    }

  /* The failed opens left the objects as they were. */
  g_assert_true (ps_semaphore_try_acquire (semaphore));
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 0);

  unlink_name (sem_name);
  unlink_name (cond_name);
  unlink_name (shm_name);
}

/* Rewrites bytes of a named object's header through its /dev/shm file. */
static void
poke_named (const char *name,
            goffset     offset,
            guint8      value,
            guint8     *old_value)
{
  g_autofree char *path = ps_test_dev_shm_path (name);
  int fd = open (path, O_RDWR | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  if (old_value != NULL)
    g_assert_cmpint (pread (fd, old_value, 1, offset), ==, 1);
  g_assert_cmpint (pwrite (fd, &value, 1, offset), ==, 1);
  close (fd);
}

static void
test_named_incompatible (void)
{
  g_autofree char *name = ps_test_unique_name ("mutex-compat");
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;
  guint8 version, backend;

  mutex = open_mutex (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE);
  g_clear_object (&mutex);

  poke_named (name, G_STRUCT_OFFSET (PsObjectHeader, layout_version),
              PS_OBJECT_LAYOUT_VERSION + 1, &version);
  g_assert_cmpuint (version, ==, PS_OBJECT_LAYOUT_VERSION);
  mutex = ps_mutex_open (name, PS_OPEN_NONE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_assert_null (mutex);
  g_clear_error (&error);
  mutex = ps_mutex_open (name, PS_OPEN_CREATE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_clear_error (&error);
  poke_named (name, G_STRUCT_OFFSET (PsObjectHeader, layout_version), version, NULL);

  poke_named (name, G_STRUCT_OFFSET (PsObjectHeader, backend), 0, &backend);
  g_assert_cmpuint (backend, !=, 0);
  poke_named (name, G_STRUCT_OFFSET (PsObjectHeader, backend), backend % 3 + 1, NULL);
  mutex = ps_mutex_open (name, PS_OPEN_NONE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  g_assert_null (mutex);
  g_clear_error (&error);
  poke_named (name, G_STRUCT_OFFSET (PsObjectHeader, backend), backend, NULL);

  /* Restored, it opens: the pokes were what it refused. */
  mutex = open_mutex (name, PS_OPEN_NONE);
  assert_lock (mutex);
  assert_unlock (mutex);
  unlink_name (name);
}

static void
create_raw_shm (const char   *name,
                const guint8 *contents,
                gsize         length)
{
  int fd = shm_open (name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, (off_t) length), ==, 0);
  g_assert_cmpint (pwrite (fd, contents, length, 0), ==, (gssize) length);
  close (fd);
}

static void
test_named_corrupt (void)
{
  g_autofree char *random_name = ps_test_unique_name ("mutex-random");
  g_autofree char *zero_name = ps_test_unique_name ("mutex-zero");
  guint8 bytes[PS_MUTEX_SIZE];
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;
  guint32 magic;
  guint i;

  for (i = 0; i < sizeof bytes; i++)
    bytes[i] = (guint8) g_random_int ();
  memcpy (&magic, bytes, sizeof magic);
  if (magic == PS_OBJECT_MAGIC)
    bytes[0] ^= 0xff;
  create_raw_shm (random_name, bytes, sizeof bytes);
  mutex = ps_mutex_open (random_name, PS_OPEN_NONE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (mutex);
  g_clear_error (&error);

  /* All zeros looks like a creator that never finished: corrupt too, in
   * the end, rather than a hang or a crash. */
  memset (bytes, 0, sizeof bytes);
  create_raw_shm (zero_name, bytes, sizeof bytes);
  mutex = ps_mutex_open (zero_name, PS_OPEN_CREATE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (mutex);
  g_clear_error (&error);

  unlink_name (random_name);
  unlink_name (zero_name);
}

/* Placement checks ---------------------------------------------------------- */

static PsObjectHeader *
header_at (PsSharedMemory *memory,
           gsize           offset)
{
  return (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + offset);
}

static void
assert_attach_fails (PsSharedMemory *memory,
                     gsize           offset,
                     GQuark          domain,
                     gint            code)
{
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;

  mutex = ps_mutex_attach (memory, offset, &error);
  g_assert_error (error, domain, code);
  g_assert_null (mutex);
}

static void
test_placed_incompatible (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;
  PsObjectHeader *header;
  PsObjectHeader saved;

  memory = ps_shared_memory_new (PLACED_SIZE, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_new_at (memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);
  g_clear_object (&mutex);
  header = header_at (memory, PLACED_OFFSET);
  saved = *header;

  header->layout_version = PS_OBJECT_LAYOUT_VERSION + 1;
  assert_attach_fails (memory, PLACED_OFFSET, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  *header = saved;

  header->backend = saved.backend % 3 + 1;
  assert_attach_fails (memory, PLACED_OFFSET, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  header->backend = 0xff;
  assert_attach_fails (memory, PLACED_OFFSET, PS_ERROR, PS_ERROR_INCOMPATIBLE);
  *header = saved;

  header->type = PS_OBJECT_TYPE_SEMAPHORE;
  assert_attach_fails (memory, PLACED_OFFSET, PS_ERROR, PS_ERROR_WRONG_TYPE);
  *header = saved;

  header->magic ^= 0x01000000;
  assert_attach_fails (memory, PLACED_OFFSET, PS_ERROR, PS_ERROR_CORRUPT);
  *header = saved;

  mutex = ps_mutex_attach (memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);
  assert_lock (mutex);
  assert_unlock (mutex);
}

static void
test_placed_wrong_type (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsCond) cond = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) not_semaphore = NULL;
  g_autoptr(GError) error = NULL;

  memory = ps_shared_memory_new (3 * PS_MUTEX_SIZE, &error);
  g_assert_no_error (error);
  semaphore = ps_semaphore_new_at (memory, 0, 1, &error);
  g_assert_no_error (error);
  cond = ps_cond_new_at (memory, PS_SEMAPHORE_SIZE, &error);
  g_assert_no_error (error);
  mutex = ps_mutex_new_at (memory, PS_SEMAPHORE_SIZE + PS_COND_SIZE, &error);
  g_assert_no_error (error);

  assert_attach_fails (memory, 0, PS_ERROR, PS_ERROR_WRONG_TYPE);
  assert_attach_fails (memory, PS_SEMAPHORE_SIZE, PS_ERROR, PS_ERROR_WRONG_TYPE);
  not_semaphore = ps_semaphore_attach (memory, PS_SEMAPHORE_SIZE + PS_COND_SIZE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (not_semaphore);

  /* Nothing was disturbed. */
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 1);
  assert_lock (mutex);
  assert_unlock (mutex);
}

static void
test_placed_corrupt (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;
  guint8 *data;
  guint32 magic;
  guint i;

  memory = ps_shared_memory_new (PLACED_SIZE, &error);
  g_assert_no_error (error);
  data = ps_shared_memory_get_data (memory);

  /* Zero-filled: nothing was ever placed there. */
  assert_attach_fails (memory, PLACED_OFFSET, PS_ERROR, PS_ERROR_CORRUPT);

  for (i = 0; i < PS_MUTEX_SIZE; i++)
    data[PLACED_OFFSET + i] = (guint8) g_random_int ();
  memcpy (&magic, data + PLACED_OFFSET, sizeof magic);
  if (magic == PS_OBJECT_MAGIC)
    data[PLACED_OFFSET] ^= 0xff;
  assert_attach_fails (memory, PLACED_OFFSET, PS_ERROR, PS_ERROR_CORRUPT);

  /* A valid header over a state of the wrong size. */
  mutex = ps_mutex_new_at (memory, PLACED_OFFSET, &error);
  g_assert_no_error (error);
  g_clear_object (&mutex);
  header_at (memory, PLACED_OFFSET)->payload_size = 0;
  assert_attach_fails (memory, PLACED_OFFSET, PS_ERROR, PS_ERROR_CORRUPT);
}

static void
test_placed_bad_offsets (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *before = NULL;
  static const gsize misaligned[] = { 1, 4, 12, PLACED_OFFSET + 7 };
  const gsize out_of_bounds[] = {
    PLACED_SIZE - PS_MUTEX_SIZE + 8,
    PLACED_SIZE,
    PLACED_SIZE + 8,
    2 * PLACED_SIZE,
    G_MAXSIZE & ~(gsize) 7,
    (G_MAXSIZE - PS_MUTEX_SIZE + 16) & ~(gsize) 7,
  };
  guint8 *data;
  guint i;

  memory = ps_shared_memory_new (PLACED_SIZE, &error);
  g_assert_no_error (error);
  data = ps_shared_memory_get_data (memory);
  for (i = 0; i < PLACED_SIZE; i++)
    data[i] = (guint8) (i * 7 + 3);
  before = g_memdup2 (data, PLACED_SIZE);

  for (i = 0; i < G_N_ELEMENTS (misaligned); i++)
    {
      mutex = ps_mutex_new_at (memory, misaligned[i], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (mutex);
      g_clear_error (&error);
      assert_attach_fails (memory, misaligned[i], G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
  for (i = 0; i < G_N_ELEMENTS (out_of_bounds); i++)
    {
      mutex = ps_mutex_new_at (memory, out_of_bounds[i], &error);
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_assert_null (mutex);
      g_clear_error (&error);
      assert_attach_fails (memory, out_of_bounds[i], PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
    }
  /* Refused requests touched nothing. */
  g_assert_cmpmem (data, PLACED_SIZE, before, PLACED_SIZE);

  /* The last place that fits, and only its bytes change. */
  mutex = ps_mutex_new_at (memory, PLACED_SIZE - PS_MUTEX_SIZE, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (data, PLACED_SIZE - PS_MUTEX_SIZE, before, PLACED_SIZE - PS_MUTEX_SIZE);
  assert_lock (mutex);
  assert_unlock (mutex);
}

/* Footprint ----------------------------------------------------------------- */

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

typedef struct
{
  guint fds;
  guint maps;          /* every line of /proc/self/maps */
  guint shared_maps;   /* MAP_SHARED ones: where shared state can live */
} Footprint;

static void
footprint_measure (Footprint *footprint)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  guint i;

  footprint->fds = count_fds ();
  g_assert_true (g_file_get_contents ("/proc/self/maps", &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  footprint->maps = 0;
  footprint->shared_maps = 0;
  for (i = 0; lines[i] != NULL; i++)
    {
      const char *perms = strchr (lines[i], ' ');

      if (perms == NULL)
        continue;
      footprint->maps++;
      if (strlen (perms) > 4 && perms[4] == 's')
        footprint->shared_maps++;
    }
}

/* While @n objects live: at most one descriptor and one mapping per 64. */
static void
footprint_assert_alive (const Footprint *before,
                        guint            n)
{
  Footprint now;

  footprint_measure (&now);
  g_test_message ("%u objects: fds %u -> %u, mappings %u -> %u (shared %u -> %u)", n,
                  before->fds, now.fds, before->maps, now.maps,
                  before->shared_maps, now.shared_maps);
  g_assert_cmpuint (now.fds, <=, before->fds + n / 64);
  g_assert_cmpuint (now.shared_maps, <=, before->shared_maps + n / 64);
  g_assert_cmpuint (now.maps, <=, before->maps + n / 64);
}

/* Once they are gone: back to the start. The memory allocator (under a
 * sanitizer above all) may keep a few private mappings of its own, so
 * only the shared ones must be back exactly. */
#define ALLOCATOR_SLACK 8

static void
footprint_assert_released (const Footprint *before)
{
  Footprint now;

  footprint_measure (&now);
  g_test_message ("released: fds %u, mappings %u (shared %u)",
                  now.fds, now.maps, now.shared_maps);
  g_assert_cmpuint (now.fds, <=, before->fds);
  g_assert_cmpuint (now.shared_maps, <=, before->shared_maps);
  g_assert_cmpuint (now.maps, <=, before->maps + ALLOCATOR_SLACK);
}

static void
test_footprint_thousand (void)
{
  g_autoptr(GPtrArray) mutexes = g_ptr_array_new_with_free_func (g_object_unref);
  Footprint before;
  guint i;

  /* Warm up the type system and the pool before counting. */
  g_object_unref (new_mutex (FALSE));
  footprint_measure (&before);

  for (i = 0; i < N_FOOTPRINT; i++)
    g_ptr_array_add (mutexes, new_mutex (i % 2 == 1));
  footprint_assert_alive (&before, N_FOOTPRINT);

  /* Distinct objects: each is a lock of its own (two sharing memory
   * would make the second lock a relock). */
  for (i = 0; i < mutexes->len; i++)
    assert_lock (g_ptr_array_index (mutexes, i));
  for (i = 0; i < mutexes->len; i++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (g_ptr_array_index (mutexes, i)), ==, getpid ());
      assert_unlock (g_ptr_array_index (mutexes, i));
      g_assert_cmpint (ps_mutex_get_owner_pid (g_ptr_array_index (mutexes, i)), ==, 0);
    }

  g_ptr_array_set_size (mutexes, 0);
  footprint_assert_released (&before);
}

static void
test_footprint_mixed (void)
{
  g_autoptr(GPtrArray) objects = g_ptr_array_new_with_free_func (g_object_unref);
  Footprint before;
  guint i;

  g_object_unref (new_mutex (FALSE));
  footprint_measure (&before);

  for (i = 0; i < N_FOOTPRINT; i++)
    {
      g_autoptr(GError) error = NULL;
      GObject *object;

      switch (i % 3)
        {
        case 0:
          object = G_OBJECT (ps_mutex_new (&error));
          break;
        case 1:
          object = G_OBJECT (ps_semaphore_new (1, &error));
          break;
        default:
          object = G_OBJECT (ps_cond_new (&error));
          break;
        }
      g_assert_no_error (error);
      g_ptr_array_add (objects, object);
    }
  footprint_assert_alive (&before, N_FOOTPRINT);

  for (i = 1; i < objects->len; i += 3)
    g_assert_true (ps_semaphore_try_acquire (g_ptr_array_index (objects, i)));
  for (i = 1; i < objects->len; i += 3)
    g_assert_cmpuint (ps_semaphore_get_value (g_ptr_array_index (objects, i)), ==, 0);
  for (i = 0; i < objects->len; i += 3)
    assert_lock (g_ptr_array_index (objects, i));
  for (i = 0; i < objects->len; i += 3)
    assert_unlock (g_ptr_array_index (objects, i));

  g_ptr_array_set_size (objects, 0);
  footprint_assert_released (&before);
}

/* Threads creating and dropping objects at once never get the same
 * memory: each holds all of its own, and finds them still its own. */
#define N_POOL_THREADS 4
#define N_PER_THREAD   400

static gpointer
pool_thread (gpointer data)
{
  gint *failures = data;
  PsMutex *mutexes[N_PER_THREAD];
  guint round, i;

  for (round = 0; round < 3; round++)
    {
      for (i = 0; i < N_PER_THREAD; i++)
        {
          mutexes[i] = ps_mutex_new (NULL);
          if (mutexes[i] == NULL ||
              !ps_mutex_lock (mutexes[i], 0, NULL, NULL))
            {
              g_atomic_int_inc (failures);
              return NULL;
            }
          /* Drop some at once, so that slots are freed while others
           * are being taken. */
          if (i % 3 == 0)
            {
              if (!ps_mutex_unlock (mutexes[i], NULL))
                g_atomic_int_inc (failures);
              g_clear_object (&mutexes[i]);
            }
        }
      for (i = 0; i < N_PER_THREAD; i++)
        {
          if (mutexes[i] == NULL)
            continue;
          if (ps_mutex_get_owner_pid (mutexes[i]) != getpid () ||
              !ps_mutex_unlock (mutexes[i], NULL))
            g_atomic_int_inc (failures);
          g_object_unref (mutexes[i]);
        }
    }
  return NULL;
}

static void
test_footprint_threads (void)
{
  GThread *threads[N_POOL_THREADS];
  gint failures = 0;
  guint i;

  for (i = 0; i < N_POOL_THREADS; i++)
    threads[i] = g_thread_new ("pool", pool_thread, &failures);
  for (i = 0; i < N_POOL_THREADS; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (failures, ==, 0);
}

/* The pool over fork(): objects made after the fork, in either process,
 * must never land on memory the other process still uses. */
typedef struct
{
  PsMutex **pre;
  Shared   *shared;
  GPid      parent;
} PoolArgs;

static int
pool_child (gpointer data)
{
  PoolArgs *args = data;
  PsMutex *own[N_AFTER_FORK];
  PsMutex *extra[50];
  guint i;

  /* Our own new objects, all held. */
  for (i = 0; i < N_AFTER_FORK; i++)
    {
      own[i] = new_mutex (i % 2 == 1);
      assert_lock (own[i]);
    }
  /* M1 and its neighbours from before the fork. */
  assert_lock (args->pre[2]);
  assert_lock (args->pre[3]);
  assert_lock (args->pre[4]);

  /* Drop our handle on an inherited object the parent holds, then make
   * more: none may reuse its slot (that would wipe the parent's lock). */
  g_assert_cmpint (ps_mutex_get_owner_pid (args->pre[6]), ==, args->parent);
  g_clear_object (&args->pre[6]);
  for (i = 0; i < G_N_ELEMENTS (extra); i++)
    {
      extra[i] = new_mutex (FALSE);
      g_assert_cmpint (ps_mutex_get_owner_pid (extra[i]), ==, 0);
      assert_lock (extra[i]);
    }

  g_atomic_int_set (&args->shared->step, 1);
  g_assert_true (wait_int (&args->shared->step, 2, 60));

  /* The parent dropped M1 and made 300 objects of its own meanwhile:
   * all of ours are untouched, still held by us. */
  for (i = 0; i < N_AFTER_FORK; i++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (own[i]), ==, getpid ());
      assert_unlock (own[i]);
      g_object_unref (own[i]);
    }
  for (i = 0; i < G_N_ELEMENTS (extra); i++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (extra[i]), ==, getpid ());
      assert_unlock (extra[i]);
      g_object_unref (extra[i]);
    }
  for (i = 2; i <= 4; i++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (args->pre[i]), ==, getpid ());
      assert_unlock (args->pre[i]);
    }
  g_atomic_int_set (&args->shared->step, 3);
  return 0;
}

static void
test_footprint_fork (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  PsMutex *pre[N_PRE_FORK];
  PsMutex *mine[N_AFTER_FORK];
  PoolArgs args = { pre, shared, getpid () };
  pid_t pid;
  guint i;

  for (i = 0; i < N_PRE_FORK; i++)
    pre[i] = new_mutex (FALSE);
  /* Held across the fork, to see whether the child's objects land on it. */
  assert_lock (pre[6]);

  pid = ps_test_fork (pool_child, &args, scaled_s (60));
  assert_wait_int (&shared->step, 1);

  /* Inherited objects are shared: we see the child's locks on them. */
  for (i = 2; i <= 4; i++)
    g_assert_cmpint (ps_mutex_get_owner_pid (pre[i]), ==, pid);

  /* Drop M1 and a neighbour while the child uses them, then make ours. */
  g_clear_object (&pre[3]);
  g_clear_object (&pre[5]);
  for (i = 0; i < N_AFTER_FORK; i++)
    {
      g_autoptr(GError) error = NULL;

      mine[i] = new_mutex (i % 3 == 0);
      /* Not one of the child's held locks. */
      g_assert_cmpint (ps_mutex_get_owner_pid (mine[i]), ==, 0);
      g_assert_true (ps_mutex_try_lock (mine[i], &error));
      g_assert_no_error (error);
    }
  g_assert_cmpint (ps_mutex_get_owner_pid (pre[6]), ==, getpid ());
  g_assert_cmpint (ps_mutex_get_owner_pid (pre[2]), ==, pid);
  g_assert_cmpint (ps_mutex_get_owner_pid (pre[4]), ==, pid);

  g_atomic_int_set (&shared->step, 2);
  assert_wait_int (&shared->step, 3);
  ps_test_reap_ok (pid, scaled_s (30));

  for (i = 0; i < N_AFTER_FORK; i++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (mine[i]), ==, getpid ());
      assert_unlock (mine[i]);
      g_object_unref (mine[i]);
    }
  g_assert_cmpint (ps_mutex_get_owner_pid (pre[6]), ==, getpid ());
  assert_unlock (pre[6]);
  for (i = 0; i < N_PRE_FORK; i++)
    {
      if (pre[i] == NULL)
        continue;
      g_assert_cmpint (ps_mutex_get_owner_pid (pre[i]), ==, 0);
      assert_lock (pre[i]);
      assert_unlock (pre[i]);
      g_object_unref (pre[i]);
    }
}

/* Main ---------------------------------------------------------------------- */

static int
run_peer (int    argc,
          char **argv)
{
  ps_test_watchdog (scaled_s (150));

  if (argc == 3 && g_str_equal (argv[0], "handshake"))
    return peer_handshake (argv[1], argv[2]);
  if (argc == 3 && g_str_equal (argv[0], "check-recursive"))
    return peer_check_recursive (argv[1], argv[2]);
  if (argc == 2 && g_str_equal (argv[0], "placed"))
    return peer_placed (argv[1]);
  if (argc == 3 && g_str_equal (argv[0], "die-holding"))
    return peer_die_holding (argv[1], argv[2]);

  g_printerr ("test-mutex: unknown peer mode\n");
  return 99;
}

/* The robust list ------------------------------------------------------------ */

/* A thread's locks are linked on one list that the kernel walks when it
 * dies: PsMutexes and glibc's own robust mutexes side by side, taken and
 * given back in any order, more of them than the library tracks
 * privately, through any mapping. Whatever a child did, when it dies
 * exactly the locks it still held are reported dead, and the others are
 * simply free. */

#define N_LIST_PS      24   /* more than the futex backend tracks (16) */
#define N_LIST_GLIBC   4
#define N_LIST_STEPS   80
#define N_LIST_ROUNDS  25

typedef struct
{
  pthread_mutex_t glibc[N_LIST_GLIBC];   /* the first two priority-inheriting */
  guint32 seed;
  gint    sandboxed;
  gint    held[N_LIST_PS + N_LIST_GLIBC];
  gint    failures;
  gint    ready;
} ListShared;

typedef struct
{
  PsMutex    *mutexes[N_LIST_PS];
  ListShared *shared;
} ListArgs;

/* Makes process_vm_readv() fail with EPERM, as some sandboxes' seccomp
 * filters do: the library must then check links another way. */
static gboolean
refuse_process_vm_readv (void)
{
#if defined(__NR_process_vm_readv) && defined(SECCOMP_MODE_FILTER)
  struct sock_filter filter[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = { G_N_ELEMENTS (filter), filter };

  return prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
#else
  return FALSE;
#endif
}

static int
shuffle_locks_and_die_child (gpointer data)
{
  ListArgs *args = data;
  ListShared *shared = args->shared;
  GRand *rand = g_rand_new_with_seed (shared->seed);

  if (shared->sandboxed && !refuse_process_vm_readv ())
    return 2;

  for (guint step = 0; step < N_LIST_STEPS; step++)
    {
      guint i = g_rand_int_range (rand, 0, N_LIST_PS + N_LIST_GLIBC);
      gboolean ok;

      if (i < N_LIST_PS)
        ok = shared->held[i] ? ps_mutex_unlock (args->mutexes[i], NULL)
                             : ps_mutex_lock (args->mutexes[i], 0, NULL, NULL);
      else if (shared->held[i])
        ok = pthread_mutex_unlock (&shared->glibc[i - N_LIST_PS]) == 0;
      else
        ok = pthread_mutex_trylock (&shared->glibc[i - N_LIST_PS]) == 0;
      if (!ok)
        shared->failures++;
      else
        shared->held[i] = !shared->held[i];
    }
  g_rand_free (rand);
  kill (getpid (), SIGKILL);
  return 3;
}

static void
assert_list_outcome (ListArgs *args)
{
  ListShared *shared = args->shared;
  struct timespec deadline;

  for (guint i = 0; i < N_LIST_PS; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean locked = ps_mutex_lock (args->mutexes[i], scaled_us (5 * G_USEC_PER_SEC), NULL, &error);

      if (shared->held[i])
        {
          g_assert_false (locked);
          g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
          g_assert_true (ps_mutex_mark_consistent (args->mutexes[i], NULL));
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (locked);
        }
      g_assert_true (ps_mutex_unlock (args->mutexes[i], NULL));
      shared->held[i] = FALSE;
    }

  clock_gettime (CLOCK_REALTIME, &deadline);
  deadline.tv_sec += scaled_s (5);
  for (guint i = 0; i < N_LIST_GLIBC; i++)
    {
      pthread_mutex_t *glibc = &shared->glibc[i];
      int r = pthread_mutex_timedlock (glibc, &deadline);

      if (shared->held[N_LIST_PS + i])
        {
          g_assert_cmpint (r, ==, EOWNERDEAD);
          g_assert_cmpint (pthread_mutex_consistent (glibc), ==, 0);
        }
      else
        g_assert_cmpint (r, ==, 0);
      g_assert_cmpint (pthread_mutex_unlock (glibc), ==, 0);
      shared->held[N_LIST_PS + i] = FALSE;
    }
}

static void
init_glibc_robust (pthread_mutex_t *mutex,
                   gboolean         priority_inheritance)
{
  pthread_mutexattr_t attr;

  pthread_mutexattr_init (&attr);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  /* glibc tags these entries of the robust list (bit 0 of the link). */
  if (priority_inheritance)
    g_assert_cmpint (pthread_mutexattr_setprotocol (&attr, PTHREAD_PRIO_INHERIT), ==, 0);
  pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK);
  g_assert_cmpint (pthread_mutex_init (mutex, &attr), ==, 0);
  pthread_mutexattr_destroy (&attr);
}

static void
test_robust_list_shuffled (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (sizeof (ListShared), &error);
  ListArgs args;
  guint owner_dead = 0;

  g_assert_no_error (error);
  args.shared = ps_shared_memory_get_data (memory);
  args.shared->sandboxed = GPOINTER_TO_INT (data);
  for (guint i = 0; i < N_LIST_GLIBC; i++)
    init_glibc_robust (&args.shared->glibc[i], i < 2);
  for (guint i = 0; i < N_LIST_PS; i++)
    args.mutexes[i] = new_mutex (i % 3 == 0);

  for (guint round = 0; round < N_LIST_ROUNDS; round++)
    {
      args.shared->seed = g_test_rand_int ();
      reap_killed (ps_test_fork (shuffle_locks_and_die_child, &args, scaled_s (30)));
      g_assert_cmpint (args.shared->failures, ==, 0);
      for (guint i = 0; i < N_LIST_PS + N_LIST_GLIBC; i++)
        owner_dead += args.shared->held[i];
      assert_list_outcome (&args);
    }
  /* Random walks of 80 steps over 28 locks leave some held: the test
   * checked deaths, not only free locks. */
  g_assert_cmpuint (owner_dead, >, N_LIST_ROUNDS);
  g_test_message ("%u locks were held at a death, over %u rounds", owner_dead, N_LIST_ROUNDS);

  for (guint i = 0; i < N_LIST_PS; i++)
    g_object_unref (args.mutexes[i]);
}

typedef struct
{
  const char *name;
  PsMutex    *other;
} MappingArgs;

static int
unlock_through_other_mapping_child (gpointer data)
{
  MappingArgs *args = data;
  PsMutex *first = ps_mutex_open (args->name, PS_OPEN_NONE, NULL);
  PsMutex *second = ps_mutex_open (args->name, PS_OPEN_NONE, NULL);

  if (first == NULL || second == NULL)
    return 1;
  /* @other stays on the list below the named mutex, which is locked
   * through one mapping, unlocked through another, and whose first
   * mapping then goes away: were it left linked, the kernel's walk would
   * stop at the unmapped entry and never reach @other. */
  if (!ps_mutex_lock (args->other, 0, NULL, NULL) ||
      !ps_mutex_lock (first, 0, NULL, NULL) ||
      !ps_mutex_unlock (second, NULL))
    return 2;
  g_object_unref (first);
  if (!ps_mutex_lock (second, 0, NULL, NULL) || !ps_mutex_unlock (second, NULL))
    return 3;
  kill (getpid (), SIGKILL);
  return 4;
}

static void
test_robust_list_other_mapping (void)
{
  g_autofree char *name = ps_test_unique_name ("mutex-mapping");
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) named = ps_mutex_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_autoptr(PsMutex) other = new_mutex (FALSE);
  MappingArgs args = { name, other };

  g_assert_no_error (error);
  reap_killed (ps_test_fork (unlock_through_other_mapping_child, &args, scaled_s (30)));

  g_assert_false (ps_mutex_lock (other, scaled_us (5 * G_USEC_PER_SEC), NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);
  g_assert_true (ps_mutex_mark_consistent (other, NULL));
  g_assert_true (ps_mutex_unlock (other, NULL));

  g_assert_true (ps_mutex_lock (named, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_unlock (named, NULL));
  g_assert_true (ps_unlink (name, NULL));
}

/* Every test gets a fresh watchdog, so that one that hangs fails alone
 * and within a bound. */
static void
run_with_watchdog (gconstpointer data)
{
  GTestFunc func = (GTestFunc) data;

  ps_test_watchdog (scaled_s (90));
  func ();
}

typedef void (*DataTestFunc) (gconstpointer data);

typedef struct
{
  DataTestFunc  func;
  gconstpointer data;
} DataTest;

static void
run_data_with_watchdog (gconstpointer data)
{
  const DataTest *test = data;

  ps_test_watchdog (scaled_s (90));
  test->func (test->data);
}

static void
add_test (const char *path,
          GTestFunc   func)
{
  g_test_add_data_func (path, (gconstpointer) func, run_with_watchdog);
}

static void
add_data_test (const char    *path,
               DataTestFunc   func,
               gconstpointer  data)
{
  DataTest *test = g_new0 (DataTest, 1);

  test->func = func;
  test->data = data;
  g_test_add_data_func_full (path, test, run_data_with_watchdog, g_free);
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

  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_assert_nonnull (self_exe);

  if (argc >= 2 && g_str_equal (argv[1], "--peer"))
    return run_peer (argc - 2, argv + 2);

  g_test_init (&argc, &argv, NULL);
  ps_test_watchdog (scaled_s (170));

  add_test ("/mutex/basic/lock-unlock", test_basic_lock_unlock);
  add_test ("/mutex/basic/owner-pid-snapshot", test_basic_owner_pid_snapshot);
  add_test ("/mutex/basic/try-lock-busy", test_basic_try_lock_busy);

  add_test ("/mutex/anonymous/fork", test_anonymous_fork);
  add_test ("/mutex/named/exec-peer", test_named_exec_peer);
  add_test ("/mutex/named/recursive-peer", test_named_recursive_peer);
  add_test ("/mutex/placed/fork", test_placed_fork);
  add_test ("/mutex/placed/exec-peer", test_placed_exec_peer);
  add_test ("/mutex/placed/recursive", test_placed_recursive);
  add_test ("/mutex/placed/mutex-cond-semaphore", test_placed_trio);

  add_test ("/mutex/not-owner/nobody", test_not_owner_nobody);
  add_test ("/mutex/not-owner/other-thread", test_not_owner_other_thread);
  add_test ("/mutex/not-owner/other-process", test_not_owner_other_process);
  add_test ("/mutex/relock/would-deadlock", test_relock_would_deadlock);
  add_test ("/mutex/recursive/nested", test_recursive_nested);

  add_test ("/mutex/timeout/zero", test_timeout_zero);
  add_test ("/mutex/timeout/never-early", test_timeout_never_early);
  add_test ("/mutex/timeout/infinite-woken-by-unlock", test_timeout_infinite_woken);
  add_test ("/mutex/timeout/positive-woken-by-unlock", test_timeout_positive_woken);
  add_test ("/mutex/timeout/huge-woken-by-unlock", test_timeout_huge_woken);

  add_test ("/mutex/cancel/already-cancelled", test_cancel_already_cancelled);
  add_test ("/mutex/cancel/wakes-blocked", test_cancel_wakes_blocked);
  add_test ("/mutex/cancel/other-waiter-still-woken", test_cancel_other_waiter_still_woken);

  for (i = 0; i < G_N_ELEMENTS (next_lockers); i++)
    {
      g_autofree char *path = g_strdup_printf ("/mutex/owner-death/next-locker/%s",
                                               next_lockers[i].name);

      add_data_test (path, test_owner_death_next_locker,
                     GINT_TO_POINTER (next_lockers[i].how));
    }
  for (i = 0; i < G_N_ELEMENTS (waiting_lockers); i++)
    {
      g_autofree char *path = g_strdup_printf ("/mutex/owner-death/waiting-locker/%s",
                                               waiting_lockers[i].name);

      add_data_test (path, test_owner_death_waiting_locker,
                     GINT_TO_POINTER (waiting_lockers[i].how));
    }
  add_test ("/mutex/owner-death/one-of-many-waiters", test_owner_death_one_of_many);
  add_test ("/mutex/owner-death/not-recoverable", test_owner_death_not_recoverable);
  add_test ("/mutex/owner-death/not-recoverable-wakes-waiter",
            test_owner_death_not_recoverable_wakes_waiter);
  add_test ("/mutex/owner-death/thread-exit", test_owner_death_thread_exit);
  add_test ("/mutex/owner-death/thread-exit-waiting", test_owner_death_thread_exit_waiting);
  add_data_test ("/mutex/owner-death/thread-id-reuse/plain",
                 test_owner_death_thread_id_reuse, GINT_TO_POINTER (FALSE));
  add_data_test ("/mutex/owner-death/thread-id-reuse/recursive",
                 test_owner_death_thread_id_reuse, GINT_TO_POINTER (TRUE));
  add_test ("/mutex/owner-death/twice", test_owner_death_twice);
  add_test ("/mutex/owner-death/recursive", test_owner_death_recursive);
  add_test ("/mutex/owner-death/recursive-not-recoverable",
            test_owner_death_recursive_not_recoverable);
  add_test ("/mutex/owner-death/named-peer", test_owner_death_named_peer);
  add_test ("/mutex/owner-death/placed", test_owner_death_placed);
  add_data_test ("/mutex/robust-list/shuffled-with-glibc", test_robust_list_shuffled,
                 GINT_TO_POINTER (FALSE));
  add_data_test ("/mutex/robust-list/shuffled-without-process-vm-readv",
                 test_robust_list_shuffled, GINT_TO_POINTER (TRUE));
  add_test ("/mutex/robust-list/other-mapping", test_robust_list_other_mapping);

  add_data_test ("/mutex/counter/plain", test_counter, GINT_TO_POINTER (FALSE));
  add_data_test ("/mutex/counter/recursive", test_counter, GINT_TO_POINTER (TRUE));

  add_test ("/mutex/named/racing-create", test_named_racing_create);
  add_test ("/mutex/named/exclusive-and-missing", test_named_exclusive_missing);
  add_test ("/mutex/named/wrong-type", test_named_wrong_type);
  add_test ("/mutex/named/incompatible", test_named_incompatible);
  add_test ("/mutex/named/corrupt", test_named_corrupt);
  add_test ("/mutex/placed/incompatible", test_placed_incompatible);
  add_test ("/mutex/placed/wrong-type", test_placed_wrong_type);
  add_test ("/mutex/placed/corrupt", test_placed_corrupt);
  add_test ("/mutex/placed/bad-offsets", test_placed_bad_offsets);

  add_test ("/mutex/footprint/thousand", test_footprint_thousand);
  add_test ("/mutex/footprint/mixed-primitives", test_footprint_mixed);
  add_test ("/mutex/footprint/threads", test_footprint_threads);
  add_test ("/mutex/footprint/fork", test_footprint_fork);

  return g_test_run ();
}
