/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-error.h"
#include "ps-object-storage-private.h"
#include "ps-rw-lock-private.h"

/**
 * PsRWLock:
 *
 * A robust reader-writer lock shared between processes: any number of
 * readers at once, or one writer.
 *
 * Writers are preferred: once a writer asks, readers that come after it
 * wait, and the writer waits only for the readers already in, so a
 * stream of readers never starves it. Writers take their turns among
 * themselves, and with the readers that waited behind a writer, on one
 * robust lock.
 *
 * Ownership is per thread, as for #PsMutex: unlocking what the calling
 * thread does not hold fails with %PS_ERROR_NOT_OWNER; a writer that
 * locks again, for writing or reading, gets %PS_ERROR_WOULD_DEADLOCK, and
 * so does a reader that asks to write (there is no silent upgrade: unlock
 * the read share, then lock for writing, and look at the data again). A
 * thread may take a read share it holds again: that is counted in the
 * process and never waits, even while a writer waits for the share (with
 * writer preference, waiting there would deadlock); it is released by as
 * many [method@RWLock.read_unlock].
 *
 * The lock is robust for writers and readers. When a writer dies, even
 * by `SIGKILL`, the next thread to lock it, to read or to write, gets
 * %FALSE with %PS_ERROR_OWNER_DEAD and holds the lock *for writing*,
 * exclusively: it repairs the data, calls [method@RWLock.mark_consistent]
 * and [method@RWLock.write_unlock]. Write-unlocking without marking it
 * consistent makes the lock unusable for good: every later lock fails
 * with %PS_ERROR_NOT_RECOVERABLE. When a reader dies holding a share, its
 * share is given back silently (readers change nothing), at the latest
 * when a writer would otherwise wait for it.
 *
 * Read shares are recorded in 60 slots, one per cache line, so that
 * readers do not contend on one word: a reader's lock takes its slot's
 * robust lock and marks the slot (two atomic operations on its own cache
 * line), then looks at the writers' word. A writer looks only at the
 * slots that readers used since the writer before it, named by a mask
 * beside the writers' word (which a reader writes only when a writer has
 * cleared its slot's bit), so that an uncontended writer does not read
 * all 60. A 61st concurrent reader waits for a slot (it does not fail),
 * looking again every 10 ms.
 *
 * Across fork(): a lock made before fork() is shared by parent and child,
 * but what the parent's threads hold is not inherited: the child's thread
 * holds no share and no write lock, so its unlocks fail with
 * %PS_ERROR_NOT_OWNER, its read locks wait while the parent writes, and
 * its write locks wait for the parent's shares and write lock to go.
 *
 * Since: 1.1
 */

G_STATIC_ASSERT (sizeof (PsObjectHeader) + sizeof (PsRwLockState) == PS_RW_LOCK_SIZE);

struct _PsRWLock
{
  GObject parent_instance;

  PsObjectStorage storage;
  PsRwLockHandle  handle;
};

static void ps_rw_lock_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PsRWLock, ps_rw_lock, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      ps_rw_lock_initable_iface_init))

static GParamSpec *properties [PS_OBJECT_N_PROPS];

/* For the fast paths' type check, which must not call anything: no
 * PsRWLock exists before the class is initialised. */
static GType rw_lock_type;

static inline gboolean
is_plain_call (PsRWLock  *self,
               GError   **error)
{
  /* The type first: only then may its fields be read. */
  return ps_object_is_plain_call (self, rw_lock_type, error) &&
         G_LIKELY (self->handle.state != NULL);
}

static gboolean
init_state (gpointer   data,
            gpointer   instance,
            GError   **error)
{
  return ps_rw_lock_state_init (data, error);
}

static gboolean
adopt_state (gpointer   data,
             gpointer   instance,
             GError   **error)
{
  PsRWLock *self = instance;

  return ps_rw_lock_handle_open (&self->handle, self, data, error);
}

static const PsObjectKind rw_lock_kind = {
  .type = PS_OBJECT_TYPE_RW_LOCK,
  .init_state = init_state,
  .adopt_state = adopt_state,
  .size = PS_RW_LOCK_SIZE,
};

static gboolean
ps_rw_lock_initable_init (GInitable     *initable,
                          GCancellable  *cancellable,
                          GError       **error)
{
  return ps_object_storage_initable_init (&PS_RW_LOCK (initable)->storage, &rw_lock_kind,
                                          initable, error);
}

static void
ps_rw_lock_constructed (GObject *object)
{
  G_OBJECT_CLASS (ps_rw_lock_parent_class)->constructed (object);
  ps_object_storage_constructed (&PS_RW_LOCK (object)->storage, &rw_lock_kind, object);
}

static void
ps_rw_lock_initable_iface_init (GInitableIface *iface)
{
  iface->init = ps_rw_lock_initable_init;
}

static void
ps_rw_lock_finalize (GObject *object)
{
  PsRWLock *self = (PsRWLock *)object;

  ps_rw_lock_handle_close (&self->handle);
  if (self->handle.pinned)
    ps_object_storage_keep_mapped (&self->storage);
  ps_object_storage_clear (&self->storage);

  G_OBJECT_CLASS (ps_rw_lock_parent_class)->finalize (object);
}

static void
ps_rw_lock_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  if (!ps_object_storage_get_property (&PS_RW_LOCK (object)->storage, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
ps_rw_lock_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  if (!ps_object_storage_set_property (&PS_RW_LOCK (object)->storage, prop_id, value, pspec))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
ps_rw_lock_class_init (PsRWLockClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  rw_lock_type = G_TYPE_FROM_CLASS (klass);
  object_class->constructed = ps_rw_lock_constructed;
  object_class->finalize = ps_rw_lock_finalize;
  object_class->get_property = ps_rw_lock_get_property;
  object_class->set_property = ps_rw_lock_set_property;

  /**
   * PsRWLock:name: (getter get_name)
   *
   * The name of a named lock, or %NULL.
   *
   * Since: 1.1
   */
  /**
   * PsRWLock:open-flags:
   *
   * How a named lock is opened.
   *
   * Since: 1.1
   */
  /**
   * PsRWLock:mode:
   *
   * The permission bits a named lock is created with (default 0600);
   * once a named lock that existed is opened, its real ones.
   *
   * Since: 1.1
   */
  /**
   * PsRWLock:memory:
   *
   * The segment a placed lock lives in, or %NULL.
   *
   * Since: 1.1
   */
  /**
   * PsRWLock:offset:
   *
   * The offset of a placed lock inside #PsRWLock:memory.
   *
   * Since: 1.1
   */
  /**
   * PsRWLock:attach:
   *
   * Whether construction attaches to the lock already at
   * #PsRWLock:offset of #PsRWLock:memory, as [func@RWLock.attach] does.
   *
   * Since: 1.1
   */
  /**
   * PsRWLock:created: (getter get_created)
   *
   * Whether this handle created the lock, rather than opening or
   * attaching to one that was there.
   *
   * Since: 1.1
   */
  ps_object_storage_install_properties (object_class, properties);
  g_object_class_install_properties (object_class, PS_OBJECT_N_PROPS, properties);
}

static void
ps_rw_lock_init (PsRWLock *self)
{
  ps_object_storage_init_defaults (&self->storage);
}

static gboolean
check_usable (PsRWLock      *self,
              GCancellable  *cancellable,
              GError       **error)
{
  if (G_UNLIKELY (self->handle.state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);
  return cancellable == NULL || !g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* Every lock: @try_only makes a busy lock FALSE without an error. */
static gboolean
acquire (PsRWLock      *self,
         gboolean       write,
         gboolean       try_only,
         gint64         timeout_us,
         GCancellable  *cancellable,
         GError       **error)
{
  gint64 deadline = ps_rw_lock_deadline (timeout_us);
  GError *local = NULL;
  gboolean ok;

  if (!check_usable (self, cancellable, error))
    return FALSE;
  if (write)
    ok = ps_rw_lock_write_acquire (&self->handle, deadline, cancellable, FALSE, &local);
  else
    ok = ps_rw_lock_read_acquire (&self->handle, deadline, cancellable, FALSE, &local);
  if (!ok && try_only && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    g_clear_error (&local);
  else if (local != NULL)
    g_propagate_error (error, local);
  return ok;
}

/**
 * ps_rw_lock_read_lock:
 * @self: a #PsRWLock
 * @timeout_us: how long to wait in microseconds: %PS_TIMEOUT_INFINITE
 *   (-1) waits as long as it takes, 0 does not wait
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes a read share, waiting while a writer holds the lock or waits for
 * it. A thread that holds a share already gets another at once (see
 * #PsRWLock). The wait is woken by an unlock, by the death of the holder,
 * by the timeout (on the monotonic clock) or by cancelling @cancellable
 * from another thread.
 *
 * Across fork(): a child's thread holds none of its parent's shares: its
 * read lock takes a share of its own (waiting while the parent writes).
 *
 * Returns: %TRUE if the calling thread now holds a read share. %FALSE
 *   with %PS_ERROR_OWNER_DEAD means a writer died: the caller now holds
 *   the lock *for writing* (repair, [method@RWLock.mark_consistent],
 *   [method@RWLock.write_unlock]). Any other error means it holds
 *   nothing: %PS_ERROR_NOT_RECOVERABLE, %PS_ERROR_WOULD_DEADLOCK (it
 *   holds the lock for writing), %G_IO_ERROR_WOULD_BLOCK (@timeout_us was
 *   0), %G_IO_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED, %PS_ERROR_FAILED
 *   (%G_MAXUINT recursive shares) or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
gboolean
ps_rw_lock_read_lock (PsRWLock      *self,
                      gint64         timeout_us,
                      GCancellable  *cancellable,
                      GError       **error)
{
  /* Without the checks' calls when nothing needs them. */
  if (is_plain_call (self, error) && cancellable == NULL)
    return ps_rw_lock_read_fast (&self->handle) ||
           ps_rw_lock_read_acquire (&self->handle, ps_rw_lock_deadline (timeout_us), NULL,
                                    FALSE, error);

  g_return_val_if_fail (PS_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return acquire (self, FALSE, FALSE, timeout_us, cancellable, error);
}

/**
 * ps_rw_lock_try_read_lock:
 * @self: a #PsRWLock
 * @error: return location for a #GError
 *
 * Takes a read share if that needs no wait.
 *
 * Across fork(): in a child, as [method@RWLock.read_lock] with a timeout
 * of 0: it does not hold its parent's shares.
 *
 * Returns: %TRUE if the calling thread now holds a read share; %FALSE
 *   without an error if a writer holds the lock or waits for it; %FALSE
 *   with %PS_ERROR_OWNER_DEAD (holding the lock for writing) or another
 *   error of [method@RWLock.read_lock]
 *
 * Since: 1.1
 */
gboolean
ps_rw_lock_try_read_lock (PsRWLock  *self,
                          GError   **error)
{
  g_return_val_if_fail (PS_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return acquire (self, FALSE, TRUE, 0, NULL, error);
}

/**
 * ps_rw_lock_read_unlock:
 * @self: a #PsRWLock
 * @error: return location for a #GError
 *
 * Gives back a read share of the calling thread (one level of a
 * recursive one).
 *
 * Across fork(): a child holds none of its parent's shares: its
 * read_unlock() fails with %PS_ERROR_NOT_OWNER and changes nothing.
 *
 * Returns: %TRUE on success; %FALSE with %PS_ERROR_NOT_OWNER if the
 *   calling thread holds no share, or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
gboolean
ps_rw_lock_read_unlock (PsRWLock  *self,
                        GError   **error)
{
  if (is_plain_call (self, error))
    {
      gint done = ps_rw_lock_read_release_fast (&self->handle, error);

      return done >= 0 ? done : ps_rw_lock_read_release (&self->handle, error);
    }

  g_return_val_if_fail (PS_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (!check_usable (self, NULL, error))
    return FALSE;

  return ps_rw_lock_read_release (&self->handle, error);
}

/**
 * ps_rw_lock_write_lock:
 * @self: a #PsRWLock
 * @timeout_us: how long to wait in microseconds: %PS_TIMEOUT_INFINITE
 *   (-1) waits as long as it takes, 0 does not wait
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Locks for writing: waits for the writer before it, then shuts new
 * readers out and waits for the shares held (a dead reader's is taken
 * back).
 *
 * Across fork(): a child's thread holds nothing of its parent's: its
 * write lock waits for the parent's shares and write lock to be given
 * back (or their holders to die).
 *
 * Returns: %TRUE if the calling thread now holds the lock for writing.
 *   %FALSE with %PS_ERROR_OWNER_DEAD means it holds it too, but a writer
 *   died: repair, call [method@RWLock.mark_consistent]. Any other error
 *   means it holds nothing: %PS_ERROR_NOT_RECOVERABLE,
 *   %PS_ERROR_WOULD_DEADLOCK (it holds the lock for writing or a read
 *   share), %G_IO_ERROR_WOULD_BLOCK (@timeout_us was 0),
 *   %G_IO_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
gboolean
ps_rw_lock_write_lock (PsRWLock      *self,
                       gint64         timeout_us,
                       GCancellable  *cancellable,
                       GError       **error)
{
  if (is_plain_call (self, error) && cancellable == NULL)
    {
      gint64 deadline = ps_rw_lock_deadline (timeout_us);
      gint done = ps_rw_lock_write_fast (&self->handle, deadline, NULL, error);

      return done >= 0 ? done
                       : ps_rw_lock_write_acquire (&self->handle, deadline, NULL, FALSE, error);
    }

  g_return_val_if_fail (PS_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return acquire (self, TRUE, FALSE, timeout_us, cancellable, error);
}

/**
 * ps_rw_lock_try_write_lock:
 * @self: a #PsRWLock
 * @error: return location for a #GError
 *
 * Locks for writing if nobody holds the lock.
 *
 * Across fork(): in a child, busy while the parent holds a share or the
 * write lock (the child holds neither).
 *
 * Returns: %TRUE if the calling thread now holds the lock for writing;
 *   %FALSE without an error if a writer or a reader holds it; %FALSE
 *   with %PS_ERROR_OWNER_DEAD (holding it) or another error of
 *   [method@RWLock.write_lock]
 *
 * Since: 1.1
 */
gboolean
ps_rw_lock_try_write_lock (PsRWLock  *self,
                           GError   **error)
{
  g_return_val_if_fail (PS_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return acquire (self, TRUE, TRUE, 0, NULL, error);
}

/**
 * ps_rw_lock_write_unlock:
 * @self: a #PsRWLock
 * @error: return location for a #GError
 *
 * Unlocks the lock the calling thread holds for writing. After
 * %PS_ERROR_OWNER_DEAD, unlocking without [method@RWLock.mark_consistent]
 * makes the lock permanently unusable (%PS_ERROR_NOT_RECOVERABLE).
 *
 * Across fork(): a child does not hold its parent's write lock: its
 * write_unlock() fails with %PS_ERROR_NOT_OWNER.
 *
 * Returns: %TRUE on success; %FALSE with %PS_ERROR_NOT_OWNER or
 *   %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
gboolean
ps_rw_lock_write_unlock (PsRWLock  *self,
                         GError   **error)
{
  if (is_plain_call (self, error))
    {
      gint done = ps_rw_lock_write_release_fast (&self->handle, error);

      return done >= 0 ? done : ps_rw_lock_write_release (&self->handle, error);
    }

  g_return_val_if_fail (PS_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (!check_usable (self, NULL, error))
    return FALSE;

  return ps_rw_lock_write_release (&self->handle, error);
}

/**
 * ps_rw_lock_mark_consistent:
 * @self: a #PsRWLock
 * @error: return location for a #GError
 *
 * Declares the data repaired after %PS_ERROR_OWNER_DEAD; the calling
 * thread must hold the lock for writing. On a consistent lock this does
 * nothing.
 *
 * Across fork(): only the thread that got %PS_ERROR_OWNER_DEAD holds the
 * lock; a child forked afterwards gets %PS_ERROR_NOT_OWNER.
 *
 * Returns: %TRUE on success; %FALSE with %PS_ERROR_NOT_OWNER
 *
 * Since: 1.1
 */
gboolean
ps_rw_lock_mark_consistent (PsRWLock  *self,
                            GError   **error)
{
  g_return_val_if_fail (PS_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (!check_usable (self, NULL, error))
    return FALSE;

  return ps_rw_lock_handle_mark_consistent (&self->handle, error);
}

/**
 * ps_rw_lock_get_created:
 * @self: a #PsRWLock
 *
 * Whether this handle created the lock.
 *
 * Across fork(): a child sees its parent's handle, with the same answer.
 *
 * Returns: whether this handle created it
 *
 * Since: 1.1
 */
gboolean
ps_rw_lock_get_created (PsRWLock *self)
{
  g_return_val_if_fail (PS_IS_RW_LOCK (self), FALSE);

  return self->storage.created;
}

/**
 * ps_rw_lock_get_name:
 * @self: a #PsRWLock
 *
 * Gets the name of a named lock.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: (nullable): the name, or %NULL
 *
 * Since: 1.1
 */
const char *
ps_rw_lock_get_name (PsRWLock *self)
{
  g_return_val_if_fail (PS_IS_RW_LOCK (self), NULL);

  return self->storage.name;
}

/**
 * ps_rw_lock_get_n_readers:
 * @self: a #PsRWLock
 *
 * Counts the read shares held, in every process: a snapshot, for
 * diagnostics (a thread's recursive shares count once; a dead reader's
 * counts until a writer or a reader takes it back).
 *
 * Across fork(): the same lock, so the same count, in parent and child.
 *
 * Returns: the number of reader slots in use
 *
 * Since: 1.1
 */
guint
ps_rw_lock_get_n_readers (PsRWLock *self)
{
  g_return_val_if_fail (PS_IS_RW_LOCK (self), 0);
  g_return_val_if_fail (self->handle.state != NULL, 0);

  return ps_rw_lock_state_count_readers (self->handle.state);
}

/**
 * ps_rw_lock_get_writer_pid:
 * @self: a #PsRWLock
 *
 * Gets the process id of the writer holding the lock, or waiting for
 * its readers: a snapshot, for diagnostics. After a writer died, its pid
 * until the lock is taken again.
 *
 * Across fork(): in a child forked while its parent writes, the parent's
 * pid.
 *
 * Returns: the writer's pid, or 0
 *
 * Since: 1.1
 */
GPid
ps_rw_lock_get_writer_pid (PsRWLock *self)
{
  PsRwLockState *state;

  g_return_val_if_fail (PS_IS_RW_LOCK (self), 0);
  g_return_val_if_fail (self->handle.state != NULL, 0);

  state = self->handle.state;
  if ((__atomic_load_n (&state->gate, __ATOMIC_RELAXED) & PS_RW_GATE_WRITER) == 0)
    return 0;
  return (GPid) __atomic_load_n (&state->writer.owner_pid, __ATOMIC_RELAXED);
}

PsRwLockHandle *
ps_rw_lock_get_handle (PsRWLock *self)
{
  return &self->handle;
}
