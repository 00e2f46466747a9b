/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsQueue over hostile shared memory. A peer with write access to the
 * queue's segment can write anything there between two operations of
 * another process, or while it sleeps in one; that process must then get
 * PS_ERROR_CORRUPT or behave as for some valid queue, and never crash,
 * hang or read outside the queue (run this under ASan too).
 *
 * Each trial places a queue of 8 slots in a PsSharedMemory that ends
 * where the queue ends, puts a few messages in it (some taken again, so
 * that the lists are not in their first order), and scribbles on it:
 *
 *  - random: random bytes over the shared state, over slot headers, or
 *    over a few random words anywhere in the object (header included);
 *  - targeted: each field of the state and of a slot header (the sizes,
 *    the list heads and links, the counts, the states, the owners, the
 *    sequence) set to each of a set of hostile values (0, 1, capacity,
 *    capacity + 1, the size limit + 1, all ones, ...); a ready list made
 *    into a cycle;
 *  - the lock: its word made to name a holder that will never let go.
 *
 * A victim process then goes through the API with the handle made before
 * the scribbling and with one attached after it: lengths and getters,
 * sends and receives of every kind with timeouts of 0 and 1 ms, async
 * ones, and a last receive that drains. It checks every result (a
 * success, or one of the errors the API gives for a full, empty or
 * damaged queue), every size it is handed and every elapsed time; the
 * parent checks that it was neither killed by a signal nor stopped by
 * its watchdog. One more mode scribbles while the victim sleeps in a
 * receive. Outcomes are tallied and printed.
 */

#include <stddef.h>

#include "queue-util.h"
#include "ps-object-header-private.h"
#include "ps-queue-private.h"

#define CAPACITY           8
#define MAX_SIZE           128
#define N_RANDOM_TRIALS    120
#define N_RANDOM_SLOW      20
#define VICTIM_WATCHDOG_S  20
/* Stop a test after this many failed trials: each hang costs a watchdog. */
#define MAX_FAILED_TRIALS  5

typedef enum
{
  OUT_OK,            /* a call succeeded */
  OUT_CORRUPT,       /* PS_ERROR_CORRUPT */
  OUT_EMPTY_FULL,    /* WOULD_BLOCK or TIMED_OUT */
  OUT_ATTACH_FAILED, /* the attach after the scribbling refused it */
  OUT_BAD,           /* anything else: a failure */
  N_OUTCOMES
} Outcome;

static const char *outcome_names[N_OUTCOMES] = {
  "ok", "corrupt", "empty-or-full", "attach-refused", "BAD",
};

typedef struct
{
  gint           tally[N_OUTCOMES];
  gint           received;
  StressFailures failures;
  char           scribbled[512];   /* what this trial wrote */
  char           last_call[128];   /* what the victim called last */
} HostileShared;

static HostileShared *hostile;

/* The queue's place -------------------------------------------------------------- */

typedef struct
{
  PsSharedMemory *memory;
  PsQueue        *queue;
  guint8         *base;      /* the object: its header, then the state */
  gsize           size;
  PsQueueState   *state;
  guint8         *slots;
  gsize           stride;
} Place;

static PsQueueSlot *
slot_at (Place *place,
         guint  index)
{
  /* Slots are 64-byte aligned (slot_stride and slots_offset are multiples). */
  return (PsQueueSlot *) (gpointer) (place->slots + (gsize) index * place->stride);
}

/* A queue that ends its segment, with a few messages in it. */
static void
place_new (Place *place,
           GRand *rand)
{
  g_autoptr(GError) error = NULL;
  PsQueueHandle *handle;
  guint n;

  place->size = ps_queue_measure (CAPACITY, MAX_SIZE);
  g_assert_cmpuint (place->size, >, 0);
  place->memory = ps_shared_memory_new (place->size, &error);
  g_assert_no_error (error);
  place->queue = ps_queue_new_at (place->memory, 0, CAPACITY, MAX_SIZE, &error);
  g_assert_no_error (error);
  place->base = ps_shared_memory_get_data (place->memory);
  handle = ps_queue_get_handle (place->queue);
  place->state = handle->state;
  place->slots = handle->slots;
  place->stride = handle->stride;
  g_assert_true ((guint8 *) place->state == place->base + sizeof (PsObjectHeader));

  /* Some messages, some of them taken again. */
  n = g_rand_int_range (rand, 0, CAPACITY + 1);
  for (guint i = 0; i < n; i++)
    {
      QSend send = { 1, i, g_rand_int_range (rand, 0, 3), NULL, NULL };
      QSendMethod method = i % QSEND_N_METHODS;

      g_assert_true (qsend (place->queue, method,
                            qsend_fit (method, g_rand_int_range (rand, 0, MAX_SIZE + 1),
                                       MAX_SIZE),
                            &send, 0, NULL, &error));
      g_assert_no_error (error);
    }
  for (guint i = g_rand_int_range (rand, 0, n + 1); i > 0 && n > 2; i--)
    {
      QRecv recv = { 0 };

      g_assert_true (qrecv (place->queue, QRECV_BYTES, &recv, 0, NULL, &error));
      g_assert_no_error (error);
      g_assert_null (recv.why);
    }
}

static void
place_clear (Place *place)
{
  g_clear_object (&place->queue);
  g_clear_object (&place->memory);
}

/* The victim ---------------------------------------------------------------------- */

static void
tally (Outcome outcome)
{
  g_atomic_int_inc (&hostile->tally[outcome]);
}

/* Whether a failed call's error is one the API may give here. */
static gboolean
check_error (const GError *error,
             const char   *what)
{
  if (g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT))
    tally (OUT_CORRUPT);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
           g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    tally (OUT_EMPTY_FULL);
  else
    {
      tally (OUT_BAD);
      stress_fail (&hostile->failures, "%s failed with %s %d: %s", what,
                   error != NULL ? g_quark_to_string (error->domain) : "no error",
                   error != NULL ? error->code : 0, error != NULL ? error->message : "");
      return FALSE;
    }
  return TRUE;
}

/* What the victim is about to call: told when a trial fails. */
static void
calling (const char *which,
         const char *what,
         guint       method,
         gint64      timeout_us)
{
  g_snprintf (hostile->last_call, sizeof hostile->last_call, "%s: %s (method %u, %"
              G_GINT64_FORMAT " us)", which, what, method, timeout_us);
}

/* Notes what a scribble wrote, for the failure's story. */
static void scribbled (const char *format,
                       ...) G_GNUC_PRINTF (1, 2);

static void
scribbled (const char *format,
           ...)
{
  gsize used = strlen (hostile->scribbled);
  va_list args;

  if (used + 2 >= sizeof hostile->scribbled)
    return;
  va_start (args, format);
  g_vsnprintf (hostile->scribbled + used, sizeof hostile->scribbled - used, format, args);
  va_end (args);
}

static gint64
call_bound_us (gint64 timeout_us)
{
  /* A timeout, plus a wait for a dead owner's probe, plus the load. */
  return timeout_us + ps_test_scaled_us (2 * G_USEC_PER_SEC);
}

typedef struct
{
  gsize   max;
  gint    done;
  gboolean ok;
  GError  *error;
  gsize    size;
} AsyncCall;

static void
on_receive_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  AsyncCall *call = user_data;
  g_autoptr(GBytes) bytes = ps_queue_receive_finish (PS_QUEUE (source), result, NULL,
                                                     &call->error);

  call->ok = bytes != NULL;
  call->size = bytes != NULL ? g_bytes_get_size (bytes) : 0;
  call->done = TRUE;
}

static void
on_send_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AsyncCall *call = user_data;

  call->ok = ps_queue_send_finish (PS_QUEUE (source), result, &call->error);
  call->done = TRUE;
}

static gboolean
wait_async (AsyncCall *call)
{
  gint64 deadline = g_get_monotonic_time () + call_bound_us (1000);

  while (!call->done)
    {
      if (g_get_monotonic_time () > deadline)
        {
          stress_fail (&hostile->failures, "an async call did not finish within its bound");
          return FALSE;
        }
      g_main_context_iteration (NULL, FALSE);
      g_usleep (100);
    }
  return TRUE;
}

/* One call of each kind, and checks on what it gives. */
static gboolean
exercise (PsQueue    *queue,
          GRand      *rand,
          gsize       room,
          const char *which)
{
  gsize max = ps_queue_get_max_message_size (queue);
  guint capacity = ps_queue_get_capacity (queue);

  /* The handle made before keeps what it checked; one attached after
   * reports the queue's own parameters, which must make a queue that
   * fits where it is. */
  if (room == 0 ? max != MAX_SIZE || capacity != CAPACITY
                : ps_queue_measure (capacity, max) == 0 || ps_queue_measure (capacity, max) > room)
    {
      stress_fail (&hostile->failures, "%s: impossible parameters: %u slots of %" G_GSIZE_FORMAT,
                   which, capacity, max);
      return FALSE;
    }
  if (ps_queue_get_length (queue) > capacity)
    {
      stress_fail (&hostile->failures, "%s: a length of %u in a queue of %u", which,
                   ps_queue_get_length (queue), capacity);
      return FALSE;
    }

  for (guint round = 0; round < 2 * CAPACITY + 2; round++)
    {
      g_autoptr(GError) error = NULL;
      gint64 timeout = g_rand_int_range (rand, 0, 2) * 1000;
      gint64 start = g_get_monotonic_time ();
      gboolean ok;

      if (round % 2 == 0)
        {
          QSendMethod method = g_rand_int_range (rand, 0, QSEND_N_METHODS);
          QSend send = { 2, round, g_rand_int_range (rand, 0, 4), NULL, NULL };

          calling (which, "send", method, timeout);
          ok = qsend (queue, method, qsend_fit (method, g_rand_int_range (rand, 0, MAX_SIZE + 1),
                                                MAX_SIZE),
                      &send, timeout, NULL, &error);
        }
      else
        {
          QRecv recv = { 0 };
          QRecvMethod method = g_rand_int_range (rand, 0, QRECV_N_METHODS);

          calling (which, "receive", method, timeout);
          ok = qrecv (queue, method, &recv, timeout, NULL, &error);
          /* Its bytes may be anyone's; its size is the queue's to bound.
           * (qrecv() read all of it: ASan sees an over-read.) */
          if (ok)
            g_atomic_int_inc (&hostile->received);
        }
      if (g_get_monotonic_time () - start > call_bound_us (timeout))
        {
          stress_fail (&hostile->failures, "%s: a call with a timeout of %" G_GINT64_FORMAT
                       " µs took %" G_GINT64_FORMAT " µs", which, timeout,
                       g_get_monotonic_time () - start);
          return FALSE;
        }
      if (ok)
        tally (OUT_OK);
      else if (!check_error (error, which))
        return FALSE;
      if (ps_queue_get_length (queue) > capacity)
        {
          stress_fail (&hostile->failures, "%s: a length of %u in a queue of %u", which,
                       ps_queue_get_length (queue), capacity);
          return FALSE;
        }
    }

  /* Async, both ways. */
  {
    AsyncCall call = { max, FALSE, FALSE, NULL, 0 };
    g_autoptr(GBytes) bytes = qmsg_new_bytes (QMSG_MIN, 3, 0, 0);

    calling (which, "receive_async", 0, 1000);
    ps_queue_receive_async (queue, 1000, NULL, on_receive_done, &call);
    if (!wait_async (&call))
      return FALSE;
    if (call.ok ? call.size > max : !check_error (call.error, which))
      return FALSE;
    g_clear_error (&call.error);
    call.done = FALSE;
    calling (which, "send_async", 0, 1000);
    ps_queue_send_async (queue, bytes, 0, 1000, NULL, on_send_done, &call);
    if (!wait_async (&call))
      return FALSE;
    if (!call.ok && !check_error (call.error, which))
      return FALSE;
    g_clear_error (&call.error);
  }
  return TRUE;
}

typedef struct
{
  Place   *place;
  guint32  seed;
  gboolean wait_first;   /* sleep in a receive while the parent scribbles */
  gint    *asleep;
} VictimArgs;

static int
victim_main (gpointer data)
{
  VictimArgs *args = data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (args->seed);
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) attached = NULL;

  stress_die_with_parent ();
  if (args->wait_first)
    {
      QRecv recv = { 0 };
      gint64 start = g_get_monotonic_time ();
      gint64 timeout = ps_test_scaled_us (50 * 1000);

      g_atomic_int_set (args->asleep, 1);
      calling ("the handle made before", "receive, scribbled under", QRECV_WITH, timeout);
      if (qrecv (args->place->queue, QRECV_WITH, &recv, timeout, NULL, &error))
        tally (OUT_OK);
      else if (!check_error (error, "the receive scribbled under"))
        return 1;
      g_clear_error (&error);
      if (g_get_monotonic_time () - start > call_bound_us (timeout))
        {
          stress_fail (&hostile->failures, "a receive scribbled under took %" G_GINT64_FORMAT
                       " µs", g_get_monotonic_time () - start);
          return 1;
        }
    }

  if (!exercise (args->place->queue, rand, 0, "the handle made before"))
    return 1;
  calling ("the victim", "attach", 0, 0);
  attached = ps_queue_attach (args->place->memory, 0, &error);
  if (attached == NULL)
    {
      if (error == NULL || (error->domain != PS_ERROR && error->domain != G_IO_ERROR))
        {
          stress_fail (&hostile->failures, "the attach failed with %s",
                       error != NULL ? error->message : "no error");
          return 1;
        }
      tally (OUT_ATTACH_FAILED);
      return 0;
    }
  return exercise (attached, rand, args->place->size, "the handle attached after") ? 0 : 1;
}

/* Trials -------------------------------------------------------------------------- */

typedef void (*Scribble) (Place *place, GRand *rand, gconstpointer data);

static gint failed_trials;
static guint victim_watchdog_s = VICTIM_WATCHDOG_S;

static void
run_trial (Scribble       scribble,
           gconstpointer  data,
           GRand         *rand,
           gboolean       while_waiting,
           const char    *what)
{
  g_autoptr(PsSharedMemory) flag_memory = NULL;
  gint *asleep = ps_test_shared_new (sizeof (gint), &flag_memory);
  Place place = { 0 };
  VictimArgs args;
  pid_t pid;
  int status;

  hostile->scribbled[0] = '\0';
  hostile->last_call[0] = '\0';
  place_new (&place, rand);
  if (while_waiting)
    {
      /* Empty, so that the victim sleeps. */
      for (guint i = 0; i < CAPACITY; i++)
        {
          g_autoptr(GBytes) bytes = ps_queue_receive (place.queue, NULL, 0, NULL, NULL);

          if (bytes == NULL)
            break;
        }
    }
  else
    scribble (&place, rand, data);

  args.place = &place;
  args.seed = g_rand_int (rand);
  args.wait_first = while_waiting;
  args.asleep = asleep;
  pid = ps_test_fork (victim_main, &args, ps_test_scaled_s (victim_watchdog_s));
  if (while_waiting)
    {
      g_assert_true (ps_test_wait_int (asleep, 1, 20));
      (void) stress_wait_asleep (pid, ps_test_scaled_us (100 * 1000));
      scribble (&place, rand, data);
    }
  status = ps_test_reap (pid, ps_test_scaled_s (victim_watchdog_s + 10));
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      failed_trials++;
      g_printerr ("trial %s: the victim %s %d in %s; scribbled:%s; first failure: %s\n", what,
                  WIFSIGNALED (status) ? "was killed by signal" : "exited with",
                  WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status),
                  hostile->last_call, hostile->scribbled,
                  hostile->failures.count > 0 ? hostile->failures.first : "(none reported)");
      if (failed_trials >= MAX_FAILED_TRIALS)
        g_error ("%d trials failed", failed_trials);
    }
  place_clear (&place);
}

static void
print_tally (const char *test)
{
  g_autoptr(GString) line = g_string_new (NULL);

  for (guint i = 0; i < N_OUTCOMES; i++)
    g_string_append_printf (line, " %s %d", outcome_names[i], hostile->tally[i]);
  g_test_message ("%s:%s; %d messages received", test, line->str, hostile->received);
}

static void
begin_test (PsSharedMemory **memory)
{
  hostile = ps_test_shared_new (sizeof (HostileShared), memory);
  failed_trials = 0;
}

static void
end_test (const char *test)
{
  print_tally (test);
  if (failed_trials > 0 || hostile->failures.count > 0)
    g_error ("%d trials failed, %d failures; the first: %s", failed_trials,
             hostile->failures.count, hostile->failures.first);
  g_assert_cmpint (hostile->tally[OUT_BAD], ==, 0);
}

/* Random scribbles ------------------------------------------------------------------- */

typedef enum
{
  RANDOM_STATE,    /* random bytes over the shared state */
  RANDOM_SLOTS,    /* over the headers of random slots */
  RANDOM_WORDS,    /* random values in a few words anywhere */
  N_RANDOM_KINDS
} RandomKind;

static const char *random_names[N_RANDOM_KINDS] = { "state", "slots", "words" };

static void
random_bytes (GRand  *rand,
              guint8 *at,
              gsize   n)
{
  for (gsize i = 0; i < n; i++)
    at[i] = (guint8) g_rand_int (rand);
}

static void
scribble_random (Place         *place,
                 GRand         *rand,
                 gconstpointer  data)
{
  RandomKind kind = GPOINTER_TO_INT (data);

  scribbled (" %s (state at %" G_GSIZE_FORMAT ", lock at %" G_GSIZE_FORMAT ", slots at %"
             G_GSIZE_FORMAT ")", random_names[kind], (gsize) ((guint8 *) place->state - place->base),
             (gsize) ((guint8 *) &place->state->lock - place->base),
             (gsize) (place->slots - place->base));

  switch (kind)
    {
    case RANDOM_STATE:
      /* The parameters set at creation in a quarter of the trials (they
       * make most states plainly corrupt); not the lock, whose own
       * damage is test-hostile's subject; the lists, counts and words. */
      if (g_rand_int_range (rand, 0, 4) == 0)
        random_bytes (rand, (guint8 *) place->state, G_STRUCT_OFFSET (PsQueueState, lock));
      random_bytes (rand, (guint8 *) &place->state->ready_head,
                    sizeof (PsQueueState) - G_STRUCT_OFFSET (PsQueueState, ready_head));
      break;
    case RANDOM_SLOTS:
      for (guint i = g_rand_int_range (rand, 1, 4); i > 0; i--)
        random_bytes (rand, (guint8 *) slot_at (place, g_rand_int_range (rand, 0, CAPACITY)),
                      sizeof (PsQueueSlot));
      break;
    case RANDOM_WORDS:
    case N_RANDOM_KINDS:
    default:
      for (guint i = g_rand_int_range (rand, 1, 6); i > 0; i--)
        {
          gsize at = g_rand_int_range (rand, 0, (gint32) (place->size / 4)) * 4;
          gsize lock_at = (guint8 *) &place->state->lock - place->base;
          guint32 value = g_rand_boolean (rand) ? g_rand_int (rand)
                                                : (guint32) g_rand_int_range (rand, 0, 20);

          /* The lock word's own damage is /queue/hostile/lock/word's. */
          if (at >= lock_at && at < lock_at + sizeof (PsRobustLock))
            continue;
          memcpy (place->base + at, &value, sizeof value);
          scribbled (" [%" G_GSIZE_FORMAT "] = %#x", at, value);
        }
      break;
    }
}

static void
test_random (gconstpointer data)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  guint n = stress_is_slow () ? N_RANDOM_SLOW : N_RANDOM_TRIALS;
  g_autofree char *name = g_strdup_printf ("random %s", random_names[GPOINTER_TO_INT (data)]);

  begin_test (&memory);
  for (guint i = 0; i < n; i++)
    run_trial (scribble_random, data, rand, i % 8 == 7, name);
  end_test (name);
}

/* Targeted scribbles ----------------------------------------------------------------- */

typedef struct
{
  const char *name;
  gsize       offset;   /* in the state, or in a slot header */
  gsize       size;     /* 4 or 8 */
  gboolean    in_slot;
} Field;

#define STATE_FIELD(f) { "state." #f, G_STRUCT_OFFSET (PsQueueState, f), \
                         sizeof (((PsQueueState *) 0)->f), FALSE }
#define SLOT_FIELD(f)  { "slot." #f, G_STRUCT_OFFSET (PsQueueSlot, f), \
                         sizeof (((PsQueueSlot *) 0)->f), TRUE }

static const Field fields[] = {
  STATE_FIELD (magic),
  STATE_FIELD (capacity),
  STATE_FIELD (max_message_size),
  STATE_FIELD (slot_stride),
  STATE_FIELD (slots_offset),
  STATE_FIELD (ready_head),
  STATE_FIELD (ready_tail),
  STATE_FIELD (free_head),
  STATE_FIELD (n_ready),
  STATE_FIELD (n_free),
  STATE_FIELD (n_writing),
  STATE_FIELD (n_reading),
  STATE_FIELD (next_sequence),
  STATE_FIELD (receivers_waiting),
  STATE_FIELD (senders_waiting),
  SLOT_FIELD (state),
  SLOT_FIELD (kind),
  SLOT_FIELD (owner_pid),
  SLOT_FIELD (owner_stamp),
  SLOT_FIELD (size),
  SLOT_FIELD (sequence),
  SLOT_FIELD (priority),
  SLOT_FIELD (next),
};

static const guint64 hostile_values[] = {
  0, 1, 2, CAPACITY - 1, CAPACITY, CAPACITY + 1, MAX_SIZE, MAX_SIZE + 1, 0x7fffffff,
  0xffffffff, G_GUINT64_CONSTANT (0xffffffffffffffff), G_GUINT64_CONSTANT (0x100000000),
};

typedef struct
{
  guint field;
  guint value;
} Target;

static void
scribble_field (Place         *place,
                GRand         *rand,
                gconstpointer  data)
{
  const Target *target = data;
  const Field *field = &fields[target->field];
  guint64 value = hostile_values[target->value];

  /* Every slot's field, or the state's. */
  for (guint i = 0; i < (field->in_slot ? CAPACITY : 1); i++)
    {
      guint8 *at = (field->in_slot ? (guint8 *) slot_at (place, i) : (guint8 *) place->state) +
                   field->offset;

      if (field->size == 8)
        memcpy (at, &value, 8);
      else
        {
          guint32 word = (guint32) value;

          memcpy (at, &word, 4);
        }
    }
}

static void
test_targeted (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  guint step = stress_is_slow () ? 5 : 1;
  guint k = 0;

  begin_test (&memory);
  for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
    for (guint v = 0; v < G_N_ELEMENTS (hostile_values); v++, k++)
      {
        Target target = { f, v };
        g_autofree char *what = g_strdup_printf ("%s = %#" G_GINT64_MODIFIER "x", fields[f].name,
                                                 hostile_values[v]);

        if (k % step != 0)
          continue;
        run_trial (scribble_field, &target, rand, k % 16 == 15, what);
      }
  end_test ("targeted");
}

/* The ready list made into a cycle, or through free slots. */
static void
scribble_links (Place         *place,
                GRand         *rand,
                gconstpointer  data)
{
  guint how = GPOINTER_TO_UINT (data);

  for (guint i = 0; i < CAPACITY; i++)
    {
      PsQueueSlot *slot = slot_at (place, i);

      switch (how)
        {
        case 0:
          slot->next = i;                    /* each its own next */
          break;
        case 1:
          slot->next = (i + 1) % CAPACITY;   /* one ring through all */
          slot->state = PS_QUEUE_SLOT_READY;
          break;
        default:
          slot->next = g_rand_int_range (rand, 0, CAPACITY);
          slot->state = g_rand_int_range (rand, 0, 5);
          break;
        }
    }
  if (how == 1)
    {
      place->state->ready_head = 0;
      place->state->n_ready = CAPACITY;
      place->state->n_free = 0;
    }
}

static void
test_links (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());

  begin_test (&memory);
  for (guint i = 0; i < 30; i++)
    run_trial (scribble_links, GUINT_TO_POINTER (i % 3), rand, i % 6 == 5, "links");
  end_test ("links");
}

/* The lock word --------------------------------------------------------------------- */

/* The word of the queue's lock rewritten to name a holder that will never
 * let go: a process gone without the kernel's robust-list clean-up (its
 * thread id), a live process that does not hold it (init), and the same
 * with FUTEX_WAITERS set, or FUTEX_WAITERS alone. A call with a timeout
 * of 1 ms must still return within its bound: TIMED_OUT, CORRUPT or a
 * result; never sleep for ever on a lock nobody will release. */
static guint32 dead_tid;

typedef enum
{
  HOLDER_NONE,
  HOLDER_DEAD,   /* a process gone: its thread id */
  HOLDER_INIT,   /* alive, and holding nothing of ours */
} Holder;

#define FUTEX_WAITERS_BIT 0x80000000u

static const struct
{
  Holder  holder;
  guint32 flags;
} lock_words[] = {
  { HOLDER_DEAD, 0 },
  { HOLDER_INIT, 0 },
  { HOLDER_NONE, FUTEX_WAITERS_BIT },
  { HOLDER_DEAD, FUTEX_WAITERS_BIT },
  { HOLDER_INIT, FUTEX_WAITERS_BIT },
};

static int
exit_at_once (gpointer data)
{
  return 0;
}

static void
scribble_lock_word (Place         *place,
                    GRand         *rand,
                    gconstpointer  data)
{
  guint which = GPOINTER_TO_UINT (data);
  guint32 word = lock_words[which].flags;

  if (lock_words[which].holder == HOLDER_DEAD)
    word |= dead_tid;
  else if (lock_words[which].holder == HOLDER_INIT)
    word |= 1;
  memcpy (&place->state->lock, &word, sizeof word);
  scribbled (" lock word = %#x", word);
}

static void
test_lock_word (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  pid_t pid = ps_test_fork (exit_at_once, NULL, 10);

  ps_test_reap_ok (pid, 10);
  dead_tid = (guint32) pid;
  begin_test (&memory);
  victim_watchdog_s = 5;
  for (guint i = 0; i < G_N_ELEMENTS (lock_words); i++)
    run_trial (scribble_lock_word, GUINT_TO_POINTER (i), rand, FALSE, "lock word");
  victim_watchdog_s = VICTIM_WATCHDOG_S;
  end_test ("lock word");
}

int
main (int argc, char *argv[])
{
  stress_init (&argc, &argv, NULL);

  for (guint k = 0; k < N_RANDOM_KINDS; k++)
    {
      g_autofree char *path = g_strdup_printf ("/queue/hostile/random/%s", random_names[k]);

      ps_test_add_full (path, test_random, GINT_TO_POINTER (k), 150);
    }
  ps_test_add_timed ("/queue/hostile/targeted", test_targeted, 200);
  ps_test_add_timed ("/queue/hostile/links", test_links, 60);
  ps_test_add_timed ("/queue/hostile/lock/word", test_lock_word, 120);

  return g_test_run ();
}
