/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gio/gio.h>

#include "ps-error.h"
#include "ps-errors-private.h"

/**
 * ps_error_quark:
 *
 * The quark of the %PS_ERROR domain, `ps-error-quark`.
 *
 * Returns: the error domain
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (ps-error-quark, ps_error)

void
ps_set_error_from_errno (GError     **error,
                         int          saved_errno,
                         const char  *format,
                         ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s: %s", message, g_strerror (saved_errno));
}

gboolean
ps_check_range (gsize    size,
                gsize    offset,
                gsize    length,
                GError **error)
{
  /* Written so that offset + length cannot overflow. */
  if (offset > size || length > size - offset)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS,
                   "%" G_GSIZE_FORMAT " bytes at offset %" G_GSIZE_FORMAT
                   " do not fit in a segment of %" G_GSIZE_FORMAT " bytes",
                   length, offset, size);
      return FALSE;
    }
  return TRUE;
}
