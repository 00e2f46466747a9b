/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps-backend-private.h"
#include "ps-error.h"
#include "ps-errors-private.h"
#include "ps-names-private.h"
#include "ps-inspect.h"
#include "ps-rw-lock.h"

const char *
ps_inspect_kind_to_string (PsInspectKind kind)
{
  switch (kind)
    {
    case PS_INSPECT_OBJECT:       return "object";
    case PS_INSPECT_UNFINISHED:   return "unfinished";
    case PS_INSPECT_BLANK:        return "blank";
    case PS_INSPECT_INCOMPATIBLE: return "incompatible";
    case PS_INSPECT_CORRUPT:      return "corrupt";
    case PS_INSPECT_FOREIGN:      return "foreign";
    default:                      return "unknown";
    }
}

const char *
ps_inspect_backend_to_string (guint backend)
{
  switch (backend)
    {
    case PS_BACKEND_FUTEX:  return "futex";
    case PS_BACKEND_POSIX:  return "posix";
    case PS_BACKEND_DARWIN: return "darwin";
    default:                return NULL;
    }
}

void
ps_inspect_info_clear (PsInspectInfo *info)
{
  g_clear_pointer (&info->detail, g_free);
  memset (info, 0, sizeof *info);
}

static void
set_kind (PsInspectInfo *info,
          PsInspectKind  kind,
          char          *detail)
{
  info->kind = kind;
  g_free (info->detail);
  info->detail = detail;
}

static const char *
describe_file_type (guint32 file_type)
{
  switch (file_type)
    {
    case S_IFDIR:  return "a directory";
    case S_IFLNK:  return "a symbolic link";
    case S_IFIFO:  return "a named pipe";
    case S_IFSOCK: return "a socket";
    case S_IFCHR:  return "a character device";
    case S_IFBLK:  return "a block device";
    default:       return "not a regular file";
    }
}

static void
classify_short (PsInspectInfo *info,
                const guint8  *bytes,
                gsize          n_bytes)
{
  guint32 magic = 0;
  gsize i;

  for (i = 0; i < n_bytes && bytes[i] == 0; i++)
    ;
  if (i == n_bytes)
    {
      /* A creator's file is empty between shm_open() and ftruncate(). */
      set_kind (info, PS_INSPECT_BLANK,
                n_bytes == 0 ? g_strdup ("an empty file: being created, or not a procshared object")
                             : g_strdup_printf ("%" G_GSIZE_FORMAT " zero bytes: being created, "
                                                "or not a procshared object", n_bytes));
      return;
    }

  if (n_bytes >= sizeof magic)
    memcpy (&magic, bytes, sizeof magic);
  if (magic == PS_OBJECT_MAGIC)
    /* No creator ever makes a file this short once the magic is in. */
    set_kind (info, PS_INSPECT_CORRUPT,
              g_strdup_printf ("truncated to %" G_GSIZE_FORMAT " bytes, shorter than the "
                               "%" G_GSIZE_FORMAT "-byte object header",
                               n_bytes, sizeof (PsObjectHeader)));
  else
    set_kind (info, PS_INSPECT_FOREIGN, g_strdup ("not a procshared object"));
}

static void
classify_header (PsInspectInfo        *info,
                 const PsObjectHeader *header)
{
  static const guint8 zeros[sizeof (PsObjectHeader)];
  PsObjectHeaderStatus status = ps_object_header_classify (header);

  if (status != PS_OBJECT_HEADER_BLANK && status != PS_OBJECT_HEADER_FOREIGN)
    {
      if (ps_object_type_is_known (header->type))
        info->type = header->type;
      info->layout_version = header->layout_version;
      info->backend = header->backend;
      info->payload_size = header->payload_size;
    }

  /* The opener's judgement, with the detail a person needs. */
  switch (status)
    {
    case PS_OBJECT_HEADER_BLANK:
      /* A creator may have sized the file but not written the header yet. */
      set_kind (info, PS_INSPECT_BLANK,
                memcmp (header, zeros, sizeof zeros) == 0
                  ? g_strdup ("a zero-filled header: being created, or not a procshared object")
                  : g_strdup ("no procshared magic yet: being created, or not a procshared object"));
      return;
    case PS_OBJECT_HEADER_FOREIGN:
      set_kind (info, PS_INSPECT_FOREIGN, g_strdup ("not a procshared object"));
      return;
    case PS_OBJECT_HEADER_UNFINISHED:
      set_kind (info, PS_INSPECT_UNFINISHED,
                g_strdup ("being created, or its creator died"));
      return;
    case PS_OBJECT_HEADER_INCOMPATIBLE:
      {
        const char *backend = ps_inspect_backend_to_string (header->backend);
        g_autofree char *backend_id = g_strdup_printf ("%u", header->backend);

        set_kind (info, PS_INSPECT_INCOMPATIBLE,
                  g_strdup_printf ("made by an incompatible procshared (layout %u, backend %s; "
                                   "this one uses layout %u, backend %s)",
                                   header->layout_version, backend ? backend : backend_id,
                                   PS_OBJECT_LAYOUT_VERSION, ps_backend_name ()));
        return;
      }
    case PS_OBJECT_HEADER_UNKNOWN_TYPE:
      set_kind (info, PS_INSPECT_CORRUPT,
                g_strdup_printf ("unknown object type %u", header->type));
      return;
    case PS_OBJECT_HEADER_VALID:
    default:
      break;
    }
  if (header->type != PS_OBJECT_TYPE_SHARED_MEMORY && header->type != PS_OBJECT_TYPE_QUEUE)
    {
      /* Every synchronisation object takes a slot, but a reader-writer
       * lock, which takes PS_RW_LOCK_SIZE bytes. */
      gsize object_size = header->type == PS_OBJECT_TYPE_RW_LOCK ? PS_RW_LOCK_SIZE
                                                                 : PS_OBJECT_SLOT_SIZE;

      if (header->payload_size != object_size - sizeof *header)
        {
          set_kind (info, PS_INSPECT_CORRUPT,
                    g_strdup_printf ("a %s state of %" G_GUINT64_FORMAT " bytes, expected %"
                                     G_GSIZE_FORMAT, ps_object_type_to_string (header->type),
                                     header->payload_size, object_size - sizeof *header));
          return;
        }
      if (info->file_size < object_size)
        {
          set_kind (info, PS_INSPECT_CORRUPT,
                    g_strdup_printf ("truncated to %" G_GUINT64_FORMAT " bytes; a %s takes %"
                                     G_GSIZE_FORMAT, info->file_size,
                                     ps_object_type_to_string (header->type), object_size));
          return;
        }
    }
  else if (header->payload_size > info->file_size - sizeof *header)
    {
      /* Only a lower bound: the segment's exact data offset is
       * PsSharedMemory's business, which checks it when opening; a
       * queue's size follows from its capacity and message size, which
       * PsQueue checks. */
      set_kind (info, PS_INSPECT_CORRUPT,
                g_strdup_printf ("claims %" G_GUINT64_FORMAT " bytes of data, but the file has "
                                 "only %" G_GUINT64_FORMAT " bytes",
                                 header->payload_size, info->file_size));
      return;
    }

  set_kind (info, PS_INSPECT_OBJECT, NULL);
}

static void
fill_metadata (PsInspectInfo     *info,
               const struct stat *st)
{
  info->file_size = (guint64) MAX (st->st_size, 0);
  info->uid = st->st_uid;
  info->gid = st->st_gid;
  info->mode = st->st_mode & 07777;
  info->file_type = st->st_mode & S_IFMT;
}

/**
 * ps_inspect_file:
 * @dirfd: the directory holding the file
 * @filename: the file's name in it
 * @info: (out caller-allocates): filled in on success; clear it with
 *   ps_inspect_info_clear()
 * @error: return location for a #GError
 *
 * Classifies one file without changing it: symbolic links are not
 * followed, special files are not opened (a FIFO would block), and only
 * the header bytes that the file's size says are there are read.
 *
 * Returns: %TRUE with @info filled in; %FALSE with %G_IO_ERROR_NOT_FOUND,
 *   %G_IO_ERROR_PERMISSION_DENIED or another #GIOErrorEnum when the file
 *   cannot be looked at. On failure, the metadata fields of @info are
 *   filled in if the file could at least be stat()ed (@info->file_type is
 *   then non-zero); @info need not be cleared.
 */
gboolean
ps_inspect_file (int             dirfd,
                 const char     *filename,
                 PsInspectInfo  *info,
                 GError        **error)
{
  guint8 bytes[sizeof (PsObjectHeader)];
  struct stat st;
  gsize wanted;
  ssize_t n;
  int fd;

  memset (info, 0, sizeof *info);

  if (fstatat (dirfd, filename, &st, AT_SYMLINK_NOFOLLOW) != 0)
    {
      ps_set_error_from_errno (error, errno, "Could not look at “%s”", filename);
      return FALSE;
    }
  fill_metadata (info, &st);
  if (!S_ISREG (st.st_mode))
    {
      set_kind (info, PS_INSPECT_FOREIGN, g_strdup (describe_file_type (info->file_type)));
      return TRUE;
    }

  /* O_NONBLOCK and O_NOFOLLOW in case it was replaced since: opening a
   * FIFO must not wait for a writer, and a link is never followed. */
  fd = openat (dirfd, filename, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ELOOP)
        {
          info->file_type = S_IFLNK;
          set_kind (info, PS_INSPECT_FOREIGN, g_strdup (describe_file_type (S_IFLNK)));
          return TRUE;
        }
      ps_set_error_from_errno (error, errno, "Could not open “%s”", filename);
      return FALSE;
    }

  /* Everything from here on describes the file we actually opened. */
  if (fstat (fd, &st) != 0)
    {
      ps_set_error_from_errno (error, errno, "Could not look at “%s”", filename);
      close (fd);
      return FALSE;
    }
  fill_metadata (info, &st);
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      set_kind (info, PS_INSPECT_FOREIGN, g_strdup (describe_file_type (info->file_type)));
      return TRUE;
    }

  wanted = (gsize) MIN (info->file_size, sizeof bytes);
  n = wanted > 0 ? pread (fd, bytes, wanted, 0) : 0;
  if (n < 0)
    {
      ps_set_error_from_errno (error, errno, "Could not read “%s”", filename);
      close (fd);
      return FALSE;
    }
  close (fd);

  /* A file that shrank after fstat() is judged by what it still had. */
  if ((gsize) n < sizeof (PsObjectHeader))
    {
      classify_short (info, bytes, (gsize) n);
    }
  else
    {
      PsObjectHeader header;

      memcpy (&header, bytes, sizeof header);
      classify_header (info, &header);
    }
  return TRUE;
}

/**
 * ps_inspect_name:
 * @name: a procshared name, such as `/my-app.lock`
 * @info: (out caller-allocates): as for ps_inspect_file()
 * @error: return location for a #GError
 *
 * Validates @name, then classifies the file it maps to.
 *
 * Returns: %TRUE with @info filled in; %FALSE with
 *   %G_IO_ERROR_INVALID_ARGUMENT for an invalid name, or an error of
 *   ps_inspect_file()
 */
gboolean
ps_inspect_name (const char     *name,
                 PsInspectInfo  *info,
                 GError        **error)
{
  gboolean ok;
  int dirfd;

  memset (info, 0, sizeof *info);

  if (!ps_name_validate (name, error))
    return FALSE;

  dirfd = open (PS_INSPECT_SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    {
      ps_set_error_from_errno (error, errno, "Could not open %s", PS_INSPECT_SHM_DIR);
      return FALSE;
    }
  ok = ps_inspect_file (dirfd, name + 1, info, error);
  close (dirfd);
  return ok;
}

/**
 * ps_inspect_read_mutex:
 * @name: the name of a mutex, which ps_inspect_name() found complete
 * @state: (out caller-allocates): its state
 * @error: return location for a #GError
 *
 * Reads the state of a mutex that the library refuses to open here (made
 * in another PID namespace), without mapping or locking it.
 *
 * Returns: %TRUE with @state filled in; %FALSE with %PS_ERROR_CORRUPT if
 *   it is short or holds no state a mutex can have, or an I/O error
 */
gboolean
ps_inspect_read_mutex (const char     *name,
                       PsRobustMutex  *state,
                       GError        **error)
{
  g_autofree char *path = NULL;
  ssize_t n;
  int fd;

  if (!ps_name_validate (name, error))
    return FALSE;
  path = g_build_filename (PS_INSPECT_SHM_DIR, name + 1, NULL);
  fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      ps_set_error_from_errno (error, errno, "Could not open %s", path);
      return FALSE;
    }
  do
    n = pread (fd, state, sizeof *state, sizeof (PsObjectHeader));
  while (n < 0 && errno == EINTR);
  close (fd);
  if (n < 0)
    {
      ps_set_error_from_errno (error, errno, "Could not read %s", path);
      return FALSE;
    }
  if ((gsize) n != sizeof *state || state->recursive > 1 ||
      state->consistency > PS_MUTEX_NOT_RECOVERABLE)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT, "The mutex's state is corrupt");
      return FALSE;
    }
  return TRUE;
}
