/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * procshared: inspect, script and clean up named procshared objects from
 * the shell. One subcommand per task, each with its own options and
 * --help; see procshared(1).
 */

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "ps-backend-private.h"
#include "ps-tool.h"

static const struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "list",    ps_tool_list,    "List the named objects, with their state" },
  { "info",    ps_tool_info,    "Show the full state of one object" },
  { "create",  ps_tool_create,  "Create a mutex, recursive mutex, semaphore, condition or segment" },
  { "unlink",  ps_tool_unlink,  "Remove named objects" },
  { "lock",    ps_tool_lock,    "Run a command while holding a named mutex" },
  { "acquire", ps_tool_acquire, "Take one unit of a named semaphore" },
  { "release", ps_tool_release, "Give one unit back to a named semaphore" },
  { "event",   ps_tool_event,   "Set, reset or wait for a named event" },
  { "barrier", ps_tool_barrier, "Wait at a named barrier as one of its parties" },
  { "send",    ps_tool_send,    "Send a message to a named queue" },
  { "receive", ps_tool_receive, "Receive a message from a named queue, to standard output" },
};

static void
print_usage (FILE *stream)
{
  guint i;

  fprintf (stream,
           "Usage:\n"
           "  procshared COMMAND [OPTION…] [ARGUMENT…]\n"
           "\n"
           "Inspect, script and clean up named procshared objects (in %s).\n"
           "\n"
           "Commands:\n", PS_INSPECT_SHM_DIR);
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (stream, "  %-9s%s\n", commands[i].name, commands[i].summary);
  fprintf (stream,
           "\n"
           "Run “procshared COMMAND --help” for the options of a command.\n"
           "Names look like “/my-app.lock”: a “/”, then 1 to %d of A-Z a-z 0-9 . _ -\n"
           "\n"
           "%s", PS_NAME_MAX_LENGTH, ps_tool_exit_status_help);
}

int
main (int    argc,
      char **argv)
{
  const char *command;
  guint i;

  setlocale (LC_ALL, "");

  if (argc < 2)
    {
      print_usage (stderr);
      return PS_TOOL_EXIT_USAGE;
    }

  command = argv[1];
  if (g_str_equal (command, "--help") || g_str_equal (command, "-h") ||
      g_str_equal (command, "help"))
    {
      /* "help COMMAND" is "COMMAND --help". */
      if (g_str_equal (command, "help") && argc > 2)
        {
          for (i = 0; i < G_N_ELEMENTS (commands); i++)
            {
              if (g_str_equal (argv[2], commands[i].name))
                {
                  char *help_argv[] = { argv[2], (char *) "--help", NULL };

                  return commands[i].run (2, help_argv);
                }
            }
          return ps_tool_fail ("help", PS_TOOL_EXIT_USAGE, "unknown command “%s”", argv[2]);
        }
      print_usage (stdout);
      return PS_TOOL_EXIT_OK;
    }
  if (g_str_equal (command, "--version"))
    {
      g_print ("procshared %s (backend %s)\n", PS_VERSION_S,
               ps_inspect_backend_to_string (PS_BACKEND_ID));
      return PS_TOOL_EXIT_OK;
    }

  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (g_str_equal (command, commands[i].name))
        return commands[i].run (argc - 1, argv + 1);
    }

  {
    g_autofree char *display = ps_tool_escape_for_display (command);

    return ps_tool_fail (NULL, PS_TOOL_EXIT_USAGE,
                         "unknown command “%s” (see procshared --help)", display);
  }
}
