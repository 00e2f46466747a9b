/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <string.h>

#include "ps-test-util.h"

/* Every invalid name that could reach the file system carries this token,
 * so that "nothing was created" can be checked in /dev/shm while other
 * test programs create their own objects there in parallel. */
static char *
token (void)
{
  return g_strdup_printf ("psbad%d", (int) getpid ());
}

static GPtrArray *
invalid_names (void)
{
  g_autofree char *t = token ();
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *long_body = NULL;

  g_ptr_array_add (names, g_strdup (""));
  g_ptr_array_add (names, g_strdup ("/"));
  g_ptr_array_add (names, g_strdup ("/."));
  g_ptr_array_add (names, g_strdup ("/.."));
  g_ptr_array_add (names, g_strdup ("//"));
  g_ptr_array_add (names, g_strdup (t));                                  /* no leading / */
  g_ptr_array_add (names, g_strdup_printf ("%s/x", t));
  g_ptr_array_add (names, g_strdup_printf ("//%s", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s/x", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s/", t));
  g_ptr_array_add (names, g_strdup_printf ("/../%s", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s x", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s*", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s\xc3\xa9", t));           /* é in UTF-8 */
  g_ptr_array_add (names, g_strdup_printf ("/%s\n", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s\t", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s:x", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s\\x", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s+x", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s~", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s\x7f", t));
  g_ptr_array_add (names, g_strdup_printf ("/%s\xff", t));
  g_ptr_array_add (names, g_strdup_printf (" /%s", t));

  /* 201 characters after the slash. */
  long_body = g_strnfill (PS_NAME_MAX_LENGTH + 1 - strlen (t), 'a');
  g_ptr_array_add (names, g_strdup_printf ("/%s%s", t, long_body));
  g_assert_cmpuint (strlen (g_ptr_array_index (names, names->len - 1)), ==,
                    PS_NAME_MAX_LENGTH + 2);

  return names;
}

static void
assert_token_absent_from_dev_shm (void)
{
  g_autofree char *t = token ();
  DIR *dir = opendir ("/dev/shm");
  struct dirent *entry;

  g_assert_nonnull (dir);
  while ((entry = readdir (dir)) != NULL)
    if (strstr (entry->d_name, t) != NULL)
      g_error ("/dev/shm/%s was created from an invalid name", entry->d_name);
  closedir (dir);
}

static void
test_is_valid (void)
{
  g_autoptr(GPtrArray) invalid = invalid_names ();
  g_autofree char *max_body = g_strnfill (PS_NAME_MAX_LENGTH, 'z');
  g_autofree char *max_name = g_strconcat ("/", max_body, NULL);
  g_autofree char *all_chars = g_strconcat ("/", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                            "abcdefghijklmnopqrstuvwxyz",
                                            "0123456789._-", NULL);
  const char *valid[] = {
    "/a", "/Z", "/0", "/_", "/-", "/...", "/.a", "/a.", "/..a", "/a..", "/.-",
    "/my-app.lock", "/My_App-1.2", all_chars, max_name,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      g_test_message ("valid: %s", valid[i]);
      g_assert_true (ps_name_is_valid (valid[i]));
    }
  for (guint i = 0; i < invalid->len; i++)
    {
      g_autofree char *escaped = g_strescape (g_ptr_array_index (invalid, i), NULL);

      g_test_message ("invalid: \"%s\"", escaped);
      g_assert_false (ps_name_is_valid (g_ptr_array_index (invalid, i)));
    }
  g_assert_false (ps_name_is_valid (NULL));
}

/* Every constructor that takes a name refuses every invalid one, whatever
 * the flags, before touching the system. */
static void
test_invalid_names_refused (void)
{
  g_autoptr(GPtrArray) invalid = invalid_names ();
  const PsOpenFlags flags[] = { PS_OPEN_NONE, PS_OPEN_CREATE, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE };

  for (guint i = 0; i < invalid->len; i++)
    {
      const char *name = g_ptr_array_index (invalid, i);
      g_autofree char *escaped = g_strescape (name, NULL);

      g_test_message ("\"%s\"", escaped);
      for (gsize f = 0; f < G_N_ELEMENTS (flags); f++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(PsSharedMemory) mem = NULL;
          g_autoptr(PsMutex) mutex = NULL;
          g_autoptr(PsSemaphore) semaphore = NULL;
          g_autoptr(PsCond) cond = NULL;

          mem = ps_shared_memory_open (name, flags[f], 64, &error);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
          g_assert_null (mem);
          g_clear_error (&error);

          mem = ps_shared_memory_open (name, flags[f], 0, &error);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
          g_assert_null (mem);
          g_clear_error (&error);

          mutex = ps_mutex_open (name, flags[f], &error);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
          g_assert_null (mutex);
          g_clear_error (&error);

          semaphore = ps_semaphore_open (name, flags[f], 1, &error);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
          g_assert_null (semaphore);
          g_clear_error (&error);

          cond = ps_cond_open (name, flags[f], &error);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
          g_assert_null (cond);
        }

      {
        g_autoptr(GError) error = NULL;

        g_assert_false (ps_unlink (name, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      }
    }

  assert_token_absent_from_dev_shm ();
}

/* The name property is checked too when the object is built directly. */
static void
test_invalid_name_property (void)
{
  g_autoptr(GPtrArray) invalid = invalid_names ();

  for (guint i = 0; i < invalid->len; i++)
    {
      const char *name = g_ptr_array_index (invalid, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(PsSharedMemory) mem = NULL;

      mem = g_initable_new (PS_TYPE_SHARED_MEMORY, NULL, &error,
                            "name", name,
                            "open-flags", PS_OPEN_CREATE,
                            "size", (guint64) 64,
                            NULL);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (mem);
    }
  assert_token_absent_from_dev_shm ();
}

static void
test_longest_name (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *prefix = g_strdup_printf ("/ps-test-long-%d-", (int) getpid ());
  g_autofree char *fill = g_strnfill (PS_NAME_MAX_LENGTH + 1 - strlen (prefix), 'x');
  g_autofree char *name = g_strconcat (prefix, fill, NULL);
  g_autoptr(PsSharedMemory) mem = NULL;
  g_autoptr(PsSharedMemory) again = NULL;

  g_assert_cmpuint (strlen (name), ==, PS_NAME_MAX_LENGTH + 1);
  g_assert_true (ps_name_is_valid (name));

  mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 64, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ps_shared_memory_get_name (mem), ==, name);
  /* System tools see exactly the name the user gave. */
  ps_test_assert_in_dev_shm (name, TRUE);

  again = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_shared_memory_get_size (again), ==, 64);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
  ps_test_assert_in_dev_shm (name, FALSE);
}

static void
test_exclusive_needs_create (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("names-excl");
  g_autoptr(PsSharedMemory) mem = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsCond) cond = NULL;

  mem = ps_shared_memory_open (name, PS_OPEN_EXCLUSIVE, 64, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (mem);
  g_clear_error (&error);

  mutex = ps_mutex_open (name, PS_OPEN_EXCLUSIVE, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (mutex);
  g_clear_error (&error);

  semaphore = ps_semaphore_open (name, PS_OPEN_EXCLUSIVE, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (semaphore);
  g_clear_error (&error);

  cond = ps_cond_open (name, PS_OPEN_EXCLUSIVE, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (cond);
  g_clear_error (&error);

  ps_test_assert_in_dev_shm (name, FALSE);
}

static void
test_unlink (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("names-unlink");
  g_autoptr(PsSharedMemory) mem = NULL;
  g_autoptr(PsSharedMemory) missing = NULL;
  g_autoptr(PsSharedMemory) fresh = NULL;

  mem = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 128, &error);
  g_assert_no_error (error);
  g_assert_true (ps_shared_memory_set_int64 (mem, 0, 0x1122334455667788, &error));
  ps_test_assert_in_dev_shm (name, TRUE);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
  ps_test_assert_in_dev_shm (name, FALSE);

  missing = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (missing);
  g_clear_error (&error);

  g_assert_false (ps_unlink (name, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Whoever still has it mapped keeps using it... */
  g_assert_cmpint (ps_shared_memory_get_int64 (mem, 0, &error), ==, 0x1122334455667788);
  g_assert_true (ps_shared_memory_set_int32 (mem, 8, 5, &error));
  g_assert_no_error (error);

  /* ... while creating the name again makes a new, zero-filled object. */
  fresh = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 128, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ps_shared_memory_get_int64 (fresh, 0, &error), ==, 0);
  g_assert_true (ps_shared_memory_set_int64 (fresh, 0, -1, &error));
  g_assert_cmpint (ps_shared_memory_get_int64 (mem, 0, &error), ==, 0x1122334455667788);
  g_assert_no_error (error);

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

static void
test_unlink_any_type (void)
{
  for (PsTestKind kind = 0; kind < PS_TEST_N_KINDS; kind++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("names-unlink-type");
      g_autoptr(GObject) object = NULL;
      g_autoptr(PsMutex) missing = NULL;

      /* A segment of 8 bytes, a semaphore of value 3. */
      object = ps_test_create_named (kind, name, 8, 3, &error);
      g_assert_no_error (error);
      g_assert_nonnull (object);
      ps_test_assert_in_dev_shm (name, TRUE);

      g_assert_true (ps_unlink (name, &error));
      g_assert_no_error (error);
      ps_test_assert_in_dev_shm (name, FALSE);

      missing = ps_mutex_open (name, PS_OPEN_NONE, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
      g_assert_null (missing);
    }
}

static void
test_error_domain (void)
{
  const struct
  {
    int         code;
    const char *name;
  } codes[] = {
    { PS_ERROR_FAILED, "PS_ERROR_FAILED" },
    { PS_ERROR_OWNER_DEAD, "PS_ERROR_OWNER_DEAD" },
    { PS_ERROR_NOT_RECOVERABLE, "PS_ERROR_NOT_RECOVERABLE" },
    { PS_ERROR_NOT_OWNER, "PS_ERROR_NOT_OWNER" },
    { PS_ERROR_WOULD_DEADLOCK, "PS_ERROR_WOULD_DEADLOCK" },
    { PS_ERROR_OVERFLOW, "PS_ERROR_OVERFLOW" },
    { PS_ERROR_WRONG_TYPE, "PS_ERROR_WRONG_TYPE" },
    { PS_ERROR_INCOMPATIBLE, "PS_ERROR_INCOMPATIBLE" },
    { PS_ERROR_CORRUPT, "PS_ERROR_CORRUPT" },
    { PS_ERROR_OUT_OF_BOUNDS, "PS_ERROR_OUT_OF_BOUNDS" },
    { PS_ERROR_BROKEN, "PS_ERROR_BROKEN" },
  };
  g_autoptr(GEnumClass) enum_class = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);

  g_assert_cmpstr (g_quark_to_string (PS_ERROR), ==, "ps-error-quark");
  g_assert_cmpuint (PS_ERROR, ==, g_quark_from_string ("ps-error-quark"));
  g_assert_cmpuint (PS_ERROR, ==, ps_error_quark ());

  g_assert_true (G_TYPE_IS_ENUM (PS_TYPE_ERROR));
  g_assert_cmpstr (g_type_name (PS_TYPE_ERROR), ==, "PsError");
  enum_class = g_type_class_ref (PS_TYPE_ERROR);
  g_assert_cmpuint (enum_class->n_values, ==, G_N_ELEMENTS (codes));

  for (gsize i = 0; i < G_N_ELEMENTS (codes); i++)
    {
      GEnumValue *value = g_enum_get_value (enum_class, codes[i].code);

      g_assert_nonnull (value);
      g_assert_cmpstr (value->value_name, ==, codes[i].name);
      g_assert_true (g_enum_get_value_by_name (enum_class, codes[i].name) == value);
      /* Distinct codes. */
      g_assert_false (g_hash_table_contains (seen, GINT_TO_POINTER (codes[i].code)));
      g_hash_table_add (seen, GINT_TO_POINTER (codes[i].code));
    }
}

static void
test_open_flags_type (void)
{
  g_autoptr(GFlagsClass) flags_class = NULL;
  GFlagsValue *value;

  g_assert_true (G_TYPE_IS_FLAGS (PS_TYPE_OPEN_FLAGS));
  g_assert_cmpstr (g_type_name (PS_TYPE_OPEN_FLAGS), ==, "PsOpenFlags");
  flags_class = g_type_class_ref (PS_TYPE_OPEN_FLAGS);

  g_assert_cmpint (PS_OPEN_NONE, ==, 0);
  g_assert_cmpint (PS_OPEN_CREATE & PS_OPEN_EXCLUSIVE, ==, 0);
  g_assert_cmpuint (flags_class->mask, ==, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE | PS_OPEN_ANY_OWNER);

  value = g_flags_get_value_by_name (flags_class, "PS_OPEN_CREATE");
  g_assert_nonnull (value);
  g_assert_cmpuint (value->value, ==, PS_OPEN_CREATE);
  value = g_flags_get_value_by_name (flags_class, "PS_OPEN_EXCLUSIVE");
  g_assert_nonnull (value);
  g_assert_cmpuint (value->value, ==, PS_OPEN_EXCLUSIVE);
  value = g_flags_get_value_by_name (flags_class, "PS_OPEN_ANY_OWNER");
  g_assert_nonnull (value);
  g_assert_cmpuint (value->value, ==, 1 << 2);
  value = g_flags_get_value_by_name (flags_class, "PS_OPEN_NONE");
  g_assert_nonnull (value);
  g_assert_cmpuint (value->value, ==, 0);

  g_assert_cmpint (PS_TIMEOUT_INFINITE, ==, -1);
  g_assert_cmpint (PS_NAME_MAX_LENGTH, ==, 200);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);
  ps_test_watchdog (120);

  ps_test_add ("/names/is-valid", test_is_valid);
  ps_test_add ("/names/invalid-refused", test_invalid_names_refused);
  ps_test_add ("/names/invalid-name-property", test_invalid_name_property);
  ps_test_add ("/names/longest", test_longest_name);
  ps_test_add ("/names/exclusive-needs-create", test_exclusive_needs_create);
  ps_test_add ("/names/unlink", test_unlink);
  ps_test_add ("/names/unlink-any-type", test_unlink_any_type);
  ps_test_add ("/errors/domain", test_error_domain);
  ps_test_add ("/errors/open-flags-type", test_open_flags_type);

  return g_test_run ();
}
