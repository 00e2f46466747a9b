/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The futex backend (Linux): waiting on words.
 *
 * Waits use futex_waitv(2) on two words at once: the shared word, and a
 * private word in the waiter's PsCanceller. Cancelling therefore wakes the
 * waiter through the kernel, with no window between "checked for
 * cancellation" and "went to sleep".
 *
 * The lock is in ps-futex-lock.c, over the robust list of
 * ps-futex-robust-list.c.
 */

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ps-backend-private.h"
#include "ps-futex-wait.h"

#define FALLBACK_SLICE_US 2000

static gboolean futex_waitv_missing;

static inline int
futex_wait_bitset (guint32 *uaddr, guint32 expected, const struct timespec *abs_deadline)
{
  /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so
   * retrying after EINTR never extends it. */
  return syscall (SYS_futex, uaddr, FUTEX_WAIT_BITSET, expected,
                  abs_deadline, NULL, FUTEX_BITSET_MATCH_ANY);
}

void
ps_futex_wake (guint32  *uaddr,
               int       count,
               gboolean  private_futex)
{
  syscall (SYS_futex, uaddr, private_futex ? FUTEX_WAKE_PRIVATE : FUTEX_WAKE,
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

PsWaitStatus
ps_futex_wait_until (guint32     *uaddr,
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
  return ps_futex_wait_until (&word->value, expected, deadline, canceller);
}

void
ps_wait_word_wake (PsWaitWord *word,
                   gboolean    all)
{
  ps_futex_wake (&word->value, all ? INT_MAX : 1, FALSE);
}

gint
ps_wait_word_wake_one (PsWaitWord *word)
{
  /* The kernel counts the threads it woke; a dead thread sleeps nowhere. */
  long woken = syscall (SYS_futex, &word->value, FUTEX_WAKE, 1, NULL, NULL, 0);

  return woken < 0 ? -1 : (woken > 0 ? 1 : 0);
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
  ps_futex_wake (&canceller->fired, INT_MAX, TRUE);
}

const char *
ps_backend_name (void)
{
  return "futex";
}
