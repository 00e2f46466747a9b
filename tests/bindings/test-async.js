// SPDX-License-Identifier: LGPL-2.1-or-later
//
// PsSemaphore.acquire_async from GJS: awaited as a promise (Gio._promisify),
// cancelled through a GCancellable, timed out, and, above all, awaited
// while the main loop keeps running and another process (sem_peer.py)
// releases the unit. Prints TAP.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';
import System from 'system';

// After this, acquire_async() without a callback returns a promise.
Gio._promisify(Ps.Semaphore.prototype, 'acquire_async', 'acquire_finish');
Gio._promisify(Ps.Mutex.prototype, 'lock_async', 'lock_finish');
Gio._promisify(Ps.Cond.prototype, 'wait_async', 'wait_finish');
Gio._promisify(Gio.Subprocess.prototype, 'wait_check_async', 'wait_check_finish');
Gio._promisify(Gio.DataInputStream.prototype, 'read_line_async', 'read_line_finish_utf8');

const SCALE = Number(GLib.getenv('PS_TEST_TIME_SCALE') ?? '1') || 1;
const LONG_MS = Math.round(30000 * SCALE);
const LONG_US = LONG_MS * 1000;
const HERE = GLib.path_get_dirname(GLib.filename_from_uri(import.meta.url)[0]);
const PEER = GLib.build_filenamev([HERE, 'sem_peer.py']);
const PID = new Gio.Credentials().get_unix_pid();
let nameCounter = 0;

// ------------------------------------------------------------ TAP harness

const tests = [];
const test = (name, fn) => tests.push({name, fn});

function assert(condition, message) {
    if (!condition)
        throw new Error(`assertion failed: ${message}`);
}

function assertEqual(actual, expected, message) {
    if (actual !== expected)
        throw new Error(`${message}: expected ${expected}, got ${actual}`);
}

async function assertRejects(domain, code, promise, message) {
    try {
        await promise;
    } catch (e) {
        if (e instanceof GLib.Error && e.matches(domain, code))
            return e;
        throw new Error(`${message}: expected error ${code}, got ${e}`);
    }
    throw new Error(`${message}: resolved, expected error ${code}`);
}

const sleep = ms => new Promise(resolve => GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
    resolve();
    return GLib.SOURCE_REMOVE;
}));

async function readLine(stream) {
    const [line] = await stream.read_line_async(GLib.PRIORITY_DEFAULT, null);
    return line;
}

function uniqueName(tag) {
    return `/ps-bind-js-${tag}-${PID}-${nameCounter++}`;
}

function unlinkQuietly(name) {
    try {
        Ps.unlink(name);
    } catch (e) {
        if (!e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND))
            throw e;
    }
}

// ------------------------------------------------------------ the tests

test('await takes an available unit', async () => {
    const sem = Ps.Semaphore.new(1);
    assertEqual(await sem.acquire_async(0, null), true, 'result');
    assertEqual(sem.get_value(), 0, 'value after');
});

test('main loop stays responsive while awaiting a release by another process', async () => {
    const name = uniqueName('sem');
    const sem = Ps.Semaphore.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 0);
    const peer = Gio.Subprocess.new(['/usr/bin/python3', PEER, name],
        Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE);
    const output = new Gio.DataInputStream({base_stream: peer.get_stdout_pipe()});
    let tickSource = 0;
    try {
        assertEqual(await readLine(output), 'ready', 'peer said');

        let resolved = false;
        let ticks = 0;
        let ticksAfterResolve = 0;
        let sentGo = false;
        const acquired = sem.acquire_async(LONG_US, null).then(result => {
            resolved = true;
            return result;
        });
        // A timeout source that must keep firing during the await. Only
        // after it fired 5 times is the peer told to release: the await
        // cannot have ended before, and the ticks prove the loop ran.
        tickSource = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 10, () => {
            ticks++;
            if (resolved)
                ticksAfterResolve++;
            if (ticks === 5) {
                assert(!resolved, 'resolved before the peer released');
                peer.get_stdin_pipe().write_all('go\n', null);
                sentGo = true;
            }
            return GLib.SOURCE_CONTINUE;
        });

        assertEqual(await acquired, true, 'acquire result');
        assert(sentGo && ticks >= 5, `resolved after ${ticks} ticks`);
        assertEqual(await readLine(output), 'released', 'peer said');
        assertEqual(sem.get_value(), 0, 'value after');
        await peer.wait_check_async(null);
        // And the loop still runs after the await.
        for (let i = 0; i < 1000 && ticksAfterResolve < 2; i++)
            await sleep(10);
        assert(ticksAfterResolve >= 2, 'ticks after the await');
    } finally {
        if (tickSource)
            GLib.source_remove(tickSource);
        peer.force_exit();
        unlinkQuietly(name);
    }
});

test('cancelling rejects with CANCELLED and loses no unit', async () => {
    const sem = Ps.Semaphore.new(0);
    const cancellable = new Gio.Cancellable();
    const pending = sem.acquire_async(LONG_US, cancellable);
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 20, () => {
        cancellable.cancel();
        return GLib.SOURCE_REMOVE;
    });
    const start = GLib.get_monotonic_time();
    await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, pending, 'cancelled wait');
    // Woken by the cancellation, far before the timeout.
    assert(GLib.get_monotonic_time() - start < LONG_US, 'woken by the cancellation');
    assertEqual(sem.get_value(), 0, 'value after cancel');
    sem.release();
    assertEqual(await sem.acquire_async(0, null), true, 'the next unit');
});

test('an already cancelled GCancellable rejects at once', async () => {
    const sem = Ps.Semaphore.new(1);
    const cancellable = new Gio.Cancellable();
    cancellable.cancel();
    await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED,
        sem.acquire_async(LONG_US, cancellable), 'pre-cancelled');
    assertEqual(sem.get_value(), 1, 'value after');
});

test('a timeout rejects with TIMED_OUT, not before it', async () => {
    const sem = Ps.Semaphore.new(0);
    const start = GLib.get_monotonic_time();
    await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT,
        sem.acquire_async(50000, null), 'timed wait');
    assert(GLib.get_monotonic_time() - start >= 50000, 'never before the deadline');
    await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.WOULD_BLOCK,
        sem.acquire_async(0, null), 'try once');
    assertEqual(sem.get_value(), 0, 'value after');
});

test('concurrent awaits each get one unit from another process', async () => {
    const name = uniqueName('sem5');
    const sem = Ps.Semaphore.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 0);
    const peer = Gio.Subprocess.new(['/usr/bin/python3', PEER, name, '5'],
        Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE);
    try {
        const waits = [];
        for (let i = 0; i < 5; i++)
            waits.push(sem.acquire_async(LONG_US, null));
        peer.get_stdin_pipe().write_all('go\n', null);
        const results = await Promise.all(waits);
        assertEqual(results.filter(r => r === true).length, 5, 'resolved waits');
        assertEqual(sem.get_value(), 0, 'value after');
        await peer.wait_check_async(null);
    } finally {
        peer.force_exit();
        unlinkQuietly(name);
    }
});

test('errors match Ps.Error and Gio.IOErrorEnum by domain and code', async () => {
    const name = uniqueName('wrong');
    Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 64);
    try {
        let caught = null;
        try {
            Ps.Semaphore.open(name, Ps.OpenFlags.NONE, 0);
        } catch (e) {
            caught = e;
        }
        assert(caught instanceof GLib.Error, 'a GLib.Error');
        assert(caught.matches(Ps.Error, Ps.Error.WRONG_TYPE), `WRONG_TYPE, got ${caught}`);
        assert(caught.matches(Ps.error_quark(), Ps.Error.WRONG_TYPE), 'through the quark');
        assert(!caught.matches(Gio.IOErrorEnum, Ps.Error.WRONG_TYPE), 'not an IO error');
        const bounded = Ps.Semaphore.new_bounded(1, 1);
        let overflow = null;
        try {
            bounded.release();
        } catch (e) {
            overflow = e;
        }
        assert(overflow?.matches(Ps.Error, Ps.Error.OVERFLOW), `OVERFLOW, got ${overflow}`);
    } finally {
        unlinkQuietly(name);
    }
});

// AbortController-style cancellation over a Gio.Cancellable (GJS has no
// AbortController): abort() cancels every wait given its signal.
class PsAbortController {
    constructor() {
        this.signal = new Gio.Cancellable();
    }

    abort() {
        this.signal.cancel();
    }

    static timeout(ms) {
        const controller = new PsAbortController();
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
            controller.abort();
            return GLib.SOURCE_REMOVE;
        });
        return controller.signal;
    }
}

// A peer that holds the named mutex NAME until told to let go.
const HOLDER = `
import os, sys, signal
import gi
gi.require_version('Ps', '1')
from gi.repository import Ps
signal.alarm(120)
m = Ps.Mutex.open(sys.argv[1], Ps.OpenFlags.NONE)
m.lock(-1, None)
print('locked', flush=True)
sys.stdin.readline()
m.unlock()
print('unlocked', flush=True)
`;

test('lock_async awaits a mutex another process holds', async () => {
    const name = uniqueName('mutex');
    const mutex = Ps.Mutex.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE);
    const peer = Gio.Subprocess.new(['/usr/bin/python3', '-c', HOLDER, name],
        Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE);
    const output = new Gio.DataInputStream({base_stream: peer.get_stdout_pipe()});
    try {
        assertEqual(await readLine(output), 'locked', 'peer said');
        await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT,
            mutex.lock_async(30000, null), 'held elsewhere');
        const locked = mutex.lock_async(LONG_US, null);
        peer.get_stdin_pipe().write_all('go\n', null);
        assertEqual(await locked, true, 'lock result');
        // Held by this thread, the one running the loop.
        assertEqual(mutex.get_owner_pid(), PID, 'owner');
        mutex.unlock();
        await peer.wait_check_async(null);
    } finally {
        peer.force_exit();
        unlinkQuietly(name);
    }
});

test('an AbortController-style signal cancels lock_async and acquire_async', async () => {
    const name = uniqueName('abort');
    const mutex = Ps.Mutex.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE);
    const sem = Ps.Semaphore.new(0);
    const peer = Gio.Subprocess.new(['/usr/bin/python3', '-c', HOLDER, name],
        Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE);
    const output = new Gio.DataInputStream({base_stream: peer.get_stdout_pipe()});
    try {
        assertEqual(await readLine(output), 'locked', 'peer said');
        const controller = new PsAbortController();
        const both = [mutex.lock_async(-1, controller.signal),
            sem.acquire_async(-1, controller.signal)];
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, 20, () => {
            controller.abort();
            return GLib.SOURCE_REMOVE;
        });
        for (const wait of both)
            await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, wait, 'aborted');
        await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED,
            mutex.lock_async(-1, PsAbortController.timeout(20)), 'aborted by a timeout');
        peer.get_stdin_pipe().write_all('go\n', null);
        assertEqual(await readLine(output), 'unlocked', 'peer said');
        // The aborted waits took nothing.
        assertEqual(mutex.get_owner_pid(), 0, 'owner after');
        assertEqual(sem.get_value(), 0, 'value after');
        await peer.wait_check_async(null);
    } finally {
        peer.force_exit();
        unlinkQuietly(name);
    }
});

test('wait_async releases the mutex and takes it back', async () => {
    const mutex = Ps.Mutex.new();
    const cond = Ps.Cond.new();
    mutex.lock(-1, null);
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 20, () => {
        assert(mutex.try_lock(), 'released during the wait');
        cond.signal();
        mutex.unlock();
        return GLib.SOURCE_REMOVE;
    });
    assertEqual(await cond.wait_async(mutex, LONG_US, null), true, 'signalled');
    assertEqual(mutex.get_owner_pid(), PID, 'held again');
    await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT,
        cond.wait_async(mutex, 20000, null), 'timed out');
    mutex.unlock();
    await assertRejects(Ps.Error, Ps.Error.NOT_OWNER,
        cond.wait_async(mutex, LONG_US, null), 'not held');
});

// ------------------------------------------------------------ runner

const loop = new GLib.MainLoop(null, false);
let failures = 0;

GLib.timeout_add(GLib.PRIORITY_DEFAULT, 4 * LONG_MS, () => {
    print('Bail out! watchdog: the tests did not finish in time');
    System.exit(1);
});

(async () => {
    print(`1..${tests.length}`);
    for (const [i, {name, fn}] of tests.entries()) {
        try {
            await fn();
            print(`ok ${i + 1} ${name}`);
        } catch (e) {
            failures++;
            print(`not ok ${i + 1} ${name}`);
            for (const line of `${e}\n${e.stack ?? ''}`.split('\n'))
                print(`# ${line}`);
        }
    }
    loop.quit();
})();

loop.run();
System.exit(failures ? 1 : 0);
