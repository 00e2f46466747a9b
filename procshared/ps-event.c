/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-error.h"
#include "ps-event-private.h"
#include "ps-object-storage-private.h"
#include "ps-wait-private.h"

/**
 * PsEvent:
 *
 * An event shared between processes: a flag that threads of any process
 * wait for until another sets it, as Python's `threading.Event` and
 * Windows' named events.
 *
 * [method@Event.set] sets it, [method@Event.reset] clears it,
 * [method@Event.is_set] tells, and [method@Event.wait] waits until it is
 * set, with a timeout and a #GCancellable ([method@Event.wait_async]
 * without blocking a main loop).
 *
 * A manual-reset event (the default) wakes every waiter and stays set
 * until it is reset; a wait that was asleep when it was set returns
 * %TRUE even if it was reset again before the waiter ran. An auto-reset
 * event ([property@Event:auto-reset]) lets exactly one waiter through per
 * set and is clear again as that waiter returns; set while nobody waits,
 * it stays set until one wait consumes it. Setting a set event changes
 * nothing (sets are not counted). No set is ever lost between a waiter's
 * look at the flag and its sleep.
 *
 * Like every procshared object, an event is anonymous (shared over
 * fork()), named ([func@Event.open]) or placed inside a
 * [class@SharedMemory] ([ctor@Event.new_at], [func@Event.open_at],
 * [func@Event.attach]). An event opened or attached keeps the kind its
 * creator gave it, whatever the opener asked for.
 *
 * A waiter that dies leaves nothing behind: an event has no owner.
 *
 * Across fork(): an event made before fork() is shared by parent and
 * child: either may set it for the other. A parent's thread that was
 * waiting does not exist in the child.
 *
 * Since: 1.1
 */

G_STATIC_ASSERT (sizeof (PsEventState) <= PS_OBJECT_STATE_SIZE);
G_STATIC_ASSERT (PS_EVENT_SIZE == PS_OBJECT_SLOT_SIZE);

struct _PsEvent
{
  GObject parent_instance;

  PsObjectStorage storage;
  gboolean auto_reset;
  PsEventState *state;
};

static void ps_event_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PsEvent, ps_event, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      ps_event_initable_iface_init))

enum {
  PROP_AUTO_RESET = PS_OBJECT_N_PROPS,
  N_PROPS
};

static GParamSpec *properties [N_PROPS];

/* The maximum of the auto-reset count: never re-read from shared memory. */
static const guint one = 1;

static gboolean
init_state (gpointer   data,
            gpointer   instance,
            GError   **error)
{
  PsEventState *state = data;
  PsEvent *self = instance;

  state->auto_reset = self->auto_reset ? 1 : 0;
  state->waiters = 0;
  return ps_wait_word_init (&state->flag, 0, error) &&
         ps_counter_init (&state->signal, 0, one, error);
}

static gboolean
adopt_state (gpointer   data,
             gpointer   instance,
             GError   **error)
{
  PsEventState *state = data;
  PsEvent *self = instance;
  guint32 auto_reset = __atomic_load_n (&state->auto_reset, __ATOMIC_RELAXED);
  guint32 count = (guint32) g_atomic_int_get (ps_counter_value (&state->signal));

  if (auto_reset > 1 || state->signal.max_value != one || count > one)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                           "The event's state is corrupt (an unknown kind, or a count "
                           "no event could have)");
      return FALSE;
    }
  self->auto_reset = auto_reset != 0;
  self->state = state;
  return TRUE;
}

static const PsObjectKind event_kind = {
  .type = PS_OBJECT_TYPE_EVENT,
  .init_state = init_state,
  .adopt_state = adopt_state,
};

static gboolean
ps_event_initable_init (GInitable     *initable,
                        GCancellable  *cancellable,
                        GError       **error)
{
  return ps_object_storage_initable_init (&PS_EVENT (initable)->storage, &event_kind,
                                          initable, error);
}

/* An object made by g_object_new() alone, as the language bindings make
 * it, works too; g_initable_init() then gives what this found. */
static void
ps_event_constructed (GObject *object)
{
  G_OBJECT_CLASS (ps_event_parent_class)->constructed (object);
  ps_object_storage_constructed (&PS_EVENT (object)->storage, &event_kind, object);
}

static void
ps_event_initable_iface_init (GInitableIface *iface)
{
  iface->init = ps_event_initable_init;
}

static void
ps_event_finalize (GObject *object)
{
  PsEvent *self = (PsEvent *)object;

  ps_object_storage_clear (&self->storage);

  G_OBJECT_CLASS (ps_event_parent_class)->finalize (object);
}

static void
ps_event_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  PsEvent *self = PS_EVENT (object);

  if (ps_object_storage_get_property (&self->storage, prop_id, value))
    return;

  if (prop_id == PROP_AUTO_RESET)
    g_value_set_boolean (value, self->auto_reset);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
ps_event_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  PsEvent *self = PS_EVENT (object);

  if (ps_object_storage_set_property (&self->storage, prop_id, value, pspec))
    return;

  if (prop_id == PROP_AUTO_RESET)
    self->auto_reset = g_value_get_boolean (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
ps_event_class_init (PsEventClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = ps_event_constructed;
  object_class->finalize = ps_event_finalize;
  object_class->get_property = ps_event_get_property;
  object_class->set_property = ps_event_set_property;

  /**
   * PsEvent:name: (getter get_name)
   *
   * The name of a named event, or %NULL.
   *
   * Since: 1.1
   */
  /**
   * PsEvent:open-flags:
   *
   * How a named event is opened, or (with #PsEvent:memory) how a placed
   * one is.
   *
   * Since: 1.1
   */
  /**
   * PsEvent:mode:
   *
   * The permission bits a named event is created with (default 0600).
   * Once a named object that existed is opened, its real permission bits.
   *
   * Since: 1.1
   */
  /**
   * PsEvent:memory:
   *
   * The segment a placed event lives in, or %NULL.
   *
   * Since: 1.1
   */
  /**
   * PsEvent:offset:
   *
   * The offset of a placed event inside #PsEvent:memory.
   *
   * Since: 1.1
   */
  /**
   * PsEvent:attach:
   *
   * Whether construction attaches to the event already at #PsEvent:offset
   * of #PsEvent:memory, as [func@Event.attach] does, rather than
   * initialising a new one there.
   *
   * Since: 1.1
   */
  /**
   * PsEvent:created: (getter get_created)
   *
   * Whether this handle created the event, rather than opening or
   * attaching to one that was there.
   *
   * Since: 1.1
   */
  ps_object_storage_install_properties (object_class, properties);

  /**
   * PsEvent:auto-reset: (getter get_auto_reset)
   *
   * Whether a set lets one waiter through and clears the event again
   * (auto-reset), rather than letting every waiter through and staying
   * set (manual-reset). Asked of a new event; once the event is opened
   * or attached, the kind its creator gave it.
   *
   * Since: 1.1
   */
  properties [PROP_AUTO_RESET] =
    g_param_spec_boolean ("auto-reset", NULL, NULL, FALSE,
                          (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                           G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ps_event_init (PsEvent *self)
{
  ps_object_storage_init_defaults (&self->storage);
}

/* Manual-reset: sets the flag (counting the set) or clears it; whether
 * that changed it. */
static gboolean
change_flag (PsEventState *state,
             gboolean    set)
{
  guint32 value = g_atomic_int_get (ps_event_flag_value (state));
  guint32 changed;

  do
    {
      if (((value & PS_EVENT_FLAG_SET) != 0) == set)
        return FALSE;
      changed = set ? (value + 2) | PS_EVENT_FLAG_SET : value & ~PS_EVENT_FLAG_SET;
    }
  while (!g_atomic_int_compare_and_exchange_full ((gint *) ps_event_flag_value (state), (gint) value,
                                                  (gint) changed, (gint *) &value));
  return TRUE;
}

/**
 * ps_event_set:
 * @self: a #PsEvent
 *
 * Sets the event. A manual-reset event wakes every waiter and stays set
 * until [method@Event.reset]; an auto-reset event wakes one waiter, which
 * clears it as it returns, or, if nobody waits, stays set until a wait
 * consumes it. Setting a set event changes nothing.
 *
 * Across fork(): either process may set the event for the other.
 *
 * Since: 1.1
 */
void
ps_event_set (PsEvent *self)
{
  PsEventState *state;

  g_return_if_fail (PS_IS_EVENT (self));
  g_return_if_fail (self->state != NULL);
  state = self->state;

  if (self->auto_reset)
    {
      /* Already set: the give fails, changing nothing. */
      if (!ps_counter_try_give_fast (&state->signal, &one))
        ps_counter_give (&state->signal, 1, one, "event", NULL);
      return;
    }

  /* A waiter counts itself before it looks at the flag: it sees the set,
   * or we see it. */
  if (change_flag (state, TRUE) && g_atomic_int_get (&state->waiters) != 0)
    ps_wait_word_wake (&state->flag, TRUE);
}

/**
 * ps_event_reset:
 * @self: a #PsEvent
 *
 * Clears the event (`clear()` in Python). Waits that were already woken
 * by the set it clears still return %TRUE.
 *
 * Across fork(): either process may clear the event for the other.
 *
 * Since: 1.1
 */
void
ps_event_reset (PsEvent *self)
{
  g_return_if_fail (PS_IS_EVENT (self));
  g_return_if_fail (self->state != NULL);

  if (self->auto_reset)
    ps_counter_try_take (&self->state->signal);
  else
    change_flag (self->state, FALSE);
}

/**
 * ps_event_is_set:
 * @self: a #PsEvent
 *
 * Whether the event is set: a snapshot, which other processes may change
 * at any moment.
 *
 * Across fork(): the one flag parent and child share.
 *
 * Returns: %TRUE if it is set
 *
 * Since: 1.1
 */
gboolean
ps_event_is_set (PsEvent *self)
{
  g_return_val_if_fail (PS_IS_EVENT (self), FALSE);
  g_return_val_if_fail (self->state != NULL, FALSE);

  if (self->auto_reset)
    return g_atomic_int_get (ps_counter_value (&self->state->signal)) > 0;
  return (g_atomic_int_get (ps_event_flag_value (self->state)) & PS_EVENT_FLAG_SET) != 0;
}

/* A manual-reset wait: until the flag is set, or was set (its count of
 * sets moved) while we slept. */
static gboolean
wait_manual (PsEventState    *state,
             gint64         timeout_us,
             GCancellable  *cancellable,
             GError       **error)
{
  PsWaitContext context;
  PsWaitStatus status = PS_WAIT_WOKEN;
  gint64 deadline;
  guint32 first, value;

  if (timeout_us == 0)
    {
      ps_set_would_block_error (error, "event");
      return FALSE;
    }
  deadline = ps_deadline_from_timeout (timeout_us);
  if (!ps_wait_context_begin (&context, cancellable, error))
    return FALSE;

  g_atomic_int_inc (&state->waiters);
  first = g_atomic_int_get (ps_event_flag_value (state));
  value = first;
  while (!(value & PS_EVENT_FLAG_SET) && (value >> 1) == (first >> 1))
    {
      status = ps_wait_word_wait (&state->flag, value, deadline,
                                  ps_wait_context_get_canceller (&context));
      /* The deadline is ours to keep, whatever a peer wrote. */
      if (status == PS_WAIT_WOKEN && deadline >= 0 && g_get_monotonic_time () >= deadline)
        status = PS_WAIT_TIMED_OUT;
      value = g_atomic_int_get (ps_event_flag_value (state));
      if (status != PS_WAIT_WOKEN)
        break;
    }
  g_atomic_int_add (&state->waiters, -1);
  ps_wait_context_end (&context);

  /* A set that came with the deadline or the cancellation still counts. */
  if ((value & PS_EVENT_FLAG_SET) || (value >> 1) != (first >> 1))
    return TRUE;
  ps_set_wait_error (error, status, "event");
  return FALSE;
}

/**
 * ps_event_wait:
 * @self: a #PsEvent
 * @timeout_us: how long to wait in microseconds: %PS_TIMEOUT_INFINITE
 *   (-1) waits as long as it takes, 0 does not wait
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits until the event is set. A manual-reset event stays set; a wait
 * that was asleep when it was set returns %TRUE even if it was reset
 * before the waiter ran. An auto-reset event lets one waiter through per
 * set, and that waiter's return clears it.
 *
 * Across fork(): parent and child wait on the one flag; either may set it.
 *
 * Returns: %TRUE if the event was set; %FALSE with
 *   %G_IO_ERROR_WOULD_BLOCK (@timeout_us was 0), %G_IO_ERROR_TIMED_OUT or
 *   %G_IO_ERROR_CANCELLED
 *
 * Since: 1.1
 */
gboolean
ps_event_wait (PsEvent       *self,
               gint64         timeout_us,
               GCancellable  *cancellable,
               GError       **error)
{
  g_return_val_if_fail (PS_IS_EVENT (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (self->auto_reset)
    return ps_counter_try_take (&self->state->signal) ||
           ps_counter_take_waiting (&self->state->signal, timeout_us, cancellable,
                                    "event", error);
  if (g_atomic_int_get (ps_event_flag_value (self->state)) & PS_EVENT_FLAG_SET)
    return TRUE;
  return wait_manual (self->state, timeout_us, cancellable, error);
}

PsEventState *
ps_event_get_state (PsEvent *self)
{
  return self->state;
}

/**
 * ps_event_get_auto_reset:
 * @self: a #PsEvent
 *
 * Whether the event is auto-reset: the kind its creator gave it.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: %TRUE for an auto-reset event
 *
 * Since: 1.1
 */
gboolean
ps_event_get_auto_reset (PsEvent *self)
{
  g_return_val_if_fail (PS_IS_EVENT (self), FALSE);

  return self->auto_reset;
}

/**
 * ps_event_get_created:
 * @self: a #PsEvent
 *
 * Whether this handle created the event: %TRUE for an anonymous one, and
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
ps_event_get_created (PsEvent *self)
{
  g_return_val_if_fail (PS_IS_EVENT (self), FALSE);

  return self->storage.created;
}

/**
 * ps_event_get_name:
 * @self: a #PsEvent
 *
 * Gets the name of a named event.
 *
 * Across fork(): the same in both.
 *
 * Returns: (nullable): the name, or %NULL
 *
 * Since: 1.1
 */
const char *
ps_event_get_name (PsEvent *self)
{
  g_return_val_if_fail (PS_IS_EVENT (self), NULL);

  return self->storage.name;
}
