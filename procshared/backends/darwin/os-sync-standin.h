/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A stand-in, for Linux, for the few macOS interfaces that the darwin
 * backend calls, so that its code can be compiled and tested where no Mac
 * is available. Only what the backend uses is here, with the signatures,
 * constants and error behaviour of the macOS 14.4 SDK:
 *
 *  - <os/os_sync_wait_on_address.h>: the wait and wake calls, over futex;
 *  - <os/clock.h>: OS_CLOCK_MACH_ABSOLUTE_TIME;
 *  - <pthread.h>: pthread_threadid_np(), for the calling thread only;
 *  - <sys/sysctl.h>: sysctl() for { CTL_KERN, KERN_PROC, KERN_PROC_PID },
 *    filling kp_proc.p_stat and kp_proc.p_starttime from /proc/PID/stat.
 *
 * Known differences, none of which the backend depends on: a wait returns
 * 0 rather than the number of remaining waiters; 8-byte waits fail with
 * EINVAL (a futex compares 32 bits only, and pretending otherwise would
 * lose wake-ups); no kernel state ties an address to its flags, so
 * mismatched flags give silence rather than EINVAL.
 *
 * Setting PS_DARWIN_STANDIN_EINTR_EVERY=N in the environment makes every
 * Nth wait fail at once with EINTR, the spurious return that macOS
 * documents, to exercise the backend's retry paths.
 */

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/time.h>
#include <sys/types.h>

/* <os/clock.h> */
typedef uint32_t os_clockid_t;
#define OS_CLOCK_MACH_ABSOLUTE_TIME ((os_clockid_t) 32)

/* <os/os_sync_wait_on_address.h> */
typedef uint32_t os_sync_wait_on_address_flags_t;
#define OS_SYNC_WAIT_ON_ADDRESS_NONE   ((os_sync_wait_on_address_flags_t) 0x00000000)
#define OS_SYNC_WAIT_ON_ADDRESS_SHARED ((os_sync_wait_on_address_flags_t) 0x00000001)

typedef uint32_t os_sync_wake_by_address_flags_t;
#define OS_SYNC_WAKE_BY_ADDRESS_NONE   ((os_sync_wake_by_address_flags_t) 0x00000000)
#define OS_SYNC_WAKE_BY_ADDRESS_SHARED ((os_sync_wake_by_address_flags_t) 0x00000001)

int os_sync_wait_on_address              (void                            *addr,
                                          uint64_t                         value,
                                          size_t                           size,
                                          os_sync_wait_on_address_flags_t  flags);
int os_sync_wait_on_address_with_timeout (void                            *addr,
                                          uint64_t                         value,
                                          size_t                           size,
                                          os_sync_wait_on_address_flags_t  flags,
                                          os_clockid_t                     clockid,
                                          uint64_t                         timeout_ns);
int os_sync_wake_by_address_any          (void                            *addr,
                                          size_t                           size,
                                          os_sync_wake_by_address_flags_t  flags);
int os_sync_wake_by_address_all          (void                            *addr,
                                          size_t                           size,
                                          os_sync_wake_by_address_flags_t  flags);

/* <pthread.h> */
int pthread_threadid_np (pthread_t  thread,
                         uint64_t  *thread_id);

/* <sys/proc.h> and <sys/sysctl.h>: the part of struct kinfo_proc that the
 * backend reads, under the same names. */
#define CTL_KERN      1
#define KERN_PROC     14
#define KERN_PROC_PID 1
#define SZOMB         5

struct extern_proc
{
  struct timeval p_starttime;
  pid_t          p_pid;
  char           p_stat;
};

struct kinfo_proc
{
  struct extern_proc kp_proc;
};

/* glibc once had a sysctl() of its own (still in libc.so as a
 * compatibility symbol): keep clear of its name. */
#define sysctl ps_darwin_standin_sysctl
int sysctl (int    *name,
            u_int   namelen,
            void   *oldp,
            size_t *oldlenp,
            void   *newp,
            size_t  newlen);
