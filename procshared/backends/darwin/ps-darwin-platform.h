/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Everything the darwin backend uses beyond POSIX, in one place.
 *
 * On a Mac these are the system's own headers. On any other host, the
 * build (procshared/backends/meson.build) compiles os-sync-standin.c,
 * which implements the same declarations over Linux futexes, so that
 * ps-backend-darwin.c, unchanged, runs under the test suite there. This
 * is the only platform conditional of the backend.
 */

#ifdef __APPLE__
# include <os/clock.h>
# include <os/os_sync_wait_on_address.h>
# include <pthread.h>            /* pthread_threadid_np() */
# include <sys/proc.h>           /* SZOMB */
# include <sys/sysctl.h>         /* KERN_PROC_PID, struct kinfo_proc */
#else
# include "os-sync-standin.h"
#endif
