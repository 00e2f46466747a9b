/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The CPUs a thread can run on, which decides whether polling for a peer
 * can ever succeed. It depends on the operating system, not on how the
 * backend waits, so every backend shares this file.
 */

#include <sched.h>
#include <unistd.h>

#include "ps-cpus-private.h"

guint
ps_cpus_usable (void)
{
  long online;

#if defined(__linux__)
  {
    cpu_set_t set;

    /* taskset, cgroup cpusets and containers restrict a thread to
     * fewer CPUs than the machine has. */
    if (sched_getaffinity (0, sizeof set, &set) == 0 && CPU_COUNT (&set) > 0)
      return (guint) CPU_COUNT (&set);
  }
#endif
  online = sysconf (_SC_NPROCESSORS_ONLN);
  return online > 0 ? (guint) online : 1;
}
