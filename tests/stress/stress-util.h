/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Helpers shared by the reliability and security tests: time bounds that
 * scale with PS_TEST_TIME_SCALE (valgrind, sanitizers, a loaded machine),
 * bounded polling, a look at whether a thread sleeps in the kernel, and
 * per-test watchdogs, so that a bug fails one test instead of hanging.
 */

#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "ps-test-util.h"

static inline double
stress_time_scale (void)
{
  const char *value = g_getenv ("PS_TEST_TIME_SCALE");
  double scale = value != NULL ? g_ascii_strtod (value, NULL) : 1.0;

  return scale >= 1.0 ? scale : 1.0;
}

static inline gint64
scaled_us (gint64 us)
{
  return (gint64) (us * stress_time_scale ());
}

static inline guint
scaled_s (guint seconds)
{
  double scaled = seconds * stress_time_scale ();
  guint whole = (guint) scaled;

  return whole < scaled ? whole + 1 : whole;   /* round up, without libm */
}

/* Whether the suite runs under a slow checker (valgrind, sanitizers):
 * the long tests then do fewer rounds, keeping their structure. */
static inline gboolean
stress_is_slow (void)
{
  return stress_time_scale () > 1.0;
}

/* The test process, recorded by stress_init(). */
static pid_t stress_main_pid;

static inline void
stress_init (int    *argc,
             char ***argv)
{
  stress_main_pid = getpid ();
  g_test_init (argc, argv, NULL);
}

/* For long-lived children: die with the test process, so that a test
 * that fails (and aborts) leaves no workers behind to run until their
 * own watchdogs fire. */
static inline void
stress_die_with_parent (void)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != stress_main_pid)
    _exit (98);   /* it died before we asked */
}

/* Polls (bounded) until *@location holds @value. */
static inline gboolean
stress_wait_int (gint  *location,
                 gint   value,
                 guint  seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) scaled_s (seconds) * G_USEC_PER_SEC;

  while (g_atomic_int_get (location) != value)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (200);
    }
  return TRUE;
}

/* Polls (bounded) until *@location is at least @value. */
static inline gboolean
stress_wait_at_least (gint  *location,
                      gint   value,
                      guint  seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) scaled_s (seconds) * G_USEC_PER_SEC;

  while (g_atomic_int_get (location) < value)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (200);
    }
  return TRUE;
}


/* Polls (bounded) until process @pid (its main thread) sleeps in a futex
 * wait; FALSE if it did not within @bound_us. */
static inline gboolean
stress_wait_asleep (pid_t  pid,
                    gint64 bound_us)
{
  gint64 deadline = g_get_monotonic_time () + bound_us;

  while (!ps_test_task_in_futex_wait (pid, pid))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (50);
    }
  return TRUE;
}

/* The failures of a test's children, in memory they share: how many, and
 * the story of the first, for the parent to print. */
typedef struct
{
  gint count;
  gint pad;
  char first[256];
} StressFailures;

static inline void
stress_fail (StressFailures *failures,
             const char     *format,
             ...) G_GNUC_PRINTF (2, 3);

static inline void
stress_fail (StressFailures *failures,
             const char     *format,
             ...)
{
  va_list args;

  if (g_atomic_int_add (&failures->count, 1) == 0)
    {
      va_start (args, format);
      g_vsnprintf (failures->first, sizeof failures->first, format, args);
      va_end (args);
    }
}

/* Named objects of each kind, for the tests that treat them alike. */
typedef enum
{
  STRESS_NAMED_SEMAPHORE,
  STRESS_NAMED_MUTEX,
  STRESS_NAMED_COND,
  STRESS_NAMED_SHARED_MEMORY,
  STRESS_N_NAMED
} StressNamedKind;

static inline const char *
stress_named_kind_name (StressNamedKind kind)
{
  static const char *const names[STRESS_N_NAMED] = {
    "semaphore", "mutex", "cond", "shared-memory",
  };

  g_assert ((guint) kind < STRESS_N_NAMED);
  return names[kind];
}

/* Opens (or with PS_OPEN_CREATE makes) the named object @name: a
 * semaphore with one unit, or a segment of @shm_size bytes. */
static inline GObject *
stress_open_named (StressNamedKind   kind,
                   const char       *name,
                   PsOpenFlags       flags,
                   gsize             shm_size,
                   GError          **error)
{
  switch (kind)
    {
    case STRESS_NAMED_SEMAPHORE:
      return G_OBJECT (ps_semaphore_open (name, flags, 1, error));
    case STRESS_NAMED_MUTEX:
      return G_OBJECT (ps_mutex_open (name, flags, error));
    case STRESS_NAMED_COND:
      return G_OBJECT (ps_cond_open (name, flags, error));
    case STRESS_NAMED_SHARED_MEMORY:
      return G_OBJECT (ps_shared_memory_open (name, flags,
                                              flags & PS_OPEN_CREATE ? shm_size : 0, error));
    case STRESS_N_NAMED:
    default:
      g_assert_not_reached ();
    }
}

/* Where the file of the named object @name lives. Free with g_free(). */
static inline char *
stress_shm_path (const char *name)
{
  return g_strconcat ("/dev/shm", name, NULL);
}

/* A shared block for a test and its children, zero-filled. */
static inline gpointer
stress_shared_new (gsize            size,
                   PsSharedMemory **out_memory)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory;

  memory = ps_shared_memory_new (size, &error);
  g_assert_no_error (error);
  *out_memory = memory;
  return ps_shared_memory_get_data (memory);
}

/* Reaps @pid and asserts that SIGKILL ended it. */
static inline void
stress_reap_killed (pid_t pid)
{
  int status = ps_test_reap (pid, scaled_s (20));

  if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL)
    g_error ("child %d was to die of SIGKILL, but %s %d", (int) pid,
             WIFSIGNALED (status) ? "died of signal" : "exited with",
             WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));
}

/* Per-test watchdogs: every test runs under its own alarm. */
typedef struct
{
  GTestDataFunc func;
  gconstpointer data;
  guint         seconds;
} StressTest;

static inline void
stress_run_test (gconstpointer data)
{
  const StressTest *test = data;

  ps_test_watchdog (scaled_s (test->seconds));
  test->func (test->data);
  alarm (0);
}

static inline void
stress_add_data_test (const char    *path,
                      GTestDataFunc  func,
                      gconstpointer  data,
                      guint          seconds)
{
  StressTest *test = g_new0 (StressTest, 1);

  test->func = func;
  test->data = data;
  test->seconds = seconds;
  g_test_add_data_func_full (path, test, stress_run_test, g_free);
}

static inline void
stress_call_void (gconstpointer data)
{
  ((GTestFunc) data) ();
}

static inline void
stress_add_test (const char *path,
                 GTestFunc   func,
                 guint       seconds)
{
  stress_add_data_test (path, stress_call_void, (gconstpointer) func, seconds);
}
