/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Handing descriptors between test processes: a socket pair made before
 * fork(), each end wrapped in a GUnixConnection, so that a segment is
 * shared the way unrelated processes share it (the receiver has no
 * inherited mapping of it), and counting this process's descriptors.
 */

#include <fcntl.h>
#include <gio/gunixconnection.h>
#include <sys/socket.h>

#include "ps-test-util.h"

static inline GUnixConnection *
ps_test_connection_new (int fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_UNIX_CONNECTION (g_socket_connection_factory_create_connection (socket));
}

static inline void
ps_test_socket_pair (int fds[2])
{
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
}

/* Sends a descriptor of @memory (read-only if @read_only) over @fd, an
 * end of ps_test_socket_pair(). */
static inline void
ps_test_send_segment (int             fd,
                      PsSharedMemory *memory,
                      gboolean        read_only)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixConnection) connection = ps_test_connection_new (fd);
  int segment_fd = read_only ? ps_shared_memory_dup_read_only_fd (memory, &error)
                             : ps_shared_memory_dup_fd (memory, &error);

  g_assert_no_error (error);
  g_assert_true (g_unix_connection_send_fd (connection, segment_fd, NULL, &error));
  g_assert_no_error (error);
  close (segment_fd);
}

/* In a child: the segment sent over @fd, or NULL with @error set. */
static inline PsSharedMemory *
ps_test_receive_segment (int      fd,
                         GError **error)
{
  g_autoptr(GUnixConnection) connection = ps_test_connection_new (fd);
  PsSharedMemory *memory;
  int segment_fd = g_unix_connection_receive_fd (connection, NULL, error);

  if (segment_fd < 0)
    return NULL;
  memory = ps_shared_memory_new_from_fd (segment_fd, error);
  close (segment_fd);
  return memory;
}

/* How many descriptors this process has open, or -1 without /proc. */
static inline int
ps_test_count_descriptors (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  int count = 0;

  if (dir == NULL)
    return -1;
  while (g_dir_read_name (dir) != NULL)
    count++;
  return count - 1;   /* the directory's own */
}
