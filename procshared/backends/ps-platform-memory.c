/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Large private buffers mapped from the system, on huge pages where it
 * has them (ps-platform-memory-private.h). The same for every backend:
 * it depends on the operating system only.
 */

#include <sys/mman.h>
#include <unistd.h>

#include "ps-platform-memory-private.h"

#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
# define MAP_ANONYMOUS MAP_ANON
#endif

/* A huge page on x86-64, and the size of the alignment asked of a large
 * mapping elsewhere (the cost is address space only). */
#define LARGE_SIZE ((gsize) 2 * 1024 * 1024)

gsize
ps_platform_memory_large_size (void)
{
  return LARGE_SIZE;
}

/* @size rounded up to whole pages, or 0 if that does not fit. */
static gsize
whole_pages (gsize size)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);

  if (size > G_MAXSIZE - LARGE_SIZE - page)
    return 0;
  return (size + page - 1) / page * page;
}

gpointer
ps_platform_memory_map (gsize size)
{
  guint8 *mapped;
  guint8 *aligned;
  gsize slack;

  g_return_val_if_fail (size > 0, NULL);

  size = whole_pages (size);
  if (size == 0)
    return NULL;
  /* Mapped with room to spare, then trimmed to an aligned start: a huge
   * page can only back an aligned 2 MiB of the address space. */
  mapped = mmap (NULL, size + LARGE_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED)
    return NULL;
  aligned = (guint8 *) (((guintptr) mapped + LARGE_SIZE - 1) & ~(guintptr) (LARGE_SIZE - 1));
  slack = (gsize) (aligned - mapped);
  if (slack > 0)
    munmap (mapped, slack);
  if (LARGE_SIZE - slack > 0)
    munmap (aligned + size, LARGE_SIZE - slack);

  /* Advice only: where the system does not take it, the memory is the
   * same, each page faulted in on first touch. */
#ifdef MADV_HUGEPAGE
  (void) madvise (aligned, size, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
  (void) madvise (aligned, size, MADV_POPULATE_WRITE);
#endif
  return aligned;
}

void
ps_platform_memory_discard (gpointer memory,
                            gsize    size)
{
#ifdef MADV_FREE
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  guintptr start = ((guintptr) memory + page - 1) & ~(guintptr) (page - 1);
  guintptr end = ((guintptr) memory + size) & ~(guintptr) (page - 1);

  /* Advice only: a kernel without MADV_FREE (before Linux 4.5) keeps the
   * pages, as if it had never been given. */
  if (end > start)
    (void) madvise ((gpointer) start, end - start, MADV_FREE);
#endif
}

void
ps_platform_memory_unmap (gpointer memory,
                          gsize    size)
{
  if (memory != NULL && munmap (memory, whole_pages (size)) != 0)
    g_critical ("munmap of a buffer of %" G_GSIZE_FORMAT " bytes failed", size);
}
