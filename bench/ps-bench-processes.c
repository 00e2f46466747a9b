/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The rows of ps-bench with many processes (issue 13):
 *
 *   - contended mutex: N = 1, 2, 4, 8, 16 processes lock, bump a shared
 *     counter and unlock for a fixed window (≥ 1 s), each counting its
 *     own acquisitions: the throughput of all, and the fairness (most
 *     acquisitions of a process over fewest);
 *   - condition broadcast to N = 1, 2, 4, 8, 16 waiting processes: the
 *     time from the broadcast until the last waiter is back holding the
 *     mutex, and the CPU time all processes spent on it.
 *
 * Every batch forks its N processes afresh and starts them at a gate
 * they sleep on (a futex), so that nobody spins while they are created;
 * each N is a group of the row, compared only within it.
 */

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "ps-bench.h"

#define MAX_WORKERS 16

static const guint worker_counts[] = { 1, 2, 4, 8, 16 };

/* Contended mutex, N processes ------------------------------------------------ */

#define CONTENDED_CHUNK 32

typedef struct
{
  gint    ready;    /* workers at the gate */
  gint    go;
  gint    stop;
  guint64 counter;  /* bumped under the lock */
  guint64 counts[MAX_WORKERS];
  gint64  ends[MAX_WORKERS];
} Arena;

typedef struct
{
  gint      kind;      /* of lock_chunk() */
  gpointer  lock;
  guint     workers;
  Arena    *arena;
  GArray   *fairness;  /* double: max/min acquisitions, per measured batch */
} Contention;

static gint contention_cpus[MAX_WORKERS];
static gint contention_n_cpus;

static void
contention_worker (Contention *c,
                   guint       w)
{
  Arena *a = c->arena;
  guint64 own = 0;

  g_atomic_int_inc (&a->ready);
  word_wake (&a->ready);
  word_wait (&a->go, 0);
  do
    {
      lock_chunk (c->kind, c->lock, &a->counter, CONTENDED_CHUNK);
      own += CONTENDED_CHUNK;
    }
  while (!g_atomic_int_get (&a->stop));
  a->counts[w] = own;
  a->ends[w] = now_ns ();
}

/* Runs one window of @iterations ms; returns M acquisitions/s. */
static double
run_contention (gpointer data,
                guint64  iterations)
{
  Contention *c = data;
  Arena *a = c->arena;
  pid_t pids[MAX_WORKERS];
  guint64 total = 0, most = 0, fewest = G_MAXUINT64;
  gint64 start, end = 0;
  gint ready;
  guint w;

  /* A worker that died would leave the gate (or the end) waiting forever. */
  alarm (600);
  memset (a, 0, sizeof *a);
  for (w = 0; w < c->workers; w++)
    {
      pids[w] = fork_worker (contention_cpus[w % contention_n_cpus]);
      if (pids[w] == 0)
        {
          contention_worker (c, w);
          _exit (0);
        }
    }
  while ((ready = g_atomic_int_get (&a->ready)) < (gint) c->workers)
    word_wait (&a->ready, ready);

  start = now_ns ();
  g_atomic_int_set (&a->go, 1);
  word_wake (&a->go);
  g_usleep (iterations * 1000);
  g_atomic_int_set (&a->stop, 1);
  wait_workers (pids, c->workers);
  alarm (0);

  for (w = 0; w < c->workers; w++)
    {
      total += a->counts[w];
      most = MAX (most, a->counts[w]);
      fewest = MIN (fewest, a->counts[w]);
      end = MAX (end, a->ends[w]);
    }
  if (a->counter != total)
    die ("lost updates under the lock: counter %" G_GUINT64_FORMAT ", expected %"
         G_GUINT64_FORMAT, a->counter, total);
  if (!warming_up)
    {
      /* Counted in chunks of CONTENDED_CHUNK: a process that finished
       * none counts as one acquisition (a finite, very unfair ratio). */
      double fairness = (double) most / (double) MAX (fewest, 1);

      g_array_append_val (c->fairness, fairness);
    }
  return (double) total * 1000.0 / (double) (end - start);
}

static void
free_array (gpointer array)
{
  g_array_unref (array);
}

static Contention *
contention_new (gint     kind,
                gpointer lock,
                guint    workers)
{
  Contention *c = defer_free (g_new0 (Contention, 1));

  c->kind = kind;
  c->lock = lock;
  c->workers = workers;
  c->arena = shared_alloc (sizeof (Arena));
  c->fairness = g_array_new (FALSE, FALSE, sizeof (double));
  defer (free_array, c->fairness);
  return c;
}

/* What finish_contended() needs of each contestant: N, name, fairness. */
typedef struct
{
  const char *key;
  guint       workers;
  Contention *contention;
} Fairness;

static GArray *fairness_of;   /* Fairness, for the row being run */

static void
forget_fairness (gpointer unused)
{
  g_clear_pointer (&fairness_of, g_array_unref);
}

static void
add_contention (GArray     *contestants,
                Series     *series,
                const char *key,
                gint        kind,
                gpointer    lock,
                guint       workers)
{
  Fairness f = { key, workers, contention_new (kind, lock, workers) };

  add_contestant (contestants, series, run_contention, NULL, f.contention);
  g_array_append_val (fairness_of, f);
}

static void
setup_contended_processes (Row    *row,
                           GArray *contestants)
{
  guint i;

  contention_n_cpus = MIN (allowed_cpus (contention_cpus, MAX_WORKERS), MAX_WORKERS);
  fairness_of = g_array_new (FALSE, FALSE, sizeof (Fairness));
  defer (forget_fairness, NULL);
  row_set_placement (row, "N worker processes forked per batch, worker i pinned to the "
                     "i-th allowed CPU modulo %d (CPU %d first); a sleeping start gate; "
                     "%d ms windows", contention_n_cpus, contention_cpus[0],
                     (int) iterations_for (1000));

  for (i = 0; i < G_N_ELEMENTS (worker_counts); i++)
    {
      guint n = worker_counts[i];
      g_autofree char *group = g_strdup_printf ("N = %u", n);
      g_autofree char *ps = g_strdup_printf ("ps-mutex-n%u", n);
      g_autofree char *robust = g_strdup_printf ("glibc-robust-n%u", n);
      g_autofree char *plain = g_strdup_printf ("glibc-plain-n%u", n);
      g_autofree char *boost = g_strdup_printf ("boost-mutex-n%u", n);
      G_GNUC_UNUSED Series *boost_series;

      add_contention (contestants,
                      row_add_group_series (row, group, ps, "PsMutex", KIND_PROCSHARED),
                      "ps_mutex", 0, row_ps_mutex_new (FALSE), n);
      add_contention (contestants,
                      row_add_group_series (row, group, robust,
                                            "glibc pshared robust errorcheck mutex",
                                            KIND_BASELINE),
                      "glibc_robust", 1, row_pthread_mutex_new (TRUE), n);
      add_contention (contestants,
                      row_add_group_series (row, group, plain, "glibc pshared plain mutex",
                                            KIND_BASELINE),
                      "glibc_plain", 1, row_pthread_mutex_new (FALSE), n);
      boost_series = row_add_boost_group_series (row, group, boost,
                                                 "Boost interprocess_mutex");
#ifdef PS_BENCH_HAVE_BOOST
      add_contention (contestants, boost_series, "boost", 2, row_boost_mutex_new (), n);
#endif
    }
}

/* Throughput ≥ glibc's robust mutex, fairness no worse, at N processes. */
static void
contended_targets (Row    *row,
                   guint   n,
                   double  fairness_ratio)
{
  g_autofree char *text = g_strdup_printf ("N = %u: PsMutex ≥ 1.0× glibc robust throughput", n);
  g_autofree char *fair = g_strdup_printf ("N = %u: PsMutex fairness ≤ 1.0× glibc robust's "
                                           "(max/min)", n);
  g_autofree char *ps_id = g_strdup_printf ("ps-mutex-n%u", n);
  g_autofree char *robust_id = g_strdup_printf ("glibc-robust-n%u", n);
  g_autofree char *metric = g_strdup_printf ("fairness_ratio_n%u", n);

  row_target_ratio (row, text, ps_id, robust_id, FALSE, 1.0);
  row_metric (row, metric, fairness_ratio);
  row_target_metric (row, fair, metric, "×", TRUE, 1.0, fairness_ratio);
}

static void
finish_contended_processes (Row *row)
{
  g_autoptr(GString) line = g_string_new (NULL);
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (worker_counts); i++)
    {
      guint n = worker_counts[i];
      double ps = NAN, robust = NAN;

      g_string_printf (line, "N = %u fairness (max/min acquisitions per process, median "
                       "over rounds):", n);
      for (j = 0; fairness_of != NULL && j < fairness_of->len; j++)
        {
          Fairness *f = &g_array_index (fairness_of, Fairness, j);
          g_autofree char *key = NULL;
          double value;

          if (f->workers != n)
            continue;
          value = median_of (f->contention->fairness);
          key = g_strdup_printf ("fairness_%s_n%u", f->key, n);
          row_metric (row, key, value);
          g_string_append_printf (line, " %s %.2f", f->key, value);
          if (g_str_equal (f->key, "ps_mutex"))
            ps = value;
          else if (g_str_equal (f->key, "glibc_robust"))
            robust = value;
        }
      row_note (row, "%s", line->str);
      if (n >= 2)
        contended_targets (row, n, ps / robust);
    }
  row_note (row, "million acquisitions per second of all N processes together, over the "
            "window from the gate opening until the last process stopped; the shared "
            "counter is checked for lost updates");
}

const RowDef ps_bench_row_contended_processes = {
  "contended-processes", "Contended mutex, N processes, fixed windows", "M acquisitions/s",
  TRUE, ROW_LOCAL, 3, 1, 1000, setup_contended_processes, finish_contended_processes, NULL
};

/* Condition broadcast to N waiting processes ----------------------------------------- */

#define BROADCAST_STOP (-1)

typedef struct
{
  gint   waiting;      /* waiters registered for this broadcast (under the mutex) */
  gint   generation;   /* bumped by each broadcast; BROADCAST_STOP: quit */
  gint64 back[MAX_WORKERS];    /* when each was last back, holding the mutex */
  gint64 cpu[MAX_WORKERS];     /* its CPU time in waits, over the batch */
} Broadcast;

typedef enum
{
  BROADCAST_PS,
  BROADCAST_PTHREAD,
  BROADCAST_PTHREAD_ROBUST,
  BROADCAST_BOOST,
} BroadcastKind;

typedef struct
{
  gint        kind;     /* a BroadcastKind */
  gpointer    mutex;
  gpointer    cond;
  guint       waiters;
  Broadcast  *shared;
  Series     *cpu;
} Broadcaster;

static void
bc_lock (Broadcaster *b)
{
  switch (b->kind)
    {
    case BROADCAST_PS:
      ps_lock_or_die (b->mutex);
      break;
#ifdef PS_BENCH_HAVE_BOOST
    case BROADCAST_BOOST:
      check_zero (bench_boost_mutex_lock (b->mutex), "interprocess_mutex::lock");
      break;
#endif
    default:
      check_zero (pthread_mutex_lock (b->mutex), "pthread_mutex_lock");
    }
}

static void
bc_unlock (Broadcaster *b)
{
  switch (b->kind)
    {
    case BROADCAST_PS:
      ps_unlock_or_die (b->mutex);
      break;
#ifdef PS_BENCH_HAVE_BOOST
    case BROADCAST_BOOST:
      check_zero (bench_boost_mutex_unlock (b->mutex), "interprocess_mutex::unlock");
      break;
#endif
    default:
      check_zero (pthread_mutex_unlock (b->mutex), "pthread_mutex_unlock");
    }
}

static void
bc_wait (Broadcaster *b)
{
  switch (b->kind)
    {
    case BROADCAST_PS:
      if (G_UNLIKELY (!ps_cond_wait (b->cond, b->mutex, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_cond_wait failed");
      break;
#ifdef PS_BENCH_HAVE_BOOST
    case BROADCAST_BOOST:
      check_zero (bench_boost_condition_wait (b->cond, b->mutex), "interprocess_condition::wait");
      break;
#endif
    default:
      check_zero (pthread_cond_wait (b->cond, b->mutex), "pthread_cond_wait");
    }
}

static void
bc_broadcast (Broadcaster *b)
{
  switch (b->kind)
    {
    case BROADCAST_PS:
      ps_cond_broadcast (b->cond);
      break;
#ifdef PS_BENCH_HAVE_BOOST
    case BROADCAST_BOOST:
      check_zero (bench_boost_condition_notify_all (b->cond),
                  "interprocess_condition::notify_all");
      break;
#endif
    default:
      check_zero (pthread_cond_broadcast (b->cond), "pthread_cond_broadcast");
    }
}

static void
broadcast_waiter (Broadcaster *b,
                  guint        w)
{
  Broadcast *s = b->shared;

  bc_lock (b);
  for (;;)
    {
      gint generation = s->generation;
      gint64 cpu;

      if (generation == BROADCAST_STOP)
        break;
      if (++s->waiting == (gint) b->waiters)
        word_wake (&s->waiting);
      cpu = cpu_now_ns ();
      while (s->generation == generation)
        bc_wait (b);
      if (s->generation == BROADCAST_STOP)
        break;
      s->back[w] = now_ns ();
      s->cpu[w] += cpu_now_ns () - cpu;
    }
  bc_unlock (b);
}

/* @iterations broadcasts to fresh waiter processes; returns the mean µs
 * from a broadcast until the last waiter holds the mutex. */
static double
run_broadcast (gpointer data,
               guint64  iterations)
{
  Broadcaster *b = data;
  Broadcast *s = b->shared;
  pid_t pids[MAX_WORKERS];
  gint64 latency = 0, cpu = 0, start = 0;
  guint64 i;
  guint w;

  alarm (600);
  memset (s, 0, sizeof *s);
  for (w = 0; w < b->waiters; w++)
    {
      pids[w] = fork_worker (-1);
      if (pids[w] == 0)
        {
          broadcast_waiter (b, w);
          _exit (0);
        }
    }

  for (i = 0; i <= iterations; i++)
    {
      gint waiting;
      gint64 last = 0;

      while ((waiting = g_atomic_int_get (&s->waiting)) != (gint) b->waiters)
        word_wait (&s->waiting, waiting);
      bc_lock (b);
      for (w = 0; i > 0 && w < b->waiters; w++)
        last = MAX (last, s->back[w]);
      latency += i > 0 ? last - start : 0;
      s->waiting = 0;
      if (i == iterations)
        {
          s->generation = BROADCAST_STOP;
          bc_broadcast (b);
          bc_unlock (b);
          break;
        }
      s->generation++;
      cpu -= cpu_now_ns ();
      start = now_ns ();
      bc_broadcast (b);
      bc_unlock (b);
      cpu += cpu_now_ns ();
    }
  wait_workers (pids, b->waiters);
  alarm (0);

  for (w = 0; w < b->waiters; w++)
    cpu += s->cpu[w];
  if (!warming_up)
    series_add (b->cpu, (double) cpu / (double) iterations / 1000.0);
  return (double) latency / (double) iterations / 1000.0;
}

static Broadcaster *
broadcaster_new (gint     kind,
                 gpointer mutex,
                 gpointer cond,
                 guint    waiters,
                 Series  *cpu)
{
  Broadcaster *b = defer_free (g_new0 (Broadcaster, 1));

  b->kind = kind;
  b->mutex = mutex;
  b->cond = cond;
  b->waiters = waiters;
  b->shared = shared_alloc (sizeof (Broadcast));
  b->cpu = cpu;
  return b;
}

/* The mutex and condition of a contestant, living as long as the row. */
static void
broadcast_objects (gint      kind,
                   gpointer *mutex,
                   gpointer *cond)
{
  g_autoptr(GError) error = NULL;

  switch (kind)
    {
    case BROADCAST_PS:
      *mutex = row_ps_mutex_new (FALSE);
      *cond = ps_cond_new (&error);
      check_error (*cond != NULL, error, "ps_cond_new");
      defer_unref (*cond);
      break;
#ifdef PS_BENCH_HAVE_BOOST
    case BROADCAST_BOOST:
      *mutex = row_boost_mutex_new ();
      *cond = shared_alloc (bench_boost_condition_size ());
      if (bench_boost_condition_init (*cond) != 0)
        die ("boost::interprocess::interprocess_condition() failed");
      defer (bench_boost_condition_destroy, *cond);
      break;
#endif
    default:
      *mutex = row_pthread_mutex_new (kind == BROADCAST_PTHREAD_ROBUST);
      *cond = row_pthread_cond_new ();
    }
}

static void
setup_broadcast (Row    *row,
                 GArray *contestants)
{
  static const struct { const char *id, *label; BroadcastKind kind; } kinds[] = {
    { "ps-cond", "PsCond+PsMutex", BROADCAST_PS },
    { "pthread-cond", "pshared pthread cond+plain mutex", BROADCAST_PTHREAD },
    { "pthread-cond-robust", "pshared pthread cond+robust mutex", BROADCAST_PTHREAD_ROBUST },
    { "boost-condition", "Boost interprocess_condition+interprocess_mutex", BROADCAST_BOOST },
  };
  guint i, k, m;

  row_set_placement (row, "one broadcasting process and N waiter processes forked per "
                     "batch, unpinned; the broadcaster sleeps until all N wait");
  for (i = 0; i < G_N_ELEMENTS (worker_counts); i++)
    {
      guint n = worker_counts[i];
      const char *measures[] = { "latency", "CPU time of all" };
      Series *series[2][G_N_ELEMENTS (kinds)];

      for (m = 0; m < 2; m++)
        for (k = 0; k < G_N_ELEMENTS (kinds); k++)
          {
            g_autofree char *group = g_strdup_printf ("N = %u waiters, %s", n, measures[m]);
            g_autofree char *id = g_strdup_printf ("%s-n%u%s", kinds[k].id, n,
                                                   m == 1 ? "-cpu" : "");

            if (kinds[k].kind == BROADCAST_BOOST)
              series[m][k] = row_add_boost_group_series (row, group, id, kinds[k].label);
            else
              series[m][k] = row_add_group_series (row, group, id, kinds[k].label,
                                                   kinds[k].kind == BROADCAST_PS
                                                   ? KIND_PROCSHARED : KIND_BASELINE);
          }
      for (k = 0; k < G_N_ELEMENTS (kinds); k++)
        {
          gpointer mutex, cond;

          if (series[0][k]->skip_reason != NULL)
            continue;
          broadcast_objects (kinds[k].kind, &mutex, &cond);
          add_contestant (contestants, series[0][k], run_broadcast, NULL,
                          broadcaster_new (kinds[k].kind, mutex, cond, n, series[1][k]));
        }
    }
}

static void
finish_broadcast (Row *row)
{
  guint i;

  row_note (row, "latency: µs from the broadcast until the last of N waiters is back "
            "holding the mutex (mean over a batch); CPU: µs of CPU time per broadcast, "
            "of the broadcaster (broadcast+unlock) and of every waiter (from entering its "
            "wait until back holding the mutex), two clock reads each included");
  for (i = 0; i < G_N_ELEMENTS (worker_counts); i++)
    {
      guint n = worker_counts[i];
      g_autofree char *latency = g_strdup_printf ("N = %u: broadcast latency ≤ 1.1× pthread", n);
      g_autofree char *cpu = g_strdup_printf ("N = %u: broadcast CPU ≤ 1.1× pthread", n);
      g_autofree char *ps = g_strdup_printf ("ps-cond-n%u", n);
      g_autofree char *posix = g_strdup_printf ("pthread-cond-n%u", n);
      g_autofree char *ps_cpu = g_strdup_printf ("ps-cond-n%u-cpu", n);
      g_autofree char *posix_cpu = g_strdup_printf ("pthread-cond-n%u-cpu", n);

      row_target_ratio (row, latency, ps, posix, TRUE, 1.1);
      row_target_ratio (row, cpu, ps_cpu, posix_cpu, TRUE, 1.1);
    }
}

const RowDef ps_bench_row_cond_broadcast = {
  "cond-broadcast", "Condition broadcast to N waiting processes", "µs", FALSE,
  ROW_LOCAL, 11, 2, 200, setup_broadcast, finish_broadcast, NULL
};
