/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* Linux: shared futexes, and a robust lock of our own over the kernel's
 * robust futex ABI, linked on the thread's robust list beside glibc's own
 * robust mutexes, so that the kernel repairs and wakes it when its holder
 * dies. The waits are in ps-futex-wait.c, the list in
 * ps-futex-robust-list.c, the lock protocol in ps-futex-lock.c. */

#include "ps-futex-lock.h"
#include "ps-futex-mark.h"
#include "ps-futex-types.h"

#define PS_BACKEND_ID PS_BACKEND_FUTEX
