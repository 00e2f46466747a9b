// SPDX-License-Identifier: LGPL-2.1-or-later
//
// PsEvent and PsBarrier from GJS: awaited waits (Gio._promisify), their
// errors, and a Python process on the other side of a named event and
// barrier.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Ps from 'gi://Ps?version=1';

import {runAsyncTests} from './harness.js';

Gio._promisify(Ps.Event.prototype, 'wait_async', 'wait_finish');
Gio._promisify(Ps.Barrier.prototype, 'wait_async', 'wait_finish');
Gio._promisify(Gio.Subprocess.prototype, 'wait_check_async', 'wait_check_finish');

const SCALE = Number(GLib.getenv('PS_TEST_TIME_SCALE') ?? '1') || 1;
const LONG_US = Math.round(20000 * SCALE) * 1000;
const MY_PID = new Gio.Credentials().get_unix_pid();

const tests = [];

function test(name, fn) {
    tests.push({name, fn});
}

function check(condition, message) {
    if (!condition)
        throw new Error(`check failed: ${message}`);
}

async function rejects(promise, domain, code, what) {
    try {
        await promise;
    } catch (e) {
        check(e instanceof GLib.Error && e.matches(domain, code),
            `${what}: expected ${code}, got ${e}`);
        return;
    }
    throw new Error(`${what}: did not fail`);
}

function python(code) {
    return Gio.Subprocess.new(['/usr/bin/python3', '-c',
        `import gi; gi.require_version('Ps', '1'); from gi.repository import Ps\n${code}`],
    Gio.SubprocessFlags.NONE);
}

test('event: manual and auto-reset, awaited', async () => {
    const manual = Ps.Event.new(false);
    check(!manual.is_set(), 'clear at first');
    await rejects(manual.wait_async(20000, null), Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT, 'timeout');
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 20, () => {
        manual.set();
        return GLib.SOURCE_REMOVE;
    });
    check(await manual.wait_async(LONG_US, null) === true, 'woken by set');
    check(manual.is_set(), 'manual: stays set');
    manual.reset();
    check(!manual.is_set(), 'reset');

    const auto = new Ps.Event({auto_reset: true});
    check(auto.auto_reset && auto.get_auto_reset(), 'auto-reset property');
    auto.set();
    check(await auto.wait_async(0, null) === true, 'a set kept for one wait');
    check(!auto.is_set(), 'auto: cleared by the wait');
    const cancellable = new Gio.Cancellable();
    const pending = auto.wait_async(-1, cancellable);
    cancellable.cancel();
    await rejects(pending, Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, 'cancelled');
});

test('event: set by a Python process', async () => {
    const name = `/ps-test-gjs-event-${MY_PID}`;
    const event = Ps.Event.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, false);
    try {
        const peer = python(`e = Ps.Event.open('${name}', Ps.OpenFlags.NONE, True)\n` +
            'assert not e.props.auto_reset\ne.set()');
        check(await event.wait_async(LONG_US, null), 'set by the peer');
        await peer.wait_check_async(null);
    } finally {
        Ps.unlink(name);
    }
});

test('barrier: indices, breaking, reset', async () => {
    const barrier = Ps.Barrier.new(2);
    check(barrier.get_parties() === 2 && barrier.parties === 2, 'parties');
    const indices = await Promise.all([barrier.wait_async(LONG_US, null),
        barrier.wait_async(LONG_US, null)]);
    check(indices.sort().join() === '0,1', `indices ${indices}`);
    await rejects(barrier.wait_async(20000, null), Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT, 'own timeout');
    check(barrier.is_broken(), 'broken by the timeout');
    await rejects(barrier.wait_async(-1, null), Ps.Error, Ps.Error.BROKEN, 'broken');
    barrier.reset();
    check(!barrier.is_broken() && barrier.get_n_waiting() === 0, 'reset');
    const waiting = barrier.wait_async(-1, null);
    barrier.abort();
    await rejects(waiting, Ps.Error, Ps.Error.BROKEN, 'aborted while waiting');
});

test('barrier: a round with a Python process', async () => {
    const name = `/ps-test-gjs-barrier-${MY_PID}`;
    const barrier = Ps.Barrier.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 2);
    try {
        const peer = python(`b = Ps.Barrier.open('${name}', Ps.OpenFlags.NONE, 0)\n` +
            'assert b.parties == 2\nfor _ in range(3): b.wait(20)');
        for (let round = 0; round < 3; round++)
            check(await barrier.wait_async(LONG_US, null) >= 0, `round ${round}`);
        await peer.wait_check_async(null);
    } finally {
        Ps.unlink(name);
    }
});

runAsyncTests(tests, SCALE);
