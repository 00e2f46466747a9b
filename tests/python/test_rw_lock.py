# SPDX-License-Identifier: LGPL-2.1-or-later
"""PsRWLock through the typelib and the overrides: read and write
context managers, threading-style acquire, exact errors, a dead writer
repaired through repair=, pickling, and the async forms."""

import os
import pickle
import signal
import sys
import threading
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peer_sync import LONG_S, PsTestCase, unique_name  # noqa: E402

import gi  # noqa: E402
gi.require_version('Ps', '1')
from gi.repository import GLib, Gio, Ps  # noqa: E402


def in_thread(func, *args):
    result = []

    def run():
        try:
            result.append(func(*args))
        except BaseException as e:
            result.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(LONG_S)
    assert not thread.is_alive(), 'thread did not finish within the bound'
    return result[0]


def is_ps_error(value, code):
    return isinstance(value, GLib.Error) and value.matches(Ps.error_quark(), code)


def try_read_elsewhere(rw):
    def attempt():
        if rw.acquire_read(blocking=False):
            rw.release_read()
            return True
        return False
    return in_thread(attempt)


def try_write_elsewhere(rw):
    def attempt():
        if rw.acquire_write(timeout=0):
            rw.release_write()
            return True
        return False
    return in_thread(attempt)


class RWLockTests(PsTestCase):
    def test_context_managers(self):
        rw = Ps.RWLock()
        with rw.read():
            self.assertEqual(rw.get_n_readers(), 1)
            self.assertTrue(try_read_elsewhere(rw))
            self.assertFalse(try_write_elsewhere(rw))
            with rw.read():                      # recursive: counted
                pass
            self.assertEqual(rw.get_n_readers(), 1)
        self.assertEqual(rw.get_n_readers(), 0)
        with rw.write():
            self.assertEqual(rw.get_writer_pid(), os.getpid())
            self.assertFalse(try_read_elsewhere(rw))
        self.assertEqual(rw.get_writer_pid(), 0)
        self.assertTrue(try_write_elsewhere(rw))

    def test_errors(self):
        rw = Ps.RWLock.new()
        with self.assertRaises(GLib.Error) as caught:
            rw.release_read()
        self.assertTrue(is_ps_error(caught.exception, Ps.Error.NOT_OWNER))
        with rw.read():
            with self.assertRaises(GLib.Error) as caught:
                rw.write_lock(0)
            self.assertTrue(is_ps_error(caught.exception, Ps.Error.WOULD_DEADLOCK))
        with rw.write():
            with self.assertRaises(GLib.Error) as caught:
                rw.read_lock()
            self.assertTrue(is_ps_error(caught.exception, Ps.Error.WOULD_DEADLOCK))
            self.assertFalse(in_thread(lambda: rw.acquire_read(timeout=0.05)))
            error = in_thread(lambda: rw.read_lock(timeout=0.05))
            self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT))

            def timed_block():
                with rw.read(timeout=0.05):
                    pass
            error = in_thread(timed_block)
            self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT))
        with self.assertRaises(ValueError):
            rw.acquire_read(blocking=False, timeout=1)

    def test_dead_writer_repaired(self):
        rw = Ps.RWLock()
        data = Ps.SharedMemory.new(8)
        ready = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                rw.write_lock()
                data.buf[0] = 1                     # half-written
                os.write(ready[1], b'x')
                signal.pause()
            finally:
                os._exit(1)
        self.assertEqual(os.read(ready[0], 1), b'x')
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        repaired = []

        def repair():
            data.buf[0] = 0
            repaired.append(True)
        with rw.read(repair=repair):
            # After the repair, held for writing.
            self.assertEqual(rw.get_writer_pid(), os.getpid())
            self.assertFalse(try_read_elsewhere(rw))
        self.assertEqual(repaired, [True])
        self.assertEqual(data.buf[0], 0)
        with rw.read():                              # reported once
            pass

    def test_not_recoverable(self):
        rw = Ps.RWLock()
        pid = os.fork()
        if pid == 0:
            rw.write_lock()
            os._exit(0)                              # exits holding it
        os.waitpid(pid, 0)

        def broken():
            raise KeyError('beyond repair')
        with self.assertRaises(KeyError):
            with rw.write(repair=broken):
                pass
        with self.assertRaises(GLib.Error) as caught:
            rw.read_lock(0)
        self.assertTrue(is_ps_error(caught.exception, Ps.Error.NOT_RECOVERABLE))

    def test_named_pickle(self):
        name = unique_name('rwlock')
        rw = Ps.RWLock.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
        try:
            self.assertTrue(rw.props.created)
            again = pickle.loads(pickle.dumps(rw))
            self.assertFalse(again.props.created)
            with again.write():
                self.assertFalse(try_read_elsewhere(rw))
        finally:
            Ps.unlink(name)
        with self.assertRaises(RuntimeError):
            pickle.dumps(Ps.RWLock())

    def test_placed(self):
        memory = Ps.SharedMemory.new(2 * Ps.RW_LOCK_SIZE)
        rw = Ps.RWLock.new_at(memory, 0)
        attached = Ps.RWLock.attach(memory, 0)
        self.assertTrue(rw.props.created)
        self.assertFalse(attached.props.created)
        with attached.read():
            self.assertEqual(rw.get_n_readers(), 1)

    def test_async(self):
        rw = Ps.RWLock()
        loop = GLib.MainLoop()
        results = []

        def done(source, result, finish):
            results.append((finish(source, result), threading.current_thread()))
            loop.quit()
        rw.read_lock_async(None, None, done, Ps.RWLock.read_lock_finish)
        GLib.timeout_add_seconds(int(LONG_S), loop.quit)
        loop.run()
        self.assertEqual(results, [(True, threading.current_thread())])
        rw.release_read()

        holder = threading.Event()
        release = threading.Event()

        def hold():
            with rw.read():
                holder.set()
                release.wait(LONG_S)
        thread = threading.Thread(target=hold)
        thread.start()
        holder.wait(LONG_S)
        errors = []

        def done_error(source, result):
            try:
                source.write_lock_finish(result)
            except GLib.Error as e:
                errors.append(e)
            loop.quit()
        rw.write_lock_async(50000, None, done_error)
        loop.run()
        release.set()
        thread.join(LONG_S)
        self.assertEqual(len(errors), 1)
        self.assertTrue(errors[0].matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT))


if __name__ == '__main__':
    unittest.main()
