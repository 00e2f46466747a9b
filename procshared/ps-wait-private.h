/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* Timeouts and GCancellable on top of the backend's PsCanceller. */

#include <gio/gio.h>

#include "ps-backend-private.h"

G_BEGIN_DECLS

typedef struct
{
  PsCanceller   canceller;
  GCancellable *cancellable;
  gulong        handler_id;
} PsWaitContext;

gint64   ps_deadline_from_timeout (gint64          timeout_us);
gboolean ps_wait_context_begin    (PsWaitContext  *context,
                                   GCancellable   *cancellable,
                                   GError        **error);
void     ps_wait_context_end      (PsWaitContext  *context);

static inline PsCanceller *
ps_wait_context_get_canceller (PsWaitContext *context)
{
  return context->cancellable != NULL ? &context->canceller : NULL;
}

void     ps_set_wait_error        (GError        **error,
                                   PsWaitStatus    status,
                                   const char     *what);
void     ps_set_would_block_error (GError        **error,
                                   const char     *what);

G_END_DECLS
