/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The pool of anonymous objects: a thousand of them (mutexes alone, or
 * mixed with semaphores and condition variables) cost at most one
 * descriptor and one mapping per 64, all given back when they go;
 * threads drawing on the pool at once never get the same slot; and over
 * fork() the objects made in either process never land on memory the
 * other still uses, nor reuse the slot of an inherited object.
 */

#include <string.h>

#include "ps-test-mutex.h"

#define N_FOOTPRINT       1000
#define N_AFTER_FORK      300
#define N_PRE_FORK        8

/* Footprint ----------------------------------------------------------------- */

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

typedef struct
{
  guint fds;
  guint maps;          /* every line of /proc/self/maps */
  guint shared_maps;   /* MAP_SHARED ones: where shared state can live */
} Footprint;

static void
footprint_measure (Footprint *footprint)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  guint i;

  footprint->fds = count_fds ();
  g_assert_true (g_file_get_contents ("/proc/self/maps", &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  footprint->maps = 0;
  footprint->shared_maps = 0;
  for (i = 0; lines[i] != NULL; i++)
    {
      const char *perms = strchr (lines[i], ' ');

      if (perms == NULL)
        continue;
      footprint->maps++;
      if (strlen (perms) > 4 && perms[4] == 's')
        footprint->shared_maps++;
    }
}

/* While @n objects live: at most one descriptor and one mapping per 64. */
static void
footprint_assert_alive (const Footprint *before,
                        guint            n)
{
  Footprint now;

  footprint_measure (&now);
  g_test_message ("%u objects: fds %u -> %u, mappings %u -> %u (shared %u -> %u)", n,
                  before->fds, now.fds, before->maps, now.maps,
                  before->shared_maps, now.shared_maps);
  g_assert_cmpuint (now.fds, <=, before->fds + n / 64);
  g_assert_cmpuint (now.shared_maps, <=, before->shared_maps + n / 64);
  g_assert_cmpuint (now.maps, <=, before->maps + n / 64);
}

/* Once they are gone: back to the start. The memory allocator (under a
 * sanitizer above all) may keep a few private mappings of its own, so
 * only the shared ones must be back exactly. */
#define ALLOCATOR_SLACK 8

static void
footprint_assert_released (const Footprint *before)
{
  Footprint now;

  footprint_measure (&now);
  g_test_message ("released: fds %u, mappings %u (shared %u)",
                  now.fds, now.maps, now.shared_maps);
  g_assert_cmpuint (now.fds, <=, before->fds);
  g_assert_cmpuint (now.shared_maps, <=, before->shared_maps);
  g_assert_cmpuint (now.maps, <=, before->maps + ALLOCATOR_SLACK);
}

static void
test_footprint_thousand (void)
{
  g_autoptr(GPtrArray) mutexes = g_ptr_array_new_with_free_func (g_object_unref);
  Footprint before;
  guint i;

  /* Warm up the type system and the pool before counting. */
  g_object_unref (new_mutex (FALSE));
  footprint_measure (&before);

  for (i = 0; i < N_FOOTPRINT; i++)
    g_ptr_array_add (mutexes, new_mutex (i % 2 == 1));
  footprint_assert_alive (&before, N_FOOTPRINT);

  /* Distinct objects: each is a lock of its own (two sharing memory
   * would make the second lock a relock). */
  for (i = 0; i < mutexes->len; i++)
    assert_lock (g_ptr_array_index (mutexes, i));
  for (i = 0; i < mutexes->len; i++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (g_ptr_array_index (mutexes, i)), ==, getpid ());
      assert_unlock (g_ptr_array_index (mutexes, i));
      g_assert_cmpint (ps_mutex_get_owner_pid (g_ptr_array_index (mutexes, i)), ==, 0);
    }

  g_ptr_array_set_size (mutexes, 0);
  footprint_assert_released (&before);
}

static void
test_footprint_mixed (void)
{
  g_autoptr(GPtrArray) objects = g_ptr_array_new_with_free_func (g_object_unref);
  Footprint before;
  guint i;

  g_object_unref (new_mutex (FALSE));
  footprint_measure (&before);

  for (i = 0; i < N_FOOTPRINT; i++)
    {
      g_autoptr(GError) error = NULL;
      GObject *object;

      switch (i % 3)
        {
        case 0:
          object = G_OBJECT (ps_mutex_new (&error));
          break;
        case 1:
          object = G_OBJECT (ps_semaphore_new (1, &error));
          break;
        default:
          object = G_OBJECT (ps_cond_new (&error));
          break;
        }
      g_assert_no_error (error);
      g_ptr_array_add (objects, object);
    }
  footprint_assert_alive (&before, N_FOOTPRINT);

  for (i = 1; i < objects->len; i += 3)
    g_assert_true (ps_semaphore_try_acquire (g_ptr_array_index (objects, i)));
  for (i = 1; i < objects->len; i += 3)
    g_assert_cmpuint (ps_semaphore_get_value (g_ptr_array_index (objects, i)), ==, 0);
  for (i = 0; i < objects->len; i += 3)
    assert_lock (g_ptr_array_index (objects, i));
  for (i = 0; i < objects->len; i += 3)
    assert_unlock (g_ptr_array_index (objects, i));

  g_ptr_array_set_size (objects, 0);
  footprint_assert_released (&before);
}

/* Threads creating and dropping objects at once never get the same
 * memory: each holds all of its own, and finds them still its own. */
#define N_POOL_THREADS 4
#define N_PER_THREAD   400

static gpointer
pool_thread (gpointer data)
{
  gint *failures = data;
  PsMutex *mutexes[N_PER_THREAD];
  guint round, i;

  for (round = 0; round < 3; round++)
    {
      for (i = 0; i < N_PER_THREAD; i++)
        {
          mutexes[i] = ps_mutex_new (NULL);
          if (mutexes[i] == NULL ||
              !ps_mutex_lock (mutexes[i], 0, NULL, NULL))
            {
              g_atomic_int_inc (failures);
              return NULL;
            }
          /* Drop some at once, so that slots are freed while others
           * are being taken. */
          if (i % 3 == 0)
            {
              if (!ps_mutex_unlock (mutexes[i], NULL))
                g_atomic_int_inc (failures);
              g_clear_object (&mutexes[i]);
            }
        }
      for (i = 0; i < N_PER_THREAD; i++)
        {
          if (mutexes[i] == NULL)
            continue;
          if (ps_mutex_get_owner_pid (mutexes[i]) != getpid () ||
              !ps_mutex_unlock (mutexes[i], NULL))
            g_atomic_int_inc (failures);
          g_object_unref (mutexes[i]);
        }
    }
  return NULL;
}

static void
test_footprint_threads (void)
{
  GThread *threads[N_POOL_THREADS];
  gint failures = 0;
  guint i;

  for (i = 0; i < N_POOL_THREADS; i++)
    threads[i] = g_thread_new ("pool", pool_thread, &failures);
  for (i = 0; i < N_POOL_THREADS; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (failures, ==, 0);
}

/* The pool over fork(): objects made after the fork, in either process,
 * must never land on memory the other process still uses. */
typedef struct
{
  PsMutex **pre;
  Shared   *shared;
  GPid      parent;
} PoolArgs;

static int
pool_child (gpointer data)
{
  PoolArgs *args = data;
  PsMutex *own[N_AFTER_FORK];
  PsMutex *extra[50];
  guint i;

  /* Our own new objects, all held. */
  for (i = 0; i < N_AFTER_FORK; i++)
    {
      own[i] = new_mutex (i % 2 == 1);
      assert_lock (own[i]);
    }
  /* M1 and its neighbours from before the fork. */
  assert_lock (args->pre[2]);
  assert_lock (args->pre[3]);
  assert_lock (args->pre[4]);

  /* Drop our handle on an inherited object the parent holds, then make
   * more: none may reuse its slot (that would wipe the parent's lock). */
  g_assert_cmpint (ps_mutex_get_owner_pid (args->pre[6]), ==, args->parent);
  g_clear_object (&args->pre[6]);
  for (i = 0; i < G_N_ELEMENTS (extra); i++)
    {
      extra[i] = new_mutex (FALSE);
      g_assert_cmpint (ps_mutex_get_owner_pid (extra[i]), ==, 0);
      assert_lock (extra[i]);
    }

  g_atomic_int_set (&args->shared->step, 1);
  g_assert_true (ps_test_wait_int (&args->shared->step, 2, 60));

  /* The parent dropped M1 and made 300 objects of its own meanwhile:
   * all of ours are untouched, still held by us. */
  for (i = 0; i < N_AFTER_FORK; i++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (own[i]), ==, getpid ());
      assert_unlock (own[i]);
      g_object_unref (own[i]);
    }
  for (i = 0; i < G_N_ELEMENTS (extra); i++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (extra[i]), ==, getpid ());
      assert_unlock (extra[i]);
      g_object_unref (extra[i]);
    }
  for (i = 2; i <= 4; i++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (args->pre[i]), ==, getpid ());
      assert_unlock (args->pre[i]);
    }
  g_atomic_int_set (&args->shared->step, 3);
  return 0;
}

static void
test_footprint_fork (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  Shared *shared = shared_new (&memory);
  PsMutex *pre[N_PRE_FORK];
  PsMutex *mine[N_AFTER_FORK];
  PoolArgs args = { pre, shared, getpid () };
  pid_t pid;
  guint i;

  for (i = 0; i < N_PRE_FORK; i++)
    pre[i] = new_mutex (FALSE);
  /* Held across the fork, to see whether the child's objects land on it. */
  assert_lock (pre[6]);

  pid = ps_test_fork (pool_child, &args, ps_test_scaled_s (60));
  assert_wait_int (&shared->step, 1);

  /* Inherited objects are shared: we see the child's locks on them. */
  for (i = 2; i <= 4; i++)
    g_assert_cmpint (ps_mutex_get_owner_pid (pre[i]), ==, pid);

  /* Drop M1 and a neighbour while the child uses them, then make ours. */
  g_clear_object (&pre[3]);
  g_clear_object (&pre[5]);
  for (i = 0; i < N_AFTER_FORK; i++)
    {
      g_autoptr(GError) error = NULL;

      mine[i] = new_mutex (i % 3 == 0);
      /* Not one of the child's held locks. */
      g_assert_cmpint (ps_mutex_get_owner_pid (mine[i]), ==, 0);
      g_assert_true (ps_mutex_try_lock (mine[i], &error));
      g_assert_no_error (error);
    }
  g_assert_cmpint (ps_mutex_get_owner_pid (pre[6]), ==, getpid ());
  g_assert_cmpint (ps_mutex_get_owner_pid (pre[2]), ==, pid);
  g_assert_cmpint (ps_mutex_get_owner_pid (pre[4]), ==, pid);

  g_atomic_int_set (&shared->step, 2);
  assert_wait_int (&shared->step, 3);
  ps_test_reap_ok (pid, ps_test_scaled_s (30));

  for (i = 0; i < N_AFTER_FORK; i++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (mine[i]), ==, getpid ());
      assert_unlock (mine[i]);
      g_object_unref (mine[i]);
    }
  g_assert_cmpint (ps_mutex_get_owner_pid (pre[6]), ==, getpid ());
  assert_unlock (pre[6]);
  for (i = 0; i < N_PRE_FORK; i++)
    {
      if (pre[i] == NULL)
        continue;
      g_assert_cmpint (ps_mutex_get_owner_pid (pre[i]), ==, 0);
      assert_lock (pre[i]);
      assert_unlock (pre[i]);
      g_object_unref (pre[i]);
    }
}

/* Main ---------------------------------------------------------------------- */

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);
  ps_test_watchdog (ps_test_scaled_s (170));

  ps_test_add ("/mutex/footprint/thousand", test_footprint_thousand);
  ps_test_add ("/mutex/footprint/mixed-primitives", test_footprint_mixed);
  ps_test_add ("/mutex/footprint/threads", test_footprint_threads);
  ps_test_add ("/mutex/footprint/fork", test_footprint_fork);

  return g_test_run ();
}
