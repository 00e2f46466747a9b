/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_INSIDE) && !defined(PROCSHARED_COMPILATION)
# error "Only <procshared/procshared.h> can be included directly."
#endif

#include <glib.h>

#include "ps-version-macros.h"

G_BEGIN_DECLS

/**
 * PsOpenFlags:
 * @PS_OPEN_NONE: the named object must already exist
 * @PS_OPEN_CREATE: create the object if it does not exist yet
 * @PS_OPEN_EXCLUSIVE: together with %PS_OPEN_CREATE, fail with
 *   %G_IO_ERROR_EXISTS if the object already exists
 *
 * How a named object is opened.
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  PS_OPEN_NONE      = 0,
  PS_OPEN_CREATE    = 1 << 0,
  PS_OPEN_EXCLUSIVE = 1 << 1,
} PsOpenFlags;

/**
 * PS_TIMEOUT_INFINITE:
 *
 * A timeout that never expires: the wait lasts until it succeeds or is
 * cancelled.
 *
 * Since: 1.0
 */
#define PS_TIMEOUT_INFINITE ((gint64) -1)

/**
 * PS_NAME_MAX_LENGTH:
 *
 * The maximum number of characters after the leading `/` of a name.
 *
 * Since: 1.0
 */
#define PS_NAME_MAX_LENGTH 200

PS_AVAILABLE_IN_ALL
gboolean ps_name_is_valid (const char *name);
PS_AVAILABLE_IN_ALL
gboolean ps_unlink        (const char  *name,
                           GError     **error);

G_END_DECLS
