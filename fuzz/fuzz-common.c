/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sanitizer/asan_interface.h>

#include "fuzz-common.h"
#include "procshared.h"
#include "ps-backend-private.h"
#include "ps-error.h"
#include "ps-identity-private.h"
#include "ps-object-header-private.h"

void
fuzz_init_once (void)
{
  static gboolean initialised;

  if (initialised)
    return;
  initialised = TRUE;

  /* A critical or a warning from the library means some input got past
   * its checks into a precondition: a finding, so stop right there. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_FATAL_MASK);
  /* The types once, outside the first input's measurements. */
  g_type_ensure (G_TYPE_OBJECT);
  (void) PS_ERROR;
}

void
fuzz_check_error (const GError *error,
                  const char   *what)
{
  if (error == NULL)
    {
      fprintf (stderr, "FINDING: %s failed without setting an error\n", what);
      abort ();
    }
  if ((error->domain != PS_ERROR && error->domain != G_IO_ERROR) ||
      error->message == NULL || error->message[0] == '\0')
    {
      fprintf (stderr, "FINDING: %s failed with an unexpected error: %s %d: %s\n",
               what, g_quark_to_string (error->domain), error->code,
               error->message ? error->message : "(null)");
      abort ();
    }
}

void
fuzz_check_error_is (const GError *error,
                     GQuark        domain,
                     int           code,
                     const char   *what)
{
  fuzz_check_error (error, what);
  if (error->domain != domain || error->code != code)
    {
      fprintf (stderr, "FINDING: %s failed with %s %d (%s), expected %s %d\n",
               what, g_quark_to_string (error->domain), error->code, error->message,
               g_quark_to_string (domain), code);
      abort ();
    }
}

/* The mapping behind a segment: its data start 64 bytes in (the object
 * header comes first), and it runs to the end of the last page. */
#define SEGMENT_DATA_OFFSET 64

static gsize
segment_slack (PsSharedMemory *memory)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  gsize used = SEGMENT_DATA_OFFSET + ps_shared_memory_get_size (memory);

  return ((used + page - 1) / page) * page - used;
}

PsSharedMemory *
fuzz_segment_new (gsize size)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory;
  guint8 *end;

  memory = ps_shared_memory_new (size, &error);
  g_assert_no_error (error);
  end = (guint8 *) ps_shared_memory_get_data (memory) + size;
  ASAN_POISON_MEMORY_REGION (end, segment_slack (memory));
  return memory;
}

void
fuzz_segment_free (PsSharedMemory *memory)
{
  guint8 *end;

  if (memory == NULL)
    return;
  /* Unmapped memory keeps its shadow: a later mapping at the same address
   * must not inherit the poison. */
  end = (guint8 *) ps_shared_memory_get_data (memory) + ps_shared_memory_get_size (memory);
  ASAN_UNPOISON_MEMORY_REGION (end, segment_slack (memory));
  g_object_unref (memory);
}

void
fuzz_finding (const char   *what,
              const GError *error)
{
  fprintf (stderr, "FINDING: %s%s%s\n", what,
           error != NULL ? ": " : "", error != NULL ? error->message : "");
  abort ();
}

void
fuzz_check_robust_list (void)
{
  struct robust_list_head *head = NULL;
  size_t length = 0;

  /* Between runs this thread holds no lock: its robust list (which the C
   * library and the kernel walk through pointers stored in each mutex)
   * must be empty. An entry left behind points into shared memory that
   * is unmapped or reused by now, and the next robust lock writes there. */
  if (syscall (SYS_get_robust_list, 0, &head, &length) != 0 || head == NULL)
    return;   /* no robust list: nothing to check */
  if (head->list.next != &head->list)
    fuzz_finding ("a mutex was left on this thread's robust list (a lock held "
                  "after its object was dropped, or its memory unmapped under it)", NULL);
  if (head->list_op_pending != NULL)
    fuzz_finding ("a robust mutex operation was left pending", NULL);
}

/* Who we are, in a mutex state ---------------------------------------------- */

void
fuzz_personalise_mutex_state (guint8 *state)
{
#if PS_BACKEND_ID == PS_BACKEND_FUTEX
  /* The futex backend's mutex state: a glibc pthread_mutex_t, then
   * (ps-mutex.c, MutexState) recursive, consistency, owner_pid, depth and
   * owner_thread. */
  const gsize lock_offset = G_STRUCT_OFFSET (pthread_mutex_t, __data.__lock);
  const gsize owner_offset = G_STRUCT_OFFSET (pthread_mutex_t, __data.__owner);
  const gsize owner_pid_offset = sizeof (pthread_mutex_t) + 8;
  const gsize owner_thread_offset = sizeof (pthread_mutex_t) + 16;
  guint32 word;
  guint64 thread;

  /* The placeholder: all TID bits set, never a thread id (pid_max is at
   * most 2^22). Flag bits are kept. */
  memcpy (&word, state + lock_offset, sizeof word);
  if ((word & FUTEX_TID_MASK) == FUTEX_TID_MASK)
    {
      word = (word & ~FUTEX_TID_MASK) | (guint32) gettid ();
      memcpy (state + lock_offset, &word, sizeof word);
    }
  memcpy (&word, state + owner_offset, sizeof word);
  if (word == FUTEX_TID_MASK)
    {
      word = (guint32) gettid ();
      memcpy (state + owner_offset, &word, sizeof word);
    }
  memcpy (&word, state + owner_pid_offset, sizeof word);
  if (word == FUTEX_TID_MASK)
    {
      word = (guint32) getpid ();
      memcpy (state + owner_pid_offset, &word, sizeof word);
    }
  memcpy (&thread, state + owner_thread_offset, sizeof thread);
  if (thread == G_MAXUINT64)
    {
      thread = ps_self_thread_id ();
      memcpy (state + owner_thread_offset, &thread, sizeof thread);
    }
#endif
}

/* Known findings ------------------------------------------------------------ */

gboolean
fuzz_avoid_known_findings (void)
{
  static int avoid = -1;

  if (avoid < 0)
    avoid = g_getenv ("PS_FUZZ_AVOID_KNOWN") != NULL;
  return avoid;
}

void
fuzz_avoid_known_mutex_findings (guint8 *state)
{
#if PS_BACKEND_ID == PS_BACKEND_FUTEX
  /* The futex backend's mutex state starts with a glibc pthread_mutex_t,
   * followed by the "recursive" flag (ps-mutex.c, MutexState). */
  static int kinds[2];
  static gboolean have_kinds;
  const gsize kind_offset = G_STRUCT_OFFSET (pthread_mutex_t, __data.__kind);
  const gsize lock_offset = G_STRUCT_OFFSET (pthread_mutex_t, __data.__lock);
  guint32 recursive;
  guint32 word;

  if (!fuzz_avoid_known_findings ())
    return;

  if (!have_kinds)
    {
      guint i;

      /* What the library itself writes for either kind. */
      for (i = 0; i < 2; i++)
        {
          g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (PS_MUTEX_SIZE, NULL);
          g_autoptr(PsMutex) mutex = g_initable_new (PS_TYPE_MUTEX, NULL, NULL,
                                                     "memory", memory, "offset", (guint64) 0,
                                                     "recursive", (gboolean) i, NULL);

          g_assert (mutex != NULL);
          memcpy (&kinds[i], (guint8 *) ps_shared_memory_get_data (memory) +
                  sizeof (PsObjectHeader) + kind_offset, sizeof kinds[i]);
        }
      have_kinds = TRUE;
    }

  /* Finding: the pthread mutex's kind is trusted (not checked against the
   * state's recursive flag, nor against what the library makes). */
  memcpy (&recursive, state + sizeof (pthread_mutex_t), sizeof recursive);
  memcpy (state + kind_offset, &kinds[recursive == 1], sizeof kinds[0]);

  /* Finding: a lock word of FUTEX_WAITERS and no owner makes a timed lock
   * spin for ever. */
  memcpy (&word, state + lock_offset, sizeof word);
  if (word != 0 && (word & FUTEX_TID_MASK) == 0 && (word & FUTEX_OWNER_DIED) == 0)
    memset (state + lock_offset, 0, sizeof word);

  /* Finding: ps_mutex_finalize() believes the owner fields; our pid
   * with another thread's id leaks the object's storage, and our pid and
   * thread with a large depth make it unlock that many times. */
  {
    const gsize owner_pid_offset = sizeof (pthread_mutex_t) + 8;
    const gsize depth_offset = sizeof (pthread_mutex_t) + 12;
    const gsize owner_thread_offset = sizeof (pthread_mutex_t) + 16;
    guint32 owner_pid;
    guint32 depth;
    guint64 owner_thread;

    memcpy (&owner_pid, state + owner_pid_offset, sizeof owner_pid);
    memcpy (&depth, state + depth_offset, sizeof depth);
    memcpy (&owner_thread, state + owner_thread_offset, sizeof owner_thread);
    if (owner_pid == (guint32) getpid () && owner_thread != ps_self_thread_id ())
      memset (state + owner_pid_offset, 0, sizeof owner_pid);
    if (depth > 64)
      memset (state + depth_offset, 0, sizeof depth);
  }

  /* Finding: a lock word naming this thread (glibc's owner and count
   * aside) is taken as a relock; the unlock then fails and the lock
   * stays held for ever. */
  if ((word & FUTEX_TID_MASK) == (guint32) gettid ())
    memset (state + lock_offset, 0, sizeof word);
#endif
}

/* Using what was attached or opened ---------------------------------------- */

void
fuzz_exercise_mutex (PsMutex  *mutex,
                     gboolean  mark_consistent,
                     void    (*while_held) (gpointer user_data),
                     gpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  gboolean strict;
  gboolean held;

  (void) ps_mutex_get_owner_pid (mutex);

  held = ps_mutex_try_lock (mutex, &error);
  if (!held && error != NULL)
    {
      fuzz_check_error (error, "ps_mutex_try_lock");
      if (g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
        {
          /* Held, with the data to repair. */
          held = TRUE;
          g_clear_error (&error);
          if (mark_consistent && !ps_mutex_mark_consistent (mutex, &error))
            fuzz_finding ("mark_consistent failed right after OWNER_DEAD", error);
        }
      g_clear_error (&error);
    }
  else if (!held)
    {
      /* Busy: a short timed lock must come back, whatever the lock word. */
      held = ps_mutex_lock (mutex, 1, NULL, &error);
      if (!held)
        {
          fuzz_check_error (error, "ps_mutex_lock");
          held = g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD);
          g_clear_error (&error);
        }
    }

  if (!held)
    {
      if (while_held != NULL)
        while_held (user_data);
      return;
    }

  /* Once damaged under us, the object owes us only bounded calls and
   * clean errors; its lock must still not stay on our robust list, which
   * fuzz_check_robust_list() sees at the end of the run. */
  strict = while_held == NULL;
  if (while_held != NULL)
    while_held (user_data);

  if (strict && ps_mutex_get_owner_pid (mutex) != getpid ())
    fuzz_finding ("a held mutex does not report its holder", NULL);

  if (ps_mutex_is_recursive (mutex))
    {
      if (ps_mutex_try_lock (mutex, &error))
        {
          if (!ps_mutex_unlock (mutex, &error))
            fuzz_finding ("a recursive relock could not be undone", error);
        }
      else if (error != NULL)
        {
          fuzz_check_error (error, "ps_mutex_try_lock (recursive relock)");
          g_clear_error (&error);
        }
    }
  else
    {
      /* The API promises WOULD_DEADLOCK here, not "busy": a holder that
       * relocks with an infinite timeout must not hang for ever. */
      if (ps_mutex_try_lock (mutex, &error))
        {
          if (strict)
            fuzz_finding ("a non-recursive mutex was locked twice by its holder", NULL);
          /* Wiped to an unlocked state under us: take back the relock. */
          if (!ps_mutex_unlock (mutex, &error))
            {
              fuzz_check_error (error, "ps_mutex_unlock (damaged, relocked)");
              g_clear_error (&error);
            }
        }
      else if (strict || error != NULL)
        fuzz_check_error (error, "ps_mutex_try_lock (relock)");
      g_clear_error (&error);
    }

  if (!ps_mutex_unlock (mutex, &error))
    {
      if (strict)
        fuzz_finding ("a held mutex could not be unlocked", error);
      fuzz_check_error (error, "ps_mutex_unlock (damaged)");
    }
}

void
fuzz_exercise_semaphore (PsSemaphore *semaphore)
{
  g_autoptr(GError) error = NULL;
  guint value = ps_semaphore_get_value (semaphore);
  guint max_value = ps_semaphore_get_max_value (semaphore);

  if (max_value == 0 || max_value > G_MAXINT32 || value > max_value)
    fuzz_finding ("an attached semaphore has an impossible count or bound", NULL);

  if (ps_semaphore_try_acquire (semaphore))
    {
      if (!ps_semaphore_release (semaphore, &error))
        fuzz_finding ("a unit taken could not be given back", error);
    }
  else if (!ps_semaphore_acquire (semaphore, 1, NULL, &error))
    {
      fuzz_check_error_is (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "ps_semaphore_acquire");
      g_clear_error (&error);
    }
  else if (!ps_semaphore_release (semaphore, &error))
    fuzz_finding ("a unit taken could not be given back", error);

  if (ps_semaphore_release (semaphore, &error))
    {
      if (!ps_semaphore_try_acquire (semaphore))
        fuzz_finding ("a unit given could not be taken back", NULL);
    }
  else
    {
      fuzz_check_error_is (error, PS_ERROR, PS_ERROR_OVERFLOW, "ps_semaphore_release");
      g_clear_error (&error);
    }
  if (!ps_semaphore_acquire (semaphore, 0, NULL, &error))
    {
      fuzz_check_error_is (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "ps_semaphore_acquire (0)");
      g_clear_error (&error);
    }
  else if (!ps_semaphore_release (semaphore, &error))
    fuzz_finding ("a unit taken could not be given back", error);
}

void
fuzz_exercise_cond (PsCond *cond)
{
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;

  ps_cond_signal (cond);
  ps_cond_broadcast (cond);

  mutex = ps_mutex_new (&error);
  g_assert_no_error (error);
  if (!ps_mutex_lock (mutex, 0, NULL, &error))
    fuzz_finding ("a fresh mutex could not be locked", error);

  if (!ps_cond_wait (cond, mutex, 1, NULL, &error))
    {
      fuzz_check_error_is (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "ps_cond_wait");
      g_clear_error (&error);
    }
  if (!ps_cond_wait_until (cond, mutex, g_get_monotonic_time () - 1, NULL, &error))
    {
      fuzz_check_error_is (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "ps_cond_wait_until");
      g_clear_error (&error);
    }
  if (ps_cond_wait (cond, mutex, 0, NULL, &error))
    fuzz_finding ("a condition wait of 0 µs succeeded", NULL);
  fuzz_check_error_is (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "ps_cond_wait (0)");
  g_clear_error (&error);

  /* Whatever the wait did, the mutex is held again. */
  if (!ps_mutex_unlock (mutex, &error))
    fuzz_finding ("a condition wait returned without the mutex", error);

  ps_cond_signal (cond);
}

void
fuzz_place_bytes (PsSharedMemory *memory,
                  gsize           offset,
                  const guint8   *bytes,
                  gsize           size,
                  gboolean        publish)
{
  guint8 *place = (guint8 *) ps_shared_memory_get_data (memory) + offset;
  PsObjectHeader header;

  g_assert (size >= sizeof header);
  memcpy (&header, bytes, sizeof header);
  if (header.magic == PS_OBJECT_MAGIC && header.ready != PS_OBJECT_READY)
    {
      if (publish)
        header.ready = PS_OBJECT_READY;
      else
        header.magic = 0;
    }
  memcpy (place, &header, sizeof header);
  memcpy (place + sizeof header, bytes + sizeof header, size - sizeof header);
}

void
fuzz_place_slot (PsSharedMemory *memory,
                 gsize           offset,
                 const guint8   *slot,
                 gboolean        publish)
{
  fuzz_place_bytes (memory, offset, slot, PS_OBJECT_SLOT_SIZE, publish);
}

/* PsQueue ------------------------------------------------------------------- */

static void
fill_all (guint8   *slot,
          gsize     size,
          gpointer  user_data)
{
  /* Every byte it was given: ASan sees a slot that is not all there. */
  memset (slot, 0xa5, size);
}

static void
read_all (const guint8       *message,
          gsize               size,
          PsQueueMessageKind  kind,
          guint               priority,
          gpointer            user_data)
{
  guint *sum = user_data;

  if (kind != PS_QUEUE_MESSAGE_BYTES && kind != PS_QUEUE_MESSAGE_VARIANT)
    fuzz_finding ("a message of no kind was handed to the read callback", NULL);
  for (gsize i = 0; i < size; i++)
    *sum += message[i];
}

/* A failed send or receive: full, empty, or damaged; nothing else. */
static void
check_queue_error (const GError *error,
                   const char   *what)
{
  fuzz_check_error (error, what);
  if (!g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    fuzz_finding (what, error);
}

void
fuzz_exercise_queue (PsQueue *queue,
                     guint    seed)
{
  guint capacity = ps_queue_get_capacity (queue);
  gsize max = ps_queue_get_max_message_size (queue);
  g_autoptr(GBytes) message = g_bytes_new_static ("fuzz-attach-queue", 17);
  g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_string ("fuzz"));

  if (capacity == 0 || capacity > 65536 || max > 64 * 1024 * 1024)
    fuzz_finding ("an attached queue reports impossible parameters", NULL);

  for (guint i = 0; i < 2 * MIN (capacity, 8) + 2; i++, seed = seed * 1103515245 + 12345)
    {
      g_autoptr(GError) error = NULL;
      /* Timeouts of 0 and 1 µs: never a long wait. */
      gint64 timeout = (seed >> 3) & 1;
      guint method = (seed >> 4) % 6;
      gboolean ok;

      if (ps_queue_get_length (queue) > capacity)
        fuzz_finding ("a queue's length exceeds its capacity", NULL);

      if ((seed >> 8) & 1)
        {
          switch (method % 3)
            {
            case 0:
              ok = ps_queue_send (queue, message, method, timeout, NULL, &error);
              break;
            case 1:
              ok = ps_queue_send_variant (queue, value, method, timeout, NULL, &error);
              break;
            default:
              ok = ps_queue_send_with (queue, MIN (max, (gsize) seed % 97), method, fill_all,
                                       NULL, timeout, NULL, &error);
              break;
            }
          if (!ok)
            check_queue_error (error, "a send");
          continue;
        }

      switch (method)
        {
        case 0:
          {
            g_autoptr(GBytes) bytes = ps_queue_receive (queue, NULL, timeout, NULL, &error);

            ok = bytes != NULL;
            if (ok && g_bytes_get_size (bytes) > max)
              fuzz_finding ("a message longer than the queue's maximum was received", NULL);
          }
          break;
        case 1:
          {
            g_autoptr(GVariant) got = ps_queue_receive_variant (queue, NULL, timeout, NULL, &error);

            ok = got != NULL;
          }
          break;
        case 2:
        case 3:
          {
            g_autoptr(GBytes) bytes = NULL;
            g_autoptr(GVariant) got = NULL;
            PsQueueMessageKind kind;

            ok = ps_queue_receive_message (queue, &kind, &bytes, method == 2 ? &got : NULL, NULL,
                                           timeout, NULL, &error);
            if (ok && bytes == NULL && got == NULL)
              fuzz_finding ("receive_message gave no value", NULL);
          }
          break;
        default:
          {
            guint sum = 0;

            ok = ps_queue_receive_with (queue, read_all, &sum, timeout, NULL, &error);
          }
          break;
        }
      if (!ok)
        check_queue_error (error, "a receive");
    }
}
