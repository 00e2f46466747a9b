/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include <gio/gio.h>

#include "ps-error.h"
#include "ps-errors-private.h"
#include "ps-system-private.h"

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

/* The error for @saved_errno, after the message @format makes; with
 * @about_memory, for a failure to reserve or map @size bytes. */
static void set_error_from_errno_va (GError     **error,
                                     int          saved_errno,
                                     gboolean     about_memory,
                                     guint64      size,
                                     const char  *format,
                                     va_list      args) G_GNUC_PRINTF (5, 0);

static void
set_error_from_errno_va (GError     **error,
                         int          saved_errno,
                         gboolean     about_memory,
                         guint64      size,
                         const char  *format,
                         va_list      args)
{
  g_autofree char *message = g_strdup_vprintf (format, args);

  if (!about_memory && saved_errno == ENOMEM)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                 "%s: out of memory (%s: no memory left, or a limit reached: "
                 "RLIMIT_AS, vm.max_map_count, a memory cgroup)",
                 message, g_strerror (saved_errno));
  else if (!about_memory)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 "%s: %s", message, g_strerror (saved_errno));
  else if (saved_errno == EINVAL || saved_errno == EFBIG || saved_errno == EOVERFLOW ||
           ((saved_errno == ENOMEM || saved_errno == ENOSPC) && size > ps_system_memory_size ()))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "%s: %" G_GUINT64_FORMAT " bytes is larger than this system allows (%s)",
                 message, size, g_strerror (saved_errno));
  else if (saved_errno == ENOSPC)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                 "%s: not enough room in the shared-memory file system for %" G_GUINT64_FORMAT
                 " bytes (%s; /dev/shm may be too small or full)",
                 message, size, g_strerror (saved_errno));
  else if (saved_errno == ENOMEM)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                 "%s: out of memory for %" G_GUINT64_FORMAT " bytes (%s: no memory left, "
                 "or a limit reached: RLIMIT_AS, vm.max_map_count, a memory cgroup)",
                 message, size, g_strerror (saved_errno));
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 "%s: %s", message, g_strerror (saved_errno));
}

void
ps_set_error_from_errno (GError     **error,
                         int          saved_errno,
                         const char  *format,
                         ...)
{
  va_list args;

  va_start (args, format);
  set_error_from_errno_va (error, saved_errno, FALSE, 0, format, args);
  va_end (args);
}

void
ps_set_error_from_memory_errno (GError     **error,
                                int          saved_errno,
                                guint64      size,
                                const char  *format,
                                ...)
{
  va_list args;

  va_start (args, format);
  set_error_from_errno_va (error, saved_errno, TRUE, size, format, args);
  va_end (args);
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
