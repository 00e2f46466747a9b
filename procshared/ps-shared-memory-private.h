/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

#include "ps-shared-memory.h"

G_BEGIN_DECLS

/* What a segment knows of its descriptors (ps-shared-memory-fd.c). */
typedef struct
{
  int      fd;               /* the segment's own descriptor, or -1: named, or made without */
  int      read_only_twin;   /* the fallback's O_RDONLY twin (ps-platform-fd), or -1 */
  int      source_fd;        /* the "fd" construct property, or -1 */
  gboolean read_only;        /* mapped read-only: every write is refused */
  gboolean fd_read_only;     /* @fd itself is open O_RDONLY */
  gboolean needs_guard;      /* mapped from a file others may shrink */
  gint     guarded;          /* the SIGBUS guard covers the mapping */
  gint     read_only_given;  /* a read-only descriptor was handed out */
  gint     header_written;   /* the header is in the memory (received ones have it) */
} PsSharedMemoryFd;

void     ps_shared_memory_fd_init   (PsSharedMemoryFd  *fd);
void     ps_shared_memory_fd_clear  (PsSharedMemoryFd  *fd);
/* Maps @total bytes of a new, zero-filled file for an anonymous segment,
 * keeping its descriptors in @fd. A process out of descriptors gets
 * plain shared anonymous memory instead, with no descriptor to share. */
gpointer ps_shared_memory_fd_create (PsSharedMemoryFd  *fd,
                                     gsize              total,
                                     GError           **error);
/* Maps the segment behind @fd->source_fd after checking it, keeping a
 * duplicate in @fd->fd. */
gboolean ps_shared_memory_fd_open   (PsSharedMemoryFd  *fd,
                                     gsize              data_offset,
                                     gpointer          *out_mapping,
                                     gsize             *out_mapping_size,
                                     GError           **error);
PsSharedMemoryFd *ps_shared_memory_get_fd (PsSharedMemory *self);
/* Puts the segment's mapping under the SIGBUS guard (ps-object-map.c),
 * once: when its file may be shrunk by another process. */
void     ps_shared_memory_guard     (PsSharedMemory    *self);
/* Writes the header of an anonymous segment into its memory before its
 * first descriptor leaves: what ps_shared_memory_new_from_fd() checks.
 * Until then no page of the segment is touched. Parent and child may
 * both write it after a fork(): the same bytes. */
void     ps_shared_memory_write_header (PsSharedMemory *self);
/* Whether the SIGBUS guard covers the segment (for tests). */
gboolean ps_shared_memory_is_guarded (PsSharedMemory   *self);
/* FALSE, with G_IO_ERROR_READ_ONLY, for a read-only segment. */
gboolean ps_shared_memory_check_writable (PsSharedMemory  *self,
                                          GError         **error);

/* The data of an initialised segment, and its size in @out_size: for the
 * accessors (ps-shared-memory-access.c). NULL, with a warning, before
 * the segment is initialised. */
guint8 *ps_shared_memory_peek (PsSharedMemory *self,
                               gsize          *out_size);

/* FALSE, with PS_ERROR_CORRUPT, once the segment has lost its backing
 * (another process truncated its file, and the SIGBUS guard swapped this
 * process's mapping for private zeros): the accessors check it before and
 * after touching the data, so that no read or write of such a segment
 * ever looks successful. */
gboolean ps_shared_memory_check_backing (PsSharedMemory  *self,
                                         GError         **error);

G_END_DECLS
