/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Security of named objects: created 0600 whatever the umask unless the
 * `mode` property says otherwise; closed to other users; never created
 * through a symlink nor on top of a file that is not ours; no descriptor
 * left open, none inherited by a spawned program; names that are never
 * paths. Every object type is checked.
 *
 * The spawned program is this binary again, with `--peer list-fds`,
 * handled by ps_test_init(): it prints what its descriptors point to.
 */

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "stress-util.h"

#define NOBODY 65534
#define SHM_SIZE 4096   /* of the named segments this test makes */

/* Every kind of named object, in the order the tests run on them. */
static const StressNamedKind kinds[] = {
  STRESS_NAMED_SHARED_MEMORY,
  STRESS_NAMED_SEMAPHORE,
  STRESS_NAMED_MUTEX,
  STRESS_NAMED_COND,
};

static GType
kind_type (StressNamedKind kind)
{
  switch (kind)
    {
    case STRESS_NAMED_SHARED_MEMORY: return PS_TYPE_SHARED_MEMORY;
    case STRESS_NAMED_SEMAPHORE: return PS_TYPE_SEMAPHORE;
    case STRESS_NAMED_MUTEX: return PS_TYPE_MUTEX;
    case STRESS_NAMED_COND: return PS_TYPE_COND;
    case STRESS_N_NAMED:
    default: g_assert_not_reached ();
    }
}

/* Creates with an explicit mode, through the `mode` property. */
static GObject *
create_with_mode (StressNamedKind   kind,
                  const char       *name,
                  guint             mode,
                  GError          **error)
{
  if (kind == STRESS_NAMED_SHARED_MEMORY)
    return g_initable_new (PS_TYPE_SHARED_MEMORY, NULL, error,
                           "name", name,
                           "open-flags", PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                           "size", (guint64) SHM_SIZE,
                           "mode", mode,
                           NULL);
  if (kind == STRESS_NAMED_SEMAPHORE)
    return g_initable_new (PS_TYPE_SEMAPHORE, NULL, error,
                           "name", name,
                           "open-flags", PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                           "initial-value", 1,
                           "mode", mode,
                           NULL);
  return g_initable_new (kind_type (kind), NULL, error,
                         "name", name,
                         "open-flags", PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                         "mode", mode,
                         NULL);
}

/* Uses the object a little, so that "opened" means usable. */
static gboolean
use_kind (StressNamedKind  kind,
          GObject         *object)
{
  switch (kind)
    {
    case STRESS_NAMED_SHARED_MEMORY:
      return ps_shared_memory_set_int32 (PS_SHARED_MEMORY (object), 0, 5, NULL) &&
             ps_shared_memory_get_int32 (PS_SHARED_MEMORY (object), 0, NULL) == 5;
    case STRESS_NAMED_SEMAPHORE:
      return ps_semaphore_acquire (PS_SEMAPHORE (object), G_USEC_PER_SEC, NULL, NULL) &&
             ps_semaphore_release (PS_SEMAPHORE (object), NULL);
    case STRESS_NAMED_MUTEX:
      return ps_mutex_lock (PS_MUTEX (object), G_USEC_PER_SEC, NULL, NULL) &&
             ps_mutex_unlock (PS_MUTEX (object), NULL);
    case STRESS_NAMED_COND:
      ps_cond_broadcast (PS_COND (object));
      return TRUE;
    case STRESS_N_NAMED:
    default:
      g_assert_not_reached ();
    }
}

static struct stat
stat_of (const char *path)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  return st;
}

static void
unlink_name (const char *name)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

/* Modes ------------------------------------------------------------------------ */

static void
test_mode_default (gconstpointer data)
{
  StressNamedKind kind = GPOINTER_TO_INT (data);
  const mode_t umasks[] = { 0, 022, 077, 0777 };

  for (gsize u = 0; u < G_N_ELEMENTS (umasks); u++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("sec-mode");
      g_autofree char *path = ps_test_dev_shm_path (name);
      g_autoptr(GObject) object = NULL;
      mode_t old = umask (umasks[u]);
      guint mode = 0;
      struct stat st;

      object = stress_open_named (kind, name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, SHM_SIZE,
                                  &error);
      umask (old);
      g_assert_no_error (error);
      st = stat_of (path);
      g_test_message ("%s, umask %03o: mode %04o", stress_named_kind_name (kind), umasks[u],
                      st.st_mode & 07777);
      g_assert_true (S_ISREG (st.st_mode));
      g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
      g_assert_cmpuint (st.st_uid, ==, geteuid ());
      g_object_get (object, "mode", &mode, NULL);
      g_assert_cmpuint (mode, ==, 0600);
      g_assert_true (use_kind (kind, object));
      unlink_name (name);
    }
}

static void
test_mode_property (gconstpointer data)
{
  StressNamedKind kind = GPOINTER_TO_INT (data);
  const guint modes[] = { 0640, 0666, 0604, 0400, 0 };
  const mode_t umasks[] = { 0, 077 };

  for (gsize m = 0; m < G_N_ELEMENTS (modes); m++)
    for (gsize u = 0; u < G_N_ELEMENTS (umasks); u++)
      {
        g_autoptr(GError) error = NULL;
        g_autofree char *name = ps_test_unique_name ("sec-mode-prop");
        g_autofree char *path = ps_test_dev_shm_path (name);
        g_autoptr(GObject) object = NULL;
        mode_t old = umask (umasks[u]);
        guint mode = 0;

        object = create_with_mode (kind, name, modes[m], &error);
        umask (old);
        g_assert_no_error (error);
        g_assert_cmpuint (stat_of (path).st_mode & 07777, ==, modes[m]);
        g_object_get (object, "mode", &mode, NULL);
        g_assert_cmpuint (mode, ==, modes[m]);
        /* The creator uses it, whatever it allows others. */
        g_assert_true (use_kind (kind, object));
        unlink_name (name);
      }
}

/* Other users ------------------------------------------------------------------ */

typedef struct
{
  StressNamedKind  kind;
  const char      *name;
  gboolean         open_to_all;    /* created 0666: the positive control */
} NobodyArgs;

static gboolean
drop_to_nobody (void)
{
  return setgroups (0, NULL) == 0 && setgid (NOBODY) == 0 && setuid (NOBODY) == 0 &&
         getuid () == NOBODY && geteuid () == NOBODY && getegid () == NOBODY;
}

static int
nobody_child (gpointer data)
{
  NobodyArgs *args = data;
  const PsOpenFlags flags[] = { PS_OPEN_NONE, PS_OPEN_CREATE };

  stress_die_with_parent ();
  if (!drop_to_nobody ())
    return 1;

  if (args->open_to_all)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GObject) object = stress_open_named (args->kind, args->name, PS_OPEN_NONE,
                                                     SHM_SIZE, &error);

      if (object == NULL)
        {
          g_printerr ("nobody could not open a 0666 %s: %s\n",
                      stress_named_kind_name (args->kind), error->message);
          return 2;
        }
      return use_kind (args->kind, object) ? 0 : 3;
    }

  for (gsize f = 0; f < G_N_ELEMENTS (flags); f++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GObject) object = stress_open_named (args->kind, args->name, flags[f],
                                                     SHM_SIZE, &error);

      if (object != NULL || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
        {
          g_printerr ("nobody opening a 0600 %s with flags %d: %s\n",
                      stress_named_kind_name (args->kind), flags[f],
                      error != NULL ? error->message : "opened it");
          return 10 + f;
        }
    }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GObject) object = stress_open_named (args->kind, args->name,
                                                   PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, SHM_SIZE,
                                                   &error);

    if (object != NULL || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
      return 20;
  }
  {
    g_autoptr(GError) error = NULL;

    /* /dev/shm is sticky: only the owner removes it. */
    if (ps_unlink (args->name, &error) ||
        !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
      {
        g_printerr ("nobody unlinking: %s\n", error != NULL ? error->message : "removed it");
        return 21;
      }
  }
  return 0;
}

static void
test_other_user (gconstpointer data)
{
  StressNamedKind kind = GPOINTER_TO_INT (data);

  if (geteuid () != 0)
    {
      g_test_skip ("needs root to become another user");
      return;
    }

  for (guint open_to_all = 0; open_to_all < 2; open_to_all++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("sec-other-user");
      g_autoptr(GObject) object = NULL;
      NobodyArgs args = { kind, name, open_to_all };

      if (open_to_all)
        object = create_with_mode (kind, name, 0666, &error);
      else
        object = stress_open_named (kind, name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, SHM_SIZE,
                                    &error);
      g_assert_no_error (error);

      ps_test_reap_ok (ps_test_fork (nobody_child, &args, ps_test_scaled_s (30)), ps_test_scaled_s (40));
      g_assert_true (use_kind (kind, object));
      unlink_name (name);
    }
}

/* Symlinks and files that are not ours ------------------------------------------ */

typedef struct
{
  struct stat st;
  char       *contents;
  gsize       length;
} FileSnapshot;

static void
snapshot (const char   *path,
          FileSnapshot *snap)
{
  g_autoptr(GError) error = NULL;

  snap->st = stat_of (path);
  g_assert_true (g_file_get_contents (path, &snap->contents, &snap->length, &error));
  g_assert_no_error (error);
}

static void
assert_unchanged (const char   *path,
                  FileSnapshot *before)
{
  FileSnapshot after;

  snapshot (path, &after);
  g_assert_cmpuint (after.st.st_size, ==, before->st.st_size);
  g_assert_cmpuint (after.st.st_mode, ==, before->st.st_mode);
  g_assert_cmpuint (after.st.st_uid, ==, before->st.st_uid);
  g_assert_cmpint (after.st.st_mtim.tv_sec, ==, before->st.st_mtim.tv_sec);
  g_assert_cmpint (after.st.st_mtim.tv_nsec, ==, before->st.st_mtim.tv_nsec);
  g_assert_cmpmem (after.contents, after.length, before->contents, before->length);
  g_free (after.contents);
}

static void
test_symlink (gconstpointer data)
{
  StressNamedKind kind = GPOINTER_TO_INT (data);
  g_autofree char *name = ps_test_unique_name ("sec-symlink");
  g_autofree char *link_path = ps_test_dev_shm_path (name);
  g_autofree char *victim = g_strdup_printf ("/tmp/ps-test-victim-%d", (int) getpid ());
  g_autofree char *missing = g_strdup_printf ("/tmp/ps-test-missing-%d", (int) getpid ());
  const PsOpenFlags flags[] = { PS_OPEN_CREATE, PS_OPEN_NONE, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE };
  g_autoptr(GError) error = NULL;
  FileSnapshot before;

  g_assert_true (g_file_set_contents (victim, "precious data, not to be overwritten\n", -1,
                                      &error));
  g_assert_no_error (error);
  g_assert_cmpint (chmod (victim, 0644), ==, 0);
  snapshot (victim, &before);

  /* A link to an existing file, then a dangling one. */
  for (guint dangling = 0; dangling < 2; dangling++)
    {
      g_assert_cmpint (symlink (dangling ? missing : victim, link_path), ==, 0);
      for (gsize f = 0; f < G_N_ELEMENTS (flags); f++)
        {
          g_autoptr(GError) open_error = NULL;
          g_autoptr(GObject) object = stress_open_named (kind, name, flags[f], SHM_SIZE,
                                                         &open_error);

          g_test_message ("%s through a %s symlink, flags %d: %s", stress_named_kind_name (kind),
                          dangling ? "dangling" : "", flags[f],
                          open_error != NULL ? open_error->message : "opened");
          g_assert_null (object);
          /* O_EXCL never follows a link: EEXIST; opening the name then
           * refuses the link itself (O_NOFOLLOW): ELOOP. */
          if (flags[f] & PS_OPEN_EXCLUSIVE)
            g_assert_error (open_error, G_IO_ERROR, G_IO_ERROR_EXISTS);
          else
            g_assert_error (open_error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
        }
      assert_unchanged (victim, &before);
      g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
      g_assert_true (S_ISLNK (stat_of (link_path).st_mode));

      /* Removing the name removes the link, not what it points to. */
      unlink_name (name);
      g_assert_false (g_file_test (link_path, G_FILE_TEST_IS_SYMLINK));
      assert_unchanged (victim, &before);
    }

  g_free (before.contents);
  g_assert_cmpint (unlink (victim), ==, 0);
}

/* A file in /dev/shm that procshared did not make is never taken over:
 * not initialised, not resized, not chmod'ed, whatever the flags. */
static void
test_foreign_file (gconstpointer data)
{
  StressNamedKind kind = GPOINTER_TO_INT (data);
  const struct { const char *what; const char *contents; gssize length; } files[] = {
    { "a foreign file", "this is somebody else's file, with enough bytes to look like "
                        "a header and more, much more, than 32 of them", -1 },
    { "an empty file", "", 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *name = ps_test_unique_name ("sec-foreign");
      g_autofree char *path = ps_test_dev_shm_path (name);
      g_autoptr(GError) error = NULL;
      FileSnapshot before;
      const PsOpenFlags flags[] = { PS_OPEN_CREATE, PS_OPEN_NONE,
                                    PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE };

      g_assert_true (g_file_set_contents (path, files[i].contents, files[i].length, &error));
      g_assert_no_error (error);
      g_assert_cmpint (chmod (path, 0640), ==, 0);
      snapshot (path, &before);

      for (gsize f = 0; f < G_N_ELEMENTS (flags); f++)
        {
          g_autoptr(GError) open_error = NULL;
          g_autoptr(GObject) object = NULL;
          gint64 start = g_get_monotonic_time ();

          object = stress_open_named (kind, name, flags[f], SHM_SIZE, &open_error);
          g_test_message ("%s on %s, flags %d: %s", stress_named_kind_name (kind), files[i].what,
                          flags[f], open_error != NULL ? open_error->message : "opened");
          g_assert_null (object);
          if (flags[f] & PS_OPEN_EXCLUSIVE)
            g_assert_error (open_error, G_IO_ERROR, G_IO_ERROR_EXISTS);
          else
            g_assert_error (open_error, PS_ERROR, PS_ERROR_CORRUPT);
          /* An empty file may be an object being created: the opener
           * waits for it a bounded while. */
          g_assert_cmpint (g_get_monotonic_time () - start, <=,
                           3 * G_USEC_PER_SEC + ps_test_scaled_us (2 * G_USEC_PER_SEC));
          assert_unchanged (path, &before);
        }
      g_free (before.contents);
      g_assert_cmpint (unlink (path), ==, 0);
    }

  /* Not a regular file at all: refused, left as it is. */
  {
    g_autofree char *name = ps_test_unique_name ("sec-dir");
    g_autofree char *path = ps_test_dev_shm_path (name);
    g_autoptr(GError) error = NULL;
    g_autoptr(GObject) object = NULL;

    g_assert_cmpint (mkdir (path, 0700), ==, 0);
    object = stress_open_named (kind, name, PS_OPEN_CREATE, SHM_SIZE, &error);
    g_assert_null (object);
    /* shm_open() reports a directory as EINVAL (POSIX). */
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_assert_true (S_ISDIR (stat_of (path).st_mode));
    g_assert_cmpint (rmdir (path), ==, 0);
  }
}

/* Descriptors ------------------------------------------------------------------- */

/* What /proc/self/fd holds, as "fd -> target" lines, @skip_fd aside. */
static GPtrArray *
list_fds (int skip_fd)
{
  GPtrArray *fds = g_ptr_array_new_with_free_func (g_free);
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;

  g_assert_nonnull (dir);
  while ((entry = readdir (dir)) != NULL)
    {
      g_autofree char *link = NULL;
      g_autofree char *target = NULL;
      int fd;

      if (entry->d_name[0] == '.')
        continue;
      fd = atoi (entry->d_name);
      if (fd == dirfd (dir) || fd == skip_fd)
        continue;
      link = g_strdup_printf ("/proc/self/fd/%d", fd);
      target = g_file_read_link (link, NULL);
      g_ptr_array_add (fds, g_strdup_printf ("%d -> %s", fd, target != NULL ? target : "?"));
    }
  closedir (dir);
  return fds;
}

static guint
count_shm_fds (GPtrArray *fds)
{
  guint n = 0;

  for (guint i = 0; i < fds->len; i++)
    if (strstr (g_ptr_array_index (fds, i), "/dev/shm/") != NULL)
      n++;
  return n;
}

static int
peer_list_fds (void)
{
  g_autoptr(GPtrArray) fds = list_fds (-1);

  for (guint i = 0; i < fds->len; i++)
    g_print ("%s\n", (char *) g_ptr_array_index (fds, i));
  return 0;
}

/* Runs the peer with every descriptor of ours that lacks close-on-exec
 * left open for it (GLib would close them all otherwise), and returns
 * what it found besides its standard streams. */
static GPtrArray *
spawned_peer_fds (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  const char *argv[] = { ps_test_self_exe (), "--peer", "list-fds", NULL };
  GPtrArray *inherited = g_ptr_array_new_with_free_func (g_free);
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_LEAVE_DESCRIPTORS_OPEN,
                               NULL, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_no_error (error);

  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0' && atoi (lines[i]) > 2)
      g_ptr_array_add (inherited, g_strdup (lines[i]));
  return inherited;
}

static void
test_no_descriptor_kept (void)
{
  g_autoptr(GPtrArray) before = list_fds (-1);
  g_autoptr(GPtrArray) objects = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) after = NULL;

  for (guint i = 0; i < 10; i++)
    for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
      {
        g_autoptr(GError) error = NULL;
        char *name = ps_test_unique_name ("sec-fd");

        g_ptr_array_add (objects, stress_open_named (kinds[k], name, PS_OPEN_CREATE, SHM_SIZE,
                                                     &error));
        g_assert_no_error (error);
        /* A second handle on the same object, opened rather than created. */
        g_ptr_array_add (objects, stress_open_named (kinds[k], name, PS_OPEN_NONE, SHM_SIZE,
                                                     &error));
        g_assert_no_error (error);
        g_ptr_array_add (names, name);
      }

  /* Named objects keep a mapping, not a descriptor. */
  after = list_fds (-1);
  g_assert_cmpuint (count_shm_fds (after), ==, 0);
  g_assert_cmpuint (after->len, ==, before->len);

  for (guint i = 0; i < names->len; i++)
    unlink_name (g_ptr_array_index (names, i));
}

static void
test_cloexec_spawn (void)
{
  g_autoptr(GPtrArray) objects = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) inherited = NULL;
  g_autoptr(GPtrArray) baseline = NULL;
  g_autoptr(GError) error = NULL;
  guint ours = 0;

  /* What a peer inherits from whoever started this test, before any
   * object exists: not ours to judge. */
  baseline = spawned_peer_fds ();

  /* Named objects of every kind, and anonymous ones, open meanwhile. */
  for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      char *name = ps_test_unique_name ("sec-cloexec");

      g_ptr_array_add (objects, stress_open_named (kinds[k], name, PS_OPEN_CREATE, SHM_SIZE,
                                                   &error));
      g_assert_no_error (error);
      g_ptr_array_add (names, name);
    }
  g_ptr_array_add (objects, ps_shared_memory_new (4096, &error));
  g_ptr_array_add (objects, ps_semaphore_new (1, &error));
  g_ptr_array_add (objects, ps_mutex_new (&error));
  g_ptr_array_add (objects, ps_cond_new (&error));
  g_assert_no_error (error);

  inherited = spawned_peer_fds ();
  for (guint i = 0; i < inherited->len; i++)
    {
      const char *fd = g_ptr_array_index (inherited, i);

      if (g_ptr_array_find_with_equal_func (baseline, fd, g_str_equal, NULL))
        continue;
      g_test_message ("inherited: %s", fd);
      ours++;
    }
  g_assert_cmpuint (ours, ==, 0);
  g_assert_cmpuint (count_shm_fds (inherited), ==, 0);

  for (guint i = 0; i < names->len; i++)
    unlink_name (g_ptr_array_index (names, i));
}

/* While a thread opens and closes named objects as fast as it can (each
 * holds a descriptor for a moment, between shm_open() and mmap()), the
 * main thread spawns programs: one that inherited such a descriptor
 * would show it. Only O_CLOEXEC at shm_open() closes that window. */
typedef struct
{
  gint  stop;
  gint  opened;
} OpenerState;

static gpointer
opener_thread (gpointer data)
{
  OpenerState *state = data;
  g_autofree char *name = ps_test_unique_name ("sec-cloexec-race");
  guint i = 0;

  while (!g_atomic_int_get (&state->stop))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GObject) object = stress_open_named (kinds[i++ % G_N_ELEMENTS (kinds)], name,
                                                     PS_OPEN_CREATE, SHM_SIZE, &error);

      g_assert_no_error (error);
      g_assert_nonnull (object);
      g_atomic_int_inc (&state->opened);
      unlink_name (name);
    }
  return NULL;
}

static void
test_cloexec_race (void)
{
  OpenerState state = { 0, 0 };
  GThread *thread = g_thread_new ("opener", opener_thread, &state);
  guint spawns = stress_is_slow () ? 10 : 60;
  guint leaks = 0;

  for (guint i = 0; i < spawns; i++)
    {
      g_autoptr(GPtrArray) inherited = spawned_peer_fds ();

      leaks += count_shm_fds (inherited);
      for (guint j = 0; j < inherited->len; j++)
        g_test_message ("inherited: %s", (char *) g_ptr_array_index (inherited, j));
    }
  g_atomic_int_set (&state.stop, 1);
  g_thread_join (thread);
  g_test_message ("%u spawns while %d objects were opened", spawns, state.opened);
  g_assert_cmpint (state.opened, >, 0);
  g_assert_cmpuint (leaks, ==, 0);
}

/* Names ------------------------------------------------------------------------- */

/* Dots in a name are characters, not path steps: the object is the file
 * of that very name in /dev/shm, nothing above it. */
static void
test_dots_stay_in_dev_shm (void)
{
  const char *prefixes[] = { "..", ".", "...", "..-", "._." };

  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *body = g_strdup_printf ("%sps-test-dots-%d", prefixes[i], (int) getpid ());
      g_autofree char *name = g_strconcat ("/", body, NULL);
      g_autofree char *in_shm = g_build_filename ("/dev/shm", body, NULL);
      g_autofree char *in_dev = g_build_filename ("/dev", body, NULL);
      g_autofree char *in_root = g_build_filename ("/", body, NULL);
      g_autoptr(PsMutex) mutex = NULL;

      mutex = ps_mutex_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
      g_assert_no_error (error);
      g_assert_true (g_file_test (in_shm, G_FILE_TEST_IS_REGULAR));
      g_assert_false (g_file_test (in_dev, G_FILE_TEST_EXISTS));
      g_assert_false (g_file_test (in_root, G_FILE_TEST_EXISTS));
      unlink_name (name);
      g_assert_false (g_file_test (in_shm, G_FILE_TEST_EXISTS));
    }

  /* Percent-encoding is not decoded, and is no name character. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(PsMutex) mutex = ps_mutex_open ("/%2e%2e%2fetc", PS_OPEN_CREATE, &error);

    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_assert_null (mutex);
  }
}

static int
run_peer (int    argc,
          char **argv)
{
  if (argc == 1 && g_str_equal (argv[0], "list-fds"))
    return peer_list_fds ();
  g_printerr ("test-security: unknown peer mode\n");
  return 99;
}

int
main (int argc, char *argv[])
{
  stress_init (&argc, &argv, run_peer);

  for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      struct { const char *what; GTestDataFunc func; } tests[] = {
        { "mode/default-0600", test_mode_default },
        { "mode/property", test_mode_property },
        { "other-user", test_other_user },
        { "symlink", test_symlink },
        { "foreign-file", test_foreign_file },
      };

      for (gsize t = 0; t < G_N_ELEMENTS (tests); t++)
        {
          g_autofree char *path = g_strdup_printf ("/security/%s/%s", tests[t].what,
                                                   stress_named_kind_name (kinds[k]));

          ps_test_add_full (path, tests[t].func, GINT_TO_POINTER (kinds[k]), 60);
        }
    }
  ps_test_add_timed ("/security/descriptors/none-kept", test_no_descriptor_kept, 60);
  ps_test_add_timed ("/security/descriptors/cloexec-spawn", test_cloexec_spawn, 60);
  ps_test_add_timed ("/security/descriptors/cloexec-race", test_cloexec_race, 120);
  ps_test_add_timed ("/security/names/dots-stay-in-dev-shm", test_dots_stay_in_dev_shm, 30);

  return g_test_run ();
}
