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
 * @PS_OPEN_ANY_OWNER: also open an existing object owned by another user
 *   (not the caller's effective user, nor root), for deliberate sharing
 *   between users. Since: 1.1
 *
 * How a named object is opened.
 *
 * An existing named object is opened only if it belongs to the caller's
 * effective user or to root: another user could have made the name first
 * (with mode 0666, say), so that a program that meant to create a private
 * object would use theirs, and share its data and locks with them. Such an
 * object is refused with %G_IO_ERROR_PERMISSION_DENIED, and nothing is
 * changed, unless %PS_OPEN_ANY_OWNER is given. Only the creating side
 * chooses who may open an object (the `mode` property); with
 * %PS_OPEN_ANY_OWNER, check the owner and mode of what you opened if they
 * matter (the `mode` property, or
 * [method@SharedMemory.get_mode], gives the object's real permission bits).
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  PS_OPEN_NONE      = 0,
  PS_OPEN_CREATE    = 1 << 0,
  PS_OPEN_EXCLUSIVE = 1 << 1,
  PS_OPEN_ANY_OWNER = 1 << 2,
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
