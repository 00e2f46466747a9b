/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsQueue's crash storm: two producer and two consumer processes pass
 * messages through a queue of 8 slots, and in each of 200 rounds one of
 * them is SIGKILLed: inside send_with()'s fill callback, inside
 * receive_with()'s read callback, blocked in a send on a full queue,
 * blocked in a receive on an empty one, somewhere inside a send or a
 * receive, or anywhere at all.
 *
 * Every message names its stream (one producer's life) and its place in
 * it, and every byte of it is checked on receipt. Each worker publishes
 * its phase, and the message it is sending or reading, in shared memory,
 * so that the parent knows afterwards exactly where the victim died.
 * After each kill, the survivors are paused, the parent drains the queue
 * and then checks, for every message sent since the last round, how many
 * times it was received (QUEUE.md's semantics):
 *
 *  - a message is received exactly once, whole;
 *  - a producer killed inside its fill callback: that message never;
 *  - a consumer killed inside its read callback: that message once more
 *    (it is put back and delivered to someone else), exactly twice in
 *    all; killed after the callback, before receive_with() returned:
 *    once or twice;
 *  - killed at the edge of a call (inside a send that may just have
 *    committed; inside a receive, not a callback, that may just have
 *    taken a message before its caller could record it): that one
 *    message may go either way, and nothing else;
 *  - nothing that was not sent is ever received.
 *
 * Then the queue must still work fully: no slot stays claimed by the dead
 * (the private inspection says so), all 8 slots can be filled and
 * drained again in order, and the replacement and the survivors make
 * progress. Every wait is bounded: a hang fails the round.
 */

#include "queue-util.h"
#include "ps-queue-private.h"

#define N_PRODUCERS       2
#define N_CONSUMERS       2
#define N_WORKERS         (N_PRODUCERS + N_CONSUMERS)
#define CAPACITY          8
#define MAX_SIZE          256
#define N_ROUNDS          200
#define N_ROUNDS_SLOW     30
#define MAX_STREAMS       1024
#define STREAM_LENGTH     8192
#define OP_TIMEOUT_US     (20 * 1000)
#define PARENT_STREAM     0

typedef enum
{
  PHASE_IDLE,
  PHASE_SENDING,        /* inside a send, not in the fill callback */
  PHASE_FILLING,        /* inside the fill callback */
  PHASE_SENT,           /* the send returned TRUE, not recorded yet */
  PHASE_RECEIVING,      /* inside a receive, not in the read callback */
  PHASE_CLAIMED,        /* inside the read callback, recording the message */
  PHASE_READING,        /* inside the read callback, the message recorded */
  PHASE_READ,           /* the read callback returned, receive_with() has not */
  PHASE_PAUSED,
  PHASE_DONE,           /* the stream is used up: the producer exits */
  N_PHASES
} Phase;

static const char *phase_names[N_PHASES] = {
  "idle", "sending", "filling", "sent", "receiving", "claimed", "reading", "read", "paused",
  "done",
};

typedef enum
{
  KILL_FILLING,
  KILL_READING,
  KILL_SEND_BLOCKED,
  KILL_RECEIVE_BLOCKED,
  KILL_SENDING,
  KILL_RECEIVING,
  KILL_ANYWHERE,
  N_KILL_KINDS
} KillKind;

static const char *kill_names[N_KILL_KINDS] = {
  "in fill", "in read", "send blocked", "receive blocked", "in send", "in receive", "anywhere",
};

typedef struct
{
  gint    pid;
  gint    phase;
  gint    ops;
  guint32 stream;        /* producers */
  guint32 pending;       /* producers: the seq being sent */
  guint32 reading[2];    /* consumers: stream and seq of the message read */
  gint    method;        /* consumers: a QRecvMethod */
} WorkerSlot;

typedef struct
{
  gint           pause[N_WORKERS];
  gint           stop;
  StressFailures failures;
  WorkerSlot     slots[N_WORKERS];
  guint32        sent[MAX_STREAMS];          /* sends that returned TRUE, recorded */
  guint8         deliveries[MAX_STREAMS][STREAM_LENGTH];
} StormShared;

static gboolean
is_producer (guint slot)
{
  return slot < N_PRODUCERS;
}

static void
set_phase (WorkerSlot *slot,
           Phase       phase)
{
  g_atomic_int_set (&slot->phase, phase);
}

/* Waits, holding nothing, while the parent pauses this side. */
static void
pause_point (StormShared *shared,
             WorkerSlot  *slot,
             gint        *flag)
{
  if (g_atomic_int_get (&shared->stop))
    return;
  if (!g_atomic_int_get (flag))
    return;
  set_phase (slot, PHASE_PAUSED);
  while (g_atomic_int_get (flag) && !g_atomic_int_get (&shared->stop))
    g_usleep (100);
  set_phase (slot, PHASE_IDLE);
}

/* After a send or receive that failed: whether it only timed out (then
 * nothing was sent or taken), else a failure. */
static gboolean
only_timed_out (StormShared *shared,
                GError      *error,
                const char  *what)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return TRUE;
  stress_fail (&shared->failures, "%s in %d: %s", what, (int) getpid (), error->message);
  return FALSE;
}

/* Producers ------------------------------------------------------------------- */

typedef struct
{
  WorkerSlot *slot;
  GRand      *rand;
} Linger;

/* Inside the fill callback (the message written) or the read callback
 * (the message recorded): say so, stay a little. */
static void
linger_filling (gpointer data)
{
  Linger *linger = data;

  set_phase (linger->slot, PHASE_FILLING);
  g_usleep (g_rand_int_range (linger->rand, 0, 300));
  set_phase (linger->slot, PHASE_SENDING);
}

typedef struct
{
  StormShared *shared;
  PsQueue     *queue;
  guint        slot;
  guint32      seed;
} WorkerArgs;

static int
producer_main (gpointer data)
{
  WorkerArgs *args = data;
  StormShared *shared = args->shared;
  WorkerSlot *slot = &shared->slots[args->slot];
  g_autoptr(GRand) rand = g_rand_new_with_seed (args->seed);
  Linger linger = { slot, rand };
  guint32 stream = slot->stream;

  stress_die_with_parent ();
  while (!g_atomic_int_get (&shared->stop))
    {
      g_autoptr(GError) error = NULL;
      guint32 seq = shared->sent[stream];
      /* In place half of the time: the kills inside the fill need it. */
      QSendMethod method = g_rand_boolean (rand) ? QSEND_WITH
                                                 : g_rand_int_range (rand, 0, QSEND_N_METHODS);
      QSend send = { stream, seq, g_rand_int_range (rand, 0, 3), linger_filling, &linger };
      gsize length = qsend_fit (method, g_rand_int_range (rand, QMSG_MIN, MAX_SIZE + 1),
                                MAX_SIZE);

      pause_point (shared, slot, &shared->pause[args->slot]);
      if (seq == STREAM_LENGTH)
        {
          set_phase (slot, PHASE_DONE);
          return 0;
        }
      slot->pending = seq;
      set_phase (slot, PHASE_SENDING);
      if (qsend (args->queue, method, length, &send, OP_TIMEOUT_US, NULL, &error))
        {
          set_phase (slot, PHASE_SENT);
          g_atomic_int_set ((gint *) &shared->sent[stream], seq + 1);
          g_atomic_int_inc (&slot->ops);
        }
      else if (!only_timed_out (shared, error, "send"))
        return 1;
      set_phase (slot, PHASE_IDLE);
    }
  return 0;
}

/* Consumers ------------------------------------------------------------------- */

typedef struct
{
  StormShared *shared;
  WorkerSlot  *slot;
  GRand       *rand;
  QRecv       *recv;
} Reader;

/* A message received: counted, once it is known to be one of ours. */
static gboolean
record (StormShared *shared,
        WorkerSlot  *slot,
        QRecv       *recv,
        gboolean     in_callback)
{
  const QMsgHeader *h = &recv->header;

  if (recv->why != NULL)
    {
      stress_fail (&shared->failures, "consumer %d: a wrong message: %s", (int) getpid (),
                   recv->why);
      return FALSE;
    }
  if (h->stream >= MAX_STREAMS || h->seq >= STREAM_LENGTH)
    {
      stress_fail (&shared->failures, "consumer %d: message %u/%u cannot have been sent",
                   (int) getpid (), h->stream, h->seq);
      return FALSE;
    }
  slot->reading[0] = h->stream;
  slot->reading[1] = h->seq;
  if (in_callback)
    set_phase (slot, PHASE_CLAIMED);
  __atomic_fetch_add (&shared->deliveries[h->stream][h->seq], 1, __ATOMIC_SEQ_CST);
  return TRUE;
}

static void
linger_reading (gpointer data)
{
  Reader *reader = data;

  if (!record (reader->shared, reader->slot, reader->recv, TRUE))
    return;
  set_phase (reader->slot, PHASE_READING);
  g_usleep (g_rand_int_range (reader->rand, 0, 300));
  set_phase (reader->slot, PHASE_READ);
}

static int
consumer_main (gpointer data)
{
  WorkerArgs *args = data;
  StormShared *shared = args->shared;
  WorkerSlot *slot = &shared->slots[args->slot];
  g_autoptr(GRand) rand = g_rand_new_with_seed (args->seed);

  stress_die_with_parent ();
  while (!g_atomic_int_get (&shared->stop))
    {
      g_autoptr(GError) error = NULL;
      QRecv recv = { 0 };
      Reader reader = { shared, slot, rand, &recv };
      QRecvMethod method = g_rand_boolean (rand) ? QRECV_WITH
                                                 : g_rand_int_range (rand, 0, QRECV_N_METHODS);

      pause_point (shared, slot, &shared->pause[args->slot]);
      recv.inside = linger_reading;
      recv.inside_data = &reader;
      slot->method = method;
      set_phase (slot, PHASE_RECEIVING);
      if (qrecv (args->queue, method, &recv, OP_TIMEOUT_US, NULL, &error))
        {
          if (method != QRECV_WITH && !record (shared, slot, &recv, FALSE))
            return 1;
          if (recv.why != NULL)
            return 1;
          g_atomic_int_inc (&slot->ops);
        }
      else if (!only_timed_out (shared, error, "receive"))
        return 1;
      set_phase (slot, PHASE_IDLE);
    }
  return 0;
}

/* The storm ---------------------------------------------------------------------- */

typedef struct
{
  StormShared *shared;
  PsQueue     *queue;
  GRand       *rand;
  guint32      next_stream;
  guint32      checked[MAX_STREAMS];   /* accounted for up to here */
  guint        deaths[N_PHASES];
  guint        kills[N_KILL_KINDS];
  guint        redelivered;
  guint        never_delivered;        /* killed in the fill, or blocked */
  guint        edge_outcomes;
  guint        streams_used_up;
} Storm;

static void
assert_no_failure (Storm *storm)
{
  stress_assert_no_failures (&storm->shared->failures);
}

static void
spawn_worker (Storm *storm,
              guint  index)
{
  WorkerSlot *slot = &storm->shared->slots[index];
  WorkerArgs args = { storm->shared, storm->queue, index, g_rand_int (storm->rand) };

  memset (slot, 0, sizeof *slot);
  if (is_producer (index))
    {
      if (storm->next_stream == MAX_STREAMS)
        g_error ("all %u streams used: raise MAX_STREAMS", MAX_STREAMS);
      slot->stream = storm->next_stream++;
    }
  slot->pid = ps_test_fork (is_producer (index) ? producer_main : consumer_main, &args,
                            ps_test_scaled_s (600));
}

static gboolean
wait_for_phase (WorkerSlot *slot,
                Phase       phase,
                gint64      bound_us)
{
  return stress_wait_phase (&slot->phase, 1u << phase, bound_us);
}

/* Pauses every worker but @victim (N_WORKERS: all), and waits until
 * they hold nothing. */
static void
pause_all_but (Storm *storm,
               guint  victim)
{
  for (guint i = 0; i < N_WORKERS; i++)
    if (i != victim)
      g_atomic_int_set (&storm->shared->pause[i], 1);
  for (guint i = 0; i < N_WORKERS; i++)
    {
      WorkerSlot *slot = &storm->shared->slots[i];

      if (i == victim)
        continue;
      /* Each call of theirs is bounded by OP_TIMEOUT_US: one that does not
       * get here is stuck, which the death must not cause. */
      if (g_atomic_int_get (&slot->phase) != PHASE_DONE &&
          !ps_test_wait_int (&slot->phase, PHASE_PAUSED, 20) &&
          g_atomic_int_get (&slot->phase) != PHASE_DONE)
        {
          assert_no_failure (storm);
          g_error ("worker %u (pid %d) is stuck in phase %s", i, slot->pid,
                   phase_names[g_atomic_int_get (&slot->phase)]);
        }
    }
}

/* Waits (bounded) until the queue holds @length messages and no slot is
 * being written or read: with everyone but the victim paused, the victim
 * then can neither send (full) nor take (empty) anything. */
static gboolean
wait_for_queue (Storm *storm,
                guint  length);

/* The queue's own count of claimed slots. */
static void
inspect (PsQueue     *queue,
         PsQueueInfo *info)
{
  g_autoptr(GError) error = NULL;
  PsQueueHandle *handle = ps_queue_get_handle (queue);
  gsize state_size = 0;

  g_assert_true (ps_queue_state_measure (handle->capacity, handle->max_message_size,
                                         &state_size));
  g_assert_true (ps_queue_state_inspect (handle->state, state_size, info, &error));
  g_assert_no_error (error);
}

static gboolean
wait_for_queue (Storm *storm,
                guint  length)
{
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (5 * G_USEC_PER_SEC);
  PsQueueInfo info;

  for (;;)
    {
      inspect (storm->queue, &info);
      if (info.length == length && info.n_writing == 0 && info.n_reading == 0)
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (100);
    }
}

/* Everything in the queue, into the delivery counts; until no slot is
 * claimed by anyone (the dead victim's claim undone), within a bound. */
static void
drain (Storm *storm)
{
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (10 * G_USEC_PER_SEC);
  WorkerSlot parent_slot = { 0 };

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      QRecv recv = { 0 };
      PsQueueInfo info;

      if (qrecv (storm->queue, QRECV_MESSAGE, &recv, 1000, NULL, &error))
        {
          if (!record (storm->shared, &parent_slot, &recv, FALSE))
            assert_no_failure (storm);
          continue;
        }
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_error ("the parent's receive failed: %s", error->message);
      inspect (storm->queue, &info);
      if (info.length == 0 && info.n_writing == 0 && info.n_reading == 0)
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("the dead victim's slot was never given back: %u ready, %u being written, "
                 "%u being read", info.length, info.n_writing, info.n_reading);
      g_usleep (1000);
    }
}

/* The queue works fully: every slot can be filled, and drained in order. */
static void
check_whole_queue (Storm *storm)
{
  g_autoptr(GError) error = NULL;
  static guint32 seq;
  guint32 first = seq;
  QSend send = { PARENT_STREAM, 0, 1, NULL, NULL };
  PsQueueInfo info;

  for (guint i = 0; i < CAPACITY; i++)
    {
      send.seq = seq++;
      if (!qsend (storm->queue, i % QSEND_N_METHODS, QMSG_MIN + 2 * i, &send, 0, NULL, &error))
        g_error ("slot %u of %u could not be filled after the death: %s", i, CAPACITY,
                 error->message);
    }
  g_assert_false (qsend (storm->queue, QSEND_BYTES, QMSG_MIN, &send, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  for (guint i = 0; i < CAPACITY; i++)
    {
      QRecv recv = { 0 };

      g_assert_true (qrecv (storm->queue, i % QRECV_N_METHODS, &recv, 0, NULL, &error));
      g_assert_no_error (error);
      g_assert_null (recv.why);
      g_assert_cmpuint (recv.header.stream, ==, PARENT_STREAM);
      g_assert_cmpuint (recv.header.seq, ==, first + i);
    }
  inspect (storm->queue, &info);
  g_assert_cmpuint (info.length, ==, 0);
  g_assert_cmpuint (info.n_free, ==, CAPACITY);
  g_assert_cmpuint (info.n_writing, ==, 0);
  g_assert_cmpuint (info.n_reading, ==, 0);
  g_assert_cmpuint (ps_queue_get_length (storm->queue), ==, 0);
}

/* What the victim's death allows for the message it was busy with. */
typedef struct
{
  guint32 stream;
  guint32 seq;
  guint   at_least;
  guint   at_most;
} Allowance;

static void
allowance_for (WorkerSlot *victim,
               gboolean    producer,
               Phase       frozen,
               Allowance  *allow,
               guint      *may_lose)
{
  allow->stream = G_MAXUINT32;
  *may_lose = 0;
  if (producer)
    {
      allow->stream = victim->stream;
      allow->seq = victim->pending;
      if (frozen == PHASE_FILLING)
        allow->at_least = allow->at_most = 0;   /* never received */
      else if (frozen == PHASE_SENT)
        allow->at_least = allow->at_most = 1;   /* sent, not recorded */
      else if (frozen == PHASE_SENDING)
        {
          allow->at_least = 0;                  /* the edge: either way */
          allow->at_most = 1;
        }
      else
        allow->stream = G_MAXUINT32;            /* idle: nothing pending */
      return;
    }
  allow->stream = victim->reading[0];
  allow->seq = victim->reading[1];
  if (frozen == PHASE_READING)
    allow->at_least = allow->at_most = 2;       /* recorded, then redelivered */
  else if (frozen == PHASE_CLAIMED || frozen == PHASE_READ)
    {
      allow->at_least = 1;                      /* redelivered or committed */
      allow->at_most = 2;
    }
  else
    {
      allow->stream = G_MAXUINT32;
      /* Inside a receive, not in a read callback (receive_with records
       * there first): a message taken just before the kill was not
       * recorded; which one is not known. */
      if (frozen == PHASE_RECEIVING && victim->method != QRECV_WITH)
        *may_lose = 1;
    }
}

/* Every message sent since the last check, received exactly as often as
 * it must be. */
static void
account (Storm           *storm,
         guint            round,
         const Allowance *allow,
         guint            may_lose)
{
  StormShared *shared = storm->shared;
  guint lost = 0;

  for (guint32 s = 1; s < storm->next_stream; s++)
    {
      guint32 sent = shared->sent[s];
      guint32 end = MIN (sent + 2, STREAM_LENGTH);

      /* Past what was sent, and for the victim's message, what its
       * death allows; before, exactly once. */
      for (guint32 q = storm->checked[s]; q < end; q++)
        {
          guint got = shared->deliveries[s][q];
          guint lo = q < sent ? 1 : 0, hi = lo;

          if (s == allow->stream && q == allow->seq)
            {
              lo = allow->at_least;
              hi = allow->at_most;
              if (got == 2)
                storm->redelivered++;
              if (lo == 0 && hi == 0)
                storm->never_delivered++;
              if (lo != hi)
                storm->edge_outcomes++;
            }
          if (got == 0 && lo == 1 && lost < may_lose)
            {
              lost++;
              storm->edge_outcomes++;
              continue;
            }
          if (got < lo || got > hi)
            g_error ("round %u: message %u/%u received %u times (%u to %u allowed)", round, s,
                     q, got, lo, hi);
        }
      storm->checked[s] = MAX (storm->checked[s], sent);
    }
}

static void
storm_round (Storm    *storm,
             guint     round,
             KillKind  kind)
{
  StormShared *shared = storm->shared;
  gboolean producer;
  guint victim;
  WorkerSlot *slot;
  Phase frozen;
  Allowance allow;
  guint may_lose;
  gint before[N_WORKERS];
  gboolean exact = FALSE;
  int status;

  switch (kind)
    {
    case KILL_FILLING:
    case KILL_SEND_BLOCKED:
    case KILL_SENDING:
      producer = TRUE;
      break;
    case KILL_READING:
    case KILL_RECEIVE_BLOCKED:
    case KILL_RECEIVING:
      producer = FALSE;
      break;
    case KILL_ANYWHERE:
    case N_KILL_KINDS:
    default:
      producer = g_rand_boolean (storm->rand);
      break;
    }
  victim = producer ? g_rand_int_range (storm->rand, 0, N_PRODUCERS)
                    : N_PRODUCERS + g_rand_int_range (storm->rand, 0, N_CONSUMERS);
  slot = &shared->slots[victim];

  /* Some traffic first. */
  g_usleep (g_rand_int_range (storm->rand, 0, 10000));
  switch (kind)
    {
    case KILL_FILLING:
      wait_for_phase (slot, PHASE_FILLING, ps_test_scaled_us (5 * G_USEC_PER_SEC));
      break;
    case KILL_READING:
      wait_for_phase (slot, PHASE_READING, ps_test_scaled_us (5 * G_USEC_PER_SEC));
      break;
    case KILL_SEND_BLOCKED:
      /* Everyone else paused: the victim fills the queue, then blocks
       * with a message it cannot send. */
      pause_all_but (storm, victim);
      exact = wait_for_queue (storm, CAPACITY);
      wait_for_phase (slot, PHASE_SENDING, ps_test_scaled_us (5 * G_USEC_PER_SEC));
      (void) stress_wait_asleep (slot->pid, ps_test_scaled_us (G_USEC_PER_SEC));
      break;
    case KILL_RECEIVE_BLOCKED:
      /* Everyone else paused: the victim empties the queue, then blocks
       * holding nothing. */
      pause_all_but (storm, victim);
      exact = wait_for_queue (storm, 0);
      wait_for_phase (slot, PHASE_RECEIVING, ps_test_scaled_us (5 * G_USEC_PER_SEC));
      (void) stress_wait_asleep (slot->pid, ps_test_scaled_us (G_USEC_PER_SEC));
      break;
    case KILL_SENDING:
      wait_for_phase (slot, PHASE_SENDING, ps_test_scaled_us (5 * G_USEC_PER_SEC));
      g_usleep (g_rand_int_range (storm->rand, 0, 50));
      break;
    case KILL_RECEIVING:
      wait_for_phase (slot, PHASE_RECEIVING, ps_test_scaled_us (5 * G_USEC_PER_SEC));
      g_usleep (g_rand_int_range (storm->rand, 0, 50));
      break;
    case KILL_ANYWHERE:
    case N_KILL_KINDS:
    default:
      break;
    }

  g_assert_cmpint (kill (slot->pid, SIGKILL), ==, 0);
  status = ps_test_reap (slot->pid, ps_test_scaled_s (20));
  /* A producer whose stream ran out may have exited just before. */
  if (!(WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL) &&
      !(WIFEXITED (status) && WEXITSTATUS (status) == 0 &&
        g_atomic_int_get (&slot->phase) == PHASE_DONE))
    g_error ("round %u: the victim (pid %d) ended with status %d", round, slot->pid, status);
  frozen = g_atomic_int_get (&slot->phase);
  storm->deaths[frozen]++;
  storm->kills[kind]++;
  assert_no_failure (storm);

  /* Everyone else holding nothing; then the queue emptied. */
  pause_all_but (storm, victim);
  drain (storm);
  assert_no_failure (storm);

  allowance_for (slot, producer, frozen, &allow, &may_lose);
  if (exact && frozen == PHASE_RECEIVING)
    may_lose = 0;   /* alone on an empty queue: it held nothing */
  if (exact && frozen == PHASE_SENDING)
    allow.at_most = 0;   /* alone, the queue full: it sent nothing */
  account (storm, round, &allow, may_lose);
  if (producer)
    storm->checked[slot->stream] = STREAM_LENGTH;   /* that stream is over */
  check_whole_queue (storm);

  /* A replacement, and a fresh producer for each used-up stream. */
  spawn_worker (storm, victim);
  for (guint i = 0; i < N_PRODUCERS; i++)
    if (i != victim && g_atomic_int_get (&shared->slots[i].phase) == PHASE_DONE)
      {
        ps_test_reap_ok (shared->slots[i].pid, ps_test_scaled_s (20));
        spawn_worker (storm, i);
        storm->streams_used_up++;
      }

  for (guint i = 0; i < N_WORKERS; i++)
    before[i] = g_atomic_int_get (&shared->slots[i].ops);
  for (guint i = 0; i < N_WORKERS; i++)
    g_atomic_int_set (&shared->pause[i], 0);
  for (guint i = 0; i < N_WORKERS; i++)
    if (!ps_test_wait_at_least (&shared->slots[i].ops, before[i] + 2, 20))
      {
        assert_no_failure (storm);
        g_error ("round %u: worker %u (pid %d) made no progress after a death (phase %s)",
                 round, i, shared->slots[i].pid,
                 phase_names[g_atomic_int_get (&shared->slots[i].phase)]);
      }
  assert_no_failure (storm);
}

static void
test_storm (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsQueue) queue = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  StormShared *shared = ps_test_shared_new (sizeof (StormShared), &memory);
  Storm *storm = g_new0 (Storm, 1);
  guint rounds = stress_is_slow () ? N_ROUNDS_SLOW : N_ROUNDS;
  gint64 start = g_get_monotonic_time ();
  guint64 messages = 0;

  queue = ps_queue_new (CAPACITY, MAX_SIZE, &error);
  g_assert_no_error (error);
  storm->shared = shared;
  storm->queue = queue;
  storm->rand = rand;
  storm->next_stream = 1;

  for (guint i = 0; i < N_WORKERS; i++)
    spawn_worker (storm, i);
  for (guint round = 0; round < rounds; round++)
    storm_round (storm, round, round % N_KILL_KINDS);

  /* The end: everyone stops, and the last messages are accounted for. */
  pause_all_but (storm, N_WORKERS);
  g_atomic_int_set (&shared->stop, 1);
  for (guint i = 0; i < N_WORKERS; i++)
    ps_test_reap_ok (shared->slots[i].pid, ps_test_scaled_s (30));
  assert_no_failure (storm);
  drain (storm);
  {
    Allowance none = { G_MAXUINT32, 0, 0, 0 };

    account (storm, rounds, &none, 0);
  }
  for (guint32 s = 1; s < storm->next_stream; s++)
    messages += shared->sent[s];

  g_test_message ("%u rounds in %.1f s: %" G_GUINT64_FORMAT " messages in %u streams "
                  "(%u used up); %u redelivered after a death in the read callback, %u never "
                  "delivered after a death in the fill or blocked in a send, %u edge outcomes",
                  rounds, (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC, messages,
                  storm->next_stream - 1, storm->streams_used_up, storm->redelivered,
                  storm->never_delivered, storm->edge_outcomes);
  for (guint k = 0; k < N_KILL_KINDS; k++)
    g_test_message ("  %u kills %s", storm->kills[k], kill_names[k]);
  for (guint p = 0; p < N_PHASES; p++)
    if (storm->deaths[p] != 0)
      g_test_message ("  %u victims died in phase %s", storm->deaths[p], phase_names[p]);
  g_free (storm);
}

int
main (int argc, char *argv[])
{
  stress_init (&argc, &argv, NULL);

  ps_test_add_timed ("/queue/storm/kill-producers-and-consumers", test_storm, 280);

  return g_test_run ();
}
