/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps_rw_lock_attach() over PS_RW_LOCK_SIZE arbitrary bytes inside a
 * PsSharedMemory, then the lock used as an application would.
 *
 * Input: one control byte, then the PS_RW_LOCK_SIZE (4096) bytes of the
 * object (shorter inputs are padded with zeros). Control bits:
 *   0-4  the object's offset, in units of 8 bytes (0 to 248)
 *   5    for a header that says "ours, not ready yet": publish it (1), or
 *        wipe its magic (0), as fuzz-attach does (no 2 s grace wait)
 *   6    after PS_ERROR_OWNER_DEAD, mark the lock consistent before
 *        write-unlocking it
 *
 * The attach must fail with a PS_ERROR or G_IO_ERROR, or succeed; a lock
 * attached is then read-locked and write-locked with timeouts of 1 µs:
 * every error is one of the API's, what is taken is given back, and this
 * thread's robust list is empty at the end.
 */

#include <string.h>

#include "fuzz-common.h"
#include "procshared.h"
#include "ps-object-header-private.h"

enum
{
  CONTROL_OFFSET_MASK     = 0x1f,
  CONTROL_PUBLISH         = 1 << 5,
  CONTROL_MARK_CONSISTENT = 1 << 6,
};

static void
check_taken (gboolean    ok,
             GError     *error,
             const char *what)
{
  if (!ok && error == NULL)
    return;   /* a try found it busy */
  if (ok && error != NULL)
    fuzz_finding (what, error);   /* succeeded, with an error set */
  if (error != NULL)
    fuzz_check_error (error, what);
}

/* After a lock attempt: give back what it took. */
static void
give_back (PsRWLock   *lock,
           gboolean    ok,
           gboolean    read,
           GError     *error,
           gboolean    mark_consistent)
{
  g_autoptr(GError) unlock_error = NULL;

  if (g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
    {
      /* Held for writing, whoever asked. */
      if (mark_consistent && !ps_rw_lock_mark_consistent (lock, &unlock_error))
        fuzz_finding ("mark_consistent failed after OWNER_DEAD", unlock_error);
      g_clear_error (&unlock_error);
      if (!ps_rw_lock_write_unlock (lock, &unlock_error))
        fuzz_check_error (unlock_error, "write_unlock after OWNER_DEAD");
      return;
    }
  if (!ok)
    return;
  if (read ? !ps_rw_lock_read_unlock (lock, &unlock_error)
           : !ps_rw_lock_write_unlock (lock, &unlock_error))
    fuzz_check_error (unlock_error, "unlock");
}

static void
exercise (PsRWLock *lock,
          gboolean  mark_consistent)
{
  for (guint round = 0; round < 2; round++)
    {
      gboolean read = round == 0;
      GError *error = NULL;
      gboolean ok;

      ok = read ? ps_rw_lock_try_read_lock (lock, &error) : ps_rw_lock_try_write_lock (lock, &error);
      check_taken (ok, error, read ? "try_read_lock" : "try_write_lock");
      give_back (lock, ok, read, error, mark_consistent);
      g_clear_error (&error);

      ok = read ? ps_rw_lock_read_lock (lock, 1, NULL, &error)
                : ps_rw_lock_write_lock (lock, 1, NULL, &error);
      check_taken (ok, error, read ? "read_lock" : "write_lock");
      give_back (lock, ok, read, error, mark_consistent);
      g_clear_error (&error);
    }
  (void) ps_rw_lock_get_n_readers (lock);
  (void) ps_rw_lock_get_writer_pid (lock);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static guint8 object[PS_RW_LOCK_SIZE];
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory;
  PsRWLock *lock;
  gsize offset;
  guint control;

  fuzz_init_once ();

  if (size < 1)
    return 0;
  control = data[0];
  memset (object, 0, sizeof object);
  memcpy (object, data + 1, MIN (size - 1, sizeof object));

  /* The object ends the segment exactly: one byte more read is caught. */
  offset = 8 * (control & CONTROL_OFFSET_MASK);
  memory = fuzz_segment_new (offset + PS_RW_LOCK_SIZE);

  fuzz_place_bytes (memory, offset, object, PS_RW_LOCK_SIZE, (control & CONTROL_PUBLISH) != 0);

  lock = ps_rw_lock_attach (memory, offset, &error);
  if (lock != NULL)
    {
      exercise (lock, (control & CONTROL_MARK_CONSISTENT) != 0);
      g_object_unref (lock);
    }
  else
    {
      fuzz_check_error (error, "ps_rw_lock_attach");
    }

  fuzz_segment_free (memory);
  fuzz_check_robust_list ();
  return 0;
}
