/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Leaks: creating, using and dropping 100,000 objects of each class
 * (anonymous; fewer named and placed ones; failed constructions; waits
 * that time out, are cancelled, or run asynchronously) leaves the
 * process's descriptors, mappings and memory flat. So do 100,000 PsQueue
 * messages sent and received in every way, sync and async, and 10,000
 * queues made and dropped.
 *
 * Each test runs its loop once to warm up (types registered, the pool's
 * first chunk, GLib's caches), measures, runs it again, and compares:
 * descriptors exactly, mappings within a chunk or two, resident memory
 * within a tolerance far below what a leak of even a few bytes per
 * object would add. Under valgrind or the sanitizers (PS_TEST_TIME_SCALE
 * above 1) the loops are shorter and resident memory is not compared:
 * those tools do their own, exact, leak checking.
 */

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>

#include <string.h>

#include "stress-util.h"
#include "queue-util.h"

#define N_ANONYMOUS       100000
#define N_NAMED           2000
#define N_PLACED          20000
#define N_FAILURES        10000
#define N_WAITS           10000
#define N_ASYNC           100000
#define SLOW_DIVISOR      50
#define BATCH             1000
/* A leak of 16 bytes per object over 100,000 objects is 1.6 MB. */
#define RSS_TOLERANCE     (1024 * 1024)
#define MAPS_TOLERANCE    3
/* A worker thread of a pool (async waits run on one) brings its stack,
 * its guard page and perhaps a malloc arena: a pool that happens to be
 * larger after the second run is not a leak. */
#define MAPS_PER_THREAD   4

/* AddressSanitizer's allocator maps memory of its own as it goes and
 * keeps freed memory in quarantine: only procshared's own (shared)
 * mappings and the descriptors mean anything under it, whatever the time
 * scale. */
#if defined(__SANITIZE_ADDRESS__)
# define UNDER_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define UNDER_ASAN 1
# endif
#endif
#ifndef UNDER_ASAN
# define UNDER_ASAN 0
#endif

typedef struct
{
  guint  fds;
  guint  maps;
  guint  shared_maps;   /* MAP_SHARED: what procshared maps, whatever the allocator does */
  gsize  rss;
  guint  threads;
} Usage;

static guint
count_entries (const char *path)
{
  DIR *dir = opendir (path);
  guint n = 0;

  g_assert_nonnull (dir);
  while (readdir (dir) != NULL)
    n++;
  closedir (dir);
  return n;
}

static void
count_maps (guint *all,
            guint *shared)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  *all = *shared = 0;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *perms = strchr (lines[i], ' ');

      if (perms == NULL)
        continue;
      (*all)++;
      /* "rw-s": the fourth permission character says shared. */
      if (strlen (perms) > 4 && perms[4] == 's')
        (*shared)++;
    }
}

static gsize
resident_bytes (void)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) fields = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/statm", &contents, NULL, NULL));
  fields = g_strsplit (contents, " ", -1);
  g_assert_nonnull (fields[1]);
  return (gsize) g_ascii_strtoull (fields[1], NULL, 10) * (gsize) sysconf (_SC_PAGESIZE);
}

static Usage
measure (void)
{
  Usage usage;

  /* Give freed memory back first, so that what remains is what is used. */
  malloc_trim (0);
  usage.fds = count_entries ("/proc/self/fd");
  usage.threads = count_entries ("/proc/self/task");
  count_maps (&usage.maps, &usage.shared_maps);
  usage.rss = resident_bytes ();
  return usage;
}

static guint
scaled_count (guint n)
{
  return stress_is_slow () ? MAX (n / SLOW_DIVISOR, 10) : n;
}

typedef void (*LeakLoop) (guint n);

/* Runs @loop twice, and compares usage around the second run. */
static void
assert_flat (const char *what,
             LeakLoop    loop,
             guint       n)
{
  Usage before, after;
  gint64 start;

  n = scaled_count (n);
  loop (n);
  before = measure ();
  start = g_get_monotonic_time ();
  loop (n);
  after = measure ();

  g_test_message ("%s, %u times in %.2f s: fds %u -> %u, maps %u -> %u (shared %u -> %u), "
                  "rss %" G_GSIZE_FORMAT " -> %" G_GSIZE_FORMAT " kB, threads %u -> %u",
                  what, n, (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC,
                  before.fds, after.fds, before.maps, after.maps,
                  before.shared_maps, after.shared_maps, before.rss / 1024, after.rss / 1024,
                  before.threads, after.threads);
  g_assert_cmpuint (after.fds, ==, before.fds);
  /* procshared's own mappings are all shared; the allocator's are not. */
  g_assert_cmpuint (after.shared_maps, <=, before.shared_maps + MAPS_TOLERANCE);
  if (!stress_is_slow () && !UNDER_ASAN)
    {
      /* Under valgrind and the sanitizers, their allocators map and keep
       * memory of their own; they check leaks exactly themselves. */
      guint more_threads = after.threads > before.threads ? after.threads - before.threads : 0;

      g_assert_cmpuint (after.maps, <=, before.maps + MAPS_TOLERANCE + MAPS_PER_THREAD * more_threads);
      g_assert_cmpuint (after.rss, <=, before.rss + RSS_TOLERANCE);
    }
}

/* Anonymous objects ---------------------------------------------------------- */

static void
use_semaphore (PsSemaphore *semaphore)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_semaphore_acquire (semaphore, 0, NULL, &error));
  g_assert_true (ps_semaphore_release (semaphore, &error));
  g_assert_no_error (error);
}

static void
use_mutex (PsMutex *mutex)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
  g_assert_true (ps_mutex_unlock (mutex, &error));
  g_assert_no_error (error);
}

static void
use_shared_memory (PsSharedMemory *memory)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  g_assert_true (ps_shared_memory_write_variant (memory, 0, g_variant_new ("(si)", "x", 1),
                                                 &error));
  value = ps_shared_memory_read_variant (memory, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (value);
}

static GObject *
new_anonymous (guint which)
{
  g_autoptr(GError) error = NULL;
  GObject *object;

  switch (which % 5)
    {
    case 0:
      object = G_OBJECT (ps_semaphore_new (1, &error));
      use_semaphore (PS_SEMAPHORE (object));
      break;
    case 1:
      object = G_OBJECT (ps_mutex_new (&error));
      use_mutex (PS_MUTEX (object));
      break;
    case 2:
      object = G_OBJECT (ps_mutex_new_recursive (&error));
      use_mutex (PS_MUTEX (object));
      break;
    case 3:
      object = G_OBJECT (ps_cond_new (&error));
      ps_cond_broadcast (PS_COND (object));
      break;
    default:
      object = G_OBJECT (ps_shared_memory_new (256, &error));
      use_shared_memory (PS_SHARED_MEMORY (object));
      break;
    }
  g_assert_no_error (error);
  return object;
}

/* One class at a time, created and dropped one by one, then kept in
 * batches of BATCH so that the pool fills and empties whole chunks. */
static guint anonymous_class;

static void
loop_anonymous (guint n)
{
  GObject **batch = g_new0 (GObject *, BATCH);

  for (guint i = 0; i < n / 2; i++)
    g_object_unref (new_anonymous (anonymous_class));
  for (guint i = 0; i < n / 2; i += BATCH)
    {
      guint count = MIN (BATCH, n / 2 - i);

      for (guint j = 0; j < count; j++)
        batch[j] = new_anonymous (anonymous_class);
      for (guint j = 0; j < count; j++)
        g_object_unref (batch[j]);
    }
  g_free (batch);
}

static void
test_anonymous (gconstpointer data)
{
  static const char *names[] = { "semaphore", "mutex", "recursive mutex", "cond",
                                 "shared memory" };

  anonymous_class = GPOINTER_TO_UINT (data);
  assert_flat (names[anonymous_class], loop_anonymous, N_ANONYMOUS);
}

/* A mutex dropped while held (finalize gives it back first). */
static void
loop_dropped_held (guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      PsMutex *mutex = i % 2 ? ps_mutex_new (&error) : ps_mutex_new_recursive (&error);

      g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
      if (i % 2 == 0)
        g_assert_true (ps_mutex_lock (mutex, 0, NULL, &error));
      g_assert_no_error (error);
      g_object_unref (mutex);
    }
}

static void
test_dropped_held (void)
{
  assert_flat ("mutex dropped while held", loop_dropped_held, N_ANONYMOUS);
}

/* Named and placed ------------------------------------------------------------ */

static void
loop_named (guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("leak-named");
      g_autoptr(GObject) created = NULL;
      g_autoptr(GObject) opened = NULL;

      switch (i % 4)
        {
        case 0:
          created = G_OBJECT (ps_semaphore_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 1, &error));
          opened = G_OBJECT (ps_semaphore_open (name, PS_OPEN_NONE, 0, &error));
          use_semaphore (PS_SEMAPHORE (opened));
          break;
        case 1:
          created = G_OBJECT (ps_mutex_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error));
          opened = G_OBJECT (ps_mutex_open (name, PS_OPEN_NONE, &error));
          use_mutex (PS_MUTEX (opened));
          break;
        case 2:
          created = G_OBJECT (ps_cond_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error));
          opened = G_OBJECT (ps_cond_open (name, PS_OPEN_NONE, &error));
          ps_cond_signal (PS_COND (opened));
          break;
        default:
          created = G_OBJECT (ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                                     4096, &error));
          opened = G_OBJECT (ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error));
          use_shared_memory (PS_SHARED_MEMORY (opened));
          break;
        }
      g_assert_no_error (error);
      g_assert_true (ps_unlink (name, &error));
      g_assert_no_error (error);
    }
}

static void
test_named (void)
{
  assert_flat ("named objects (created, opened, unlinked)", loop_named, N_NAMED);
}

static void
loop_placed (guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (4 * PS_MUTEX_SIZE, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      gsize offset = (i % 4) * PS_MUTEX_SIZE;
      g_autoptr(GObject) placed = NULL;
      g_autoptr(GObject) attached = NULL;

      /* The object an earlier round left there is no longer used:
       * emptied, its place takes a new one (new_at never overwrites a
       * live object). */
      memset ((guint8 *) ps_shared_memory_get_data (memory) + offset, 0, PS_MUTEX_SIZE);
      switch (i % 3)
        {
        case 0:
          placed = G_OBJECT (ps_semaphore_new_at (memory, offset, 1, &error));
          attached = G_OBJECT (ps_semaphore_attach (memory, offset, &error));
          use_semaphore (PS_SEMAPHORE (attached));
          break;
        case 1:
          placed = G_OBJECT (ps_mutex_new_at (memory, offset, &error));
          attached = G_OBJECT (ps_mutex_attach (memory, offset, &error));
          use_mutex (PS_MUTEX (attached));
          break;
        default:
          placed = G_OBJECT (ps_cond_new_at (memory, offset, &error));
          attached = G_OBJECT (ps_cond_attach (memory, offset, &error));
          ps_cond_signal (PS_COND (attached));
          break;
        }
      g_assert_no_error (error);
    }
}

static void
test_placed (void)
{
  assert_flat ("placed objects (made, attached)", loop_placed, N_PLACED);
}

/* Failures --------------------------------------------------------------------- */

static char *missing_name;
static char *mutex_name;
static char *foreign_name;

static void
expect_failure (GObject *object,
                GError  *error)
{
  g_assert_null (object);
  g_assert_nonnull (error);
}

static void
loop_failures (guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (2 * PS_MUTEX_SIZE, &error);
  g_autoptr(PsMutex) placed = ps_mutex_new_at (memory, 0, &error);

  g_assert_no_error (error);
  g_assert_nonnull (placed);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) failure = NULL;
      GObject *object = NULL;

      switch (i % 7)
        {
        case 0:   /* not found */
          object = G_OBJECT (ps_mutex_open (missing_name, PS_OPEN_NONE, &failure));
          break;
        case 1:   /* wrong type, checked before mapping */
          object = G_OBJECT (ps_semaphore_open (mutex_name, PS_OPEN_NONE, 0, &failure));
          break;
        case 2:   /* not a procshared object */
          object = G_OBJECT (ps_cond_open (foreign_name, PS_OPEN_CREATE, &failure));
          break;
        case 3:   /* exists */
          object = G_OBJECT (ps_shared_memory_open (mutex_name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                                    64, &failure));
          break;
        case 4:   /* placed: wrong type */
          object = G_OBJECT (ps_semaphore_attach (memory, 0, &failure));
          break;
        case 5:   /* placed: out of bounds */
          object = G_OBJECT (ps_cond_new_at (memory, PS_MUTEX_SIZE + 8, &failure));
          break;
        default:  /* invalid argument */
          object = G_OBJECT (ps_semaphore_new_bounded (5, 2, &failure));
          break;
        }
      expect_failure (object, failure);
    }
}

static void
test_failures (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autofree char *foreign_path = NULL;

  missing_name = ps_test_unique_name ("leak-missing");
  mutex_name = ps_test_unique_name ("leak-mutex");
  foreign_name = ps_test_unique_name ("leak-foreign");
  foreign_path = g_strconcat ("/dev/shm", foreign_name, NULL);
  mutex = ps_mutex_open (mutex_name, PS_OPEN_CREATE, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (foreign_path, "definitely not a procshared header, "
                                      "but long enough to be read as one", -1, &error));
  g_assert_no_error (error);

  assert_flat ("failed constructions", loop_failures, N_FAILURES);

  g_assert_true (ps_unlink (mutex_name, &error));
  g_assert_cmpint (unlink (foreign_path), ==, 0);
  g_clear_pointer (&missing_name, g_free);
  g_clear_pointer (&mutex_name, g_free);
  g_clear_pointer (&foreign_name, g_free);
}

/* Waits ---------------------------------------------------------------------------- */

static void
loop_waits (guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = ps_semaphore_new (0, &error);
  g_autoptr(PsMutex) mutex = ps_mutex_new (&error);
  g_autoptr(PsCond) cond = ps_cond_new (&error);

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) failure = NULL;
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      gboolean cancelled = i % 2;

      if (cancelled)
        g_cancellable_cancel (cancellable);
      switch (i % 3)
        {
        case 0:
          g_assert_false (ps_semaphore_acquire (semaphore, 1, cancellable, &failure));
          break;
        case 1:
          g_assert_true (ps_mutex_lock (mutex, 0, NULL, NULL));
          g_assert_false (ps_cond_wait (cond, mutex, 1, cancellable, &failure));
          g_assert_true (ps_mutex_unlock (mutex, NULL));
          break;
        default:
          /* Not held: NOT_OWNER (or CANCELLED first), nothing waited. */
          g_assert_false (ps_cond_wait_until (cond, mutex, 0, cancellable, &failure));
          break;
        }
      g_assert_nonnull (failure);
    }
}

static void
test_waits (void)
{
  assert_flat ("waits that time out or are cancelled", loop_waits, N_WAITS);
}

typedef struct
{
  gboolean done;
  gboolean result;
} AsyncState;

static void
on_acquired (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AsyncState *state = user_data;
  g_autoptr(GError) error = NULL;

  state->result = ps_semaphore_acquire_finish (PS_SEMAPHORE (source), result, &error);
  state->done = TRUE;
}

static void
loop_async (guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = ps_semaphore_new (0, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      AsyncState state = { FALSE, FALSE };

      /* Acquired at once, timed out in a worker, cancelled while waiting. */
      if (i % 3 == 0)
        g_assert_true (ps_semaphore_release (semaphore, &error));
      ps_semaphore_acquire_async (semaphore, i % 3 == 1 ? 100 : -1, cancellable, on_acquired,
                                  &state);
      if (i % 3 == 2)
        g_cancellable_cancel (cancellable);
      while (!state.done)
        g_main_context_iteration (NULL, TRUE);
      g_assert_cmpint (state.result, ==, i % 3 == 0);
    }
}

static void
test_async (void)
{
  /* The worker pool's threads are created once and kept: the warm-up
   * run starts them. */
  assert_flat ("async acquires", loop_async, N_WAITS);
}

static void
on_async_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncState *state = user_data;
  g_autoptr(GError) error = NULL;

  if (PS_IS_MUTEX (source))
    state->result = ps_mutex_lock_finish (PS_MUTEX (source), result, &error);
  else if (PS_IS_COND (source))
    state->result = ps_cond_wait_finish (PS_COND (source), result, &error);
  else
    state->result = ps_semaphore_acquire_finish (PS_SEMAPHORE (source), result, &error);
  state->done = TRUE;
}

/* Every async call, through every way it ends: at once, woken while
 * watched, timed out, cancelled while watched. */
static void
loop_async_all (guint n)
{
  g_autoptr(PsSemaphore) semaphore = ps_semaphore_new (0, NULL);
  g_autoptr(PsMutex) mutex = ps_mutex_new (NULL);
  g_autoptr(PsCond) cond = ps_cond_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      AsyncState state = { FALSE, FALSE };
      guint kind = i % 6;
      gboolean expected = TRUE;

      switch (kind)
        {
        case 0:
          g_assert_true (ps_semaphore_release (semaphore, NULL));
          ps_semaphore_acquire_async (semaphore, -1, NULL, on_async_done, &state);
          break;
        case 1:
        case 2:
          ps_semaphore_acquire_async (semaphore, -1, cancellable, on_async_done, &state);
          g_main_context_iteration (NULL, FALSE);
          if (kind == 1)
            g_assert_true (ps_semaphore_release (semaphore, NULL));
          else
            g_cancellable_cancel (cancellable);
          expected = kind == 1;
          break;
        case 3:
          /* Timed out (by the main context's poll, in whole
           * milliseconds: only a few of them). */
          ps_semaphore_acquire_async (semaphore, i % 60 == 3 ? 20 : 0, NULL, on_async_done, &state);
          expected = FALSE;
          break;
        case 4:
          ps_mutex_lock_async (mutex, -1, NULL, on_async_done, &state);
          break;
        default:
          g_assert_true (ps_mutex_lock (mutex, -1, NULL, NULL));
          ps_cond_wait_async (cond, mutex, i % 60 == 5 ? 20 : -1, cancellable,
                              on_async_done, &state);
          g_main_context_iteration (NULL, FALSE);
          if (i % 60 != 5)
            ps_cond_signal (cond);
          expected = i % 60 != 5;
          break;
        }
      while (!state.done)
        g_main_context_iteration (NULL, TRUE);
      g_assert_cmpint (state.result, ==, expected);
      if (kind >= 4)
        g_assert_true (ps_mutex_unlock (mutex, NULL));
    }
}

static void
test_async_all (void)
{
  guint threads_before, threads_after;

  assert_flat ("async lock, wait and acquire", loop_async_all, N_ASYNC);
  /* No thread per wait: the waiter threads made by the first run serve
   * every later one. */
  threads_before = count_entries ("/proc/self/task");
  loop_async_all (scaled_count (N_ASYNC / 10));
  threads_after = count_entries ("/proc/self/task");
  g_assert_cmpuint (threads_after, ==, threads_before);
}

/* PsQueue ---------------------------------------------------------------------- */

#define N_QUEUE_MESSAGES  100000
#define N_QUEUE_ASYNC     20000
#define N_QUEUES          10000

/* Sends and receives of every kind, and the calls that fail: full,
 * empty, timed out, cancelled, too large. */
static void
loop_queue_messages (guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) queue = ps_queue_new (4, 256, &error);
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GBytes) too_large = g_bytes_new_take (g_malloc0 (257), 257);

  g_assert_no_error (error);
  g_cancellable_cancel (cancelled);
  for (guint i = 0; i < n; i++)
    {
      QSendMethod send_method = i % QSEND_N_METHODS;
      QSend send = { 1, i, i % 3, NULL, NULL };
      QRecv recv = { 0 };

      g_assert_true (qsend (queue, send_method, qsend_fit (send_method, QMSG_MIN + i % 200, 256),
                            &send, 0, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (qrecv (queue, (i / QSEND_N_METHODS) % QRECV_N_METHODS, &recv, 0, NULL,
                            &error));
      g_assert_no_error (error);
      g_assert_null (recv.why);

      if (i % 100 == 0)
        {
          g_assert_false (qrecv (queue, i % QRECV_N_METHODS, &recv, i % 1000 == 0 ? 50 : 0,
                                 i % 300 == 0 ? cancelled : NULL, &error));
          g_assert_nonnull (error);
          g_clear_error (&error);
          g_assert_false (ps_queue_send (queue, too_large, 0, 0, NULL, &error));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
          g_clear_error (&error);
        }
    }
}

static void
test_queue_messages (void)
{
  assert_flat ("queue sends and receives", loop_queue_messages, N_QUEUE_MESSAGES);
}

typedef struct
{
  gboolean done;
  gboolean ok;
} QueueAsync;

static void
on_queue_sent (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  QueueAsync *state = user_data;
  g_autoptr(GError) error = NULL;

  state->ok = ps_queue_send_finish (PS_QUEUE (source), result, &error);
  state->done = TRUE;
}

static void
on_queue_received (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  QueueAsync *state = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  PsQueueMessageKind kind;

  state->ok = ps_queue_receive_message_finish (PS_QUEUE (source), result, &kind, &bytes, &value,
                                               NULL, &error);
  state->done = TRUE;
}

/* Async calls through every way they end: at once, woken while watched
 * (by a send or a receive of this process), timed out, cancelled. */
static void
loop_queue_async (guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) queue = ps_queue_new (1, 64, &error);
  g_autoptr(GBytes) message = g_bytes_new_static ("0123456789", 10);

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      QueueAsync state = { FALSE, FALSE };
      guint kind = i % 6;
      gboolean expected = TRUE;
      gboolean receiving = kind == 1 || kind == 4 || kind == 5;

      if (kind == 0 || kind == 2)
        {
          /* A send: to an empty queue (at once), or to a full one that a
           * receive then empties (woken), or that is cancelled. */
          if (kind == 2)
            g_assert_true (ps_queue_send (queue, message, 0, 0, NULL, &error));
          ps_queue_send_async (queue, message, 0, PS_TIMEOUT_INFINITE, cancellable,
                               on_queue_sent, &state);
          g_main_context_iteration (NULL, FALSE);
          if (kind == 2)
            {
              g_autoptr(GBytes) got = NULL;

              if (i % 12 == 2)
                {
                  g_cancellable_cancel (cancellable);
                  expected = FALSE;
                }
              else
                expected = TRUE;
              got = ps_queue_receive (queue, NULL, 0, NULL, &error);
              g_assert_no_error (error);
            }
        }
      else if (receiving)
        {
          /* A receive: of a message there (at once), of one sent later
           * (woken), timed out, cancelled. */
          if (kind == 1)
            g_assert_true (ps_queue_send (queue, message, 0, 0, NULL, &error));
          ps_queue_receive_message_async (queue, kind == 5 ? 20 : PS_TIMEOUT_INFINITE,
                                          cancellable, on_queue_received, &state);
          g_main_context_iteration (NULL, FALSE);
          if (kind == 4)
            g_cancellable_cancel (cancellable);
          expected = kind == 1;
        }
      else
        {
          /* kind 3: a receive woken by a send of this process. */
          ps_queue_receive_message_async (queue, PS_TIMEOUT_INFINITE, NULL, on_queue_received,
                                          &state);
          g_main_context_iteration (NULL, FALSE);
          g_assert_true (ps_queue_send (queue, message, 0, 0, NULL, &error));
          expected = TRUE;
        }
      g_assert_no_error (error);
      while (!state.done)
        g_main_context_iteration (NULL, TRUE);
      g_assert_cmpint (state.ok, ==, expected);
      /* Empty again. */
      while (ps_queue_get_length (queue) > 0)
        g_bytes_unref (ps_queue_receive (queue, NULL, 0, NULL, NULL));
    }
}

static void
test_queue_async (void)
{
  guint threads_before, threads_after;

  assert_flat ("queue async sends and receives", loop_queue_async, N_QUEUE_ASYNC);
  /* No thread per call: the threads made by the first runs serve all. */
  threads_before = count_entries ("/proc/self/task");
  loop_queue_async (scaled_count (N_QUEUE_ASYNC / 10));
  threads_after = count_entries ("/proc/self/task");
  g_assert_cmpuint (threads_after, ==, threads_before);
}

/* Queues made and dropped: anonymous, placed, named. */
static void
loop_queues (guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (ps_queue_measure (8, 100), &error);
  g_autoptr(GBytes) message = g_bytes_new_static ("x", 1);

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      PsQueue *queue;

      if (i % 100 == 0)
        {
          g_autofree char *name = ps_test_unique_name ("leak-queue");

          queue = ps_queue_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 8, 100, &error);
          g_assert_no_error (error);
          g_assert_true (ps_unlink (name, &error));
        }
      else if (i % 2 == 0)
        {
          /* A place is made anew only once emptied. */
          memset (ps_shared_memory_get_data (memory), 0, ps_shared_memory_get_size (memory));
          queue = ps_queue_new_at (memory, 0, 8, 100, &error);
        }
      else
        queue = ps_queue_new (8, 100, &error);
      g_assert_no_error (error);
      /* Dropped holding a message. */
      g_assert_true (ps_queue_send (queue, message, 0, 0, NULL, &error));
      g_object_unref (queue);
    }
}

static void
test_queues (void)
{
  assert_flat ("queues made and dropped", loop_queues, N_QUEUES);
}

int
main (int argc, char *argv[])
{
  static const char *classes[] = { "semaphore", "mutex", "recursive-mutex", "cond",
                                   "shared-memory" };

  stress_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/leaks/anonymous/%s", classes[i]);

      ps_test_add_full (path, test_anonymous, GUINT_TO_POINTER (i), 120);
    }
  ps_test_add_timed ("/leaks/anonymous/mutex-dropped-held", test_dropped_held, 120);
  ps_test_add_timed ("/leaks/named", test_named, 120);
  ps_test_add_timed ("/leaks/placed", test_placed, 120);
  ps_test_add_timed ("/leaks/failures", test_failures, 120);
  ps_test_add_timed ("/leaks/waits", test_waits, 120);
  ps_test_add_timed ("/leaks/async", test_async, 120);
  ps_test_add_timed ("/leaks/async-all", test_async_all, 240);
  ps_test_add_timed ("/leaks/queue/messages", test_queue_messages, 120);
  ps_test_add_timed ("/leaks/queue/async", test_queue_async, 240);
  ps_test_add_timed ("/leaks/queue/objects", test_queues, 120);

  return g_test_run ();
}
