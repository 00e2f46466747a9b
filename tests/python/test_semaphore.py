# SPDX-License-Identifier: LGPL-2.1-or-later
"""PsSemaphore through the typelib: counting, bounds, timeouts,
cancellation, async acquisition, and the three sharing models."""

import os
import random
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peer_sync import LONG_S, PsTestCase, scaled  # noqa: E402

import gi  # noqa: E402
gi.require_version('Ps', '1')
from gi.module import get_introspection_module  # noqa: E402
from gi.repository import GLib, Gio, Ps  # noqa: E402

RawPs = get_introspection_module('Ps')

G_MAXINT32 = 2**31 - 1


class SemaphoreBasics(PsTestCase):
    def test_counting(self):
        sem = Ps.Semaphore.new(3)
        self.assertEqual(sem.get_value(), 3)
        self.assertEqual(sem.get_max_value(), G_MAXINT32)
        for expected in (2, 1, 0):
            self.assertTrue(sem.try_acquire())
            self.assertEqual(sem.get_value(), expected)
        self.assertFalse(sem.try_acquire())
        self.assertEqual(sem.get_value(), 0)
        self.assertTrue(sem.release())
        self.assertTrue(sem.release())
        self.assertEqual(sem.get_value(), 2)
        self.assertTrue(sem.acquire(-1))             # threading: blocking
        self.assertTrue(sem.acquire(timeout=0))
        self.assertEqual(sem.get_value(), 0)

    def test_unbounded_max_value(self):
        self.assertEqual(Ps.Semaphore.new(0).get_max_value(), G_MAXINT32)
        sem = Ps.Semaphore.new(G_MAXINT32)
        self.assertEqual(sem.get_value(), G_MAXINT32)
        self.assertRaisesPs(Ps.Error.OVERFLOW, sem.release)
        self.assertEqual(sem.get_value(), G_MAXINT32)

    def test_bounded_overflow_leaves_value_unchanged(self):
        sem = Ps.Semaphore.new_bounded(1, 2)
        self.assertEqual(sem.get_max_value(), 2)
        self.assertTrue(sem.release())
        self.assertEqual(sem.get_value(), 2)
        for _ in range(3):
            self.assertRaisesPs(Ps.Error.OVERFLOW, sem.release)
            self.assertEqual(sem.get_value(), 2)
        self.assertTrue(sem.try_acquire())
        self.assertTrue(sem.release())
        self.assertEqual(sem.get_value(), 2)

    def test_binary_semaphore(self):
        sem = Ps.Semaphore.new_bounded(0, 1)
        self.assertTrue(sem.release())
        self.assertRaisesPs(Ps.Error.OVERFLOW, sem.release)
        self.assertEqual(sem.get_value(), 1)

    def test_bad_values(self):
        self.assertRaisesIO(Gio.IOErrorEnum.INVALID_ARGUMENT, Ps.Semaphore.new_bounded, 3, 2)
        self.assertRaisesIO(Gio.IOErrorEnum.INVALID_ARGUMENT, Ps.Semaphore.new_bounded, 0, 0)
        self.assertRaisesIO(Gio.IOErrorEnum.INVALID_ARGUMENT, Ps.Semaphore.new, G_MAXINT32 + 1)

    def test_bounded_overflow_is_atomic_across_processes(self):
        # Ten processes release as fast as they can into a semaphore
        # bounded at 5: exactly 5 releases in all may succeed.
        sem = Ps.Semaphore.new_bounded(0, 5)
        start = Ps.Semaphore.new(0)

        def child():
            start.acquire(timeout=LONG_S)
            successes = 0
            for _ in range(200):
                try:
                    sem.release()
                    successes += 1
                except GLib.Error as e:
                    if not (e.domain == 'ps-error-quark' and e.code == Ps.Error.OVERFLOW):
                        raise
            return 10 + successes

        pids = [self.fork(child) for _ in range(10)]
        for _ in pids:
            start.release()
        total = sum(self.join(pid) - 10 for pid in pids)
        self.assertEqual(total, 5)
        self.assertEqual(sem.get_value(), 5)


class SemaphoreTimeouts(PsTestCase):
    def test_zero_timeout_would_block(self):
        sem = Ps.Semaphore.new(0)
        # Changed in 1.1: a wait that does not succeed returns False (the
        # C call's error is WOULD_BLOCK).
        self.assertIs(sem.acquire(False), False)
        self.assertIs(sem.acquire(timeout=0), False)
        self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, RawPs.Semaphore.acquire, sem, 0, None)
        self.assertEqual(sem.get_value(), 0)

    def test_timeout_never_early(self):
        sem = Ps.Semaphore.new(0)
        for timeout_us in (1, 1000, 20000, 100000):
            start = time.monotonic_ns()
            self.assertIs(sem.acquire(timeout_us=timeout_us), False)
            elapsed_us = (time.monotonic_ns() - start) / 1000
            self.assertGreaterEqual(elapsed_us, timeout_us)
            self.assertEqual(sem.get_value(), 0)

    def test_timed_acquire_succeeds_when_released(self):
        sem = Ps.Semaphore.new(0)
        timer = threading.Timer(0.05, sem.release)
        timer.start()
        try:
            self.assertTrue(sem.acquire(timeout=LONG_S))
        finally:
            timer.join()
        self.assertEqual(sem.get_value(), 0)

    def test_cancel_wakes_blocked_acquire(self):
        sem = Ps.Semaphore.new(0)
        cancellable = Gio.Cancellable()
        cancelled_at = []

        def cancel():
            cancelled_at.append(time.monotonic())
            cancellable.cancel()

        timer = threading.Timer(0.1, cancel)
        timer.start()
        try:
            self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED,
                                lambda: sem.acquire(cancellable=cancellable))
            returned_at = time.monotonic()
        finally:
            timer.join()
        self.assertLess(returned_at - cancelled_at[0], scaled(0.5))
        # The count is conserved: nothing was taken, a release is seen.
        self.assertEqual(sem.get_value(), 0)
        sem.release()
        self.assertEqual(sem.get_value(), 1)
        self.assertTrue(sem.try_acquire())

    def test_cancel_wakes_timed_acquire(self):
        sem = Ps.Semaphore.new(0)
        cancellable = Gio.Cancellable()
        timer = threading.Timer(0.05, cancellable.cancel)
        start = time.monotonic()
        timer.start()
        try:
            with self.assertRaises(GLib.Error) as ctx:
                sem.acquire(timeout=LONG_S, cancellable=cancellable)
            self.assertIOError(ctx, Gio.IOErrorEnum.CANCELLED)
        finally:
            timer.join()
        self.assertLess(time.monotonic() - start, LONG_S / 2)
        self.assertEqual(sem.get_value(), 0)

    def test_already_cancelled_fails_at_once(self):
        sem = Ps.Semaphore.new(1)
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        with self.assertRaises(GLib.Error) as ctx:
            sem.acquire(cancellable=cancellable)
        self.assertIOError(ctx, Gio.IOErrorEnum.CANCELLED)
        self.assertEqual(sem.get_value(), 1)

    def test_count_conserved_under_cancel_timeout_and_release(self):
        # Three threads of ours acquire, each wait ended by a cancellation
        # at a random moment or by a short timeout, while a forked child
        # releases 300 units: every unit is either taken or still there.
        sem = Ps.Semaphore.new(0)
        released = 300
        taken = [0, 0, 0]
        errors = []

        def releaser():
            for _ in range(released):
                sem.release()
                time.sleep(random.uniform(0, 0.001))

        def worker(index):
            rng = random.Random(index)
            try:
                for k in range(150):
                    cancellable = Gio.Cancellable()
                    timer = threading.Timer(rng.uniform(0, 0.002), cancellable.cancel)
                    timer.start()
                    timeout_us = -1 if k % 2 else rng.randint(1, 2000)
                    try:
                        if sem.acquire(timeout_us=timeout_us, cancellable=cancellable):
                            taken[index] += 1
                    except GLib.Error as e:
                        if not (e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED) or
                                e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)):
                            raise
                    finally:
                        timer.join()
            except BaseException as e:
                errors.append(e)

        child = self.fork(releaser)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(LONG_S)
            self.assertFalse(t.is_alive())
        self.assertEqual(self.join(child), 0)
        self.assertEqual(errors, [])
        self.assertEqual(sem.get_value(), released - sum(taken))


class SemaphoreSharing(PsTestCase):
    def test_anonymous_over_fork(self):
        sem = Ps.Semaphore.new(0)
        answer = Ps.Semaphore.new(0)

        def child():
            if not sem.acquire(timeout=LONG_S):
                return 2
            answer.release()
            answer.release()
            return 0

        pid = self.fork(child)
        sem.release()
        self.assertTrue(answer.acquire(timeout=LONG_S))
        self.assertTrue(answer.acquire(timeout=LONG_S))
        self.assertEqual(self.join(pid), 0)
        self.assertEqual(sem.get_value(), 0)
        self.assertEqual(answer.get_value(), 0)

    def test_named_with_spawned_process(self):
        name = self.new_name('sem')
        sem = Ps.Semaphore.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 3)
        self.assertEqual(sem.get_name(), name)
        self.assertTrue(os.path.exists('/dev/shm' + name))
        peer = self.spawn_peer('sem-release', name, 2, 100)
        self.assertEqual(peer.readline(), 'value 3')
        # Drain the three units; the fourth acquire blocks until the peer
        # releases.
        for _ in range(3):
            self.assertTrue(sem.try_acquire())
        self.assertTrue(sem.acquire(timeout=LONG_S))
        self.assertEqual(peer.readline(), 'released')
        self.assertPeerSucceeds(peer)
        self.assertEqual(sem.get_value(), 1)

    def test_named_open_existing_keeps_value(self):
        name = self.new_name('sem')
        first = Ps.Semaphore.open(name, Ps.OpenFlags.CREATE, 2)
        second = Ps.Semaphore.open(name, Ps.OpenFlags.CREATE, 7)
        third = Ps.Semaphore.open(name, Ps.OpenFlags.NONE, 0)
        self.assertEqual(second.get_value(), 2)
        self.assertTrue(third.try_acquire())
        self.assertEqual(first.get_value(), 1)

    def test_killed_waiter_leaves_nothing_behind(self):
        ping = Ps.Semaphore.new(0)
        pong = Ps.Semaphore.new(0)
        about_to_wait = Ps.Semaphore.new(0)

        def waiter():
            about_to_wait.release()
            ping.acquire(timeout=LONG_S)
            return 2

        pid = self.fork(waiter)
        self.assertTrue(about_to_wait.acquire(timeout=LONG_S))
        time.sleep(0.1)     # let it block in acquire()
        self.kill_and_reap(pid)
        self.assertEqual(ping.get_value(), 0)

        # Both sides of the traffic that follows run in children, so that
        # a hang fails this test (bounded by join) instead of the suite.
        def initiator():
            for _ in range(200):
                ping.release()
                if not pong.acquire(timeout=LONG_S):
                    return 2
            start = time.monotonic_ns()
            if ping.acquire(timeout=0.02):     # False once timed out
                return 3
            return 0 if (time.monotonic_ns() - start) / 1000 >= 20000 else 4

        def responder():
            for _ in range(200):
                if not ping.acquire(timeout=LONG_S):
                    return 2
                pong.release()
            return 0

        pids = [self.fork(responder), self.fork(initiator)]
        self.assertChildrenSucceed(pids, timeout=LONG_S)
        self.assertEqual((ping.get_value(), pong.get_value()), (0, 0))

    def test_placed_in_shared_memory(self):
        memory = Ps.SharedMemory.new(4096)
        sem = Ps.Semaphore.new_at(memory, 64, 0)
        self.assertEqual(sem.get_value(), 0)

        def child():
            attached = Ps.Semaphore.attach(memory, 64)
            memory.set_int32(0, 42)
            attached.release()
            return 0

        pid = self.fork(child)
        self.assertTrue(sem.acquire(timeout=LONG_S))
        self.assertEqual(memory.get_int32(0), 42)
        self.assertEqual(self.join(pid), 0)
        self.assertEqual(sem.get_value(), 0)

    def test_placement_errors(self):
        memory = Ps.SharedMemory.new(4096)
        self.assertRaisesIO(Gio.IOErrorEnum.INVALID_ARGUMENT, Ps.Semaphore.new_at, memory, 4, 0)
        self.assertRaisesPs(Ps.Error.OUT_OF_BOUNDS, Ps.Semaphore.new_at,
                            memory, 4096 - Ps.SEMAPHORE_SIZE + 8, 0)
        mutex = Ps.Mutex.new_at(memory, 0)
        self.assertFalse(mutex.is_recursive())
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Semaphore.attach, memory, 0)
        self.assertIsNotNone(Ps.Semaphore.new_at(memory, 4096 - Ps.SEMAPHORE_SIZE, 1))

    def test_semaphore_as_lock_ten_processes(self):
        memory = Ps.SharedMemory.new(4096)
        lock = Ps.Semaphore.new_at(memory, 64, 1)
        iterations = 200

        def child(index):
            attached = Ps.Semaphore.attach(memory, 64)
            delta = index + 1 if index % 2 else -(index + 1)
            for k in range(2 * iterations):
                if not attached.acquire(timeout=LONG_S):
                    return 2
                value = memory.get_int32(0)
                ops = memory.get_int64(8)
                time.sleep(0)
                memory.set_int32(0, value + (delta if k % 2 else -delta))
                memory.set_int64(8, ops + 1)
                attached.release()
            return 0

        pids = [self.fork(child, i) for i in range(10)]
        self.assertChildrenSucceed(pids)
        self.assertEqual(memory.get_int32(0), 0)
        self.assertEqual(memory.get_int64(8), 10 * 2 * iterations)
        self.assertEqual(lock.get_value(), 1)


class SemaphoreNames(PsTestCase):
    def test_wrong_type(self):
        name = self.new_name('mtx')
        Ps.Mutex.open(name, Ps.OpenFlags.CREATE)
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Semaphore.open, name, Ps.OpenFlags.NONE, 0)
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Semaphore.open, name, Ps.OpenFlags.CREATE, 0)

    def test_missing(self):
        name = self.new_name('missing')
        self.assertRaisesIO(Gio.IOErrorEnum.NOT_FOUND, Ps.Semaphore.open, name, Ps.OpenFlags.NONE, 0)
        self.assertFalse(os.path.exists('/dev/shm' + name))

    def test_exclusive_on_existing(self):
        name = self.new_name('sem')
        sem = Ps.Semaphore.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 4)
        self.assertRaisesIO(Gio.IOErrorEnum.EXISTS, Ps.Semaphore.open, name,
                            Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 0)
        self.assertEqual(sem.get_value(), 4)

    def test_invalid_names(self):
        for name in ('', 'no-slash', '/a/b', '/bad name', '/caf\u00e9', '/.', '/..',
                     '/' + 'a' * 201, '//'):
            with self.subTest(name=name):
                self.assertRaisesIO(Gio.IOErrorEnum.INVALID_ARGUMENT, Ps.Semaphore.open,
                                    name, Ps.OpenFlags.CREATE, 0)

    def test_longest_name(self):
        name = self.new_name('x')
        name += 'a' * (201 - len(name))
        self._names.append(name)
        sem = Ps.Semaphore.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 1)
        self.assertEqual(sem.get_value(), 1)


class SemaphoreAsync(PsTestCase):
    def run_loop(self, setup, watchdog_s=None):
        """Runs a main loop; @setup(loop, finish) starts the work and
        finish(value) stores the outcome and quits. A watchdog fails the
        test if the loop is still running after the bound."""
        loop = GLib.MainLoop()
        outcome = {}

        def finish(value):
            outcome.setdefault('value', value)
            loop.quit()

        def watchdog():
            outcome.setdefault('value', 'watchdog')
            loop.quit()
            return GLib.SOURCE_REMOVE

        watchdog_id = GLib.timeout_add(int((watchdog_s or LONG_S) * 1000), watchdog)
        setup(loop, finish)
        loop.run()
        if outcome['value'] != 'watchdog':
            GLib.source_remove(watchdog_id)
        self.assertNotEqual(outcome['value'], 'watchdog', 'the main loop watchdog fired')
        return outcome['value']

    @staticmethod
    def finisher(sem, finish):
        def callback(source, result, *user_data):
            try:
                finish(source.acquire_finish(result))
            except GLib.Error as e:
                finish(e)
        return callback

    def test_async_released_by_other_process_while_loop_runs(self):
        sem = Ps.Semaphore.new(0)
        go = Ps.Semaphore.new(0)

        def child():
            if not go.acquire(timeout=LONG_S):
                return 2
            sem.release()
            return 0

        pid = self.fork(child)
        ticks = [0]

        def setup(loop, finish):
            def tick():
                ticks[0] += 1
                if ticks[0] == 5:
                    go.release()    # only now may the child release
                return GLib.SOURCE_CONTINUE
            self.tick_id = GLib.timeout_add(10, tick)
            sem.acquire_async(None, None, self.finisher(sem, finish))

        try:
            result = self.run_loop(setup)
        finally:
            GLib.source_remove(self.tick_id)
        self.assertIs(result, True)
        self.assertGreaterEqual(ticks[0], 5)
        self.assertEqual(self.join(pid), 0)
        self.assertEqual(sem.get_value(), 0)

    def test_async_immediate(self):
        sem = Ps.Semaphore.new(2)
        result = self.run_loop(lambda loop, finish: sem.acquire_async(
            0, None, self.finisher(sem, finish)))
        self.assertIs(result, True)
        self.assertEqual(sem.get_value(), 1)

    def test_async_would_block(self):
        sem = Ps.Semaphore.new(0)
        error = self.run_loop(lambda loop, finish: sem.acquire_async(
            0, None, self.finisher(sem, finish)))
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.WOULD_BLOCK))

    def test_async_timed_out_never_early(self):
        sem = Ps.Semaphore.new(0)
        ticks = [0]

        def setup(loop, finish):
            def tick():
                ticks[0] += 1
                return GLib.SOURCE_CONTINUE
            self.tick_id = GLib.timeout_add(5, tick)
            sem.acquire_async(100000, None, self.finisher(sem, finish))

        start = time.monotonic_ns()
        try:
            error = self.run_loop(setup)
        finally:
            GLib.source_remove(self.tick_id)
        elapsed_us = (time.monotonic_ns() - start) / 1000
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT), error)
        self.assertGreaterEqual(elapsed_us, 100000)
        self.assertGreater(ticks[0], 0)
        self.assertEqual(sem.get_value(), 0)

    def test_async_cancelled(self):
        sem = Ps.Semaphore.new(0)
        cancellable = Gio.Cancellable()

        def setup(loop, finish):
            sem.acquire_async(-1, cancellable, self.finisher(sem, finish))
            GLib.timeout_add(50, lambda: cancellable.cancel() or GLib.SOURCE_REMOVE)

        error = self.run_loop(setup)
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED), error)
        self.assertEqual(sem.get_value(), 0)
        sem.release()
        self.assertEqual(sem.get_value(), 1)

    def test_async_already_cancelled(self):
        sem = Ps.Semaphore.new(1)
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        error = self.run_loop(lambda loop, finish: sem.acquire_async(
            -1, cancellable, self.finisher(sem, finish)))
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED), error)
        self.assertEqual(sem.get_value(), 1)

    def test_async_cancel_racing_release_conserves_count(self):
        # Release and cancel together: either the acquire got the unit, or
        # it is still in the semaphore; never neither.
        outcomes = set()
        for i in range(40):
            sem = Ps.Semaphore.new(0)
            cancellable = Gio.Cancellable()

            def setup(loop, finish):
                sem.acquire_async(-1, cancellable, self.finisher(sem, finish))

                def race():
                    if i % 2:
                        sem.release()
                        cancellable.cancel()
                    else:
                        cancellable.cancel()
                        sem.release()
                    return GLib.SOURCE_REMOVE
                GLib.timeout_add(random.randint(0, 3), race)

            result = self.run_loop(setup)
            if result is True:
                outcomes.add('taken')
                self.assertEqual(sem.get_value(), 0)
            else:
                self.assertTrue(result.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED),
                                result)
                outcomes.add('cancelled')
                self.assertEqual(sem.get_value(), 1)
        self.assertIn('cancelled', outcomes)


if __name__ == '__main__':
    unittest.main()
