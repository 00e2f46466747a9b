# SPDX-License-Identifier: LGPL-2.1-or-later
"""PsBarrier through the typelib and the overrides: indices, what breaks
it and how each party learns, actions, processes (a party killed while it
waits), async waits, the sharing models and pickling."""

import os
import pickle
import signal
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


class BarrierBasics(PsTestCase):
    def test_properties(self):
        barrier = Ps.Barrier(3)
        self.assertEqual(barrier.parties, 3)
        self.assertEqual(barrier.props.parties, 3)
        self.assertEqual(barrier.n_waiting, 0)
        self.assertFalse(barrier.broken)
        self.assertRegex(repr(barrier), r'<Ps\.Barrier at 0x[0-9a-f]+: waiters=0/3>')
        with self.assertRaises(ValueError):
            Ps.Barrier(0)
        with self.assertRaises(ValueError):
            Ps.Barrier(Ps.BARRIER_MAX_PARTIES + 1)
        self.assertRaisesIO(Gio.IOErrorEnum.INVALID_ARGUMENT, Ps.Barrier.new, 0)

    def test_indices_and_broken_error(self):
        barrier = Ps.Barrier(3)
        results = []
        threads = [threading.Thread(target=lambda: results.append(barrier.wait()))
                   for _ in range(2)]
        for t in threads:
            t.start()
        results.append(barrier.wait())
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [0, 1, 2])

        # wait(0) not last: breaks it, as threading does.
        with self.assertRaises(threading.BrokenBarrierError) as ctx:
            barrier.wait(0)
        self.assertIsInstance(ctx.exception, GLib.Error)
        self.assertPsError(ctx, Ps.Error.BROKEN)
        self.assertTrue(barrier.broken)
        self.assertRegex(repr(barrier), r': broken>')
        self.assertIs(barrier.reset(), True)          # as in C
        self.assertFalse(barrier.broken)

    def test_c_errors(self):
        barrier = Ps.Barrier.new(2)
        self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, RawPs.Barrier.wait, barrier, 0, None)
        self.assertFalse(barrier.is_broken())
        self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, RawPs.Barrier.wait, barrier, 20000, None)
        self.assertRaisesPs(Ps.Error.BROKEN, RawPs.Barrier.wait, barrier, -1, None)

    def test_action_runs_before_anyone_returns(self):
        ran = []
        barrier = Ps.Barrier(2, action=lambda: ran.append(time.sleep(0.05)))
        seen = []
        thread = threading.Thread(target=lambda: (barrier.wait(), seen.append(len(ran))))
        thread.start()
        barrier.wait()
        seen.append(len(ran))
        thread.join()
        self.assertEqual(seen, [1, 1])

    def test_async(self):
        barrier = Ps.Barrier(2)
        loop = GLib.MainLoop()
        results = []

        def done(source, result):
            results.append(source.wait_finish(result))
            loop.quit()

        barrier.wait_async(None, None, done, timeout=LONG_S)
        thread = threading.Thread(target=lambda: results.append(barrier.wait()))
        thread.start()
        loop.run()
        thread.join()
        self.assertEqual(sorted(results), [0, 1])


class BarrierProcesses(PsTestCase):
    def test_rounds_across_processes(self):
        barrier = Ps.Barrier(3)

        def party():
            return 0 if all(barrier.wait(LONG_S) >= 0 for _ in range(20)) else 1

        pids = [self.fork(party) for _ in range(2)]
        for _ in range(20):
            barrier.wait(LONG_S)
        self.assertChildrenSucceed(pids)

    def test_killed_party_breaks_it(self):
        barrier = Ps.Barrier(3)

        def party():
            barrier.wait()

        def witness():
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return 7
            return 1

        victim = self.fork(party)
        self.assertTrue(wait_for(lambda: barrier.n_waiting == 1))
        other = self.fork(witness)
        self.assertTrue(wait_for(lambda: barrier.n_waiting == 2))
        os.kill(victim, signal.SIGKILL)
        self.assertEqual(self.join(other), 7)
        self.assertEqual(self.join(victim), -signal.SIGKILL)
        self.assertTrue(barrier.broken)
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait()


class BarrierSharing(PsTestCase):
    def test_named_keeps_parties_and_pickles(self):
        name = self.new_name('barrier')
        created = Ps.Barrier.open(name, Ps.OpenFlags.CREATE, 2)
        opened = Ps.Barrier(5, name=name, open_flags=Ps.OpenFlags.CREATE)
        self.assertFalse(opened.props.created)
        self.assertEqual(opened.parties, 2)
        copy = pickle.loads(pickle.dumps(created))
        self.assertEqual(copy.parties, 2)
        created.abort()
        self.assertTrue(copy.broken)

    def test_placed(self):
        memory = Ps.SharedMemory.new(2 * Ps.BARRIER_SIZE)
        Ps.Barrier.new_at(memory, 0, 4)
        self.assertEqual(Ps.Barrier.attach(memory, 0).parties, 4)
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Event.attach, memory, 0)
        opened = Ps.Barrier.open_at(memory, Ps.BARRIER_SIZE, Ps.OpenFlags.CREATE, 2)
        self.assertTrue(opened.props.created)


if __name__ == '__main__':
    unittest.main()
