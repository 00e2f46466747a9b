/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * The platform's shared-memory files, for segments shared by file
 * descriptor (ps-shared-memory-fd.c): the one place that knows memfd_create(),
 * file seals and the file systems shared memory lives in. The same for
 * every synchronisation backend: what a descriptor is depends on the
 * system, not on how locks wait.
 *
 *  - Linux (every backend, the darwin stand-in included): a memfd,
 *    MFD_CLOEXEC | MFD_ALLOW_SEALING; it can be sealed, and a read-only
 *    descriptor of it is backed by F_SEAL_FUTURE_WRITE.
 *  - Where memfd_create() is missing (macOS, older systems, or a kernel
 *    or seccomp filter that refuses it with ENOSYS): a POSIX shared-memory
 *    object with a random name, unlinked at once, so that no name is ever
 *    left in /dev/shm. It cannot be sealed; its read-only descriptors are
 *    duplicates of an O_RDONLY descriptor opened before the unlink (the
 *    "twin"), which cannot map it for writing.
 *
 * Every descriptor made here is close-on-exec. Errors are GErrors.
 */

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  PS_FD_SEALS_NONE  = 0,
  PS_FD_SEAL_SHRINK = 1 << 0,   /* the file can never become shorter */
  PS_FD_SEAL_GROW   = 1 << 1,   /* nor longer */
  PS_FD_SEAL_WRITE  = 1 << 2,   /* no new writable mapping (F_SEAL_WRITE or F_SEAL_FUTURE_WRITE) */
  PS_FD_SEAL_SEAL   = 1 << 3,   /* no further seal can be added */
} PsFdSeals;

/* A new shared-memory file of @size zero bytes, open read-write.
 * @out_read_only_twin receives the O_RDONLY twin of a fallback object, or
 * -1 for a memfd (whose read-only descriptors are made on demand).
 * EMFILE/ENFILE give G_IO_ERROR_TOO_MANY_OPEN_FILES. */
int       ps_platform_fd_create           (gsize         size,
                                           int          *out_read_only_twin,
                                           GError      **error);

/* A new descriptor of the same memory that can only map it read-only, and
 * through which write access cannot be regained: for a memfd, adds
 * F_SEAL_FUTURE_WRITE (no new writable mapping, by anyone: existing ones
 * stay writable) and reopens /proc/self/fd/N O_RDONLY; otherwise
 * duplicates @read_only_twin. G_IO_ERROR_NOT_SUPPORTED if neither can be
 * done (a memfd sealed with F_SEAL_SEAL before, a kernel older than 5.1,
 * no /proc). */
int       ps_platform_fd_dup_read_only    (int           fd,
                                           int           read_only_twin,
                                           GError      **error);

/* Adds F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL; TRUE if they are there
 * already. G_IO_ERROR_NOT_SUPPORTED for a file that cannot be sealed. */
gboolean  ps_platform_fd_seal             (int           fd,
                                           GError      **error);
PsFdSeals ps_platform_fd_get_seals        (int           fd);

/* Checks that @fd is an open descriptor of a shared-memory file (a memfd,
 * or a file of tmpfs or of the system's POSIX shared memory), readable:
 * G_IO_ERROR_CLOSED (not an open descriptor), G_IO_ERROR_IS_DIRECTORY,
 * G_IO_ERROR_NOT_REGULAR_FILE (a pipe, a socket, a device...),
 * G_IO_ERROR_NOT_SUPPORTED (a file on another file system),
 * G_IO_ERROR_PERMISSION_DENIED (open for writing only). Gives its size,
 * and whether it was opened read-only. */
gboolean  ps_platform_fd_check            (int           fd,
                                           goffset      *out_size,
                                           gboolean     *out_read_only,
                                           GError      **error);

/* Sizes the new, empty file @fd to @size bytes and takes their memory
 * from its file system now (posix_fallocate(), which grows the file: no
 * ftruncate() first), so that no later touch of a page can find a full
 * /dev/shm. Where the system cannot reserve, it only sizes the file. 0,
 * or the errno of the failure (ENOSPC, EFBIG...). */
int       ps_platform_fd_allocate         (int           fd,
                                           gsize         size);

/* For tests: make ps_platform_fd_create() take the fallback path, as on a
 * system without memfd_create(). */
void      ps_platform_fd_set_memfd_disabled (gboolean    disabled);

G_END_DECLS
