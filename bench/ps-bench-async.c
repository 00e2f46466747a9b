/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The async row of ps-bench: 10,000 async acquires pending in one
 * process, on one PsSemaphore. It reports the threads of the process, the
 * memory each pending wait costs (resident set growth / 10,000), the CPU
 * the process uses in a second with all of them pending and nothing
 * happening, and, one sample per release, the time from a release in
 * another process to the callback running, with 10,000 pending
 * throughout (each callback starts a new wait).
 */

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps-bench.h"

#define ASYNC_PENDING       10000
#define ASYNC_PENDING_QUICK 1000

typedef struct
{
  gint64 released_at;   /* ns, by the peer, just before it releases */
  gint   quit;
} AsyncShared;

typedef struct
{
  PsSemaphore *target;    /* what the pending waits wait for */
  PsSemaphore *ack;       /* the parent's go-ahead to the peer */
  AsyncShared *shared;
  Series      *latency;
  guint        wanted;    /* samples still to take */
  guint        completed;
} AsyncBench;

static guint
count_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static gsize
resident_bytes (void)
{
  g_autofree char *contents = NULL;
  unsigned long size = 0, resident = 0;

  if (!g_file_get_contents ("/proc/self/statm", &contents, NULL, NULL) ||
      sscanf (contents, "%lu %lu", &size, &resident) != 2)
    die ("cannot read /proc/self/statm");
  return (gsize) resident * (gsize) sysconf (_SC_PAGESIZE);
}

static double
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static void on_acquired (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data);

static void
start_wait (AsyncBench *bench)
{
  ps_semaphore_acquire_async (bench->target, PS_TIMEOUT_INFINITE, NULL, on_acquired, bench);
}

static void
on_acquired (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AsyncBench *bench = user_data;
  gint64 now = now_ns ();
  g_autoptr(GError) error = NULL;

  check_error (ps_semaphore_acquire_finish (PS_SEMAPHORE (source), result, &error), error,
               "an async acquire");
  series_add (bench->latency, (double) (now - __atomic_load_n (&bench->shared->released_at, __ATOMIC_ACQUIRE)) / 1000.0);
  bench->completed++;
  if (bench->wanted > 0)
    bench->wanted--;
  start_wait (bench);
  if (bench->wanted > 0)
    check_error (ps_semaphore_release (bench->ack, &error), error, "the peer's go-ahead");
}

/* The other process: one release per go-ahead, after a pause in which
 * the parent is idle in its main loop. */
static int
async_peer (AsyncBench *bench,
            guint       samples)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);

  for (guint i = 0; i < samples; i++)
    {
      if (!ps_semaphore_acquire (bench->ack, 30 * G_USEC_PER_SEC, NULL, NULL))
        return 1;
      g_usleep (g_rand_int_range (rand, 200, 1000));
      __atomic_store_n (&bench->shared->released_at, now_ns (), __ATOMIC_RELEASE);
      if (!ps_semaphore_release (bench->target, NULL))
        return 1;
    }
  return 0;
}

static pid_t
fork_peer (AsyncBench *bench,
           guint       samples)
{
  pid_t pid = fork ();

  if (pid < 0)
    die ("fork: %s", g_strerror (errno));
  if (pid == 0)
    _exit (async_peer (bench, samples));
  return pid;
}

static void
reap_peer (pid_t pid)
{
  int status = 0;

  if (waitpid (pid, &status, 0) != pid || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    die ("the async row's peer failed");
}

/* The baseline: a thread blocked in PsSemaphore.acquire, the same peer
 * releasing: what this machine's scheduler costs a wake-up across
 * processes, which the async path pays twice (the waiter thread, then
 * the main context's). */
typedef struct
{
  AsyncBench *bench;
  PsSemaphore *target;
  Series     *series;
  guint       samples;
} SyncBaseline;

static gpointer
sync_waiter (gpointer data)
{
  SyncBaseline *b = data;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < b->samples; i++)
    {
      check_error (ps_semaphore_acquire (b->target, 30 * G_USEC_PER_SEC, NULL, &error), error,
                   "the baseline's acquire");
      series_add (b->series, (double) (now_ns () - __atomic_load_n (&b->bench->shared->released_at,
                                                                      __ATOMIC_ACQUIRE)) / 1000.0);
      if (i + 1 < b->samples)
        check_error (ps_semaphore_release (b->bench->ack, &error), error, "the peer's go-ahead");
    }
  return NULL;
}

static void
measure_sync_baseline (Row        *row,
                       AsyncBench *bench,
                       guint       rounds)
{
  g_autoptr(GError) error = NULL;
  AsyncBench peer = *bench;
  SyncBaseline b = { bench, NULL, NULL, rounds };
  GThread *thread;
  pid_t pid;

  b.target = defer_unref (ps_semaphore_new (0, &error));
  check_error (b.target != NULL, error, "a semaphore");
  b.series = row_add_series (row, "ps-sync-release-to-return",
                             "baseline: release → blocked acquire returns", KIND_BASELINE);
  peer.target = b.target;
  thread = g_thread_new ("baseline", sync_waiter, &b);
  pid = fork_peer (&peer, rounds);
  check_error (ps_semaphore_release (bench->ack, &error), error, "the peer's go-ahead");
  g_thread_join (thread);
  reap_peer (pid);
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
custom_async (Row     *row,
              guint    rounds,
              guint64  iterations)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint pending = iterations >= 1000 ? ASYNC_PENDING : ASYNC_PENDING_QUICK;
  AsyncBench bench = { 0, };
  guint threads_before, threads_after;
  gsize rss_before, rss_after;
  double cpu_before, cpu_idle;
  gint64 deadline;
  pid_t pid;

  bench.target = defer_unref (ps_semaphore_new (0, &error));
  check_error (bench.target != NULL, error, "a semaphore");
  bench.ack = defer_unref (ps_semaphore_new (0, &error));
  check_error (bench.ack != NULL, error, "a semaphore");
  bench.shared = shared_alloc (sizeof (AsyncShared));
  bench.latency = row_add_series (row, "ps-async-release-to-callback",
                                  "release in another process → callback", KIND_PROCSHARED);

  /* The waiter machinery's first use, outside the measure. */
  start_wait (&bench);
  while (g_main_context_iteration (NULL, FALSE))
    ;

  threads_before = count_threads ();
  rss_before = resident_bytes ();
  for (guint i = 1; i < pending; i++)
    start_wait (&bench);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  rss_after = resident_bytes ();
  threads_after = count_threads ();

  /* A second of nothing, all of them pending, once the waiter threads
   * have armed their waits (they start them in the background, which
   * takes some CPU for half a second or less). */
  g_timeout_add (500, quit_loop, loop);
  g_main_loop_run (loop);
  cpu_before = cpu_seconds ();
  g_timeout_add_seconds (1, quit_loop, loop);
  g_main_loop_run (loop);
  cpu_idle = cpu_seconds () - cpu_before;

  bench.wanted = rounds;
  pid = fork_peer (&bench, rounds);
  check_error (ps_semaphore_release (bench.ack, &error), error, "the peer's go-ahead");
  deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  while (bench.wanted > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (bench.wanted > 0)
    {
      kill (pid, SIGKILL);
      die ("the async row took %u of its %u samples in 2 minutes", rounds - bench.wanted, rounds);
    }
  reap_peer (pid);
  measure_sync_baseline (row, &bench, rounds);

  row_metric (row, "pending_waits", pending);
  row_metric (row, "threads", threads_after);
  row_metric (row, "threads_added", threads_after - threads_before);
  row_metric (row, "bytes_per_wait", (double) (rss_after - rss_before) / (pending - 1));
  row_metric (row, "idle_cpu_ms_per_s", cpu_idle * 1000.0);
  row_note (row, "%u async acquires pending on one semaphore: %u threads in the process "
            "(%u added), %.0f bytes per pending wait (resident set growth), "
            "%.2f ms of CPU in a second of idling",
            pending, threads_after, threads_after - threads_before,
            (double) (rss_after - rss_before) / (pending - 1), cpu_idle * 1000.0);

  /* What is still pending is dropped with the row's objects. */
  g_main_context_iteration (NULL, FALSE);
}

static void
finish_async (Row *row)
{
  double threads = 0, bytes = 0, cpu = 0;

  for (guint i = 0; i < row->metrics->len; i++)
    {
      Metric *metric = g_ptr_array_index (row->metrics, i);

      if (g_str_equal (metric->key, "threads"))
        threads = metric->value;
      else if (g_str_equal (metric->key, "bytes_per_wait"))
        bytes = metric->value;
      else if (g_str_equal (metric->key, "idle_cpu_ms_per_s"))
        cpu = metric->value;
    }
  row_target_stat (row, "release → callback p99 ≤ 200 µs with 10,000 pending",
                   "ps-async-release-to-callback", "p99", TRUE, 200.0);
  row_target_metric (row, "≤ 100 threads with 10,000 pending", "threads", "threads",
                     TRUE, 100, threads);
  row_target_metric (row, "≤ 1 KiB per pending wait", "bytes_per_wait", "bytes",
                     TRUE, 1024, bytes);
  row_target_metric (row, "no CPU while idle (≤ 1 ms per s)", "idle_cpu_ms_per_s", "ms",
                     TRUE, 1.0, cpu);
}

const RowDef ps_bench_row_async_pending = {
  "async-pending", "10,000 pending async waits: release → callback", "µs", FALSE,
  ROW_CUSTOM, 2000, 50, 1000, NULL, finish_async, custom_async
};
