/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Construction through properties, as g_initable_new() and the language
 * bindings do it: the constructors' common part (ps-object-storage.c)
 * seen from outside, for every synchronisation class.
 */

#include <string.h>
#include <sys/stat.h>

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

/* g_object_new() alone, as PyGObject and GJS construct: a working
 * anonymous object with the properties given. */
static void
test_object_new_works (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = g_object_new (PS_TYPE_SEMAPHORE, "initial-value", 3, NULL);
  g_autoptr(PsMutex) mutex = g_object_new (PS_TYPE_MUTEX, NULL);
  g_autoptr(PsCond) cond = g_object_new (PS_TYPE_COND, NULL);
  g_autoptr(PsSharedMemory) memory = g_object_new (PS_TYPE_SHARED_MEMORY, "size", (guint64) 64, NULL);

  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 3);
  g_assert_true (ps_semaphore_get_created (semaphore));
  g_assert_true (ps_mutex_try_lock (mutex, &error));
  g_assert_no_error (error);
  g_assert_true (ps_mutex_unlock (mutex, &error));
  ps_cond_signal (cond);
  g_assert_cmpuint (ps_shared_memory_get_size (memory), ==, 64);
  g_assert_true (ps_shared_memory_set_int32 (memory, 60, 7, &error));
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_get_created (memory));
}

/* A construction that cannot succeed: every call that can report an
 * error reports the construction's, and g_initable_init() gives it. */
static void
test_object_new_failure (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = g_object_new (PS_TYPE_MUTEX, "name", "no slash", NULL);
  g_autoptr(PsSemaphore) semaphore = g_object_new (PS_TYPE_SEMAPHORE, "initial-value", 5,
                                                   "max-value", 2, NULL);

  g_assert_false (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (ps_mutex_unlock (mutex, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (g_initable_init (G_INITABLE (mutex), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_false (ps_semaphore_acquire (semaphore, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (ps_semaphore_release_many (semaphore, 1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static guint32
file_mode (const char *name)
{
  g_autofree char *path = g_strconcat ("/dev/shm", name, NULL);
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_mode & 0777;
}

/* Every configuration has a constructor: named recursive mutexes,
 * bounded named semaphores, modes other than 0600. */
static void
test_open_full (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *mutex_name = ps_test_unique_name ("full-mutex");
  g_autofree char *semaphore_name = ps_test_unique_name ("full-semaphore");
  g_autofree char *cond_name = ps_test_unique_name ("full-cond");
  g_autofree char *memory_name = ps_test_unique_name ("full-memory");
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsMutex) reopened = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsCond) cond = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsSharedMemory) memory_again = NULL;

  mutex = ps_mutex_open_full (mutex_name, PS_OPEN_CREATE, 0640, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_is_recursive (mutex));
  g_assert_true (ps_mutex_get_created (mutex));
  g_assert_cmpuint (file_mode (mutex_name), ==, 0640);
  reopened = ps_mutex_open_full (mutex_name, PS_OPEN_CREATE, 0600, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (ps_mutex_is_recursive (reopened));
  g_assert_false (ps_mutex_get_created (reopened));

  semaphore = ps_semaphore_open_full (semaphore_name, PS_OPEN_CREATE, 0604, 1, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_max_value (semaphore), ==, 1);
  g_assert_false (ps_semaphore_release (semaphore, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OVERFLOW);
  g_clear_error (&error);
  g_assert_cmpuint (file_mode (semaphore_name), ==, 0604);

  cond = ps_cond_open_full (cond_name, PS_OPEN_CREATE, 0660, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (cond_name), ==, 0660);

  memory = ps_shared_memory_open_full (memory_name, PS_OPEN_CREATE, 128, 0644, &error);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_get_created (memory));
  g_assert_cmpuint (file_mode (memory_name), ==, 0644);
  memory_again = ps_shared_memory_open_full (memory_name, PS_OPEN_NONE, 0, 0600, &error);
  g_assert_no_error (error);
  g_assert_false (ps_shared_memory_get_created (memory_again));

  g_assert_null (ps_mutex_open_full ("/ps-test-bad-mode", PS_OPEN_CREATE, 01777, FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  ps_test_assert_in_dev_shm ("/ps-test-bad-mode", FALSE);

  for (const char *name = mutex_name; name != NULL;
       name = name == mutex_name ? semaphore_name : name == semaphore_name ? cond_name
              : name == cond_name ? memory_name : NULL)
    g_assert_true (ps_unlink (name, NULL));
}

typedef struct
{
  PsSemaphore *semaphore;
  gint         acquired;
} Waiter;

static gpointer
acquire_in_thread (gpointer data)
{
  Waiter *waiter = data;

  if (ps_semaphore_acquire (waiter->semaphore, ps_test_scaled_us (10 * G_USEC_PER_SEC),
                            NULL, NULL))
    g_atomic_int_inc (&waiter->acquired);
  return NULL;
}

/* release_many: all or nothing, and every waiter it feeds wakes. */
static void
test_release_many (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) bounded = ps_semaphore_new_bounded (3, 5, &error);
  g_autoptr(PsSemaphore) semaphore = ps_semaphore_new (0, &error);
  Waiter waiter = { NULL, 0 };
  GThread *threads[3];

  g_assert_no_error (error);
  g_assert_false (ps_semaphore_release_many (bounded, 3, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OVERFLOW);
  g_clear_error (&error);
  g_assert_cmpuint (ps_semaphore_get_value (bounded), ==, 3);
  g_assert_false (ps_semaphore_release_many (bounded, G_MAXUINT, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OVERFLOW);
  g_clear_error (&error);
  g_assert_true (ps_semaphore_release_many (bounded, 0, &error));
  g_assert_true (ps_semaphore_release_many (bounded, 2, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (bounded), ==, 5);

  waiter.semaphore = semaphore;
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("waiter", acquire_in_thread, &waiter);
  g_usleep (50000);
  g_assert_true (ps_semaphore_release_many (semaphore, 3, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (waiter.acquired, ==, 3);
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 0);
}

static int
lock_and_die (gpointer data)
{
  PsMutex *mutex = data;

  if (!ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
    return 2;
  _exit (0);
}

/* Who died: the error names the dead holder, and so does
 * ps_mutex_get_previous_owner_pid(). */
static void
test_previous_owner_pid (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = ps_mutex_new (&error);
  g_autofree char *pid_text = NULL;
  pid_t child;

  g_assert_no_error (error);
  g_assert_cmpint (ps_mutex_get_previous_owner_pid (mutex), ==, 0);
  child = ps_test_fork (lock_and_die, mutex, ps_test_scaled_s (20));
  ps_test_reap_ok (child, ps_test_scaled_s (20));

  g_assert_false (ps_mutex_lock (mutex, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
  pid_text = g_strdup_printf ("process %d,", (int) child);
  g_assert_nonnull (strstr (error->message, pid_text));
  g_assert_cmpint (ps_mutex_get_previous_owner_pid (mutex), ==, child);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, getpid ());
  g_assert_true (ps_mutex_mark_consistent (mutex, NULL));
  g_assert_true (ps_mutex_unlock (mutex, NULL));
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
  ps_test_add ("/construct/object-new-works", test_object_new_works);
  ps_test_add ("/construct/object-new-failure", test_object_new_failure);
  ps_test_add ("/construct/open-full", test_open_full);
  ps_test_add ("/construct/release-many", test_release_many);
  ps_test_add ("/construct/previous-owner-pid", test_previous_owner_pid);

  return g_test_run ();
}
