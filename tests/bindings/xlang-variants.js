// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The GJS side of the GVariant record exchange (test_cross_language.py).
// A segment holds an int32 record count at offset 0, then records written
// with write_variant(), each at the next multiple of 8 after the previous.
//
//     gjs -m xlang-variants.js read NAME    print "TYPE<TAB>TEXT" per record
//     gjs -m xlang-variants.js write NAME   write the records below

import GLib from 'gi://GLib';
import Ps from 'gi://Ps?version=1';
import System from 'system';

const FIRST_RECORD = 8;
const next = (offset, value) => offset + Math.ceil(Ps.SharedMemory.measure_variant(value) / 8) * 8;

// Built from plain JavaScript values; the Python test rebuilds each one
// and compares them with GLib.Variant.equal().
function records() {
    return [
        new GLib.Variant('s', 'from GJS: ünïcødé ✓'),
        new GLib.Variant('(sid)', ['answer', 42, -0.5]),
        new GLib.Variant('a{sv}', {
            pid: new GLib.Variant('i', 4321),
            name: new GLib.Variant('s', 'watcher'),
            flags: new GLib.Variant('as', ['a', 'b', 'c']),
        }),
        new GLib.Variant('ax', [-(2 ** 52), 0, 2 ** 52]),
        new GLib.Variant('ay', new Uint8Array([0, 1, 254, 255])),
        new GLib.Variant('(bmsmiao)', [true, null, 7, ['/org/example/a', '/b']]),
        new GLib.Variant('v', new GLib.Variant('u', 4294967295)),
        new GLib.Variant('a(yq)', [[1, 65535], [2, 0]]),
    ];
}

const [mode, name] = ARGV;
const memory = Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0);

if (mode === 'write') {
    let offset = FIRST_RECORD;
    const values = records();
    for (const value of values) {
        memory.write_variant(offset, value);
        offset = next(offset, value);
    }
    memory.set_int32(0, values.length);
    print(`wrote ${values.length}`);
} else if (mode === 'read') {
    let offset = FIRST_RECORD;
    const count = memory.get_int32(0);
    for (let i = 0; i < count; i++) {
        let value;
        try {
            value = memory.read_variant(offset);
        } catch (e) {
            // Validated against the segment: a bad record is an error
            // (PS_ERROR_CORRUPT), never garbage. Say which, for the test.
            if (!(e instanceof GLib.Error))
                throw e;
            print(`error ${GLib.quark_to_string(e.domain)} ${e.code}`);
            System.exit(3);
        }
        print(`${value.get_type_string()}\t${value.print(true)}`);
        offset = next(offset, value);
    }
} else {
    throw new Error(`unknown mode ${mode}`);
}
