/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <pthread.h>

#include "ps-error.h"
#include "ps-identity-private.h"
#include "ps-robust-mutex-private.h"
#include "ps-spin-private.h"
#include "ps-wait-private.h"

/* The ownership records of this process. Its lock is only ever taken
 * alone (nothing else is locked while it is held), so that fork() can
 * take it first: a child forked while another thread held it would
 * otherwise find it held by no thread of its own, for ever. */
static GMutex      ownerships_lock;
static GHashTable *ownerships;

static void
ownerships_prepare_fork (void)
{
  g_mutex_lock (&ownerships_lock);
}

static void
ownerships_after_fork (void)
{
  /* In the child too: the forking thread, its only thread, holds it. The
   * records stay: the child has copies of the parent's handles. */
  g_mutex_unlock (&ownerships_lock);
}

static inline gboolean
is_held (PsRobustMutexHandle *handle)
{
  return ps_robust_mutex_is_held_by_self (handle, ps_self_thread_id ());
}

static PsMutexOwnership *
ownership_ref (guint64 instance)
{
  static gsize initialised;
  PsMutexOwnership *own;

  if (g_once_init_enter (&initialised))
    {
      ownerships = g_hash_table_new (g_int64_hash, g_int64_equal);
      pthread_atfork (ownerships_prepare_fork, ownerships_after_fork, ownerships_after_fork);
      g_once_init_leave (&initialised, 1);
    }

  g_mutex_lock (&ownerships_lock);
  own = g_hash_table_lookup (ownerships, &instance);
  if (own == NULL)
    {
      own = g_new0 (PsMutexOwnership, 1);
      own->instance = instance;
      g_hash_table_insert (ownerships, &own->instance, own);
    }
  own->ref_count++;
  g_mutex_unlock (&ownerships_lock);
  return own;
}

static void
ownership_unref (PsMutexOwnership *own)
{
  g_mutex_lock (&ownerships_lock);
  if (--own->ref_count == 0)
    {
      g_hash_table_remove (ownerships, &own->instance);
      g_free (own);
    }
  g_mutex_unlock (&ownerships_lock);
}

/* Forgets the hold and gives the platform lock back where it was taken
 * (a thread may lock through one handle and unlock through another,
 * mapped elsewhere). */
static inline gboolean
release_hold (PsRobustMutexHandle *handle,
              PsRobustMutex       *state)
{
  PsRobustMutex *held = handle->own->held_state;

  ps_robust_mutex_clear_hold (handle->own, state);
  if (G_LIKELY (ps_robust_lock_unlock (&held->lock) == PS_LOCK_ACQUIRED))
    return TRUE;
  ps_robust_mutex_pin (handle->own, held);
  return FALSE;
}

/* After the backend granted the lock: note who holds it. FALSE (with
 * nothing changed) if the mutex cannot be used, in which case the caller
 * gives the lock back (see ps_robust_mutex_finish_lock()). */
static inline gboolean
record_acquisition (PsRobustMutexHandle *handle,
                    PsRobustMutex       *state)
{
  if (G_UNLIKELY (g_atomic_int_get (&state->consistency) == PS_MUTEX_NOT_RECOVERABLE))
    return FALSE;
  ps_robust_mutex_record_hold (handle->own, handle->owner, state,
                               ps_self_thread_id (), ps_self_process_id ());
  return TRUE;
}

/* A lock by the thread that holds the mutex: counted here, in private
 * memory, never by the platform. */
static gboolean
relock (PsRobustMutexHandle  *handle,
        GError              **error)
{
  if (!handle->recursive)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK,
                           "The calling thread already holds this non-recursive mutex");
      return FALSE;
    }
  if (handle->own->depth == G_MAXUINT)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_FAILED,
                           "The mutex could not be locked: recursion too deep");
      return FALSE;
    }
  handle->own->depth++;
  return TRUE;
}

void
ps_robust_mutex_set_corrupt_error (GError **error)
{
  g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                       "The mutex's shared state is corrupt: it claims this thread "
                       "holds it, or does not match its kind");
}

static void
set_not_recoverable_error (GError **error)
{
  g_set_error_literal (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE,
                       "The mutex is not recoverable: a holder died and it "
                       "was unlocked without being marked consistent");
}

/* Releases a lock just taken through @handle that cannot be used. */
static void
give_back (PsRobustMutexHandle *handle,
           PsRobustMutex       *state)
{
  if (ps_robust_lock_unlock (&state->lock) != PS_LOCK_ACQUIRED)
    handle->pinned = TRUE;   /* it may still be linked where the kernel looks */
}

gboolean
ps_robust_mutex_finish_lock (PsRobustMutexHandle  *handle,
                             PsLockStatus          status,
                             GError              **error)
{
  PsRobustMutex *state = handle->state;

  switch (status)
    {
    case PS_LOCK_ACQUIRED:
      if (record_acquisition (handle, state))
        return TRUE;
      give_back (handle, state);
      if (g_atomic_int_get (&state->consistency) == PS_MUTEX_NOT_RECOVERABLE)
        set_not_recoverable_error (error);
      else
        ps_robust_mutex_set_corrupt_error (error);
      return FALSE;

    case PS_LOCK_OWNER_DIED:
      if (g_atomic_int_get (&state->consistency) == PS_MUTEX_NOT_RECOVERABLE)
        {
          /* Its last holder died between taking it and seeing it condemned. */
          ps_robust_lock_make_consistent (&state->lock);
          give_back (handle, state);
          set_not_recoverable_error (error);
          return FALSE;
        }
      {
        /* The dead holder's pid is still there: no lock taken since. */
        guint32 dead_pid = __atomic_load_n (&state->owner_pid, __ATOMIC_RELAXED);

        handle->previous_owner_pid = dead_pid;
        ps_robust_mutex_record_hold (handle->own, handle->owner, state,
                                     ps_self_thread_id (), ps_self_process_id ());
        g_atomic_int_set (&state->consistency, PS_MUTEX_INCONSISTENT);
        if (dead_pid != 0)
          g_set_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD,
                       "The previous holder of the mutex, process %u, died holding it; "
                       "the lock is now held: repair the data, then mark it consistent",
                       dead_pid);
        else
          g_set_error_literal (error, PS_ERROR, PS_ERROR_OWNER_DEAD,
                               "The previous holder of the mutex died holding it; the lock "
                               "is now held: repair the data, then mark it consistent");
        return FALSE;
      }

    case PS_LOCK_NOT_RECOVERABLE:
      set_not_recoverable_error (error);
      return FALSE;

    case PS_LOCK_WOULD_DEADLOCK:
      /* Relocks never reach the platform: the lock word names this
       * thread, which does not hold it. */
      ps_robust_mutex_set_corrupt_error (error);
      return FALSE;

    case PS_LOCK_TIMED_OUT:
      ps_set_wait_error (error, PS_WAIT_TIMED_OUT, "mutex");
      return FALSE;

    case PS_LOCK_CANCELLED:
      ps_set_wait_error (error, PS_WAIT_CANCELLED, "mutex");
      return FALSE;

    case PS_LOCK_BUSY:
      ps_set_would_block_error (error, "mutex");
      return FALSE;

    case PS_LOCK_CORRUPT:
      ps_robust_mutex_set_corrupt_error (error);
      return FALSE;

    case PS_LOCK_FAILED:
    case PS_LOCK_NOT_OWNER:
    default:
      /* Only for a lock a peer rewrote: we never ask for a relock. */
      ps_robust_mutex_set_corrupt_error (error);
      return FALSE;
    }
}

static PsLockStatus
lock_blocking (PsRobustMutex *state,
               gboolean       tried_first,
               gint64         deadline,
               PsWaitContext *context)
{
  PsLockStatus status;

  if (g_atomic_int_get (&state->consistency) == PS_MUTEX_NOT_RECOVERABLE)
    return PS_LOCK_NOT_RECOVERABLE;

  status = tried_first ? PS_LOCK_BUSY : ps_robust_lock_try (&state->lock);
  if (status == PS_LOCK_BUSY && deadline != 0)
    status = ps_robust_lock_wait (&state->lock, deadline,
                                  context ? ps_wait_context_get_canceller (context) : NULL);
  return status;
}

gboolean
ps_robust_mutex_lock_contended (PsRobustMutexHandle  *handle,
                                gint64                timeout_us,
                                GCancellable         *cancellable,
                                GError              **error)
{
  PsWaitContext context;
  PsLockStatus status;

  if (!ps_wait_context_begin (&context, cancellable, error))
    return FALSE;
  status = lock_blocking (handle->state, TRUE, ps_deadline_from_timeout (timeout_us), &context);
  ps_wait_context_end (&context);

  return ps_robust_mutex_finish_lock (handle, status, error);
}

gboolean
ps_robust_mutex_lock (PsRobustMutexHandle  *handle,
                      gint64                timeout_us,
                      GCancellable         *cancellable,
                      GError              **error)
{
  PsLockStatus status;

  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (G_UNLIKELY (is_held (handle)))
    return relock (handle, error);

  /* The uncontended path: the platform's trylock and a few stores, no
   * cancellable set up, nothing out of line. */
  status = ps_robust_lock_try (&handle->state->lock);
  if (G_LIKELY (status == PS_LOCK_ACQUIRED) &&
      G_LIKELY (record_acquisition (handle, handle->state)))
    return TRUE;
  if (status != PS_LOCK_BUSY || timeout_us == 0)
    return ps_robust_mutex_finish_lock (handle, status, error);

  return ps_robust_mutex_lock_contended (handle, timeout_us, cancellable, error);
}

gboolean
ps_robust_mutex_try_lock (PsRobustMutexHandle  *handle,
                          GError              **error)
{
  PsLockStatus status;

  if (is_held (handle))
    return relock (handle, error);
  status = lock_blocking (handle->state, FALSE, 0, NULL);
  if (status == PS_LOCK_BUSY)
    return FALSE;
  return ps_robust_mutex_finish_lock (handle, status, error);
}

gboolean
ps_robust_mutex_unlock (PsRobustMutexHandle  *handle,
                        gboolean              allow_recursion,
                        GError              **error)
{
  PsRobustMutex *state = handle->state;

  if (!is_held (handle))
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_NOT_OWNER,
                           "The calling thread does not hold the mutex");
      return FALSE;
    }

  if (handle->own->depth > 1)
    {
      if (!allow_recursion)
        {
          g_set_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK,
                       "The mutex is locked %u times; a condition wait would keep it held",
                       handle->own->depth);
          return FALSE;
        }
      handle->own->depth--;
      return TRUE;
    }

  /* Unlocking unrepaired data condemns it. We keep that verdict
   * ourselves and hand the platform lock back in a normal state: C
   * libraries disagree on what a "not recoverable" pthread mutex does to
   * its waiters, and every waiter must wake up to learn the verdict. Each
   * one takes the lock, sees it, and unlocks, waking the next. */
  if (g_atomic_int_get (&state->consistency) == PS_MUTEX_INCONSISTENT)
    {
      g_atomic_int_set (&state->consistency, PS_MUTEX_NOT_RECOVERABLE);
      ps_robust_lock_make_consistent (&state->lock);
    }

  if (!release_hold (handle, state))
    {
      ps_robust_mutex_set_corrupt_error (error);
      return FALSE;
    }
  return TRUE;
}

gboolean
ps_robust_mutex_mark_consistent (PsRobustMutexHandle  *handle,
                                 GError              **error)
{
  PsRobustMutex *state = handle->state;

  if (!is_held (handle))
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_NOT_OWNER,
                           "The calling thread does not hold the mutex");
      return FALSE;
    }
  if (g_atomic_int_get (&state->consistency) == PS_MUTEX_INCONSISTENT)
    {
      ps_robust_lock_make_consistent (&state->lock);
      g_atomic_int_set (&state->consistency, PS_MUTEX_CONSISTENT);
    }
  return TRUE;
}

gboolean
ps_robust_mutex_unlock_unrepaired (PsRobustMutexHandle  *handle,
                                   GError              **error)
{
  if (!is_held (handle) || handle->own->depth != 1)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_NOT_OWNER,
                           "The calling thread does not hold the mutex");
      return FALSE;
    }
  /* The platform's part of the repair only: its lock must be given back
   * in a normal state (see ps_robust_mutex_unlock()). */
  ps_robust_lock_make_consistent (&handle->state->lock);
  if (!release_hold (handle, handle->state))
    {
      ps_robust_mutex_set_corrupt_error (error);
      return FALSE;
    }
  return TRUE;
}

/* About 5 µs of polling on current x86 CPUs. */
#define REACQUIRE_SPINS 200

/* Polls, up to @max_spins times, while another thread holds the lock,
 * when ps_spin_should_poll() says the holder may be running. */
static void
await_release (PsRobustMutexHandle *handle,
               guint                max_spins)
{
  guint spins = 0;

  if (!ps_robust_lock_looks_busy (&handle->state->lock) ||
      !ps_spin_should_poll (handle->state))
    return;

  while (spins < max_spins && ps_robust_lock_looks_busy (&handle->state->lock))
    {
      ps_cpu_relax ();
      spins++;
    }
  ps_spin_record (handle->state, spins < max_spins);
}

gboolean
ps_robust_mutex_lock_polling (PsRobustMutexHandle  *handle,
                              guint                 max_spins,
                              gint64                timeout_us,
                              GCancellable         *cancellable,
                              GError              **error)
{
  PsRobustMutex *state = handle->state;
  gboolean polling = FALSE;

  if (G_UNLIKELY (is_held (handle)) ||
      (cancellable != NULL && g_cancellable_is_cancelled (cancellable)))
    return ps_robust_mutex_lock (handle, timeout_us, cancellable, error);

  /* Tried each time it looks free: a holder that takes it again at once
   * wins some of the races, and losing one must not mean a sleep. */
  for (guint spins = 0;; spins++)
    {
      if (!ps_robust_lock_looks_busy (&state->lock))
        {
          PsLockStatus status = ps_robust_lock_try (&state->lock);

          if (status == PS_LOCK_ACQUIRED && record_acquisition (handle, state))
            {
              if (polling)
                ps_spin_record (state, TRUE);
              return TRUE;
            }
          if (status != PS_LOCK_BUSY)
            return ps_robust_mutex_finish_lock (handle, status, error);
        }
      if (!polling && !(polling = ps_spin_should_poll (state)))
        break;
      if (spins == max_spins)
        {
          ps_spin_record (state, FALSE);
          break;
        }
      ps_cpu_relax ();
    }
  if (timeout_us == 0)
    return ps_robust_mutex_finish_lock (handle, PS_LOCK_BUSY, error);
  return ps_robust_mutex_lock_contended (handle, timeout_us, cancellable, error);
}

gboolean
ps_robust_mutex_reacquire (PsRobustMutexHandle  *handle,
                           GError              **error)
{
  /* A condition is mostly signalled by a thread holding the mutex, which
   * releases it a moment later: looking for that moment saves sleeping
   * on the mutex only to be woken again. */
  await_release (handle, REACQUIRE_SPINS);

  /* No timeout and no cancellable: whatever ended the wait, the caller
   * must hold the mutex again when it returns. */
  return ps_robust_mutex_finish_lock (handle, lock_blocking (handle->state, FALSE, -1, NULL),
                                      error);
}

gboolean
ps_robust_mutex_init (PsRobustMutex  *state,
                      gboolean        recursive,
                      GError        **error)
{
  state->recursive = recursive;
  state->consistency = PS_MUTEX_CONSISTENT;
  state->owner_pid = 0;
  state->pid_namespace = ps_self_pid_namespace ();
  /* Not g_random_int(): GLib's lock, which fork() does not take. */
  state->instance = ps_unique_id ();
  return ps_robust_lock_init (&state->lock, recursive, error);
}

/* Across PID namespaces, a lock cannot be both exclusive and robust. The
 * futex backend and glibc's robust mutexes (the posix backend) keep the
 * holder's thread id in the lock word, and when a thread dies the kernel
 * marks owner-dead every lock on its robust list, and the one it was
 * about to take or give back, whose word holds its own thread id as its
 * own namespace numbers it. Thread ids of two namespaces collide (each
 * container's first process is 1): a waiter killed in one namespace would
 * have the kernel hand over the lock of a live holder in the other, and
 * a locker would take a holder of the other for itself. The darwin
 * backend's liveness probes (kill(), the start time of a pid) would look
 * at whatever process has that pid here. No probe of ours can see into
 * another namespace, so a mutex is only ever used in the PID namespace
 * of its creator. A creator that could not tell its namespace (no /proc)
 * recorded none, and so accepts anyone, as before 1.1. */
gboolean
ps_robust_mutex_check_pid_namespace (guint32   creator_namespace,
                                     GError  **error)
{
  guint32 mine = ps_self_pid_namespace ();

  if (creator_namespace == PS_PID_NAMESPACE_UNKNOWN || creator_namespace == mine)
    return TRUE;
  if (mine == PS_PID_NAMESPACE_UNKNOWN)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "The mutex was created in PID namespace pid:[%u], and this process "
                 "cannot tell its own (/proc/self/ns/pid is unreadable): a mutex "
                 "works only among processes of one PID namespace",
                 creator_namespace);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "The mutex was created in another PID namespace (pid:[%u]; this "
                 "process is in pid:[%u]): a mutex works only among processes of "
                 "one PID namespace, whose process ids mean the same to all of them. "
                 "Share the PID namespace (Kubernetes: shareProcessNamespace; "
                 "docker run --pid=container:NAME), or use a mutex created in this one",
                 creator_namespace, mine);
  return FALSE;
}

gboolean
ps_robust_mutex_handle_open (PsRobustMutexHandle  *handle,
                             gconstpointer         owner,
                             PsRobustMutex        *state,
                             GError              **error)
{
  if (state->recursive > 1 || state->consistency > PS_MUTEX_NOT_RECOVERABLE ||
      !ps_robust_lock_check (&state->lock, state->recursive))
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                           "The mutex's state is corrupt");
      return FALSE;
    }
  if (!ps_robust_mutex_check_pid_namespace (__atomic_load_n (&state->pid_namespace,
                                                              __ATOMIC_RELAXED), error))
    return FALSE;

  /* An opened mutex is recursive if its creator made it so. */
  handle->owner = owner;
  handle->recursive = state->recursive;
  handle->own = ownership_ref (__atomic_load_n (&state->instance, __ATOMIC_RELAXED));
  handle->state = state;
  return TRUE;
}

void
ps_robust_mutex_handle_close (PsRobustMutexHandle *handle)
{
  PsMutexOwnership *own = handle->own;
  PsRobustMutex *state = handle->state;

  if (state == NULL)
    return;

  /* A mutex held through this handle sits on its holder's robust list,
   * which the C library and the kernel walk through pointers inside the
   * mutex itself: its memory must never be reused or unmapped under them.
   * Dropping a mutex one holds gives it back first; one still held by
   * another of our threads keeps its memory for the life of the process
   * (a small, deliberate leak), as does one that cannot be given back. */
  if (own->depth > 0 && own->through == handle->owner)
    {
      gboolean released = is_held (handle);

      if (released)
        {
          PsRobustMutex *held = own->held_state;

          ps_robust_mutex_clear_hold (own, state);
          released = ps_robust_lock_unlock (&held->lock) == PS_LOCK_ACQUIRED;
        }
      else
        {
          /* Another of our threads holds it through this handle, and
           * will release it through another: nothing may point here. */
          gconstpointer expected = handle->owner;

          __atomic_compare_exchange_n (&own->through, &expected, NULL, FALSE,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        }
      handle->pinned |= !released;
    }
  handle->pinned |= own->pinned_state == state;
  ownership_unref (own);
  handle->own = NULL;
  handle->state = NULL;
}
