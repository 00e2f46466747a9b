/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Exactness under load: 8 processes × 20,000 locked increments of a
 * counter, for a plain PsMutex (anonymous), a recursive one (placed next
 * to the counter and attached by each child), and a binary PsSemaphore
 * (named, opened by each child); then a bounded buffer guarded by a
 * PsMutex and two PsConds, through which 4 producer processes pass
 * 200,000 items to 4 consumer processes.
 *
 * The increments are plain loads and stores, so that any breach of
 * mutual exclusion loses updates and shows in the total; an occupancy
 * count taken inside the critical section catches it as it happens.
 */

#include <sched.h>

#include "stress-util.h"

#define N_PROCS          8
#define N_ITERS          20000
#define N_ITERS_SLOW     2000     /* under valgrind or the sanitizers */

#define N_PRODUCERS      4
#define N_CONSUMERS      4
#define N_ITEMS          200000
#define N_ITEMS_SLOW     20000
#define RING_CAPACITY    32

static guint
n_iters (void)
{
  return stress_is_slow () ? N_ITERS_SLOW : N_ITERS;
}

static guint
n_items (void)
{
  return stress_is_slow () ? N_ITEMS_SLOW : N_ITEMS;
}

/* Counter ------------------------------------------------------------------ */

typedef enum
{
  LOCK_MUTEX,
  LOCK_RECURSIVE,
  LOCK_BINARY_SEMAPHORE,
} LockKind;

/* The counter lives in a PsSharedMemory; the recursive mutex is placed
 * right after it. */
typedef struct
{
  gint   ready;
  gint   go;
  gint   in_critical;
  gint   violations;
  gint   overflows;
  gint   waiting;     /* processes inside a lock call */
  gint   contended;   /* sections entered while another process waited */
  gint   pad;
  gint64 counter;
} CounterShared;

#define RECURSIVE_OFFSET 256
G_STATIC_ASSERT (sizeof (CounterShared) <= RECURSIVE_OFFSET);

typedef struct
{
  LockKind        kind;
  CounterShared  *shared;
  PsSharedMemory *memory;
  PsMutex        *mutex;        /* LOCK_MUTEX: inherited over fork() */
  const char     *name;         /* LOCK_BINARY_SEMAPHORE */
  guint           index;
} CounterArgs;

static void
critical_section (CounterShared *shared,
                  guint          i)
{
  volatile gint64 *counter = &shared->counter;
  gint64 value;

  if (g_atomic_int_add (&shared->in_critical, 1) != 0)
    g_atomic_int_inc (&shared->violations);
  if (g_atomic_int_get (&shared->waiting) > 0)
    g_atomic_int_inc (&shared->contended);
  /* A plain read-modify-write: two holders at once would lose one. */
  value = *counter;
  /* Now and then give the processor away while holding the lock, so
   * that the others really block on it (two cores, eight processes). */
  if (i % 4 == 0)
    sched_yield ();
  *counter = value + 1;
  g_atomic_int_add (&shared->in_critical, -1);
}

/* Locks in one of four ways, so that the uncontended path, the blocking
 * path with and without a canceller, and try-lock all take turns. */
static gboolean
lock_mutex_how (PsMutex      *mutex,
                guint         i,
                GCancellable *cancellable)
{
  switch (i % 4)
    {
    case 0:
      return ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL);
    case 1:
      return ps_mutex_lock (mutex, 60 * G_USEC_PER_SEC, NULL, NULL);
    case 2:
      return ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, cancellable, NULL);
    default:
      return ps_mutex_try_lock (mutex, NULL) ||
             ps_mutex_lock (mutex, PS_TIMEOUT_INFINITE, NULL, NULL);
    }
}

static gboolean
acquire_semaphore_how (PsSemaphore  *semaphore,
                       guint         i,
                       GCancellable *cancellable)
{
  switch (i % 4)
    {
    case 0:
      return ps_semaphore_acquire (semaphore, PS_TIMEOUT_INFINITE, NULL, NULL);
    case 1:
      return ps_semaphore_acquire (semaphore, 60 * G_USEC_PER_SEC, NULL, NULL);
    case 2:
      return ps_semaphore_acquire (semaphore, PS_TIMEOUT_INFINITE, cancellable, NULL);
    default:
      return ps_semaphore_try_acquire (semaphore) ||
             ps_semaphore_acquire (semaphore, PS_TIMEOUT_INFINITE, NULL, NULL);
    }
}

static gboolean
lock_mutex (PsMutex       *mutex,
            guint          i,
            GCancellable  *cancellable,
            CounterShared *shared)
{
  gboolean locked;

  g_atomic_int_inc (&shared->waiting);
  locked = lock_mutex_how (mutex, i, cancellable);
  g_atomic_int_add (&shared->waiting, -1);
  return locked;
}

static gboolean
acquire_semaphore (PsSemaphore   *semaphore,
                   guint          i,
                   GCancellable  *cancellable,
                   CounterShared *shared)
{
  gboolean acquired;

  g_atomic_int_inc (&shared->waiting);
  acquired = acquire_semaphore_how (semaphore, i, cancellable);
  g_atomic_int_add (&shared->waiting, -1);
  return acquired;
}

static int
counter_child (gpointer data)
{
  CounterArgs *args = data;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(PsMutex) attached = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (args->index);
  guint iters = n_iters ();

  stress_die_with_parent ();
  /* Each child reaches the object through its own sharing model. */
  if (args->kind == LOCK_RECURSIVE)
    {
      attached = ps_mutex_attach (args->memory, RECURSIVE_OFFSET, NULL);
      if (attached == NULL || !ps_mutex_is_recursive (attached))
        return 1;
    }
  else if (args->kind == LOCK_BINARY_SEMAPHORE)
    {
      semaphore = ps_semaphore_open (args->name, PS_OPEN_NONE, 0, NULL);
      if (semaphore == NULL || ps_semaphore_get_max_value (semaphore) != 1)
        return 2;
    }

  g_atomic_int_inc (&args->shared->ready);
  /* Spin rather than sleep, so that all start together. */
  {
    gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (60 * G_USEC_PER_SEC);

    while (!g_atomic_int_get (&args->shared->go))
      {
        if (g_get_monotonic_time () > deadline)
          return 3;
        sched_yield ();
      }
  }

  for (guint i = 0; i < iters; i++)
    {
      switch (args->kind)
        {
        case LOCK_MUTEX:
          if (!lock_mutex (args->mutex, i, cancellable, args->shared))
            return 4;
          critical_section (args->shared, i);
          if (!ps_mutex_unlock (args->mutex, NULL))
            return 5;
          break;

        case LOCK_RECURSIVE:
          {
            /* Nested 1 to 3 deep: only the outermost unlock releases it. */
            guint depth = (guint) g_rand_int_range (rand, 1, 4);

            for (guint d = 0; d < depth; d++)
              if (!lock_mutex (attached, i + d, cancellable, args->shared))
                return 6;
            critical_section (args->shared, i);
            for (guint d = 0; d < depth; d++)
              if (!ps_mutex_unlock (attached, NULL))
                return 7;
          }
          break;

        case LOCK_BINARY_SEMAPHORE:
          {
            g_autoptr(GError) error = NULL;

            if (!acquire_semaphore (semaphore, i, cancellable, args->shared))
              return 8;
            critical_section (args->shared, i);
            if (!ps_semaphore_release (semaphore, &error))
              {
                /* A second unit would mean the binary semaphore let two in. */
                if (g_error_matches (error, PS_ERROR, PS_ERROR_OVERFLOW))
                  g_atomic_int_inc (&args->shared->overflows);
                return 9;
              }
          }
          break;

        default:
          g_assert_not_reached ();
        }
    }
  return 0;
}

static void
test_counter (gconstpointer data)
{
  LockKind kind = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autofree char *name = ps_test_unique_name ("exact-sem");
  CounterShared *shared = ps_test_shared_new (RECURSIVE_OFFSET + PS_MUTEX_SIZE, &memory);
  pid_t pids[N_PROCS];
  gint64 start;

  switch (kind)
    {
    case LOCK_MUTEX:
      mutex = ps_mutex_new (&error);
      break;
    case LOCK_RECURSIVE:
      mutex = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                              "memory", memory,
                              "offset", (guint64) RECURSIVE_OFFSET,
                              "recursive", TRUE,
                              NULL);
      break;
    case LOCK_BINARY_SEMAPHORE:
      semaphore = g_initable_new (PS_TYPE_SEMAPHORE, NULL, &error,
                                  "name", name,
                                  "open-flags", PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                  "initial-value", 1,
                                  "max-value", 1,
                                  NULL);
      break;
    default:
      g_assert_not_reached ();
    }
  g_assert_no_error (error);

  for (guint i = 0; i < N_PROCS; i++)
    {
      CounterArgs args = { kind, shared, memory, mutex, name, i + 1 };

      pids[i] = ps_test_fork (counter_child, &args, ps_test_scaled_s (150));
    }
  if (!ps_test_wait_int (&shared->ready, N_PROCS, 60))
    g_error ("only %d of %d children got ready", shared->ready, N_PROCS);

  start = g_get_monotonic_time ();
  g_atomic_int_set (&shared->go, 1);
  for (guint i = 0; i < N_PROCS; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (160));
  g_test_message ("%u locked increments in %.2f s, %d of them while another process waited",
                  N_PROCS * n_iters (),
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC,
                  shared->contended);

  /* Not a timing assertion: with the holder yielding inside the section
   * every 4 rounds, eight processes on any number of cores collide; this
   * proves the total above was earned under contention. */
  g_assert_cmpint (shared->contended, >, 0);
  g_assert_cmpint (shared->violations, ==, 0);
  g_assert_cmpint (shared->overflows, ==, 0);
  g_assert_cmpint (shared->counter, ==, (gint64) N_PROCS * n_iters ());

  /* Left as found: unlocked, the unit back. */
  if (mutex != NULL)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
      g_assert_true (ps_mutex_try_lock (mutex, &error));
      g_assert_no_error (error);
      g_assert_true (ps_mutex_unlock (mutex, &error));
      g_assert_no_error (error);
    }
  if (semaphore != NULL)
    {
      g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 1);
      g_assert_true (ps_unlink (name, &error));
      g_assert_no_error (error);
    }
}

/* Bounded buffer ----------------------------------------------------------- */

/* Everything below `go` is guarded by the mutex, placed in the same
 * segment along with both conditions. */
typedef struct
{
  gint    ready;
  gint    go;
  gint    failures;
  gint    pad;
  guint   head;
  guint   count;
  guint   consumed;            /* items taken so far, by all consumers */
  guint   duplicates;
  guint   out_of_order;
  guint   full_waits;
  guint   empty_waits;
  guint   pad2;
  guint32 ring[RING_CAPACITY];
  gint64  next_seq[N_PRODUCERS];   /* FIFO: the next sequence number of each producer */
  guint64 produced_sum[N_PRODUCERS];
  guint64 consumed_sum[N_CONSUMERS];
  guint   consumed_count[N_CONSUMERS];
} BufferShared;

#define BUFFER_MUTEX_OFFSET     4096
#define BUFFER_NOT_FULL_OFFSET  (BUFFER_MUTEX_OFFSET + PS_MUTEX_SIZE)
#define BUFFER_NOT_EMPTY_OFFSET (BUFFER_NOT_FULL_OFFSET + PS_COND_SIZE)
#define BUFFER_SEEN_OFFSET      (BUFFER_NOT_EMPTY_OFFSET + PS_COND_SIZE)
G_STATIC_ASSERT (sizeof (BufferShared) <= BUFFER_MUTEX_OFFSET);

typedef struct
{
  PsSharedMemory *memory;
  BufferShared   *shared;
  guint8         *seen;       /* one byte per item: how often it was consumed */
  guint           index;
} BufferArgs;

typedef struct
{
  PsMutex *mutex;
  PsCond  *not_full;
  PsCond  *not_empty;
} BufferSync;

static gboolean
buffer_attach (PsSharedMemory *memory,
               BufferSync     *sync)
{
  sync->mutex = ps_mutex_attach (memory, BUFFER_MUTEX_OFFSET, NULL);
  sync->not_full = ps_cond_attach (memory, BUFFER_NOT_FULL_OFFSET, NULL);
  sync->not_empty = ps_cond_attach (memory, BUFFER_NOT_EMPTY_OFFSET, NULL);
  return sync->mutex != NULL && sync->not_full != NULL && sync->not_empty != NULL;
}

static void
buffer_sync_clear (BufferSync *sync)
{
  g_clear_object (&sync->mutex);
  g_clear_object (&sync->not_full);
  g_clear_object (&sync->not_empty);
}

/* A wait that times out means a lost wake-up (the deadline is far beyond
 * any legitimate wait): the child fails. Spurious returns are fine. */
static gboolean
buffer_wait (PsCond  *cond,
             PsMutex *mutex,
             gint64   deadline)
{
  g_autoptr(GError) error = NULL;

  if (ps_cond_wait_until (cond, mutex, deadline, NULL, &error))
    return TRUE;
  g_printerr ("buffer wait %d: %s\n", (int) getpid (), error->message);
  return FALSE;
}

static int
producer_child (gpointer data)
{
  BufferArgs *args = data;
  BufferShared *shared = args->shared;
  BufferSync sync = { 0 };
  guint per_producer = n_items () / N_PRODUCERS;
  gint64 deadline;
  int ret = 0;

  stress_die_with_parent ();
  if (!buffer_attach (args->memory, &sync))
    return 1;
  g_atomic_int_inc (&shared->ready);
  if (!ps_test_wait_int (&shared->go, 1, 60))
    return 2;
  deadline = g_get_monotonic_time () + ps_test_scaled_us (120 * G_USEC_PER_SEC);

  for (guint seq = 0; seq < per_producer && ret == 0; seq++)
    {
      guint32 item = args->index * per_producer + seq;

      if (!ps_mutex_lock (sync.mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
        {
          ret = 3;
          break;
        }
      while (shared->count == RING_CAPACITY)
        {
          shared->full_waits++;
          if (!buffer_wait (sync.not_full, sync.mutex, deadline))
            {
              ret = 4;
              break;
            }
        }
      if (ret == 0)
        {
          shared->ring[(shared->head + shared->count) % RING_CAPACITY] = item;
          shared->count++;
          shared->produced_sum[args->index] += (guint64) item + 1;
          ps_cond_signal (sync.not_empty);
        }
      if (!ps_mutex_unlock (sync.mutex, NULL))
        ret = 5;
    }

  buffer_sync_clear (&sync);
  return ret;
}

static int
consumer_child (gpointer data)
{
  BufferArgs *args = data;
  BufferShared *shared = args->shared;
  BufferSync sync = { 0 };
  guint total = n_items ();
  guint per_producer = total / N_PRODUCERS;
  gint64 deadline;
  int ret = 0;

  stress_die_with_parent ();
  if (!buffer_attach (args->memory, &sync))
    return 1;
  g_atomic_int_inc (&shared->ready);
  if (!ps_test_wait_int (&shared->go, 1, 60))
    return 2;
  deadline = g_get_monotonic_time () + ps_test_scaled_us (120 * G_USEC_PER_SEC);

  for (;;)
    {
      guint32 item;
      guint producer;

      if (!ps_mutex_lock (sync.mutex, PS_TIMEOUT_INFINITE, NULL, NULL))
        {
          ret = 3;
          break;
        }
      while (shared->count == 0 && shared->consumed < total)
        {
          shared->empty_waits++;
          if (!buffer_wait (sync.not_empty, sync.mutex, deadline))
            {
              ret = 4;
              break;
            }
        }
      if (ret != 0 || shared->count == 0)
        {
          /* All consumed (or failed): done. */
          if (!ps_mutex_unlock (sync.mutex, NULL))
            ret = 5;
          break;
        }

      item = shared->ring[shared->head];
      shared->head = (shared->head + 1) % RING_CAPACITY;
      shared->count--;
      shared->consumed++;

      /* Exactly once, and in each producer's order. */
      if (item >= total)
        shared->duplicates++;   /* not an item at all: counted as a fault */
      else
        {
          if (args->seen[item]++ != 0)
            shared->duplicates++;
          producer = item / per_producer;
          if (shared->next_seq[producer] != item % per_producer)
            shared->out_of_order++;
          shared->next_seq[producer] = item % per_producer + 1;
        }
      shared->consumed_sum[args->index] += (guint64) item + 1;
      shared->consumed_count[args->index]++;

      ps_cond_signal (sync.not_full);
      if (shared->consumed == total)
        ps_cond_broadcast (sync.not_empty);   /* let the other consumers leave */

      if (!ps_mutex_unlock (sync.mutex, NULL))
        {
          ret = 6;
          break;
        }
    }

  buffer_sync_clear (&sync);
  return ret;
}

static void
test_bounded_buffer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) not_full = NULL;
  g_autoptr(PsCond) not_empty = NULL;
  guint total = n_items ();
  BufferShared *shared = ps_test_shared_new (BUFFER_SEEN_OFFSET + total, &memory);
  guint8 *seen = (guint8 *) shared + BUFFER_SEEN_OFFSET;
  pid_t pids[N_PRODUCERS + N_CONSUMERS];
  guint64 produced = 0, consumed = 0, expected;
  guint consumed_count = 0;
  gint64 start;

  mutex = ps_mutex_new_at (memory, BUFFER_MUTEX_OFFSET, &error);
  g_assert_no_error (error);
  not_full = ps_cond_new_at (memory, BUFFER_NOT_FULL_OFFSET, &error);
  g_assert_no_error (error);
  not_empty = ps_cond_new_at (memory, BUFFER_NOT_EMPTY_OFFSET, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < N_PRODUCERS + N_CONSUMERS; i++)
    {
      BufferArgs args = { memory, shared, seen, i < N_PRODUCERS ? i : i - N_PRODUCERS };

      pids[i] = ps_test_fork (i < N_PRODUCERS ? producer_child : consumer_child,
                              &args, ps_test_scaled_s (150));
    }
  if (!ps_test_wait_int (&shared->ready, N_PRODUCERS + N_CONSUMERS, 60))
    g_error ("only %d children got ready", shared->ready);

  start = g_get_monotonic_time ();
  g_atomic_int_set (&shared->go, 1);
  for (guint i = 0; i < N_PRODUCERS + N_CONSUMERS; i++)
    ps_test_reap_ok (pids[i], ps_test_scaled_s (160));
  g_test_message ("%u items in %.2f s; %u waits on full, %u on empty", total,
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC,
                  shared->full_waits, shared->empty_waits);

  for (guint i = 0; i < N_PRODUCERS; i++)
    produced += shared->produced_sum[i];
  for (guint i = 0; i < N_CONSUMERS; i++)
    {
      consumed += shared->consumed_sum[i];
      consumed_count += shared->consumed_count[i];
    }
  expected = (guint64) total * (total + 1) / 2;

  g_assert_cmpuint (shared->duplicates, ==, 0);
  g_assert_cmpuint (shared->out_of_order, ==, 0);
  g_assert_cmpuint (shared->count, ==, 0);
  g_assert_cmpuint (shared->consumed, ==, total);
  g_assert_cmpuint (consumed_count, ==, total);
  g_assert_cmpuint (produced, ==, expected);
  g_assert_cmpuint (consumed, ==, expected);
  for (guint i = 0; i < total; i++)
    if (seen[i] != 1)
      g_error ("item %u was consumed %u times", i, seen[i]);
  for (guint p = 0; p < N_PRODUCERS; p++)
    g_assert_cmpint (shared->next_seq[p], ==, total / N_PRODUCERS);
  g_assert_cmpint (ps_mutex_get_owner_pid (mutex), ==, 0);
}

int
main (int argc, char *argv[])
{
  stress_init (&argc, &argv, NULL);

  ps_test_add_full ("/stress/exact/mutex", test_counter,
                    GINT_TO_POINTER (LOCK_MUTEX), 170);
  ps_test_add_full ("/stress/exact/recursive-mutex", test_counter,
                    GINT_TO_POINTER (LOCK_RECURSIVE), 170);
  ps_test_add_full ("/stress/exact/binary-semaphore", test_counter,
                    GINT_TO_POINTER (LOCK_BINARY_SEMAPHORE), 170);
  ps_test_add_timed ("/stress/exact/bounded-buffer", test_bounded_buffer, 170);

  return g_test_run ();
}
