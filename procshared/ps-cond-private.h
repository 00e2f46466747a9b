/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

#include "ps-backend-private.h"
#include "ps-cond.h"

G_BEGIN_DECLS

/* For diagnostics (the procshared tool): how many threads are inside a
 * wait right now. A waiter that died mid-wait is counted until the next
 * broadcast, or the next signal where the platform tells that nobody
 * was asleep (the futex and darwin backends; the posix one cannot). */
guint ps_cond_get_waiter_count (PsCond *self);

/* For the async wait (ps-cond-async.c): the word waits sleep on (NULL
 * and @error if the condition could not be made), and the count of
 * waiters a broadcast forgets (ps_cond_waiter_leave() counts a waiter out
 * unless a broadcast did). */
PsWaitWord *ps_cond_get_sequence (PsCond   *self,
                                  GError  **error);
guint64     ps_cond_waiter_enter (PsCond   *self);
void        ps_cond_waiter_leave (PsCond   *self,
                                  guint64   generation);

G_END_DECLS
