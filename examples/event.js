// SPDX-License-Identifier: LGPL-2.1-or-later
//
// event.js: awaiting a named Ps.Event that another process sets. GJS
// cannot fork(), so the other process is this script again, started with
// Gio.Subprocess as `event.js --child NAME`.
//
//     gjs -m event.js

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';
import System from 'system';

Gio._promisify(Ps.Event.prototype, 'wait_async', 'wait_finish');

const TIMEOUT_US = 10 * 1000000;            // a bug fails, never hangs

if (ARGV[0] === '--child') {
    Ps.Event.open(ARGV[1], Ps.OpenFlags.NONE, false).set();
} else {
    const name = `/event-js-${new Gio.Credentials().get_unix_pid()}`;
    const event = Ps.Event.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, false);
    const loop = new GLib.MainLoop(null, false);
    let status = 1;
    event.wait_async(TIMEOUT_US, null).then(set => {
        print(`set by the other process: ${set}`);
        status = set && event.is_set() ? 0 : 1;
    }).catch(e => printerr(`event: ${e.message}`)).finally(() => loop.quit());
    Gio.Subprocess.new([GLib.find_program_in_path('gjs'), '-m', System.programPath,
        '--child', name], Gio.SubprocessFlags.NONE);
    loop.run();
    Ps.unlink(name);
    System.exit(status);
}
