/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-identity-private.h"
#include "ps-mutex-private.h"
#include "ps-object-storage-private.h"
#include "ps-robust-mutex-private.h"

/**
 * PsMutex:
 *
 * A robust mutual-exclusion lock shared between processes.
 *
 * Ownership is per thread: only the thread that locked the mutex may
 * unlock it ([method@Mutex.unlock] fails with %PS_ERROR_NOT_OWNER for
 * anyone else), and relocking a non-recursive mutex one already holds
 * fails with %PS_ERROR_WOULD_DEADLOCK instead of hanging. A recursive
 * mutex ([ctor@Mutex.new_recursive]) may be locked again by its holder,
 * and is released by as many unlocks.
 *
 * The mutex is robust: when its holder dies, even by `SIGKILL`, the
 * next thread to lock it (or one already waiting) gets %FALSE with
 * %PS_ERROR_OWNER_DEAD, *and holds the lock*. It should repair the data
 * the mutex guards, then call [method@Mutex.mark_consistent] and carry
 * on. If it unlocks without doing so, the data is deemed beyond repair:
 * every later lock fails with %PS_ERROR_NOT_RECOVERABLE.
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 *
 * if (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error))
 *   {
 *     if (!g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
 *       return FALSE;
 *     repair_shared_data (data);
 *     ps_mutex_mark_consistent (mutex, NULL);
 *   }
 * update_shared_data (data);
 * ps_mutex_unlock (mutex, NULL);
 * ```
 *
 * Locks take a timeout and a #GCancellable; a blocked lock is woken by
 * cancellation, not polled.
 *
 * Across fork(): a mutex made before fork() is shared by parent and
 * child, but holding it is not inherited. A child forked while its parent
 * holds the mutex is a different process with a thread of its own: its
 * [method@Mutex.try_lock] finds the mutex busy (held by the parent) and
 * returns %FALSE without an error, its [method@Mutex.lock] waits for the
 * parent to unlock it (or to die: then the child gets
 * %PS_ERROR_OWNER_DEAD), and its [method@Mutex.unlock] and
 * [method@Mutex.mark_consistent] fail with %PS_ERROR_NOT_OWNER. The parent
 * goes on holding it, and unlocks it as usual.
 *
 * Since: 1.0
 */

G_STATIC_ASSERT (sizeof (PsRobustMutex) <= PS_OBJECT_STATE_SIZE);
G_STATIC_ASSERT (PS_MUTEX_SIZE == PS_OBJECT_SLOT_SIZE);

struct _PsMutex
{
  GObject parent_instance;

  PsObjectStorage storage;
  gboolean recursive;   /* the construct property; then what the mutex is */

  /* This mapping of the mutex, and this process's record of who holds
   * it (ps-robust-mutex-private.h). */
  PsRobustMutexHandle handle;
};

static void ps_mutex_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PsMutex, ps_mutex, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      ps_mutex_initable_iface_init))

enum {
  PROP_RECURSIVE = PS_OBJECT_N_PROPS,
  N_PROPS
};

static GParamSpec *properties [N_PROPS];

/* For the fast paths' type check, which must not call anything: no
 * PsMutex exists before the class is initialised. */
static GType mutex_type;

static gboolean
init_state (gpointer   data,
            gpointer   instance,
            GError   **error)
{
  return ps_robust_mutex_init (data, PS_MUTEX (instance)->recursive, error);
}

static gboolean
adopt_state (gpointer   data,
             gpointer   instance,
             GError   **error)
{
  PsMutex *self = instance;

  if (!ps_robust_mutex_handle_open (&self->handle, self, data, error))
    return FALSE;
  self->recursive = self->handle.recursive;
  return TRUE;
}

static const PsObjectKind mutex_kind = {
  .type = PS_OBJECT_TYPE_MUTEX,
  .init_state = init_state,
  .adopt_state = adopt_state,
};

static gboolean
ps_mutex_initable_init (GInitable     *initable,
                        GCancellable  *cancellable,
                        GError       **error)
{
  return ps_object_storage_initable_init (&PS_MUTEX (initable)->storage, &mutex_kind,
                                          initable, error);
}

/* An object made by g_object_new() alone, as the language bindings make
 * it, works too; g_initable_init() then gives what this found. */
static void
ps_mutex_constructed (GObject *object)
{
  G_OBJECT_CLASS (ps_mutex_parent_class)->constructed (object);
  ps_object_storage_constructed (&PS_MUTEX (object)->storage, &mutex_kind, object);
}

static void
ps_mutex_initable_iface_init (GInitableIface *iface)
{
  iface->init = ps_mutex_initable_init;
}

static void
ps_mutex_finalize (GObject *object)
{
  PsMutex *self = (PsMutex *)object;

  ps_robust_mutex_handle_close (&self->handle);
  if (self->handle.pinned)
    ps_object_storage_keep_mapped (&self->storage);
  ps_object_storage_clear (&self->storage);

  G_OBJECT_CLASS (ps_mutex_parent_class)->finalize (object);
}

static void
ps_mutex_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  PsMutex *self = PS_MUTEX (object);

  if (ps_object_storage_get_property (&self->storage, prop_id, value))
    return;

  switch (prop_id)
    {
    case PROP_RECURSIVE:
      g_value_set_boolean (value, self->recursive);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ps_mutex_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  PsMutex *self = PS_MUTEX (object);

  if (ps_object_storage_set_property (&self->storage, prop_id, value, pspec))
    return;

  switch (prop_id)
    {
    case PROP_RECURSIVE:
      self->recursive = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ps_mutex_class_init (PsMutexClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  mutex_type = G_TYPE_FROM_CLASS (klass);
  object_class->constructed = ps_mutex_constructed;
  object_class->finalize = ps_mutex_finalize;
  object_class->get_property = ps_mutex_get_property;
  object_class->set_property = ps_mutex_set_property;

  /**
   * PsMutex:name: (getter get_name)
   *
   * The name of a named mutex, or %NULL.
   *
   * Since: 1.0
   */
  /**
   * PsMutex:open-flags:
   *
   * How a named mutex is opened.
   *
   * Since: 1.0
   */
  /**
   * PsMutex:mode:
   *
   * The permission bits a named mutex is created with (default 0600).
   * Once a named object that existed is opened, its real permission
   * bits (since 1.1).
   *
   * Since: 1.0
   */
  /**
   * PsMutex:memory:
   *
   * The segment a placed mutex lives in, or %NULL.
   *
   * Since: 1.0
   */
  /**
   * PsMutex:offset:
   *
   * The offset of a placed mutex inside #PsMutex:memory.
   *
   * Since: 1.0
   */
  /**
   * PsMutex:attach:
   *
   * Whether construction attaches to the mutex already at
   * #PsMutex:offset of #PsMutex:memory, as [func@Mutex.attach] does,
   * rather than initialising a new one there.
   *
   * Since: 1.0
   */
  /**
   * PsMutex:created: (getter get_created)
   *
   * Whether this handle created the mutex, rather than opening or
   * attaching to one that was there.
   *
   * Since: 1.1
   */
  ps_object_storage_install_properties (object_class, properties);

  /**
   * PsMutex:recursive: (getter is_recursive)
   *
   * Whether the holder may lock the mutex again. Set when creating; an
   * opened or attached mutex reports what its creator chose.
   *
   * Since: 1.0
   */
  properties [PROP_RECURSIVE] =
    g_param_spec_boolean ("recursive", NULL, NULL,
                          FALSE,
                          (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                           G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ps_mutex_init (PsMutex *self)
{
  ps_object_storage_init_defaults (&self->storage);
}

static G_GNUC_NO_INLINE gboolean
lock_full (PsMutex       *self,
           gint64         timeout_us,
           GCancellable  *cancellable,
           GError       **error)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->handle.state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  return ps_robust_mutex_lock (&self->handle, timeout_us, cancellable, error);
}

static inline gboolean
is_plain_call (PsMutex  *self,
               GError  **error)
{
  /* The type first: only then may its fields be read. */
  return ps_object_is_plain_call (self, mutex_type, error) && G_LIKELY (self->handle.state != NULL);
}

/**
 * ps_mutex_lock:
 * @self: a #PsMutex
 * @timeout_us: how long to wait in microseconds: %PS_TIMEOUT_INFINITE
 *   (-1) waits as long as it takes, 0 does not wait
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Locks the mutex, waiting while another thread holds it. The wait is
 * woken by an unlock, by the death of the holder, by the timeout (on the
 * monotonic clock) or by cancelling @cancellable from another thread.
 *
 * Across fork(): a child is a new process whose thread holds nothing, even
 * when it was forked by the holder. Its lock waits while the parent holds
 * the mutex (until the parent unlocks it, or dies: then the child gets
 * %PS_ERROR_OWNER_DEAD), and is never reported as a relock of its own.
 *
 * Returns: %TRUE if the calling thread now holds the mutex. %FALSE with
 *   %PS_ERROR_OWNER_DEAD means it holds it too, but the previous holder
 *   died: repair the data and call [method@Mutex.mark_consistent]. Any
 *   other error means it does not hold it: %PS_ERROR_NOT_RECOVERABLE,
 *   %PS_ERROR_WOULD_DEADLOCK, %G_IO_ERROR_WOULD_BLOCK (@timeout_us was 0),
 *   %G_IO_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED, %PS_ERROR_FAILED (a
 *   recursive mutex locked %G_MAXUINT times) or %PS_ERROR_CORRUPT (another
 *   process rewrote the mutex's shared state).
 *
 * Since: 1.0
 */
gboolean
ps_mutex_lock (PsMutex       *self,
               gint64         timeout_us,
               GCancellable  *cancellable,
               GError       **error)
{
  /* The uncontended lock of a mutex this thread does not hold, in a few
   * loads, one compare-and-swap and a few stores, with no calls (and so
   * no registers to save); anything else takes the full path. */
  if (is_plain_call (self, error) && cancellable == NULL)
    {
      PsMutexOwnership *own = self->handle.own;
      PsRobustMutex *state = self->handle.state;
      guint64 thread_id = ps_cached_thread_id;
      guint32 process_id = __atomic_load_n (&ps_cached_process_id, __ATOMIC_RELAXED);

      if (G_LIKELY (own->depth == 0 && thread_id != 0 && process_id != 0) &&
          G_LIKELY (ps_robust_lock_try_fast (&state->lock)))
        {
          if (G_UNLIKELY (g_atomic_int_get (&state->consistency) == PS_MUTEX_NOT_RECOVERABLE))
            return ps_robust_mutex_finish_lock (&self->handle, PS_LOCK_ACQUIRED, error);
          ps_robust_mutex_record_hold (own, self, state, thread_id, process_id);
          return TRUE;
        }
      /* Contended: straight to waiting, without touching the lock's
       * cache line again on the way. */
      if (own->depth == 0 && timeout_us != 0 &&
          g_atomic_int_get (&state->consistency) != PS_MUTEX_NOT_RECOVERABLE &&
          ps_robust_lock_looks_busy (&state->lock))
        return ps_robust_mutex_lock_contended (&self->handle, timeout_us, NULL, error);
    }
  return lock_full (self, timeout_us, cancellable, error);
}

/**
 * ps_mutex_try_lock:
 * @self: a #PsMutex
 * @error: return location for a #GError
 *
 * Locks the mutex if no other thread holds it, without waiting.
 *
 * Across fork(): a child forked while its parent holds the mutex does not
 * hold it: its try_lock() returns %FALSE without an error (the mutex is
 * busy, held by the parent), and the parent still holds it.
 *
 * Returns: %TRUE if the calling thread now holds the mutex; %FALSE
 *   without an error if another thread holds it; %FALSE with
 *   %PS_ERROR_OWNER_DEAD (and holding it), %PS_ERROR_NOT_RECOVERABLE,
 *   %PS_ERROR_WOULD_DEADLOCK, %PS_ERROR_FAILED or %PS_ERROR_CORRUPT as for
 *   [method@Mutex.lock]
 *
 * Since: 1.0
 */
gboolean
ps_mutex_try_lock (PsMutex  *self,
                   GError  **error)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->handle.state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  return ps_robust_mutex_try_lock (&self->handle, error);
}

static G_GNUC_NO_INLINE gboolean
unlock_full (PsMutex  *self,
             GError  **error)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->handle.state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  return ps_robust_mutex_unlock (&self->handle, TRUE, error);
}

/**
 * ps_mutex_unlock:
 * @self: a #PsMutex
 * @error: return location for a #GError
 *
 * Unlocks the mutex, which the calling thread must hold. Unlocking a
 * mutex that was reported %PS_ERROR_OWNER_DEAD without first calling
 * [method@Mutex.mark_consistent] makes it permanently unusable.
 *
 * Across fork(): a child forked while its parent holds the mutex does not
 * hold it, so its unlock fails with %PS_ERROR_NOT_OWNER and changes
 * nothing; only the parent's thread can unlock it.
 *
 * Returns: %TRUE on success; %FALSE with %PS_ERROR_NOT_OWNER if the
 *   calling thread does not hold it, or with %PS_ERROR_CORRUPT if another
 *   process rewrote the mutex's shared state while it was held (the mutex
 *   is then no longer held by the caller, and may stay locked)
 *
 * Since: 1.0
 */
gboolean
ps_mutex_unlock (PsMutex  *self,
                 GError  **error)
{
  /* The common case, without calls: held once by this thread,
   * consistent, nobody waiting. */
  if (is_plain_call (self, error))
    {
      PsMutexOwnership *own = self->handle.own;
      PsRobustMutex *state = self->handle.state;
      PsRobustMutex *held = own->held_state;

      if (G_LIKELY (own->depth == 1 && own->holder == ps_cached_thread_id) &&
          G_LIKELY (g_atomic_int_get (&state->consistency) == PS_MUTEX_CONSISTENT) &&
          G_LIKELY (ps_robust_lock_can_unlock_fast (&held->lock)))
        {
          ps_robust_mutex_clear_hold (own, state);
          if (G_LIKELY (ps_robust_lock_unlock_fast (&held->lock)))
            return TRUE;
          ps_robust_mutex_pin (own, held);
          ps_robust_mutex_set_corrupt_error (error);
          return FALSE;
        }
    }
  return unlock_full (self, error);
}

/**
 * ps_mutex_mark_consistent:
 * @self: a #PsMutex
 * @error: return location for a #GError
 *
 * Declares the data guarded by the mutex repaired after
 * %PS_ERROR_OWNER_DEAD, so that the mutex goes on working normally. The
 * calling thread must hold the mutex. On a mutex that is already
 * consistent this does nothing.
 *
 * Across fork(): only the thread that got %PS_ERROR_OWNER_DEAD holds the
 * mutex; a child forked from it afterwards does not, and its call fails
 * with %PS_ERROR_NOT_OWNER.
 *
 * Returns: %TRUE on success; %FALSE with %PS_ERROR_NOT_OWNER
 *
 * Since: 1.0
 */
gboolean
ps_mutex_mark_consistent (PsMutex  *self,
                          GError  **error)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->handle.state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  return ps_robust_mutex_mark_consistent (&self->handle, error);
}

/**
 * ps_mutex_is_recursive:
 * @self: a #PsMutex
 *
 * Whether the holder may lock the mutex again.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: %TRUE for a recursive mutex
 *
 * Since: 1.0
 */
gboolean
ps_mutex_is_recursive (PsMutex *self)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);
  g_return_val_if_fail (self->handle.state != NULL, FALSE);

  return self->handle.recursive;
}

/**
 * ps_mutex_get_owner_pid:
 * @self: a #PsMutex
 *
 * Gets the process id of the holder: a snapshot, for diagnostics. After a
 * holder died, this is its pid until the mutex is locked again.
 *
 * Across fork(): in a child forked while its parent holds the mutex, this
 * is the parent's pid (the child does not hold it).
 *
 * Returns: the pid of the holder, or 0 when unlocked
 *
 * Since: 1.0
 */
GPid
ps_mutex_get_owner_pid (PsMutex *self)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), 0);
  g_return_val_if_fail (self->handle.state != NULL, 0);

  return (GPid) __atomic_load_n (&self->handle.state->owner_pid, __ATOMIC_RELAXED);
}

/**
 * ps_mutex_get_created:
 * @self: a #PsMutex
 *
 * Whether this handle created the mutex: %TRUE for an anonymous one, and
 * for the one process or thread that created a named or placed one;
 * %FALSE for those that opened or attached to it.
 *
 * Across fork(): a child sees its parent's handle, with the same answer.
 *
 * Returns: whether this handle created it
 *
 * Since: 1.1
 */
gboolean
ps_mutex_get_created (PsMutex *self)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);

  return self->storage.created;
}

/**
 * ps_mutex_get_previous_owner_pid:
 * @self: a #PsMutex
 *
 * Gets the process id of the holder that died, as named by the last
 * %PS_ERROR_OWNER_DEAD a lock through this object reported (the error's
 * message names it too). [method@Mutex.get_owner_pid] is by then the
 * caller's own pid.
 *
 * Across fork(): a child starts with what its parent's handle had seen;
 * the OWNER_DEAD each process gets after that is its own.
 *
 * Returns: the pid of the dead holder, or 0 if no lock through this
 *   object reported one
 *
 * Since: 1.1
 */
GPid
ps_mutex_get_previous_owner_pid (PsMutex *self)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), 0);

  return (GPid) self->handle.previous_owner_pid;
}

/**
 * ps_mutex_get_name:
 * @self: a #PsMutex
 *
 * Gets the name of a named mutex.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: (nullable): the name, or %NULL
 *
 * Since: 1.0
 */
const char *
ps_mutex_get_name (PsMutex *self)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), NULL);
  g_return_val_if_fail (self->handle.state != NULL, NULL);

  return self->storage.name;
}

gboolean
ps_mutex_release_for_wait (PsMutex  *self,
                           GError  **error)
{
  g_return_val_if_fail (self->handle.state != NULL, FALSE);

  return ps_robust_mutex_unlock (&self->handle, FALSE, error);
}

gboolean
ps_mutex_reacquire_after_wait (PsMutex  *self,
                               GError  **error)
{
  return ps_robust_mutex_reacquire (&self->handle, error);
}

PsMutexConsistency
ps_mutex_get_consistency (PsMutex *self)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), PS_MUTEX_CONSISTENT);
  g_return_val_if_fail (self->handle.state != NULL, PS_MUTEX_CONSISTENT);

  return (PsMutexConsistency) g_atomic_int_get (&self->handle.state->consistency);
}

PsRobustLock *
ps_mutex_get_robust_lock (PsMutex *self)
{
  return &self->handle.state->lock;
}

gboolean
ps_mutex_check_ready (PsMutex  *self,
                      GError  **error)
{
  if (G_UNLIKELY (self->handle.state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);
  return TRUE;
}
