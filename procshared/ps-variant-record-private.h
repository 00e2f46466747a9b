/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * GVariants as self-describing records in shared memory (type string,
 * length, data): written by PsSharedMemory, and by any class that carries
 * values between processes. Reading validates everything against the
 * @size bytes at @base, which a peer may be rewriting meanwhile.
 */

#include <gio/gio.h>

G_BEGIN_DECLS

gsize     ps_variant_record_measure (GVariant      *value);
gboolean  ps_variant_record_write   (guint8        *base,
                                     gsize          size,
                                     gsize          offset,
                                     GVariant      *value,
                                     GError       **error);
GVariant *ps_variant_record_read    (const guint8  *base,
                                     gsize          size,
                                     gsize          offset,
                                     GError       **error);

G_END_DECLS
