/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <string.h>
#include <unistd.h>

#include "ps-backend-private.h"
#include "ps-error.h"
#include "ps-identity-private.h"
#include "ps-mutex-private.h"
#include "ps-object-storage-private.h"
#include "ps-wait-private.h"

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
 * Since: 1.0
 */

typedef enum
{
  CONSISTENT = PS_MUTEX_CONSISTENT,
  INCONSISTENT = PS_MUTEX_INCONSISTENT,   /* its holder died; not repaired yet */
  NOT_RECOVERABLE = PS_MUTEX_NOT_RECOVERABLE,
} Consistency;

typedef struct
{
  PsRobustLock lock;
  guint32      recursive;
  guint32      consistency;
  guint32      owner_pid;
  guint32      reserved;
  guint64      instance;       /* random, set by the creator: see Ownership */
} MutexState;

G_STATIC_ASSERT (sizeof (MutexState) <= PS_OBJECT_STATE_SIZE);
G_STATIC_ASSERT (PS_MUTEX_SIZE == PS_OBJECT_SLOT_SIZE);

/* This process's view of who holds one mutex, shared by all the PsMutex
 * objects that open it (a thread may lock through one and unlock through
 * another). Found by the random instance id the creator stored in the
 * mutex, read once when opening. holder, depth and through are written
 * only by the holding thread. */
typedef struct
{
  guint64  instance;
  gint     ref_count;
  guint64  holder;     /* ps_self_thread_id() of the holder, 0 if none here */
  guint    depth;
  PsMutex *through;    /* the PsMutex it was taken through, while held */
  gpointer held_state; /* the MutexState as mapped there: the platform
                        * released it where it took it */
} Ownership;

static GMutex      ownerships_lock;
static GHashTable *ownerships;

static Ownership *
ownership_ref (guint64 instance)
{
  Ownership *own;

  g_mutex_lock (&ownerships_lock);
  if (ownerships == NULL)
    ownerships = g_hash_table_new (g_int64_hash, g_int64_equal);
  own = g_hash_table_lookup (ownerships, &instance);
  if (own == NULL)
    {
      own = g_new0 (Ownership, 1);
      own->instance = instance;
      g_hash_table_insert (ownerships, &own->instance, own);
    }
  own->ref_count++;
  g_mutex_unlock (&ownerships_lock);
  return own;
}

static void
ownership_unref (Ownership *own)
{
  g_mutex_lock (&ownerships_lock);
  if (--own->ref_count == 0)
    {
      g_hash_table_remove (ownerships, &own->instance);
      g_free (own);
    }
  g_mutex_unlock (&ownerships_lock);
}

struct _PsMutex
{
  GObject parent_instance;

  PsObjectStorage storage;
  gboolean recursive;
  MutexState *state;

  /* Who holds it, in memory no other process can write: every decision
   * about ownership is taken from here, never from the shared state,
   * which a peer may have scribbled on. Shared by every PsMutex of this
   * process on the same mutex. */
  Ownership *own;

  /* Set when the platform could not release the lock cleanly (a peer
   * rewrote it while we held it): its memory may still be linked where
   * the kernel looks, so it is never unmapped. */
  gboolean pinned;
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
  MutexState *state = data;
  PsMutex *self = instance;

  state->recursive = self->recursive;
  state->consistency = CONSISTENT;
  state->owner_pid = 0;
  state->reserved = 0;
  state->instance = ((guint64) g_random_int () << 32) | g_random_int ();
  return ps_robust_lock_init (&state->lock, self->recursive, error);
}

static gboolean
adopt_state (gpointer   data,
             gpointer   instance,
             GError   **error)
{
  MutexState *state = data;
  PsMutex *self = instance;

  if (state->recursive > 1 || state->consistency > NOT_RECOVERABLE ||
      !ps_robust_lock_check (&state->lock, state->recursive))
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                           "The mutex's state is corrupt");
      return FALSE;
    }

  /* An opened mutex is recursive if its creator made it so. */
  self->recursive = state->recursive;
  self->own = ownership_ref (__atomic_load_n (&state->instance, __ATOMIC_RELAXED));
  self->state = state;
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

static void
ps_mutex_initable_iface_init (GInitableIface *iface)
{
  iface->init = ps_mutex_initable_init;
}

static gboolean is_held_by_self (PsMutex *self);
static inline __attribute__((always_inline)) PsMutex *clear_hold (Ownership  *own,
                                                                    MutexState *state);

static void
ps_mutex_finalize (GObject *object)
{
  PsMutex *self = (PsMutex *)object;
  MutexState *state = self->state;

  /* A mutex held through this object sits on its holder's robust list,
   * which the C library and the kernel walk through pointers inside the
   * mutex itself: its memory must never be reused or unmapped under them.
   * Dropping a mutex one holds gives it back first; one still held by
   * another of our threads keeps its memory for the life of the process
   * (a small, deliberate leak), as does one that cannot be given back. */
  if (state != NULL && self->own->depth > 0 && self->own->through == self)
    {
      gboolean released = is_held_by_self (self);

      if (released)
        {
          MutexState *held = self->own->held_state;

          clear_hold (self->own, state);
          released = ps_robust_lock_unlock (&held->lock) == PS_LOCK_ACQUIRED;
        }
      else
        {
          /* Another of our threads holds it through this object, and
           * will release it through another: nothing may point here. */
          PsMutex *expected = self;

          __atomic_compare_exchange_n (&self->own->through, &expected, NULL, FALSE,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        }
      self->pinned |= !released;
    }
  if (self->own != NULL)
    ownership_unref (self->own);
  if (self->pinned)
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

  if (ps_object_storage_set_property (&self->storage, prop_id, value))
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
   * #PsMutex:offset of #PsMutex:memory, as [ctor@Mutex.attach] does,
   * rather than initialising a new one there.
   *
   * Since: 1.0
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

/**
 * ps_mutex_new:
 * @error: return location for a #GError
 *
 * Creates an anonymous, non-recursive mutex, shared with the children
 * forked after this call.
 *
 * Returns: (transfer full): the new mutex, or %NULL
 *
 * Since: 1.0
 */
PsMutex *
ps_mutex_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (PS_TYPE_MUTEX, NULL, error, NULL);
}

/**
 * ps_mutex_new_recursive:
 * @error: return location for a #GError
 *
 * Creates an anonymous recursive mutex (a monitor): its holder may lock
 * it again, and must unlock it as many times.
 *
 * Returns: (transfer full): the new mutex, or %NULL
 *
 * Since: 1.0
 */
PsMutex *
ps_mutex_new_recursive (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (PS_TYPE_MUTEX, NULL, error, "recursive", TRUE, NULL);
}

/**
 * ps_mutex_open:
 * @name: the name of the mutex, such as `/my-app.lock`
 * @flags: how to open it
 * @error: return location for a #GError
 *
 * Opens the named mutex @name, creating it (non-recursive) if @flags asks
 * for it; to create a named recursive mutex, use g_initable_new() with
 * the #PsMutex:recursive property. Creation is race-free.
 *
 * Returns: (transfer full): the mutex, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %G_IO_ERROR_NOT_FOUND,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_PERMISSION_DENIED,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.0
 */
PsMutex *
ps_mutex_open (const char   *name,
               PsOpenFlags   flags,
               GError      **error)
{
  return ps_object_new_named (PS_TYPE_MUTEX, name, flags, error, NULL);
}

/**
 * ps_mutex_new_at:
 * @memory: the segment to place the mutex in
 * @offset: where, a multiple of 8 leaving room for %PS_MUTEX_SIZE bytes
 * @error: return location for a #GError
 *
 * Initialises a new non-recursive mutex inside @memory, next to the data
 * it guards. Other processes that share @memory use it through
 * [func@Mutex.attach].
 *
 * Returns: (transfer full): the mutex, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (misaligned offset) or
 *   %PS_ERROR_OUT_OF_BOUNDS
 *
 * Since: 1.0
 */
PsMutex *
ps_mutex_new_at (PsSharedMemory  *memory,
                 gsize            offset,
                 GError         **error)
{
  return ps_object_new_placed (PS_TYPE_MUTEX, memory, offset, FALSE, error, NULL);
}

/**
 * ps_mutex_attach:
 * @memory: the segment holding the mutex
 * @offset: where [ctor@Mutex.new_at] placed it
 * @error: return location for a #GError
 *
 * Attaches to a mutex that [ctor@Mutex.new_at] placed in @memory, in this
 * or another process.
 *
 * Returns: (transfer full): the mutex, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.0
 */
PsMutex *
ps_mutex_attach (PsSharedMemory  *memory,
                 gsize            offset,
                 GError         **error)
{
  return ps_object_new_placed (PS_TYPE_MUTEX, memory, offset, TRUE, error, NULL);
}

static inline gboolean
is_held_by_self (PsMutex *self)
{
  Ownership *own = self->own;

  return own->depth > 0 && own->holder == ps_self_thread_id ();
}

/* The holder's records of a lock it has just taken: in private memory
 * (every decision is taken from there) and, for diagnostics, its pid in
 * the shared state. */
static inline __attribute__((always_inline)) void
record_hold (Ownership  *own,
             PsMutex    *through,
             MutexState *state,
             guint64     thread_id,
             guint32     process_id)
{
  own->holder = thread_id;
  own->depth = 1;
  own->through = through;
  own->held_state = state;
  /* Relaxed: the lock itself orders what its holder writes. */
  __atomic_store_n (&state->owner_pid, process_id, __ATOMIC_RELAXED);
}

/* Forgets the hold, just before the lock is given back: once it is,
 * another of our threads may take it through another object and write
 * these records. Returns the object the lock was taken through. */
static inline __attribute__((always_inline)) PsMutex *
clear_hold (Ownership  *own,
            MutexState *state)
{
  PsMutex *through = own->through;

  own->depth = 0;
  own->holder = 0;
  own->through = NULL;
  __atomic_store_n (&state->owner_pid, 0, __ATOMIC_RELAXED);
  return through;
}

/* Forgets the hold and gives the platform lock back where it was taken
 * (a thread may lock through one PsMutex and unlock through another,
 * mapped elsewhere). */
static inline gboolean
release_hold (PsMutex    *self,
              MutexState *state)
{
  MutexState *held = self->own->held_state;
  PsMutex *through = clear_hold (self->own, state);

  if (G_LIKELY (ps_robust_lock_unlock (&held->lock) == PS_LOCK_ACQUIRED))
    return TRUE;
  /* A peer rewrote the mutex while we held it: its memory may still be
   * linked where the kernel looks. */
  if (through != NULL)
    through->pinned = TRUE;
  return FALSE;
}

/* After the backend granted the lock: note who holds it. FALSE (with
 * nothing changed) if the mutex cannot be used, in which case the caller
 * gives the lock back (see finish_lock()). */
static inline gboolean
record_acquisition (PsMutex    *self,
                    MutexState *state)
{
  if (G_UNLIKELY (g_atomic_int_get (&state->consistency) == NOT_RECOVERABLE))
    return FALSE;
  record_hold (self->own, self, state, ps_self_thread_id (), ps_self_process_id ());
  return TRUE;
}

static void set_corrupt_error (GError **error);

/* A lock by the thread that holds the mutex: counted here, in private
 * memory, never by the platform. */
static G_GNUC_NO_INLINE gboolean
relock (PsMutex  *self,
        GError  **error)
{
  if (!self->recursive)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK,
                           "The calling thread already holds this non-recursive mutex");
      return FALSE;
    }
  if (self->own->depth == G_MAXUINT)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_FAILED,
                           "The mutex could not be locked: recursion too deep");
      return FALSE;
    }
  self->own->depth++;
  return TRUE;
}

static void
set_corrupt_error (GError **error)
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

/* Releases a lock just taken through @self that cannot be used. */
static void
give_back (PsMutex    *self,
           MutexState *state)
{
  if (ps_robust_lock_unlock (&state->lock) != PS_LOCK_ACQUIRED)
    self->pinned = TRUE;   /* it may still be linked where the kernel looks */
}

static G_GNUC_NO_INLINE gboolean
finish_lock (PsMutex       *self,
             PsLockStatus   status,
             GError       **error)
{
  MutexState *state = self->state;

  switch (status)
    {
    case PS_LOCK_ACQUIRED:
      if (record_acquisition (self, state))
        return TRUE;
      give_back (self, state);
      if (g_atomic_int_get (&state->consistency) == NOT_RECOVERABLE)
        set_not_recoverable_error (error);
      else
        set_corrupt_error (error);
      return FALSE;

    case PS_LOCK_OWNER_DIED:
      if (g_atomic_int_get (&state->consistency) == NOT_RECOVERABLE)
        {
          /* Its last holder died between taking it and seeing it condemned. */
          ps_robust_lock_make_consistent (&state->lock);
          give_back (self, state);
          set_not_recoverable_error (error);
          return FALSE;
        }
      record_hold (self->own, self, state, ps_self_thread_id (), ps_self_process_id ());
      g_atomic_int_set (&state->consistency, INCONSISTENT);
      g_set_error_literal (error, PS_ERROR, PS_ERROR_OWNER_DEAD,
                           "The previous holder of the mutex died holding it; the lock "
                           "is now held: repair the data, then mark it consistent");
      return FALSE;

    case PS_LOCK_NOT_RECOVERABLE:
      set_not_recoverable_error (error);
      return FALSE;

    case PS_LOCK_WOULD_DEADLOCK:
      /* Relocks never reach the platform: the lock word names this
       * thread, which does not hold it. */
      set_corrupt_error (error);
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
      set_corrupt_error (error);
      return FALSE;

    case PS_LOCK_FAILED:
    case PS_LOCK_NOT_OWNER:
    default:
      /* Only for a lock a peer rewrote: we never ask for a relock. */
      set_corrupt_error (error);
      return FALSE;
    }
}

static PsLockStatus
lock_blocking (MutexState    *state,
               gboolean       tried_first,
               gint64         deadline,
               PsWaitContext *context)
{
  PsLockStatus status;

  if (g_atomic_int_get (&state->consistency) == NOT_RECOVERABLE)
    return PS_LOCK_NOT_RECOVERABLE;

  status = tried_first ? PS_LOCK_BUSY : ps_robust_lock_try (&state->lock);
  if (status == PS_LOCK_BUSY && deadline != 0)
    status = ps_robust_lock_wait (&state->lock, deadline,
                                  context ? ps_wait_context_get_canceller (context) : NULL);
  return status;
}

static G_GNUC_NO_INLINE gboolean
lock_slow (PsMutex       *self,
           gint64         timeout_us,
           GCancellable  *cancellable,
           GError       **error)
{
  PsWaitContext context;
  PsLockStatus status;

  if (!ps_wait_context_begin (&context, cancellable, error))
    return FALSE;
  status = lock_blocking (self->state, TRUE, ps_deadline_from_timeout (timeout_us), &context);
  ps_wait_context_end (&context);

  return finish_lock (self, status, error);
}

static G_GNUC_NO_INLINE gboolean
lock_full (PsMutex       *self,
           gint64         timeout_us,
           GCancellable  *cancellable,
           GError       **error)
{
  PsLockStatus status;

  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);

  g_return_val_if_fail (self->state != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (G_UNLIKELY (is_held_by_self (self)))
    return relock (self, error);

  /* The uncontended path: the platform's trylock and a few stores, no
   * cancellable set up, nothing out of line. */
  status = ps_robust_lock_try (&self->state->lock);
  if (G_LIKELY (status == PS_LOCK_ACQUIRED) && G_LIKELY (record_acquisition (self, self->state)))
    return TRUE;
  if (status != PS_LOCK_BUSY || timeout_us == 0)
    return finish_lock (self, status, error);

  return lock_slow (self, timeout_us, cancellable, error);
}

static inline gboolean
is_plain_call (PsMutex  *self,
               GError  **error)
{
  /* The type first: only then may its fields be read. */
  return ps_object_is_plain_call (self, mutex_type, error) && G_LIKELY (self->state != NULL);
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
      Ownership *own = self->own;
      MutexState *state = self->state;
      guint64 thread_id = ps_cached_thread_id;
      guint32 process_id = __atomic_load_n (&ps_cached_process_id, __ATOMIC_RELAXED);

      if (G_LIKELY (own->depth == 0 && thread_id != 0 && process_id != 0) &&
          G_LIKELY (ps_robust_lock_try_fast (&state->lock)))
        {
          if (G_UNLIKELY (g_atomic_int_get (&state->consistency) == NOT_RECOVERABLE))
            return finish_lock (self, PS_LOCK_ACQUIRED, error);
          record_hold (own, self, state, thread_id, process_id);
          return TRUE;
        }
      /* Contended: straight to waiting, without touching the lock's
       * cache line again on the way. */
      if (own->depth == 0 && timeout_us != 0 &&
          g_atomic_int_get (&state->consistency) != NOT_RECOVERABLE &&
          ps_robust_lock_looks_busy (&state->lock))
        return lock_slow (self, timeout_us, NULL, error);
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
  PsLockStatus status;

  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);

  g_return_val_if_fail (self->state != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (is_held_by_self (self))
    return relock (self, error);
  status = lock_blocking (self->state, FALSE, 0, NULL);
  if (status == PS_LOCK_BUSY)
    return FALSE;
  return finish_lock (self, status, error);
}

static G_GNUC_NO_INLINE gboolean
unlock_internal (PsMutex   *self,
                 gboolean   allow_recursion,
                 GError   **error)
{
  MutexState *state;

  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);
  g_return_val_if_fail (self->state != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  state = self->state;
  if (!is_held_by_self (self))
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_NOT_OWNER,
                           "The calling thread does not hold the mutex");
      return FALSE;
    }

  if (self->own->depth > 1)
    {
      if (!allow_recursion)
        {
          g_set_error (error, PS_ERROR, PS_ERROR_WOULD_DEADLOCK,
                       "The mutex is locked %u times; a condition wait would keep it held",
                       self->own->depth);
          return FALSE;
        }
      self->own->depth--;
      return TRUE;
    }

  /* Unlocking unrepaired data condemns it. We keep that verdict
   * ourselves and hand the platform lock back in a normal state: C
   * libraries disagree on what a "not recoverable" pthread mutex does to
   * its waiters, and every waiter must wake up to learn the verdict. Each
   * one takes the lock, sees it, and unlocks, waking the next. */
  if (g_atomic_int_get (&state->consistency) == INCONSISTENT)
    {
      g_atomic_int_set (&state->consistency, NOT_RECOVERABLE);
      ps_robust_lock_make_consistent (&state->lock);
    }

  if (!release_hold (self, state))
    {
      set_corrupt_error (error);
      return FALSE;
    }
  return TRUE;
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
      Ownership *own = self->own;
      MutexState *state = self->state;
      MutexState *held = own->held_state;

      if (G_LIKELY (own->depth == 1 && own->holder == ps_cached_thread_id) &&
          G_LIKELY (g_atomic_int_get (&state->consistency) == CONSISTENT) &&
          G_LIKELY (ps_robust_lock_can_unlock_fast (&held->lock)))
        {
          PsMutex *through = clear_hold (own, state);

          if (G_LIKELY (ps_robust_lock_unlock_fast (&held->lock)))
            return TRUE;
          if (through != NULL)
            through->pinned = TRUE;
          set_corrupt_error (error);
          return FALSE;
        }
    }
  return unlock_internal (self, TRUE, error);
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
 * Returns: %TRUE on success; %FALSE with %PS_ERROR_NOT_OWNER
 *
 * Since: 1.0
 */
gboolean
ps_mutex_mark_consistent (PsMutex  *self,
                          GError  **error)
{
  MutexState *state;

  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);

  g_return_val_if_fail (self->state != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  state = self->state;
  if (!is_held_by_self (self))
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_NOT_OWNER,
                           "The calling thread does not hold the mutex");
      return FALSE;
    }
  if (g_atomic_int_get (&state->consistency) == INCONSISTENT)
    {
      ps_robust_lock_make_consistent (&state->lock);
      g_atomic_int_set (&state->consistency, CONSISTENT);
    }
  return TRUE;
}

/**
 * ps_mutex_is_recursive:
 * @self: a #PsMutex
 *
 * Whether the holder may lock the mutex again.
 *
 * Returns: %TRUE for a recursive mutex
 *
 * Since: 1.0
 */
gboolean
ps_mutex_is_recursive (PsMutex *self)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), FALSE);
  g_return_val_if_fail (self->state != NULL, FALSE);

  return self->recursive;
}

/**
 * ps_mutex_get_owner_pid:
 * @self: a #PsMutex
 *
 * Gets the process id of the holder: a snapshot, for diagnostics. After a
 * holder died, this is its pid until the mutex is locked again.
 *
 * Returns: the pid of the holder, or 0 when unlocked
 *
 * Since: 1.0
 */
GPid
ps_mutex_get_owner_pid (PsMutex *self)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), 0);
  g_return_val_if_fail (self->state != NULL, 0);

  return (GPid) __atomic_load_n (&self->state->owner_pid, __ATOMIC_RELAXED);
}

/**
 * ps_mutex_get_name:
 * @self: a #PsMutex
 *
 * Gets the name of a named mutex.
 *
 * Returns: (nullable): the name, or %NULL
 *
 * Since: 1.0
 */
const char *
ps_mutex_get_name (PsMutex *self)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), NULL);
  g_return_val_if_fail (self->state != NULL, NULL);

  return self->storage.name;
}

gboolean
ps_mutex_release_for_wait (PsMutex  *self,
                           GError  **error)
{
  g_return_val_if_fail (self->state != NULL, FALSE);

  return unlock_internal (self, FALSE, error);
}

/* About 5 µs of polling on current x86 CPUs. */
#define REACQUIRE_SPINS 200

gboolean
ps_mutex_reacquire_after_wait (PsMutex  *self,
                               GError  **error)
{
  /* A condition is mostly signalled by a thread holding the mutex, which
   * releases it a moment later: looking for that moment saves sleeping
   * on the mutex only to be woken again. */
  for (guint spins = 0; spins < REACQUIRE_SPINS && ps_robust_lock_looks_busy (&self->state->lock); spins++)
    ps_cpu_relax ();

  /* No timeout and no cancellable: whatever ended the wait, the caller
   * must hold the mutex again when it returns. */
  return finish_lock (self, lock_blocking (self->state, FALSE, -1, NULL), error);
}

PsMutexConsistency
ps_mutex_get_consistency (PsMutex *self)
{
  g_return_val_if_fail (PS_IS_MUTEX (self), PS_MUTEX_CONSISTENT);
  g_return_val_if_fail (self->state != NULL, PS_MUTEX_CONSISTENT);

  return (PsMutexConsistency) g_atomic_int_get (&self->state->consistency);
}
