/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the C tests of the async calls share: the outcome a callback
 * records, and a bounded run of the main context until it is there. */

#include <string.h>

#include <gio/gio.h>

#include "ps-test-util.h"

typedef struct
{
  gboolean  done;
  gboolean  ok;
  gint      index;    /* a barrier's arrival index */
  GError   *error;
  GThread  *thread;   /* that ran the callback */
} PsTestOutcome;

static inline void
ps_test_outcome_clear (PsTestOutcome *outcome)
{
  g_clear_error (&outcome->error);
  memset (outcome, 0, sizeof *outcome);
}

/* Records in @outcome that the callback ran, and where; fails the test
 * if it runs twice. */
static inline void
ps_test_outcome_record (PsTestOutcome *outcome,
                        gboolean       ok)
{
  g_assert_false (outcome->done);
  outcome->ok = ok;
  outcome->thread = g_thread_self ();
  outcome->done = TRUE;
}

static gboolean
ps_test_async_tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the thread-default context until @outcome (if not NULL) is
 * done or @deadline (monotonic) has passed: whether it is done. A ticker
 * bounds each iteration, so that the deadline is looked at even when
 * nothing else happens. */
static inline gboolean
ps_test_run_until (PsTestOutcome *outcome,
                   gint64         deadline)
{
  GMainContext *context = g_main_context_ref_thread_default ();
  GSource *ticker = g_timeout_source_new (5);

  g_source_set_callback (ticker, ps_test_async_tick, NULL, NULL);
  g_source_attach (ticker, context);
  while ((outcome == NULL || !outcome->done) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (ticker);
  g_source_unref (ticker);
  g_main_context_unref (context);
  return outcome != NULL && outcome->done;
}

/* Until @outcome is done, within @seconds (scaled). */
static inline gboolean
ps_test_run_until_done (PsTestOutcome *outcome,
                        guint          seconds)
{
  return ps_test_run_until (outcome, g_get_monotonic_time () +
                            (gint64) ps_test_scaled_s (seconds) * G_USEC_PER_SEC);
}

/* For @us microseconds, whatever happens. */
static inline void
ps_test_run_for (gint64 us)
{
  ps_test_run_until (NULL, g_get_monotonic_time () + us);
}
