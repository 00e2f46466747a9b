/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * PID namespaces: processes that share /dev/shm (and so named objects)
 * but not process ids, as two containers of one Kubernetes pod do. Each
 * side here is PID 1 of a namespace of its own, made with
 * unshare(CLONE_NEWPID) and fork(), as `unshare --pid --fork` does.
 *
 * A mutex works only in the PID namespace of its creator: opening it from
 * another fails at once with G_IO_ERROR_NOT_SUPPORTED (a holder there
 * could otherwise be taken for one here, see ps-robust-mutex.c), before
 * and after its holder unlocks. Inside a namespace, owner death is
 * detected as anywhere. Semaphores, which record no process, work
 * across namespaces.
 *
 * Where the kernel refuses a namespace (no privilege, or a sandbox), the
 * tests skip with the reason.
 */

#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "ps-test-util.h"

/* What a namespace child exits with when the kernel refused it one. */
#define SKIPPED 77

#define STEP_SECONDS 30

typedef struct
{
  gint a;          /* the steps of the side in namespace A */
  gint b;          /* and of the side in namespace B */
  gint refusal;    /* errno of a refused unshare() */
  gint holder;     /* a holder's pid, as its namespace sees it */
} Steps;

static Steps *
steps_new (void)
{
  Steps *steps = mmap (NULL, sizeof *steps, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  g_assert_true (steps != MAP_FAILED);
  memset (steps, 0, sizeof *steps);
  return steps;
}

static void
steps_free (Steps *steps)
{
  munmap (steps, sizeof *steps);
}

static gboolean
wait_step (gint *step,
           gint  value)
{
  return ps_test_wait_int (step, value, ps_test_scaled_s (STEP_SECONDS));
}

typedef struct
{
  int (*body) (gpointer data);
  gpointer data;
  Steps   *steps;
} NamespaceChild;

/* In a child of the test: becomes the parent of PID 1 of a new PID
 * namespace, which runs the body. PID 1 ignores signals it has no handler
 * for (the watchdog's SIGALRM among them), so it is tied to this process,
 * whose own watchdog bounds it, by PR_SET_PDEATHSIG. */
static int
run_in_new_pid_namespace (gpointer data)
{
  NamespaceChild *child = data;
  int status;
  pid_t pid;

  if (unshare (CLONE_NEWPID) != 0)
    {
      g_atomic_int_set (&child->steps->refusal, errno);
      return SKIPPED;
    }
  pid = fork ();
  PS_CHILD_CHECK (pid >= 0);
  if (pid == 0)
    {
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () == 0 && getpid () == 1)
        _exit (child->body (child->data));
      _exit (3);
    }
  status = ps_test_reap (pid, ps_test_scaled_s (2 * STEP_SECONDS));
  PS_CHILD_CHECK (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static pid_t
fork_in_new_pid_namespace (NamespaceChild *child)
{
  return ps_test_fork (run_in_new_pid_namespace, child, ps_test_scaled_s (3 * STEP_SECONDS));
}

/* Reaps the namespace children; FALSE (the test skipped) if a namespace
 * was refused. */
static gboolean
reap_namespace_children (Steps *steps,
                         pid_t  first,
                         pid_t  second)
{
  int statuses[2];
  gboolean refused = FALSE;
  pid_t pids[2] = { first, second };

  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    {
      if (pids[i] == 0)
        {
          statuses[i] = 0;
          continue;
        }
      statuses[i] = ps_test_reap (pids[i], ps_test_scaled_s (4 * STEP_SECONDS));
      g_assert_true (WIFEXITED (statuses[i]));
      refused |= WEXITSTATUS (statuses[i]) == SKIPPED;
    }
  if (refused)
    {
      g_autofree char *reason =
        g_strdup_printf ("the kernel refused a PID namespace: unshare(CLONE_NEWPID): %s",
                         g_strerror (steps->refusal));

      g_printerr ("%s\n", reason);
      g_test_skip (reason);
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    g_assert_cmpint (WEXITSTATUS (statuses[i]), ==, 0);
  return TRUE;
}

static char *
unique_name (const char *what)
{
  return g_strdup_printf ("/ps-test-pidns-%d-%s", (int) getpid (), what);
}

static int
check_refused (GError *error)
{
  PS_CHILD_CHECK_ERROR (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  PS_CHILD_CHECK (strstr (error->message, "another PID namespace") != NULL);
  return 0;
}

/* A mutex of another namespace ------------------------------------------- */

typedef struct
{
  Steps      *steps;
  const char *name;
} MutexCase;

/* Namespace A: creates the mutex and holds it while B tries, then
 * unlocks it while B tries again. */
static int
creator_body (gpointer data)
{
  MutexCase *test = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = ps_mutex_open (test->name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                            &error);

  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_mutex_lock (mutex, 0, NULL, &error));
  PS_CHILD_CHECK (ps_mutex_get_owner_pid (mutex) == 1);
  g_atomic_int_set (&test->steps->a, 1);
  PS_CHILD_CHECK (wait_step (&test->steps->b, 1));
  /* B's attempts changed nothing here. */
  PS_CHILD_CHECK (ps_mutex_get_owner_pid (mutex) == 1);
  PS_CHILD_CHECK (ps_mutex_unlock (mutex, &error));
  g_atomic_int_set (&test->steps->a, 2);
  PS_CHILD_CHECK (wait_step (&test->steps->b, 2));
  /* Still this namespace's own, and free. */
  PS_CHILD_CHECK (ps_mutex_lock (mutex, 0, NULL, &error));
  PS_CHILD_CHECK (ps_mutex_unlock (mutex, &error));
  return 0;
}

/* Namespace B, whose PID 1 is not A's: refused, whatever the mutex's
 * state, instead of taking A's holder for itself (today's CORRUPT) or
 * for someone it could probe. */
static int
opener_body (gpointer data)
{
  MutexCase *test = data;
  PsOpenFlags flags[] = { PS_OPEN_NONE, PS_OPEN_CREATE, PS_OPEN_ANY_OWNER };

  for (gint step = 1; step <= 2; step++)
    {
      PS_CHILD_CHECK (wait_step (&test->steps->a, step));
      for (guint i = 0; i < G_N_ELEMENTS (flags); i++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(PsMutex) mutex = ps_mutex_open (test->name, flags[i], &error);

          PS_CHILD_CHECK (mutex == NULL);
          if (check_refused (error) != 0)
            return 1;
        }
      g_atomic_int_set (&test->steps->b, step);
    }
  return 0;
}

static void
test_mutex_of_other_namespace (void)
{
  g_autofree char *name = unique_name ("mutex");
  MutexCase test = { steps_new (), name };
  NamespaceChild creator = { creator_body, &test, test.steps };
  NamespaceChild opener = { opener_body, &test, test.steps };
  pid_t first, second;

  ps_unlink (name, NULL);
  first = fork_in_new_pid_namespace (&creator);
  second = fork_in_new_pid_namespace (&opener);
  if (reap_namespace_children (test.steps, first, second))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PsMutex) mutex = ps_mutex_open (name, PS_OPEN_NONE, &error);

      /* The namespace of the test itself is another one too. */
      g_assert_null (mutex);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      g_assert_nonnull (strstr (error->message, "another PID namespace"));
    }
  ps_unlink (name, NULL);
  steps_free (test.steps);
}

/* And the other way round: a mutex of the test's namespace, refused in a
 * new one, which it stays usable in. */
static int
refused_body (gpointer data)
{
  MutexCase *test = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = ps_mutex_open (test->name, PS_OPEN_NONE, &error);

  PS_CHILD_CHECK (mutex == NULL);
  return check_refused (error);
}

static void
test_mutex_of_parent_namespace (void)
{
  g_autofree char *name = unique_name ("parent-mutex");
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  MutexCase test = { steps_new (), name };
  NamespaceChild child = { refused_body, &test, test.steps };

  ps_unlink (name, NULL);
  mutex = ps_mutex_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));

  if (reap_namespace_children (test.steps, fork_in_new_pid_namespace (&child), 0))
    {
      g_autoptr(PsMutex) again = ps_mutex_open (name, PS_OPEN_NONE, &error);

      g_assert_no_error (error);
      g_assert_cmpint (ps_mutex_get_owner_pid (again), ==, getpid ());
    }
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
  ps_unlink (name, NULL);
  steps_free (test.steps);
}

/* Owner death inside a namespace ------------------------------------------ */

static int
hold_until_killed (gpointer data)
{
  PsMutex *mutex = data;

  PS_CHILD_CHECK (ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL));
  raise (SIGSTOP);   /* the holder, for its namespace's init to kill */
  return 2;
}

static int
wait_for_dead_holder (gpointer data)
{
  PsMutex *mutex = data;
  g_autoptr(GError) error = NULL;

  PS_CHILD_CHECK (!ps_mutex_lock (mutex, ps_test_scaled_us (STEP_SECONDS * G_USEC_PER_SEC),
                                  NULL, &error));
  PS_CHILD_CHECK_ERROR (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  PS_CHILD_CHECK (ps_mutex_get_previous_owner_pid (mutex) == 2);
  PS_CHILD_CHECK (ps_mutex_get_owner_pid (mutex) == getpid ());
  PS_CHILD_CHECK (ps_mutex_mark_consistent (mutex, NULL));
  PS_CHILD_CHECK (ps_mutex_unlock (mutex, NULL));
  return 0;
}

/* PID 1 of the namespace: its child 2 holds a named mutex made here, its
 * child 3 waits for it, and SIGKILL of 2 hands it to 3 with OWNER_DEAD. */
static int
owner_death_body (gpointer data)
{
  MutexCase *test = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = ps_mutex_open (test->name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                            &error);
  pid_t holder, waiter;
  int status;

  PS_CHILD_CHECK_NO_ERROR (error);
  holder = ps_test_fork (hold_until_killed, mutex, ps_test_scaled_s (STEP_SECONDS));
  PS_CHILD_CHECK (holder == 2);
  PS_CHILD_CHECK (waitpid (holder, &status, WUNTRACED) == holder && WIFSTOPPED (status));
  PS_CHILD_CHECK (ps_mutex_get_owner_pid (mutex) == 2);

  waiter = ps_test_fork (wait_for_dead_holder, mutex, ps_test_scaled_s (2 * STEP_SECONDS));
  PS_CHILD_CHECK (waiter == 3);
  /* The waiter is waiting, not failed: the mutex is busy for us too. */
  g_usleep (ps_test_scaled_us (100 * 1000));
  PS_CHILD_CHECK (waitpid (waiter, &status, WNOHANG) == 0);
  PS_CHILD_CHECK (!ps_mutex_try_lock (mutex, &error));
  PS_CHILD_CHECK_NO_ERROR (error);

  PS_CHILD_CHECK (kill (holder, SIGKILL) == 0);
  status = ps_test_reap (holder, ps_test_scaled_s (STEP_SECONDS));
  PS_CHILD_CHECK (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  status = ps_test_reap (waiter, ps_test_scaled_s (2 * STEP_SECONDS));
  PS_CHILD_CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);

  /* Repaired: it goes on working. */
  PS_CHILD_CHECK (ps_mutex_lock (mutex, 0, NULL, &error));
  PS_CHILD_CHECK (ps_mutex_unlock (mutex, &error));
  return 0;
}

static void
test_owner_death_inside_namespace (void)
{
  g_autofree char *name = unique_name ("owner-death");
  MutexCase test = { steps_new (), name };
  NamespaceChild child = { owner_death_body, &test, test.steps };

  ps_unlink (name, NULL);
  reap_namespace_children (test.steps, fork_in_new_pid_namespace (&child), 0);
  ps_unlink (name, NULL);
  steps_free (test.steps);
}

/* Semaphores across namespaces --------------------------------------------- */

static int
releaser_body (gpointer data)
{
  MutexCase *test = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = ps_semaphore_open (test->name,
                                                        PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                                        0, &error);

  PS_CHILD_CHECK_NO_ERROR (error);
  g_atomic_int_set (&test->steps->a, 1);
  PS_CHILD_CHECK (wait_step (&test->steps->b, 1));
  /* B is (about to be) asleep in acquire(): a release wakes it. */
  g_usleep (ps_test_scaled_us (50 * 1000));
  PS_CHILD_CHECK (ps_semaphore_release (semaphore, &error));
  return 0;
}

static int
acquirer_body (gpointer data)
{
  MutexCase *test = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;

  PS_CHILD_CHECK (wait_step (&test->steps->a, 1));
  semaphore = ps_semaphore_open (test->name, PS_OPEN_NONE, 0, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  g_atomic_int_set (&test->steps->b, 1);
  PS_CHILD_CHECK (ps_semaphore_acquire (semaphore,
                                        ps_test_scaled_us (STEP_SECONDS * G_USEC_PER_SEC),
                                        NULL, &error));
  PS_CHILD_CHECK_NO_ERROR (error);
  PS_CHILD_CHECK (ps_semaphore_get_value (semaphore) == 0);
  return 0;
}

static void
test_semaphore_across_namespaces (void)
{
  g_autofree char *name = unique_name ("semaphore");
  MutexCase test = { steps_new (), name };
  NamespaceChild releaser = { releaser_body, &test, test.steps };
  NamespaceChild acquirer = { acquirer_body, &test, test.steps };
  pid_t first, second;

  ps_unlink (name, NULL);
  first = fork_in_new_pid_namespace (&releaser);
  second = fork_in_new_pid_namespace (&acquirer);
  reap_namespace_children (test.steps, first, second);
  ps_unlink (name, NULL);
  steps_free (test.steps);
}

int
main (int    argc,
      char **argv)
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/pid-namespace/mutex/refused-in-other-namespace", test_mutex_of_other_namespace);
  ps_test_add ("/pid-namespace/mutex/refused-in-child-namespace", test_mutex_of_parent_namespace);
  ps_test_add ("/pid-namespace/mutex/owner-death-inside", test_owner_death_inside_namespace);
  ps_test_add ("/pid-namespace/semaphore/across", test_semaphore_across_namespaces);

  return g_test_run ();
}
