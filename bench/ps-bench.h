/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the parts of ps-bench share. ps-bench.c is the harness (options,
 * the order of the rows, --list, --profile, --check, main); a row is a
 * RowDef, defined in the file of its family (ps-bench-mutex.c,
 * -semaphore.c, -cond.c, -shared-memory.c, -python.c; -placement.c,
 * -processes.c and -segments.c for the rows of issue 13) and named in
 * the harness's table. A row's series may come in groups (a second
 * measure of its contestants, or one case of several), each compared
 * only within its group. A row's setup() adds its contestants: one Series each
 * (row_add_series) and the functions that run a batch of it
 * (add_contestant); its finish() adds targets, metrics and notes once
 * the statistics are there. ps-bench-util.c holds the helpers and the
 * interleaved runner, ps-bench-row.c the statistics and the printing,
 * ps-bench-json.c the machine description and the JSON.
 */

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <procshared/procshared.h>

#ifdef PS_BENCH_HAVE_BOOST
# include "bench-boost.h"
#endif

/* Rows, series, targets (ps-bench-row.c) ---------------------------------- */

typedef enum
{
  KIND_PROCSHARED,
  KIND_BASELINE,
} SeriesKind;

typedef struct _Series
{
  char       *id;
  char       *label;
  SeriesKind  kind;
  char       *group;         /* NULL, or a second measure or case of the row
                              * ("CPU time", "N = 4"): compared only within it */
  struct _Series *best;      /* the best baseline of its group */
  char       *skip_reason;   /* not measured, and why */
  GArray     *samples;       /* double: one per round, in round order */
  double      median, p10, p90, p99, mad;
  double      ratio;         /* to the best baseline, round by round */
} Series;

typedef struct
{
  char     *text;
  char     *kind;        /* "ratio" or "value" */
  char     *subject;     /* series id, or NULL for a row metric */
  char     *reference;   /* series id, for "ratio" */
  char     *stat;        /* "median", "p99" or the metric's name */
  char     *unit;
  double    limit;
  gboolean  at_most;
  double    value;
  gboolean  evaluated;
  gboolean  pass;
  char     *why;         /* NULL, or why it missed, in words */
} Target;

typedef struct
{
  char      *key;
  double     value;
} Metric;

typedef struct
{
  char      *id;
  char      *title;
  char      *unit;
  gboolean   higher_is_better;
  GPtrArray *series;    /* Series */
  GPtrArray *targets;   /* Target */
  GPtrArray *metrics;   /* Metric */
  GPtrArray *notes;     /* char */
  Series    *best_baseline;   /* of the group of its first series */
  gboolean   failed;
  char      *placement;       /* where its processes ran */
} Row;

Row    *row_new           (const char *id,
                           const char *title,
                           const char *unit,
                           gboolean    higher_is_better);
void    row_free          (gpointer    data);
Series *row_add_series    (Row        *row,
                           const char *id,
                           const char *label,
                           SeriesKind  kind);
Series *row_find_series   (Row        *row,
                           const char *id);
Series *row_add_group_series (Row        *row,
                              const char *group,
                              const char *id,
                              const char *label,
                              SeriesKind  kind);
void    row_set_placement (Row        *row,
                           const char *format,
                           ...) G_GNUC_PRINTF (2, 3);
void    row_note          (Row        *row,
                           const char *format,
                           ...) G_GNUC_PRINTF (2, 3);
void    row_metric        (Row        *row,
                           const char *key,
                           double      value);
void    series_add        (Series     *series,
                           double      value);
double  median_of         (GArray     *values);   /* of doubles; NAN if empty */
double  ratio_of          (Series     *subject,
                           Series     *reference);
void    row_finish        (Row        *row);
void    row_target_ratio  (Row        *row,
                           const char *text,
                           const char *subject,
                           const char *reference,
                           gboolean    at_most,
                           double      limit);
void    row_target_stat   (Row        *row,
                           const char *text,
                           const char *subject,
                           const char *stat,
                           gboolean    at_most,
                           double      limit);
void    row_target_metric (Row        *row,
                           const char *text,
                           const char *metric,
                           const char *unit,
                           gboolean    at_most,
                           double      limit,
                           double      value);
/* Why the target added last missed: printed under its MISS, and kept in
 * the JSON. */
void    row_target_why    (Row        *row,
                           const char *format,
                           ...) G_GNUC_PRINTF (2, 3);
/* The 10th and 90th percentiles of the round-by-round ratios of two
 * series (NAN unless both ran in the same rounds). */
void    series_ratio_spread (Series   *subject,
                             Series   *reference,
                             double   *p10,
                             double   *p90);

void    print_padded      (const char *text,
                           glong       width);
void    format_number     (char       *buffer,
                           gsize       size,
                           double      value);
void    row_print         (Row        *row);

/* Contestants and row registration ------------------------------------------ */

/* Runs one batch of @iterations and returns its value in the row's unit. */
typedef double (*RunFunc)  (gpointer data, guint64 iterations);
/* The other process's half of a two-process batch. */
typedef void   (*PeerFunc) (gpointer data, guint64 iterations);

typedef struct
{
  Series   *series;
  RunFunc   run;
  PeerFunc  peer;
  gpointer  data;
} Contestant;

void add_contestant (GArray   *contestants,
                     Series   *series,
                     RunFunc   run,
                     PeerFunc  peer,
                     gpointer  data);

typedef enum
{
  ROW_LOCAL,   /* one process (maybe with threads) */
  ROW_PAIR,    /* with a forked peer process */
  ROW_PINNED_PAIR,   /* the same, the two processes on two different CPUs */
  ROW_CUSTOM,
} RowMode;

typedef struct
{
  const char *id;
  const char *title;
  const char *unit;
  gboolean    higher_is_better;
  RowMode     mode;
  guint       rounds;
  guint       quick_rounds;
  guint64     iterations;   /* per batch; scaled down by --quick */
  void      (*setup)  (Row *row, GArray *contestants);
  void      (*finish) (Row *row);
  void      (*custom) (Row *row, guint rounds, guint64 iterations);
} RowDef;

/* The rows, in the harness's order. */
extern const RowDef ps_bench_row_lock_unlock;       /* ps-bench-mutex.c */
extern const RowDef ps_bench_row_contended;
extern const RowDef ps_bench_row_create_drop;
extern const RowDef ps_bench_row_acquire_release;   /* ps-bench-semaphore.c */
extern const RowDef ps_bench_row_sem_ping_pong;
extern const RowDef ps_bench_row_timed_wait;
extern const RowDef ps_bench_row_cancel;
extern const RowDef ps_bench_row_cond_handshake;    /* ps-bench-cond.c */
extern const RowDef ps_bench_row_variant_1k;        /* ps-bench-shared-memory.c */
extern const RowDef ps_bench_row_variant_1m;
extern const RowDef ps_bench_row_variant_sizes;
extern const RowDef ps_bench_row_python_lock;       /* ps-bench-python.c */
extern const RowDef ps_bench_row_async_pending;     /* ps-bench-async.c */
extern const RowDef ps_bench_row_python_records;
extern const RowDef ps_bench_row_ping_pong_one_cpu; /* ps-bench-placement.c */
extern const RowDef ps_bench_row_ping_pong_apart;
extern const RowDef ps_bench_row_ping_pong_fresh;
extern const RowDef ps_bench_row_contended_processes;   /* ps-bench-processes.c */
extern const RowDef ps_bench_row_cond_broadcast;
extern const RowDef ps_bench_row_segment_sizes;         /* ps-bench-segments.c */
extern const RowDef ps_bench_row_segments_open;

/* The semaphore ping-pong contestants (ps-bench-semaphore.c), which the
 * placement rows (ps-bench-placement.c) run under other placements. */
void setup_ping_pong (Row    *row,
                      GArray *contestants);
/* Runs the ping-pong contestants @setup adds with both processes pinned
 * to one CPU, or @apart on two, each batch timed in wall and CPU time
 * (ps-bench-placement.c). */
void run_ping_pong_placed (Row      *row,
                           guint     rounds,
                           guint64   iterations,
                           gboolean  apart,
                           void    (*setup) (Row *row, GArray *contestants));
extern const RowDef ps_bench_row_rw_lock;           /* ps-bench-rw-lock.c */
extern const RowDef ps_bench_row_rw_readers;
extern const RowDef ps_bench_row_event_ping_pong;   /* ps-bench-rendezvous.c */
extern const RowDef ps_bench_row_barrier_round;
extern const RowDef ps_bench_row_event_broadcast;
extern const RowDef ps_bench_row_queue_ping_pong_64_one_cpu;   /* ps-bench-queue.c */
extern const RowDef ps_bench_row_queue_ping_pong_64_apart;
extern const RowDef ps_bench_row_queue_ping_pong_4k_one_cpu;
extern const RowDef ps_bench_row_queue_ping_pong_4k_apart;
extern const RowDef ps_bench_row_queue_throughput_1;
extern const RowDef ps_bench_row_queue_throughput_4;
extern const RowDef ps_bench_row_python_queue;      /* ps-bench-python.c */

/* Scales a row's normal batch size down for --quick (ps-bench.c). */
guint64 iterations_for (guint64 normal);

/* Helpers (ps-bench-util.c) -------------------------------------------------- */

G_GNUC_NORETURN void die (const char *format,
                          ...) G_GNUC_PRINTF (1, 2);

/* Inline, as die() is not: some timed loops check every call. */
static inline void
check_error (gboolean    ok,
             GError     *error,
             const char *what)
{
  if (G_UNLIKELY (!ok))
    die ("%s failed: %s", what, error != NULL ? error->message : "(no error set)");
}

static inline void
check_zero (int         r,
            const char *what)
{
  if (G_UNLIKELY (r != 0))
    die ("%s failed: %s", what, g_strerror (r > 0 ? r : errno));
}

static inline gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static inline double
ns_per_op_since (gint64  start,
                 guint64 iterations)
{
  return (double) (now_ns () - start) / (double) iterations;
}

/* What a row set up is released once the row is done (run_cleanups), in
 * reverse order. */
void     defer          (GDestroyNotify func,
                         gpointer       data);
void     run_cleanups   (void);
gpointer shared_map     (gsize          size);
gpointer shared_alloc   (gsize          size);   /* lives as long as the row */
gpointer defer_unref    (gpointer       object);
gpointer defer_free     (gpointer       memory);

/* A Boost baseline's series: skipped when built without Boost. */
Series *row_add_boost_series (Row        *row,
                              const char *id,
                              const char *label);
Series *row_add_boost_group_series (Row        *row,
                                    const char *group,
                                    const char *id,
                                    const char *label);

/* Objects that live as long as the row. */
PsMutex         *row_ps_mutex_new      (gboolean recursive);
pthread_mutex_t *row_pthread_mutex_new (gboolean robust);
/* pthread_mutex_lock+unlock of @data, a pthread_mutex_t, @iterations
 * times: ns per pair. */
double           run_pthread_mutex     (gpointer  data,
                                        guint64   iterations);
#ifdef PS_BENCH_HAVE_BOOST
gpointer         row_boost_mutex_new   (void);   /* an interprocess_mutex */
#endif

/* A process-shared pthread_cond_t (CLOCK_MONOTONIC) in shared memory that
 * lives as long as the row (ps-bench-cond.c). */
pthread_cond_t  *row_pthread_cond_new  (void);

/* Locks @lock, bumps *@counter and unlocks, @n times: @kind 0 is a
 * PsMutex, 1 a pthread mutex, 2 a Boost interprocess_mutex
 * (ps-bench-mutex.c). */
void lock_chunk (gint      kind,
                 gpointer  lock,
                 guint64  *counter,
                 guint     n);

/* Inline: the contended and handshake rows call them in their timed loops. */
static inline void
ps_lock_or_die (PsMutex *mutex)
{
  if (G_UNLIKELY (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL)))
    die ("ps_mutex_lock failed");
}

static inline void
ps_unlock_or_die (PsMutex *mutex)
{
  if (G_UNLIKELY (!ps_mutex_unlock (mutex, NULL)))
    die ("ps_mutex_unlock failed");
}

/* A two-party barrier in shared memory. */
typedef struct
{
  gint count;
  gint generation;
} Barrier;

void barrier_wait (Barrier *barrier);

/* Set during the warm-up batches (round 0) of run_interleaved(): what a
 * contestant records beside its return value (a second series, a
 * metric) must skip them as run_interleaved() skips their values. */
extern gboolean warming_up;
/* Set by --profile: a contestant that scales its batches (by record or
 * segment size) runs exactly the iterations asked for instead, so that
 * instructions per iteration are per operation. */
extern gboolean profiling;

/* Set while a two-process row runs: the barrier before each batch. */
extern Barrier *pair_barrier;
extern gint     pinned_cpus[2];

gboolean choose_two_cpus (void);
void     pin_to          (gint cpu);

/* Sleeping waits, for the rows whose barriers must not keep a CPU busy:
 * word_wait() sleeps while *word is @value, word_wake() wakes every
 * sleeper; sleeping_barrier_wait() is barrier_wait() for @parties
 * processes, asleep in the kernel while it waits. */
void     word_wait             (gint    *word,
                                gint     value);
void     word_wake             (gint    *word);
void     sleeping_barrier_wait (Barrier *barrier,
                                gint     parties);

/* CPU time of the calling process so far, in ns (every thread). */
gint64   cpu_now_ns            (void);

/* The CPUs this process may run on: their number, the first @max in @cpus. */
gint     allowed_cpus          (gint    *cpus,
                                gint     max);
/* Forks a worker (pinned to @cpu unless it is -1), which dies with its
 * parent; returns its pid in the parent and 0 in the worker. */
pid_t    fork_worker           (gint     cpu);
/* Waits for the workers; dies if one of them failed. */
void     wait_workers          (pid_t   *pids,
                                guint    n);

gint count_fds      (void);
gint count_mappings (void);

void run_interleaved      (GArray   *contestants,
                           guint     rounds,
                           guint64   iterations);
void run_interleaved_pair (GArray   *contestants,
                           guint     rounds,
                           guint64   iterations,
                           gboolean  pin);

/* Python (ps-bench-python.c) ----------------------------------------------- */

const char  *python_program    (void);
const char  *bench_script      (const char *name);   /* "PYTHON_SCRIPT", "CHART_SCRIPT" */
char       **child_environment (void);
/* The Python row was to run (a Python and its script were configured)
 * and failed. */
gboolean     python_row_failed (void);

/* Machine and JSON (ps-bench-json.c) ---------------------------------------- */

typedef struct
{
  char *cpu;
  char *kernel;
  char *glibc;
  char *glib;
  char *boost;
  char *compiler;
  char *buildtype;
  char *backend;
  char *date;
  guint cores;
} Machine;

void     machine_init  (Machine     *m);
void     machine_clear (Machine     *m);
gboolean write_json    (const char  *path,
                        Machine     *m,
                        gboolean     quick,
                        GPtrArray   *rows,
                        GError     **error);
