/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* Sleeping on a shared word until it differs from @expected, the
 * deadline passes or @canceller fires, for the wait words and the
 * robust locks' waiters alike. See ps-darwin-wait.c. */

#include <glib.h>

#include "ps-backend-common-private.h"

PsWaitStatus ps_darwin_wait_on_address (guint32     *address,
                                        guint32      expected,
                                        gint64       deadline,
                                        PsCanceller *canceller);
