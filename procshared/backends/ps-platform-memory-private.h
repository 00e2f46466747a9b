/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

#include <glib.h>

G_BEGIN_DECLS

/* Large private buffers of this process (the memory big values are read
 * into), mapped from the system rather than taken from malloc().
 *
 * A fresh 4 KiB page costs a fault, more than copying into it, and
 * glibc's malloc() maps anything above 32 MiB afresh on every call:
 * reading 64 MiB into it took 16,384 faults. A mapping of its own is
 * aligned to, and asks for, transparent huge pages where the system has
 * them (Linux: MADV_HUGEPAGE, 32 faults for 64 MiB), is populated in one
 * call where the system can (MADV_POPULATE_WRITE), and is handed back
 * whole (munmap of 32 huge pages instead of 16,384 small ones). */

/* The size from which ps_platform_memory_map() is worth it: one huge
 * page of the platform (2 MiB where it has none, which only means fewer
 * mappings). */
gsize    ps_platform_memory_large_size (void);

/* @size bytes (> 0) of zeroed, private, read-write memory, page-aligned;
 * NULL if the system refuses the mapping. */
gpointer ps_platform_memory_map        (gsize    size);

/* Lets the system take back the whole pages inside [@memory, @memory +
 * @size) of a ps_platform_memory_map() buffer when it runs short of
 * memory, and leaves them in place while it does not, so that the next
 * write to them takes no fault (Linux: MADV_FREE). Their contents are
 * undefined from then on. Where the system has no such advice, nothing. */
void     ps_platform_memory_discard    (gpointer memory,
                                        gsize    size);

/* Gives back @memory, @size bytes from ps_platform_memory_map(). */
void     ps_platform_memory_unmap      (gpointer memory,
                                        gsize    size);

G_END_DECLS
