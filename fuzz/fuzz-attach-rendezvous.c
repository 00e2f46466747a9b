/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps_event_attach() and ps_barrier_attach() over a slot of arbitrary
 * bytes inside a PsSharedMemory.
 *
 * Input: one control byte, then the PS_EVENT_SIZE / PS_BARRIER_SIZE (256)
 * bytes of the slot (shorter inputs are padded with zeros). Control bits:
 *   0-4  the slot's offset, in units of 8 bytes (0 to 248)
 *   5    for a header that says "ours, not ready yet": publish it (1), or
 *        wipe its magic (0), as fuzz-attach.c does, to skip the grace wait
 *
 * Each attach must fail with a PS_ERROR or G_IO_ERROR, or succeed; the
 * object attached to is then used with waits of 1 µs, and must keep the
 * promises of the API: every wait returns, with TRUE, an index below
 * the parties, or one of the documented errors; a reset barrier is not
 * broken; a set manual-reset event is set.
 */

#include <string.h>

#include "fuzz-common.h"
#include "procshared.h"
#include "ps-object-header-private.h"

#define SLOT_SIZE 256

G_STATIC_ASSERT (PS_EVENT_SIZE == SLOT_SIZE);
G_STATIC_ASSERT (PS_BARRIER_SIZE == SLOT_SIZE);

enum
{
  CONTROL_OFFSET_MASK = 0x1f,
  CONTROL_PUBLISH     = 1 << 5,
};

static void
exercise_event (PsEvent *event)
{
  g_autoptr(GError) error = NULL;
  gboolean auto_reset = ps_event_get_auto_reset (event);

  ps_event_is_set (event);
  if (!ps_event_wait (event, 1, NULL, &error))
    fuzz_check_error (error, "ps_event_wait");
  g_clear_error (&error);
  ps_event_set (event);
  if (!auto_reset && !ps_event_is_set (event))
    fuzz_finding ("a manual-reset event is not set after ps_event_set()", NULL);
  if (!ps_event_wait (event, 0, NULL, &error))
    fuzz_check_error (error, "ps_event_wait (0)");
  g_clear_error (&error);
  ps_event_reset (event);
}

static void
exercise_barrier (PsBarrier *barrier)
{
  g_autoptr(GError) error = NULL;
  guint parties = ps_barrier_get_parties (barrier);
  gint index;

  if (parties < 1 || parties > PS_BARRIER_MAX_PARTIES)
    fuzz_finding ("attached to a barrier with an impossible number of parties", NULL);
  if (ps_barrier_get_n_waiting (barrier) > parties)
    fuzz_finding ("more parties waiting than the barrier has", NULL);
  ps_barrier_is_broken (barrier);
  index = ps_barrier_wait (barrier, 1, NULL, &error);
  if (index >= (gint) parties)
    fuzz_finding ("an arrival index past the parties", NULL);
  if (index < 0)
    fuzz_check_error (error, "ps_barrier_wait");
  g_clear_error (&error);
  index = ps_barrier_wait (barrier, 0, NULL, &error);
  if (index < 0)
    fuzz_check_error (error, "ps_barrier_wait (0)");
  g_clear_error (&error);
  ps_barrier_abort (barrier);
  if (!ps_barrier_is_broken (barrier))
    fuzz_finding ("an aborted barrier is not broken", NULL);
  if (!ps_barrier_reset (barrier, &error))
    fuzz_check_error (error, "ps_barrier_reset");
  if (ps_barrier_is_broken (barrier))
    fuzz_finding ("a reset barrier is broken", NULL);
}

/* Places the slot again (the last object used may have changed it),
 * attaches a barrier (or an event) to it and uses one attached; a failed
 * attach's error must be one of the API's. */
static void
attach_and_exercise (PsSharedMemory *memory,
                     gsize           offset,
                     const guint8   *slot,
                     gboolean        publish,
                     gboolean        barrier)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) object = NULL;

  fuzz_place_slot (memory, offset, slot, publish);
  if (barrier)
    object = G_OBJECT (ps_barrier_attach (memory, offset, &error));
  else
    object = G_OBJECT (ps_event_attach (memory, offset, &error));

  if (object == NULL)
    fuzz_check_error (error, barrier ? "ps_barrier_attach" : "ps_event_attach");
  else if (barrier)
    exercise_barrier (PS_BARRIER (object));
  else
    exercise_event (PS_EVENT (object));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  guint8 slot[SLOT_SIZE] = { 0 };
  PsSharedMemory *memory;
  gsize offset;
  guint control;

  fuzz_init_once ();

  if (size < 1)
    return 0;
  control = data[0];
  memcpy (slot, data + 1, MIN (size - 1, sizeof slot));

  /* The slot ends the segment exactly: one byte more read is caught. */
  offset = 8 * (control & CONTROL_OFFSET_MASK);
  memory = fuzz_segment_new (offset + SLOT_SIZE);

  attach_and_exercise (memory, offset, slot, (control & CONTROL_PUBLISH) != 0, FALSE);
  attach_and_exercise (memory, offset, slot, (control & CONTROL_PUBLISH) != 0, TRUE);

  fuzz_segment_free (memory);
  fuzz_check_robust_list ();
  return 0;
}
