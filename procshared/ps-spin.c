/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-system-private.h"
#include "ps-spin-private.h"

/* Polls that found their answer earn two credits, polls that ended in
 * sleep cost one: polling goes on while more than a third of polls
 * succeed. A poll costs a few microseconds of CPU, a sleep and the wake-
 * up it needs about as much again on each side, so a third is where they
 * break even on the machines measured. */
#define CREDIT_MAX          16
#define CREDIT_FOR_ANSWER   2
#define CREDIT_FOR_SLEEP    1
/* Without credit, one wait in this many polls anyway, to notice that the
 * peer moved to another CPU. */
#define RETRY_EVERY         64
/* The affinity mask is read again after this long (a process may be
 * pinned, or its cgroup changed, while it runs). */
#define CPUS_REFRESH_MS     50

/* Kept as what was lost rather than what was earned, so that the zeroed
 * record of a new object says "poll". */
typedef struct
{
  gint debt;                  /* CREDIT_MAX - credit */
  gint sleeps_without_poll;
} Record;

/* Cache-line sized, so that two objects' records do not share a line. */
typedef union
{
  Record record;
  char   padding[64];
} PaddedRecord;

#define N_RECORDS 64   /* the 6 bits a 64-bit hash leaves after >> 58 */

static PaddedRecord records[N_RECORDS];

static gint  usable_cpus;       /* 0 until read */
static gint  online_cpus;       /* read with usable_cpus */
static guint cpus_read_at_ms;

static Record *
record_for (gconstpointer address)
{
  /* Objects mostly sit at the same offset of their own pages: a
   * multiplicative hash spreads the page number over the index. */
  guint64 key = (guint64) (guintptr) address >> 6;

  return &records[(key * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15)) >> 58].record;
}

static gboolean
several_cpus_usable (void)
{
  guint now_ms = (guint) (g_get_monotonic_time () / 1000);
  gint cpus = g_atomic_int_get (&usable_cpus);

  if (cpus == 0 || now_ms - (guint) g_atomic_int_get ((gint *) &cpus_read_at_ms) > CPUS_REFRESH_MS)
    {
      cpus = (gint) MIN (ps_system_cpus_usable (), (guint) G_MAXINT);
      g_atomic_int_set (&online_cpus, (gint) MIN (ps_system_cpus_online (), (guint) G_MAXINT));
      g_atomic_int_set (&usable_cpus, cpus);
      g_atomic_int_set ((gint *) &cpus_read_at_ms, (gint) now_ms);
    }
  return cpus > 1;
}

/* A thread held to one CPU can still be answered by a peer held to
 * another (two processes pinned apart): known only when the peer left
 * its CPU where we can read it. */
static gboolean
peer_runs_elsewhere (gint peer_cpu)
{
  gint cpu;

  if (peer_cpu < 0 || g_atomic_int_get (&online_cpus) < 2)
    return FALSE;
  cpu = ps_system_current_cpu ();
  return cpu >= 0 && cpu != peer_cpu;
}

guint32
ps_spin_cpu_mark (void)
{
  gint cpu = ps_system_current_cpu ();

  return cpu >= 0 && cpu < 0xffff ? (guint32) cpu + 1 : 0;
}

gboolean
ps_spin_should_poll (gconstpointer address)
{
  return ps_spin_should_poll_for (address, -1);
}

gboolean
ps_spin_should_poll_for (gconstpointer address,
                         gint          peer_cpu)
{
  Record *record;

  if (!several_cpus_usable () && !peer_runs_elsewhere (peer_cpu))
    return FALSE;

  record = record_for (address);
  if (g_atomic_int_get (&record->debt) < CREDIT_MAX)
    return TRUE;
  if (g_atomic_int_add (&record->sleeps_without_poll, 1) % RETRY_EVERY == RETRY_EVERY - 1)
    return TRUE;
  return FALSE;
}

void
ps_spin_record (gconstpointer address,
                gboolean      answered)
{
  Record *record = record_for (address);
  gint debt = g_atomic_int_get (&record->debt);
  gint updated;

  if (answered)
    updated = MAX (debt - CREDIT_FOR_ANSWER, 0);
  else
    updated = MIN (debt + CREDIT_FOR_SLEEP, CREDIT_MAX);
  /* Lost updates between threads only blur a heuristic. */
  if (updated != debt)
    g_atomic_int_set (&record->debt, updated);
}
