/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * Turning what the system says into GErrors, and checking ranges before
 * touching memory, the same way everywhere.
 */

#include <gio/gio.h>

G_BEGIN_DECLS

void     ps_set_error_from_errno (GError     **error,
                                  int          saved_errno,
                                  const char  *format,
                                  ...) G_GNUC_PRINTF (3, 4);
gboolean ps_check_range          (gsize        size,
                                  gsize        offset,
                                  gsize        length,
                                  GError     **error);

G_END_DECLS
