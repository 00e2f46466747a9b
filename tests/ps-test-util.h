/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared helpers for the C test programs: the one way to register a test
 * (ps_test_add() and its variants), which gives it a watchdog so that a
 * bug fails the test instead of hanging CI; time bounds that stretch
 * under valgrind and the sanitizers; bounded polling; names unique to
 * this test run; children that are always reaped within a bound; peers
 * that re-execute the test program; and checks of named objects.
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

/* Under valgrind (meson test --setup valgrind), forked children leak-check
 * nothing: they _exit() with the heap they inherited, which the parent
 * frees and is checked for. */
#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  define PS_TEST_HAVE_VALGRIND 1
# endif
#endif

/* In a child just forked: no leak check at its exit (see above). Outside
 * valgrind this costs a few instructions. */
static inline void
ps_test_child_no_leak_check (void)
{
#ifdef PS_TEST_HAVE_VALGRIND
  VALGRIND_CLO_CHANGE ("--leak-check=no");
#endif
}

/* Kill the whole test program if it runs longer than @seconds: meson
 * reports it as failed rather than timing the job out. Children forked
 * afterwards inherit no alarm; give them their own with this call too. */
static inline void
ps_test_watchdog (unsigned int seconds)
{
  signal (SIGALRM, SIG_DFL);
  alarm (seconds);
}

/* Holds the calling thread to the first CPU of its affinity mask, saved
 * in @saved for sched_setaffinity() to give back; returns that CPU. */
static inline int
ps_test_pin_to_first_cpu (cpu_set_t *saved)
{
  cpu_set_t one;
  int cpu;

  g_assert_cmpint (sched_getaffinity (0, sizeof *saved, saved), ==, 0);
  for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET (cpu, saved); cpu++)
    ;
  g_assert_cmpint (cpu, <, CPU_SETSIZE);
  CPU_ZERO (&one);
  CPU_SET (cpu, &one);
  g_assert_cmpint (sched_setaffinity (0, sizeof one, &one), ==, 0);
  return cpu;
}

/* How much slower than usual this run may be: PS_TEST_TIME_SCALE (set by
 * the valgrind test setup, sanitizer runs, a loaded machine), at least 1. */
static inline double
ps_test_time_scale (void)
{
  const char *value = g_getenv ("PS_TEST_TIME_SCALE");
  double scale;

  if (value == NULL || *value == '\0')
    return 1.0;
  scale = g_ascii_strtod (value, NULL);
  return scale >= 1.0 ? scale : 1.0;
}

/* A generous bound, stretched for sanitizer and valgrind runs. */
static inline gint64
ps_test_scaled_us (gint64 us)
{
  return (gint64) (us * ps_test_time_scale ());
}

/* The same in whole seconds, rounded up (a bound never shrinks). */
static inline unsigned int
ps_test_scaled_s (unsigned int seconds)
{
  double scaled = seconds * ps_test_time_scale ();
  unsigned int whole = (unsigned int) scaled;

  return whole < scaled ? whole + 1 : whole;   /* without libm */
}

/* Registering tests ---------------------------------------------------------- */

/* Every C test is added with ps_test_add() or one of its variants below,
 * and runs under its own watchdog, so one hang cannot eat the budget of
 * the others, and fails instead of stalling CI. */

/* How long a test may run unless it says otherwise, in seconds before
 * PS_TEST_TIME_SCALE. */
#define PS_TEST_DEFAULT_SECONDS 60

typedef struct
{
  GTestDataFunc func;
  gconstpointer data;
  unsigned int  seconds;
} PsTestCase;

static inline void
ps_test_run_case (gconstpointer data)
{
  const PsTestCase *test = data;

  ps_test_watchdog (ps_test_scaled_s (test->seconds));
  test->func (test->data);
  alarm (0);
}

/* @func (@data) as the test @path, killed after @seconds (scaled). */
static inline void
ps_test_add_full (const char    *path,
                  GTestDataFunc  func,
                  gconstpointer  data,
                  unsigned int   seconds)
{
  PsTestCase *test = g_new0 (PsTestCase, 1);

  test->func = func;
  test->data = data;
  test->seconds = seconds;
  g_test_add_data_func_full (path, test, ps_test_run_case, g_free);
}

static inline void
ps_test_call_void (gconstpointer data)
{
  ((GTestFunc) data) ();
}

/* @func as the test @path, killed after @seconds (scaled). */
static inline void
ps_test_add_timed (const char   *path,
                   GTestFunc     func,
                   unsigned int  seconds)
{
  ps_test_add_full (path, ps_test_call_void, (gconstpointer) func, seconds);
}

/* @func as the test @path, under the default watchdog. */
static inline void
ps_test_add (const char *path,
             GTestFunc   func)
{
  ps_test_add_timed (path, func, PS_TEST_DEFAULT_SECONDS);
}

/* @func (@data) as the test @path, under the default watchdog. */
static inline void
ps_test_add_data (const char    *path,
                  GTestDataFunc  func,
                  gconstpointer  data)
{
  ps_test_add_full (path, func, data, PS_TEST_DEFAULT_SECONDS);
}

/* A name that no other test program, run or parallel job can collide
 * with. Free with g_free(). */
static inline char *
ps_test_unique_name (const char *what)
{
  static int counter;

  return g_strdup_printf ("/ps-test-%s-%d-%d", what, (int) getpid (), ++counter);
}

/* Whether thread @tid of @pid sleeps in a futex wait right now: the
 * kernel's word that a waiter is blocked, rather than a guess made from a
 * sleep. The backends sleep in futex(2) or futex_waitv(2) (the posix one
 * inside pthread_cond_timedwait()). */
static inline gboolean
ps_test_task_in_futex_wait (pid_t pid,
                            pid_t tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task/%d/syscall", (int) pid, (int) tid);
  g_autofree char *contents = NULL;
  char *end = NULL;
  gint64 nr;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  nr = g_ascii_strtoll (contents, &end, 10);
  if (end == contents)
    return FALSE;   /* "running" */
#ifdef SYS_futex_waitv
  if (nr == SYS_futex_waitv)
    return TRUE;
#endif
  return nr == SYS_futex;
}

/* Waits (bounded) until thread @tid of @pid sleeps in a futex wait, seen
 * twice in a row. */
static inline void
ps_test_wait_until_blocked (pid_t pid,
                            pid_t tid)
{
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (20 * G_USEC_PER_SEC);

  if (!g_file_test ("/proc/self/syscall", G_FILE_TEST_EXISTS))
    {
      /* No way to see it on this kernel: give it ample time instead. */
      g_usleep (ps_test_scaled_us (300 * 1000));
      return;
    }

  while (!ps_test_task_in_futex_wait (pid, tid))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("thread %d of %d never blocked", (int) tid, (int) pid);
      g_usleep (200);
    }
  /* Two consecutive sightings: not a passing futex call on the way. */
  g_usleep (2000);
  while (!ps_test_task_in_futex_wait (pid, tid))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("thread %d of %d never blocked", (int) tid, (int) pid);
      g_usleep (200);
    }
}

/* Fork a child that runs @func (@data) and exits with its return value
 * as status. The child has its own watchdog of @seconds. */
static inline pid_t
ps_test_fork (int (*func) (gpointer data),
              gpointer data,
              unsigned int seconds)
{
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      ps_test_child_no_leak_check ();
      ps_test_watchdog (seconds);
      _exit (func (data));
    }
  return pid;
}

/* Checks in a forked child, whose status the parent reads: what failed
 * goes to stderr, and the child's function returns 1. */
#define PS_CHILD_CHECK(cond)                                                  \
  G_STMT_START {                                                              \
    if (!(cond))                                                              \
      {                                                                       \
        g_printerr ("%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        return 1;                                                             \
      }                                                                       \
  } G_STMT_END

#define PS_CHILD_CHECK_ERROR(err, dom, c)                                     \
  G_STMT_START {                                                              \
    if (!g_error_matches ((err), (dom), (c)))                                 \
      {                                                                       \
        g_printerr ("%s:%d: expected %s (%s %d), got %s\n", __FILE__,       \
                    __LINE__, #c, g_quark_to_string (dom), (int) (c),         \
                    (err) != NULL ? (err)->message : "no error");             \
        return 1;                                                             \
      }                                                                       \
  } G_STMT_END

#define PS_CHILD_CHECK_NO_ERROR(err)                                          \
  G_STMT_START {                                                              \
    if ((err) != NULL)                                                        \
      {                                                                       \
        g_printerr ("%s:%d: unexpected error: %s\n", __FILE__, __LINE__,     \
                    (err)->message);                                          \
        return 1;                                                             \
      }                                                                       \
  } G_STMT_END

/* Peers ----------------------------------------------------------------------- */

/* This test program's own executable, which its peers re-execute. */
static inline const char *
ps_test_self_exe (void)
{
  static char *self_exe;

  if (self_exe == NULL)
    {
      self_exe = g_file_read_link ("/proc/self/exe", NULL);
      g_assert_nonnull (self_exe);
    }
  return self_exe;
}

/* A peer's entry point: its arguments after `--peer`; returns the
 * process's exit status. */
typedef int (*PsTestPeerMain) (int    argc,
                               char **argv);

/* The start of a test program's main(): run as `PROGRAM --peer ARGS...`,
 * it is a peer, which runs @peer_main (ARGS) and exits with its return
 * value; otherwise g_test_init(). @peer_main may be NULL for a program
 * without peers. */
static inline void
ps_test_init (int            *argc,
              char         ***argv,
              PsTestPeerMain  peer_main)
{
  ps_test_self_exe ();
  if (peer_main != NULL && *argc >= 2 && g_str_equal ((*argv)[1], "--peer"))
    exit (peer_main (*argc - 2, *argv + 2));
  g_test_init (argc, argv, NULL);
}

/* fork() + exec() of this very test program with --peer and the
 * arguments that follow, up to NULL: a separately spawned peer. */
static inline pid_t ps_test_spawn_peer (const char *first_arg,
                                        ...) G_GNUC_NULL_TERMINATED;

static inline pid_t
ps_test_spawn_peer (const char *first_arg,
                    ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *exe = ps_test_self_exe ();
  const char *arg;
  va_list args;
  pid_t pid;

  g_ptr_array_add (argv, (gpointer) exe);
  g_ptr_array_add (argv, (gpointer) "--peer");
  va_start (args, first_arg);
  for (arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      ps_test_child_no_leak_check ();   /* if the exec fails */
      execv (exe, (char **) argv->pdata);
      _exit (127);
    }
  return pid;
}

/* Wait at most @seconds for @pid; kill it if it is still running and fail
 * the test. Returns its wait status. */
static inline int
ps_test_reap (pid_t pid,
              unsigned int seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  int status = 0;

  for (;;)
    {
      pid_t r = waitpid (pid, &status, WNOHANG);

      if (r == pid)
        return status;
      g_assert_cmpint (r, ==, 0);
      if (g_get_monotonic_time () > deadline)
        {
          kill (pid, SIGKILL);
          waitpid (pid, &status, 0);
          g_error ("child %d did not finish within %u s", (int) pid, seconds);
        }
      g_usleep (1000);
    }
}

/* Reap @pid and assert it exited normally with status 0. */
static inline void
ps_test_reap_ok (pid_t pid,
                 unsigned int seconds)
{
  int status = ps_test_reap (pid, seconds);

  if (!WIFEXITED (status))
    g_error ("child %d did not exit normally (signal %d)", (int) pid,
             WIFSIGNALED (status) ? WTERMSIG (status) : 0);
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* Reaps @pid and asserts that SIGKILL ended it. */
static inline void
ps_test_reap_killed (pid_t pid)
{
  int status = ps_test_reap (pid, ps_test_scaled_s (20));

  if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL)
    g_error ("child %d was to die of SIGKILL, but %s %d", (int) pid,
             WIFSIGNALED (status) ? "died of signal" : "exited with",
             WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));
}

/* Polls (bounded by @seconds, scaled) until *@location holds @value. */
static inline gboolean
ps_test_wait_int (gint         *location,
                  gint          value,
                  unsigned int  seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) ps_test_scaled_s (seconds) * G_USEC_PER_SEC;

  while (g_atomic_int_get (location) != value)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (200);
    }
  return TRUE;
}

/* Polls (bounded by @seconds, scaled) until *@location is at least
 * @value. */
static inline gboolean
ps_test_wait_at_least (gint         *location,
                       gint          value,
                       unsigned int  seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) ps_test_scaled_s (seconds) * G_USEC_PER_SEC;

  while (g_atomic_int_get (location) < value)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (200);
    }
  return TRUE;
}

/* A zero-filled anonymous block of @size bytes for a test and its
 * children; its data. */
static inline gpointer
ps_test_shared_new (gsize            size,
                    PsSharedMemory **out_memory)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory;

  memory = ps_shared_memory_new (size, &error);
  g_assert_no_error (error);
  *out_memory = memory;
  return ps_shared_memory_get_data (memory);
}

/* Asserts that every byte of @memory is zero. */
static inline void
ps_test_assert_all_zero (PsSharedMemory *memory)
{
  const guint8 *bytes = ps_shared_memory_get_data (memory);
  gsize i, size = ps_shared_memory_get_size (memory);

  for (i = 0; i < size; i++)
    g_assert_cmpuint (bytes[i], ==, 0);
}

/* Named objects -------------------------------------------------------------- */

/* Where the system shows the named object @name: its file in /dev/shm.
 * Free with g_free(). */
static inline char *
ps_test_dev_shm_path (const char *name)
{
  return g_strconcat ("/dev/shm", name, NULL);
}

/* Asserts that /dev/shm has a file for @name, or has none. */
static inline void
ps_test_assert_in_dev_shm (const char *name,
                           gboolean    exists)
{
  g_autofree char *path = ps_test_dev_shm_path (name);

  g_assert_cmpint (g_file_test (path, G_FILE_TEST_EXISTS), ==, exists);
}

/* The kinds of named object, for tests that go through them all. */
typedef enum
{
  PS_TEST_KIND_SHARED_MEMORY,
  PS_TEST_KIND_MUTEX,
  PS_TEST_KIND_SEMAPHORE,
  PS_TEST_KIND_COND,
  PS_TEST_N_KINDS
} PsTestKind;

/* Opens @name with @flags as an object of @kind: a segment of @size
 * bytes, a semaphore of initial @value. */
static inline GObject *
ps_test_open_named (PsTestKind    kind,
                    const char   *name,
                    PsOpenFlags   flags,
                    gsize         size,
                    guint         value,
                    GError      **error)
{
  switch (kind)
    {
    case PS_TEST_KIND_SHARED_MEMORY:
      return G_OBJECT (ps_shared_memory_open (name, flags, size, error));
    case PS_TEST_KIND_MUTEX:
      return G_OBJECT (ps_mutex_open (name, flags, error));
    case PS_TEST_KIND_SEMAPHORE:
      return G_OBJECT (ps_semaphore_open (name, flags, value, error));
    case PS_TEST_KIND_COND:
      return G_OBJECT (ps_cond_open (name, flags, error));
    case PS_TEST_N_KINDS:
    default:
      break;
    }
  g_assert_not_reached ();
  return NULL;
}

/* Opens @name with PS_OPEN_CREATE as an object of @kind: a segment of
 * @size bytes, a semaphore of initial @value. */
static inline GObject *
ps_test_create_named (PsTestKind   kind,
                      const char  *name,
                      gsize        size,
                      guint        value,
                      GError     **error)
{
  return ps_test_open_named (kind, name, PS_OPEN_CREATE, size, value, error);
}
