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
 * PS_BARRIER_SIZE:
 *
 * The number of bytes a barrier occupies inside a #PsSharedMemory, for
 * ps_barrier_new_at(), ps_barrier_open_at() and ps_barrier_attach().
 *
 * Since: 1.1
 */
#define PS_BARRIER_SIZE 256

/**
 * PS_BARRIER_MAX_PARTIES:
 *
 * The largest number of parties a barrier can have: the barrier records
 * each waiting party (its process, so that its death breaks the barrier)
 * in a table of this many entries inside its %PS_BARRIER_SIZE bytes.
 *
 * Since: 1.1
 */
#define PS_BARRIER_MAX_PARTIES 16

#define PS_TYPE_BARRIER (ps_barrier_get_type ())

PS_AVAILABLE_IN_1_1
G_DECLARE_FINAL_TYPE (PsBarrier, ps_barrier, PS, BARRIER, GObject)

PS_AVAILABLE_IN_1_1
PsBarrier  *ps_barrier_new           (guint                 parties,
                                      GError              **error);
PS_AVAILABLE_IN_1_1
PsBarrier  *ps_barrier_open          (const char           *name,
                                      PsOpenFlags           flags,
                                      guint                 parties,
                                      GError              **error);
PS_AVAILABLE_IN_1_1
PsBarrier  *ps_barrier_new_at        (PsSharedMemory       *memory,
                                      gsize                 offset,
                                      guint                 parties,
                                      GError              **error);
PS_AVAILABLE_IN_1_1
PsBarrier  *ps_barrier_open_at       (PsSharedMemory       *memory,
                                      gsize                 offset,
                                      PsOpenFlags           flags,
                                      guint                 parties,
                                      GError              **error);
PS_AVAILABLE_IN_1_1
PsBarrier  *ps_barrier_attach        (PsSharedMemory       *memory,
                                      gsize                 offset,
                                      GError              **error);
PS_AVAILABLE_IN_1_1
gint        ps_barrier_wait          (PsBarrier            *self,
                                      gint64                timeout_us,
                                      GCancellable         *cancellable,
                                      GError              **error);
PS_AVAILABLE_IN_1_1
void        ps_barrier_wait_async    (PsBarrier            *self,
                                      gint64                timeout_us,
                                      GCancellable         *cancellable,
                                      GAsyncReadyCallback   callback,
                                      gpointer              user_data);
PS_AVAILABLE_IN_1_1
gint        ps_barrier_wait_finish   (PsBarrier            *self,
                                      GAsyncResult         *result,
                                      GError              **error);
PS_AVAILABLE_IN_1_1
gboolean    ps_barrier_reset         (PsBarrier            *self,
                                      GError              **error);
PS_AVAILABLE_IN_1_1
void        ps_barrier_abort         (PsBarrier            *self);
PS_AVAILABLE_IN_1_1
guint       ps_barrier_get_parties   (PsBarrier            *self);
PS_AVAILABLE_IN_1_1
guint       ps_barrier_get_n_waiting (PsBarrier            *self);
PS_AVAILABLE_IN_1_1
gboolean    ps_barrier_is_broken     (PsBarrier            *self);
PS_AVAILABLE_IN_1_1
gboolean    ps_barrier_get_created   (PsBarrier            *self);
PS_AVAILABLE_IN_1_1
const char *ps_barrier_get_name      (PsBarrier            *self);

G_END_DECLS
