// SPDX-License-Identifier: LGPL-2.1-or-later
// PsSharedMemory shared by file descriptor from GJS: dup_fd and
// new_from_fd, read-only descriptors, GVariant handles in a
// Gio.UnixFDList, and a descriptor handed to a Python process.
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Ps from 'gi://Ps?version=1';
import System from 'system';

import {assert, assertEqual, assertThrows} from './harness.js';

const PYTHON = '/usr/bin/python3';

const IO_ERROR = Gio.io_error_quark();

function closeFd(fd) {
    // A GUnixInputStream that closes its descriptor.
    new Gio.UnixInputStream({fd, close_fd: true}).close(null);
}

const tests = [];
function test(name, func) {
    tests.push({name, func});
}

test('round trip', () => {
    const memory = Ps.SharedMemory.new(4096);
    const fd = memory.dup_fd();
    assert(fd > 2, `descriptor ${fd}`);
    const received = Ps.SharedMemory.new_from_fd(fd);
    closeFd(fd);
    assertEqual(received.get_size(), 4096);
    assert(!received.is_read_only(), 'writable');
    memory.set_int32(8, -5);
    assertEqual(received.get_int32(8), -5);
});

test('read-only', () => {
    const memory = Ps.SharedMemory.new(4096);
    memory.set_int32(8, 17);
    const fd = memory.dup_read_only_fd();
    const reader = Ps.SharedMemory.new_from_fd(fd);
    closeFd(fd);
    assert(reader.is_read_only(), 'read-only');
    assertEqual(reader.get_int32(8), 17);
    assertThrows(() => reader.set_int32(8, 1), IO_ERROR, Gio.IOErrorEnum.READ_ONLY);
    assertThrows(() => Ps.Mutex.new_at(reader, 256), IO_ERROR, Gio.IOErrorEnum.READ_ONLY);
    assertThrows(() => memory.dup_fd(), IO_ERROR, Gio.IOErrorEnum.READ_ONLY);
});

test('bad descriptors', () => {
    // The read end of a child's standard output is a pipe.
    const child = Gio.Subprocess.new(['true'], Gio.SubprocessFlags.STDOUT_PIPE);
    const pipe = child.get_stdout_pipe();
    const fd = pipe.get_fd();
    assertThrows(() => Ps.SharedMemory.new_from_fd(fd), IO_ERROR,
        Gio.IOErrorEnum.NOT_REGULAR_FILE);
    pipe.close(null);
    child.wait(null);
    // Not the pipe's number again: GLib's own threads may have reused it
    // by now. No process has a descriptor this high open.
    assertThrows(() => Ps.SharedMemory.new_from_fd(1 << 20), IO_ERROR, Gio.IOErrorEnum.CLOSED);
});

test('handle and Gio.UnixFDList', () => {
    const memory = Ps.SharedMemory.new(64);
    memory.set_uint8(1, 99);
    const list = new Gio.UnixFDList();
    const handle = memory.to_handle(list);
    assertEqual(handle.get_type_string(), 'h');
    assertEqual(list.get_length(), 1);
    const received = Ps.SharedMemory.new_from_handle(handle, list);
    assertEqual(received.get_uint8(1), 99);
});

test('a descriptor handed to a Python process', () => {
    const memory = Ps.SharedMemory.new(Ps.SEMAPHORE_SIZE + 8);
    Ps.Semaphore.new_at(memory, 0, 0);
    memory.seal();
    const launcher = new Gio.SubprocessLauncher({flags: Gio.SubprocessFlags.NONE});
    launcher.take_fd(memory.dup_fd(), 3);
    const script = [
        'import gi',
        "gi.require_version('Ps', '1')",
        'from gi.repository import Ps',
        'm = Ps.SharedMemory.new_from_fd(3)',
        `m.set_int64(${Ps.SEMAPHORE_SIZE}, 4242)`,
        'Ps.Semaphore.attach(m, 0).release()',
    ].join('\n');
    const peer = launcher.spawnv([PYTHON, '-c', script]);
    peer.wait_check(null);
    const semaphore = Ps.Semaphore.attach(memory, 0);
    assert(semaphore.try_acquire(), 'released by the peer');
    assertEqual(memory.get_int64(Ps.SEMAPHORE_SIZE), 4242);
});

print(`1..${tests.length}`);
let failures = 0;
tests.forEach(({name, func}, i) => {
    try {
        func();
        print(`ok ${i + 1} - ${name}`);
    } catch (e) {
        failures++;
        print(`not ok ${i + 1} - ${name}`);
        for (const line of `${e}\n${e.stack ?? ''}`.split('\n'))
            print(`# ${line}`);
    }
});
if (failures > 0)
    System.exit(1);
