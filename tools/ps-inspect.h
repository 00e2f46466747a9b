/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * Looking at a file in the shared-memory directory without touching it:
 * for the procshared tool, which lists and describes named objects.
 *
 * Nothing here maps, locks or writes anything. A file is classified from
 * its metadata and from the header bytes read with pread(), so a foreign
 * file is never treated as an object, and an object that is being
 * created (or whose creator died half-way) is reported as such at once
 * instead of being waited for.
 */

#include <gio/gio.h>

#include "ps-object-header-private.h"
#include "ps-robust-mutex-private.h"

G_BEGIN_DECLS

/* Where shm_open() puts named objects on Linux. */
#define PS_INSPECT_SHM_DIR "/dev/shm"

typedef enum
{
  PS_INSPECT_OBJECT,        /* a complete object this build can open */
  PS_INSPECT_UNFINISHED,    /* our header, never published: being created, or its creator died */
  PS_INSPECT_BLANK,         /* no header yet (empty or zero magic): being created, or not ours */
  PS_INSPECT_INCOMPATIBLE,  /* published by another layout version or backend */
  PS_INSPECT_CORRUPT,       /* our magic, but a header or size that no object can have */
  PS_INSPECT_FOREIGN,       /* not a procshared object, or not a regular file */
} PsInspectKind;

typedef struct
{
  PsInspectKind kind;
  PsObjectType  type;            /* 0 unless the header is ours and names a known type */
  guint         layout_version;  /* from our header; 0 otherwise */
  guint         backend;         /* from our header; 0 otherwise */
  guint64       payload_size;    /* from our header; 0 otherwise */
  guint64       file_size;
  guint32       uid;
  guint32       gid;
  guint32       mode;            /* permission bits (07777) */
  guint32       file_type;       /* st_mode & S_IFMT */
  char         *detail;          /* why the kind is not OBJECT; NULL for OBJECT */
} PsInspectInfo;

gboolean    ps_inspect_file             (int             dirfd,
                                         const char     *filename,
                                         PsInspectInfo  *info,
                                         GError        **error);
gboolean    ps_inspect_name             (const char     *name,
                                         PsInspectInfo  *info,
                                         GError        **error);
/* The state of the mutex @name, read with pread() (for one the library
 * refuses to open here: made in another PID namespace). */
gboolean    ps_inspect_read_mutex       (const char     *name,
                                         PsRobustMutex  *state,
                                         GError        **error);
void        ps_inspect_info_clear       (PsInspectInfo  *info);
const char *ps_inspect_kind_to_string   (PsInspectKind   kind);
const char *ps_inspect_backend_to_string (guint          backend);

G_END_DECLS
