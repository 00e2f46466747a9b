/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

#include <glib.h>

G_BEGIN_DECLS

/* What the operating system says about the machine, for the layers above
 * that must not ask it themselves. */

/* How many CPUs the calling thread may run on now (its affinity mask
 * where the platform has one, else the CPUs online); at least 1. A
 * system call: callers keep the answer for a while. */
guint   ps_system_cpus_usable (void);

/* How many CPUs the system has online; at least 1. A system call. */
guint   ps_system_cpus_online (void);

/* The CPU the calling thread runs on at this moment, or -1 where the
 * platform does not tell. Cheap: a hint for polling decisions. */
gint    ps_system_current_cpu (void);

/* The RAM and swap of the system, in bytes (G_MAXUINT64 if unknown): no
 * shared memory larger than this can ever exist here. */
guint64 ps_system_memory_size (void);

/* Fills @buffer (at most 256 bytes) from the kernel's random source
 * without blocking and without a lock; FALSE where there is none. */
gboolean ps_system_entropy (gpointer buffer,
                            gsize    size);

G_END_DECLS
