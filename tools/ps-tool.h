/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the subcommands of the procshared tool share: exit statuses, the
 * one-line error reports, option parsing and value helpers, the JSON
 * helpers and the signal handling of the commands that wait.
 */

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include <procshared/procshared.h>

#include "ps-inspect.h"
#include "ps-names-private.h"

G_BEGIN_DECLS

/* Documented in --help and procshared(1); scripts depend on them. */
typedef enum
{
  PS_TOOL_EXIT_OK                = 0,
  PS_TOOL_EXIT_USAGE             = 1,   /* bad option, argument, name or value */
  PS_TOOL_EXIT_NOT_FOUND         = 2,
  PS_TOOL_EXIT_NOT_USABLE        = 3,   /* wrong type, foreign, blank, unfinished, corrupt, incompatible */
  PS_TOOL_EXIT_PERMISSION        = 4,
  PS_TOOL_EXIT_TIMED_OUT         = 5,
  PS_TOOL_EXIT_OWNER_DEAD        = 6,   /* lock without --recover found its holder dead */
  PS_TOOL_EXIT_EXISTS            = 7,
  PS_TOOL_EXIT_NOT_RECOVERABLE   = 8,
  PS_TOOL_EXIT_OVERFLOW          = 9,
  PS_TOOL_EXIT_FAILED            = 10,  /* any other system error */
  PS_TOOL_EXIT_BROKEN            = 11,  /* barrier: broken (a party timed out, died, or it was aborted) */
  PS_TOOL_EXIT_TOO_LARGE         = 12,  /* send: longer than the queue's maximum message size */
  PS_TOOL_EXIT_CANNOT_EXECUTE    = 126,
  PS_TOOL_EXIT_COMMAND_NOT_FOUND = 127,
  PS_TOOL_EXIT_SIGNAL_BASE       = 128, /* + the signal that interrupted us or killed COMMAND */
} PsToolExit;

/* The exit status table, as printed at the end of every --help. */
extern const char *ps_tool_exit_status_help;

/* Errors ----------------------------------------------------------------- */

int  ps_tool_fail          (const char    *subject,
                            int            status,
                            const char    *format,
                            ...) G_GNUC_PRINTF (3, 4);
int  ps_tool_exit_for_error (const GError *error);
int  ps_tool_fail_error    (const char    *subject,
                            const GError  *error);
void ps_tool_warn          (const char    *subject,
                            const char    *format,
                            ...) G_GNUC_PRINTF (2, 3);

/* Options ---------------------------------------------------------------- */

GOptionContext *ps_tool_option_context_new (const char         *command,
                                            const char         *parameters,
                                            const char         *summary,
                                            const GOptionEntry *entries);
gboolean ps_tool_parse_options (GOptionContext  *context,
                                const char      *command,
                                int             *argc,
                                char          ***argv,
                                int             *out_status);

gboolean ps_tool_parse_timeout (const char  *option,
                                const char  *text,
                                gint64      *out_timeout_us,
                                GError     **error);
gboolean ps_tool_parse_uint    (const char  *option,
                                const char  *text,
                                guint64      max,
                                guint64     *out_value,
                                GError     **error);
gboolean ps_tool_parse_size    (const char  *option,
                                const char  *text,
                                guint64     *out_size,
                                GError     **error);
gboolean ps_tool_parse_mode    (const char  *option,
                                const char  *text,
                                guint       *out_mode,
                                GError     **error);

/* Objects ---------------------------------------------------------------- */

/* Looks at NAME before opening it as @type with @flags: fails (reporting
 * it, and setting @out_status) if it is not a valid name, is missing
 * (unless @flags has PS_OPEN_CREATE), cannot be read, belongs to another
 * user than us or root (unless @flags has PS_OPEN_ANY_OWNER), or is
 * something that can never be opened as @type. Files that may be in the
 * middle of being created are left to the library, which waits for them
 * a bounded while. */
gboolean ps_tool_check_before_open (const char   *name,
                                    PsObjectType  type,
                                    PsOpenFlags   flags,
                                    int          *out_status);

/* The name of user @uid, or NULL if it has none. */
char *ps_tool_user_name      (guint32 uid);
/* "NAME (uid N)", or "uid N" for a user without a name. */
char *ps_tool_describe_owner (guint32 uid);

const char *ps_tool_type_name (PsObjectType type);

/* Whether a process exists and has not exited (a zombie has). */
gboolean ps_tool_pid_is_alive (GPid pid);

/* Text -------------------------------------------------------------------- */

char *ps_tool_escape_for_display (const char *text);

/* JSON, built with json-glib's JsonBuilder. A string is made valid UTF-8
 * (names of foreign files need not be); NULL is null. */
void  ps_tool_json_add_string (JsonBuilder *builder,
                               const char  *value);
/* The builder's value as compact JSON on one line. */
char *ps_tool_json_to_string  (JsonBuilder *builder);

/* Signals, for the commands that wait ---------------------------------- */

/* While waiting, SIGINT, SIGTERM and SIGHUP cancel @cancellable, and
 * ps_tool_signals_get_received() tells which came. Once a command runs
 * (ps_tool_signals_set_child), SIGTERM and SIGHUP are passed on to it and
 * SIGINT and SIGQUIT are ignored, as system(3) does: the terminal sends
 * them to the command as well. */
typedef struct _PsToolSignals PsToolSignals;

PsToolSignals *ps_tool_signals_start       (GCancellable  *cancellable);
void           ps_tool_signals_set_child   (PsToolSignals *signals,
                                            GSubprocess   *child);
int            ps_tool_signals_get_received (PsToolSignals *signals);
void           ps_tool_signals_stop        (PsToolSignals *signals);

/* Events and barriers, as list and info show them ----------------------- */

typedef struct
{
  gboolean is_set;        /* events */
  gboolean auto_reset;
  guint    parties;       /* barriers */
  guint    waiting;
  gboolean broken;
} PsToolRendezvousState;

gboolean ps_tool_read_rendezvous     (const char                  *name,
                                      PsObjectType                 type,
                                      PsToolRendezvousState       *state,
                                      GError                     **error);
char    *ps_tool_describe_rendezvous (PsObjectType                 type,
                                      const PsToolRendezvousState *state);
void     ps_tool_json_add_rendezvous (JsonBuilder                 *builder,
                                      PsObjectType                 type,
                                      const PsToolRendezvousState *state);

/* Message queues, as list and info show them ---------------------------- */

typedef struct
{
  guint   length;
  guint   capacity;
  guint64 max_message_size;
  guint   senders_waiting;
  guint   receivers_waiting;
  guint   slots_writing;      /* taken by a sender that has not committed yet */
  guint   slots_reading;      /* taken by a receiver that has not returned yet */
} PsToolQueueState;

gboolean ps_tool_read_queue     (const char             *name,
                                 PsToolQueueState       *state,
                                 GError                **error);
char    *ps_tool_describe_queue (const PsToolQueueState *state);
void     ps_tool_print_queue    (void                 (*print_field) (const char *key,
                                                                      const char *value),
                                 const PsToolQueueState *state);
void     ps_tool_json_add_queue (JsonBuilder            *builder,
                                 const PsToolQueueState *state);

/* Objects' states, as list and info show them (ps-tool-inspect-state.c) */

/* What ps_tool_read_object_state() reads of an object; each kind sets its
 * own fields, the rest stay zero. */
typedef struct
{
  gboolean              recursive;         /* mutexes */
  GPid                  owner_pid;         /* a mutex's holder, a reader-writer lock's writer */
  gboolean              owner_alive;
  gboolean              other_namespace;   /* a mutex made (and held) in another PID
                                            * namespace: owner_pid is a pid there, not here */
  PsMutexConsistency    consistency;
  guint                 value;             /* semaphores */
  guint                 max_value;
  guint                 waiters;           /* condition variables */
  guint64               data_size;         /* shared memory */
  guint                 readers;           /* reader-writer locks */
  guint                 writers_waiting;
  PsToolRendezvousState rendezvous;        /* events and barriers */
  PsToolQueueState      queue;
} PsToolObjectState;

/* Opens NAME, an object of @type, with PS_OPEN_ANY_OWNER and reads its
 * state, never locking nor writing it. */
gboolean ps_tool_read_object_state     (const char               *name,
                                        PsObjectType              type,
                                        PsToolObjectState        *state,
                                        GError                  **error);
/* The state in a line, for list's STATE column and info's state field. */
char    *ps_tool_describe_object_state (PsObjectType              type,
                                        const PsToolObjectState  *state);
/* The state as a JSON object, for list --json and info --json. */
void     ps_tool_json_add_object_state (JsonBuilder              *builder,
                                        PsObjectType              type,
                                        const PsToolObjectState  *state);
/* The state as info's fields, one a line. */
void     ps_tool_print_object_state    (PsObjectType              type,
                                        const PsToolObjectState  *state);

/* A member of the JSON object being built; a string is made valid UTF-8
 * (ps_tool_json_add_string()). */
void ps_tool_json_add_member_string (JsonBuilder *builder,
                                     const char  *key,
                                     const char  *value);
void ps_tool_json_add_member_int    (JsonBuilder *builder,
                                     const char  *key,
                                     gint64       value);
void ps_tool_json_add_member_bool   (JsonBuilder *builder,
                                     const char  *key,
                                     gboolean     value);
void ps_tool_json_add_member_null   (JsonBuilder *builder,
                                     const char  *key);

/* One of info's "key:   value" lines. */
void ps_tool_print_field  (const char *key,
                           const char *value);
void ps_tool_print_fieldf (const char *key,
                           const char *format,
                           ...) G_GNUC_PRINTF (2, 3);

/* Subcommands ----------------------------------------------------------- */

int ps_tool_list    (int argc, char **argv);
int ps_tool_info    (int argc, char **argv);
int ps_tool_create  (int argc, char **argv);
int ps_tool_unlink  (int argc, char **argv);
int ps_tool_lock    (int argc, char **argv);
int ps_tool_acquire (int argc, char **argv);
int ps_tool_release (int argc, char **argv);
int ps_tool_event   (int argc, char **argv);
int ps_tool_barrier (int argc, char **argv);
int ps_tool_send    (int argc, char **argv);
int ps_tool_receive (int argc, char **argv);

G_END_DECLS
