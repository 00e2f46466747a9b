// SPDX-License-Identifier: LGPL-2.1-or-later
//
// PsQueue from GJS: sends and receives awaited (Gio._promisify), kinds,
// priorities, the exact errors, cancellation of a pending receive and
// send, and a Python process on the other side of a named queue.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';

import {runAsyncTests} from './harness.js';

Gio._promisify(Ps.Queue.prototype, 'send_async', 'send_finish');
Gio._promisify(Ps.Queue.prototype, 'send_variant_async', 'send_finish');
Gio._promisify(Ps.Queue.prototype, 'receive_async', 'receive_finish');
Gio._promisify(Ps.Queue.prototype, 'receive_message_async', 'receive_message_finish');
Gio._promisify(Gio.Subprocess.prototype, 'wait_check_async', 'wait_check_finish');

const SCALE = Number(GLib.getenv('PS_TEST_TIME_SCALE') ?? '1') || 1;
const LONG_US = Math.round(20000 * SCALE) * 1000;
const MY_PID = new Gio.Credentials().get_unix_pid();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const tests = [];

function test(name, fn) {
    tests.push({name, fn});
}

function check(condition, message) {
    if (!condition)
        throw new Error(`check failed: ${message}`);
}

async function rejects(promise, domain, code, what) {
    try {
        await promise;
    } catch (e) {
        check(e instanceof GLib.Error && e.matches(domain, code),
            `${what}: expected ${code}, got ${e}`);
        return;
    }
    throw new Error(`${what}: did not fail`);
}

function bytes(text) {
    return new GLib.Bytes(encoder.encode(text));
}

function text(glibBytes) {
    return decoder.decode(glibBytes.toArray());
}

function python(code) {
    return Gio.Subprocess.new(['/usr/bin/python3', '-c',
        `import gi; gi.require_version('Ps', '1'); from gi.repository import GLib, Ps\n${code}`],
    Gio.SubprocessFlags.NONE);
}

test('queue: awaited send and receive, priorities, kinds', async () => {
    const queue = Ps.Queue.new(4, 64);
    check(queue.get_capacity() === 4 && queue.get_max_message_size() === 64, 'parameters');
    check(await queue.send_async(bytes('low'), 0, 0, null) === true, 'send resolves true');
    await queue.send_async(bytes('high'), 7, 0, null);
    await queue.send_variant_async(new GLib.Variant('(si)', ['answer', 42]), 3, 0, null);
    await queue.send_async(bytes(''), 0, 0, null);
    check(queue.get_length() === 4, `length ${queue.get_length()}`);

    const [high, highPriority] = await queue.receive_async(LONG_US, null);
    check(text(high) === 'high' && highPriority === 7, 'the highest priority first');
    // GJS drops the boolean return value of a call that throws: the out
    // values alone.
    const [kind, data, value, priority] = await queue.receive_message_async(LONG_US, null);
    check(kind === Ps.QueueMessageKind.VARIANT && data === null && priority === 3,
        `a variant message: ${kind} ${data} ${priority}`);
    check(value.deepUnpack().join() === 'answer,42', 'its value');
    const [low] = await queue.receive_async(0, null);
    check(text(low) === 'low', 'then FIFO within priority 0');
    const [emptyKind, empty] = await queue.receive_message_async(0, null);
    check(emptyKind === Ps.QueueMessageKind.BYTES && empty.get_size() === 0, 'an empty message');
    check(queue.get_length() === 0, 'drained');
});

test('queue: would-block, timeout, too large', async () => {
    const queue = Ps.Queue.new(1, 8);
    await rejects(queue.receive_async(0, null), Gio.IOErrorEnum, Gio.IOErrorEnum.WOULD_BLOCK,
        'empty, timeout 0');
    await rejects(queue.receive_async(20000, null), Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT,
        'empty, timeout');
    await rejects(queue.send_async(bytes('123456789'), 0, 0, null), Gio.IOErrorEnum,
        Gio.IOErrorEnum.MESSAGE_TOO_LARGE, 'too large');
    check(queue.get_length() === 0, 'nothing sent');
    await queue.send_async(bytes('12345678'), 0, 0, null);
    await rejects(queue.send_async(bytes('x'), 0, 0, null), Gio.IOErrorEnum,
        Gio.IOErrorEnum.WOULD_BLOCK, 'full, timeout 0');
    await rejects(queue.send_async(bytes('x'), 0, 20000, null), Gio.IOErrorEnum,
        Gio.IOErrorEnum.TIMED_OUT, 'full, timeout');
    let caught = null;
    try {
        queue.send(bytes('x'), 0, 0, null);
    } catch (e) {
        caught = e;
    }
    check(caught?.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.WOULD_BLOCK), 'sync send throws');
    check(queue.get_length() === 1, 'only the first sent');
});

test('queue: cancelled while pending takes and sends nothing', async () => {
    const queue = Ps.Queue.new(1, 16);
    const cancellable = new Gio.Cancellable();
    const pending = queue.receive_async(-1, cancellable);
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 20, () => {
        cancellable.cancel();
        return GLib.SOURCE_REMOVE;
    });
    await rejects(pending, Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, 'receive cancelled');
    await queue.send_async(bytes('kept'), 0, 0, null);
    const [kept] = await queue.receive_async(0, null);
    check(text(kept) === 'kept', 'the next message goes to the next receiver');

    await queue.send_async(bytes('first'), 0, 0, null);
    const sendCancellable = new Gio.Cancellable();
    const sending = queue.send_async(bytes('lost'), 0, -1, sendCancellable);
    sendCancellable.cancel();
    await rejects(sending, Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, 'send cancelled');
    const [first] = await queue.receive_async(0, null);
    check(text(first) === 'first' && queue.get_length() === 0, 'the cancelled send sent nothing');

    // A pending send completes once a receiver makes room.
    await queue.send_async(bytes('a'), 0, 0, null);
    const waiting = queue.send_async(bytes('b'), 0, LONG_US, null);
    const [a] = await queue.receive_async(0, null);
    check(text(a) === 'a', 'room made');
    check(await waiting === true, 'the waiting send went in');
    const [b] = await queue.receive_async(LONG_US, null);
    check(text(b) === 'b', 'and is received');
});

test('queue: a Python producer and consumer on a named queue', async () => {
    // One queue each way: a process must not take back its own messages.
    const name = `/ps-test-gjs-queue-${MY_PID}`;
    const queue = Ps.Queue.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 2, 64);
    const back = Ps.Queue.open(`${name}.back`, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 2, 64);
    try {
        const peer = python(`q = Ps.Queue(name='${name}')\nback = Ps.Queue(name='${name}.back')\n` +
            'for i in range(20): q.put(b"item %d" % i, timeout=20)\n' +
            'q.put(GLib.Variant("s", "end"), timeout=20)\n' +
            'got = back.get(timeout=20)\n' +
            'assert got == b"from gjs", got\n' +
            'got = back.get(timeout=20)\n' +
            'assert got.unpack() == (1, "v"), got');
        for (let i = 0; i < 20; i++) {
            const [item] = await queue.receive_async(LONG_US, null);
            check(text(item) === `item ${i}`, `item ${i}: ${text(item)}`);
        }
        const [kind, , end] = await queue.receive_message_async(LONG_US, null);
        check(kind === Ps.QueueMessageKind.VARIANT && end.unpack() === 'end', 'the end variant');
        await back.send_async(bytes('from gjs'), 0, LONG_US, null);
        await back.send_variant_async(new GLib.Variant('(is)', [1, 'v']), 0, LONG_US, null);
        await peer.wait_check_async(null);
        check(queue.get_length() === 0 && back.get_length() === 0, 'both drained');
    } finally {
        Ps.unlink(name);
        Ps.unlink(`${name}.back`);
    }
});

runAsyncTests(tests, SCALE);
