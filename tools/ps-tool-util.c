/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "ps-tool.h"

const char *ps_tool_exit_status_help =
  "Exit status:\n"
  "  0    success (lock: the exit status of COMMAND)\n"
  "  1    usage error: bad option, argument, name or value\n"
  "  2    no such object\n"
  "  3    not usable: of another type, a mutex of another PID namespace,\n"
  "       foreign, blank, unfinished, corrupt or made by an incompatible\n"
  "       procshared\n"
  "  4    permission denied, or owned by another user (see --any-owner)\n"
  "  5    timed out (or busy, with --timeout 0)\n"
  "  6    lock: the previous holder died; not recovered (see --recover)\n"
  "  7    already exists\n"
  "  8    lock: the mutex is not recoverable\n"
  "  9    release: the semaphore is at its maximum value\n"
  "  10   any other failure\n"
  "  11   barrier: the barrier is broken (a party timed out, died, or it was\n"
  "       aborted; see barrier reset)\n"
  "  12   send: the message is longer than the queue's maximum size\n"
  "  126  lock: COMMAND could not be run\n"
  "  127  lock: COMMAND was not found\n"
  "  128+N  interrupted by signal N while waiting, or COMMAND killed by it\n";

/* Errors ----------------------------------------------------------------- */

static void
print_line (const char *subject,
            const char *message)
{
  if (subject != NULL)
    {
      g_autofree char *display = ps_tool_escape_for_display (subject);

      g_printerr ("procshared: %s: %s\n", display, message);
    }
  else
    {
      g_printerr ("procshared: %s\n", message);
    }
}

int
ps_tool_fail (const char *subject,
              int         status,
              const char *format,
              ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  print_line (subject, message);
  return status;
}

void
ps_tool_warn (const char *subject,
              const char *format,
              ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  print_line (subject, message);
}

int
ps_tool_exit_for_error (const GError *error)
{
  if (error->domain == G_IO_ERROR)
    {
      if (error->code == G_IO_ERROR_INVALID_ARGUMENT || error->code == G_IO_ERROR_INVALID_FILENAME ||
          error->code == G_IO_ERROR_FILENAME_TOO_LONG)
        return PS_TOOL_EXIT_USAGE;
      if (error->code == G_IO_ERROR_NOT_FOUND)
        return PS_TOOL_EXIT_NOT_FOUND;
      if (error->code == G_IO_ERROR_PERMISSION_DENIED)
        return PS_TOOL_EXIT_PERMISSION;
      if (error->code == G_IO_ERROR_TIMED_OUT || error->code == G_IO_ERROR_WOULD_BLOCK)
        return PS_TOOL_EXIT_TIMED_OUT;
      if (error->code == G_IO_ERROR_EXISTS)
        return PS_TOOL_EXIT_EXISTS;
      if (error->code == G_IO_ERROR_MESSAGE_TOO_LARGE)
        return PS_TOOL_EXIT_TOO_LARGE;
      /* An object this process cannot use, as a mutex of another PID
       * namespace. */
      if (error->code == G_IO_ERROR_NOT_SUPPORTED)
        return PS_TOOL_EXIT_NOT_USABLE;
      return PS_TOOL_EXIT_FAILED;
    }
  if (error->domain == PS_ERROR)
    {
      if (error->code == PS_ERROR_WRONG_TYPE || error->code == PS_ERROR_CORRUPT ||
          error->code == PS_ERROR_INCOMPATIBLE)
        return PS_TOOL_EXIT_NOT_USABLE;
      if (error->code == PS_ERROR_OWNER_DEAD)
        return PS_TOOL_EXIT_OWNER_DEAD;
      if (error->code == PS_ERROR_NOT_RECOVERABLE)
        return PS_TOOL_EXIT_NOT_RECOVERABLE;
      if (error->code == PS_ERROR_OVERFLOW)
        return PS_TOOL_EXIT_OVERFLOW;
      if (error->code == PS_ERROR_BROKEN)
        return PS_TOOL_EXIT_BROKEN;
      return PS_TOOL_EXIT_FAILED;
    }
  if (error->domain == G_OPTION_ERROR)
    return PS_TOOL_EXIT_USAGE;
  return PS_TOOL_EXIT_FAILED;
}

int
ps_tool_fail_error (const char   *subject,
                    const GError *error)
{
  int status = ps_tool_exit_for_error (error);
  const char *message = error->message;
  g_autofree char *prefix = NULL;

  /* The library's wording for these names the object again, and the
   * cause is all the line needs. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return ps_tool_fail (subject, status, "no such object");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    return ps_tool_fail (subject, status, "permission denied");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    return ps_tool_fail (subject, status, "already exists");

  /* "“/x”: The object is…" and "“/x” is not…" read better without the
   * name, which starts the line already. */
  if (subject != NULL)
    {
      prefix = g_strdup_printf ("“%s”", subject);
      if (g_str_has_prefix (message, prefix) &&
          (message[strlen (prefix)] == ':' || message[strlen (prefix)] == ' '))
        {
          message += strlen (prefix);
          if (*message == ':')
            message++;
          message++;
        }
    }
  return ps_tool_fail (subject, status, "%s", message);
}

/* Options ---------------------------------------------------------------- */

GOptionContext *
ps_tool_option_context_new (const char         *command,
                            const char         *parameters,
                            const char         *summary,
                            const GOptionEntry *entries)
{
  GOptionContext *context = g_option_context_new (parameters);
  g_autofree char *prgname = g_strdup_printf ("procshared %s", command);

  /* The usage line reads "procshared COMMAND [OPTION…] …". */
  g_set_prgname (prgname);
  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context, ps_tool_exit_status_help);
  g_option_context_add_main_entries (context, entries, NULL);
  return context;
}

gboolean
ps_tool_parse_options (GOptionContext   *context,
                       const char       *command,
                       int              *argc,
                       char           ***argv,
                       int              *out_status)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      *out_status = ps_tool_fail (command, PS_TOOL_EXIT_USAGE, "%s (see procshared %s --help)",
                                  error->message, command);
      return FALSE;
    }
  return TRUE;
}

gboolean
ps_tool_parse_timeout (const char  *option,
                       const char  *text,
                       gint64      *out_timeout_us,
                       GError     **error)
{
  /* Past this, microseconds no longer fit in a gint64 deadline. */
  const double max_seconds = 1e12;
  char *end = NULL;
  double seconds;

  errno = 0;
  seconds = g_ascii_strtod (text, &end);
  if (*text == '\0' || *end != '\0' || errno != 0 || !isfinite (seconds) ||
      seconds < 0 || seconds > max_seconds)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: “%s” is not a number of seconds from 0 to %.0f",
                   option, text, max_seconds);
      return FALSE;
    }
  /* Rounded up: a wait never ends before the time asked for. */
  *out_timeout_us = (gint64) ceil (seconds * G_USEC_PER_SEC);
  return TRUE;
}

gboolean
ps_tool_parse_uint (const char  *option,
                    const char  *text,
                    guint64      max,
                    guint64     *out_value,
                    GError     **error)
{
  if (!g_ascii_string_to_unsigned (text, 10, 0, max, out_value, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: “%s” is not a whole number from 0 to %" G_GUINT64_FORMAT,
                   option, text, max);
      return FALSE;
    }
  return TRUE;
}

gboolean
ps_tool_parse_size (const char  *option,
                    const char  *text,
                    guint64     *out_size,
                    GError     **error)
{
  g_autofree char *digits = g_strdup (text);
  gsize length = strlen (digits);
  guint shift = 0;
  guint64 value;

  if (length > 1)
    {
      switch (g_ascii_toupper (digits[length - 1]))
        {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        default:  break;
        }
      if (shift != 0)
        digits[length - 1] = '\0';
    }

  if (!g_ascii_string_to_unsigned (digits, 10, 1, G_MAXSSIZE >> shift, &value, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: “%s” is not a size in bytes (at least 1, with an optional "
                   "K, M, G or T suffix)", option, text);
      return FALSE;
    }
  *out_size = value << shift;
  return TRUE;
}

gboolean
ps_tool_parse_mode (const char  *option,
                    const char  *text,
                    guint       *out_mode,
                    GError     **error)
{
  guint64 mode;

  if (!g_ascii_string_to_unsigned (text, 8, 0, 0777, &mode, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: “%s” is not an octal mode from 0 to 0777", option, text);
      return FALSE;
    }
  *out_mode = (guint) mode;
  return TRUE;
}

/* Objects ---------------------------------------------------------------- */

const char *
ps_tool_type_name (PsObjectType type)
{
  switch ((int) type)
    {
    case PS_OBJECT_TYPE_SHARED_MEMORY: return "shm";
    case PS_OBJECT_TYPE_SEMAPHORE:     return "semaphore";
    case PS_OBJECT_TYPE_MUTEX:         return "mutex";
    case PS_OBJECT_TYPE_COND:          return "cond";
    case PS_OBJECT_TYPE_RW_LOCK:       return "rwlock";
    case PS_OBJECT_TYPE_EVENT:         return "event";
    case PS_OBJECT_TYPE_BARRIER:       return "barrier";
    case PS_OBJECT_TYPE_QUEUE:         return "queue";
    default:                           return NULL;
    }
}

char *
ps_tool_user_name (guint32 uid)
{
  struct passwd *pw = getpwuid (uid);

  return pw != NULL ? g_strdup (pw->pw_name) : NULL;
}

char *
ps_tool_describe_owner (guint32 uid)
{
  g_autofree char *user = ps_tool_user_name (uid);

  if (user != NULL)
    return g_strdup_printf ("%s (uid %u)", user, uid);
  return g_strdup_printf ("uid %u", uid);
}

gboolean
ps_tool_check_before_open (const char   *name,
                           PsObjectType  type,
                           PsOpenFlags   flags,
                           int          *out_status)
{
  g_autoptr(GError) error = NULL;
  PsInspectInfo info;
  gboolean ok = TRUE;

  if (!ps_inspect_name (name, &info, &error))
    {
      if ((flags & PS_OPEN_CREATE) && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return TRUE;
      *out_status = ps_tool_fail_error (name, error);
      return FALSE;
    }

  /* What the library refuses, said in the tool's terms. */
  if (!(flags & PS_OPEN_ANY_OWNER) && info.uid != geteuid () && info.uid != 0)
    {
      g_autofree char *owner = ps_tool_describe_owner (info.uid);

      *out_status = ps_tool_fail (name, PS_TOOL_EXIT_PERMISSION,
                                  "owned by another user, %s: not opened without --any-owner",
                                  owner);
      ps_inspect_info_clear (&info);
      return FALSE;
    }

  switch (info.kind)
    {
    case PS_INSPECT_OBJECT:
    case PS_INSPECT_UNFINISHED:
      /* The type tag is written before anything else an opener could
       * see, so an unfinished object of another type is refused too. */
      if (info.type != 0 && info.type != type)
        {
          *out_status = ps_tool_fail (name, PS_TOOL_EXIT_NOT_USABLE, "is a %s, not a %s",
                                      ps_object_type_to_string (info.type),
                                      ps_object_type_to_string (type));
          ok = FALSE;
        }
      break;
    case PS_INSPECT_BLANK:
      /* Perhaps a creator between shm_open() and its header: the
       * library waits for it, and calls it corrupt if it never comes. */
      break;
    case PS_INSPECT_INCOMPATIBLE:
    case PS_INSPECT_CORRUPT:
    case PS_INSPECT_FOREIGN:
    default:
      *out_status = ps_tool_fail (name, PS_TOOL_EXIT_NOT_USABLE, "%s: %s",
                                  ps_inspect_kind_to_string (info.kind), info.detail);
      ok = FALSE;
      break;
    }

  ps_inspect_info_clear (&info);
  return ok;
}

gboolean
ps_tool_pid_is_alive (GPid pid)
{
  g_autofree char *path = NULL;
  g_autofree char *stat = NULL;
  const char *end;

  if (pid <= 0)
    return FALSE;
  /* EPERM: it exists, it just is not ours to signal. */
  if (kill (pid, 0) != 0 && errno == ESRCH)
    return FALSE;

  /* A zombie has exited (and released its robust locks) but still
   * answers kill(). Its state follows the last ')' of /proc/PID/stat. */
  path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  end = strrchr (stat, ')');
  if (end != NULL && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X'))
    return FALSE;
  return TRUE;
}

/* Text -------------------------------------------------------------------- */

char *
ps_tool_escape_for_display (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));
  const guchar *p;

  /* Valid names are printable ASCII and come out unchanged; a foreign
   * file's name must not smuggle control characters into a terminal. */
  for (p = (const guchar *) text; *p != '\0'; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p >= 0x20 && *p < 0x7f)
        g_string_append_c (out, (char) *p);
      else
        g_string_append_printf (out, "\\x%02x", *p);
    }
  return g_string_free (out, FALSE);
}

void
ps_tool_json_add_string (JsonBuilder *builder,
                         const char  *value)
{
  g_autofree char *valid = NULL;

  if (value == NULL)
    {
      json_builder_add_null_value (builder);
      return;
    }
  valid = g_utf8_make_valid (value, -1);
  json_builder_add_string_value (builder, valid);
}

char *
ps_tool_json_to_string (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);

  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

/* Signals ------------------------------------------------------------------ */

static const int handled_signals[] = { SIGINT, SIGTERM, SIGHUP };

typedef struct
{
  PsToolSignals *signals;
  int            signum;
} SignalHandler;

struct _PsToolSignals
{
  GMutex        lock;
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
  GCancellable *cancellable;
  GSubprocess  *child;
  int           received;
  gboolean      quit_ignored;
  GSource      *sources[G_N_ELEMENTS (handled_signals)];
  SignalHandler handlers[G_N_ELEMENTS (handled_signals)];
};

static gboolean
on_signal (gpointer user_data)
{
  SignalHandler *handler = user_data;
  PsToolSignals *signals = handler->signals;
  gboolean cancel = FALSE;

  g_mutex_lock (&signals->lock);
  if (signals->child == NULL)
    {
      /* SIGTERM and SIGHUP matter more than SIGINT once COMMAND runs:
       * they are passed on, SIGINT is not. */
      if (signals->received == 0 || signals->received == SIGINT)
        signals->received = handler->signum;
      cancel = TRUE;
    }
  else if (handler->signum != SIGINT)
    {
      g_subprocess_send_signal (signals->child, handler->signum);
    }
  g_mutex_unlock (&signals->lock);

  if (cancel && signals->cancellable != NULL)
    g_cancellable_cancel (signals->cancellable);
  return G_SOURCE_CONTINUE;
}

static gpointer
run_signal_loop (gpointer data)
{
  PsToolSignals *signals = data;

  g_main_context_push_thread_default (signals->context);
  g_main_loop_run (signals->loop);
  g_main_context_pop_thread_default (signals->context);
  return NULL;
}

PsToolSignals *
ps_tool_signals_start (GCancellable *cancellable)
{
  PsToolSignals *signals = g_new0 (PsToolSignals, 1);
  guint i;

  /* The waiting thread is blocked in the library, so the signals are
   * dispatched in a thread of their own, which cancels the wait. */
  g_mutex_init (&signals->lock);
  signals->context = g_main_context_new ();
  signals->loop = g_main_loop_new (signals->context, FALSE);
  signals->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;

  for (i = 0; i < G_N_ELEMENTS (handled_signals); i++)
    {
      signals->handlers[i].signals = signals;
      signals->handlers[i].signum = handled_signals[i];
      signals->sources[i] = g_unix_signal_source_new (handled_signals[i]);
      g_source_set_callback (signals->sources[i], on_signal, &signals->handlers[i], NULL);
      g_source_attach (signals->sources[i], signals->context);
    }

  signals->thread = g_thread_new ("ps-signals", run_signal_loop, signals);
  return signals;
}

void
ps_tool_signals_set_child (PsToolSignals *signals,
                           GSubprocess   *child)
{
  int pending;

  g_mutex_lock (&signals->lock);
  g_set_object (&signals->child, child);
  pending = signals->received;
  g_mutex_unlock (&signals->lock);

  /* A signal that came after the caller last looked, perhaps while
   * COMMAND was being started: treated as if COMMAND had been running,
   * so SIGTERM and SIGHUP are passed on and SIGINT is not. */
  if (pending != 0 && pending != SIGINT)
    g_subprocess_send_signal (child, pending);

  /* Handlers are reset by exec(), ignored signals are not: only now that
   * COMMAND runs is SIGQUIT ignored, as system(3) does. */
  signal (SIGQUIT, SIG_IGN);
  signals->quit_ignored = TRUE;
}

int
ps_tool_signals_get_received (PsToolSignals *signals)
{
  int received;

  g_mutex_lock (&signals->lock);
  received = signals->received;
  g_mutex_unlock (&signals->lock);
  return received;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
ps_tool_signals_stop (PsToolSignals *signals)
{
  GSource *quit;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (signals->sources); i++)
    {
      g_source_destroy (signals->sources[i]);
      g_source_unref (signals->sources[i]);
    }
  /* Quit from inside the loop: a g_main_loop_quit() from here could come
   * before the thread has even started running it, and be lost. */
  quit = g_idle_source_new ();
  g_source_set_callback (quit, quit_loop, signals->loop, NULL);
  g_source_attach (quit, signals->context);
  g_source_unref (quit);
  g_thread_join (signals->thread);

  if (signals->quit_ignored)
    signal (SIGQUIT, SIG_DFL);

  g_clear_object (&signals->child);
  g_clear_object (&signals->cancellable);
  g_main_loop_unref (signals->loop);
  g_main_context_unref (signals->context);
  g_mutex_clear (&signals->lock);
  g_free (signals);
}
