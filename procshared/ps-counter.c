/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-counter-private.h"
#include "ps-error.h"
#include "ps-spin-private.h"
#include "ps-wait-private.h"

gboolean
ps_counter_init (PsCounter  *counter,
                 guint       value,
                 guint       max_value,
                 GError    **error)
{
  counter->max_value = max_value;
  counter->waiters = 0;
  counter->giver_cpu = 0;
  return ps_wait_word_init (&counter->count, value, error);
}

/* About 2 µs of polling on current x86 CPUs. */
#define ACQUIRE_SPINS 100

gboolean
ps_counter_take_waiting (PsCounter     *state,
                         gint64         timeout_us,
                         GCancellable  *cancellable,
                         const char    *what,
                         GError       **error)
{
  PsWaitContext context;
  PsWaitStatus status = PS_WAIT_WOKEN;
  gint64 deadline;

  if (timeout_us == 0)
    {
      ps_set_would_block_error (error, what);
      return FALSE;
    }

  /* The release we wait for often comes from a peer running on another
   * CPU at this very moment: looking for it a few microseconds before
   * going to sleep spares both sides a sleep and a wake-up, when the
   * peer can be running (ps-spin-private.h). */
  if (ps_spin_should_poll_for (state, ps_spin_cpu_of_mark (__atomic_load_n (&state->giver_cpu,
                                                                           __ATOMIC_RELAXED))))
    {
      for (guint spins = 0; spins < ACQUIRE_SPINS; spins++)
        {
          if (ps_counter_try_take (state))
            {
              ps_spin_record (state, TRUE);
              return TRUE;
            }
          ps_cpu_relax ();
        }
      ps_spin_record (state, FALSE);
    }

  deadline = ps_deadline_from_timeout (timeout_us);
  if (!ps_wait_context_begin (&context, cancellable, error))
    return FALSE;

  g_atomic_int_inc (&state->waiters);
  for (;;)
    {
      if (ps_counter_try_take (state))
        {
          status = PS_WAIT_WOKEN;
          break;
        }
      status = ps_wait_word_wait (&state->count, 0, deadline,
                                  ps_wait_context_get_canceller (&context));
      /* Whatever the backend reports, the deadline is ours to keep: a
       * count no release could have made (a peer wrote it) must not keep
       * us looping past it. */
      if (status == PS_WAIT_WOKEN && deadline >= 0 && g_get_monotonic_time () >= deadline)
        status = PS_WAIT_TIMED_OUT;
      if (status == PS_WAIT_TIMED_OUT && ps_counter_try_take (state))
        {
          /* A release that came with the deadline: ours after all. */
          status = PS_WAIT_WOKEN;
          break;
        }
      if (status != PS_WAIT_WOKEN)
        break;
    }
  g_atomic_int_dec_and_test (&state->waiters);

  /* A release wakes one waiter; if it woke us as we gave up, the unit is
   * still there, so pass the wake-up on. */
  if (status != PS_WAIT_WOKEN &&
      g_atomic_int_get (ps_counter_value (state)) > 0 &&
      g_atomic_int_get (&state->waiters) > 0)
    ps_wait_word_wake (&state->count, FALSE);

  ps_wait_context_end (&context);

  if (status != PS_WAIT_WOKEN)
    {
      ps_set_wait_error (error, status, what);
      return FALSE;
    }
  return TRUE;
}

gboolean
ps_counter_give (PsCounter   *counter,
                 guint32      n,
                 guint32      max_value,
                 const char  *what,
                 GError     **error)
{
  gint *count = ps_counter_value (counter);
  gint value = g_atomic_int_get (count);

  do
    {
      if (value < 0 || (guint32) value > max_value || n > max_value - (guint32) value)
        {
          g_set_error (error, PS_ERROR, PS_ERROR_OVERFLOW,
                       "Releasing would take the %s past its maximum value %u",
                       what, max_value);
          return FALSE;
        }
    }
  while (!g_atomic_int_compare_and_exchange_full (count, value, value + (gint) n, &value));

  if (g_atomic_int_get (&counter->waiters) > 0)
    {
      guint32 mark = ps_spin_cpu_mark ();

      if (__atomic_load_n (&counter->giver_cpu, __ATOMIC_RELAXED) != mark)
        __atomic_store_n (&counter->giver_cpu, mark, __ATOMIC_RELAXED);
      ps_wait_word_wake (&counter->count, n > 1);
    }
  return TRUE;
}
