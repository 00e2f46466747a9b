/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Helpers shared by the reliability and security tests, on top of
 * ps-test-util.h (scaled time bounds, per-test watchdogs, polling,
 * reaping): fewer rounds under a slow checker, workers that die with the
 * test process, a look at whether a thread sleeps in the kernel, and the
 * failures of children reported to the parent.
 */

#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "ps-test-util.h"

/* Whether the suite runs under a slow checker (valgrind, sanitizers):
 * the long tests then do fewer rounds, keeping their structure. */
static inline gboolean
stress_is_slow (void)
{
  return ps_test_time_scale () > 1.0;
}

/* The test process, recorded by stress_init(). */
static pid_t stress_main_pid;

static inline void
stress_init (int            *argc,
             char         ***argv,
             PsTestPeerMain  peer_main)
{
  stress_main_pid = getpid ();
  ps_test_init (argc, argv, peer_main);
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

/* Polls (bounded) until the phase a worker publishes at @phase is one of
 * @phases (a bit mask of phases below 32); FALSE if it never was within
 * @bound_us. */
static inline gboolean
stress_wait_phase (gint   *phase,
                   guint   phases,
                   gint64  bound_us)
{
  gint64 deadline = g_get_monotonic_time () + bound_us;

  while (!(phases & (1u << g_atomic_int_get (phase))))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (20);
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

/* Fails the test with the story of the first failure, if there was one. */
static inline void
stress_assert_no_failures (StressFailures *failures)
{
  if (g_atomic_int_get (&failures->count) != 0)
    g_error ("%d failures; the first: %s", g_atomic_int_get (&failures->count),
             failures->first);
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
