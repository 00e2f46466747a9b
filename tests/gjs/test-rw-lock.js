// SPDX-License-Identifier: LGPL-2.1-or-later
//
// PsRWLock from GJS, with await: shares and the write lock taken by the
// thread running the callback, exact errors, and a wait for a writer in
// another process (a Python one, which GJS spawns since it cannot fork).

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';

import {runAsyncTests} from './harness.js';

Gio._promisify(Ps.RWLock.prototype, 'read_lock_async', 'read_lock_finish');
Gio._promisify(Ps.RWLock.prototype, 'write_lock_async', 'write_lock_finish');
Gio._promisify(Gio.Subprocess.prototype, 'wait_async', 'wait_finish');
Gio._promisify(Gio.DataInputStream.prototype, 'read_line_async', 'read_line_finish_utf8');

const SCALE = Number(GLib.getenv('PS_TEST_TIME_SCALE') ?? '1') || 1;
const MY_PID = new Gio.Credentials().get_unix_pid();

function assert(condition, message) {
    if (!condition)
        throw new Error(`assertion failed: ${message}`);
}

function checkError(e, domain, code, what) {
    if (!(e instanceof GLib.Error) || !e.matches(domain, code))
        throw new Error(`${what}: expected error code ${code}, got ${e}`);
}

async function assertRejects(domain, code, promise, what) {
    try {
        await promise;
    } catch (e) {
        checkError(e, domain, code, what);
        return;
    }
    throw new Error(`${what}: did not fail`);
}

const tests = [];
function test(name, fn) {
    tests.push({name, fn});
}

test('read and write with await', async () => {
    const rw = Ps.RWLock.new();
    assert(await rw.read_lock_async(-1, null), 'read share');
    assert(rw.get_n_readers() === 1, 'one reader');
    // Held by this thread: a recursive share, no upgrade.
    assert(rw.try_read_lock(), 'recursive share');
    await assertRejects(Ps.Error, Ps.Error.WOULD_DEADLOCK, rw.write_lock_async(-1, null),
        'upgrade');
    rw.read_unlock();
    rw.read_unlock();
    assert(rw.get_n_readers() === 0, 'no reader');
    assert(await rw.write_lock_async(0, null), 'write lock');
    assert(rw.get_writer_pid() === MY_PID, 'writer pid');
    await assertRejects(Ps.Error, Ps.Error.WOULD_DEADLOCK, rw.read_lock_async(-1, null),
        'read while writing');
    rw.write_unlock();
    try {
        rw.write_unlock();
        throw new Error('second unlock did not fail');
    } catch (e) {
        checkError(e, Ps.Error, Ps.Error.NOT_OWNER, 'second unlock');
    }
});

test('cancelled before it starts', async () => {
    const rw = Ps.RWLock.new();
    const cancellable = new Gio.Cancellable();
    cancellable.cancel();
    await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED,
        rw.read_lock_async(-1, cancellable), 'cancelled');
    assert(rw.get_n_readers() === 0, 'nothing held');
});

test('await a writer in another process', async () => {
    const name = `/ps-test-gjs-rwlock-${MY_PID}`;
    const rw = Ps.RWLock.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE);
    try {
        const code = [
            'import sys, time, gi',
            "gi.require_version('Ps', '1')",
            'from gi.repository import Ps',
            'rw = Ps.RWLock.open(sys.argv[1], Ps.OpenFlags.NONE)',
            'with rw.write():',
            "    print('locked', flush=True)",
            '    sys.stdin.readline()',
            "print('unlocked', flush=True)",
        ].join('\n');
        const proc = Gio.Subprocess.new(['/usr/bin/python3', '-c', code, name],
            Gio.SubprocessFlags.STDOUT_PIPE | Gio.SubprocessFlags.STDIN_PIPE);
        const out = new Gio.DataInputStream({base_stream: proc.get_stdout_pipe()});
        const [line] = await out.read_line_async(GLib.PRIORITY_DEFAULT, null);
        assert(line === 'locked', `peer said ${line}`);
        assert(rw.get_writer_pid() === Number(proc.get_identifier()), 'peer writes');
        await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT,
            rw.read_lock_async(50000, null), 'timed out');
        const pending = rw.read_lock_async(-1, null);
        proc.get_stdin_pipe().write_all('\n', null);
        assert(await pending, 'read after the writer');
        assert(rw.get_n_readers() === 1, 'one reader');
        rw.read_unlock();
        assert(await proc.wait_async(null), 'peer exited');
        assert(proc.get_exit_status() === 0, 'peer status');
    } finally {
        Ps.unlink(name);
    }
});

runAsyncTests(tests, SCALE);
