// SPDX-License-Identifier: LGPL-2.1-or-later
//
// handshake.js: a request and a reply between two processes through a
// Ps.Mutex, a Ps.Cond and the data they guard, in one named segment.
//
// Each side waits in a predicate loop ("while the flag is not set, wait")
// with Ps.Cond.wait_until() and one deadline: a signal sent before the
// other side waits is not lost, spurious wake-ups are harmless, and a bug
// ends the example with an error instead of a hang. The second process is
// this script again (`handshake.js --child NAME`): GJS cannot fork().
//
// Either side may die holding the mutex. Then the other side's lock(), or
// its wait_until(), throws Ps.Error.OWNER_DEAD *with the mutex held*: it
// repairs the exchange, calls mark_consistent() and goes on (recovering()
// below). An unlock() without mark_consistent(), say in a `finally`,
// would make the mutex unusable for everyone.
//
//     gjs -m handshake.js           the request and its reply
//     gjs -m handshake.js --crash   the child is killed (SIGKILL) holding
//                                   the mutex, after writing its reply and
//                                   before flagging it; the parent repairs,
//                                   then checks that another process can
//                                   still lock and unlock the mutex

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';
import System from 'system';

// The lock, the condition, then five int32s of data.
const COND = Ps.MUTEX_SIZE;
const [REQUEST_READY, REQUEST, REPLY_READY, REPLY, PEER_DIED] =
    [0, 4, 8, 12, 16].map(i => COND + Ps.COND_SIZE + i);
const DEADLINE_US = 5 * 1000000;

// After the other side died holding the mutex: a reply written without
// its flag is not to be trusted, and nobody will answer any more.
function repairExchange(memory) {
    if (!memory.get_int32(REPLY_READY))
        memory.set_int32(REPLY, 0);
    memory.set_int32(PEER_DIED, 1);
}

// Runs fn(), a lock() or a wait on the mutex. On Ps.Error.OWNER_DEAD, which
// leaves the mutex held, repairs the data and marks the mutex consistent;
// any other error is thrown.
function recovering(memory, mutex, fn) {
    try {
        fn();
    } catch (e) {
        if (!(e instanceof GLib.Error) || !e.matches(Ps.Error, Ps.Error.OWNER_DEAD))
            throw e;
        repairExchange(memory);
        mutex.mark_consistent();
    }
}

// The caller holds the mutex, and holds it again on every return; throws
// G_IO_ERROR_TIMED_OUT past the deadline.
function waitForFlag(memory, mutex, cond, flag) {
    const endTime = GLib.get_monotonic_time() + DEADLINE_US;   // computed once
    while (!memory.get_int32(flag) && !memory.get_int32(PEER_DIED))
        recovering(memory, mutex, () => cond.wait_until(mutex, endTime, null));
}

function child(name, crash) {
    const memory = Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0);
    const mutex = Ps.Mutex.attach(memory, 0);
    const cond = Ps.Cond.attach(memory, COND);
    recovering(memory, mutex, () => mutex.lock(DEADLINE_US, null));
    try {
        waitForFlag(memory, mutex, cond, REQUEST_READY);
        if (memory.get_int32(PEER_DIED))
            throw new Error('the parent died');
        memory.set_int32(REPLY, memory.get_int32(REQUEST) * 2);
        cond.signal();
        if (crash) {
            // Killed in the middle of the update, holding the mutex: the
            // reply is written, its flag is not.
            print('child:  killed holding the mutex');
            const pid = new Gio.Credentials().get_unix_pid();
            Gio.Subprocess.new(['kill', '-KILL', `${pid}`], Gio.SubprocessFlags.NONE).wait(null);
        }
        memory.set_int32(REPLY_READY, 1);
        print(`child:  got request ${memory.get_int32(REQUEST)}, replying ${memory.get_int32(REPLY)}`);
    } finally {
        mutex.unlock();   // consistent: recovering() marked it so
    }
}

// Another process locks and unlocks the mutex: after a repair, it must.
function check(name) {
    const memory = Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0);
    const mutex = Ps.Mutex.attach(memory, 0);
    mutex.lock(DEADLINE_US, null);
    mutex.unlock();
}

function spawnSelf(...args) {
    return Gio.Subprocess.new(
        [GLib.find_program_in_path('gjs'), '-m', System.programPath, ...args],
        Gio.SubprocessFlags.NONE);
}

function parent(crash) {
    const name = `/handshake-js-${new Gio.Credentials().get_unix_pid()}`;
    const memory = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE,
        PEER_DIED + 4);
    let proc = null;
    try {
        const mutex = Ps.Mutex.new_at(memory, 0);
        const cond = Ps.Cond.new_at(memory, COND);
        proc = spawnSelf('--child', name, ...crash ? ['--crash'] : []);

        recovering(memory, mutex, () => mutex.lock(DEADLINE_US, null));
        try {
            memory.set_int32(REQUEST, 21);
            memory.set_int32(REQUEST_READY, 1);
            print('parent: sent request 21');
            cond.signal();
            // Releases the mutex while waiting, so that the child can answer.
            waitForFlag(memory, mutex, cond, REPLY_READY);
            if (memory.get_int32(PEER_DIED))
                print('parent: the child died before replying; repaired');
            else
                print(`parent: got reply ${memory.get_int32(REPLY)}`);
        } finally {
            mutex.unlock();
        }
        if (!crash) {
            proc.wait_check(null);
            return memory.get_int32(REPLY) === 42;
        }
        // The child was killed as planned; the mutex must work for all.
        proc.wait(null);
        if (!proc.get_if_signaled() || proc.get_term_sig() !== 9 || !memory.get_int32(PEER_DIED))
            return false;
        spawnSelf('--check', name).wait_check(null);
        print('parent: the mutex works for another process');
        return true;
    } finally {
        proc?.force_exit();
        Ps.unlink(name);
    }
}

if (ARGV[0] === '--child')
    child(ARGV[1], ARGV[2] === '--crash');
else if (ARGV[0] === '--check')
    check(ARGV[1]);
else if (!parent(ARGV[0] === '--crash'))
    System.exit(1);
