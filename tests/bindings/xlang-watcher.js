// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The GJS side of the cross-language test (test_cross_language.py): the
// watcher. While xlang-producer (C) and xlang_consumer.py (Python) pass
// COUNT values through PREFIX.shm, it wakes on every broadcast of
// PREFIX.cond and checks, under PREFIX.mutex, that the exchange is never
// seen half-done; once all are consumed it checks the whole log.
//
//     gjs -m xlang-watcher.js PREFIX COUNT

import GLib from 'gi://GLib';
import Ps from 'gi://Ps?version=1';
import System from 'system';

// int64 fields, as in xlang_consumer.py.
const OFFSET_FULL = 0;
const OFFSET_PRODUCED = 16;
const OFFSET_CONSUMED = 24;
const OFFSET_SUM = 32;
const OFFSET_LOG = 64;
const SCALE = Number(GLib.getenv('PS_TEST_TIME_SCALE') ?? '1') || 1;

const valueFor = i => i * i * 1000003 + 7;   // exact: far below 2**53

function fail(message) {
    printerr(`xlang-watcher: ${message}`);
    System.exit(1);
}

const [prefix, countArg] = ARGV;
const count = Number(countArg);
const mutex = Ps.Mutex.open(`${prefix}.mutex`, Ps.OpenFlags.NONE);
const cond = Ps.Cond.open(`${prefix}.cond`, Ps.OpenFlags.NONE);
const memory = Ps.SharedMemory.open(`${prefix}.shm`, Ps.OpenFlags.NONE, 0);

// One deadline for the whole watch: a stuck exchange fails, never hangs.
const endTime = GLib.get_monotonic_time() + Math.round(60e6 * SCALE);
let observations = 0;
let lastConsumed = 0;

mutex.lock(Math.round(60e6 * SCALE), null);
try {
    for (;;) {
        const produced = memory.get_int64(OFFSET_PRODUCED);
        const consumed = memory.get_int64(OFFSET_CONSUMED);
        const full = memory.get_int64(OFFSET_FULL);
        observations++;
        // Invariants that hold whenever nobody is inside the lock.
        if (consumed < lastConsumed)
            fail(`consumed went back from ${lastConsumed} to ${consumed}`);
        if (produced - consumed !== full)
            fail(`produced ${produced}, consumed ${consumed}, but full is ${full}`);
        lastConsumed = consumed;
        if (consumed === count)
            break;
        // Throws G_IO_ERROR_TIMED_OUT past the deadline, holding the mutex.
        cond.wait_until(mutex, endTime, null);
    }

    let sum = 0;
    for (let i = 0; i < count; i++) {
        const value = memory.get_int64(OFFSET_LOG + 8 * i);
        if (value !== valueFor(i))
            fail(`log[${i}] is ${value}, expected ${valueFor(i)}`);
        sum += value;
    }
    if (memory.get_int64(OFFSET_SUM) !== sum)
        fail(`sum is ${memory.get_int64(OFFSET_SUM)}, expected ${sum}`);
    print(`watched ${count} sum ${sum} observations ${observations}`);
} finally {
    mutex.unlock();
}
