/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

#include <glib.h>

G_BEGIN_DECLS

/* How many CPUs the calling thread may run on now (its affinity mask
 * where the platform has one, else the CPUs online); at least 1. A
 * system call: callers keep the answer for a while. */
guint ps_cpus_usable (void);

G_END_DECLS
