/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

#include <glib.h>

G_BEGIN_DECLS

/* The memory a large value copied out of a segment is read into.
 *
 * Fresh pages cost a fault each (several µs in a virtual machine), more
 * than copying into them: reading a 64 MiB record into a new g_malloc()
 * took five times as long as into memory already touched. So a buffer
 * of 2 MiB or more is a mapping of its own on huge pages where the
 * system has them (ps-platform-memory-private.h: 32 faults for 64 MiB
 * instead of 16,384), and the buffers of the last large values the
 * program let go of are kept, one below 2 MiB and one from 2 MiB to
 * PS_READ_BUFFER_MAX (as glibc itself keeps up to 64 MiB of freed heap),
 * and reused by the next read that fits one. */
#define PS_READ_BUFFER_MIN ((gsize) 256 * 1024)
#define PS_READ_BUFFER_MAX ((gsize) 64 * 1024 * 1024)

/* A buffer of @size bytes for ps_read_buffer_to_bytes(). */
guint8 *ps_read_buffer_new      (gsize   size);

/* Wraps @data, from ps_read_buffer_new(), whose first @size bytes are
 * filled: the buffer is kept for reuse when the GBytes is freed. */
GBytes *ps_read_buffer_to_bytes (guint8 *data,
                                 gsize   size);

/* Frees @data, from ps_read_buffer_new(), when it was not handed on. */
void    ps_read_buffer_free     (guint8 *data);

/* Drops the kept buffer (tests and leak checks). */
void    ps_read_buffer_trim     (void);

G_END_DECLS
