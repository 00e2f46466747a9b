/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The futex backend (Linux).
 *
 * Waits use futex_waitv(2) on two words at once: the shared word, and a
 * private word in the waiter's PsCanceller. Cancelling therefore wakes the
 * waiter through the kernel, with no window between "checked for
 * cancellation" and "went to sleep".
 *
 * Ownership uses glibc's robust, process-shared, error-checking (or
 * recursive) pthread mutex, so the kernel's robust-futex list marks it
 * FUTEX_OWNER_DIED and wakes a waiter when its holder dies. Blocking on it
 * is done here rather than in pthread_mutex_timedlock(), so that a wait
 * can be cancelled: the mutex's lock word follows the kernel's robust
 * futex ABI (holder's TID, FUTEX_WAITERS, FUTEX_OWNER_DIED), and we sleep
 * on that word directly. That word is checked once at start-up; were a C
 * library ever to lay it out otherwise, waits fall back to short sleeps.
 */

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>

#include "ps-backend-private.h"

#define FALLBACK_SLICE_US 2000
#define LOST_WAKE_GUARD_US (50 * 1000)
#define MAX_REFUSALS 3
#define PS_BACKEND_TLS _Thread_local __attribute__((tls_model ("initial-exec")))

static gboolean futex_waitv_missing;
static gboolean lock_word_unusable;

static inline int
futex_wait_bitset (guint32 *uaddr, guint32 expected, const struct timespec *abs_deadline)
{
  /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so
   * retrying after EINTR never extends it. */
  return syscall (SYS_futex, uaddr, FUTEX_WAIT_BITSET, expected,
                  abs_deadline, NULL, FUTEX_BITSET_MATCH_ANY);
}

static inline int
futex_wake (guint32 *uaddr, int count, gboolean private_futex)
{
  return syscall (SYS_futex, uaddr,
                  private_futex ? FUTEX_WAKE_PRIVATE : FUTEX_WAKE,
                  count, NULL, NULL, 0);
}

static void
deadline_to_timespec (gint64 deadline, struct timespec *ts)
{
  ts->tv_sec = deadline / G_USEC_PER_SEC;
  ts->tv_nsec = (deadline % G_USEC_PER_SEC) * 1000;
}

gboolean
ps_wait_word_init (PsWaitWord *word,
                   guint32     value,
                   GError    **error)
{
  g_atomic_int_set (&word->value, value);
  return TRUE;
}

static PsWaitStatus
status_from_errno (int saved_errno)
{
  if (saved_errno == ETIMEDOUT)
    return PS_WAIT_TIMED_OUT;
  /* EAGAIN (the value differed) and EINTR are both "look again". */
  return PS_WAIT_WOKEN;
}

static PsWaitStatus
wait_in_slices (guint32     *uaddr,
                guint32      expected,
                gint64       deadline,
                PsCanceller *canceller)
{
  /* Only on kernels older than 5.16 (and under valgrind), which lack
   * futex_waitv(2): sleep on the word in short slices, looking at the
   * canceller between them, until something real happens. */
  for (;;)
    {
      gint64 slice_end = g_get_monotonic_time () + FALLBACK_SLICE_US;
      gboolean deadline_first = deadline >= 0 && deadline <= slice_end;
      struct timespec ts;

      if (g_atomic_int_get (&canceller->fired))
        return PS_WAIT_CANCELLED;
      deadline_to_timespec (deadline_first ? deadline : slice_end, &ts);
      if (futex_wait_bitset (uaddr, expected, &ts) == 0)
        return PS_WAIT_WOKEN;
      if (errno != ETIMEDOUT)
        return status_from_errno (errno);
      if (deadline_first)
        return PS_WAIT_TIMED_OUT;
    }
}

static PsWaitStatus
futex_wait_until (guint32     *uaddr,
                  guint32      expected,
                  gint64       deadline,
                  PsCanceller *canceller)
{
  struct timespec ts;
  struct timespec *tsp = NULL;

  if (deadline >= 0)
    {
      /* The kernel compares the word before it looks at the clock: a word
       * that never holds the expected value (a peer may have written
       * anything there) would return "look again" for ever. */
      if (g_get_monotonic_time () >= deadline)
        return PS_WAIT_TIMED_OUT;
      deadline_to_timespec (deadline, &ts);
      tsp = &ts;
    }

  if (canceller == NULL)
    {
      if (futex_wait_bitset (uaddr, expected, tsp) == 0)
        return PS_WAIT_WOKEN;
      return status_from_errno (errno);
    }

  if (!g_atomic_int_get (&futex_waitv_missing))
    {
      struct futex_waitv waiters[2] = {
        { .val = expected, .uaddr = (uintptr_t) uaddr, .flags = FUTEX_32 },
        { .val = 0, .uaddr = (uintptr_t) &canceller->fired,
          .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG },
      };
      long r = syscall (SYS_futex_waitv, waiters, 2, 0, tsp, CLOCK_MONOTONIC);

      if (r >= 0)
        return r == 1 ? PS_WAIT_CANCELLED : PS_WAIT_WOKEN;
      if (errno != ENOSYS)
        {
          if (errno == EAGAIN && g_atomic_int_get (&canceller->fired))
            return PS_WAIT_CANCELLED;
          return status_from_errno (errno);
        }
      g_atomic_int_set (&futex_waitv_missing, TRUE);
    }

  return wait_in_slices (uaddr, expected, deadline, canceller);
}

PsWaitStatus
ps_wait_word_wait (PsWaitWord  *word,
                   guint32      expected,
                   gint64       deadline,
                   PsCanceller *canceller)
{
  return futex_wait_until (&word->value, expected, deadline, canceller);
}

void
ps_wait_word_wake (PsWaitWord *word,
                   gboolean    all)
{
  futex_wake (&word->value, all ? INT_MAX : 1, FALSE);
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
  futex_wake (&canceller->fired, INT_MAX, TRUE);
}

/* Robust locks ----------------------------------------------------------- */

static guint32 *
lock_word (PsRobustLock *lock)
{
  return (guint32 *) &lock->mutex.__data.__lock;
}

static void
check_lock_word_once (void)
{
  static gsize checked;

  if (g_once_init_enter (&checked))
    {
      pthread_mutexattr_t attr;
      pthread_mutex_t probe;
      gboolean usable;

      pthread_mutexattr_init (&attr);
      pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
      pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
      pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK);
      pthread_mutex_init (&probe, &attr);
      pthread_mutexattr_destroy (&attr);

      pthread_mutex_lock (&probe);
      usable = ((guint32) probe.__data.__lock & FUTEX_TID_MASK) == (guint32) gettid ();
      pthread_mutex_unlock (&probe);
      usable = usable && probe.__data.__lock == 0;
      pthread_mutex_destroy (&probe);

      if (!usable)
        g_warning ("The C library's robust mutex does not follow the kernel's robust "
                   "futex layout; lock waits will poll");
      g_atomic_int_set (&lock_word_unusable, !usable);
      g_once_init_leave (&checked, 1);
    }
}

/* glibc's __kind for [errorcheck, recursive]; -1 until learnt, which
 * happens before any lock exists in this process (and is inherited). */
int ps_pthread_lock_kinds[2] = { -1, -1 };

void
ps_pthread_lock_learn_kinds (void)
{
  static gsize learnt;

  if (g_once_init_enter (&learnt))
    {
      for (guint recursive = 0; recursive < 2; recursive++)
        {
          PsRobustLock probe;

          pthread_mutexattr_t attr;

          pthread_mutexattr_init (&attr);
          pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
          pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
          pthread_mutexattr_settype (&attr, recursive ? PTHREAD_MUTEX_RECURSIVE
                                                      : PTHREAD_MUTEX_ERRORCHECK);
          pthread_mutex_init (&probe.mutex, &attr);
          pthread_mutexattr_destroy (&attr);
          ps_pthread_lock_kinds[recursive] = probe.mutex.__data.__kind;
          pthread_mutex_destroy (&probe.mutex);
        }
      g_once_init_leave (&learnt, 1);
    }
}

gboolean
ps_robust_lock_check (PsRobustLock *lock,
                      gboolean      recursive)
{
  /* Another kind would be another lock: a plain one is not robust, a
   * recursive one would let a holder "relock" a mutex it was told is
   * not recursive, and neither would behave as PsMutex promises. */
  ps_pthread_lock_learn_kinds ();
  return lock->mutex.__data.__kind == ps_pthread_lock_kinds[recursive != FALSE];
}

/* The thread's robust list head, where glibc links each robust mutex it
 * hands out (and from which a relock links nothing). */
static PS_BACKEND_TLS struct robust_list_head *robust_head;

gboolean
ps_robust_lock_is_fresh (PsRobustLock *lock)
{
  if (robust_head == NULL)
    {
      size_t length = 0;

      if (syscall (SYS_get_robust_list, 0, &robust_head, &length) != 0)
        robust_head = NULL;
    }

  /* A first acquisition puts the mutex at the head of this thread's
   * robust list; a relock, which glibc grants when the lock word names
   * this thread, does not. */
  if (robust_head != NULL &&
      (gpointer) ((guintptr) robust_head->list.next & ~(guintptr) 1) !=
      (gpointer) &lock->mutex.__data.__list.__next)
    return FALSE;
  return lock->mutex.__data.__count == 1;
}

gboolean
ps_robust_lock_init (PsRobustLock *lock,
                     gboolean      recursive,
                     GError      **error)
{
  pthread_mutexattr_t attr;
  int r;

  check_lock_word_once ();
  ps_pthread_lock_learn_kinds ();

  pthread_mutexattr_init (&attr);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_settype (&attr, recursive ? PTHREAD_MUTEX_RECURSIVE
                                              : PTHREAD_MUTEX_ERRORCHECK);
  r = pthread_mutex_init (&lock->mutex, &attr);
  pthread_mutexattr_destroy (&attr);

  if (r != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (r),
                   "Could not initialise a robust mutex: %s", g_strerror (r));
      return FALSE;
    }
  return TRUE;
}

static PsWaitStatus
wait_for_lock_word (guint32     *word,
                    guint32      seen,
                    gint64       deadline,
                    PsCanceller *canceller)
{
  if (G_UNLIKELY (g_atomic_int_get (&lock_word_unusable)))
    {
      gint64 slice_end = g_get_monotonic_time () + FALLBACK_SLICE_US;
      PsWaitStatus status;

      if (deadline >= 0 && deadline <= slice_end)
        return futex_wait_until (word, seen, deadline, canceller);
      status = futex_wait_until (word, seen, slice_end, canceller);
      return status == PS_WAIT_TIMED_OUT ? PS_WAIT_WOKEN : status;
    }
  return futex_wait_until (word, seen, deadline, canceller);
}

PsLockStatus
ps_robust_lock_wait (PsRobustLock *lock,
                     gint64        deadline,
                     PsCanceller  *canceller)
{
  guint32 *word = lock_word (lock);
  gboolean slept = FALSE;
  guint refusals = 0;
  guint32 refused_word = 0;

  /* The caller has just tried and failed: look before trying again, so
   * that a busy lock costs no extra atomic operation on its cache line. */
  for (;;)
    {
      guint32 seen = (guint32) g_atomic_int_get (word);
      PsWaitStatus wait_status;
      gint64 sleep_until;

      if (seen != refused_word)
        refusals = 0;
      if ((seen & FUTEX_TID_MASK) == 0 && refusals < MAX_REFUSALS)
        {
          /* Free, or its holder died (the kernel cleared the TID). */
          PsLockStatus status = ps_robust_lock_try (lock);

          if (status != PS_LOCK_BUSY)
            {
              /* pthread_mutex_trylock() takes the word as plain TID,
               * dropping FUTEX_WAITERS; others may still sleep on it, so
               * put it back for our unlock to wake them, as glibc's own
               * lock path does. */
              if (slept && (status == PS_LOCK_ACQUIRED || status == PS_LOCK_OWNER_DIED))
                g_atomic_int_or (word, FUTEX_WAITERS);
              return status;
            }
          /* Free by its TID, yet refused, again and again: no C library
           * leaves a word like that, a peer wrote it. Sleep on it below
           * rather than spin, so the wait ends by its deadline. */
          if ((guint32) g_atomic_int_get (word) == seen)
            {
              refused_word = seen;
              refusals++;
            }
          continue;
        }

      if ((seen & FUTEX_WAITERS) == 0 && (seen & FUTEX_TID_MASK) != 0)
        {
          if (!g_atomic_int_compare_and_exchange ((gint *) word, (gint) seen,
                                                  (gint) (seen | FUTEX_WAITERS)))
            continue;
          seen |= FUTEX_WAITERS;
        }

      /* A safety net, not the way we are normally woken. An unlock wakes
       * one sleeper; if that one is killed before it takes the lock, or a
       * holder is killed in the few instructions between taking the lock
       * and setting FUTEX_WAITERS again, nobody is left to wake the rest:
       * they look again after LOST_WAKE_GUARD_US. */
      sleep_until = g_get_monotonic_time () + LOST_WAKE_GUARD_US;
      if (deadline >= 0 && deadline < sleep_until)
        sleep_until = deadline;

      wait_status = wait_for_lock_word (word, seen, sleep_until, canceller);
      slept = TRUE;

      if (wait_status == PS_WAIT_TIMED_OUT && sleep_until != deadline)
        continue;

      if (wait_status != PS_WAIT_WOKEN)
        {
          /* A release or an owner death wakes one waiter only; if that was
           * us, hand the wake-up on so another waiter sees the free lock. */
          if ((g_atomic_int_get (word) & FUTEX_TID_MASK) == 0)
            futex_wake (word, 1, FALSE);
          return wait_status == PS_WAIT_CANCELLED ? PS_LOCK_CANCELLED : PS_LOCK_TIMED_OUT;
        }
    }
}

void
ps_robust_lock_make_consistent (PsRobustLock *lock)
{
  pthread_mutex_consistent (&lock->mutex);
}

const char *
ps_backend_name (void)
{
  return "futex";
}
