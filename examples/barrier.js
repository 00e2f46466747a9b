// SPDX-License-Identifier: LGPL-2.1-or-later
//
// barrier.js: two processes go through three phases together at a named
// Ps.Barrier, awaited without blocking the main loop. GJS cannot fork(),
// so the other party is this script again (`barrier.js --child NAME`).
//
//     gjs -m barrier.js

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';
import System from 'system';

Gio._promisify(Ps.Barrier.prototype, 'wait_async', 'wait_finish');

const N_PHASES = 3;
const TIMEOUT_US = 10 * 1000000;            // a late party breaks the barrier

async function phases(barrier, who) {
    for (let phase = 0; phase < N_PHASES; phase++) {
        // Throws Ps.Error.BROKEN if the other party timed out or died.
        const index = await barrier.wait_async(TIMEOUT_US, null);
        print(`${who}: phase ${phase} done, arrived ${index === 0 ? 'first' : 'last'}`);
    }
}

const child = ARGV[0] === '--child';
const name = child ? ARGV[1] : `/barrier-js-${new Gio.Credentials().get_unix_pid()}`;
const barrier = Ps.Barrier.open(name, child ? Ps.OpenFlags.NONE : Ps.OpenFlags.CREATE, 2);
const loop = new GLib.MainLoop(null, false);
let status = 1;
if (!child) {
    Gio.Subprocess.new([GLib.find_program_in_path('gjs'), '-m', System.programPath,
        '--child', name], Gio.SubprocessFlags.NONE);
}
phases(barrier, child ? 'child' : 'parent').then(() => {
    status = 0;
}).catch(e => printerr(`barrier: ${e.message}`)).finally(() => loop.quit());
loop.run();
if (!child)
    Ps.unlink(name);
System.exit(status);
