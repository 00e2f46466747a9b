/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* procshared event and procshared barrier, and what list and info show of
 * events and barriers. */

#include "ps-tool.h"

gboolean
ps_tool_read_rendezvous (const char           *name,
                         PsObjectType          type,
                         PsToolRendezvousState *state,
                         GError              **error)
{
  if (type == PS_OBJECT_TYPE_EVENT)
    {
      g_autoptr(PsEvent) event = ps_event_open (name, PS_OPEN_ANY_OWNER, FALSE, error);

      if (event == NULL)
        return FALSE;
      state->is_set = ps_event_is_set (event);
      state->auto_reset = ps_event_get_auto_reset (event);
    }
  else
    {
      g_autoptr(PsBarrier) barrier = ps_barrier_open (name, PS_OPEN_ANY_OWNER, 0, error);

      if (barrier == NULL)
        return FALSE;
      state->parties = ps_barrier_get_parties (barrier);
      state->waiting = ps_barrier_get_n_waiting (barrier);
      state->broken = ps_barrier_is_broken (barrier);
    }
  return TRUE;
}

char *
ps_tool_describe_rendezvous (PsObjectType                 type,
                             const PsToolRendezvousState *state)
{
  if (type == PS_OBJECT_TYPE_EVENT)
    return g_strdup_printf ("%s, %s", state->is_set ? "set" : "not set",
                            state->auto_reset ? "auto-reset" : "manual-reset");
  if (state->broken)
    return g_strdup_printf ("broken, %u parties", state->parties);
  return g_strdup_printf ("%u of %u parties waiting", state->waiting, state->parties);
}

void
ps_tool_json_add_rendezvous (JsonBuilder                 *builder,
                             PsObjectType                 type,
                             const PsToolRendezvousState *state)
{
  if (type == PS_OBJECT_TYPE_EVENT)
    {
      json_builder_add_boolean_value (json_builder_set_member_name (builder, "set"),
                                      state->is_set);
      json_builder_add_boolean_value (json_builder_set_member_name (builder, "auto_reset"),
                                      state->auto_reset);
      return;
    }
  json_builder_add_int_value (json_builder_set_member_name (builder, "parties"), state->parties);
  json_builder_add_int_value (json_builder_set_member_name (builder, "waiting"), state->waiting);
  json_builder_add_boolean_value (json_builder_set_member_name (builder, "broken"), state->broken);
}

static int
fail_interrupted (const char *name,
                  int         signum,
                  const char *what)
{
  return ps_tool_fail (name, PS_TOOL_EXIT_SIGNAL_BASE + signum,
                       "interrupted by signal %d (%s) while waiting at the %s",
                       signum, g_strsignal (signum), what);
}

/* The options and arguments both commands share: ACTION NAME, --timeout,
 * --any-owner. */
typedef struct
{
  const char *command;
  const char *action;
  const char *name;
  gint64      timeout_us;
  PsOpenFlags flags;
} Request;

static gboolean
parse_request (const char   *command,
               const char   *actions,
               const char   *summary,
               int          *argc,
               char       ***argv,
               Request      *request,
               int          *out_status)
{
  g_autofree char *timeout_text = NULL;
  g_autofree char *parameters = g_strdup_printf ("%s NAME", actions);
  gboolean any_owner = FALSE;
  char **rest = NULL;
  const GOptionEntry entries[] = {
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &timeout_text,
      "wait: give up after S seconds (default: wait as long as it takes)", "S" },
    { "any-owner", 0, 0, G_OPTION_ARG_NONE, &any_owner,
      "Also open an object that another user (not root) owns: sharing it on purpose", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) rest_owned = NULL;

  context = ps_tool_option_context_new (command, parameters, summary, entries);
  if (!ps_tool_parse_options (context, command, argc, argv, out_status))
    return FALSE;
  rest_owned = rest;
  *out_status = PS_TOOL_EXIT_USAGE;
  if (rest == NULL || rest[0] == NULL || rest[1] == NULL)
    {
      ps_tool_fail (command, PS_TOOL_EXIT_USAGE, "missing %s (see procshared %s --help)",
                    rest == NULL || rest[0] == NULL ? parameters : "NAME", command);
      return FALSE;
    }
  if (rest[2] != NULL)
    {
      ps_tool_fail (command, PS_TOOL_EXIT_USAGE, "unexpected argument “%s”", rest[2]);
      return FALSE;
    }
  request->command = command;
  request->action = g_intern_string (rest[0]);
  request->name = g_intern_string (rest[1]);
  request->timeout_us = PS_TIMEOUT_INFINITE;
  request->flags = any_owner ? PS_OPEN_ANY_OWNER : PS_OPEN_NONE;
  if (timeout_text != NULL &&
      !ps_tool_parse_timeout ("--timeout", timeout_text, &request->timeout_us, &error))
    {
      ps_tool_fail (command, PS_TOOL_EXIT_USAGE, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

int
ps_tool_event (int    argc,
               char **argv)
{
  g_autoptr(PsEvent) event = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GError) error = NULL;
  PsToolSignals *signals;
  Request request;
  gboolean set;
  int signum;
  int status;

  if (!parse_request ("event", "set|reset|wait",
                      "Set or reset the named event NAME, or wait until it is set\n"
                      "(an auto-reset event: until a set lets this wait through).",
                      &argc, &argv, &request, &status))
    return status;
  if (!g_str_equal (request.action, "set") && !g_str_equal (request.action, "reset") &&
      !g_str_equal (request.action, "wait"))
    return ps_tool_fail ("event", PS_TOOL_EXIT_USAGE,
                         "unknown action “%s”: use set, reset or wait", request.action);

  if (!ps_tool_check_before_open (request.name, PS_OBJECT_TYPE_EVENT, request.flags, &status))
    return status;
  event = ps_event_open (request.name, request.flags, FALSE, &error);
  if (event == NULL)
    return ps_tool_fail_error (request.name, error);

  if (g_str_equal (request.action, "set"))
    ps_event_set (event);
  else if (g_str_equal (request.action, "reset"))
    ps_event_reset (event);
  if (!g_str_equal (request.action, "wait"))
    return PS_TOOL_EXIT_OK;

  cancellable = g_cancellable_new ();
  signals = ps_tool_signals_start (cancellable);
  set = ps_event_wait (event, request.timeout_us, cancellable, &error);
  signum = ps_tool_signals_get_received (signals);
  ps_tool_signals_stop (signals);

  if (set)
    return PS_TOOL_EXIT_OK;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && signum != 0)
    return fail_interrupted (request.name, signum, "event");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return ps_tool_fail (request.name, PS_TOOL_EXIT_TIMED_OUT, "timed out: the event is not set");
  return ps_tool_fail_error (request.name, error);
}

int
ps_tool_barrier (int    argc,
                 char **argv)
{
  g_autoptr(PsBarrier) barrier = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GError) error = NULL;
  PsToolSignals *signals;
  Request request;
  gint index;
  int signum;
  int status;

  if (!parse_request ("barrier", "wait|reset|abort",
                      "wait: wait at the named barrier NAME as one of its parties, until\n"
                      "all have arrived, and print this party's arrival index (0 for the\n"
                      "first); a timeout or an interruption breaks the barrier for every\n"
                      "party. reset: break the parties waiting and make a broken barrier\n"
                      "work again. abort: break it.",
                      &argc, &argv, &request, &status))
    return status;
  if (!g_str_equal (request.action, "wait") && !g_str_equal (request.action, "reset") &&
      !g_str_equal (request.action, "abort"))
    return ps_tool_fail ("barrier", PS_TOOL_EXIT_USAGE,
                         "unknown action “%s”: use wait, reset or abort", request.action);

  if (!ps_tool_check_before_open (request.name, PS_OBJECT_TYPE_BARRIER, request.flags, &status))
    return status;
  barrier = ps_barrier_open (request.name, request.flags, 0, &error);
  if (barrier == NULL)
    return ps_tool_fail_error (request.name, error);

  if (g_str_equal (request.action, "abort"))
    ps_barrier_abort (barrier);
  if (g_str_equal (request.action, "reset") && !ps_barrier_reset (barrier, &error))
    return ps_tool_fail_error (request.name, error);
  if (!g_str_equal (request.action, "wait"))
    return PS_TOOL_EXIT_OK;

  cancellable = g_cancellable_new ();
  signals = ps_tool_signals_start (cancellable);
  index = ps_barrier_wait (barrier, request.timeout_us, cancellable, &error);
  signum = ps_tool_signals_get_received (signals);
  ps_tool_signals_stop (signals);

  if (index >= 0)
    {
      g_print ("%d\n", index);
      return PS_TOOL_EXIT_OK;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && signum != 0)
    return fail_interrupted (request.name, signum, "barrier");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return ps_tool_fail (request.name, PS_TOOL_EXIT_TIMED_OUT,
                         "timed out: not every party arrived; the barrier is now broken");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return ps_tool_fail (request.name, PS_TOOL_EXIT_TIMED_OUT,
                         "not the last party: did not wait (--timeout 0)");
  return ps_tool_fail_error (request.name, error);
}
