/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * Who is calling: cached per thread (a getpid() or gettid() system call
 * on every lock and unlock would cost more than the lock itself), and
 * refreshed in a child after fork().
 */

#include <glib.h>

G_BEGIN_DECLS

/* initial-exec: a plain %fs-relative load instead of a __tls_get_addr()
 * call on every lock. A few bytes fit easily in the static TLS space the C
 * library reserves for libraries loaded later with dlopen(). */
#define PS_FAST_TLS _Thread_local __attribute__((tls_model ("initial-exec")))

extern guint32 ps_cached_process_id;
extern PS_FAST_TLS guint64 ps_cached_thread_id;

/* The PID namespace this process runs in, as the inode number of
 * /proc/self/ns/pid: PS_PID_NAMESPACE_UNKNOWN where it cannot be read. */
#define PS_PID_NAMESPACE_UNKNOWN 0u

guint32  ps_self_pid_namespace   (void);
guint32  ps_self_process_id_slow (void);
guint64  ps_self_thread_id_slow  (void);
guint64  ps_unique_id            (void);

static inline guint32
ps_self_process_id (void)
{
  guint32 pid = __atomic_load_n (&ps_cached_process_id, __ATOMIC_RELAXED);

  return G_LIKELY (pid != 0) ? pid : ps_self_process_id_slow ();
}

static inline guint64
ps_self_thread_id (void)
{
  guint64 thread_id = ps_cached_thread_id;

  return G_LIKELY (thread_id != 0) ? thread_id : ps_self_thread_id_slow ();
}

G_END_DECLS
