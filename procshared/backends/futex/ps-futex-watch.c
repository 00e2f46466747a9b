/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The futex backend (Linux): watching many words with few threads, for
 * the async waits (ps-async-watch.c).
 *
 * A waiter thread sleeps in futex_waitv(2) on up to 128 words: its
 * private control word first, then the words of up to 127 watches. A
 * watch added or removed changes the control word of the one thread that
 * has it and wakes that thread alone, which sleeps again on its new set;
 * no other thread, and no other wait, is disturbed. When the kernel wakes
 * a watched word (a release, an unlock, a signal), the thread takes that
 * watch out of its set and calls its ready function, so that the wait goes
 * on in its own main context (without a lock: a push on a list and a
 * wake-up of the context). Timeouts and cancellation never reach
 * these threads: they are the GSource's ready time and the cancellable's
 * handler. Nothing here polls: an idle process with pending watches has
 * its waiter threads asleep in the kernel.
 *
 * A watch that does not wake all (a count, a lock) is made ready alone:
 * when the kernel woke it, or when its word was found changed as the
 * thread went back to sleep. Until the wait has tried (ps_watch_done()),
 * the other such watches of that word in that thread are held out of its
 * set: the change is the ready one's to take, and putting them back to
 * sleep on a word that still differs would make them all ready, a herd
 * of tries of which all but one lose (and add their watches again). If
 * the try leaves the word changed, the next one is made ready then.
 *
 * Threads are made as watches need room (10,000 watches take 79) and
 * stay, asleep on their control word, for later watches. A child of
 * fork() has none of them: it starts afresh with the first watch it adds.
 */

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ps-backend-private.h"
#include "ps-futex-wait.h"

/* futex_waitv(2) takes at most 128 words: the control word and these. */
#define WATCHES_PER_WAITER 127
/* A hold whose wait never says it tried (its main context is gone) ends
 * after this long. */
#define HOLD_LIMIT_NS      (50 * G_GINT64_CONSTANT (1000000))

/* A wake-one watch made ready, its word held out until it has tried. */
typedef struct
{
  PsWatch       *watch;     /* only compared: it may be gone */
  const guint32 *address;
} Hold;

typedef struct _Waiter Waiter;
struct _Waiter
{
  guint32  control;     /* private futex: changed with every change to slots */
  guint    n_watches;
  PsWatch *slots[WATCHES_PER_WAITER];
  guint    n_holds;
  Hold     holds[WATCHES_PER_WAITER];
  Waiter  *next;
};

/* Everything above, for every waiter of this process. A leaf lock
 * (nothing else is locked while it is held: PsWatch.ready takes no
 * lock), taken before fork() and given back in both processes. */
static GMutex  waiters_lock;
static Waiter *waiters;
static Waiter *roomiest;   /* a hint: the waiter that last had room */

static long
futex_waitv (struct futex_waitv    *words,
             guint                  n,
             const struct timespec *limit)
{
  return syscall (SYS_futex_waitv, words, n, 0, limit, CLOCK_MONOTONIC);
}

static void
waiters_prepare_fork (void)
{
  g_mutex_lock (&waiters_lock);
}

static void
waiters_after_fork_in_parent (void)
{
  g_mutex_unlock (&waiters_lock);
}

static void
waiters_after_fork_in_child (void)
{
  /* The threads are the parent's: the child has none, and the watches
   * they held are the parent's waits (ps-async-watch.c drops them). The
   * memory is left as it is. */
  waiters = NULL;
  roomiest = NULL;
  g_mutex_unlock (&waiters_lock);
}

static gboolean
waitv_supported (void)
{
  static gsize present;

  if (g_once_init_enter (&present))
    {
      /* No words at all: EINVAL where the call exists. Kernels before
       * 5.16 (and valgrind) lack it, and the async waits poll there. */
      gboolean missing = futex_waitv (NULL, 0, NULL) < 0 && errno == ENOSYS;

      if (!missing)
        pthread_atfork (waiters_prepare_fork, waiters_after_fork_in_parent,
                        waiters_after_fork_in_child);
      g_once_init_leave (&present, missing ? 1 : 2);
    }
  return present == 2;
}

/* Whether @watch is a wake-one watch of a word held; with waiters_lock
 * held. */
static gboolean
is_held_out (Waiter  *waiter,
             PsWatch *watch)
{
  if (watch->wake_all)
    return FALSE;
  for (guint i = 0; i < waiter->n_holds; i++)
    if (waiter->holds[i].address == watch->address)
      return TRUE;
  return FALSE;
}

/* With waiters_lock held. */
static void
hold (Waiter  *waiter,
      PsWatch *watch)
{
  /* Without room, no hold: a herd at worst, never a lost wake-up. */
  if (waiter->n_holds == WATCHES_PER_WAITER)
    return;
  waiter->holds[waiter->n_holds++] = (Hold) { watch, watch->address };
  watch->holder = waiter;
}

/* Takes @watch out of its waiter's set; with waiters_lock held. */
static void
take_out (Waiter  *waiter,
          PsWatch *watch)
{
  waiter->slots[watch->slot] = NULL;
  waiter->n_watches--;
  watch->waiter = NULL;
  if (roomiest == NULL || roomiest->n_watches == WATCHES_PER_WAITER)
    roomiest = waiter;
}

/* Which watches a return of futex_waitv() makes ready: the one the
 * kernel woke (@woken, NULL if none), and every other one whose word no
 * longer holds its value, but one at most per word for the wake-one
 * watches, and none of a word held. With waiters_lock held. */
static void
take_ready (Waiter  *waiter,
            PsWatch *woken)
{
  for (guint i = 0; i < WATCHES_PER_WAITER; i++)
    {
      PsWatch *watch = waiter->slots[i];
      gboolean is_ready;

      if (watch == NULL)
        continue;
      if (watch == woken)
        is_ready = TRUE;
      else if (is_held_out (waiter, watch) ||
               (woken != NULL && !watch->wake_all && watch->address == woken->address))
        is_ready = FALSE;
      else
        is_ready = __atomic_load_n (watch->address, __ATOMIC_RELAXED) != watch->expected;
      if (is_ready)
        {
          take_out (waiter, watch);
          if (!watch->wake_all)
            hold (waiter, watch);
          watch->ready (watch);
        }
    }
}

static gpointer
waiter_run (gpointer data)
{
  Waiter *waiter = data;
  struct futex_waitv words[WATCHES_PER_WAITER + 1];
  PsWatch *watched[WATCHES_PER_WAITER + 1];

  for (;;)
    {
      PsWatch *woken = NULL;
      struct timespec limit;
      gboolean holding;
      guint n = 0;
      long r;

      g_mutex_lock (&waiters_lock);
      words[n] = (struct futex_waitv) {
        .val = waiter->control, .uaddr = (uintptr_t) &waiter->control,
        .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG,
      };
      watched[n++] = NULL;
      for (guint i = 0; i < WATCHES_PER_WAITER; i++)
        {
          PsWatch *watch = waiter->slots[i];

          if (watch == NULL || is_held_out (waiter, watch))
            continue;
          words[n] = (struct futex_waitv) {
            .val = watch->expected, .uaddr = (uintptr_t) watch->address, .flags = FUTEX_32,
          };
          watched[n++] = watch;
        }
      holding = waiter->n_holds > 0;
      g_mutex_unlock (&waiters_lock);

      if (holding)
        {
          clock_gettime (CLOCK_MONOTONIC, &limit);
          limit.tv_sec += (limit.tv_nsec + HOLD_LIMIT_NS) / 1000000000;
          limit.tv_nsec = (limit.tv_nsec + HOLD_LIMIT_NS) % 1000000000;
        }
      r = futex_waitv (words, n, holding ? &limit : NULL);
      if (r < 0 && errno == ETIMEDOUT)
        {
          /* The watches keep their holder: ps_watch_done() finds them
           * gone. */
          g_mutex_lock (&waiters_lock);
          waiter->n_holds = 0;
          g_mutex_unlock (&waiters_lock);
          continue;
        }
      if (r == 0 || (r < 0 && errno != EAGAIN))
        continue;   /* the control word (the set changed), or EINTR */

      g_mutex_lock (&waiters_lock);
      /* Still in the set, unless removed meanwhile (its wait has moved
       * on, and its memory may be gone: only compared, never read). */
      for (guint i = 0; r > 0 && woken == NULL && i < WATCHES_PER_WAITER; i++)
        if (waiter->slots[i] == watched[r])
          woken = waiter->slots[i];
      take_ready (waiter, woken);
      g_mutex_unlock (&waiters_lock);
    }
  return NULL;
}

gboolean
ps_watch_add (PsWatch *watch)
{
  Waiter *waiter;
  gboolean new_waiter = FALSE;

  if (!waitv_supported ())
    return FALSE;

  g_mutex_lock (&waiters_lock);
  waiter = roomiest;
  if (waiter == NULL || waiter->n_watches == WATCHES_PER_WAITER)
    for (waiter = waiters; waiter != NULL; waiter = waiter->next)
      if (waiter->n_watches < WATCHES_PER_WAITER)
        break;
  if (waiter == NULL)
    {
      waiter = g_new0 (Waiter, 1);
      waiter->next = waiters;
      waiters = waiter;
      new_waiter = TRUE;
    }
  roomiest = waiter;

  for (guint i = 0; i < WATCHES_PER_WAITER; i++)
    if (waiter->slots[i] == NULL)
      {
        waiter->slots[i] = watch;
        watch->slot = i;
        break;
      }
  waiter->n_watches++;
  watch->waiter = waiter;
  waiter->control++;
  g_mutex_unlock (&waiters_lock);

  if (new_waiter)
    g_thread_unref (g_thread_new ("ps-async-waiter", waiter_run, waiter));
  else
    ps_futex_wake (&waiter->control, 1, TRUE);
  return TRUE;
}

void
ps_watch_remove (PsWatch *watch)
{
  Waiter *waiter;

  g_mutex_lock (&waiters_lock);
  waiter = watch->waiter;
  if (waiter != NULL)
    {
      take_out (waiter, watch);
      waiter->control++;
    }
  g_mutex_unlock (&waiters_lock);

  /* Only the thread that had it wakes, to sleep again without it. */
  if (waiter != NULL)
    ps_futex_wake (&waiter->control, 1, TRUE);
}

void
ps_watch_done (PsWatch *watch)
{
  Waiter *waiter;
  gboolean watching = FALSE;

  /* Set before the watch was made ready, which is how the caller knows
   * of it: no lock needed to see that it is not held. */
  if (__atomic_load_n (&watch->holder, __ATOMIC_RELAXED) == NULL)
    return;

  g_mutex_lock (&waiters_lock);
  waiter = watch->holder;
  if (waiter != NULL)
    {
      const guint32 *address = NULL;

      for (guint i = 0; i < waiter->n_holds; i++)
        if (waiter->holds[i].watch == watch)
          {
            address = waiter->holds[i].address;
            waiter->holds[i] = waiter->holds[--waiter->n_holds];
            break;
          }
      watch->holder = NULL;
      /* Its word's other watches go back to sleep, or to their try. */
      for (guint i = 0; address != NULL && !watching && i < WATCHES_PER_WAITER; i++)
        watching = waiter->slots[i] != NULL && waiter->slots[i]->address == address;
      if (watching)
        waiter->control++;
    }
  g_mutex_unlock (&waiters_lock);

  if (watching)
    ps_futex_wake (&waiter->control, 1, TRUE);
}

const guint32 *
ps_wait_word_watch_address (PsWaitWord *word)
{
  return &word->value;
}

gboolean
ps_robust_lock_watch (PsRobustLock    *lock,
                      const guint32  **address,
                      guint32         *expected)
{
  guint32 seen = __atomic_load_n (&lock->word, __ATOMIC_RELAXED);

  for (guint races = 0; races < 64; races++)
    {
      if ((seen & FUTEX_TID_MASK) == 0)
        return FALSE;
      /* FUTEX_WAITERS, so that the unlock wakes a sleeper: perhaps us. */
      if ((seen & FUTEX_WAITERS) ||
          __atomic_compare_exchange_n (&lock->word, &seen, seen | FUTEX_WAITERS, FALSE,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        {
          *address = &lock->word;
          *expected = seen | FUTEX_WAITERS;
          return TRUE;
        }
    }
  /* A peer rewriting the word in a loop: watch what is there now. */
  *address = &lock->word;
  *expected = seen;
  return TRUE;
}

void
ps_robust_lock_watch_done (PsRobustLock *lock,
                           gboolean      taken)
{
  guint32 seen = __atomic_load_n (&lock->word, __ATOMIC_RELAXED);

  /* Taken after sleeping, as ps_robust_lock_wait() takes it: others may
   * sleep too, so our unlock must wake the next. Not taken: if an unlock
   * woke us, hand its wake-up on, as ps_robust_lock_wait() does. */
  if (taken)
    __atomic_fetch_or (&lock->word, FUTEX_WAITERS, __ATOMIC_RELAXED);
  else if ((seen & FUTEX_TID_MASK) == 0)
    ps_futex_wake (&lock->word, 1, FALSE);
  else if ((seen & FUTEX_WAITERS) == 0)
    __atomic_compare_exchange_n (&lock->word, &seen, seen | FUTEX_WAITERS, FALSE,
                                 __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}
