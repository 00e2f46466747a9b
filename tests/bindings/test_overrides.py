# SPDX-License-Identifier: LGPL-2.1-or-later
"""The PyGObject overrides (bindings/python/gi/overrides/Ps.py): context
managers, default arguments, timeouts in seconds, SharedMemory.buf and
pickling. Cross-process pickling is in test_multiprocessing.py."""

import asyncio
import faulthandler
import gc
import os
import pickle
import struct
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bindings_util import (LONG_S, LONG_US, BindingTestCase,  # noqa: E402
                           fork_child, reap)

import gi  # noqa: E402
gi.require_version('Ps', '1')
from gi.module import get_introspection_module  # noqa: E402
from gi.repository import Gio, GLib, Ps  # noqa: E402

RawPs = get_introspection_module('Ps')
overrides = sys.modules['gi.overrides.Ps']


class Holder:
    """Another thread that holds a mutex (ownership is per thread) until
    release() is called."""

    def __init__(self, mutex):
        self._mutex = mutex
        self._locked = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()
        assert self._locked.wait(LONG_S), 'holder did not lock'

    def _run(self):
        self._mutex.lock(timeout=LONG_S)
        self._locked.set()
        self._release.wait(LONG_S)
        self._mutex.unlock()

    def release(self):
        self._release.set()
        self._thread.join(LONG_S)
        assert not self._thread.is_alive()


def later(func, *args):
    """Runs func(*args) in a thread; returns the thread, to join."""
    thread = threading.Thread(target=func, args=args)
    thread.start()
    return thread


def in_thread(func):
    """func()'s result, called in another thread."""
    result = []
    join(later(lambda: result.append(func())))
    return result[0]


def wait_until(predicate):
    """Polls predicate() within the bound (for thread states no lock shows)."""
    deadline = time.monotonic() + LONG_S
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


G_MAXINT32 = 0x7fffffff


def run_async(start, finish):
    """Runs a main loop until the callback that start(callback) passes to
    an _async call is called; returns [what the @finish method returned,
    or the GLib.Error it raised]."""
    loop = GLib.MainLoop()
    outcome = []

    def done(source, result):
        try:
            outcome.append(getattr(source, finish)(result))
        except GLib.Error as e:
            outcome.append(e)
        loop.quit()
    start(done)
    guard = GLib.timeout_add_seconds(int(LONG_S), loop.quit)
    loop.run()
    GLib.source_remove(guard)
    return outcome


def join(thread):
    thread.join(LONG_S)
    assert not thread.is_alive(), 'thread did not finish within the bound'


class OverridesLoaded(unittest.TestCase):
    def test_classes_are_overridden(self):
        # The tests must exercise the overrides from the source tree, not
        # the bare typelib (nor an installed copy).
        source = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                              'bindings', 'python', 'gi', 'overrides', 'Ps.py')
        self.assertTrue(os.path.samefile(overrides.__file__, source), overrides.__file__)
        for name in ('Mutex', 'Semaphore', 'Cond', 'SharedMemory'):
            cls = getattr(Ps, name)
            self.assertIs(cls, getattr(overrides, name))
            self.assertTrue(issubclass(cls, getattr(RawPs, name)))
        # Objects made by C constructors get the override class.
        self.assertIs(type(Ps.Mutex.new()), overrides.Mutex)
        self.assertIs(type(Ps.SharedMemory.new(8)), overrides.SharedMemory)


class SecondsToMicroseconds(unittest.TestCase):
    def test_conversion(self):
        to_us = overrides._seconds_to_us
        self.assertEqual(to_us(None), Ps.TIMEOUT_INFINITE)
        self.assertEqual(to_us(float('inf')), Ps.TIMEOUT_INFINITE)
        self.assertEqual(to_us(0), 0)
        self.assertEqual(to_us(0.0), 0)
        self.assertEqual(to_us(0.1), 100000)        # not 100001
        self.assertEqual(to_us(2.5), 2500000)
        self.assertEqual(to_us(3), 3000000)
        self.assertEqual(to_us(1e-9), 1)            # positive stays positive
        self.assertEqual(to_us(1e-12), 1)
        self.assertEqual(to_us(1.0000001), 1000001)  # rounded up, never down
        self.assertRaises(ValueError, to_us, -0.5)
        self.assertEqual(to_us(-1), Ps.TIMEOUT_INFINITE)  # for ever, as in threading
        self.assertRaises(ValueError, to_us, -100)
        self.assertRaises(OverflowError, to_us, threading.TIMEOUT_MAX + 1)
        self.assertGreaterEqual(to_us(threading.TIMEOUT_MAX), threading.TIMEOUT_MAX * 1e6)
        self.assertRaises(ValueError, to_us, float('nan'))
        self.assertRaises(TypeError, to_us, 'soon')
        self.assertRaises(OverflowError, to_us, 1e20)


class MutexOverrides(BindingTestCase):
    def test_defaults(self):
        mutex = Ps.Mutex.new()
        self.assertIs(mutex.lock(), True)           # for ever, no cancellable
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertTrue(mutex.unlock())
        self.assertIs(mutex.lock(timeout=0.5), True)
        self.assertTrue(mutex.unlock())
        self.assertIs(mutex.lock(timeout=None), True)
        self.assertTrue(mutex.unlock())
        self.assertIs(mutex.lock(timeout=float('inf'), cancellable=Gio.Cancellable()), True)
        self.assertTrue(mutex.unlock())

    def test_positional_is_microseconds(self):
        # The C calls keep API.md's shape: (timeout_us, cancellable), a
        # positional timeout in microseconds; timeout= is in seconds.
        mutex = Ps.Mutex.new()
        self.assertIs(mutex.lock(Ps.TIMEOUT_INFINITE, None), True)
        self.assertTrue(mutex.unlock())
        self.assertIs(mutex.lock(0, None), True)
        self.assertTrue(mutex.unlock())
        self.assertIs(mutex.lock(timeout_us=1000, cancellable=None), True)
        self.assertTrue(mutex.unlock())
        holder = Holder(mutex)
        try:
            start = time.monotonic()
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, mutex.lock, 50000, None)
            elapsed = time.monotonic() - start
            self.assertGreaterEqual(elapsed, 0.05)
            self.assertLess(elapsed, LONG_S)           # not 50000 seconds
            start = time.monotonic()
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, lambda: mutex.lock(timeout=0.05))
            self.assertGreaterEqual(time.monotonic() - start, 0.05)
            self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, mutex.lock, 0)
        finally:
            holder.release()
        # A number of seconds where microseconds go is refused, not misread.
        with self.assertRaises(TypeError) as caught:
            mutex.lock(0.5)
        self.assertIn('timeout=', str(caught.exception))
        with self.assertRaises(TypeError):
            mutex.lock(True)
        with self.assertRaises(TypeError):
            mutex.lock(5, None, timeout=5)

    def test_c_shaped_calls_of_threading_names(self):
        # acquire() and wait() are both C and threading names: two
        # positional arguments, an integer and None or a Gio.Cancellable,
        # are the C call (microseconds, GLib.Error on a timeout).
        sem = Ps.Semaphore.new(1)
        self.assertIs(sem.acquire(0, None), True)
        self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, sem.acquire, 0, None)
        start = time.monotonic()
        self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, sem.acquire, 50000, Gio.Cancellable())
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 0.05)
        self.assertLess(elapsed, LONG_S)
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED, sem.acquire, -1, cancellable)
        self.assertIs(sem.acquire(False), False)               # threading's forms
        self.assertIs(sem.acquire(True, 0.01), False)
        self.assertEqual(sem.get_value(), 0)
        if hasattr(Ps, 'Event'):
            event = Ps.Event()
            self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, event.wait, 0, None)
            start = time.monotonic()
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, event.wait, 50000, None)
            self.assertLess(time.monotonic() - start, LONG_S)
            self.assertIs(event.wait(0.0), False)              # threading's form
            event.set()
            self.assertIs(event.wait(Ps.TIMEOUT_INFINITE, None), True)
            self.assertIs(event.wait(1), True)
        if hasattr(Ps, 'Barrier'):
            barrier = Ps.Barrier(1)
            self.assertEqual(barrier.wait(0, None), 0)
            self.assertEqual(barrier.wait(Ps.TIMEOUT_INFINITE, None), 0)
            barrier = Ps.Barrier(2)
            start = time.monotonic()
            with self.assertRaises(GLib.Error) as caught:
                barrier.wait(50000, None)
            self.assertLess(time.monotonic() - start, LONG_S)
            self.assertErrorIs(caught.exception, Gio.io_error_quark(),
                               Gio.IOErrorEnum.TIMED_OUT)
            with self.assertRaises(Ps.BarrierBrokenError) as caught:
                barrier.wait(0, None)
            self.assertErrorIs(caught.exception, Ps.error_quark(), Ps.Error.BROKEN)

    def test_c_calls_by_keyword(self):
        # API.md's parameter names, or the cancellable alone by name, are
        # the C call too; threading's form names its timeout.
        sem = Ps.Semaphore.new(0)
        self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK,
                            lambda: sem.acquire(timeout_us=0, cancellable=None))
        start = time.monotonic()
        self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, lambda: sem.acquire(20000, cancellable=None))
        self.assertLess(time.monotonic() - start, LONG_S)
        self.assertIs(sem.acquire(timeout=0.01, cancellable=Gio.Cancellable()), False)
        self.assertIs(sem.acquire(True, timeout=0.01), False)
        if hasattr(Ps, 'Event'):
            event = Ps.Event()
            self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK,
                                lambda: event.wait(timeout_us=0, cancellable=None))
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT,
                                lambda: event.wait(1000, cancellable=Gio.Cancellable()))
            self.assertIs(event.wait(timeout=0.01, cancellable=None), False)
        if hasattr(Ps, 'Barrier'):
            barrier = Ps.Barrier(2)
            self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK,
                                lambda: barrier.wait(timeout_us=0, cancellable=None))
            self.assertIs(barrier.broken, False)             # as in C: not broken
            with self.assertRaises(Ps.BarrierBrokenError):
                barrier.wait(timeout=0.01)                   # threading's: breaks it
            self.assertIs(barrier.broken, True)

    @unittest.skipUnless(hasattr(Ps, 'Barrier'), 'no Ps.Barrier in this typelib')
    def test_barrier_action_with_both_forms(self):
        # Parties using the C form and threading's together: the action
        # runs once per round, before any party returns, and nobody hangs.
        ran = []
        barrier = Ps.Barrier(2, action=lambda: ran.append(1))
        results = []
        thread = threading.Thread(target=lambda: results.append(barrier.wait(timeout=LONG_S)))
        thread.start()
        results.append(barrier.wait(LONG_US, None))
        thread.join(LONG_S)
        self.assertFalse(thread.is_alive())
        self.assertEqual(sorted(results), [0, 1])
        self.assertEqual(ran, [1])

    def test_both_forms_of_timeout(self):
        mutex = Ps.Mutex.new()
        with self.assertRaises(TypeError):
            mutex.lock(1.0, timeout_us=1000)
        with self.assertRaises(TypeError):
            mutex.lock(1.0, timeout=1.0)
        with self.assertRaises(ValueError):
            mutex.lock(timeout=-2)
        with self.assertRaises(OverflowError):
            mutex.lock(timeout=1e100)
        self.assertEqual(mutex.get_owner_pid(), 0)   # nothing was locked

    def test_timeout_in_seconds(self):
        mutex = Ps.Mutex.new()
        holder = Holder(mutex)
        try:
            self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, mutex.lock, timeout=0)
            start = time.monotonic()
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, mutex.lock, timeout=0.1)
            self.assertGreaterEqual(time.monotonic() - start, 0.1)
            self.assertFalse(mutex.try_lock())
        finally:
            holder.release()
        self.assertTrue(mutex.lock(timeout=LONG_S))
        self.assertTrue(mutex.unlock())

    def test_cancellable_keyword(self):
        mutex = Ps.Mutex.new()
        cancellable = Gio.Cancellable()
        holder = Holder(mutex)
        try:
            canceller = threading.Timer(0.05, cancellable.cancel)
            canceller.start()
            self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED, mutex.lock,
                                timeout=LONG_S, cancellable=cancellable)
            join(canceller)
        finally:
            holder.release()

    def test_raw_methods_reachable(self):
        mutex = Ps.Mutex.new()
        self.assertTrue(RawPs.Mutex.lock(mutex, 0, None))
        self.assertRaisesPs(Ps.Error.WOULD_DEADLOCK, RawPs.Mutex.lock, mutex, 0, None)
        self.assertTrue(RawPs.Mutex.unlock(mutex))

    def test_with(self):
        mutex = Ps.Mutex.new()
        with mutex as entered:
            self.assertIs(entered, mutex)
            self.assertEqual(mutex.get_owner_pid(), os.getpid())
            # Non-recursive: the same thread cannot enter again.
            self.assertRaisesPs(Ps.Error.WOULD_DEADLOCK, mutex.__enter__)
        self.assertEqual(mutex.get_owner_pid(), 0)

    def test_with_releases_on_exception(self):
        mutex = Ps.Mutex.new()
        with self.assertRaises(ZeroDivisionError):
            with mutex:
                1 / 0
        self.assertEqual(mutex.get_owner_pid(), 0)
        self.assertTrue(mutex.try_lock())
        self.assertTrue(mutex.unlock())

    def test_with_recursive(self):
        mutex = Ps.Mutex.new_recursive()
        with mutex:
            with mutex:
                self.assertEqual(mutex.get_owner_pid(), os.getpid())
            self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertEqual(mutex.get_owner_pid(), 0)

    def test_exit_unlocked_by_hand(self):
        # Unlocking inside the block is a bug; __exit__ says so.
        mutex = Ps.Mutex.new()
        with self.assertRaises(GLib.Error) as cm:
            with mutex:
                mutex.unlock()
        self.assertErrorIs(cm.exception, Ps.error_quark(), Ps.Error.NOT_OWNER)

    def test_with_excludes_other_threads(self):
        mutex = Ps.Mutex.new()
        memory = Ps.SharedMemory.new(8)
        per_thread = 2000

        def work():
            for _ in range(per_thread):
                with mutex:
                    value = memory.get_int64(0)
                    memory.set_int64(0, value + 1)

        threads = [later(work) for _ in range(4)]
        for thread in threads:
            join(thread)
        self.assertEqual(memory.get_int64(0), 4 * per_thread)

    def test_held(self):
        mutex = Ps.Mutex.new()
        with mutex.held(timeout=1.0) as entered:
            self.assertIs(entered, mutex)
            self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertEqual(mutex.get_owner_pid(), 0)
        holder = Holder(mutex)
        try:
            with self.assertRaises(GLib.Error) as cm:
                with mutex.held(timeout=0.05):
                    self.fail('the block must not run')
            self.assertErrorIs(cm.exception, Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
        finally:
            holder.release()


class MutexOwnerDead(BindingTestCase):
    """What the context managers do when the previous holder died."""

    def orphan(self, mutex):
        """A forked child locks @mutex and exits holding it."""
        def die_holding():
            mutex.lock()
            os._exit(0)
        self.assertChildSucceeds(fork_child(die_holding))

    def test_with_raises_holding(self):
        mutex = Ps.Mutex.new()
        self.orphan(mutex)
        ran = []
        with self.assertRaises(GLib.Error) as cm:
            with mutex:
                ran.append(True)
        self.assertErrorIs(cm.exception, Ps.error_quark(), Ps.Error.OWNER_DEAD)
        self.assertEqual(ran, [])
        # __exit__ did not run: this thread holds the lock, to repair.
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertTrue(mutex.mark_consistent())
        self.assertTrue(mutex.unlock())
        with mutex:
            pass
        self.assertEqual(mutex.get_owner_pid(), 0)

    def test_held_repairs(self):
        memory = Ps.SharedMemory.new(Ps.MUTEX_SIZE + 16)
        mutex = Ps.Mutex.new_at(memory, 0)
        a, b = Ps.MUTEX_SIZE, Ps.MUTEX_SIZE + 8
        memory.set_int64(a, 100)

        def debit_then_die():
            mutex.lock()
            memory.set_int64(a, 60)      # the credit of 40 to b never happens
            os._exit(0)
        self.assertChildSucceeds(fork_child(debit_then_die))

        repairs = []

        def repair():
            self.assertEqual(mutex.get_owner_pid(), os.getpid())
            repairs.append(True)
            memory.set_int64(b, 100 - memory.get_int64(a))

        with mutex.held(timeout=LONG_S, repair=repair):
            self.assertEqual(memory.get_int64(a) + memory.get_int64(b), 100)
        self.assertEqual(repairs, [True])
        self.assertEqual(mutex.get_owner_pid(), 0)
        # Consistent again: a plain lock succeeds, and repair is not called.
        with mutex.held(repair=lambda: self.fail('nothing to repair')):
            pass
        self.assertTrue(mutex.lock(0))
        self.assertTrue(mutex.unlock())

    def test_held_failed_repair(self):
        mutex = Ps.Mutex.new()
        self.orphan(mutex)

        def repair():
            raise ValueError('cannot repair')

        with self.assertRaises(ValueError):
            with mutex.held(repair=repair):
                self.fail('the block must not run')
        # Unlocked without being made consistent: beyond repair.
        self.assertEqual(mutex.get_owner_pid(), 0)
        self.assertRaisesPs(Ps.Error.NOT_RECOVERABLE, mutex.lock, timeout=0)

    def test_held_without_repair(self):
        mutex = Ps.Mutex.new()
        self.orphan(mutex)
        with self.assertRaises(GLib.Error) as cm:
            with mutex.held():
                self.fail('the block must not run')
        self.assertErrorIs(cm.exception, Ps.error_quark(), Ps.Error.OWNER_DEAD)
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertTrue(mutex.mark_consistent())
        self.assertTrue(mutex.unlock())


class SemaphoreOverrides(BindingTestCase):
    def test_defaults(self):
        sem = Ps.Semaphore.new(2)
        self.assertIs(sem.acquire(), True)
        self.assertIs(sem.acquire(timeout=0.5), True)
        self.assertEqual(sem.get_value(), 0)
        # Changed in 1.1: False when no unit came, as in threading.
        self.assertIs(sem.acquire(timeout=0), False)
        self.assertIs(sem.acquire(False), False)
        self.assertIs(sem.acquire(0), False)                  # blocking=0
        start = time.monotonic()
        self.assertIs(sem.acquire(timeout=0.1), False)
        self.assertGreaterEqual(time.monotonic() - start, 0.1)
        start = time.monotonic()
        self.assertIs(sem.acquire(True, 0.1), False)          # seconds
        self.assertGreaterEqual(time.monotonic() - start, 0.1)
        start = time.monotonic()
        self.assertIs(sem.acquire(timeout_us=100000), False)
        self.assertGreaterEqual(time.monotonic() - start, 0.1)
        self.assertEqual(sem.get_value(), 0)                  # no unit lost or made
        with self.assertRaises(TypeError):
            sem.acquire(True, 0, timeout=0)
        with self.assertRaises(TypeError):
            sem.acquire(timeout=0, timeout_us=0)
        with self.assertRaises(ValueError):
            sem.acquire(timeout=-2)
        with self.assertRaises(ValueError):
            sem.acquire(False, 1)
        self.assertTrue(RawPs.Semaphore.release(sem))
        self.assertTrue(RawPs.Semaphore.acquire(sem, 0, None))

    def test_woken_by_release(self):
        sem = Ps.Semaphore.new(0)
        releaser = threading.Timer(0.05, sem.release)
        releaser.start()
        self.assertIs(sem.acquire(timeout=LONG_S), True)
        join(releaser)
        self.assertEqual(sem.get_value(), 0)

    def test_cancellable_keyword(self):
        sem = Ps.Semaphore.new(0)
        cancellable = Gio.Cancellable()
        canceller = threading.Timer(0.05, cancellable.cancel)
        canceller.start()
        self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED, sem.acquire, cancellable=cancellable)
        join(canceller)
        self.assertEqual(sem.get_value(), 0)

    def test_with(self):
        sem = Ps.Semaphore.new(1)
        with sem as entered:
            self.assertIs(entered, sem)
            self.assertEqual(sem.get_value(), 0)
        self.assertEqual(sem.get_value(), 1)
        with self.assertRaises(KeyError):
            with sem:
                raise KeyError('x')
        self.assertEqual(sem.get_value(), 1)

    def test_with_bounded_overflow(self):
        sem = Ps.Semaphore.new_bounded(1, 1)
        with self.assertRaises(GLib.Error) as cm:
            with sem:
                sem.release()                 # gives the unit back early
        self.assertErrorIs(cm.exception, Ps.error_quark(), Ps.Error.OVERFLOW)
        self.assertEqual(sem.get_value(), 1)

    def test_held(self):
        sem = Ps.Semaphore.new(1)
        with sem.held(timeout=1):
            self.assertEqual(sem.get_value(), 0)
            with self.assertRaises(GLib.Error) as cm:
                with sem.held(timeout=0):
                    self.fail('no unit left')
            self.assertErrorIs(cm.exception, Gio.io_error_quark(), Gio.IOErrorEnum.WOULD_BLOCK)
            self.assertEqual(sem.get_value(), 0)
        self.assertEqual(sem.get_value(), 1)

    def test_with_limits_concurrency(self):
        sem = Ps.Semaphore.new(2)
        mutex = threading.Lock()
        inside = [0, 0]        # now, maximum

        def work():
            for _ in range(200):
                with sem:
                    with mutex:
                        inside[0] += 1
                        inside[1] = max(inside)
                    time.sleep(0)
                    with mutex:
                        inside[0] -= 1

        threads = [later(work) for _ in range(5)]
        for thread in threads:
            join(thread)
        self.assertEqual(inside[0], 0)
        self.assertLessEqual(inside[1], 2)
        self.assertEqual(sem.get_value(), 2)


class CondOverrides(BindingTestCase):
    def setUp(self):
        self.memory = Ps.SharedMemory.new(Ps.MUTEX_SIZE + Ps.COND_SIZE + 8)
        self.mutex = Ps.Mutex.new_at(self.memory, 0)
        self.cond = Ps.Cond.new_at(self.memory, Ps.MUTEX_SIZE)
        self.flag = Ps.MUTEX_SIZE + Ps.COND_SIZE

    def set_flag_later(self, value=1, delay=0.05):
        def run():
            time.sleep(delay)
            with self.mutex:
                self.memory.set_int64(self.flag, value)
                self.cond.broadcast()
        return later(run)

    def test_wait_timeouts(self):
        with self.mutex:
            self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, self.cond.wait, self.mutex, timeout=0)
            self.assertEqual(self.mutex.get_owner_pid(), os.getpid())
            start = time.monotonic()
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, self.cond.wait, self.mutex,
                                timeout=0.1)
            self.assertGreaterEqual(time.monotonic() - start, 0.1)
            start = time.monotonic()
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, self.cond.wait, self.mutex, 100000)
            self.assertGreaterEqual(time.monotonic() - start, 0.1)
            with self.assertRaises(TypeError):
                self.cond.wait(self.mutex, 1, timeout=1)
            # Held again after every outcome.
            self.assertEqual(self.mutex.get_owner_pid(), os.getpid())

    def test_wait_default_is_forever(self):
        thread = self.set_flag_later()
        with self.mutex:
            for _ in range(1000):        # spurious wake-ups are allowed
                if self.memory.get_int64(self.flag):
                    break
                self.assertTrue(self.cond.wait(self.mutex))
            self.assertEqual(self.memory.get_int64(self.flag), 1)
        join(thread)

    def test_wait_until(self):
        with self.mutex:
            start = time.monotonic()
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, self.cond.wait_until, self.mutex,
                                deadline=start + 0.1)
            self.assertGreaterEqual(time.monotonic() - start, 0.1)
            # Microseconds on GLib's monotonic clock, positionally, as in C.
            start = time.monotonic()
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, self.cond.wait_until, self.mutex,
                                GLib.get_monotonic_time() + 100000)
            self.assertGreaterEqual(time.monotonic() - start, 0.1)
            # A deadline in the past: no wait at all.
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, self.cond.wait_until, self.mutex,
                                deadline=time.monotonic() - 10)
            with self.assertRaises(TypeError):
                self.cond.wait_until(self.mutex)
            with self.assertRaises(TypeError):
                self.cond.wait_until(self.mutex, 1, deadline=1.0)
            self.assertEqual(self.mutex.get_owner_pid(), os.getpid())

    def test_wait_until_woken(self):
        thread = self.set_flag_later()
        with self.mutex:
            deadline = time.monotonic() + LONG_S
            for _ in range(1000):
                if self.memory.get_int64(self.flag):
                    break
                self.assertTrue(self.cond.wait_until(self.mutex, deadline=deadline))
            self.assertEqual(self.memory.get_int64(self.flag), 1)
        join(thread)

    def test_wait_for(self):
        thread = self.set_flag_later(value=42)
        with self.mutex:
            # Returns the predicate's own (true) value, as threading does.
            result = self.cond.wait_for(self.mutex, lambda: self.memory.get_int64(self.flag),
                                        timeout=LONG_S)
            self.assertEqual(result, 42)
            self.assertEqual(self.mutex.get_owner_pid(), os.getpid())
        join(thread)

    def test_wait_for_forever(self):
        thread = self.set_flag_later(value=7)
        with self.mutex:
            self.assertEqual(self.cond.wait_for(self.mutex,
                                                lambda: self.memory.get_int64(self.flag)), 7)
        join(thread)

    def test_wait_for_already_true(self):
        calls = []

        def predicate():
            calls.append(True)
            return 'yes'

        with self.mutex:
            self.assertEqual(self.cond.wait_for(self.mutex, predicate, timeout=0), 'yes')
        self.assertEqual(calls, [True])

    def test_wait_for_timeout(self):
        with self.mutex:
            start = time.monotonic()
            result = self.cond.wait_for(self.mutex, lambda: self.memory.get_int64(self.flag),
                                        timeout=0.1)
            self.assertGreaterEqual(time.monotonic() - start, 0.1)
            self.assertEqual(result, 0)        # the falsy last value, no exception
            self.assertEqual(self.mutex.get_owner_pid(), os.getpid())
            self.assertEqual(self.cond.wait_for(self.mutex, lambda: None, timeout=0), None)

    def test_wait_for_cancelled(self):
        cancellable = Gio.Cancellable()
        canceller = threading.Timer(0.05, cancellable.cancel)
        canceller.start()
        with self.mutex:
            self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED, self.cond.wait_for, self.mutex,
                                lambda: False, timeout=LONG_S, cancellable=cancellable)
            self.assertEqual(self.mutex.get_owner_pid(), os.getpid())
        join(canceller)

    def test_wait_for_not_owner(self):
        self.assertRaisesPs(Ps.Error.NOT_OWNER, self.cond.wait_for, self.mutex, lambda: False,
                            timeout=0.01)


class MutexThreadingStyle(BindingTestCase):
    """Ps.Mutex as threading.Lock / RLock (changed in 1.1)."""

    def test_construction(self):
        mutex = Ps.Mutex()
        self.assertIs(type(mutex), overrides.Mutex)
        self.assertFalse(mutex.is_recursive())
        self.assertIs(mutex.acquire(), True)           # a working object
        mutex.release()
        self.assertTrue(Ps.Mutex(recursive=True).is_recursive())
        self.assertIs(mutex.init(None), True)          # idempotent

    def test_acquire_return_values(self):
        mutex = Ps.Mutex()
        self.assertIs(mutex.acquire(), True)
        self.assertIs(mutex.locked(), True)
        self.assertIsNone(mutex.release())
        self.assertIs(mutex.locked(), False)
        self.assertIs(mutex.acquire(False), True)
        mutex.release()
        self.assertIs(mutex.acquire(True, 0.5), True)
        mutex.release()
        self.assertIs(mutex.acquire(timeout=-1), True)
        mutex.release()
        self.assertIs(mutex.acquire(blocking=False, timeout=-1), True)
        mutex.release()
        holder = Holder(mutex)
        try:
            self.assertIs(mutex.locked(), True)
            self.assertIs(mutex.acquire(False), False)
            self.assertIs(mutex.acquire(timeout=0), False)
            start = time.monotonic()
            self.assertIs(mutex.acquire(timeout=0.05), False)
            self.assertGreaterEqual(time.monotonic() - start, 0.05)
            self.assertIs(mutex.acquire(timeout_us=1000), False)
            # Not this thread's: NOT_OWNER, a RuntimeError as in threading.
            with self.assertRaises(RuntimeError) as cm:
                mutex.release()
            self.assertErrorIs(cm.exception, Ps.error_quark(), Ps.Error.NOT_OWNER)
        finally:
            holder.release()

    def test_bad_arguments(self):
        mutex = Ps.Mutex()
        self.assertRaises(ValueError, mutex.acquire, False, 1)
        self.assertRaises(ValueError, mutex.acquire, timeout=-100)
        self.assertRaises(OverflowError, mutex.acquire, timeout=1e100)
        self.assertRaises(OverflowError, mutex.acquire, timeout=threading.TIMEOUT_MAX + 1)
        self.assertRaises(TypeError, mutex.acquire, timeout='1')
        self.assertRaises(TypeError, mutex.acquire, timeout=1, timeout_us=1)
        self.assertIs(mutex.locked(), False)

    def test_relock_raises_instead_of_deadlock(self):
        mutex = Ps.Mutex()
        mutex.acquire()
        for call in (mutex.acquire, lambda: mutex.acquire(timeout=0.01),
                     lambda: mutex.acquire(False)):
            with self.assertRaises(GLib.Error) as cm:
                call()
            self.assertErrorIs(cm.exception, Ps.error_quark(), Ps.Error.WOULD_DEADLOCK)
        mutex.release()

    def test_cancellable(self):
        mutex = Ps.Mutex()
        holder = Holder(mutex)
        try:
            cancellable = Gio.Cancellable()
            cancellable.cancel()
            self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED,
                                lambda: mutex.acquire(cancellable=cancellable))
        finally:
            holder.release()

    def test_repr(self):
        mutex = Ps.Mutex()
        self.assertRegex(repr(mutex), r'^<unlocked Ps\.Mutex object at 0x[0-9a-f]+>$')
        mutex.acquire()
        self.assertRegex(repr(mutex), r'^<locked Ps\.Mutex object at 0x[0-9a-f]+>$')
        mutex.release()
        self.assertRegex(repr(Ps.Mutex.new_recursive()),
                         r'^<unlocked Ps\.Mutex object recursive at 0x[0-9a-f]+>$')
        name = self.new_name('repr')
        named = Ps.Mutex.open(name, Ps.OpenFlags.CREATE)
        self.assertIn("'%s' at" % name, repr(named))

    def test_is_owned(self):
        for mutex in (Ps.Mutex(), Ps.Mutex.new_recursive()):
            self.assertIs(mutex._is_owned(), False)
            self.assertIs(mutex.locked(), False)        # the test took nothing
            mutex.acquire()
            self.assertIs(mutex._is_owned(), True)
            holder_result = []
            join(later(lambda: holder_result.append(mutex._is_owned())))
            self.assertEqual(holder_result, [False])
            mutex.release()
            self.assertIs(mutex._is_owned(), False)
            holder = Holder(mutex)
            try:
                self.assertIs(mutex._is_owned(), False)
            finally:
                holder.release()

    def test_release_save_restore(self):
        mutex = Ps.Mutex.new_recursive()
        self.assertRaises(RuntimeError, mutex._release_save)
        for _ in range(3):
            mutex.acquire()
        self.assertEqual(mutex._release_save(), 3)
        self.assertIs(mutex.locked(), False)
        mutex._acquire_restore(3)
        for _ in range(3):
            mutex.release()
        self.assertRaises(RuntimeError, mutex.release)

    def test_threading_condition_over_a_ps_mutex(self):
        # threading.Condition uses the RLock protocol the overrides give.
        mutex = Ps.Mutex.new_recursive()
        cond = threading.Condition(mutex)
        self.assertRaises(RuntimeError, cond.notify)
        items = []

        def produce():
            with cond:
                items.append(1)
                cond.notify()
        thread = threading.Timer(0.05, produce)
        thread.start()
        with cond:
            with cond:
                self.assertIs(cond.wait_for(lambda: items, timeout=LONG_S), items)
        join(thread)


class SemaphoreThreadingStyle(BindingTestCase):
    """Ps.Semaphore as threading.(Bounded)Semaphore (changed in 1.1)."""

    def test_construction(self):
        self.assertEqual(Ps.Semaphore().get_value(), 1)            # threading's default
        sem = Ps.Semaphore(7)
        self.assertIs(type(sem), overrides.Semaphore)
        self.assertEqual((sem.get_value(), sem.get_max_value()), (7, G_MAXINT32))
        sem = Ps.Semaphore(2, max_value=5)
        self.assertEqual((sem.get_value(), sem.get_max_value()), (2, 5))
        sem = Ps.Semaphore(value=3, bounded=True)
        self.assertEqual((sem.get_value(), sem.get_max_value()), (3, 3))
        sem = Ps.Semaphore(initial_value=4)                         # the property
        self.assertEqual(sem.get_value(), 4)
        for bad in (-1, -sys.maxsize):
            self.assertRaises(ValueError, Ps.Semaphore, value=bad)
            self.assertRaises(ValueError, Ps.Semaphore, bad, bounded=True)
        self.assertRaises(ValueError, Ps.Semaphore, 3, max_value=2)
        self.assertRaises(ValueError, Ps.Semaphore, 1, max_value=-1)
        self.assertRaises(ValueError, Ps.Semaphore, G_MAXINT32 + 1)
        self.assertRaises(TypeError, Ps.Semaphore, 1.5)
        self.assertRaises(TypeError, Ps.Semaphore, 1, max_value=2, bounded=True)
        self.assertRaises(ValueError, Ps.Semaphore, 0, max_value=0)
        # What C refuses raises GLib.Error, never an uninitialised object.
        with self.assertRaises(GLib.Error):
            Ps.Semaphore(1, name='no-slash', open_flags=Ps.OpenFlags.CREATE)
        with self.assertRaises(GLib.Error):
            Ps.Mutex(name='no-slash', open_flags=Ps.OpenFlags.CREATE)
        with self.assertRaises(GLib.Error):
            Ps.Cond(name='no-slash', open_flags=Ps.OpenFlags.CREATE)

    def test_acquire_return_values(self):
        sem = Ps.Semaphore(2)
        self.assertIs(sem.acquire(), True)
        self.assertIs(sem.acquire(False), True)
        self.assertIs(sem.acquire(False), False)
        self.assertIs(sem.acquire(timeout=0), False)
        self.assertIs(sem.acquire(5, 0.01), False)        # blocking=5, timeout 10 ms
        self.assertEqual(sem.get_value(), 0)
        releaser = threading.Timer(0.05, sem.release)
        releaser.start()
        self.assertIs(sem.acquire(5), True)               # blocking, not 5 us
        join(releaser)
        self.assertRaises(ValueError, sem.acquire, False, timeout=1.0)

    def test_release_many(self):
        sem = Ps.Semaphore(0)
        self.assertIs(sem.release(), True)
        self.assertIs(sem.release(3), True)
        self.assertEqual(sem.get_value(), 4)
        self.assertIs(sem.release(n=2), True)
        self.assertEqual(sem.get_value(), 6)
        self.assertRaises(ValueError, sem.release, 0)
        self.assertRaises(ValueError, sem.release, -1)
        self.assertRaises(TypeError, sem.release, 1.5)
        self.assertEqual(sem.get_value(), 6)

    def test_release_many_wakes_waiters(self):
        sem = Ps.Semaphore(0)
        got = []
        threads = [later(lambda: got.append(sem.acquire(timeout=LONG_S))) for _ in range(3)]
        sem.release(3)
        for thread in threads:
            join(thread)
        self.assertEqual(got, [True] * 3)
        self.assertEqual(sem.get_value(), 0)

    def test_overflow_is_both(self):
        sem = Ps.Semaphore(1, bounded=True)
        for catch in (ValueError, GLib.Error, Ps.SemaphoreOverflowError):
            with self.assertRaises(catch) as cm:
                sem.release()
            self.assertIsInstance(cm.exception, ValueError)
            self.assertIsInstance(cm.exception, GLib.Error)
            self.assertIs(type(cm.exception), Ps.SemaphoreOverflowError)
            self.assertErrorIs(cm.exception, Ps.error_quark(), Ps.Error.OVERFLOW)
            self.assertEqual(sem.get_value(), 1)
        sem = Ps.Semaphore(0, max_value=2)
        with self.assertRaises(ValueError):
            sem.release(3)
        if hasattr(RawPs.Semaphore, 'release_many'):
            self.assertEqual(sem.get_value(), 0)         # the whole batch refused
        else:
            self.assertEqual(sem.get_value(), 2)         # the temporary loop

    def test_release_many_fallback(self):
        # Without ps_semaphore_release_many in the typelib: single releases.
        saved = overrides._semaphore_release_many
        overrides._semaphore_release_many = None
        try:
            sem = Ps.Semaphore(0, max_value=3)
            self.assertIs(sem.release(2), True)
            self.assertEqual(sem.get_value(), 2)
            self.assertRaises(Ps.SemaphoreOverflowError, sem.release, 2)
            self.assertEqual(sem.get_value(), 3)
        finally:
            overrides._semaphore_release_many = saved

    def test_repr(self):
        sem = Ps.Semaphore(3)
        self.assertRegex(repr(sem), r'^<Ps\.Semaphore at 0x[0-9a-f]+: value=3>$')
        sem = Ps.Semaphore(2, max_value=3)
        self.assertRegex(repr(sem), r'^<Ps\.Semaphore at 0x[0-9a-f]+: value=2/3>$')

    def run_loop(self, start):
        return run_async(start, 'acquire_finish')

    def test_acquire_async_seconds(self):
        sem = Ps.Semaphore(0)
        start = time.monotonic()
        outcome = self.run_loop(lambda done: sem.acquire_async(timeout=0.1, callback=done))
        self.assertGreaterEqual(time.monotonic() - start, 0.1)
        self.assertEqual(len(outcome), 1)
        self.assertErrorIs(outcome[0], Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
        outcome = self.run_loop(lambda done: sem.acquire_async(None, None, done, timeout=0.05))
        self.assertErrorIs(outcome[0], Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
        outcome = self.run_loop(lambda done: sem.acquire_async(timeout_us=50000,
                                                               callback=done))
        self.assertErrorIs(outcome[0], Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
        releaser = threading.Timer(0.05, sem.release)
        releaser.start()
        outcome = self.run_loop(lambda done: sem.acquire_async(timeout=5, callback=done))
        join(releaser)
        self.assertEqual(outcome, [True])
        self.assertEqual(sem.get_value(), 0)
        with self.assertRaises(ValueError):
            sem.acquire_async(timeout=-2)


class MutexAsyncSeconds(BindingTestCase):
    @unittest.skipUnless(hasattr(RawPs.Mutex, 'lock_async'),
                         'ps_mutex_lock_async() is not in this typelib yet (1.1)')
    def test_lock_async_seconds(self):
        mutex = Ps.Mutex()
        holder = Holder(mutex)
        try:
            start = time.monotonic()
            outcome = run_async(lambda done: mutex.lock_async(timeout=0.05, callback=done),
                                'lock_finish')
            self.assertGreaterEqual(time.monotonic() - start, 0.05)
            self.assertErrorIs(outcome[0], Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
            outcome = run_async(lambda done: mutex.lock_async(timeout_us=1000, callback=done),
                                'lock_finish')
            self.assertErrorIs(outcome[0], Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
        finally:
            holder.release()
        outcome = run_async(lambda done: mutex.lock_async(5000000, None, done), 'lock_finish')
        self.assertEqual(outcome, [True])
        mutex.release()               # held by this thread, which ran the callback


class CondAsync(BindingTestCase):
    @unittest.skipUnless(hasattr(RawPs.Cond, 'wait_async'), 'no wait_async() (1.1)')
    def test_wait_async_from_a_main_loop(self):
        mutex = Ps.Mutex()
        cond = Ps.Cond.new()
        mutex.lock()
        start = time.monotonic()
        outcome = run_async(lambda done: cond.wait_async(mutex, timeout=0.05, callback=done),
                            'wait_finish')
        self.assertGreaterEqual(time.monotonic() - start, 0.05)
        self.assertErrorIs(outcome[0], Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)

        def signal():
            with mutex:                # the wait released it
                cond.signal()
        signaller = threading.Timer(0.05, signal)
        signaller.start()
        outcome = run_async(lambda done: cond.wait_async(mutex, 5000000, None, done), 'wait_finish')
        join(signaller)
        self.assertEqual(outcome, [True])
        mutex.release()                # held again, by this thread
        outcome = run_async(lambda done: cond.wait_async(mutex, callback=done), 'wait_finish')
        self.assertErrorIs(outcome[0], Ps.error_quark(), Ps.Error.NOT_OWNER)


class AsyncioFuture(BindingTestCase):
    """Ps.future(): an _async call awaited from asyncio."""

    def test_semaphore_released_by_a_thread(self):
        sem = Ps.Semaphore(0)

        async def main():
            releaser = threading.Timer(0.05, sem.release)
            releaser.start()
            ok = await Ps.future(lambda c, cb: sem.acquire_async(5000000, c, cb), 'acquire_finish')
            join(releaser)
            return ok
        self.assertIs(asyncio.run(main()), True)
        self.assertEqual(sem.get_value(), 0)

    @unittest.skipUnless(hasattr(RawPs.Mutex, 'lock_async'), 'no lock_async() (1.1)')
    def test_mutex_held_by_the_asyncio_thread(self):
        mutex = Ps.Mutex()
        holder = Holder(mutex)

        async def main():
            threading.Timer(0.05, holder.release).start()
            return await Ps.future(lambda c, cb: mutex.lock_async(5000000, c, cb), 'lock_finish')
        self.assertIs(asyncio.run(main()), True)
        mutex.release()               # held by this thread, which ran asyncio

    @unittest.skipUnless(hasattr(RawPs.Mutex, 'lock_async'), 'no lock_async() (1.1)')
    def test_errors_and_cancellation(self):
        sem = Ps.Semaphore(0)
        mutex = Ps.Mutex()
        holder = Holder(mutex)

        async def timed_out():
            await Ps.future(lambda c, cb: mutex.lock_async(20000, c, cb), 'lock_finish')

        async def cancelled():
            task = asyncio.ensure_future(
                Ps.future(lambda c, cb: sem.acquire_async(None, c, cb), 'acquire_finish'))
            await asyncio.sleep(0.02)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
        try:
            with self.assertRaises(GLib.Error) as caught:
                asyncio.run(timed_out())
            self.assertErrorIs(caught.exception, Gio.io_error_quark(),
                               Gio.IOErrorEnum.TIMED_OUT)
            asyncio.run(cancelled())
        finally:
            holder.release()
        self.assertEqual(sem.get_value(), 0)          # the cancelled wait took nothing
        sem.release()
        self.assertIs(sem.acquire(False), True)


class CondThreadingStyle(BindingTestCase):
    """Ps.Cond as threading.Condition (new in 1.1)."""

    def test_construction(self):
        cond = Ps.Cond()
        self.assertIs(type(cond), overrides.Cond)
        self.assertIs(type(cond.mutex), overrides.Mutex)
        self.assertTrue(cond.mutex.is_recursive())
        mutex = Ps.Mutex()
        self.assertIs(Ps.Cond(mutex).mutex, mutex)
        self.assertIs(Ps.Cond(mutex=mutex).mutex, mutex)
        self.assertRaises(TypeError, Ps.Cond, threading.Lock())
        self.assertIsNone(Ps.Cond.new().mutex)            # C constructors: unbound

    def test_unbound(self):
        cond = Ps.Cond.new()
        for call in (cond.wait, cond.acquire, cond.release, cond.__enter__,
                     lambda: cond.wait_for(lambda: True), lambda: cond.wait(0.1)):
            self.assertRaises(TypeError, call)
        cond.notify()                                     # signal(): no mutex to check
        cond.notify_all()

    def test_acquire_with_a_ps_mutex(self):
        # CPython's ConditionTests.test_acquire, with a Ps.Mutex where it
        # binds a threading.Lock (the test is left out of test_lock_tests.py).
        cond = Ps.Cond()
        cond.acquire()
        cond.acquire()
        cond.release()
        cond.release()
        lock = Ps.Mutex()
        cond = Ps.Cond(lock)
        cond.acquire()
        self.assertEqual(in_thread(lambda: lock.acquire(False)), False)
        cond.release()
        self.assertIs(lock.acquire(False), True)
        self.assertEqual(in_thread(lambda: cond.acquire(False)), False)
        lock.release()
        with cond:
            self.assertEqual(in_thread(lambda: lock.acquire(False)), False)
        self.assertIs(lock.locked(), False)

    def test_wait_return_values(self):
        cond = Ps.Cond()
        with cond:
            self.assertIs(cond.wait(0), False)
            start = time.monotonic()
            self.assertIs(cond.wait(0.05), False)
            self.assertGreaterEqual(time.monotonic() - start, 0.05)
            self.assertIs(cond.wait(timeout=0.01), False)
            self.assertIs(cond._is_owned(), True)         # held again
        self.assertRaises(ValueError, lambda: cond.wait(-2))

    @staticmethod
    def producer(cond, items, notify):
        """A timer thread (to start) that appends to items and notifies."""
        def produce():
            with cond:
                items.append(1)
                notify(cond)
        return threading.Timer(0.05, produce)

    def test_wait_woken(self):
        cond = Ps.Cond()
        items = []
        thread = self.producer(cond, items, Ps.Cond.notify)
        with cond:
            thread.start()
            for _ in range(1000):
                if items:
                    break
                self.assertIs(cond.wait(LONG_S), True)
            self.assertEqual(items, [1])
        join(thread)

    def test_wait_releases_every_level(self):
        cond = Ps.Cond()                    # its own recursive mutex
        items = []
        thread = self.producer(cond, items, Ps.Cond.notify_all)
        with cond:
            with cond:
                thread.start()
                self.assertEqual(cond.wait_for(lambda: items, timeout=LONG_S), [1])
                self.assertIs(cond._is_owned(), True)
            self.assertIs(cond._is_owned(), True)
        self.assertIs(cond._is_owned(), False)
        self.assertIs(cond.mutex.locked(), False)
        join(thread)

    def test_wait_for(self):
        cond = Ps.Cond(Ps.Mutex())
        with cond:
            self.assertEqual(cond.wait_for(lambda: 'yes'), 'yes')
            start = time.monotonic()
            self.assertEqual(cond.wait_for(lambda: 0, timeout=0.05), 0)
            self.assertGreaterEqual(time.monotonic() - start, 0.05)
            self.assertIsNone(cond.wait_for(lambda: None, 0))
            self.assertEqual(cond.wait_for(lambda: [], timeout=0), [])

    def test_not_owner(self):
        cond = Ps.Cond()
        for call in (cond.wait, lambda: cond.wait(0.01), cond.notify, cond.notify_all,
                     lambda: cond.wait_for(lambda: False, 0.01)):
            with self.assertRaises(RuntimeError) as cm:
                call()
            self.assertErrorIs(cm.exception, Ps.error_quark(), Ps.Error.NOT_OWNER)
        holder = Holder(cond.mutex)
        try:
            self.assertRaises(RuntimeError, cond.notify)
        finally:
            holder.release()

    def test_notify_counts(self):
        cond = Ps.Cond()
        waiting = [0]
        woken = []

        def waiter():
            with cond:
                waiting[0] += 1
                woken.append(cond.wait(LONG_S))
        threads = [later(waiter) for _ in range(4)]
        self.assertTrue(wait_until(lambda: waiting[0] == 4))
        with cond:
            self.assertIsNone(cond.notify(2))
        self.assertTrue(wait_until(lambda: len(woken) >= 2))
        with cond:
            self.assertIsNone(cond.notify_all())
        for thread in threads:
            join(thread)
        self.assertEqual(woken, [True] * 4)

    def test_mutex_form_unchanged(self):
        # The 1.0 form on a bound condition: the given mutex, and raising.
        mutex = Ps.Mutex()
        cond = Ps.Cond()
        with mutex:
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, cond.wait, mutex, 10000)
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, lambda: cond.wait(mutex=mutex,
                                                                               timeout=0.01))
            self.assertEqual(cond.wait_for(mutex, lambda: 0, timeout=0.01), 0)
        self.assertIs(cond.mutex.locked(), False)

    def test_shared_over_fork(self):
        memory, mutex, cond, flag = HeldRepairInWait.placed()

        def child():
            with cond:
                memory.set_int64(flag, 1)
                cond.notify()
        with cond:
            pid = fork_child(child)
            self.assertIs(cond.wait_for(lambda: memory.get_int64(flag), LONG_S), 1)
        self.assertChildSucceeds(pid)


class HeldRepairInWait(BindingTestCase):
    """held(repair=) handles OWNER_DEAD met by a wait inside it (the
    cross-process SIGKILL case is in tests/python/test_cond.py)."""

    @staticmethod
    def placed():
        """A segment with a mutex, a Ps.Cond bound to it and a flag."""
        memory = Ps.SharedMemory.new(Ps.MUTEX_SIZE + Ps.COND_SIZE + 8)
        mutex = Ps.Mutex.new_at(memory, 0)
        cond = Ps.Cond(mutex, memory=memory, offset=Ps.MUTEX_SIZE)
        return memory, mutex, cond, Ps.MUTEX_SIZE + Ps.COND_SIZE

    def test_repair_once_and_continue(self):
        memory, mutex, cond, flag = self.placed()
        repairs = []
        with mutex.held(timeout=LONG_S, repair=lambda: repairs.append(True)):
            def child():
                mutex.lock()                 # once the parent waits
                memory.set_int64(flag, 1)
                cond.notify()
                os._exit(0)                  # dies holding the mutex
            pid = fork_child(child)
            self.assertEqual(cond.wait_for(lambda: memory.get_int64(flag), LONG_S), 1)
            self.assertEqual(repairs, [True])
        self.assertChildSucceeds(pid)
        self.assertIs(mutex.locked(), False)
        self.assertIs(mutex.acquire(timeout=0), True)
        mutex.release()

    def test_outside_held_raises(self):
        memory, mutex, cond, flag = self.placed()
        with self.assertRaises(GLib.Error) as cm:
            with mutex.held(timeout=LONG_S):          # no repair: as in 1.0
                def child():
                    mutex.lock()
                    cond.notify()
                    os._exit(0)
                pid = fork_child(child)
                cond.wait(LONG_S)
        self.assertErrorIs(cm.exception, Ps.error_quark(), Ps.Error.OWNER_DEAD)
        self.assertChildSucceeds(pid)
        self.assertEqual(overrides._repairs(), [])


class SharedMemoryBuf(BindingTestCase):
    def test_view(self):
        memory = Ps.SharedMemory.new(64)
        view = memory.buf
        self.assertIsInstance(view, memoryview)
        self.assertEqual(view.format, 'B')
        self.assertEqual(view.itemsize, 1)
        self.assertEqual(len(view), 64)
        self.assertEqual(view.nbytes, 64)
        self.assertFalse(view.readonly)
        self.assertTrue(view.c_contiguous)
        self.assertEqual(bytes(view), bytes(64))        # zero-filled

    def test_zero_copy_both_ways(self):
        memory = Ps.SharedMemory.new(64)
        view = memory.buf
        struct.pack_into('=q', view, 8, -1234567890123)
        self.assertEqual(memory.get_int64(8), -1234567890123)
        view[0:4] = b'abcd'
        self.assertEqual(memory.read(0, 4).get_data(), b'abcd')
        memory.set_int32(16, 0x01020304)
        self.assertEqual(struct.unpack_from('=i', view, 16), (0x01020304,))
        memory.write(60, b'wxyz')
        self.assertEqual(bytes(view[60:]), b'wxyz')     # the same view, already
        self.assertEqual(bytes(memory.buf[0:4]), b'abcd')

    def test_out_of_range(self):
        view = Ps.SharedMemory.new(16).buf
        with self.assertRaises(IndexError):
            view[16]
        with self.assertRaises(struct.error):
            struct.pack_into('=q', view, 12, 1)
        with self.assertRaises(ValueError):
            view[0:2] = b'abc'

    def test_keeps_memory_alive(self):
        memory = Ps.SharedMemory.new(4096)
        memory.set_int64(4088, 99)
        view = memory.buf[4080:]
        del memory
        gc.collect()
        # The segment is still mapped: reading and writing are safe.
        self.assertEqual(struct.unpack_from('=q', view, 8), (99,))
        view[0] = 7
        self.assertEqual(view[0], 7)
        view.release()

    def test_named_views_share(self):
        name = self.new_name('buf')
        first = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 32)
        second = Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0)
        first.buf[5] = 200
        self.assertEqual(second.buf[5], 200)
        self.assertEqual(second.get_uint8(5), 200)

    def test_shared_over_fork(self):
        memory = Ps.SharedMemory.new(16)
        view = memory.buf

        def child():
            struct.pack_into('=q', view, 0, 31337)

        self.assertChildSucceeds(fork_child(child))
        self.assertEqual(memory.get_int64(0), 31337)

    @unittest.skipUnless(__import__('importlib').util.find_spec('numpy'), 'numpy is not installed')
    def test_numpy(self):
        import numpy
        memory = Ps.SharedMemory.new(80)
        array = numpy.frombuffer(memory.buf, dtype=numpy.int64)
        array[:] = numpy.arange(10)
        self.assertEqual(memory.get_int64(72), 9)


class Pickling(BindingTestCase):
    def roundtrip(self, obj):
        clone = pickle.loads(pickle.dumps(obj))
        self.assertIs(type(clone), type(obj))
        self.assertIsNot(clone, obj)
        return clone

    def test_named_mutex(self):
        name = self.new_name('pmtx')
        mutex = Ps.Mutex.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
        clone = self.roundtrip(mutex)
        self.assertEqual(clone.get_name(), name)
        with mutex:
            # The same mutex: held by this thread through either handle.
            self.assertEqual(clone.get_owner_pid(), os.getpid())
            self.assertRaisesPs(Ps.Error.WOULD_DEADLOCK, clone.lock, timeout=0)

    def test_named_recursive_mutex(self):
        name = self.new_name('prmtx')
        mutex = Ps.Mutex(name=name, open_flags=Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE,
                         recursive=True)
        self.assertTrue(mutex.init(None))
        self.assertTrue(self.roundtrip(mutex).is_recursive())

    def test_named_semaphore(self):
        name = self.new_name('psem')
        sem = Ps.Semaphore.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 3)
        clone = self.roundtrip(sem)
        self.assertEqual(clone.get_value(), 3)
        clone.acquire(timeout=0)
        self.assertEqual(sem.get_value(), 2)

    def test_named_cond(self):
        name = self.new_name('pcond')
        cond = Ps.Cond.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
        self.assertEqual(self.roundtrip(cond).get_name(), name)

    def test_bound_cond(self):
        mutex = Ps.Mutex.open(self.new_name('pbm'), Ps.OpenFlags.CREATE)
        cond = Ps.Cond(mutex, name=self.new_name('pbc'), open_flags=Ps.OpenFlags.CREATE)
        clone = self.roundtrip(cond)
        self.assertEqual(clone.get_name(), cond.get_name())
        self.assertIs(type(clone.mutex), overrides.Mutex)
        self.assertEqual(clone.mutex.get_name(), mutex.get_name())
        with clone:
            self.assertEqual(mutex.get_owner_pid(), os.getpid())
            self.assertIs(clone.wait(0.01), False)
        self.assertIsNone(self.roundtrip(Ps.Cond.open(cond.get_name(), 0)).mutex)
        # Its own anonymous mutex cannot travel.
        with self.assertRaises(RuntimeError) as cm:
            pickle.dumps(Ps.Cond(name=self.new_name('pbc2'), open_flags=Ps.OpenFlags.CREATE))
        self.assertIn('anonymous Ps.Mutex', str(cm.exception))

    def test_named_memory(self):
        name = self.new_name('pshm')
        memory = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 128)
        memory.set_int64(120, 5)
        clone = self.roundtrip(memory)
        self.assertEqual(clone.get_size(), 128)
        self.assertEqual(clone.get_int64(120), 5)
        clone.buf[0] = 1
        self.assertEqual(memory.get_uint8(0), 1)

    def test_placed_in_named_memory(self):
        name = self.new_name('pplaced')
        memory = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE,
                                      Ps.MUTEX_SIZE + Ps.SEMAPHORE_SIZE + Ps.COND_SIZE)
        mutex = Ps.Mutex.new_at(memory, 0)
        sem = Ps.Semaphore.new_at(memory, Ps.MUTEX_SIZE, 4)
        cond = Ps.Cond.new_at(memory, Ps.MUTEX_SIZE + Ps.SEMAPHORE_SIZE)
        mutex2, sem2, cond2 = pickle.loads(pickle.dumps((mutex, sem, cond)))
        self.assertEqual(mutex2.props.offset, 0)
        self.assertEqual(mutex2.props.memory.get_name(), name)
        self.assertEqual(sem2.get_value(), 4)
        self.assertEqual(cond2.props.offset, Ps.MUTEX_SIZE + Ps.SEMAPHORE_SIZE)
        with mutex:
            self.assertEqual(mutex2.get_owner_pid(), os.getpid())
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT, cond2.wait, mutex2, timeout=0.01)

    def test_anonymous_refused(self):
        memory = Ps.SharedMemory.new(Ps.MUTEX_SIZE)
        objects = [Ps.Mutex.new(), Ps.Mutex.new_recursive(), Ps.Semaphore.new(1),
                   Ps.Cond.new(), memory, Ps.Mutex.new_at(memory, 0)]
        for obj in objects:
            for dump in (pickle.dumps, lambda o: pickle.dumps(o, protocol=0)):
                with self.assertRaises(RuntimeError) as cm:
                    dump(obj)
                message = str(cm.exception)
                self.assertIn('anonymous Ps.%s' % type(obj).__name__, message)
                self.assertIn('inheritance', message)
                self.assertIn('.open(', message)

    def test_anonymous_refused_by_spawn(self):
        import multiprocessing
        for method in ('spawn', 'forkserver'):
            process = multiprocessing.get_context(method).Process(target=print,
                                                                  args=(Ps.Semaphore.new(0),))
            with self.assertRaises(RuntimeError):
                process.start()
            self.assertIsNone(process.pid)        # nothing was started


if __name__ == '__main__':
    faulthandler.dump_traceback_later(10 * LONG_S, exit=True)
    unittest.main()
