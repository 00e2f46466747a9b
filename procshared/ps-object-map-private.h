/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * Mapping an object's memory: a named POSIX shared-memory object, created
 * race-free (its memory reserved, so that a full /dev/shm fails the
 * creation, G_IO_ERROR_NO_SPACE, rather than a later write) or opened once
 * its creator has published it, and guarded so that another process
 * truncating it cannot kill us with SIGBUS; or plain shared anonymous
 * memory. Out of memory is G_IO_ERROR_NO_SPACE, a size that can never
 * work G_IO_ERROR_INVALID_ARGUMENT.
 */

#include <gio/gio.h>

#include "ps-names.h"
#include "ps-object-header-private.h"

G_BEGIN_DECLS

/* Fills in a new object's state (after the header) before it is
 * published; never called for an object that already exists. */
typedef gboolean (*PsObjectInitFunc) (gpointer   state,
                                      gpointer   user_data,
                                      GError   **error);

/* Maps the named object @name, creating it with @mode if @flags asks for
 * it. An existing object owned by another user than the caller's
 * effective one or root is refused with G_IO_ERROR_PERMISSION_DENIED,
 * changing nothing, unless @flags has PS_OPEN_ANY_OWNER. @out_mode
 * (optional) receives the permission bits of an object that existed; it
 * is left untouched when the object is created (with @mode). An object
 * that existed must have a state of @payload_size bytes, unless
 * @any_size (a class whose objects vary in size: PsQueue), when it is
 * mapped at the size its header gives (checked against the file's), the
 * caller checking the rest. */

gboolean ps_object_map_named     (const char        *name,
                                  PsOpenFlags        flags,
                                  guint              mode,
                                  PsObjectType       type,
                                  gsize              payload_offset,
                                  gsize              payload_size,
                                  gboolean           any_size,
                                  PsObjectInitFunc   init_func,
                                  gpointer           user_data,
                                  gpointer          *out_mapping,
                                  gsize             *out_mapping_size,
                                  gboolean          *out_created,
                                  guint             *out_mode,
                                  GError           **error);
gpointer ps_object_map_anonymous (gsize              length,
                                  GError           **error);
/* Whether the guard had to swap the mapping of @mapping (from
 * ps_object_map_named()) for private zeros because its file was
 * truncated: points to a flag that becomes non-zero then and stays so,
 * valid until the mapping is unmapped. Read it with an acquire load. */
const gint *ps_object_map_lost_flag (gpointer           mapping);
/* Guards @mapping (of a shared-memory file others may truncate, such as
 * a segment shared by descriptor) as ps_object_map_named() does, and
 * returns its lost flag, as ps_object_map_lost_flag() would; a flag that
 * never changes if every slot of the guard is taken. Unmap it with
 * ps_object_unmap(). */
const gint *ps_object_map_guard  (gpointer           mapping,
                                  gsize              length);
/* Maps @length bytes of the shared-memory file @fd, shared, for reading
 * and writing or (@read_only) reading only: unguarded. */
gpointer ps_object_map_fd        (int                fd,
                                  gsize              length,
                                  gboolean           read_only,
                                  GError           **error);
/* Unmaps what ps_object_map_named() mapped (and guarded), or any other
 * mapping. */
void     ps_object_unmap         (gpointer           mapping,
                                  gsize              length);

G_END_DECLS
