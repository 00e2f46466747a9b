/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* procshared list and procshared info: looking, never touching. The
 * header is classified from a pread() snapshot (ps-inspect.c); only a
 * complete object of ours is then opened through the library, with
 * PS_OPEN_ANY_OWNER (whoever's it is: opening does not create), which
 * maps it and reads its state without writing a byte, and without
 * locking anything. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps-tool.h"
#include "ps-cond-private.h"
#include "ps-identity-private.h"
#include "ps-mutex-private.h"
#include "ps-rw-lock-private.h"

typedef struct
{
  char          *name;
  PsInspectInfo  info;
  gboolean       have_metadata;
  char          *unreadable;       /* why the file could not be looked at */
  int            unreadable_status;

  /* The state of a complete object, or why it could not be read. */
  gboolean       have_state;
  char          *state_error;
  int            state_error_status;
  gboolean       recursive;
  GPid           owner_pid;
  gboolean       owner_alive;
  gboolean       other_namespace;  /* made (and held) in another PID namespace:
                                    * owner_pid is a pid there, not here */
  PsMutexConsistency consistency;
  guint          value;
  guint          max_value;
  guint          waiters;
  guint64        data_size;
  guint          readers;           /* a reader-writer lock's */
  guint          writers_waiting;
  PsToolRendezvousState rendezvous;   /* events and barriers */
  PsToolQueueState queue;
} Entry;

static void
entry_free (Entry *entry)
{
  g_free (entry->name);
  ps_inspect_info_clear (&entry->info);
  g_free (entry->unreadable);
  g_free (entry->state_error);
  g_free (entry);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Entry, entry_free)

/* A mutex of another PID namespace, which the library refuses to open
 * here: its state is read from the file instead. Its holder's pid means
 * nothing here, and no process here can be asked whether it lives. */
static void
read_mutex_of_other_namespace (Entry   *entry,
                               GError **error)
{
  PsRobustMutex state;

  if (!ps_inspect_read_mutex (entry->name, &state, NULL) ||
      state.pid_namespace == ps_self_pid_namespace ())
    return;   /* the library's own error stays */
  g_clear_error (error);
  entry->other_namespace = TRUE;
  entry->recursive = state.recursive != 0;
  entry->owner_pid = (GPid) state.owner_pid;
  entry->owner_alive = FALSE;
  entry->consistency = (PsMutexConsistency) state.consistency;
}

static void
read_state (Entry *entry)
{
  g_autoptr(GError) error = NULL;

  switch ((int) entry->info.type)
    {
    case PS_OBJECT_TYPE_MUTEX:
      {
        g_autoptr(PsMutex) mutex = ps_mutex_open (entry->name, PS_OPEN_ANY_OWNER, &error);

        if (mutex != NULL)
          {
            entry->recursive = ps_mutex_is_recursive (mutex);
            entry->owner_pid = ps_mutex_get_owner_pid (mutex);
            entry->owner_alive = ps_tool_pid_is_alive (entry->owner_pid);
            entry->consistency = ps_mutex_get_consistency (mutex);
          }
        else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
          read_mutex_of_other_namespace (entry, &error);
        break;
      }
    case PS_OBJECT_TYPE_SEMAPHORE:
      {
        g_autoptr(PsSemaphore) semaphore = ps_semaphore_open (entry->name, PS_OPEN_ANY_OWNER, 0, &error);

        if (semaphore != NULL)
          {
            entry->value = ps_semaphore_get_value (semaphore);
            entry->max_value = ps_semaphore_get_max_value (semaphore);
          }
        break;
      }
    case PS_OBJECT_TYPE_COND:
      {
        g_autoptr(PsCond) cond = ps_cond_open (entry->name, PS_OPEN_ANY_OWNER, &error);

        if (cond != NULL)
          entry->waiters = ps_cond_get_waiter_count (cond);
        break;
      }
    case PS_OBJECT_TYPE_RW_LOCK:
      {
        g_autoptr(PsRWLock) rw = ps_rw_lock_open (entry->name, PS_OPEN_ANY_OWNER, &error);

        if (rw != NULL)
          {
            PsRwLockState *state = ps_rw_lock_get_handle (rw)->state;

            entry->readers = ps_rw_lock_get_n_readers (rw);
            entry->owner_pid = ps_rw_lock_get_writer_pid (rw);
            entry->owner_alive = ps_tool_pid_is_alive (entry->owner_pid);
            entry->writers_waiting = g_atomic_int_get (&state->writers_waiting);
            entry->consistency = g_atomic_int_get (&state->writer.consistency);
          }
        break;
      }
    case PS_OBJECT_TYPE_EVENT:
    case PS_OBJECT_TYPE_BARRIER:
      ps_tool_read_rendezvous (entry->name, entry->info.type, &entry->rendezvous, &error);
      break;
    case PS_OBJECT_TYPE_QUEUE:
      ps_tool_read_queue (entry->name, &entry->queue, &error);
      break;
    case PS_OBJECT_TYPE_SHARED_MEMORY:
      {
        g_autoptr(PsSharedMemory) memory = ps_shared_memory_open (entry->name, PS_OPEN_ANY_OWNER, 0, &error);

        if (memory != NULL)
          entry->data_size = ps_shared_memory_get_size (memory);
        break;
      }
    default:
      g_assert_not_reached ();
    }

  if (error != NULL)
    {
      entry->state_error_status = ps_tool_exit_for_error (error);
      if (entry->state_error_status == PS_TOOL_EXIT_PERMISSION)
        entry->state_error = g_strdup ("permission denied");
      else if (entry->state_error_status == PS_TOOL_EXIT_NOT_FOUND)
        entry->state_error = g_strdup ("removed while being inspected");
      else
        entry->state_error = g_strdup (error->message);
      return;
    }
  entry->have_state = TRUE;
}

/* Returns NULL (with @error) only when the file vanished or the name is
 * invalid; anything that exists gives an entry, unreadable or not. */
static Entry *
inspect (int          dirfd,
         const char  *filename,
         GError     **error)
{
  g_autoptr(Entry) entry = g_new0 (Entry, 1);
  g_autoptr(GError) local_error = NULL;

  entry->name = g_strconcat ("/", filename, NULL);

  if (!ps_inspect_file (dirfd, filename, &entry->info, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      entry->have_metadata = entry->info.file_type != 0;
      entry->unreadable_status = ps_tool_exit_for_error (local_error);
      entry->unreadable = entry->unreadable_status == PS_TOOL_EXIT_PERMISSION
                            ? g_strdup ("permission denied")
                            : g_strdup (local_error->message);
      return g_steal_pointer (&entry);
    }

  entry->have_metadata = TRUE;
  if (entry->info.kind == PS_INSPECT_OBJECT)
    read_state (entry);
  return g_steal_pointer (&entry);
}

static gboolean
is_ours (const Entry *entry)
{
  return entry->unreadable == NULL &&
         entry->info.kind != PS_INSPECT_FOREIGN &&
         entry->info.kind != PS_INSPECT_BLANK;
}

/* Presentation ----------------------------------------------------------- */

static const char *
kind_name (const Entry *entry)
{
  return entry->unreadable != NULL ? "unreadable" : ps_inspect_kind_to_string (entry->info.kind);
}

static const char *
type_name (const Entry *entry)
{
  if (entry->unreadable != NULL || entry->info.type == 0)
    return NULL;
  return ps_tool_type_name (entry->info.type);
}

static char *
group_name (guint32 gid)
{
  struct group *gr = getgrgid (gid);

  return gr != NULL ? g_strdup (gr->gr_name) : NULL;
}

static char *
describe_state (const Entry *entry)
{
  if (entry->unreadable != NULL)
    return g_strdup_printf ("unreadable: %s", entry->unreadable);
  if (entry->info.kind != PS_INSPECT_OBJECT)
    return g_strdup_printf ("%s: %s", ps_inspect_kind_to_string (entry->info.kind),
                            entry->info.detail);
  if (!entry->have_state)
    return g_strdup_printf ("unknown: %s", entry->state_error);

  switch ((int) entry->info.type)
    {
    case PS_OBJECT_TYPE_MUTEX:
      if (entry->consistency == PS_MUTEX_NOT_RECOVERABLE)
        return g_strdup ("not recoverable (a holder died and it was unlocked unrepaired)");
      if (entry->owner_pid == 0)
        return g_strdup (entry->other_namespace ? "free, of another PID namespace" : "free");
      if (entry->other_namespace)
        return g_strdup_printf ("held in another PID namespace (pid %d there, not a pid here)%s",
                                (int) entry->owner_pid,
                                entry->consistency == PS_MUTEX_INCONSISTENT
                                  ? ", after a holder died" : "");
      return g_strdup_printf ("held by pid %d (%s)%s", (int) entry->owner_pid,
                              entry->owner_alive ? "alive" : "dead",
                              entry->consistency == PS_MUTEX_INCONSISTENT
                                ? ", after a holder died" : "");
    case PS_OBJECT_TYPE_SEMAPHORE:
      if (entry->max_value == G_MAXINT32)
        return g_strdup_printf ("value %u, unbounded", entry->value);
      return g_strdup_printf ("value %u, max %u", entry->value, entry->max_value);
    case PS_OBJECT_TYPE_COND:
      if (entry->waiters == 0)
        return g_strdup ("no waiters");
      return g_strdup_printf ("%u %s", entry->waiters, entry->waiters == 1 ? "waiter" : "waiters");
    case PS_OBJECT_TYPE_RW_LOCK:
      if (entry->consistency == PS_MUTEX_NOT_RECOVERABLE)
        return g_strdup ("not recoverable (a writer died and it was unlocked unrepaired)");
      if (entry->owner_pid != 0)
        return g_strdup_printf ("written by pid %d (%s), %u waiting writers", (int) entry->owner_pid,
                                entry->owner_alive ? "alive" : "dead", entry->writers_waiting);
      return g_strdup_printf ("%u readers, %u waiting writers", entry->readers,
                              entry->writers_waiting);
    case PS_OBJECT_TYPE_EVENT:
    case PS_OBJECT_TYPE_BARRIER:
      return ps_tool_describe_rendezvous (entry->info.type, &entry->rendezvous);
    case PS_OBJECT_TYPE_QUEUE:
      return ps_tool_describe_queue (&entry->queue);
    case PS_OBJECT_TYPE_SHARED_MEMORY:
      return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes of data", entry->data_size);
    default:
      g_assert_not_reached ();
    }
}

static char *
display_type (const Entry *entry)
{
  const char *type = type_name (entry);

  if (type == NULL)
    return g_strdup (entry->unreadable != NULL ? "?" : "-");
  if (entry->have_state && entry->info.type == PS_OBJECT_TYPE_MUTEX && entry->recursive)
    return g_strdup ("recursive-mutex");
  return g_strdup (type);
}

static void
add_member_string (JsonBuilder *builder,
                   const char  *key,
                   const char  *value)
{
  json_builder_set_member_name (builder, key);
  ps_tool_json_add_string (builder, value);
}

static void
add_member_int (JsonBuilder *builder,
                const char  *key,
                gint64       value)
{
  json_builder_add_int_value (json_builder_set_member_name (builder, key), value);
}

static void
add_member_bool (JsonBuilder *builder,
                 const char  *key,
                 gboolean     value)
{
  json_builder_add_boolean_value (json_builder_set_member_name (builder, key), value);
}

static void
add_member_null (JsonBuilder *builder,
                 const char  *key)
{
  json_builder_add_null_value (json_builder_set_member_name (builder, key));
}

static void
add_state (JsonBuilder *builder,
           const Entry *entry)
{
  json_builder_begin_object (builder);
  switch ((int) entry->info.type)
    {
    case PS_OBJECT_TYPE_MUTEX:
      add_member_bool (builder, "recursive", entry->recursive);
      add_member_bool (builder, "held", entry->owner_pid != 0);
      if (entry->other_namespace)
        add_member_bool (builder, "other_pid_namespace", TRUE);
      if (entry->owner_pid != 0 && entry->other_namespace)
        {
          add_member_int (builder, "owner_pid", entry->owner_pid);
          add_member_null (builder, "owner_alive");
        }
      else if (entry->owner_pid != 0)
        {
          add_member_int (builder, "owner_pid", entry->owner_pid);
          add_member_bool (builder, "owner_alive", entry->owner_alive);
        }
      else
        {
          add_member_null (builder, "owner_pid");
          add_member_null (builder, "owner_alive");
        }
      break;
    case PS_OBJECT_TYPE_SEMAPHORE:
      add_member_int (builder, "value", entry->value);
      add_member_int (builder, "max_value", entry->max_value);
      add_member_bool (builder, "bounded", entry->max_value != G_MAXINT32);
      break;
    case PS_OBJECT_TYPE_COND:
      add_member_int (builder, "waiters", entry->waiters);
      break;
    case PS_OBJECT_TYPE_RW_LOCK:
      add_member_int (builder, "readers", entry->readers);
      add_member_int (builder, "writers_waiting", entry->writers_waiting);
      if (entry->owner_pid != 0)
        add_member_int (builder, "writer_pid", entry->owner_pid);
      else
        add_member_null (builder, "writer_pid");
      add_member_bool (builder, "not_recoverable", entry->consistency == PS_MUTEX_NOT_RECOVERABLE);
      break;
    case PS_OBJECT_TYPE_EVENT:
    case PS_OBJECT_TYPE_BARRIER:
      ps_tool_json_add_rendezvous (builder, entry->info.type, &entry->rendezvous);
      break;
    case PS_OBJECT_TYPE_QUEUE:
      ps_tool_json_add_queue (builder, &entry->queue);
      break;
    case PS_OBJECT_TYPE_SHARED_MEMORY:
      add_member_int (builder, "size", (gint64) entry->data_size);
      break;
    default:
      g_assert_not_reached ();
    }
  json_builder_end_object (builder);
}

static char *
entry_to_json (const Entry *entry)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  const PsInspectInfo *info = &entry->info;
  gboolean ours_header = entry->unreadable == NULL && info->layout_version != 0;

  json_builder_begin_object (builder);

  add_member_string (builder, "name", entry->name);
  add_member_string (builder, "kind", kind_name (entry));
  add_member_string (builder, "type", type_name (entry));

  if (entry->have_metadata)
    {
      g_autofree char *user = ps_tool_user_name (info->uid);
      g_autofree char *group = group_name (info->gid);
      g_autofree char *mode = g_strdup_printf ("%04o", info->mode);

      add_member_int (builder, "file_size", (gint64) info->file_size);
      add_member_int (builder, "uid", info->uid);
      add_member_string (builder, "user", user);
      add_member_int (builder, "gid", info->gid);
      add_member_string (builder, "group", group);
      add_member_string (builder, "mode", mode);
    }
  else
    {
      add_member_null (builder, "file_size");
      add_member_null (builder, "uid");
      add_member_null (builder, "user");
      add_member_null (builder, "gid");
      add_member_null (builder, "group");
      add_member_null (builder, "mode");
    }

  if (ours_header)
    add_member_int (builder, "layout_version", info->layout_version);
  else
    add_member_null (builder, "layout_version");
  add_member_string (builder, "backend",
                     ours_header ? ps_inspect_backend_to_string (info->backend) : NULL);

  if (entry->unreadable != NULL)
    add_member_string (builder, "detail", entry->unreadable);
  else if (info->kind != PS_INSPECT_OBJECT)
    add_member_string (builder, "detail", info->detail);
  else
    add_member_string (builder, "detail", entry->state_error);

  json_builder_set_member_name (builder, "state");
  if (entry->have_state)
    add_state (builder, entry);
  else
    json_builder_add_null_value (builder);

  json_builder_end_object (builder);
  return ps_tool_json_to_string (builder);
}

/* list ----------------------------------------------------------------------- */

static int
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  const Entry *ea = *(const Entry * const *) a;
  const Entry *eb = *(const Entry * const *) b;

  return strcmp (ea->name, eb->name);
}

static void
print_table (GPtrArray *entries)
{
  const char *headings[] = { "NAME", "TYPE", "SIZE", "OWNER", "MODE", "STATE" };
  enum { N_COLUMNS = G_N_ELEMENTS (headings) };
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  gsize widths[N_COLUMNS] = { 0, };
  guint i, column;

  for (i = 0; i < entries->len; i++)
    {
      const Entry *entry = g_ptr_array_index (entries, i);
      char **row = g_new0 (char *, N_COLUMNS + 1);

      row[0] = ps_tool_escape_for_display (entry->name);
      row[1] = display_type (entry);
      if (entry->have_metadata)
        {
          g_autofree char *user = ps_tool_user_name (entry->info.uid);

          row[2] = g_strdup_printf ("%" G_GUINT64_FORMAT, entry->info.file_size);
          row[3] = user != NULL ? g_steal_pointer (&user) : g_strdup_printf ("%u", entry->info.uid);
          row[4] = g_strdup_printf ("%04o", entry->info.mode);
        }
      else
        {
          row[2] = g_strdup ("?");
          row[3] = g_strdup ("?");
          row[4] = g_strdup ("?");
        }
      row[5] = describe_state (entry);
      g_ptr_array_add (rows, row);
    }

  for (column = 0; column < N_COLUMNS; column++)
    {
      widths[column] = strlen (headings[column]);
      for (i = 0; i < rows->len; i++)
        {
          char **row = g_ptr_array_index (rows, i);

          widths[column] = MAX (widths[column], strlen (row[column]));
        }
    }

  /* The size column is right-aligned, the rest left-aligned; the last
   * column is not padded. */
  g_print ("%-*s  %-*s  %*s  %-*s  %-*s  %s\n",
           (int) widths[0], headings[0], (int) widths[1], headings[1],
           (int) widths[2], headings[2], (int) widths[3], headings[3],
           (int) widths[4], headings[4], headings[5]);
  for (i = 0; i < rows->len; i++)
    {
      char **row = g_ptr_array_index (rows, i);

      g_print ("%-*s  %-*s  %*s  %-*s  %-*s  %s\n",
               (int) widths[0], row[0], (int) widths[1], row[1],
               (int) widths[2], row[2], (int) widths[3], row[3],
               (int) widths[4], row[4], row[5]);
    }
}

int
ps_tool_list (int    argc,
              char **argv)
{
  gboolean all = FALSE;
  gboolean json = FALSE;
  char **rest = NULL;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all,
      "Also list files that are not procshared objects, or cannot be read", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array, for scripts", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GPtrArray) listed = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  g_auto(GStrv) rest_owned = NULL;
  struct dirent *dirent;
  DIR *dir;
  int dirfd;
  int status;

  context = ps_tool_option_context_new ("list", "",
                                        "List the named procshared objects in " PS_INSPECT_SHM_DIR
                                        ",\nwith their type, size, owner, mode and state.",
                                        entries);
  if (!ps_tool_parse_options (context, "list", &argc, &argv, &status))
    return status;
  rest_owned = rest;
  if (rest != NULL && rest[0] != NULL)
    return ps_tool_fail ("list", PS_TOOL_EXIT_USAGE, "unexpected argument “%s”", rest[0]);

  dirfd = open (PS_INSPECT_SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0 || (dir = fdopendir (dirfd)) == NULL)
    {
      int saved_errno = errno;

      if (dirfd >= 0)
        close (dirfd);
      return ps_tool_fail (PS_INSPECT_SHM_DIR,
                           saved_errno == EACCES ? PS_TOOL_EXIT_PERMISSION : PS_TOOL_EXIT_FAILED,
                           "%s", g_strerror (saved_errno));
    }

  /* readdir() ends at the end of the directory, which is finite. */
  while ((errno = 0, dirent = readdir (dir)) != NULL)
    {
      g_autoptr(GError) error = NULL;
      Entry *entry;

      if (strcmp (dirent->d_name, ".") == 0 || strcmp (dirent->d_name, "..") == 0)
        continue;

      entry = inspect (dirfd, dirent->d_name, &error);
      if (entry == NULL)
        continue;   /* removed since readdir() saw it */
      if (!all && !is_ours (entry))
        {
          entry_free (entry);
          continue;
        }
      g_ptr_array_add (listed, entry);
    }
  if (errno != 0)
    {
      int saved_errno = errno;

      closedir (dir);
      return ps_tool_fail (PS_INSPECT_SHM_DIR, PS_TOOL_EXIT_FAILED, "%s", g_strerror (saved_errno));
    }
  closedir (dir);

  g_ptr_array_sort (listed, compare_entries);

  if (json)
    {
      guint i;

      if (listed->len == 0)
        {
          g_print ("[]\n");
          return PS_TOOL_EXIT_OK;
        }
      g_print ("[\n");
      for (i = 0; i < listed->len; i++)
        {
          g_autofree char *line = entry_to_json (g_ptr_array_index (listed, i));

          g_print ("  %s%s\n", line, i + 1 < listed->len ? "," : "");
        }
      g_print ("]\n");
    }
  else if (listed->len > 0)
    {
      print_table (listed);
    }
  return PS_TOOL_EXIT_OK;
}

/* info ----------------------------------------------------------------------- */

static void
print_field (const char *key,
             const char *value)
{
  g_autofree char *label = g_strconcat (key, ":", NULL);

  g_print ("%-14s%s\n", label, value);
}

static void
print_fieldf (const char *key,
              const char *format,
              ...) G_GNUC_PRINTF (2, 3);

static void
print_fieldf (const char *key,
              const char *format,
              ...)
{
  g_autofree char *value = NULL;
  va_list args;

  va_start (args, format);
  value = g_strdup_vprintf (format, args);
  va_end (args);

  print_field (key, value);
}

static void
print_info (const Entry *entry)
{
  const PsInspectInfo *info = &entry->info;
  g_autofree char *name = ps_tool_escape_for_display (entry->name);
  g_autofree char *type = display_type (entry);
  g_autofree char *state = describe_state (entry);
  g_autofree char *owner = ps_tool_describe_owner (info->uid);
  g_autofree char *group = group_name (info->gid);
  const char *backend = ps_inspect_backend_to_string (info->backend);

  print_field ("name", name);
  print_field ("type", type);
  print_field ("state", state);

  switch ((int) info->type)
    {
    case PS_OBJECT_TYPE_MUTEX:
      print_field ("recursive", entry->recursive ? "yes" : "no");
      if (entry->owner_pid != 0 && entry->other_namespace)
        {
          print_fieldf ("holder pid", "%d (in its PID namespace)", (int) entry->owner_pid);
          print_field ("holder alive", "unknown (another PID namespace)");
        }
      else if (entry->owner_pid != 0)
        {
          print_fieldf ("holder pid", "%d", (int) entry->owner_pid);
          print_field ("holder alive", entry->owner_alive ? "yes" : "no");
        }
      break;
    case PS_OBJECT_TYPE_SEMAPHORE:
      print_fieldf ("value", "%u", entry->value);
      if (entry->max_value == G_MAXINT32)
        print_fieldf ("max value", "%u (unbounded)", entry->max_value);
      else
        print_fieldf ("max value", "%u", entry->max_value);
      break;
    case PS_OBJECT_TYPE_COND:
      print_fieldf ("waiters", "%u", entry->waiters);
      break;
    case PS_OBJECT_TYPE_RW_LOCK:
      print_fieldf ("readers", "%u", entry->readers);
      if (entry->owner_pid != 0)
        print_fieldf ("writer pid", "%d (%s)", (int) entry->owner_pid,
                      entry->owner_alive ? "alive" : "dead");
      else
        print_field ("writer pid", "none");
      print_fieldf ("waiting", "%u writers", entry->writers_waiting);
      break;
    case PS_OBJECT_TYPE_EVENT:
      print_field ("set", entry->rendezvous.is_set ? "yes" : "no");
      print_field ("auto-reset", entry->rendezvous.auto_reset ? "yes" : "no");
      break;
    case PS_OBJECT_TYPE_BARRIER:
      print_fieldf ("parties", "%u", entry->rendezvous.parties);
      print_fieldf ("waiting", "%u", entry->rendezvous.waiting);
      print_field ("broken", entry->rendezvous.broken ? "yes" : "no");
      break;
    case PS_OBJECT_TYPE_QUEUE:
      ps_tool_print_queue (print_field, &entry->queue);
      break;
    case PS_OBJECT_TYPE_SHARED_MEMORY:
      print_fieldf ("data size", "%" G_GUINT64_FORMAT, entry->data_size);
      break;
    default:
      g_assert_not_reached ();
    }

  print_fieldf ("file size", "%" G_GUINT64_FORMAT, info->file_size);
  print_field ("owner", owner);
  if (group != NULL)
    print_fieldf ("group", "%s (gid %u)", group, info->gid);
  else
    print_fieldf ("group", "gid %u", info->gid);
  print_fieldf ("mode", "%04o", info->mode);
  print_fieldf ("layout", "%u", info->layout_version);
  print_field ("backend", backend != NULL ? backend : "unknown");
}

int
ps_tool_info (int    argc,
              char **argv)
{
  gboolean json = FALSE;
  char **rest = NULL;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON object, for scripts", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Entry) entry = NULL;
  g_auto(GStrv) rest_owned = NULL;
  const char *name;
  int dirfd;
  int status;

  context = ps_tool_option_context_new ("info", "NAME",
                                        "Show the full state of the named object NAME.", entries);
  if (!ps_tool_parse_options (context, "info", &argc, &argv, &status))
    return status;
  rest_owned = rest;
  if (rest == NULL || rest[0] == NULL)
    return ps_tool_fail ("info", PS_TOOL_EXIT_USAGE, "missing NAME (see procshared info --help)");
  if (rest[1] != NULL)
    return ps_tool_fail ("info", PS_TOOL_EXIT_USAGE, "unexpected argument “%s”", rest[1]);
  name = rest[0];

  if (!ps_name_validate (name, &error))
    return ps_tool_fail_error (name, error);

  dirfd = open (PS_INSPECT_SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    {
      int saved_errno = errno;

      return ps_tool_fail (PS_INSPECT_SHM_DIR,
                           saved_errno == EACCES ? PS_TOOL_EXIT_PERMISSION : PS_TOOL_EXIT_FAILED,
                           "%s", g_strerror (saved_errno));
    }
  entry = inspect (dirfd, name + 1, &error);
  close (dirfd);

  if (entry == NULL)
    return ps_tool_fail_error (name, error);
  if (entry->unreadable != NULL)
    return ps_tool_fail (name, entry->unreadable_status, "%s", entry->unreadable);
  if (entry->info.kind != PS_INSPECT_OBJECT)
    return ps_tool_fail (name, PS_TOOL_EXIT_NOT_USABLE, "%s: %s",
                         ps_inspect_kind_to_string (entry->info.kind), entry->info.detail);
  if (!entry->have_state)
    return ps_tool_fail (name, entry->state_error_status, "%s", entry->state_error);

  if (json)
    {
      g_autofree char *line = entry_to_json (entry);

      g_print ("%s\n", line);
    }
  else
    {
      print_info (entry);
    }
  return PS_TOOL_EXIT_OK;
}
