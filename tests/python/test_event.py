# SPDX-License-Identifier: LGPL-2.1-or-later
"""PsEvent through the typelib and the overrides: manual and auto-reset,
timeouts, cancellation, async waits, processes, the sharing models and
pickling."""

import os
import pickle
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peer_sync import LONG_S, PsTestCase, wait_for  # noqa: E402

import gi  # noqa: E402
gi.require_version('Ps', '1')
from gi.module import get_introspection_module  # noqa: E402
from gi.repository import GLib, Gio, Ps  # noqa: E402

RawPs = get_introspection_module('Ps')


class EventBasics(PsTestCase):
    def test_manual(self):
        event = Ps.Event()
        self.assertFalse(event.props.auto_reset)
        self.assertTrue(event.props.created)
        self.assertFalse(event.is_set())
        self.assertFalse(event.wait(0))
        self.assertFalse(event.wait(0.02))
        event.set()
        self.assertTrue(event.is_set())
        self.assertTrue(event.wait())
        self.assertTrue(event.wait(0))
        event.clear()
        self.assertFalse(event.is_set())
        self.assertRegex(repr(event), r'<Ps\.Event at 0x[0-9a-f]+: unset>')

    def test_auto_reset(self):
        event = Ps.Event(auto_reset=True)
        self.assertTrue(event.get_auto_reset())
        event.set()
        event.set()
        self.assertTrue(event.wait(0))
        self.assertFalse(event.is_set())
        self.assertFalse(event.wait(0))
        self.assertRegex(repr(event), r'<Ps\.Event at 0x[0-9a-f]+: unset, auto-reset>')

    def test_c_errors(self):
        event = Ps.Event.new(False)
        self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, RawPs.Event.wait, event, 0, None)
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        with self.assertRaises(GLib.Error) as ctx:
            event.wait(None, cancellable)
        self.assertIOError(ctx, Gio.IOErrorEnum.CANCELLED)

    def test_cancel_from_thread(self):
        event = Ps.Event()
        cancellable = Gio.Cancellable()
        timer = threading.Timer(0.05, cancellable.cancel)
        timer.start()
        with self.assertRaises(GLib.Error) as ctx:
            event.wait(timeout=LONG_S, cancellable=cancellable)
        timer.join()
        self.assertIOError(ctx, Gio.IOErrorEnum.CANCELLED)

    def test_async(self):
        event = Ps.Event()
        loop = GLib.MainLoop()
        results = []

        def done(source, result):
            results.append(source.wait_finish(result))
            loop.quit()

        event.wait_async(None, None, done, timeout=LONG_S)
        GLib.timeout_add(20, lambda: event.set() or False)
        loop.run()
        self.assertEqual(results, [True])

    def test_across_processes(self):
        event = Ps.Event()
        pids = [self.fork(lambda: 0 if event.wait(LONG_S) else 1) for _ in range(3)]
        time.sleep(0.05)
        event.set()
        self.assertChildrenSucceed(pids)


class EventSharing(PsTestCase):
    def test_named_keeps_kind_and_pickles(self):
        name = self.new_name('event')
        created = Ps.Event.open(name, Ps.OpenFlags.CREATE, True)
        self.assertTrue(created.get_created())
        opened = Ps.Event(name=name, open_flags=Ps.OpenFlags.CREATE, auto_reset=False)
        self.assertFalse(opened.props.created)
        self.assertTrue(opened.props.auto_reset)
        copy = pickle.loads(pickle.dumps(created))
        self.assertEqual(copy.get_name(), name)
        created.set()
        self.assertTrue(copy.wait(0))
        self.assertFalse(opened.is_set())

    def test_placed(self):
        memory = Ps.SharedMemory.new(2 * Ps.EVENT_SIZE)
        placed = Ps.Event.new_at(memory, 0, False)
        attached = Ps.Event.attach(memory, 0)
        placed.set()
        self.assertTrue(attached.is_set())
        self.assertRaisesIO(Gio.IOErrorEnum.EXISTS, Ps.Event.new_at, memory, 0, True)
        opened = Ps.Event.open_at(memory, Ps.EVENT_SIZE, Ps.OpenFlags.CREATE, True)
        self.assertTrue(opened.get_auto_reset())
        with self.assertRaises(RuntimeError):
            pickle.dumps(placed)            # anonymous segment

    def test_wrong_type(self):
        memory = Ps.SharedMemory.new(Ps.EVENT_SIZE)
        Ps.Semaphore.new_at(memory, 0, 0)
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Event.attach, memory, 0)


if __name__ == '__main__':
    unittest.main()
