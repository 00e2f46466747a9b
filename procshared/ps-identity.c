/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps-identity-private.h"
#include "ps-system-private.h"

guint32 ps_cached_process_id;
PS_FAST_TLS guint64 ps_cached_thread_id;

/* Never an inode number of procfs, whose namespace inodes all lie near
 * the top of the 32-bit range. */
#define PID_NAMESPACE_NOT_LOOKED_UP 1u

static guint32 cached_pid_namespace = PID_NAMESPACE_NOT_LOOKED_UP;

static void
forget_identity_in_child (void)
{
  /* The child has one thread, the one that forked, and new ids; and,
   * forked after unshare(CLONE_NEWPID), another PID namespace. */
  __atomic_store_n (&ps_cached_process_id, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&cached_pid_namespace, PID_NAMESPACE_NOT_LOOKED_UP, __ATOMIC_RELAXED);
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

/* A random number for this process, without a lock (g_random_int()
 * takes GLib's, which another thread of a parent may hold at fork()). */
static guint32
draw_nonce (guint32 pid)
{
  guint64 mixed = ((guint64) pid << 32) ^ (guint64) g_get_real_time () ^
                  ((guint64) g_get_monotonic_time () << 20);
  guint32 entropy = 0;

  if (ps_system_entropy (&entropy, sizeof entropy))
    return entropy | 1;
  /* splitmix64's finaliser over what differs between processes. */
  mixed = (mixed ^ (mixed >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  mixed = (mixed ^ (mixed >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  entropy = (guint32) (mixed ^ (mixed >> 31));
  return entropy | 1;
}

/* A number no other call of any process gives while this one lives:
 * this process's random nonce and a serial number. No lock: one that a
 * thread of the parent held at fork() time would stay held in the child
 * for ever. */
guint64
ps_unique_id (void)
{
  /* The process's nonce with the pid it was drawn for, in one word. */
  static guint64 process_nonce;
  static guint64 next_serial;
  guint32 pid = ps_self_process_id ();
  guint64 nonce = __atomic_load_n (&process_nonce, __ATOMIC_ACQUIRE);
  guint64 serial;

  while ((guint32) (nonce >> 32) != pid)
    {
      guint64 mine = ((guint64) pid << 32) | draw_nonce (pid);

      if (__atomic_compare_exchange_n (&process_nonce, &nonce, mine, FALSE,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        nonce = mine;
    }
  serial = __atomic_add_fetch (&next_serial, 1, __ATOMIC_RELAXED);
  return ((nonce & G_MAXUINT32) << 32) | (serial & G_MAXUINT32);
}

guint64
ps_self_thread_id_slow (void)
{
  /* Never a system thread id, nor pthread_self(): both are reused as soon
   * as a thread exits, and a new thread must never pass for the dead
   * holder of a lock. A serial number is unique for the life of the
   * process; a random nonce, drawn again in each new process, keeps a
   * reused pid from matching the identity a dead process left behind. */
  ps_cached_thread_id = ps_unique_id ();
  register_fork_handler ();
  return ps_cached_thread_id;
}

/* The inode number of the PID namespace, which the kernel keeps in 32
 * bits (and never makes 0). /proc/self resolves to this process in any
 * procfs mounted from its own PID namespace or an ancestor of it; in any
 * other (or none, or a system without PID namespaces) the answer is
 * unknown. */
guint32
ps_self_pid_namespace (void)
{
  guint32 ns = __atomic_load_n (&cached_pid_namespace, __ATOMIC_RELAXED);
  struct stat st;

  if (G_LIKELY (ns != PID_NAMESPACE_NOT_LOOKED_UP))
    return ns;
  register_fork_handler ();
  if (stat ("/proc/self/ns/pid", &st) == 0 && st.st_ino > PID_NAMESPACE_NOT_LOOKED_UP &&
      st.st_ino <= G_MAXUINT32)
    ns = (guint32) st.st_ino;
  else
    ns = PS_PID_NAMESPACE_UNKNOWN;
  __atomic_store_n (&cached_pid_namespace, ns, __ATOMIC_RELAXED);
  return ns;
}
