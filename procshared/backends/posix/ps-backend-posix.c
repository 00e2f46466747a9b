/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The portable POSIX backend.
 *
 * Ownership is a robust, process-shared pthread mutex: the C library
 * reports EOWNERDEAD to the next locker when a holder dies.
 *
 * Sleeping is the hard part. The obvious tool, a process-shared condition
 * variable next to the word, is not safe against a process killed while
 * waiting in it: glibc keeps counting the dead waiter, and the next
 * pthread_cond_broadcast() blocks for ever waiting for it to leave,
 * holding the condition's internal lock, so every later wait and wake on
 * that object hangs. POSIX offers nothing robust to sleep on across
 * processes. So a waiter here sleeps on a condition variable private to
 * its own process, with a timeout that grows from POLL_MIN_US to
 * POLL_MAX_US, and checks shared memory each time it wakes (for a wait
 * word, whether a wake let it go: see "Wait words" below):
 *
 *  - a wake from another process is seen within POLL_MAX_US;
 *  - a wake from this process, and a cancellation, wake it at once
 *    (they broadcast the private condition, under its mutex, after
 *    changing the word or the canceller, so neither can slip between the
 *    waiter's check and its sleep);
 *  - a process that dies while waiting leaves nothing in shared memory
 *    that could block anyone (at worst a wake-up made spurious).
 *
 * A dead lock holder is noticed the same way: sleepers retry the mutex at
 * every poll, and the first retry after a death gets EOWNERDEAD. The futex
 * backend, the default on Linux, is woken by the kernel in every case.
 */

#include <errno.h>
#include <time.h>

#include <gio/gio.h>

#include "ps-backend-private.h"

#define POLL_MIN_US 20
#define POLL_MAX_US 2000

gint ps_posix_local_sleepers;

static pthread_mutex_t local_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t local_cond;

static void
init_local_cond (void)
{
  pthread_condattr_t attr;

  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&local_cond, &attr);
  pthread_condattr_destroy (&attr);
}

static void
local_prepare_fork (void)
{
  pthread_mutex_lock (&local_mutex);
}

static void
local_after_fork (void)
{
  pthread_mutex_unlock (&local_mutex);
}

static void
local_after_fork_in_child (void)
{
  /* The sleepers were other threads of the parent: none exist here. The
   * condition variable still counts them, and a broadcast would wait for
   * them to leave for ever: this one starts afresh. */
  g_atomic_int_set (&ps_posix_local_sleepers, 0);
  init_local_cond ();
  pthread_mutex_unlock (&local_mutex);
}

static void
ensure_local_cond (void)
{
  static gsize initialised;

  if (g_once_init_enter (&initialised))
    {
      init_local_cond ();
      pthread_atfork (local_prepare_fork, local_after_fork, local_after_fork_in_child);
      g_once_init_leave (&initialised, 1);
    }
}

void
ps_posix_wake_local_sleepers (void)
{
  ensure_local_cond ();
  pthread_mutex_lock (&local_mutex);
  pthread_cond_broadcast (&local_cond);
  pthread_mutex_unlock (&local_mutex);
}

/* The condition a sleeper waits for, checked under local_mutex. */
typedef gboolean (*WakeCheck) (gpointer data);

static PsWaitStatus
sleep_until (WakeCheck     check,
             gpointer      data,
             gint64        deadline,
             gint64        poll_limit_us,
             PsCanceller  *canceller)
{
  PsWaitStatus status = PS_WAIT_WOKEN;
  gint64 interval = POLL_MIN_US;

  ensure_local_cond ();

  pthread_mutex_lock (&local_mutex);
  g_atomic_int_inc (&ps_posix_local_sleepers);

  while (!check (data))
    {
      gint64 now = g_get_monotonic_time ();
      gint64 until = now + MIN (interval, poll_limit_us);
      struct timespec ts;

      if (canceller != NULL && g_atomic_int_get (&canceller->fired))
        {
          status = PS_WAIT_CANCELLED;
          break;
        }
      if (deadline >= 0 && now >= deadline)
        {
          status = PS_WAIT_TIMED_OUT;
          break;
        }
      if (deadline >= 0 && deadline < until)
        until = deadline;

      ts.tv_sec = until / G_USEC_PER_SEC;
      ts.tv_nsec = (until % G_USEC_PER_SEC) * 1000;
      pthread_cond_timedwait (&local_cond, &local_mutex, &ts);
      interval = MIN (interval * 2, POLL_MAX_US);
    }

  g_atomic_int_dec_and_test (&ps_posix_local_sleepers);
  pthread_mutex_unlock (&local_mutex);
  return status;
}

/* Wait words -------------------------------------------------------------
 *
 * A sleeper cannot return because it sees the value change: every
 * sleeper would, and a wake of one would wake them all. It returns when a
 * wake lets it go. Beside the value, the word keeps a record of its
 * sleepers, 64 bits changed only by compare-and-swap:
 *
 *   arrived  sleepers that joined since the last wake;
 *   counted  sleepers that a wake found there;
 *   granted  wakes not yet taken, never more than counted;
 *   round    moved on by each wake that finds arrivals.
 *
 * A wake counts the arrived (moving the round on), then grants one more
 * wake, or one to every counted sleeper (@all). A sleeper joins as
 * arrived and remembers the round; once the round has moved it knows it
 * was counted and may take a grant, which ends its wait. One that leaves
 * without a grant (deadline, canceller) takes itself out of its group,
 * and the grants are cut to the counted sleepers that remain.
 *
 * No wake-up is lost, and none stolen:
 *  - the sleeper joins, then reads the value; the waker changes the value,
 *    then wakes (each step sequentially consistent). Either the sleeper
 *    sees the new value and returns at once (taking a grant if a wake
 *    counted it meanwhile), or the wake finds it among the arrived;
 *  - grants are not addressed: any counted sleeper may take any of them,
 *    so a counted sleeper that leaves on its deadline or canceller leaves
 *    its grant to the others counted; only grants beyond the counted
 *    sleepers that remain are dropped, and those had nobody left to wake;
 *  - only a counted sleeper takes a grant: one that arrived after a wake
 *    cannot take the wake meant for those asleep when it came.
 *
 * A sleeper that dies stays counted. Its grant then lingers and ends the
 * next counted sleeper's wait spuriously, which callers allow for: it is
 * never a wake-up lost. Should dead sleepers ever fill the record, later
 * sleepers poll the value instead, as every sleeper once did here: then
 * any change ends their wait. */

#define SLEEPERS_FIELD_BITS 13
#define SLEEPERS_FIELD_MAX  ((1u << SLEEPERS_FIELD_BITS) - 1)
#define SLEEPERS_ROUND_MASK ((1u << (64 - 3 * SLEEPERS_FIELD_BITS)) - 1)

/* A lock behind the compare-and-swap would not be shared between
 * processes. */
G_STATIC_ASSERT (__atomic_always_lock_free (sizeof (guint64), 0));

typedef struct
{
  guint   granted;
  guint   counted;
  guint   arrived;
  guint32 round;
} Sleepers;

static inline Sleepers
sleepers_unpack (guint64 packed)
{
  Sleepers s;

  s.granted = packed & SLEEPERS_FIELD_MAX;
  s.counted = (packed >> SLEEPERS_FIELD_BITS) & SLEEPERS_FIELD_MAX;
  s.arrived = (packed >> (2 * SLEEPERS_FIELD_BITS)) & SLEEPERS_FIELD_MAX;
  s.round = (guint32) (packed >> (3 * SLEEPERS_FIELD_BITS)) & SLEEPERS_ROUND_MASK;
  /* A peer may have scribbled on it: keep the invariant whatever it says. */
  s.granted = MIN (s.granted, s.counted);
  return s;
}

static inline guint64
sleepers_pack (const Sleepers *s)
{
  return (guint64) s->granted |
         (guint64) s->counted << SLEEPERS_FIELD_BITS |
         (guint64) s->arrived << (2 * SLEEPERS_FIELD_BITS) |
         (guint64) (s->round & SLEEPERS_ROUND_MASK) << (3 * SLEEPERS_FIELD_BITS);
}

/* Changes the record of @word as @update says, retrying until no other
 * change came in between; FALSE, having written nothing, if @update
 * declines. */
typedef gboolean (*SleepersUpdate) (Sleepers *s, gpointer data);

static gboolean
sleepers_update (PsWaitWord     *word,
                 SleepersUpdate  update,
                 gpointer        data)
{
  guint64 packed = __atomic_load_n (&word->sleepers, __ATOMIC_SEQ_CST);

  for (;;)
    {
      Sleepers s = sleepers_unpack (packed);
      guint64 changed;

      if (!update (&s, data))
        return FALSE;
      changed = sleepers_pack (&s);
      if (changed == packed ||
          __atomic_compare_exchange_n (&word->sleepers, &packed, changed, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return TRUE;
    }
}

/* One thread asleep on a word, in its own memory. */
typedef struct
{
  PsWaitWord *word;
  guint32     round;     /* when it joined */
  gboolean    counted;   /* seen the round move on: a wake counted it */
  gboolean    woken;     /* leaving because the value changed */
} Sleeper;

static gboolean
sleeper_counted (Sleeper        *me,
                 const Sleepers *s)
{
  if (!me->counted && s->round != me->round)
    me->counted = TRUE;
  return me->counted;
}

static gboolean
sleepers_join (Sleepers *s,
               gpointer  data)
{
  Sleeper *me = data;

  if (s->counted + s->arrived >= SLEEPERS_FIELD_MAX)
    return FALSE;
  s->arrived++;
  me->round = s->round;
  return TRUE;
}

/* Takes a grant and leaves, if a wake counted us and one is left. */
static gboolean
sleepers_take_grant (Sleepers *s,
                     gpointer  data)
{
  Sleeper *me = data;

  if (!sleeper_counted (me, s) || s->granted == 0)
    return FALSE;
  s->granted--;
  s->counted--;   /* granted <= counted */
  return TRUE;
}

static gboolean
sleepers_leave (Sleepers *s,
                gpointer  data)
{
  Sleeper *me = data;

  if (sleeper_counted (me, s))
    {
      /* Returning for a change a wake came with: that wake was ours. */
      if (me->woken && s->granted > 0)
        s->granted--;
      if (s->counted > 0)
        s->counted--;
    }
  else if (s->arrived > 0)
    s->arrived--;
  s->granted = MIN (s->granted, s->counted);
  return TRUE;
}

static gboolean
sleepers_wake (Sleepers *s,
               gpointer  data)
{
  gboolean all = *(gboolean *) data;

  if (s->arrived > 0)
    {
      s->counted = MIN (s->counted + s->arrived, SLEEPERS_FIELD_MAX);
      s->arrived = 0;
      s->round++;
    }
  s->granted = all ? s->counted : MIN (s->granted + 1, s->counted);
  return TRUE;
}

static gboolean
grant_taken (gpointer data)
{
  Sleeper *me = data;

  return sleepers_update (me->word, sleepers_take_grant, me);
}

gboolean
ps_wait_word_init (PsWaitWord *word,
                   guint32     value,
                   GError    **error)
{
  word->reserved = 0;
  __atomic_store_n (&word->sleepers, 0, __ATOMIC_SEQ_CST);
  g_atomic_int_set (&word->value, value);
  return TRUE;
}

typedef struct
{
  PsWaitWord *word;
  guint32     expected;
} WordCheck;

static gboolean
word_changed (gpointer data)
{
  WordCheck *check = data;

  return (guint32) g_atomic_int_get (&check->word->value) != check->expected;
}

PsWaitStatus
ps_wait_word_wait (PsWaitWord  *word,
                   guint32      expected,
                   gint64       deadline,
                   PsCanceller *canceller)
{
  WordCheck check = { word, expected };
  Sleeper me = { word, 0, FALSE, FALSE };
  PsWaitStatus status;

  if (word_changed (&check))
    return PS_WAIT_WOKEN;

  if (!sleepers_update (word, sleepers_join, &me))
    {
      /* The record is full: poll the value, which any change ends. */
      return sleep_until (word_changed, &check, deadline, POLL_MAX_US, canceller);
    }

  /* Joined, then looked: a waker that changed the value before we joined
   * may not have seen us, so its change is our wake. */
  if (word_changed (&check))
    {
      me.woken = TRUE;
      sleepers_update (word, sleepers_leave, &me);
      return PS_WAIT_WOKEN;
    }

  status = sleep_until (grant_taken, &me, deadline, POLL_MAX_US, canceller);
  if (status != PS_WAIT_WOKEN)
    sleepers_update (word, sleepers_leave, &me);
  return status;
}

void
ps_wait_word_wake (PsWaitWord *word,
                   gboolean    all)
{
  sleepers_update (word, sleepers_wake, &all);

  /* Sleepers of this process look at once, those of others at their next
   * poll; each takes a grant if one is left for it, or sleeps on. */
  if (g_atomic_int_get (&ps_posix_local_sleepers) > 0)
    ps_posix_wake_local_sleepers ();
}

gint
ps_wait_word_wake_one (PsWaitWord *word)
{
  /* The record counts sleepers that died as well: no telling. */
  ps_wait_word_wake (word, FALSE);
  return -1;
}

void
ps_canceller_init (PsCanceller *canceller)
{
  canceller->fired = 0;
}

void
ps_canceller_fire (PsCanceller *canceller)
{
  g_atomic_int_set (&canceller->fired, 1);
  ps_posix_wake_local_sleepers ();
}

/* Robust locks ----------------------------------------------------------- */

#ifdef __GLIBC__
/* glibc's __kind for a robust process-shared error-checking mutex; -1
 * until learnt, which happens before any lock exists in this process (and
 * is inherited). */
int ps_pthread_lock_kind = -1;

void
ps_pthread_lock_learn_kind (void)
{
  static gsize learnt;

  if (g_once_init_enter (&learnt))
    {
      pthread_mutexattr_t attr;
      pthread_mutex_t probe;

      pthread_mutexattr_init (&attr);
      pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
      pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
      pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK);
      pthread_mutex_init (&probe, &attr);
      pthread_mutexattr_destroy (&attr);
      ps_pthread_lock_kind = probe.__data.__kind;
      pthread_mutex_destroy (&probe);
      g_once_init_leave (&learnt, 1);
    }
}
#endif

gboolean
ps_robust_lock_init (PsRobustLock *lock,
                     gboolean      recursive,
                     GError      **error)
{
  pthread_mutexattr_t attr;
  int r;

  /* Error-checking even for a recursive PsMutex, which counts relocks
   * itself: a lock word forged to name the caller is then refused. */
  ps_pthread_lock_learn_kind ();
  pthread_mutexattr_init (&attr);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK);
  r = pthread_mutex_init (&lock->mutex, &attr);
  pthread_mutexattr_destroy (&attr);

  if (r != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (r),
                   "Could not initialise a process-shared mutex: %s", g_strerror (r));
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  PsRobustLock *lock;
  PsLockStatus  status;
} LockCheck;

static gboolean
lock_taken (gpointer data)
{
  LockCheck *check = data;

  check->status = ps_robust_lock_try (check->lock);
  return check->status != PS_LOCK_BUSY;
}

PsLockStatus
ps_robust_lock_wait (PsRobustLock *lock,
                     gint64        deadline,
                     PsCanceller  *canceller)
{
  LockCheck check = { lock, PS_LOCK_BUSY };
  PsWaitStatus status;

  status = sleep_until (lock_taken, &check, deadline, POLL_MAX_US, canceller);
  if (status == PS_WAIT_CANCELLED)
    return PS_LOCK_CANCELLED;
  if (status == PS_WAIT_TIMED_OUT)
    return PS_LOCK_TIMED_OUT;
  return check.status;
}

void
ps_robust_lock_make_consistent (PsRobustLock *lock)
{
  pthread_mutex_consistent (&lock->mutex);
}

gboolean
ps_robust_lock_check (PsRobustLock *lock,
                      gboolean      recursive)
{
  /* Where the layout is known, a foreign kind is refused; elsewhere POSIX
   * keeps pthread_mutex_t opaque and there is nothing to look at. */
  ps_pthread_lock_learn_kind ();
  return ps_pthread_lock_kind_is_ours (&lock->mutex);
}

const char *
ps_backend_name (void)
{
  return "posix";
}
