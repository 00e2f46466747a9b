// SPDX-License-Identifier: LGPL-2.1-or-later
//
// counter.js: two processes increment one counter under a Ps.Mutex.
//
// GJS cannot fork(), so the second process is this script again, started
// with Gio.Subprocess as `counter.js --child NAME`: it knows only the name
// of the segment, which holds the mutex (at offset 0) and the counter.
//
//     gjs -m counter.js

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';
import System from 'system';

const N_INCREMENTS = 20000;
const COUNTER = Ps.MUTEX_SIZE;              // an int64 right after the mutex
const LOCK_TIMEOUT_US = 10 * 1000000;       // a bug fails, never hangs

function increment(memory, mutex) {
    for (let i = 0; i < N_INCREMENTS; i++) {
        mutex.lock(LOCK_TIMEOUT_US, null);  // throws GLib.Error on failure
        try {
            // A non-atomic read-modify-write: the lock makes it safe.
            memory.set_int64(COUNTER, memory.get_int64(COUNTER) + 1);
        } finally {
            mutex.unlock();
        }
    }
}

if (ARGV[0] === '--child') {
    const memory = Ps.SharedMemory.open(ARGV[1], Ps.OpenFlags.NONE, 0);
    increment(memory, Ps.Mutex.attach(memory, 0));
} else {
    const pid = new Gio.Credentials().get_unix_pid();
    const name = `/counter-js-${pid}`;       // unique to this run
    const memory = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE,
        Ps.MUTEX_SIZE + 8);
    let child = null;
    try {
        const mutex = Ps.Mutex.new_at(memory, 0);
        child = Gio.Subprocess.new(
            [GLib.find_program_in_path('gjs'), '-m', System.programPath, '--child', name],
            Gio.SubprocessFlags.NONE);
        increment(memory, mutex);           // at the same time as the child
        child.wait_check(null);             // throws if the child failed
        const total = memory.get_int64(COUNTER);
        print(`total: ${total} (expected ${2 * N_INCREMENTS})`);
        if (total !== 2 * N_INCREMENTS)
            System.exit(1);
    } finally {
        child?.force_exit();                // a no-op once it has exited
        Ps.unlink(name);                    // named objects outlive processes
    }
}
