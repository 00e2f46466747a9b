/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Placed objects are created once, race-free, as named ones are:
 * open_at() with its flags, new_at() refusing to overwrite a live object,
 * and the "created" property that says who made it.
 */

#include <string.h>
#include <sys/mman.h>

#include "ps-test-util.h"
#include "ps-object-header-private.h"

#define SLOT(i) ((gsize) (i) * PS_MUTEX_SIZE)
#define N_SLOTS 8

static PsSharedMemory *
new_segment (void)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory = ps_shared_memory_new (N_SLOTS * PS_MUTEX_SIZE, &error);

  g_assert_no_error (error);
  return memory;
}

/* new_at over a live object of any type fails and changes nothing. */
static void
test_new_at_refuses_live (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = ps_mutex_new_at (memory, SLOT (0), &error);
  g_autofree guint8 *before = NULL;
  guint8 *data = ps_shared_memory_get_data (memory);

  g_assert_no_error (error);
  g_assert_true (ps_mutex_get_created (mutex));
  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
  before = g_memdup2 (data, PS_MUTEX_SIZE);

  g_assert_null (ps_mutex_new_at (memory, SLOT (0), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_null (ps_semaphore_new_at (memory, SLOT (0), 3, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_null (ps_cond_new_at (memory, SLOT (0), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  /* The property path makes new_at()'s choice too. */
  g_assert_null (g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                                 "memory", memory, "offset", (guint64) SLOT (0), NULL));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  g_assert_cmpmem (data, PS_MUTEX_SIZE, before, PS_MUTEX_SIZE);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
}

/* new_at still takes a place that holds no live object, whatever bytes
 * are there. */
static void
test_new_at_over_foreign (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  guint8 *data = ps_shared_memory_get_data (memory);

  memset (data + SLOT (1), 0x5a, PS_SEMAPHORE_SIZE);
  semaphore = ps_semaphore_new_at (memory, SLOT (1), 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 2);
  g_assert_true (ps_semaphore_get_created (semaphore));
}

static void
test_open_at_create (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) first = NULL;
  g_autoptr(PsSemaphore) second = NULL;
  g_autoptr(PsMutex) wrong = NULL;
  gboolean created = FALSE;

  first = ps_semaphore_open_at (memory, SLOT (2), PS_OPEN_CREATE, 4, &error);
  g_assert_no_error (error);
  g_assert_true (ps_semaphore_get_created (first));
  g_object_get (first, "created", &created, NULL);
  g_assert_true (created);
  g_assert_true (ps_semaphore_try_acquire (first));

  /* The second one attaches; its creation values are ignored. */
  second = ps_semaphore_open_at (memory, SLOT (2), PS_OPEN_CREATE, 9, &error);
  g_assert_no_error (error);
  g_assert_false (ps_semaphore_get_created (second));
  g_assert_cmpuint (ps_semaphore_get_value (second), ==, 3);

  /* EXCLUSIVE over it, and attaching as another type. */
  g_assert_null (ps_semaphore_open_at (memory, SLOT (2), PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                       1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  wrong = ps_mutex_open_at (memory, SLOT (2), PS_OPEN_CREATE, &error);
  g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
  g_assert_null (wrong);
  g_clear_error (&error);

  /* Garbage is not an empty place: CREATE does not overwrite it. */
  memset ((guint8 *) ps_shared_memory_get_data (memory) + SLOT (3), 0x77, PS_MUTEX_SIZE);
  g_assert_null (ps_mutex_open_at (memory, SLOT (3), PS_OPEN_CREATE, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_clear_error (&error);

  g_assert_null (ps_mutex_open_at (memory, SLOT (3), PS_OPEN_EXCLUSIVE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* PS_OPEN_NONE: waits a bounded while, then NOT_FOUND on a place nobody
 * fills; CORRUPT on one whose creator never finished. */
static void
test_open_at_none_not_found (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  PsObjectHeader *header;
  gint64 start = g_get_monotonic_time ();

  g_assert_null (ps_cond_open_at (memory, SLOT (4), PS_OPEN_NONE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, PS_OBJECT_INIT_GRACE_US);

  header = (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + SLOT (5));
  header->ready = PS_OBJECT_CLAIMED;
  g_assert_null (ps_cond_open_at (memory, SLOT (5), PS_OPEN_CREATE, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
}

typedef struct
{
  PsSharedMemory *memory;
  gsize           offset;
  PsOpenFlags     flags;
  GError         *error;
  gboolean        created;
  gboolean        opened;
} Opener;

static gpointer
open_in_thread (gpointer data)
{
  Opener *opener = data;
  g_autoptr(PsMutex) mutex = ps_mutex_open_at (opener->memory, opener->offset, opener->flags,
                                               &opener->error);

  if (mutex != NULL)
    {
      opener->opened = TRUE;
      opener->created = ps_mutex_get_created (mutex);
      /* A working mutex, whoever made it. */
      g_assert_true (ps_mutex_lock (mutex, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, NULL));
      g_assert_true (ps_mutex_unlock (mutex, NULL));
    }
  return NULL;
}

/* An opener that comes before the creator waits for it. */
static void
test_open_at_none_waits_for_creator (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  Opener opener = { memory, SLOT (6), PS_OPEN_NONE, NULL, FALSE, FALSE };
  GThread *thread = g_thread_new ("opener", open_in_thread, &opener);

  g_usleep (PS_OBJECT_INIT_GRACE_US / 10);
  mutex = ps_mutex_new_at (memory, SLOT (6), &error);
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_no_error (opener.error);
  g_assert_true (opener.opened);
  g_assert_false (opener.created);
}

/* Racing creators: exactly one creates, nobody sees CORRUPT. */
static void
test_open_at_racing_threads (void)
{
  enum { N_THREADS = 8, ROUNDS = 50 };

  for (guint round = 0; round < ROUNDS; round++)
    {
      g_autoptr(PsSharedMemory) memory = new_segment ();
      Opener openers[N_THREADS];
      GThread *threads[N_THREADS];
      guint n_created = 0;

      for (guint i = 0; i < N_THREADS; i++)
        {
          openers[i] = (Opener) { memory, SLOT (7), PS_OPEN_CREATE, NULL, FALSE, FALSE };
          threads[i] = g_thread_new ("creator", open_in_thread, &openers[i]);
        }
      for (guint i = 0; i < N_THREADS; i++)
        {
          g_thread_join (threads[i]);
          g_assert_no_error (openers[i].error);
          g_assert_true (openers[i].opened);
          n_created += openers[i].created;
        }
      g_assert_cmpuint (n_created, ==, 1);
    }
}

static int
create_in_child (gpointer data)
{
  PsSharedMemory *memory = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = ps_semaphore_open_at (memory, SLOT (0), PS_OPEN_CREATE,
                                                           0, &error);

  if (semaphore == NULL)
    return 2;
  /* One unit from each process; the creator says so with its exit code. */
  if (!ps_semaphore_release (semaphore, NULL))
    return 3;
  return ps_semaphore_get_created (semaphore) ? 1 : 0;
}

static void
test_open_at_racing_processes (void)
{
  enum { N_CHILDREN = 6 };
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  pid_t children[N_CHILDREN];
  guint n_created = 0;

  for (guint i = 0; i < N_CHILDREN; i++)
    children[i] = ps_test_fork (create_in_child, memory, ps_test_scaled_s (30));
  for (guint i = 0; i < N_CHILDREN; i++)
    {
      int status = ps_test_reap (children[i], ps_test_scaled_s (30));

      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), <=, 1);
      n_created += WEXITSTATUS (status);
    }
  g_assert_cmpuint (n_created, ==, 1);

  semaphore = ps_semaphore_open_at (memory, SLOT (0), PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  g_assert_false (ps_semaphore_get_created (semaphore));
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, N_CHILDREN);
}

/* Through properties: "open-flags" given makes it open_at(). */
static void
test_open_at_properties (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) created = NULL;
  g_autoptr(PsMutex) opened = NULL;
  g_autoptr(PsMutex) missing = NULL;

  created = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                            "memory", memory, "offset", (guint64) SLOT (1),
                            "open-flags", PS_OPEN_CREATE, "recursive", TRUE, NULL);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_get_created (created));
  opened = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                           "memory", memory, "offset", (guint64) SLOT (1),
                           "open-flags", PS_OPEN_NONE, NULL);
  g_assert_no_error (error);
  g_assert_false (ps_mutex_get_created (opened));
  g_assert_true (ps_mutex_is_recursive (opened));

  missing = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                            "memory", memory, "offset", (guint64) SLOT (2),
                            "open-flags", PS_OPEN_NONE, NULL);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (missing);
}

static void
test_open_at_full (void)
{
  g_autoptr(PsSharedMemory) memory = new_segment ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsMutex) mutex = NULL;

  semaphore = ps_semaphore_open_at_full (memory, SLOT (0), PS_OPEN_CREATE, 1, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_max_value (semaphore), ==, 2);
  g_assert_true (ps_semaphore_release (semaphore, &error));
  g_assert_false (ps_semaphore_release (semaphore, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OVERFLOW);
  g_clear_error (&error);

  g_assert_null (ps_semaphore_open_at_full (memory, SLOT (1), PS_OPEN_CREATE, 3, 2, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  mutex = ps_mutex_open_at_full (memory, SLOT (2), PS_OPEN_CREATE, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_is_recursive (mutex));
  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/open-at/new-at-refuses-live", test_new_at_refuses_live);
  ps_test_add ("/open-at/new-at-over-foreign", test_new_at_over_foreign);
  ps_test_add ("/open-at/create", test_open_at_create);
  ps_test_add ("/open-at/none-not-found", test_open_at_none_not_found);
  ps_test_add ("/open-at/none-waits-for-creator", test_open_at_none_waits_for_creator);
  ps_test_add ("/open-at/racing-threads", test_open_at_racing_threads);
  ps_test_add ("/open-at/racing-processes", test_open_at_racing_processes);
  ps_test_add ("/open-at/properties", test_open_at_properties);
  ps_test_add ("/open-at/full", test_open_at_full);

  return g_test_run ();
}
