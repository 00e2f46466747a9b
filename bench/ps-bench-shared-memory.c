/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The PsSharedMemory rows of ps-bench: variant records written and read
 * back, beside memcpy into the mapping.
 */

#include <math.h>
#include <string.h>

#include "ps-bench.h"

/* Variant records --------------------------------------------------------------- */

typedef enum
{
  RECORDS_VARIANT,        /* write_variant + read_variant of one prebuilt value */
  RECORDS_FRESH_VARIANT,  /* the same, of a value built from the bytes each time */
  RECORDS_BORROWED_VARIANT,  /* the same, of a value built over the bytes (no copy) */
  RECORDS_MEMCPY_IN,
  RECORDS_MEMCPY_IN_OUT,
} RecordsMode;

typedef struct
{
  PsSharedMemory *memory;
  guint8         *data;
  GVariant       *value;
  guint8         *source;
  guint8         *destination;
  gsize           size;
  gint            mode;   /* a RecordsMode */
  guint64         per_batch;   /* round trips per 100 iterations (variant-sizes) */
} Records;

static double
run_records (gpointer data,
             guint64  iterations)
{
  Records *r = data;
  gint64 start = now_ns ();
  guint64 i;

  for (i = 0; i < iterations; i++)
    {
      if (r->mode == RECORDS_VARIANT || r->mode == RECORDS_FRESH_VARIANT ||
          r->mode == RECORDS_BORROWED_VARIANT)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(GVariant) back = NULL;
          g_autoptr(GVariant) value = NULL;

          /* What a program that sends new data each time does: a fixed
           * array built from its bytes, which GVariant does not trust. */
          if (r->mode == RECORDS_FRESH_VARIANT)
            value = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                                   r->source, r->size, 1));
          /* The same untrusted bytes, without GLib's copy of them:
           * what the caller's building costs, taken out. */
          else if (r->mode == RECORDS_BORROWED_VARIANT)
            value = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING,
                                                                 r->source, r->size, FALSE,
                                                                 NULL, NULL));
          else
            value = g_variant_ref (r->value);
          check_error (ps_shared_memory_write_variant (r->memory, 0, value, &error),
                       error, "ps_shared_memory_write_variant");
          back = ps_shared_memory_read_variant (r->memory, 0, &error);
          check_error (back != NULL, error, "ps_shared_memory_read_variant");
        }
      else
        {
          memcpy (r->data, r->source, r->size);
          if (r->mode == RECORDS_MEMCPY_IN_OUT)
            memcpy (r->destination, r->data, r->size);
          /* The copies must happen: nothing reads them otherwise. */
          __asm__ __volatile__ ("" : : "r" (r->data), "r" (r->destination) : "memory");
        }
    }
  return (double) r->size * (double) iterations / (double) (now_ns () - start);
}

/* The sizes row: its batches hold more round trips of small records than
 * of big ones. */
static double
run_records_scaled (gpointer data,
                    guint64  iterations)
{
  Records *r = data;

  return run_records (data, profiling ? iterations : MAX (iterations * r->per_batch / 100, 1));
}

static Records *
records_new (PsSharedMemory *memory,
             GVariant       *value,
             guint8         *source,
             gsize           size,
             gint            mode)
{
  Records *r = defer_free (g_new0 (Records, 1));

  r->memory = memory;
  r->data = ps_shared_memory_get_data (memory);
  r->value = value;
  r->source = source;
  r->destination = defer_free (g_malloc (size));
  memset (r->destination, 0, size);
  r->size = size;
  r->mode = mode;
  return r;
}

/* Adds the contestants for records of @size bytes: in @group, with
 * @suffix after their ids and @per_batch round trips per 100 iterations
 * (the sizes row, which has a fifth, over the caller's bytes), or with
 * neither (four). */
static void
add_records (Row        *row,
             GArray     *contestants,
             gsize       size,
             const char *group,
             const char *suffix,
             guint64     per_batch)
{
  static const struct { const char *id, *label; RecordsMode mode; } kinds[] = {
    { "ps-variant", "write_variant+read_variant (ay)", RECORDS_VARIANT },
    { "ps-variant-fresh", "write_variant+read_variant (ay built from the bytes each time)",
      RECORDS_FRESH_VARIANT },
    /* The sizes row only. */
    { "ps-variant-borrowed", "write_variant+read_variant (ay built over the bytes each time, "
      "g_variant_new_from_data)", RECORDS_BORROWED_VARIANT },
    { "memcpy-in", "memcpy into the mapping", RECORDS_MEMCPY_IN },
    { "memcpy-in-out", "memcpy into the mapping and out", RECORDS_MEMCPY_IN_OUT },
  };
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory;
  GVariant *value;
  guint8 *source = defer_free (g_malloc (size));
  gsize i;

  for (i = 0; i < size; i++)
    source[i] = (guint8) (i * 7);
  value = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, source, size, 1));
  defer ((GDestroyNotify) g_variant_unref, value);
  memory = ps_shared_memory_new (ps_shared_memory_measure_variant (value) + 4096, &error);
  check_error (memory != NULL, error, "ps_shared_memory_new");
  defer_unref (memory);

  for (i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *id = g_strconcat (kinds[i].id, suffix != NULL ? "-" : NULL, suffix, NULL);
      Records *r;

      if (kinds[i].mode == RECORDS_BORROWED_VARIANT && group == NULL)
        continue;
      r = records_new (memory, value, source, size, kinds[i].mode);

      r->per_batch = per_batch;
      add_contestant (contestants,
                      row_add_group_series (row, group, id, kinds[i].label,
                                            kinds[i].mode != RECORDS_MEMCPY_IN &&
                                            kinds[i].mode != RECORDS_MEMCPY_IN_OUT
                                            ? KIND_PROCSHARED : KIND_BASELINE),
                      per_batch > 0 ? run_records_scaled : run_records, NULL, r);
    }
}

static void
setup_records (Row    *row,
               GArray *contestants,
               gsize   size)
{
  add_records (row, contestants, size, NULL, NULL, 0);
}

static void
setup_records_1k (Row    *row,
                  GArray *contestants)
{
  setup_records (row, contestants, 1024);
}

static void
setup_records_1m (Row    *row,
                  GArray *contestants)
{
  setup_records (row, contestants, 1024 * 1024);
}

static void
finish_records_1k (Row *row)
{
  row_note (row, "GB/s of payload per round trip (one write_variant and one read_variant)");
}

static void
finish_records_1m (Row *row)
{
  row_note (row, "GB/s of payload per round trip (one write_variant and one read_variant); "
            "the target is against one memcpy into the mapping");
  row_target_ratio (row, "1 MiB variant round trip ≥ 25% of memcpy bandwidth",
                    "ps-variant", "memcpy-in", FALSE, 0.25);
  row_target_ratio (row, "1 MiB freshly built variant round trip ≥ 25% of memcpy bandwidth",
                    "ps-variant-fresh", "memcpy-in", FALSE, 0.25);
}

const RowDef ps_bench_row_variant_1k = {
  "variant-1k", "write_variant+read_variant, 1 KiB ay record", "GB/s", TRUE, ROW_LOCAL,
  41, 3, 20000, setup_records_1k, finish_records_1k, NULL
};

const RowDef ps_bench_row_variant_1m = {
  "variant-1m", "write_variant+read_variant, 1 MiB ay record", "GB/s", TRUE, ROW_LOCAL,
  31, 3, 20, setup_records_1m, finish_records_1m, NULL
};

/* 64 B to 64 MiB ------------------------------------------------------------------- */

static const struct
{
  const char *name;
  const char *suffix;
  gsize       size;
  guint64     per_batch;   /* round trips per batch of a full run */
} record_sizes[] = {
  { "64 B", "64b", 64, 20000 },
  { "4 KiB", "4k", 4096, 5000 },
  { "1 MiB", "1m", 1024 * 1024, 20 },
  { "64 MiB", "64m", 64 * 1024 * 1024, 1 },
};

static void
setup_record_sizes (Row    *row,
                    GArray *contestants)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (record_sizes); i++)
    add_records (row, contestants, record_sizes[i].size, record_sizes[i].name,
                 record_sizes[i].suffix, record_sizes[i].per_batch);
}

/* How much more each byte of a 64 MiB round trip of @contestant costs
 * than each byte of a 1 MiB one, over the same for memcpy into the
 * mapping and out (a round trip's two copies), round by round: 1.0 when
 * the round trip's per-byte cost grows exactly as the copies' own does
 * once 64 MiB no longer fits in the caches. NAN when not measured. */
static double
growth_over_memcpy (Row        *row,
                    const char *contestant)
{
  g_autofree char *small_id = g_strconcat (contestant, "-1m", NULL);
  g_autofree char *large_id = g_strconcat (contestant, "-64m", NULL);
  Series *small = row_find_series (row, small_id);
  Series *large = row_find_series (row, large_id);
  Series *copy_small = row_find_series (row, "memcpy-in-out-1m");
  Series *copy_large = row_find_series (row, "memcpy-in-out-64m");
  g_autoptr(GArray) growths = NULL;
  guint i, n;

  if (small == NULL || large == NULL || copy_small == NULL || copy_large == NULL)
    return NAN;
  n = small->samples->len;
  if (n == 0 || large->samples->len != n || copy_small->samples->len != n ||
      copy_large->samples->len != n)
    return NAN;
  growths = g_array_sized_new (FALSE, FALSE, sizeof (double), n);
  for (i = 0; i < n; i++)
    {
      double ours = g_array_index (small->samples, double, i) /
                    g_array_index (large->samples, double, i);
      double copies = g_array_index (copy_small->samples, double, i) /
                      g_array_index (copy_large->samples, double, i);
      double growth = ours / copies;

      g_array_append_val (growths, growth);
    }
  return median_of (growths);
}

static void
finish_record_sizes (Row *row)
{
  double fresh_growth = growth_over_memcpy (row, "ps-variant-fresh");
  double prebuilt_growth = growth_over_memcpy (row, "ps-variant");
  double borrowed_growth = growth_over_memcpy (row, "ps-variant-borrowed");
  const char *memcpy_growth_why =
    "memcpy's own per-byte cost grows about 3× from 1 MiB (in the caches) to 64 MiB "
    "(from DRAM), and a round trip is two copies: the growth targets below take that out";

  row_note (row, "GB/s of payload per round trip (one write_variant and one read_variant), "
            "prebuilt, freshly built (g_variant_new_fixed_array from the bytes each time, as "
            "the targets say) and built over the bytes each time without GLib's copy "
            "(g_variant_new_from_data, untrusted); "
            "per-byte cost at 64 MiB over 1 MiB is the 1 MiB bandwidth over the 64 MiB one; "
            "per-byte growth over memcpy's is that, over the same for memcpy into the "
            "mapping and out, round by round");
  row_target_ratio (row, "1 MiB fresh variant round trip ≥ 25% of memcpy bandwidth",
                    "ps-variant-fresh-1m", "memcpy-in-1m", FALSE, 0.25);
  row_target_ratio (row, "64 MiB per-byte cost ≤ 1.3× 1 MiB's (fresh)",
                    "ps-variant-fresh-1m", "ps-variant-fresh-64m", TRUE, 1.3);
  row_target_why (row, "%s; and building the value is GLib's copy of 64 MiB into a new "
                  "malloc() block, which glibc maps afresh above 32 MiB (16,384 page faults "
                  "per round trip in the caller's code)", memcpy_growth_why);
  row_target_ratio (row, "64 MiB per-byte cost ≤ 1.3× 1 MiB's (prebuilt)",
                    "ps-variant-1m", "ps-variant-64m", TRUE, 1.3);
  row_target_why (row, "%s", memcpy_growth_why);

  /* The same growth, over memcpy's: what the library adds per byte. */
  row_metric (row, "fresh_growth_over_memcpy", fresh_growth);
  row_metric (row, "prebuilt_growth_over_memcpy", prebuilt_growth);
  row_metric (row, "borrowed_growth_over_memcpy", borrowed_growth);
  row_target_metric (row, "64 MiB per-byte growth ≤ 1.3× memcpy in+out's (fresh)",
                     "fresh_growth_over_memcpy", "×", TRUE, 1.3, fresh_growth);
  row_target_why (row, "building the value each time is GLib's copy of 64 MiB into a new "
                  "malloc() block (g_variant_new_fixed_array), which glibc maps afresh above "
                  "32 MiB: 16,384 page faults and a 64 MiB munmap per round trip in the "
                  "caller's code; write_variant and read_variant take none (their reads go "
                  "into a kept or huge-page buffer): over the same untrusted bytes without "
                  "that copy the growth is %.2f×, and with GLIBC_TUNABLES="
                  "glibc.malloc.hugetlb=1 (huge pages for glibc's blocks) GLib's copy takes "
                  "33 faults and the target passes", borrowed_growth);
  row_target_metric (row, "64 MiB per-byte growth ≤ 1.3× memcpy in+out's (prebuilt)",
                     "prebuilt_growth_over_memcpy", "×", TRUE, 1.3, prebuilt_growth);
}

const RowDef ps_bench_row_variant_sizes = {
  "variant-sizes", "write_variant+read_variant, ay records of 64 B to 64 MiB", "GB/s", TRUE,
  ROW_LOCAL, 11, 2, 100, setup_record_sizes, finish_record_sizes, NULL
};
