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
 * PsQueueMessageKind:
 * @PS_QUEUE_MESSAGE_BYTES: the message was sent as bytes, with
 *   ps_queue_send() or ps_queue_send_with()
 * @PS_QUEUE_MESSAGE_VARIANT: the message was sent as a #GVariant, with
 *   ps_queue_send_variant()
 *
 * How a message was sent; a queue remembers it with each message so a
 * receiver can hand back the same kind of value (Python's `get()` does).
 *
 * Since: 1.1
 */
typedef enum
{
  PS_QUEUE_MESSAGE_BYTES,
  PS_QUEUE_MESSAGE_VARIANT,
} PsQueueMessageKind;

/**
 * PsQueueFillFunc:
 * @slot: (array length=size) (element-type guint8): the message's bytes
 *   inside the queue, to be written
 * @size: the size the sender asked for
 * @user_data: the data given to ps_queue_send_with()
 *
 * Writes a message in place, without a copy through a #GBytes. The
 * message becomes visible to receivers only after the function returns.
 *
 * Since: 1.1
 */
typedef void (*PsQueueFillFunc) (guint8   *slot,
                                 gsize     size,
                                 gpointer  user_data);

/**
 * PsQueueReadFunc:
 * @message: (array length=size) (element-type guint8): the message's
 *   bytes inside the queue, valid only during the call
 * @size: the message's size
 * @kind: how the message was sent
 * @priority: the message's priority
 * @user_data: the data given to ps_queue_receive_with()
 *
 * Reads a message in place, without a copy into a #GBytes.
 *
 * Since: 1.1
 */
typedef void (*PsQueueReadFunc) (const guint8       *message,
                                 gsize               size,
                                 PsQueueMessageKind  kind,
                                 guint               priority,
                                 gpointer            user_data);

#define PS_TYPE_QUEUE (ps_queue_get_type ())

PS_AVAILABLE_IN_1_1
G_DECLARE_FINAL_TYPE (PsQueue, ps_queue, PS, QUEUE, GObject)

PS_AVAILABLE_IN_1_1
gsize       ps_queue_measure              (guint                 capacity,
                                           gsize                 max_message_size);
PS_AVAILABLE_IN_1_1
PsQueue    *ps_queue_new                  (guint                 capacity,
                                           gsize                 max_message_size,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
PsQueue    *ps_queue_open                 (const char           *name,
                                           PsOpenFlags           flags,
                                           guint                 capacity,
                                           gsize                 max_message_size,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
PsQueue    *ps_queue_new_at               (PsSharedMemory       *memory,
                                           gsize                 offset,
                                           guint                 capacity,
                                           gsize                 max_message_size,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
PsQueue    *ps_queue_open_at              (PsSharedMemory       *memory,
                                           gsize                 offset,
                                           PsOpenFlags           flags,
                                           guint                 capacity,
                                           gsize                 max_message_size,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
PsQueue    *ps_queue_attach               (PsSharedMemory       *memory,
                                           gsize                 offset,
                                           GError              **error);

PS_AVAILABLE_IN_1_1
gboolean    ps_queue_send                 (PsQueue              *self,
                                           GBytes               *message,
                                           guint                 priority,
                                           gint64                timeout_us,
                                           GCancellable         *cancellable,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_queue_send_variant         (PsQueue              *self,
                                           GVariant             *value,
                                           guint                 priority,
                                           gint64                timeout_us,
                                           GCancellable         *cancellable,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_queue_send_with            (PsQueue              *self,
                                           gsize                 size,
                                           guint                 priority,
                                           PsQueueFillFunc       fill,
                                           gpointer              user_data,
                                           gint64                timeout_us,
                                           GCancellable         *cancellable,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
GBytes     *ps_queue_receive              (PsQueue              *self,
                                           guint                *out_priority,
                                           gint64                timeout_us,
                                           GCancellable         *cancellable,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
GVariant   *ps_queue_receive_variant      (PsQueue              *self,
                                           guint                *out_priority,
                                           gint64                timeout_us,
                                           GCancellable         *cancellable,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_queue_receive_message      (PsQueue              *self,
                                           PsQueueMessageKind   *out_kind,
                                           GBytes              **out_bytes,
                                           GVariant            **out_variant,
                                           guint                *out_priority,
                                           gint64                timeout_us,
                                           GCancellable         *cancellable,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_queue_receive_with         (PsQueue              *self,
                                           PsQueueReadFunc       read,
                                           gpointer              user_data,
                                           gint64                timeout_us,
                                           GCancellable         *cancellable,
                                           GError              **error);

PS_AVAILABLE_IN_1_1
void        ps_queue_send_async           (PsQueue              *self,
                                           GBytes               *message,
                                           guint                 priority,
                                           gint64                timeout_us,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
PS_AVAILABLE_IN_1_1
void        ps_queue_send_variant_async   (PsQueue              *self,
                                           GVariant             *value,
                                           guint                 priority,
                                           gint64                timeout_us,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
PS_AVAILABLE_IN_1_1
gboolean    ps_queue_send_finish          (PsQueue              *self,
                                           GAsyncResult         *result,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
void        ps_queue_receive_async        (PsQueue              *self,
                                           gint64                timeout_us,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
PS_AVAILABLE_IN_1_1
GBytes     *ps_queue_receive_finish       (PsQueue              *self,
                                           GAsyncResult         *result,
                                           guint                *out_priority,
                                           GError              **error);
PS_AVAILABLE_IN_1_1
void        ps_queue_receive_message_async (PsQueue             *self,
                                            gint64               timeout_us,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
PS_AVAILABLE_IN_1_1
gboolean    ps_queue_receive_message_finish (PsQueue            *self,
                                             GAsyncResult       *result,
                                             PsQueueMessageKind *out_kind,
                                             GBytes            **out_bytes,
                                             GVariant          **out_variant,
                                             guint              *out_priority,
                                             GError            **error);

PS_AVAILABLE_IN_1_1
guint       ps_queue_get_length           (PsQueue              *self);
PS_AVAILABLE_IN_1_1
guint       ps_queue_get_capacity         (PsQueue              *self);
PS_AVAILABLE_IN_1_1
gsize       ps_queue_get_max_message_size (PsQueue              *self);
PS_AVAILABLE_IN_1_1
gboolean    ps_queue_get_created          (PsQueue              *self);
PS_AVAILABLE_IN_1_1
const char *ps_queue_get_name             (PsQueue              *self);

G_END_DECLS
