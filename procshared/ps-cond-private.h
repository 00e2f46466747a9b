/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

#include "ps-cond.h"

G_BEGIN_DECLS

/* For diagnostics (the procshared tool): how many threads are inside a
 * wait right now. A waiter that died mid-wait is counted until the next
 * broadcast, or the next signal where the platform tells that nobody
 * was asleep (the futex and darwin backends; the posix one cannot). */
guint ps_cond_get_waiter_count (PsCond *self);

G_END_DECLS
