# SPDX-License-Identifier: LGPL-2.1-or-later
"""PsMutex through the typelib: ownership, recursion, timeouts,
cancellation, robustness against dying holders, and the three sharing
models."""

import os
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peer_sync import LONG_S, LONG_US, PsTestCase, scaled  # noqa: E402

import gi  # noqa: E402
gi.require_version('Ps', '1')
from gi.repository import GLib, Gio, Ps  # noqa: E402


def in_thread(func, *args):
    """Runs func(*args) in another thread; returns its result, or the
    exception it raised."""
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
    return isinstance(value, GLib.Error) and value.domain == 'ps-error-quark' and value.code == code


class MutexBasics(PsTestCase):
    def test_lock_unlock(self):
        mutex = Ps.Mutex.new()
        self.assertFalse(mutex.is_recursive())
        self.assertIsNone(mutex.get_name())
        self.assertEqual(mutex.get_owner_pid(), 0)
        self.assertTrue(mutex.lock(Ps.TIMEOUT_INFINITE))   # -1: for ever
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertTrue(mutex.unlock())
        self.assertEqual(mutex.get_owner_pid(), 0)
        self.assertTrue(mutex.lock(0))
        self.assertTrue(mutex.unlock())
        self.assertTrue(mutex.lock(timeout_us=1000))
        self.assertTrue(mutex.unlock())

    def test_try_lock(self):
        mutex = Ps.Mutex.new()
        self.assertTrue(mutex.try_lock())
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        # Busy for another thread: FALSE without an error.
        self.assertIs(in_thread(mutex.try_lock), False)
        self.assertTrue(mutex.unlock())
        self.assertIs(in_thread(lambda: mutex.try_lock() and mutex.unlock()), True)

    def test_unlock_when_unlocked(self):
        mutex = Ps.Mutex.new()
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)
        mutex.lock()
        mutex.unlock()
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.mark_consistent)

    def test_relock_would_deadlock(self):
        mutex = Ps.Mutex.new()
        mutex.lock()
        self.assertRaisesPs(Ps.Error.WOULD_DEADLOCK, mutex.lock, Ps.TIMEOUT_INFINITE, None)
        self.assertRaisesPs(Ps.Error.WOULD_DEADLOCK, mutex.lock, 0, None)
        self.assertRaisesPs(Ps.Error.WOULD_DEADLOCK, mutex.lock, 1000, None)
        self.assertRaisesPs(Ps.Error.WOULD_DEADLOCK, mutex.try_lock)
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        # Still held once: one unlock releases it.
        self.assertTrue(mutex.unlock())
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)
        self.assertIs(in_thread(lambda: mutex.try_lock() and mutex.unlock()), True)

    def test_unlock_from_other_thread(self):
        mutex = Ps.Mutex.new()
        mutex.lock()
        error = in_thread(mutex.unlock)
        self.assertTrue(is_ps_error(error, Ps.Error.NOT_OWNER), error)
        error = in_thread(mutex.mark_consistent)
        self.assertTrue(is_ps_error(error, Ps.Error.NOT_OWNER), error)
        self.assertIs(in_thread(mutex.try_lock), False)
        self.assertTrue(mutex.unlock())

    def test_lock_waits_for_other_thread(self):
        mutex = Ps.Mutex.new()
        mutex.lock()
        locked = threading.Event()
        result = []

        def locker():
            result.append(mutex.lock(timeout=LONG_S))
            locked.set()
            mutex.unlock()

        thread = threading.Thread(target=locker)
        thread.start()
        self.assertFalse(locked.wait(0.05))
        mutex.unlock()
        thread.join(LONG_S)
        self.assertFalse(thread.is_alive())
        self.assertEqual(result, [True])

    def test_recursive(self):
        mutex = Ps.Mutex.new_recursive()
        self.assertTrue(mutex.is_recursive())
        self.assertTrue(mutex.lock())
        self.assertTrue(mutex.lock(0))
        self.assertTrue(mutex.try_lock())
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertIs(in_thread(mutex.try_lock), False)
        error = in_thread(mutex.unlock)
        self.assertTrue(is_ps_error(error, Ps.Error.NOT_OWNER), error)
        self.assertTrue(mutex.unlock())
        self.assertTrue(mutex.unlock())
        self.assertIs(in_thread(mutex.try_lock), False)   # still held once
        self.assertTrue(mutex.unlock())
        self.assertEqual(mutex.get_owner_pid(), 0)
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)
        self.assertIs(in_thread(lambda: mutex.try_lock() and mutex.unlock()), True)


class MutexTimeouts(PsTestCase):
    def hold_in_thread(self, mutex):
        held = threading.Event()
        release = threading.Event()

        def holder():
            mutex.lock(timeout=LONG_S)
            held.set()
            release.wait(LONG_S)
            mutex.unlock()

        thread = threading.Thread(target=holder)
        thread.start()
        self.assertTrue(held.wait(LONG_S))
        self.addCleanup(thread.join, LONG_S)
        self.addCleanup(release.set)
        return release

    def test_zero_timeout_would_block(self):
        mutex = Ps.Mutex.new()
        self.hold_in_thread(mutex)
        self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, mutex.lock, 0, None)
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)

    def test_timeout_never_early(self):
        mutex = Ps.Mutex.new()
        self.hold_in_thread(mutex)
        for timeout_us in (1, 1000, 20000, 100000):
            start = time.monotonic_ns()
            self.assertRaisesIO(Gio.IOErrorEnum.TIMED_OUT,
                                lambda: mutex.lock(timeout_us=timeout_us))
            elapsed_us = (time.monotonic_ns() - start) / 1000
            self.assertGreaterEqual(elapsed_us, timeout_us)
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)

    def test_cancel_wakes_blocked_lock(self):
        mutex = Ps.Mutex.new()
        self.hold_in_thread(mutex)
        cancellable = Gio.Cancellable()
        cancelled_at = []

        def cancel():
            cancelled_at.append(time.monotonic())
            cancellable.cancel()

        timer = threading.Timer(0.1, cancel)
        timer.start()
        try:
            self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED, mutex.lock,
                                Ps.TIMEOUT_INFINITE, cancellable)
            returned_at = time.monotonic()
        finally:
            timer.join()
        self.assertLess(returned_at - cancelled_at[0], scaled(0.5))
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)

    def test_already_cancelled(self):
        mutex = Ps.Mutex.new()
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        self.assertRaisesIO(Gio.IOErrorEnum.CANCELLED, mutex.lock, -1, cancellable)
        self.assertEqual(mutex.get_owner_pid(), 0)


class MutexProcesses(PsTestCase):
    def hold_in_child(self, mutex):
        """Forks a child that locks @mutex, reports, then sleeps until it is
        killed or its stdin-less pipe closes. Returns (pid, release_fd)."""
        ready_r, ready_w = os.pipe()
        release_r, release_w = os.pipe()

        def child():
            os.close(ready_r)
            os.close(release_w)
            if not mutex.lock(timeout=LONG_S):
                return 2
            os.write(ready_w, b'L')
            os.read(release_r, 1)    # EOF or a byte: unlock and go
            mutex.unlock()
            return 0

        pid = self.fork(child)
        os.close(ready_w)
        os.close(release_r)
        self.addCleanup(os.close, release_w)
        self.assertEqual(os.read(ready_r, 1), b'L')
        os.close(ready_r)
        return pid, release_w

    def test_owner_pid_of_other_process(self):
        mutex = Ps.Mutex.new()
        pid, release = self.hold_in_child(mutex)
        self.assertEqual(mutex.get_owner_pid(), pid)
        self.assertFalse(mutex.try_lock())
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.mark_consistent)
        os.write(release, b'x')
        self.assertTrue(mutex.lock(timeout=LONG_S))   # woken by the child's unlock
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertEqual(self.join(pid), 0)
        mutex.unlock()

    def test_unlock_from_other_process(self):
        mutex = Ps.Mutex.new()
        mutex.lock()

        def child():
            try:
                mutex.unlock()
                return 2
            except GLib.Error as e:
                if not is_ps_error(e, Ps.Error.NOT_OWNER):
                    raise
            if mutex.try_lock():
                return 3
            return 0 if mutex.get_owner_pid() == os.getppid() else 4

        self.assertEqual(self.join(self.fork(child)), 0)
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertTrue(mutex.unlock())

    def test_owner_death_next_locker(self):
        mutex = Ps.Mutex.new()
        pid, _ = self.hold_in_child(mutex)
        self.kill_and_reap(pid)
        with self.assertRaises(GLib.Error) as ctx:
            mutex.lock(timeout=LONG_S)
        self.assertPsError(ctx, Ps.Error.OWNER_DEAD)
        # ... and holds the lock.
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertIs(in_thread(mutex.try_lock), False)
        self.assertTrue(mutex.mark_consistent())
        self.assertTrue(mutex.unlock())
        # Exactly once: recovered, it works normally again.
        self.assertTrue(mutex.lock(timeout=LONG_S))
        self.assertTrue(mutex.unlock())
        self.assertTrue(mutex.try_lock())
        self.assertTrue(mutex.unlock())

    def test_owner_death_try_lock(self):
        mutex = Ps.Mutex.new()
        pid, _ = self.hold_in_child(mutex)
        self.kill_and_reap(pid)
        self.assertRaisesPs(Ps.Error.OWNER_DEAD, mutex.try_lock)
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertTrue(mutex.mark_consistent())
        self.assertTrue(mutex.unlock())
        self.assertTrue(mutex.try_lock())
        self.assertTrue(mutex.unlock())

    def test_owner_death_waiting_locker(self):
        mutex = Ps.Mutex.new()
        pid, _ = self.hold_in_child(mutex)
        outcome = []
        started = threading.Event()

        def waiter():
            started.set()
            try:
                outcome.append(mutex.lock(timeout=LONG_S))
            except GLib.Error as e:
                outcome.append(e)
                if is_ps_error(e, Ps.Error.OWNER_DEAD):
                    outcome.append(mutex.get_owner_pid())
                    mutex.mark_consistent()
            mutex.unlock()

        thread = threading.Thread(target=waiter)
        thread.start()
        self.assertTrue(started.wait(LONG_S))
        time.sleep(0.1)     # let it block in lock(); it is correct either way
        self.assertEqual(outcome, [])
        self.kill_and_reap(pid)
        thread.join(LONG_S)
        self.assertFalse(thread.is_alive())
        self.assertTrue(is_ps_error(outcome[0], Ps.Error.OWNER_DEAD), outcome)
        self.assertEqual(outcome[1], os.getpid())
        self.assertTrue(mutex.lock(0))
        self.assertTrue(mutex.unlock())

    def test_owner_death_reported_exactly_once_to_waiters(self):
        mutex = Ps.Mutex.new()
        holder, _ = self.hold_in_child(mutex)
        waiting = Ps.Semaphore.new(0)

        def waiter():
            waiting.release()
            try:
                mutex.lock(timeout=LONG_S)
                status = 0
            except GLib.Error as e:
                if not is_ps_error(e, Ps.Error.OWNER_DEAD):
                    raise
                if mutex.get_owner_pid() != os.getpid():
                    return 3
                mutex.mark_consistent()
                status = 10
            mutex.unlock()
            return status

        waiters = [self.fork(waiter) for _ in range(3)]
        for _ in waiters:
            self.assertTrue(waiting.acquire(timeout=LONG_S))
        time.sleep(0.1)
        self.kill_and_reap(holder)
        statuses = sorted(self.join(pid) for pid in waiters)
        self.assertEqual(statuses, [0, 0, 10])
        self.assertTrue(mutex.lock(0))
        self.assertTrue(mutex.unlock())

    def test_not_recoverable(self):
        mutex = Ps.Mutex.new()
        pid, _ = self.hold_in_child(mutex)
        self.kill_and_reap(pid)
        self.assertRaisesPs(Ps.Error.OWNER_DEAD, mutex.lock, LONG_US, None)
        self.assertTrue(mutex.unlock())      # without mark_consistent
        self.assertEqual(mutex.get_owner_pid(), 0)
        for _ in range(2):
            self.assertRaisesPs(Ps.Error.NOT_RECOVERABLE, mutex.lock, LONG_US, None)
            self.assertRaisesPs(Ps.Error.NOT_RECOVERABLE, mutex.lock, Ps.TIMEOUT_INFINITE, None)
            self.assertRaisesPs(Ps.Error.NOT_RECOVERABLE, mutex.lock, 0, None)
            self.assertRaisesPs(Ps.Error.NOT_RECOVERABLE, mutex.try_lock)
            self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)
        error = in_thread(mutex.lock, LONG_US, None)
        self.assertTrue(is_ps_error(error, Ps.Error.NOT_RECOVERABLE), error)

        def child():
            try:
                mutex.lock(timeout=LONG_S)
            except GLib.Error as e:
                return 0 if is_ps_error(e, Ps.Error.NOT_RECOVERABLE) else 2
            return 3

        self.assertEqual(self.join(self.fork(child)), 0)

    def test_owner_death_recursive(self):
        mutex = Ps.Mutex.new_recursive()

        ready_r, ready_w = os.pipe()

        def child():
            for _ in range(3):
                mutex.lock(timeout=LONG_S)
            os.write(ready_w, b'L')
            time.sleep(LONG_S)
            return 2

        pid = self.fork(child)
        os.close(ready_w)
        self.assertEqual(os.read(ready_r, 1), b'L')
        os.close(ready_r)
        self.kill_and_reap(pid)
        self.assertRaisesPs(Ps.Error.OWNER_DEAD, mutex.lock, LONG_US, None)
        self.assertTrue(mutex.mark_consistent())
        self.assertTrue(mutex.lock(0))    # nested, on top of the recovered hold
        self.assertTrue(mutex.unlock())
        self.assertTrue(mutex.unlock())
        self.assertEqual(mutex.get_owner_pid(), 0)
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)
        self.assertIs(in_thread(lambda: mutex.try_lock() and mutex.unlock()), True)

    def test_killed_waiter_leaves_nothing_behind(self):
        mutex = Ps.Mutex.new()
        memory = Ps.SharedMemory.new(4096)
        holder, release = self.hold_in_child(mutex)
        about_to_wait = Ps.Semaphore.new(0)

        def waiter():
            about_to_wait.release()
            mutex.lock(timeout=LONG_S)
            return 2

        pid = self.fork(waiter)
        self.assertTrue(about_to_wait.acquire(timeout=LONG_S))
        time.sleep(0.1)     # let it block in lock()
        self.kill_and_reap(pid)
        os.write(release, b'x')
        self.assertEqual(self.join(holder), 0)
        # Contention afterwards still works (in children only, so that a
        # hang fails this test instead of stopping the suite).
        MutexCounter.run_counter(self, memory, lambda: mutex, processes=3, timeout=LONG_S)
        self.assertTrue(mutex.lock(0))
        self.assertTrue(mutex.unlock())

    def test_mark_consistent_on_consistent_mutex(self):
        mutex = Ps.Mutex.new()
        mutex.lock()
        self.assertTrue(mutex.mark_consistent())
        self.assertTrue(mutex.unlock())
        self.assertTrue(mutex.lock(0))
        self.assertTrue(mutex.unlock())


class MutexCounter(PsTestCase):
    """Ten processes add and subtract under the lock, each with a
    read-modify-write that a broken lock would lose updates in."""

    ITERATIONS = 200

    def run_counter(self, memory, make_lock, nested=1, processes=10, timeout=None):
        def child(index):
            mutex = make_lock()
            delta = index + 1
            for k in range(2 * MutexCounter.ITERATIONS):
                for _ in range(nested):
                    if not mutex.lock(timeout=LONG_S):
                        return 2
                value = memory.get_int32(0)
                ops = memory.get_int64(8)
                time.sleep(0)
                memory.set_int32(0, value + (delta if k % 2 else -delta))
                memory.set_int64(8, ops + 1)
                for _ in range(nested):
                    mutex.unlock()
            return 0

        pids = [self.fork(child, i) for i in range(processes)]
        self.assertChildrenSucceed(pids, timeout)
        self.assertEqual(memory.get_int32(0), 0)
        self.assertEqual(memory.get_int64(8), processes * 2 * MutexCounter.ITERATIONS)

    def test_anonymous_mutex(self):
        memory = Ps.SharedMemory.new(4096)
        mutex = Ps.Mutex.new()
        self.run_counter(memory, lambda: mutex)
        self.assertEqual(mutex.get_owner_pid(), 0)

    def test_recursive_mutex(self):
        memory = Ps.SharedMemory.new(4096)
        mutex = Ps.Mutex.new_recursive()
        self.run_counter(memory, lambda: mutex, nested=2)
        self.assertEqual(mutex.get_owner_pid(), 0)

    def test_placed_mutex_attached_in_children(self):
        memory = Ps.SharedMemory.new(4096)
        mutex = Ps.Mutex.new_at(memory, 64)
        self.run_counter(memory, lambda: Ps.Mutex.attach(memory, 64))
        self.assertEqual(mutex.get_owner_pid(), 0)

    def test_named_mutex_opened_in_children(self):
        name = self.new_name('mtx')
        memory = Ps.SharedMemory.new(4096)
        mutex = Ps.Mutex.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
        self.run_counter(memory, lambda: Ps.Mutex.open(name, Ps.OpenFlags.NONE))
        self.assertEqual(mutex.get_owner_pid(), 0)


class MutexSharing(PsTestCase):
    def test_anonymous_over_fork(self):
        mutex = Ps.Mutex.new()
        memory = Ps.SharedMemory.new(64)

        def child():
            if not mutex.lock(timeout=LONG_S):
                return 2
            memory.set_int32(0, os.getpid())
            mutex.unlock()
            return 0

        mutex.lock()
        pid = self.fork(child)
        time.sleep(0.05)
        self.assertEqual(memory.get_int32(0), 0)    # the child is kept out
        mutex.unlock()
        self.assertEqual(self.join(pid), 0)
        self.assertEqual(memory.get_int32(0), pid)

    def test_named_held_by_spawned_process(self):
        name = self.new_name('mtx')
        mutex = Ps.Mutex.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
        self.assertEqual(mutex.get_name(), name)
        self.assertTrue(os.path.exists('/dev/shm' + name))
        peer = self.spawn_peer('mutex-hold', name, 100)
        self.assertEqual(peer.readline(), 'locked %d' % peer.pid)
        self.assertEqual(mutex.get_owner_pid(), peer.pid)
        self.assertFalse(mutex.try_lock())
        self.assertRaisesPs(Ps.Error.NOT_OWNER, mutex.unlock)
        peer.send('unlock')
        self.assertTrue(mutex.lock(timeout=LONG_S))   # woken by the peer's unlock
        self.assertEqual(peer.readline(), 'unlocked')
        self.assertPeerSucceeds(peer)
        self.assertTrue(mutex.unlock())

    def test_named_unlock_by_spawned_process(self):
        name = self.new_name('mtx')
        mutex = Ps.Mutex.open(name, Ps.OpenFlags.CREATE)
        mutex.lock()
        peer = self.spawn_peer('mutex-foreign', name)
        self.assertEqual(peer.readline(), 'NOT_OWNER')
        self.assertPeerSucceeds(peer)
        self.assertEqual(mutex.get_owner_pid(), os.getpid())
        self.assertTrue(mutex.unlock())

    def test_named_owner_killed(self):
        name = self.new_name('mtx')
        mutex = Ps.Mutex.open(name, Ps.OpenFlags.CREATE)
        holder = self.spawn_peer('mutex-hold', name)
        self.assertEqual(holder.readline(), 'locked %d' % holder.pid)
        holder.kill()
        # A second unrelated process is the next locker.
        locker = self.spawn_peer('mutex-lock', name)
        self.assertEqual(locker.readline(), 'OWNER_DEAD')
        self.assertPeerSucceeds(locker)
        self.assertTrue(mutex.lock(0))
        self.assertTrue(mutex.unlock())

    def test_named_recursive(self):
        name = self.new_name('rmtx')
        creator = Ps.Mutex(name=name, open_flags=Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE,
                           recursive=True)
        creator.init(None)
        self.assertTrue(creator.is_recursive())
        opener = Ps.Mutex.open(name, Ps.OpenFlags.NONE)
        self.assertTrue(opener.is_recursive())
        self.assertTrue(opener.lock(0))
        self.assertTrue(creator.lock(0))     # the same mutex, the same thread
        self.assertTrue(creator.unlock())
        self.assertTrue(opener.unlock())
        self.assertRaisesPs(Ps.Error.NOT_OWNER, opener.unlock)

    def test_placed_next_to_data(self):
        memory = Ps.SharedMemory.new(4096)
        mutex = Ps.Mutex.new_at(memory, 8)
        checked = Ps.Semaphore.new(0)
        mutex.lock()

        def child():
            attached = Ps.Mutex.attach(memory, 8)
            if attached.get_owner_pid() != os.getppid():
                return 2
            if attached.try_lock():
                return 3
            checked.release()
            if not attached.lock(timeout=LONG_S):
                return 4
            memory.set_int32(0, memory.get_int32(0) + 1)
            attached.unlock()
            return 0

        pid = self.fork(child)
        self.assertTrue(checked.acquire(timeout=LONG_S))
        memory.set_int32(0, 41)
        mutex.unlock()
        self.assertEqual(self.join(pid), 0)
        self.assertEqual(memory.get_int32(0), 42)

    def test_placement_errors(self):
        memory = Ps.SharedMemory.new(4096)
        self.assertRaisesIO(Gio.IOErrorEnum.INVALID_ARGUMENT, Ps.Mutex.new_at, memory, 12)
        self.assertRaisesPs(Ps.Error.OUT_OF_BOUNDS, Ps.Mutex.new_at, memory, 4096)
        self.assertRaisesPs(Ps.Error.OUT_OF_BOUNDS, Ps.Mutex.new_at,
                            memory, 4096 - Ps.MUTEX_SIZE + 8)
        cond = Ps.Cond.new_at(memory, 0)
        self.assertIsNone(cond.get_name())
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Mutex.attach, memory, 0)


class MutexNames(PsTestCase):
    def test_wrong_type(self):
        name = self.new_name('cond')
        Ps.Cond.open(name, Ps.OpenFlags.CREATE)
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Mutex.open, name, Ps.OpenFlags.NONE)
        name = self.new_name('sem')
        Ps.Semaphore.open(name, Ps.OpenFlags.CREATE, 0)
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Mutex.open, name, Ps.OpenFlags.CREATE)

    def test_missing(self):
        name = self.new_name('missing')
        self.assertRaisesIO(Gio.IOErrorEnum.NOT_FOUND, Ps.Mutex.open, name, Ps.OpenFlags.NONE)

    def test_exclusive_on_existing(self):
        name = self.new_name('mtx')
        Ps.Mutex.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
        self.assertRaisesIO(Gio.IOErrorEnum.EXISTS, Ps.Mutex.open, name,
                            Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)

    def test_invalid_names(self):
        for name in ('', 'no-slash', '/a/b', '/bad name', '/.', '/..', '/' + 'a' * 201):
            with self.subTest(name=name):
                self.assertRaisesIO(Gio.IOErrorEnum.INVALID_ARGUMENT, Ps.Mutex.open,
                                    name, Ps.OpenFlags.CREATE)

    def test_unlinked_name_is_gone(self):
        name = self.new_name('mtx')
        Ps.Mutex.open(name, Ps.OpenFlags.CREATE)
        self.assertTrue(Ps.unlink(name))
        self.assertRaisesIO(Gio.IOErrorEnum.NOT_FOUND, Ps.Mutex.open, name, Ps.OpenFlags.NONE)


if __name__ == '__main__':
    unittest.main()
