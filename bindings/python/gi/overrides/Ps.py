# SPDX-License-Identifier: LGPL-2.1-or-later
"""Pythonic additions to the procshared (Ps) namespace.

PyGObject loads this module when a program does
``from gi.repository import Ps``. It adds, without changing what the
typelib methods already do:

* ``with mutex:`` and ``with semaphore:``, and ``mutex.held(...)`` /
  ``semaphore.held(...)`` for a timeout or a repair function;
* default arguments, and timeouts in seconds by keyword:
  ``mutex.lock()``, ``mutex.lock(timeout=0.5)``,
  ``semaphore.acquire(timeout=0.5)``, ``cond.wait(mutex, timeout=1)``,
  ``cond.wait_until(mutex, deadline=time.monotonic() + 5)`` and
  ``cond.wait_for(mutex, predicate, timeout=5)``;
* ``SharedMemory.buf``, a writable zero-copy memoryview of the segment;
* pickling of named objects (they reopen by name), so that they can be
  passed to multiprocessing's 'spawn' and 'forkserver' processes.

Every positional argument keeps the meaning it has in C and in the
typelib: ``mutex.lock(5_000_000)`` waits 5 s (microseconds), exactly as
without this module. A wait that does not succeed raises ``GLib.Error``
(``G_IO_ERROR_TIMED_OUT``, ``WOULD_BLOCK``, ``CANCELLED``...) whether the
timeout was given in microseconds or in seconds: the error is the same in
every language, and a failed acquisition can never be mistaken for a
successful one by forgetting to test a return value. The ``try_`` methods
are the non-raising tests. The unmodified typelib methods stay reachable
through ``gi.module.get_introspection_module('Ps')``.
"""

import contextlib
import ctypes
import math
import time

from gi.repository import Gio, GLib

from ..module import get_introspection_module
from ..overrides import override
from . import _ps_pickle

Ps = get_introspection_module('Ps')

__all__ = []

_INT64_MAX = (1 << 63) - 1


def _seconds_to_us(timeout):
    """Seconds (a number, or None for ever) to a timeout in microseconds."""
    if timeout is None:
        return Ps.TIMEOUT_INFINITE
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        raise TypeError('timeout must be a number of seconds or None, not %s'
                        % type(timeout).__name__) from None
    if math.isnan(seconds) or seconds < 0:
        raise ValueError('timeout must be a non-negative number of seconds or None')
    if math.isinf(seconds):
        return Ps.TIMEOUT_INFINITE
    # Rounded to the nanosecond first, so that 0.1 s is 100000 us and not
    # 100001; then up, since a wait must never end before its timeout.
    # A positive timeout stays positive (0 would mean "try once").
    us = max(-(-round(seconds * 1e9) // 1000), 1 if seconds > 0 else 0)
    if us > _INT64_MAX:
        raise OverflowError('timeout too large')
    return us


def _timeout_us(timeout_us, timeout):
    """The microseconds to pass to C, from either form of the timeout."""
    if timeout_us is not None:
        if timeout is not None:
            raise TypeError('give timeout_us (microseconds) or timeout (seconds), not both')
        return timeout_us
    return _seconds_to_us(timeout)


def _is_ps_error(error, code):
    return isinstance(error, GLib.Error) and error.matches(Ps.error_quark(), code)


def _is_io_error(error, code):
    return isinstance(error, GLib.Error) and error.matches(Gio.io_error_quark(), code)


@override
class SharedMemory(Ps.SharedMemory):
    @property
    def buf(self):
        """A writable memoryview (format 'B') of the whole segment, without
        copying: writes through it are seen by every process at once.

        The view keeps this object, and so the mapping, alive as long as
        it exists. Each access returns a new view of the same bytes. Like
        any direct access to shared bytes, it does no locking: guard
        concurrent updates with a Ps.Mutex."""
        array = (ctypes.c_ubyte * self.get_size()).from_address(self.get_address())
        # The mapping lives as long as the PsSharedMemory; the view keeps
        # the array alive, and the array keeps the PsSharedMemory.
        array._ps_memory = self
        return memoryview(array).cast('B')

    def __reduce__(self):
        name = self.get_name()
        if name is None:
            raise _anonymous_error(self)
        return (_ps_pickle.rebuild, ('SharedMemory', 'open', name))


__all__.append('SharedMemory')


def _anonymous_error(obj):
    kind = 'Ps.' + type(obj).__name__
    return RuntimeError(
        'anonymous %s objects can only be shared with child processes through '
        'inheritance (os.fork(), or multiprocessing with the "fork" start method and '
        'the object passed to Process()); create it with %s.open(name, ...) or place it '
        'in a named Ps.SharedMemory to pass it to "spawn" or "forkserver" processes '
        'or through a pipe' % (kind, kind))


def _reduce_primitive(obj, type_name):
    """Named: reopen by name. Placed in a named segment: reopen the segment
    and attach at the same offset. Anonymous: refuse."""
    name = obj.get_name()
    if name is not None:
        return (_ps_pickle.rebuild, (type_name, 'open', name))
    memory = obj.props.memory
    if memory is not None and memory.get_name() is not None:
        return (_ps_pickle.rebuild, (type_name, 'attach', memory, obj.props.offset))
    raise _anonymous_error(obj)


# The introspected methods, bound once: looking them up on every call
# would cost as much as the call into C.
_mutex_lock = Ps.Mutex.lock
_mutex_unlock = Ps.Mutex.unlock
_semaphore_acquire = Ps.Semaphore.acquire
_semaphore_release = Ps.Semaphore.release


@override
class Mutex(Ps.Mutex):
    def lock(self, timeout_us=None, cancellable=None, *, timeout=None):
        """Locks the mutex; returns True or raises GLib.Error.

        lock() waits for ever; lock(timeout=0.5) at most half a second
        (seconds, as in threading); lock(timeout=0) tries once. A
        positional timeout is in microseconds, as in C. On
        Ps.Error.OWNER_DEAD the caller holds the lock (see held())."""
        if timeout is None:
            # The common call, kept to one Python frame around the C one.
            return _mutex_lock(self, -1 if timeout_us is None else timeout_us, cancellable)
        return _mutex_lock(self, _timeout_us(timeout_us, timeout), cancellable)

    def __enter__(self):
        # Waits for ever, as threading.Lock does. On OWNER_DEAD this raises
        # while *holding* the lock, as the C call does, and Python does not
        # run __exit__ when __enter__ raises: the handler must repair,
        # mark_consistent() and unlock(). held(repair=...) does all that.
        _mutex_lock(self, -1, None)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        _mutex_unlock(self)
        return False

    @contextlib.contextmanager
    def held(self, timeout=None, cancellable=None, repair=None):
        """A context manager that holds the mutex for its block.

        timeout (seconds, None for ever) and cancellable apply to the lock;
        GLib.Error is raised if it fails. When the previous holder died
        (Ps.Error.OWNER_DEAD) and repair is given, repair() is called with
        the lock held, then the mutex is marked consistent and the block
        runs. If repair() raises, the mutex is unlocked without being made
        consistent (every later lock then fails with NOT_RECOVERABLE: the
        data is beyond repair) and the exception propagates. Without
        repair, OWNER_DEAD propagates with the lock held, as from lock()."""
        try:
            self.lock(timeout=timeout, cancellable=cancellable)
        except GLib.Error as e:
            if repair is None or not _is_ps_error(e, Ps.Error.OWNER_DEAD):
                raise
            try:
                repair()
                self.mark_consistent()
            except BaseException:
                self.unlock()
                raise
        try:
            yield self
        finally:
            self.unlock()

    def __reduce__(self):
        return _reduce_primitive(self, 'Mutex')


__all__.append('Mutex')


@override
class Semaphore(Ps.Semaphore):
    def acquire(self, timeout_us=None, cancellable=None, *, timeout=None):
        """Takes one unit; returns True or raises GLib.Error.

        acquire() waits for ever; acquire(timeout=0.5) at most half a
        second (seconds, as in threading), then raises G_IO_ERROR_TIMED_OUT
        (unlike threading.Semaphore, which returns False: use
        try_acquire() for a test that does not raise); acquire(timeout=0)
        tries once (G_IO_ERROR_WOULD_BLOCK). A positional timeout is in
        microseconds, as in C."""
        if timeout is None:
            return _semaphore_acquire(self, -1 if timeout_us is None else timeout_us,
                                      cancellable)
        return _semaphore_acquire(self, _timeout_us(timeout_us, timeout), cancellable)

    def __enter__(self):
        _semaphore_acquire(self, -1, None)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        _semaphore_release(self)
        return False

    @contextlib.contextmanager
    def held(self, timeout=None, cancellable=None):
        """A context manager that holds one unit for its block; timeout in
        seconds (None for ever), GLib.Error if the unit cannot be taken."""
        self.acquire(timeout=timeout, cancellable=cancellable)
        try:
            yield self
        finally:
            self.release()

    def __reduce__(self):
        return _reduce_primitive(self, 'Semaphore')


__all__.append('Semaphore')


@override
class Cond(Ps.Cond):
    def wait(self, mutex, timeout_us=None, cancellable=None, *, timeout=None):
        """Waits for a signal, releasing mutex meanwhile; returns True or
        raises GLib.Error. The mutex is held again on return either way.

        wait(mutex) waits for ever, wait(mutex, timeout=0.5) at most half a
        second; a positional timeout is in microseconds, as in C. Wake-ups
        can be spurious: prefer wait_for()."""
        return Ps.Cond.wait(self, mutex, _timeout_us(timeout_us, timeout), cancellable)

    def wait_until(self, mutex, end_time=None, cancellable=None, *, deadline=None):
        """Like wait(), until an absolute time: end_time in microseconds
        on the clock of GLib.get_monotonic_time(), as in C, or deadline
        (keyword) in seconds on the clock of time.monotonic()."""
        if deadline is not None:
            if end_time is not None:
                raise TypeError('give end_time (microseconds) or deadline (seconds), not both')
            # Through the time left, so the two clocks need not be the same.
            left = _seconds_to_us(max(0.0, deadline - time.monotonic()))
            end_time = GLib.get_monotonic_time() + left
        elif end_time is None:
            raise TypeError('wait_until() needs end_time (microseconds) or deadline (seconds)')
        return Ps.Cond.wait_until(self, mutex, end_time, cancellable)

    def wait_for(self, mutex, predicate, timeout=None, cancellable=None):
        """Waits until predicate() is true, as threading.Condition.wait_for:
        the caller holds mutex, which is released while waiting and held
        again on return. Returns the last value of predicate(): false only
        if timeout (seconds, None for ever) expired first. Cancellation and
        errors other than the timeout raise GLib.Error."""
        end_time = None
        if timeout is not None:
            end_time = GLib.get_monotonic_time() + _seconds_to_us(timeout)
        result = predicate()
        while not result:
            try:
                if end_time is None:
                    Ps.Cond.wait(self, mutex, Ps.TIMEOUT_INFINITE, cancellable)
                else:
                    Ps.Cond.wait_until(self, mutex, end_time, cancellable)
            except GLib.Error as e:
                if not _is_io_error(e, Gio.IOErrorEnum.TIMED_OUT):
                    raise
                return predicate()
            result = predicate()
        return result

    def __reduce__(self):
        return _reduce_primitive(self, 'Cond')


__all__.append('Cond')
