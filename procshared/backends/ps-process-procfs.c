/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Whether a process is gone, for the futex and posix backends: getpgid(pid)
 * on any POSIX system, and where /proc/PID/stat can be read (Linux), the
 * process's state (a zombie is gone) and its start time, which tells it
 * from a later process given the same pid. Without /proc, a reused pid
 * passes for the process recorded, and a zombie for a live one until it
 * is reaped.
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "ps-backend-private.h"
#include "ps-identity-private.h"

typedef enum
{
  PROC_ALIVE,
  PROC_GONE,
  PROC_UNKNOWN,
} ProcState;

static ProcState
read_proc_stat (const char *path,
                guint64    *start)
{
  char buffer[512];
  const char *field;
  ssize_t length;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return (errno == ENOENT || errno == ESRCH) ? PROC_GONE : PROC_UNKNOWN;
  do
    length = read (fd, buffer, sizeof buffer - 1);
  while (length < 0 && errno == EINTR);
  close (fd);
  if (length <= 0)
    return length == 0 ? PROC_GONE : PROC_UNKNOWN;
  buffer[length] = '\0';

  /* "pid (comm) S ppid ...": comm may hold anything, even ") ", so the
   * fields start after its last ')'. The state is field 3, the start
   * time (in clock ticks since boot) field 22. */
  field = strrchr (buffer, ')');
  if (field == NULL || field[1] != ' ' || field[2] == '\0')
    return PROC_UNKNOWN;
  field += 2;
  if (*field == 'Z' || *field == 'X' || *field == 'x')
    return PROC_GONE;
  for (guint i = 3; i < 22; i++)
    {
      field = strchr (field, ' ');
      if (field == NULL)
        return PROC_UNKNOWN;
      field++;
    }
  *start = g_ascii_strtoull (field, NULL, 10);
  return PROC_ALIVE;
}

/* This process's stamp, with the pid it was read for (0: not yet). */
static guint64 own_stamp;

guint32
ps_process_self_stamp (void)
{
  guint32 pid = ps_self_process_id ();
  guint64 cached = __atomic_load_n (&own_stamp, __ATOMIC_RELAXED);
  guint64 start = 0;
  guint32 stamp;

  if ((guint32) (cached >> 32) == pid)
    return (guint32) cached;
  if (read_proc_stat ("/proc/self/stat", &start) != PROC_ALIVE)
    start = 0;
  stamp = ps_process_stamp_from_start (start);
  __atomic_store_n (&own_stamp, ((guint64) pid << 32) | stamp, __ATOMIC_RELAXED);
  return stamp;
}

gboolean
ps_process_is_gone (guint32  pid,
                    guint32  stamp,
                    gboolean quick)
{
  char path[32];
  guint64 start = 0;

  if (pid == 0 || pid > G_MAXINT32)
    return FALSE;
  /* Whether the pid exists, as kill(pid, 0) tells, but without the
   * signal checks kill() makes (permission, audit): a barrier's last
   * arrival asks this of every party asleep in the round, and on a
   * virtual machine kill() costs two to three times as much. */
  if (getpgid ((pid_t) pid) == -1 && errno == ESRCH)
    return TRUE;
  if (quick)
    return FALSE;
  /* Without /proc (the process's own stamp could not be read), an
   * unreadable entry says nothing. */
  if (ps_process_self_stamp () == 0)
    return FALSE;

  g_snprintf (path, sizeof path, "/proc/%u/stat", pid);
  switch (read_proc_stat (path, &start))
    {
    case PROC_GONE:
      return TRUE;
    case PROC_UNKNOWN:
      return FALSE;
    case PROC_ALIVE:
    default:
      return stamp != 0 && ps_process_stamp_from_start (start) != stamp;
    }
}
