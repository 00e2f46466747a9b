/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * test-cancel-race: who holds what (the marks every participant makes),
 * and the churn, the threads and processes that keep acquiring and
 * releasing the object under test all along.
 */

#include "cancel-race.h"

/* The holder marks itself: two marks at once are two holders. */
void
mark_held (RaceShared *shared,
           gint        id)
{
  gint previous = g_atomic_int_get (&shared->holder);

  if (previous != 0 || !g_atomic_int_compare_and_exchange (&shared->holder, 0, id))
    stress_fail (&shared->failures, "%d got the mutex while %d held it", id, previous);
}

void
mark_released (RaceShared *shared,
               gint        id)
{
  if (!g_atomic_int_compare_and_exchange (&shared->holder, id, 0))
    stress_fail (&shared->failures, "%d released a mutex marked as held by %d",
                 id, g_atomic_int_get (&shared->holder));
}

/* A writer is alone: no other writer (mark_held()), no reader. */
static void
mark_writing (RaceShared *shared,
              gint        id)
{
  mark_held (shared, id);
  if (g_atomic_int_get (&shared->readers) != 0)
    stress_fail (&shared->failures, "%d got the write lock while %d read shares were held",
                 id, g_atomic_int_get (&shared->readers));
}

static void
mark_reading (RaceShared *shared,
              gint        id)
{
  g_atomic_int_inc (&shared->readers);
  if (g_atomic_int_get (&shared->holder) != 0)
    stress_fail (&shared->failures, "%d got a read share while %d held the write lock",
                 id, g_atomic_int_get (&shared->holder));
}

/* Holds the rw-lock as taken (marked), then gives it back. */
void
use_rw_lock (Race     *race,
             GRand    *rand,
             gint      id,
             gboolean  write,
             gint      max_us)
{
  RaceShared *shared = race->shared;
  g_autoptr(GError) error = NULL;

  if (write)
    mark_writing (shared, id);
  else
    mark_reading (shared, id);
  g_usleep (g_rand_int_range (rand, 0, max_us));
  if (write)
    mark_released (shared, id);
  else
    g_atomic_int_add (&shared->readers, -1);
  if (!(write ? ps_rw_lock_write_unlock (race->rw_lock, &error)
              : ps_rw_lock_read_unlock (race->rw_lock, &error)))
    stress_fail (&shared->failures, "rw-lock unlock: %s", error->message);
}

/* Churn: the others, acquiring and releasing all along ---------------- */

static void
churn_once (Race  *race,
            GRand *rand,
            gint   id)
{
  RaceShared *shared = race->shared;
  g_autoptr(GError) error = NULL;
  gint64 long_wait = ps_test_scaled_us (30 * G_USEC_PER_SEC);

  switch (race->race->prim)
    {
    case PRIM_SEMAPHORE:
    case PRIM_SEMAPHORE_ASYNC:
      if (!ps_semaphore_acquire (race->semaphore, long_wait, NULL, &error))
        {
          stress_fail (&shared->failures, "churn acquire: %s", error->message);
          return;
        }
      g_usleep (g_rand_int_range (rand, 0, 300));
      if (!ps_semaphore_release (race->semaphore, &error))
        stress_fail (&shared->failures, "churn release: %s", error->message);
      break;

    case PRIM_MUTEX:
    case PRIM_COND:
    case PRIM_MUTEX_ASYNC:
    case PRIM_COND_ASYNC:
      if (!ps_mutex_lock (race->mutex, long_wait, NULL, &error))
        {
          stress_fail (&shared->failures, "churn lock: %s", error->message);
          return;
        }
      mark_held (shared, id);
      if (is_cond (race->race->prim))
        {
          switch (g_rand_int_range (rand, 0, 4))
            {
            case 0:
              ps_cond_signal (race->cond);
              break;
            case 1:
              ps_cond_broadcast (race->cond);
              break;
            case 2:
              /* A waiter among the waiters, briefly. */
              mark_released (shared, id);
              if (!ps_cond_wait (race->cond, race->mutex, g_rand_int_range (rand, 1, 2000),
                                 NULL, &error) &&
                  !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
                stress_fail (&shared->failures, "churn cond wait: %s", error->message);
              g_clear_error (&error);
              mark_held (shared, id);
              break;
            default:
              break;
            }
        }
      else
        g_usleep (g_rand_int_range (rand, 0, 300));
      mark_released (shared, id);
      if (!ps_mutex_unlock (race->mutex, &error))
        stress_fail (&shared->failures, "churn unlock: %s", error->message);
      /* Signals from outside the mutex too. */
      if (is_cond (race->race->prim) && g_rand_boolean (rand))
        ps_cond_signal (race->cond);
      break;

    case PRIM_RW_READ_ASYNC:
    case PRIM_RW_WRITE_ASYNC:
      {
        gboolean write = g_rand_boolean (rand);

        if (!(write ? ps_rw_lock_write_lock (race->rw_lock, long_wait, NULL, &error)
                    : ps_rw_lock_read_lock (race->rw_lock, long_wait, NULL, &error)))
          {
            stress_fail (&shared->failures, "churn rw-lock: %s", error->message);
            return;
          }
        use_rw_lock (race, rand, id, write, 300);
      }
      break;

    default:
      g_assert_not_reached ();
    }

  g_atomic_int_inc (&shared->churn_ops);
  g_usleep (g_rand_int_range (rand, 0, 200));
}

typedef struct
{
  Race    *race;
  guint32  seed;
} ChurnArgs;

void
churn_loop (Race    *race,
            guint32  seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  gint id = g_atomic_int_add (&race->shared->next_id, 1) + 1;

  while (!g_atomic_int_get (&race->shared->stop) &&
         g_atomic_int_get (&race->shared->failures.count) == 0)
    churn_once (race, rand, id);
}
