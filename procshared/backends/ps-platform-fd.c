/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Shared-memory files: memfds where the system has them, unlinked POSIX
 * shared-memory objects elsewhere (ps-platform-fd-private.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__)
# include <linux/magic.h>
# include <sys/statfs.h>
#endif

#include "ps-errors-private.h"
#include "ps-identity-private.h"
#include "ps-platform-fd-private.h"

#if defined(__linux__) && defined(MFD_ALLOW_SEALING) && defined(F_ADD_SEALS)
# define PS_HAVE_MEMFD 1
# ifndef F_SEAL_FUTURE_WRITE
#  define F_SEAL_FUTURE_WRITE 0x0010   /* Linux 5.1; older C libraries lack the name */
# endif
#endif

static gboolean memfd_disabled;

void
ps_platform_fd_set_memfd_disabled (gboolean disabled)
{
  memfd_disabled = disabled;
}

static void
set_create_error (GError **error,
                  int      saved_errno,
                  gsize    size)
{
  if (saved_errno == EMFILE || saved_errno == ENFILE)
    ps_set_error_from_errno (error, saved_errno,
                             "Could not make a descriptor for shared memory");
  else
    ps_set_error_from_memory_errno (error, saved_errno, size,
                                    "Could not make a shared-memory file of %" G_GSIZE_FORMAT
                                    " bytes", size);
}

/* Sizes @fd, whichever way it was made; closes it on failure. */
static int
size_new_file (int      fd,
               gsize    size,
               GError **error)
{
  if (size > (gsize) G_MAXINT64 || ftruncate (fd, (off_t) size) != 0)
    {
      int saved_errno = size > (gsize) G_MAXINT64 ? EFBIG : errno;

      close (fd);
      set_create_error (error, saved_errno, size);
      return -1;
    }
  return fd;
}

int
ps_platform_fd_allocate (int   fd,
                         gsize size)
{
  if (size > (gsize) G_MAXINT64)
    return EFBIG;
#ifdef HAVE_POSIX_FALLOCATE
  {
    int result;

    do
      result = posix_fallocate (fd, 0, (off_t) size);
    while (result == EINTR);
    /* Reserved, and the file grown to @size: one call instead of
     * ftruncate() and then posix_fallocate(). */
    if (result != EOPNOTSUPP && result != ENOSYS)
      return result;
  }
#endif
  /* A file system that cannot reserve: only the size. */
  return ftruncate (fd, (off_t) size) == 0 ? 0 : errno;
}

/* The fallback: a POSIX shared-memory object under a random name that
 * lives only until it is unlinked, a moment later. Its mode is then made
 * 0400, so that a process of the same user (root aside) cannot reopen
 * the read-only twin for writing through /proc/self/fd where there is
 * one; the descriptor already open for writing keeps writing. */
static int
create_unlinked_object (gsize    size,
                        int     *out_read_only_twin,
                        GError **error)
{
  /* A clash with a name in use only costs another try. */
  for (guint attempt = 0; attempt < 64; attempt++)
    {
      char name[64];
      int fd, twin, saved_errno;

      /* Not g_random_int(), whose lock a fork() from another thread could
       * leave taken in the child. */
      g_snprintf (name, sizeof name, "/ps-fd-%d-%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x",
                  (int) getpid (), ps_unique_id (), (guint64) g_get_monotonic_time ());
      fd = shm_open (name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0)
        {
          if (errno == EEXIST)
            continue;
          set_create_error (error, errno, size);
          return -1;
        }
      twin = shm_open (name, O_RDONLY | O_CLOEXEC, 0);
      shm_unlink (name);
      if (twin < 0)
        {
          saved_errno = errno;
          close (fd);
          set_create_error (error, saved_errno, size);
          return -1;
        }
      /* It lives in /dev/shm, which can be full: no page of it may ever
       * fail to be there when touched (SIGBUS). */
      saved_errno = ps_platform_fd_allocate (fd, size);
      if (saved_errno != 0)
        {
          set_create_error (error, saved_errno, size);
          close (fd);
          close (twin);
          return -1;
        }
      fchmod (fd, 0400);
      *out_read_only_twin = twin;
      return fd;
    }

  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "Could not find a free name for a shared-memory object");
  return -1;
}

int
ps_platform_fd_create (gsize    size,
                       int     *out_read_only_twin,
                       GError **error)
{
  *out_read_only_twin = -1;

#ifdef PS_HAVE_MEMFD
  if (!memfd_disabled)
    {
      int fd = memfd_create ("procshared", MFD_CLOEXEC | MFD_ALLOW_SEALING);

      if (fd >= 0)
        return size_new_file (fd, size, error);
      if (errno != ENOSYS && errno != EINVAL)
        {
          set_create_error (error, errno, size);
          return -1;
        }
      /* No memfd here (ENOSYS), or no sealing (EINVAL): fall back. */
    }
#endif

  return create_unlinked_object (size, out_read_only_twin, error);
}

int
ps_platform_fd_dup_read_only (int      fd,
                              int      read_only_twin,
                              GError **error)
{
  int read_only;

  if (read_only_twin >= 0)
    {
      read_only = fcntl (read_only_twin, F_DUPFD_CLOEXEC, 3);
      if (read_only < 0)
        ps_set_error_from_errno (error, errno, "Could not duplicate a descriptor");
      return read_only;
    }

#ifdef PS_HAVE_MEMFD
  {
    char path[64];
    int seals = fcntl (fd, F_GET_SEALS);

    if (seals >= 0 && !(seals & (F_SEAL_FUTURE_WRITE | F_SEAL_WRITE)) &&
        fcntl (fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) != 0)
      {
        if (errno == EPERM)
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "The segment's file cannot be sealed against writing: it was "
                               "sealed before a read-only descriptor was made (make them "
                               "before sealing it), or is no memfd");
        else
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "This kernel cannot seal memory against writing (F_SEAL_FUTURE_WRITE, "
                       "Linux 5.1): %s", g_strerror (errno));
        return -1;
      }
    if (seals < 0)
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                     "The segment's file cannot be sealed: %s", g_strerror (errno));
        return -1;
      }

    /* Its own open file description, O_RDONLY: it can neither write nor
     * map for writing, nor change the size or the seals. */
    g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
    read_only = open (path, O_RDONLY | O_CLOEXEC);
    if (read_only < 0)
      g_set_error (error, G_IO_ERROR,
                   errno == EMFILE || errno == ENFILE ? G_IO_ERROR_TOO_MANY_OPEN_FILES
                                                      : G_IO_ERROR_NOT_SUPPORTED,
                   "Could not reopen the segment read-only through %s: %s",
                   path, g_strerror (errno));
    return read_only;
  }
#else
  (void) fd;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "The segment has no read-only descriptor");
  return -1;
#endif
}

gboolean
ps_platform_fd_seal (int      fd,
                     GError **error)
{
#ifdef PS_HAVE_MEMFD
  const int wanted = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
  int seals = fcntl (fd, F_GET_SEALS);

  if (seals >= 0 && (seals & wanted) == wanted)
    return TRUE;
  if (seals >= 0 && fcntl (fd, F_ADD_SEALS, wanted) == 0)
    return TRUE;
  /* A tmpfs file that is no memfd reports F_SEAL_SEAL from the start. */
  if (seals >= 0 && (seals & F_SEAL_SEAL))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                         "The segment's file cannot be sealed: it is no memfd, or was "
                         "sealed without F_SEAL_SHRINK and F_SEAL_GROW");
  else if (seals >= 0 && errno == EPERM)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                         "The segment's file is not open for writing, and cannot be sealed");
  else if (seals >= 0 && errno == EBUSY)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                         "The segment's file is busy and cannot be sealed");
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "The segment's file cannot be sealed: %s", g_strerror (errno));
  return FALSE;
#else
  (void) fd;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "This system cannot seal shared memory");
  return FALSE;
#endif
}

PsFdSeals
ps_platform_fd_get_seals (int fd)
{
#ifdef PS_HAVE_MEMFD
  int seals = fcntl (fd, F_GET_SEALS);
  PsFdSeals result = PS_FD_SEALS_NONE;

  if (seals < 0)
    return PS_FD_SEALS_NONE;
  if (seals & F_SEAL_SHRINK)
    result |= PS_FD_SEAL_SHRINK;
  if (seals & F_SEAL_GROW)
    result |= PS_FD_SEAL_GROW;
  if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))
    result |= PS_FD_SEAL_WRITE;
  if (seals & F_SEAL_SEAL)
    result |= PS_FD_SEAL_SEAL;
  return result;
#else
  (void) fd;
  return PS_FD_SEALS_NONE;
#endif
}

/* Whether the regular file @fd lives in shared memory. */
static gboolean
check_file_system (int      fd,
                   GError **error)
{
#if defined(__linux__)
  struct statfs fs;

  if (fstatfs (fd, &fs) != 0)
    {
      ps_set_error_from_errno (error, errno, "Could not inspect descriptor %d", fd);
      return FALSE;
    }
  /* memfds, /dev/shm and every other tmpfs; hugetlbfs memfds too. */
  if (fs.f_type == TMPFS_MAGIC || fs.f_type == HUGETLBFS_MAGIC)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "Descriptor %d is a file on disk (file system 0x%lx), not shared memory "
               "(a memfd or a tmpfs file)", fd, (unsigned long) fs.f_type);
  return FALSE;
#else
  /* Elsewhere, POSIX shared-memory objects are what fstat() calls
   * regular files; nothing tells them apart from files on disk. */
  (void) fd;
  (void) error;
  return TRUE;
#endif
}

gboolean
ps_platform_fd_check (int        fd,
                      goffset   *out_size,
                      gboolean  *out_read_only,
                      GError   **error)
{
  struct stat st;
  int flags;

  if (fd < 0 || fstat (fd, &st) != 0 || (flags = fcntl (fd, F_GETFL)) < 0)
    {
      if (fd < 0 || errno == EBADF)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                     "%d is not an open file descriptor", fd);
      else
        ps_set_error_from_errno (error, errno, "Could not inspect descriptor %d", fd);
      return FALSE;
    }

  if (S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY,
                   "Descriptor %d is a directory, not shared memory", fd);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                   "Descriptor %d is a %s, not shared memory", fd,
                   S_ISFIFO (st.st_mode) ? "pipe" :
                   S_ISSOCK (st.st_mode) ? "socket" :
                   S_ISCHR (st.st_mode) ? "character device" :
                   S_ISBLK (st.st_mode) ? "block device" : "special file");
      return FALSE;
    }
  if (!check_file_system (fd, error))
    return FALSE;
#ifdef O_PATH
  if (flags & O_PATH)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "Descriptor %d was opened with O_PATH: it cannot be read", fd);
      return FALSE;
    }
#endif
  if ((flags & O_ACCMODE) == O_WRONLY)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "Descriptor %d is not open for reading", fd);
      return FALSE;
    }

  *out_size = (goffset) st.st_size;
  *out_read_only = (flags & O_ACCMODE) == O_RDONLY;
  return TRUE;
}
