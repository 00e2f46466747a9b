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

/* g_io_error_from_errno(), except that ENOMEM is G_IO_ERROR_NO_SPACE. */
void     ps_set_error_from_errno (GError     **error,
                                  int          saved_errno,
                                  const char  *format,
                                  ...) G_GNUC_PRINTF (3, 4);
/* For a failure to reserve or map @size bytes of shared memory:
 * @saved_errno ENOMEM (out of memory, RLIMIT_AS, vm.max_map_count, a
 * memory cgroup) or ENOSPC (a full /dev/shm) gives G_IO_ERROR_NO_SPACE,
 * unless @size is more than the RAM and swap of the whole system, which
 * can never work: G_IO_ERROR_INVALID_ARGUMENT, as EINVAL, EFBIG and
 * EOVERFLOW do; anything else goes through g_io_error_from_errno(). */
void     ps_set_error_from_memory_errno (GError     **error,
                                         int          saved_errno,
                                         guint64      size,
                                         const char  *format,
                                         ...) G_GNUC_PRINTF (4, 5);
gboolean ps_check_range          (gsize        size,
                                  gsize        offset,
                                  gsize        length,
                                  GError     **error);

G_END_DECLS
