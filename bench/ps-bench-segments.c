/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The segment rows of ps-bench (issue 13): what creating a shared memory
 * segment costs, from creation to unmapping (and unlinking, for a named
 * one), beside the raw calls:
 *
 *   - by size, 4 KiB to 1 GiB: an anonymous PsSharedMemory beside
 *     mmap(MAP_SHARED | MAP_ANONYMOUS) and beside memfd_create+ftruncate+
 *     mmap, which is what it does so that it can be handed on by file
 *     descriptor (ps_shared_memory_dup_fd()); a named one beside
 *     shm_open+ftruncate+mmap, with and without posix_fallocate(): a
 *     named PsSharedMemory reserves its memory with posix_fallocate()
 *     when it creates it (so that a full /dev/shm fails the creation, not
 *     a later write with SIGBUS), which touches every page;
 *   - with K = 64 … 4096 named segments of the same kind already open:
 *     whether each creation gets slower as a program holds more.
 *
 * Nothing of a segment is touched after it is mapped.
 */

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ps-bench.h"

typedef enum
{
  SEG_PS_ANONYMOUS,
  SEG_MMAP_ANONYMOUS,
  SEG_MEMFD,
  SEG_PS_NAMED,
  SEG_SHM_OPEN,
  SEG_SHM_OPEN_FALLOCATE,
} SegmentKind;

typedef struct
{
  SegmentKind kind;
  gsize       size;
  guint       already_open;   /* K */
} Segments;

/* A named segment held open while others are created. */
typedef struct
{
  char     name[64];
  gpointer object;   /* PsSharedMemory, or NULL */
  gpointer mapping;
} Held;

static guint segment_serial;

static void
next_name (char  *name,
           gsize  size)
{
  g_snprintf (name, size, "/ps-bench-%d-%u", (int) getpid (), segment_serial++);
}

static gpointer
shm_create_map (const char *name,
                gsize       size,
                gboolean    reserve)
{
  gpointer mapping;
  int fd = shm_open (name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  if (fd < 0)
    die ("shm_open failed: %s", g_strerror (errno));
  if (ftruncate (fd, (off_t) size) != 0)
    die ("ftruncate failed: %s", g_strerror (errno));
  if (reserve)
    check_zero (posix_fallocate (fd, 0, (off_t) size), "posix_fallocate");
  mapping = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapping == MAP_FAILED)
    die ("mmap failed: %s", g_strerror (errno));
  close (fd);
  return mapping;
}

/* Creates, maps (and names) a segment: what is held. */
static void
segment_create (SegmentKind  kind,
                gsize        size,
                Held        *held)
{
  g_autoptr(GError) error = NULL;

  held->object = held->mapping = NULL;
  switch (kind)
    {
    case SEG_PS_ANONYMOUS:
      held->object = ps_shared_memory_new (size, &error);
      check_error (held->object != NULL, error, "ps_shared_memory_new");
      break;
    case SEG_MMAP_ANONYMOUS:
      held->mapping = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                            -1, 0);
      if (held->mapping == MAP_FAILED)
        die ("mmap failed: %s", g_strerror (errno));
      break;
    case SEG_MEMFD:
      {
        int fd = memfd_create ("ps-bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        if (fd < 0)
          die ("memfd_create failed: %s", g_strerror (errno));
        if (ftruncate (fd, (off_t) size) != 0)
          die ("ftruncate failed: %s", g_strerror (errno));
        held->mapping = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (held->mapping == MAP_FAILED)
          die ("mmap failed: %s", g_strerror (errno));
        close (fd);
      }
      break;
    case SEG_PS_NAMED:
      next_name (held->name, sizeof held->name);
      held->object = ps_shared_memory_open (held->name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                            size, &error);
      check_error (held->object != NULL, error, "ps_shared_memory_open");
      break;
    case SEG_SHM_OPEN:
    case SEG_SHM_OPEN_FALLOCATE:
      next_name (held->name, sizeof held->name);
      held->mapping = shm_create_map (held->name, size, kind == SEG_SHM_OPEN_FALLOCATE);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Unmaps (and unlinks) it. */
static void
segment_drop (SegmentKind  kind,
              gsize        size,
              Held        *held)
{
  g_autoptr(GError) error = NULL;

  if (held->object != NULL)
    g_object_unref (held->object);
  else
    munmap (held->mapping, size);
  if (kind == SEG_PS_NAMED)
    check_error (ps_unlink (held->name, &error), error, "ps_unlink");
  else if (kind == SEG_SHM_OPEN || kind == SEG_SHM_OPEN_FALLOCATE)
    check_zero (shm_unlink (held->name), "shm_unlink");
}

#define BACKGROUND_SIZE 4096

/* µs per create+map+unmap(+unlink), with K others open meanwhile. */
static double
run_segments (gpointer data,
              guint64  iterations)
{
  Segments *s = data;
  g_autofree Held *background = g_new0 (Held, MAX (s->already_open, 1));
  /* Big segments cost milliseconds: fewer of them per batch. */
  guint64 n = profiling ? iterations : CLAMP (iterations * 65536 / s->size, 1, iterations);
  gint64 start, elapsed;
  guint64 i;
  guint k;

  for (k = 0; k < s->already_open; k++)
    segment_create (s->kind, BACKGROUND_SIZE, &background[k]);
  start = now_ns ();
  for (i = 0; i < n; i++)
    {
      Held held;

      segment_create (s->kind, s->size, &held);
      segment_drop (s->kind, s->size, &held);
    }
  elapsed = now_ns () - start;
  for (k = 0; k < s->already_open; k++)
    segment_drop (s->kind, BACKGROUND_SIZE, &background[k]);
  return (double) elapsed / (double) n / 1000.0;
}

static void
add_segments (Row         *row,
              GArray      *contestants,
              const char  *group,
              SegmentKind  kind,
              gsize        size,
              guint        already_open,
              const char  *id,
              const char  *label)
{
  Segments *s = defer_free (g_new0 (Segments, 1));
  SeriesKind series_kind = kind == SEG_PS_ANONYMOUS || kind == SEG_PS_NAMED
                           ? KIND_PROCSHARED : KIND_BASELINE;
  Series *series = row_add_group_series (row, group, id, label, series_kind);

  /* --quick: reserving 64 MiB or 1 GiB takes seconds on a loaded machine. */
  if (size > 1024 * 1024 && iterations_for (100) < 100)
    {
      series->skip_reason = g_strdup ("not with --quick");
      return;
    }
  s->kind = kind;
  s->size = size;
  s->already_open = already_open;
  add_contestant (contestants, series, run_segments, NULL, s);
}

/* By size ------------------------------------------------------------------------- */

static const struct
{
  const char *name;
  const char *suffix;
  gsize       size;
} segment_sizes[] = {
  { "4 KiB", "4k", 4096 },
  { "64 KiB", "64k", 64 * 1024 },
  { "1 MiB", "1m", 1024 * 1024 },
  { "64 MiB", "64m", 64 * 1024 * 1024 },
  { "1 GiB", "1g", 1024 * 1024 * 1024 },
};

static void
setup_segment_sizes (Row    *row,
                     GArray *contestants)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (segment_sizes); i++)
    {
      const char *x = segment_sizes[i].suffix;
      gsize size = segment_sizes[i].size;
      g_autofree char *anonymous = g_strdup_printf ("%s, anonymous", segment_sizes[i].name);
      g_autofree char *named = g_strdup_printf ("%s, named", segment_sizes[i].name);
      g_autofree char *ps_anonymous = g_strdup_printf ("ps-anonymous-%s", x);
      g_autofree char *mmap_anonymous = g_strdup_printf ("mmap-anonymous-%s", x);
      g_autofree char *memfd = g_strdup_printf ("memfd-%s", x);
      g_autofree char *ps_named = g_strdup_printf ("ps-named-%s", x);
      g_autofree char *shm = g_strdup_printf ("shm-open-%s", x);
      g_autofree char *shm_reserve = g_strdup_printf ("shm-open-fallocate-%s", x);

      add_segments (row, contestants, anonymous, SEG_PS_ANONYMOUS, size, 0, ps_anonymous,
                    "ps_shared_memory_new + unref");
      add_segments (row, contestants, anonymous, SEG_MMAP_ANONYMOUS, size, 0, mmap_anonymous,
                    "mmap(MAP_SHARED|MAP_ANONYMOUS) + munmap");
      add_segments (row, contestants, anonymous, SEG_MEMFD, size, 0, memfd,
                    "memfd_create+ftruncate+mmap, munmap (as procshared)");
      add_segments (row, contestants, named, SEG_PS_NAMED, size, 0, ps_named,
                    "ps_shared_memory_open(CREATE|EXCLUSIVE) + unref + ps_unlink");
      add_segments (row, contestants, named, SEG_SHM_OPEN, size, 0, shm,
                    "shm_open+ftruncate+mmap, munmap+shm_unlink");
      add_segments (row, contestants, named, SEG_SHM_OPEN_FALLOCATE, size, 0, shm_reserve,
                    "the same with posix_fallocate (as procshared)");
    }
}

/* Says why the target added last missed, if it did and @shared: what the
 * raw calls themselves cost in the same measure. */
static void explain_miss (Row        *row,
                          gboolean    shared,
                          const char *format,
                          ...) G_GNUC_PRINTF (3, 4);

static void
explain_miss (Row        *row,
              gboolean    shared,
              const char *format,
              ...)
{
  Target *target = g_ptr_array_index (row->targets, row->targets->len - 1);
  g_autofree char *why = NULL;
  va_list args;

  if (!target->evaluated || target->pass || !shared)
    return;
  va_start (args, format);
  why = g_strdup_vprintf (format, args);
  va_end (args);
  row_target_why (row, "%s", why);
}

static double
ratio_of_ids (Row        *row,
              const char *subject,
              const char *reference)
{
  return ratio_of (row_find_series (row, subject), row_find_series (row, reference));
}

static void
finish_segment_sizes (Row *row)
{
  double memfd = ratio_of_ids (row, "memfd-4k", "mmap-anonymous-4k");
  double over_memfd = ratio_of_ids (row, "ps-anonymous-4k", "memfd-4k");
  double reserve = ratio_of_ids (row, "shm-open-fallocate-4k", "shm-open-4k");
  double over_reserve = ratio_of_ids (row, "ps-named-4k", "shm-open-fallocate-4k");

  row_note (row, "µs per segment, from creation to unmapping (and unlinking); no page is "
            "touched after mapping. A named PsSharedMemory reserves its memory with "
            "posix_fallocate() at creation (a full /dev/shm fails the creation instead of "
            "a later write): the raw named calls are shown without and with it. An "
            "anonymous one is a memfd since 1.1, so that it can be handed to another "
            "process by file descriptor: the memfd's inode is most of its cost beside "
            "MAP_ANONYMOUS, shown by the raw memfd calls");
  row_target_ratio (row, "4 KiB anonymous segment ≤ 1.5× mmap", "ps-anonymous-4k",
                    "mmap-anonymous-4k", TRUE, 1.5);
  explain_miss (row, over_memfd <= 1.5,
                "an anonymous segment is a memfd, to be shared by descriptor: the raw "
                "memfd calls alone are %.2f× mmap, and procshared %.2f× them", memfd,
                over_memfd);
  row_target_ratio (row, "4 KiB anonymous segment ≤ 1.5× memfd_create+ftruncate+mmap",
                    "ps-anonymous-4k", "memfd-4k", TRUE, 1.5);
  row_target_ratio (row, "4 KiB named segment ≤ 1.5× shm_open+ftruncate+mmap",
                    "ps-named-4k", "shm-open-4k", TRUE, 1.5);
  explain_miss (row, over_reserve <= 1.5,
                "a named segment reserves its memory when it is created, as documented (a "
                "full /dev/shm fails the creation, not a later write): posix_fallocate() "
                "alone makes the raw calls %.2f×, and a 4 KiB segment with its 64-byte "
                "header takes 2 pages; procshared is %.2f× the raw calls that reserve",
                reserve, over_reserve);
  row_target_ratio (row, "4 KiB named segment ≤ 1.5× the same + posix_fallocate",
                    "ps-named-4k", "shm-open-fallocate-4k", TRUE, 1.5);
}

const RowDef ps_bench_row_segment_sizes = {
  "segment-sizes", "Creating a segment, 4 KiB to 1 GiB: create, map, unmap (unlink)",
  "µs/segment", FALSE, ROW_LOCAL, 5, 2, 200, setup_segment_sizes, finish_segment_sizes, NULL
};

/* With K named segments open ---------------------------------------------------------- */

static const guint open_counts[] = { 64, 256, 1024, 4096 };

static void
setup_segments_open (Row    *row,
                     GArray *contestants)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (open_counts); i++)
    {
      guint k = open_counts[i];
      g_autofree char *group = g_strdup_printf ("K = %u open", k);
      g_autofree char *ps = g_strdup_printf ("ps-named-k%u", k);
      g_autofree char *shm = g_strdup_printf ("shm-open-k%u", k);
      g_autofree char *shm_reserve = g_strdup_printf ("shm-open-fallocate-k%u", k);

      add_segments (row, contestants, group, SEG_PS_NAMED, BACKGROUND_SIZE, k, ps,
                    "ps_shared_memory_open(CREATE|EXCLUSIVE) + unref + ps_unlink");
      add_segments (row, contestants, group, SEG_SHM_OPEN, BACKGROUND_SIZE, k, shm,
                    "shm_open+ftruncate+mmap, munmap+shm_unlink");
      add_segments (row, contestants, group, SEG_SHM_OPEN_FALLOCATE, BACKGROUND_SIZE, k,
                    shm_reserve, "the same with posix_fallocate (as procshared)");
    }
}

static void
finish_segments_open (Row *row)
{
  double raw = ratio_of (row_find_series (row, "shm-open-fallocate-k4096"),
                         row_find_series (row, "shm-open-fallocate-k64"));
  double own;

  row_note (row, "µs per 4 KiB named segment created, mapped, unmapped and unlinked while "
            "K other 4 KiB named segments of the same kind are open (created before the "
            "timed loop, each batch)");
  row_metric (row, "raw_k4096_over_k64", raw);
  row_note (row, "the raw calls (with posix_fallocate) at K = 4096: %.2f× their cost at "
            "K = 64", raw);
  /* procshared's share: its cost over the raw calls' at the same K. It
   * makes the same system calls per creation at every K, and the same
   * instructions (strace, callgrind); the kernel's cost of those calls
   * moves with what the process and /dev/shm hold, for the raw calls too. */
  own = ratio_of (row_find_series (row, "ps-named-k4096"),
                  row_find_series (row, "shm-open-fallocate-k4096")) /
        ratio_of (row_find_series (row, "ps-named-k64"),
                  row_find_series (row, "shm-open-fallocate-k64"));
  row_metric (row, "ps_over_raw_k4096_over_k64", own);
  row_note (row, "procshared's cost over the raw calls' (with posix_fallocate) at K = 4096: "
            "%.2f× that at K = 64", own);
  for (guint i = 0; i < 2; i++)
    {
      row_target_ratio (row, i == 0 ? "named creation at K = 4096 ≤ 1.2× at K = 64 (flat ±20%)"
                                    : "named creation at K = 4096 ≥ 0.8× at K = 64 (flat ±20%)",
                        "ps-named-k4096", "ps-named-k64", i == 0, i == 0 ? 1.2 : 0.8);
      explain_miss (row, own >= 0.8 && own <= 1.2 && (raw < 0.8 || raw > 1.2),
                    "the raw calls moved as much (K = 4096: %.2f× their K = 64 cost); "
                    "procshared over the raw calls stayed flat (%.2f×): it makes the same "
                    "system calls per creation at every K, and the kernel's cost of them "
                    "varies", raw, own);
    }
}

const RowDef ps_bench_row_segments_open = {
  "segments-open", "Creating a named segment with K named segments already open",
  "µs/segment", FALSE, ROW_LOCAL, 11, 2, 200, setup_segments_open, finish_segments_open, NULL
};
