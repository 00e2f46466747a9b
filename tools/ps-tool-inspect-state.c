/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What procshared list and procshared info show of each kind of object:
 * its state, read through the library (opened, never locked nor
 * written), and that state as a line, as JSON and as info's fields; and
 * the JSON and field helpers of both commands. */

#include "ps-tool.h"
#include "ps-cond-private.h"
#include "ps-identity-private.h"
#include "ps-mutex-private.h"
#include "ps-rw-lock-private.h"

/* Reading ------------------------------------------------------------------ */

/* A mutex of another PID namespace, which the library refuses to open
 * here: its state is read from the file instead. Its holder's pid means
 * nothing here, and no process here can be asked whether it lives. */
static void
read_mutex_of_other_namespace (const char         *name,
                               PsToolObjectState  *state,
                               GError            **error)
{
  PsRobustMutex mutex;

  if (!ps_inspect_read_mutex (name, &mutex, NULL) ||
      mutex.pid_namespace == ps_self_pid_namespace ())
    return;   /* the library's own error stays */
  g_clear_error (error);
  state->other_namespace = TRUE;
  state->recursive = mutex.recursive != 0;
  state->owner_pid = (GPid) mutex.owner_pid;
  state->owner_alive = FALSE;
  state->consistency = (PsMutexConsistency) mutex.consistency;
}

gboolean
ps_tool_read_object_state (const char         *name,
                           PsObjectType        type,
                           PsToolObjectState  *state,
                           GError            **error)
{
  g_autoptr(GError) local_error = NULL;

  switch ((int) type)
    {
    case PS_OBJECT_TYPE_MUTEX:
      {
        g_autoptr(PsMutex) mutex = ps_mutex_open (name, PS_OPEN_ANY_OWNER, &local_error);

        if (mutex != NULL)
          {
            state->recursive = ps_mutex_is_recursive (mutex);
            state->owner_pid = ps_mutex_get_owner_pid (mutex);
            state->owner_alive = ps_tool_pid_is_alive (state->owner_pid);
            state->consistency = ps_mutex_get_consistency (mutex);
          }
        else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
          read_mutex_of_other_namespace (name, state, &local_error);
        break;
      }
    case PS_OBJECT_TYPE_SEMAPHORE:
      {
        g_autoptr(PsSemaphore) semaphore = ps_semaphore_open (name, PS_OPEN_ANY_OWNER, 0,
                                                              &local_error);

        if (semaphore != NULL)
          {
            state->value = ps_semaphore_get_value (semaphore);
            state->max_value = ps_semaphore_get_max_value (semaphore);
          }
        break;
      }
    case PS_OBJECT_TYPE_COND:
      {
        g_autoptr(PsCond) cond = ps_cond_open (name, PS_OPEN_ANY_OWNER, &local_error);

        if (cond != NULL)
          state->waiters = ps_cond_get_waiter_count (cond);
        break;
      }
    case PS_OBJECT_TYPE_RW_LOCK:
      {
        g_autoptr(PsRWLock) rw = ps_rw_lock_open (name, PS_OPEN_ANY_OWNER, &local_error);

        if (rw != NULL)
          {
            PsRwLockState *rw_state = ps_rw_lock_get_handle (rw)->state;

            state->readers = ps_rw_lock_get_n_readers (rw);
            state->owner_pid = ps_rw_lock_get_writer_pid (rw);
            state->owner_alive = ps_tool_pid_is_alive (state->owner_pid);
            state->writers_waiting = g_atomic_int_get (&rw_state->writers_waiting);
            state->consistency = g_atomic_int_get (&rw_state->writer.consistency);
          }
        break;
      }
    case PS_OBJECT_TYPE_EVENT:
    case PS_OBJECT_TYPE_BARRIER:
      ps_tool_read_rendezvous (name, type, &state->rendezvous, &local_error);
      break;
    case PS_OBJECT_TYPE_QUEUE:
      ps_tool_read_queue (name, &state->queue, &local_error);
      break;
    case PS_OBJECT_TYPE_SHARED_MEMORY:
      {
        g_autoptr(PsSharedMemory) memory = ps_shared_memory_open (name, PS_OPEN_ANY_OWNER, 0,
                                                                  &local_error);

        if (memory != NULL)
          state->data_size = ps_shared_memory_get_size (memory);
        break;
      }
    default:
      g_assert_not_reached ();
    }

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

/* As a line (list's STATE column, info's state field) ---------------------- */

char *
ps_tool_describe_object_state (PsObjectType             type,
                               const PsToolObjectState *state)
{
  switch ((int) type)
    {
    case PS_OBJECT_TYPE_MUTEX:
      if (state->consistency == PS_MUTEX_NOT_RECOVERABLE)
        return g_strdup ("not recoverable (a holder died and it was unlocked unrepaired)");
      if (state->owner_pid == 0)
        return g_strdup (state->other_namespace ? "free, of another PID namespace" : "free");
      if (state->other_namespace)
        return g_strdup_printf ("held in another PID namespace (pid %d there, not a pid here)%s",
                                (int) state->owner_pid,
                                state->consistency == PS_MUTEX_INCONSISTENT
                                  ? ", after a holder died" : "");
      return g_strdup_printf ("held by pid %d (%s)%s", (int) state->owner_pid,
                              state->owner_alive ? "alive" : "dead",
                              state->consistency == PS_MUTEX_INCONSISTENT
                                ? ", after a holder died" : "");
    case PS_OBJECT_TYPE_SEMAPHORE:
      if (state->max_value == G_MAXINT32)
        return g_strdup_printf ("value %u, unbounded", state->value);
      return g_strdup_printf ("value %u, max %u", state->value, state->max_value);
    case PS_OBJECT_TYPE_COND:
      if (state->waiters == 0)
        return g_strdup ("no waiters");
      return g_strdup_printf ("%u %s", state->waiters, state->waiters == 1 ? "waiter" : "waiters");
    case PS_OBJECT_TYPE_RW_LOCK:
      if (state->consistency == PS_MUTEX_NOT_RECOVERABLE)
        return g_strdup ("not recoverable (a writer died and it was unlocked unrepaired)");
      if (state->owner_pid != 0)
        return g_strdup_printf ("written by pid %d (%s), %u waiting writers", (int) state->owner_pid,
                                state->owner_alive ? "alive" : "dead", state->writers_waiting);
      return g_strdup_printf ("%u readers, %u waiting writers", state->readers,
                              state->writers_waiting);
    case PS_OBJECT_TYPE_EVENT:
    case PS_OBJECT_TYPE_BARRIER:
      return ps_tool_describe_rendezvous (type, &state->rendezvous);
    case PS_OBJECT_TYPE_QUEUE:
      return ps_tool_describe_queue (&state->queue);
    case PS_OBJECT_TYPE_SHARED_MEMORY:
      return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes of data", state->data_size);
    default:
      g_assert_not_reached ();
    }
}

/* As JSON ------------------------------------------------------------------ */

void
ps_tool_json_add_member_string (JsonBuilder *builder,
                                const char  *key,
                                const char  *value)
{
  json_builder_set_member_name (builder, key);
  ps_tool_json_add_string (builder, value);
}

void
ps_tool_json_add_member_int (JsonBuilder *builder,
                             const char  *key,
                             gint64       value)
{
  json_builder_add_int_value (json_builder_set_member_name (builder, key), value);
}

void
ps_tool_json_add_member_bool (JsonBuilder *builder,
                              const char  *key,
                              gboolean     value)
{
  json_builder_add_boolean_value (json_builder_set_member_name (builder, key), value);
}

void
ps_tool_json_add_member_null (JsonBuilder *builder,
                              const char  *key)
{
  json_builder_add_null_value (json_builder_set_member_name (builder, key));
}

void
ps_tool_json_add_object_state (JsonBuilder             *builder,
                               PsObjectType             type,
                               const PsToolObjectState *state)
{
  json_builder_begin_object (builder);
  switch ((int) type)
    {
    case PS_OBJECT_TYPE_MUTEX:
      ps_tool_json_add_member_bool (builder, "recursive", state->recursive);
      ps_tool_json_add_member_bool (builder, "held", state->owner_pid != 0);
      if (state->other_namespace)
        ps_tool_json_add_member_bool (builder, "other_pid_namespace", TRUE);
      if (state->owner_pid != 0 && state->other_namespace)
        {
          ps_tool_json_add_member_int (builder, "owner_pid", state->owner_pid);
          ps_tool_json_add_member_null (builder, "owner_alive");
        }
      else if (state->owner_pid != 0)
        {
          ps_tool_json_add_member_int (builder, "owner_pid", state->owner_pid);
          ps_tool_json_add_member_bool (builder, "owner_alive", state->owner_alive);
        }
      else
        {
          ps_tool_json_add_member_null (builder, "owner_pid");
          ps_tool_json_add_member_null (builder, "owner_alive");
        }
      break;
    case PS_OBJECT_TYPE_SEMAPHORE:
      ps_tool_json_add_member_int (builder, "value", state->value);
      ps_tool_json_add_member_int (builder, "max_value", state->max_value);
      ps_tool_json_add_member_bool (builder, "bounded", state->max_value != G_MAXINT32);
      break;
    case PS_OBJECT_TYPE_COND:
      ps_tool_json_add_member_int (builder, "waiters", state->waiters);
      break;
    case PS_OBJECT_TYPE_RW_LOCK:
      ps_tool_json_add_member_int (builder, "readers", state->readers);
      ps_tool_json_add_member_int (builder, "writers_waiting", state->writers_waiting);
      if (state->owner_pid != 0)
        ps_tool_json_add_member_int (builder, "writer_pid", state->owner_pid);
      else
        ps_tool_json_add_member_null (builder, "writer_pid");
      ps_tool_json_add_member_bool (builder, "not_recoverable",
                                    state->consistency == PS_MUTEX_NOT_RECOVERABLE);
      break;
    case PS_OBJECT_TYPE_EVENT:
    case PS_OBJECT_TYPE_BARRIER:
      ps_tool_json_add_rendezvous (builder, type, &state->rendezvous);
      break;
    case PS_OBJECT_TYPE_QUEUE:
      ps_tool_json_add_queue (builder, &state->queue);
      break;
    case PS_OBJECT_TYPE_SHARED_MEMORY:
      ps_tool_json_add_member_int (builder, "size", (gint64) state->data_size);
      break;
    default:
      g_assert_not_reached ();
    }
  json_builder_end_object (builder);
}

/* As info's fields --------------------------------------------------------- */

void
ps_tool_print_field (const char *key,
                     const char *value)
{
  g_autofree char *label = g_strconcat (key, ":", NULL);

  g_print ("%-14s%s\n", label, value);
}

void
ps_tool_print_fieldf (const char *key,
                      const char *format,
                      ...)
{
  g_autofree char *value = NULL;
  va_list args;

  va_start (args, format);
  value = g_strdup_vprintf (format, args);
  va_end (args);

  ps_tool_print_field (key, value);
}

void
ps_tool_print_object_state (PsObjectType             type,
                            const PsToolObjectState *state)
{
  switch ((int) type)
    {
    case PS_OBJECT_TYPE_MUTEX:
      ps_tool_print_field ("recursive", state->recursive ? "yes" : "no");
      if (state->owner_pid != 0 && state->other_namespace)
        {
          ps_tool_print_fieldf ("holder pid", "%d (in its PID namespace)",
                                (int) state->owner_pid);
          ps_tool_print_field ("holder alive", "unknown (another PID namespace)");
        }
      else if (state->owner_pid != 0)
        {
          ps_tool_print_fieldf ("holder pid", "%d", (int) state->owner_pid);
          ps_tool_print_field ("holder alive", state->owner_alive ? "yes" : "no");
        }
      break;
    case PS_OBJECT_TYPE_SEMAPHORE:
      ps_tool_print_fieldf ("value", "%u", state->value);
      if (state->max_value == G_MAXINT32)
        ps_tool_print_fieldf ("max value", "%u (unbounded)", state->max_value);
      else
        ps_tool_print_fieldf ("max value", "%u", state->max_value);
      break;
    case PS_OBJECT_TYPE_COND:
      ps_tool_print_fieldf ("waiters", "%u", state->waiters);
      break;
    case PS_OBJECT_TYPE_RW_LOCK:
      ps_tool_print_fieldf ("readers", "%u", state->readers);
      if (state->owner_pid != 0)
        ps_tool_print_fieldf ("writer pid", "%d (%s)", (int) state->owner_pid,
                              state->owner_alive ? "alive" : "dead");
      else
        ps_tool_print_field ("writer pid", "none");
      ps_tool_print_fieldf ("waiting", "%u writers", state->writers_waiting);
      break;
    case PS_OBJECT_TYPE_EVENT:
      ps_tool_print_field ("set", state->rendezvous.is_set ? "yes" : "no");
      ps_tool_print_field ("auto-reset", state->rendezvous.auto_reset ? "yes" : "no");
      break;
    case PS_OBJECT_TYPE_BARRIER:
      ps_tool_print_fieldf ("parties", "%u", state->rendezvous.parties);
      ps_tool_print_fieldf ("waiting", "%u", state->rendezvous.waiting);
      ps_tool_print_field ("broken", state->rendezvous.broken ? "yes" : "no");
      break;
    case PS_OBJECT_TYPE_QUEUE:
      ps_tool_print_queue (ps_tool_print_field, &state->queue);
      break;
    case PS_OBJECT_TYPE_SHARED_MEMORY:
      ps_tool_print_fieldf ("data size", "%" G_GUINT64_FORMAT, state->data_size);
      break;
    default:
      g_assert_not_reached ();
    }
}
