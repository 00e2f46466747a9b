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
//     gjs -m handshake.js

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';
import System from 'system';

// The lock, the condition, then four int32s of data.
const COND = Ps.MUTEX_SIZE;
const [REQUEST_READY, REQUEST, REPLY_READY, REPLY] = [0, 4, 8, 12].map(i => COND + Ps.COND_SIZE + i);
const DEADLINE_US = 5 * 1000000;

// The caller holds the mutex; throws G_IO_ERROR_TIMED_OUT past the deadline.
function waitForFlag(memory, mutex, cond, flag) {
    const endTime = GLib.get_monotonic_time() + DEADLINE_US;   // computed once
    while (!memory.get_int32(flag))
        cond.wait_until(mutex, endTime, null);
}

function child(name) {
    const memory = Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0);
    const mutex = Ps.Mutex.attach(memory, 0);
    const cond = Ps.Cond.attach(memory, COND);
    mutex.lock(DEADLINE_US, null);
    try {
        waitForFlag(memory, mutex, cond, REQUEST_READY);
        memory.set_int32(REPLY, memory.get_int32(REQUEST) * 2);
        memory.set_int32(REPLY_READY, 1);
        print(`child:  got request ${memory.get_int32(REQUEST)}, replying ${memory.get_int32(REPLY)}`);
        cond.signal();
    } finally {
        mutex.unlock();
    }
}

function parent() {
    const name = `/handshake-js-${new Gio.Credentials().get_unix_pid()}`;
    const memory = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE,
        REPLY + 4);
    let proc = null;
    try {
        const mutex = Ps.Mutex.new_at(memory, 0);
        const cond = Ps.Cond.new_at(memory, COND);
        proc = Gio.Subprocess.new(
            [GLib.find_program_in_path('gjs'), '-m', System.programPath, '--child', name],
            Gio.SubprocessFlags.NONE);

        mutex.lock(DEADLINE_US, null);
        try {
            memory.set_int32(REQUEST, 21);
            memory.set_int32(REQUEST_READY, 1);
            print('parent: sent request 21');
            cond.signal();
            // Releases the mutex while waiting, so that the child can answer.
            waitForFlag(memory, mutex, cond, REPLY_READY);
            print(`parent: got reply ${memory.get_int32(REPLY)}`);
        } finally {
            mutex.unlock();
        }
        proc.wait_check(null);
        return memory.get_int32(REPLY) === 42;
    } finally {
        proc?.force_exit();
        Ps.unlink(name);
    }
}

if (ARGV[0] === '--child')
    child(ARGV[1]);
else if (!parent())
    System.exit(1);
