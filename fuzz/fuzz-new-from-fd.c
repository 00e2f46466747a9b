/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps_shared_memory_new_from_fd() over a descriptor of arbitrary bytes, as
 * a hostile sender could hand over: a memfd (the library's own, from
 * ps_shared_memory_new() and dup_fd()) whose contents and size are the
 * input's.
 *
 * Input: one control byte, then the file's contents. Control bits:
 *   0    hand over a read-only descriptor (dup_read_only_fd())
 *   1    seal the file before handing it over
 *   2    once mapped, truncate the file as a hostile sender would: to 0
 *        bytes, or (with bit 3) to the header alone
 *
 * Mapping must fail with a PS_ERROR or G_IO_ERROR, or succeed with a
 * segment of the file's size less its header, every byte of which is
 * readable (also after a truncation: the SIGBUS guard), whose writes fail
 * with G_IO_ERROR_READ_ONLY if it is read-only, and in which attaching a
 * mutex fails cleanly or works.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz-common.h"

enum
{
  CONTROL_READ_ONLY       = 1 << 0,
  CONTROL_SEAL            = 1 << 1,
  CONTROL_TRUNCATE        = 1 << 2,
  CONTROL_TRUNCATE_HEADER = 1 << 3,
};

#define DATA_OFFSET 64

static void
check (gboolean    ok,
       const char *what)
{
  if (!ok)
    {
      fprintf (stderr, "%s: %s\n", what, g_strerror (errno));
      abort ();
    }
}

/* A descriptor of a memfd holding @contents. */
static int
make_descriptor (const guint8 *contents,
                 gsize         length,
                 guint         control)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) carrier = ps_shared_memory_new (1, &error);
  int fd, handed;
  gsize done = 0;

  if (carrier == NULL)
    fuzz_finding ("ps_shared_memory_new", error);
  fd = ps_shared_memory_dup_fd (carrier, &error);
  if (fd < 0)
    fuzz_finding ("ps_shared_memory_dup_fd", error);
  check (ftruncate (fd, (off_t) length) == 0, "ftruncate");
  while (done < length)
    {
      ssize_t n = pwrite (fd, contents + done, length - done, (off_t) done);

      if (n < 0 && errno == EINTR)
        continue;
      check (n > 0, "pwrite");
      done += (gsize) n;
    }

  handed = fd;
  if (control & CONTROL_READ_ONLY)
    {
      handed = ps_shared_memory_dup_read_only_fd (carrier, &error);
      if (handed < 0)
        fuzz_finding ("ps_shared_memory_dup_read_only_fd", error);
    }
  if ((control & CONTROL_SEAL) && !ps_shared_memory_seal (carrier, &error))
    fuzz_finding ("ps_shared_memory_seal", error);
  if (handed != fd)
    close (fd);
  return handed;
}

static void
exercise (PsSharedMemory *memory,
          gsize           length,
          guint           control,
          int             fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  gsize size = ps_shared_memory_get_size (memory);
  const volatile guint8 *bytes = ps_shared_memory_get_data (memory);
  gboolean read_only = ps_shared_memory_is_read_only (memory);
  guint8 sum = 0;

  if (size + DATA_OFFSET != length)
    fuzz_finding ("a mapped segment is not the size of its file", NULL);
  if (read_only != ((control & CONTROL_READ_ONLY) != 0))
    fuzz_finding ("a segment's read-only flag is not its descriptor's", NULL);

  if ((control & CONTROL_TRUNCATE) && !(control & CONTROL_SEAL))
    check (ftruncate (fd, (control & CONTROL_TRUNCATE_HEADER) ? DATA_OFFSET : 0) == 0 ||
           read_only, "ftruncate");

  /* Every byte readable: nothing mapped past the end of the file. */
  for (gsize i = 0; i < size; i++)
    sum += bytes[i];
  (void) sum;

  value = ps_shared_memory_read_variant (memory, 0, &error);
  if (value == NULL)
    fuzz_check_error (error, "ps_shared_memory_read_variant");
  g_clear_error (&error);

  if (size >= 8 && !ps_shared_memory_set_int64 (memory, 0, 1, &error))
    {
      if (read_only)
        fuzz_check_error_is (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY, "set_int64");
      else
        fuzz_check_error_is (error, PS_ERROR, PS_ERROR_CORRUPT, "set_int64");
    }
  else if (size >= 8 && read_only)
    fuzz_finding ("a read-only segment was written", NULL);
  g_clear_error (&error);

  if (size >= PS_MUTEX_SIZE)
    {
      mutex = ps_mutex_attach (memory, 0, &error);
      if (mutex == NULL)
        fuzz_check_error (error, "ps_mutex_attach");
      else if (read_only)
        fuzz_finding ("a mutex was attached in a read-only segment", NULL);
      else
        fuzz_exercise_mutex (mutex, TRUE, NULL, NULL);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  PsSharedMemory *memory;
  guint control;
  int fd;

  fuzz_init_once ();
  if (size < 1)
    return 0;
  control = data[0];
  data++;
  size--;

  fd = make_descriptor (data, size, control);
  memory = ps_shared_memory_new_from_fd (fd, &error);
  if (memory != NULL)
    {
      exercise (memory, size, control, fd);
      g_object_unref (memory);
    }
  else
    fuzz_check_error (error, "ps_shared_memory_new_from_fd");
  close (fd);
  fuzz_check_robust_list ();
  return 0;
}
