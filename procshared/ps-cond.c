/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-backend-private.h"
#include "ps-cond-private.h"
#include "ps-error.h"
#include "ps-mutex-private.h"
#include "ps-object-storage-private.h"
#include "ps-wait-private.h"

/**
 * PsCond:
 *
 * A condition variable shared between processes, used with a
 * [class@Mutex].
 *
 * A thread holding the mutex calls [method@Cond.wait], which releases the
 * mutex while it sleeps and takes it back before returning, whatever the
 * outcome (signalled, timed out, cancelled, or %PS_ERROR_OWNER_DEAD).
 * [method@Cond.signal] wakes one waiter and [method@Cond.broadcast] all
 * of them.
 *
 * Wake-ups can be spurious, so always wait in a loop on a predicate. A
 * wait that fails with %PS_ERROR_OWNER_DEAD has taken the mutex back from
 * a holder that died: the caller holds it and must repair the data and
 * call [method@Mutex.mark_consistent] before the mutex is unlocked, or
 * the mutex becomes %PS_ERROR_NOT_RECOVERABLE for every process. The
 * same goes for the lock before the loop:
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 * gint64 end_time = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
 *
 * if (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, &error))
 *   {
 *     if (!g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
 *       return FALSE;                       // not held
 *     repair_shared_data (data);            // held: repair, then say so
 *     ps_mutex_mark_consistent (mutex, NULL);
 *     g_clear_error (&error);
 *   }
 * while (!data->ready)
 *   {
 *     if (ps_cond_wait_until (cond, mutex, end_time, NULL, &error))
 *       continue;
 *     if (!g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
 *       break;                              // timed out, cancelled: held
 *     repair_shared_data (data);            // a holder died: held, repair
 *     ps_mutex_mark_consistent (mutex, NULL);
 *     g_clear_error (&error);
 *   }
 * ps_mutex_unlock (mutex, NULL);
 * return error == NULL;
 * ```
 *
 * `examples/handshake.c` is this loop in a complete program; run as
 * `handshake --crash`, it kills a peer holding the mutex and checks that
 * the mutex stays usable.
 *
 * No wake-up is ever lost: a signal sent after a waiter released the
 * mutex reaches a waiter. A signal sent when nobody waits is not
 * remembered. A waiter that dies leaves nothing behind that breaks later
 * waits.
 *
 * Across fork(): a condition variable made before fork() is shared by
 * parent and child. A child forked while its parent holds the mutex does
 * not hold it (ownership is per thread, and the child's thread is a new
 * one), so its wait fails with %PS_ERROR_NOT_OWNER until it locks the
 * mutex itself; a parent's thread that was waiting does not exist in the
 * child. Signals and broadcasts need no mutex and work from either side.
 *
 * Since: 1.0
 */

/* The waiters, counted exactly even when some die waiting. A waiter
 * counts itself in the current generation, and takes itself out on its
 * way out if the generation has not moved on. A broadcast wakes every
 * waiter counted, so it starts a new generation at 0: the waiters it
 * woke leave without counting down, and those that died waiting are no
 * longer counted. A signal that finds nobody asleep (where the platform
 * can tell, see ps_wait_word_wake_one()) while some are counted knows
 * those are dead, or on their way out with a sequence it changed: it
 * does what a broadcast does. */
#define WAITERS_COUNT_MASK      G_GUINT64_CONSTANT (0xffffffff)
#define WAITERS_GENERATION_ONE  (G_GUINT64_CONSTANT (1) << 32)

typedef struct
{
  PsWaitWord sequence;   /* bumped by every signal and broadcast */
  guint32    reserved;   /* 0; before 1.1 a count that kept dead waiters */
  guint64    waiters;    /* generation << 32 | waiters counted in it */
} CondState;

G_STATIC_ASSERT (sizeof (CondState) <= PS_OBJECT_STATE_SIZE);
/* A lock behind the compare-and-swap would not be shared between
 * processes. */
G_STATIC_ASSERT (__atomic_always_lock_free (sizeof (guint64), 0));
G_STATIC_ASSERT (PS_COND_SIZE == PS_OBJECT_SLOT_SIZE);

struct _PsCond
{
  GObject parent_instance;

  PsObjectStorage storage;
  CondState *state;
};

static void ps_cond_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PsCond, ps_cond, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      ps_cond_initable_iface_init))

static GParamSpec *properties [PS_OBJECT_N_PROPS];

static gboolean
init_state (gpointer   data,
            gpointer   instance,
            GError   **error)
{
  CondState *state = data;

  state->reserved = 0;
  __atomic_store_n (&state->waiters, 0, __ATOMIC_SEQ_CST);
  return ps_wait_word_init (&state->sequence, 0, error);
}

static gboolean
adopt_state (gpointer   data,
             gpointer   instance,
             GError   **error)
{
  PS_COND (instance)->state = data;
  return TRUE;
}

static const PsObjectKind cond_kind = {
  .type = PS_OBJECT_TYPE_COND,
  .init_state = init_state,
  .adopt_state = adopt_state,
};

static gboolean
ps_cond_initable_init (GInitable     *initable,
                       GCancellable  *cancellable,
                       GError       **error)
{
  return ps_object_storage_initable_init (&PS_COND (initable)->storage, &cond_kind,
                                          initable, error);
}

/* An object made by g_object_new() alone, as the language bindings make
 * it, works too; g_initable_init() then gives what this found. */
static void
ps_cond_constructed (GObject *object)
{
  G_OBJECT_CLASS (ps_cond_parent_class)->constructed (object);
  ps_object_storage_constructed (&PS_COND (object)->storage, &cond_kind, object);
}

static void
ps_cond_initable_iface_init (GInitableIface *iface)
{
  iface->init = ps_cond_initable_init;
}

static void
ps_cond_finalize (GObject *object)
{
  PsCond *self = (PsCond *)object;

  ps_object_storage_clear (&self->storage);

  G_OBJECT_CLASS (ps_cond_parent_class)->finalize (object);
}

static void
ps_cond_get_property (GObject    *object,
                      guint       prop_id,
                      GValue     *value,
                      GParamSpec *pspec)
{
  PsCond *self = PS_COND (object);

  if (!ps_object_storage_get_property (&self->storage, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
ps_cond_set_property (GObject      *object,
                      guint         prop_id,
                      const GValue *value,
                      GParamSpec   *pspec)
{
  PsCond *self = PS_COND (object);

  if (!ps_object_storage_set_property (&self->storage, prop_id, value, pspec))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
ps_cond_class_init (PsCondClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = ps_cond_constructed;
  object_class->finalize = ps_cond_finalize;
  object_class->get_property = ps_cond_get_property;
  object_class->set_property = ps_cond_set_property;

  /**
   * PsCond:name: (getter get_name)
   *
   * The name of a named condition variable, or %NULL.
   *
   * Since: 1.0
   */
  /**
   * PsCond:open-flags:
   *
   * How a named condition variable is opened.
   *
   * Since: 1.0
   */
  /**
   * PsCond:mode:
   *
   * The permission bits a named condition variable is created with
   * (default 0600).
   * Once a named object that existed is opened, its real permission
   * bits (since 1.1).
   *
   * Since: 1.0
   */
  /**
   * PsCond:memory:
   *
   * The segment a placed condition variable lives in, or %NULL.
   *
   * Since: 1.0
   */
  /**
   * PsCond:offset:
   *
   * The offset of a placed condition variable inside #PsCond:memory.
   *
   * Since: 1.0
   */
  /**
   * PsCond:attach:
   *
   * Whether construction attaches to the condition variable already at
   * #PsCond:offset of #PsCond:memory, as [func@Cond.attach] does,
   * rather than initialising a new one there.
   *
   * Since: 1.0
   */
  /**
   * PsCond:created: (getter get_created)
   *
   * Whether this handle created the condition variable, rather than opening or
   * attaching to one that was there.
   *
   * Since: 1.1
   */
  ps_object_storage_install_properties (object_class, properties);
  g_object_class_install_properties (object_class, PS_OBJECT_N_PROPS, properties);
}

static void
ps_cond_init (PsCond *self)
{
  ps_object_storage_init_defaults (&self->storage);
}

/* Counts a waiter in; returns the generation it was counted in. */
static guint64
waiter_enter (CondState *state)
{
  guint64 seen = __atomic_load_n (&state->waiters, __ATOMIC_SEQ_CST);

  /* 2^32 - 1 live waiters cannot exist: a count that says so was
   * scribbled on, and then stays put. */
  while ((seen & WAITERS_COUNT_MASK) != WAITERS_COUNT_MASK &&
         !__atomic_compare_exchange_n (&state->waiters, &seen, seen + 1, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
    ;
  return seen & ~WAITERS_COUNT_MASK;
}

/* Counts a waiter out, unless a broadcast did since it came in. */
static void
waiter_leave (CondState *state,
              guint64    generation)
{
  guint64 seen = __atomic_load_n (&state->waiters, __ATOMIC_SEQ_CST);

  while ((seen & ~WAITERS_COUNT_MASK) == generation &&
         (seen & WAITERS_COUNT_MASK) != 0 &&
         (seen & WAITERS_COUNT_MASK) != WAITERS_COUNT_MASK &&
         !__atomic_compare_exchange_n (&state->waiters, &seen, seen - 1, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
    ;
}

static inline guint32
waiters_counted (CondState *state)
{
  return (guint32) (__atomic_load_n (&state->waiters, __ATOMIC_SEQ_CST) & WAITERS_COUNT_MASK);
}

static gboolean
wait_until_deadline (PsCond        *self,
                     PsMutex       *mutex,
                     gint64         deadline,
                     GCancellable  *cancellable,
                     GError       **error)
{
  CondState *state = self->state;
  g_autoptr(GError) relock_error = NULL;
  PsWaitContext context;
  PsWaitStatus status;
  guint64 generation;
  guint32 sequence;

  if (!ps_wait_context_begin (&context, cancellable, error))
    return FALSE;

  /* Read under the mutex: any signal after we release it changes the
   * sequence, and the kernel (or the word's own mutex) compares it with
   * this value as we go to sleep, so the signal cannot be missed. */
  sequence = (guint32) g_atomic_int_get (ps_wait_word_value (&state->sequence));
  generation = waiter_enter (state);

  if (!ps_mutex_release_for_wait (mutex, error))
    {
      waiter_leave (state, generation);
      ps_wait_context_end (&context);
      return FALSE;
    }

  status = ps_wait_word_wait (&state->sequence, sequence, deadline,
                              ps_wait_context_get_canceller (&context));

  waiter_leave (state, generation);
  ps_wait_context_end (&context);

  if (!ps_mutex_reacquire_after_wait (mutex, &relock_error))
    {
      /* Held again, but its holder died in between: that matters more
       * than how the wait ended. */
      g_propagate_error (error, g_steal_pointer (&relock_error));
      return FALSE;
    }

  if (status != PS_WAIT_WOKEN)
    {
      ps_set_wait_error (error, status, "condition");
      return FALSE;
    }
  return TRUE;
}

/**
 * ps_cond_wait:
 * @self: a #PsCond
 * @mutex: the #PsMutex guarding the condition, held by the caller
 * @timeout_us: how long to wait in microseconds: %PS_TIMEOUT_INFINITE
 *   (-1) waits until woken, 0 fails at once
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Releases @mutex, waits for a signal, and takes @mutex back. Wake-ups
 * can be spurious: call this in a loop that checks the predicate.
 *
 * Across fork(): a child forked while its parent holds @mutex does not
 * hold it, so its wait fails with %PS_ERROR_NOT_OWNER until it locks
 * @mutex itself; then it waits on the condition the parent shares. A
 * thread of the parent that was waiting is not copied into the child.
 *
 * Returns: %TRUE if woken; %FALSE with %PS_ERROR_NOT_OWNER if the caller
 *   does not hold @mutex (nothing happens then), %PS_ERROR_WOULD_DEADLOCK
 *   if it holds a recursive @mutex more than once,
 *   %G_IO_ERROR_WOULD_BLOCK (@timeout_us was 0), %G_IO_ERROR_TIMED_OUT,
 *   %G_IO_ERROR_CANCELLED, or %PS_ERROR_OWNER_DEAD if another holder of
 *   @mutex died meanwhile. In every case but the first two, the caller
 *   holds @mutex again on return.
 *
 * Since: 1.0
 */
gboolean
ps_cond_wait (PsCond        *self,
              PsMutex       *mutex,
              gint64         timeout_us,
              GCancellable  *cancellable,
              GError       **error)
{
  g_return_val_if_fail (PS_IS_COND (self), FALSE);
  g_return_val_if_fail (PS_IS_MUTEX (mutex), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  if (timeout_us == 0)
    {
      /* Nothing to try: a condition is only ever met by waiting. Check
       * the ownership the caller owes us all the same. */
      if (!ps_mutex_release_for_wait (mutex, error))
        return FALSE;
      if (!ps_mutex_reacquire_after_wait (mutex, error))
        return FALSE;
      ps_set_would_block_error (error, "condition");
      return FALSE;
    }

  return wait_until_deadline (self, mutex, ps_deadline_from_timeout (timeout_us),
                              cancellable, error);
}

/**
 * ps_cond_wait_until:
 * @self: a #PsCond
 * @mutex: the #PsMutex guarding the condition, held by the caller
 * @end_time: the monotonic time (as from g_get_monotonic_time()) at which
 *   to give up
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like [method@Cond.wait], with an absolute deadline: the right call for
 * a predicate loop, since the deadline does not move however many times
 * the loop goes round.
 *
 * Across fork(): as for [method@Cond.wait].
 *
 * Returns: %TRUE if woken; %FALSE with the errors of [method@Cond.wait],
 *   %G_IO_ERROR_TIMED_OUT once @end_time has passed
 *
 * Since: 1.0
 */
gboolean
ps_cond_wait_until (PsCond        *self,
                    PsMutex       *mutex,
                    gint64         end_time,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_return_val_if_fail (PS_IS_COND (self), FALSE);
  g_return_val_if_fail (PS_IS_MUTEX (mutex), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (G_UNLIKELY (self->state == NULL))
    return ps_object_storage_set_init_error (&self->storage, error);

  return wait_until_deadline (self, mutex, MAX (end_time, 0), cancellable, error);
}

static void
broadcast (CondState *state)
{
  guint64 seen = __atomic_load_n (&state->waiters, __ATOMIC_SEQ_CST);

  /* A new generation first (unless nobody is counted), then the
   * sequence: a waiter counted in the old one read the sequence before
   * this changes it, so it is asleep (and woken below), or about to find
   * it changed, or dead. */
  while ((seen & WAITERS_COUNT_MASK) != 0 &&
         !__atomic_compare_exchange_n (&state->waiters, &seen,
                                       (seen & ~WAITERS_COUNT_MASK) + WAITERS_GENERATION_ONE,
                                       FALSE, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
    ;
  g_atomic_int_inc (ps_wait_word_value (&state->sequence));
  /* One counted in the new generation may have gone to sleep on the old
   * sequence before it changed: it is woken too. */
  if ((seen & WAITERS_COUNT_MASK) != 0 || waiters_counted (state) > 0)
    ps_wait_word_wake (&state->sequence, TRUE);
}

/**
 * ps_cond_signal:
 * @self: a #PsCond
 *
 * Wakes one thread waiting on the condition, if any. The caller need not
 * hold the mutex, though holding it makes the program easier to reason
 * about.
 *
 * Across fork(): parent and child share the condition; a signal from
 * either wakes a waiter in either.
 *
 * Since: 1.0
 */
void
ps_cond_signal (PsCond *self)
{
  g_return_if_fail (PS_IS_COND (self));
  g_return_if_fail (self->state != NULL);

  g_atomic_int_inc (ps_wait_word_value (&self->state->sequence));
  /* Counted waiters, none of them asleep: dead ones among them. */
  if (waiters_counted (self->state) > 0 &&
      ps_wait_word_wake_one (&self->state->sequence) == 0)
    broadcast (self->state);
}

/**
 * ps_cond_broadcast:
 * @self: a #PsCond
 *
 * Wakes every thread waiting on the condition.
 *
 * Across fork(): wakes the waiters of parent and child alike.
 *
 * Since: 1.0
 */
void
ps_cond_broadcast (PsCond *self)
{
  g_return_if_fail (PS_IS_COND (self));
  g_return_if_fail (self->state != NULL);

  broadcast (self->state);
}

/**
 * ps_cond_get_created:
 * @self: a #PsCond
 *
 * Whether this handle created the condition variable: %TRUE for an anonymous one, and
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
ps_cond_get_created (PsCond *self)
{
  g_return_val_if_fail (PS_IS_COND (self), FALSE);

  return self->storage.created;
}

/**
 * ps_cond_get_name:
 * @self: a #PsCond
 *
 * Gets the name of a named condition variable.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: (nullable): the name, or %NULL
 *
 * Since: 1.0
 */
const char *
ps_cond_get_name (PsCond *self)
{
  g_return_val_if_fail (PS_IS_COND (self), NULL);
  g_return_val_if_fail (self->state != NULL, NULL);

  return self->storage.name;
}

guint
ps_cond_get_waiter_count (PsCond *self)
{
  g_return_val_if_fail (PS_IS_COND (self), 0);
  g_return_val_if_fail (self->state != NULL, 0);

  return waiters_counted (self->state);
}

/* For ps-cond-async.c ------------------------------------------------------ */

PsWaitWord *
ps_cond_get_sequence (PsCond  *self,
                      GError **error)
{
  if (G_UNLIKELY (self->state == NULL))
    {
      ps_object_storage_set_init_error (&self->storage, error);
      return NULL;
    }
  return &self->state->sequence;
}

guint64
ps_cond_waiter_enter (PsCond *self)
{
  return waiter_enter (self->state);
}

void
ps_cond_waiter_leave (PsCond  *self,
                      guint64  generation)
{
  waiter_leave (self->state, generation);
}
