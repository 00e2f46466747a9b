/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PsQueue, exactly: every message delivered once, whole, in order.
 *
 *  - /queue/exact/4x4, /queue/exact/4x4-priorities: 4 producer and 4
 *    consumer processes pass 200,000 messages each producer (by default;
 *    --messages N for N in all) of random lengths through a queue of 64 slots, sent as
 *    bytes, in place or as variants and received in all six ways. Every
 *    byte of every message is checked, every message is received exactly
 *    once (a delivery count per message), the checksums of what was sent
 *    and received agree, and each consumer sees each producer's messages
 *    of one priority in the order they were sent. The second run mixes
 *    four priorities.
 *  - /queue/exact/4x1-fifo: with one consumer, each producer's messages
 *    of each priority come exactly one after the other, none skipped.
 *  - /queue/exact/priorities: 20,000 random sends and receives in one
 *    process, each receive compared with a model (highest priority
 *    first, FIFO within one).
 *  - /queue/race/...: 2,000 races each of a blocked send and a blocked
 *    receive against a cancellation (or a timeout) and the receive (send)
 *    that would let it through, sync and async: the call either went
 *    through or failed with exactly CANCELLED (TIMED_OUT), and the queue
 *    then holds exactly what that says, message by message.
 *  - /queue/full-empty: timeouts of 0, short timeouts, cancellation and
 *    oversized messages on a full and an empty queue, nothing sent or
 *    taken; a blocked send and a blocked receive woken by another
 *    process.
 */

#include <stdlib.h>

#include "queue-util.h"

#define N_PRODUCERS        4
#define N_CONSUMERS        4
#define N_MESSAGES         800000   /* in all by default: 200,000 per producer */
#define N_MESSAGES_SLOW    8000
#define CAPACITY           64
#define MAX_SIZE           512
#define N_PRIORITIES       4
#define N_RACES            2000
#define N_RACES_SLOW       200
#define N_ASYNC_RACES      500
#define RACE_CAPACITY      4

static guint opt_messages;

/* What a message is, from its identity alone: everyone computes the
 * same, so nothing needs to be stored or told. */
static guint32
message_hash (guint32 stream,
              guint32 seq)
{
  guint32 x = qmsg_seed (stream, seq, 7);

  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  return x;
}

static guint
message_priority (guint32 stream,
                  guint32 seq,
                  gboolean mixed)
{
  return mixed ? message_hash (stream, seq) % N_PRIORITIES : 3;
}

static gsize
message_length (guint32 stream,
                guint32 seq)
{
  guint32 h = message_hash (stream, seq) >> 4;

  /* Mostly short, some as long as the queue allows. */
  return h % 8 == 0 ? MAX_SIZE : QMSG_MIN + h % 200;
}

static QSendMethod
message_method (guint32 stream,
                guint32 seq)
{
  return (message_hash (stream, seq) >> 12) % QSEND_N_METHODS;
}

/* The 4×4 and 4×1 runs --------------------------------------------------------- */

typedef struct
{
  gint           go;
  gint           received;
  guint          per_producer;
  guint          n_consumers;
  gboolean       mixed;
  gint64         deadline;
  guint64        sent_check[N_PRODUCERS];
  guint64        received_check[N_CONSUMERS];
  gint           received_by[N_CONSUMERS];
  gint           methods[QRECV_N_METHODS];
  StressFailures failures;
  guint8         deliveries[];   /* per message: N_PRODUCERS × per_producer */
} ExactShared;

typedef struct
{
  ExactShared *shared;
  PsQueue     *queue;
  guint        index;
} Worker;

static void
wait_go (ExactShared *shared)
{
  while (!g_atomic_int_get (&shared->go))
    g_usleep (100);
}

static int
producer_main (gpointer data)
{
  Worker *w = data;
  ExactShared *shared = w->shared;

  stress_die_with_parent ();
  wait_go (shared);
  for (guint32 seq = 0; seq < shared->per_producer; seq++)
    {
      g_autoptr(GError) error = NULL;
      QSendMethod method = message_method (w->index, seq);
      gsize length = qsend_fit (method, message_length (w->index, seq), MAX_SIZE);
      QSend send = { w->index, seq, message_priority (w->index, seq, shared->mixed), NULL, NULL };

      if (!qsend (w->queue, method, length, &send, ps_test_scaled_us (60 * G_USEC_PER_SEC), NULL,
                  &error))
        {
          stress_fail (&shared->failures, "producer %u, message %u: %s", w->index, seq,
                       error->message);
          return 1;
        }
      /* The checksum of what was sent: its header's, as the consumer
       * recomputes it from the bytes it got. */
      {
        g_autoptr(GBytes) bytes = qmsg_new_bytes (length, w->index, seq, send.priority);
        const QMsgHeader *header = g_bytes_get_data (bytes, NULL);

        shared->sent_check[w->index] += header->check + length;
      }
    }
  return 0;
}

/* Checks one message received by consumer @w; FALSE on a failure. */
static gboolean
account (Worker  *w,
         QRecv   *recv,
         guint32  next[N_PRODUCERS][N_PRIORITIES])
{
  ExactShared *shared = w->shared;
  const QMsgHeader *h = &recv->header;
  guint32 expected;

  if (recv->why != NULL)
    {
      stress_fail (&shared->failures, "consumer %u: a wrong message: %s", w->index, recv->why);
      return FALSE;
    }
  if (h->stream >= N_PRODUCERS || h->seq >= shared->per_producer ||
      h->priority != message_priority (h->stream, h->seq, shared->mixed))
    {
      stress_fail (&shared->failures, "consumer %u: message %u/%u was never sent", w->index,
                   h->stream, h->seq);
      return FALSE;
    }
  if (__atomic_fetch_add (&shared->deliveries[h->stream * shared->per_producer + h->seq], 1,
                          __ATOMIC_SEQ_CST) != 0)
    {
      stress_fail (&shared->failures, "consumer %u: message %u/%u delivered twice", w->index,
                   h->stream, h->seq);
      return FALSE;
    }

  /* FIFO per producer and priority: later than the last one this consumer
   * saw; with one consumer, exactly the next one of that priority. */
  expected = next[h->stream][h->priority];
  if (h->seq < expected)
    {
      stress_fail (&shared->failures, "consumer %u: message %u/%u (priority %u) after %u/%u",
                   w->index, h->stream, h->seq, h->priority, h->stream, expected - 1);
      return FALSE;
    }
  if (shared->n_consumers == 1)
    {
      while (expected < shared->per_producer &&
             message_priority (h->stream, expected, shared->mixed) != h->priority)
        expected++;
      if (h->seq != expected)
        {
          stress_fail (&shared->failures, "the consumer got message %u/%u (priority %u), "
                       "expected %u/%u", h->stream, h->seq, h->priority, h->stream, expected);
          return FALSE;
        }
    }
  next[h->stream][h->priority] = h->seq + 1;
  shared->received_check[w->index] += h->check + h->length;
  shared->received_by[w->index]++;
  g_atomic_int_inc (&shared->received);
  return TRUE;
}

static int
consumer_main (gpointer data)
{
  Worker *w = data;
  ExactShared *shared = w->shared;
  gint total = N_PRODUCERS * shared->per_producer;
  guint32 next[N_PRODUCERS][N_PRIORITIES] = { { 0 } };
  g_autoptr(GRand) rand = g_rand_new_with_seed (w->index * 7919 + 1);

  stress_die_with_parent ();
  wait_go (shared);
  while (g_atomic_int_get (&shared->received) < total)
    {
      g_autoptr(GError) error = NULL;
      QRecvMethod method = g_rand_int_range (rand, 0, QRECV_N_METHODS);
      QRecv recv = { 0 };

      if (g_get_monotonic_time () > shared->deadline)
        {
          stress_fail (&shared->failures, "consumer %u: %d of %d messages after the deadline",
                       w->index, g_atomic_int_get (&shared->received), total);
          return 1;
        }
      /* Short waits: the last messages may go to the others. */
      if (!qrecv (w->queue, method, &recv, 100 * 1000, NULL, &error))
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            continue;
          stress_fail (&shared->failures, "consumer %u: %s", w->index, error->message);
          return 1;
        }
      g_atomic_int_inc (&shared->methods[method]);
      if (!account (w, &recv, next))
        return 1;
    }
  return 0;
}

static void
run_exact (guint    n_consumers,
           gboolean mixed,
           guint    messages)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsQueue) queue = NULL;
  guint per_producer = messages / N_PRODUCERS;
  ExactShared *shared = ps_test_shared_new (sizeof (ExactShared) + N_PRODUCERS * per_producer,
                                            &memory);
  pid_t pids[N_PRODUCERS + N_CONSUMERS];
  guint64 sent = 0, received = 0;
  gint64 start;
  guint n = 0;

  queue = ps_queue_new (CAPACITY, MAX_SIZE, &error);
  g_assert_no_error (error);
  shared->per_producer = per_producer;
  shared->n_consumers = n_consumers;
  shared->mixed = mixed;
  shared->deadline = g_get_monotonic_time () + ps_test_scaled_us (150 * G_USEC_PER_SEC);

  for (guint i = 0; i < N_PRODUCERS; i++)
    {
      Worker w = { shared, queue, i };

      pids[n++] = ps_test_fork (producer_main, &w, ps_test_scaled_s (180));
    }
  for (guint i = 0; i < n_consumers; i++)
    {
      Worker w = { shared, queue, i };

      pids[n++] = ps_test_fork (consumer_main, &w, ps_test_scaled_s (180));
    }
  start = g_get_monotonic_time ();
  g_atomic_int_set (&shared->go, 1);
  for (guint i = 0; i < n; i++)
    {
      int status = ps_test_reap (pids[i], ps_test_scaled_s (200));

      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        g_error ("worker %u failed (status %d); %d failures, the first: %s", i, status,
                 shared->failures.count, shared->failures.first);
    }
  g_assert_cmpint (shared->failures.count, ==, 0);

  g_assert_cmpint (shared->received, ==, N_PRODUCERS * per_producer);
  for (guint i = 0; i < N_PRODUCERS * per_producer; i++)
    if (shared->deliveries[i] != 1)
      g_error ("message %u/%u delivered %u times", i / per_producer, i % per_producer,
               shared->deliveries[i]);
  for (guint i = 0; i < N_PRODUCERS; i++)
    sent += shared->sent_check[i];
  for (guint i = 0; i < n_consumers; i++)
    received += shared->received_check[i];
  g_assert_cmpuint (sent, ==, received);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 0);

  g_test_message ("%u producers, %u consumers, %u messages%s in %.2f s; received per consumer:"
                  " %d %d %d %d; by method: %d %d %d %d %d %d",
                  N_PRODUCERS, n_consumers, N_PRODUCERS * per_producer,
                  mixed ? " (4 priorities)" : "",
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC,
                  shared->received_by[0], shared->received_by[1], shared->received_by[2],
                  shared->received_by[3], shared->methods[0], shared->methods[1],
                  shared->methods[2], shared->methods[3], shared->methods[4], shared->methods[5]);
}

static guint
messages_for_run (void)
{
  if (opt_messages > 0)
    return opt_messages;
  return stress_is_slow () ? N_MESSAGES_SLOW : N_MESSAGES;
}

static void
test_exact_4x4 (void)
{
  run_exact (N_CONSUMERS, FALSE, messages_for_run ());
}

static void
test_exact_4x4_priorities (void)
{
  run_exact (N_CONSUMERS, TRUE, messages_for_run ());
}

static void
test_exact_4x1_fifo (void)
{
  run_exact (1, TRUE, messages_for_run () / 4);
}

/* Priorities against a model -------------------------------------------------- */

static void
test_priorities_model (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) queue = ps_queue_new (16, 128, &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  /* The model: per priority, the seqs waiting, oldest first. */
  GArray *waiting[8];
  guint length = 0, seq = 0;
  guint n_ops = stress_is_slow () ? 2000 : 20000;

  g_assert_no_error (error);
  for (guint p = 0; p < 8; p++)
    waiting[p] = g_array_new (FALSE, FALSE, sizeof (guint32));

  for (guint op = 0; op < n_ops; op++)
    {
      gboolean do_send = length == 0 || (length < 16 && g_rand_boolean (rand));

      if (do_send)
        {
          guint priority = g_rand_int_range (rand, 0, 8);
          QSendMethod method = g_rand_int_range (rand, 0, QSEND_N_METHODS);
          QSend send = { 1, seq, priority, NULL, NULL };

          g_assert_true (qsend (queue, method, qsend_fit (method, QMSG_MIN + seq % 40, 128),
                                &send, 0, NULL, &error));
          g_assert_no_error (error);
          g_array_append_val (waiting[priority], seq);
          seq++;
          length++;
        }
      else
        {
          QRecv recv = { 0 };
          guint top = 7;

          g_assert_true (qrecv (queue, g_rand_int_range (rand, 0, QRECV_N_METHODS), &recv, 0,
                                NULL, &error));
          g_assert_no_error (error);
          g_assert_null (recv.why);
          while (waiting[top]->len == 0)
            top--;
          g_assert_cmpuint (recv.priority, ==, top);
          g_assert_cmpuint (recv.header.seq, ==, g_array_index (waiting[top], guint32, 0));
          g_array_remove_index (waiting[top], 0);
          length--;
        }
      g_assert_cmpuint (ps_queue_get_length (queue), ==, length);
    }
  for (guint p = 0; p < 8; p++)
    g_array_unref (waiting[p]);
}

/* Cancellation and timeout races ------------------------------------------------ */

#define RACE_MAX_SIZE   128
#define MAX_DELAY_US    300

typedef enum
{
  RACE_SEND,
  RACE_RECEIVE,
} RaceDir;

typedef enum
{
  END_CANCEL,
  END_TIMEOUT,
} RaceEnd;

typedef struct
{
  RaceDir  dir;
  RaceEnd  end;
  gboolean async;
} RaceCase;

/* One race: the call under test, made in a thread (or as an async call in
 * the main context), and what came of it. */
typedef struct
{
  PsQueue      *queue;
  RaceDir       dir;
  GCancellable *cancellable;
  gint64        timeout_us;
  guint32       seq;
  guint         method;
  /* The other side: the receive (send) that lets the call through, and
   * the cancellation, in either order, after a random delay. */
  guint         delay_us;
  gboolean      cancel_first;
  guint         gap_us;         /* between the two, when the counterpart is first */
  guint32       filler_seq;     /* the filler the counterpart receive takes */
  /* Outcome */
  gboolean      ok;
  GError       *error;
  gint64        elapsed_us;
  QRecv         recv;
  gboolean      done;
} RaceCall;

#define RACE_STREAM  1
#define FILLER_STREAM 2

static void
race_call_run (RaceCall *call)
{
  gint64 start = g_get_monotonic_time ();

  if (call->dir == RACE_SEND)
    {
      QSend send = { RACE_STREAM, call->seq, 1, NULL, NULL };

      call->ok = qsend (call->queue, call->method,
                        qsend_fit (call->method, QMSG_MIN + call->seq % 64, RACE_MAX_SIZE),
                        &send, call->timeout_us, call->cancellable, &call->error);
    }
  else
    call->ok = qrecv (call->queue, call->method, &call->recv, call->timeout_us,
                      call->cancellable, &call->error);
  call->elapsed_us = g_get_monotonic_time () - start;
}

static gpointer
race_call_thread (gpointer data)
{
  race_call_run (data);
  return NULL;
}

/* The other side of the race. */
static void
race_counterpart (RaceCall *call)
{
  g_autoptr(GError) error = NULL;

  if (call->dir == RACE_SEND)
    {
      QRecv recv = { 0 };

      /* Make room: take the oldest filler. */
      g_assert_true (qrecv (call->queue, QRECV_BYTES, &recv, 0, NULL, &error));
      g_assert_no_error (error);
      g_assert_null (recv.why);
      g_assert_cmpuint (recv.header.stream, ==, FILLER_STREAM);
      g_assert_cmpuint (recv.header.seq, ==, call->filler_seq);
    }
  else
    {
      QSend send = { RACE_STREAM, call->seq, 1, NULL, NULL };

      g_assert_true (qsend (call->queue, QSEND_BYTES, QMSG_MIN + 8, &send, 0, NULL, &error));
      g_assert_no_error (error);
    }
}

static gpointer
race_other_side (gpointer data)
{
  RaceCall *call = data;

  g_usleep (call->delay_us);
  if (call->cancellable != NULL && call->cancel_first)
    g_cancellable_cancel (call->cancellable);
  race_counterpart (call);
  if (call->cancellable != NULL && !call->cancel_first)
    {
      /* Sometimes a moment for the call to go through first. */
      if (call->gap_us > 0)
        g_usleep (call->gap_us);
      g_cancellable_cancel (call->cancellable);
    }
  return NULL;
}

static void
race_async_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  RaceCall *call = user_data;

  if (call->dir == RACE_SEND)
    call->ok = ps_queue_send_finish (PS_QUEUE (source), result, &call->error);
  else if (call->method % 2 == 0)
    {
      g_autoptr(GBytes) bytes = ps_queue_receive_finish (PS_QUEUE (source), result,
                                                         &call->recv.priority, &call->error);

      call->ok = bytes != NULL;
      if (bytes != NULL)
        qrecv_check_unknown (&call->recv, g_bytes_get_data (bytes, NULL),
                             g_bytes_get_size (bytes));
    }
  else
    {
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GBytes) inner = NULL;
      PsQueueMessageKind kind;

      call->ok = ps_queue_receive_message_finish (PS_QUEUE (source), result, &kind, &bytes,
                                                  &value, &call->recv.priority, &call->error);
      if (call->ok)
        {
          inner = value != NULL ? qmsg_bytes_of_variant (value, &call->recv.why)
                                : qmsg_bytes_of_record (g_bytes_get_data (bytes, NULL),
                                                        g_bytes_get_size (bytes), kind,
                                                        &call->recv.why);
          qrecv_check_bytes (&call->recv, inner);
        }
    }
  call->done = TRUE;
}

static void
race_call_start_async (RaceCall *call)
{
  if (call->dir == RACE_SEND)
    {
      gsize length = QMSG_MIN + call->seq % 64;

      if (call->method % 2 == 0)
        {
          g_autoptr(GBytes) bytes = qmsg_new_bytes (length, RACE_STREAM, call->seq, 1);

          ps_queue_send_async (call->queue, bytes, 1, call->timeout_us, call->cancellable,
                               race_async_done, call);
        }
      else
        {
          g_autoptr(GVariant) value = qmsg_new_variant (length, RACE_STREAM, call->seq, 1);

          ps_queue_send_variant_async (call->queue, value, 1, call->timeout_us,
                                       call->cancellable, race_async_done, call);
        }
    }
  else if (call->method % 2 == 0)
    ps_queue_receive_async (call->queue, call->timeout_us, call->cancellable,
                            race_async_done, call);
  else
    ps_queue_receive_message_async (call->queue, call->timeout_us, call->cancellable,
                                    race_async_done, call);
}

/* Everything in the queue, oldest first, as (stream, seq) pairs packed in
 * 64 bits. */
static GArray *
race_drain (PsQueue *queue)
{
  GArray *found = g_array_new (FALSE, FALSE, sizeof (guint64));

  for (guint i = 0; i <= RACE_CAPACITY; i++)
    {
      g_autoptr(GError) error = NULL;
      QRecv recv = { 0 };
      guint64 id;

      if (!qrecv (queue, QRECV_MESSAGE, &recv, 0, NULL, &error))
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          break;
        }
      g_assert_null (recv.why);
      id = (guint64) recv.header.stream << 32 | recv.header.seq;
      g_array_append_val (found, id);
    }
  return found;
}

typedef struct
{
  guint through;
  guint stopped;
} RaceTally;

static void
race_once (PsQueue        *queue,
           const RaceCase *race,
           GRand          *rand,
           guint32         seq,
           guint32        *filler_seq,
           RaceTally      *tally)
{
  g_autoptr(GArray) found = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  RaceCall call = { 0 };
  GThread *other, *caller = NULL;
  guint n_fillers = race->dir == RACE_SEND ? RACE_CAPACITY : 0;
  guint32 first_filler = *filler_seq;
  guint k = 0;

  /* A full queue to send to, an empty one to receive from. */
  for (guint i = 0; i < n_fillers; i++)
    {
      g_autoptr(GError) error = NULL;
      QSend send = { FILLER_STREAM, (*filler_seq)++, 1, NULL, NULL };

      g_assert_true (qsend (queue, QSEND_BYTES, QMSG_MIN, &send, 0, NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (ps_queue_get_length (queue), ==, n_fillers);

  if (race->end == END_CANCEL)
    cancellable = g_cancellable_new ();
  call.queue = queue;
  call.dir = race->dir;
  call.cancellable = cancellable;
  call.timeout_us = race->end == END_TIMEOUT ? g_rand_int_range (rand, 1, MAX_DELAY_US)
                                             : PS_TIMEOUT_INFINITE;
  call.seq = seq;
  call.method = g_rand_int_range (rand, 0, race->dir == RACE_SEND ? QSEND_N_METHODS
                                                                 : QRECV_N_METHODS);
  call.delay_us = g_rand_int_range (rand, 0, MAX_DELAY_US);
  call.cancel_first = g_rand_boolean (rand);
  call.gap_us = g_rand_boolean (rand) ? 0 : g_rand_int_range (rand, 1, 100);
  call.filler_seq = first_filler;

  if (race->async)
    {
      race_call_start_async (&call);
      other = g_thread_new ("race-other-side", race_other_side, &call);
      while (!call.done)
        g_main_context_iteration (NULL, TRUE);
    }
  else
    {
      caller = g_thread_new ("race-caller", race_call_thread, &call);
      other = g_thread_new ("race-other-side", race_other_side, &call);
      g_thread_join (caller);
    }
  g_thread_join (other);

  /* Through, or stopped with exactly the error of the race's end. */
  if (!call.ok)
    {
      if (race->end == END_CANCEL)
        g_assert_error (call.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      else
        {
          g_assert_error (call.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
          /* Never before its time. */
          if (!race->async)
            g_assert_cmpint (call.elapsed_us, >=, call.timeout_us);
        }
      tally->stopped++;
    }
  else
    {
      g_assert_no_error (call.error);
      tally->through++;
    }
  g_clear_error (&call.error);

  /* The queue holds exactly what the outcome says. */
  found = race_drain (queue);
  if (race->dir == RACE_SEND)
    {
      /* The fillers left (one was taken), then the message iff sent. */
      for (guint i = 1; i < n_fillers; i++)
        {
          g_assert_cmpuint (k, <, found->len);
          g_assert_cmphex (g_array_index (found, guint64, k++), ==,
                           (guint64) FILLER_STREAM << 32 | (first_filler + i));
        }
      if (call.ok)
        {
          g_assert_cmpuint (k, <, found->len);
          g_assert_cmphex (g_array_index (found, guint64, k++), ==,
                           (guint64) RACE_STREAM << 32 | seq);
        }
    }
  else if (call.ok)
    {
      /* Received it, whole: nothing is left. */
      g_assert_null (call.recv.why);
      g_assert_cmpuint (call.recv.header.stream, ==, RACE_STREAM);
      g_assert_cmpuint (call.recv.header.seq, ==, seq);
    }
  else
    {
      /* Not taken: still there. */
      g_assert_cmpuint (found->len, >=, 1);
      g_assert_cmphex (g_array_index (found, guint64, k++), ==, (guint64) RACE_STREAM << 32 | seq);
    }
  g_assert_cmpuint (found->len, ==, k);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 0);
}

static void
test_race (gconstpointer data)
{
  const RaceCase *race = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) queue = ps_queue_new (RACE_CAPACITY, RACE_MAX_SIZE, &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  guint n = race->async ? N_ASYNC_RACES : N_RACES;
  RaceTally tally = { 0, 0 };
  guint32 filler_seq = 0;

  g_assert_no_error (error);
  if (stress_is_slow ())
    n = MIN (n, N_RACES_SLOW);
  for (guint i = 0; i < n; i++)
    race_once (queue, race, rand, i, &filler_seq, &tally);
  g_test_message ("%u races: %u went through, %u %s", n, tally.through, tally.stopped,
                  race->end == END_CANCEL ? "cancelled" : "timed out");
  g_assert_cmpuint (tally.through + tally.stopped, ==, n);
}

static const RaceCase race_cases[] = {
  { RACE_SEND, END_CANCEL, FALSE },
  { RACE_SEND, END_TIMEOUT, FALSE },
  { RACE_RECEIVE, END_CANCEL, FALSE },
  { RACE_RECEIVE, END_TIMEOUT, FALSE },
  { RACE_SEND, END_CANCEL, TRUE },
  { RACE_SEND, END_TIMEOUT, TRUE },
  { RACE_RECEIVE, END_CANCEL, TRUE },
  { RACE_RECEIVE, END_TIMEOUT, TRUE },
};

static void
add_race_tests (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (race_cases); i++)
    {
      const RaceCase *race = &race_cases[i];
      g_autofree char *path = g_strdup_printf ("/queue/race/%s/%s%s",
                                               race->dir == RACE_SEND ? "send" : "receive",
                                               race->end == END_CANCEL ? "cancel" : "timeout",
                                               race->async ? "-async" : "");

      ps_test_add_full (path, test_race, race, 120);
    }
}

/* Full and empty ------------------------------------------------------------------- */

static gint fill_calls;
static gint read_calls;

static void
count_fill (guint8   *slot,
            gsize     size,
            gpointer  user_data)
{
  fill_calls++;
  memset (slot, 0, size);
}

static void
count_read (const guint8       *message,
            gsize               size,
            PsQueueMessageKind  kind,
            guint               priority,
            gpointer            user_data)
{
  read_calls++;
}

/* Every way of sending to a full queue fails with @code, nothing sent. */
static void
assert_cannot_send (PsQueue      *queue,
                    gint64        timeout_us,
                    GCancellable *cancellable,
                    gint          code)
{
  for (guint method = 0; method < QSEND_N_METHODS; method++)
    {
      g_autoptr(GError) error = NULL;
      guint length = ps_queue_get_length (queue);
      QSend send = { 9, 0, 0, NULL, NULL };
      gint64 start = g_get_monotonic_time ();

      g_assert_false (qsend (queue, method, qsend_fit (method, 100, MAX_SIZE), &send, timeout_us,
                             cancellable, &error));
      g_assert_error (error, G_IO_ERROR, code);
      if (code == G_IO_ERROR_TIMED_OUT)
        {
          g_assert_cmpint (g_get_monotonic_time () - start, >=, timeout_us);
          g_assert_cmpint (g_get_monotonic_time () - start, <,
                           ps_test_scaled_us (5 * G_USEC_PER_SEC));
        }
      g_assert_cmpuint (ps_queue_get_length (queue), ==, length);
    }
  fill_calls = 0;
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (ps_queue_send_with (queue, 8, 0, count_fill, NULL, timeout_us, cancellable,
                                        &error));
    g_assert_error (error, G_IO_ERROR, code);
    g_assert_cmpint (fill_calls, ==, 0);
  }
}

static void
assert_cannot_receive (PsQueue      *queue,
                       gint64        timeout_us,
                       GCancellable *cancellable,
                       gint          code)
{
  for (guint method = 0; method < QRECV_N_METHODS; method++)
    {
      g_autoptr(GError) error = NULL;
      guint length = ps_queue_get_length (queue);
      QRecv recv = { 0 };
      gint64 start = g_get_monotonic_time ();

      g_assert_false (qrecv (queue, method, &recv, timeout_us, cancellable, &error));
      g_assert_error (error, G_IO_ERROR, code);
      if (code == G_IO_ERROR_TIMED_OUT)
        g_assert_cmpint (g_get_monotonic_time () - start, >=, timeout_us);
      g_assert_cmpuint (ps_queue_get_length (queue), ==, length);
    }
  read_calls = 0;
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (ps_queue_receive_with (queue, count_read, NULL, timeout_us, cancellable,
                                           &error));
    g_assert_error (error, G_IO_ERROR, code);
    g_assert_cmpint (read_calls, ==, 0);
  }
}

typedef struct
{
  PsQueue *queue;
  gint    *step;
} PeerArgs;

/* Waits for the parent to block, then receives one message (step 1) or
 * sends one (step 2). */
static int
wake_peer (gpointer data)
{
  PeerArgs *args = data;
  g_autoptr(GError) error = NULL;
  QRecv recv = { 0 };
  QSend send = { 4, 0, 2, NULL, NULL };

  stress_die_with_parent ();
  PS_CHILD_CHECK (ps_test_wait_int (args->step, 1, 20));
  g_usleep (20 * 1000);
  PS_CHILD_CHECK (qrecv (args->queue, QRECV_WITH, &recv, 0, NULL, &error));
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (recv.why == NULL);
  PS_CHILD_CHECK (ps_test_wait_int (args->step, 2, 20));
  g_usleep (20 * 1000);
  PS_CHILD_CHECK (qsend (args->queue, QSEND_WITH, 100, &send, 0, NULL, &error));
  PS_CHILD_CHECK_NO_ERROR (error);
  return 0;
}

static void
test_full_empty (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) queue = ps_queue_new (RACE_CAPACITY, MAX_SIZE, &error);
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(PsSharedMemory) memory = NULL;
  gint *step = ps_test_shared_new (sizeof (gint), &memory);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) too_large = g_bytes_new_take (g_malloc0 (MAX_SIZE + 1), MAX_SIZE + 1);
  g_autoptr(GBytes) largest = NULL;
  g_autoptr(GBytes) got = NULL;
  PsQueueMessageKind kind = PS_QUEUE_MESSAGE_VARIANT;
  PeerArgs args = { NULL, step };
  guint priority = 99;
  pid_t peer;

  g_assert_no_error (error);
  g_cancellable_cancel (cancelled);
  g_assert_cmpuint (ps_queue_get_capacity (queue), ==, RACE_CAPACITY);
  g_assert_cmpuint (ps_queue_get_max_message_size (queue), ==, MAX_SIZE);

  /* Empty. */
  assert_cannot_receive (queue, 0, NULL, G_IO_ERROR_WOULD_BLOCK);
  assert_cannot_receive (queue, 20 * 1000, NULL, G_IO_ERROR_TIMED_OUT);
  assert_cannot_receive (queue, PS_TIMEOUT_INFINITE, cancelled, G_IO_ERROR_CANCELLED);
  assert_cannot_receive (queue, 20 * 1000, cancelled, G_IO_ERROR_CANCELLED);

  /* Too large, on an empty queue: nothing sent, the fill never called. */
  g_assert_false (ps_queue_send (queue, too_large, 0, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  fill_calls = 0;
  g_assert_false (ps_queue_send_with (queue, MAX_SIZE + 1, 0, count_fill, NULL, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  g_assert_cmpint (fill_calls, ==, 0);
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 0);

  /* An empty message, and one of exactly the maximum. */
  g_assert_true (ps_queue_send (queue, empty, 3, 0, NULL, &error));
  g_assert_no_error (error);
  largest = g_bytes_new_take (g_malloc0 (MAX_SIZE), MAX_SIZE);
  g_assert_true (ps_queue_send (queue, largest, 3, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_queue_receive_message (queue, &kind, &got, NULL, &priority, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (kind, ==, PS_QUEUE_MESSAGE_BYTES);
  g_assert_cmpuint (priority, ==, 3);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_clear_pointer (&got, g_bytes_unref);
  got = ps_queue_receive (queue, NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, largest));

  /* Full. */
  for (guint i = 0; i < RACE_CAPACITY; i++)
    {
      QSend send = { 3, i, 0, NULL, NULL };

      g_assert_true (qsend (queue, i % QSEND_N_METHODS, 100, &send, 0, NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (ps_queue_get_length (queue), ==, RACE_CAPACITY);
  assert_cannot_send (queue, 0, NULL, G_IO_ERROR_WOULD_BLOCK);
  assert_cannot_send (queue, 20 * 1000, NULL, G_IO_ERROR_TIMED_OUT);
  assert_cannot_send (queue, PS_TIMEOUT_INFINITE, cancelled, G_IO_ERROR_CANCELLED);
  /* Too large says so even when full. */
  g_assert_false (ps_queue_send (queue, too_large, 0, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);

  /* A send blocked on the full queue is let through by another process's
   * receive, and a receive blocked on the empty one by its send. */
  args.queue = queue;
  peer = ps_test_fork (wake_peer, &args, ps_test_scaled_s (60));
  {
    QSend send = { 3, RACE_CAPACITY, 0, NULL, NULL };
    QRecv recv = { 0 };

    g_atomic_int_set (step, 1);
    g_assert_true (qsend (queue, QSEND_BYTES, 100, &send, PS_TIMEOUT_INFINITE, NULL, &error));
    g_assert_no_error (error);
    /* Everything but the one the peer took, in order. */
    for (guint i = 1; i <= RACE_CAPACITY; i++)
      {
        g_assert_true (qrecv (queue, QRECV_MESSAGE, &recv, 0, NULL, &error));
        g_assert_no_error (error);
        g_assert_null (recv.why);
        g_assert_cmpuint (recv.header.seq, ==, i);
      }
    g_atomic_int_set (step, 2);
    g_assert_true (qrecv (queue, QRECV_VARIANT, &recv, PS_TIMEOUT_INFINITE, NULL, &error));
    g_assert_no_error (error);
    g_assert_null (recv.why);
    g_assert_cmpuint (recv.priority, ==, 2);
    g_assert_cmpuint (recv.header.stream, ==, 4);
  }
  ps_test_reap_ok (peer, ps_test_scaled_s (30));
  g_assert_cmpuint (ps_queue_get_length (queue), ==, 0);
}

/* main --------------------------------------------------------------------------- */

/* --messages N: the 4×4 runs with N messages in all (4×1: N / 4). */
static void
parse_own_options (int   *argc,
                   char **argv)
{
  int out = 1;

  for (int i = 1; i < *argc; i++)
    {
      if (g_str_equal (argv[i], "--messages") && i + 1 < *argc)
        opt_messages = (guint) g_ascii_strtoull (argv[++i], NULL, 10);
      else
        argv[out++] = argv[i];
    }
  *argc = out;
  argv[out] = NULL;
}

int
main (int argc, char *argv[])
{
  parse_own_options (&argc, argv);
  stress_init (&argc, &argv, NULL);

  ps_test_add_timed ("/queue/exact/4x4", test_exact_4x4, 240);
  ps_test_add_timed ("/queue/exact/4x4-priorities", test_exact_4x4_priorities, 240);
  ps_test_add_timed ("/queue/exact/4x1-fifo", test_exact_4x1_fifo, 240);
  ps_test_add_timed ("/queue/exact/priorities", test_priorities_model, 60);
  add_race_tests ();
  ps_test_add_timed ("/queue/full-empty", test_full_empty, 60);

  return g_test_run ();
}
