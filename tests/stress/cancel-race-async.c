/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * test-cancel-race: async waits raced one at a time, against their
 * timeout (PsSemaphore) or against the set or arrival that would end
 * them (PsEvent, PsBarrier).
 */

#include "cancel-race.h"

/* Async acquires whose timeout ends just about when the worker thread
 * starts on them: the remaining time must be worked out once. Were it
 * computed twice (checked positive, then read again as negative), a
 * timed wait would become an infinite one. Each must end, timed out,
 * within a generous bound. */

#define N_TINY_TIMEOUTS      20000
#define N_TINY_TIMEOUTS_SLOW 500

static gboolean
on_too_late (gpointer user_data)
{
  gboolean *late = user_data;

  *late = TRUE;
  return G_SOURCE_REMOVE;
}

void
test_async_tiny_timeouts (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = ps_semaphore_new (0, &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  guint n = stress_is_slow () ? N_TINY_TIMEOUTS_SLOW : N_TINY_TIMEOUTS;

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      AsyncResult tiny = { FALSE, FALSE, NULL };
      gint64 timeout_us = g_rand_int_range (rand, 1, 200);
      gboolean late = FALSE;
      GSource *bound = g_timeout_source_new ((guint) (ps_test_scaled_us (2 * G_USEC_PER_SEC) / 1000));

      g_source_set_callback (bound, on_too_late, &late, NULL);
      g_source_attach (bound, NULL);
      ps_semaphore_acquire_async (semaphore, timeout_us, NULL, on_acquired, &tiny);
      while (!tiny.done && !late)
        g_main_context_iteration (NULL, TRUE);
      g_source_destroy (bound);
      g_source_unref (bound);

      if (!tiny.done)
        g_error ("an async acquire with a timeout of %" G_GINT64_FORMAT " us was still "
                 "waiting after 2 s (attempt %u)", timeout_us, i);
      g_assert_false (tiny.result);
      g_assert_error (tiny.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_clear_error (&tiny.error);
    }
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 0);
}

/* PsEvent's and PsBarrier's async waits cancelled as the set or the
 * other party's arrival comes, 2,000 times each: an auto-reset event's
 * set is either the wait's or still the event's, never lost nor both; a
 * barrier's two parties either both pass (indices 0 and 1) or the
 * cancelled one gets CANCELLED and the other BROKEN. */

#define N_ASYNC_RACES      2000
#define N_ASYNC_RACES_SLOW 200

typedef struct
{
  PsEvent   *event;
  PsBarrier *barrier;
  gint64     delay_us;
  gint       index;
  GError    *error;
} RacePeer;

static gpointer
race_peer (gpointer data)
{
  RacePeer *peer = data;

  g_usleep ((gulong) peer->delay_us);
  if (peer->event != NULL)
    ps_event_set (peer->event);
  else
    peer->index = ps_barrier_wait (peer->barrier, -1, NULL, &peer->error);
  return NULL;
}

static void
on_race_event (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncResult *async = user_data;

  async->result = ps_event_wait_finish (PS_EVENT (source), result, &async->error);
  async->done = TRUE;
}

static void
on_race_barrier (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  AsyncResult *async = user_data;

  async->result = ps_barrier_wait_finish (PS_BARRIER (source), result, &async->error) + 1;
  async->done = TRUE;
}

void
test_event_barrier_async_race (gconstpointer data)
{
  gboolean barrier = GPOINTER_TO_INT (data);
  g_autoptr(PsEvent) event = ps_event_new (TRUE, NULL);
  g_autoptr(PsBarrier) pair = ps_barrier_new (2, NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  guint n = stress_is_slow () ? N_ASYNC_RACES_SLOW : N_ASYNC_RACES;
  guint passed = 0, cancelled = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      RacePeer peer = { barrier ? NULL : event, pair, g_rand_int_range (rand, 0, 300), -1, NULL };
      AsyncResult async = { FALSE, FALSE, NULL };
      gint64 cancel_at;
      GThread *thread;

      if (barrier)
        ps_barrier_wait_async (pair, -1, cancellable, on_race_barrier, &async);
      else
        ps_event_wait_async (event, -1, cancellable, on_race_event, &async);
      thread = g_thread_new ("race-peer", race_peer, &peer);
      cancel_at = g_get_monotonic_time () + g_rand_int_range (rand, 0, 600);
      while (!async.done && g_get_monotonic_time () < cancel_at)
        g_main_context_iteration (NULL, FALSE);
      g_cancellable_cancel (cancellable);
      while (!async.done)
        g_main_context_iteration (NULL, TRUE);
      g_thread_join (thread);

      if (async.result)
        {
          g_assert_no_error (async.error);
          g_assert_no_error (peer.error);
          if (barrier)
            g_assert_cmpint ((gint) async.result - 1 + peer.index, ==, 1);
          else
            g_assert_false (ps_event_is_set (event));
          passed++;
          continue;
        }
      g_assert_error (async.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&async.error);
      if (barrier)
        {
          g_assert_error (peer.error, PS_ERROR, PS_ERROR_BROKEN);
          g_clear_error (&peer.error);
          g_assert_true (ps_barrier_reset (pair, NULL));
        }
      else
        {
          /* The set was not lost: it is still the event's. */
          g_assert_true (ps_event_is_set (event));
          ps_event_reset (event);
        }
      cancelled++;
    }
  g_test_message ("%u passed, %u cancelled", passed, cancelled);
  g_assert_cmpuint (passed + cancelled, ==, n);
}
