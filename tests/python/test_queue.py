# SPDX-License-Identifier: LGPL-2.1-or-later
"""PsQueue through the typelib and the overrides: queue.Queue's put, get,
put_nowait, get_nowait, qsize, empty, full and their exact exceptions;
kinds kept (bytes and GLib.Variant), priorities, message sizes, the
C-shaped calls with seconds, cancellation, async calls and asyncio
futures, forked and spawned processes, the sharing models and pickling."""

import asyncio
import multiprocessing
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peer_sync import LONG_S, PYTHON, PsTestCase, scaled  # noqa: E402

import gi  # noqa: E402
gi.require_version('Ps', '1')
from gi.module import get_introspection_module  # noqa: E402
from gi.repository import GLib, Gio, Ps  # noqa: E402

RawPs = get_introspection_module('Ps')


def variant(text):
    return GLib.Variant.parse(None, text, None, None)


def spawned_producer(q, count):
    """Runs in a 'spawn' process: q arrived pickled (reopened by name)."""
    for i in range(count):
        q.put(b'spawned %d' % i, timeout=LONG_S)
    q.put(GLib.Variant('(su)', ('done', count)), timeout=LONG_S)


class QueueBasics(PsTestCase):
    def test_kinds_come_back_as_sent(self):
        q = Ps.Queue(8, 64)
        self.assertTrue(q.props.created)
        self.assertEqual((q.maxsize, q.get_capacity(), q.get_max_message_size()), (8, 8, 64))
        q.put(b'bytes')
        q.put(bytearray(b'array'))
        q.put(memoryview(b'xxview')[2:])
        q.put(GLib.Bytes.new(b'glib'))
        q.put(variant("('text', 42)"))
        q.put(b'')
        self.assertEqual(q.qsize(), 6)
        self.assertEqual(q.get(), b'bytes')
        self.assertEqual(q.get(), b'array')
        self.assertEqual(q.get(), b'view')
        got = q.get()
        self.assertEqual((type(got), got), (bytes, b'glib'))
        got = q.get()
        self.assertIsInstance(got, GLib.Variant)
        self.assertEqual(got.get_type_string(), '(si)')
        self.assertEqual(got.unpack(), ('text', 42))
        self.assertEqual(q.get(), b'')
        self.assertTrue(q.empty())
        self.assertRegex(repr(q), r'<Ps\.Queue at 0x[0-9a-f]+: 0/8 messages of up to 64 bytes>')

    def test_sizes(self):
        q = Ps.Queue(2, 16)
        q.put(b'x' * 16)
        with self.assertRaises(GLib.Error) as ctx:
            q.put(b'x' * 17)
        self.assertIOError(ctx, Gio.IOErrorEnum.MESSAGE_TOO_LARGE)
        self.assertEqual(q.qsize(), 1)                  # nothing sent
        self.assertEqual(q.get(), b'x' * 16)
        # A variant counts as its record (docs/python.md): 37 bytes here.
        done = GLib.Variant('(su)', ('done', 10))
        self.assertEqual(done.get_size(), 13)
        with self.assertRaises(GLib.Error) as ctx:
            Ps.Queue(1, 36).put(done)
        self.assertIOError(ctx, Gio.IOErrorEnum.MESSAGE_TOO_LARGE)
        Ps.Queue(1, 37).put_nowait(done)
        with self.assertRaises(TypeError):
            q.put('text')
        with self.assertRaises(TypeError):
            q.put(12)
        self.assertTrue(q.empty())

    def test_full_and_empty(self):
        q = Ps.Queue(2, 8)
        self.assertTrue(q.empty())
        self.assertFalse(q.full())
        with self.assertRaises(queue.Empty) as ctx:
            q.get_nowait()
        self.assertIsInstance(ctx.exception, Ps.QueueEmptyError)
        self.assertIOError(ctx, Gio.IOErrorEnum.WOULD_BLOCK)
        q.put_nowait(b'1')
        q.put(b'2', block=False)
        self.assertTrue(q.full())
        self.assertFalse(q.empty())
        self.assertEqual(q.qsize(), 2)
        with self.assertRaises(queue.Full) as ctx:
            q.put_nowait(b'3')
        self.assertIsInstance(ctx.exception, GLib.Error)
        self.assertIsInstance(ctx.exception, Ps.QueueFullError)
        self.assertIOError(ctx, Gio.IOErrorEnum.WOULD_BLOCK)
        # block=False ignores the timeout, as queue.Queue does.
        started = time.monotonic()
        with self.assertRaises(queue.Full):
            q.put(b'3', False, LONG_S)
        self.assertLess(time.monotonic() - started, LONG_S / 2)
        # A timeout that runs out.
        started = time.monotonic()
        with self.assertRaises(queue.Full) as ctx:
            q.put(b'3', timeout=0.05)
        self.assertGreaterEqual(time.monotonic() - started, 0.05)
        self.assertIOError(ctx, Gio.IOErrorEnum.TIMED_OUT)
        with self.assertRaises(queue.Full) as ctx:
            q.put(b'3', True, 0)
        self.assertIOError(ctx, Gio.IOErrorEnum.WOULD_BLOCK)
        self.assertEqual(q.qsize(), 2)                  # nothing sent
        self.assertEqual(q.get_nowait(), b'1')
        self.assertEqual(q.get(block=False), b'2')
        started = time.monotonic()
        with self.assertRaises(queue.Empty) as ctx:
            q.get(timeout=0.05)
        self.assertGreaterEqual(time.monotonic() - started, 0.05)
        self.assertIOError(ctx, Gio.IOErrorEnum.TIMED_OUT)

    def test_bad_timeouts(self):
        q = Ps.Queue(1, 8)
        with self.assertRaisesRegex(ValueError, "'timeout' must be a non-negative number"):
            q.put(b'x', timeout=-1)
        with self.assertRaisesRegex(ValueError, "'timeout' must be a non-negative number"):
            q.get(timeout=-0.5)
        with self.assertRaises(TypeError):
            q.get(timeout='1')
        with self.assertRaises(TypeError):
            q.get(timeout=1, timeout_us=1)
        self.assertTrue(q.empty())

    def test_priorities(self):
        q = Ps.Queue(16, 64)
        sent = [(b'a0', 0), (b'b5', 5), (b'c0', 0), (b'd9', 9), (b'e5', 5), (b'f0', 0)]
        for item, priority in sent:
            q.put(item, priority=priority)
        self.assertEqual([q.get_nowait() for _ in sent],
                         [b'd9', b'b5', b'e5', b'a0', b'c0', b'f0'])
        q.put_nowait(b'low', 1)
        q.put_nowait(variant('uint32 7'), 2)
        data, priority = q.receive_variant(0)
        self.assertEqual((data.unpack(), priority), (7, 2))
        data, priority = q.receive(0)
        self.assertEqual((data.get_data(), priority), (b'low', 1))

    def test_invalid_parameters(self):
        for capacity, size in ((0, 8), (65537, 8), (1, 64 * 1024 * 1024 + 1)):
            with self.subTest(capacity=capacity, size=size):
                with self.assertRaises(GLib.Error) as ctx:
                    Ps.Queue(capacity, size)
                self.assertIOError(ctx, Gio.IOErrorEnum.INVALID_ARGUMENT)
                self.assertEqual(Ps.Queue.measure(capacity, size), 0)
        with self.assertRaises(ValueError):
            Ps.Queue(-1, 8)
        with self.assertRaises(ValueError):
            Ps.Queue(1, -8)
        self.assertGreater(Ps.Queue.measure(4, 100), 4 * 100)


class QueueWaits(PsTestCase):
    def test_get_waits_for_put_from_thread(self):
        q = Ps.Queue(1, 8)
        timer = threading.Timer(0.05, q.put, (b'late',))
        timer.start()
        self.assertEqual(q.get(timeout=LONG_S), b'late')
        timer.join()

    def test_put_waits_for_room(self):
        q = Ps.Queue(1, 8)
        q.put(b'first')
        got = []
        thread = threading.Thread(target=lambda: got.append(q.get(timeout=LONG_S)))
        timer = threading.Timer(0.05, thread.start)
        timer.start()
        q.put(b'second', timeout=LONG_S)
        timer.join()
        thread.join(LONG_S)
        self.assertEqual(got, [b'first'])
        self.assertEqual(q.get_nowait(), b'second')

    def test_cancelled(self):
        q = Ps.Queue(1, 8)
        cancellable = Gio.Cancellable()
        timer = threading.Timer(0.05, cancellable.cancel)
        timer.start()
        with self.assertRaises(GLib.Error) as ctx:
            q.get(cancellable=cancellable)
        timer.join()
        self.assertIOError(ctx, Gio.IOErrorEnum.CANCELLED)
        self.assertNotIsInstance(ctx.exception, queue.Empty)

        q.put(b'kept')
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        with self.assertRaises(GLib.Error) as ctx:
            q.put(b'lost', cancellable=cancellable)
        self.assertIOError(ctx, Gio.IOErrorEnum.CANCELLED)
        self.assertNotIsInstance(ctx.exception, queue.Full)
        self.assertEqual(q.get_nowait(), b'kept')       # nothing sent
        self.assertTrue(q.empty())

    def test_c_shaped_calls(self):
        q = Ps.Queue(2, 64)
        self.assertTrue(q.send(b'raw', 3, 0))
        self.assertTrue(q.send_variant(variant("'str'"), 0, timeout=0))
        ok, kind, data, value, priority = q.receive_message(0)
        self.assertTrue(ok)
        self.assertEqual((kind, data.get_data(), value, priority),
                         (Ps.QueueMessageKind.BYTES, b'raw', None, 3))
        ok, kind, data, value, priority = q.receive_message(timeout_us=0)
        self.assertEqual((kind, data, value.unpack(), priority),
                         (Ps.QueueMessageKind.VARIANT, None, 'str', 0))
        with self.assertRaises(GLib.Error) as ctx:
            q.receive(0)
        self.assertIOError(ctx, Gio.IOErrorEnum.WOULD_BLOCK)
        started = time.monotonic()
        with self.assertRaises(GLib.Error) as ctx:
            q.receive_variant(timeout=0.05)             # seconds
        self.assertGreaterEqual(time.monotonic() - started, 0.05)
        self.assertIOError(ctx, Gio.IOErrorEnum.TIMED_OUT)
        started = time.monotonic()
        with self.assertRaises(GLib.Error) as ctx:
            q.receive(50000, None)                      # microseconds, as in C
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.05)
        self.assertLess(elapsed, LONG_S)
        self.assertIOError(ctx, Gio.IOErrorEnum.TIMED_OUT)
        with self.assertRaises(TypeError):
            q.receive(0.05)                             # seconds go in timeout=
        with self.assertRaises(TypeError):
            q.send(variant('1'))
        # The typelib's own, in microseconds.
        self.assertRaisesIO(Gio.IOErrorEnum.WOULD_BLOCK, RawPs.Queue.receive, q, 0, None)

    def test_kind_conversions(self):
        q = Ps.Queue(4, 64)
        q.put(b'\x01\x02')
        value, _ = q.receive_variant(0)
        self.assertEqual(value.get_type_string(), 'ay')
        self.assertEqual(bytes(value.unpack()), b'\x01\x02')
        q.put(variant("('record', 1)"))
        record, _ = q.receive(0)
        self.assertGreater(record.get_size(), 0)        # the serialized record
        self.assertTrue(q.empty())

    def test_async_calls(self):
        q = Ps.Queue(1, 16)
        loop = GLib.MainLoop()
        results = []

        def received(source, result):
            results.append(('received', source.receive_message_finish(result)))
            if len(results) == 2:
                loop.quit()

        def sent(source, result):
            results.append(('sent', source.send_finish(result)))
            if len(results) == 2:
                loop.quit()

        q.receive_message_async(None, None, received, timeout=LONG_S)
        GLib.timeout_add(20, lambda: q.send_async(b'async', 4, None, None, sent, timeout=LONG_S) and False)
        loop.run()
        results = dict(results)                         # in either order
        self.assertIs(results['sent'], True)
        ok, kind, data, value, priority = results['received']
        self.assertEqual((ok, kind, data.get_data(), value, priority),
                         (True, Ps.QueueMessageKind.BYTES, b'async', None, 4))

        cancellable = Gio.Cancellable()
        errors = []

        def failed(source, result):
            try:
                source.receive_finish(result)
            except GLib.Error as e:
                errors.append(e)
            loop.quit()

        q.receive_async(None, cancellable, failed)
        GLib.timeout_add(20, lambda: cancellable.cancel() or False)
        loop.run()
        self.assertEqual(len(errors), 1)
        self.assertTrue(errors[0].matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED))

    def test_asyncio_futures(self):
        q = Ps.Queue(1, 32)

        async def main():
            await q.put_future(b'one', timeout=LONG_S)
            self.assertEqual(await q.get_future(timeout=LONG_S), b'one')
            await q.put_future(GLib.Variant('i', 5), priority=1)
            got = await q.get_future()
            self.assertEqual(got.unpack(), 5)
            with self.assertRaises(GLib.Error) as ctx:
                await q.get_future(timeout=0)
            self.assertIOError(ctx, Gio.IOErrorEnum.WOULD_BLOCK)
            # Cancelled while waiting: the receive is cancelled and takes
            # nothing.
            pending = q.get_future()
            await asyncio.sleep(0.02)
            pending.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await pending
            q.put_nowait(b'after')
            self.assertEqual(await q.get_future(timeout=LONG_S), b'after')
            # A put waiting for room, then given it.
            q.put_nowait(b'full')
            waiting = q.put_future(b'second', timeout=LONG_S)
            await asyncio.sleep(0.02)
            self.assertFalse(waiting.done())
            self.assertEqual(q.get_nowait(), b'full')
            await waiting
            self.assertEqual(q.get_nowait(), b'second')

        asyncio.run(main())


class QueueProcesses(PsTestCase):
    def test_forked_producer_and_exact_exceptions(self):
        q = Ps.Queue(4, 32)
        count = 200

        def producer():
            for i in range(count):
                q.put(b'%d' % i, timeout=LONG_S)
                q.put(GLib.Variant('u', i), timeout=LONG_S)
            return 0

        pid = self.fork(producer)
        for i in range(count):
            self.assertEqual(q.get(timeout=LONG_S), b'%d' % i)
            self.assertEqual(q.get(timeout=LONG_S).unpack(), i)
        self.assertChildrenSucceed([pid])
        self.assertTrue(q.empty())

        def full_child():
            for i in range(4):
                q.put_nowait(b'fill')
            try:
                q.put_nowait(b'over')
            except queue.Full as e:
                if not (isinstance(e, GLib.Error)
                        and e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.WOULD_BLOCK)):
                    return 2
            else:
                return 3
            return 0

        self.assertEqual(self.join(self.fork(full_child)), 0)
        self.assertTrue(q.full())
        for _ in range(4):
            self.assertEqual(q.get_nowait(), b'fill')
        self.assertRaises(queue.Empty, q.get_nowait)

    def test_consumer_in_child_waits_for_parent(self):
        q = Ps.Queue(1, 8)

        def consumer():
            return 0 if q.get(timeout=LONG_S) == b'go' else 1

        pid = self.fork(consumer)
        time.sleep(scaled(0.05))
        q.put(b'go')
        self.assertChildrenSucceed([pid])

    def test_spawned_process_through_pickle(self):
        name = self.new_name('queue-spawn')
        q = Ps.Queue(name=name, open_flags=Ps.OpenFlags.CREATE, capacity=4, max_message_size=64)
        context = multiprocessing.get_context('spawn')
        process = context.Process(target=spawned_producer, args=(q, 10))
        process.start()
        try:
            for i in range(10):
                self.assertEqual(q.get(timeout=LONG_S), b'spawned %d' % i)
            done = q.get(timeout=LONG_S)
            self.assertEqual(done.unpack(), ('done', 10))
        finally:
            process.join(LONG_S)
        self.assertEqual(process.exitcode, 0)

    def test_unrelated_process_by_name(self):
        name = self.new_name('queue-peer')
        q = Ps.Queue.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 2, 64)
        code = ('import gi, queue, sys\n'
                'gi.require_version("Ps", "1")\n'
                'from gi.repository import GLib, Ps\n'
                'q = Ps.Queue(name=sys.argv[1])\n'
                'assert (q.maxsize, q.get_max_message_size()) == (2, 64)\n'
                'print(q.get(timeout=%r).unpack()[0], flush=True)\n'
                'q.put(b"reply", priority=3)\n'
                'q.put(b"more")\n'
                'try:\n'
                '    q.put(b"over", timeout=0.01)\n'
                'except queue.Full:\n'
                '    print("full", flush=True)\n' % LONG_S)
        q.put(GLib.Variant('(s)', ('hello',)))
        result = subprocess.run([PYTHON, '-c', code, name], capture_output=True, text=True,
                                timeout=LONG_S)
        self.assertEqual((result.returncode, result.stdout), (0, 'hello\nfull\n'), result.stderr)
        self.assertEqual([q.get_nowait(), q.get_nowait()], [b'reply', b'more'])


class QueueSharing(PsTestCase):
    def test_named_keeps_parameters_and_pickles(self):
        name = self.new_name('queue')
        created = Ps.Queue.open(name, Ps.OpenFlags.CREATE, 3, 100)
        self.assertTrue(created.get_created())
        self.assertEqual(created.get_name(), name)
        opened = Ps.Queue(name=name, open_flags=Ps.OpenFlags.CREATE, capacity=9,
                          max_message_size=9)
        self.assertFalse(opened.props.created)
        self.assertEqual((opened.get_capacity(), opened.get_max_message_size()), (3, 100))
        copy = pickle.loads(pickle.dumps(created))
        self.assertEqual(copy.get_name(), name)
        created.put(b'shared')
        self.assertEqual(copy.qsize(), 1)
        self.assertEqual(opened.get_nowait(), b'shared')
        self.assertRegex(repr(copy), r"<Ps\.Queue '%s' at 0x[0-9a-f]+: 0/3 messages" % name)

    def test_placed(self):
        size = Ps.Queue.measure(2, 16)
        memory = Ps.SharedMemory.new(2 * size)
        placed = Ps.Queue.new_at(memory, 0, 2, 16)
        attached = Ps.Queue.attach(memory, 0)
        self.assertEqual((attached.get_capacity(), attached.get_max_message_size()), (2, 16))
        placed.put(b'placed')
        self.assertEqual(attached.get_nowait(), b'placed')
        self.assertRaisesIO(Gio.IOErrorEnum.EXISTS, Ps.Queue.new_at, memory, 0, 2, 16)
        other = Ps.Queue.open_at(memory, size, Ps.OpenFlags.CREATE, 1, 8)
        self.assertEqual(other.get_capacity(), 1)
        with self.assertRaises(RuntimeError):
            pickle.dumps(placed)            # anonymous segment
        with self.assertRaises(RuntimeError):
            pickle.dumps(Ps.Queue(1, 1))

    def test_wrong_type(self):
        name = self.new_name('queue-wrong')
        Ps.Semaphore.open(name, Ps.OpenFlags.CREATE, 0)
        self.assertRaisesPs(Ps.Error.WRONG_TYPE, Ps.Queue.open, name, Ps.OpenFlags.NONE, 1, 1)


if __name__ == '__main__':
    unittest.main()
