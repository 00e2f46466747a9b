# SPDX-License-Identifier: LGPL-2.1-or-later
"""PsSharedMemory shared by file descriptor through the typelib: dup_fd and
new_from_fd, read-only descriptors, seals, a Gio.UnixConnection, and a
Gio.UnixFDList over a Gio.DBusConnection on a private bus."""
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import threading
import unittest

import gi
gi.require_version('Ps', '1')
from gi.repository import Gio, GLib, Ps  # noqa: E402

TIME_SCALE = int(os.environ.get('PS_TEST_TIME_SCALE', '1') or '1')


def io_error(code):
    return lambda e: e.matches(Gio.io_error_quark(), code)


class FdTest(unittest.TestCase):
    def assertIOError(self, code, func, *args):
        with self.assertRaises(GLib.Error) as raised:
            func(*args)
        self.assertTrue(raised.exception.matches(Gio.io_error_quark(), code),
                        raised.exception.message)

    def test_round_trip(self):
        memory = Ps.SharedMemory.new(4096)
        fd = memory.dup_fd()
        self.assertIsInstance(fd, int)
        self.assertTrue(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
        try:
            received = Ps.SharedMemory.new_from_fd(fd)
        finally:
            os.close(fd)               # not taken by new_from_fd
        self.assertEqual(received.get_size(), 4096)
        self.assertFalse(received.is_read_only())
        memory.set_int64(8, 1234)
        self.assertEqual(received.get_int64(8), 1234)
        received.buf[100] = 7
        self.assertEqual(memory.buf[100], 7)

    def test_named_has_no_descriptor(self):
        name = '/ps-pytest-fd-%d' % os.getpid()
        memory = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 64)
        Ps.unlink(name)
        self.assertIOError(Gio.IOErrorEnum.NOT_SUPPORTED, memory.dup_fd)

    def test_read_only(self):
        memory = Ps.SharedMemory.new(4096)
        Ps.Mutex.new_at(memory, 0)
        memory.set_int64(Ps.MUTEX_SIZE, 5)
        fd = memory.dup_read_only_fd()
        try:
            reader = Ps.SharedMemory.new_from_fd(fd)
        finally:
            os.close(fd)
        self.assertTrue(reader.is_read_only())
        self.assertEqual(reader.get_int64(Ps.MUTEX_SIZE), 5)
        self.assertIOError(Gio.IOErrorEnum.READ_ONLY, reader.set_int64, Ps.MUTEX_SIZE, 6)
        self.assertIOError(Gio.IOErrorEnum.READ_ONLY, reader.write_variant, 512,
                           GLib.Variant('s', 'no'))
        self.assertIOError(Gio.IOErrorEnum.READ_ONLY, Ps.Mutex.attach, reader, 0)
        view = reader.buf
        self.assertTrue(view.readonly)
        with self.assertRaises(TypeError):
            view[0] = 1
        # The writer can only give read-only descriptors from now on.
        self.assertIOError(Gio.IOErrorEnum.READ_ONLY, memory.dup_fd)
        memory.set_int64(Ps.MUTEX_SIZE, 6)
        self.assertEqual(reader.get_int64(Ps.MUTEX_SIZE), 6)

    def test_seal(self):
        memory = Ps.SharedMemory.new(4096)
        memory.seal()
        fd = memory.dup_fd()
        try:
            with self.assertRaises(OSError):
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    def test_bad_descriptors(self):
        r, w = os.pipe()
        try:
            self.assertIOError(Gio.IOErrorEnum.NOT_REGULAR_FILE, Ps.SharedMemory.new_from_fd, r)
        finally:
            os.close(r)
            os.close(w)
        self.assertIOError(Gio.IOErrorEnum.CLOSED, Ps.SharedMemory.new_from_fd, r)
        d = os.open('/', os.O_RDONLY | os.O_DIRECTORY)
        try:
            self.assertIOError(Gio.IOErrorEnum.IS_DIRECTORY, Ps.SharedMemory.new_from_fd, d)
        finally:
            os.close(d)

    def test_unix_connection(self):
        a, b = socket.socketpair()
        memory = Ps.SharedMemory.new(64)
        memory.set_uint8(0, 42)

        def connection(sock):
            gsocket = Gio.Socket.new_from_fd(sock.detach())
            return gsocket.connection_factory_create_connection()

        sender, receiver = connection(a), connection(b)
        fd = memory.dup_fd()
        sender.send_fd(fd, None)
        os.close(fd)
        fd = receiver.receive_fd(None)
        try:
            received = Ps.SharedMemory.new_from_fd(fd)
        finally:
            os.close(fd)
        self.assertEqual(received.get_uint8(0), 42)

    @unittest.skipUnless(shutil.which('dbus-daemon'), 'no dbus-daemon')
    def test_dbus_handle(self):
        daemon = subprocess.Popen(['dbus-daemon', '--session', '--nofork', '--print-address'],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(daemon.wait)
        self.addCleanup(daemon.terminate)
        address = daemon.stdout.readline().strip()
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                 Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        service = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
        client = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)

        memory = Ps.SharedMemory.new(Ps.SEMAPHORE_SIZE)
        semaphore = Ps.Semaphore.new_at(memory, 0, 0)
        node = Gio.DBusNodeInfo.new_for_xml(
            "<node><interface name='org.procshared.Test'><method name='Get'>"
            "<arg type='h' direction='out'/></method></interface></node>")

        def method_call(connection, sender, path, interface, method, parameters, invocation):
            fd_list = Gio.UnixFDList.new()
            handle = memory.to_handle(fd_list)
            invocation.return_value_with_unix_fd_list(GLib.Variant.new_tuple(handle), fd_list)

        service.register_object('/org/procshared/Test', node.interfaces[0], method_call,
                                None, None)
        loop = GLib.MainLoop()
        result = {}

        def done(connection, res):
            try:
                result['reply'] = connection.call_with_unix_fd_list_finish(res)
            finally:
                loop.quit()

        client.call_with_unix_fd_list(service.get_unique_name(), '/org/procshared/Test',
                                      'org.procshared.Test', 'Get', None,
                                      GLib.VariantType('(h)'), Gio.DBusCallFlags.NONE,
                                      10000 * TIME_SCALE, None, None, done)
        GLib.timeout_add_seconds(30 * TIME_SCALE, loop.quit)
        loop.run()
        reply, fd_list = result['reply']
        received = Ps.SharedMemory.new_from_handle(reply.get_child_value(0), fd_list)
        remote = Ps.Semaphore.attach(received, 0)
        remote.release()
        self.assertTrue(semaphore.acquire(timeout=0))


if __name__ == '__main__':
    signal.alarm(120 * TIME_SCALE)
    unittest.main()
