/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* procshared create and procshared unlink. */

#include "ps-tool.h"

static const struct
{
  const char  *name;
  PsObjectType type;
  gboolean     recursive;
} create_types[] = {
  { "mutex",           PS_OBJECT_TYPE_MUTEX,         FALSE },
  { "recursive-mutex", PS_OBJECT_TYPE_MUTEX,         TRUE },
  { "semaphore",       PS_OBJECT_TYPE_SEMAPHORE,     FALSE },
  { "cond",            PS_OBJECT_TYPE_COND,          FALSE },
  { "rwlock",          PS_OBJECT_TYPE_RW_LOCK,       FALSE },
  { "event",           PS_OBJECT_TYPE_EVENT,         FALSE },
  { "barrier",         PS_OBJECT_TYPE_BARRIER,       FALSE },
  { "queue",           PS_OBJECT_TYPE_QUEUE,         FALSE },
  { "shm",             PS_OBJECT_TYPE_SHARED_MEMORY, FALSE },
};

int
ps_tool_create (int    argc,
                char **argv)
{
  g_autofree char *value_text = NULL;
  g_autofree char *max_text = NULL;
  g_autofree char *size_text = NULL;
  g_autofree char *mode_text = NULL;
  g_autofree char *parties_text = NULL;
  g_autofree char *capacity_text = NULL;
  g_autofree char *message_size_text = NULL;
  guint64 capacity = 0;
  guint64 message_size = 0;
  gboolean auto_reset = FALSE;
  guint64 parties = 0;
  char **rest = NULL;
  const GOptionEntry entries[] = {
    { "value", 0, 0, G_OPTION_ARG_STRING, &value_text,
      "semaphore: the initial value (default 0)", "N" },
    { "max", 0, 0, G_OPTION_ARG_STRING, &max_text,
      "semaphore: the largest value a release may reach (default: unbounded)", "N" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &size_text,
      "shm: the size of the data in bytes, with an optional K, M, G or T suffix (required)", "N" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode_text,
      "The permission bits, in octal (default 0600)", "MODE" },
    { "parties", 0, 0, G_OPTION_ARG_STRING, &parties_text,
      "barrier: how many parties each round waits for (required)", "N" },
    { "auto-reset", 0, 0, G_OPTION_ARG_NONE, &auto_reset,
      "event: let one waiter through per set, and clear (default: manual-reset)", NULL },
    { "capacity", 0, 0, G_OPTION_ARG_STRING, &capacity_text,
      "queue: how many messages it holds, from 1 to 65536 (required)", "N" },
    { "message-size", 0, 0, G_OPTION_ARG_STRING, &message_size_text,
      "queue: the longest message in bytes, with an optional K or M suffix (required)", "BYTES" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) object = NULL;
  g_auto(GStrv) rest_owned = NULL;
  PsOpenFlags flags = PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE;
  guint64 value = 0;
  guint64 max_value = G_MAXINT32;
  guint64 size = 0;
  guint mode = 0600;
  const char *type_text;
  const char *name;
  gboolean recursive = FALSE;
  PsObjectType type = 0;
  guint i;
  int status;

  context = ps_tool_option_context_new ("create", "TYPE NAME",
                                        "Create the named object NAME, which must not exist yet.\n"
                                        "TYPE is one of mutex, recursive-mutex, semaphore, cond, rwlock,\n"
                                        "shm, event, barrier, queue.",
                                        entries);
  if (!ps_tool_parse_options (context, "create", &argc, &argv, &status))
    return status;
  rest_owned = rest;
  if (rest == NULL || rest[0] == NULL)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "missing TYPE and NAME (see procshared create --help)");
  if (rest[1] == NULL)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "missing NAME (see procshared create --help)");
  if (rest[2] != NULL)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "unexpected argument “%s”", rest[2]);
  type_text = rest[0];
  name = rest[1];

  for (i = 0; i < G_N_ELEMENTS (create_types); i++)
    {
      if (g_str_equal (type_text, create_types[i].name))
        {
          type = create_types[i].type;
          recursive = create_types[i].recursive;
        }
    }
  if (type == 0)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE,
                         "unknown type “%s”: use mutex, recursive-mutex, semaphore, cond, rwlock, "
                         "shm, event, barrier or queue",
                         type_text);

  if (type != PS_OBJECT_TYPE_SEMAPHORE && (value_text != NULL || max_text != NULL))
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "%s applies to semaphores only",
                         value_text != NULL ? "--value" : "--max");
  if (type != PS_OBJECT_TYPE_SHARED_MEMORY && size_text != NULL)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "--size applies to shm only");
  if (type == PS_OBJECT_TYPE_SHARED_MEMORY && size_text == NULL)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "shm needs --size");
  if (type != PS_OBJECT_TYPE_BARRIER && parties_text != NULL)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "--parties applies to barriers only");
  if (type == PS_OBJECT_TYPE_BARRIER && parties_text == NULL)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "barrier needs --parties");
  if (type != PS_OBJECT_TYPE_EVENT && auto_reset)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "--auto-reset applies to events only");
  if (parties_text != NULL &&
      (!ps_tool_parse_uint ("--parties", parties_text, PS_BARRIER_MAX_PARTIES, &parties, &error) ||
       parties == 0))
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "%s",
                         error != NULL ? error->message : "--parties: a barrier has at least 1 party");

  if (type != PS_OBJECT_TYPE_QUEUE && (capacity_text != NULL || message_size_text != NULL))
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "%s applies to queues only",
                         capacity_text != NULL ? "--capacity" : "--message-size");
  if (type == PS_OBJECT_TYPE_QUEUE && (capacity_text == NULL || message_size_text == NULL))
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "queue needs --capacity and --message-size");
  if (capacity_text != NULL &&
      (!ps_tool_parse_uint ("--capacity", capacity_text, 65536, &capacity, &error) ||
       capacity == 0))
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "%s",
                         error != NULL ? error->message : "--capacity: a queue holds at least 1 message");
  if (message_size_text != NULL &&
      !ps_tool_parse_size ("--message-size", message_size_text, &message_size, &error))
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "%s", error->message);

  if ((value_text != NULL && !ps_tool_parse_uint ("--value", value_text, G_MAXINT32, &value, &error)) ||
      (max_text != NULL && !ps_tool_parse_uint ("--max", max_text, G_MAXINT32, &max_value, &error)) ||
      (size_text != NULL && !ps_tool_parse_size ("--size", size_text, &size, &error)) ||
      (mode_text != NULL && !ps_tool_parse_mode ("--mode", mode_text, &mode, &error)))
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "%s", error->message);
  if (max_text != NULL && max_value == 0)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE, "--max: the maximum must be at least 1");
  if (value > max_value)
    return ps_tool_fail ("create", PS_TOOL_EXIT_USAGE,
                         "--value: %" G_GUINT64_FORMAT " is larger than --max %" G_GUINT64_FORMAT,
                         value, max_value);

  if (!ps_name_validate (name, &error))
    return ps_tool_fail_error (name, error);

  switch ((int) type)
    {
    case PS_OBJECT_TYPE_MUTEX:
      object = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                               "name", name, "open-flags", flags, "mode", mode,
                               "recursive", recursive, NULL);
      break;
    case PS_OBJECT_TYPE_SEMAPHORE:
      object = g_initable_new (PS_TYPE_SEMAPHORE, NULL, &error,
                               "name", name, "open-flags", flags, "mode", mode,
                               "initial-value", (guint) value, "max-value", (guint) max_value,
                               NULL);
      break;
    case PS_OBJECT_TYPE_COND:
      object = g_initable_new (PS_TYPE_COND, NULL, &error,
                               "name", name, "open-flags", flags, "mode", mode, NULL);
      break;
    case PS_OBJECT_TYPE_RW_LOCK:
      object = g_initable_new (PS_TYPE_RW_LOCK, NULL, &error,
                               "name", name, "open-flags", flags, "mode", mode, NULL);
      break;
    case PS_OBJECT_TYPE_EVENT:
      object = g_initable_new (PS_TYPE_EVENT, NULL, &error,
                               "name", name, "open-flags", flags, "mode", mode,
                               "auto-reset", auto_reset, NULL);
      break;
    case PS_OBJECT_TYPE_BARRIER:
      object = g_initable_new (PS_TYPE_BARRIER, NULL, &error,
                               "name", name, "open-flags", flags, "mode", mode,
                               "parties", (guint) parties, NULL);
      break;
    case PS_OBJECT_TYPE_QUEUE:
      object = g_initable_new (PS_TYPE_QUEUE, NULL, &error,
                               "name", name, "open-flags", flags, "mode", mode,
                               "capacity", (guint) capacity,
                               "max-message-size", (guint64) message_size, NULL);
      break;
    case PS_OBJECT_TYPE_SHARED_MEMORY:
      object = g_initable_new (PS_TYPE_SHARED_MEMORY, NULL, &error,
                               "name", name, "open-flags", flags, "mode", mode,
                               "size", size, NULL);
      break;
    default:
      g_assert_not_reached ();
    }

  if (object == NULL)
    return ps_tool_fail_error (name, error);
  return PS_TOOL_EXIT_OK;
}

static int
unlink_one (const char *name,
            gboolean    force)
{
  g_autoptr(GError) error = NULL;
  PsInspectInfo info;
  gboolean ours;

  if (!ps_inspect_name (name, &info, &error))
    {
      if (!force || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
            return ps_tool_fail (name, PS_TOOL_EXIT_PERMISSION,
                                 "permission denied: cannot tell whether it is a procshared "
                                 "object (not removed; --force removes it anyway)");
          return ps_tool_fail_error (name, error);
        }
      g_clear_error (&error);
    }
  else
    {
      /* Anything with our magic goes, stale or half-made ones first of
       * all; what might be someone else's file needs --force. */
      ours = info.kind != PS_INSPECT_FOREIGN && info.kind != PS_INSPECT_BLANK;
      if (!ours && !force)
        {
          int status = ps_tool_fail (name, PS_TOOL_EXIT_NOT_USABLE,
                                     "%s: %s (not removed; --force removes it anyway)",
                                     ps_inspect_kind_to_string (info.kind), info.detail);

          ps_inspect_info_clear (&info);
          return status;
        }
      ps_inspect_info_clear (&info);
    }

  if (!ps_unlink (name, &error))
    return ps_tool_fail_error (name, error);
  return PS_TOOL_EXIT_OK;
}

int
ps_tool_unlink (int    argc,
                char **argv)
{
  gboolean force = FALSE;
  char **rest = NULL;
  const GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      "Also remove files that are not procshared objects, or cannot be read", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_auto(GStrv) rest_owned = NULL;
  int first_failure = PS_TOOL_EXIT_OK;
  int status;
  guint i;

  context = ps_tool_option_context_new ("unlink", "NAME…",
                                        "Remove the named objects. Processes that have one open keep\n"
                                        "using it; later opens no longer find it. Every NAME is tried;\n"
                                        "the exit status is that of the first failure.",
                                        entries);
  if (!ps_tool_parse_options (context, "unlink", &argc, &argv, &status))
    return status;
  rest_owned = rest;
  if (rest == NULL || rest[0] == NULL)
    return ps_tool_fail ("unlink", PS_TOOL_EXIT_USAGE, "missing NAME (see procshared unlink --help)");

  for (i = 0; rest[i] != NULL; i++)
    {
      status = unlink_one (rest[i], force);
      if (status != PS_TOOL_EXIT_OK && first_failure == PS_TOOL_EXIT_OK)
        first_failure = status;
    }
  return first_failure;
}
