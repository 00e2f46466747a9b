/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_INSIDE) && !defined(PROCSHARED_COMPILATION)
# error "Only <procshared/procshared.h> can be included directly."
#endif

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "ps-names.h"
#include "ps-version-macros.h"

G_BEGIN_DECLS

#define PS_TYPE_SHARED_MEMORY (ps_shared_memory_get_type ())

PS_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PsSharedMemory, ps_shared_memory, PS, SHARED_MEMORY, GObject)

PS_AVAILABLE_IN_ALL
PsSharedMemory *ps_shared_memory_new            (gsize            size,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
PsSharedMemory *ps_shared_memory_open           (const char      *name,
                                                 PsOpenFlags      flags,
                                                 gsize            size,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
const char     *ps_shared_memory_get_name       (PsSharedMemory  *self);
PS_AVAILABLE_IN_ALL
gsize           ps_shared_memory_get_size       (PsSharedMemory  *self);
PS_AVAILABLE_IN_ALL
PsOpenFlags     ps_shared_memory_get_open_flags (PsSharedMemory  *self);
PS_AVAILABLE_IN_ALL
guint           ps_shared_memory_get_mode       (PsSharedMemory  *self);
PS_AVAILABLE_IN_ALL
gpointer        ps_shared_memory_get_data       (PsSharedMemory  *self);
PS_AVAILABLE_IN_ALL
guintptr        ps_shared_memory_get_address    (PsSharedMemory  *self);
PS_AVAILABLE_IN_ALL
GBytes         *ps_shared_memory_read           (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 gsize            length,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
gboolean        ps_shared_memory_write          (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 const guint8    *data,
                                                 gsize            length,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
guint8          ps_shared_memory_get_uint8      (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
gboolean        ps_shared_memory_set_uint8      (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 guint8           value,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
gint32          ps_shared_memory_get_int32      (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
gboolean        ps_shared_memory_set_int32      (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 gint32           value,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
gint64          ps_shared_memory_get_int64      (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
gboolean        ps_shared_memory_set_int64      (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 gint64           value,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
double          ps_shared_memory_get_double     (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
gboolean        ps_shared_memory_set_double     (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 double           value,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
gboolean        ps_shared_memory_write_variant  (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 GVariant        *value,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
GVariant       *ps_shared_memory_read_variant   (PsSharedMemory  *self,
                                                 gsize            offset,
                                                 GError         **error);
PS_AVAILABLE_IN_ALL
gsize           ps_shared_memory_measure_variant (GVariant       *value);

PS_AVAILABLE_IN_1_1
PsSharedMemory *ps_shared_memory_open_full   (const char      *name,
                                              PsOpenFlags      flags,
                                              gsize            size,
                                              guint            mode,
                                              GError         **error);
PS_AVAILABLE_IN_1_1
gboolean        ps_shared_memory_get_created (PsSharedMemory  *self);

/* Sharing by file descriptor (ps-shared-memory-fd.c). */
PS_AVAILABLE_IN_1_1
gint            ps_shared_memory_dup_fd           (PsSharedMemory  *self,
                                                   GError         **error);
PS_AVAILABLE_IN_1_1
gint            ps_shared_memory_dup_read_only_fd (PsSharedMemory  *self,
                                                   GError         **error);
PS_AVAILABLE_IN_1_1
PsSharedMemory *ps_shared_memory_new_from_fd      (gint             fd,
                                                   GError         **error);
PS_AVAILABLE_IN_1_1
gboolean        ps_shared_memory_seal             (PsSharedMemory  *self,
                                                   GError         **error);
PS_AVAILABLE_IN_1_1
gboolean        ps_shared_memory_is_read_only     (PsSharedMemory  *self);
PS_AVAILABLE_IN_1_1
GVariant       *ps_shared_memory_to_handle        (PsSharedMemory  *self,
                                                   GUnixFDList     *fd_list,
                                                   GError         **error);
PS_AVAILABLE_IN_1_1
PsSharedMemory *ps_shared_memory_new_from_handle  (GVariant        *handle,
                                                   GUnixFDList     *fd_list,
                                                   GError         **error);

/* Streams over a range of the segment (ps-shared-memory-stream.c). */
PS_AVAILABLE_IN_1_1
GInputStream   *ps_shared_memory_get_input_stream  (PsSharedMemory  *self,
                                                    gsize            offset,
                                                    gsize            length,
                                                    GError         **error);
PS_AVAILABLE_IN_1_1
GOutputStream  *ps_shared_memory_get_output_stream (PsSharedMemory  *self,
                                                    gsize            offset,
                                                    gsize            length,
                                                    GError         **error);

G_END_DECLS
