/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The futex backend (Linux).
 *
 * Waits use futex_waitv(2) on two words at once: the shared word, and a
 * private word in the waiter's PsCanceller. Cancelling therefore wakes the
 * waiter through the kernel, with no window between "checked for
 * cancellation" and "went to sleep".
 *
 * Ownership is a robust lock of our own over the kernel's robust futex
 * ABI: a word holding the holder's TID, FUTEX_WAITERS and
 * FUTEX_OWNER_DIED, and an entry on the holder thread's robust list, the
 * list glibc registers with the kernel for its own robust mutexes. When
 * the holder dies, the kernel marks the word FUTEX_OWNER_DIED and wakes a
 * waiter. Being ours rather than pthread_mutex_lock()'s, the lock path
 * costs little more than a compare-and-swap, its waits can be cancelled,
 * and the list links, which live in shared memory, are checked against
 * what we privately know before we write through them.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>

#include "ps-backend-private.h"

#define FALLBACK_SLICE_US 2000
#define LOST_WAKE_GUARD_US (50 * 1000)

static gboolean futex_waitv_missing;

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

/* Each thread has one robust list, which glibc registers with the kernel
 * and on which it links its own robust mutexes; ours go on the same list
 * in the same way (see ps-backend-types.h), so that when the thread dies
 * the kernel marks every lock it held FUTEX_OWNER_DIED and wakes a
 * waiter. The list is the thread's own: only the thread itself (and the
 * kernel, once it has died) touches it, so no atomics are needed. */

_Thread_local __attribute__((tls_model ("initial-exec"))) PsFutexThread *ps_futex_thread;

static pthread_key_t futex_thread_key;

/* Where the list head lives when the C library registered none we can
 * use: a private one the kernel never sees. Locks still work, but a
 * holder's death is not noticed; a warning says so. */
typedef struct
{
  PsFutexThread thread;
  gpointer      prev;                 /* glibc's robust_prev */
  struct robust_list_head head;
} PsFutexThreadWithHead;

static void
futex_thread_free (gpointer data)
{
  /* Thread exit: a later destructor that locks gets a fresh record. */
  ps_futex_thread = NULL;
  g_free (data);
}

static void
forget_thread_in_child (void)
{
  /* The child's thread has another TID, and glibc gave it an empty
   * robust list: the parent's locks are not the child's. (A child made by
   * _Fork() or a raw clone() runs no fork handlers: like glibc's own
   * caches, ours would then be stale, so such a child must exec or exit
   * without using procshared, as POSIX asks of it anyway.) */
  if (ps_futex_thread != NULL)
    {
      ps_futex_thread->tid = 0;
      ps_futex_thread->n_links = 0;
    }
  ps_futex_thread = NULL;
}

static void
futex_threads_init_once (void)
{
  static gsize done;

  if (g_once_init_enter (&done))
    {
      if (pthread_key_create (&futex_thread_key, futex_thread_free) != 0)
        g_error ("procshared: out of thread-specific data keys");
      pthread_atfork (NULL, NULL, forget_thread_in_child);
      g_once_init_leave (&done, 1);
    }
}

static gboolean
robust_head_usable (struct robust_list_head *head)
{
  return head != NULL &&
         head->futex_offset == (long) offsetof (PsRobustLock, word) -
                               (long) offsetof (PsRobustLock, list_next);
}

PsFutexThread *
ps_futex_thread_slow (void)
{
  PsFutexThreadWithHead *record;
  PsFutexThread *me;
  struct robust_list_head *head = NULL;
  size_t length = 0;

  futex_threads_init_once ();
  record = pthread_getspecific (futex_thread_key);
  if (record == NULL)
    {
      record = g_new0 (PsFutexThreadWithHead, 1);
      pthread_setspecific (futex_thread_key, record);
    }
  me = &record->thread;

  if (syscall (SYS_get_robust_list, 0, &head, &length) != 0 || !robust_head_usable (head))
    {
      static gsize warned;

      if (g_once_init_enter (&warned))
        {
          g_warning ("procshared: the C library registered no usable robust futex list; "
                     "a PsMutex whose holder dies will not be released");
          g_once_init_leave (&warned, 1);
        }
      head = &record->head;
      head->list.next = (struct robust_list *) head;
      record->prev = head;
    }
  me->tid = (guint32) gettid ();
  me->head = head;
  me->pending = (gpointer *) &head->list_op_pending;
  ps_futex_thread = me;
  return me;
}

static PsFutexLink *
find_link (PsFutexThread *me,
           gpointer       node)
{
  for (guint i = me->n_links; i > 0; i--)
    if (me->links[i - 1].node == node)
      return &me->links[i - 1];
  return NULL;
}

void
ps_futex_link_slow (PsFutexThread *me,
                    gpointer       node,
                    gpointer       first)
{
  PsFutexLink *next = find_link (me, first);

  /* Linked already by the inline path; only our records are left. */
  if (next != NULL)
    next->prev = node;
  if (me->n_links < PS_FUTEX_TRACKED_LOCKS)
    me->links[me->n_links++] = (PsFutexLink) { node, me->head, first };
  /* Beyond that many locks held at once, the rest are checked like
   * glibc's entries when they are unlinked. */
}

/* Reads a word through a pipe, which fails with EFAULT rather than a
 * signal: for when process_vm_readv() is refused (seccomp sandboxes) or
 * missing (kernels without CONFIG_CROSS_MEMORY_ATTACH). */
static gboolean
read_word_through_pipe (gpointer  address,
                        gpointer *value)
{
  static GMutex lock;
  static int fds[2] = { -1, -1 };
  gboolean read_back = FALSE;

  g_mutex_lock (&lock);
  if (fds[0] >= 0 || pipe2 (fds, O_CLOEXEC | O_NONBLOCK) == 0)
    read_back = write (fds[1], address, sizeof *value) == (ssize_t) sizeof *value &&
                read (fds[0], value, sizeof *value) == (ssize_t) sizeof *value;
  g_mutex_unlock (&lock);
  return read_back;
}

/* Reads a word of our own address space that may not be mapped, without
 * a signal: a link read from shared memory can point anywhere. */
static gboolean
read_word_safely (gpointer  address,
                  gpointer *value)
{
  struct iovec local = { value, sizeof *value };
  struct iovec remote = { address, sizeof *value };
  ssize_t copied;

  if ((guintptr) address % sizeof (gpointer) != 0)
    return FALSE;
  copied = process_vm_readv (getpid (), &local, 1, &remote, 1, 0);
  if (copied < 0 && (errno == EPERM || errno == ENOSYS))
    return read_word_through_pipe (address, value);
  return copied == (ssize_t) sizeof *value;
}

/* Whether @other is truly the entry before @node (its next link points at
 * @node), or after it (its prev link does). The head is private memory;
 * our own entries are mapped for as long as we hold them, so their links
 * can be read directly (our record of them may be stale if glibc
 * unlinked a mutex of its own beside them); anything else, glibc's
 * mutexes or a value a peer wrote, is read with care. */
static gboolean
is_neighbour (PsFutexThread *me,
              gpointer       other,
              gpointer       node,
              gboolean       before)
{
  gpointer *back_link;
  gpointer back;

  /* A prev link is never tagged; a next link may be (see
   * ps_futex_untag()). */
  if (other == NULL || ps_futex_untag (other) == node || (before && other != ps_futex_untag (other)))
    return FALSE;
  back_link = before ? (gpointer *) other : ps_futex_prev_slot (other);
  if (other == me->head || find_link (me, other) != NULL)
    back = *back_link;
  else if (!read_word_safely (back_link, &back))
    return FALSE;
  return back == node;
}

gboolean
ps_futex_unlink_slow (PsFutexThread *me,
                      PsRobustLock  *lock)
{
  gpointer node = &lock->list_next;
  PsFutexLink *link = find_link (me, node);
  gpointer shared_prev = lock->list_prev;
  gpointer shared_next = lock->list_next;
  gpointer prev = NULL, next = NULL;
  PsFutexLink *other;

  /* The links we expect win when they check out: a peer may have written
   * the shared ones. The shared ones win when ours are stale, which
   * happens when glibc linked or unlinked one of its own mutexes next to
   * ours, or we held too many to track. */
  if (link != NULL && is_neighbour (me, link->prev, node, TRUE))
    prev = link->prev;
  else if (is_neighbour (me, shared_prev, node, TRUE))
    prev = shared_prev;
  if (link != NULL && is_neighbour (me, link->next, node, FALSE))
    next = link->next;
  else if (is_neighbour (me, shared_next, node, FALSE))
    next = shared_next;

  if (link != NULL)
    {
      *link = me->links[--me->n_links];   /* order does not matter to the lookups */
    }

  /* Left linked, and so left held (see ps_futex_unlock_slow()). */
  if (prev == NULL || next == NULL)
    return FALSE;

  *(gpointer *) prev = next;   /* keeping next's tag, as glibc does */
  *ps_futex_prev_slot (next) = prev;
  if ((other = find_link (me, prev)) != NULL)
    other->next = next;
  if ((other = find_link (me, next)) != NULL)
    other->prev = prev;
  __asm__ __volatile__ ("" ::: "memory");
  lock->list_prev = lock->list_next = NULL;
  return TRUE;
}

/* How many times a word that keeps changing under a compare-and-swap is
 * tried before the lock is called busy: only a peer writing the word in
 * a loop gets there. */
#define MAX_WORD_RACES 1000

PsLockStatus
ps_futex_try_slow (PsFutexThread *me,
                   PsRobustLock  *lock,
                   guint32        seen)
{
  PsLockStatus status = PS_LOCK_BUSY;

  for (guint races = 0; races < MAX_WORD_RACES; races++)
    {
      guint32 holder = seen & FUTEX_TID_MASK;

      if (holder == me->tid)
        {
          /* PsMutex counts relocks itself, and never asks for one. */
          status = PS_LOCK_WOULD_DEADLOCK;
          break;
        }
      if (holder != 0)
        break;
      /* Free, perhaps left by a holder who died (FUTEX_OWNER_DIED); keep
       * FUTEX_WAITERS so that our unlock wakes whoever sleeps. */
      if (__atomic_compare_exchange_n (&lock->word, &seen, me->tid | (seen & FUTEX_WAITERS),
                                       FALSE, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        {
          ps_futex_link (me, lock);
          status = (seen & FUTEX_OWNER_DIED) ? PS_LOCK_OWNER_DIED : PS_LOCK_ACQUIRED;
          break;
        }
    }
  ps_futex_set_pending (me, NULL);
  return status;
}

PsLockStatus
ps_futex_unlock_slow (PsFutexThread *me,
                      PsRobustLock  *lock,
                      gboolean       unlinked)
{
  guint32 seen = __atomic_load_n (&lock->word, __ATOMIC_RELAXED);
  PsLockStatus status = PS_LOCK_CORRUPT;

  /* An entry we could not take off our list stays held: freed, it could
   * be taken and relinked by another thread while still on ours. The
   * kernel marks it FUTEX_OWNER_DIED when this thread ends; meanwhile
   * PsMutex reports it corrupt and keeps its memory mapped. */
  if (!unlinked)
    {
      ps_futex_set_pending (me, NULL);
      return PS_LOCK_CORRUPT;
    }

  for (guint races = 0; races < MAX_WORD_RACES; races++)
    {
      if ((seen & FUTEX_TID_MASK) != me->tid)
        break;   /* a peer rewrote the word: it is no longer ours to free */
      if (__atomic_compare_exchange_n (&lock->word, &seen, 0, FALSE,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        {
          if (seen & FUTEX_WAITERS)
            futex_wake (&lock->word, 1, FALSE);
          status = PS_LOCK_ACQUIRED;
          break;
        }
    }
  ps_futex_set_pending (me, NULL);
  return status;
}

gboolean
ps_robust_lock_check (PsRobustLock *lock,
                      gboolean      recursive)
{
  return __atomic_load_n (&lock->kind, __ATOMIC_RELAXED) == (PS_FUTEX_LOCK_KIND | (recursive ? 1 : 0));
}

gboolean
ps_robust_lock_init (PsRobustLock *lock,
                     gboolean      recursive,
                     GError      **error)
{
  ps_futex_self ();
  memset (lock, 0, sizeof *lock);
  lock->kind = PS_FUTEX_LOCK_KIND | (recursive ? 1 : 0);
  return TRUE;
}

PsLockStatus
ps_robust_lock_wait (PsRobustLock *lock,
                     gint64        deadline,
                     PsCanceller  *canceller)
{
  PsFutexThread *me = ps_futex_self ();
  gboolean slept = FALSE;
  guint races = 0;

  /* Announced for the whole wait: if this thread is killed after an
   * unlock woke it and before it took the lock, the kernel finds the
   * word free and wakes another waiter in its place. */
  ps_futex_set_pending (me, &lock->list_next);

  for (;;)
    {
      guint32 seen = __atomic_load_n (&lock->word, __ATOMIC_RELAXED);
      guint32 holder = seen & FUTEX_TID_MASK;
      PsWaitStatus wait_status;
      gint64 sleep_until;

      if (holder == 0 || holder == me->tid)
        {
          guint32 taken;

          if (holder == me->tid)
            return ps_futex_try_slow (me, lock, seen);
          /* Once we have slept, others may sleep too: take it with
           * FUTEX_WAITERS so that our unlock wakes the next one. */
          taken = me->tid | (slept ? FUTEX_WAITERS : (seen & FUTEX_WAITERS));
          if (__atomic_compare_exchange_n (&lock->word, &seen, taken, FALSE,
                                           __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            {
              ps_futex_link (me, lock);
              ps_futex_set_pending (me, NULL);
              return (seen & FUTEX_OWNER_DIED) ? PS_LOCK_OWNER_DIED : PS_LOCK_ACQUIRED;
            }
          /* Lost a race. Only a peer rewriting the word in a loop makes
           * that endless; the deadline still holds then. */
          if (++races % 64 == 0 && deadline >= 0 && g_get_monotonic_time () >= deadline)
            {
              ps_futex_set_pending (me, NULL);
              return PS_LOCK_TIMED_OUT;
            }
          continue;
        }

      if ((seen & FUTEX_WAITERS) == 0)
        {
          if (!__atomic_compare_exchange_n (&lock->word, &seen, seen | FUTEX_WAITERS, FALSE,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            continue;
          seen |= FUTEX_WAITERS;
        }

      /* A safety net, not the way we are normally woken. An unlock or the
       * kernel wakes one sleeper; if that one is killed before it takes
       * the lock and another thread took it meanwhile without
       * FUTEX_WAITERS, nobody is left to wake the rest: they look again
       * after LOST_WAKE_GUARD_US. */
      sleep_until = g_get_monotonic_time () + LOST_WAKE_GUARD_US;
      if (deadline >= 0 && deadline < sleep_until)
        sleep_until = deadline;

      wait_status = futex_wait_until (&lock->word, seen, sleep_until, canceller);
      slept = TRUE;

      if (wait_status == PS_WAIT_TIMED_OUT && sleep_until != deadline)
        continue;

      if (wait_status != PS_WAIT_WOKEN)
        {
          guint32 now_seen = __atomic_load_n (&lock->word, __ATOMIC_RELAXED);

          ps_futex_set_pending (me, NULL);
          /* A release or an owner death wakes one waiter only, and the
           * kernel reports a cancellation even when that wake-up came
           * with it: if it was ours, hand it on. A free lock gets a wake;
           * one another thread took meanwhile, perhaps without
           * FUTEX_WAITERS, gets that bit, so its unlock wakes the rest. */
          if ((now_seen & FUTEX_TID_MASK) == 0)
            futex_wake (&lock->word, 1, FALSE);
          else if ((now_seen & FUTEX_WAITERS) == 0)
            __atomic_compare_exchange_n (&lock->word, &now_seen, now_seen | FUTEX_WAITERS, FALSE,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED);
          return wait_status == PS_WAIT_CANCELLED ? PS_LOCK_CANCELLED : PS_LOCK_TIMED_OUT;
        }
    }
}

void
ps_robust_lock_make_consistent (PsRobustLock *lock)
{
  /* FUTEX_OWNER_DIED goes when the word is taken; PsMutex keeps the
   * consistency state itself. */
}

const char *
ps_backend_name (void)
{
  return "futex";
}
