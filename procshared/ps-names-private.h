/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* Checking what callers name and ask for, with a precise error. */

#include <gio/gio.h>

#include "ps-names.h"

G_BEGIN_DECLS

gboolean ps_name_validate       (const char   *name,
                                 GError      **error);
/* For the constructors of named objects: FALSE with the error of
 * ps_name_validate() if @name is NULL, which would ask the properties
 * for an anonymous object. Any other name is checked once, by
 * ps_object_map_named(), where every way of making one passes. */
gboolean ps_name_given          (const char   *name,
                                 GError      **error);
gboolean ps_open_flags_validate (PsOpenFlags   flags,
                                 GError      **error);
gboolean ps_mode_validate       (guint         mode,
                                 GError      **error);

G_END_DECLS
