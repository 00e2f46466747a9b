/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Sharing a PsSharedMemory by file descriptor: the descriptors of an
 * anonymous segment, the checks made on a descriptor received from
 * another process, seals, read-only descriptors, and GIO's handles.
 * What a descriptor is on this system is ps-platform-fd's business.
 */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "ps-error.h"
#include "ps-errors-private.h"
#include "ps-object-header-private.h"
#include "ps-object-map-private.h"
#include "ps-platform-fd-private.h"
#include "ps-shared-memory-private.h"

void
ps_shared_memory_fd_init (PsSharedMemoryFd *fd)
{
  fd->fd = -1;
  fd->read_only_twin = -1;
  fd->source_fd = -1;
}

void
ps_shared_memory_fd_clear (PsSharedMemoryFd *fd)
{
  if (fd->fd >= 0)
    close (fd->fd);
  if (fd->read_only_twin >= 0)
    close (fd->read_only_twin);
  fd->fd = -1;
  fd->read_only_twin = -1;
}

gpointer
ps_shared_memory_fd_create (PsSharedMemoryFd  *fd,
                            gsize              total,
                            GError           **error)
{
  g_autoptr(GError) local_error = NULL;
  gpointer mapping;

  fd->fd = ps_platform_fd_create (total, &fd->read_only_twin, &local_error);
  if (fd->fd < 0)
    {
      /* Anonymous segments never needed a descriptor before 1.1: a
       * process that has none left still gets one, unshareable by fd. */
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES))
        return ps_object_map_anonymous (total, error);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  mapping = ps_object_map_fd (fd->fd, total, FALSE, error);
  if (mapping == NULL)
    ps_shared_memory_fd_clear (fd);
  return mapping;
}

/* A dup of @fd, close-on-exec and never 0, 1 or 2. */
static int
dup_descriptor (int      fd,
                GError **error)
{
  int copy = fcntl (fd, F_DUPFD_CLOEXEC, 3);

  if (copy < 0)
    ps_set_error_from_errno (error, errno, "Could not duplicate descriptor %d", fd);
  return copy;
}

gboolean
ps_shared_memory_fd_open (PsSharedMemoryFd  *fd,
                          gsize              data_offset,
                          gpointer          *out_mapping,
                          gsize             *out_mapping_size,
                          GError           **error)
{
  int source = fd->source_fd;
  PsObjectHeader header;
  PsFdSeals seals;
  goffset size;
  gboolean access_read_only;
  gpointer mapping;
  ssize_t n;

  /* Seals first: a size read after F_SEAL_SHRINK can only grow. */
  seals = ps_platform_fd_get_seals (source);
  if (!ps_platform_fd_check (source, &size, &access_read_only, error))
    return FALSE;

  if ((guint64) size < data_offset)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "Descriptor %d holds %" G_GINT64_FORMAT " bytes, less than the %"
                   G_GSIZE_FORMAT " of a segment's header: it is no procshared segment",
                   source, (gint64) size, data_offset);
      return FALSE;
    }
  do
    n = pread (source, &header, sizeof header, 0);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t) sizeof header)
    {
      ps_set_error_from_errno (error, n < 0 ? errno : EIO,
                               "Could not read the header of descriptor %d", source);
      return FALSE;
    }
  if (!ps_object_header_check (&header, PS_OBJECT_TYPE_SHARED_MEMORY, error))
    {
      g_prefix_error (error, "Descriptor %d: ", source);
      return FALSE;
    }
  if (header.payload_size > (guint64) G_MAXSSIZE - data_offset ||
      header.payload_size + data_offset != (guint64) size)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "Descriptor %d holds %" G_GINT64_FORMAT " bytes of data, but its segment's "
                   "header says %" G_GUINT64_FORMAT ": it was resized behind the segment's back",
                   source, (gint64) size - (gint64) data_offset, header.payload_size);
      return FALSE;
    }

  fd->fd = dup_descriptor (source, error);
  if (fd->fd < 0)
    return FALSE;
  fd->header_written = TRUE;
  fd->fd_read_only = access_read_only;
  fd->read_only = access_read_only || (seals & PS_FD_SEAL_WRITE);
  mapping = ps_object_map_fd (fd->fd, (gsize) size, fd->read_only, error);
  if (mapping == NULL)
    {
      ps_shared_memory_fd_clear (fd);
      return FALSE;
    }

  /* Wayland's sigbus_is_impossible: a file that can never shrink can
   * never make a page of the mapping vanish. ps_shared_memory_is_guarded()
   * says which it was (no g_debug(): GLib's log lock is not fork-safe). */
  fd->needs_guard = !(seals & PS_FD_SEAL_SHRINK);
  *out_mapping = mapping;
  *out_mapping_size = (gsize) size;
  return TRUE;
}

gboolean
ps_shared_memory_is_guarded (PsSharedMemory *self)
{
  return g_atomic_int_get (&ps_shared_memory_get_fd (self)->guarded);
}

gboolean
ps_shared_memory_check_writable (PsSharedMemory  *self,
                                 GError         **error)
{
  if (G_LIKELY (!ps_shared_memory_get_fd (self)->read_only))
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY,
                       "The segment is read-only: it was shared with this process "
                       "through a read-only descriptor");
  return FALSE;
}

/* The segment's descriptor, or NULL with G_IO_ERROR_NOT_SUPPORTED. */
static PsSharedMemoryFd *
get_shareable_fd (PsSharedMemory  *self,
                  GError         **error)
{
  PsSharedMemoryFd *fd = ps_shared_memory_get_fd (self);

  if (fd->fd >= 0)
    return fd;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       ps_shared_memory_get_name (self) != NULL
                       ? "A named segment has no descriptor to share: share its name"
                       : "The segment was made without a descriptor (the process had none "
                         "left): it is shared over fork() only");
  return NULL;
}

/* A descriptor leaves the process: from now on another process may shrink
 * the file, unless it is sealed. */
static void
guard_unless_sealed (PsSharedMemory   *self,
                     PsSharedMemoryFd *fd)
{
  if (!(ps_platform_fd_get_seals (fd->fd) & PS_FD_SEAL_SHRINK))
    ps_shared_memory_guard (self);
}

/**
 * ps_shared_memory_dup_fd:
 * @self: a #PsSharedMemory
 * @error: return location for a #GError
 *
 * Gives a new file descriptor of the segment, to hand to another process
 * (over a Unix socket, or D-Bus with a #GUnixFDList: see
 * [method@SharedMemory.to_handle]), which maps it with
 * [ctor@SharedMemory.new_from_fd]. The receiver can read and write the
 * segment, and use the objects placed in it ([ctor@Mutex.new_at] and the
 * others) as this process does, robust recovery included. No name is
 * involved, so it works across sandboxes that have their own `/dev/shm`.
 *
 * Anonymous segments ([ctor@SharedMemory.new]) and segments received by
 * descriptor have one; named segments have none (share their name).
 *
 * The descriptor is close-on-exec; the caller owns it and closes it. From
 * the first descriptor on, the segment is guarded against the receiver
 * truncating it (see #PsSharedMemory), unless it is sealed
 * ([method@SharedMemory.seal]).
 *
 * Once a read-only descriptor was made ([method@SharedMemory.dup_read_only_fd]),
 * the memory is sealed against any new writable mapping, and this fails
 * with %G_IO_ERROR_READ_ONLY; so it does on a read-only segment.
 *
 * Across fork(): the segment's own descriptor is inherited (close-on-exec),
 * so a child can call this too; a descriptor made before fork() is the
 * child's as well, and each closes its copy.
 *
 * Returns: the descriptor, or -1 with %G_IO_ERROR_NOT_SUPPORTED (a
 *   segment without a descriptor), %G_IO_ERROR_READ_ONLY, or
 *   %G_IO_ERROR_TOO_MANY_OPEN_FILES
 *
 * Since: 1.1
 */
gint
ps_shared_memory_dup_fd (PsSharedMemory  *self,
                         GError         **error)
{
  PsSharedMemoryFd *fd;

  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), -1);
  g_return_val_if_fail (ps_shared_memory_get_data (self) != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  fd = get_shareable_fd (self, error);
  if (fd == NULL)
    return -1;
  /* The write seal is on the memory: a read-only descriptor made by
   * another process sharing it (a parent, a child) counts too. */
  if (fd->read_only || g_atomic_int_get (&fd->read_only_given) ||
      (ps_platform_fd_get_seals (fd->fd) & PS_FD_SEAL_WRITE))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY,
                           fd->read_only
                           ? "The segment is read-only: it can only give read-only descriptors"
                           : "A read-only descriptor of the segment was made, which sealed it "
                             "against new writable mappings: it can only give read-only "
                             "descriptors now");
      return -1;
    }
  /* Guarded first: a peer holding a descriptor may have truncated the
   * memory that the header goes into. */
  guard_unless_sealed (self, fd);
  ps_shared_memory_write_header (self);
  return dup_descriptor (fd->fd, error);
}

/**
 * ps_shared_memory_dup_read_only_fd:
 * @self: a #PsSharedMemory
 * @error: return location for a #GError
 *
 * Gives a new file descriptor that maps the segment read-only, as
 * Chromium's `ReadOnlySharedMemoryRegion` does: the receiver
 * ([ctor@SharedMemory.new_from_fd]) gets a segment whose
 * [method@SharedMemory.is_read_only] is %TRUE, can read it, and cannot
 * regain write access through the descriptor, neither by mapping it for
 * writing nor by reopening `/proc/self/fd/N` for writing.
 *
 * On Linux, the segment's memfd is sealed with `F_SEAL_FUTURE_WRITE` the
 * first time: mappings that exist (this process's, and those of
 * processes that mapped a writable descriptor before) stay writable, but
 * nobody can map it for writing any more, so [method@SharedMemory.dup_fd]
 * fails from then on with %G_IO_ERROR_READ_ONLY, on every system alike.
 * Make read-only descriptors before [method@SharedMemory.seal]:
 * `F_SEAL_SEAL` forbids adding the write seal afterwards
 * (%G_IO_ERROR_NOT_SUPPORTED). Sealing after this works, and a receiver
 * of a sealed read-only descriptor needs no guard against truncation.
 * Where there is no memfd, the descriptor is an `O_RDONLY` one, opened
 * when the segment was made.
 *
 * The descriptor is close-on-exec; the caller owns it and closes it.
 *
 * Across fork(): as [method@SharedMemory.dup_fd]; the write seal is on
 * the memory, so on Linux parent and child alike can only make read-only
 * descriptors from then on, whichever of them made this one (without
 * memfds, only the process that made it knows).
 *
 * Returns: the descriptor, or -1 with %G_IO_ERROR_NOT_SUPPORTED (a
 *   segment without a descriptor, one sealed before, or a system that
 *   cannot make one) or %G_IO_ERROR_TOO_MANY_OPEN_FILES
 *
 * Since: 1.1
 */
gint
ps_shared_memory_dup_read_only_fd (PsSharedMemory  *self,
                                   GError         **error)
{
  PsSharedMemoryFd *fd;
  int read_only;

  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), -1);
  g_return_val_if_fail (ps_shared_memory_get_data (self) != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  fd = get_shareable_fd (self, error);
  if (fd == NULL)
    return -1;
  /* Guarded first: a peer holding a descriptor may have truncated the
   * memory that the header goes into. */
  guard_unless_sealed (self, fd);
  ps_shared_memory_write_header (self);
  if (fd->fd_read_only)
    return dup_descriptor (fd->fd, error);
  read_only = ps_platform_fd_dup_read_only (fd->fd, fd->read_only_twin, error);
  if (read_only >= 0)
    g_atomic_int_set (&fd->read_only_given, TRUE);
  return read_only;
}

/**
 * ps_shared_memory_new_from_fd: (constructor)
 * @fd: a file descriptor of a segment, from [method@SharedMemory.dup_fd]
 *   or [method@SharedMemory.dup_read_only_fd] in this or another process
 * @error: return location for a #GError
 *
 * Maps the segment another process handed over as @fd, after checking
 * what @fd is: an open descriptor of a shared-memory file (a memfd or a
 * tmpfs file) holding a whole procshared segment, whose size matches its
 * header. @fd is not taken: the segment keeps a duplicate of its own
 * (close-on-exec), and the caller closes @fd when it likes.
 *
 * A read-only descriptor (open `O_RDONLY`, or sealed against writing)
 * gives a read-only segment ([method@SharedMemory.is_read_only]): reads
 * work, and every write, and making or attaching any object placed in it
 * ([ctor@Mutex.new_at] and the others need to write), fails with
 * %G_IO_ERROR_READ_ONLY.
 *
 * A descriptor sealed against shrinking ([method@SharedMemory.seal]) needs
 * no guard against truncation; otherwise the segment is guarded as a
 * named one, so that a sender truncating the file cannot crash this
 * process (its accessors fail with %PS_ERROR_CORRUPT instead).
 *
 * Across fork(): the new segment is shared with children forked after
 * it, as any other, and they inherit its descriptor.
 *
 * Returns: (transfer full): the segment, or %NULL with
 *   %G_IO_ERROR_CLOSED (@fd is not open), %G_IO_ERROR_IS_DIRECTORY,
 *   %G_IO_ERROR_NOT_REGULAR_FILE (a pipe, socket or device),
 *   %G_IO_ERROR_NOT_SUPPORTED (a file that is not shared memory),
 *   %G_IO_ERROR_PERMISSION_DENIED (not open for reading),
 *   %PS_ERROR_CORRUPT (too small for a segment, or a size that is not
 *   its header's), %PS_ERROR_WRONG_TYPE (another kind of object),
 *   %PS_ERROR_INCOMPATIBLE, %G_IO_ERROR_TOO_MANY_OPEN_FILES or
 *   %G_IO_ERROR_NO_SPACE
 *
 * Since: 1.1
 */
PsSharedMemory *
ps_shared_memory_new_from_fd (gint     fd,
                              GError **error)
{
  g_return_val_if_fail (fd >= 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (PS_TYPE_SHARED_MEMORY, NULL, error, "fd", fd, NULL);
}

/**
 * ps_shared_memory_seal:
 * @self: a #PsSharedMemory
 * @error: return location for a #GError
 *
 * Seals the segment's file so that its size can never change
 * (`F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`): processes that receive
 * its descriptor then need no guard against truncation, and nobody can
 * make it lose its backing. Seal a segment before handing out its
 * descriptor to processes you do not trust. Sealing twice succeeds.
 *
 * No further seal can be added afterwards: make read-only descriptors
 * ([method@SharedMemory.dup_read_only_fd]) first. Sealing after them
 * works. The segment's content stays writable.
 *
 * Across fork(): the seal is on the memory, shared by parent and child.
 *
 * Returns: %TRUE once sealed; %FALSE with %G_IO_ERROR_NOT_SUPPORTED (a
 *   segment without a descriptor, a system without seals: only Linux
 *   memfds have them, or a file another process sealed otherwise) or
 *   %G_IO_ERROR_READ_ONLY (a read-only segment)
 *
 * Since: 1.1
 */
gboolean
ps_shared_memory_seal (PsSharedMemory  *self,
                       GError         **error)
{
  PsSharedMemoryFd *fd;

  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), FALSE);
  g_return_val_if_fail (ps_shared_memory_get_data (self) != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  fd = get_shareable_fd (self, error);
  if (fd == NULL)
    return FALSE;
  if (fd->fd_read_only)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY,
                           "The segment was shared with this process read-only: "
                           "only its owner can seal it");
      return FALSE;
    }
  return ps_platform_fd_seal (fd->fd, error);
}

/**
 * ps_shared_memory_is_read_only:
 * @self: a #PsSharedMemory
 *
 * Whether the segment is mapped read-only, having been received through
 * a read-only descriptor ([method@SharedMemory.dup_read_only_fd]). Its
 * writers fail with %G_IO_ERROR_READ_ONLY, and so does making or
 * attaching an object placed in it. A pointer from
 * [method@SharedMemory.get_data] must not be written through.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: %TRUE if the segment is read-only
 *
 * Since: 1.1
 */
gboolean
ps_shared_memory_is_read_only (PsSharedMemory *self)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), FALSE);

  return ps_shared_memory_get_fd (self)->read_only;
}

/**
 * ps_shared_memory_to_handle:
 * @self: a #PsSharedMemory
 * @fd_list: the #GUnixFDList of the D-Bus message or socket message
 *   the handle goes with
 * @error: return location for a #GError
 *
 * Adds a descriptor of the segment to @fd_list and returns its handle (a
 * #GVariant of type `h`), to pass in a D-Bus call or reply with @fd_list
 * (g_dbus_connection_call_with_unix_fd_list(),
 * g_dbus_method_invocation_return_value_with_unix_fd_list()); the other
 * side rebuilds the segment with [ctor@SharedMemory.new_from_handle].
 * The descriptor is that of [method@SharedMemory.dup_fd]; a read-only
 * segment gives its read-only one. For a read-only handle of a writable
 * segment, append the descriptor of
 * [method@SharedMemory.dup_read_only_fd] with g_unix_fd_list_append().
 *
 * Across fork(): as [method@SharedMemory.dup_fd].
 *
 * Returns: (transfer full): the handle, or %NULL with the errors of
 *   [method@SharedMemory.dup_fd] or g_unix_fd_list_append()
 *
 * Since: 1.1
 */
GVariant *
ps_shared_memory_to_handle (PsSharedMemory  *self,
                            GUnixFDList     *fd_list,
                            GError         **error)
{
  int fd;
  int index;

  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), NULL);
  g_return_val_if_fail (G_IS_UNIX_FD_LIST (fd_list), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (ps_shared_memory_is_read_only (self))
    fd = ps_shared_memory_dup_read_only_fd (self, error);
  else
    fd = ps_shared_memory_dup_fd (self, error);
  if (fd < 0)
    return NULL;
  index = g_unix_fd_list_append (fd_list, fd, error);
  close (fd);
  if (index < 0)
    return NULL;
  return g_variant_ref_sink (g_variant_new_handle (index));
}

/**
 * ps_shared_memory_new_from_handle: (constructor)
 * @handle: a #GVariant of type `h`, as [method@SharedMemory.to_handle]
 *   made it
 * @fd_list: the #GUnixFDList that came with it
 * @error: return location for a #GError
 *
 * Maps the segment whose descriptor is at @handle in @fd_list, as
 * [ctor@SharedMemory.new_from_fd] does; @fd_list keeps its descriptors.
 *
 * Across fork(): as [ctor@SharedMemory.new_from_fd].
 *
 * Returns: (transfer full): the segment, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (@handle is not in @fd_list) or the
 *   errors of [ctor@SharedMemory.new_from_fd]
 *
 * Since: 1.1
 */
PsSharedMemory *
ps_shared_memory_new_from_handle (GVariant     *handle,
                                  GUnixFDList  *fd_list,
                                  GError      **error)
{
  PsSharedMemory *memory;
  gint32 index;
  int fd;

  g_return_val_if_fail (handle != NULL, NULL);
  g_return_val_if_fail (g_variant_is_of_type (handle, G_VARIANT_TYPE_HANDLE), NULL);
  g_return_val_if_fail (G_IS_UNIX_FD_LIST (fd_list), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  index = g_variant_get_handle (handle);
  if (index < 0 || index >= g_unix_fd_list_get_length (fd_list))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Handle %d is not in the list of %d descriptors that came with it",
                   index, g_unix_fd_list_get_length (fd_list));
      return NULL;
    }
  fd = g_unix_fd_list_get (fd_list, index, error);
  if (fd < 0)
    return NULL;
  memory = ps_shared_memory_new_from_fd (fd, error);
  close (fd);
  return memory;
}
