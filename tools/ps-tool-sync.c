/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* procshared lock, acquire and release: taking part from a shell script
 * in the coordination that C, Python and JS programs do with the same
 * named objects. */

#include <string.h>

#include "ps-tool.h"

/* A mutex that `lock` leaves held on purpose when it exits (see
 * refuse_dead_owner()). This reference is never dropped: finalizing a
 * held PsMutex gives the lock back (and one reported OWNER_DEAD would be
 * condemned by that), while exiting with it held lets the kernel mark
 * its owner dead once more, through the mapping that must still be
 * there. */
static GObject *mutex_left_held;

/* What `lock` takes: a mutex, or a reader-writer lock for writing or
 * (--shared) for reading. A share that met OWNER_DEAD holds the lock for
 * writing: @unlock_after_death gives that back. */
typedef struct
{
  const char *what;
  gboolean  (*lock)               (gpointer, gint64, GCancellable *, GError **);
  gboolean  (*unlock)             (gpointer, GError **);
  gboolean  (*unlock_after_death) (gpointer, GError **);
  gboolean  (*mark_consistent)    (gpointer, GError **);
  GPid      (*holder)             (gpointer);
} LockOps;

static const LockOps mutex_ops = {
  "mutex",
  (gpointer) ps_mutex_lock, (gpointer) ps_mutex_unlock, (gpointer) ps_mutex_unlock,
  (gpointer) ps_mutex_mark_consistent, (gpointer) ps_mutex_get_owner_pid,
};
static const LockOps rw_write_ops = {
  "reader-writer lock",
  (gpointer) ps_rw_lock_write_lock, (gpointer) ps_rw_lock_write_unlock,
  (gpointer) ps_rw_lock_write_unlock, (gpointer) ps_rw_lock_mark_consistent,
  (gpointer) ps_rw_lock_get_writer_pid,
};
static const LockOps rw_read_ops = {
  "reader-writer lock",
  (gpointer) ps_rw_lock_read_lock, (gpointer) ps_rw_lock_read_unlock,
  (gpointer) ps_rw_lock_write_unlock, (gpointer) ps_rw_lock_mark_consistent,
  (gpointer) ps_rw_lock_get_writer_pid,
};

static char *
describe_pid (GPid pid)
{
  return pid != 0 ? g_strdup_printf (" (pid %d)", (int) pid) : g_strdup ("");
}

/* Who holds a mutex that could not be taken, as `list` would say it. */
static char *
describe_holder (GPid pid)
{
  if (pid == 0)
    return g_strdup ("");
  return g_strdup_printf (": held by pid %d (%s)", (int) pid,
                          ps_tool_pid_is_alive (pid) ? "alive" : "dead");
}

static int
fail_interrupted (const char    *name,
                  int            signum,
                  const char    *what)
{
  return ps_tool_fail (name, PS_TOOL_EXIT_SIGNAL_BASE + signum,
                       "interrupted by signal %d (%s) while waiting for the %s",
                       signum, g_strsignal (signum), what);
}

/* lock ----------------------------------------------------------------------- */

/* Without --recover, an administrator wants the evidence kept: the data
 * the dead holder guarded may be half-written, and unlocking without
 * marking the mutex consistent would condemn it for good (every later
 * lock: NOT_RECOVERABLE). So the command is not run, and the lock is
 * handed back exactly as it was found, owner dead, by exiting while
 * holding it: the next locker, such as `lock --recover`, gets
 * OWNER_DEAD again. */
static int
refuse_dead_owner (const char *name,
                   gpointer    mutex,
                   GPid        previous_holder)
{
  g_autofree char *pid = describe_pid (previous_holder);

  mutex_left_held = g_object_ref (mutex);
  return ps_tool_fail (name, PS_TOOL_EXIT_OWNER_DEAD,
                       "its previous holder%s died holding it; COMMAND not run and the lock "
                       "left for recovery: check the data it guards, then use --recover", pid);
}

/* The shell's statuses for a command that is missing (127) or cannot be
 * run (126): the spawn error alone does not tell them apart. */
static int
check_command (const char *program)
{
  g_autofree char *path = g_find_program_in_path (program);

  if (path != NULL)
    return PS_TOOL_EXIT_OK;
  if (strchr (program, '/') != NULL && g_file_test (program, G_FILE_TEST_EXISTS))
    return ps_tool_fail (program, PS_TOOL_EXIT_CANNOT_EXECUTE, "not an executable file");
  return ps_tool_fail (program, PS_TOOL_EXIT_COMMAND_NOT_FOUND, "command not found");
}

static int
run_locked (const char     *name,
            gpointer        mutex,
            const LockOps  *ops,
            gint64          timeout_us,
            gboolean     recover,
            char       **command)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  PsToolSignals *signals;
  GPid previous_holder;
  gboolean (*unlock) (gpointer, GError **) = ops->unlock;
  int signum;
  int status;

  signals = ps_tool_signals_start (cancellable);

  /* Only for the message: who held it before we waited. */
  previous_holder = ops->holder (mutex);

  if (!ops->lock (mutex, timeout_us, cancellable, &error))
    {
      if (g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
        {
          g_autofree char *pid = describe_pid (previous_holder);

          if (!recover)
            {
              ps_tool_signals_stop (signals);
              return refuse_dead_owner (name, mutex, previous_holder);
            }
          g_clear_error (&error);
          unlock = ops->unlock_after_death;
          if (!ops->mark_consistent (mutex, &error))
            {
              ps_tool_signals_stop (signals);
              mutex_left_held = g_object_ref (mutex);
              return ps_tool_fail_error (name, error);
            }
          ps_tool_warn (name, "its previous holder%s died holding it; marked consistent "
                        "(--recover)", pid);
        }
      else
        {
          g_autofree char *holder = describe_holder (ops->holder (mutex));

          signum = ps_tool_signals_get_received (signals);
          ps_tool_signals_stop (signals);

          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && signum != 0)
            return fail_interrupted (name, signum, ops->what);
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            return ps_tool_fail (name, PS_TOOL_EXIT_TIMED_OUT, "timed out%s", holder);
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return ps_tool_fail (name, PS_TOOL_EXIT_TIMED_OUT, "busy%s", holder);
          if (g_error_matches (error, PS_ERROR, PS_ERROR_NOT_RECOVERABLE))
            return ps_tool_fail (name, PS_TOOL_EXIT_NOT_RECOVERABLE,
                                 "not recoverable: a holder died and it was unlocked without "
                                 "being marked consistent; remove it (procshared unlink) and "
                                 "create it again");
          return ps_tool_fail_error (name, error);
        }
    }

  /* A signal between the lock and the start of COMMAND: do not start it. */
  signum = ps_tool_signals_get_received (signals);
  if (signum != 0)
    {
      unlock (mutex, NULL);
      ps_tool_signals_stop (signals);
      return fail_interrupted (name, signum, ops->what);
    }

  /* COMMAND gets our stdin, stdout, stderr and other descriptors, as if
   * the shell had run it itself. */
  status = check_command (command[0]);
  if (status == PS_TOOL_EXIT_OK)
    {
      child = g_subprocess_newv ((const char * const *) command,
                                 G_SUBPROCESS_FLAGS_STDIN_INHERIT | G_SUBPROCESS_FLAGS_INHERIT_FDS,
                                 &error);
      if (child == NULL)
        status = ps_tool_fail (command[0], PS_TOOL_EXIT_CANNOT_EXECUTE, "%s", error->message);
    }
  if (child == NULL)
    {
      unlock (mutex, NULL);
      ps_tool_signals_stop (signals);
      return status;
    }
  ps_tool_signals_set_child (signals, child);

  /* Without a cancellable this returns when the child has exited. */
  if (!g_subprocess_wait (child, NULL, &error))
    {
      status = ps_tool_fail (command[0], PS_TOOL_EXIT_FAILED, "%s", error->message);
      g_clear_error (&error);
    }
  else if (g_subprocess_get_if_exited (child))
    {
      status = g_subprocess_get_exit_status (child);
    }
  else if (g_subprocess_get_if_signaled (child))
    {
      status = PS_TOOL_EXIT_SIGNAL_BASE + g_subprocess_get_term_sig (child);
    }
  else
    {
      status = ps_tool_fail (command[0], PS_TOOL_EXIT_FAILED, "ended in an unknown way");
    }

  if (!unlock (mutex, &error))
    status = ps_tool_fail_error (name, error);
  ps_tool_signals_stop (signals);
  return status;
}

int
ps_tool_lock (int    argc,
              char **argv)
{
  g_autofree char *timeout_text = NULL;
  g_autofree char *mode_text = NULL;
  gboolean create = FALSE;
  gboolean recover = FALSE;
  gboolean any_owner = FALSE;
  gboolean shared = FALSE;
  char **rest = NULL;
  const GOptionEntry entries[] = {
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &timeout_text,
      "Give up after S seconds (default: wait as long as it takes; 0: do not wait)", "S" },
    { "create", 'c', 0, G_OPTION_ARG_NONE, &create,
      "Create the mutex (with --shared: the reader-writer lock) if it does not exist", NULL },
    { "shared", 's', 0, G_OPTION_ARG_NONE, &shared,
      "NAME is a reader-writer lock: hold a read share, as flock -s (without it, a "
      "reader-writer lock is held for writing)", NULL },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode_text,
      "With --create: the permission bits, in octal (default 0600)", "MODE" },
    { "recover", 'r', 0, G_OPTION_ARG_NONE, &recover,
      "If the previous holder died, mark the mutex consistent and run COMMAND", NULL },
    { "any-owner", 0, 0, G_OPTION_ARG_NONE, &any_owner,
      "Also open a mutex that another user (not root) owns: sharing it on purpose", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) mutex = NULL;
  g_auto(GStrv) rest_owned = NULL;
  gint64 timeout_us = PS_TIMEOUT_INFINITE;
  const LockOps *ops = &mutex_ops;
  GType type = PS_TYPE_MUTEX;
  PsObjectType object_type = PS_OBJECT_TYPE_MUTEX;
  PsInspectInfo info;
  PsOpenFlags flags;
  guint mode = 0600;
  const char *name;
  int status;

  context = ps_tool_option_context_new ("lock", "NAME -- COMMAND [ARGUMENT…]",
                                        "Run COMMAND while holding the named mutex NAME, like flock(1):\n"
                                        "the mutex is released when COMMAND ends, and its exit status\n"
                                        "is passed on. If a previous holder died holding the mutex,\n"
                                        "COMMAND is run only with --recover; without it, the mutex is\n"
                                        "left as it was found, for a later --recover (exit status 6).\n"
                                        "While COMMAND runs, SIGTERM and SIGHUP are passed on to it and\n"
                                        "SIGINT and SIGQUIT are ignored, as the terminal sends them to\n"
                                        "COMMAND too. NAME may be a reader-writer lock: held for\n"
                                        "writing, or with --shared for reading (a writer that died\n"
                                        "makes even --shared hold it for writing, to recover).",
                                        entries);
  if (!ps_tool_parse_options (context, "lock", &argc, &argv, &status))
    return status;
  rest_owned = rest;
  if (rest == NULL || rest[0] == NULL)
    return ps_tool_fail ("lock", PS_TOOL_EXIT_USAGE, "missing NAME (see procshared lock --help)");
  if (rest[1] == NULL)
    return ps_tool_fail ("lock", PS_TOOL_EXIT_USAGE, "missing COMMAND (see procshared lock --help)");
  name = rest[0];

  if (timeout_text != NULL && !ps_tool_parse_timeout ("--timeout", timeout_text, &timeout_us, &error))
    return ps_tool_fail ("lock", PS_TOOL_EXIT_USAGE, "%s", error->message);
  if (mode_text != NULL && !create)
    return ps_tool_fail ("lock", PS_TOOL_EXIT_USAGE, "--mode applies with --create only");
  if (mode_text != NULL && !ps_tool_parse_mode ("--mode", mode_text, &mode, &error))
    return ps_tool_fail ("lock", PS_TOOL_EXIT_USAGE, "%s", error->message);

  /* A reader-writer lock that exists is held for writing without
   * --shared; --shared asks for one. */
  if (ps_inspect_name (name, &info, NULL))
    {
      if (info.kind == PS_INSPECT_OBJECT && info.type == PS_OBJECT_TYPE_RW_LOCK)
        object_type = PS_OBJECT_TYPE_RW_LOCK;
      ps_inspect_info_clear (&info);
    }
  if (shared)
    object_type = PS_OBJECT_TYPE_RW_LOCK;
  if (object_type == PS_OBJECT_TYPE_RW_LOCK)
    {
      type = PS_TYPE_RW_LOCK;
      ops = shared ? &rw_read_ops : &rw_write_ops;
    }

  flags = (create ? PS_OPEN_CREATE : PS_OPEN_NONE) | (any_owner ? PS_OPEN_ANY_OWNER : PS_OPEN_NONE);
  if (!ps_tool_check_before_open (name, object_type, flags, &status))
    return status;
  mutex = g_initable_new (type, NULL, &error,
                          "name", name,
                          "open-flags", flags,
                          "mode", mode,
                          NULL);
  if (mutex == NULL)
    return ps_tool_fail_error (name, error);

  return run_locked (name, mutex, ops, timeout_us, recover, rest + 1);
}

/* acquire and release -------------------------------------------------------- */

int
ps_tool_acquire (int    argc,
                 char **argv)
{
  g_autofree char *timeout_text = NULL;
  g_autofree char *value_text = NULL;
  g_autofree char *max_text = NULL;
  g_autofree char *mode_text = NULL;
  gboolean create = FALSE;
  gboolean any_owner = FALSE;
  char **rest = NULL;
  const GOptionEntry entries[] = {
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &timeout_text,
      "Give up after S seconds (default: wait as long as it takes; 0: do not wait)", "S" },
    { "create", 'c', 0, G_OPTION_ARG_NONE, &create,
      "Create the semaphore if it does not exist", NULL },
    { "value", 0, 0, G_OPTION_ARG_STRING, &value_text,
      "With --create: the initial value (default 0)", "N" },
    { "max", 0, 0, G_OPTION_ARG_STRING, &max_text,
      "With --create: the largest value (default: unbounded)", "N" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode_text,
      "With --create: the permission bits, in octal (default 0600)", "MODE" },
    { "any-owner", 0, 0, G_OPTION_ARG_NONE, &any_owner,
      "Also open a semaphore that another user (not root) owns: sharing it on purpose", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_auto(GStrv) rest_owned = NULL;
  PsToolSignals *signals;
  gint64 timeout_us = PS_TIMEOUT_INFINITE;
  guint64 value = 0;
  guint64 max_value = G_MAXINT32;
  PsOpenFlags flags;
  guint mode = 0600;
  const char *name;
  gboolean acquired;
  int signum;
  int status;

  context = ps_tool_option_context_new ("acquire", "NAME",
                                        "Take one unit of the named semaphore NAME, waiting while its\n"
                                        "value is 0. The unit stays taken after procshared exits: give\n"
                                        "it back with procshared release.",
                                        entries);
  if (!ps_tool_parse_options (context, "acquire", &argc, &argv, &status))
    return status;
  rest_owned = rest;
  if (rest == NULL || rest[0] == NULL)
    return ps_tool_fail ("acquire", PS_TOOL_EXIT_USAGE, "missing NAME (see procshared acquire --help)");
  if (rest[1] != NULL)
    return ps_tool_fail ("acquire", PS_TOOL_EXIT_USAGE, "unexpected argument “%s”", rest[1]);
  name = rest[0];

  if (!create && (value_text != NULL || max_text != NULL || mode_text != NULL))
    return ps_tool_fail ("acquire", PS_TOOL_EXIT_USAGE, "%s applies with --create only",
                         value_text != NULL ? "--value" : max_text != NULL ? "--max" : "--mode");
  if ((timeout_text != NULL && !ps_tool_parse_timeout ("--timeout", timeout_text, &timeout_us, &error)) ||
      (value_text != NULL && !ps_tool_parse_uint ("--value", value_text, G_MAXINT32, &value, &error)) ||
      (max_text != NULL && !ps_tool_parse_uint ("--max", max_text, G_MAXINT32, &max_value, &error)) ||
      (mode_text != NULL && !ps_tool_parse_mode ("--mode", mode_text, &mode, &error)))
    return ps_tool_fail ("acquire", PS_TOOL_EXIT_USAGE, "%s", error->message);
  if (max_text != NULL && max_value == 0)
    return ps_tool_fail ("acquire", PS_TOOL_EXIT_USAGE, "--max: the maximum must be at least 1");
  if (value > max_value)
    return ps_tool_fail ("acquire", PS_TOOL_EXIT_USAGE,
                         "--value: %" G_GUINT64_FORMAT " is larger than --max %" G_GUINT64_FORMAT,
                         value, max_value);

  flags = (create ? PS_OPEN_CREATE : PS_OPEN_NONE) | (any_owner ? PS_OPEN_ANY_OWNER : PS_OPEN_NONE);
  if (!ps_tool_check_before_open (name, PS_OBJECT_TYPE_SEMAPHORE, flags, &status))
    return status;
  semaphore = g_initable_new (PS_TYPE_SEMAPHORE, NULL, &error,
                              "name", name,
                              "open-flags", flags,
                              "mode", mode,
                              "initial-value", (guint) value,
                              "max-value", (guint) max_value,
                              NULL);
  if (semaphore == NULL)
    return ps_tool_fail_error (name, error);

  cancellable = g_cancellable_new ();
  signals = ps_tool_signals_start (cancellable);
  acquired = ps_semaphore_acquire (semaphore, timeout_us, cancellable, &error);
  signum = ps_tool_signals_get_received (signals);
  ps_tool_signals_stop (signals);

  if (acquired)
    return PS_TOOL_EXIT_OK;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && signum != 0)
    return fail_interrupted (name, signum, "semaphore");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return ps_tool_fail (name, PS_TOOL_EXIT_TIMED_OUT, "timed out: the value stayed 0");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return ps_tool_fail (name, PS_TOOL_EXIT_TIMED_OUT, "busy: the value is 0");
  return ps_tool_fail_error (name, error);
}

int
ps_tool_release (int    argc,
                 char **argv)
{
  gboolean any_owner = FALSE;
  char **rest = NULL;
  const GOptionEntry entries[] = {
    { "any-owner", 0, 0, G_OPTION_ARG_NONE, &any_owner,
      "Also open a semaphore that another user (not root) owns: sharing it on purpose", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_auto(GStrv) rest_owned = NULL;
  PsOpenFlags flags;
  const char *name;
  int status;

  context = ps_tool_option_context_new ("release", "NAME",
                                        "Give one unit back to the named semaphore NAME, waking a\n"
                                        "waiter. A bounded semaphore at its maximum is left unchanged\n"
                                        "(exit status 9).",
                                        entries);
  if (!ps_tool_parse_options (context, "release", &argc, &argv, &status))
    return status;
  rest_owned = rest;
  if (rest == NULL || rest[0] == NULL)
    return ps_tool_fail ("release", PS_TOOL_EXIT_USAGE, "missing NAME (see procshared release --help)");
  if (rest[1] != NULL)
    return ps_tool_fail ("release", PS_TOOL_EXIT_USAGE, "unexpected argument “%s”", rest[1]);
  name = rest[0];

  flags = any_owner ? PS_OPEN_ANY_OWNER : PS_OPEN_NONE;
  if (!ps_tool_check_before_open (name, PS_OBJECT_TYPE_SEMAPHORE, flags, &status))
    return status;
  semaphore = ps_semaphore_open (name, flags, 0, &error);
  if (semaphore == NULL)
    return ps_tool_fail_error (name, error);

  if (!ps_semaphore_release (semaphore, &error))
    {
      if (g_error_matches (error, PS_ERROR, PS_ERROR_OVERFLOW))
        return ps_tool_fail (name, PS_TOOL_EXIT_OVERFLOW,
                             "already at its maximum value %u; not released",
                             ps_semaphore_get_max_value (semaphore));
      return ps_tool_fail_error (name, error);
    }
  return PS_TOOL_EXIT_OK;
}
