// SPDX-License-Identifier: LGPL-2.1-or-later
// PsSharedMemory, names and errors through the typelib from GJS, with a
// Python peer in another process. GJS cannot fork(): the fork cases live
// in the C and Python suites.
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import GIRepository from 'gi://GIRepository';
import GObject from 'gi://GObject';
import Ps from 'gi://Ps?version=1';
import System from 'system';

import {assert, assertEqual, assertThrows} from './harness.js';

const TIME_SCALE = Number(GLib.getenv('PS_TEST_TIME_SCALE') ?? '1') || 1;
const HERE = GLib.path_get_dirname(GLib.filename_from_uri(import.meta.url)[0]);
const PEER = GLib.build_filenamev([HERE, '..', 'python', 'peer_shm.py']);
const PYTHON = '/usr/bin/python3';

// Must match peer_shm.py.
const PEER_SIZE = 4096;
const PEER_VARIANT_OFFSET = 512;
const PEER_INT64_OFFSET = 1024;
// Beyond Number's exact range: read back as a BigInt from the raw bytes.
const PEER_INT64_VALUE = -0x123456789abcdefn;
const PEER_REPLY_OFFSET = 2048;

// Tiny harness ---------------------------------------------------------------

function assertBytes(actual, expected, message = '') {
    assertEqual(actual.length, expected.length, `${message} length`);
    for (let i = 0; i < expected.length; i++)
        assertEqual(actual[i], expected[i], `${message} byte ${i}`);
}

const PS_ERROR = Ps.error_quark();
const IO_ERROR = Gio.io_error_quark();
const CREATE_EXCL = Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE;

let counter = 0;
const cleanups = [];

function uniqueName(what) {
    counter++;
    return `/ps-gjstest-${what}-${new Gio.Credentials().get_unix_pid()}-${counter}`;
}

function unlinkLater(name) {
    cleanups.push(() => {
        try {
            Ps.unlink(name);
        } catch (e) {
            // Already removed by the test.
        }
    });
}

function devShmExists(name) {
    return GLib.file_test(`/dev/shm${name}`, GLib.FileTest.EXISTS);
}

function modeOf(name) {
    const info = Gio.File.new_for_path(`/dev/shm${name}`)
        .query_info('unix::mode', Gio.FileQueryInfoFlags.NONE, null);
    return info.get_attribute_uint32('unix::mode') & 0o7777;
}

function parse(text) {
    return GLib.Variant.parse(null, text, null, null);
}

function randomBytes(length, seed) {
    // A small LCG: reproducible, unlike Math.random().
    let state = seed >>> 0;
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        bytes[i] = state >>> 24;
    }
    return bytes;
}

function snapshot(mem) {
    return mem.read(0, mem.get_size()).toArray();
}

// Runs a peer process with a time limit; returns {status, stdout, stderr}.
function runPeer(args) {
    const proc = Gio.Subprocess.new([PYTHON, PEER, ...args.map(String)],
        Gio.SubprocessFlags.STDOUT_PIPE | Gio.SubprocessFlags.STDERR_PIPE);
    const loop = GLib.MainLoop.new(null, false);
    const cancellable = new Gio.Cancellable();
    let timedOut = false;
    let result = null;
    const timer = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 60 * TIME_SCALE, () => {
        timedOut = true;
        proc.force_exit();
        cancellable.cancel();
        return GLib.SOURCE_REMOVE;
    });
    proc.communicate_utf8_async(null, cancellable, (p, res) => {
        try {
            const [, stdout, stderr] = p.communicate_utf8_finish(res);
            result = {stdout, stderr};
        } catch (e) {
            result = {stdout: '', stderr: String(e)};
        }
        loop.quit();
    });
    loop.run();
    if (!timedOut)
        GLib.source_remove(timer);
    assert(!timedOut, `peer ${args.join(' ')} timed out`);
    proc.wait(null);
    result.status = proc.get_if_exited() ? proc.get_exit_status() : -1;
    return result;
}

const VARIANT_TEXTS = [
    'true',
    'byte 0xff',
    'int16 -32768',
    'int32 -2147483648',
    'uint32 4294967295',
    'int64 -9223372036854775808',
    'uint64 18446744073709551615',
    'double -1.25e-300',
    "''",
    "'héllo ✓ UTF-8'",
    "objectpath '/org/example/Object'",
    '@as []',
    "['a', 'bb', 'ccc']",
    '@ay []',
    '@a{sv} {}',
    "{'int': <1>, 'str': <'x'>, 'nested': <{'k': <[1.5, 2.5]>}>}",
    "(1, 'two', 3.0, true, byte 4)",
    '()',
    '@mi nothing',
    '@mi just 4',
    "<<'nested'>>",
    "@a(sv) [('a', <1>), ('b', <@ay []>)]",
];

// Tests ----------------------------------------------------------------------

const tests = [];
function test(name, func) {
    tests.push({name, func});
}

test('error domain and enums are registered', () => {
    assertEqual(GLib.quark_to_string(PS_ERROR), 'ps-error-quark');
    // GJS presents error enums as GError: ask the typelib for the GType,
    // which registers it through ps_error_get_type().
    const info = GIRepository.Repository.get_default().find_by_name('Ps', 'Error');
    assert(info !== null, 'Ps.Error in the typelib');
    assertEqual(GIRepository.enum_info_get_error_domain(info), 'ps-error-quark');
    assertEqual(GIRepository.enum_info_get_n_values(info), 11, 'number of codes');
    const errorType = GIRepository.registered_type_info_get_g_type(info);
    assertEqual(GObject.type_name(errorType), 'PsError');
    assert(GObject.type_is_a(errorType, GObject.TYPE_ENUM), 'PsError is an enum');
    assertEqual(GObject.type_from_name('PsError'), errorType);
    const names = ['FAILED', 'OWNER_DEAD', 'NOT_RECOVERABLE', 'NOT_OWNER', 'WOULD_DEADLOCK',
        'OVERFLOW', 'WRONG_TYPE', 'INCOMPATIBLE', 'CORRUPT', 'OUT_OF_BOUNDS', 'BROKEN'];
    const codes = new Set(names.map(n => Ps.Error[n]));
    assertEqual(codes.size, names.length, 'distinct codes');
    for (const n of names)
        assertEqual(typeof Ps.Error[n], 'number', n);
    const flagsType = GObject.type_from_name('PsOpenFlags');
    assert(flagsType !== null && GObject.type_is_a(flagsType, GObject.TYPE_FLAGS), 'PsOpenFlags');
    assertEqual(Ps.OpenFlags.NONE, 0);
    assertEqual(Ps.OpenFlags.CREATE & Ps.OpenFlags.EXCLUSIVE, 0);
    assertEqual(Ps.OpenFlags.ANY_OWNER, 4);
});

test('anonymous segment is zero-filled with the right properties', () => {
    for (const size of [1, 4096, 100001]) {
        const mem = Ps.SharedMemory.new(size);
        assertEqual(mem.get_size(), size);
        assertEqual(mem.size, size);
        assertEqual(mem.get_name(), null);
        assertEqual(mem.open_flags, Ps.OpenFlags.NONE);
        assertEqual(mem.mode, 0o600);
        assert(mem.get_address() !== 0, 'address');
        const data = snapshot(mem);
        assertEqual(data.length, size);
        assert(data.every(b => b === 0), 'zero-filled');
    }
});

test('read and write bytes', () => {
    const mem = Ps.SharedMemory.new(101);
    mem.write(0, new TextEncoder().encode('hello'));
    mem.write(96, new TextEncoder().encode('world'));
    const all = snapshot(mem);
    assertEqual(new TextDecoder().decode(all.slice(0, 5)), 'hello');
    assertEqual(new TextDecoder().decode(all.slice(96)), 'world');
    assert(all.slice(5, 96).every(b => b === 0), 'untouched middle');
    assertEqual(mem.read(101, 0).get_size(), 0);
});

test('typed get/set round trip, aligned or not', () => {
    const mem = Ps.SharedMemory.new(64);
    for (const off of [0, 1, 3, 7, 13, 56]) {
        for (const v of [0, 1, 0x7f, 0x80, 0xff]) {
            mem.set_uint8(off, v);
            assertEqual(mem.get_uint8(off), v, `uint8 @${off}`);
        }
        for (const v of [0, -1, -(2 ** 31), 2 ** 31 - 1, 0x12345678]) {
            mem.set_int32(off, v);
            assertEqual(mem.get_int32(off), v, `int32 @${off}`);
        }
        for (const v of [0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -0x123456789]) {
            mem.set_int64(off, v);
            assertEqual(mem.get_int64(off), v, `int64 @${off}`);
        }
        for (const v of [0.5, -1e300, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, NaN]) {
            mem.set_double(off, v);
            assertEqual(mem.get_double(off), v, `double @${off}`);
        }
        mem.set_double(off, -0);
        assert(Object.is(mem.get_double(off), -0), 'negative zero');
    }
    // Host byte order (little-endian here), in place.
    mem.set_int32(4, 0x01020304);
    const view = new DataView(mem.read(4, 4).toArray().buffer);
    assertEqual(view.getInt32(0, true), 0x01020304);
});

test('out-of-range offsets and lengths change nothing', () => {
    const size = 101;
    const mem = Ps.SharedMemory.new(size);
    mem.write(0, randomBytes(size, 1));
    const before = snapshot(mem);
    for (const [offset, length] of [[0, size + 1], [1, size], [size, 1], [size + 1, 0], [size - 1, 2]])
        assertThrows(() => mem.read(offset, length), PS_ERROR, Ps.Error.OUT_OF_BOUNDS, `read ${offset}+${length}`);
    for (const offset of [size - 2, size, size + 1, 2 ** 40])
        assertThrows(() => mem.write(offset, new Uint8Array([1, 2, 3])), PS_ERROR, Ps.Error.OUT_OF_BOUNDS, `write @${offset}`);
    for (const [width, getter, setter, value] of [
        [1, 'get_uint8', 'set_uint8', 0xff], [4, 'get_int32', 'set_int32', -1],
        [8, 'get_int64', 'set_int64', -1], [8, 'get_double', 'set_double', -1.5]]) {
        for (const offset of [size - width + 1, size, size + 1, 2 ** 40]) {
            assertThrows(() => mem[getter](offset), PS_ERROR, Ps.Error.OUT_OF_BOUNDS, `${getter} @${offset}`);
            assertThrows(() => mem[setter](offset, value), PS_ERROR, Ps.Error.OUT_OF_BOUNDS, `${setter} @${offset}`);
        }
    }
    const value = parse("('some text', @as [])");
    const measure = Ps.SharedMemory.measure_variant(value);
    for (const offset of [size - measure + 1, size, size + 1])
        assertThrows(() => mem.write_variant(offset, value), PS_ERROR, Ps.Error.OUT_OF_BOUNDS, `write_variant @${offset}`);
    assertThrows(() => mem.read_variant(size + 1), PS_ERROR, Ps.Error.OUT_OF_BOUNDS, 'read_variant');
    assertBytes(snapshot(mem), before, 'segment');
});

test('sizes of 0 or too large are invalid arguments', () => {
    for (const size of [0, 2 ** 62]) {
        const name = uniqueName('size');
        assertThrows(() => Ps.SharedMemory.new(size), IO_ERROR, Gio.IOErrorEnum.INVALID_ARGUMENT, `new ${size}`);
        assertThrows(() => Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE, size), IO_ERROR,
            Gio.IOErrorEnum.INVALID_ARGUMENT, `open ${size}`);
        assert(!devShmExists(name), 'nothing created');
    }
});

test('named segment: create, open, properties and errors', () => {
    const name = uniqueName('named');
    assertThrows(() => Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0), IO_ERROR, Gio.IOErrorEnum.NOT_FOUND);
    assertThrows(() => Ps.SharedMemory.open(name, Ps.OpenFlags.EXCLUSIVE, 64), IO_ERROR,
        Gio.IOErrorEnum.INVALID_ARGUMENT);
    assert(!devShmExists(name), 'nothing created');

    const creator = Ps.SharedMemory.open(name, CREATE_EXCL, 1000);
    unlinkLater(name);
    assertEqual(creator.get_name(), name);
    assertEqual(creator.name, name);
    assertEqual(creator.size, 1000);
    assertEqual(creator.open_flags, CREATE_EXCL);
    assertEqual(modeOf(name), 0o600);
    creator.set_int32(996, -5);

    const opener = Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0);
    assertEqual(opener.get_size(), 1000);
    assertEqual(opener.get_int32(996), -5);
    opener.set_uint8(0, 9);
    assertEqual(creator.get_uint8(0), 9);

    assertThrows(() => Ps.SharedMemory.open(name, CREATE_EXCL, 1000), IO_ERROR, Gio.IOErrorEnum.EXISTS);
    assertThrows(() => Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 1001), IO_ERROR,
        Gio.IOErrorEnum.INVALID_ARGUMENT);

    assert(Ps.unlink(name), 'unlink');
    assert(!devShmExists(name), 'removed');
    assertThrows(() => Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0), IO_ERROR, Gio.IOErrorEnum.NOT_FOUND);
    assertThrows(() => Ps.unlink(name), IO_ERROR, Gio.IOErrorEnum.NOT_FOUND);
    assertEqual(creator.get_int32(996), -5, 'still mapped');
});

test('mode property', () => {
    for (const mode of [0o640, 0o604, 0o400]) {
        const name = uniqueName('mode');
        const mem = new Ps.SharedMemory({name, open_flags: CREATE_EXCL, size: 64, mode});
        assert(mem.init(null), 'init');
        unlinkLater(name);
        assertEqual(mem.mode, mode);
        assertEqual(modeOf(name), mode);
    }
});

test('an opened segment reports its real mode', () => {
    const name = uniqueName('realmode');
    const creator = new Ps.SharedMemory({name, open_flags: CREATE_EXCL, size: 64, mode: 0o640});
    assert(creator.init(null), 'init');
    unlinkLater(name);
    const opener = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.ANY_OWNER, 64);
    assertEqual(opener.get_created(), false);
    assertEqual(opener.get_mode(), 0o640);
    assertEqual(opener.mode, 0o640);
});

test('invalid names', () => {
    const token = `gjsbad${new Gio.Credentials().get_unix_pid()}`;
    const invalid = ['', '/', '/.', '/..', '//', token, `/${token}/x`, `//${token}`,
        `/${token} x`, `/${token}*`, `/${token}é`, `/${token}\n`, `/${token}:x`,
        `/${token}${'a'.repeat(201 - token.length)}`];
    for (const name of invalid) {
        assert(!Ps.name_is_valid(name), `name_is_valid(${JSON.stringify(name)})`);
        for (const flags of [Ps.OpenFlags.NONE, Ps.OpenFlags.CREATE, CREATE_EXCL]) {
            assertThrows(() => Ps.SharedMemory.open(name, flags, 64), IO_ERROR,
                Gio.IOErrorEnum.INVALID_ARGUMENT, JSON.stringify(name));
        }
        assertThrows(() => Ps.unlink(name), IO_ERROR, Gio.IOErrorEnum.INVALID_ARGUMENT, JSON.stringify(name));
    }
    let leaked = [];
    const enumerator = Gio.File.new_for_path('/dev/shm')
        .enumerate_children('standard::name', Gio.FileQueryInfoFlags.NONE, null);
    for (let info = enumerator.next_file(null); info !== null; info = enumerator.next_file(null)) {
        if (info.get_name().includes(token))
            leaked.push(info.get_name());
    }
    assertEqual(leaked.length, 0, `created: ${leaked}`);

    const longest = `/${'z'.repeat(200)}`;
    assert(Ps.name_is_valid(longest), '200 characters');
    assert(Ps.name_is_valid('/my-app_1.lock'), 'ordinary name');
});

test('a named mutex is not shared memory', () => {
    const name = uniqueName('wrong-type');
    const mutex = Ps.Mutex.open(name, Ps.OpenFlags.CREATE);
    unlinkLater(name);
    assert(mutex !== null, 'mutex');
    assertThrows(() => Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0), PS_ERROR, Ps.Error.WRONG_TYPE);
});

test('variant records at several offsets', () => {
    const mem = Ps.SharedMemory.new(4096);
    for (const text of VARIANT_TEXTS) {
        const measure = Ps.SharedMemory.measure_variant(parse(text));
        for (const offset of [0, 1, 8, 13, 4096 - measure]) {
            const value = parse(text);
            mem.write(0, randomBytes(4096, offset + 1));
            const before = snapshot(mem);
            mem.write_variant(offset, value);
            const after = snapshot(mem);
            assertBytes(after.slice(0, offset), before.slice(0, offset), `${text} before`);
            assertBytes(after.slice(offset + measure), before.slice(offset + measure), `${text} after`);
            const got = mem.read_variant(offset);
            assertEqual(got.get_type_string(), value.get_type_string(), text);
            assert(got.equal(value), `${text}: got ${got.print(true)}`);
        }
        // Exactly measure bytes: one less does not fit.
        const exact = Ps.SharedMemory.new(measure);
        exact.write_variant(0, parse(text));
        if (measure > 1) {
            const short = Ps.SharedMemory.new(measure - 1);
            assertThrows(() => short.write_variant(0, parse(text)), PS_ERROR, Ps.Error.OUT_OF_BOUNDS, text);
        }
    }
});

test('read_variant refuses what is not a record', () => {
    const mem = Ps.SharedMemory.new(512);
    for (const offset of [0, 1, 100, 496, 511])
        assertThrows(() => mem.read_variant(offset), PS_ERROR, Ps.Error.CORRUPT, `zeroed @${offset}`);
    for (let i = 0; i < 200; i++) {
        mem.write(0, randomBytes(512, i + 7));
        assertThrows(() => mem.read_variant((i * 37) % 512), PS_ERROR, Ps.Error.CORRUPT, `random ${i}`);
    }
    // A record cut short by the end of the segment.
    const value = parse("('cut', [1, 2, 3])");
    const measure = Ps.SharedMemory.measure_variant(value);
    const whole = Ps.SharedMemory.new(measure);
    whole.write_variant(0, value);
    const record = snapshot(whole);
    for (let cut = 1; cut < measure; cut++) {
        const small = Ps.SharedMemory.new(cut);
        small.write(0, record.slice(0, cut));
        assertThrows(() => small.read_variant(0), PS_ERROR, Ps.Error.CORRUPT, `cut at ${cut}`);
    }
});

test('Python writes records, GJS reads them', () => {
    const name = uniqueName('py-writer');
    const mem = Ps.SharedMemory.open(name, CREATE_EXCL, 8192);
    unlinkLater(name);
    let offset = 3;
    for (const text of VARIANT_TEXTS.filter((_, i) => i % 3 === 0)) {
        const result = runPeer(['write-variant', name, offset, text]);
        assertEqual(result.status, 0, `peer: ${result.stderr}`);
        const measure = Number(result.stdout.trim());
        assertEqual(measure, Ps.SharedMemory.measure_variant(parse(text)), 'measure');
        const got = mem.read_variant(offset);
        assert(got.equal(parse(text)), `${text}: got ${got.print(true)}`);
        offset += measure + 1;
    }
});

test('GJS writes a named segment, a Python process reads it and answers', () => {
    const name = uniqueName('gjs-writer');
    const mem = Ps.SharedMemory.open(name, CREATE_EXCL, PEER_SIZE);
    unlinkLater(name);
    mem.write(0, Uint8Array.from({length: 256}, (_, i) => (i * 7 + 3) & 0xff));
    mem.write_variant(PEER_VARIANT_OFFSET, new GLib.Variant('(si)', ['from parent', 42]));
    const result = runPeer(['check-named', name]);
    assertEqual(result.status, 0, `peer: ${result.stderr}`);
    const raw = new DataView(mem.read(PEER_INT64_OFFSET, 8).toArray().buffer);
    assertEqual(raw.getBigInt64(0, true), PEER_INT64_VALUE);
    assert(mem.read_variant(PEER_REPLY_OFFSET).equal(parse("('from peer', [1, 2, 3])")), 'reply');
});

// Run ------------------------------------------------------------------------

print(`1..${tests.length}`);
let failures = 0;
tests.forEach(({name, func}, i) => {
    try {
        func();
        print(`ok ${i + 1} - ${name}`);
    } catch (e) {
        failures++;
        print(`not ok ${i + 1} - ${name}`);
        for (const line of `${e}\n${e.stack ?? ''}`.split('\n'))
            print(`# ${line}`);
    }
    while (cleanups.length > 0)
        cleanups.pop()();
});
if (failures > 0)
    System.exit(1);
