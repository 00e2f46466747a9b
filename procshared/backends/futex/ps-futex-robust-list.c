/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ps-backend-private.h"
#include "ps-futex-robust-list.h"

/* Each thread has one robust list, which glibc registers with the kernel
 * and on which it links its own robust mutexes; ours go on the same list
 * in the same way (see ps-futex-types.h), so that when the thread dies
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

/* The pipe read_word_through_pipe() reads through, and its lock. */
static GMutex pipe_lock;
static int    pipe_fds[2] = { -1, -1 };

static void
prepare_fork (void)
{
  g_mutex_lock (&pipe_lock);
}

static void
after_fork_in_parent (void)
{
  g_mutex_unlock (&pipe_lock);
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

  /* The pipe is the parent's too: words written by one process could be
   * read by the other. The lock, taken by prepare_fork() in this very
   * thread, is the child's to give back. */
  if (pipe_fds[0] >= 0)
    {
      close (pipe_fds[0]);
      close (pipe_fds[1]);
      pipe_fds[0] = pipe_fds[1] = -1;
    }
  g_mutex_unlock (&pipe_lock);
}

static void
futex_threads_init_once (void)
{
  static gsize done;

  if (g_once_init_enter (&done))
    {
      if (pthread_key_create (&futex_thread_key, futex_thread_free) != 0)
        g_error ("procshared: out of thread-specific data keys");
      pthread_atfork (prepare_fork, after_fork_in_parent, forget_thread_in_child);
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

  me->registered = syscall (SYS_get_robust_list, 0, &head, &length) == 0 &&
                   robust_head_usable (head);
  if (!me->registered)
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
  gboolean read_back = FALSE;

  futex_threads_init_once ();   /* the fork handlers */
  g_mutex_lock (&pipe_lock);
  if (pipe_fds[0] >= 0 || pipe2 (pipe_fds, O_CLOEXEC | O_NONBLOCK) == 0)
    read_back = write (pipe_fds[1], address, sizeof *value) == (ssize_t) sizeof *value &&
                read (pipe_fds[0], value, sizeof *value) == (ssize_t) sizeof *value;
  g_mutex_unlock (&pipe_lock);
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
