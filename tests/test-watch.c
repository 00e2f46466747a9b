/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The backend's watches under the async waits (ps_watch_add() in
 * procshared/backends/ps-backend-private.h): a word's wake-one watches
 * are made ready one at a time, the others held back until the ready one
 * is done, so that one release does not send a herd of tries through the
 * main context; a hold never outlives its bound, so no wake-up is lost;
 * wake-all watches are all made ready by one change.
 *
 * Only the futex backend watches; elsewhere ps_watch_add() refuses and
 * the async waits poll (tests/test-async.c covers both).
 */

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "ps-test-util.h"
#include "ps-backend-private.h"

#define N_WATCHES 100   /* fewer than one waiter thread takes: one thread */

typedef struct
{
  PsWatch watch;        /* first: the ready function gets it */
  gint    ready;
} TestWatch;

static gint n_ready;

static void
on_ready (PsWatch *watch)
{
  /* On the backend's thread, under its lock: atomics only. */
  g_atomic_int_set (&((TestWatch *) watch)->ready, 1);
  g_atomic_int_inc (&n_ready);
}

/* The word lives in a shared mapping, as the objects' words do. */
static guint32 *
new_word (void)
{
  guint32 *word = mmap (NULL, sizeof *word, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                        -1, 0);

  g_assert_true (word != MAP_FAILED);
  *word = 0;
  return word;
}

static void
wake (guint32 *word,
      gint     n)
{
  syscall (SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}

static TestWatch *
add_watches (guint32  *word,
             guint     n,
             gboolean  wake_all)
{
  TestWatch *watches = g_new0 (TestWatch, n);

  g_atomic_int_set (&n_ready, 0);
  for (guint i = 0; i < n; i++)
    {
      watches[i].watch.ready = on_ready;
      watches[i].watch.address = word;
      watches[i].watch.expected = 0;
      watches[i].watch.wake_all = wake_all;
      g_assert_true (ps_watch_add (&watches[i].watch));
    }
  return watches;
}

static void
remove_watches (TestWatch *watches,
                guint      n)
{
  for (guint i = 0; i < n; i++)
    {
      ps_watch_remove (&watches[i].watch);
      ps_watch_done (&watches[i].watch);
    }
  g_free (watches);
}

/* Waits (bounded) until @n watches are ready, then a while longer, and
 * checks that no more became ready meanwhile. */
static void
assert_n_ready (gint n)
{
  gint64 deadline = g_get_monotonic_time () + ps_test_scaled_us (5 * G_USEC_PER_SEC);

  while (g_atomic_int_get (&n_ready) < n && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpint (g_atomic_int_get (&n_ready), ==, n);
  /* Less than the hold's bound (50 ms): a herd would show by now. */
  g_usleep (20 * 1000);
  g_assert_cmpint (g_atomic_int_get (&n_ready), ==, n);
}

static TestWatch *
the_ready_one (TestWatch *watches,
               guint      n)
{
  TestWatch *found = NULL;

  for (guint i = 0; i < n; i++)
    if (g_atomic_int_get (&watches[i].ready) && found == NULL)
      {
        found = &watches[i];
        g_atomic_int_set (&found->ready, 0);
      }
  g_assert_nonnull (found);
  return found;
}

static gboolean
watches_supported (void)
{
  guint32 word = 0;
  TestWatch probe = { { on_ready, &word, 1, FALSE, NULL, 0, NULL }, 0 };

  if (!ps_watch_add (&probe.watch))
    {
      g_test_skip ("this backend (or kernel) has no watches: async waits poll");
      return FALSE;
    }
  /* The word differs from what it expects: made ready at once. */
  while (!g_atomic_int_get (&probe.ready))
    g_usleep (1000);
  ps_watch_remove (&probe.watch);
  ps_watch_done (&probe.watch);
  return TRUE;
}

static void
test_one_release_one_ready (void)
{
  guint32 *word;
  TestWatch *watches, *first, *second;
  TestWatch extra = { { on_ready, NULL, 0, FALSE, NULL, 0, NULL }, 0 };

  if (!watches_supported ())
    return;
  word = new_word ();
  watches = add_watches (word, N_WATCHES, FALSE);

  /* A release: the word changes, one sleeper is woken. */
  __atomic_store_n (word, 1, __ATOMIC_SEQ_CST);
  wake (word, 1);
  assert_n_ready (1);
  first = the_ready_one (watches, N_WATCHES);

  /* The waiter thread sleeps again on a new set (a watch added): the
   * others, whose word still differs, are held, not made ready. */
  extra.watch.address = new_word ();
  g_assert_true (ps_watch_add (&extra.watch));
  assert_n_ready (1);

  /* The ready one tried and left the word changed (a second unit): the
   * next one is made ready, one only. */
  ps_watch_done (&first->watch);
  assert_n_ready (2);
  second = the_ready_one (watches, N_WATCHES);
  g_assert_true (second != first);

  /* This one took the last unit: the others sleep on. */
  __atomic_store_n (word, 0, __ATOMIC_SEQ_CST);
  ps_watch_done (&second->watch);
  assert_n_ready (2);

  ps_watch_remove (&extra.watch);
  munmap ((gpointer) extra.watch.address, sizeof (guint32));
  remove_watches (watches, N_WATCHES);
  munmap (word, sizeof *word);
}

static void
test_hold_is_bounded (void)
{
  gint64 deadline;
  guint32 *word;
  TestWatch *watches;

  if (!watches_supported ())
    return;
  word = new_word ();
  watches = add_watches (word, 10, FALSE);

  __atomic_store_n (word, 1, __ATOMIC_SEQ_CST);
  wake (word, 1);
  deadline = g_get_monotonic_time () + ps_test_scaled_us (5 * G_USEC_PER_SEC);
  while (g_atomic_int_get (&n_ready) < 1 && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpint (g_atomic_int_get (&n_ready), ==, 1);

  /* Never said done (its main context went away): after the hold's
   * bound, the word, still changed, makes the next one ready. */
  while (g_atomic_int_get (&n_ready) < 2 && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpint (g_atomic_int_get (&n_ready), >=, 2);

  remove_watches (watches, 10);
  munmap (word, sizeof *word);
}

static void
test_wake_all_not_held (void)
{
  guint32 *word;
  TestWatch *watches;

  if (!watches_supported ())
    return;
  word = new_word ();
  watches = add_watches (word, N_WATCHES, TRUE);

  /* A condition's broadcast: every watcher must look. */
  __atomic_store_n (word, 1, __ATOMIC_SEQ_CST);
  wake (word, G_MAXINT);
  assert_n_ready (N_WATCHES);

  remove_watches (watches, N_WATCHES);
  munmap (word, sizeof *word);
}

int
main (int   argc,
      char *argv[])
{
  ps_test_init (&argc, &argv, NULL);
  ps_test_add ("/watch/one-release-one-ready", test_one_release_one_ready);
  ps_test_add ("/watch/hold-is-bounded", test_hold_is_bounded);
  ps_test_add ("/watch/wake-all-not-held", test_wake_all_not_held);
  return g_test_run ();
}
