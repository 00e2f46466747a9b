/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_INSIDE) && !defined(PROCSHARED_COMPILATION)
# error "Only <procshared/procshared.h> can be included directly."
#endif

#include <gio/gio.h>

#include "ps-mutex.h"
#include "ps-names.h"
#include "ps-shared-memory.h"
#include "ps-version-macros.h"

G_BEGIN_DECLS

/**
 * PS_COND_SIZE:
 *
 * The number of bytes a condition variable occupies inside a
 * #PsSharedMemory, for ps_cond_new_at() and ps_cond_attach().
 *
 * Since: 1.0
 */
#define PS_COND_SIZE 256

#define PS_TYPE_COND (ps_cond_get_type ())

PS_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PsCond, ps_cond, PS, COND, GObject)

PS_AVAILABLE_IN_ALL
PsCond     *ps_cond_new        (GError        **error);
PS_AVAILABLE_IN_ALL
PsCond     *ps_cond_open       (const char     *name,
                                PsOpenFlags     flags,
                                GError        **error);
PS_AVAILABLE_IN_ALL
PsCond     *ps_cond_new_at     (PsSharedMemory *memory,
                                gsize           offset,
                                GError        **error);
PS_AVAILABLE_IN_ALL
PsCond     *ps_cond_attach     (PsSharedMemory *memory,
                                gsize           offset,
                                GError        **error);
PS_AVAILABLE_IN_ALL
gboolean    ps_cond_wait       (PsCond         *self,
                                PsMutex        *mutex,
                                gint64          timeout_us,
                                GCancellable   *cancellable,
                                GError        **error);
PS_AVAILABLE_IN_ALL
gboolean    ps_cond_wait_until (PsCond         *self,
                                PsMutex        *mutex,
                                gint64          end_time,
                                GCancellable   *cancellable,
                                GError        **error);
PS_AVAILABLE_IN_ALL
void        ps_cond_signal     (PsCond         *self);
PS_AVAILABLE_IN_ALL
void        ps_cond_broadcast  (PsCond         *self);
PS_AVAILABLE_IN_ALL
const char *ps_cond_get_name   (PsCond         *self);

PS_AVAILABLE_IN_1_1
PsCond  *ps_cond_open_full   (const char      *name,
                              PsOpenFlags      flags,
                              guint            mode,
                              GError         **error);
PS_AVAILABLE_IN_1_1
PsCond  *ps_cond_open_at     (PsSharedMemory  *memory,
                              gsize            offset,
                              PsOpenFlags      flags,
                              GError         **error);
PS_AVAILABLE_IN_1_1
gboolean ps_cond_get_created (PsCond          *self);
PS_AVAILABLE_IN_1_1
void     ps_cond_wait_async  (PsCond              *self,
                              PsMutex             *mutex,
                              gint64               timeout_us,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data);
PS_AVAILABLE_IN_1_1
gboolean ps_cond_wait_finish (PsCond              *self,
                              GAsyncResult        *result,
                              GError             **error);

G_END_DECLS
