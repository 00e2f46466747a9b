/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-barrier-private.h"
#include "ps-error.h"
#include "ps-object-storage-private.h"

/**
 * PsBarrier:
 *
 * A barrier shared between processes: a fixed number of parties each
 * call [method@Barrier.wait], and all of them return together once the
 * last has arrived, as with Python's `threading.Barrier` and
 * `pthread_barrier_t`. The barrier then starts its next round at once.
 *
 * [method@Barrier.wait] returns the party's arrival index: 0 for the first
 * to arrive in the round up to `parties - 1` for the last, the one whose
 * arrival ended the round, a different index for each party (as Python
 * does), so that exactly one party can be chosen for a task after the
 * round.
 *
 * A barrier breaks when a waiting party's wait times out or is cancelled,
 * when a waiting party's process dies, or when [method@Barrier.abort] is
 * called. Every party waiting then fails with %PS_ERROR_BROKEN (the one
 * whose own timeout or cancellation broke it with %G_IO_ERROR_TIMED_OUT or
 * %G_IO_ERROR_CANCELLED), and so does every later wait until
 * [method@Barrier.reset], which also breaks the parties waiting at that
 * moment, as Python's does. Rounds are numbered, so that a fast party
 * that already waits in the next round is never taken for one of the
 * last.
 *
 * The death of a waiting party is seen by the party that would end the
 * round, before it does, and, in a barrier of three parties or more, by
 * the others within 50 ms (one of them wakes to look): each party records
 * itself in the barrier as it goes to sleep. On Linux (the futex backend)
 * a blocking wait's record is a word the kernel marks when the thread
 * dies, so that the party that would end the round sees the death as
 * soon as the process exits, without a system call, and the death of the
 * party that looks for the others wakes them at once; elsewhere, and for
 * an async wait, the record is the process, with its start time where
 * the platform tells it (so that a new process given a dead one's pid
 * does not pass for it), and that party sees the death once the dead
 * process is reaped. On a machine with several CPUs the last party but
 * one first polls a few microseconds for the round's end, unrecorded:
 * one that dies in that moment counts as having passed if the round then
 * ends. A round whose parties all meet while polling makes no system
 * call. A barrier has at most %PS_BARRIER_MAX_PARTIES parties.
 *
 * Like every procshared object, a barrier is anonymous (shared over
 * fork()), named ([func@Barrier.open]) or placed inside a
 * [class@SharedMemory] ([ctor@Barrier.new_at], [func@Barrier.open_at],
 * [func@Barrier.attach]); one opened or attached has the parties its
 * creator gave it, whatever the opener asked for.
 *
 * Across fork(): a barrier made before fork() is shared by parent and
 * child, which are then parties like any two processes; a parent's
 * thread that was waiting does not exist in the child, and the child
 * does not count as that waiting party.
 *
 * Since: 1.1
 */

typedef PsBarrierState BarrierState;

G_STATIC_ASSERT (sizeof (BarrierState) <= PS_OBJECT_STATE_SIZE);
G_STATIC_ASSERT (PS_BARRIER_SIZE == PS_OBJECT_SLOT_SIZE);

struct _PsBarrier
{
  GObject parent_instance;

  PsObjectStorage storage;
  guint parties;
  BarrierState *state;
};

static void ps_barrier_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PsBarrier, ps_barrier, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      ps_barrier_initable_iface_init))

enum {
  PROP_PARTIES = PS_OBJECT_N_PROPS,
  N_PROPS
};

static GParamSpec *properties [N_PROPS];

static gboolean
init_state (gpointer   data,
            gpointer   instance,
            GError   **error)
{
  PsBarrier *self = instance;

  if (self->parties == 0 || self->parties > PS_BARRIER_MAX_PARTIES)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The number of parties %u is not between 1 and %u",
                   self->parties, PS_BARRIER_MAX_PARTIES);
      return FALSE;
    }
  return ps_barrier_state_init (data, self->parties, error);
}

static gboolean
adopt_state (gpointer   data,
             gpointer   instance,
             GError   **error)
{
  BarrierState *state = data;
  PsBarrier *self = instance;

  if (!ps_barrier_state_check (state, error))
    return FALSE;
  self->parties = __atomic_load_n (&state->parties, __ATOMIC_RELAXED);
  self->state = state;
  return TRUE;
}

static const PsObjectKind barrier_kind = {
  .type = PS_OBJECT_TYPE_BARRIER,
  .init_state = init_state,
  .adopt_state = adopt_state,
};

static gboolean
ps_barrier_initable_init (GInitable     *initable,
                          GCancellable  *cancellable,
                          GError       **error)
{
  return ps_object_storage_initable_init (&PS_BARRIER (initable)->storage, &barrier_kind,
                                          initable, error);
}

/* An object made by g_object_new() alone, as the language bindings make
 * it, works too; g_initable_init() then gives what this found. */
static void
ps_barrier_constructed (GObject *object)
{
  G_OBJECT_CLASS (ps_barrier_parent_class)->constructed (object);
  ps_object_storage_constructed (&PS_BARRIER (object)->storage, &barrier_kind, object);
}

static void
ps_barrier_initable_iface_init (GInitableIface *iface)
{
  iface->init = ps_barrier_initable_init;
}

static void
ps_barrier_finalize (GObject *object)
{
  PsBarrier *self = (PsBarrier *)object;

  ps_object_storage_clear (&self->storage);

  G_OBJECT_CLASS (ps_barrier_parent_class)->finalize (object);
}

static void
ps_barrier_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PsBarrier *self = PS_BARRIER (object);

  if (ps_object_storage_get_property (&self->storage, prop_id, value))
    return;

  if (prop_id == PROP_PARTIES)
    g_value_set_uint (value, self->parties);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
ps_barrier_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  PsBarrier *self = PS_BARRIER (object);

  if (ps_object_storage_set_property (&self->storage, prop_id, value, pspec))
    return;

  if (prop_id == PROP_PARTIES)
    self->parties = g_value_get_uint (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
ps_barrier_class_init (PsBarrierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = ps_barrier_constructed;
  object_class->finalize = ps_barrier_finalize;
  object_class->get_property = ps_barrier_get_property;
  object_class->set_property = ps_barrier_set_property;

  /**
   * PsBarrier:name: (getter get_name)
   *
   * The name of a named barrier, or %NULL.
   *
   * Since: 1.1
   */
  /**
   * PsBarrier:open-flags:
   *
   * How a named barrier is opened, or (with #PsBarrier:memory) how a
   * placed one is.
   *
   * Since: 1.1
   */
  /**
   * PsBarrier:mode:
   *
   * The permission bits a named barrier is created with (default 0600).
   * Once a named object that existed is opened, its real permission bits.
   *
   * Since: 1.1
   */
  /**
   * PsBarrier:memory:
   *
   * The segment a placed barrier lives in, or %NULL.
   *
   * Since: 1.1
   */
  /**
   * PsBarrier:offset:
   *
   * The offset of a placed barrier inside #PsBarrier:memory.
   *
   * Since: 1.1
   */
  /**
   * PsBarrier:attach:
   *
   * Whether construction attaches to the barrier already at
   * #PsBarrier:offset of #PsBarrier:memory, as [func@Barrier.attach]
   * does, rather than initialising a new one there.
   *
   * Since: 1.1
   */
  /**
   * PsBarrier:created: (getter get_created)
   *
   * Whether this handle created the barrier, rather than opening or
   * attaching to one that was there.
   *
   * Since: 1.1
   */
  ps_object_storage_install_properties (object_class, properties);

  /**
   * PsBarrier:parties: (getter get_parties)
   *
   * How many parties the barrier waits for, from 1 to
   * %PS_BARRIER_MAX_PARTIES. Asked of a new barrier; once the barrier is
   * opened or attached, the number its creator gave it.
   *
   * Since: 1.1
   */
  properties [PROP_PARTIES] =
    g_param_spec_uint ("parties", NULL, NULL,
                       1, PS_BARRIER_MAX_PARTIES, 1,
                       (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ps_barrier_init (PsBarrier *self)
{
  ps_object_storage_init_defaults (&self->storage);
  self->parties = 1;
}

/**
 * ps_barrier_wait:
 * @self: a #PsBarrier
 * @timeout_us: how long to wait in microseconds: %PS_TIMEOUT_INFINITE
 *   (-1) waits as long as it takes; 0 only arrives if that ends the round
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Arrives at the barrier and waits until all its parties have: the last
 * to arrive ends the round and every party returns.
 *
 * If the wait times out or is cancelled, the barrier breaks: this party
 * fails with %G_IO_ERROR_TIMED_OUT or %G_IO_ERROR_CANCELLED, every other
 * waiting party with %PS_ERROR_BROKEN. A @timeout_us of 0 arrives only if
 * this party is the last one, and otherwise fails at once with
 * %G_IO_ERROR_WOULD_BLOCK, having changed nothing. A cancellable already
 * cancelled fails without arriving.
 *
 * Across fork(): parent and child are parties like any two processes.
 *
 * Returns: the arrival index, from 0 (first) to `parties - 1` (last); or
 *   -1 with %PS_ERROR_BROKEN, %G_IO_ERROR_TIMED_OUT,
 *   %G_IO_ERROR_CANCELLED, %G_IO_ERROR_WOULD_BLOCK or %PS_ERROR_CORRUPT
 *   (a peer wrote what no barrier could hold)
 *
 * Since: 1.1
 */
gint
ps_barrier_wait (PsBarrier     *self,
                 gint64         timeout_us,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_return_val_if_fail (PS_IS_BARRIER (self), -1);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);
  if (G_UNLIKELY (self->state == NULL))
    {
      ps_object_storage_set_init_error (&self->storage, error);
      return -1;
    }

  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
    return -1;
  return ps_barrier_state_wait (self->state, self->parties, timeout_us, cancellable, error);
}

/**
 * ps_barrier_wait_async:
 * @self: a #PsBarrier
 * @timeout_us: how long to wait in microseconds, as for
 *   [method@Barrier.wait]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the wait is over
 * @user_data: data for @callback
 *
 * Arrives at the barrier and waits for the round to end without blocking
 * the calling thread; @callback runs in the thread-default main context
 * of the caller, and so does every look at the barrier after the first.
 * Call [method@Barrier.wait_finish] from it. The outcome is the one
 * [method@Barrier.wait] would give: a timeout or a cancellation breaks
 * the round (this party fails with %G_IO_ERROR_TIMED_OUT or
 * %G_IO_ERROR_CANCELLED, the others with %PS_ERROR_BROKEN) unless the
 * round ended first, and a party that dies while waiting breaks it too.
 *
 * No thread waits for it: on Linux a few threads of the process sleep on
 * every pending wait's word at once (127 waits each, woken by the
 * kernel), and its timeout is the main context's own; the posix and
 * darwin backends look at the barrier every few milliseconds instead
 * (from 0.2 ms, doubling up to 8 ms), from the main context. As the
 * blocking wait, a pending one also looks for dead parties every 50 ms.
 *
 * Across fork(): a wait pending then ends only in the parent; the child's
 * own waits work.
 *
 * Since: 1.1
 */
void
ps_barrier_wait_async (PsBarrier           *self,
                       gint64               timeout_us,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (PS_IS_BARRIER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ps_barrier_wait_async);
  g_task_set_name (task, "[procshared] barrier wait");
  /* The result says whether the round passed: a late cancellation must
   * not replace it. */
  g_task_set_check_cancellable (task, FALSE);

  /* Refused before arriving (an already cancelled cancellable), or a
   * timeout of 0, which never sleeps: the blocking wait's answer. */
  if (G_UNLIKELY (self->state == NULL) || timeout_us == 0 ||
      (cancellable != NULL && g_cancellable_is_cancelled (cancellable)))
    {
      gint index = ps_barrier_wait (self, timeout_us, cancellable, &error);

      if (index < 0)
        g_task_return_error (task, error);
      else
        g_task_return_int (task, index);
      return;
    }
  g_task_set_task_data (task, ps_barrier_async_new (self->state, self->parties), g_free);
  ps_async_watch_start (task, timeout_us, ps_barrier_async_step, TRUE);
}

/**
 * ps_barrier_wait_finish:
 * @self: a #PsBarrier
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Barrier.wait_async].
 *
 * Across fork(): only in the process that started the wait.
 *
 * Returns: the arrival index, or -1 with the errors of
 *   [method@Barrier.wait]
 *
 * Since: 1.1
 */
gint
ps_barrier_wait_finish (PsBarrier     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (PS_IS_BARRIER (self), -1);
  g_return_val_if_fail (g_task_is_valid (result, self), -1);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ps_barrier_wait_async, -1);

  return (gint) g_task_propagate_int (G_TASK (result), error);
}

/**
 * ps_barrier_reset:
 * @self: a #PsBarrier
 * @error: return location for a #GError
 *
 * Starts a new round: parties waiting in the current one fail with
 * %PS_ERROR_BROKEN, and a broken barrier works again. A barrier that
 * nobody waits at and that is not broken is left as it is.
 *
 * Across fork(): either process may reset the barrier for both.
 *
 * Returns: %TRUE; %FALSE with the error of a barrier that could not be
 *   made or opened
 *
 * Since: 1.1
 */
gboolean
ps_barrier_reset (PsBarrier  *self,
                  GError    **error)
{
  g_return_val_if_fail (PS_IS_BARRIER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  ps_barrier_state_reset (self->state);
  return TRUE;
}

/**
 * ps_barrier_abort:
 * @self: a #PsBarrier
 *
 * Breaks the barrier: parties waiting fail with %PS_ERROR_BROKEN, and so
 * do later waits until [method@Barrier.reset]. Use it to stop the parties
 * when one of them cannot go on.
 *
 * Across fork(): either process may abort the barrier for both.
 *
 * Since: 1.1
 */
void
ps_barrier_abort (PsBarrier *self)
{
  g_return_if_fail (PS_IS_BARRIER (self));
  g_return_if_fail (self->state != NULL);

  ps_barrier_state_abort (self->state);
}

/**
 * ps_barrier_get_parties:
 * @self: a #PsBarrier
 *
 * Gets how many parties the barrier waits for.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: the number of parties
 *
 * Since: 1.1
 */
guint
ps_barrier_get_parties (PsBarrier *self)
{
  g_return_val_if_fail (PS_IS_BARRIER (self), 0);

  return self->parties;
}

/**
 * ps_barrier_get_n_waiting:
 * @self: a #PsBarrier
 *
 * Gets how many parties have arrived in the current round and wait for
 * the others: a snapshot, which other processes may change at any moment.
 *
 * Across fork(): the parties of both processes.
 *
 * Returns: the number of waiting parties; 0 if the barrier is broken
 *
 * Since: 1.1
 */
guint
ps_barrier_get_n_waiting (PsBarrier *self)
{
  guint32 word;

  g_return_val_if_fail (PS_IS_BARRIER (self), 0);
  g_return_val_if_fail (self->state != NULL, 0);

  word = __atomic_load_n (ps_barrier_word (self->state), __ATOMIC_SEQ_CST);
  if (word & PS_BARRIER_BROKEN)
    return 0;
  return MIN (word & PS_BARRIER_COUNT_MASK, self->parties);
}

/**
 * ps_barrier_is_broken:
 * @self: a #PsBarrier
 *
 * Whether the barrier is broken: waits fail with %PS_ERROR_BROKEN until
 * [method@Barrier.reset].
 *
 * Across fork(): the one state parent and child share.
 *
 * Returns: %TRUE if it is broken
 *
 * Since: 1.1
 */
gboolean
ps_barrier_is_broken (PsBarrier *self)
{
  g_return_val_if_fail (PS_IS_BARRIER (self), FALSE);
  g_return_val_if_fail (self->state != NULL, FALSE);

  return (__atomic_load_n (ps_barrier_word (self->state), __ATOMIC_SEQ_CST) &
          PS_BARRIER_BROKEN) != 0;
}

/**
 * ps_barrier_get_created:
 * @self: a #PsBarrier
 *
 * Whether this handle created the barrier: %TRUE for an anonymous one,
 * and for the one process or thread that created a named or placed one;
 * %FALSE for those that opened or attached to it.
 *
 * Across fork(): a child sees its parent's handle, with the same answer.
 *
 * Returns: whether this handle created it
 *
 * Since: 1.1
 */
gboolean
ps_barrier_get_created (PsBarrier *self)
{
  g_return_val_if_fail (PS_IS_BARRIER (self), FALSE);

  return self->storage.created;
}

/**
 * ps_barrier_get_name:
 * @self: a #PsBarrier
 *
 * Gets the name of a named barrier.
 *
 * Across fork(): the same in both.
 *
 * Returns: (nullable): the name, or %NULL
 *
 * Since: 1.1
 */
const char *
ps_barrier_get_name (PsBarrier *self)
{
  g_return_val_if_fail (PS_IS_BARRIER (self), NULL);

  return self->storage.name;
}
