# SPDX-License-Identifier: LGPL-2.1-or-later
"""PsSharedMemory, names and errors through the typelib, across processes."""
import ctypes
import math
import os
import random
import signal
import struct
import subprocess
import sys
import time
import unittest
import warnings

import gi
gi.require_version('Ps', '1')
from gi.repository import Gio, GLib, GObject, Ps  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, 'peer_shm.py')
TIME_SCALE = int(os.environ.get('PS_TEST_TIME_SCALE', '1') or '1')
PEER_TIMEOUT = 60 * TIME_SCALE

G_MAXSIZE = 2**64 - 1
G_MAXSSIZE = 2**63 - 1

# Must match peer_shm.py (and the C peer in test-shared-memory.c).
PEER_SIZE = 4096
PEER_VARIANT_OFFSET = 512
PEER_INT64_OFFSET = 1024
PEER_INT64_VALUE = -0x123456789abcdef
PEER_REPLY_OFFSET = 2048

_counter = 0


def unique_name(what):
    global _counter
    _counter += 1
    return '/ps-pytest-%s-%d-%d' % (what, os.getpid(), _counter)


def dev_shm(name):
    return '/dev/shm' + name


def run_peer(*args):
    """Runs peer_shm.py in a new interpreter, bounded in time."""
    return subprocess.run([sys.executable, PEER] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=PEER_TIMEOUT)


def c_peer_path():
    builddir = os.environ.get('G_TEST_BUILDDIR')
    if not builddir:
        return None
    path = os.path.join(builddir, 'test-shared-memory')
    return path if os.access(path, os.X_OK) else None


def wait_child(pid, seconds):
    """Reaps @pid within @seconds (killing it otherwise); returns its status."""
    deadline = time.monotonic() + seconds * TIME_SCALE
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError('child %d did not finish in time' % pid)
        time.sleep(0.001)


def fork_child(func, seconds=30):
    """Runs func() in a forked child; returns its exit code (0 = passed)."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            signal.alarm(seconds * TIME_SCALE)
            code = func()
        except BaseException:  # noqa: B902 - report anything as a failure
            import traceback
            traceback.print_exc()
            code = 98
        finally:
            os._exit(code)
    status = wait_child(pid, seconds)
    return os.waitstatus_to_exitcode(status)


VARIANT_TEXTS = [
    "true",
    "byte 0xff",
    "int16 -32768",
    "uint16 65535",
    "int32 -2147483648",
    "uint32 4294967295",
    "int64 -9223372036854775808",
    "uint64 18446744073709551615",
    "handle 3",
    "double -1.25e-300",
    "''",
    "'hello, world'",
    "'héllo ✓ UTF-8'",
    "objectpath '/org/example/Object'",
    "signature 'a{sv}(ii)'",
    "@as []",
    "['a', 'bb', 'ccc']",
    "[[1, 2], [], [3]]",
    "@ay []",
    "b'bytes\\x01'",
    "@a{sv} {}",
    "{'int': <1>, 'str': <'x'>, 'nested': <{'k': <[1.5, 2.5]>}>, 'nothing': <@mi nothing>}",
    "{1: 'one', 2: 'two'}",
    "(1, 'two', 3.0, true, byte 4)",
    "()",
    "((1, (2, (3, 'deep'))), [(4, 'x')])",
    "@mi nothing",
    "@mi just 4",
    "@ms 'maybe'",
    "@mms just nothing",
    "<42>",
    "<<<'triple'>>>",
    "[<1>, <'a'>, <(1, 2)>]",
    "@a(sv) [('a', <1>), ('b', <@ay []>)]",
]


def parse(text):
    return GLib.Variant.parse(None, text, None, None)


class PsTestCase(unittest.TestCase):
    def assertPsError(self, ctx, code):
        e = ctx.exception
        self.assertEqual(e.domain, 'ps-error-quark', e.message)
        self.assertEqual(e.code, code, e.message)
        self.assertTrue(e.matches(Ps.error_quark(), code))

    def assertIOError(self, ctx, code):
        e = ctx.exception
        self.assertEqual(e.domain, 'g-io-error-quark', e.message)
        self.assertTrue(e.matches(Gio.io_error_quark(), code), e.message)

    def snapshot(self, mem):
        return mem.read(0, mem.get_size()).get_data()

    def fill_random(self, mem, seed):
        rng = random.Random(seed)
        mem.write(0, rng.randbytes(mem.get_size()))
        return self.snapshot(mem)

    def named(self, what, flags=Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, size=4096):
        name = unique_name(what)
        mem = Ps.SharedMemory.open(name, flags, size)
        self.addCleanup(self.unlink_quietly, name)
        return name, mem

    @staticmethod
    def unlink_quietly(name):
        try:
            Ps.unlink(name)
        except GLib.Error:
            pass


class ErrorsTest(PsTestCase):
    def test_quark(self):
        self.assertEqual(GLib.quark_to_string(Ps.error_quark()), 'ps-error-quark')
        self.assertEqual(Ps.error_quark(), GLib.quark_from_string('ps-error-quark'))

    def test_error_enum_registered(self):
        gtype = Ps.Error.__gtype__
        self.assertTrue(gtype.is_a(GObject.TYPE_ENUM))
        self.assertEqual(gtype.name, 'PsError')
        expected = ['FAILED', 'OWNER_DEAD', 'NOT_RECOVERABLE', 'NOT_OWNER',
                    'WOULD_DEADLOCK', 'OVERFLOW', 'WRONG_TYPE', 'INCOMPATIBLE',
                    'CORRUPT', 'OUT_OF_BOUNDS', 'BROKEN']
        codes = set()
        for short in expected:
            member = getattr(Ps.Error, short)
            self.assertEqual(member.value_name, 'PS_ERROR_' + short)
            codes.add(int(member))
        self.assertEqual(len(codes), len(expected))
        self.assertEqual(len(Ps.Error.__enum_values__), len(expected))

    def test_open_flags_registered(self):
        gtype = Ps.OpenFlags.__gtype__
        self.assertTrue(gtype.is_a(GObject.TYPE_FLAGS))
        self.assertEqual(gtype.name, 'PsOpenFlags')
        self.assertEqual(int(Ps.OpenFlags.NONE), 0)
        self.assertEqual(int(Ps.OpenFlags.CREATE) & int(Ps.OpenFlags.EXCLUSIVE), 0)
        self.assertNotEqual(int(Ps.OpenFlags.CREATE), 0)
        self.assertNotEqual(int(Ps.OpenFlags.EXCLUSIVE), 0)

    def test_error_from_call_is_catchable(self):
        mem = Ps.SharedMemory.new(8)
        with self.assertRaises(GLib.Error) as ctx:
            mem.read(9, 0)
        self.assertPsError(ctx, Ps.Error.OUT_OF_BOUNDS)


class AnonymousTest(PsTestCase):
    def test_zero_filled(self):
        for size in (1, 63, 4096, 100001):
            mem = Ps.SharedMemory.new(size)
            self.assertEqual(mem.get_size(), size)
            self.assertIsNone(mem.get_name())
            self.assertEqual(mem.read(0, size).get_data(), bytes(size))

    def test_properties(self):
        mem = Ps.SharedMemory.new(77)
        self.assertIsNone(mem.props.name)
        self.assertEqual(mem.props.size, 77)
        self.assertEqual(mem.props.open_flags, Ps.OpenFlags.NONE)
        self.assertEqual(mem.props.mode, 0o600)
        self.assertIsInstance(mem, Gio.Initable)

    def test_fork_child_writes_parent_reads(self):
        mem = Ps.SharedMemory.new(8192)
        mem.set_int32(0, 0x01020304)

        def child():
            if mem.get_int32(0) != 0x01020304:
                return 1
            mem.write(8, bytes((i ^ 0xa5) & 0xff for i in range(1000)))
            mem.set_double(2001, -1.5e300)
            mem.write_variant(3000, GLib.Variant('(sx)', ('child', -2**63)))
            return 0

        self.assertEqual(fork_child(child), 0)
        self.assertEqual(mem.read(8, 1000).get_data(),
                         bytes((i ^ 0xa5) & 0xff for i in range(1000)))
        self.assertEqual(mem.get_double(2001), -1.5e300)
        self.assertEqual(mem.read_variant(3000).unpack(), ('child', -2**63))


class SizeTest(PsTestCase):
    def test_zero(self):
        with self.assertRaises(GLib.Error) as ctx:
            Ps.SharedMemory.new(0)
        self.assertIOError(ctx, Gio.IOErrorEnum.INVALID_ARGUMENT)
        name = unique_name('zero')
        for flags in (Ps.OpenFlags.CREATE, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE):
            with self.assertRaises(GLib.Error) as ctx:
                Ps.SharedMemory.open(name, flags, 0)
            self.assertIOError(ctx, Gio.IOErrorEnum.INVALID_ARGUMENT)
            self.assertFalse(os.path.exists(dev_shm(name)))

    def test_too_large(self):
        for size in (G_MAXSIZE, G_MAXSIZE - 1, G_MAXSSIZE, G_MAXSSIZE - 63, 2**62):
            name = unique_name('huge')
            calls = [lambda: Ps.SharedMemory.new(size),
                     lambda: Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE, size),
                     lambda: Ps.SharedMemory.open(
                         name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, size)]
            for call in calls:
                with self.subTest(size=size), warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter('always')
                    with self.assertRaises(GLib.Error) as ctx:
                        call()
                    self.assertIOError(ctx, Gio.IOErrorEnum.INVALID_ARGUMENT)
                    # A clear GError, not a GLib warning about the property.
                    self.assertEqual([str(w.message) for w in caught], [])
                    self.assertFalse(os.path.exists(dev_shm(name)))


class NamedTest(PsTestCase):
    def test_create_and_open(self):
        name, creator = self.named('named', size=1000)
        self.assertEqual(creator.get_name(), name)
        self.assertEqual(creator.get_size(), 1000)
        self.assertEqual(creator.props.name, name)
        self.assertEqual(creator.props.size, 1000)
        self.assertEqual(creator.props.open_flags,
                         Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
        self.assertEqual(creator.props.mode, 0o600)
        self.assertEqual(creator.read(0, 1000).get_data(), bytes(1000))
        creator.set_int64(992, 2**63 - 1)

        opener = Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0)
        self.assertEqual(opener.get_size(), 1000)
        self.assertEqual(opener.props.open_flags, Ps.OpenFlags.NONE)
        self.assertEqual(opener.get_int64(992), 2**63 - 1)
        opener.set_int32(5, -77)
        self.assertEqual(creator.get_int32(5), -77)

        self.assertEqual(Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 10).get_size(), 1000)
        with self.assertRaises(GLib.Error) as ctx:
            Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 1001)
        self.assertIOError(ctx, Gio.IOErrorEnum.INVALID_ARGUMENT)

    def test_errors(self):
        name = unique_name('errors')
        with self.assertRaises(GLib.Error) as ctx:
            Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0)
        self.assertIOError(ctx, Gio.IOErrorEnum.NOT_FOUND)
        with self.assertRaises(GLib.Error) as ctx:
            Ps.SharedMemory.open(name, Ps.OpenFlags.EXCLUSIVE, 100)
        self.assertIOError(ctx, Gio.IOErrorEnum.INVALID_ARGUMENT)
        self.assertFalse(os.path.exists(dev_shm(name)))

        mem = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 100)
        self.addCleanup(self.unlink_quietly, name)
        mem.set_uint8(50, 0xee)
        with self.assertRaises(GLib.Error) as ctx:
            Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 100)
        self.assertIOError(ctx, Gio.IOErrorEnum.EXISTS)
        with self.assertRaises(GLib.Error) as ctx:
            Ps.SharedMemory.open(name, Ps.OpenFlags.EXCLUSIVE, 0)
        self.assertIOError(ctx, Gio.IOErrorEnum.INVALID_ARGUMENT)
        self.assertEqual(mem.get_uint8(50), 0xee)

    def test_mode_default_whatever_the_umask(self):
        for mask in (0, 0o022, 0o077):
            name = unique_name('mode')
            old = os.umask(mask)
            try:
                mem = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE, 64)
            finally:
                os.umask(old)
            self.addCleanup(self.unlink_quietly, name)
            self.assertEqual(mem.props.mode, 0o600)
            self.assertEqual(os.stat(dev_shm(name)).st_mode & 0o7777, 0o600)

    def test_mode_property(self):
        for mode in (0o640, 0o666, 0o604, 0o400):
            for mask in (0, 0o077):
                name = unique_name('mode-prop')
                mem = Ps.SharedMemory(name=name,
                                      open_flags=Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE,
                                      size=128, mode=mode)
                old = os.umask(mask)
                try:
                    self.assertTrue(mem.init(None))
                finally:
                    os.umask(old)
                self.addCleanup(self.unlink_quietly, name)
                self.assertEqual(mem.props.mode, mode)
                self.assertEqual(mem.get_size(), 128)
                self.assertEqual(os.stat(dev_shm(name)).st_mode & 0o7777, mode)

    def _fill_for_peer(self, mem):
        mem.write(0, bytes((i * 7 + 3) & 0xff for i in range(256)))
        mem.write_variant(PEER_VARIANT_OFFSET, GLib.Variant('(si)', ('from parent', 42)))

    def _check_peer_reply(self, mem):
        self.assertEqual(mem.get_int64(PEER_INT64_OFFSET), PEER_INT64_VALUE)
        self.assertTrue(mem.read_variant(PEER_REPLY_OFFSET).equal(
            parse("('from peer', [1, 2, 3])")))

    def test_python_peer(self):
        name, mem = self.named('peer', size=PEER_SIZE)
        self._fill_for_peer(mem)
        result = run_peer('check-named', name)
        self.assertEqual(result.returncode, 0, result.stderr)
        self._check_peer_reply(mem)

    def test_c_peer(self):
        path = c_peer_path()
        if path is None:
            self.skipTest('the C test program is not built (G_TEST_BUILDDIR)')
        name, mem = self.named('cpeer', size=PEER_SIZE)
        self._fill_for_peer(mem)
        result = subprocess.run([path, '--peer', 'check-named', name],
                                capture_output=True, text=True, timeout=PEER_TIMEOUT)
        self.assertEqual(result.returncode, 0, result.stderr)
        self._check_peer_reply(mem)

    def test_permission_denied(self):
        if os.geteuid() != 0:
            self.skipTest('needs root to switch to another user')
        name, mem = self.named('perm', size=64)
        mem.set_int32(0, 1234)

        def child():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            for flags, size in ((Ps.OpenFlags.NONE, 0), (Ps.OpenFlags.CREATE, 64)):
                try:
                    Ps.SharedMemory.open(name, flags, size)
                    return 1
                except GLib.Error as e:
                    if not e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PERMISSION_DENIED):
                        print(e.message, file=sys.stderr)
                        return 2
            return 0

        self.assertEqual(fork_child(child), 0)
        self.assertEqual(mem.get_int32(0), 1234)

    def _shrink(self, name, length):
        fd = os.open(dev_shm(name), os.O_RDWR)
        try:
            os.ftruncate(fd, length)
        finally:
            os.close(fd)

    def test_truncated_by_someone_else(self):
        for length in (0, 10):
            name, mem = self.named('trunc', size=4096)
            del mem
            self._shrink(name, length)
            with self.assertRaises(GLib.Error) as ctx:
                Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0)
            self.assertPsError(ctx, Ps.Error.CORRUPT)

    def test_foreign_file(self):
        rng = random.Random(99)
        for length in (64, 4096):
            name = unique_name('foreign')
            junk = bytearray(rng.randbytes(length))
            junk[0] |= 1
            fd = os.open(dev_shm(name), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            self.addCleanup(self.unlink_quietly, name)
            try:
                os.write(fd, bytes(junk))
            finally:
                os.close(fd)
            for flags in (Ps.OpenFlags.NONE, Ps.OpenFlags.CREATE):
                with self.assertRaises(GLib.Error) as ctx:
                    Ps.SharedMemory.open(name, flags, 64)
                self.assertPsError(ctx, Ps.Error.CORRUPT)

    def test_wrong_type(self):
        for make in (lambda n: Ps.Mutex.open(n, Ps.OpenFlags.CREATE),
                     lambda n: Ps.Semaphore.open(n, Ps.OpenFlags.CREATE, 1),
                     lambda n: Ps.Cond.open(n, Ps.OpenFlags.CREATE)):
            name = unique_name('wrong-type')
            obj = make(name)
            self.addCleanup(self.unlink_quietly, name)
            self.assertIsNotNone(obj)
            for flags in (Ps.OpenFlags.NONE, Ps.OpenFlags.CREATE):
                with self.assertRaises(GLib.Error) as ctx:
                    Ps.SharedMemory.open(name, flags, 0 if flags == Ps.OpenFlags.NONE else 64)
                self.assertPsError(ctx, Ps.Error.WRONG_TYPE)

        name, mem = self.named('wrong-type-shm')
        with self.assertRaises(GLib.Error) as ctx:
            Ps.Mutex.open(name, Ps.OpenFlags.NONE)
        self.assertPsError(ctx, Ps.Error.WRONG_TYPE)


class NamesTest(PsTestCase):
    def setUp(self):
        self.token = 'pybad%d' % os.getpid()
        t = self.token
        self.invalid = [
            '', '/', '/.', '/..', '//', t, t + '/x', '//' + t, '/%s/x' % t, '/%s/' % t,
            '/%s x' % t, '/%s*' % t, '/%sé' % t, '/%s\n' % t, '/%s\t' % t, '/%s:x' % t,
            '/%s+x' % t, ' /' + t,
            '/' + t + 'a' * (201 - len(t)),
        ]
        self.assertEqual(len(self.invalid[-1]), 202)

    def assert_token_absent(self):
        leaked = [e for e in os.listdir('/dev/shm') if self.token in e]
        self.assertEqual(leaked, [])

    def test_name_is_valid(self):
        for name in self.invalid:
            self.assertFalse(Ps.name_is_valid(name), repr(name))
        self.assertFalse(Ps.name_is_valid(None))
        for name in ('/a', '/...', '/.a', '/a.', '/my-app.lock', '/My_App-1.2',
                     '/' + 'z' * 200,
                     '/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-'):
            self.assertTrue(Ps.name_is_valid(name), name)

    def test_invalid_names_refused(self):
        for name in self.invalid:
            for flags in (Ps.OpenFlags.NONE, Ps.OpenFlags.CREATE,
                          Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE):
                with self.subTest(name=name, flags=flags):
                    with self.assertRaises(GLib.Error) as ctx:
                        Ps.SharedMemory.open(name, flags, 64)
                    self.assertIOError(ctx, Gio.IOErrorEnum.INVALID_ARGUMENT)
                    with self.assertRaises(GLib.Error) as ctx:
                        Ps.Mutex.open(name, flags)
                    self.assertIOError(ctx, Gio.IOErrorEnum.INVALID_ARGUMENT)
            with self.assertRaises(GLib.Error) as ctx:
                Ps.unlink(name)
            self.assertIOError(ctx, Gio.IOErrorEnum.INVALID_ARGUMENT)
        self.assert_token_absent()

    def test_longest_name(self):
        prefix = '/ps-pytest-long-%d-' % os.getpid()
        name = prefix + 'x' * (201 - len(prefix))
        self.assertEqual(len(name), 201)
        mem = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 64)
        self.addCleanup(self.unlink_quietly, name)
        self.assertEqual(mem.get_name(), name)
        self.assertTrue(os.path.exists(dev_shm(name)))
        self.assertTrue(Ps.unlink(name))
        self.assertFalse(os.path.exists(dev_shm(name)))

    def test_unlink(self):
        name, mem = self.named('unlink', size=128)
        mem.set_int64(0, 0x1122334455667788)
        self.assertTrue(Ps.unlink(name))
        self.assertFalse(os.path.exists(dev_shm(name)))
        with self.assertRaises(GLib.Error) as ctx:
            Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0)
        self.assertIOError(ctx, Gio.IOErrorEnum.NOT_FOUND)
        with self.assertRaises(GLib.Error) as ctx:
            Ps.unlink(name)
        self.assertIOError(ctx, Gio.IOErrorEnum.NOT_FOUND)
        # Still usable by whoever has it mapped.
        self.assertEqual(mem.get_int64(0), 0x1122334455667788)
        fresh = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 128)
        self.assertEqual(fresh.get_int64(0), 0)


class AccessTest(PsTestCase):
    def test_read_write(self):
        mem = Ps.SharedMemory.new(101)
        self.assertTrue(mem.write(0, b'hello'))
        self.assertTrue(mem.write(96, b'world'))
        expected = b'hello' + bytes(91) + b'world'
        self.assertEqual(mem.read(0, 101).get_data(), expected)
        self.assertEqual(mem.read(97, 4).get_data(), b'orld')
        self.assertEqual(mem.read(101, 0).get_data(), b'')
        self.assertTrue(mem.write(101, b''))

    def test_typed_round_trip(self):
        mem = Ps.SharedMemory.new(64)
        doubles = [0.0, -0.0, 1.0, -1.0, sys.float_info.max, -sys.float_info.max,
                   sys.float_info.min, 5e-324, math.inf, -math.inf, math.pi]
        for off in (0, 1, 2, 3, 5, 7, 13, 56):
            for v in (0, 1, 0x7f, 0x80, 0xff):
                mem.set_uint8(off, v)
                self.assertEqual(mem.get_uint8(off), v)
                self.assertEqual(mem.read(off, 1).get_data(), bytes([v]))
            for v in (0, 1, -1, -2**31, 2**31 - 1, 0x12345678):
                mem.set_int32(off, v)
                self.assertEqual(mem.get_int32(off), v)
                self.assertEqual(mem.read(off, 4).get_data(), struct.pack('=i', v))
            for v in (0, -1, -2**63, 2**63 - 1, 0x0102030405060708):
                mem.set_int64(off, v)
                self.assertEqual(mem.get_int64(off), v)
                self.assertEqual(mem.read(off, 8).get_data(), struct.pack('=q', v))
            for v in doubles:
                mem.set_double(off, v)
                got = mem.get_double(off)
                self.assertEqual(struct.pack('=d', got), struct.pack('=d', v))
            mem.set_double(off, math.nan)
            self.assertTrue(math.isnan(mem.get_double(off)))

    def test_out_of_range_values_rejected_by_binding(self):
        mem = Ps.SharedMemory.new(16)
        before = self.fill_random(mem, 7)
        for setter, value in ((mem.set_uint8, 256), (mem.set_uint8, -1),
                              (mem.set_int32, 2**31), (mem.set_int32, -2**31 - 1),
                              (mem.set_int64, 2**63), (mem.set_int64, -2**63 - 1)):
            with self.assertRaises((OverflowError, ValueError)):
                setter(0, value)
        self.assertEqual(self.snapshot(mem), before)

    def test_address_aliases_data(self):
        mem = Ps.SharedMemory.new(4096)
        address = mem.get_address()
        self.assertNotEqual(address, 0)
        view = (ctypes.c_ubyte * 4096).from_address(address)
        self.assertEqual(bytes(view), bytes(4096))
        mem.write(100, b'abc')
        self.assertEqual(bytes(view[100:103]), b'abc')
        view[4095] = 0x5a
        self.assertEqual(mem.get_uint8(4095), 0x5a)
        mem.set_int64(8, -2)
        self.assertEqual(struct.unpack('=q', bytes(view[8:16]))[0], -2)
        memory_view = memoryview(view).cast('B')
        self.assertEqual(memory_view[4095], 0x5a)

    def test_bounds(self):
        size = 101
        mem = Ps.SharedMemory.new(size)
        before = self.fill_random(mem, 1)
        ranges = [(0, size + 1), (1, size), (size, 1), (size + 1, 0), (size - 1, 2),
                  (G_MAXSIZE, 0), (G_MAXSIZE, 1), (1, G_MAXSIZE), (G_MAXSIZE, G_MAXSIZE),
                  (2, G_MAXSIZE - 1), (size, G_MAXSIZE - size + 1)]
        for offset, length in ranges:
            with self.subTest(offset=offset, length=length):
                with self.assertRaises(GLib.Error) as ctx:
                    mem.read(offset, length)
                self.assertPsError(ctx, Ps.Error.OUT_OF_BOUNDS)
        for offset in (size - 2, size, size + 1, G_MAXSIZE):
            with self.assertRaises(GLib.Error) as ctx:
                mem.write(offset, b'abc')
            self.assertPsError(ctx, Ps.Error.OUT_OF_BOUNDS)
        accessors = [(1, mem.get_uint8, mem.set_uint8, 0xff),
                     (4, mem.get_int32, mem.set_int32, -1),
                     (8, mem.get_int64, mem.set_int64, -1),
                     (8, mem.get_double, mem.set_double, -1.0)]
        for width, getter, setter, value in accessors:
            for offset in (size - width + 1, size, size + 1, G_MAXSIZE,
                           G_MAXSIZE - width + 1):
                with self.subTest(width=width, offset=offset):
                    with self.assertRaises(GLib.Error) as ctx:
                        getter(offset)
                    self.assertPsError(ctx, Ps.Error.OUT_OF_BOUNDS)
                    with self.assertRaises(GLib.Error) as ctx:
                        setter(offset, value)
                    self.assertPsError(ctx, Ps.Error.OUT_OF_BOUNDS)
        value = GLib.Variant('(sas)', ('some text', []))
        measure = Ps.SharedMemory.measure_variant(value)
        for offset in (size - measure + 1, size, size + 1, G_MAXSIZE, G_MAXSIZE - measure + 1):
            with self.assertRaises(GLib.Error) as ctx:
                mem.write_variant(offset, value)
            self.assertPsError(ctx, Ps.Error.OUT_OF_BOUNDS)
        for offset in (size + 1, G_MAXSIZE):
            with self.assertRaises(GLib.Error) as ctx:
                mem.read_variant(offset)
            self.assertPsError(ctx, Ps.Error.OUT_OF_BOUNDS)
        self.assertEqual(self.snapshot(mem), before)


class VariantTest(PsTestCase):
    def test_round_trip_at_offsets(self):
        mem = Ps.SharedMemory.new(4096)
        for text in VARIANT_TEXTS:
            measure = Ps.SharedMemory.measure_variant(parse(text))
            for offset in (0, 1, 7, 8, 13, 4095 - measure, 4096 - measure):
                with self.subTest(text=text, offset=offset):
                    value = parse(text)
                    before = self.fill_random(mem, offset)
                    self.assertTrue(mem.write_variant(offset, value))
                    after = self.snapshot(mem)
                    # Only the measured bytes changed.
                    self.assertEqual(after[:offset], before[:offset])
                    self.assertEqual(after[offset + measure:], before[offset + measure:])
                    got = mem.read_variant(offset)
                    self.assertEqual(got.get_type_string(), value.get_type_string())
                    self.assertTrue(got.equal(value), got.print_(True))

    def test_measure_exact(self):
        for text in VARIANT_TEXTS:
            with self.subTest(text=text):
                value = parse(text)
                measure = Ps.SharedMemory.measure_variant(value)
                exact = Ps.SharedMemory.new(measure)
                exact.write_variant(0, value)
                self.assertTrue(exact.read_variant(0).equal(value))
                short = Ps.SharedMemory.new(measure - 1)
                with self.assertRaises(GLib.Error) as ctx:
                    short.write_variant(0, value)
                self.assertPsError(ctx, Ps.Error.OUT_OF_BOUNDS)
                self.assertEqual(self.snapshot(short), bytes(measure - 1))

    def test_back_to_back(self):
        values = [parse(t) for t in VARIANT_TEXTS]
        total = sum(Ps.SharedMemory.measure_variant(v) for v in values)
        mem = Ps.SharedMemory.new(3 + total)
        offset = 3
        for v in values:
            mem.write_variant(offset, v)
            offset += Ps.SharedMemory.measure_variant(v)
        self.assertEqual(offset, mem.get_size())
        offset = 3
        for v in values:
            self.assertTrue(mem.read_variant(offset).equal(v))
            offset += Ps.SharedMemory.measure_variant(v)

    def test_one_mebibyte(self):
        rng = random.Random(77)
        payload = rng.randbytes(1 << 20)

        def make():
            # GLib.Variant('ay', ...) would build it byte by byte.
            return GLib.Variant.new_from_bytes(GLib.VariantType('ay'), GLib.Bytes(payload), True)

        measure = Ps.SharedMemory.measure_variant(make())
        self.assertGreaterEqual(measure, 1 << 20)
        mem = Ps.SharedMemory.new((1 << 20) + 4096)
        for offset in (0, 3, mem.get_size() - measure):
            mem.write_variant(offset, make())
            got = mem.read_variant(offset)
            self.assertEqual(got.get_type_string(), 'ay')
            self.assertEqual(got.get_data_as_bytes().get_data(), payload)

    def _write_named(self, records):
        name, mem = self.named('variants', size=8192)
        offset = 5
        placed = []
        for text in records:
            mem.write_variant(offset, parse(text))
            placed.append((offset, text))
            offset += Ps.SharedMemory.measure_variant(parse(text)) + 3
        return name, mem, placed

    def test_python_writer_python_reader(self):
        name, mem, placed = self._write_named(VARIANT_TEXTS)
        for offset, text in placed[::3]:
            result = run_peer('read-variant', name, offset, text)
            self.assertEqual(result.returncode, 0, result.stderr)

    def test_python_writer_c_reader(self):
        path = c_peer_path()
        if path is None:
            self.skipTest('the C test program is not built (G_TEST_BUILDDIR)')
        name, mem, placed = self._write_named(VARIANT_TEXTS)
        for offset, text in placed[::3]:
            result = subprocess.run([path, '--peer', 'read-variant', name, str(offset), text],
                                    capture_output=True, text=True, timeout=PEER_TIMEOUT)
            self.assertEqual(result.returncode, 0, result.stderr)

    def test_peer_writer_python_reader(self):
        name, mem = self.named('peer-writer', size=8192)
        offset = 11
        for text in VARIANT_TEXTS[::4]:
            result = run_peer('write-variant', name, offset, text)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(int(result.stdout), Ps.SharedMemory.measure_variant(parse(text)))
            self.assertTrue(mem.read_variant(offset).equal(parse(text)))
            offset += int(result.stdout)


# The record layout, mirrored to forge records write_variant() never makes;
# test_record_layout checks the mirror against real records.
RECORD_HEADER = struct.Struct('=IIQ')


def record_data_offset(type_length):
    return RECORD_HEADER.size + ((type_length + 7) & ~7)


class BytesRecordTest(PsTestCase):
    """write_bytes_record / read_bytes_record: the "ay" record of
    write_variant, written and read from Python without a variant."""

    def test_round_trip_and_same_record_as_write_variant(self):
        mem = Ps.SharedMemory.new(4096)
        for data in (b'', b'x', bytes(range(256)), bytearray(b'abc'), memoryview(b'def')):
            mem.write_bytes_record(64, data)
            self.assertEqual(mem.read_bytes_record(64), bytes(data))
            self.assertEqual(mem.read_variant(64).get_data_as_bytes().get_data(), bytes(data))
        # What write_variant writes for an "ay", byte for byte.
        value = GLib.Variant.new_from_bytes(GLib.VariantType('ay'), GLib.Bytes.new(b'hello'), True)
        mem.write_variant(8, value)
        mem.write_bytes_record(1024, b'hello')
        self.assertEqual(mem.read(8, 24 + 5).get_data(), mem.read(1024, 24 + 5).get_data())
        self.assertEqual(mem.read_bytes_record(8), b'hello')

    def test_large_record(self):
        data = bytes(range(256)) * 4096
        mem = Ps.SharedMemory.new(len(data) + 24)
        mem.write_bytes_record(0, data)
        self.assertEqual(mem.read_bytes_record(0), data)
        self.assertEqual(mem.read_variant(0).get_size(), len(data))

    def test_out_of_bounds_writes_nothing(self):
        mem = Ps.SharedMemory.new(4096)
        before = self.fill_random(mem, 7)
        for offset, data in ((4096 - 24, b'x'), (4096, b''), (4097, b''), (-1, b''),
                             (0, bytes(4096 - 23))):
            with self.assertRaises(GLib.Error) as ctx:
                mem.write_bytes_record(offset, data)
            self.assertPsError(ctx, Ps.Error.OUT_OF_BOUNDS)
        self.assertEqual(self.snapshot(mem), before)
        mem.write_bytes_record(4096 - 24, b'')
        self.assertEqual(mem.read_bytes_record(4096 - 24), b'')
        for offset in (4097, -1):
            with self.assertRaises(GLib.Error) as ctx:
                mem.read_bytes_record(offset)
            self.assertPsError(ctx, Ps.Error.OUT_OF_BOUNDS)

    def test_corrupt(self):
        mem = Ps.SharedMemory.new(4096)
        with self.assertRaises(GLib.Error) as ctx:
            mem.read_bytes_record(0)                     # zeros: no record
        self.assertPsError(ctx, Ps.Error.CORRUPT)
        with self.assertRaises(GLib.Error) as ctx:
            mem.read_bytes_record(4096 - 23)             # no room for a header
        self.assertPsError(ctx, Ps.Error.CORRUPT)
        mem.write_bytes_record(0, b'abc')
        mem.write(8, (4096 - 23).to_bytes(8, 'little'))  # claims one byte too many
        with self.assertRaises(GLib.Error) as ctx:
            mem.read_bytes_record(0)
        self.assertPsError(ctx, Ps.Error.CORRUPT)
        mem.write(8, (4096 - 24).to_bytes(8, 'little'))  # exactly the rest
        self.assertEqual(len(mem.read_bytes_record(0)), 4096 - 24)

    def test_other_type_is_a_type_error(self):
        mem = Ps.SharedMemory.new(4096)
        mem.write_variant(0, GLib.Variant('as', ['a', 'b']))
        with self.assertRaises(TypeError) as ctx:
            mem.read_bytes_record(0)
        self.assertIn('"as"', str(ctx.exception))

    def test_read_only_segment(self):
        mem = Ps.SharedMemory.new(4096)
        mem.write_bytes_record(0, b'shared')
        fd = mem.dup_read_only_fd()
        try:
            reader = Ps.SharedMemory.new_from_fd(fd)
        finally:
            os.close(fd)
        self.assertEqual(reader.read_bytes_record(0), b'shared')
        with self.assertRaises(GLib.Error) as ctx:
            reader.write_bytes_record(0, b'x')
        self.assertIOError(ctx, Gio.IOErrorEnum.READ_ONLY)
        self.assertEqual(mem.read_bytes_record(0), b'shared')

    def test_across_fork(self):
        mem = Ps.SharedMemory.new(4096)
        pid = os.fork()
        if pid == 0:
            try:
                mem.write_bytes_record(16, b'from the child')
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(mem.read_bytes_record(16), b'from the child')


class CorruptTest(PsTestCase):
    def setUp(self):
        mem = Ps.SharedMemory.new(256)
        value = GLib.Variant('(ias)', (-1, []))
        mem.write_variant(8, value)
        magic, type_length, data_length = RECORD_HEADER.unpack(mem.read(8, 16).get_data())
        self.assertEqual(type_length, 5)
        self.assertEqual(data_length, value.get_size())
        self.assertEqual(mem.read(24, 5).get_data(), b'(ias)')
        self.assertEqual(Ps.SharedMemory.measure_variant(value),
                         record_data_offset(5) + value.get_size())
        self.magic = magic

    def forge(self, mem, offset, type_bytes, data, type_length=None, data_length=None):
        if type_length is None:
            type_length = len(type_bytes)
        if data_length is None:
            data_length = len(data)
        record = RECORD_HEADER.pack(self.magic, type_length, data_length)
        record += type_bytes.ljust(record_data_offset(len(type_bytes)) - RECORD_HEADER.size,
                                   b'\0')
        mem.write(offset, record + data)

    def assertCorrupt(self, mem, offset):
        with self.assertRaises(GLib.Error) as ctx:
            mem.read_variant(offset)
        self.assertPsError(ctx, Ps.Error.CORRUPT)

    def test_zeroed(self):
        mem = Ps.SharedMemory.new(1000)
        for offset in (0, 1, 8, 500, 984, 985, 999):
            self.assertCorrupt(mem, offset)
        for size in range(1, 25):
            self.assertCorrupt(Ps.SharedMemory.new(size), 0)

    def test_random_bytes(self):
        rng = random.Random(0x5eed)
        mem = Ps.SharedMemory.new(512)
        for _ in range(500):
            mem.write(0, rng.randbytes(512))
            self.assertCorrupt(mem, rng.randrange(512))
            offset = rng.randrange(0, 509)
            mem.write(offset, struct.pack('=I', self.magic))
            self.assertCorrupt(mem, offset)

    def test_cut_short(self):
        for text in ('(1, "two", [3, 4])', "{'a': <1>}", "'string'", 'int64 5'):
            value = parse(text)
            measure = Ps.SharedMemory.measure_variant(value)
            whole = Ps.SharedMemory.new(measure)
            whole.write_variant(0, value)
            record = whole.read(0, measure).get_data()
            for cut in range(1, measure):
                small = Ps.SharedMemory.new(cut)
                small.write(0, record[:cut])
                self.assertCorrupt(small, 0)
                large = Ps.SharedMemory.new(cut + 37)
                large.write(37, record[:cut])
                self.assertCorrupt(large, 37)

    def test_lengths(self):
        mem = Ps.SharedMemory.new(128)
        self.forge(mem, 0, b'i', struct.pack('=i', 7))
        self.assertEqual(mem.read_variant(0).unpack(), 7)
        for data_length in (2**64 - 1, 2**64 - 8, 2**63, 128 - 24 + 1, 1000):
            self.forge(mem, 0, b'ay', b'abcd', data_length=data_length)
            self.assertCorrupt(mem, 0)
        for type_length in (0, 9, 200, 65536, 2**31 - 1, 2**32 - 1):
            self.forge(mem, 0, b'i', b'\0\0\0\0', type_length=type_length)
            self.assertCorrupt(mem, 0)

    def test_bad_types(self):
        mem = Ps.SharedMemory.new(128)
        for type_bytes in (b'*', b'?', b'r', b'a', b'm', b'(i', b'i)', b'ii', b'a{',
                           b'{s}', b'{vs}', b'ma*', b'z', b' ', b'\xff',
                           b'i\0i', b'\0i', b'a\0', b'\0'):
            with self.subTest(type=type_bytes):
                self.forge(mem, 16, type_bytes, b'\1\0\0\0')
                self.assertCorrupt(mem, 16)

    def test_not_normal(self):
        mem = Ps.SharedMemory.new(256)
        cases = [(b'b', b'\x02'), (b'b', b''), (b'i', b'\1\2\3'), (b'u', bytes(8)),
                 (b'd', bytes(7)), (b's', b'abc'), (b's', b''), (b's', b'a\0b\0'),
                 (b's', b'\xff\xfe\0'), (b'o', b'abc\0'), (b'g', b'(i\0'),
                 (b'as', b'abc\0\x09'), (b'(ii)', b'\1\0\0\0\2\0\0'), (b'mi', b'\1\2\3'),
                 (b'v', b'\1\0\0\0\0*'), (b'ai', b'\1\0\0\0\2')]
        for type_bytes, data in cases:
            with self.subTest(type=type_bytes, data=data):
                self.forge(mem, 24, type_bytes, data)
                self.assertCorrupt(mem, 24)


if __name__ == '__main__':
    unittest.main()
