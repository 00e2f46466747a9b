/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Helpers shared by the PsMutex test programs (test-mutex, test-mutex-lock,
 * test-owner-death, test-robust-list, test-pool): a block the test shares
 * with its children, holders forked off and killed or released, lockers in
 * other threads and processes, and what they see of a mutex.
 */

#include <sched.h>

#include "ps-test-util.h"

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

/* A zero-filled Shared for a test and its children. */
static inline Shared *
shared_new (PsSharedMemory **out_memory)
{
  return ps_test_shared_new (sizeof (Shared), out_memory);
}

/* Waits (bounded) until *@location holds @value, or fails the test. */
static inline void
assert_wait_int (gint  *location,
                 gint   value)
{
  if (!ps_test_wait_int (location, value, 20))
    g_error ("waited in vain for %d (it is %d)", value, g_atomic_int_get (location));
}

/* What a forked child is given: the mutex, the block it shares with the
 * test, and the test's pid. */
typedef struct
{
  PsMutex *mutex;
  Shared  *shared;
  GPid     parent;
} ForkArgs;

/* Where placed mutexes stand in their segment. */
#define PLACED_SIZE   4096
#define PLACED_OFFSET 256

/* Many processes in and out of one critical section: counts those found
 * in it at once. */
static inline void
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

/* A child that waits for the mutex (recovering it if its owner died),
 * counts how it got it in the shared block, and checks that it is alone
 * in its critical section. */
typedef struct
{
  PsMutex *mutex;
  Shared  *shared;
} WaitChildArgs;

static inline int
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

/* What a forked holder of a mutex is given. */
typedef struct
{
  PsMutex *mutex;
  Shared  *shared;
  guint    depth;
} HoldArgs;

/* Fork a child that holds @mutex until shared->step becomes 2, then
 * unlocks it and exits. */
static inline int
hold_until_step_child (gpointer data)
{
  HoldArgs *args = data;

  if (!ps_mutex_lock (args->mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 1;
  g_atomic_int_set (&args->shared->step, 1);
  if (!ps_test_wait_int (&args->shared->step, 2, 60))
    return 2;
  if (!ps_mutex_unlock (args->mutex, NULL))
    return 3;
  return 0;
}

static inline pid_t
fork_step_holder (PsMutex *mutex,
                  Shared  *shared)
{
  HoldArgs args = { mutex, shared, 1 };
  pid_t pid;

  g_atomic_int_set (&shared->step, 0);
  pid = ps_test_fork (hold_until_step_child, &args, ps_test_scaled_s (90));
  assert_wait_int (&shared->step, 1);
  return pid;
}

static inline void
release_step_holder (Shared *shared,
                     pid_t   pid)
{
  g_atomic_int_set (&shared->step, 2);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));
}

static inline PsMutex *
new_mutex (gboolean recursive)
{
  g_autoptr(GError) error = NULL;
  PsMutex *mutex;

  mutex = recursive ? ps_mutex_new_recursive (&error) : ps_mutex_new (&error);
  g_assert_no_error (error);
  g_assert_nonnull (mutex);
  return mutex;
}

static inline void
assert_lock (PsMutex *mutex)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error));
  g_assert_no_error (error);
}

static inline void
assert_unlock (PsMutex *mutex)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
}

static inline void
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

static inline gboolean
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

static inline void
waiter_clear (Waiter *waiter)
{
  g_clear_error (&waiter->error);
}

static inline gpointer
unlock_thread (gpointer data)
{
  Waiter *waiter = data;

  waiter->result = ps_mutex_unlock (waiter->mutex, &waiter->error);
  waiter->owner_after = ps_mutex_get_owner_pid (waiter->mutex);
  return NULL;
}

static inline gpointer
try_lock_thread (gpointer data)
{
  Waiter *waiter = data;

  waiter->result = ps_mutex_try_lock (waiter->mutex, &waiter->error);
  if (waiter->result)
    waiter->unlock_ok = ps_mutex_unlock (waiter->mutex, NULL);
  return NULL;
}

static inline gpointer
lock_thread (gpointer data)
{
  Waiter *waiter = data;

  waiter->result = lock_how (waiter->mutex, waiter->how, &waiter->error);
  if (waiter->result)
    waiter->unlock_ok = ps_mutex_unlock (waiter->mutex, NULL);
  return NULL;
}

/* Runs @func in a new thread and waits for it. */
static inline void
run_in_thread (GThreadFunc  func,
               Waiter      *waiter)
{
  GThread *thread = g_thread_new ("mutex-test", func, waiter);

  g_thread_join (thread);
}

/* What another thread of this process sees: busy, without an error. */
static inline void
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

static inline int
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

static inline void
assert_busy_for_other_process (PsMutex *mutex,
                               GPid     owner)
{
  BusyArgs args = { mutex, owner };

  ps_test_reap_ok (ps_test_fork (busy_child, &args, ps_test_scaled_s (30)), ps_test_scaled_s (30));
}

static inline int
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
static inline void
assert_free_for_other_process (PsMutex *mutex)
{
  ps_test_reap_ok (ps_test_fork (plain_lock_child, mutex, ps_test_scaled_s (30)), ps_test_scaled_s (30));
}

/* The caller holds @mutex once: its unlock frees it for everyone, and a
 * second unlock is refused. */
static inline void
assert_last_unlock_frees (PsMutex *mutex)
{
  assert_unlock (mutex);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
  assert_unlock_not_owner (mutex);
  assert_free_for_other_process (mutex);
}

/* Named objects, asserting success. */
static inline PsMutex *
open_mutex (const char  *name,
            PsOpenFlags  flags)
{
  g_autoptr(GError) error = NULL;
  PsMutex *mutex = ps_mutex_open (name, flags, &error);

  g_assert_no_error (error);
  g_assert_nonnull (mutex);
  return mutex;
}

static inline void
unlink_name (const char *name)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

/* A named mutex and a named block, made by a test for a spawned peer,
 * which opens them with peer_open(). */
typedef struct
{
  char           *mutex_name;
  char           *shm_name;
  PsMutex        *mutex;
  PsSharedMemory *memory;
  Shared         *shared;
} NamedPeer;

/* Makes them, named after @what: "@what" and "@what-data". */
static inline void
named_peer_init (NamedPeer  *peer,
                 const char *what)
{
  g_autofree char *data_what = g_strconcat (what, "-data", NULL);
  g_autoptr(GError) error = NULL;

  peer->mutex_name = ps_test_unique_name (what);
  peer->shm_name = ps_test_unique_name (data_what);
  peer->mutex = open_mutex (peer->mutex_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE);
  peer->memory = ps_shared_memory_open (peer->shm_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                        sizeof (Shared), &error);
  g_assert_no_error (error);
  peer->shared = ps_shared_memory_get_data (peer->memory);
}

/* Unlinks both names, then lets go of the objects. */
static inline void
named_peer_clear (NamedPeer *peer)
{
  unlink_name (peer->mutex_name);
  unlink_name (peer->shm_name);
  g_clear_object (&peer->mutex);
  g_clear_object (&peer->memory);
  g_clear_pointer (&peer->mutex_name, g_free);
  g_clear_pointer (&peer->shm_name, g_free);
}

/* In a spawned peer: opens the test's named mutex and the named block it
 * shares with the test. */
static inline Shared *
peer_open (const char      *mutex_name,
           const char      *shm_name,
           PsMutex        **out_mutex,
           PsSharedMemory **out_memory)
{
  g_autoptr(GError) error = NULL;

  *out_mutex = ps_mutex_open (mutex_name, PS_OPEN_NONE, &error);
  g_assert_no_error (error);
  *out_memory = ps_shared_memory_open (shm_name, PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  return ps_shared_memory_get_data (*out_memory);
}
