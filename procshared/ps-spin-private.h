/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * Whether a wait should poll a few microseconds before it sleeps. Polling
 * pays when the peer that will answer is running on another CPU at that
 * moment; when it cannot be (this thread may use one CPU only) or has not
 * been lately (recent polls of this object ended in sleep anyway), it
 * only burns the CPU the peer needs, so the wait sleeps at once, and
 * tries polling again now and then in case things changed.
 *
 * What is learnt is kept per process, for the object at @address (a few
 * objects may share a record; it is a heuristic, and any answer is
 * correct, only slower).
 */

#include <glib.h>

G_BEGIN_DECLS

gboolean ps_spin_should_poll     (gconstpointer address);
/* The same, knowing that the peer that will answer last ran on
 * @peer_cpu (-1 if unknown): a thread held to one CPU polls too when the
 * peer was on another. */
gboolean ps_spin_should_poll_for (gconstpointer address,
                                  gint          peer_cpu);
void     ps_spin_record          (gconstpointer address,
                                  gboolean      answered);

/* A peer's CPU as it is left in shared memory for ps_spin_should_poll_for():
 * 1 + the calling thread's CPU (0: unknown), and back; any value a peer
 * writes there reads as a CPU number or as unknown. */
guint32  ps_spin_cpu_mark        (void);
static inline gint
ps_spin_cpu_of_mark (guint32 mark)
{
  return (gint) (mark & 0xffff) - 1;
}

G_END_DECLS
