/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_INSIDE) && !defined(PROCSHARED_COMPILATION)
# error "Only <procshared/procshared.h> can be included directly."
#endif

#include <gio/gio.h>

#include "ps-names.h"
#include "ps-shared-memory.h"
#include "ps-version-macros.h"

G_BEGIN_DECLS

/**
 * PS_RW_LOCK_SIZE:
 *
 * The number of bytes a reader-writer lock occupies inside a
 * #PsSharedMemory, for ps_rw_lock_new_at(), ps_rw_lock_open_at() and
 * ps_rw_lock_attach(): its writers' lock and 60 reader slots, each on a
 * cache line of its own.
 *
 * Since: 1.1
 */
#define PS_RW_LOCK_SIZE 4096

#define PS_TYPE_RW_LOCK (ps_rw_lock_get_type ())

PS_AVAILABLE_IN_1_1
G_DECLARE_FINAL_TYPE (PsRWLock, ps_rw_lock, PS, RW_LOCK, GObject)

PS_AVAILABLE_IN_1_1
PsRWLock   *ps_rw_lock_new              (GError             **error);
PS_AVAILABLE_IN_1_1
PsRWLock   *ps_rw_lock_open             (const char          *name,
                                         PsOpenFlags          flags,
                                         GError             **error);
PS_AVAILABLE_IN_1_1
PsRWLock   *ps_rw_lock_new_at           (PsSharedMemory      *memory,
                                         gsize                offset,
                                         GError             **error);
PS_AVAILABLE_IN_1_1
PsRWLock   *ps_rw_lock_open_at          (PsSharedMemory      *memory,
                                         gsize                offset,
                                         PsOpenFlags          flags,
                                         GError             **error);
PS_AVAILABLE_IN_1_1
PsRWLock   *ps_rw_lock_attach           (PsSharedMemory      *memory,
                                         gsize                offset,
                                         GError             **error);

PS_AVAILABLE_IN_1_1
gboolean    ps_rw_lock_read_lock        (PsRWLock            *self,
                                         gint64               timeout_us,
                                         GCancellable        *cancellable,
                                         GError             **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_rw_lock_try_read_lock    (PsRWLock            *self,
                                         GError             **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_rw_lock_read_unlock      (PsRWLock            *self,
                                         GError             **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_rw_lock_write_lock       (PsRWLock            *self,
                                         gint64               timeout_us,
                                         GCancellable        *cancellable,
                                         GError             **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_rw_lock_try_write_lock   (PsRWLock            *self,
                                         GError             **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_rw_lock_write_unlock     (PsRWLock            *self,
                                         GError             **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_rw_lock_mark_consistent  (PsRWLock            *self,
                                         GError             **error);

PS_AVAILABLE_IN_1_1
void        ps_rw_lock_read_lock_async   (PsRWLock            *self,
                                          gint64               timeout_us,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
PS_AVAILABLE_IN_1_1
gboolean    ps_rw_lock_read_lock_finish  (PsRWLock            *self,
                                          GAsyncResult        *result,
                                          GError             **error);
PS_AVAILABLE_IN_1_1
void        ps_rw_lock_write_lock_async  (PsRWLock            *self,
                                          gint64               timeout_us,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
PS_AVAILABLE_IN_1_1
gboolean    ps_rw_lock_write_lock_finish (PsRWLock            *self,
                                          GAsyncResult        *result,
                                          GError             **error);

PS_AVAILABLE_IN_1_1
gboolean    ps_rw_lock_get_created      (PsRWLock            *self);
PS_AVAILABLE_IN_1_1
const char *ps_rw_lock_get_name         (PsRWLock            *self);
PS_AVAILABLE_IN_1_1
guint       ps_rw_lock_get_n_readers    (PsRWLock            *self);
PS_AVAILABLE_IN_1_1
GPid        ps_rw_lock_get_writer_pid   (PsRWLock            *self);

G_END_DECLS
