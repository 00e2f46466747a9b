/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The PsQueue rows of ps-bench (issue 16), beside the other ways two
 * processes pass messages: a POSIX message queue (mq_send/mq_receive),
 * a Boost.Interprocess message_queue, an AF_UNIX SOCK_SEQPACKET
 * socketpair and a pipe.
 *
 *   - ping-pong: a message there and one back, at 64 B and 4 KiB, with
 *     both processes pinned to one CPU and pinned apart, in wall time and
 *     in CPU time of both (ps-bench-placement.c runs them);
 *   - throughput: 1 producer → 1 consumer and 4 → 4, at 64 B, 4 KiB and
 *     64 KiB, in thousands of messages per second: each batch forks its
 *     producers and consumers afresh and starts them at a gate.
 *
 * PsQueue runs twice: through its zero-copy C path (send_with and
 * receive_with, a memcpy each way, as mq_send/mq_receive copy), and
 * through GBytes (ps_queue_send and ps_queue_receive, a GBytes made per
 * message received).
 */

#include <fcntl.h>
#include <mqueue.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ps-bench.h"

#define QUEUE_CAPACITY     10   /* Linux's default (and unprivileged) mq msg_max */
#define MAX_WORKERS        4
#define THROUGHPUT_GROUPS  3

typedef enum
{
  T_PS_QUEUE,
  T_PS_QUEUE_BYTES,
  T_POSIX_MQ,
  T_BOOST,
  T_SOCKETPAIR,
  T_PIPE,
  N_TRANSPORTS
} Transport;

static const struct
{
  const char *id;
  const char *label;
  SeriesKind  kind;
} transports[N_TRANSPORTS] = {
  { "ps-queue", "PsQueue send_with+receive_with", KIND_PROCSHARED },
  { "ps-queue-bytes", "PsQueue send+receive (GBytes)", KIND_PROCSHARED },
  { "posix-mq", "POSIX mq_send+mq_receive", KIND_BASELINE },
  { "boost-mq", "Boost.Interprocess message_queue", KIND_BASELINE },
  { "socketpair", "AF_UNIX SOCK_SEQPACKET socketpair", KIND_BASELINE },
  { "pipe", "pipe", KIND_BASELINE },
};

/* Two one-way channels (a ping and a pong), or one. */
typedef struct
{
  Transport  transport;
  gsize      size;
  guint8    *buffer;          /* each process's own copy after fork() */
  GBytes    *bytes;           /* the same, for the GBytes path */
  PsQueue   *queue[2];
  mqd_t      mq[2];
  gpointer   boost[2];
  int        read_fd[2];
  int        write_fd[2];
  /* Throughput */
  guint      workers;         /* producers, and as many consumers */
  guint64    divisor;         /* of the row's iterations, for large messages */
  struct _Gate *gate;
} Channel;

/* Shared by a throughput batch's processes. */
typedef struct _Gate
{
  gint   ready;
  gint   go;
  gint64 ends[2 * MAX_WORKERS];
} Gate;

/* One message, each way --------------------------------------------------------- */

static void
fill_copy (guint8   *slot,
           gsize     size,
           gpointer  user_data)
{
  memcpy (slot, user_data, size);
}

static void
read_copy (const guint8       *message,
           gsize               size,
           PsQueueMessageKind  kind,
           guint               priority,
           gpointer            user_data)
{
  memcpy (user_data, message, size);
}

static void
write_all (int           fd,
           const guint8 *data,
           gsize         size)
{
  while (size > 0)
    {
      ssize_t n = write (fd, data, size);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        die ("write failed: %s", g_strerror (errno));
      data += n;
      size -= n;
    }
}

static void
read_all (int     fd,
          guint8 *data,
          gsize   size)
{
  while (size > 0)
    {
      ssize_t n = read (fd, data, size);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        die ("read failed: %s", n == 0 ? "end of file" : g_strerror (errno));
      data += n;
      size -= n;
    }
}

/* A Boost channel's batch, its loop on the C++ side: TRUE if done. */
static gboolean
boost_batch (Channel  *c,
             guint     dir,
             guint64   n,
             gboolean  send)
{
  if (c->transport != T_BOOST)
    return FALSE;
#ifdef PS_BENCH_HAVE_BOOST
  if ((send ? bench_boost_mq_send (c->boost[dir], c->buffer, c->size, n)
            : bench_boost_mq_receive (c->boost[dir], c->buffer, c->size, n)) != 0)
    die ("Boost message_queue %s failed", send ? "send" : "receive");
#endif
  return TRUE;
}

static void
channel_send (Channel *c,
              guint    dir,
              guint64  n)
{
  if (boost_batch (c, dir, n, TRUE))
    return;
  for (guint64 i = 0; i < n; i++)
    switch (c->transport)
      {
      case T_PS_QUEUE:
        if (G_UNLIKELY (!ps_queue_send_with (c->queue[dir], c->size, 0, fill_copy, c->buffer,
                                             PS_TIMEOUT_INFINITE, NULL, NULL)))
          die ("ps_queue_send_with failed");
        break;
      case T_PS_QUEUE_BYTES:
        if (G_UNLIKELY (!ps_queue_send (c->queue[dir], c->bytes, 0, PS_TIMEOUT_INFINITE, NULL,
                                        NULL)))
          die ("ps_queue_send failed");
        break;
      case T_POSIX_MQ:
        while (mq_send (c->mq[dir], (const char *) c->buffer, c->size, 0) != 0)
          if (errno != EINTR)
            die ("mq_send failed: %s", g_strerror (errno));
        break;
      case T_SOCKETPAIR:
      case T_PIPE:
        write_all (c->write_fd[dir], c->buffer, c->size);
        break;
      case T_BOOST:
      case N_TRANSPORTS:
      default:
        g_assert_not_reached ();
      }
}

static void
channel_receive (Channel *c,
                 guint    dir,
                 guint64  n)
{
  if (boost_batch (c, dir, n, FALSE))
    return;
  for (guint64 i = 0; i < n; i++)
    switch (c->transport)
      {
      case T_PS_QUEUE:
        if (G_UNLIKELY (!ps_queue_receive_with (c->queue[dir], read_copy, c->buffer,
                                                PS_TIMEOUT_INFINITE, NULL, NULL)))
          die ("ps_queue_receive_with failed");
        break;
      case T_PS_QUEUE_BYTES:
        {
          GBytes *bytes = ps_queue_receive (c->queue[dir], NULL, PS_TIMEOUT_INFINITE, NULL,
                                            NULL);

          if (G_UNLIKELY (bytes == NULL || g_bytes_get_size (bytes) != c->size))
            die ("ps_queue_receive failed");
          g_bytes_unref (bytes);
        }
        break;
      case T_POSIX_MQ:
        {
          ssize_t got;

          while ((got = mq_receive (c->mq[dir], (char *) c->buffer, c->size, NULL)) < 0)
            if (errno != EINTR)
              die ("mq_receive failed: %s", g_strerror (errno));
          if (G_UNLIKELY ((gsize) got != c->size))
            die ("mq_receive: %zd bytes, not %zu", got, c->size);
        }
        break;
      case T_SOCKETPAIR:
        {
          /* One datagram each: message boundaries are kept. */
          ssize_t got;

          while ((got = recv (c->read_fd[dir], c->buffer, c->size, 0)) < 0)
            if (errno != EINTR)
              die ("recv failed: %s", g_strerror (errno));
          if (G_UNLIKELY ((gsize) got != c->size))
            die ("recv: %zd bytes, not %zu", got, c->size);
        }
        break;
      case T_PIPE:
        read_all (c->read_fd[dir], c->buffer, c->size);
        break;
      case T_BOOST:
      case N_TRANSPORTS:
      default:
        g_assert_not_reached ();
      }
}

/* Channels that live as long as the row ------------------------------------------ */

static void
close_fd (gpointer data)
{
  close (GPOINTER_TO_INT (data));
}

static void
close_mq (gpointer data)
{
  mq_close ((mqd_t) GPOINTER_TO_INT (data));
}

#ifdef PS_BENCH_HAVE_BOOST
typedef struct
{
  char     *name;
  gpointer  mq;
} BoostQueue;

static void
free_boost (gpointer data)
{
  BoostQueue *boost = data;

  bench_boost_mq_free (boost->mq, boost->name);
  g_free (boost->name);
  g_free (boost);
}

/* A message_queue that lives as long as the row; NULL if Boost threw. */
static gpointer
row_boost_mq_new (gsize size)
{
  static guint counter;
  BoostQueue *boost = g_new0 (BoostQueue, 1);

  boost->name = g_strdup_printf ("ps-bench-mq-%d-%u", (int) getpid (), counter++);
  boost->mq = bench_boost_mq_new (boost->name, QUEUE_CAPACITY, size);
  if (boost->mq == NULL)
    {
      g_free (boost->name);
      g_free (boost);
      return NULL;
    }
  defer (free_boost, boost);
  return boost->mq;
}
#endif

/* Opens the channels of @c (@n_dirs directions); NULL if it works, or why
 * this transport is skipped. */
static const char *
channel_open (Channel *c,
              guint    n_dirs)
{
  c->buffer = defer_free (g_malloc (c->size));
  memset (c->buffer, 0x5a, c->size);
  c->bytes = g_bytes_new_static (c->buffer, c->size);
  defer ((GDestroyNotify) g_bytes_unref, c->bytes);

  for (guint dir = 0; dir < n_dirs; dir++)
    switch (c->transport)
      {
      case T_PS_QUEUE:
      case T_PS_QUEUE_BYTES:
        {
          g_autoptr(GError) error = NULL;

          c->queue[dir] = ps_queue_new (QUEUE_CAPACITY, c->size, &error);
          check_error (c->queue[dir] != NULL, error, "ps_queue_new");
          defer_unref (c->queue[dir]);
        }
        break;
      case T_POSIX_MQ:
        {
          g_autofree char *name = g_strdup_printf ("/ps-bench-%d-%u", (int) getpid (), dir);
          struct mq_attr attr = { 0 };

          attr.mq_maxmsg = QUEUE_CAPACITY;
          attr.mq_msgsize = c->size;
          c->mq[dir] = mq_open (name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
          if (c->mq[dir] == (mqd_t) -1)
            return g_intern_string (errno == EINVAL || errno == EPERM
                                    ? "mq_open: messages this large or this many need "
                                      "/proc/sys/fs/mqueue/msgsize_max (msg_max) raised"
                                    : g_strerror (errno));
          mq_unlink (name);
          defer (close_mq, GINT_TO_POINTER ((int) c->mq[dir]));
        }
        break;
      case T_BOOST:
#ifdef PS_BENCH_HAVE_BOOST
        c->boost[dir] = row_boost_mq_new (c->size);
        if (c->boost[dir] == NULL)
          return "Boost could not make a message_queue";
        break;
#else
        return "built without Boost";
#endif
      case T_SOCKETPAIR:
        {
          int sv[2];
          int sndbuf = 4 * (int) c->size + 4096;

          if (dir == 1)
            {
              /* Both ways over the one pair. */
              c->read_fd[1] = c->write_fd[0];
              c->write_fd[1] = c->read_fd[0];
              break;
            }
          if (socketpair (AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
            die ("socketpair failed: %s", g_strerror (errno));
          for (guint i = 0; i < 2; i++)
            {
              setsockopt (sv[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
              defer (close_fd, GINT_TO_POINTER (sv[i]));
            }
          c->write_fd[0] = sv[0];
          c->read_fd[0] = sv[1];
        }
        break;
      case T_PIPE:
        {
          int p[2];

          if (pipe (p) != 0)
            die ("pipe failed: %s", g_strerror (errno));
          c->read_fd[dir] = p[0];
          c->write_fd[dir] = p[1];
          defer (close_fd, GINT_TO_POINTER (p[0]));
          defer (close_fd, GINT_TO_POINTER (p[1]));
        }
        break;
      case N_TRANSPORTS:
      default:
        g_assert_not_reached ();
      }
  return NULL;
}

/* Adds @c as the contestant of @series once its channels are open, or
 * skips @series saying why they cannot be. */
static void
add_channel (GArray   *contestants,
             Series   *series,
             Channel  *c,
             guint     n_dirs,
             RunFunc   run,
             PeerFunc  peer)
{
  const char *skip = channel_open (c, n_dirs);

  if (skip != NULL)
    series->skip_reason = g_strdup (skip);
  else
    add_contestant (contestants, series, run, peer, c);
}

/* Ping-pong ------------------------------------------------------------------------ */

static double
run_ping (gpointer data,
          guint64  iterations)
{
  Channel *c = data;
  gint64 start = now_ns ();

#ifdef PS_BENCH_HAVE_BOOST
  if (c->transport == T_BOOST)
    {
      if (bench_boost_mq_initiator (c->boost[0], c->boost[1], c->buffer, c->size,
                                    iterations) != 0)
        die ("Boost message_queue ping-pong failed");
      return ns_per_op_since (start, iterations) / 1000.0;
    }
#endif
  for (guint64 i = 0; i < iterations; i++)
    {
      channel_send (c, 0, 1);
      channel_receive (c, 1, 1);
    }
  return ns_per_op_since (start, iterations) / 1000.0;
}

static void
peer_pong (gpointer data,
           guint64  iterations)
{
  Channel *c = data;

#ifdef PS_BENCH_HAVE_BOOST
  if (c->transport == T_BOOST)
    {
      if (bench_boost_mq_responder (c->boost[0], c->boost[1], c->buffer, c->size,
                                    iterations) != 0)
        die ("Boost message_queue ping-pong failed");
      return;
    }
#endif
  for (guint64 i = 0; i < iterations; i++)
    {
      channel_receive (c, 0, 1);
      channel_send (c, 1, 1);
    }
}

static void
setup_ping_pong_sized (Row    *row,
                       GArray *contestants,
                       gsize   size)
{
  for (guint t = 0; t < N_TRANSPORTS; t++)
    {
      Channel *c = defer_free (g_new0 (Channel, 1));
      Series *series = row_add_series (row, transports[t].id, transports[t].label,
                                       transports[t].kind);

      c->transport = t;
      c->size = size;
      add_channel (contestants, series, c, 2, run_ping, peer_pong);
    }
}

static void
setup_ping_pong_64 (Row    *row,
                    GArray *contestants)
{
  setup_ping_pong_sized (row, contestants, 64);
}

static void
setup_ping_pong_4k (Row    *row,
                    GArray *contestants)
{
  setup_ping_pong_sized (row, contestants, 4096);
}

static const struct
{
  const char *id;
  gboolean    apart;
  gboolean    large;
} ping_pongs[] = {
  { "queue-ping-pong-64-one-cpu", FALSE, FALSE },
  { "queue-ping-pong-64-apart", TRUE, FALSE },
  { "queue-ping-pong-4k-one-cpu", FALSE, TRUE },
  { "queue-ping-pong-4k-apart", TRUE, TRUE },
};

static guint
ping_pong_of (Row *row)
{
  for (guint i = 0; i < G_N_ELEMENTS (ping_pongs); i++)
    if (g_str_equal (row->id, ping_pongs[i].id))
      return i;
  g_assert_not_reached ();
}

static void
custom_ping_pong (Row     *row,
                  guint    rounds,
                  guint64  iterations)
{
  guint i = ping_pong_of (row);

  run_ping_pong_placed (row, rounds, iterations, ping_pongs[i].apart,
                        ping_pongs[i].large ? setup_ping_pong_4k : setup_ping_pong_64);
}

static void
finish_ping_pong (Row *row)
{
  guint i = ping_pong_of (row);
  const char *where = ping_pongs[i].apart ? "pinned apart" : "on one CPU";

  row_note (row, "µs per round trip (a message there, one back); CPU time is the two "
            "processes' together; queues of %u slots", QUEUE_CAPACITY);
  if (!ping_pongs[i].large)
    {
      g_autofree char *wall = g_strdup_printf ("64 B ping-pong %s: wall ≤ 0.5× POSIX mqueue",
                                               where);
      g_autofree char *cpu = g_strdup_printf ("64 B ping-pong %s: CPU ≤ 0.5× POSIX mqueue",
                                              where);

      const char *one_cpu_why = "on one CPU a round trip needs what mq_send/mq_receive need: "
                                "two wake-ups, two sleeps and two context switches (a poll "
                                "cannot be answered while the peer cannot run, so none is "
                                "made); the queue saves only the kernel's copies and its "
                                "queue lock, and a pipe, the cheapest kernel path, is the floor";

      row_target_ratio (row, wall, "ps-queue", "posix-mq", TRUE, 0.5);
      if (!ping_pongs[i].apart)
        row_target_why (row, "%s", one_cpu_why);
      row_target_ratio (row, cpu, "ps-queue-cpu", "posix-mq-cpu", TRUE, 0.5);
      if (!ping_pongs[i].apart)
        row_target_why (row, "%s", one_cpu_why);
    }
}

const RowDef ps_bench_row_queue_ping_pong_64_one_cpu = {
  "queue-ping-pong-64-one-cpu", "Queue ping-pong, 64 B, both processes pinned to one CPU",
  "µs/round trip", FALSE, ROW_CUSTOM, 11, 3, 5000, NULL, finish_ping_pong, custom_ping_pong
};

const RowDef ps_bench_row_queue_ping_pong_64_apart = {
  "queue-ping-pong-64-apart", "Queue ping-pong, 64 B, processes pinned to two CPUs",
  "µs/round trip", FALSE, ROW_CUSTOM, 11, 3, 2000, NULL, finish_ping_pong, custom_ping_pong
};

const RowDef ps_bench_row_queue_ping_pong_4k_one_cpu = {
  "queue-ping-pong-4k-one-cpu", "Queue ping-pong, 4 KiB, both processes pinned to one CPU",
  "µs/round trip", FALSE, ROW_CUSTOM, 11, 3, 5000, NULL, finish_ping_pong, custom_ping_pong
};

const RowDef ps_bench_row_queue_ping_pong_4k_apart = {
  "queue-ping-pong-4k-apart", "Queue ping-pong, 4 KiB, processes pinned to two CPUs",
  "µs/round trip", FALSE, ROW_CUSTOM, 11, 3, 2000, NULL, finish_ping_pong, custom_ping_pong
};

/* Throughput ---------------------------------------------------------------------- */

static const struct
{
  const char *group;
  const char *suffix;
  gsize       size;
  guint64     divisor;
} sizes[THROUGHPUT_GROUPS] = {
  { "64 B", "64", 64, 1 },
  { "4 KiB", "4k", 4096, 4 },
  { "64 KiB", "64k", 65536, 20 },
};

/* A worker: at the gate, then its share of the messages. */
static void
throughput_worker (Channel *c,
                   guint    w,
                   guint64  n)
{
  g_atomic_int_inc (&c->gate->ready);
  word_wake (&c->gate->ready);
  word_wait (&c->gate->go, 0);
  if (w < c->workers)
    channel_send (c, 0, n);
  else
    channel_receive (c, 0, n);
  c->gate->ends[w] = now_ns ();
}

static double
run_throughput (gpointer data,
                guint64  iterations)
{
  Channel *c = data;
  guint64 total = MAX (iterations / c->divisor, c->workers);
  guint64 share = total / c->workers;
  pid_t pids[2 * MAX_WORKERS];
  gint64 start, end = 0;
  gint ready;

  alarm (600);
  memset (c->gate, 0, sizeof *c->gate);
  for (guint w = 0; w < 2 * c->workers; w++)
    {
      pids[w] = fork_worker (-1);
      if (pids[w] == 0)
        {
          throughput_worker (c, w, share);
          _exit (0);
        }
    }
  while ((ready = g_atomic_int_get (&c->gate->ready)) < (gint) (2 * c->workers))
    word_wait (&c->gate->ready, ready);
  start = now_ns ();
  g_atomic_int_set (&c->gate->go, 1);
  word_wake (&c->gate->go);
  wait_workers (pids, 2 * c->workers);
  alarm (0);
  for (guint w = 0; w < 2 * c->workers; w++)
    end = MAX (end, c->gate->ends[w]);
  /* Thousands of messages per second, until the last one was done. */
  return (double) (share * c->workers) / ((double) (end - start) / 1e9) / 1000.0;
}

static void
setup_throughput (Row    *row,
                  GArray *contestants,
                  guint   workers)
{
  Gate *gate = shared_alloc (sizeof (Gate));

  for (guint g = 0; g < THROUGHPUT_GROUPS; g++)
    for (guint t = 0; t < N_TRANSPORTS; t++)
      {
        Channel *c = defer_free (g_new0 (Channel, 1));
        g_autofree char *id = g_strdup_printf ("%s-%s", transports[t].id, sizes[g].suffix);
        Series *series = row_add_group_series (row, sizes[g].group, id, transports[t].label,
                                               transports[t].kind);

        c->transport = t;
        c->size = sizes[g].size;
        c->workers = workers;
        c->divisor = sizes[g].divisor;
        c->gate = gate;
        if (t == T_PIPE && workers > 1 && c->size > PIPE_BUF)
          {
            /* Larger writes are not atomic: the messages of several
             * writers would interleave. */
            series->skip_reason = g_strdup_printf ("a pipe keeps writes of more than PIPE_BUF "
                                                   "(%d) bytes whole for one writer only",
                                                   PIPE_BUF);
            continue;
          }
        add_channel (contestants, series, c, 1, run_throughput, NULL);
      }
}

static void
setup_throughput_1 (Row    *row,
                    GArray *contestants)
{
  setup_throughput (row, contestants, 1);
}

static void
setup_throughput_4 (Row    *row,
                    GArray *contestants)
{
  setup_throughput (row, contestants, 4);
}

static void
throughput_note (Row *row)
{
  row_note (row, "thousands of messages per second, from the gate opening until the last "
            "producer or consumer was done; queues of %u slots; each group is one "
            "message size, compared only within it", QUEUE_CAPACITY);
  row_set_placement (row, "unpinned; producers and consumers forked afresh for every batch");
}

static void
finish_throughput_1 (Row *row)
{
  throughput_note (row);
  row_target_ratio (row, "64 B 1→1 throughput ≥ 3× POSIX mqueue (send+receive)",
                    "ps-queue-bytes-64", "posix-mq-64", FALSE, 3.0);
  row_target_ratio (row, "64 B 1→1 throughput ≥ 3× POSIX mqueue (send_with+receive_with)",
                    "ps-queue-64", "posix-mq-64", FALSE, 3.0);
  row_target_why (row, "the zero-copy calls run the caller's fill and read functions outside "
                  "the queue's lock, so each message takes it twice on each side (claim, then "
                  "hand over) where send and receive copy a message of up to 512 bytes inside "
                  "one section: the two processes contend on the lock's line twice as often");
  row_target_ratio (row, "64 B 1→1 throughput ≥ 1.0× Boost message_queue", "ps-queue-64",
                    "boost-mq-64", FALSE, 1.0);
}

static void
finish_throughput_4 (Row *row)
{
  throughput_note (row);
  for (guint g = 0; g < THROUGHPUT_GROUPS; g++)
    {
      g_autofree char *text = g_strdup_printf ("%s 4→4 throughput ≥ 1.0× Boost message_queue",
                                               sizes[g].group);
      g_autofree char *subject = g_strdup_printf ("ps-queue-%s", sizes[g].suffix);
      g_autofree char *reference = g_strdup_printf ("boost-mq-%s", sizes[g].suffix);

      row_target_ratio (row, text, subject, reference, FALSE, 1.0);
    }
}

const RowDef ps_bench_row_queue_throughput_1 = {
  "queue-throughput-1to1", "Queue throughput, 1 producer → 1 consumer process", "k msg/s",
  TRUE, ROW_LOCAL, 7, 2, 100000, setup_throughput_1, finish_throughput_1, NULL
};

const RowDef ps_bench_row_queue_throughput_4 = {
  "queue-throughput-4to4", "Queue throughput, 4 producer → 4 consumer processes", "k msg/s",
  TRUE, ROW_LOCAL, 7, 2, 100000, setup_throughput_4, finish_throughput_4, NULL
};
