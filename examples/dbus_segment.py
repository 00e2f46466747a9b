# SPDX-License-Identifier: LGPL-2.1-or-later
"""dbus_segment.py: a segment with a Ps.Mutex and a Ps.Semaphore inside it,
handed from a service to a client over D-Bus as a file descriptor
(dbus-segment.c in Python).

Names in /dev/shm do not cross sandboxes; descriptors passed over D-Bus
do. The service answers GetSegment with a handle ('h') and a
Gio.UnixFDList; the client, another process that shares nothing else with
it, rebuilds the segment with Ps.SharedMemory.new_from_handle(), attaches
to the mutex and the semaphore, adds to a counter under the mutex and
releases the semaphore. The example starts its own private bus
(dbus-daemon --session --print-address); run without arguments it is the
service, and it runs itself with --client ADDRESS as the client."""

import os
import signal
import subprocess
import sys
import threading

import gi
gi.require_version('Ps', '1')
from gi.repository import Gio, GLib, Ps  # noqa: E402

BUS_NAME = 'org.procshared.Example'
OBJECT_PATH = '/org/procshared/Example'
INTERFACE = 'org.procshared.Example'
XML = '''<node><interface name='%s'>
  <method name='GetSegment'><arg type='h' name='segment' direction='out'/></method>
</interface></node>''' % INTERFACE

MUTEX = 0
SEMAPHORE = Ps.MUTEX_SIZE
COUNTER = Ps.MUTEX_SIZE + Ps.SEMAPHORE_SIZE
ROUNDS = 1000

signal.alarm(30)


def connect(address):
    flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
             Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    return Gio.DBusConnection.new_for_address_sync(address, flags, None, None)


def client(address):
    bus = connect(address)
    reply, fd_list = bus.call_with_unix_fd_list_sync(
        BUS_NAME, OBJECT_PATH, INTERFACE, 'GetSegment', None, GLib.VariantType('(h)'),
        Gio.DBusCallFlags.NONE, 10000, None, None)
    memory = Ps.SharedMemory.new_from_handle(reply.get_child_value(0), fd_list)
    mutex = Ps.Mutex.attach(memory, MUTEX)
    done = Ps.Semaphore.attach(memory, SEMAPHORE)
    for _ in range(ROUNDS):
        with mutex:
            memory.set_int64(COUNTER, memory.get_int64(COUNTER) + 1)
    print('client (pid %d): added %d to the counter' % (os.getpid(), ROUNDS), flush=True)
    done.release()
    return 0


def service():
    daemon = subprocess.Popen(['dbus-daemon', '--session', '--nofork', '--print-address'],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = daemon.stdout.readline().strip()
        bus = connect(address)

        memory = Ps.SharedMemory.new(COUNTER + 8)
        mutex = Ps.Mutex.new_at(memory, MUTEX)
        done = Ps.Semaphore.new_at(memory, SEMAPHORE, 0)
        try:
            memory.seal()          # a client cannot shrink it under us
        except GLib.Error as e:    # only Linux memfds have seals
            print('service: not sealed (%s)' % e.message)

        def method_call(connection, sender, path, interface, method, parameters, invocation):
            fd_list = Gio.UnixFDList.new()
            handle = memory.to_handle(fd_list)
            invocation.return_value_with_unix_fd_list(GLib.Variant.new_tuple(handle), fd_list)

        node = Gio.DBusNodeInfo.new_for_xml(XML)
        bus.register_object(OBJECT_PATH, node.interfaces[0], method_call, None, None)
        bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                      'RequestName', GLib.Variant('(su)', (BUS_NAME, 4)), None,
                      Gio.DBusCallFlags.NONE, 10000, None)

        client_process = subprocess.Popen([sys.executable, __file__, '--client', address])
        loop = GLib.MainLoop()
        result = {}

        def await_client():
            result['done'] = done.acquire(timeout=10)
            GLib.idle_add(loop.quit)

        threading.Thread(target=await_client).start()
        loop.run()
        with mutex:
            counter = memory.get_int64(COUNTER)
        print('service (pid %d): the counter is %d' % (os.getpid(), counter))
        ok = result['done'] and counter == ROUNDS and client_process.wait() == 0
        return 0 if ok else 1
    finally:
        daemon.terminate()
        daemon.wait()


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--client':
        sys.exit(client(sys.argv[2]))
    sys.exit(service())
