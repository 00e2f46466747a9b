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
gboolean ps_open_flags_validate (PsOpenFlags   flags,
                                 GError      **error);
gboolean ps_mode_validate       (guint         mode,
                                 GError      **error);

G_END_DECLS
