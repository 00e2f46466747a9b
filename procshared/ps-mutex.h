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
 * PS_MUTEX_SIZE:
 *
 * The number of bytes a mutex occupies inside a #PsSharedMemory, for
 * ps_mutex_new_at() and ps_mutex_attach().
 *
 * Since: 1.0
 */
#define PS_MUTEX_SIZE 256

#define PS_TYPE_MUTEX (ps_mutex_get_type ())

PS_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PsMutex, ps_mutex, PS, MUTEX, GObject)

PS_AVAILABLE_IN_ALL
PsMutex    *ps_mutex_new             (GError        **error);
PS_AVAILABLE_IN_ALL
PsMutex    *ps_mutex_new_recursive   (GError        **error);
PS_AVAILABLE_IN_ALL
PsMutex    *ps_mutex_open            (const char     *name,
                                      PsOpenFlags     flags,
                                      GError        **error);
PS_AVAILABLE_IN_ALL
PsMutex    *ps_mutex_new_at          (PsSharedMemory *memory,
                                      gsize           offset,
                                      GError        **error);
PS_AVAILABLE_IN_ALL
PsMutex    *ps_mutex_attach          (PsSharedMemory *memory,
                                      gsize           offset,
                                      GError        **error);
PS_AVAILABLE_IN_ALL
gboolean    ps_mutex_lock            (PsMutex        *self,
                                      gint64          timeout_us,
                                      GCancellable   *cancellable,
                                      GError        **error);
PS_AVAILABLE_IN_ALL
gboolean    ps_mutex_try_lock        (PsMutex        *self,
                                      GError        **error);
PS_AVAILABLE_IN_ALL
gboolean    ps_mutex_unlock          (PsMutex        *self,
                                      GError        **error);
PS_AVAILABLE_IN_ALL
gboolean    ps_mutex_mark_consistent (PsMutex        *self,
                                      GError        **error);
PS_AVAILABLE_IN_ALL
gboolean    ps_mutex_is_recursive    (PsMutex        *self);
PS_AVAILABLE_IN_ALL
GPid        ps_mutex_get_owner_pid   (PsMutex        *self);
PS_AVAILABLE_IN_ALL
const char *ps_mutex_get_name        (PsMutex        *self);

PS_AVAILABLE_IN_1_1
PsMutex *ps_mutex_open_full              (const char      *name,
                                          PsOpenFlags      flags,
                                          guint            mode,
                                          gboolean         recursive,
                                          GError         **error);
PS_AVAILABLE_IN_1_1
PsMutex *ps_mutex_open_at                (PsSharedMemory  *memory,
                                          gsize            offset,
                                          PsOpenFlags      flags,
                                          GError         **error);
PS_AVAILABLE_IN_1_1
PsMutex *ps_mutex_open_at_full           (PsSharedMemory  *memory,
                                          gsize            offset,
                                          PsOpenFlags      flags,
                                          gboolean         recursive,
                                          GError         **error);
PS_AVAILABLE_IN_1_1
gboolean ps_mutex_get_created            (PsMutex         *self);
PS_AVAILABLE_IN_1_1
GPid     ps_mutex_get_previous_owner_pid (PsMutex         *self);
PS_AVAILABLE_IN_1_1
void     ps_mutex_lock_async             (PsMutex             *self,
                                          gint64               timeout_us,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
PS_AVAILABLE_IN_1_1
gboolean ps_mutex_lock_finish            (PsMutex             *self,
                                          GAsyncResult        *result,
                                          GError             **error);

G_END_DECLS
