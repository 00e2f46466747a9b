/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

#include "ps-semaphore.h"

G_BEGIN_DECLS

/* The ranges of the count and the maximum, checked by the constructors
 * before they set the properties (out of range, GObject would only warn
 * and keep the default), and again when creating. */
gboolean ps_semaphore_check_values (guint    value,
                                    guint    max_value,
                                    GError **error);

G_END_DECLS
