/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <pthread.h>
#include <unistd.h>

#include "ps-identity-private.h"

guint32 ps_cached_process_id;
PS_FAST_TLS guint64 ps_cached_thread_id;

static void
forget_identity_in_child (void)
{
  /* The child has one thread, the one that forked, and new ids. */
  __atomic_store_n (&ps_cached_process_id, 0, __ATOMIC_RELAXED);
  ps_cached_thread_id = 0;
}

static void
register_fork_handler (void)
{
  static gsize registered;

  if (g_once_init_enter (&registered))
    {
      pthread_atfork (NULL, NULL, forget_identity_in_child);
      g_once_init_leave (&registered, 1);
    }
}

guint32
ps_self_process_id_slow (void)
{
  guint32 pid;

  register_fork_handler ();
  pid = (guint32) getpid ();
  __atomic_store_n (&ps_cached_process_id, pid, __ATOMIC_RELAXED);
  return pid;
}

guint64
ps_self_thread_id_slow (void)
{
  static guint32 process_nonce;
  static guint32 process_nonce_pid;
  static guint64 next_serial;
  static GMutex lock;
  guint32 pid = ps_self_process_id ();

  /* Never a system thread id, nor pthread_self(): both are reused as soon
   * as a thread exits, and a new thread must never pass for the dead
   * holder of a lock. A serial number is unique for the life of the
   * process; a random nonce, drawn again in each new process, keeps a
   * reused pid from matching the identity a dead process left behind. */
  g_mutex_lock (&lock);
  if (process_nonce_pid != pid)
    {
      process_nonce = g_random_int () | 1;
      process_nonce_pid = pid;
    }
  ps_cached_thread_id = ((guint64) process_nonce << 32) | (++next_serial & G_MAXUINT32);
  g_mutex_unlock (&lock);

  register_fork_handler ();
  return ps_cached_thread_id;
}

