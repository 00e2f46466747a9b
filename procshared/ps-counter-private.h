/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * A count in shared memory that threads of any process take units from,
 * waiting while it is 0, and give units back to, up to a maximum: the
 * protocol of PsSemaphore, for any class that counts. A unit taken by a
 * wait that times out or is cancelled is never lost, and a give never
 * leaves a waiter asleep beside a unit.
 */

#include <gio/gio.h>

#include "ps-backend-private.h"

G_BEGIN_DECLS

typedef struct
{
  PsWaitWord count;
  guint32    max_value;
  guint32    waiters;   /* threads inside ps_counter_take_waiting(): a give wakes one */
  /* A hint for waiters held to one CPU: ps_spin_cpu_mark() of the last
   * give that found waiters (0, unknown, in states made by 1.0). */
  guint32    giver_cpu;
} PsCounter;

gboolean ps_counter_init          (PsCounter     *counter,
                                   guint          value,
                                   guint          max_value,
                                   GError       **error);

static inline gint *
ps_counter_value (PsCounter *counter)
{
  return (gint *) ps_wait_word_value (&counter->count);
}

/* Takes a unit if there is one: no calls. */
static inline gboolean
ps_counter_try_take (PsCounter *counter)
{
  gint *count = ps_counter_value (counter);
  gint value = g_atomic_int_get (count);

  while (value > 0)
    {
      if (g_atomic_int_compare_and_exchange_full (count, value, value - 1, &value))
        return TRUE;
    }
  return FALSE;
}

/* Gives a unit back when nobody waits and there is room below
 * *@max_value, in one compare-and-swap and no calls; FALSE (having
 * changed nothing) when ps_counter_give() must do it. The maximum comes
 * by pointer so that it is loaded only where it is compared, after the
 * count (an instruction less on the fast path). */
static inline gboolean
ps_counter_try_give_fast (PsCounter   *counter,
                          const guint *max_value)
{
  gint *count = ps_counter_value (counter);
  gint value = g_atomic_int_get (count);

  if (G_LIKELY (value >= 0 && (guint) value < *max_value &&
                g_atomic_int_get (&counter->waiters) == 0) &&
      G_LIKELY (g_atomic_int_compare_and_exchange (count, value, value + 1)))
    {
      /* A waiter that arrived meanwhile counted itself before it looked
       * at the count, so it sees our unit or we see it. */
      if (G_UNLIKELY (g_atomic_int_get (&counter->waiters) > 0))
        ps_wait_word_wake (&counter->count, FALSE);
      return TRUE;
    }
  return FALSE;
}

/* Takes a unit, waiting while there is none (timeout 0 tries once). @what
 * names the object in errors. */
gboolean ps_counter_take_waiting  (PsCounter     *counter,
                                   gint64         timeout_us,
                                   GCancellable  *cancellable,
                                   const char    *what,
                                   GError       **error);
/* Gives @n units back, all or none: PS_ERROR_OVERFLOW past @max_value
 * (the caller's copy of it, never re-read from shared memory). */
gboolean ps_counter_give          (PsCounter     *counter,
                                   guint32        n,
                                   guint32        max_value,
                                   const char    *what,
                                   GError       **error);

G_END_DECLS
