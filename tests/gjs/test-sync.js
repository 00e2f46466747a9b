// SPDX-License-Identifier: LGPL-2.1-or-later
//
// PsMutex, PsSemaphore and PsCond from GJS, across processes. GJS cannot
// fork, so the other process is tests/python/peer_sync.py, spawned with
// Gio.Subprocess (see that file for its commands): a Python process and
// this one share the same named objects through the same typelib.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';
import System from 'system';

Gio._promisify(Ps.Semaphore.prototype, 'acquire_async', 'acquire_finish');
Gio._promisify(Gio.Subprocess.prototype, 'wait_async', 'wait_finish');
Gio._promisify(Gio.DataInputStream.prototype, 'read_line_async', 'read_line_finish_utf8');

const SCALE = Number(GLib.getenv('PS_TEST_TIME_SCALE') ?? '1') || 1;
const LONG_MS = Math.round(20000 * SCALE);
const LONG_US = LONG_MS * 1000;
const WATCHDOG_MS = Math.round(150000 * SCALE);
const SRCDIR = GLib.getenv('G_TEST_SRCDIR') ??
    GLib.build_filenamev([GLib.path_get_dirname(GLib.filename_from_uri(import.meta.url)[0]), '..']);
const PEER = GLib.build_filenamev([SRCDIR, 'python', 'peer_sync.py']);
const MY_PID = new Gio.Credentials().get_unix_pid();
const CREATE_EXCL = Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE;

// ------------------------------------------------------------ TAP harness

const tests = [];
let cleanups = [];

function test(name, fn) {
    tests.push({name, fn});
}

function defer(fn) {
    cleanups.push(fn);
}

function assert(condition, message) {
    if (!condition)
        throw new Error(`assertion failed: ${message}`);
}

function assertEqual(actual, expected, message = '') {
    if (actual !== expected)
        throw new Error(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

function describe(e) {
    return e instanceof GLib.Error ? `GLib.Error ${e.domain}:${e.code} ${e.message}` : String(e);
}

function checkError(e, domain, code, what) {
    if (!(e instanceof GLib.Error) || !e.matches(domain, code))
        throw new Error(`${what}: expected error code ${code}, got ${describe(e)}`);
}

function assertThrows(domain, code, fn, what = fn.toString()) {
    try {
        fn();
    } catch (e) {
        checkError(e, domain, code, what);
        return;
    }
    throw new Error(`${what}: did not throw`);
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

// ----------------------------------------------------------------- helpers

let nameCounter = 0;

function uniqueName(kind) {
    const name = `/ps-test-gjs-${kind}-${MY_PID}-${nameCounter++}`;
    defer(() => {
        try {
            Ps.unlink(name);
        } catch (e) {
            if (!e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND))
                throw e;
        }
    });
    return name;
}

// Runs @fn(cancellable) with a cancellable that fires after @ms.
async function withTimeout(ms, fn) {
    const cancellable = new Gio.Cancellable();
    const id = GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
        cancellable.cancel();
        return GLib.SOURCE_REMOVE;
    });
    try {
        return await fn(cancellable);
    } finally {
        if (!cancellable.is_cancelled())
            GLib.source_remove(id);
    }
}

class Peer {
    constructor(...args) {
        this.proc = Gio.Subprocess.new(['/usr/bin/python3', PEER, ...args.map(String)],
            Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE);
        this.pid = Number(this.proc.get_identifier());
        this.out = new Gio.DataInputStream({base_stream: this.proc.get_stdout_pipe()});
        defer(() => this.kill());
    }

    async readline() {
        const [line] = await withTimeout(LONG_MS,
            c => this.out.read_line_async(GLib.PRIORITY_DEFAULT, c));
        if (line === null)
            throw new Error(`peer ${this.pid} closed its output`);
        return line;
    }

    send(line) {
        this.proc.get_stdin_pipe().write_all(new TextEncoder().encode(`${line}\n`), null);
    }

    // The exit status, or -N if killed by signal N.
    async wait() {
        await withTimeout(LONG_MS, c => this.proc.wait_async(c));
        if (this.proc.get_if_signaled())
            return -this.proc.get_term_sig();
        return this.proc.get_exit_status();
    }

    kill() {
        if (this.proc.get_identifier() !== null)
            this.proc.force_exit();
    }
}

// ------------------------------------------------------------------- tests

test('named mutex held by a peer: lock is woken by its unlock', async () => {
    const name = uniqueName('mtx');
    const mutex = Ps.Mutex.open(name, CREATE_EXCL);
    assertEqual(mutex.get_name(), name, 'name');
    const peer = new Peer('mutex-hold', name, 100);
    assertEqual(await peer.readline(), `locked ${peer.pid}`, 'peer locked');
    assertEqual(mutex.get_owner_pid(), peer.pid, 'owner is the peer');
    assertEqual(mutex.try_lock(), false, 'try_lock while the peer holds it');
    assertThrows(Ps.Error, Ps.Error.NOT_OWNER, () => mutex.unlock());
    peer.send('unlock');
    assertEqual(mutex.lock(LONG_US, null), true, 'lock woken');
    assertEqual(mutex.get_owner_pid(), MY_PID, 'owner is us');
    assertEqual(await peer.readline(), 'unlocked', 'peer unlocked');
    assertEqual(await peer.wait(), 0, 'peer exit status');
    assertEqual(mutex.unlock(), true, 'unlock');
    assertEqual(mutex.get_owner_pid(), 0, 'unlocked');
});

test('mutex: NOT_OWNER and WOULD_DEADLOCK', async () => {
    const mutex = Ps.Mutex.new();
    assertThrows(Ps.Error, Ps.Error.NOT_OWNER, () => mutex.unlock());
    assertEqual(mutex.lock(Ps.TIMEOUT_INFINITE, null), true, 'lock');
    assertThrows(Ps.Error, Ps.Error.WOULD_DEADLOCK, () => mutex.lock(Ps.TIMEOUT_INFINITE, null));
    assertThrows(Ps.Error, Ps.Error.WOULD_DEADLOCK, () => mutex.lock(0, null));
    assertThrows(Ps.Error, Ps.Error.WOULD_DEADLOCK, () => mutex.try_lock());
    assertEqual(mutex.unlock(), true, 'one unlock releases it');
    assertThrows(Ps.Error, Ps.Error.NOT_OWNER, () => mutex.unlock());

    // Held by us, unlocked by another process.
    const name = uniqueName('mtx');
    const named = Ps.Mutex.open(name, CREATE_EXCL);
    assertEqual(named.lock(0, null), true, 'lock named');
    const peer = new Peer('mutex-foreign', name);
    assertEqual(await peer.readline(), 'NOT_OWNER', 'peer got NOT_OWNER');
    assertEqual(await peer.wait(), 0, 'peer exit status');
    assertEqual(named.get_owner_pid(), MY_PID, 'still ours');
    assertEqual(named.unlock(), true, 'unlock named');
});

test('mutex: timeouts and cancellation while a peer holds it', async () => {
    const name = uniqueName('mtx');
    const mutex = Ps.Mutex.open(name, CREATE_EXCL);
    const peer = new Peer('mutex-hold', name);
    assertEqual(await peer.readline(), `locked ${peer.pid}`, 'peer locked');
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.WOULD_BLOCK, () => mutex.lock(0, null));
    const start = GLib.get_monotonic_time();
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT, () => mutex.lock(50000, null));
    assert(GLib.get_monotonic_time() - start >= 50000, 'timed out no earlier than 50 ms');
    const cancellable = new Gio.Cancellable();
    cancellable.cancel();
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, () => mutex.lock(-1, cancellable));
    peer.send('unlock');
    assertEqual(await peer.readline(), 'unlocked', 'peer unlocked');
    assertEqual(await peer.wait(), 0, 'peer exit status');
});

test('owner death: a peer killed with SIGKILL gives OWNER_DEAD, then recovery', async () => {
    const name = uniqueName('mtx');
    const mutex = Ps.Mutex.open(name, CREATE_EXCL);
    const peer = new Peer('mutex-hold', name);
    assertEqual(await peer.readline(), `locked ${peer.pid}`, 'peer locked');
    peer.proc.force_exit();
    assertEqual(await peer.wait(), -9, 'peer killed by SIGKILL');
    assertThrows(Ps.Error, Ps.Error.OWNER_DEAD, () => mutex.lock(LONG_US, null));
    assertEqual(mutex.get_owner_pid(), MY_PID, 'held after OWNER_DEAD');
    assertThrows(Ps.Error, Ps.Error.WOULD_DEADLOCK, () => mutex.lock(0, null));
    assertEqual(mutex.mark_consistent(), true, 'mark_consistent');
    assertEqual(mutex.unlock(), true, 'unlock');
    // Exactly once: it works normally again, for us and for a peer.
    assertEqual(mutex.lock(0, null), true, 'relock');
    assertEqual(mutex.unlock(), true, 'unlock again');
    const locker = new Peer('mutex-lock', name);
    assertEqual(await locker.readline(), 'OK', 'peer locks normally');
    assertEqual(await locker.wait(), 0, 'peer exit status');
});

test('owner death: unlocking without mark_consistent gives NOT_RECOVERABLE', async () => {
    const name = uniqueName('mtx');
    const mutex = Ps.Mutex.open(name, CREATE_EXCL);
    const peer = new Peer('mutex-hold', name);
    assertEqual(await peer.readline(), `locked ${peer.pid}`, 'peer locked');
    peer.proc.force_exit();
    assertEqual(await peer.wait(), -9, 'peer killed by SIGKILL');
    assertThrows(Ps.Error, Ps.Error.OWNER_DEAD, () => mutex.try_lock());
    assertEqual(mutex.unlock(), true, 'unlock without repair');
    assertThrows(Ps.Error, Ps.Error.NOT_RECOVERABLE, () => mutex.lock(LONG_US, null));
    assertThrows(Ps.Error, Ps.Error.NOT_RECOVERABLE, () => mutex.try_lock());
    const locker = new Peer('mutex-lock', name);
    assertEqual(await locker.readline(), 'NOT_RECOVERABLE', 'peer sees NOT_RECOVERABLE');
    assertEqual(await locker.wait(), 0, 'peer exit status');
});

test('semaphore released by a peer wakes await acquire_async; the loop keeps running', async () => {
    const name = uniqueName('sem');
    const sem = Ps.Semaphore.open(name, CREATE_EXCL, 0);
    assertEqual(sem.get_max_value(), 2 ** 31 - 1, 'unbounded');
    let ticks = 0;
    let peer = null;
    const tickId = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 10, () => {
        ticks++;
        if (ticks === 5)    // only now can anyone release
            peer = new Peer('sem-release', name, 1);
        return GLib.SOURCE_CONTINUE;
    });
    defer(() => GLib.source_remove(tickId));
    const result = await sem.acquire_async(LONG_US, null);
    assertEqual(result, true, 'acquired');
    assert(ticks >= 5, `the timeout source kept firing while waiting (${ticks} ticks)`);
    assertEqual(await peer.readline(), 'value 0', 'peer saw the count');
    assertEqual(await peer.readline(), 'released', 'peer released');
    assertEqual(await peer.wait(), 0, 'peer exit status');
    assertEqual(sem.get_value(), 0, 'count');
});

test('acquire_async cancelled with a Gio.Cancellable: CANCELLED, count conserved', async () => {
    const sem = Ps.Semaphore.new(0);
    const cancellable = new Gio.Cancellable();
    let ticks = 0;
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 10, () => {
        ticks++;
        if (ticks < 5)
            return GLib.SOURCE_CONTINUE;
        cancellable.cancel();
        return GLib.SOURCE_REMOVE;
    });
    await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED,
        sem.acquire_async(Ps.TIMEOUT_INFINITE, cancellable), 'acquire_async');
    assertEqual(ticks, 5, 'cancelled from the main loop');
    assertEqual(sem.get_value(), 0, 'nothing taken');
    sem.release();
    assertEqual(sem.get_value(), 1, 'a release is seen');
    assertEqual(sem.try_acquire(), true, 'and can be taken');
});

test('acquire_async: TIMED_OUT never early, WOULD_BLOCK for 0', async () => {
    const sem = Ps.Semaphore.new_bounded(0, 1);
    const start = GLib.get_monotonic_time();
    await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT,
        sem.acquire_async(100000, null), 'acquire_async(100 ms)');
    const elapsed = GLib.get_monotonic_time() - start;
    assert(elapsed >= 100000, `timed out after ${elapsed} us, before its deadline`);
    await assertRejects(Gio.IOErrorEnum, Gio.IOErrorEnum.WOULD_BLOCK,
        sem.acquire_async(0, null), 'acquire_async(0)');
    assertEqual(sem.release(), true, 'release');
    assertThrows(Ps.Error, Ps.Error.OVERFLOW, () => sem.release());
    assertEqual(sem.get_value(), 1, 'overflow left the count unchanged');
    assertEqual(await sem.acquire_async(0, null), true, 'acquire_async(0) with a unit');
});

test('condition handshake with a peer', async () => {
    const prefix = uniqueName('cond');
    for (const suffix of ['.mutex', '.cond', '.shm']) {
        defer(() => {
            try {
                Ps.unlink(prefix + suffix);
            } catch (e) {
                if (!e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND))
                    throw e;
            }
        });
    }
    const mutex = Ps.Mutex.open(`${prefix}.mutex`, CREATE_EXCL);
    const cond = Ps.Cond.open(`${prefix}.cond`, CREATE_EXCL);
    const memory = Ps.SharedMemory.open(`${prefix}.shm`, CREATE_EXCL, 64);
    assertThrows(Ps.Error, Ps.Error.NOT_OWNER, () => cond.wait(mutex, 1000, null));
    const rounds = 100;
    const peer = new Peer('cond-handshake', prefix, rounds);
    assertEqual(await peer.readline(), 'ready', 'peer ready');
    // Our side (even turns), in a predicate loop with one deadline: a lost
    // wake-up ends in TIMED_OUT, never a hang.
    const endTime = GLib.get_monotonic_time() + LONG_US;
    for (let i = 0; i < rounds; i++) {
        mutex.lock(LONG_US, null);
        try {
            while (memory.get_int32(0) !== 2 * i)
                cond.wait_until(mutex, endTime, null);
            memory.set_int32(0, 2 * i + 1);
            cond.signal();
        } finally {
            mutex.unlock();
        }
    }
    assertEqual(await peer.readline(), 'done', 'peer done');
    assertEqual(await peer.wait(), 0, 'peer exit status');
    assertEqual(memory.get_int32(0), 2 * rounds, 'turns taken');
    // Held again after a timeout.
    mutex.lock(0, null);
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT, () => cond.wait(mutex, 20000, null));
    assertEqual(mutex.get_owner_pid(), MY_PID, 'held after the timeout');
    assertEqual(mutex.unlock(), true, 'unlock');
});

test('wrong type, missing name, exclusive create of an existing name', async () => {
    const name = uniqueName('mtx');
    Ps.Mutex.open(name, CREATE_EXCL);
    assertThrows(Ps.Error, Ps.Error.WRONG_TYPE, () => Ps.Semaphore.open(name, Ps.OpenFlags.NONE, 0));
    assertThrows(Ps.Error, Ps.Error.WRONG_TYPE, () => Ps.Cond.open(name, Ps.OpenFlags.CREATE));
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.EXISTS, () => Ps.Mutex.open(name, CREATE_EXCL));
    const missing = uniqueName('missing');
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND, () => Ps.Mutex.open(missing, Ps.OpenFlags.NONE));
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND,
        () => Ps.Semaphore.open(missing, Ps.OpenFlags.NONE, 0));
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND, () => Ps.Cond.open(missing, Ps.OpenFlags.NONE));
    const memory = Ps.SharedMemory.new(4096);
    const placed = Ps.Semaphore.new_at(memory, 0, 1);
    assertEqual(placed.get_value(), 1, 'placed semaphore');
    assertThrows(Ps.Error, Ps.Error.WRONG_TYPE, () => Ps.Mutex.attach(memory, 0));
});

test('bad names give INVALID_ARGUMENT', async () => {
    const bad = ['', 'no-slash', '/a/b', '/bad name', '/.', '/..', `/${'a'.repeat(201)}`];
    for (const name of bad) {
        const what = JSON.stringify(name);
        assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT,
            () => Ps.Mutex.open(name, Ps.OpenFlags.CREATE), `Mutex.open(${what})`);
        assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT,
            () => Ps.Semaphore.open(name, Ps.OpenFlags.CREATE, 0), `Semaphore.open(${what})`);
        assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT,
            () => Ps.Cond.open(name, Ps.OpenFlags.CREATE), `Cond.open(${what})`);
    }
});

test('new Ps.X({...}) gives a working anonymous object; init is idempotent', async () => {
    const semaphore = new Ps.Semaphore({initial_value: 3});
    assertEqual(semaphore.get_value(), 3, 'initial_value through properties');
    assert(semaphore.get_created(), 'created');
    assert(semaphore.init(null), 'a second init gives the first result');
    assertEqual(semaphore.get_value(), 3, 'init did not make it again');
    const mutex = new Ps.Mutex();
    assert(mutex.try_lock(), 'a plain new Ps.Mutex() locks');
    mutex.unlock();
    const memory = new Ps.SharedMemory({size: 64});
    assertEqual(memory.get_size(), 64, 'size');
    memory.set_int32(60, 7);
    assertEqual(memory.get_int32(60), 7, 'a working segment');
    // A construction that cannot succeed raises at first use.
    const bad = new Ps.Mutex({name: 'no slash'});
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT, () => bad.lock(0, null));
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT, () => bad.init(null));
});

test('open_at: created once, EXISTS over a live object, NOT_FOUND when nobody creates', async () => {
    const memory = Ps.SharedMemory.new(2 * Ps.MUTEX_SIZE);
    const first = Ps.Mutex.open_at(memory, 0, Ps.OpenFlags.CREATE);
    const second = Ps.Mutex.open_at(memory, 0, Ps.OpenFlags.CREATE);
    assert(first.get_created() && !second.get_created(), 'one creator');
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.EXISTS, () => Ps.Mutex.new_at(memory, 0));
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.EXISTS, () => Ps.Semaphore.new_at(memory, 0, 1));
    assertThrows(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND,
        () => Ps.Cond.open_at(memory, Ps.MUTEX_SIZE, Ps.OpenFlags.NONE));
});

// --------------------------------------------------------------------- run

const loop = new GLib.MainLoop(null, false);
let failures = 0;

async function runAll() {
    print(`1..${tests.length}`);
    for (const [index, {name, fn}] of tests.entries()) {
        cleanups = [];
        let error = null;
        try {
            await fn();
        } catch (e) {
            error = e;
        }
        for (const cleanup of cleanups.reverse()) {
            try {
                cleanup();
            } catch (e) {
                error ??= e;
            }
        }
        if (error === null) {
            print(`ok ${index + 1} - ${name}`);
        } else {
            failures++;
            print(`not ok ${index + 1} - ${name}`);
            for (const line of `${describe(error)}\n${error.stack ?? ''}`.split('\n'))
                print(`# ${line}`);
        }
    }
}

GLib.timeout_add(GLib.PRIORITY_DEFAULT, WATCHDOG_MS, () => {
    print('Bail out! watchdog: the suite did not finish in time');
    System.exit(1);
    return GLib.SOURCE_REMOVE;
});
GLib.idle_add(GLib.PRIORITY_DEFAULT, () => {
    runAll().catch(e => {
        failures++;
        print(`Bail out! ${describe(e)}`);
    }).finally(() => loop.quit());
    return GLib.SOURCE_REMOVE;
});
loop.run();
System.exit(failures > 0 ? 1 : 0);
