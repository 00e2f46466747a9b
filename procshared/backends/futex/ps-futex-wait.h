/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* Sleeping on a shared futex word, for the wait words and for the lock's
 * waiters alike. See ps-futex-wait.c. */

#include <glib.h>

#include "ps-backend-common-private.h"
#include "ps-futex-types.h"

PsWaitStatus ps_futex_wait_until (guint32     *uaddr,
                                  guint32      expected,
                                  gint64       deadline,
                                  PsCanceller *canceller);
void         ps_futex_wake       (guint32     *uaddr,
                                  int          count,
                                  gboolean     private_futex);
