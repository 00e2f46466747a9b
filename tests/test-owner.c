/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Who owns a named object: an existing object of another user (not the
 * caller's, not root's) is opened only with PS_OPEN_ANY_OWNER, so that
 * nobody can make a name first and have a victim's PS_OPEN_CREATE use
 * theirs; and the mode a handle reports is the object's real one. The
 * cases with another user fork a child that switches to uid 65534, which
 * needs root; elsewhere they skip, saying why. */

#include <dirent.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>

#include "ps-test-util.h"
#include "ps-names-private.h"

#define OTHER_UID ((uid_t) 65534)

static const char *kind_names[PS_TEST_N_KINDS] = { "shm", "mutex", "semaphore", "cond" };

static GType
kind_type (PsTestKind kind)
{
  switch (kind)
    {
    case PS_TEST_KIND_SHARED_MEMORY:
      return PS_TYPE_SHARED_MEMORY;
    case PS_TEST_KIND_MUTEX:
      return PS_TYPE_MUTEX;
    case PS_TEST_KIND_SEMAPHORE:
      return PS_TYPE_SEMAPHORE;
    case PS_TEST_KIND_COND:
      return PS_TYPE_COND;
    case PS_TEST_N_KINDS:
    default:
      break;
    }
  g_assert_not_reached ();
  return G_TYPE_INVALID;
}

/* Opens @name as @kind with @flags, creating it with @mode. */
static GObject *
open_kind (PsTestKind    kind,
           const char   *name,
           PsOpenFlags   flags,
           guint         mode,
           GError      **error)
{
  if (kind == PS_TEST_KIND_SHARED_MEMORY)
    return g_initable_new (PS_TYPE_SHARED_MEMORY, NULL, error, "name", name,
                           "open-flags", flags, "mode", mode, "size", (guint64) 64, NULL);
  return g_initable_new (kind_type (kind), NULL, error, "name", name,
                         "open-flags", flags, "mode", mode, NULL);
}

static guint
mode_of (GObject *object)
{
  guint mode = 0;

  if (PS_IS_SHARED_MEMORY (object))
    return ps_shared_memory_get_mode (PS_SHARED_MEMORY (object));
  g_object_get (object, "mode", &mode, NULL);
  return mode;
}

static gboolean
created_of (GObject *object)
{
  gboolean created = FALSE;

  g_object_get (object, "created", &created, NULL);
  return created;
}

static guint
count_fds (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n;
}

/* Everything about @name's file that an open could change. */
static char *
snapshot (const char *name)
{
  g_autofree char *path = ps_test_dev_shm_path (name);
  g_autofree char *contents = NULL;
  g_autofree char *hex = NULL;
  gsize length = 0;
  struct stat st;

  g_assert_no_errno (stat (path, &st));
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
  return g_strdup_printf ("mode %o uid %u gid %u size %" G_GINT64_FORMAT " mtime %ld.%09ld "
                          "ctime %ld.%09ld data %s", (guint) st.st_mode, (guint) st.st_uid,
                          (guint) st.st_gid, (gint64) st.st_size, (long) st.st_mtim.tv_sec,
                          st.st_mtim.tv_nsec, (long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec, hex);
}

static gboolean
can_switch_user (void)
{
  if (geteuid () != 0)
    {
      g_test_skip ("needs root, to run a peer as another user (uid 65534)");
      return FALSE;
    }
  return TRUE;
}

static void
become_other_user (void)
{
  if (setgroups (0, NULL) != 0 || setgid (OTHER_UID) != 0 || setuid (OTHER_UID) != 0)
    _exit (90);
  g_assert_cmpuint (geteuid (), ==, OTHER_UID);
}

typedef struct
{
  PsTestKind  kind;
  const char *name;
  PsOpenFlags flags;
  gboolean    expect_created;
  guint       expect_mode;
} Peer;

/* As another user: open (and maybe create, with mode 0666) the object. */
static int
peer_opens (gpointer data)
{
  const Peer *peer = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) object = NULL;

  become_other_user ();
  object = open_kind (peer->kind, peer->name, peer->flags, 0666, &error);
  if (object == NULL)
    {
      g_printerr ("peer: %s\n", error->message);
      return 1;
    }
  if (created_of (object) != peer->expect_created)
    return 2;
  if (mode_of (object) != peer->expect_mode)
    {
      g_printerr ("peer: mode %o, expected %o\n", mode_of (object), peer->expect_mode);
      return 3;
    }
  return 0;
}

/* The flag ------------------------------------------------------------------ */

static void
test_flag_is_valid (void)
{
  g_autoptr(GError) error = NULL;
  GFlagsClass *flags_class = g_type_class_ref (PS_TYPE_OPEN_FLAGS);
  GFlagsValue *value;

  g_assert_cmpint (PS_OPEN_ANY_OWNER, ==, 1 << 2);
  value = g_flags_get_first_value (flags_class, PS_OPEN_ANY_OWNER);
  g_assert_nonnull (value);
  g_assert_cmpstr (value->value_nick, ==, "any-owner");
  g_type_class_unref (flags_class);

  g_assert_true (ps_open_flags_validate (PS_OPEN_ANY_OWNER, &error));
  g_assert_no_error (error);
  g_assert_true (ps_open_flags_validate (PS_OPEN_CREATE | PS_OPEN_ANY_OWNER, &error));
  g_assert_true (ps_open_flags_validate (PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE | PS_OPEN_ANY_OWNER,
                                         &error));
  g_assert_no_error (error);
  g_assert_false (ps_open_flags_validate (PS_OPEN_EXCLUSIVE | PS_OPEN_ANY_OWNER, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (ps_open_flags_validate (1 << 3, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* The mode reported ------------------------------------------------------------ */

static void
test_mode_is_the_real_one (void)
{
  for (PsTestKind kind = 0; kind < PS_TEST_N_KINDS; kind++)
    {
      g_autofree char *name = ps_test_unique_name (kind_names[kind]);
      g_autofree char *path = ps_test_dev_shm_path (name);
      g_autoptr(GError) error = NULL;
      g_autoptr(GObject) creator = NULL;
      g_autoptr(GObject) opener = NULL;
      g_autoptr(GObject) later = NULL;

      creator = open_kind (kind, name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 0640, &error);
      g_assert_no_error (error);
      g_assert_true (created_of (creator));
      g_assert_cmpuint (mode_of (creator), ==, 0640);

      /* Opened with the default (0600) asked for: the real mode shows. */
      opener = open_kind (kind, name, PS_OPEN_CREATE, 0600, &error);
      g_assert_no_error (error);
      g_assert_false (created_of (opener));
      g_assert_cmpuint (mode_of (opener), ==, 0640);

      /* Whatever changed it since. */
      g_assert_no_errno (chmod (path, 0604));
      later = open_kind (kind, name, PS_OPEN_NONE, 0600, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (mode_of (later), ==, 0604);

      g_assert_true (ps_unlink (name, NULL));
    }
}

/* Owners ------------------------------------------------------------------------ */

/* Another user made the name first, mode 0666: our create, and our plain
 * open, are refused, and change nothing; ANY_OWNER opens it. */
static void
test_other_user_refused_unless_any_owner (void)
{
  if (!can_switch_user ())
    return;

  for (PsTestKind kind = 0; kind < PS_TEST_N_KINDS; kind++)
    {
      g_autofree char *name = ps_test_unique_name (kind_names[kind]);
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;
      g_autoptr(GObject) shared = NULL;
      g_autoptr(GError) error = NULL;
      const PsOpenFlags refused[] = { PS_OPEN_CREATE, PS_OPEN_NONE };
      Peer peer = { kind, name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, TRUE, 0666 };
      guint fds;

      ps_test_reap_ok (ps_test_fork (peer_opens, &peer, 30), 30);
      before = snapshot (name);
      g_assert_true (g_str_has_prefix (before, "mode 100666 uid 65534 "));

      for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
        {
          g_autoptr(GObject) object = NULL;

          fds = count_fds ();
          object = open_kind (kind, name, refused[i], 0600, &error);
          g_assert_null (object);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
          g_assert_nonnull (strstr (error->message, "uid 65534"));
          g_assert_nonnull (strstr (error->message, "PS_OPEN_ANY_OWNER"));
          g_clear_error (&error);
          g_assert_cmpuint (count_fds (), ==, fds);
          after = snapshot (name);
          g_assert_cmpstr (after, ==, before);
          g_clear_pointer (&after, g_free);
        }

      shared = open_kind (kind, name, PS_OPEN_CREATE | PS_OPEN_ANY_OWNER, 0600, &error);
      g_assert_no_error (error);
      g_assert_false (created_of (shared));
      g_assert_cmpuint (mode_of (shared), ==, 0666);
      g_clear_object (&shared);

      shared = open_kind (kind, name, PS_OPEN_ANY_OWNER, 0600, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (mode_of (shared), ==, 0666);

      g_assert_true (ps_unlink (name, NULL));
    }
}

/* The convenience constructors take the flag as well. */
static void
test_any_owner_through_open (void)
{
  g_autofree char *name = ps_test_unique_name ("sem");
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(GError) error = NULL;
  Peer peer = { PS_TEST_KIND_SEMAPHORE, name, PS_OPEN_CREATE, TRUE, 0666 };

  if (!can_switch_user ())
    return;

  ps_test_reap_ok (ps_test_fork (peer_opens, &peer, 30), 30);
  semaphore = ps_semaphore_open (name, PS_OPEN_CREATE, 5, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_null (semaphore);
  g_clear_error (&error);

  semaphore = ps_semaphore_open (name, PS_OPEN_CREATE | PS_OPEN_ANY_OWNER, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ps_semaphore_get_value (semaphore), ==, 0);
  g_assert_true (ps_unlink (name, NULL));
}

/* An object of root's is no squatter's: another user opens it, with or
 * without ANY_OWNER. */
static void
test_root_owned_accepted (void)
{
  if (!can_switch_user ())
    return;

  for (PsTestKind kind = 0; kind < PS_TEST_N_KINDS; kind++)
    {
      g_autofree char *name = ps_test_unique_name (kind_names[kind]);
      g_autoptr(GObject) object = NULL;
      g_autoptr(GError) error = NULL;
      Peer peer = { kind, name, PS_OPEN_CREATE, FALSE, 0666 };

      object = open_kind (kind, name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 0666, &error);
      g_assert_no_error (error);

      ps_test_reap_ok (ps_test_fork (peer_opens, &peer, 30), 30);
      peer.flags = PS_OPEN_NONE;
      ps_test_reap_ok (ps_test_fork (peer_opens, &peer, 30), 30);
      peer.flags = PS_OPEN_ANY_OWNER;
      ps_test_reap_ok (ps_test_fork (peer_opens, &peer, 30), 30);

      g_assert_true (ps_unlink (name, NULL));
    }
}

/* The caller's own objects need no flag, whoever else may open them. */
static void
test_own_objects_accepted (void)
{
  g_autofree char *name = ps_test_unique_name ("own");
  g_autoptr(GObject) object = NULL;
  g_autoptr(GError) error = NULL;
  Peer peer = { PS_TEST_KIND_MUTEX, name, PS_OPEN_CREATE, TRUE, 0666 };

  if (!can_switch_user ())
    return;

  /* The other user creates it, then opens it again as its owner. */
  ps_test_reap_ok (ps_test_fork (peer_opens, &peer, 30), 30);
  peer.expect_created = FALSE;
  ps_test_reap_ok (ps_test_fork (peer_opens, &peer, 30), 30);
  peer.flags = PS_OPEN_NONE;
  ps_test_reap_ok (ps_test_fork (peer_opens, &peer, 30), 30);

  object = open_kind (PS_TEST_KIND_MUTEX, name, PS_OPEN_NONE, 0600, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_true (ps_unlink (name, NULL));
}

int
main (int    argc,
      char **argv)
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/owner/flag-is-valid", test_flag_is_valid);
  ps_test_add ("/owner/mode-is-the-real-one", test_mode_is_the_real_one);
  ps_test_add ("/owner/other-user-refused-unless-any-owner",
               test_other_user_refused_unless_any_owner);
  ps_test_add ("/owner/any-owner-through-open", test_any_owner_through_open);
  ps_test_add ("/owner/root-owned-accepted", test_root_owned_accepted);
  ps_test_add ("/owner/own-objects-accepted", test_own_objects_accepted);

  return g_test_run ();
}
