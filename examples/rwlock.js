// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rwlock.js: a read share and the write lock taken with await, without
// blocking the main loop (GJS cannot fork: the readers and the writer
// take turns in this one thread, and a timer shows the loop keeps going).
//
//     gjs -m rwlock.js

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';
import System from 'system';

Gio._promisify(Ps.RWLock.prototype, 'read_lock_async', 'read_lock_finish');
Gio._promisify(Ps.RWLock.prototype, 'write_lock_async', 'write_lock_finish');

const A = Ps.RW_LOCK_SIZE;   // two int64 after the lock
const B = A + 8;
const loop = new GLib.MainLoop(null, false);
let ticks = 0;
GLib.timeout_add(GLib.PRIORITY_DEFAULT, 1, () => {
    ticks++;
    return GLib.SOURCE_CONTINUE;
});

async function main() {
    const memory = Ps.SharedMemory.new(B + 8);
    const rw = Ps.RWLock.new_at(memory, 0);
    for (let i = 0; i < 100; i++) {
        await rw.write_lock_async(10000000, null);   // 10 s: a bug fails, never hangs
        memory.set_int64(A, i);
        memory.set_int64(B, i);
        rw.write_unlock();
        await rw.read_lock_async(10000000, null);
        if (memory.get_int64(A) !== memory.get_int64(B))
            throw new Error('torn pair');
        rw.read_unlock();
    }
    print(`100 rounds; the main loop ran meanwhile (${ticks > 0 ? 'yes' : 'no'})`);
}

let status = 1;
GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 30, () => {
    loop.quit();
    return GLib.SOURCE_REMOVE;
});
main().then(() => {
    status = 0;
}).catch(e => printerr(`rwlock: ${e}`)).finally(() => loop.quit());
loop.run();
System.exit(status);
