/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-wait-private.h"

gint64
ps_deadline_from_timeout (gint64 timeout_us)
{
  gint64 now;

  if (timeout_us < 0)
    return -1;

  /* Computed once per call, so that retries after EINTR or spurious
   * wake-ups never extend it. Saturates rather than overflows. */
  now = g_get_monotonic_time ();
  if (timeout_us > G_MAXINT64 - now)
    return -1;
  return now + timeout_us;
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  PsWaitContext *context = user_data;

  ps_canceller_fire (&context->canceller);
}

gboolean
ps_wait_context_begin (PsWaitContext  *context,
                       GCancellable   *cancellable,
                       GError        **error)
{
  ps_canceller_init (&context->canceller);
  context->cancellable = NULL;
  context->handler_id = 0;

  if (cancellable == NULL)
    return TRUE;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  context->cancellable = g_object_ref (cancellable);
  /* If it is cancelled in between, connect() runs the handler at once,
   * which fires the canceller before we ever sleep. */
  context->handler_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                               context, NULL);
  return TRUE;
}

void
ps_wait_context_end (PsWaitContext *context)
{
  if (context->cancellable == NULL)
    return;

  /* Blocks until a handler running in another thread has returned, so
   * the canceller on our stack outlives every use of it. */
  if (context->handler_id != 0)
    g_cancellable_disconnect (context->cancellable, context->handler_id);
  g_clear_object (&context->cancellable);
}

void
ps_set_would_block_error (GError     **error,
                          const char  *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
               "The %s is not available", what);
}

void
ps_set_wait_error (GError       **error,
                   PsWaitStatus   status,
                   const char    *what)
{
  switch (status)
    {
    case PS_WAIT_TIMED_OUT:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "Timed out waiting for the %s", what);
      break;
    case PS_WAIT_CANCELLED:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "Operation was cancelled");
      break;
    case PS_WAIT_WOKEN:
    default:
      g_assert_not_reached ();
    }
}
