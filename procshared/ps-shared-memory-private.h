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

G_END_DECLS
