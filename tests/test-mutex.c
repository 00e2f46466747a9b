/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsMutex across real processes: the basics, the three sharing models
 * (anonymous over fork, named with a spawned peer, placed in shared
 * memory), racing named creation, and the checks made of a header when
 * an object is opened or attached.
 *
 * Locking (ownership, recursion, timeouts, cancellation) is in
 * test-mutex-lock.c, the death of a holder in test-owner-death.c, the
 * futex backend's robust list in test-robust-list.c and the pool of
 * anonymous objects in test-pool.c.
 *
 * Peers that must be separately spawned processes re-exec this binary
 * with `--peer MODE ARGS...`, handled by ps_test_init().
 */

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "ps-test-mutex.h"
#include "ps-object-header-private.h"

G_STATIC_ASSERT (G_STRUCT_OFFSET (PsObjectHeader, layout_version) == 4);
G_STATIC_ASSERT (G_STRUCT_OFFSET (PsObjectHeader, type) == 6);
G_STATIC_ASSERT (G_STRUCT_OFFSET (PsObjectHeader, backend) == 7);

#define N_RACERS          10
#define N_RACER_ITERS     300
#define N_OPENERS         4

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
  pid = ps_test_fork (anonymous_child, &args, ps_test_scaled_s (60));
  assert_wait_int (&shared->step, 1);
  g_usleep (20 * 1000);   /* let the child go to sleep on the lock */
  shared->counter = 42;
  assert_unlock (mutex);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));

  assert_lock (mutex);
  g_assert_cmpint (shared->counter, ==, 43);
  assert_unlock (mutex);
}

/* Named, with a separately spawned (exec'ed) peer. */
static int
peer_handshake (const char *mutex_name,
                const char *shm_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = peer_open (mutex_name, shm_name, &mutex, &memory);

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
  g_assert_true (ps_test_wait_int (&shared->step, 3, 30));
  assert_unlock (mutex);
  g_atomic_int_set (&shared->step, 4);
  return 0;
}

static void
test_named_exec_peer (void)
{
  g_autoptr(GError) error = NULL;
  NamedPeer peer;
  PsMutex *mutex;
  Shared *shared;
  GPid pid;

  named_peer_init (&peer, "mutex");
  mutex = peer.mutex;
  shared = peer.shared;
  g_assert_cmpstr (ps_mutex_get_name (mutex), ==, peer.mutex_name);
  shared->parent_pid = getpid ();

  assert_lock (mutex);
  pid = ps_test_spawn_peer ("handshake", peer.mutex_name, peer.shm_name, NULL);
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
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  assert_lock (mutex);
  assert_unlock (mutex);

  named_peer_clear (&peer);
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

  ps_test_reap_ok (ps_test_spawn_peer ("check-recursive", recursive_name, "1", NULL),
                   ps_test_scaled_s (30));
  ps_test_reap_ok (ps_test_spawn_peer ("check-recursive", plain_name, "0", NULL),
                   ps_test_scaled_s (30));

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
  pid = ps_test_fork (placed_child, &args, ps_test_scaled_s (60));
  assert_wait_int ((gint *) (guarded + 1), 1);
  *guarded = 100;
  assert_unlock (attached);   /* the same lock, so either object unlocks it */
  ps_test_reap_ok (pid, ps_test_scaled_s (30));

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
  pid = ps_test_spawn_peer ("placed", shm_name, NULL);
  assert_wait_int (&shared->step, 1);
  shared->counter = 5;
  assert_unlock (mutex);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));

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
  gint64 end_time = g_get_monotonic_time () + ps_test_scaled_us (20 * G_USEC_PER_SEC);

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
  g_assert_true (ps_semaphore_acquire (semaphore, ps_test_scaled_us (20 * G_USEC_PER_SEC), NULL, &error));
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

  pid = ps_test_fork (trio_child, memory, ps_test_scaled_s (60));

  assert_lock (mutex);
  g_assert_true (ps_semaphore_release (semaphore, &error));
  g_assert_no_error (error);
  g_assert_true (cond_wait_for (cond, mutex, value, 1));
  *value = 2;
  ps_cond_broadcast (cond);
  g_assert_true (cond_wait_for (cond, mutex, value, 3));
  assert_unlock (mutex);

  ps_test_reap_ok (pid, ps_test_scaled_s (30));
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 0);
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
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (30 * G_USEC_PER_SEC);
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
  if (!ps_test_wait_int (&args->shared->step, 1, 30))
    return 3;
  if (ps_mutex_get_owner_pid (mutex) != args->parent)
    return 4;
  if (ps_mutex_try_lock (mutex, &error) || error != NULL)
    return 5;
  g_atomic_int_inc (&args->shared->plain);

  if (!ps_test_wait_int (&args->shared->step, 2, 30))
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
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (30 * G_USEC_PER_SEC);
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
  if (!ps_test_wait_int (&args->shared->step, 2, 30))
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
    pids[i] = ps_test_fork (racer_child, &args, ps_test_scaled_s (120));
  for (i = 0; i < N_OPENERS; i++)
    openers[i] = ps_test_fork (opener_child, &args, ps_test_scaled_s (120));
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
    ps_test_reap_ok (pids[i], ps_test_scaled_s (120));
  for (i = 0; i < N_OPENERS; i++)
    ps_test_reap_ok (openers[i], ps_test_scaled_s (120));
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

/* Main ---------------------------------------------------------------------- */

static int
run_peer (int    argc,
          char **argv)
{
  ps_test_watchdog (ps_test_scaled_s (150));

  if (argc == 3 && g_str_equal (argv[0], "handshake"))
    return peer_handshake (argv[1], argv[2]);
  if (argc == 3 && g_str_equal (argv[0], "check-recursive"))
    return peer_check_recursive (argv[1], argv[2]);
  if (argc == 2 && g_str_equal (argv[0], "placed"))
    return peer_placed (argv[1]);

  g_printerr ("test-mutex: unknown peer mode\n");
  return 99;
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, run_peer);
  ps_test_watchdog (ps_test_scaled_s (170));

  ps_test_add ("/mutex/basic/lock-unlock", test_basic_lock_unlock);
  ps_test_add ("/mutex/basic/owner-pid-snapshot", test_basic_owner_pid_snapshot);
  ps_test_add ("/mutex/basic/try-lock-busy", test_basic_try_lock_busy);

  ps_test_add ("/mutex/anonymous/fork", test_anonymous_fork);
  ps_test_add ("/mutex/named/exec-peer", test_named_exec_peer);
  ps_test_add ("/mutex/named/recursive-peer", test_named_recursive_peer);
  ps_test_add ("/mutex/placed/fork", test_placed_fork);
  ps_test_add ("/mutex/placed/exec-peer", test_placed_exec_peer);
  ps_test_add ("/mutex/placed/recursive", test_placed_recursive);
  ps_test_add ("/mutex/placed/mutex-cond-semaphore", test_placed_trio);

  ps_test_add ("/mutex/named/racing-create", test_named_racing_create);
  ps_test_add ("/mutex/named/exclusive-and-missing", test_named_exclusive_missing);
  ps_test_add ("/mutex/named/wrong-type", test_named_wrong_type);
  ps_test_add ("/mutex/named/incompatible", test_named_incompatible);
  ps_test_add ("/mutex/named/corrupt", test_named_corrupt);
  ps_test_add ("/mutex/placed/incompatible", test_placed_incompatible);
  ps_test_add ("/mutex/placed/wrong-type", test_placed_wrong_type);
  ps_test_add ("/mutex/placed/corrupt", test_placed_corrupt);
  ps_test_add ("/mutex/placed/bad-offsets", test_placed_bad_offsets);

  return g_test_run ();
}
