/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The futex backend's robust list, as the kernel walks it when a thread
 * dies: PsMutexes and glibc's robust mutexes linked side by side, more
 * locks than the library tracks privately, links checked without
 * process_vm_readv(), and a mutex unlinked from one mapping while locked
 * through another.
 */

#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "ps-test-mutex.h"

/* The robust list ------------------------------------------------------------ */

/* A thread's locks are linked on one list that the kernel walks when it
 * dies: PsMutexes and glibc's own robust mutexes side by side, taken and
 * given back in any order, more of them than the library tracks
 * privately, through any mapping. Whatever a child did, when it dies
 * exactly the locks it still held are reported dead, and the others are
 * simply free. */

#define N_LIST_PS      24   /* more than the futex backend tracks (16) */
#define N_LIST_GLIBC   4
#define N_LIST_STEPS   80
#define N_LIST_ROUNDS  25

typedef struct
{
  pthread_mutex_t glibc[N_LIST_GLIBC];   /* the first two priority-inheriting */
  guint32 seed;
  gint    sandboxed;
  gint    held[N_LIST_PS + N_LIST_GLIBC];
  gint    failures;
  gint    ready;
} ListShared;

typedef struct
{
  PsMutex    *mutexes[N_LIST_PS];
  ListShared *shared;
} ListArgs;

/* Makes process_vm_readv() fail with EPERM, as some sandboxes' seccomp
 * filters do: the library must then check links another way. */
static gboolean
refuse_process_vm_readv (void)
{
#if defined(__NR_process_vm_readv) && defined(SECCOMP_MODE_FILTER)
  struct sock_filter filter[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = { G_N_ELEMENTS (filter), filter };

  return prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
#else
  return FALSE;
#endif
}

static int
shuffle_locks_and_die_child (gpointer data)
{
  ListArgs *args = data;
  ListShared *shared = args->shared;
  GRand *rand = g_rand_new_with_seed (shared->seed);

  if (shared->sandboxed && !refuse_process_vm_readv ())
    return 2;

  for (guint step = 0; step < N_LIST_STEPS; step++)
    {
      guint i = g_rand_int_range (rand, 0, N_LIST_PS + N_LIST_GLIBC);
      gboolean ok;

      if (i < N_LIST_PS)
        ok = shared->held[i] ? ps_mutex_unlock (args->mutexes[i], NULL)
                             : ps_mutex_lock (args->mutexes[i], 0, NULL, NULL);
      else if (shared->held[i])
        ok = pthread_mutex_unlock (&shared->glibc[i - N_LIST_PS]) == 0;
      else
        ok = pthread_mutex_trylock (&shared->glibc[i - N_LIST_PS]) == 0;
      if (!ok)
        shared->failures++;
      else
        shared->held[i] = !shared->held[i];
    }
  g_rand_free (rand);
  kill (getpid (), SIGKILL);
  return 3;
}

static void
assert_list_outcome (ListArgs *args)
{
  ListShared *shared = args->shared;
  struct timespec deadline;

  for (guint i = 0; i < N_LIST_PS; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean locked = ps_mutex_lock (args->mutexes[i], ps_test_scaled_us (5 * G_USEC_PER_SEC),
                                       NULL, &error);

      if (shared->held[i])
        {
          g_assert_false (locked);
          g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
          g_assert_true (ps_mutex_mark_consistent (args->mutexes[i], NULL));
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (locked);
        }
      g_assert_true (ps_mutex_unlock (args->mutexes[i], NULL));
      shared->held[i] = FALSE;
    }

  clock_gettime (CLOCK_REALTIME, &deadline);
  deadline.tv_sec += ps_test_scaled_s (5);
  for (guint i = 0; i < N_LIST_GLIBC; i++)
    {
      pthread_mutex_t *glibc = &shared->glibc[i];
      int r = pthread_mutex_timedlock (glibc, &deadline);

      if (shared->held[N_LIST_PS + i])
        {
          g_assert_cmpint (r, ==, EOWNERDEAD);
          g_assert_cmpint (pthread_mutex_consistent (glibc), ==, 0);
        }
      else
        g_assert_cmpint (r, ==, 0);
      g_assert_cmpint (pthread_mutex_unlock (glibc), ==, 0);
      shared->held[N_LIST_PS + i] = FALSE;
    }
}

static void
init_glibc_robust (pthread_mutex_t *mutex,
                   gboolean         priority_inheritance)
{
  pthread_mutexattr_t attr;

  pthread_mutexattr_init (&attr);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  /* glibc tags these entries of the robust list (bit 0 of the link). */
  if (priority_inheritance)
    g_assert_cmpint (pthread_mutexattr_setprotocol (&attr, PTHREAD_PRIO_INHERIT), ==, 0);
  pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK);
  g_assert_cmpint (pthread_mutex_init (mutex, &attr), ==, 0);
  pthread_mutexattr_destroy (&attr);
}

static void
test_robust_list_shuffled (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (sizeof (ListShared), &error);
  ListArgs args;
  guint owner_dead = 0;

  g_assert_no_error (error);
  args.shared = ps_shared_memory_get_data (memory);
  args.shared->sandboxed = GPOINTER_TO_INT (data);
  for (guint i = 0; i < N_LIST_GLIBC; i++)
    init_glibc_robust (&args.shared->glibc[i], i < 2);
  for (guint i = 0; i < N_LIST_PS; i++)
    args.mutexes[i] = new_mutex (i % 3 == 0);

  for (guint round = 0; round < N_LIST_ROUNDS; round++)
    {
      args.shared->seed = g_test_rand_int ();
      ps_test_reap_killed (ps_test_fork (shuffle_locks_and_die_child, &args, ps_test_scaled_s (30)));
      g_assert_cmpint (args.shared->failures, ==, 0);
      for (guint i = 0; i < N_LIST_PS + N_LIST_GLIBC; i++)
        owner_dead += args.shared->held[i];
      assert_list_outcome (&args);
    }
  /* Random walks of 80 steps over 28 locks leave some held: the test
   * checked deaths, not only free locks. */
  g_assert_cmpuint (owner_dead, >, N_LIST_ROUNDS);
  g_test_message ("%u locks were held at a death, over %u rounds", owner_dead, N_LIST_ROUNDS);

  for (guint i = 0; i < N_LIST_PS; i++)
    g_object_unref (args.mutexes[i]);
}

typedef struct
{
  const char *name;
  PsMutex    *other;
} MappingArgs;

static int
unlock_through_other_mapping_child (gpointer data)
{
  MappingArgs *args = data;
  PsMutex *first = ps_mutex_open (args->name, PS_OPEN_NONE, NULL);
  PsMutex *second = ps_mutex_open (args->name, PS_OPEN_NONE, NULL);

  if (first == NULL || second == NULL)
    return 1;
  /* @other stays on the list below the named mutex, which is locked
   * through one mapping, unlocked through another, and whose first
   * mapping then goes away: were it left linked, the kernel's walk would
   * stop at the unmapped entry and never reach @other. */
  if (!ps_mutex_lock (args->other, 0, NULL, NULL) ||
      !ps_mutex_lock (first, 0, NULL, NULL) ||
      !ps_mutex_unlock (second, NULL))
    return 2;
  g_object_unref (first);
  if (!ps_mutex_lock (second, 0, NULL, NULL) || !ps_mutex_unlock (second, NULL))
    return 3;
  kill (getpid (), SIGKILL);
  return 4;
}

static void
test_robust_list_other_mapping (void)
{
  g_autofree char *name = ps_test_unique_name ("mutex-mapping");
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) named = ps_mutex_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_autoptr(PsMutex) other = new_mutex (FALSE);
  MappingArgs args = { name, other };

  g_assert_no_error (error);
  ps_test_reap_killed (ps_test_fork (unlock_through_other_mapping_child, &args, ps_test_scaled_s (30)));

  g_assert_false (ps_mutex_lock (other, ps_test_scaled_us (5 * G_USEC_PER_SEC), NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  g_clear_error (&error);
  g_assert_true (ps_mutex_mark_consistent (other, NULL));
  g_assert_true (ps_mutex_unlock (other, NULL));

  g_assert_true (ps_mutex_lock (named, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_unlock (named, NULL));
  g_assert_true (ps_unlink (name, NULL));
}

/* Main ---------------------------------------------------------------------- */

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);
  ps_test_watchdog (ps_test_scaled_s (170));

  ps_test_add_data ("/mutex/robust-list/shuffled-with-glibc", test_robust_list_shuffled,
                    GINT_TO_POINTER (FALSE));
  ps_test_add_data ("/mutex/robust-list/shuffled-without-process-vm-readv",
                    test_robust_list_shuffled, GINT_TO_POINTER (TRUE));
  ps_test_add ("/mutex/robust-list/other-mapping", test_robust_list_other_mapping);

  return g_test_run ();
}
