/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * dbus-segment: a segment, with a PsMutex and a PsSemaphore inside it,
 * handed from a service to a client over D-Bus as a file descriptor.
 *
 * Names in /dev/shm do not cross sandboxes (a Flatpak app has its own
 * /dev/shm); file descriptors passed over D-Bus do. The service makes an
 * anonymous segment, places a mutex, a semaphore and a counter in it,
 * seals it, and answers the method GetSegment with a handle ("h") and a
 * GUnixFDList. The client, a separate program that shares nothing else
 * with the service, rebuilds the segment with
 * ps_shared_memory_new_from_handle(), attaches to the mutex and the
 * semaphore, adds to the counter under the mutex and releases the
 * semaphore, which the service awaits without blocking its main loop.
 *
 * The example starts its own private bus (dbus-daemon --session
 * --print-address), so it needs no desktop session; run without
 * arguments, it is the service and spawns the client (itself, with
 * --client ADDRESS).
 */

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <procshared/procshared.h>

#define BUS_NAME       "org.procshared.Example"
#define OBJECT_PATH    "/org/procshared/Example"
#define INTERFACE_NAME "org.procshared.Example"

#define MUTEX_OFFSET     0
#define SEMAPHORE_OFFSET PS_MUTEX_SIZE
#define COUNTER_OFFSET   (PS_MUTEX_SIZE + PS_SEMAPHORE_SIZE)
#define SEGMENT_SIZE     (COUNTER_OFFSET + sizeof (gint64))

#define ROUNDS           1000
#define TIMEOUT_US       (10 * G_USEC_PER_SEC)
#define WATCHDOG_SECONDS 30

static const char introspection_xml[] =
  "<node>"
  "  <interface name='" INTERFACE_NAME "'>"
  "    <method name='GetSegment'>"
  "      <arg type='h' name='segment' direction='out'/>"
  "    </method>"
  "  </interface>"
  "</node>";

static GDBusConnection *
connect_to_bus (const char  *address,
                GError     **error)
{
  return g_dbus_connection_new_for_address_sync (address,
                                                 G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                 NULL, NULL, error);
}

/* The client ----------------------------------------------------------------- */

static int
run_client (const char *address)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GUnixFDList) fd_list = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) handle = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) done = NULL;

  bus = connect_to_bus (address, &error);
  if (bus == NULL)
    goto failed;

  reply = g_dbus_connection_call_with_unix_fd_list_sync (bus, BUS_NAME, OBJECT_PATH,
                                                         INTERFACE_NAME, "GetSegment",
                                                         NULL, G_VARIANT_TYPE ("(h)"),
                                                         G_DBUS_CALL_FLAGS_NONE, 10000,
                                                         NULL, &fd_list, NULL, &error);
  if (reply == NULL)
    goto failed;
  handle = g_variant_get_child_value (reply, 0);

  /* The segment, and the objects in it, from the descriptor alone. */
  memory = ps_shared_memory_new_from_handle (handle, fd_list, &error);
  if (memory == NULL)
    goto failed;
  mutex = ps_mutex_attach (memory, MUTEX_OFFSET, &error);
  if (mutex == NULL)
    goto failed;
  done = ps_semaphore_attach (memory, SEMAPHORE_OFFSET, &error);
  if (done == NULL)
    goto failed;

  for (guint i = 0; i < ROUNDS; i++)
    {
      gint64 counter;

      if (!ps_mutex_lock (mutex, TIMEOUT_US, NULL, &error))
        goto failed;
      counter = ps_shared_memory_get_int64 (memory, COUNTER_OFFSET, &error);
      if (error != NULL ||
          !ps_shared_memory_set_int64 (memory, COUNTER_OFFSET, counter + 1, &error))
        {
          ps_mutex_unlock (mutex, NULL);
          goto failed;
        }
      if (!ps_mutex_unlock (mutex, &error))
        goto failed;
    }
  g_print ("client (pid %d): added %d to the counter\n", (int) getpid (), ROUNDS);
  if (!ps_semaphore_release (done, &error))
    goto failed;
  return 0;

failed:
  g_printerr ("client: %s\n", error->message);
  return 1;
}

/* The service ---------------------------------------------------------------- */

typedef struct
{
  PsSharedMemory *memory;
  GMainLoop      *loop;
  gboolean        client_done;
  GError         *error;
} Service;

static void
handle_method_call (GDBusConnection       *connection,
                    const char            *sender,
                    const char            *object_path,
                    const char            *interface_name,
                    const char            *method_name,
                    GVariant              *parameters,
                    GDBusMethodInvocation *invocation,
                    gpointer               user_data)
{
  Service *service = user_data;
  g_autoptr(GUnixFDList) fd_list = g_unix_fd_list_new ();
  g_autoptr(GVariant) handle = NULL;
  GError *error = NULL;

  handle = ps_shared_memory_to_handle (service->memory, fd_list, &error);
  if (handle == NULL)
    {
      g_dbus_method_invocation_take_error (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value_with_unix_fd_list (invocation,
                                                           g_variant_new ("(@h)", handle),
                                                           fd_list);
}

static void
client_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Service *service = user_data;

  service->client_done = ps_semaphore_acquire_finish (PS_SEMAPHORE (source), result,
                                                      &service->error);
  g_main_loop_quit (service->loop);
}

/* A private message bus: dbus-daemon prints its address on its standard
 * output. */
static char *
start_bus (GPid     *out_pid,
           GError **error)
{
  const char *argv[] = { "dbus-daemon", "--session", "--nofork", "--print-address", NULL };
  g_autoptr(GIOChannel) channel = NULL;
  char *address = NULL;
  int out_fd;

  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                 G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                 NULL, NULL, out_pid, NULL, &out_fd, NULL, error))
    return NULL;
  channel = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  if (g_io_channel_read_line (channel, &address, NULL, NULL, error) != G_IO_STATUS_NORMAL)
    return NULL;
  g_strstrip (address);
  return address;
}

static int
run_service (const char *self)
{
  static const GDBusInterfaceVTable vtable = { handle_method_call, NULL, NULL, { 0 } };
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusNodeInfo) node = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GVariant) owned = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) done = NULL;
  g_autofree char *address = NULL;
  Service service = { NULL, NULL, FALSE, NULL };
  const char *client_argv[] = { self, "--client", NULL, NULL };
  GPid bus_pid = 0, client_pid = 0;
  gint64 counter;
  g_autofree char *dbus_daemon = g_find_program_in_path ("dbus-daemon");
  int status = 0, result = 1;

  if (dbus_daemon == NULL)
    {
      g_print ("No dbus-daemon to run a private bus with: skipped\n");
      return 77;   /* a skip, for meson */
    }
  address = start_bus (&bus_pid, &error);
  if (address == NULL)
    goto out;
  bus = connect_to_bus (address, &error);
  if (bus == NULL)
    goto out;

  /* The segment, with its objects, sealed so that a client cannot
   * shrink it under us. */
  service.memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  if (service.memory == NULL)
    goto out;
  mutex = ps_mutex_new_at (service.memory, MUTEX_OFFSET, &error);
  if (mutex == NULL)
    goto out;
  done = ps_semaphore_new_at (service.memory, SEMAPHORE_OFFSET, 0, &error);
  if (done == NULL)
    goto out;
  if (!ps_shared_memory_seal (service.memory, &error))
    {
      /* Only Linux memfds have seals: the service is then guarded
       * against truncation instead. */
      g_print ("service: not sealed (%s)\n", error->message);
      g_clear_error (&error);
    }

  node = g_dbus_node_info_new_for_xml (introspection_xml, &error);
  if (node == NULL ||
      g_dbus_connection_register_object (bus, OBJECT_PATH, node->interfaces[0], &vtable,
                                         &service, NULL, &error) == 0)
    goto out;
  owned = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", BUS_NAME, 0x4 /* do not queue */),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, 10000,
                                       NULL, &error);
  if (owned == NULL)
    goto out;

  /* The client: another program, which gets everything over D-Bus. */
  client_argv[2] = address;
  if (!g_spawn_async (NULL, (char **) client_argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                      NULL, NULL, &client_pid, &error))
    goto out;

  service.loop = g_main_loop_new (NULL, FALSE);
  ps_semaphore_acquire_async (done, TIMEOUT_US, NULL, client_done_cb, &service);
  g_main_loop_run (service.loop);
  g_main_loop_unref (service.loop);
  if (!service.client_done)
    {
      g_propagate_error (&error, service.error);
      goto out;
    }

  if (!ps_mutex_lock (mutex, TIMEOUT_US, NULL, &error))
    goto out;
  counter = ps_shared_memory_get_int64 (service.memory, COUNTER_OFFSET, &error);
  ps_mutex_unlock (mutex, NULL);
  g_print ("service (pid %d): the counter is %" G_GINT64_FORMAT "\n", (int) getpid (), counter);
  result = counter == ROUNDS ? 0 : 1;

out:
  if (error != NULL)
    g_printerr ("service: %s\n", error->message);
  if (client_pid != 0)
    {
      waitpid (client_pid, &status, 0);
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        result = 1;
    }
  g_clear_object (&bus);
  if (bus_pid != 0)
    {
      kill (bus_pid, SIGTERM);
      waitpid (bus_pid, NULL, 0);
    }
  g_clear_object (&service.memory);
  return result;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);

  alarm (WATCHDOG_SECONDS);
  if (argc == 3 && strcmp (argv[1], "--client") == 0)
    return run_client (argv[2]);
  return run_service (self != NULL ? self : argv[0]);
}
