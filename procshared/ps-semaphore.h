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
 * PS_SEMAPHORE_SIZE:
 *
 * The number of bytes a semaphore occupies inside a #PsSharedMemory, for
 * ps_semaphore_new_at() and ps_semaphore_attach().
 *
 * Since: 1.0
 */
#define PS_SEMAPHORE_SIZE 256

#define PS_TYPE_SEMAPHORE (ps_semaphore_get_type ())

PS_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PsSemaphore, ps_semaphore, PS, SEMAPHORE, GObject)

PS_AVAILABLE_IN_ALL
PsSemaphore *ps_semaphore_new            (guint                 value,
                                          GError              **error);
PS_AVAILABLE_IN_ALL
PsSemaphore *ps_semaphore_new_bounded    (guint                 value,
                                          guint                 max_value,
                                          GError              **error);
PS_AVAILABLE_IN_ALL
PsSemaphore *ps_semaphore_open           (const char           *name,
                                          PsOpenFlags           flags,
                                          guint                 value,
                                          GError              **error);
PS_AVAILABLE_IN_ALL
PsSemaphore *ps_semaphore_new_at         (PsSharedMemory       *memory,
                                          gsize                 offset,
                                          guint                 value,
                                          GError              **error);
PS_AVAILABLE_IN_ALL
PsSemaphore *ps_semaphore_attach         (PsSharedMemory       *memory,
                                          gsize                 offset,
                                          GError              **error);
PS_AVAILABLE_IN_ALL
gboolean     ps_semaphore_acquire        (PsSemaphore          *self,
                                          gint64                timeout_us,
                                          GCancellable         *cancellable,
                                          GError              **error);
PS_AVAILABLE_IN_ALL
gboolean     ps_semaphore_try_acquire    (PsSemaphore          *self);
PS_AVAILABLE_IN_ALL
gboolean     ps_semaphore_release        (PsSemaphore          *self,
                                          GError              **error);
PS_AVAILABLE_IN_ALL
guint        ps_semaphore_get_value      (PsSemaphore          *self);
PS_AVAILABLE_IN_ALL
guint        ps_semaphore_get_max_value  (PsSemaphore          *self);
PS_AVAILABLE_IN_ALL
const char  *ps_semaphore_get_name       (PsSemaphore          *self);
PS_AVAILABLE_IN_ALL
void         ps_semaphore_acquire_async  (PsSemaphore          *self,
                                          gint64                timeout_us,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
PS_AVAILABLE_IN_ALL
gboolean     ps_semaphore_acquire_finish (PsSemaphore          *self,
                                          GAsyncResult         *result,
                                          GError              **error);

PS_AVAILABLE_IN_1_1
PsSemaphore *ps_semaphore_open_full    (const char      *name,
                                        PsOpenFlags      flags,
                                        guint            mode,
                                        guint            value,
                                        guint            max_value,
                                        GError         **error);
PS_AVAILABLE_IN_1_1
PsSemaphore *ps_semaphore_open_at      (PsSharedMemory  *memory,
                                        gsize            offset,
                                        PsOpenFlags      flags,
                                        guint            value,
                                        GError         **error);
PS_AVAILABLE_IN_1_1
PsSemaphore *ps_semaphore_open_at_full (PsSharedMemory  *memory,
                                        gsize            offset,
                                        PsOpenFlags      flags,
                                        guint            value,
                                        guint            max_value,
                                        GError         **error);
PS_AVAILABLE_IN_1_1
gboolean     ps_semaphore_release_many (PsSemaphore     *self,
                                        guint            count,
                                        GError         **error);
PS_AVAILABLE_IN_1_1
gboolean     ps_semaphore_get_created  (PsSemaphore     *self);

G_END_DECLS
