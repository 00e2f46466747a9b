/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* PsRWLock's reader slots (ps-rw-lock-slots.c), for its protocol
 * (ps-rw-lock-shares.c). */

#include "ps-rw-lock-private.h"

G_BEGIN_DECLS

PsLockStatus ps_rw_lock_wait_slot (PsRwSlot *slot,
                                   gint64 deadline,
                                   GCancellable *cancellable);
PsRwTake ps_rw_lock_take_status (PsRwSlot *slot,
                                 PsLockStatus status);
PsRwTake ps_rw_lock_finish_take (PsRwLockHandle *handle,
                                   PsRwSlot *slot,
                                   PsLockStatus status,
                                   gboolean check_gate);
void ps_rw_lock_record_read (PsRwLockHandle *handle,
                             guint index,
                             guint64 thread_id);
gboolean ps_rw_lock_read_taken (PsRwLockHandle *handle,
                                guint index,
                                guint64 thread_id,
                                gboolean probe);
gboolean ps_rw_lock_set_take_error (PsRwTake result,
                                    GError **error);
PsRwTake ps_rw_lock_take_free_slot (PsRwLockHandle *handle,
                                      guint64 thread_id,
                                      gboolean check_gate,
                                      guint *out_index);
PsRwReadHold * ps_rw_lock_find_hold (PsRwOwnership *own,
                                     guint64 thread_id);
PsRwSlot * ps_rw_lock_forget_read (PsRwLockHandle *handle,
                                   PsRwReadHold *hold);


/* The protocol's steps (ps-rw-lock-shares.c), for the async locks
 * (ps-rw-lock-async.c), which take them one try at a time. */
gboolean ps_rw_lock_lock_writers        (PsRwLockHandle  *handle,
                                         gint64           deadline,
                                         GCancellable    *cancellable,
                                         gboolean        *out_dead,
                                         GError         **error);
gboolean ps_rw_lock_close_gate          (PsRwLockHandle  *handle,
                                         GError         **error);
guint64  ps_rw_lock_marked_slots        (PsRwLockState   *state);
PsRwTake ps_rw_lock_drain_marked        (PsRwLockHandle  *handle,
                                         guint64         *marked,
                                         gint64           deadline,
                                         GCancellable    *cancellable,
                                         PsRwAsyncLock   *wait);
gboolean ps_rw_lock_check_writer        (PsRwLockHandle  *handle,
                                         guint64          thread_id,
                                         GError         **error);
gint     ps_rw_lock_read_under_writers  (PsRwLockHandle  *handle,
                                         guint64          thread_id,
                                         gboolean         probe,
                                         GError         **error);
void     ps_rw_lock_set_owner_dead_error (GError        **error,
                                          guint32         dead_pid);
void     ps_rw_lock_end_watch           (PsRwAsyncLock   *wait,
                                         gboolean         taken);

G_END_DECLS
