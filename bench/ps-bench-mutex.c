/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The PsMutex rows of ps-bench: uncontended lock+unlock, contended
 * throughput of two processes on one lock, and creating and dropping
 * anonymous mutexes.
 */

#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "ps-bench.h"

/* Uncontended lock+unlock ---------------------------------------------------- */

static double
run_ps_mutex (gpointer data,
              guint64  iterations)
{
  PsMutex *mutex = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL)))
        die ("ps_mutex_lock failed");
      if (G_UNLIKELY (!ps_mutex_unlock (mutex, NULL)))
        die ("ps_mutex_unlock failed");
    }
  return ns_per_op_since (start, iterations);
}

double
run_pthread_mutex (gpointer data,
                   guint64  iterations)
{
  pthread_mutex_t *mutex = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (G_UNLIKELY (pthread_mutex_lock (mutex) != 0))
        die ("pthread_mutex_lock failed");
      if (G_UNLIKELY (pthread_mutex_unlock (mutex) != 0))
        die ("pthread_mutex_unlock failed");
    }
  return ns_per_op_since (start, iterations);
}

#ifdef PS_BENCH_HAVE_BOOST
static double
run_boost_mutex (gpointer data,
                 guint64  iterations)
{
  gint64 start = now_ns ();

  if (bench_boost_mutex_run (data, iterations) != 0)
    die ("boost::interprocess::interprocess_mutex failed");
  return ns_per_op_since (start, iterations);
}
#endif

static void
setup_lock_unlock (Row    *row,
                   GArray *contestants)
{
  PsMutex *mutex = row_ps_mutex_new (FALSE);
  PsMutex *recursive = row_ps_mutex_new (TRUE);
  pthread_mutex_t *robust = row_pthread_mutex_new (TRUE);
  pthread_mutex_t *plain = row_pthread_mutex_new (FALSE);
  G_GNUC_UNUSED Series *boost;

  add_contestant (contestants, row_add_series (row, "ps-mutex", "PsMutex", KIND_PROCSHARED),
                  run_ps_mutex, NULL, mutex);
  add_contestant (contestants,
                  row_add_series (row, "ps-mutex-recursive", "PsMutex (recursive)", KIND_PROCSHARED),
                  run_ps_mutex, NULL, recursive);
  add_contestant (contestants,
                  row_add_series (row, "glibc-robust",
                                  "glibc pshared robust errorcheck mutex", KIND_BASELINE),
                  run_pthread_mutex, NULL, robust);
  add_contestant (contestants,
                  row_add_series (row, "glibc-plain", "glibc pshared plain mutex", KIND_BASELINE),
                  run_pthread_mutex, NULL, plain);
  boost = row_add_boost_series (row, "boost-mutex", "Boost interprocess_mutex");
#ifdef PS_BENCH_HAVE_BOOST
  add_contestant (contestants, boost, run_boost_mutex, NULL, row_boost_mutex_new ());
#endif
}

static void
finish_lock_unlock (Row *row)
{
  row_target_ratio (row, "PsMutex ≤ 1.3× glibc robust mutex",
                    "ps-mutex", "glibc-robust", TRUE, 1.3);
  row_target_ratio (row, "recursive PsMutex ≤ 1.3× glibc robust mutex",
                    "ps-mutex-recursive", "glibc-robust", TRUE, 1.3);
}

const RowDef ps_bench_row_lock_unlock = {
  "lock-unlock", "Uncontended lock+unlock", "ns/op", FALSE, ROW_LOCAL,
  101, 3, 20000, setup_lock_unlock, finish_lock_unlock, NULL
};

/* Contended throughput ------------------------------------------------------------ */

/* Both processes lock, bump a shared counter and unlock, in chunks, until
 * the parent's time window closes; the counter checks that no increment
 * was lost, i.e. that the lock excluded. */
#define HAMMER_CHUNK 32

typedef struct
{
  gint     stop;
  guint64  peer_count;
  guint64  peer_switches;
  guint64  counter;
  gint     kind;   /* 0 PsMutex, 1 pthread, 2 Boost */
  gpointer lock;
  /* Totals over all batches: how often the processes slept. */
  guint64  acquisitions;
  guint64  switches;
} Hammer;

static Hammer *hammers[4];

static guint64
context_switches (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return (guint64) usage.ru_nvcsw + (guint64) usage.ru_nivcsw;
}

/* Also the contended row of N processes (ps-bench-processes.c). */
void
lock_chunk (gint      kind,
            gpointer  lock,
            guint64  *counter,
            guint     n)
{
  guint i;

  switch (kind)
    {
    case 0:
      for (i = 0; i < n; i++)
        {
          ps_lock_or_die (lock);
          (*counter)++;
          ps_unlock_or_die (lock);
        }
      break;
    case 1:
      for (i = 0; i < n; i++)
        {
          check_zero (pthread_mutex_lock (lock), "pthread_mutex_lock");
          (*counter)++;
          check_zero (pthread_mutex_unlock (lock), "pthread_mutex_unlock");
        }
      break;
#ifdef PS_BENCH_HAVE_BOOST
    case 2:
      if (bench_boost_mutex_hammer (lock, counter, n) != 0)
        die ("boost::interprocess::interprocess_mutex failed");
      break;
#endif
    default:
      g_assert_not_reached ();
    }
}

static void
hammer_chunk (Hammer *h)
{
  lock_chunk (h->kind, h->lock, &h->counter, HAMMER_CHUNK);
}

static double
run_hammer (gpointer data,
            guint64  iterations)
{
  Hammer *h = data;
  gint64 start, end, deadline;
  guint64 own = 0, total, switches;

  h->counter = 0;
  g_atomic_int_set (&h->stop, 0);
  barrier_wait (pair_barrier);   /* both start together */
  switches = context_switches ();
  start = now_ns ();
  deadline = start + (gint64) iterations * 1000000;   /* a window of @iterations ms */
  do
    {
      hammer_chunk (h);
      own += HAMMER_CHUNK;
    }
  while (now_ns () < deadline);
  g_atomic_int_set (&h->stop, 1);
  barrier_wait (pair_barrier);   /* the peer has finished its last chunk */
  end = now_ns ();
  switches = context_switches () - switches;

  total = own + h->peer_count;
  h->acquisitions += total;
  h->switches += switches + h->peer_switches;
  if (h->counter != total)
    die ("lost updates under the lock: counter %" G_GUINT64_FORMAT ", expected %"
         G_GUINT64_FORMAT, h->counter, total);
  return (double) total * 1000.0 / (double) (end - start);   /* million per second */
}

static void
peer_hammer (gpointer data,
             guint64  iterations)
{
  Hammer *h = data;
  guint64 own = 0, switches;

  barrier_wait (pair_barrier);
  switches = context_switches ();
  while (!g_atomic_int_get (&h->stop))
    {
      hammer_chunk (h);
      own += HAMMER_CHUNK;
    }
  h->peer_count = own;
  h->peer_switches = context_switches () - switches;
  barrier_wait (pair_barrier);
}

static void
forget_hammers (gpointer unused)
{
  memset (hammers, 0, sizeof hammers);
}

static Hammer *
hammer_new (gint     kind,
            gpointer lock)
{
  Hammer *h = shared_alloc (sizeof (Hammer));

  h->kind = kind;
  h->lock = lock;
  hammers[kind == 1 && hammers[1] != NULL ? 3 : kind] = h;
  return h;
}

static void
setup_contended (Row    *row,
                 GArray *contestants)
{
  PsMutex *mutex = row_ps_mutex_new (FALSE);
  pthread_mutex_t *robust, *plain;
  G_GNUC_UNUSED Series *boost;

  defer (forget_hammers, NULL);
  robust = row_pthread_mutex_new (TRUE);
  plain = row_pthread_mutex_new (FALSE);

  add_contestant (contestants, row_add_series (row, "ps-mutex", "PsMutex", KIND_PROCSHARED),
                  run_hammer, peer_hammer, hammer_new (0, mutex));
  add_contestant (contestants,
                  row_add_series (row, "glibc-robust",
                                  "glibc pshared robust errorcheck mutex", KIND_BASELINE),
                  run_hammer, peer_hammer, hammer_new (1, robust));
  add_contestant (contestants,
                  row_add_series (row, "glibc-plain", "glibc pshared plain mutex", KIND_BASELINE),
                  run_hammer, peer_hammer, hammer_new (1, plain));
  boost = row_add_boost_series (row, "boost-mutex", "Boost interprocess_mutex");
#ifdef PS_BENCH_HAVE_BOOST
  add_contestant (contestants, boost, run_hammer, peer_hammer,
                  hammer_new (2, row_boost_mutex_new ()));
#endif
}

static void
finish_contended (Row *row)
{
  static const char *keys[] = { "ps_mutex", "glibc_robust", "boost", "glibc_plain" };
  guint i;

  /* Sleeping is what makes a contended lock slow: report how often. */
  for (i = 0; i < G_N_ELEMENTS (hammers); i++)
    if (hammers[i] != NULL && hammers[i]->acquisitions > 0)
      {
        g_autofree char *key = g_strdup_printf ("%s_context_switches_per_1k", keys[i]);

        row_metric (row, key, 1000.0 * hammers[i]->switches / hammers[i]->acquisitions);
      }
  row_note (row, "two processes, pinned to two CPUs, lock, bump a shared counter and unlock "
            "for %d ms windows; the counter is checked for lost updates",
            (int) iterations_for (20));
  row_target_ratio (row, "contended PsMutex ≥ 0.9× glibc robust mutex",
                    "ps-mutex", "glibc-robust", FALSE, 0.9);
}

const RowDef ps_bench_row_contended = {
  "contended", "Contended throughput, two processes on one lock", "M acquisitions/s",
  TRUE, ROW_PINNED_PAIR, 41, 3, 20, setup_contended, finish_contended, NULL
};

/* Creating and dropping anonymous mutexes ----------------------------------------- */

#define CREATE_OBJECTS 1000

typedef struct
{
  gboolean  procshared;
  gpointer  objects[CREATE_OBJECTS];
  gint      max_fds;        /* held while the objects lived, beyond the baseline */
  gint      max_mappings;
} Creation;

static double
run_create (gpointer data,
            guint64  iterations)
{
  Creation *c = data;
  pthread_mutexattr_t attr;
  gint64 elapsed = 0;
  guint64 r;
  guint i;

  check_zero (pthread_mutexattr_init (&attr), "pthread_mutexattr_init");
  check_zero (pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED), "setpshared");
  check_zero (pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST), "setrobust");
  check_zero (pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK), "settype");

  for (r = 0; r < iterations; r++)
    {
      gint fds_before = count_fds ();
      gint mappings_before = count_mappings ();
      gint64 start;

      /* Created, counted while alive (not timed), dropped. */
      start = now_ns ();
      for (i = 0; i < CREATE_OBJECTS; i++)
        {
          if (c->procshared)
            {
              g_autoptr(GError) error = NULL;

              c->objects[i] = ps_mutex_new (&error);
              check_error (c->objects[i] != NULL, error, "ps_mutex_new");
            }
          else
            {
              c->objects[i] = shared_map (sizeof (pthread_mutex_t));
              check_zero (pthread_mutex_init (c->objects[i], &attr), "pthread_mutex_init");
            }
        }
      elapsed += now_ns () - start;

      c->max_fds = MAX (c->max_fds, count_fds () - fds_before);
      c->max_mappings = MAX (c->max_mappings, count_mappings () - mappings_before);

      start = now_ns ();
      for (i = 0; i < CREATE_OBJECTS; i++)
        {
          if (c->procshared)
            g_object_unref (c->objects[i]);
          else
            {
              pthread_mutex_destroy (c->objects[i]);
              munmap (c->objects[i], sizeof (pthread_mutex_t));
            }
        }
      elapsed += now_ns () - start;
    }

  pthread_mutexattr_destroy (&attr);
  return (double) elapsed / (double) (iterations * CREATE_OBJECTS) / 1000.0;
}

static Creation *ps_creation, *mmap_creation;

static void
setup_create (Row    *row,
              GArray *contestants)
{
  ps_creation = defer_free (g_new0 (Creation, 1));
  ps_creation->procshared = TRUE;
  mmap_creation = defer_free (g_new0 (Creation, 1));

  add_contestant (contestants,
                  row_add_series (row, "ps-mutex-new", "ps_mutex_new + unref", KIND_PROCSHARED),
                  run_create, NULL, ps_creation);
  add_contestant (contestants,
                  row_add_series (row, "mmap-robust-mutex",
                                  "mmap + robust pthread_mutex_init each", KIND_BASELINE),
                  run_create, NULL, mmap_creation);
}

static void
finish_create (Row *row)
{
  Series *ps = row_find_series (row, "ps-mutex-new");
  double fds = ps_creation->max_fds * 64.0 / CREATE_OBJECTS;
  double mappings = ps_creation->max_mappings * 64.0 / CREATE_OBJECTS;

  row_metric (row, "ps_fds_held", ps_creation->max_fds);
  row_metric (row, "ps_mappings_held", ps_creation->max_mappings);
  row_metric (row, "ps_fds_per_64", fds);
  row_metric (row, "ps_mappings_per_64", mappings);
  row_metric (row, "mmap_fds_held", mmap_creation->max_fds);
  row_metric (row, "mmap_mappings_held", mmap_creation->max_mappings);
  row_note (row, "%d mutexes created, counted while alive, then dropped; µs per object, "
            "creation and drop together", CREATE_OBJECTS);
  row_target_stat (row, "anonymous creation ≤ 2 µs per object", "ps-mutex-new", "median",
                   TRUE, 2.0);
  row_target_metric (row, "≤ 1 file descriptor per 64 objects", "ps_fds_per_64", "fd/64",
                     TRUE, 1.0, ps != NULL && ps->samples->len > 0 ? fds : NAN);
  row_target_metric (row, "≤ 1 mapping per 64 objects", "ps_mappings_per_64", "map/64",
                     TRUE, 1.0, ps != NULL && ps->samples->len > 0 ? mappings : NAN);
}

const RowDef ps_bench_row_create_drop = {
  "create-drop", "Creating and dropping 1000 anonymous mutexes", "µs/object", FALSE,
  ROW_LOCAL, 31, 3, 1, setup_create, finish_create, NULL
};
