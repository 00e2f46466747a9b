# SPDX-License-Identifier: LGPL-2.1-or-later
"""Pythonic additions to the procshared (Ps) namespace.

PyGObject loads this module when a program does
``from gi.repository import Ps``. Since 1.1 the locks follow Python's own
``threading`` and ``multiprocessing`` ones:

* ``Ps.Mutex()`` / ``Ps.Mutex.new_recursive()`` as ``threading.Lock`` /
  ``threading.RLock``: ``acquire(blocking=True, timeout=None)`` returns
  True or False, ``release()``, ``locked()``, ``with mutex:``;
* ``Ps.Semaphore(value=1, max_value=None)`` (``bounded=True`` for a
  ``threading.BoundedSemaphore``): ``acquire(blocking=True,
  timeout=None)`` returns a bool, ``release(n=1)``;
* ``Ps.Cond(mutex=None)`` as ``threading.Condition``: ``with cond:``,
  ``wait(timeout=None)`` and ``wait_for(predicate, timeout=None)``
  returning bools, ``notify(n=1)``, ``notify_all()``;
* ``Ps.Queue(capacity, max_message_size)`` (1.1) as ``queue.Queue`` /
  ``multiprocessing.Queue`` between processes: ``put(item, block=True,
  timeout=None, priority=0)``, ``get(block=True, timeout=None)``,
  ``put_nowait()``, ``get_nowait()``, ``qsize()``, ``empty()``,
  ``full()``, raising ``queue.Full`` / ``queue.Empty`` where those do;
  items are bytes-like or ``GLib.Variant`` and come back as sent;
* ``timeout=`` is in **seconds** everywhere (None or -1 for ever, 0 to
  try once), and so are the positional timeouts of threading's calls;
  the calls C has (``lock()``, ``read_lock()``, ``cond.wait(mutex,
  ...)``, ``queue.send()``, every ``_async``...) take API.md's
  ``(timeout_us, cancellable)``, a positional timeout in microseconds;
  ``sem.acquire()``, ``event.wait()`` and ``barrier.wait()`` are that
  call when given an integer and a cancellable (see docs/python.md);
* the GLib-style methods that raise ``GLib.Error`` on a timeout stay:
  ``mutex.lock()``, ``held()`` context managers (with ``repair=`` for a
  robust mutex, also for an OWNER_DEAD met inside a condition wait), and
  the 1.0 forms ``cond.wait(mutex, timeout=...)``,
  ``cond.wait_until(mutex, ...)``, ``cond.wait_for(mutex, predicate, ...)``;
* ``SharedMemory.buf``, a writable zero-copy memoryview of the segment;
* ``Ps.SharedMemoryIO(memory, offset=0, length=None, mode='rb')``, a
  binary file object (``io.RawIOBase``) over a range of a segment, on its
  GIO streams (since 1.1);
* pickling of named objects (they reopen by name), so that they can be
  passed to multiprocessing's 'spawn' and 'forkserver' processes.

Errors other than a timeout raise ``GLib.Error`` (a RuntimeError); where
CPython raises a more specific exception the error raised is of a class
that derives from both (``Ps.SemaphoreOverflowError`` is a GLib.Error and
a ValueError). The unmodified, C-shaped typelib methods (microseconds,
GLib.Error on every failure) stay reachable through
``gi.module.get_introspection_module('Ps')``.
"""

import contextlib
import ctypes
import io
import math
import struct
import threading
import time

from gi.repository import Gio, GLib

from ..module import get_introspection_module
from ..overrides import override
from . import _ps_pickle

Ps = get_introspection_module('Ps')

__all__ = []

_INT64_MAX = (1 << 63) - 1
# The longest timeout threading accepts; longer ones are an OverflowError
# there, and so here.
_TIMEOUT_MAX = threading.TIMEOUT_MAX
_PS_ERROR_DOMAIN = GLib.quark_to_string(Ps.error_quark())


def _seconds_to_us(timeout):
    """Seconds (a number; None or -1 for ever) to a timeout in microseconds."""
    if timeout is None:
        return Ps.TIMEOUT_INFINITE
    if isinstance(timeout, (str, bytes, bytearray)):
        raise TypeError('timeout must be a number of seconds or None, not %s'
                        % type(timeout).__name__)
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        raise TypeError('timeout must be a number of seconds or None, not %s'
                        % type(timeout).__name__) from None
    if seconds == -1 or (math.isinf(seconds) and seconds > 0):
        return Ps.TIMEOUT_INFINITE          # -1: for ever, as in threading
    if math.isnan(seconds) or seconds < 0:
        raise ValueError('timeout must be a non-negative number of seconds, '
                         '-1 or None (for ever)')
    if seconds > _TIMEOUT_MAX:
        raise OverflowError('timeout too large (more than threading.TIMEOUT_MAX seconds)')
    # Rounded to the nanosecond first, so that 0.1 s is 100000 us and not
    # 100001; then up, since a wait must never end before its timeout.
    # A positive timeout stays positive (0 would mean "try once").
    us = max(-(-round(seconds * 1e9) // 1000), 1 if seconds > 0 else 0)
    if us > _INT64_MAX:
        raise OverflowError('timeout too large')
    return us


def _timeout_us(timeout_us, timeout):
    """The microseconds to pass to C, from either form of the timeout:
    timeout_us, an integer as in C (-1 for ever, 0 once), or timeout, in
    seconds (None for ever)."""
    if timeout_us is not None:
        if timeout is not None:
            raise TypeError('give timeout (seconds) or timeout_us (microseconds), not both')
        if type(timeout_us) is int:
            return timeout_us
        if isinstance(timeout_us, bool) or not hasattr(timeout_us, '__index__'):
            raise TypeError('timeout_us is a whole number of microseconds (-1: for ever), '
                            'not %s; give timeout= for seconds'
                            % type(timeout_us).__name__)
        return timeout_us.__index__()
    return _seconds_to_us(timeout)


def _c_call(args, kwargs):
    """Whether a call of a name that both C and threading have (a
    semaphore's acquire(), an event's or a barrier's wait()) is the C one:
    (timeout_us, cancellable) as the API page writes it, both given,
    positionally or by those names, the timeout an integer (not a bool)
    and the cancellable None or a Gio.Cancellable. Returns the pair, or
    None for threading's forms, which never pass a cancellable with an
    integer they did not name timeout=."""
    if len(args) + len(kwargs) != 2:
        return None
    if len(args) == 2:
        timeout_us, cancellable = args
    elif len(args) == 1 and 'cancellable' in kwargs:
        timeout_us, cancellable = args[0], kwargs['cancellable']
    elif 'timeout_us' in kwargs and 'cancellable' in kwargs:
        timeout_us, cancellable = kwargs['timeout_us'], kwargs['cancellable']
    else:
        return None
    if (isinstance(timeout_us, int) and not isinstance(timeout_us, bool)
            and (cancellable is None or isinstance(cancellable, Gio.Cancellable))):
        return timeout_us, cancellable
    return None


def _is_ps_error(error, code):
    return isinstance(error, GLib.Error) and error.matches(Ps.error_quark(), code)


def _is_io_error(error, code):
    return isinstance(error, GLib.Error) and error.matches(Gio.io_error_quark(), code)


def _is_timeout(error):
    """A wait that merely did not succeed in time (or at once, timeout 0)."""
    return (_is_io_error(error, Gio.IOErrorEnum.TIMED_OUT)
            or _is_io_error(error, Gio.IOErrorEnum.WOULD_BLOCK))


def _ps_error(code, message):
    return GLib.Error(message, _PS_ERROR_DOMAIN, int(code))


class SemaphoreOverflowError(GLib.Error, ValueError):
    """A release past a bounded semaphore's max_value: Ps.Error.OVERFLOW,
    raised as an exception that is both a GLib.Error (as in every other
    language) and a ValueError (as threading.BoundedSemaphore raises), so
    that either handler catches it. Nothing was released."""


__all__.append('SemaphoreOverflowError')


def _overflow_error(error):
    return SemaphoreOverflowError(error.message, error.domain, error.code)


@override
class SharedMemory(Ps.SharedMemory):
    @property
    def buf(self):
        """A writable memoryview (format 'B') of the whole segment, without
        copying: writes through it are seen by every process at once.

        The view keeps this object, and so the mapping, alive as long as
        it exists. Each access returns a new view of the same bytes. Like
        any direct access to shared bytes, it does no locking: guard
        concurrent updates with a Ps.Mutex.

        A read-only segment (received through a read-only descriptor, since
        1.1) gives a read-only view: writing through it raises TypeError."""
        array = (ctypes.c_ubyte * self.get_size()).from_address(self.get_address())
        # The mapping lives as long as the PsSharedMemory; the view keeps
        # the array alive, and the array keeps the PsSharedMemory.
        array._ps_memory = self
        view = memoryview(array).cast('B')
        if getattr(self, 'is_read_only', None) is not None and self.is_read_only():
            view = view.toreadonly()
        return view

    def _record_room(self):
        # A view of the mapping and whether it is read-only, made once:
        # slicing it costs no introspection call. The view lives in this
        # wrapper's __dict__, which PyGObject frees before it drops its
        # reference to the object, so it never outlives the mapping.
        room = self.__dict__.get('_ps_record_room')
        if room is None:
            array = (ctypes.c_ubyte * self.get_size()).from_address(self.get_address())
            read_only = getattr(self, 'is_read_only', None) is not None and self.is_read_only()
            room = (memoryview(array).cast('B'), read_only)
            self.__dict__['_ps_record_room'] = room
        return room

    @staticmethod
    def _record_range(view, offset, length):
        size = len(view)
        if offset < 0 or offset > size or length > size - offset:
            raise _ps_error(Ps.Error.OUT_OF_BOUNDS,
                            f'{length} bytes at offset {offset} do not fit in a '
                            f'segment of {size} bytes')

    def write_bytes_record(self, offset, data):
        """Writes the bytes-like @data at @offset as the record that
        write_variant() writes for an "ay" variant, so that read_variant()
        in any language reads it back, without building a GLib.Variant
        and without an introspection call: the fast way to share bytes
        from Python.

        Raises GLib.Error PS_ERROR_OUT_OF_BOUNDS when the record does not
        fit, with nothing written; G_IO_ERROR_READ_ONLY on a read-only
        segment. As buf, it does no locking, and it does not notice a
        backing file that another process cut short (the write then goes
        to private zeros; write_variant() reports it)."""
        view, read_only = self._record_room()
        if read_only:
            raise GLib.Error('The segment is read-only', 'g-io-error-quark',
                             int(Gio.IOErrorEnum.READ_ONLY))
        length = len(data) if isinstance(data, bytes) else memoryview(data).nbytes
        start = offset + _RECORD_HEADER.size
        self._record_range(view, offset, _RECORD_HEADER.size + length)
        view[start:start + length] = data if isinstance(data, bytes) else memoryview(data).cast('B')
        _RECORD_HEADER.pack_into(view, offset, _RECORD_MAGIC, 2, length, b'ay')

    def read_bytes_record(self, offset):
        """Reads back, as bytes, the "ay" record at @offset that
        write_bytes_record() or write_variant() wrote, in one copy and
        without an introspection call.

        Raises GLib.Error PS_ERROR_OUT_OF_BOUNDS when @offset lies outside
        the segment, PS_ERROR_CORRUPT when no valid record is there, and
        TypeError when the record holds a variant of another type (read it
        with read_variant()). Unlike read_variant(), it does not notice a
        backing file that another process cut short during the read (the
        lost pages read as zeros)."""
        view, _ = self._record_room()
        self._record_range(view, offset, 0)
        if len(view) - offset < _RECORD_HEADER.size:
            raise _ps_error(Ps.Error.CORRUPT, f'No room for a variant record at offset {offset}')
        magic, type_length, data_length, type_bytes = _RECORD_HEADER.unpack_from(view, offset)
        if magic != _RECORD_MAGIC:
            raise _ps_error(Ps.Error.CORRUPT, f'No variant record at offset {offset}')
        if type_length != 2 or type_bytes[:2] != b'ay':
            value = self.read_variant(offset)
            raise TypeError(f'the record at offset {offset} holds a '
                            f'"{value.get_type_string()}", not bytes: use read_variant()')
        start = offset + _RECORD_HEADER.size
        if data_length > len(view) - start:
            raise _ps_error(Ps.Error.CORRUPT,
                            f'The variant record at offset {offset} claims {data_length} '
                            f'bytes of data, past the end of the segment')
        return view[start:start + data_length].tobytes()

    def __reduce__(self):
        name = self.get_name()
        if name is None:
            raise _anonymous_error(self)
        return (_ps_pickle.rebuild, ('SharedMemory', 'open', name))


# The record of an "ay" variant (procshared/ps-variant-record.c): magic
# "PVR1", type length, data length, the type padded to 8 bytes.
_RECORD_HEADER = struct.Struct('=IIQ8s')
_RECORD_MAGIC = 0x31525650

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
_mutex_try_lock = Ps.Mutex.try_lock
_mutex_unlock = Ps.Mutex.unlock
_semaphore_acquire = Ps.Semaphore.acquire
_semaphore_release = Ps.Semaphore.release
_cond_wait = Ps.Cond.wait
_cond_wait_until = Ps.Cond.wait_until


def _acquire(obj, try_once, wait, blocking, timeout, cancellable, timeout_us):
    """threading's acquire(blocking, timeout) over a C try and wait:
    True, False if not taken in time, GLib.Error for anything else."""
    if not blocking:
        if timeout is not None and timeout != -1:
            raise ValueError("can't specify a timeout for a non-blocking call")
        return try_once(obj)
    try:
        return wait(obj, _timeout_us(timeout_us, timeout), cancellable)
    except GLib.Error as e:
        if _is_timeout(e):
            return False
        raise


# The repair functions of the held(repair=...) blocks this thread is in,
# innermost last: [mutex, repair] pairs. A condition wait on one of these
# mutexes that meets OWNER_DEAD repairs through it (see _cond_wait_us).
_held_repairs = threading.local()


def _repairs():
    stack = getattr(_held_repairs, 'stack', None)
    if stack is None:
        stack = _held_repairs.stack = []
    return stack


def _repair_for(mutex):
    for held_mutex, repair in reversed(_repairs()):
        if held_mutex is mutex:
            return repair
    return None


_scratch_cond = None


def _scratch():
    """An anonymous Ps.Cond, only ever waited on with timeout 0, which
    tells how many times a recursive mutex is held (see Mutex._is_owned)."""
    global _scratch_cond
    if _scratch_cond is None:
        _scratch_cond = Ps.Cond.new()
    return _scratch_cond


@override
class Mutex(Ps.Mutex):
    def __init__(self, **properties):
        """Ps.Mutex() is a working anonymous mutex, like threading.Lock();
        Ps.Mutex(recursive=True) like threading.RLock(). The other
        construct properties (name, open_flags, memory, offset...) are
        those of the C class. GLib.Error if the mutex cannot be made."""
        super().__init__(**properties)
        # GInitable: a no-op once done; raises GLib.Error on failure.
        self.init(None)

    # -- threading.Lock

    def acquire(self, blocking=True, timeout=None, *, cancellable=None, timeout_us=None):
        """Locks the mutex, as threading.Lock.acquire(): returns True, or
        False if the lock could not be taken at once (blocking=False,
        timeout=0) or within timeout seconds (None or -1: for ever).

        Other failures raise GLib.Error: CANCELLED, WOULD_DEADLOCK when
        this thread already holds a non-recursive mutex (threading would
        deadlock), and OWNER_DEAD, raised *holding* the lock, when the
        previous holder died (see held())."""
        return _acquire(self, _mutex_try_lock, _mutex_lock, blocking, timeout, cancellable,
                        timeout_us)

    def release(self):
        """Unlocks the mutex, as threading.Lock.release(); GLib.Error
        (NOT_OWNER, a RuntimeError as threading raises) unless this
        thread holds it."""
        _mutex_unlock(self)

    def locked(self):
        """True if any thread of any process holds the mutex (a snapshot)."""
        return self.get_owner_pid() != 0

    def _is_owned(self):
        """True if the calling thread holds the mutex (threading.RLock's
        private method, which threading.Condition uses)."""
        try:
            if not _mutex_try_lock(self):
                return False                 # another thread holds it
        except GLib.Error as e:
            if _is_ps_error(e, Ps.Error.WOULD_DEADLOCK):
                return True                  # non-recursive, held by this thread
            raise
        # Taken just now: by this thread before as well, if it is now held
        # more than once, which a wait of no time tells (WOULD_DEADLOCK).
        try:
            if not self.is_recursive():
                return False
            try:
                _cond_wait(_scratch(), self, 0, None)
            except GLib.Error as e:
                if _is_ps_error(e, Ps.Error.WOULD_DEADLOCK):
                    return True
                if _is_timeout(e):
                    return False
                raise
            return False
        finally:
            _mutex_unlock(self)

    def _release_save(self):
        """Releases every level of the hold; returns the count, for
        _acquire_restore() (threading.RLock's private protocol)."""
        _mutex_unlock(self)
        count = 1
        if self.is_recursive():
            while True:
                try:
                    _mutex_unlock(self)
                except GLib.Error as e:
                    if _is_ps_error(e, Ps.Error.NOT_OWNER):
                        break
                    raise
                count += 1
        return count

    def _acquire_restore(self, count):
        for _ in range(count):
            _mutex_lock(self, -1, None)

    def __repr__(self):
        name = self.get_name()
        return '<%s %s.%s object %s%sat 0x%x>' % (
            'locked' if self.locked() else 'unlocked',
            'Ps', type(self).__name__,
            'recursive ' if self.is_recursive() else '',
            '%r ' % name if name is not None else '',
            id(self))

    # -- the GLib-style calls

    # timeout is not keyword-only, as elsewhere, only because CPython 3.11
    # specializes calls of functions without keyword-only parameters: the
    # common lock() takes 6% fewer instructions (callgrind: 6,456 → 6,226
    # per lock()+unlock(), two no-op GI calls 4,980). Pass it by keyword.
    def lock(self, timeout_us=None, cancellable=None, timeout=None):
        """Locks the mutex, as in C: returns True or raises GLib.Error.

        lock() and lock(-1) wait for ever; lock(500000) or lock(timeout=0.5)
        at most half a second, then raise G_IO_ERROR_TIMED_OUT; lock(0)
        tries once (G_IO_ERROR_WOULD_BLOCK). A positional timeout is in
        microseconds, as in C; timeout= is in seconds. On
        Ps.Error.OWNER_DEAD the caller holds the lock (see held())."""
        if timeout is None and timeout_us is None:
            # The common call, kept to one Python frame around the C one.
            return _mutex_lock(self, -1, cancellable)
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
        runs. The same holds inside the block: a wait of a Ps.Cond on this
        mutex (wait(), wait_for(), in either form) that takes the lock back
        from a holder that died calls repair(), marks the mutex consistent
        and returns as woken (wait_for() checks its predicate again), so no
        OWNER_DEAD escapes. If repair() raises, the mutex is unlocked
        without being made consistent (every later lock then fails with
        NOT_RECOVERABLE: the data is beyond repair) and the exception
        propagates. Without repair, OWNER_DEAD propagates with the lock
        held, as from lock()."""
        try:
            self.lock(timeout=timeout, cancellable=cancellable)
        except GLib.Error as e:
            if repair is None or not _is_ps_error(e, Ps.Error.OWNER_DEAD):
                raise
            try:
                repair()
                self.mark_consistent()
            except BaseException:
                _mutex_unlock(self)
                raise
        entry = None
        if repair is not None:
            entry = [self, repair]
            _repairs().append(entry)
        try:
            yield self
        finally:
            if entry is not None:
                _repairs().remove(entry)
            _mutex_unlock(self)

    if hasattr(Ps.Mutex, 'lock_async'):      # 1.1
        def lock_async(self, timeout_us=None, cancellable=None, callback=None, *user_data,
                       timeout=None):
            """As in C (the timeout in microseconds), or with timeout= in
            seconds: lock_async(timeout=5, callback=done). lock_finish() returns
            True, the lock held by the callback's thread, or raises
            GLib.Error (TIMED_OUT included)."""
            return Ps.Mutex.lock_async(self, _timeout_us(timeout_us, timeout), cancellable,
                                       callback, *user_data)

    def __reduce__(self):
        return _reduce_primitive(self, 'Mutex')


__all__.append('Mutex')


@override
class Semaphore(Ps.Semaphore):
    def __init__(self, value=None, max_value=None, *, bounded=False, **properties):
        """Ps.Semaphore(value=1) as threading.Semaphore;
        Ps.Semaphore(value, max_value=N) bounded: releasing past N raises
        Ps.SemaphoreOverflowError; bounded=True bounds it at value, as
        threading.BoundedSemaphore(value). A negative value is a
        ValueError. The other construct properties (name, open_flags,
        memory, offset...) are those of the C class."""
        if value is None:
            value = properties.pop('initial_value', 1)
        elif 'initial_value' in properties:
            raise TypeError('give value or initial_value, not both')
        if bounded:
            if max_value is not None:
                raise TypeError('give max_value or bounded=True, not both')
            max_value = value
        if max_value is None:
            max_value = properties.pop('max_value', None)
        elif 'max_value' in properties:
            raise TypeError('give max_value once')
        value = _count(value, 'semaphore initial value')
        if max_value is not None:
            max_value = _count(max_value, 'max_value')
            if max_value < 1:
                raise ValueError('max_value must be at least 1')
            if value > max_value:
                raise ValueError('semaphore initial value %d is over max_value %d'
                                 % (value, max_value))
            properties['max_value'] = max_value
        super().__init__(initial_value=value, **properties)
        self.init(None)

    def acquire(self, *args, **kwargs):
        """acquire(blocking=True, timeout=None, *, cancellable=None,
        timeout_us=None) takes one unit, as threading.Semaphore.acquire():
        returns True, or False if none could be taken at once
        (blocking=False, timeout=0) or within timeout seconds (None or -1:
        for ever). Cancellation and other failures raise GLib.Error.

        acquire(timeout_us, cancellable), both given, positionally or by
        those names, is the C call: microseconds (-1 for ever, 0 once),
        True or GLib.Error, a timeout included (G_IO_ERROR_TIMED_OUT,
        WOULD_BLOCK for 0). An integer with a cancellable is that call:
        threading's form with a cancellable names its timeout
        (acquire(timeout=2, cancellable=c)).

        Changed in 1.1: a single positional argument is `blocking` (it
        was a timeout in microseconds), and a timeout of that form returns
        False (it raised G_IO_ERROR_TIMED_OUT / WOULD_BLOCK)."""
        c_args = _c_call(args, kwargs)
        if c_args is not None:
            return _semaphore_acquire(self, *c_args)
        return self._acquire(*args, **kwargs)

    def _acquire(self, blocking=True, timeout=None, *, cancellable=None, timeout_us=None):
        return _acquire(self, Ps.Semaphore.try_acquire, _semaphore_acquire, blocking, timeout,
                        cancellable, timeout_us)

    def release(self, n=1):
        """Gives back n units (default 1), as threading.Semaphore.release();
        returns True. Past a bounded semaphore's max_value nothing is
        released and Ps.SemaphoreOverflowError (a GLib.Error with
        Ps.Error.OVERFLOW and a ValueError) is raised."""
        if n == 1:
            try:
                return _semaphore_release(self)
            except GLib.Error as e:
                if _is_ps_error(e, Ps.Error.OVERFLOW):
                    raise _overflow_error(e) from None
                raise
        n = _count(n, 'n')
        if n < 1:
            raise ValueError('n must be one or more')
        try:
            if _semaphore_release_many is not None:
                return _semaphore_release_many(self, n)
            # TEMPORARY, until ps_semaphore_release_many() is in the
            # typelib (1.1): one unit at a time. Past max_value this
            # raises with the units before released, and undoes nothing;
            # the C call refuses the whole batch.
            for _ in range(n):
                _semaphore_release(self)
            return True
        except GLib.Error as e:
            if _is_ps_error(e, Ps.Error.OVERFLOW):
                raise _overflow_error(e) from None
            raise

    def acquire_async(self, timeout_us=None, cancellable=None, callback=None, *user_data,
                      timeout=None):
        """As in C (the timeout in microseconds), or with timeout= in
        seconds: acquire_async(timeout=5, callback=done). The callback is
        called in the thread-default main loop; acquire_finish() returns
        True or raises GLib.Error, TIMED_OUT included."""
        return Ps.Semaphore.acquire_async(self, _timeout_us(timeout_us, timeout), cancellable,
                                          callback, *user_data)

    def __repr__(self):
        name = self.get_name()
        max_value = self.get_max_value()
        return '<Ps.Semaphore %sat 0x%x: value=%d%s>' % (
            '%r ' % name if name is not None else '', id(self), self.get_value(),
            '/%d' % max_value if max_value != _UNBOUNDED else '')

    def __enter__(self):
        _semaphore_acquire(self, -1, None)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.release()
        return False

    @contextlib.contextmanager
    def held(self, timeout=None, cancellable=None):
        """A context manager that holds one unit for its block; timeout in
        seconds (None for ever), GLib.Error if the unit cannot be taken
        (TIMED_OUT, WOULD_BLOCK included: a block cannot be skipped)."""
        _semaphore_acquire(self, _seconds_to_us(timeout), cancellable)
        try:
            yield self
        finally:
            self.release()

    def __reduce__(self):
        return _reduce_primitive(self, 'Semaphore')


_UNBOUNDED = 0x7fffffff       # get_max_value() of an unbounded semaphore
_semaphore_release_many = getattr(Ps.Semaphore, 'release_many', None)


def _count(value, what):
    """A non-negative count, as an int; ValueError/TypeError otherwise."""
    try:
        count = int(value.__index__())
    except AttributeError:
        raise TypeError('%s must be an integer, not %s'
                        % (what, type(value).__name__)) from None
    if count < 0:
        raise ValueError('%s must be >= 0' % what)
    if count > _UNBOUNDED:
        raise ValueError('%s must be at most %d' % (what, _UNBOUNDED))
    return count


__all__.append('Semaphore')


def _cond_wait_us(cond, mutex, timeout_us, end_time, cancellable):
    """One wait, through C; True when woken. An OWNER_DEAD met taking the
    mutex back, inside a held(repair=...) block of that mutex, is repaired
    there and counts as a wake-up. Everything else raises GLib.Error."""
    try:
        if end_time is None:
            return _cond_wait(cond, mutex, timeout_us, cancellable)
        return _cond_wait_until(cond, mutex, end_time, cancellable)
    except GLib.Error as e:
        if not _is_ps_error(e, Ps.Error.OWNER_DEAD):
            raise
        repair = _repair_for(mutex)
        if repair is None:
            raise
    # Held, and inconsistent: repair as held() does. If repair() raises,
    # the block ends with it, and held() unlocks without marking.
    repair()
    mutex.mark_consistent()
    return True


def _cond_wait_levels(cond, mutex, timeout_us, end_time, cancellable):
    """_cond_wait_us() for a mutex that may be held more than once (a
    recursive one, as threading.Condition's RLock): every level is
    released for the wait, and taken back after it."""
    extra = 0
    try:
        while True:
            try:
                return _cond_wait_us(cond, mutex, timeout_us, end_time, cancellable)
            except GLib.Error as e:
                if not _is_ps_error(e, Ps.Error.WOULD_DEADLOCK) or not mutex.is_recursive():
                    raise
            _mutex_unlock(mutex)
            extra += 1
    finally:
        for _ in range(extra):
            _mutex_lock(mutex, -1, None)


def _wait_for(cond, mutex, predicate, timeout, cancellable, waiter):
    end_time = None
    timeout_us = _seconds_to_us(timeout)
    if timeout_us != Ps.TIMEOUT_INFINITE:
        end_time = GLib.get_monotonic_time() + timeout_us
    result = predicate()
    while not result:
        try:
            waiter(cond, mutex, Ps.TIMEOUT_INFINITE, end_time, cancellable)
        except GLib.Error as e:
            if not _is_timeout(e):
                raise
            return predicate()
        result = predicate()
    return result


def _is_mutex_call(args, kwargs):
    return (args and isinstance(args[0], Ps.Mutex)) or 'mutex' in kwargs


@override
class Cond(Ps.Cond):
    _ps_mutex = None

    def __init__(self, mutex=None, **properties):
        """Ps.Cond(mutex) is bound to mutex, as threading.Condition(lock);
        Ps.Cond() makes its own, recursive, anonymous mutex (as
        threading.Condition() makes an RLock). Bound, the condition locks
        like its mutex (with cond:, acquire(), release()) and waits on it
        (wait(timeout), wait_for(predicate, timeout)). The other construct
        properties (name, open_flags, memory, offset...) are those of the
        C class. A Ps.Cond from a C constructor (Ps.Cond.new(), open(),
        new_at(), attach()) is not bound: use the 1.0 forms
        (cond.wait(mutex)), or Ps.Cond(mutex, name=..., open_flags=...)."""
        if mutex is None:
            mutex = Mutex.new_recursive()
        elif not isinstance(mutex, Ps.Mutex):
            raise TypeError('Ps.Cond(mutex): mutex must be a Ps.Mutex, not %s'
                            % type(mutex).__name__)
        super().__init__(**properties)
        self.init(None)
        self._ps_mutex = mutex

    @property
    def mutex(self):
        """The Ps.Mutex this condition is bound to, or None."""
        return self._ps_mutex

    def _bound(self):
        mutex = self._ps_mutex
        if mutex is None:
            raise TypeError('this Ps.Cond is not bound to a mutex: make it with '
                            'Ps.Cond(mutex), or pass the mutex (cond.wait(mutex))')
        return mutex

    # -- threading.Condition

    def acquire(self, *args, **kwargs):
        """Locks the bound mutex (Ps.Mutex.acquire())."""
        return self._bound().acquire(*args, **kwargs)

    def release(self):
        """Unlocks the bound mutex."""
        self._bound().release()

    def __enter__(self):
        return self._bound().__enter__()

    def __exit__(self, exc_type, exc_value, traceback):
        return self._bound().__exit__(exc_type, exc_value, traceback)

    def _is_owned(self):
        return self._bound()._is_owned()

    def held(self, timeout=None, cancellable=None, repair=None):
        """The bound mutex's held()."""
        return self._bound().held(timeout=timeout, cancellable=cancellable, repair=repair)

    def wait(self, *args, **kwargs):
        """wait(timeout=None, cancellable=None) -> bool, as
        threading.Condition.wait(): on a bound condition, whose mutex the
        caller holds (every level of a recursive one), releases it, waits
        for a notify() at most timeout seconds (None or -1: for ever) and
        takes it back; True if woken, False if the timeout expired.
        Cancellation and other errors raise GLib.Error (NOT_OWNER, a
        RuntimeError, if the caller does not hold the mutex).

        wait(mutex, timeout_us=-1, cancellable=None), the C form, waits on
        the given mutex as in C: True, or GLib.Error (TIMED_OUT,
        WOULD_BLOCK) on a timeout; a positional timeout is in
        microseconds, timeout= in seconds.
        Wake-ups can be spurious: prefer wait_for()."""
        if _is_mutex_call(args, kwargs):
            return self._wait_mutex(*args, **kwargs)
        return self._wait_bound(*args, **kwargs)

    def _wait_mutex(self, mutex, timeout_us=None, cancellable=None, *, timeout=None):
        return _cond_wait_us(self, mutex, _timeout_us(timeout_us, timeout), None, cancellable)

    def _wait_bound(self, timeout=None, cancellable=None):
        mutex = self._bound()
        try:
            return _cond_wait_levels(self, mutex, _seconds_to_us(timeout), None, cancellable)
        except GLib.Error as e:
            if _is_timeout(e):
                return False
            raise

    def wait_until(self, mutex, end_time=None, cancellable=None, *, deadline=None):
        """Like the 1.0 wait(mutex), until an absolute time: end_time in
        microseconds on the clock of GLib.get_monotonic_time(), as in C, or
        deadline (keyword) in seconds on the clock of time.monotonic()."""
        if deadline is not None:
            if end_time is not None:
                raise TypeError('give end_time (microseconds) or deadline (seconds), not both')
            # Through the time left, so the two clocks need not be the same.
            left = _seconds_to_us(max(0.0, deadline - time.monotonic()))
            end_time = GLib.get_monotonic_time() + left
        elif end_time is None:
            raise TypeError('wait_until() needs end_time (microseconds) or deadline (seconds)')
        return _cond_wait_us(self, mutex, None, end_time, cancellable)

    def wait_for(self, *args, **kwargs):
        """wait_for(predicate, timeout=None, cancellable=None), as
        threading.Condition.wait_for(), on a bound condition; or
        wait_for(mutex, predicate, timeout=None, cancellable=None), the 1.0
        form. Waits until predicate() is true, the mutex released while
        waiting and held again on return. Returns the last value of
        predicate(): false only if timeout (seconds, None for ever)
        expired first. Cancellation and errors other than the timeout
        raise GLib.Error."""
        if _is_mutex_call(args, kwargs):
            return self._wait_for_mutex(*args, **kwargs)
        return self._wait_for_bound(*args, **kwargs)

    def _wait_for_mutex(self, mutex, predicate, timeout=None, cancellable=None):
        return _wait_for(self, mutex, predicate, timeout, cancellable, _cond_wait_us)

    def _wait_for_bound(self, predicate, timeout=None, cancellable=None):
        return _wait_for(self, self._bound(), predicate, timeout, cancellable,
                         _cond_wait_levels)

    def notify(self, n=1):
        """Wakes up to n threads waiting on the condition, as
        threading.Condition.notify(). On a bound condition the caller must
        hold the mutex: GLib.Error NOT_OWNER (a RuntimeError) otherwise."""
        self._check_owned('notify')
        for _ in range(n):
            self.signal()

    def notify_all(self):
        """Wakes every thread waiting on the condition (broadcast())."""
        self._check_owned('notify_all')
        self.broadcast()

    def _check_owned(self, what):
        mutex = self._ps_mutex
        if mutex is not None and not mutex._is_owned():
            raise _ps_error(Ps.Error.NOT_OWNER, 'cannot %s on an un-acquired Ps.Cond: '
                            'the caller must hold its mutex' % what)

    if hasattr(Ps.Cond, 'wait_async'):       # 1.1
        def wait_async(self, mutex, timeout_us=None, cancellable=None, callback=None, *user_data,
                       timeout=None):
            """As in C (the timeout in microseconds), or with timeout= in
            seconds: wait_async(mutex, timeout=5, callback=done). wait_finish()
            returns True or raises GLib.Error (TIMED_OUT included)."""
            return Ps.Cond.wait_async(self, mutex, _timeout_us(timeout_us, timeout),
                                      cancellable, callback, *user_data)

    def __reduce__(self):
        rebuild, args = _reduce_primitive(self, 'Cond')
        if self._ps_mutex is None:
            return (rebuild, args)
        # Bound: the mutex travels too (an anonymous one refuses).
        return (_ps_pickle.rebuild_bound, (self._ps_mutex,) + args)


__all__.append('Cond')


def future(start, finish, *, interval=0.001):
    """Wraps an ``_async`` call in an ``asyncio.Future`` of the running
    asyncio loop, for programs whose loop is asyncio's rather than GLib's
    (PyGObject 3.42 has no asyncio integration). ``start(cancellable,
    callback)`` makes the call, passing both on; ``finish`` names the
    ``_finish`` method::

        ok = await Ps.future(lambda c, cb: mutex.lock_async(5000000, c, cb),
                             'lock_finish')

    The callback runs in the calling thread (the mutex of a lock_async()
    is held by it), in the thread-default GLib main context, which the
    future's own asyncio task iterates every ``interval`` seconds until the
    call is over: the cost of this helper, and its latency. Cancelling the
    future cancels the call through its GCancellable; what the call had
    taken is then given back by procshared (a cancelled wait keeps
    nothing), and the future ends as cancelled."""
    import asyncio

    loop = asyncio.get_running_loop()
    result = loop.create_future()
    context = GLib.MainContext.ref_thread_default()
    cancellable = Gio.Cancellable()
    finished = []

    def done(source, res):
        try:
            finished.append((True, getattr(source, finish)(res)))
        except GLib.Error as e:
            finished.append((False, e))
        except Exception as e:          # a bug in finish: the future fails, never hangs
            finished.append((False, e))

    async def drive():
        try:
            while not finished:
                while context.iteration(False):
                    pass
                if not finished:
                    await asyncio.sleep(interval)
        except asyncio.CancelledError:
            # The future was cancelled: cancel the call, and see it end.
            cancellable.cancel()
            while not finished:
                context.iteration(True)
            raise
        ok, value = finished[0]
        if result.done():
            return
        if ok:
            result.set_result(value)
        else:
            result.set_exception(value)

    start(cancellable, done)
    task = loop.create_task(drive())
    result.add_done_callback(lambda f: task.cancel() if f.cancelled() else None)
    result._ps_task = task          # kept alive as long as the future
    return result


__all__.append('future')
if hasattr(Ps, 'RWLock'):                    # 1.1
    _rw_read_lock = Ps.RWLock.read_lock
    _rw_try_read_lock = Ps.RWLock.try_read_lock
    _rw_read_unlock = Ps.RWLock.read_unlock
    _rw_write_lock = Ps.RWLock.write_lock
    _rw_try_write_lock = Ps.RWLock.try_write_lock
    _rw_write_unlock = Ps.RWLock.write_unlock

    @override
    class RWLock(Ps.RWLock):
        """A robust reader-writer lock, as a pair of context managers:
        ``with rw.read():`` holds a read share for the block, ``with
        rw.write():`` the lock for writing. Both take timeout (seconds,
        None for ever) and cancellable, and raise GLib.Error when the lock
        is not taken (TIMED_OUT included), as Mutex.held() does.

        When a writer died (Ps.Error.OWNER_DEAD), whoever locks next holds
        the lock for writing, even a reader: give repair= to either block
        to repair the data, mark the lock consistent and run the block
        (holding it for writing); without repair=, OWNER_DEAD propagates
        with the lock held for writing (mark_consistent(), then
        write_unlock()).

        acquire_read()/acquire_write(blocking=True, timeout=None) return
        True or False as threading's acquire() does, and
        release_read()/release_write() give back."""

        def __init__(self, **properties):
            super().__init__(**properties)
            self.init(None)

        # -- the C calls: a positional timeout in microseconds, timeout= in seconds

        def read_lock(self, timeout_us=None, cancellable=None, *, timeout=None):
            """Takes a read share; True, or GLib.Error (TIMED_OUT when the
            timeout expires, WOULD_BLOCK for 0, OWNER_DEAD holding the lock
            for writing)."""
            return _rw_read_lock(self, _timeout_us(timeout_us, timeout), cancellable)

        def write_lock(self, timeout_us=None, cancellable=None, *, timeout=None):
            """Locks for writing; True, or GLib.Error as read_lock()."""
            return _rw_write_lock(self, _timeout_us(timeout_us, timeout), cancellable)

        def read_lock_async(self, timeout_us=None, cancellable=None, callback=None, *user_data,
                            timeout=None):
            """As in C, or with timeout= in seconds; read_lock_finish()
            returns True, the share held by the callback's thread."""
            return Ps.RWLock.read_lock_async(self, _timeout_us(timeout_us, timeout),
                                             cancellable, callback, *user_data)

        def write_lock_async(self, timeout_us=None, cancellable=None, callback=None, *user_data,
                             timeout=None):
            """As in C, or with timeout= in seconds; write_lock_finish()
            returns True, the lock held by the callback's thread."""
            return Ps.RWLock.write_lock_async(self, _timeout_us(timeout_us, timeout),
                                              cancellable, callback, *user_data)

        # -- threading-style

        def acquire_read(self, blocking=True, timeout=None, *, cancellable=None,
                         timeout_us=None):
            """True, or False if not taken at once (blocking=False,
            timeout=0) or in time; GLib.Error for anything else."""
            return _acquire(self, _rw_try_read_lock, _rw_read_lock, blocking, timeout,
                            cancellable, timeout_us)

        def acquire_write(self, blocking=True, timeout=None, *, cancellable=None,
                          timeout_us=None):
            """As acquire_read(), for writing."""
            return _acquire(self, _rw_try_write_lock, _rw_write_lock, blocking, timeout,
                            cancellable, timeout_us)

        def release_read(self):
            _rw_read_unlock(self)

        def release_write(self):
            _rw_write_unlock(self)

        # -- the context managers

        def _held(self, lock, unlock, timeout, cancellable, repair):
            """Locks with lock(); returns the unlock to call at the end of
            the block: unlock, or write_unlock after a repaired death."""
            try:
                lock(self, _seconds_to_us(timeout), cancellable)
            except GLib.Error as e:
                if repair is None or not _is_ps_error(e, Ps.Error.OWNER_DEAD):
                    raise
                try:
                    repair()
                    self.mark_consistent()
                except BaseException:
                    _rw_write_unlock(self)
                    raise
                return _rw_write_unlock
            return unlock

        @contextlib.contextmanager
        def read(self, timeout=None, cancellable=None, repair=None):
            """Holds a read share for the block (for writing after a
            repaired OWNER_DEAD)."""
            unlock = self._held(_rw_read_lock, _rw_read_unlock, timeout, cancellable, repair)
            try:
                yield self
            finally:
                unlock(self)

        @contextlib.contextmanager
        def write(self, timeout=None, cancellable=None, repair=None):
            """Holds the lock for writing for the block."""
            unlock = self._held(_rw_write_lock, _rw_write_unlock, timeout, cancellable,
                                repair)
            try:
                yield self
            finally:
                unlock(self)

        def __repr__(self):
            name = self.get_name()
            return '<Ps.RWLock %s%d readers, writer %d at 0x%x>' % (
                '%r ' % name if name is not None else '',
                self.get_n_readers(), self.get_writer_pid(), id(self))

        def __reduce__(self):
            return _reduce_primitive(self, 'RWLock')

    __all__.append('RWLock')

# -- Events and barriers (1.1) -------------------------------------------------

_event_wait = getattr(Ps, 'Event', None) and Ps.Event.wait
_barrier_wait = getattr(Ps, 'Barrier', None) and Ps.Barrier.wait


if hasattr(Ps, 'Event'):
    @override
    class Event(Ps.Event):
        def __init__(self, auto_reset=False, **properties):
            """Ps.Event() as threading.Event: set(), clear(), is_set(),
            wait(timeout=None) returning a bool. Ps.Event(auto_reset=True)
            lets one waiter through per set() and clears itself. The other
            construct properties (name, open_flags, memory, offset...) are
            those of the C class; opening or attaching one that exists
            keeps its own kind (the auto_reset property tells)."""
            super().__init__(auto_reset=bool(auto_reset), **properties)
            self.init(None)

        def clear(self):
            """Clears the event, as threading.Event.clear() (reset() in C)."""
            Ps.Event.reset(self)

        def wait(self, *args, **kwargs):
            """wait(timeout=None, cancellable=None, *, timeout_us=None)
            waits until the event is set, as threading.Event.wait(): True,
            or False if it was not set within timeout seconds (None or -1:
            for ever; 0: at once). Cancellation raises GLib.Error.

            wait(timeout_us, cancellable), an integer and None or a
            Gio.Cancellable (positionally, or by those names), is the C
            call: microseconds, True or GLib.Error, a timeout included
            (TIMED_OUT, WOULD_BLOCK). To pass a cancellable to threading's
            form, give timeout= by name: wait(timeout=2, cancellable=c)."""
            c_args = _c_call(args, kwargs)
            if c_args is not None:
                return _event_wait(self, *c_args)
            return self._wait(*args, **kwargs)

        def _wait(self, timeout=None, cancellable=None, *, timeout_us=None):
            try:
                return _event_wait(self, _timeout_us(timeout_us, timeout), cancellable)
            except GLib.Error as e:
                if _is_timeout(e):
                    return False
                raise

        def wait_async(self, timeout_us=None, cancellable=None, callback=None, *user_data,
                       timeout=None):
            """As in C (microseconds), or with timeout= in seconds;
            wait_finish() returns True or raises GLib.Error (TIMED_OUT
            included)."""
            return Ps.Event.wait_async(self, _timeout_us(timeout_us, timeout), cancellable,
                                       callback, *user_data)

        def __repr__(self):
            name = self.get_name()
            return '<Ps.Event %sat 0x%x: %s%s>' % (
                '%r ' % name if name is not None else '', id(self),
                'set' if self.is_set() else 'unset',
                ', auto-reset' if self.get_auto_reset() else '')

        def __reduce__(self):
            return _reduce_primitive(self, 'Event')

    __all__.append('Event')


if hasattr(Ps, 'Barrier'):
    class BarrierBrokenError(GLib.Error, threading.BrokenBarrierError):
        """A wait on a broken barrier: Ps.Error.BROKEN (or this party's own
        timeout, G_IO_ERROR_TIMED_OUT, which broke it), raised as an
        exception that is both a GLib.Error and a
        threading.BrokenBarrierError, so that either handler catches it."""

    __all__.append('BarrierBrokenError')

    def _broken_error(error):
        return BarrierBrokenError(error.message, error.domain, error.code)

    @override
    class Barrier(Ps.Barrier):
        def __init__(self, parties=None, action=None, timeout=None, **properties):
            """Ps.Barrier(parties, action=None, timeout=None) as
            threading.Barrier: wait(timeout=None) returns the arrival index
            (0 for the first, parties - 1 for the last) and raises
            Ps.BarrierBrokenError (a threading.BrokenBarrierError) when the
            barrier breaks; abort(), reset(), parties, n_waiting, broken.
            action is called by the last party to arrive, in its process,
            before any party returns. timeout (seconds) is the default of
            wait(). The other construct properties (name, open_flags,
            memory, offset...) are those of the C class; opening or
            attaching one that exists keeps its own parties."""
            if parties is None:
                parties = properties.pop('parties', 1)
            parties = _count(parties, 'parties')
            if not 1 <= parties <= Ps.BARRIER_MAX_PARTIES:
                raise ValueError('parties must be between 1 and %d' % Ps.BARRIER_MAX_PARTIES)
            if action is not None and not callable(action):
                raise TypeError('action must be callable')
            super().__init__(parties=parties, **properties)
            self.init(None)
            self._ps_action = action
            self._ps_timeout = timeout

        _ps_action = None
        _ps_timeout = None

        def _wait_once(self, timeout_us, cancellable):
            try:
                return _barrier_wait(self, timeout_us, cancellable)
            except GLib.Error as e:
                if _is_io_error(e, Gio.IOErrorEnum.WOULD_BLOCK):
                    # threading breaks the barrier for a wait(0) that is
                    # not the last: so does this.
                    self.abort()
                    raise _broken_error(_ps_error(Ps.Error.BROKEN, e.message)) from None
                if _is_ps_error(e, Ps.Error.BROKEN) or _is_timeout(e):
                    raise _broken_error(e) from None
                raise

        def wait(self, *args, **kwargs):
            """wait(timeout=None, cancellable=None, *, timeout_us=None)
            waits for the other parties, as threading.Barrier.wait():
            returns this party's arrival index. A timeout (seconds; None:
            the barrier's default) breaks the barrier; a broken barrier
            raises Ps.BarrierBrokenError. Cancellation raises GLib.Error
            (CANCELLED), and breaks the barrier too.

            wait(timeout_us, cancellable), an integer and None or a
            Gio.Cancellable (positionally, or by those names), is the C
            call: microseconds, the index, or GLib.Error as in C
            (TIMED_OUT, WOULD_BLOCK, CANCELLED for this party's own;
            Ps.BarrierBrokenError, Ps.Error.BROKEN, for the others). To
            pass a cancellable to threading's form, give timeout= by name.
            Both forms run the action of Ps.Barrier(action=...)."""
            c_args = _c_call(args, kwargs)
            if c_args is not None:
                return self._wait_rounds(self._wait_c, *c_args)
            return self._wait(*args, **kwargs)

        def _wait_c(self, timeout_us, cancellable):
            try:
                return _barrier_wait(self, timeout_us, cancellable)
            except GLib.Error as e:
                if _is_ps_error(e, Ps.Error.BROKEN):
                    raise _broken_error(e) from None
                raise

        def _wait(self, timeout=None, cancellable=None, *, timeout_us=None):
            if timeout is None and timeout_us is None:
                timeout = self._ps_timeout
            return self._wait_rounds(self._wait_once, _timeout_us(timeout_us, timeout),
                                     cancellable)

        def _wait_rounds(self, wait_once, timeout_us, cancellable):
            index = wait_once(timeout_us, cancellable)
            action = self._ps_action
            if action is None:
                return index
            # A second round, which the last party enters only once its
            # action is done: no party returns before. Every form of
            # wait() takes both rounds, so parties may mix them.
            if index == self.get_parties() - 1:
                try:
                    action()
                except BaseException:
                    self.abort()
                    raise
            wait_once(timeout_us, cancellable)
            return index

        def wait_async(self, timeout_us=None, cancellable=None, callback=None, *user_data,
                       timeout=None):
            """As in C (microseconds), or with timeout= in seconds;
            wait_finish() returns the index or raises GLib.Error. The
            action of Ps.Barrier(action=...) is not run."""
            return Ps.Barrier.wait_async(self, _timeout_us(timeout_us, timeout), cancellable,
                                         callback, *user_data)

        def reset(self):
            """Breaks the parties waiting (Ps.BarrierBrokenError) and makes
            the barrier work again, as threading.Barrier.reset(); True,
            as in C (threading's returns None)."""
            return Ps.Barrier.reset(self)

        @property
        def parties(self):
            """How many parties the barrier waits for."""
            return self.get_parties()

        @property
        def n_waiting(self):
            """How many parties wait in the current round."""
            return self.get_n_waiting()

        @property
        def broken(self):
            """Whether the barrier is broken."""
            return self.is_broken()

        def __repr__(self):
            name = self.get_name()
            prefix = '<Ps.Barrier %sat 0x%x: ' % ('%r ' % name if name is not None else '',
                                                    id(self))
            if self.is_broken():
                return prefix + 'broken>'
            return prefix + 'waiters=%d/%d>' % (self.get_n_waiting(), self.get_parties())

        def __reduce__(self):
            return _reduce_primitive(self, 'Barrier')

    __all__.append('Barrier')


if hasattr(Ps.SharedMemory, 'get_input_stream'):
    _SEEK_TYPES = {io.SEEK_SET: GLib.SeekType.SET, io.SEEK_CUR: GLib.SeekType.CUR,
                   io.SEEK_END: GLib.SeekType.END}
    # mode: (readable, writable)
    _IO_MODES = {'r': (True, False), 'rb': (True, False),
                 'w': (False, True), 'wb': (False, True),
                 'r+': (True, True), 'r+b': (True, True), 'rb+': (True, True)}

    class SharedMemoryIO(io.RawIOBase):
        """A binary file object over ``length`` bytes of a Ps.SharedMemory
        from ``offset`` (``length=None``: up to the end of the segment), on
        the streams of Ps.SharedMemory.get_input_stream() and
        get_output_stream(): ``mode`` 'rb' reads, 'wb' writes, 'r+b' does
        both at one position. Positions go from 0 (``offset`` in the
        segment) to ``length``; nothing outside the range is touched, and
        nothing truncates it ('wb' does not clear it).

        As the C streams: a write that only partly fits writes what fits
        and returns that count; one at the end of the range, a seek outside
        it, a range outside the segment (Ps.Error.OUT_OF_BOUNDS) and 'wb'
        on a read-only segment (Gio.IOErrorEnum.READ_ONLY) raise
        GLib.Error; truncate() raises io.UnsupportedOperation. Wrap it in
        io.BufferedReader or io.TextIOWrapper for readline() and text."""

        def __init__(self, memory, offset=0, length=None, mode='rb'):
            super().__init__()
            self._streams = []
            if mode not in _IO_MODES:
                raise ValueError('invalid mode: %r' % (mode,))
            if offset < 0 or (length is not None and length < 0):
                raise ValueError('offset and length must not be negative')
            if length is None:
                length = max(memory.get_size() - offset, 0)
            readable, writable = _IO_MODES[mode]
            self.mode = mode
            self._in = memory.get_input_stream(offset, length) if readable else None
            self._out = memory.get_output_stream(offset, length) if writable else None
            self._streams = [s for s in (self._in, self._out) if s is not None]

        def readable(self):
            self._checkClosed()
            return self._in is not None

        def writable(self):
            self._checkClosed()
            return self._out is not None

        def seekable(self):
            self._checkClosed()
            return True

        def _moved(self, stream):
            # In 'r+b', the other stream follows.
            for other in self._streams:
                if other is not stream:
                    other.seek(stream.tell(), GLib.SeekType.SET, None)

        def tell(self):
            self._checkClosed()
            return self._streams[0].tell()

        def seek(self, pos, whence=io.SEEK_SET):
            self._checkClosed()
            if whence not in _SEEK_TYPES:
                raise ValueError('invalid whence (%r, should be 0, 1 or 2)' % (whence,))
            stream = self._streams[0]
            stream.seek(pos, _SEEK_TYPES[whence], None)
            self._moved(stream)
            return stream.tell()

        def readinto(self, buffer):
            self._checkClosed()
            self._checkReadable()
            view = memoryview(buffer).cast('B')
            data = self._in.read_bytes(len(view), None).get_data() or b''
            view[:len(data)] = data
            self._moved(self._in)
            return len(data)

        def write(self, data):
            self._checkClosed()
            self._checkWritable()
            written = self._out.write(bytes(memoryview(data).cast('B')), None)
            self._moved(self._out)
            return written

        def close(self):
            if not self.closed:
                for stream in self._streams:
                    stream.close(None)
            super().close()

    __all__.append('SharedMemoryIO')
# -- Message queues (1.1) -------------------------------------------------------

if hasattr(Ps, 'Queue'):
    import queue as _queue_module

    _queue_send = Ps.Queue.send
    _queue_send_variant = Ps.Queue.send_variant
    _queue_receive_message = Ps.Queue.receive_message
    _queue_get_length = Ps.Queue.get_length
    _queue_get_capacity = Ps.Queue.get_capacity
    _QUEUE_VARIANT = Ps.QueueMessageKind.VARIANT
    _new_bytes = GLib.Bytes.new_take      # a copy made once, and handed over

    class QueueFullError(GLib.Error, _queue_module.Full):
        """A put() that found no room in time (at once for
        put_nowait()): raised as an exception that is both a GLib.Error
        (G_IO_ERROR_WOULD_BLOCK or TIMED_OUT, as in C) and a queue.Full,
        so that either handler catches it. Nothing was sent."""

    class QueueEmptyError(GLib.Error, _queue_module.Empty):
        """A get() that found no message in time: both a GLib.Error
        (WOULD_BLOCK or TIMED_OUT) and a queue.Empty. Nothing was taken."""

    __all__ += ['QueueFullError', 'QueueEmptyError']

    def _queue_timeout_us(block, timeout, timeout_us):
        """queue.Queue's (block, timeout) as microseconds: 0 when not
        blocking (the timeout ignored, as there), for ever for None, and
        ValueError for a negative timeout, as queue.Queue raises."""
        if not block:
            return 0
        if timeout_us is None and timeout is not None:
            if isinstance(timeout, (int, float)) and timeout < 0:
                raise ValueError("'timeout' must be a non-negative number")
        return _timeout_us(timeout_us, timeout)

    def _queue_message(item):
        """(GLib.Bytes, None) for a bytes-like item, (None, variant) for a
        GLib.Variant; TypeError for anything else."""
        if isinstance(item, bytes):
            return _new_bytes(item), None
        if isinstance(item, GLib.Variant):
            return None, item
        if isinstance(item, GLib.Bytes):
            return item, None
        if isinstance(item, (bytearray, memoryview)):
            return _new_bytes(bytes(item)), None
        raise TypeError('a Ps.Queue carries bytes-like objects and GLib.Variant values, '
                        'not %s (encode text, pickle other objects)' % type(item).__name__)

    def _queue_item(kind, data, variant):
        """What get() returns: the kind the message was sent as."""
        if kind == _QUEUE_VARIANT:
            return variant
        if data is None:
            return b''
        return data.get_data() or b''

    @override
    class Queue(Ps.Queue):
        """A bounded queue of messages between processes, in the spirit of
        queue.Queue and multiprocessing.Queue: put(item, block=True,
        timeout=None, priority=0), get(block=True, timeout=None),
        put_nowait(), get_nowait(), qsize(), empty(), full(), raising
        Ps.QueueFullError (a queue.Full) and Ps.QueueEmptyError (a
        queue.Empty) where those do.

        An item is bytes-like (bytes, bytearray, memoryview, GLib.Bytes)
        or a GLib.Variant; get() returns it as the kind it was sent as:
        bytes, or a GLib.Variant (whichever language sent it). Higher
        priorities are received first, in the order of their sends within
        a priority. The timeouts of put() and get() are in seconds, as
        in queue.Queue; the C calls (send(), receive(), receive_message()
        and their _async forms) take theirs in microseconds as in C, or
        in seconds with timeout=.

        A message longer than the queue's maximum size raises GLib.Error
        (G_IO_ERROR_MESSAGE_TOO_LARGE), and nothing is sent (a variant
        counts as its record: type string and header besides its data);
        cancellation
        raises GLib.Error (CANCELLED), and nothing is sent or taken."""

        def __init__(self, capacity=None, max_message_size=None, **properties):
            """Ps.Queue(capacity, max_message_size): an anonymous queue of
            up to capacity messages of up to max_message_size bytes each,
            shared with forked children. The other construct properties
            (name, open_flags, memory, offset...) are those of the C
            class; opening or attaching one that exists keeps its own
            capacity and maximum size. GLib.Error (INVALID_ARGUMENT) for
            parameters no queue can have."""
            if capacity is not None:
                if 'capacity' in properties:
                    raise TypeError('give capacity once')
                properties['capacity'] = _count(capacity, 'capacity')
            if max_message_size is not None:
                if 'max_message_size' in properties:
                    raise TypeError('give max_message_size once')
                size = int(max_message_size.__index__())
                if size < 0:
                    raise ValueError('max_message_size must be >= 0')
                properties['max_message_size'] = size
            super().__init__(**properties)
            self.init(None)

        # -- queue.Queue

        def put(self, item, block=True, timeout=None, priority=0, *, cancellable=None,
                timeout_us=None):
            """Sends item, as queue.Queue.put(): waits for room at most
            timeout seconds (None: for ever) when block is true, not at
            all otherwise; Ps.QueueFullError (a queue.Full) if there was
            none. priority: higher is received first."""
            wait_us = _queue_timeout_us(block, timeout, timeout_us)
            data, variant = _queue_message(item)
            try:
                if variant is None:
                    _queue_send(self, data, priority, wait_us, cancellable)
                else:
                    _queue_send_variant(self, variant, priority, wait_us, cancellable)
            except GLib.Error as e:
                if _is_timeout(e):
                    raise QueueFullError(e.message, e.domain, e.code) from None
                raise

        def get(self, block=True, timeout=None, *, cancellable=None, timeout_us=None):
            """Takes the next message, as queue.Queue.get(): bytes or a
            GLib.Variant, as it was sent. Ps.QueueEmptyError (a
            queue.Empty) if none came in time (at once when block is
            false)."""
            wait_us = _queue_timeout_us(block, timeout, timeout_us)
            try:
                _, kind, data, variant, _ = _queue_receive_message(self, wait_us, cancellable)
            except GLib.Error as e:
                if _is_timeout(e):
                    raise QueueEmptyError(e.message, e.domain, e.code) from None
                raise
            return _queue_item(kind, data, variant)

        def put_nowait(self, item, priority=0):
            """put(item, block=False)."""
            return self.put(item, False, priority=priority)

        def get_nowait(self):
            """get(block=False)."""
            return self.get(False)

        def qsize(self):
            """How many messages are in the queue (a snapshot)."""
            return _queue_get_length(self)

        def empty(self):
            """Whether the queue holds no message (a snapshot)."""
            return _queue_get_length(self) == 0

        def full(self):
            """Whether the queue holds capacity messages (a snapshot)."""
            return _queue_get_length(self) >= _queue_get_capacity(self)

        @property
        def maxsize(self):
            """The capacity, as queue.Queue's maxsize."""
            return _queue_get_capacity(self)

        # -- asyncio

        def put_future(self, item, priority=0, timeout=None, *, timeout_us=None):
            """put() as an asyncio.Future of the running loop (see
            Ps.future()): ``await queue.put_future(b'x', timeout=5)``.
            The future ends with None, or raises GLib.Error (TIMED_OUT,
            WOULD_BLOCK, CANCELLED: nothing sent); cancelling it cancels
            the send."""
            wait_us = _timeout_us(timeout_us, timeout)
            data, variant = _queue_message(item)
            if variant is None:
                def start(cancellable, callback):
                    Ps.Queue.send_async(self, data, priority, wait_us, cancellable, callback)
            else:
                def start(cancellable, callback):
                    Ps.Queue.send_variant_async(self, variant, priority, wait_us, cancellable,
                                                callback)
            return future(start, '_ps_put_finish')

        def get_future(self, timeout=None, *, timeout_us=None):
            """get() as an asyncio.Future of the running loop: ``item =
            await queue.get_future(timeout=5)``, bytes or a GLib.Variant
            as sent. GLib.Error on a timeout or cancellation (nothing
            taken); cancelling the future cancels the receive."""
            wait_us = _timeout_us(timeout_us, timeout)

            def start(cancellable, callback):
                Ps.Queue.receive_message_async(self, wait_us, cancellable, callback)
            return future(start, '_ps_get_finish')

        def _ps_put_finish(self, result):
            Ps.Queue.send_finish(self, result)

        def _ps_get_finish(self, result):
            _, kind, data, variant, _ = Ps.Queue.receive_message_finish(self, result)
            return _queue_item(kind, data, variant)

        # -- the C calls: a positional timeout in microseconds, timeout= in seconds

        def send(self, message, priority=0, timeout_us=None, cancellable=None, *,
                 timeout=None):
            """Sends bytes (any bytes-like object or GLib.Bytes); True, or
            GLib.Error (WOULD_BLOCK for timeout 0 on a full queue,
            TIMED_OUT, CANCELLED, MESSAGE_TOO_LARGE)."""
            data, variant = _queue_message(message)
            if variant is not None:
                raise TypeError('send() sends bytes: use send_variant() for a GLib.Variant')
            return _queue_send(self, data, priority, _timeout_us(timeout_us, timeout),
                               cancellable)

        def send_variant(self, value, priority=0, timeout_us=None, cancellable=None, *,
                         timeout=None):
            """Sends a GLib.Variant; True, or GLib.Error as send()."""
            return _queue_send_variant(self, value, priority, _timeout_us(timeout_us, timeout),
                                       cancellable)

        def receive(self, timeout_us=None, cancellable=None, *, timeout=None):
            """As in C (timeout= for seconds): (GLib.Bytes,
            priority); a variant message as its serialized record."""
            return Ps.Queue.receive(self, _timeout_us(timeout_us, timeout), cancellable)

        def receive_variant(self, timeout_us=None, cancellable=None, *, timeout=None):
            """As in C (timeout= for seconds): (GLib.Variant,
            priority); a bytes message as an "ay" variant."""
            return Ps.Queue.receive_variant(self, _timeout_us(timeout_us, timeout), cancellable)

        def receive_message(self, timeout_us=None, cancellable=None, *, timeout=None):
            """As in C (timeout= for seconds): (True, kind, bytes,
            variant, priority), the one of bytes and variant that kind
            names set."""
            return _queue_receive_message(self, _timeout_us(timeout_us, timeout), cancellable)

        def send_async(self, message, priority=0, timeout_us=None, cancellable=None,
                       callback=None, *user_data, timeout=None):
            """As in C (timeout= for seconds); send_finish() returns
            True or raises GLib.Error."""
            data, variant = _queue_message(message)
            if variant is not None:
                raise TypeError('send_async() sends bytes: use send_variant_async() '
                                'for a GLib.Variant')
            return Ps.Queue.send_async(self, data, priority, _timeout_us(timeout_us, timeout),
                                       cancellable, callback, *user_data)

        def send_variant_async(self, value, priority=0, timeout_us=None, cancellable=None,
                               callback=None, *user_data, timeout=None):
            """As in C (timeout= for seconds); send_finish()."""
            return Ps.Queue.send_variant_async(self, value, priority,
                                               _timeout_us(timeout_us, timeout), cancellable,
                                               callback, *user_data)

        def receive_async(self, timeout_us=None, cancellable=None, callback=None, *user_data,
                          timeout=None):
            """As in C (timeout= for seconds); receive_finish()
            returns (GLib.Bytes, priority)."""
            return Ps.Queue.receive_async(self, _timeout_us(timeout_us, timeout), cancellable,
                                          callback, *user_data)

        def receive_message_async(self, timeout_us=None, cancellable=None, callback=None,
                                  *user_data, timeout=None):
            """As in C (timeout= for seconds);
            receive_message_finish() returns as receive_message()."""
            return Ps.Queue.receive_message_async(self, _timeout_us(timeout_us, timeout),
                                                  cancellable, callback, *user_data)

        def __repr__(self):
            name = self.get_name()
            return '<Ps.Queue %sat 0x%x: %d/%d messages of up to %d bytes>' % (
                '%r ' % name if name is not None else '', id(self), self.get_length(),
                self.get_capacity(), self.get_max_message_size())

        def __reduce__(self):
            return _reduce_primitive(self, 'Queue')

    __all__.append('Queue')
