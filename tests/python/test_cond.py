# SPDX-License-Identifier: LGPL-2.1-or-later
"""PsCond through the typelib: ownership, the mutex held again on every
return, timeouts, cancellation, no lost wake-ups, broadcast across
processes, and the three sharing models."""

import os
import signal
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peer_sync import (LONG_S, LONG_US, PsTestCase, scaled,  # noqa: E402
                       unique_name, wait_for)

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


def take_turns(mutex, cond, memory, rounds, parity):
    """One side of a turn-taking handshake on the int32 at offset 0 of
    @memory: the side of @parity waits (in a predicate loop, with one
    deadline for all of it) until the turn is 2 i + parity, then passes
    it on and signals. A lost wake-up ends in TIMED_OUT, not a hang."""
    end_time = GLib.get_monotonic_time() + LONG_US
    for i in range(rounds):
        mutex.lock(timeout=LONG_S)
        try:
            while memory.get_int32(0) != 2 * i + parity:
                cond.wait_until(mutex, end_time, None)
            memory.set_int32(0, 2 * i + parity + 1)
            cond.signal()
        finally:
            mutex.unlock()


def locked_value(mutex, memory, offset):
    mutex.lock(timeout=LONG_S)
    try:
        return memory.get_int32(offset)
    finally:
        mutex.unlock()


class CondBasics(PsTestCase):
    def setUp(self):
        super().setUp()
        self.mutex = Ps.Mutex.new()
        self.cond = Ps.Cond.new()

    def assertHeldByUs(self):
        self.assertEqual(self.mutex.get_owner_pid(), os.getpid())
        self.assertIs(in_thread(self.mutex.try_lock), False)

    def test_wait_without_mutex_not_owner(self):
        self.assertIsNone(self.cond.get_name())
        for timeout in (Ps.TIMEOUT_INFINITE, 0, 1000):
            self.assertRaisesPs(Ps.Error.NOT_OWNER, lambda: self.cond.wait(self.mutex, timeout_us=timeout))
        self.assertRaisesPs(Ps.Error.NOT_OWNER, self.cond.wait_until, self.mutex,
                            GLib.get_monotonic_time() + 1000, None)
        self.assertEqual(self.mutex.get_owner_pid(), 0)

    def test_wait_with_mutex_of_other_thread_not_owner(self):
        held = threading.Event()
        release = threading.Event()

        def holder():
            self.mutex.lock(timeout=LONG_S)
            held.set()
            release.wait(LONG_S)
            self.mutex.unlock()

        thread = threading.Thread(target=holder)
        thread.start()
        try:
            self.assertTrue(held.wait(LONG_S))
            self.assertRaisesPs(Ps.Error.NOT_OWNER, self.cond.wait, self.mutex, -1, None)
            self.assertRaisesPs(Ps.Error.NOT_OWNER, self.cond.wait_until, self.mutex,
                                GLib.get_monotonic_time() + 1000, None)
            self.assertFalse(self.mutex.try_lock())    # still the other thread's
        finally:
            release.set()
            thread.join(LONG_S)

    def test_zero_timeout_would_block_and_held(self):
        self.mutex.lock()
        self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, self.cond.wait, self.mutex, 0, None)
        self.assertHeldByUs()
        self.assertTrue(self.mutex.unlock())

    def test_timeout_never_early_and_held(self):
        self.mutex.lock()
        for timeout_us in (1, 1000, 20000, 100000):
            start = time.monotonic_ns()
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT,
                                lambda: self.cond.wait(self.mutex, timeout_us=timeout_us))
            elapsed_us = (time.monotonic_ns() - start) / 1000
            self.assertGreaterEqual(elapsed_us, timeout_us)
            self.assertHeldByUs()
        self.assertTrue(self.mutex.unlock())

    def test_wait_until_never_early_and_held(self):
        self.mutex.lock()
        for delta_us in (1000, 30000):
            end_time = GLib.get_monotonic_time() + delta_us
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, self.cond.wait_until, self.mutex,
                                end_time, None)
            self.assertGreaterEqual(GLib.get_monotonic_time(), end_time)
            self.assertHeldByUs()
        # A deadline in the past times out at once, mutex held.
        start = time.monotonic()
        self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, self.cond.wait_until, self.mutex,
                            GLib.get_monotonic_time() - 1000000, None)
        self.assertLess(time.monotonic() - start, LONG_S / 2)
        self.assertHeldByUs()
        self.assertTrue(self.mutex.unlock())

    def test_cancel_wakes_wait_and_held(self):
        cancellable = Gio.Cancellable()
        cancelled_at = []

        def cancel():
            cancelled_at.append(time.monotonic())
            cancellable.cancel()

        self.mutex.lock()
        timer = threading.Timer(0.1, cancel)
        timer.start()
        try:
            self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED, self.cond.wait, self.mutex,
                                Ps.TIMEOUT_INFINITE, cancellable)
            returned_at = time.monotonic()
        finally:
            timer.join()
        self.assertLess(returned_at - cancelled_at[0], scaled(0.5))
        self.assertHeldByUs()
        self.assertTrue(self.mutex.unlock())

    def test_already_cancelled_and_held(self):
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        self.mutex.lock()
        self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED, self.cond.wait, self.mutex,
                            Ps.TIMEOUT_INFINITE, cancellable)
        self.assertHeldByUs()
        self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED, self.cond.wait_until, self.mutex,
                            GLib.get_monotonic_time() + LONG_US, cancellable)
        self.assertHeldByUs()
        self.assertTrue(self.mutex.unlock())

    def test_signal_wakes_thread_and_held(self):
        state = {'ready': False}
        result = []
        waiting = threading.Event()

        def waiter():
            self.mutex.lock(timeout=LONG_S)
            end_time = GLib.get_monotonic_time() + LONG_US
            try:
                waiting.set()
                while not state['ready']:
                    self.cond.wait_until(self.mutex, end_time, None)
                result.append(self.mutex.get_owner_pid())
                try:
                    self.mutex.try_lock()
                except GLib.Error as e:
                    result.append(e)    # WOULD_DEADLOCK: this thread holds it
            except GLib.Error as e:
                result.append(e)
            finally:
                self.mutex.unlock()

        thread = threading.Thread(target=waiter)
        thread.start()
        self.assertTrue(waiting.wait(LONG_S))
        self.assertTrue(self.mutex.lock(timeout=LONG_S))   # the waiter is inside wait()
        state['ready'] = True
        self.cond.signal()
        self.assertTrue(self.mutex.unlock())
        thread.join(LONG_S)
        self.assertFalse(thread.is_alive())
        self.assertEqual(len(result), 2, result)
        self.assertEqual(result[0], os.getpid(), result)
        self.assertEqual((result[1].domain, result[1].code),
                         ('ps-error-quark', Ps.Error.WOULD_DEADLOCK))

    def test_signal_without_waiter_is_not_remembered(self):
        self.cond.signal()
        self.cond.broadcast()
        self.cond.signal()
        self.mutex.lock()
        start = time.monotonic_ns()
        self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, self.cond.wait, self.mutex, 50000, None)
        self.assertGreaterEqual((time.monotonic_ns() - start) / 1000, 50000)
        self.assertHeldByUs()
        self.assertTrue(self.mutex.unlock())

    def test_recursive_mutex_held_twice(self):
        mutex = Ps.Mutex.new_recursive()
        mutex.lock()
        mutex.lock()
        self.assertRaisesPs(Ps.Error.WOULD_DEADLOCK, self.cond.wait, mutex, 1000, None)
        self.assertTrue(mutex.unlock())
        self.assertEqual(mutex.get_owner_pid(), os.getpid())   # still held once
        self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, self.cond.wait, mutex, 1000, None)
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertTrue(mutex.unlock())
        self.assertEqual(mutex.get_owner_pid(), 0)


class CondProcesses(PsTestCase):
    def test_handshake_1000_rounds_over_fork(self):
        mutex = Ps.Mutex.new()
        cond = Ps.Cond.new()
        memory = Ps.SharedMemory.new(64)
        rounds = 1000
        pid = self.fork(take_turns, mutex, cond, memory, rounds, 1)
        take_turns(mutex, cond, memory, rounds, 0)
        self.assertEqual(self.join(pid), 0)
        self.assertEqual(memory.get_int32(0), 2 * rounds)

    def test_broadcast_wakes_ten_processes(self):
        mutex = Ps.Mutex.new()
        cond = Ps.Cond.new()
        memory = Ps.SharedMemory.new(64)     # 0: waiting, 4: go, 8: woken

        def waiter():
            end_time = GLib.get_monotonic_time() + LONG_US
            mutex.lock(timeout=LONG_S)
            try:
                memory.set_int32(0, memory.get_int32(0) + 1)
                while memory.get_int32(4) == 0:
                    cond.wait_until(mutex, end_time, None)
                memory.set_int32(8, memory.get_int32(8) + 1)
            finally:
                mutex.unlock()

        pids = [self.fork(waiter) for _ in range(10)]
        # Once we hold the mutex and count 10, every waiter is in wait().
        self.assertTrue(wait_for(lambda: locked_value(mutex, memory, 0) == 10))
        mutex.lock(timeout=LONG_S)
        memory.set_int32(4, 1)
        cond.broadcast()
        mutex.unlock()
        self.assertChildrenSucceed(pids)
        self.assertEqual(memory.get_int32(8), 10)

    def test_every_signal_reaches_a_waiter(self):
        mutex = Ps.Mutex.new()
        cond = Ps.Cond.new()
        memory = Ps.SharedMemory.new(64)     # 0: waiting, 4: tokens, 8: consumed

        def waiter():
            end_time = GLib.get_monotonic_time() + LONG_US
            mutex.lock(timeout=LONG_S)
            try:
                memory.set_int32(0, memory.get_int32(0) + 1)
                while memory.get_int32(4) == 0:
                    cond.wait_until(mutex, end_time, None)
                memory.set_int32(4, memory.get_int32(4) - 1)
                memory.set_int32(8, memory.get_int32(8) + 1)
            finally:
                mutex.unlock()

        pids = [self.fork(waiter) for _ in range(3)]
        self.assertTrue(wait_for(lambda: locked_value(mutex, memory, 0) == 3))
        for _ in range(3):
            mutex.lock(timeout=LONG_S)
            memory.set_int32(4, memory.get_int32(4) + 1)
            cond.signal()
            mutex.unlock()
        self.assertChildrenSucceed(pids)
        self.assertEqual(memory.get_int32(8), 3)
        self.assertEqual(memory.get_int32(4), 0)

    def test_dead_waiter_leaves_nothing_behind(self):
        mutex = Ps.Mutex.new()
        cond = Ps.Cond.new()
        memory = Ps.SharedMemory.new(64)

        def waiter():
            mutex.lock(timeout=LONG_S)
            memory.set_int32(4, 1)
            cond.wait(mutex, timeout=LONG_S)
            return 2

        pid = self.fork(waiter)
        self.assertTrue(wait_for(lambda: locked_value(mutex, memory, 4) == 1))
        self.kill_and_reap(pid)     # killed inside wait(), the mutex released
        self.assertEqual(mutex.get_owner_pid(), 0)

        # What follows runs in children only, so that a hang fails this
        # test (bounded by join) instead of stopping the suite.
        def timed_waits():
            # The mutex is free and healthy; the condition remembers nothing.
            if not mutex.lock(0):
                return 2
            for signal_first in (False, True):
                if signal_first:
                    cond.signal()
                start = time.monotonic_ns()
                try:
                    cond.wait(mutex, timeout=0.05)
                    return 3
                except GLib.Error as e:
                    if not e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT):
                        raise
                if (time.monotonic_ns() - start) / 1000 < 50000:
                    return 4
            mutex.unlock()
            return 0

        self.assertEqual(self.join(self.fork(timed_waits), LONG_S), 0)
        # And handshakes still work.
        pids = [self.fork(take_turns, mutex, cond, memory, 100, parity) for parity in (1, 0)]
        self.assertChildrenSucceed(pids, LONG_S)
        self.assertEqual(memory.get_int32(0), 200)

    def test_mutex_holder_dies_during_wait(self):
        # The process that takes the mutex from a waiter dies holding it:
        # the waiter's wait ends with OWNER_DEAD, holding the mutex.
        mutex = Ps.Mutex.new()
        cond = Ps.Cond.new()
        memory = Ps.SharedMemory.new(64)

        def killer():
            mutex.lock(timeout=LONG_S)
            memory.set_int32(0, 1)
            cond.signal()
            os.kill(os.getpid(), 9)

        mutex.lock()
        pid = self.fork(killer)
        with self.assertRaises(GLib.Error) as ctx:
            end_time = GLib.get_monotonic_time() + LONG_US
            while memory.get_int32(0) == 0:
                cond.wait_until(mutex, end_time, None)
        self.assertPsError(ctx, Ps.Error.OWNER_DEAD)
        self.assertEqual(self.join(pid), -9)
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertTrue(mutex.mark_consistent())
        self.assertTrue(mutex.unlock())
        self.assertTrue(mutex.lock(0))
        self.assertTrue(mutex.unlock())


class CondOwnerDeadInHeld(PsTestCase):
    """The documented pattern: mutex.held(repair=...) around a condition
    wait, while a peer process that took the mutex during the wait is
    SIGKILLed holding it. The wait that takes the mutex back meets
    OWNER_DEAD: repair() runs exactly once, no OWNER_DEAD escapes, and the
    mutex ends released and usable, here and in another process."""

    def start_peer(self):
        """Named mutex, cond and segment, a cond-signal-hold peer on them,
        and a thread (to start) that SIGKILLs the peer once it holds the
        mutex: the peer can only lock once this thread waits."""
        prefix = unique_name('heldcond')
        for suffix in ('.mutex', '.cond', '.shm'):
            self._names.append(prefix + suffix)
        create = Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE
        mutex = Ps.Mutex.open(prefix + '.mutex', create)
        cond = Ps.Cond.open(prefix + '.cond', create)
        memory = Ps.SharedMemory.open(prefix + '.shm', create, 8)
        peer = self.spawn_peer('cond-signal-hold', prefix)
        self.assertEqual(peer.readline(), 'ready')
        killed = []

        def killer():
            if peer.readline() == 'holding':
                os.kill(peer.pid, signal.SIGKILL)
                killed.append(peer.wait())
        return prefix, mutex, cond, memory, peer, threading.Thread(target=killer), killed

    def run_pattern(self, wait):
        prefix, mutex, cond, memory, peer, thread, killed = self.start_peer()
        repairs = []

        def repair():
            repairs.append(mutex.get_owner_pid())
            memory.set_int32(4, 7)           # the repaired state

        with mutex.held(timeout=LONG_S, repair=repair):
            peer.send('go')                  # it locks once this thread waits
            thread.start()
            result = wait(mutex, cond, memory)
            self.assertEqual(mutex.get_owner_pid(), os.getpid())
        thread.join(LONG_S)
        self.assertFalse(thread.is_alive())
        self.assertEqual(killed, [-signal.SIGKILL])
        self.assertEqual(repairs, [os.getpid()])     # once, holding the lock
        self.assertEqual(memory.get_int32(0), 1)
        self.assertEqual(memory.get_int32(4), 7)
        # Released and consistent: usable here and from another process.
        self.assertEqual(mutex.get_owner_pid(), 0)
        self.assertIs(mutex.try_lock(), True)
        self.assertTrue(mutex.unlock())
        other = self.spawn_peer('mutex-lock', prefix + '.mutex')
        self.assertEqual(other.readline(), 'OK')
        self.assertPeerSucceeds(other)
        return result

    def test_wait_for_mutex_form(self):
        result = self.run_pattern(lambda mutex, cond, memory: cond.wait_for(
            mutex, lambda: memory.get_int32(0), timeout=LONG_S))
        self.assertEqual(result, 1)

    def test_wait_for_bound(self):
        def wait(mutex, cond, memory):
            bound = Ps.Cond(mutex, name=cond.get_name(), open_flags=Ps.OpenFlags.NONE)
            return bound.wait_for(lambda: memory.get_int32(0), timeout=LONG_S)
        self.assertEqual(self.run_pattern(wait), 1)

    def test_wait_loop(self):
        def wait(mutex, cond, memory):
            for _ in range(1000):            # spurious wake-ups are allowed
                if memory.get_int32(0):
                    return True
                self.assertIs(cond.wait(mutex, timeout=LONG_S), True)
            return False
        self.assertIs(self.run_pattern(wait), True)

    def test_failed_repair_propagates(self):
        # repair() raising inside the wait ends the block with its
        # exception; the mutex is released unrepaired: NOT_RECOVERABLE.
        prefix, mutex, cond, memory, peer, thread, killed = self.start_peer()

        def repair():
            raise KeyError('beyond repair')

        with self.assertRaises(KeyError):
            with mutex.held(timeout=LONG_S, repair=repair):
                peer.send('go')
                thread.start()
                cond.wait_for(mutex, lambda: memory.get_int32(0), timeout=LONG_S)
        thread.join(LONG_S)
        self.assertFalse(thread.is_alive())
        self.assertEqual(killed, [-signal.SIGKILL])
        self.assertEqual(mutex.get_owner_pid(), 0)
        self.assertRaisesPs(Ps.Error.NOT_RECOVERABLE, mutex.lock, 0)


class CondSharing(PsTestCase):
    def test_named_handshake_with_spawned_process(self):
        prefix = self.new_name('cond')
        self._names += [prefix + '.mutex', prefix + '.cond', prefix + '.shm']
        create = Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE
        mutex = Ps.Mutex.open(prefix + '.mutex', create)
        cond = Ps.Cond.open(prefix + '.cond', create)
        memory = Ps.SharedMemory.open(prefix + '.shm', create, 64)
        self.assertEqual(cond.get_name(), prefix + '.cond')
        self.assertTrue(os.path.exists('/dev/shm' + prefix + '.cond'))
        rounds = 300
        peer = self.spawn_peer('cond-handshake', prefix, rounds)
        self.assertEqual(peer.readline(), 'ready')
        take_turns(mutex, cond, memory, rounds, 0)
        self.assertEqual(peer.readline(), 'done')
        self.assertPeerSucceeds(peer)
        self.assertEqual(memory.get_int32(0), 2 * rounds)

    def test_placed_next_to_data(self):
        memory = Ps.SharedMemory.new(4096)
        mutex = Ps.Mutex.new_at(memory, 64)
        cond = Ps.Cond.new_at(memory, 64 + Ps.MUTEX_SIZE)
        rounds = 300

        def child():
            attached_mutex = Ps.Mutex.attach(memory, 64)
            attached_cond = Ps.Cond.attach(memory, 64 + Ps.MUTEX_SIZE)
            take_turns(attached_mutex, attached_cond, memory, rounds, 1)

        pid = self.fork(child)
        take_turns(mutex, cond, memory, rounds, 0)
        self.assertEqual(self.join(pid), 0)
        self.assertEqual(memory.get_int32(0), 2 * rounds)

    def test_placement_errors(self):
        memory = Ps.SharedMemory.new(4096)
        self.assertRaisesIO(Gio.IOErrorEnum.INVALID_ARGUMENT, Ps.Cond.new_at, memory, 1)
        self.assertRaisesPs(Ps.Error.OUT_OF_BOUNDS, Ps.Cond.new_at,
                            memory, 4096 - Ps.COND_SIZE + 8)
        sem = Ps.Semaphore.new_at(memory, 0, 0)
        self.assertEqual(sem.get_value(), 0)
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Cond.attach, memory, 0)


class CondNames(PsTestCase):
    def test_wrong_type(self):
        name = self.new_name('sem')
        Ps.Semaphore.open(name, Ps.OpenFlags.CREATE, 1)
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Cond.open, name, Ps.OpenFlags.NONE)
        name = self.new_name('mtx')
        Ps.Mutex.open(name, Ps.OpenFlags.CREATE)
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Cond.open, name, Ps.OpenFlags.CREATE)

    def test_missing(self):
        name = self.new_name('missing')
        self.assertRaisesIO(Gio.IOErrorEnum.NOT_FOUND, Ps.Cond.open, name, Ps.OpenFlags.NONE)

    def test_exclusive_on_existing(self):
        name = self.new_name('cond')
        Ps.Cond.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
        self.assertRaisesIO(Gio.IOErrorEnum.EXISTS, Ps.Cond.open, name,
                            Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
        self.assertIsNotNone(Ps.Cond.open(name, Ps.OpenFlags.CREATE))

    def test_invalid_names(self):
        for name in ('', 'no-slash', '/a/b', '/bad name', '/.', '/..', '/' + 'a' * 201):
            with self.subTest(name=name):
                self.assertRaisesIO(Gio.IOErrorEnum.INVALID_ARGUMENT, Ps.Cond.open,
                                    name, Ps.OpenFlags.CREATE)


if __name__ == '__main__':
    unittest.main()
