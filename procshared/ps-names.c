/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <gio/gio.h>

#include "ps-errors-private.h"
#include "ps-names-private.h"

/**
 * ps_name_is_valid:
 * @name: (nullable): a candidate name
 *
 * Checks whether @name can name a procshared object: a leading `/`, then
 * 1 to %PS_NAME_MAX_LENGTH characters from `[A-Za-z0-9._-]`, and neither
 * `.` nor `..` after the slash. Such a name is the name of a POSIX
 * shared-memory object (on Linux, the file `/dev/shm/NAME`); it is never
 * treated as a path.
 *
 * Returns: %TRUE if @name is valid
 *
 * Since: 1.0
 */
gboolean
ps_name_is_valid (const char *name)
{
  return ps_name_validate (name, NULL);
}

gboolean
ps_name_validate (const char  *name,
                  GError     **error)
{
  const char *body;
  gsize length;

  if (name == NULL || name[0] == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "The name is empty; names look like “/my-app.lock”");
      return FALSE;
    }
  if (name[0] != '/')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The name “%s” does not start with “/”", name);
      return FALSE;
    }

  body = name + 1;
  length = strlen (body);
  if (length == 0 || length > PS_NAME_MAX_LENGTH)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The name “%s” must have 1 to %d characters after the “/”",
                   name, PS_NAME_MAX_LENGTH);
      return FALSE;
    }
  if (strcmp (body, ".") == 0 || strcmp (body, "..") == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The name “%s” is not allowed", name);
      return FALSE;
    }
  for (const char *p = body; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-')
        {
          g_autofree char *escaped = g_strescape (name, NULL);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "The name “%s” has a character outside [A-Za-z0-9._-] "
                       "at position %d", escaped, (int) (p - name));
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
ps_name_given (const char  *name,
               GError     **error)
{
  return name != NULL || ps_name_validate (name, error);
}

gboolean
ps_open_flags_validate (PsOpenFlags   flags,
                        GError      **error)
{
  const PsOpenFlags known = PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE | PS_OPEN_ANY_OWNER;

  if ((flags & ~known) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Unknown open flags 0x%x", flags & ~known);
      return FALSE;
    }
  if ((flags & PS_OPEN_EXCLUSIVE) && !(flags & PS_OPEN_CREATE))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "PS_OPEN_EXCLUSIVE needs PS_OPEN_CREATE");
      return FALSE;
    }
  return TRUE;
}

gboolean
ps_mode_validate (guint    mode,
                  GError **error)
{
  if ((mode & ~0777u) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Invalid mode 0%o: only permission bits (0777) are allowed", mode);
      return FALSE;
    }
  return TRUE;
}

/**
 * ps_unlink:
 * @name: the name of a named object
 * @error: return location for a #GError
 *
 * Removes the named object @name, of any type. Processes that have it
 * open keep using it; later opens of @name no longer find it, and a later
 * create makes a new object.
 *
 * Returns: %TRUE on success; %FALSE with %G_IO_ERROR_NOT_FOUND if no
 *   object has that name, %G_IO_ERROR_INVALID_ARGUMENT for an invalid
 *   name, %G_IO_ERROR_PERMISSION_DENIED if it may not be removed
 *
 * Since: 1.0
 */
gboolean
ps_unlink (const char  *name,
           GError     **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!ps_name_validate (name, error))
    return FALSE;

  if (shm_unlink (name) != 0)
    {
      ps_set_error_from_errno (error, errno, "Could not remove “%s”", name);
      return FALSE;
    }
  return TRUE;
}
