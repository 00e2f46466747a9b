/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * What the operating system says about the machine: the CPUs a thread can
 * run on (whether polling for a peer can ever succeed), the memory there
 * is, random bytes that need no lock. It depends on the operating system,
 * not on how the backend waits, so every backend shares this file.
 */

#include <sched.h>
#include <unistd.h>
#ifdef __linux__
# include <sys/sysinfo.h>
#endif
#if defined(__has_include)
# if __has_include(<sys/random.h>)
#  include <sys/random.h>
#  define PS_HAVE_GETENTROPY 1
# endif
#endif

#include "ps-system-private.h"

guint
ps_system_cpus_online (void)
{
  long online = sysconf (_SC_NPROCESSORS_ONLN);

  return online > 0 ? (guint) online : 1;
}

gint
ps_system_current_cpu (void)
{
#if defined(__linux__)
  /* From the rseq area glibc keeps registered: no system call. */
  return sched_getcpu ();
#else
  return -1;
#endif
}

guint
ps_system_cpus_usable (void)
{
#if defined(__linux__)
  {
    cpu_set_t set;

    /* taskset, cgroup cpusets and containers restrict a thread to
     * fewer CPUs than the machine has. */
    if (sched_getaffinity (0, sizeof set, &set) == 0 && CPU_COUNT (&set) > 0)
      return (guint) CPU_COUNT (&set);
  }
#endif
  return ps_system_cpus_online ();
}

guint64
ps_system_memory_size (void)
{
#ifdef __linux__
  struct sysinfo info;

  if (sysinfo (&info) == 0)
    return ((guint64) info.totalram + info.totalswap) * MAX (info.mem_unit, 1);
#endif
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  {
    long pages = sysconf (_SC_PHYS_PAGES);
    long page_size = sysconf (_SC_PAGESIZE);

    if (pages > 0 && page_size > 0)
      return (guint64) pages * (guint64) page_size;
  }
#endif
  return G_MAXUINT64;
}

gboolean
ps_system_entropy (gpointer buffer,
                   gsize    size)
{
  g_assert (size <= 256);
#ifdef PS_HAVE_GETENTROPY
  return getentropy (buffer, size) == 0;
#else
  (void) buffer;
  (void) size;
  return FALSE;
#endif
}
