/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The Linux stand-in for the macOS calls of the darwin backend; see
 * os-sync-standin.h. Built only when the darwin backend is configured on
 * a host that is not a Mac.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "os-sync-standin.h"

static gboolean
check_address (void   *addr,
               size_t  size)
{
  if (addr == NULL || (size != 4 && size != 8) || (uintptr_t) addr % size != 0)
    return FALSE;
  /* macOS waits on 8 bytes as well; a futex compares only 32 bits, so an
   * 8-byte wait here could sleep through a change in the other half. The
   * backend never asks for one. */
  return size == 4;
}

static gboolean
inject_interruption (void)
{
  static gint every = -1;
  static gint count;
  gint n = g_atomic_int_get (&every);

  if (n < 0)
    {
      const char *value = g_getenv ("PS_DARWIN_STANDIN_EINTR_EVERY");

      n = value != NULL ? (gint) CLAMP (g_ascii_strtoll (value, NULL, 10), 0, G_MAXINT) : 0;
      g_atomic_int_set (&every, n);
    }
  return n > 0 && (guint) g_atomic_int_add (&count, 1) % (guint) n == 0;
}

static int
wait_on_futex (void                            *addr,
               uint64_t                         value,
               size_t                           size,
               os_sync_wait_on_address_flags_t  flags,
               const struct timespec           *timeout)
{
  long r;

  if (!check_address (addr, size) || (flags & ~OS_SYNC_WAIT_ON_ADDRESS_SHARED) != 0)
    {
      errno = EINVAL;
      return -1;
    }
  if (inject_interruption ())
    {
      errno = EINTR;
      return -1;
    }

  /* FUTEX_WAIT takes a relative timeout on CLOCK_MONOTONIC, which, like
   * mach_absolute_time(), stops while the machine sleeps. The shared flag
   * selects a shared or a private futex, just as it selects the kernel's
   * lookup on macOS. */
  r = syscall (SYS_futex, addr,
               (flags & OS_SYNC_WAIT_ON_ADDRESS_SHARED) ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE,
               (uint32_t) value, timeout, NULL, 0);

  /* Woken, or the value already differed: both are a successful return
   * on macOS. The count of remaining waiters is not known here. */
  if (r == 0 || errno == EAGAIN)
    return 0;
  return -1;   /* ETIMEDOUT, EINTR, EFAULT as on macOS */
}

int
os_sync_wait_on_address (void                            *addr,
                         uint64_t                         value,
                         size_t                           size,
                         os_sync_wait_on_address_flags_t  flags)
{
  return wait_on_futex (addr, value, size, flags, NULL);
}

int
os_sync_wait_on_address_with_timeout (void                            *addr,
                                      uint64_t                         value,
                                      size_t                           size,
                                      os_sync_wait_on_address_flags_t  flags,
                                      os_clockid_t                     clockid,
                                      uint64_t                         timeout_ns)
{
  struct timespec timeout;

  /* As documented: an unknown clock and a zero timeout are errors. */
  if (clockid != OS_CLOCK_MACH_ABSOLUTE_TIME || timeout_ns == 0)
    {
      errno = EINVAL;
      return -1;
    }
  timeout.tv_sec = (time_t) MIN (timeout_ns / G_GUINT64_CONSTANT (1000000000), (uint64_t) G_MAXINT32);
  timeout.tv_nsec = (long) (timeout_ns % G_GUINT64_CONSTANT (1000000000));
  return wait_on_futex (addr, value, size, flags, &timeout);
}

static int
wake_futex (void                            *addr,
            size_t                           size,
            os_sync_wake_by_address_flags_t  flags,
            int                              count)
{
  long r;

  if (!check_address (addr, size) || (flags & ~OS_SYNC_WAKE_BY_ADDRESS_SHARED) != 0)
    {
      errno = EINVAL;
      return -1;
    }
  r = syscall (SYS_futex, addr,
               (flags & OS_SYNC_WAKE_BY_ADDRESS_SHARED) ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE,
               count, NULL, NULL, 0);
  if (r < 0)
    return -1;
  if (r == 0)
    {
      errno = ENOENT;   /* nobody was waiting */
      return -1;
    }
  return 0;
}

int
os_sync_wake_by_address_any (void                            *addr,
                             size_t                           size,
                             os_sync_wake_by_address_flags_t  flags)
{
  return wake_futex (addr, size, flags, 1);
}

int
os_sync_wake_by_address_all (void                            *addr,
                             size_t                           size,
                             os_sync_wake_by_address_flags_t  flags)
{
  return wake_futex (addr, size, flags, INT_MAX);
}

/* macOS thread ids are unique system-wide and never reused; Linux thread
 * ids are reused as soon as a thread is reaped. So that a new thread can
 * never pass for a dead one here either, pair the thread id with a serial
 * number that no other thread of the process shares. */
static _Thread_local uint64_t own_thread_id;
static uint32_t thread_serial;

static void
forget_thread_id_in_child (void)
{
  own_thread_id = 0;   /* the child's only thread has a new thread id */
}

static void
register_fork_handler (void)
{
  pthread_atfork (NULL, NULL, forget_thread_id_in_child);
}

int
pthread_threadid_np (pthread_t  thread,
                     uint64_t  *thread_id)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;

  /* macOS also answers for other threads of the process; the backend
   * only ever asks about the calling one. */
  if (thread_id == NULL)
    return EINVAL;
  if (!pthread_equal (thread, pthread_self ()))
    return ESRCH;

  if (own_thread_id == 0)
    {
      pthread_once (&once, register_fork_handler);
      /* Never 0: a thread id is never 0. */
      own_thread_id = ((uint64_t) (uint32_t) gettid () << 32) |
                      (uint64_t) __atomic_add_fetch (&thread_serial, 1, __ATOMIC_RELAXED);
    }
  *thread_id = own_thread_id;
  return 0;
}

static gboolean
read_proc_stat (pid_t  pid,
                char  *state,
                guint64 *start_ticks)
{
  char path[64];
  char buffer[1024];
  const char *p;
  ssize_t n;
  int fd;
  int field;

  g_snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  do
    n = read (fd, buffer, sizeof buffer - 1);
  while (n < 0 && errno == EINTR);
  close (fd);
  if (n <= 0)
    {
      errno = ENOENT;   /* it went away while we read */
      return FALSE;
    }
  buffer[n] = '\0';

  /* "pid (comm) state ..."; comm may hold spaces and parentheses, so
   * fields are counted from the last ')'. State is field 3, the start
   * time (in clock ticks since boot) field 22. */
  p = strrchr (buffer, ')');
  if (p == NULL || p[1] != ' ')
    {
      errno = EIO;
      return FALSE;
    }
  p += 2;
  *state = *p;
  for (field = 3; field < 22; field++)
    {
      p = strchr (p, ' ');
      if (p == NULL)
        {
          errno = EIO;
          return FALSE;
        }
      p++;
    }
  *start_ticks = g_ascii_strtoull (p, NULL, 10);
  return TRUE;
}

int
sysctl (int    *name,
        u_int   namelen,
        void   *oldp,
        size_t *oldlenp,
        void   *newp,
        size_t  newlen)
{
  struct kinfo_proc *info = oldp;
  guint64 ticks;
  long ticks_per_second;
  char state;

  if (namelen != 4 || name[0] != CTL_KERN || name[1] != KERN_PROC ||
      name[2] != KERN_PROC_PID || newp != NULL || oldp == NULL || oldlenp == NULL)
    {
      errno = ENOTSUP;
      return -1;
    }
  if (*oldlenp < sizeof *info)
    {
      errno = ENOMEM;
      return -1;
    }

  if (!read_proc_stat ((pid_t) name[3], &state, &ticks))
    {
      if (errno == ENOENT || errno == ESRCH)
        {
          /* As on macOS: no such process is a success with no data. */
          *oldlenp = 0;
          return 0;
        }
      return -1;
    }

  ticks_per_second = sysconf (_SC_CLK_TCK);
  if (ticks_per_second <= 0)
    ticks_per_second = 100;

  memset (info, 0, sizeof *info);
  info->kp_proc.p_pid = (pid_t) name[3];
  /* Zombies ('Z') and processes being torn down ('X') hold nothing. */
  info->kp_proc.p_stat = (state == 'Z' || state == 'X') ? SZOMB : 2 /* SRUN */;
  info->kp_proc.p_starttime.tv_sec = (time_t) (ticks / (guint64) ticks_per_second);
  info->kp_proc.p_starttime.tv_usec =
    (suseconds_t) ((ticks % (guint64) ticks_per_second) * G_USEC_PER_SEC / (guint64) ticks_per_second);
  *oldlenp = sizeof *info;
  return 0;
}
