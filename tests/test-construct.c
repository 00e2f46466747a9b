/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Construction through properties, as g_initable_new() and the language
 * bindings do it: the constructors' common part (ps-object-storage.c)
 * seen from outside, for every synchronisation class.
 */

#include "ps-test-util.h"

#define MUTEX_OFFSET     0
#define SEMAPHORE_OFFSET PS_MUTEX_SIZE
#define COND_OFFSET      (PS_MUTEX_SIZE + PS_SEMAPHORE_SIZE)
#define SEGMENT_SIZE     (PS_MUTEX_SIZE + PS_SEMAPHORE_SIZE + PS_COND_SIZE)

static gpointer
try_lock_in_thread (gpointer data)
{
  PsMutex *mutex = data;
  g_autoptr(GError) error = NULL;
  gboolean locked = ps_mutex_try_lock (mutex, &error);

  g_assert_no_error (error);
  if (locked)
    g_assert_true (ps_mutex_unlock (mutex, NULL));
  return GINT_TO_POINTER (locked);
}

/* The "attach" property attaches to the live mutex: a second handle made
 * through properties sees it held, by us, instead of resetting it. */
static void
test_attach_property_mutex (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_autoptr(PsMutex) created = NULL;
  g_autoptr(PsMutex) attached = NULL;
  GThread *thread;
  gboolean attach = FALSE;

  g_assert_no_error (error);
  created = ps_mutex_new_at (memory, MUTEX_OFFSET, &error);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_lock (created, PS_TIMEOUT_INFINITE, NULL, &error));

  attached = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                             "memory", memory,
                             "offset", (guint64) MUTEX_OFFSET,
                             "attach", TRUE,
                             NULL);
  g_assert_no_error (error);
  g_assert_nonnull (attached);
  g_object_get (attached, "attach", &attach, NULL);
  g_assert_true (attach);

  /* Still held, by this process: another thread cannot take it through
   * either handle. */
  g_assert_cmpint (ps_mutex_get_owner_pid (attached), ==, getpid ());
  thread = g_thread_new ("try-lock", try_lock_in_thread, attached);
  g_assert_false (GPOINTER_TO_INT (g_thread_join (thread)));
  thread = g_thread_new ("try-lock", try_lock_in_thread, created);
  g_assert_false (GPOINTER_TO_INT (g_thread_join (thread)));

  /* The holder releases it through the other handle. */
  g_assert_true (ps_mutex_unlock (attached, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ps_mutex_get_owner_pid (created), ==, 0);
  thread = g_thread_new ("try-lock", try_lock_in_thread, created);
  g_assert_true (GPOINTER_TO_INT (g_thread_join (thread)));
}

/* A recursive mutex attached through properties is recursive, whatever
 * the "recursive" property said. */
static void
test_attach_property_keeps_kind (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_autoptr(PsMutex) created = NULL;
  g_autoptr(PsMutex) attached = NULL;

  g_assert_no_error (error);
  created = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                            "memory", memory,
                            "offset", (guint64) MUTEX_OFFSET,
                            "recursive", TRUE,
                            NULL);
  g_assert_no_error (error);
  attached = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                             "memory", memory,
                             "offset", (guint64) MUTEX_OFFSET,
                             "attach", TRUE,
                             "recursive", FALSE,
                             NULL);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_is_recursive (attached));
}

static void
test_attach_property_semaphore (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_autoptr(PsSemaphore) created = NULL;
  g_autoptr(PsSemaphore) attached = NULL;

  g_assert_no_error (error);
  created = ps_semaphore_new_at (memory, SEMAPHORE_OFFSET, 3, &error);
  g_assert_no_error (error);
  g_assert_true (ps_semaphore_try_acquire (created));

  /* The creation values are ignored: the count stays 2. */
  attached = g_initable_new (PS_TYPE_SEMAPHORE, NULL, &error,
                             "memory", memory,
                             "offset", (guint64) SEMAPHORE_OFFSET,
                             "attach", TRUE,
                             "initial-value", 9,
                             NULL);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (attached), ==, 2);
  g_assert_cmpuint (ps_semaphore_get_max_value (attached), ==, G_MAXINT32);
  g_assert_true (ps_semaphore_try_acquire (attached));
  g_assert_cmpuint (ps_semaphore_get_value (created), ==, 1);
}

static void
test_attach_property_cond (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_autoptr(PsCond) created = NULL;
  g_autoptr(PsCond) attached = NULL;
  g_autoptr(PsCond) wrong = NULL;

  g_assert_no_error (error);
  created = ps_cond_new_at (memory, COND_OFFSET, &error);
  g_assert_no_error (error);
  attached = g_initable_new (PS_TYPE_COND, NULL, &error,
                             "memory", memory,
                             "offset", (guint64) COND_OFFSET,
                             "attach", TRUE,
                             NULL);
  g_assert_no_error (error);
  g_assert_nonnull (attached);

  /* Attaching checks the type, as ps_cond_attach() does. */
  wrong = g_initable_new (PS_TYPE_COND, NULL, &error,
                          "memory", memory,
                          "offset", (guint64) MUTEX_OFFSET,
                          "attach", TRUE,
                          NULL);
  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (wrong);
}

/* Attaching needs somewhere to attach to. */
static void
test_attach_property_needs_memory (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;

  mutex = g_initable_new (PS_TYPE_MUTEX, NULL, &error, "attach", TRUE, NULL);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (mutex);
}

/* GInitable's contract: a second init gives the first result. */
static void
test_init_idempotent (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_autoptr(PsSemaphore) good = NULL;
  g_autoptr(PsMutex) bad = NULL;

  g_assert_no_error (error);
  good = g_object_new (PS_TYPE_SEMAPHORE, "initial-value", 1, NULL);
  g_assert_true (g_initable_init (G_INITABLE (good), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ps_semaphore_try_acquire (good));
  g_assert_true (g_initable_init (G_INITABLE (good), NULL, &error));
  g_assert_no_error (error);
  /* Not made again: the unit taken stays taken. */
  g_assert_cmpuint (ps_semaphore_get_value (good), ==, 0);

  /* Misaligned: fails, and fails the same way again. */
  bad = g_object_new (PS_TYPE_MUTEX, "memory", memory, "offset", (guint64) 4, NULL);
  g_assert_false (g_initable_init (G_INITABLE (bad), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (g_initable_init (G_INITABLE (bad), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* The constructors check their arguments before making anything. */
static void
test_constructor_arguments (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_autofree char *name = ps_test_unique_name ("construct");

  g_assert_no_error (error);

  /* A missing name is an error, not a request for an anonymous object. */
  g_assert_null (ps_mutex_open (NULL, PS_OPEN_CREATE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (ps_cond_open (name, PS_OPEN_EXCLUSIVE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (ps_semaphore_open (name, PS_OPEN_CREATE, (guint) G_MAXINT32 + 1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  ps_test_assert_in_dev_shm (name, FALSE);

  /* A named and placed object at once. */
  g_assert_null (g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                                 "name", name,
                                 "memory", memory,
                                 NULL));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  ps_test_assert_in_dev_shm (name, FALSE);

  /* Out of the segment. */
  g_assert_null (ps_semaphore_new_at (memory, SEGMENT_SIZE - 8, 0, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/construct/attach-property/mutex", test_attach_property_mutex);
  ps_test_add ("/construct/attach-property/keeps-kind", test_attach_property_keeps_kind);
  ps_test_add ("/construct/attach-property/semaphore", test_attach_property_semaphore);
  ps_test_add ("/construct/attach-property/cond", test_attach_property_cond);
  ps_test_add ("/construct/attach-property/needs-memory", test_attach_property_needs_memory);
  ps_test_add ("/construct/init-idempotent", test_init_idempotent);
  ps_test_add ("/construct/constructor-arguments", test_constructor_arguments);

  return g_test_run ();
}
