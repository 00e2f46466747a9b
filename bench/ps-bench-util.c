/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps-bench's helpers: failing loudly, what a row releases when it is
 * done, shared memory, pthread objects, the two-process barrier, and the
 * runner that interleaves a row's contestants round by round.
 */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps-bench.h"

/* Helpers ------------------------------------------------------------------ */

void
die (const char *format,
     ...)
{
  va_list args;

  va_start (args, format);
  fprintf (stderr, "ps-bench: ");
  vfprintf (stderr, format, args);
  fprintf (stderr, "\n");
  va_end (args);
  /* _exit: a forked peer must not run the parent's atexit handlers. */
  fflush (stdout);
  _exit (1);
}

/* What a row set up is released once the row is done, in reverse order,
 * so that rows do not pile up objects and mappings for the next ones, and
 * the sanitizers see no leak. */
typedef struct
{
  GDestroyNotify func;
  gpointer       data;
} Cleanup;

static GArray *cleanups;

void
defer (GDestroyNotify func,
       gpointer       data)
{
  Cleanup cleanup = { func, data };

  if (cleanups == NULL)
    cleanups = g_array_new (FALSE, FALSE, sizeof (Cleanup));
  g_array_append_val (cleanups, cleanup);
}

void
run_cleanups (void)
{
  while (cleanups != NULL && cleanups->len > 0)
    {
      Cleanup cleanup = g_array_index (cleanups, Cleanup, cleanups->len - 1);

      g_array_set_size (cleanups, cleanups->len - 1);
      cleanup.func (cleanup.data);
    }
  g_clear_pointer (&cleanups, g_array_unref);
}

gpointer
shared_map (gsize size)
{
  gpointer p = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  if (p == MAP_FAILED)
    die ("mmap of %" G_GSIZE_FORMAT " bytes failed: %s", size, g_strerror (errno));
  return p;
}

typedef struct
{
  gpointer address;
  gsize    size;
} Mapping;

static void
mapping_free (gpointer data)
{
  Mapping *mapping = data;

  munmap (mapping->address, mapping->size);
  g_free (mapping);
}

/* Shared memory that lives as long as the row. */
gpointer
shared_alloc (gsize size)
{
  Mapping *mapping = g_new0 (Mapping, 1);

  mapping->address = shared_map (size);
  mapping->size = size;
  defer (mapping_free, mapping);
  return mapping->address;
}

gpointer
defer_unref (gpointer object)
{
  defer (g_object_unref, object);
  return object;
}

gpointer
defer_free (gpointer memory)
{
  defer (g_free, memory);
  return memory;
}

static void
init_pthread_mutex (pthread_mutex_t *mutex,
                    gboolean         robust,
                    int              type)
{
  pthread_mutexattr_t attr;

  check_zero (pthread_mutexattr_init (&attr), "pthread_mutexattr_init");
  check_zero (pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED), "setpshared");
  if (robust)
    check_zero (pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST), "setrobust");
  check_zero (pthread_mutexattr_settype (&attr, type), "settype");
  check_zero (pthread_mutex_init (mutex, &attr), "pthread_mutex_init");
  pthread_mutexattr_destroy (&attr);
}

/* A Boost baseline's series: skipped when built without Boost. */
Series *
row_add_boost_series (Row        *row,
                      const char *id,
                      const char *label)
{
  return row_add_boost_group_series (row, NULL, id, label);
}

Series *
row_add_boost_group_series (Row        *row,
                            const char *group,
                            const char *id,
                            const char *label)
{
  Series *series = row_add_group_series (row, group, id, label, KIND_BASELINE);

#ifndef PS_BENCH_HAVE_BOOST
  series->skip_reason = g_strdup ("built without Boost");
#endif
  return series;
}

#ifdef PS_BENCH_HAVE_BOOST
/* An interprocess_mutex that lives as long as the row. */
gpointer
row_boost_mutex_new (void)
{
  gpointer memory = shared_alloc (bench_boost_mutex_size ());

  if (bench_boost_mutex_init (memory) != 0)
    die ("boost::interprocess::interprocess_mutex() failed");
  defer (bench_boost_mutex_destroy, memory);
  return memory;
}
#endif

/* A PsMutex, plain or recursive, that lives as long as the row. */
PsMutex *
row_ps_mutex_new (gboolean recursive)
{
  g_autoptr(GError) error = NULL;
  PsMutex *mutex = recursive ? ps_mutex_new_recursive (&error) : ps_mutex_new (&error);

  check_error (mutex != NULL, error, recursive ? "ps_mutex_new_recursive" : "ps_mutex_new");
  return defer_unref (mutex);
}

/* A process-shared pthread mutex in shared memory that lives as long as
 * the row: robust and error-checking, or plain. */
pthread_mutex_t *
row_pthread_mutex_new (gboolean robust)
{
  pthread_mutex_t *mutex = shared_alloc (sizeof *mutex);

  init_pthread_mutex (mutex, robust, robust ? PTHREAD_MUTEX_ERRORCHECK : PTHREAD_MUTEX_NORMAL);
  return mutex;
}

/* A two-party barrier in shared memory, used only outside timed regions
 * (and at the end of the contended row, where waiting for the peer to
 * finish is part of what is timed). */
void
barrier_wait (Barrier *barrier)
{
  gint generation = g_atomic_int_get (&barrier->generation);
  guint spins = 0;

  if (g_atomic_int_add (&barrier->count, 1) == 1)
    {
      g_atomic_int_set (&barrier->count, 0);
      g_atomic_int_inc (&barrier->generation);
      return;
    }
  while (g_atomic_int_get (&barrier->generation) == generation)
    if (++spins > 64)
      sched_yield ();
}

/* Sleeping waits ---------------------------------------------------------------- */

void
word_wait (gint *word,
           gint  value)
{
  while (g_atomic_int_get (word) == value)
    if (syscall (SYS_futex, word, FUTEX_WAIT, value, NULL, NULL, 0) != 0 &&
        errno != EAGAIN && errno != EINTR)
      die ("futex wait failed: %s", g_strerror (errno));
}

void
word_wake (gint *word)
{
  if (syscall (SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0) < 0)
    die ("futex wake failed: %s", g_strerror (errno));
}

void
sleeping_barrier_wait (Barrier *barrier,
                       gint     parties)
{
  gint generation = g_atomic_int_get (&barrier->generation);

  if (g_atomic_int_add (&barrier->count, 1) == parties - 1)
    {
      g_atomic_int_set (&barrier->count, 0);
      g_atomic_int_inc (&barrier->generation);
      word_wake (&barrier->generation);
      return;
    }
  word_wait (&barrier->generation, generation);
}

gint64
cpu_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Processes ------------------------------------------------------------------------ */

gint
allowed_cpus (gint *cpus,
              gint  max)
{
  cpu_set_t set;
  gint cpu, found = 0;

  if (sched_getaffinity (0, sizeof set, &set) != 0)
    die ("sched_getaffinity failed: %s", g_strerror (errno));
  for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET (cpu, &set))
      {
        if (found < max)
          cpus[found] = cpu;
        found++;
      }
  return found;
}

pid_t
fork_worker (gint cpu)
{
  pid_t pid;

  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    die ("fork failed: %s", g_strerror (errno));
  if (pid == 0)
    {
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (cpu >= 0)
        pin_to (cpu);
    }
  return pid;
}

void
wait_workers (pid_t *pids,
              guint  n)
{
  guint i;

  for (i = 0; i < n; i++)
    {
      int status = 0;

      if (waitpid (pids[i], &status, 0) != pids[i])
        die ("waitpid failed: %s", g_strerror (errno));
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        die ("a worker process failed (status 0x%x)", status);
    }
}

/* What a process holds: entries in /proc/self/fd and lines of
 * /proc/self/maps. */
gint
count_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  gint n = 0;

  if (dir == NULL)
    return -1;
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.')
      n++;
  closedir (dir);
  return n;
}

gint
count_mappings (void)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  gint n = 0;
  gsize i;

  if (!g_file_get_contents ("/proc/self/maps", &contents, &length, NULL))
    return -1;
  for (i = 0; i < length; i++)
    if (contents[i] == '\n')
      n++;
  return n;
}

/* Running contestants ------------------------------------------------------- */

Barrier *pair_barrier;
gboolean warming_up;
gboolean profiling;

void
add_contestant (GArray   *contestants,
                Series   *series,
                RunFunc   run,
                PeerFunc  peer,
                gpointer  data)
{
  Contestant contestant = { series, run, peer, data };

  g_array_append_val (contestants, contestant);
}

/* Round r starts with contestant r mod n, so that none always runs right
 * after the same other one. Round 0 is a warm-up and is not recorded.
 * The peer process walks the same schedule, so the two stay in step
 * without any other signalling than the barrier before each batch. */
static void
run_rounds (GArray   *contestants,
            guint     rounds,
            guint64   iterations,
            gboolean  peer_side)
{
  guint n = contestants->len;
  guint r, k;

  for (r = 0; r <= rounds; r++)
    {
      guint64 batch = r == 0 ? MAX (iterations / 10, 1) : iterations;

      for (k = 0; k < n; k++)
        {
          Contestant *c = &g_array_index (contestants, Contestant, (r + k) % n);
          double value;

          if (pair_barrier != NULL)
            barrier_wait (pair_barrier);
          warming_up = r == 0;
          if (peer_side)
            {
              c->peer (c->data, batch);
              continue;
            }
          value = c->run (c->data, batch);
          warming_up = FALSE;
          if (r > 0)
            series_add (c->series, value);
        }
    }
}

void
run_interleaved (GArray  *contestants,
                 guint    rounds,
                 guint64  iterations)
{
  run_rounds (contestants, rounds, iterations, FALSE);
}

/* The contended row pins its two processes to two different CPUs: left
 * to the scheduler, they often share one CPU and take turns, and the lock
 * is then hardly contended at all (throughput swings by 3× from run to
 * run). The ping-pong rows are not pinned: there the scheduler moving a
 * woken process next to its waker is what users get, and pinned
 * cross-CPU wake-ups on a virtual machine cost ~35 µs each, which would
 * drown the primitives in the hypervisor's latency. Returns FALSE,
 * pinning nothing, when fewer than two CPUs are available. */
static cpu_set_t saved_affinity;
gint             pinned_cpus[2] = { -1, -1 };

gboolean
choose_two_cpus (void)
{
  gint cpu, found = 0;

  if (sched_getaffinity (0, sizeof saved_affinity, &saved_affinity) != 0)
    return FALSE;
  for (cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
    if (CPU_ISSET (cpu, &saved_affinity))
      pinned_cpus[found++] = cpu;
  return found == 2;
}

void
pin_to (gint cpu)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  if (sched_setaffinity (0, sizeof set, &set) != 0)
    die ("sched_setaffinity failed: %s", g_strerror (errno));
}

/* The same, with a forked peer process running each batch's other half.
 * A watchdog ends a run whose peer died instead of letting it hang. */
void
run_interleaved_pair (GArray   *contestants,
                      guint     rounds,
                      guint64   iterations,
                      gboolean  pin)
{
  gboolean pinned = pin && choose_two_cpus ();
  pid_t pid;
  int status;

  pair_barrier = shared_map (sizeof (Barrier));
  pid = fork_worker (pinned ? pinned_cpus[1] : -1);
  if (pid == 0)
    {
      run_rounds (contestants, rounds, iterations, TRUE);
      _exit (0);
    }

  if (pinned)
    pin_to (pinned_cpus[0]);
  alarm (600);
  run_rounds (contestants, rounds, iterations, FALSE);
  if (waitpid (pid, &status, 0) != pid)
    die ("waitpid failed: %s", g_strerror (errno));
  alarm (0);
  if (pinned)
    sched_setaffinity (0, sizeof saved_affinity, &saved_affinity);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    die ("the peer process failed (status 0x%x)", status);

  munmap (pair_barrier, sizeof (Barrier));
  pair_barrier = NULL;
}
