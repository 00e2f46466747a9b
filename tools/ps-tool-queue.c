/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* procshared send and procshared receive, and what list and info show of
 * message queues: a named queue used from the shell as a FIFO would be. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ps-tool.h"
#include "ps-queue-private.h"

gboolean
ps_tool_read_queue (const char        *name,
                    PsToolQueueState  *state,
                    GError           **error)
{
  /* Capacity and size are only used when creating, which this never does. */
  g_autoptr(PsQueue) queue = ps_queue_open (name, PS_OPEN_ANY_OWNER, 1, 1, error);
  PsQueueInfo info;
  gsize state_size;

  if (queue == NULL)
    return FALSE;
  if (!ps_queue_state_measure (ps_queue_get_capacity (queue),
                               ps_queue_get_max_message_size (queue), &state_size))
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT, "not the state of a queue");
      return FALSE;
    }
  if (!ps_queue_state_inspect (ps_queue_get_handle (queue)->state, state_size, &info, error))
    return FALSE;
  state->length = info.length;
  state->capacity = info.capacity;
  state->max_message_size = info.max_message_size;
  state->senders_waiting = info.senders_waiting;
  state->receivers_waiting = info.receivers_waiting;
  state->slots_writing = info.n_writing;
  state->slots_reading = info.n_reading;
  return TRUE;
}

char *
ps_tool_describe_queue (const PsToolQueueState *state)
{
  GString *text = g_string_new (NULL);

  g_string_append_printf (text, "%u of %u messages of up to %" G_GUINT64_FORMAT " bytes",
                          state->length, state->capacity, state->max_message_size);
  if (state->senders_waiting != 0)
    g_string_append_printf (text, ", %u waiting %s", state->senders_waiting,
                            state->senders_waiting == 1 ? "sender" : "senders");
  if (state->receivers_waiting != 0)
    g_string_append_printf (text, ", %u waiting %s", state->receivers_waiting,
                            state->receivers_waiting == 1 ? "receiver" : "receivers");
  return g_string_free (text, FALSE);
}

void
ps_tool_print_queue (void (*print_field) (const char *key, const char *value),
                     const PsToolQueueState *state)
{
  g_autofree char *length = g_strdup_printf ("%u", state->length);
  g_autofree char *capacity = g_strdup_printf ("%u", state->capacity);
  g_autofree char *max_size = g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", state->max_message_size);
  g_autofree char *waiting = g_strdup_printf ("%u senders, %u receivers",
                                              state->senders_waiting, state->receivers_waiting);
  g_autofree char *busy = g_strdup_printf ("%u being written, %u being read",
                                           state->slots_writing, state->slots_reading);

  print_field ("length", length);
  print_field ("capacity", capacity);
  print_field ("max size", max_size);
  print_field ("waiting", waiting);
  print_field ("busy slots", busy);
}

void
ps_tool_json_add_queue (JsonBuilder            *builder,
                        const PsToolQueueState *state)
{
  const struct
  {
    const char *key;
    gint64      value;
  } members[] = {
    { "length", state->length },
    { "capacity", state->capacity },
    { "max_message_size", (gint64) state->max_message_size },
    { "senders_waiting", state->senders_waiting },
    { "receivers_waiting", state->receivers_waiting },
    { "slots_writing", state->slots_writing },
    { "slots_reading", state->slots_reading },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (members); i++)
    json_builder_add_int_value (json_builder_set_member_name (builder, members[i].key),
                                members[i].value);
}

/* send and receive ------------------------------------------------------- */

/* Everything both commands share once parsed: the queue, open, and the
 * way a wait ends. */
typedef struct
{
  const char *command;
  const char *name;
  gint64      timeout_us;
  PsOpenFlags flags;
} Request;

static gboolean
check_arguments (const char  *command,
                 const char  *parameters,
                 char       **rest,
                 guint        max_arguments,
                 int         *out_status)
{
  *out_status = PS_TOOL_EXIT_USAGE;
  if (rest == NULL || rest[0] == NULL)
    {
      ps_tool_fail (command, PS_TOOL_EXIT_USAGE, "missing %s (see procshared %s --help)",
                    parameters, command);
      return FALSE;
    }
  if (g_strv_length (rest) > max_arguments)
    {
      ps_tool_fail (command, PS_TOOL_EXIT_USAGE, "unexpected argument “%s”",
                    rest[max_arguments]);
      return FALSE;
    }
  return TRUE;
}

static PsQueue *
open_queue (const Request *request,
            int           *out_status)
{
  g_autoptr(GError) error = NULL;
  PsQueue *queue;

  if (!ps_tool_check_before_open (request->name, PS_OBJECT_TYPE_QUEUE, request->flags,
                                  out_status))
    return NULL;
  /* Capacity and size are only used when creating, which this never does. */
  queue = ps_queue_open (request->name, request->flags, 1, 1, &error);
  if (queue == NULL)
    *out_status = ps_tool_fail_error (request->name, error);
  return queue;
}

/* Why a send or receive did not happen, as a status. */
static int
fail_wait (const Request *request,
           const GError  *error,
           int            signum,
           const char    *full_or_empty)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && signum != 0)
    return ps_tool_fail (request->name, PS_TOOL_EXIT_SIGNAL_BASE + signum,
                         "interrupted by signal %d (%s) while waiting: nothing %s",
                         signum, g_strsignal (signum),
                         g_str_equal (request->command, "send") ? "sent" : "received");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return ps_tool_fail (request->name, PS_TOOL_EXIT_TIMED_OUT, "the queue is %s (--timeout 0)",
                         full_or_empty);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return ps_tool_fail (request->name, PS_TOOL_EXIT_TIMED_OUT, "timed out: the queue is %s",
                         full_or_empty);
  return ps_tool_fail_error (request->name, error);
}

/* All of standard input, up to @limit bytes; more is TOO_LARGE. */
static GBytes *
read_stdin (const Request *request,
            gsize          limit,
            int           *out_status)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 buffer[65536];

  for (;;)
    {
      gssize n = read (STDIN_FILENO, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          *out_status = ps_tool_fail (request->name, PS_TOOL_EXIT_FAILED,
                                      "cannot read the message from standard input: %s",
                                      g_strerror (saved_errno));
          return NULL;
        }
      if (n == 0)
        break;
      if ((gsize) n > limit - data->len)
        {
          *out_status = ps_tool_fail (request->name, PS_TOOL_EXIT_TOO_LARGE,
                                      "the message on standard input is longer than the "
                                      "queue's maximum, %" G_GSIZE_FORMAT " bytes: not sent",
                                      limit);
          return NULL;
        }
      g_byte_array_append (data, buffer, (guint) n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

static gboolean
parse_common (const char           *command,
              const char           *parameters,
              const char           *summary,
              const GOptionEntry   *extra,
              guint                 max_arguments,
              int                  *argc,
              char               ***argv,
              Request              *request,
              char               ***out_rest,
              int                  *out_status)
{
  g_autofree char *timeout_text = NULL;
  gboolean any_owner = FALSE;
  char **rest = NULL;
  const GOptionEntry entries[] = {
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &timeout_text,
      "Give up after S seconds (default: wait as long as it takes; 0: do not wait)", "S" },
    { "any-owner", 0, 0, G_OPTION_ARG_NONE, &any_owner,
      "Also open a queue that another user (not root) owns: sharing it on purpose", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) rest_owned = NULL;

  context = ps_tool_option_context_new (command, parameters, summary, entries);
  g_option_context_add_main_entries (context, extra, NULL);
  if (!ps_tool_parse_options (context, command, argc, argv, out_status))
    return FALSE;
  rest_owned = rest;
  if (!check_arguments (command, "NAME", rest, max_arguments, out_status))
    return FALSE;
  request->command = command;
  request->name = g_intern_string (rest[0]);
  request->timeout_us = PS_TIMEOUT_INFINITE;
  request->flags = any_owner ? PS_OPEN_ANY_OWNER : PS_OPEN_NONE;
  if (timeout_text != NULL &&
      !ps_tool_parse_timeout ("--timeout", timeout_text, &request->timeout_us, &error))
    {
      *out_status = ps_tool_fail (command, PS_TOOL_EXIT_USAGE, "%s", error->message);
      return FALSE;
    }
  if (!ps_name_validate (request->name, &error))
    {
      *out_status = ps_tool_fail_error (request->name, error);
      return FALSE;
    }
  *out_rest = g_steal_pointer (&rest_owned);
  return TRUE;
}

int
ps_tool_send (int    argc,
              char **argv)
{
  g_autofree char *priority_text = NULL;
  gboolean is_variant = FALSE;
  const GOptionEntry extra[] = {
    { "priority", 'p', 0, G_OPTION_ARG_STRING, &priority_text,
      "The message's priority: higher ones are received first (default 0)", "P" },
    { "variant", 0, 0, G_OPTION_ARG_NONE, &is_variant,
      "MESSAGE is a GVariant in its text form, sent as a variant", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(PsQueue) queue = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GVariant) value = NULL;
  g_auto(GStrv) rest = NULL;
  PsToolSignals *signals;
  Request request;
  guint64 priority = 0;
  gboolean sent;
  int signum;
  int status;

  if (!parse_common ("send", "NAME [--] [MESSAGE]",
                     "Send MESSAGE, or all of standard input when there is none, to the\n"
                     "named queue NAME, waiting for room if it is full. The bytes are sent\n"
                     "as they are (no newline is added or removed).",
                     extra, 2, &argc, &argv, &request, &rest, &status))
    return status;
  if (priority_text != NULL &&
      !ps_tool_parse_uint ("--priority", priority_text, G_MAXUINT32, &priority, &error))
    return ps_tool_fail ("send", PS_TOOL_EXIT_USAGE, "%s", error->message);
  if (is_variant && rest[1] == NULL)
    return ps_tool_fail ("send", PS_TOOL_EXIT_USAGE, "--variant needs MESSAGE");
  if (is_variant)
    {
      value = g_variant_parse (NULL, rest[1], NULL, NULL, &error);
      if (value == NULL)
        return ps_tool_fail ("send", PS_TOOL_EXIT_USAGE, "--variant: “%s” is not a GVariant: %s",
                             rest[1], error->message);
      g_variant_ref_sink (value);
    }

  queue = open_queue (&request, &status);
  if (queue == NULL)
    return status;
  if (!is_variant && rest[1] != NULL)
    message = g_bytes_new (rest[1], strlen (rest[1]));
  else if (!is_variant &&
           (message = read_stdin (&request, ps_queue_get_max_message_size (queue), &status)) == NULL)
    return status;

  cancellable = g_cancellable_new ();
  signals = ps_tool_signals_start (cancellable);
  if (value != NULL)
    sent = ps_queue_send_variant (queue, value, (guint) priority, request.timeout_us,
                                  cancellable, &error);
  else
    sent = ps_queue_send (queue, message, (guint) priority, request.timeout_us, cancellable,
                          &error);
  signum = ps_tool_signals_get_received (signals);
  ps_tool_signals_stop (signals);

  if (sent)
    return PS_TOOL_EXIT_OK;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
    return ps_tool_fail (request.name, PS_TOOL_EXIT_TOO_LARGE,
                         "the message is longer than the queue's maximum, %" G_GSIZE_FORMAT
                         " bytes: not sent", ps_queue_get_max_message_size (queue));
  return fail_wait (&request, error, signum, "full");
}

static gboolean
write_all (const void *data,
           gsize       size)
{
  return (size == 0 || fwrite (data, 1, size, stdout) == size) && fflush (stdout) == 0;
}

int
ps_tool_receive (int    argc,
                 char **argv)
{
  const GOptionEntry extra[] = { G_OPTION_ENTRY_NULL };
  g_autoptr(PsQueue) queue = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GVariant) value = NULL;
  g_auto(GStrv) rest = NULL;
  PsQueueMessageKind kind = PS_QUEUE_MESSAGE_BYTES;
  PsToolSignals *signals;
  Request request;
  gboolean received;
  gboolean written;
  int signum;
  int status;

  if (!parse_common ("receive", "NAME",
                     "Take the next message of the named queue NAME (the oldest of the\n"
                     "highest priority), waiting for one if it is empty, and write it to\n"
                     "standard output as it was sent; a message sent as a GVariant is\n"
                     "written in the GVariant text form, with a newline.",
                     extra, 1, &argc, &argv, &request, &rest, &status))
    return status;

  queue = open_queue (&request, &status);
  if (queue == NULL)
    return status;

  cancellable = g_cancellable_new ();
  signals = ps_tool_signals_start (cancellable);
  received = ps_queue_receive_message (queue, &kind, &message, &value, NULL, request.timeout_us,
                                       cancellable, &error);
  signum = ps_tool_signals_get_received (signals);
  ps_tool_signals_stop (signals);
  if (!received)
    return fail_wait (&request, error, signum, "empty");

  if (kind == PS_QUEUE_MESSAGE_VARIANT)
    {
      g_autofree char *text = g_variant_print (value, TRUE);

      written = write_all (text, strlen (text)) && write_all ("\n", 1);
    }
  else
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (message, &size);

      written = write_all (data, size);
    }
  if (!written)
    return ps_tool_fail (request.name, PS_TOOL_EXIT_FAILED,
                         "received, but standard output failed: %s", g_strerror (errno));
  return PS_TOOL_EXIT_OK;
}
