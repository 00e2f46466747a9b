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
 * PS_EVENT_SIZE:
 *
 * The number of bytes an event occupies inside a #PsSharedMemory, for
 * ps_event_new_at(), ps_event_open_at() and ps_event_attach().
 *
 * Since: 1.1
 */
#define PS_EVENT_SIZE 256

#define PS_TYPE_EVENT (ps_event_get_type ())

PS_AVAILABLE_IN_1_1
G_DECLARE_FINAL_TYPE (PsEvent, ps_event, PS, EVENT, GObject)

PS_AVAILABLE_IN_1_1
PsEvent    *ps_event_new            (gboolean              auto_reset,
                                     GError              **error);
PS_AVAILABLE_IN_1_1
PsEvent    *ps_event_open           (const char           *name,
                                     PsOpenFlags           flags,
                                     gboolean              auto_reset,
                                     GError              **error);
PS_AVAILABLE_IN_1_1
PsEvent    *ps_event_new_at         (PsSharedMemory       *memory,
                                     gsize                 offset,
                                     gboolean              auto_reset,
                                     GError              **error);
PS_AVAILABLE_IN_1_1
PsEvent    *ps_event_open_at        (PsSharedMemory       *memory,
                                     gsize                 offset,
                                     PsOpenFlags           flags,
                                     gboolean              auto_reset,
                                     GError              **error);
PS_AVAILABLE_IN_1_1
PsEvent    *ps_event_attach         (PsSharedMemory       *memory,
                                     gsize                 offset,
                                     GError              **error);
PS_AVAILABLE_IN_1_1
void        ps_event_set            (PsEvent              *self);
PS_AVAILABLE_IN_1_1
void        ps_event_reset          (PsEvent              *self);
PS_AVAILABLE_IN_1_1
gboolean    ps_event_is_set         (PsEvent              *self);
PS_AVAILABLE_IN_1_1
gboolean    ps_event_wait           (PsEvent              *self,
                                     gint64                timeout_us,
                                     GCancellable         *cancellable,
                                     GError              **error);
PS_AVAILABLE_IN_1_1
void        ps_event_wait_async     (PsEvent              *self,
                                     gint64                timeout_us,
                                     GCancellable         *cancellable,
                                     GAsyncReadyCallback   callback,
                                     gpointer              user_data);
PS_AVAILABLE_IN_1_1
gboolean    ps_event_wait_finish    (PsEvent              *self,
                                     GAsyncResult         *result,
                                     GError              **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_event_get_auto_reset (PsEvent              *self);
PS_AVAILABLE_IN_1_1
gboolean    ps_event_get_created    (PsEvent              *self);
PS_AVAILABLE_IN_1_1
const char *ps_event_get_name       (PsEvent              *self);

G_END_DECLS
