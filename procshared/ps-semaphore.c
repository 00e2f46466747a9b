/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-error.h"
#include "ps-semaphore-private.h"
#include "ps-async-watch-private.h"
#include "ps-counter-private.h"
#include "ps-object-storage-private.h"

/**
 * PsSemaphore:
 *
 * A counting semaphore shared between processes.
 *
 * A semaphore holds a count. [method@Semaphore.acquire] takes one unit,
 * waiting while the count is 0; [method@Semaphore.release] gives one
 * back and wakes a waiter. A bounded semaphore
 * ([ctor@Semaphore.new_bounded]) refuses a release that would take it
 * past its maximum with %PS_ERROR_OVERFLOW, leaving the count unchanged.
 *
 * Waits take a timeout and a #GCancellable; a wait that times out or is
 * cancelled never takes a unit, so the count is conserved under any mix
 * of acquires, releases, timeouts and cancellations.
 * [method@Semaphore.acquire_async] waits without blocking a main loop.
 *
 * Like every procshared object, a semaphore is anonymous (shared over
 * fork()), named ([func@Semaphore.open]) or placed inside a
 * [class@SharedMemory] ([ctor@Semaphore.new_at], [func@Semaphore.attach]).
 * Across fork(): parent and child share the count, and either may
 * release a unit the other took; a dead process's units are not returned.
 *
 * Since: 1.0
 */

typedef PsCounter SemaphoreState;

G_STATIC_ASSERT (sizeof (SemaphoreState) <= PS_OBJECT_STATE_SIZE);
G_STATIC_ASSERT (PS_SEMAPHORE_SIZE == PS_OBJECT_SLOT_SIZE);

struct _PsSemaphore
{
  GObject parent_instance;

  PsObjectStorage storage;
  guint initial_value;
  guint max_value;
  SemaphoreState *state;
};

static void ps_semaphore_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PsSemaphore, ps_semaphore, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      ps_semaphore_initable_iface_init))

enum {
  PROP_INITIAL_VALUE = PS_OBJECT_N_PROPS,
  PROP_MAX_VALUE,
  N_PROPS
};

static GParamSpec *properties [N_PROPS];

/* For the fast paths' type check, which must not call anything: no
 * PsSemaphore exists before the class is initialised. */
static GType semaphore_type;

gboolean
ps_semaphore_check_values (guint    value,
                           guint    max_value,
                           GError **error)
{
  if (max_value == 0 || max_value > G_MAXINT32)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The maximum value %u is not between 1 and %d", max_value, G_MAXINT32);
      return FALSE;
    }
  if (value > max_value)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The initial value %u is larger than the maximum value %u",
                   value, max_value);
      return FALSE;
    }
  return TRUE;
}

static gboolean
init_state (gpointer   data,
            gpointer   instance,
            GError   **error)
{
  SemaphoreState *state = data;
  PsSemaphore *self = instance;

  if (!ps_semaphore_check_values (self->initial_value, self->max_value, error))
    return FALSE;
  return ps_counter_init (state, self->initial_value, self->max_value, error);
}

static gboolean
adopt_state (gpointer   data,
             gpointer   instance,
             GError   **error)
{
  SemaphoreState *state = data;
  PsSemaphore *self = instance;

  /* An opened semaphore has the bound its creator gave it; refuse one
   * whose state no valid semaphore could have. */
  if (state->max_value == 0 || state->max_value > G_MAXINT32 ||
      (guint32) g_atomic_int_get (ps_counter_value (state)) > state->max_value)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                           "The semaphore's state is corrupt (its count exceeds its maximum)");
      return FALSE;
    }

  self->max_value = state->max_value;
  self->state = state;
  return TRUE;
}

static const PsObjectKind semaphore_kind = {
  .type = PS_OBJECT_TYPE_SEMAPHORE,
  .init_state = init_state,
  .adopt_state = adopt_state,
};

static gboolean
ps_semaphore_initable_init (GInitable     *initable,
                            GCancellable  *cancellable,
                            GError       **error)
{
  return ps_object_storage_initable_init (&PS_SEMAPHORE (initable)->storage, &semaphore_kind,
                                          initable, error);
}

/* An object made by g_object_new() alone, as the language bindings make
 * it, works too; g_initable_init() then gives what this found. */
static void
ps_semaphore_constructed (GObject *object)
{
  G_OBJECT_CLASS (ps_semaphore_parent_class)->constructed (object);
  ps_object_storage_constructed (&PS_SEMAPHORE (object)->storage, &semaphore_kind, object);
}

static void
ps_semaphore_initable_iface_init (GInitableIface *iface)
{
  iface->init = ps_semaphore_initable_init;
}

static void
ps_semaphore_finalize (GObject *object)
{
  PsSemaphore *self = (PsSemaphore *)object;

  ps_object_storage_clear (&self->storage);

  G_OBJECT_CLASS (ps_semaphore_parent_class)->finalize (object);
}

static void
ps_semaphore_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  PsSemaphore *self = PS_SEMAPHORE (object);

  if (ps_object_storage_get_property (&self->storage, prop_id, value))
    return;

  switch (prop_id)
    {
    case PROP_INITIAL_VALUE:
      g_value_set_uint (value, self->initial_value);
      break;
    case PROP_MAX_VALUE:
      g_value_set_uint (value, self->max_value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ps_semaphore_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  PsSemaphore *self = PS_SEMAPHORE (object);

  if (ps_object_storage_set_property (&self->storage, prop_id, value, pspec))
    return;

  switch (prop_id)
    {
    case PROP_INITIAL_VALUE:
      self->initial_value = g_value_get_uint (value);
      break;
    case PROP_MAX_VALUE:
      self->max_value = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ps_semaphore_class_init (PsSemaphoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  semaphore_type = G_TYPE_FROM_CLASS (klass);
  object_class->constructed = ps_semaphore_constructed;
  object_class->finalize = ps_semaphore_finalize;
  object_class->get_property = ps_semaphore_get_property;
  object_class->set_property = ps_semaphore_set_property;

  /**
   * PsSemaphore:name: (getter get_name)
   *
   * The name of a named semaphore, or %NULL.
   *
   * Since: 1.0
   */
  /**
   * PsSemaphore:open-flags:
   *
   * How a named semaphore is opened.
   *
   * Since: 1.0
   */
  /**
   * PsSemaphore:mode:
   *
   * The permission bits a named semaphore is created with (default 0600).
   * Once a named object that existed is opened, its real permission
   * bits (since 1.1).
   *
   * Since: 1.0
   */
  /**
   * PsSemaphore:memory:
   *
   * The segment a placed semaphore lives in, or %NULL.
   *
   * Since: 1.0
   */
  /**
   * PsSemaphore:offset:
   *
   * The offset of a placed semaphore inside #PsSemaphore:memory.
   *
   * Since: 1.0
   */
  /**
   * PsSemaphore:attach:
   *
   * Whether construction attaches to the semaphore already at
   * #PsSemaphore:offset of #PsSemaphore:memory, as [func@Semaphore.attach] does,
   * rather than initialising a new one there.
   *
   * Since: 1.0
   */
  /**
   * PsSemaphore:created: (getter get_created)
   *
   * Whether this handle created the semaphore, rather than opening or
   * attaching to one that was there.
   *
   * Since: 1.1
   */
  ps_object_storage_install_properties (object_class, properties);

  /**
   * PsSemaphore:initial-value:
   *
   * The count a new semaphore starts with (ignored when opening an
   * existing one).
   *
   * Since: 1.0
   */
  properties [PROP_INITIAL_VALUE] =
    g_param_spec_uint ("initial-value", NULL, NULL,
                       0, G_MAXINT32, 0,
                       (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * PsSemaphore:max-value: (getter get_max_value)
   *
   * The largest count the semaphore may reach; %G_MAXINT32 when unbounded.
   *
   * Since: 1.0
   */
  properties [PROP_MAX_VALUE] =
    g_param_spec_uint ("max-value", NULL, NULL,
                       1, G_MAXINT32, G_MAXINT32,
                       (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ps_semaphore_init (PsSemaphore *self)
{
  ps_object_storage_init_defaults (&self->storage);
  self->max_value = G_MAXINT32;
}

/**
 * ps_semaphore_try_acquire:
 * @self: a #PsSemaphore
 *
 * Takes one unit if the count is above 0, without waiting.
 * Across fork(): from the one count that parent and child share.
 *
 * Returns: %TRUE if a unit was taken
 *
 * Since: 1.0
 */
gboolean
ps_semaphore_try_acquire (PsSemaphore *self)
{
  g_return_val_if_fail (PS_IS_SEMAPHORE (self), FALSE);
  g_return_val_if_fail (self->state != NULL, FALSE);

  return ps_counter_try_take (self->state);
}

static G_GNUC_NO_INLINE gboolean
acquire_full (PsSemaphore   *self,
              gint64         timeout_us,
              GCancellable  *cancellable,
              GError       **error)
{
  g_return_val_if_fail (PS_IS_SEMAPHORE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (G_LIKELY (ps_counter_try_take (self->state)))
    return TRUE;

  return ps_counter_take_waiting (self->state, timeout_us, cancellable, "semaphore", error);
}

static inline gboolean
is_plain_call (PsSemaphore  *self,
               GError  **error)
{
  /* The type first: only then may its fields be read. */
  return ps_object_is_plain_call (self, semaphore_type, error) && G_LIKELY (self->state != NULL);
}

/**
 * ps_semaphore_acquire:
 * @self: a #PsSemaphore
 * @timeout_us: how long to wait in microseconds: %PS_TIMEOUT_INFINITE
 *   (-1) waits as long as it takes, 0 does not wait
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes one unit, waiting while the count is 0. The wait is woken by a
 * release, by the timeout (on the monotonic clock) or by cancelling
 * @cancellable from another thread. Across fork(): parent and child take
 * from one count; a process that dies holding a unit does not return it.
 *
 * Returns: %TRUE if a unit was taken; %FALSE with
 *   %G_IO_ERROR_WOULD_BLOCK (@timeout_us was 0), %G_IO_ERROR_TIMED_OUT or
 *   %G_IO_ERROR_CANCELLED, having taken nothing
 *
 * Since: 1.0
 */
gboolean
ps_semaphore_acquire (PsSemaphore   *self,
                      gint64         timeout_us,
                      GCancellable  *cancellable,
                      GError       **error)
{
  /* A unit there to take, with no cancellable: one compare-and-swap and
   * no calls. */
  if (is_plain_call (self, error) && cancellable == NULL && ps_counter_try_take (self->state))
    return TRUE;
  return acquire_full (self, timeout_us, cancellable, error);
}

static G_GNUC_NO_INLINE gboolean
release_full (PsSemaphore  *self,
              GError      **error)
{
  g_return_val_if_fail (PS_IS_SEMAPHORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  return ps_counter_give (self->state, 1, self->max_value, "semaphore", error);
}

/**
 * ps_semaphore_release:
 * @self: a #PsSemaphore
 * @error: return location for a #GError
 *
 * Gives back one unit and wakes a waiter, if any. Across fork(): either
 * process may give back a unit that the other took.
 *
 * Returns: %TRUE on success; %FALSE with %PS_ERROR_OVERFLOW if the count
 *   is already at its maximum, in which case it is left unchanged
 *
 * Since: 1.0
 */
gboolean
ps_semaphore_release (PsSemaphore  *self,
                      GError      **error)
{
  /* Nobody waiting and room below the maximum: one compare-and-swap and
   * no calls. */
  if (is_plain_call (self, error) && ps_counter_try_give_fast (self->state, &self->max_value))
    return TRUE;
  return release_full (self, error);
}

/**
 * ps_semaphore_release_many:
 * @self: a #PsSemaphore
 * @count: how many units to give back
 * @error: return location for a #GError
 *
 * Gives back @count units at once, and wakes as many waiters. It is all
 * or nothing: if the count would pass its maximum, nothing is given back
 * and the result is %PS_ERROR_OVERFLOW. A @count of 0 changes nothing.
 *
 * Across fork(): the same in parent and child; units are not owned, so a
 * child may give back what its parent took.
 *
 * Returns: %TRUE on success; %FALSE with %PS_ERROR_OVERFLOW, the count
 *   unchanged
 *
 * Since: 1.1
 */
gboolean
ps_semaphore_release_many (PsSemaphore  *self,
                           guint         count,
                           GError      **error)
{
  g_return_val_if_fail (PS_IS_SEMAPHORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  if (count == 0)
    return TRUE;
  return ps_counter_give (self->state, count, self->max_value, "semaphore", error);
}

/**
 * ps_semaphore_get_value:
 * @self: a #PsSemaphore
 *
 * Gets the current count: a snapshot, which other processes may change
 * at any moment. Across fork(): the count that parent and child share.
 *
 * Returns: the count
 *
 * Since: 1.0
 */
guint
ps_semaphore_get_value (PsSemaphore *self)
{
  gint value;

  g_return_val_if_fail (PS_IS_SEMAPHORE (self), 0);

  g_return_val_if_fail (self->state != NULL, 0);

  value = g_atomic_int_get (ps_counter_value (self->state));
  return value > 0 ? (guint) value : 0;
}

/**
 * ps_semaphore_get_max_value:
 * @self: a #PsSemaphore
 *
 * Gets the largest count the semaphore may reach. Across fork(): the same.
 *
 * Returns: the maximum, %G_MAXINT32 for an unbounded semaphore
 *
 * Since: 1.0
 */
guint
ps_semaphore_get_max_value (PsSemaphore *self)
{
  g_return_val_if_fail (PS_IS_SEMAPHORE (self), 0);
  g_return_val_if_fail (self->state != NULL, 0);

  return self->max_value;
}

/**
 * ps_semaphore_get_created:
 * @self: a #PsSemaphore
 *
 * Whether this handle created the semaphore: %TRUE for an anonymous one, and
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
ps_semaphore_get_created (PsSemaphore *self)
{
  g_return_val_if_fail (PS_IS_SEMAPHORE (self), FALSE);

  return self->storage.created;
}

/**
 * ps_semaphore_get_name:
 * @self: a #PsSemaphore
 *
 * Gets the name of a named semaphore. Across fork(): the same in both.
 *
 * Returns: (nullable): the name, or %NULL
 *
 * Since: 1.0
 */
const char *
ps_semaphore_get_name (PsSemaphore *self)
{
  g_return_val_if_fail (PS_IS_SEMAPHORE (self), NULL);
  g_return_val_if_fail (self->state != NULL, NULL);

  return self->storage.name;
}

/* One try of an async acquire (ps-async-watch-private.h). The task's
 * data says whether the wait counts among the count's waiters, which a
 * release wakes. */
static gboolean
acquire_step (GTask         *task,
              PsAsyncReason  reason,
              PsWatch       *watch)
{
  PsSemaphore *self = g_task_get_source_object (task);
  gboolean *counted = g_task_get_task_data (task);
  PsCounter *counter = self->state;
  GCancellable *cancellable = g_task_get_cancellable (task);

  for (guint races = 0; reason != PS_ASYNC_CANCELLED; races++)
    {
      gint value;

      if (ps_counter_try_take (counter))
        {
          if (*counted)
            g_atomic_int_dec_and_test (&counter->waiters);
          *counted = FALSE;
          /* Taken just as the caller cancelled: give it back rather than
           * hand it to a caller who will not release it. */
          if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
            {
              ps_counter_give (counter, 1, self->max_value, "semaphore", NULL);
              ps_async_return_error (task, PS_ASYNC_CANCELLED, "semaphore");
              return TRUE;
            }
          /* Two releases may have woken this process's waiter thread
           * once: pass the other on. */
          if (g_atomic_int_get (ps_counter_value (counter)) > 0 &&
              g_atomic_int_get (&counter->waiters) > 0)
            ps_wait_word_wake (&counter->count, FALSE);
          g_task_return_boolean (task, TRUE);
          return TRUE;
        }
      if (reason != PS_ASYNC_WOKEN)
        break;
      if (!*counted)
        {
          /* Counted before the last look, so that a release sees us or
           * we see its unit. */
          g_atomic_int_inc (&counter->waiters);
          *counted = TRUE;
          continue;
        }
      value = g_atomic_int_get (ps_counter_value (counter));
      if (value > 0 && races < 64)
        continue;
      watch->address = value > 0 ? NULL : ps_wait_word_watch_address (&counter->count);
      watch->expected = (guint32) value;
      return FALSE;
    }

  if (*counted)
    {
      g_atomic_int_dec_and_test (&counter->waiters);
      *counted = FALSE;
      /* A release may have woken us as we gave up: pass it on. */
      if (g_atomic_int_get (ps_counter_value (counter)) > 0 &&
          g_atomic_int_get (&counter->waiters) > 0)
        ps_wait_word_wake (&counter->count, FALSE);
    }
  ps_async_return_error (task, reason, "semaphore");
  return TRUE;
}

/**
 * ps_semaphore_acquire_async:
 * @self: a #PsSemaphore
 * @timeout_us: how long to wait in microseconds, as for
 *   [method@Semaphore.acquire]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the wait is over
 * @user_data: data for @callback
 *
 * Takes one unit without blocking the calling thread: @callback runs in
 * the thread-default main context of the caller, and so does every try
 * after the first. Call [method@Semaphore.acquire_finish] from it. No
 * thread waits for it: on Linux a few threads of the process sleep on
 * every pending wait's word at once (127 waits each, woken by the
 * kernel), and its timeout is the main context's own; the posix and
 * darwin backends look at the count every few milliseconds instead
 * (from 0.2 ms, doubling up to 8 ms), from the main context.
 *
 * Across fork(): a wait pending then ends only in the parent; the child
 * has none pending, and its own waits work.
 *
 * If @cancellable is cancelled, the result is %G_IO_ERROR_CANCELLED and
 * no unit is kept, even one taken just as the cancellation happened.
 *
 * Since: 1.0
 */
void
ps_semaphore_acquire_async (PsSemaphore         *self,
                            gint64               timeout_us,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PS_IS_SEMAPHORE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ps_semaphore_acquire_async);
  g_task_set_name (task, "[procshared] semaphore acquire");
  /* The result says whether we hold a unit; it must not be replaced by
   * a late cancellation, or that unit would be lost. */
  g_task_set_check_cancellable (task, FALSE);

  g_task_set_task_data (task, g_new0 (gboolean, 1), g_free);
  ps_async_watch_start (task, timeout_us, acquire_step, TRUE);
}

/**
 * ps_semaphore_acquire_finish:
 * @self: a #PsSemaphore
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Semaphore.acquire_async]. Across fork(): only in the
 * process that started the wait.
 *
 * Returns: %TRUE if a unit was taken (release it when done); %FALSE with
 *   %G_IO_ERROR_WOULD_BLOCK, %G_IO_ERROR_TIMED_OUT or
 *   %G_IO_ERROR_CANCELLED
 *
 * Since: 1.0
 */
gboolean
ps_semaphore_acquire_finish (PsSemaphore   *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (PS_IS_SEMAPHORE (self), FALSE);
  g_return_val_if_fail (self->state != NULL, FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ps_semaphore_acquire_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
