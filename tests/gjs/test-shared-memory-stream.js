// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GIO streams over a range of a PsSharedMemory from GJS: lines through a
// Gio.DataInputStream, seeking, writes past the range, awaited reads and
// writes (Gio._promisify), and lines a Python process writes through its
// own output stream over the same segment.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';

import {runAsyncTests} from './harness.js';

Gio._promisify(Gio.InputStream.prototype, 'read_bytes_async', 'read_bytes_finish');
Gio._promisify(Gio.OutputStream.prototype, 'write_bytes_async', 'write_bytes_finish');
Gio._promisify(Gio.DataInputStream.prototype, 'read_line_async', 'read_line_finish_utf8');
Gio._promisify(Gio.Subprocess.prototype, 'wait_check_async', 'wait_check_finish');

const SCALE = Number(GLib.getenv('PS_TEST_TIME_SCALE') ?? '1') || 1;
const FILL = 0xa5;
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

function checkEqual(actual, expected, message) {
    check(actual === expected, `${message}: expected ${expected}, got ${actual}`);
}

function throws(func, domain, code, what) {
    try {
        func();
    } catch (e) {
        check(e instanceof GLib.Error && e.matches(domain, code),
            `${what}: expected ${code}, got ${e}`);
        return;
    }
    throw new Error(`${what}: did not fail`);
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

function filled(size) {
    const memory = Ps.SharedMemory.new(size);
    memory.write(0, new Uint8Array(size).fill(FILL));
    return memory;
}

function checkUntouchedOutside(memory, offset, length) {
    const data = memory.read(0, memory.get_size()).toArray();
    data.forEach((byte, i) => {
        if (i < offset || i >= offset + length)
            checkEqual(byte, FILL, `byte ${i}`);
    });
}

const IO_ERROR = Gio.io_error_quark();

test('lines through a Gio.DataInputStream', () => {
    const memory = filled(4096);
    const out = memory.get_output_stream(64, 100);
    check(out instanceof Gio.OutputStream, 'an output stream');
    out.write_all(encoder.encode('one\ntwo\n\nfour'), null);
    const lines = Gio.DataInputStream.new(memory.get_input_stream(64, 13));
    for (const expected of ['one', 'two', '', 'four'])
        checkEqual(lines.read_line_utf8(null)[0], expected, 'line');
    checkEqual(lines.read_line_utf8(null)[0], null, 'the end');
    checkUntouchedOutside(memory, 64, 13);
});

test('seeking within the range', () => {
    const memory = filled(4096);
    const stream = memory.get_input_stream(10, 100);
    check(stream instanceof Gio.Seekable, 'seekable');
    check(stream.can_seek() && !stream.can_truncate(), 'can seek, cannot truncate');
    throws(() => stream.truncate(0, null), IO_ERROR, Gio.IOErrorEnum.NOT_SUPPORTED, 'truncate');
    check(stream.seek(-10, GLib.SeekType.END, null), 'seek from the end');
    checkEqual(stream.tell(), 90, 'position');
    throws(() => stream.seek(11, GLib.SeekType.CUR, null), IO_ERROR,
        Gio.IOErrorEnum.INVALID_ARGUMENT, 'past the end');
    throws(() => stream.seek(-1, GLib.SeekType.SET, null), IO_ERROR,
        Gio.IOErrorEnum.INVALID_ARGUMENT, 'before the start');
    checkEqual(stream.tell(), 90, 'position kept');
    const out = memory.get_output_stream(10, 100);
    check(out.seek(100, GLib.SeekType.SET, null) && out.tell() === 100, 'output stream seeks');
    // The pollable calls, through the interface's prototype.
    check(Gio.PollableInputStream.prototype.is_readable.call(stream), 'always readable');
    check(Gio.PollableOutputStream.prototype.is_writable.call(out), 'always writable');
});

test('writes past the range, ranges outside the segment', () => {
    const memory = filled(4096);
    const out = memory.get_output_stream(100, 10);
    checkEqual(out.write(encoder.encode('0123456'), null), 7, 'all of it');
    checkEqual(out.write(encoder.encode('abcdef'), null), 3, 'what fits');
    throws(() => out.write(encoder.encode('x'), null), IO_ERROR, Gio.IOErrorEnum.NO_SPACE, 'full');
    checkEqual(decoder.decode(memory.read(100, 10).toArray()), '0123456abc', 'content');
    checkUntouchedOutside(memory, 100, 10);
    throws(() => memory.get_input_stream(4000, 97), Ps.error_quark(), Ps.Error.OUT_OF_BOUNDS,
        'input range');
    throws(() => memory.get_output_stream(4097, 0), Ps.error_quark(), Ps.Error.OUT_OF_BOUNDS,
        'output range');
});

test('awaited reads and writes', async () => {
    const memory = filled(4096);
    const out = memory.get_output_stream(0, 8);
    checkEqual(await out.write_bytes_async(new GLib.Bytes(encoder.encode('awaited!')),
        GLib.PRIORITY_DEFAULT, null), 8, 'written');
    await rejects(out.write_bytes_async(new GLib.Bytes(encoder.encode('x')),
        GLib.PRIORITY_DEFAULT, null), IO_ERROR, Gio.IOErrorEnum.NO_SPACE, 'full');
    const bytes = await memory.get_input_stream(0, 8).read_bytes_async(100, GLib.PRIORITY_DEFAULT, null);
    checkEqual(decoder.decode(bytes.toArray()), 'awaited!', 'read');
});

test('lines a Python process writes', async () => {
    const name = `/ps-gjs-stream-${new Gio.Credentials().get_unix_pid()}`;
    const memory = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 4096);
    try {
        const peer = Gio.Subprocess.new(['/usr/bin/python3', '-c', [
            'import gi',
            "gi.require_version('Ps', '1')",
            'from gi.repository import Ps',
            `m = Ps.SharedMemory.open('${name}', Ps.OpenFlags.NONE, 0)`,
            'out = m.get_output_stream(0, 4096)',
            'for i in range(20):',
            "    out.write_all(b'python %d\\n' % i, None)",
        ].join('\n')], Gio.SubprocessFlags.NONE);
        await peer.wait_check_async(null);
        const lines = Gio.DataInputStream.new(memory.get_input_stream(0, 4096));
        for (let i = 0; i < 20; i++) {
            const [line] = await lines.read_line_async(GLib.PRIORITY_DEFAULT, null);
            checkEqual(line, `python ${i}`, 'line');
        }
    } finally {
        Ps.unlink(name);
    }
});

runAsyncTests(tests, SCALE);
