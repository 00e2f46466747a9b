/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

#include "ps-shared-memory.h"

G_BEGIN_DECLS

/* The data of an initialised segment, and its size in @out_size: for the
 * accessors (ps-shared-memory-access.c). NULL, with a warning, before
 * the segment is initialised. */
guint8 *ps_shared_memory_peek (PsSharedMemory *self,
                               gsize          *out_size);

/* FALSE, with PS_ERROR_CORRUPT, once the segment has lost its backing
 * (another process truncated its file, and the SIGBUS guard swapped this
 * process's mapping for private zeros): the accessors check it before and
 * after touching the data, so that no read or write of such a segment
 * ever looks successful. */
gboolean ps_shared_memory_check_backing (PsSharedMemory  *self,
                                         GError         **error);

G_END_DECLS
