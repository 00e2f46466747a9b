/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The darwin backend's wait words and cancellers (see ps-backend-darwin.c
 * for the backend as a whole, and its robust locks).
 *
 * Cancellation. os_sync waits on one address only, so a waiter cannot
 * also sleep on its canceller the way the futex backend does with
 * futex_waitv(), and a canceller cannot change the waited-on word (it is
 * shared data: a semaphore's count, a condition's sequence). Instead:
 *
 *   waiter:  address = word;  if (fired) give up;  sleep on word;
 *            ... on any return, re-check fired; address = NULL on exit
 *   fire:    fired = 1;  while (address != NULL) { wake all on address; yield }
 *
 * Both sides store, then load the other's variable, all sequentially
 * consistent, so at least one sees the other's store: either the waiter
 * sees `fired` and never sleeps, or the canceller sees the published
 * address. In the second case the waiter may still be between its check
 * and the kernel, where a wake is lost, which is why the canceller does
 * not wake once but keeps waking, yielding in between, until the waiter
 * acknowledges by clearing `address`. It clears it only on its way out,
 * and a waiter woken by the kernel re-checks `fired` (which the wake's
 * kernel-side locking makes visible), so each round either finds it gone
 * or wakes it; the loop ends as soon as the waiter gets a CPU, typically
 * on the first round. Sleepers that share the word with it are woken
 * too; they find their word unchanged and sleep again, within
 * wait_on_address(). The canceller lives on the waiter's stack, which
 * ps_wait_context_end() keeps alive until the firing handler returned,
 * and the waiter holds a reference on the object owning the word.
 */

#include <errno.h>

#include <gio/gio.h>

#include "ps-backend-private.h"
#include "ps-darwin-platform.h"
#include "ps-darwin-wait.h"

/* The longest single sleep; longer waits simply sleep again. Keeps the
 * nanosecond timeout far from overflow and from any kernel limit. */
#define MAX_SLEEP_US ((gint64) 24 * 60 * 60 * G_USEC_PER_SEC)

/* A canceller first yields this many times between wake-ups, then
 * pauses FIRE_PAUSE_US: see ps_canceller_fire(). */
#define FIRE_YIELDS   16
#define FIRE_PAUSE_US 50

/* Waiting on a word ------------------------------------------------------ */

static void
pause_after_error (int saved_errno)
{
  static gboolean warned;

  /* EFAULT and ENOMEM are transient, by Apple's documentation; EINVAL
   * would be a bug here. Either way the caller retries: pause first so
   * that a lasting error degrades to polling rather than spinning. */
  if (saved_errno == EINVAL && !g_atomic_int_exchange (&warned, TRUE))
    g_warning ("os_sync_wait_on_address() refused its arguments; waits will poll");
  g_usleep (1000);
}

PsWaitStatus
ps_darwin_wait_on_address (guint32     *address,
                           guint32      expected,
                           gint64       deadline,
                           PsCanceller *canceller)
{
  PsWaitStatus status;

  if (canceller != NULL)
    g_atomic_pointer_set (&canceller->address, address);

  for (;;)
    {
      int r;

      if (canceller != NULL && g_atomic_int_get (&canceller->fired))
        {
          status = PS_WAIT_CANCELLED;
          break;
        }
      /* Every waker changes the word before waking, so an unchanged word
       * means a spurious return, or a wake-up meant for another waiter's
       * cancellation: sleep again. */
      if ((guint32) g_atomic_int_get (address) != expected)
        {
          status = PS_WAIT_WOKEN;
          break;
        }

      if (deadline < 0)
        r = os_sync_wait_on_address (address, expected, sizeof *address,
                                     OS_SYNC_WAIT_ON_ADDRESS_SHARED);
      else
        {
          gint64 remaining = deadline - g_get_monotonic_time ();

          if (remaining <= 0)
            {
              status = PS_WAIT_TIMED_OUT;
              break;
            }
          /* Relative, and recomputed from the fixed deadline each time;
           * a zero timeout would be EINVAL, hence the check above. */
          r = os_sync_wait_on_address_with_timeout (address, expected, sizeof *address,
                                                    OS_SYNC_WAIT_ON_ADDRESS_SHARED,
                                                    OS_CLOCK_MACH_ABSOLUTE_TIME,
                                                    (guint64) MIN (remaining, MAX_SLEEP_US) * 1000);
        }

      /* r >= 0: woken, or the word differed. ETIMEDOUT: the loop asks
       * the clock whether the deadline really passed. EINTR: spurious. */
      if (r < 0 && errno != ETIMEDOUT && errno != EINTR)
        {
          pause_after_error (errno);
          status = PS_WAIT_WOKEN;
          break;
        }
    }

  if (canceller != NULL)
    g_atomic_pointer_set (&canceller->address, NULL);   /* the acknowledgement */

  return status;
}

gboolean
ps_wait_word_init (PsWaitWord *word,
                   guint32     value,
                   GError    **error)
{
  g_atomic_int_set (&word->value, value);
  return TRUE;
}

PsWaitStatus
ps_wait_word_wait (PsWaitWord  *word,
                   guint32      expected,
                   gint64       deadline,
                   PsCanceller *canceller)
{
  return ps_darwin_wait_on_address (&word->value, expected, deadline, canceller);
}

void
ps_wait_word_wake (PsWaitWord *word,
                   gboolean    all)
{
  /* ENOENT (nobody waiting) is not an error for us. */
  if (all)
    os_sync_wake_by_address_all (&word->value, sizeof word->value,
                                 OS_SYNC_WAKE_BY_ADDRESS_SHARED);
  else
    os_sync_wake_by_address_any (&word->value, sizeof word->value,
                                 OS_SYNC_WAKE_BY_ADDRESS_SHARED);
}

gint
ps_wait_word_wake_one (PsWaitWord *word)
{
  if (os_sync_wake_by_address_any (&word->value, sizeof word->value,
                                   OS_SYNC_WAKE_BY_ADDRESS_SHARED) == 0)
    return 1;
  return errno == ENOENT ? 0 : -1;   /* ENOENT: nobody was waiting */
}

void
ps_canceller_init (PsCanceller *canceller)
{
  canceller->fired = 0;
  canceller->padding = 0;
  canceller->address = NULL;
}

void
ps_canceller_fire (PsCanceller *canceller)
{
  guint32 *address;
  guint round;

  g_atomic_int_set (&canceller->fired, 1);

  /* Until the waiter acknowledges, it may be about to sleep: a single
   * wake could fall before its sleep and be lost. See the top of the file. */
  for (round = 0; (address = g_atomic_pointer_get (&canceller->address)) != NULL; round++)
    {
      os_sync_wake_by_address_all (address, sizeof *address, OS_SYNC_WAKE_BY_ADDRESS_SHARED);
      if (round < FIRE_YIELDS)
        g_thread_yield ();
      else
        g_usleep (FIRE_PAUSE_US);
    }
}
