/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps_mutex_attach(), ps_semaphore_attach() and ps_cond_attach() over a
 * slot of arbitrary bytes inside a PsSharedMemory.
 *
 * Input: one control byte, then the PS_*_SIZE (256) bytes of the slot
 * (shorter inputs are padded with zeros). Control bits:
 *   0-4  the slot's offset, in units of 8 bytes (0 to 248)
 *   5    for a header that says "ours, not ready yet": publish it (1), or
 *        wipe its magic (0); see below
 *   6    after PS_ERROR_OWNER_DEAD, mark the mutex consistent before
 *        unlocking it
 *   7    also attach at offset 0 when the slot is elsewhere
 *
 * Each attach must fail with a PS_ERROR or G_IO_ERROR, or succeed; what
 * it attached to is then used without ever blocking for long (timeouts of
 * 1 µs), and must keep the promises of the API: a lock taken can be
 * released, a unit taken can be given back, a condition wait returns
 * with the mutex held.
 *
 * An attach waits PS_OBJECT_INIT_GRACE_US (2 s) for a header with our
 * magic whose ready flag is not set, as its creator may be finishing it;
 * that wait would make fuzzing crawl, and its outcome is known
 * (PS_ERROR_CORRUPT, as for a wiped magic), so the target never hands the
 * library such a header.
 *
 * In a mutex state, placeholders for this thread's identity are filled in
 * first (fuzz_personalise_mutex_state()).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "procshared.h"
#include "ps-object-header-private.h"

#define SLOT_SIZE 256

G_STATIC_ASSERT (PS_MUTEX_SIZE == SLOT_SIZE);
G_STATIC_ASSERT (PS_SEMAPHORE_SIZE == SLOT_SIZE);
G_STATIC_ASSERT (PS_COND_SIZE == SLOT_SIZE);

enum
{
  CONTROL_OFFSET_MASK     = 0x1f,
  CONTROL_PUBLISH         = 1 << 5,
  CONTROL_MARK_CONSISTENT = 1 << 6,
  CONTROL_ALSO_AT_ZERO    = 1 << 7,
};

static void
attach_all (PsSharedMemory *memory,
            gsize           offset,
            const guint8   *slot,
            guint           control)
{
  g_autoptr(GError) error = NULL;
  PsMutex *mutex;
  PsSemaphore *semaphore;
  PsCond *cond;
  guint8 *state;

  fuzz_place_slot (memory, offset, slot, (control & CONTROL_PUBLISH) != 0);
  state = (guint8 *) ps_shared_memory_get_data (memory) + offset + sizeof (PsObjectHeader);
  fuzz_personalise_mutex_state (state);
  fuzz_avoid_known_mutex_findings (state);
  mutex = ps_mutex_attach (memory, offset, &error);
  if (mutex != NULL)
    {
      fuzz_exercise_mutex (mutex, (control & CONTROL_MARK_CONSISTENT) != 0, NULL, NULL);
      g_object_unref (mutex);
    }
  else
    {
      fuzz_check_error (error, "ps_mutex_attach");
      g_clear_error (&error);
    }

  fuzz_place_slot (memory, offset, slot, (control & CONTROL_PUBLISH) != 0);
  semaphore = ps_semaphore_attach (memory, offset, &error);
  if (semaphore != NULL)
    {
      fuzz_exercise_semaphore (semaphore);
      g_object_unref (semaphore);
    }
  else
    {
      fuzz_check_error (error, "ps_semaphore_attach");
      g_clear_error (&error);
    }

  fuzz_place_slot (memory, offset, slot, (control & CONTROL_PUBLISH) != 0);
  cond = ps_cond_attach (memory, offset, &error);
  if (cond != NULL)
    {
      fuzz_exercise_cond (cond);
      g_object_unref (cond);
    }
  else
    {
      fuzz_check_error (error, "ps_cond_attach");
      g_clear_error (&error);
    }
}

static void
attach_misplaced (PsSharedMemory *memory,
                  gsize           offset)
{
  g_autoptr(GError) error = NULL;
  PsMutex *mutex;

  /* Not a multiple of 8, then not leaving room for a slot. */
  mutex = ps_mutex_attach (memory, offset + 4, &error);
  if (mutex != NULL)
    fuzz_finding ("attached at an unaligned offset", NULL);
  fuzz_check_error_is (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "ps_mutex_attach (unaligned)");
  g_clear_error (&error);

  mutex = ps_mutex_attach (memory, offset + 8, &error);
  if (mutex != NULL)
    fuzz_finding ("attached past the end of the segment", NULL);
  fuzz_check_error_is (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS, "ps_mutex_attach (past the end)");
  g_clear_error (&error);
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

  attach_all (memory, offset, slot, control);
  if (offset != 0 && (control & CONTROL_ALSO_AT_ZERO))
    {
      memset (ps_shared_memory_get_data (memory), 0, offset + SLOT_SIZE);
      attach_all (memory, 0, slot, control);
    }
  attach_misplaced (memory, offset);

  fuzz_segment_free (memory);
  fuzz_check_robust_list ();
  return 0;
}
