# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python rows of ps-bench: PsMutex through the typelib, beside
multiprocessing.Lock and two no-op GI calls; with --records, a bytes
record written and read back through PsSharedMemory (write_variant and
read_variant) beside pickle through multiprocessing.shared_memory; with
--queue, 64 B put and got back through a PsQueue beside a
multiprocessing.Queue.

ps-bench runs this with --raw and turns its tab-separated lines into a row
like the others (statistics, targets, JSON). Run alone, it prints a short
summary:

    GI_TYPELIB_PATH=BUILD/procshared LD_LIBRARY_PATH=BUILD/procshared \\
        PYTHONPATH=bindings/python /usr/bin/python3 bench/bench_python.py

(PYTHONPATH brings in the Ps overrides from the source tree, as ps-bench
and the test suites do; without them, `with mutex:` is measured as the
try/finally it would expand to.)

Every contestant runs the same `for _ in range(n)` loop, so the loop's own
cost is in all of them alike; it is reported (meta loop_ns) rather than
subtracted, as timeit does.
"""

import argparse
import gc
import multiprocessing
import multiprocessing.shared_memory
import pickle
import statistics
import sys
import time

sys.dont_write_bytecode = True

import gi  # noqa: E402

gi.require_version('Ps', '1')
from gi.module import get_introspection_module  # noqa: E402
from gi.repository import Gio, GLib, Ps  # noqa: E402

# The typelib's own classes, without the Python overrides (when there are
# overrides, Ps.Mutex is their subclass with Python methods in front).
PsTypelib = get_introspection_module('Ps')


def bench_ps_lock_unlock(mutex, n):
    # The common call: lock() waits for ever. Without the overrides the
    # typelib's method needs its two arguments (microseconds, cancellable).
    if Ps.Mutex is PsTypelib.Mutex:
        return bench_ps_lock_unlock_typelib(mutex, n)
    start = time.perf_counter_ns()
    for _ in range(n):
        mutex.lock()
        mutex.unlock()
    return time.perf_counter_ns() - start


def bench_ps_lock_unlock_typelib(mutex, n):
    start = time.perf_counter_ns()
    for _ in range(n):
        PsTypelib.Mutex.lock(mutex, -1, None)
        PsTypelib.Mutex.unlock(mutex)
    return time.perf_counter_ns() - start


def bench_ps_try_finally(mutex, n):
    # What `with mutex:` would do once Ps has Python overrides
    # (__enter__ = lock, __exit__ = unlock); the closest equivalent today.
    start = time.perf_counter_ns()
    for _ in range(n):
        mutex.lock(-1, None)
        try:
            pass
        finally:
            mutex.unlock()
    return time.perf_counter_ns() - start


def bench_ps_with(mutex, n):
    start = time.perf_counter_ns()
    for _ in range(n):
        with mutex:
            pass
    return time.perf_counter_ns() - start


def bench_mp_lock(lock, n):
    start = time.perf_counter_ns()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return time.perf_counter_ns() - start


def bench_gi_noop(cancellable, n):
    start = time.perf_counter_ns()
    for _ in range(n):
        cancellable.is_cancelled()
        cancellable.is_cancelled()
    return time.perf_counter_ns() - start


def bench_loop(_unused, n):
    start = time.perf_counter_ns()
    for _ in range(n):
        pass
    return time.perf_counter_ns() - start


def bench_ps_record(context, n):
    # The fast way (docs/python.md): the overrides write the "ay" record
    # through the mapping, without a variant or an introspection call.
    memory, data = context
    write, read = memory.write_bytes_record, memory.read_bytes_record
    start = time.perf_counter_ns()
    for _ in range(n):
        write(0, data)
        read(0)
    return time.perf_counter_ns() - start


def bench_ps_variant_record(context, n):
    # Through a variant: wrap a GLib.Bytes, and read the bytes back
    # without unpacking them into integers.
    memory, data = context
    new_from_bytes = GLib.Variant.new_from_bytes
    new_bytes = GLib.Bytes.new
    ay = GLib.VariantType('ay')
    start = time.perf_counter_ns()
    for _ in range(n):
        memory.write_variant(0, new_from_bytes(ay, new_bytes(data), True))
        memory.read_variant(0).get_data_as_bytes().get_data()
    return time.perf_counter_ns() - start


def bench_pickle_record(context, n):
    # A length, then the pickle, in the segment; read back from the
    # mapping without another copy of the pickle.
    shm, data = context
    buf = shm.buf
    dumps, loads, highest = pickle.dumps, pickle.loads, pickle.HIGHEST_PROTOCOL
    start = time.perf_counter_ns()
    for _ in range(n):
        p = dumps(data, highest)
        size = len(p)
        buf[:8] = size.to_bytes(8, 'little')
        buf[8:8 + size] = p
        size = int.from_bytes(buf[:8], 'little')
        with buf[8:8 + size] as view:
            loads(view)
    return time.perf_counter_ns() - start


def interleave(contestants, rounds, iterations):
    """Samples (ns per iteration) of each contestant, in rotating order;
    round 0 is a warm-up. A contestant's own iteration count, if it has
    one (its 7th field), replaces @iterations."""
    samples = {c[0]: [] for c in contestants}
    loop = []
    # The collector would run in whichever contestant happened to allocate.
    gc.disable()
    for r in range(rounds + 1):
        for k in range(len(contestants)):
            contestant = contestants[(r + k) % len(contestants)]
            ident, func, obj = contestant[0], contestant[3], contestant[4]
            full = contestant[6] if len(contestant) > 6 else iterations
            n = max(full // 10, 1) if r == 0 else full
            elapsed = func(obj, n)
            if r > 0:
                samples[ident].append(elapsed / n)
        if r > 0:
            loop.append(bench_loop(None, iterations) / iterations)
    gc.enable()
    return samples, loop


def profile_one(contestants, args):
    """--profile: the contestant named, alone, --iterations times."""
    for c in contestants:
        if c[0] == args.profile:
            c[3](c[4], args.iterations)
            return 0
    raise SystemExit(f'no contestant {args.profile}')


RECORD_SIZES = [('64 B', '64b', 64, 1), ('1 MiB', '1m', 1024 * 1024, 200)]


def records_main(args):
    """The record row: contestants in groups by size, in µs per write+read."""
    segments = []
    contestants = []
    try:
        for group, suffix, size, divisor in RECORD_SIZES:
            data = bytes(range(256)) * (size // 256) + bytes(size % 256)
            memory = Ps.SharedMemory.new(size + 4096)
            shm = multiprocessing.shared_memory.SharedMemory(create=True, size=size + 4096)
            segments.append(shm)
            n = max(args.iterations // divisor, 1)
            # Both must work before they are timed.
            bench_ps_record((memory, data), 1)
            if memory.read_variant(0).get_data_as_bytes().get_data() != data:
                raise SystemExit('read_variant did not give the bytes back')
            bench_ps_variant_record((memory, data), 1)
            if memory.read_bytes_record(0) != data:
                raise SystemExit('read_bytes_record did not give the bytes back')
            contestants += [
                (f'ps-record-{suffix}', 'procshared',
                 'PsSharedMemory write_bytes_record+read_bytes_record',
                 bench_ps_record, (memory, data), group, n),
                (f'ps-variant-record-{suffix}', 'procshared',
                 'PsSharedMemory write_variant+read_variant of bytes',
                 bench_ps_variant_record, (memory, data), group, n),
                (f'pickle-shm-{suffix}', 'baseline',
                 'pickle via multiprocessing.shared_memory',
                 bench_pickle_record, (shm, data), group, n),
            ]
        if args.profile:
            return profile_one(contestants, args)
        samples, _ = interleave(contestants, args.rounds, args.iterations)
        for ident, kind, label, _, _, group, _ in contestants:
            print(f'group-series\t{group}\t{ident}\t{kind}\t{label}')
        for ident, values in samples.items():
            for value in values:
                print(f'sample\t{ident}\t{value / 1000.0!r}')
        print(f'note\tPython {sys.version.split()[0]}, PyGObject {gi.__version__}, '
              f'pickle protocol {pickle.HIGHEST_PROTOCOL}; both give the bytes back as a '
              f'Python bytes object')
        return 0
    finally:
        contestants.clear()
        for shm in segments:
            shm.close()
            shm.unlink()


def bench_queue_put_get(queue, n):
    # Either queue: put() and get() of the same 64 B bytes object.
    data = bytes(64)
    put, get = queue.put, queue.get
    start = time.perf_counter_ns()
    for _ in range(n):
        put(data)
        get()
    return time.perf_counter_ns() - start


def bench_ps_queue_send_receive(queue, n):
    # Without the overrides: the typelib's methods, bytes as GLib.Bytes.
    data = GLib.Bytes.new(bytes(64))
    send, receive = queue.send, queue.receive
    start = time.perf_counter_ns()
    for _ in range(n):
        send(data, 0, -1, None)
        receive(-1, None)
    return time.perf_counter_ns() - start


def queue_main(args):
    """The queue row: put+get of 64 B, in µs per message."""
    queue = Ps.Queue.new(16, 64)
    has_put = hasattr(queue, 'put') and hasattr(queue, 'get')
    mp_queue = multiprocessing.Queue(16)
    contestants = [
        ('ps-queue-put-get', 'procshared',
         'PsQueue put()+get() of 64 B bytes' if has_put
         else 'PsQueue send()+receive() of 64 B GLib.Bytes (typelib; no put/get overrides)',
         bench_queue_put_get if has_put else bench_ps_queue_send_receive, queue),
        ('mp-queue-put-get', 'baseline', 'multiprocessing.Queue put()+get() of 64 B bytes',
         bench_queue_put_get, mp_queue),
    ]
    try:
        if args.profile:
            return profile_one(contestants, args)
        samples, _ = interleave(contestants, args.rounds, args.iterations)
        for ident, kind, label, _, _ in contestants:
            print(f'series\t{ident}\t{kind}\t{label}')
        for ident, values in samples.items():
            for value in values:
                print(f'sample\t{ident}\t{value / 1000.0!r}')
        print(f'note\tPython {sys.version.split()[0]}, PyGObject {gi.__version__}'
              + ('' if has_put else '; Ps.Queue has no put/get overrides here'))
        return 0
    finally:
        mp_queue.close()
        mp_queue.join_thread()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=31)
    parser.add_argument('--iterations', type=int, default=20000)
    parser.add_argument('--raw', action='store_true',
                        help='print the lines ps-bench reads')
    parser.add_argument('--profile', metavar='ID',
                        help='run contestant ID alone, --iterations times, '
                             'for callgrind (see bench/profile.py)')
    parser.add_argument('--records', action='store_true',
                        help='the record row (write_variant+read_variant beside pickle)')
    parser.add_argument('--queue', action='store_true',
                        help='the queue row (PsQueue put+get beside multiprocessing.Queue)')
    args = parser.parse_args()
    if args.records:
        return records_main(args)
    if args.queue:
        return queue_main(args)

    mutex = Ps.Mutex.new()
    has_with = hasattr(Ps.Mutex, '__enter__') and hasattr(Ps.Mutex, '__exit__')
    has_overrides = Ps.Mutex is not PsTypelib.Mutex
    contestants = [
        ('ps-lock-unlock', 'procshared',
         'PsMutex lock()+unlock()' + (' (through the overrides)' if has_overrides else ''),
         bench_ps_lock_unlock, mutex),
    ]
    if has_overrides:
        contestants.append(('ps-lock-unlock-typelib', 'procshared',
                            'PsMutex lock+unlock, typelib methods (no overrides)',
                            bench_ps_lock_unlock_typelib, mutex))
    if has_with:
        contestants.append(('ps-with', 'procshared', 'PsMutex `with` block',
                            bench_ps_with, mutex))
    else:
        contestants.append(('ps-try-finally', 'procshared',
                            'PsMutex lock(); try/finally unlock() (`with` stand-in)',
                            bench_ps_try_finally, mutex))
    contestants += [
        ('mp-lock', 'baseline', 'multiprocessing.Lock acquire()+release()',
         bench_mp_lock, multiprocessing.Lock()),
        ('gi-noop-x2', 'baseline',
         'two no-op GI calls (Gio.Cancellable.is_cancelled)',
         bench_gi_noop, Gio.Cancellable()),
    ]

    if args.profile:
        for ident, _, _, func, obj in contestants + [('loop', '', '', bench_loop, None)]:
            if ident == args.profile:
                func(obj, args.iterations)
                return 0
        parser.error(f'no contestant {args.profile}')

    samples, loop = interleave(contestants, args.rounds, args.iterations)

    if args.raw:
        for ident, kind, label, _, _ in contestants:
            print(f'series\t{ident}\t{kind}\t{label}')
        if not has_with:
            print('note\tPs has no Python overrides yet (Ps.Mutex lacks '
                  '__enter__/__exit__), so `with mutex:` cannot be measured; '
                  'the try/finally row is what it would expand to')
        if has_overrides:
            print(f'note\tthe Python overrides are loaded ({Ps.Mutex.__module__}): '
                  f'Ps.Mutex.lock is their Python method, which calls the typelib\'s')
        print(f'note\tthe same `for` loop is in every contestant: '
              f'{statistics.median(loop):.1f} ns of each iteration')
        for ident, values in samples.items():
            for value in values:
                print(f'sample\t{ident}\t{value!r}')
        print(f'note\tPython {sys.version.split()[0]}, PyGObject {gi.__version__}')
        print(f'meta\tloop_ns\t{statistics.median(loop)!r}')
        print(f'meta\twith_overrides\t{1 if has_overrides else 0}')
        return 0

    noop = statistics.median(samples['gi-noop-x2'])
    for ident, _, label, _, _ in contestants:
        median = statistics.median(samples[ident])
        print(f'{label:60s} {median:8.1f} ns  {median / noop:5.2f}× no-op GI pair')
    print(f'{"empty loop":60s} {statistics.median(loop):8.1f} ns')
    return 0


if __name__ == '__main__':
    sys.exit(main())
