// SPDX-License-Identifier: LGPL-2.1-or-later
//
// transfer.js: passing a structured value from one process to another
// through shared memory, as a self-describing GVariant record.
//
// The child (this script again, as `transfer.js --child NAME`) builds an
// object, stores it with write_variant() and releases a Ps.Semaphore
// placed at the start of the segment. The parent awaits that semaphore
// with acquire_async(), so its main loop stays free, then reads the
// record back with read_variant(), which validates it. Python, C or Vala
// could be on either side: see transfer.py.
//
//     gjs -m transfer.js

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';
import System from 'system';

// acquire_async() without a callback now returns a promise.
Gio._promisify(Ps.Semaphore.prototype, 'acquire_async', 'acquire_finish');

const RECORD = Ps.SEMAPHORE_SIZE;          // the record follows the semaphore

if (ARGV[0] === '--child') {
    const memory = Ps.SharedMemory.open(ARGV[1], Ps.OpenFlags.NONE, 0);
    const written = Ps.Semaphore.attach(memory, 0);
    memory.write_variant(RECORD, new GLib.Variant('a{sv}', {
        from: new GLib.Variant('s', `child ${new Gio.Credentials().get_unix_pid()}`),
        primes: new GLib.Variant('ai', [2, 3, 5, 7, 11]),
        ratio: new GLib.Variant('d', 0.5),
    }));
    written.release();
} else {
    const name = `/transfer-js-${new Gio.Credentials().get_unix_pid()}`;
    const memory = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 4096);
    let child = null;
    try {
        const written = Ps.Semaphore.new_at(memory, 0, 0);
        child = Gio.Subprocess.new(
            [GLib.find_program_in_path('gjs'), '-m', System.programPath, '--child', name],
            Gio.SubprocessFlags.NONE);
        // Rejects with G_IO_ERROR_TIMED_OUT if the child never writes.
        await written.acquire_async(10 * 1000000, null);
        const value = memory.read_variant(RECORD);
        print(`parent received ${value.get_type_string()}: ${value.print(true)}`);
        const data = value.recursiveUnpack();  // {from: 'child N', primes: [...], ratio: 0.5}
        child.wait_check(null);
        if (data.primes.join() !== '2,3,5,7,11' || data.ratio !== 0.5)
            System.exit(1);
    } finally {
        child?.force_exit();
        Ps.unlink(name);
    }
}
