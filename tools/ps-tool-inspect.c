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
  PsToolObjectState state;
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

static void
read_state (Entry *entry)
{
  g_autoptr(GError) error = NULL;

  if (!ps_tool_read_object_state (entry->name, entry->info.type, &entry->state, &error))
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

  return ps_tool_describe_object_state (entry->info.type, &entry->state);
}

static char *
display_type (const Entry *entry)
{
  const char *type = type_name (entry);

  if (type == NULL)
    return g_strdup (entry->unreadable != NULL ? "?" : "-");
  if (entry->have_state && entry->info.type == PS_OBJECT_TYPE_MUTEX && entry->state.recursive)
    return g_strdup ("recursive-mutex");
  return g_strdup (type);
}

static char *
entry_to_json (const Entry *entry)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  const PsInspectInfo *info = &entry->info;
  gboolean ours_header = entry->unreadable == NULL && info->layout_version != 0;

  json_builder_begin_object (builder);

  ps_tool_json_add_member_string (builder, "name", entry->name);
  ps_tool_json_add_member_string (builder, "kind", kind_name (entry));
  ps_tool_json_add_member_string (builder, "type", type_name (entry));

  if (entry->have_metadata)
    {
      g_autofree char *user = ps_tool_user_name (info->uid);
      g_autofree char *group = group_name (info->gid);
      g_autofree char *mode = g_strdup_printf ("%04o", info->mode);

      ps_tool_json_add_member_int (builder, "file_size", (gint64) info->file_size);
      ps_tool_json_add_member_int (builder, "uid", info->uid);
      ps_tool_json_add_member_string (builder, "user", user);
      ps_tool_json_add_member_int (builder, "gid", info->gid);
      ps_tool_json_add_member_string (builder, "group", group);
      ps_tool_json_add_member_string (builder, "mode", mode);
    }
  else
    {
      ps_tool_json_add_member_null (builder, "file_size");
      ps_tool_json_add_member_null (builder, "uid");
      ps_tool_json_add_member_null (builder, "user");
      ps_tool_json_add_member_null (builder, "gid");
      ps_tool_json_add_member_null (builder, "group");
      ps_tool_json_add_member_null (builder, "mode");
    }

  if (ours_header)
    ps_tool_json_add_member_int (builder, "layout_version", info->layout_version);
  else
    ps_tool_json_add_member_null (builder, "layout_version");
  ps_tool_json_add_member_string (builder, "backend",
                                  ours_header ? ps_inspect_backend_to_string (info->backend) : NULL);

  if (entry->unreadable != NULL)
    ps_tool_json_add_member_string (builder, "detail", entry->unreadable);
  else if (info->kind != PS_INSPECT_OBJECT)
    ps_tool_json_add_member_string (builder, "detail", info->detail);
  else
    ps_tool_json_add_member_string (builder, "detail", entry->state_error);

  json_builder_set_member_name (builder, "state");
  if (entry->have_state)
    ps_tool_json_add_object_state (builder, entry->info.type, &entry->state);
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
print_info (const Entry *entry)
{
  const PsInspectInfo *info = &entry->info;
  g_autofree char *name = ps_tool_escape_for_display (entry->name);
  g_autofree char *type = display_type (entry);
  g_autofree char *state = describe_state (entry);
  g_autofree char *owner = ps_tool_describe_owner (info->uid);
  g_autofree char *group = group_name (info->gid);
  const char *backend = ps_inspect_backend_to_string (info->backend);

  ps_tool_print_field ("name", name);
  ps_tool_print_field ("type", type);
  ps_tool_print_field ("state", state);

  ps_tool_print_object_state (info->type, &entry->state);

  ps_tool_print_fieldf ("file size", "%" G_GUINT64_FORMAT, info->file_size);
  ps_tool_print_field ("owner", owner);
  if (group != NULL)
    ps_tool_print_fieldf ("group", "%s (gid %u)", group, info->gid);
  else
    ps_tool_print_fieldf ("group", "gid %u", info->gid);
  ps_tool_print_fieldf ("mode", "%04o", info->mode);
  ps_tool_print_fieldf ("layout", "%u", info->layout_version);
  ps_tool_print_field ("backend", backend != NULL ? backend : "unknown");
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
