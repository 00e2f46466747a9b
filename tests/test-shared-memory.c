/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <float.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "ps-test-util.h"
/* Only for the layout of the object header, to forge damaged segments. */
#include "ps-object-header-private.h"

/* The layout of a variant record, mirrored so that the corruption tests
 * can forge records that write_variant() would never produce.
 * test_record_layout() checks this mirror against real records, so that a
 * change of format fails there, loudly, rather than making the forged
 * records meaningless. */
typedef struct
{
  guint32 magic;
  guint32 type_length;
  guint64 data_length;
} TestRecordHeader;

#define TEST_RECORD_TYPE_OFFSET sizeof (TestRecordHeader)

static gsize
test_record_data_offset (gsize type_length)
{
  return sizeof (TestRecordHeader) + ((type_length + 7) & ~(gsize) 7);
}

static guint8 *
mem_data (PsSharedMemory *mem)
{
  return ps_shared_memory_get_data (mem);
}

/* Fills the whole segment with a reproducible pattern and returns a copy,
 * so that a failed call can be shown to have changed nothing. */
static guint8 *
fill_random (PsSharedMemory *mem,
             guint32         seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  gsize size = ps_shared_memory_get_size (mem);
  guint8 *data = mem_data (mem);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_rand_int_range (rand, 0, 256);
  return g_memdup2 (data, size);
}

static void
assert_unchanged (PsSharedMemory *mem,
                  const guint8   *snapshot)
{
  gsize size = ps_shared_memory_get_size (mem);

  g_assert_cmpmem (mem_data (mem), size, snapshot, size);
}

/* A peer process ------------------------------------------------------------
 *
 * The test binary re-executes itself with --peer: a separately spawned
 * process that shares nothing with the test but the name of a segment. */

#define PEER_PATTERN(i) ((guint8) ((i) * 7 + 3))
#define PEER_VARIANT_OFFSET 512
#define PEER_INT64_OFFSET 1024
#define PEER_INT64_VALUE G_GINT64_CONSTANT (-0x123456789abcdef)
#define PEER_REPLY_OFFSET 2048
#define PEER_SIZE 4096

static int
peer_fail (const char *what,
           GError     *error)
{
  g_printerr ("peer: %s: %s\n", what, error != NULL ? error->message : "mismatch");
  return 1;
}

/* Opens a segment that the test filled, checks what it holds and writes
 * an answer back. */
static int
peer_check_named (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) expected = NULL;
  g_autoptr(GVariant) reply = NULL;
  const guint8 *data;

  mem = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
  if (mem == NULL)
    return peer_fail ("open", error);
  if (ps_shared_memory_get_size (mem) != PEER_SIZE)
    return peer_fail ("size", NULL);
  data = ps_shared_memory_get_data (mem);
  for (guint i = 0; i < 256; i++)
    if (data[i] != PEER_PATTERN (i))
      return peer_fail ("pattern", NULL);

  value = ps_shared_memory_read_variant (mem, PEER_VARIANT_OFFSET, &error);
  if (value == NULL)
    return peer_fail ("read_variant", error);
  expected = g_variant_ref_sink (g_variant_new ("(si)", "from parent", 42));
  if (!g_variant_equal (value, expected))
    return peer_fail ("variant", NULL);

  if (!ps_shared_memory_set_int64 (mem, PEER_INT64_OFFSET, PEER_INT64_VALUE, &error))
    return peer_fail ("set_int64", error);
  reply = g_variant_parse (NULL, "('from peer', [1, 2, 3])", NULL, NULL, &error);
  if (reply == NULL)
    return peer_fail ("parse", error);
  if (!ps_shared_memory_write_variant (mem, PEER_REPLY_OFFSET, reply, &error))
    return peer_fail ("write_variant", error);
  return 0;
}

/* Reads the record at OFFSET of NAME and compares it with EXPECTED (GVariant
 * text format); used by the Python suite to check a Python writer against
 * a C reader. Prints what it read. */
static int
peer_read_variant (const char *name,
                   const char *offset_string,
                   const char *expected_text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) expected = NULL;
  g_autofree char *printed = NULL;
  guint64 offset;

  if (!g_ascii_string_to_unsigned (offset_string, 10, 0, G_MAXUINT64, &offset, &error))
    return peer_fail ("offset", error);
  mem = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
  if (mem == NULL)
    return peer_fail ("open", error);
  value = ps_shared_memory_read_variant (mem, offset, &error);
  if (value == NULL)
    return peer_fail ("read_variant", error);
  printed = g_variant_print (value, TRUE);
  g_print ("%s\n", printed);
  expected = g_variant_parse (NULL, expected_text, NULL, NULL, &error);
  if (expected == NULL)
    return peer_fail ("parse", error);
  if (!g_variant_equal (value, expected))
    return peer_fail ("variant", NULL);
  return 0;
}

static int
peer_main (int    argc,
           char **argv)
{
  ps_test_watchdog (ps_test_scaled_s (60));

  if (argc == 2 && g_str_equal (argv[0], "check-named"))
    return peer_check_named (argv[1]);
  if (argc == 4 && g_str_equal (argv[0], "read-variant"))
    return peer_read_variant (argv[1], argv[2], argv[3]);
  g_printerr ("peer: bad arguments\n");
  return 2;
}

/* Anonymous segments ----------------------------------------------------- */

static void
test_anonymous_zero_filled (void)
{
  const gsize sizes[] = { 1, 63, 4096, 100001 };

  for (gsize s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (sizes[s], &error);
      g_autoptr(GBytes) bytes = NULL;
      const guint8 *data;
      gsize length;

      g_assert_no_error (error);
      g_assert_nonnull (mem);
      g_assert_cmpuint (ps_shared_memory_get_size (mem), ==, sizes[s]);
      g_assert_null (ps_shared_memory_get_name (mem));
      g_assert_cmpuint (ps_shared_memory_get_open_flags (mem), ==, PS_OPEN_NONE);
      g_assert_true (ps_shared_memory_get_address (mem) ==
                     (guintptr) ps_shared_memory_get_data (mem));

      bytes = ps_shared_memory_read (mem, 0, sizes[s], &error);
      g_assert_no_error (error);
      data = g_bytes_get_data (bytes, &length);
      g_assert_cmpuint (length, ==, sizes[s]);
      for (gsize i = 0; i < length; i++)
        g_assert_cmpuint (data[i], ==, 0);
    }
}

static void
test_anonymous_properties (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (77, &error);
  g_autofree char *name = NULL;
  guint64 size = 0;
  PsOpenFlags flags = 99;
  guint mode = 0;

  g_assert_no_error (error);
  g_object_get (mem, "name", &name, "size", &size, "open-flags", &flags, "mode", &mode, NULL);
  g_assert_null (name);
  g_assert_cmpuint (size, ==, 77);
  g_assert_cmpuint (flags, ==, PS_OPEN_NONE);
  g_assert_cmpuint (mode, ==, 0600);
  g_assert_true (G_IS_INITABLE (mem));
}

typedef struct
{
  PsSharedMemory *mem;
} ForkData;

static int
child_write (gpointer user_data)
{
  ForkData *data = user_data;
  g_autoptr(GError) error = NULL;

  /* The parent wrote this before forking: the child sees the same bytes. */
  if (ps_shared_memory_get_int32 (data->mem, 0, &error) != 0x01020304)
    return 1;
  for (guint i = 0; i < 1000; i++)
    if (!ps_shared_memory_set_uint8 (data->mem, 8 + i, (guint8) (i ^ 0xa5), &error))
      return 2;
  if (!ps_shared_memory_set_double (data->mem, 2001, -1.5e300, &error))
    return 3;
  if (!ps_shared_memory_write_variant (data->mem, 3000,
                                       g_variant_new ("(sx)", "child", G_MININT64), &error))
    return 4;
  return 0;
}

static void
test_anonymous_fork (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (8192, &error);
  g_autoptr(GVariant) value = NULL;
  ForkData data = { NULL };
  pid_t pid;

  g_assert_no_error (error);
  data.mem = mem;
  g_assert_true (ps_shared_memory_set_int32 (mem, 0, 0x01020304, &error));
  g_assert_no_error (error);

  pid = ps_test_fork (child_write, &data, ps_test_scaled_s (30));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));

  for (guint i = 0; i < 1000; i++)
    g_assert_cmpuint (mem_data (mem)[8 + i], ==, (guint8) (i ^ 0xa5));
  g_assert_cmpfloat (ps_shared_memory_get_double (mem, 2001, &error), ==, -1.5e300);
  g_assert_no_error (error);
  value = ps_shared_memory_read_variant (mem, 3000, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (value), ==, "(sx)");
  {
    const char *s;
    gint64 x;

    g_variant_get (value, "(&sx)", &s, &x);
    g_assert_cmpstr (s, ==, "child");
    g_assert_cmpint (x, ==, G_MININT64);
  }
}

/* Sizes ----------------------------------------------------------------- */

static void
test_size_zero (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = NULL;
  g_autofree char *name = ps_test_unique_name ("shm-zero");

  mem = ps_shared_memory_new (0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (mem);
  g_clear_error (&error);

  mem = ps_shared_memory_open (name, PS_OPEN_CREATE, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (mem);
  g_clear_error (&error);
  ps_test_assert_in_dev_shm (name, FALSE);

  mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (mem);
  ps_test_assert_in_dev_shm (name, FALSE);
}

static const gsize too_large_sizes[] = {
  G_MAXSIZE,
  G_MAXSIZE - 1,
  G_MAXSSIZE,
  G_MAXSSIZE - 63,
  (gsize) 1 << 62,
};

static void
test_size_too_large_body (void)
{
  for (gsize s = 0; s < G_N_ELEMENTS (too_large_sizes); s++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PsSharedMemory) mem = NULL;
      g_autofree char *name = ps_test_unique_name ("shm-huge");

      g_test_message ("size %" G_GSIZE_FORMAT, too_large_sizes[s]);
      mem = ps_shared_memory_new (too_large_sizes[s], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (mem);
      g_clear_error (&error);

      mem = ps_shared_memory_open (name, PS_OPEN_CREATE, too_large_sizes[s], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (mem);
      g_clear_error (&error);
      ps_test_assert_in_dev_shm (name, FALSE);

      mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                   too_large_sizes[s], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (mem);
      ps_test_assert_in_dev_shm (name, FALSE);
    }
}

static void
test_size_too_large (void)
{
  /* In a subprocess: a warning (fatal in GTest) instead of a GError would
   * otherwise take down every later test with it. */
  if (g_test_subprocess ())
    {
      test_size_too_large_body ();
      return;
    }
  g_test_trap_subprocess (NULL, ps_test_scaled_us (60 * G_USEC_PER_SEC),
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  if (!g_test_trap_has_passed ())
    g_test_fail_printf ("a size too large for the system did not fail cleanly "
                        "with G_IO_ERROR_INVALID_ARGUMENT (see the subprocess output above)");
}

/* Named segments ----------------------------------------------------------- */

static void
test_named_create_open (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("shm-named");
  g_autoptr(PsSharedMemory) creator = NULL;
  g_autoptr(PsSharedMemory) opener = NULL;
  g_autoptr(PsSharedMemory) smaller = NULL;
  g_autoptr(PsSharedMemory) larger = NULL;
  g_autoptr(PsSharedMemory) created_again = NULL;
  g_autofree char *prop_name = NULL;
  guint64 prop_size = 0;
  PsOpenFlags prop_flags = 0;

  creator = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 1000, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ps_shared_memory_get_name (creator), ==, name);
  g_assert_cmpuint (ps_shared_memory_get_size (creator), ==, 1000);
  g_assert_cmpuint (ps_shared_memory_get_open_flags (creator), ==,
                    PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE);
  g_assert_cmpuint (ps_shared_memory_get_mode (creator), ==, 0600);
  for (gsize i = 0; i < 1000; i++)
    g_assert_cmpuint (mem_data (creator)[i], ==, 0);

  g_object_get (creator, "name", &prop_name, "size", &prop_size,
                "open-flags", &prop_flags, NULL);
  g_assert_cmpstr (prop_name, ==, name);
  g_assert_cmpuint (prop_size, ==, 1000);
  g_assert_cmpuint (prop_flags, ==, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE);

  g_assert_true (ps_shared_memory_set_int64 (creator, 992, G_MAXINT64, &error));
  g_assert_no_error (error);

  /* Size 0: whatever size it has. */
  opener = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_shared_memory_get_size (opener), ==, 1000);
  g_assert_cmpuint (ps_shared_memory_get_open_flags (opener), ==, PS_OPEN_NONE);
  g_assert_cmpint (ps_shared_memory_get_int64 (opener, 992, &error), ==, G_MAXINT64);
  g_assert_no_error (error);

  /* Two mappings, one segment. */
  g_assert_true (ps_shared_memory_set_int32 (opener, 5, -77, &error));
  g_assert_cmpint (ps_shared_memory_get_int32 (creator, 5, &error), ==, -77);
  g_assert_no_error (error);

  /* A smaller size is a minimum, met; the segment keeps its own size. */
  smaller = ps_shared_memory_open (name, PS_OPEN_NONE, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_shared_memory_get_size (smaller), ==, 1000);

  larger = ps_shared_memory_open (name, PS_OPEN_NONE, 1001, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (larger);
  g_clear_error (&error);

  /* CREATE without EXCLUSIVE opens the existing one, not a new one. */
  created_again = ps_shared_memory_open (name, PS_OPEN_CREATE, 1000, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ps_shared_memory_get_int32 (created_again, 5, &error), ==, -77);
  g_assert_no_error (error);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

static void
test_named_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("shm-errors");
  g_autoptr(PsSharedMemory) mem = NULL;
  g_autoptr(PsSharedMemory) again = NULL;

  mem = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (mem);
  g_clear_error (&error);

  mem = ps_shared_memory_open (name, PS_OPEN_NONE, 100, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  ps_test_assert_in_dev_shm (name, FALSE);

  mem = ps_shared_memory_open (name, PS_OPEN_EXCLUSIVE, 100, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (mem);
  g_clear_error (&error);
  ps_test_assert_in_dev_shm (name, FALSE);

  mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 100, &error);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_set_uint8 (mem, 50, 0xee, &error));

  again = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 100, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_null (again);
  g_clear_error (&error);

  /* EXCLUSIVE without CREATE is refused even when the name exists. */
  again = ps_shared_memory_open (name, PS_OPEN_EXCLUSIVE, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (again);
  g_clear_error (&error);

  /* The failed exclusive create left the segment alone. */
  g_assert_cmpuint (ps_shared_memory_get_uint8 (mem, 50, &error), ==, 0xee);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_shared_memory_get_size (mem), ==, 100);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

static guint
st_mode_of (const char *name)
{
  g_autofree char *path = ps_test_dev_shm_path (name);
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
test_named_mode_default (void)
{
  const mode_t umasks[] = { 0, 022, 077 };

  for (gsize u = 0; u < G_N_ELEMENTS (umasks); u++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("shm-mode");
      g_autoptr(PsSharedMemory) mem = NULL;
      mode_t old = umask (umasks[u]);

      mem = ps_shared_memory_open (name, PS_OPEN_CREATE, 64, &error);
      umask (old);
      g_assert_no_error (error);
      g_assert_cmpuint (ps_shared_memory_get_mode (mem), ==, 0600);
      g_assert_cmpuint (st_mode_of (name), ==, 0600);
      g_assert_true (ps_unlink (name, &error));
      g_assert_no_error (error);
    }
}

static void
test_named_mode_property (void)
{
  const guint modes[] = { 0640, 0666, 0604, 0400, 0 };
  const mode_t umasks[] = { 0, 077 };

  for (gsize m = 0; m < G_N_ELEMENTS (modes); m++)
    for (gsize u = 0; u < G_N_ELEMENTS (umasks); u++)
      {
        g_autoptr(GError) error = NULL;
        g_autofree char *name = ps_test_unique_name ("shm-mode-prop");
        g_autoptr(PsSharedMemory) mem = NULL;
        guint mode = 0;
        mode_t old = umask (umasks[u]);

        mem = g_initable_new (PS_TYPE_SHARED_MEMORY, NULL, &error,
                              "name", name,
                              "open-flags", PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                              "size", (guint64) 128,
                              "mode", modes[m],
                              NULL);
        umask (old);
        g_assert_no_error (error);
        g_assert_nonnull (mem);
        g_object_get (mem, "mode", &mode, NULL);
        g_assert_cmpuint (mode, ==, modes[m]);
        g_assert_cmpuint (ps_shared_memory_get_mode (mem), ==, modes[m]);
        g_assert_cmpuint (st_mode_of (name), ==, modes[m]);
        /* The creator uses it whatever mode it gave to others. */
        g_assert_true (ps_shared_memory_set_int32 (mem, 124, 9, &error));
        g_assert_no_error (error);
        g_assert_true (ps_unlink (name, &error));
        g_assert_no_error (error);
      }
}

static void
test_named_spawned_peer (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("shm-peer");
  g_autoptr(PsSharedMemory) mem = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) expected = NULL;
  GPid pid;

  mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, PEER_SIZE, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 256; i++)
    mem_data (mem)[i] = PEER_PATTERN (i);
  g_assert_true (ps_shared_memory_write_variant (mem, PEER_VARIANT_OFFSET,
                                                 g_variant_new ("(si)", "from parent", 42),
                                                 &error));
  g_assert_no_error (error);

  pid = ps_test_spawn_peer ("check-named", name, NULL);
  ps_test_reap_ok (pid, ps_test_scaled_s (60));

  g_assert_cmpint (ps_shared_memory_get_int64 (mem, PEER_INT64_OFFSET, &error), ==,
                   PEER_INT64_VALUE);
  g_assert_no_error (error);
  reply = ps_shared_memory_read_variant (mem, PEER_REPLY_OFFSET, &error);
  g_assert_no_error (error);
  expected = g_variant_parse (NULL, "('from peer', [1, 2, 3])", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (reply, expected));

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

typedef struct
{
  const char *name;
} PermissionData;

static int
child_open_as_nobody (gpointer user_data)
{
  PermissionData *data = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = NULL;

  if (setgroups (0, NULL) != 0 || setgid (65534) != 0 || setuid (65534) != 0)
    return 10;

  mem = ps_shared_memory_open (data->name, PS_OPEN_NONE, 0, &error);
  if (mem != NULL || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    return 1;
  g_clear_error (&error);

  mem = ps_shared_memory_open (data->name, PS_OPEN_CREATE, 64, &error);
  if (mem != NULL || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    return 2;
  g_clear_error (&error);

  /* /dev/shm is sticky: another user may not remove it either. */
  if (ps_unlink (data->name, &error) ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    return 3;
  return 0;
}

static void
test_named_permission_denied (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_autoptr(PsSharedMemory) mem = NULL;
  PermissionData data;
  pid_t pid;

  if (geteuid () != 0)
    {
      g_test_skip ("needs root to switch to another user");
      return;
    }

  name = ps_test_unique_name ("shm-perm");
  mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 64, &error);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_set_int32 (mem, 0, 1234, &error));

  data.name = name;
  pid = ps_test_fork (child_open_as_nobody, &data, ps_test_scaled_s (30));
  ps_test_reap_ok (pid, ps_test_scaled_s (30));

  /* Still there and intact. */
  g_assert_cmpint (ps_shared_memory_get_int32 (mem, 0, &error), ==, 1234);
  g_assert_cmpuint (st_mode_of (name), ==, 0600);
  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

/* Damaged or foreign segments --------------------------------------------- */

static void
assert_open_fails (const char *name,
                   GQuark      domain,
                   int         code)
{
  const PsOpenFlags flags[] = { PS_OPEN_NONE, PS_OPEN_CREATE };

  for (gsize f = 0; f < G_N_ELEMENTS (flags); f++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PsSharedMemory) mem = ps_shared_memory_open (name, flags[f], 64, &error);

      g_assert_error (error, domain, code);
      g_assert_null (mem);
    }
}

static void
truncate_named (const char *name,
                off_t       length)
{
  int fd = shm_open (name, O_RDWR, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, length), ==, 0);
  close (fd);
}

static void
test_named_truncated (void)
{
  const off_t lengths[] = { 0, 10 };

  for (gsize l = 0; l < G_N_ELEMENTS (lengths); l++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("shm-trunc");
      PsSharedMemory *mem;

      mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 4096, &error);
      g_assert_no_error (error);
      /* Unmapped before it shrinks: touching it afterwards would fault. */
      g_object_unref (mem);

      truncate_named (name, lengths[l]);
      assert_open_fails (name, PS_ERROR, PS_ERROR_CORRUPT);

      g_assert_true (ps_unlink (name, &error));
      g_assert_no_error (error);
    }
}

static void
test_named_truncated_while_mapped (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("shm-trunc-mapped");
  g_autoptr(PsSharedMemory) mem = NULL;

  /* The creator keeps its mapping (and does not touch it) while another
   * process shrinks the object under it. */
  mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 100000, &error);
  g_assert_no_error (error);
  truncate_named (name, 10);
  assert_open_fails (name, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

static void
assert_lost_backing (GError **error)
{
  g_assert_error (*error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_nonnull (strstr ((*error)->message, "lost its backing"));
  g_clear_error (error);
}

/* Touched after another process truncated it: the SIGBUS guard keeps the
 * process alive, and from then on no read or write of the segment looks
 * successful, not even one within what is left of the file (the mapping
 * went private as a whole). */
static void
test_named_truncated_then_touched (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("shm-trunc-touched");
  g_autoptr(PsSharedMemory) mem = NULL;
  g_autoptr(GVariant) record = g_variant_ref_sink (g_variant_new_string ("lost"));
  const guint8 bytes[4] = { 1, 2, 3, 4 };

  mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 100000, &error);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_set_int32 (mem, 0, 42, &error));
  g_assert_true (ps_shared_memory_write_variant (mem, 4096, record, &error));
  g_assert_no_error (error);
  truncate_named (name, 10);

  /* A write to a page past the end: it faults, and fails. */
  g_assert_false (ps_shared_memory_set_int32 (mem, 90000, 7, &error));
  assert_lost_backing (&error);
  g_assert_cmpint (ps_shared_memory_get_int32 (mem, 0, &error), ==, 0);
  assert_lost_backing (&error);
  g_assert_false (ps_shared_memory_set_uint8 (mem, 0, 1, &error));
  assert_lost_backing (&error);
  g_assert_null (ps_shared_memory_read (mem, 0, 4, &error));
  assert_lost_backing (&error);
  g_assert_false (ps_shared_memory_write (mem, 0, bytes, sizeof bytes, &error));
  assert_lost_backing (&error);
  g_assert_null (ps_shared_memory_read_variant (mem, 4096, &error));
  assert_lost_backing (&error);
  g_assert_false (ps_shared_memory_write_variant (mem, 4096, record, &error));
  assert_lost_backing (&error);
  /* Bounds come first, as ever. */
  g_assert_false (ps_shared_memory_set_int32 (mem, 100000, 7, &error));
  g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
  g_clear_error (&error);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

/* With thousands of named segments open (each mapping has its slot in the
 * guard's table), any of them, the first opened or the last, is still
 * guarded; closed, they free their slots for the next ones. */
#define MANY_SEGMENTS 5000

static void
test_named_many_guarded (void)
{
  const guint victims[] = { 0, 1, MANY_SEGMENTS / 2, MANY_SEGMENTS - 1 };

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(GPtrArray) segments = g_ptr_array_new_with_free_func (g_object_unref);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      guint i;

      for (i = 0; i < MANY_SEGMENTS; i++)
        {
          g_autoptr(GError) error = NULL;
          char *name = ps_test_unique_name ("shm-many");

          g_ptr_array_add (segments, ps_shared_memory_open (name,
                                                            PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                                            3 * 4096, &error));
          g_assert_no_error (error);
          g_ptr_array_add (names, name);
        }

      for (i = 0; i < G_N_ELEMENTS (victims); i++)
        {
          g_autoptr(GError) error = NULL;
          PsSharedMemory *mem = g_ptr_array_index (segments, victims[i]);

          /* A page past what is left of the file faults. */
          truncate_named (g_ptr_array_index (names, victims[i]), 10);
          g_assert_false (ps_shared_memory_set_int32 (mem, 2 * 4096, 7, &error));
          assert_lost_backing (&error);
        }
      /* The others are untouched by it. */
      for (i = 2; i < MANY_SEGMENTS - 1; i += 97)
        {
          g_autoptr(GError) error = NULL;

          if (i == MANY_SEGMENTS / 2)
            continue;
          g_assert_true (ps_shared_memory_set_int32 (g_ptr_array_index (segments, i),
                                                     2 * 4096, 7, &error));
          g_assert_no_error (error);
        }

      for (i = 0; i < MANY_SEGMENTS; i++)
        {
          g_autoptr(GError) error = NULL;

          g_assert_true (ps_unlink (g_ptr_array_index (names, i), &error));
          g_assert_no_error (error);
        }
    }
}

static void
test_named_foreign_file (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (4242);
  const gsize lengths[] = { 1, sizeof (PsObjectHeader), 64, 4096, 65536 };

  for (gsize l = 0; l < G_N_ELEMENTS (lengths); l++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("shm-foreign");
      g_autofree guint8 *junk = g_malloc (lengths[l]);
      int fd;

      for (gsize i = 0; i < lengths[l]; i++)
        junk[i] = (guint8) g_rand_int_range (rand, 0, 256);
      /* Not zero, so that it is not mistaken for a creator still at work;
       * that case is covered by the truncation test. */
      junk[0] |= 1;

      fd = shm_open (name, O_RDWR | O_CREAT | O_EXCL, 0600);
      g_assert_cmpint (fd, >=, 0);
      g_assert_cmpint (write (fd, junk, lengths[l]), ==, (gssize) lengths[l]);
      close (fd);

      assert_open_fails (name, PS_ERROR, PS_ERROR_CORRUPT);

      g_assert_true (ps_unlink (name, &error));
      g_assert_no_error (error);
    }
}

typedef enum
{
  FORGE_PAYLOAD_HUGE,
  FORGE_PAYLOAD_PAST_END,
  FORGE_NOT_READY,
  FORGE_BAD_MAGIC,
  FORGE_LAYOUT_VERSION,
  FORGE_TYPE_MUTEX,
} Forgery;

static void
test_named_forged_header (void)
{
  const struct
  {
    Forgery forgery;
    GQuark  domain;
    int     code;
  } cases[] = {
    { FORGE_PAYLOAD_HUGE, PS_ERROR, PS_ERROR_CORRUPT },
    { FORGE_PAYLOAD_PAST_END, PS_ERROR, PS_ERROR_CORRUPT },
    { FORGE_NOT_READY, PS_ERROR, PS_ERROR_CORRUPT },
    { FORGE_BAD_MAGIC, PS_ERROR, PS_ERROR_CORRUPT },
    { FORGE_LAYOUT_VERSION, PS_ERROR, PS_ERROR_INCOMPATIBLE },
    { FORGE_TYPE_MUTEX, PS_ERROR, PS_ERROR_WRONG_TYPE },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("shm-forged");
      PsSharedMemory *mem;
      PsObjectHeader header;
      int fd;

      mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 256, &error);
      g_assert_no_error (error);
      g_object_unref (mem);

      fd = shm_open (name, O_RDWR, 0);
      g_assert_cmpint (fd, >=, 0);
      g_assert_cmpint (pread (fd, &header, sizeof header, 0), ==, sizeof header);
      g_assert_cmpuint (header.magic, ==, PS_OBJECT_MAGIC);
      g_assert_cmpuint (header.ready, ==, PS_OBJECT_READY);
      g_assert_cmpuint (header.type, ==, PS_OBJECT_TYPE_SHARED_MEMORY);
      g_assert_cmpuint (header.payload_size, ==, 256);

      switch (cases[c].forgery)
        {
        case FORGE_PAYLOAD_HUGE: header.payload_size = G_MAXUINT64; break;
        case FORGE_PAYLOAD_PAST_END: header.payload_size += 4096 * 16; break;
        case FORGE_NOT_READY: header.ready = 0; break;
        case FORGE_BAD_MAGIC: header.magic ^= 0x01000000; break;
        case FORGE_LAYOUT_VERSION: header.layout_version = 0x7777; break;
        case FORGE_TYPE_MUTEX: header.type = PS_OBJECT_TYPE_MUTEX; break;
        default: g_assert_not_reached ();
        }
      g_assert_cmpint (pwrite (fd, &header, sizeof header, 0), ==, sizeof header);
      close (fd);

      assert_open_fails (name, cases[c].domain, cases[c].code);

      g_assert_true (ps_unlink (name, &error));
      g_assert_no_error (error);
    }
}

static void
test_named_wrong_type (void)
{
  /* Every kind but a segment itself. */
  for (PsTestKind kind = PS_TEST_KIND_MUTEX; kind <= PS_TEST_KIND_COND; kind++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("shm-wrong-type");
      g_autoptr(GObject) object = NULL;
      g_autoptr(PsSharedMemory) mem = NULL;
      g_autoptr(PsMutex) mutex = NULL;

      /* A semaphore of value 1. */
      object = ps_test_create_named (kind, name, 0, 1, &error);
      g_assert_no_error (error);
      g_assert_nonnull (object);

      assert_open_fails (name, PS_ERROR, PS_ERROR_WRONG_TYPE);
      g_assert_true (ps_unlink (name, &error));
      g_assert_no_error (error);

      /* And the other way round. */
      mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 4096, &error);
      g_assert_no_error (error);
      mutex = ps_mutex_open (name, PS_OPEN_NONE, &error);
      g_assert_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE);
      g_assert_null (mutex);
      g_assert_true (ps_unlink (name, NULL));
    }
}

/* Raw and typed access ------------------------------------------------------ */

static void
test_read_write (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (101, &error);
  const guint8 hello[] = "hello";
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) empty = NULL;
  guint8 all[101];

  g_assert_no_error (error);

  g_assert_true (ps_shared_memory_write (mem, 0, hello, 5, &error));
  g_assert_true (ps_shared_memory_write (mem, 50, hello, 5, &error));
  g_assert_true (ps_shared_memory_write (mem, 96, hello, 5, &error));
  g_assert_no_error (error);

  memset (all, 0, sizeof all);
  memcpy (all, hello, 5);
  memcpy (all + 50, hello, 5);
  memcpy (all + 96, hello, 5);
  bytes = ps_shared_memory_read (mem, 0, 101, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), all, sizeof all);
  g_assert_cmpmem (mem_data (mem), 101, all, sizeof all);
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = ps_shared_memory_read (mem, 97, 4, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "ello", 4);

  /* The bytes are a copy, not a view. */
  mem_data (mem)[97] = 'X';
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "ello", 4);

  /* Zero bytes fit anywhere up to the end. */
  empty = ps_shared_memory_read (mem, 101, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (empty);
  g_assert_cmpuint (g_bytes_get_size (empty), ==, 0);
  g_assert_true (ps_shared_memory_write (mem, 101, NULL, 0, &error));
  g_assert_no_error (error);
}

static void
test_typed_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (64, &error);
  const gint32 int32s[] = { 0, 1, -1, G_MININT32, G_MAXINT32, 0x12345678 };
  const gint64 int64s[] = { 0, -1, G_MININT64, G_MAXINT64, G_GINT64_CONSTANT (0x0102030405060708) };
  const guint8 uint8s[] = { 0, 1, 0x7f, 0x80, 0xff };
  const double doubles[] = { 0.0, -0.0, 1.0, -1.0, G_MAXDOUBLE, -G_MAXDOUBLE, G_MINDOUBLE,
                              DBL_TRUE_MIN, INFINITY, -INFINITY, G_PI };
  const gsize offsets[] = { 0, 1, 2, 3, 5, 7, 13 };

  g_assert_no_error (error);

  for (gsize o = 0; o < G_N_ELEMENTS (offsets); o++)
    {
      gsize off = offsets[o];

      for (gsize i = 0; i < G_N_ELEMENTS (uint8s); i++)
        {
          g_assert_true (ps_shared_memory_set_uint8 (mem, off, uint8s[i], &error));
          g_assert_cmpuint (ps_shared_memory_get_uint8 (mem, off, &error), ==, uint8s[i]);
          g_assert_cmpuint (mem_data (mem)[off], ==, uint8s[i]);
          g_assert_no_error (error);
        }
      for (gsize i = 0; i < G_N_ELEMENTS (int32s); i++)
        {
          gint32 raw;

          g_assert_true (ps_shared_memory_set_int32 (mem, off, int32s[i], &error));
          g_assert_cmpint (ps_shared_memory_get_int32 (mem, off, &error), ==, int32s[i]);
          g_assert_no_error (error);
          /* Host byte order, in place. */
          memcpy (&raw, mem_data (mem) + off, sizeof raw);
          g_assert_cmpint (raw, ==, int32s[i]);
        }
      for (gsize i = 0; i < G_N_ELEMENTS (int64s); i++)
        {
          gint64 raw;

          g_assert_true (ps_shared_memory_set_int64 (mem, off, int64s[i], &error));
          g_assert_cmpint (ps_shared_memory_get_int64 (mem, off, &error), ==, int64s[i]);
          g_assert_no_error (error);
          memcpy (&raw, mem_data (mem) + off, sizeof raw);
          g_assert_cmpint (raw, ==, int64s[i]);
        }
      for (gsize i = 0; i < G_N_ELEMENTS (doubles); i++)
        {
          double got;

          g_assert_true (ps_shared_memory_set_double (mem, off, doubles[i], &error));
          got = ps_shared_memory_get_double (mem, off, &error);
          g_assert_no_error (error);
          /* Bit for bit: -0.0 and 0.0 compare equal. */
          g_assert_cmpmem (&got, sizeof got, &doubles[i], sizeof doubles[i]);
        }

      /* NaN, with its payload and sign. */
      {
        const guint64 nan_bits[] = { G_GUINT64_CONSTANT (0x7ff8000000000000),
                                     G_GUINT64_CONSTANT (0xfff8000000000001),
                                     G_GUINT64_CONSTANT (0x7ff0000000000001) };

        for (gsize i = 0; i < G_N_ELEMENTS (nan_bits); i++)
          {
            double nan_value;
            double got;

            memcpy (&nan_value, &nan_bits[i], sizeof nan_value);
            g_assert_true (ps_shared_memory_set_double (mem, off, nan_value, &error));
            g_assert_no_error (error);
            g_assert_cmpmem (mem_data (mem) + off, 8, &nan_bits[i], 8);
            got = ps_shared_memory_get_double (mem, off, &error);
            g_assert_no_error (error);
            g_assert_true (isnan (got));
            /* A signalling NaN may come back quiet through the FPU; the
             * sign and the rest of the payload may not change. */
            {
              guint64 got_bits;

              memcpy (&got_bits, &got, sizeof got);
              g_assert_cmphex (got_bits | G_GUINT64_CONSTANT (0x0008000000000000), ==,
                               nan_bits[i] | G_GUINT64_CONSTANT (0x0008000000000000));
            }
          }
      }
    }

  /* The last slot of each width, and neighbours left alone. */
  memset (mem_data (mem), 0x11, 64);
  g_assert_true (ps_shared_memory_set_uint8 (mem, 63, 0xfe, &error));
  g_assert_cmpuint (ps_shared_memory_get_uint8 (mem, 63, &error), ==, 0xfe);
  g_assert_true (ps_shared_memory_set_int32 (mem, 60, -2, &error));
  g_assert_cmpint (ps_shared_memory_get_int32 (mem, 60, &error), ==, -2);
  g_assert_true (ps_shared_memory_set_int64 (mem, 48, -3, &error));
  g_assert_cmpint (ps_shared_memory_get_int64 (mem, 48, &error), ==, -3);
  g_assert_true (ps_shared_memory_set_double (mem, 39, 2.5, &error));
  g_assert_cmpfloat (ps_shared_memory_get_double (mem, 39, &error), ==, 2.5);
  g_assert_no_error (error);
  g_assert_cmpuint (mem_data (mem)[38], ==, 0x11);
  g_assert_cmpuint (mem_data (mem)[47], ==, 0x11);
  g_assert_cmpuint (mem_data (mem)[56], ==, 0x11);
  g_assert_cmpuint (mem_data (mem)[59], ==, 0x11);
}

/* Offsets and lengths that do not fit a segment of @size bytes. */
static const struct
{
  gsize offset;
  gsize length;
} bad_ranges[] = {
#define SIZE 101
  { 0, SIZE + 1 },
  { 1, SIZE },
  { SIZE, 1 },
  { SIZE + 1, 0 },
  { SIZE - 1, 2 },
  { 50, 52 },
  { G_MAXSIZE, 0 },
  { G_MAXSIZE, 1 },
  { 1, G_MAXSIZE },
  { G_MAXSIZE, G_MAXSIZE },
  /* offset + length wraps around to exactly 0, 1 and SIZE */
  { 2, G_MAXSIZE - 1 },
  { SIZE, G_MAXSIZE - SIZE + 1 },
  { 3, G_MAXSIZE - 1 },
  { SIZE + 1, G_MAXSIZE },
  { G_MAXSIZE / 2 + 1, G_MAXSIZE / 2 + 1 },
#undef SIZE
};

static void
test_bounds_read_write (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (101, &error);
  g_autofree guint8 *snapshot = NULL;
  /* Only its first bytes would be read if a bug let a call through: the
   * call must fail before it reads any. */
  guint8 source[256];

  g_assert_no_error (error);
  memset (source, 0x42, sizeof source);
  snapshot = fill_random (mem, 1);

  for (gsize r = 0; r < G_N_ELEMENTS (bad_ranges); r++)
    {
      g_autoptr(GBytes) bytes = NULL;

      g_test_message ("offset %" G_GSIZE_FORMAT ", length %" G_GSIZE_FORMAT,
                      bad_ranges[r].offset, bad_ranges[r].length);
      bytes = ps_shared_memory_read (mem, bad_ranges[r].offset, bad_ranges[r].length, &error);
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_assert_null (bytes);
      g_clear_error (&error);

      g_assert_false (ps_shared_memory_write (mem, bad_ranges[r].offset, source,
                                              bad_ranges[r].length, &error));
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_clear_error (&error);
      assert_unchanged (mem, snapshot);
    }
}

static void
test_bounds_typed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (101, &error);
  g_autofree guint8 *snapshot = NULL;

  g_assert_no_error (error);
  snapshot = fill_random (mem, 2);

  for (guint width = 1; width <= 8; width *= 2)
    {
      /* The last two wrap offset + width around to 0 and to 1..4. */
      const gsize offsets[] = { 101 - width + 1, 101, 102, 1000, G_MAXSIZE,
                                G_MAXSIZE - width + 1, G_MAXSIZE - width / 2 };

      if (width == 2)
        continue;
      for (gsize o = 0; o < G_N_ELEMENTS (offsets); o++)
        {
          gsize off = offsets[o];

          g_test_message ("width %u, offset %" G_GSIZE_FORMAT, width, off);
          switch (width)
            {
            case 1:
              g_assert_cmpuint (ps_shared_memory_get_uint8 (mem, off, &error), ==, 0);
              g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
              g_clear_error (&error);
              g_assert_false (ps_shared_memory_set_uint8 (mem, off, 0xff, &error));
              g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
              g_clear_error (&error);
              break;
            case 4:
              g_assert_cmpint (ps_shared_memory_get_int32 (mem, off, &error), ==, 0);
              g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
              g_clear_error (&error);
              g_assert_false (ps_shared_memory_set_int32 (mem, off, -1, &error));
              g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
              g_clear_error (&error);
              break;
            case 8:
              g_assert_cmpint (ps_shared_memory_get_int64 (mem, off, &error), ==, 0);
              g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
              g_clear_error (&error);
              g_assert_false (ps_shared_memory_set_int64 (mem, off, -1, &error));
              g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
              g_clear_error (&error);
              g_assert_cmpfloat (ps_shared_memory_get_double (mem, off, &error), ==, 0.0);
              g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
              g_clear_error (&error);
              g_assert_false (ps_shared_memory_set_double (mem, off, -1.0, &error));
              g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
              g_clear_error (&error);
              break;
            default:
              g_assert_not_reached ();
            }
          assert_unchanged (mem, snapshot);
        }
    }

  /* The last offset that fits still works: the bound is exact. */
  g_assert_cmpuint (ps_shared_memory_get_uint8 (mem, 100, &error), ==, snapshot[100]);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_set_int32 (mem, 97, 5, &error));
  g_assert_true (ps_shared_memory_set_int64 (mem, 93, 5, &error));
  g_assert_true (ps_shared_memory_set_double (mem, 93, 5.0, &error));
  g_assert_no_error (error);
}

static void
test_bounds_variant (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (200, &error);
  g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new ("(sas)", "some text",
                                                                 NULL));
  g_autofree guint8 *snapshot = NULL;
  gsize measure = ps_shared_memory_measure_variant (value);
  const gsize offsets[] = { 200 - measure + 1, 199, 200, 201, G_MAXSIZE,
                            G_MAXSIZE - measure + 1, G_MAXSIZE - measure / 2 };

  g_assert_no_error (error);
  g_assert_cmpuint (measure, <, 200);
  snapshot = fill_random (mem, 3);

  for (gsize o = 0; o < G_N_ELEMENTS (offsets); o++)
    {
      g_test_message ("offset %" G_GSIZE_FORMAT, offsets[o]);
      g_assert_false (ps_shared_memory_write_variant (mem, offsets[o], value, &error));
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_clear_error (&error);
      assert_unchanged (mem, snapshot);
    }

  /* A record larger than the whole segment. */
  {
    g_autofree guint8 *big = g_malloc0 (300);
    g_autoptr(GVariant) large = g_variant_ref_sink (
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, big, 300, 1));

    g_assert_false (ps_shared_memory_write_variant (mem, 0, large, &error));
    g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
    g_clear_error (&error);
    assert_unchanged (mem, snapshot);
  }

  /* Offsets past the end are out of bounds for reading too. */
  {
    const gsize read_offsets[] = { 201, 1000, G_MAXSIZE };

    for (gsize o = 0; o < G_N_ELEMENTS (read_offsets); o++)
      {
        g_autoptr(GVariant) got = ps_shared_memory_read_variant (mem, read_offsets[o], &error);

        g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
        g_assert_null (got);
        g_clear_error (&error);
      }
  }
  assert_unchanged (mem, snapshot);
}

/* Variant records ----------------------------------------------------------- */

static const char *variant_texts[] = {
  "true",
  "byte 0xff",
  "int16 -32768",
  "uint16 65535",
  "int32 -2147483648",
  "uint32 4294967295",
  "int64 -9223372036854775808",
  "uint64 18446744073709551615",
  "handle 3",
  "double -1.25e-300",
  "''",
  "'hello, world'",
  "'héllo ✓ UTF-8'",
  "objectpath '/org/example/Object'",
  "signature 'a{sv}(ii)'",
  "@as []",
  "['a', 'bb', 'ccc']",
  "[[1, 2], [], [3]]",
  "@ay []",
  "b'bytes\\x01'",
  "@a{sv} {}",
  "{'int': <1>, 'str': <'x'>, 'nested': <{'k': <[1.5, 2.5]>}>, 'nothing': <@mi nothing>}",
  "{1: 'one', 2: 'two'}",
  "(1, 'two', 3.0, true, byte 4)",
  "()",
  "((1, (2, (3, 'deep'))), [(4, 'x')])",
  "@mi nothing",
  "@mi just 4",
  "@ms 'maybe'",
  "@mms just nothing",
  "@mas nothing",
  "<42>",
  "<<<'triple'>>>",
  "[<1>, <'a'>, <(1, 2)>]",
  "@a(sv) [('a', <1>), ('b', <@ay []>)]",
  "@aay [[], [1], [2, 3]]",
};

static GVariant *
parse_variant (const char *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *value = g_variant_parse (NULL, text, NULL, NULL, &error);

  /* Not floating: the caller owns this reference. */
  g_assert_no_error (error);
  return value;
}

static GVariant *
make_big_bytes (gsize length,
                guint32 seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autofree guint8 *bytes = g_malloc (length);

  for (gsize i = 0; i < length; i++)
    bytes[i] = (guint8) g_rand_int (rand);
  return g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, length, 1));
}

/* Writes @value at @offset in a segment filled with a pattern, and checks
 * that it reads back equal and that only its measured bytes changed. */
static void
check_variant_at (PsSharedMemory *mem,
                  GVariant       *value,
                  gsize           offset)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) got = NULL;
  gsize size = ps_shared_memory_get_size (mem);
  gsize measure = ps_shared_memory_measure_variant (value);
  g_autofree guint8 *before = fill_random (mem, (guint32) offset);
  const guint8 *after = mem_data (mem);

  g_assert_cmpuint (measure, >=, g_variant_get_size (value) +
                    strlen (g_variant_get_type_string (value)));
  g_assert_true (ps_shared_memory_write_variant (mem, offset, value, &error));
  g_assert_no_error (error);

  g_assert_cmpmem (after, offset, before, offset);
  g_assert_cmpmem (after + offset + measure, size - offset - measure,
                   before + offset + measure, size - offset - measure);

  got = ps_shared_memory_read_variant (mem, offset, &error);
  g_assert_no_error (error);
  g_assert_nonnull (got);
  g_assert_false (g_variant_is_floating (got));
  g_assert_cmpstr (g_variant_get_type_string (got), ==, g_variant_get_type_string (value));
  g_assert_true (g_variant_equal (got, value));
  g_assert_true (g_variant_is_normal_form (got));
}

static void
test_variant_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (4096, &error);

  g_assert_no_error (error);

  for (gsize t = 0; t < G_N_ELEMENTS (variant_texts); t++)
    {
      g_autoptr(GVariant) value = parse_variant (variant_texts[t]);
      gsize measure = ps_shared_memory_measure_variant (value);
      const gsize offsets[] = { 0, 1, 7, 8, 13, 4095 - measure, 4096 - measure };

      g_test_message ("%s", variant_texts[t]);
      for (gsize o = 0; o < G_N_ELEMENTS (offsets); o++)
        {
          /* A fresh value each time: one not serialised yet is stored
           * differently from one that is (which g_variant_equal() makes). */
          g_autoptr(GVariant) fresh = parse_variant (variant_texts[t]);

          check_variant_at (mem, fresh, offsets[o]);
        }
    }
}

static void
test_variant_measure_exact (void)
{
  for (gsize t = 0; t < G_N_ELEMENTS (variant_texts); t++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = parse_variant (variant_texts[t]);
      gsize measure = ps_shared_memory_measure_variant (value);
      g_autoptr(PsSharedMemory) exact = ps_shared_memory_new (measure, &error);
      g_autoptr(PsSharedMemory) short_by_one = NULL;
      g_autoptr(GVariant) got = NULL;

      g_assert_no_error (error);
      g_test_message ("%s: %" G_GSIZE_FORMAT " bytes", variant_texts[t], measure);

      /* A segment of exactly that many bytes holds it... */
      g_assert_true (ps_shared_memory_write_variant (exact, 0, value, &error));
      g_assert_no_error (error);
      got = ps_shared_memory_read_variant (exact, 0, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_equal (got, value));
      g_assert_false (ps_shared_memory_write_variant (exact, 1, value, &error));
      g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
      g_clear_error (&error);

      /* ... and one byte less does not. */
      if (measure > 1)
        {
          g_autofree guint8 *snapshot = NULL;

          short_by_one = ps_shared_memory_new (measure - 1, &error);
          g_assert_no_error (error);
          snapshot = fill_random (short_by_one, 5);
          g_assert_false (ps_shared_memory_write_variant (short_by_one, 0, value, &error));
          g_assert_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS);
          g_clear_error (&error);
          assert_unchanged (short_by_one, snapshot);
        }
    }
}

static void
test_variant_back_to_back (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = NULL;
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  gsize total = 0;
  gsize offset;

  for (gsize t = 0; t < G_N_ELEMENTS (variant_texts); t++)
    {
      GVariant *value = parse_variant (variant_texts[t]);

      total += ps_shared_memory_measure_variant (value);
      g_ptr_array_add (values, value);
    }

  /* Exactly the sum of their measures, starting at an odd offset. */
  mem = ps_shared_memory_new (3 + total, &error);
  g_assert_no_error (error);

  offset = 3;
  for (guint i = 0; i < values->len; i++)
    {
      GVariant *value = g_ptr_array_index (values, i);

      g_assert_true (ps_shared_memory_write_variant (mem, offset, value, &error));
      g_assert_no_error (error);
      offset += ps_shared_memory_measure_variant (value);
    }
  g_assert_cmpuint (offset, ==, ps_shared_memory_get_size (mem));

  /* Read after all are written: no record overwrote its neighbour. */
  offset = 3;
  for (guint i = 0; i < values->len; i++)
    {
      GVariant *value = g_ptr_array_index (values, i);
      g_autoptr(GVariant) got = ps_shared_memory_read_variant (mem, offset, &error);

      g_assert_no_error (error);
      g_assert_true (g_variant_equal (got, value));
      offset += ps_shared_memory_measure_variant (value);
    }
}

static void
test_variant_big (void)
{
  const gsize mib = 1024 * 1024;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = make_big_bytes (mib, 77);
  gsize measure = ps_shared_memory_measure_variant (value);
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (mib + 4096, &error);
  const gsize offsets[] = { 0, 3, mib + 4096 - measure };

  g_assert_no_error (error);
  g_assert_cmpuint (measure, >=, mib);
  for (gsize o = 0; o < G_N_ELEMENTS (offsets); o++)
    check_variant_at (mem, value, offsets[o]);

  /* Named, across the same mapping from two objects. */
  {
    g_autofree char *name = ps_test_unique_name ("shm-big");
    g_autoptr(PsSharedMemory) a = ps_shared_memory_open (name, PS_OPEN_CREATE, measure, &error);
    g_autoptr(PsSharedMemory) b = NULL;
    g_autoptr(GVariant) got = NULL;

    g_assert_no_error (error);
    g_assert_true (ps_shared_memory_write_variant (a, 0, value, &error));
    g_assert_no_error (error);
    b = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
    g_assert_no_error (error);
    got = ps_shared_memory_read_variant (b, 0, &error);
    g_assert_no_error (error);
    g_assert_true (g_variant_equal (got, value));
    g_assert_true (ps_unlink (name, &error));
  }
}

static void
test_variant_floating_and_normal_form (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (256, &error);
  g_autoptr(GVariant) got = NULL;
  g_autoptr(GVariant) not_normal = NULL;
  g_autoptr(GVariant) normal = NULL;
  const guint8 two = 2;
  /* An "as" whose framing offsets do not describe its strings. */
  const char padded_strings[] = "abc\0\0\x04";

  g_assert_no_error (error);

  /* A floating value is consumed (checked for leaks under ASan). */
  g_assert_true (ps_shared_memory_write_variant (mem, 0, g_variant_new_string ("float"), &error));
  g_assert_no_error (error);
  got = ps_shared_memory_read_variant (mem, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (got, NULL), ==, "float");
  g_clear_pointer (&got, g_variant_unref);

  /* Values not in normal form are stored as their normal form, so that
   * any reader accepts them. */
  not_normal = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_BOOLEAN, &two, 1,
                                                            FALSE, NULL, NULL));
  g_assert_false (g_variant_is_normal_form (not_normal));
  normal = g_variant_get_normal_form (not_normal);
  g_assert_true (ps_shared_memory_write_variant (mem, 8, not_normal, &error));
  g_assert_no_error (error);
  got = ps_shared_memory_read_variant (mem, 8, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (got, normal));
  g_clear_pointer (&got, g_variant_unref);
  g_clear_pointer (&not_normal, g_variant_unref);
  g_clear_pointer (&normal, g_variant_unref);

  not_normal = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE ("as"),
                                                            padded_strings,
                                                            sizeof padded_strings - 1,
                                                            FALSE, NULL, NULL));
  normal = g_variant_get_normal_form (not_normal);
  g_assert_true (ps_shared_memory_write_variant (mem, 64, not_normal, &error));
  g_assert_no_error (error);
  got = ps_shared_memory_read_variant (mem, 64, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (got, normal));
}

/* Arrays built from bytes GVariant does not trust: those of numbers are
 * stored as they are (any bytes are a valid value), the others, and those
 * whose length is not a whole number of elements, as their normal form. */
static void
test_variant_untrusted_arrays (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (4096, &error);
  const guint64 numbers[] = { 0, G_MAXUINT64, 0x0102030405060708 };
  const guint8 booleans[] = { 1, 2, 0 };
  const guint8 seven_bytes[] = { 1, 2, 3, 4, 5, 6, 7 };
  struct
  {
    const char   *type;
    gconstpointer data;
    gsize         size;
  } cases[] = {
    { "at", numbers, sizeof numbers },
    { "ay", booleans, sizeof booleans },
    { "ab", booleans, sizeof booleans },
    { "ai", seven_bytes, sizeof seven_bytes },
    { "ay", NULL, 0 },
  };
  gsize i;

  g_assert_no_error (error);
  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GVariant) normal = NULL;
      g_autoptr(GVariant) got = NULL;

      value = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE (cases[i].type),
                                                           cases[i].data, cases[i].size,
                                                           FALSE, NULL, NULL));
      normal = g_variant_get_normal_form (value);
      g_assert_true (ps_shared_memory_write_variant (mem, 512 * i, value, &error));
      g_assert_no_error (error);
      got = ps_shared_memory_read_variant (mem, 512 * i, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_is_normal_form (got));
      g_assert_true (g_variant_equal (got, normal));
      g_assert_cmpmem (g_variant_get_data (got), g_variant_get_size (got),
                       g_variant_get_data (normal), g_variant_get_size (normal));
    }
}

/* Corrupt records ---------------------------------------------------------- */

/* Checks the mirrored record layout against what write_variant() makes,
 * and returns the record magic. */
static guint32
record_magic (void)
{
  static guint32 magic;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (256, &error);
  g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new ("(ias)", -1, NULL));
  TestRecordHeader header;
  const char *type = g_variant_get_type_string (value);
  gsize data_offset = test_record_data_offset (strlen (type));

  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_write_variant (mem, 8, value, &error));
  g_assert_no_error (error);
  memcpy (&header, mem_data (mem) + 8, sizeof header);
  g_assert_cmpuint (header.type_length, ==, strlen (type));
  g_assert_cmpuint (header.data_length, ==, g_variant_get_size (value));
  g_assert_cmpmem (mem_data (mem) + 8 + TEST_RECORD_TYPE_OFFSET, strlen (type),
                   type, strlen (type));
  g_assert_cmpuint (ps_shared_memory_measure_variant (value), ==,
                    data_offset + g_variant_get_size (value));
  g_assert_cmpuint (header.magic, !=, 0);
  /* Every record carries the same one. */
  g_assert_true (magic == 0 || magic == header.magic);
  magic = header.magic;
  return magic;
}

static guint32
cached_record_magic (void)
{
  static guint32 magic;

  if (magic == 0)
    magic = record_magic ();
  return magic;
}

static void
test_record_layout (void)
{
  g_assert_cmpuint (record_magic (), ==, record_magic ());
}

/* Writes a hand-made record at @offset: @type_length and @data_length are
 * what the header claims, @type and @data what follows it. */
static void
forge_record (PsSharedMemory *mem,
              gsize           offset,
              guint32         type_length,
              const char     *type,
              gsize           type_bytes,
              guint64         data_length,
              const void     *data,
              gsize           data_bytes)
{
  TestRecordHeader header = { cached_record_magic (), type_length, data_length };
  guint8 *base = mem_data (mem) + offset;
  gsize data_offset = test_record_data_offset (type_bytes);

  g_assert_cmpuint (offset + data_offset + data_bytes, <=, ps_shared_memory_get_size (mem));
  memcpy (base, &header, sizeof header);
  memset (base + sizeof header, 0, data_offset - sizeof header);
  memcpy (base + sizeof header, type, type_bytes);
  if (data_bytes > 0)
    memcpy (base + data_offset, data, data_bytes);
}

static void
assert_corrupt_at (PsSharedMemory *mem,
                   gsize           offset)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = ps_shared_memory_read_variant (mem, offset, &error);

  g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
  g_assert_null (value);
}

static void
test_corrupt_zeroed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (1000, &error);
  const gsize offsets[] = { 0, 1, 8, 500, 999 - 16, 1000 - 16, 1000 - 15, 999 };

  g_assert_no_error (error);
  for (gsize o = 0; o < G_N_ELEMENTS (offsets); o++)
    assert_corrupt_at (mem, offsets[o]);

  /* The smallest segments too. */
  for (gsize size = 1; size <= 24; size++)
    {
      g_autoptr(PsSharedMemory) tiny = ps_shared_memory_new (size, &error);

      g_assert_no_error (error);
      assert_corrupt_at (tiny, 0);
      assert_corrupt_at (tiny, size - 1);
    }
}

static void
test_corrupt_random (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (0x5eed);
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (512, &error);
  guint32 magic = cached_record_magic ();
  guint8 *data;

  g_assert_no_error (error);
  data = mem_data (mem);

  for (guint i = 0; i < 3000; i++)
    {
      gsize offset = (gsize) g_rand_int_range (rand, 0, 512);

      for (gsize b = 0; b < 512; b++)
        data[b] = (guint8) g_rand_int (rand);
      assert_corrupt_at (mem, offset);

      /* Past the magic check: random lengths and type bytes. */
      if (offset + 4 <= 512)
        {
          memcpy (data + offset, &magic, 4);
          assert_corrupt_at (mem, offset);
        }
    }
}

/* A well-formed header with a type string drawn from type characters and
 * random data: the reader either refuses it as corrupt or returns exactly
 * those bytes, as a value in normal form. */
static void
test_corrupt_random_typed (void)
{
  const char alphabet[] = "bynqiuxthdsogvam()a{}*?r";
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (0xc0ffee);
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (256, &error);
  guint accepted = 0;
  guint refused = 0;

  g_assert_no_error (error);

  for (guint i = 0; i < 20000; i++)
    {
      char type[8];
      guint8 payload[64];
      gsize type_length = (gsize) g_rand_int_range (rand, 1, sizeof type + 1);
      gsize data_length = (gsize) g_rand_int_range (rand, 0, sizeof payload + 1);
      g_autoptr(GVariant) value = NULL;

      for (gsize c = 0; c < type_length; c++)
        type[c] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
      for (gsize b = 0; b < data_length; b++)
        payload[b] = (guint8) (g_rand_boolean (rand) ? g_rand_int_range (rand, 0, 4)
                                                     : g_rand_int (rand));

      forge_record (mem, 0, (guint32) type_length, type, type_length, data_length,
                    payload, data_length);
      value = ps_shared_memory_read_variant (mem, 0, &error);
      if (value == NULL)
        {
          g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
          g_clear_error (&error);
          refused++;
          continue;
        }
      g_assert_no_error (error);
      accepted++;
      g_assert_true (g_variant_is_normal_form (value));
      g_assert_cmpuint (strlen (g_variant_get_type_string (value)), ==, type_length);
      g_assert_cmpmem (g_variant_get_type_string (value), type_length, type, type_length);
      g_assert_cmpmem (g_variant_get_data (value), g_variant_get_size (value),
                       payload, data_length);
    }
  /* Both paths ran, so this exercised the validation, not just one check. */
  g_test_message ("%u accepted, %u refused", accepted, refused);
  g_assert_cmpuint (accepted, >, 0);
  g_assert_cmpuint (refused, >, 0);
}

/* Random damage to valid records: a value in normal form or CORRUPT. */
static void
test_corrupt_mutated (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (1234);
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (4096, &error);

  g_assert_no_error (error);

  for (guint i = 0; i < 4000; i++)
    {
      const char *text = variant_texts[g_rand_int_range (rand, 0, G_N_ELEMENTS (variant_texts))];
      g_autoptr(GVariant) value = parse_variant (text);
      gsize measure = ps_shared_memory_measure_variant (value);
      gsize offset = (gsize) g_rand_int_range (rand, 0, (gint32) (4096 - measure + 1));
      guint flips = (guint) g_rand_int_range (rand, 1, 5);
      g_autoptr(GVariant) got = NULL;

      g_assert_true (ps_shared_memory_write_variant (mem, offset, value, &error));
      g_assert_no_error (error);
      for (guint f = 0; f < flips; f++)
        mem_data (mem)[offset + (gsize) g_rand_int_range (rand, 0, (gint32) measure)] ^=
          (guint8) g_rand_int_range (rand, 1, 256);

      got = ps_shared_memory_read_variant (mem, offset, &error);
      if (got == NULL)
        {
          g_assert_error (error, PS_ERROR, PS_ERROR_CORRUPT);
          g_clear_error (&error);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (g_variant_is_normal_form (got));
        }
    }
}

static void
test_corrupt_cut_short (void)
{
  g_autoptr(GError) error = NULL;

  for (gsize t = 0; t < G_N_ELEMENTS (variant_texts); t++)
    {
      g_autoptr(GVariant) value = parse_variant (variant_texts[t]);
      gsize measure = ps_shared_memory_measure_variant (value);
      g_autoptr(PsSharedMemory) whole = ps_shared_memory_new (measure, &error);
      g_autoptr(GBytes) record = NULL;

      g_assert_no_error (error);
      g_assert_true (ps_shared_memory_write_variant (whole, 0, value, &error));
      g_assert_no_error (error);
      record = ps_shared_memory_read (whole, 0, measure, &error);
      g_assert_no_error (error);

      /* Every prefix of the record, in a segment that ends right after it
       * and at the end of a larger segment. */
      for (gsize cut = 1; cut < measure; cut++)
        {
          g_autoptr(PsSharedMemory) small = ps_shared_memory_new (cut, &error);
          g_autoptr(PsSharedMemory) large = ps_shared_memory_new (cut + 37, &error);

          g_assert_no_error (error);
          g_assert_true (ps_shared_memory_write (small, 0, g_bytes_get_data (record, NULL),
                                                 cut, &error));
          g_assert_true (ps_shared_memory_write (large, 37, g_bytes_get_data (record, NULL),
                                                 cut, &error));
          g_assert_no_error (error);
          assert_corrupt_at (small, 0);
          assert_corrupt_at (large, 37);
        }
    }
}

static void
test_corrupt_lengths (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (128, &error);
  const guint32 value = 7;
  const guint64 bad_data_lengths[] = {
    G_MAXUINT64, G_MAXUINT64 - 7, (guint64) G_MAXSSIZE + 1,
    128 - 24 + 1,     /* one byte past the end of the segment */
    1000,
  };
  const guint32 bad_type_lengths[] = { 0, 9, 200, 65536, 0x7fffffff, G_MAXUINT32 };

  g_assert_no_error (error);

  /* A sane baseline, so the failures below are down to the one bad field. */
  forge_record (mem, 0, 1, "i", 1, 4, &value, 4);
  {
    g_autoptr(GVariant) got = ps_shared_memory_read_variant (mem, 0, &error);

    g_assert_no_error (error);
    g_assert_cmpint (g_variant_get_int32 (got), ==, 7);
  }
  /* The largest data length that fits is accepted as far as lengths go
   * ("ay" takes any length). */
  forge_record (mem, 0, 2, "ay", 2, 128 - 24, &value, 4);
  {
    g_autoptr(GVariant) got = ps_shared_memory_read_variant (mem, 0, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (g_variant_get_size (got), ==, 128 - 24);
  }

  for (gsize l = 0; l < G_N_ELEMENTS (bad_data_lengths); l++)
    {
      g_test_message ("data length %" G_GUINT64_FORMAT, bad_data_lengths[l]);
      forge_record (mem, 0, 2, "ay", 2, bad_data_lengths[l], &value, 4);
      assert_corrupt_at (mem, 0);
    }

  /* A data length that fits from offset 0 but not from 8. */
  forge_record (mem, 8, 2, "ay", 2, 128 - 24 - 7, &value, 4);
  assert_corrupt_at (mem, 8);

  for (gsize l = 0; l < G_N_ELEMENTS (bad_type_lengths); l++)
    {
      g_test_message ("type length %u", bad_type_lengths[l]);
      forge_record (mem, 0, bad_type_lengths[l], "i", 1, 4, &value, 4);
      assert_corrupt_at (mem, 0);
    }

  /* An indefinite type string of the largest length, with room for it. */
  {
    g_autoptr(PsSharedMemory) big = ps_shared_memory_new (70000, &error);
    g_autofree char *type = g_strnfill (69000, 'a');

    g_assert_no_error (error);
    forge_record (big, 0, 65535, type, 65535, 0, NULL, 0);
    assert_corrupt_at (big, 0);
  }
}

static void
test_corrupt_types (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (128, &error);
  const guint8 data[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
  const struct
  {
    const char *type;
    gsize       length;
  } bad_types[] = {
    { "*", 1 }, { "?", 1 }, { "r", 1 }, { "a", 1 }, { "m", 1 }, { "(i", 2 },
    { "i)", 2 }, { "ii", 2 }, { "a{", 2 }, { "{s}", 3 }, { "{vs}", 4 },
    { "(*)", 3 }, { "ma*", 3 }, { "a?", 2 }, { "z", 1 }, { " ", 1 }, { "\xff", 1 },
    /* NUL bytes inside the claimed type */
    { "i\0i", 3 }, { "\0i", 2 }, { "a\0", 2 }, { "\0", 1 },
  };

  g_assert_no_error (error);
  for (gsize t = 0; t < G_N_ELEMENTS (bad_types); t++)
    {
      g_autofree char *escaped = g_strescape (bad_types[t].type, NULL);

      g_test_message ("type \"%s\" (%" G_GSIZE_FORMAT " bytes)", escaped, bad_types[t].length);
      forge_record (mem, 16, (guint32) bad_types[t].length, bad_types[t].type,
                    bad_types[t].length, 4, data, 4);
      assert_corrupt_at (mem, 16);
    }
}

static void
test_corrupt_not_normal (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) mem = ps_shared_memory_new (256, &error);
  const struct
  {
    const char *type;
    const char *data;
    gsize       length;
  } cases[] = {
    { "b", "\x02", 1 },
    { "b", "", 0 },
    { "y", "", 0 },
    { "i", "\1\2\3", 3 },
    { "i", "\1\2\3\4\5", 5 },
    { "u", "\0\0\0\0\0\0\0\0", 8 },
    { "x", "\1\2\3\4", 4 },
    { "d", "\0\0\0\0\0\0\0", 7 },
    { "h", "\0", 1 },
    { "s", "abc", 3 },
    { "s", "", 0 },
    { "s", "a\0b", 4 },
    { "s", "\xff\xfe", 3 },
    { "o", "abc", 4 },
    { "o", "/a//b", 6 },
    { "g", "(i", 3 },
    { "as", "abc\0\x09", 5 },
    { "as", "abc\0\0\x04", 6 },
    { "(ii)", "\1\0\0\0\2\0\0", 7 },
    { "(si)", "ab\0\0\1\0\0\0\x10", 9 },
    { "mi", "\1\2\3", 3 },
    { "ms", "ab", 2 },
    { "v", "\1\0\0\0\0*", 6 },
    { "v", "\1\0\0\0\0ii", 7 },
    { "v", "abc", 3 },
    { "a{sv}", "\xff\xff\xff", 3 },
    { "ai", "\1\0\0\0\2", 5 },
  };

  g_assert_no_error (error);
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *escaped = g_strescape (cases[c].data, NULL);

      g_test_message ("%s: \"%s\" (%" G_GSIZE_FORMAT " bytes)", cases[c].type, escaped,
                      cases[c].length);
      forge_record (mem, 24, (guint32) strlen (cases[c].type), cases[c].type,
                    strlen (cases[c].type), cases[c].length, cases[c].data, cases[c].length);
      assert_corrupt_at (mem, 24);
    }
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, peer_main);
  ps_test_watchdog (ps_test_scaled_s (170));

  ps_test_add ("/shared-memory/anonymous/zero-filled", test_anonymous_zero_filled);
  ps_test_add ("/shared-memory/anonymous/properties", test_anonymous_properties);
  ps_test_add ("/shared-memory/anonymous/fork", test_anonymous_fork);
  ps_test_add ("/shared-memory/size/zero", test_size_zero);
  ps_test_add ("/shared-memory/size/too-large", test_size_too_large);
  ps_test_add ("/shared-memory/named/create-open", test_named_create_open);
  ps_test_add ("/shared-memory/named/errors", test_named_errors);
  ps_test_add ("/shared-memory/named/mode-default", test_named_mode_default);
  ps_test_add ("/shared-memory/named/mode-property", test_named_mode_property);
  ps_test_add ("/shared-memory/named/spawned-peer", test_named_spawned_peer);
  ps_test_add ("/shared-memory/named/permission-denied", test_named_permission_denied);
  ps_test_add ("/shared-memory/named/truncated", test_named_truncated);
  ps_test_add ("/shared-memory/named/truncated-while-mapped", test_named_truncated_while_mapped);
  ps_test_add ("/shared-memory/named/truncated-then-touched", test_named_truncated_then_touched);
  ps_test_add ("/shared-memory/named/many-guarded", test_named_many_guarded);
  ps_test_add ("/shared-memory/named/foreign-file", test_named_foreign_file);
  ps_test_add ("/shared-memory/named/forged-header", test_named_forged_header);
  ps_test_add ("/shared-memory/named/wrong-type", test_named_wrong_type);
  ps_test_add ("/shared-memory/read-write", test_read_write);
  ps_test_add ("/shared-memory/typed/round-trip", test_typed_round_trip);
  ps_test_add ("/shared-memory/bounds/read-write", test_bounds_read_write);
  ps_test_add ("/shared-memory/bounds/typed", test_bounds_typed);
  ps_test_add ("/shared-memory/bounds/variant", test_bounds_variant);
  ps_test_add ("/shared-memory/variant/round-trip", test_variant_round_trip);
  ps_test_add ("/shared-memory/variant/measure-exact", test_variant_measure_exact);
  ps_test_add ("/shared-memory/variant/back-to-back", test_variant_back_to_back);
  ps_test_add ("/shared-memory/variant/big", test_variant_big);
  ps_test_add ("/shared-memory/variant/floating-and-normal-form",
               test_variant_floating_and_normal_form);
  ps_test_add ("/shared-memory/variant/untrusted-arrays", test_variant_untrusted_arrays);
  ps_test_add ("/shared-memory/variant/record-layout", test_record_layout);
  ps_test_add ("/shared-memory/variant/corrupt/zeroed", test_corrupt_zeroed);
  ps_test_add ("/shared-memory/variant/corrupt/random", test_corrupt_random);
  ps_test_add ("/shared-memory/variant/corrupt/random-typed", test_corrupt_random_typed);
  ps_test_add ("/shared-memory/variant/corrupt/mutated", test_corrupt_mutated);
  ps_test_add ("/shared-memory/variant/corrupt/cut-short", test_corrupt_cut_short);
  ps_test_add ("/shared-memory/variant/corrupt/lengths", test_corrupt_lengths);
  ps_test_add ("/shared-memory/variant/corrupt/types", test_corrupt_types);
  ps_test_add ("/shared-memory/variant/corrupt/not-normal", test_corrupt_not_normal);

  return g_test_run ();
}
