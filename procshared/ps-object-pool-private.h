/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * Anonymous objects, shared over fork(), live in slots of
 * PS_OBJECT_SLOT_SIZE bytes carved out of shared anonymous chunks, so
 * that hundreds of them cost a handful of mappings and no descriptor.
 */

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PsPoolChunk PsPoolChunk;

/* A zero-filled slot, and the chunk to give it back to. */
gpointer ps_object_pool_take      (PsPoolChunk **out_chunk,
                                   GError      **error);
void     ps_object_pool_give_back (PsPoolChunk  *chunk,
                                   gpointer      slot);

G_END_DECLS
