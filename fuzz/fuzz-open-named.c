/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps_shared_memory_open(), ps_mutex_open(), ps_semaphore_open() and
 * ps_cond_open() (flags NONE) over a named object of arbitrary bytes.
 *
 * Input: one control byte, then the file's contents, written to
 * /dev/shm under a name of this process's own and removed after the run.
 * Control bits:
 *   0    for a header that says "ours, not ready yet": publish it (1), or
 *        wipe its magic (0); see below
 *   1    after PS_ERROR_OWNER_DEAD, mark the mutex consistent
 *   2-5  the minimum size asked of ps_shared_memory_open(), in units of
 *        64 bytes (0: any size)
 *   6    once opened, truncate the file as a hostile peer would (the
 *        mutex: while this thread holds it): to 0 bytes, or (with bit 7)
 *        to the header alone
 *
 * Every open must fail with a PS_ERROR or G_IO_ERROR, or succeed; what it
 * opened is then used without blocking for long, and a segment is read
 * (every byte of it: a size the opener trusted beyond the end of the
 * file would be a SIGBUS), also after the file was truncated under it.
 *
 * An opener waits PS_OBJECT_INIT_GRACE_US (2 s) for a file shorter than a
 * header, or whose header has our magic (or none) but no ready flag: its
 * creator may be finishing it. The outcome of that wait is known
 * (PS_ERROR_CORRUPT), so the target never shows the library such a file:
 * short files are padded to a header's size, and unready headers are
 * published or wiped.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "ps-object-header-private.h"

enum
{
  CONTROL_PUBLISH         = 1 << 0,
  CONTROL_MARK_CONSISTENT = 1 << 1,
  CONTROL_MIN_SIZE_SHIFT  = 2,
  CONTROL_MIN_SIZE_MASK   = 0xf,
  CONTROL_TRUNCATE        = 1 << 6,
  CONTROL_TRUNCATE_HEADER = 1 << 7,
};

#define MIN_SIZE_UNIT 64

static char name[64];
static char path[80];

static void
write_file (const guint8 *contents,
            gsize         length,
            guint         control,
            gboolean      as_mutex)
{
  g_autofree guint8 *copy = NULL;
  gsize file_length = MAX (length, sizeof (PsObjectHeader));
  PsObjectHeader header;
  gsize done = 0;
  int fd;

  copy = g_malloc0 (file_length);
  memcpy (copy, contents, length);
  memcpy (&header, copy, sizeof header);
  if ((header.magic == PS_OBJECT_MAGIC || header.magic == 0) && header.ready != PS_OBJECT_READY)
    {
      if (control & CONTROL_PUBLISH)
        header.ready = PS_OBJECT_READY;
      else
        header.magic = ~PS_OBJECT_MAGIC;
      memcpy (copy, &header, sizeof header);
    }
  if (as_mutex && file_length >= PS_MUTEX_SIZE)
    {
      fuzz_personalise_mutex_state (copy + sizeof header);
      fuzz_avoid_known_mutex_findings (copy + sizeof header);
    }

  fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    {
      fprintf (stderr, "Could not create %s: %s\n", path, g_strerror (errno));
      abort ();
    }
  while (done < file_length)
    {
      ssize_t n = write (fd, copy + done, file_length - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          fprintf (stderr, "Could not write %s: %s\n", path, g_strerror (errno));
          abort ();
        }
      done += (gsize) n;
    }
  close (fd);
}

/* What a hostile peer may do to an open object: shrink its file. */
static void
truncate_file (gpointer user_data)
{
  guint control = GPOINTER_TO_UINT (user_data);

  if (truncate (path, (control & CONTROL_TRUNCATE_HEADER) ? sizeof (PsObjectHeader) : 0) != 0)
    {
      fprintf (stderr, "Could not truncate %s: %s\n", path, g_strerror (errno));
      abort ();
    }
}

static void
exercise_memory (PsSharedMemory *memory,
                 gsize           file_length,
                 gsize           min_size,
                 gboolean        truncated)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  gsize size = ps_shared_memory_get_size (memory);
  const volatile guint8 *bytes = ps_shared_memory_get_data (memory);
  guint8 sum = 0;
  gsize i;

  if (size > file_length || file_length - size < 64)
    fuzz_finding ("an opened segment is larger than its file allows", NULL);
  if (size < min_size)
    fuzz_finding ("an opened segment is smaller than the size asked for", NULL);
  if (g_strcmp0 (ps_shared_memory_get_name (memory), name) != 0)
    fuzz_finding ("an opened segment does not have its name", NULL);

  /* Every byte readable: nothing mapped past the end of the file. */
  for (i = 0; i < size; i++)
    sum += bytes[i];
  (void) sum;

  value = ps_shared_memory_read_variant (memory, 0, &error);
  if (value == NULL)
    {
      fuzz_check_error (error, "ps_shared_memory_read_variant");
      g_clear_error (&error);
    }
  (void) ps_shared_memory_get_int64 (memory, size >= 8 ? size - 8 : 0, &error);
  if (size < 8)
    fuzz_check_error_is (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS, "ps_shared_memory_get_int64");
  else if (error != NULL &&
           !(truncated && g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT)))
    /* A segment truncated under us fails with CORRUPT once a touch found
     * its backing gone; anything else is a finding. */
    fuzz_finding ("reading the last 8 bytes of a segment failed", error);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory;
  PsMutex *mutex;
  PsSemaphore *semaphore;
  PsCond *cond;
  gsize min_size;
  gsize file_length;
  guint control;

  fuzz_init_once ();
  if (name[0] == '\0')
    {
      g_snprintf (name, sizeof name, "/ps-fuzz-open-named-%d", (int) getpid ());
      g_snprintf (path, sizeof path, "/dev/shm%s", name);
    }

  if (size < 1)
    return 0;
  control = data[0];
  data++;
  size--;
  min_size = (gsize) ((control >> CONTROL_MIN_SIZE_SHIFT) & CONTROL_MIN_SIZE_MASK) * MIN_SIZE_UNIT;
  file_length = MAX (size, sizeof (PsObjectHeader));

  write_file (data, size, control, FALSE);
  memory = ps_shared_memory_open (name, PS_OPEN_NONE, min_size, &error);
  if (memory != NULL)
    {
      if (control & CONTROL_TRUNCATE)
        truncate_file (GUINT_TO_POINTER (control));
      exercise_memory (memory, file_length, min_size, (control & CONTROL_TRUNCATE) != 0);
      g_object_unref (memory);
    }
  else
    {
      fuzz_check_error (error, "ps_shared_memory_open");
      g_clear_error (&error);
    }

  write_file (data, size, control, TRUE);
  mutex = ps_mutex_open (name, PS_OPEN_NONE, &error);
  if (mutex != NULL)
    {
      /* Shrunk once we no longer hold it. Shrinking it while we hold it
       * is survived too (the SIGBUS guard), but the C library's robust
       * list entry inside the lost pages goes with them: a documented
       * limit, not something this target can hold the library to. */
      fuzz_exercise_mutex (mutex, (control & CONTROL_MARK_CONSISTENT) != 0,
                           NULL, GUINT_TO_POINTER (control));
      if (control & CONTROL_TRUNCATE)
        {
          truncate_file (GUINT_TO_POINTER (control));
          if (ps_mutex_try_lock (mutex, &error))
            ps_mutex_unlock (mutex, NULL);
          g_clear_error (&error);
        }
      g_object_unref (mutex);
    }
  else
    {
      fuzz_check_error (error, "ps_mutex_open");
      g_clear_error (&error);
    }

  write_file (data, size, control, FALSE);
  semaphore = ps_semaphore_open (name, PS_OPEN_NONE, 0, &error);
  if (semaphore != NULL)
    {
      if (control & CONTROL_TRUNCATE)
        truncate_file (GUINT_TO_POINTER (control));
      fuzz_exercise_semaphore (semaphore);
      g_object_unref (semaphore);
    }
  else
    {
      fuzz_check_error (error, "ps_semaphore_open");
      g_clear_error (&error);
    }

  write_file (data, size, control, FALSE);
  cond = ps_cond_open (name, PS_OPEN_NONE, &error);
  if (cond != NULL)
    {
      if (control & CONTROL_TRUNCATE)
        truncate_file (GUINT_TO_POINTER (control));
      fuzz_exercise_cond (cond);
      g_object_unref (cond);
    }
  else
    {
      fuzz_check_error (error, "ps_cond_open");
      g_clear_error (&error);
    }

  if (unlink (path) != 0)
    {
      fprintf (stderr, "Could not remove %s: %s\n", path, g_strerror (errno));
      abort ();
    }
  fuzz_check_robust_list ();
  return 0;
}
