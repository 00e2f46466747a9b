// SPDX-License-Identifier: LGPL-2.1-or-later
// Assertions shared by the GJS suites: each failure says what was
// expected and what came, GLib errors by domain and code.
import GLib from 'gi://GLib';
import System from 'system';

export class AssertionError extends Error {}

export function assert(condition, message = 'assertion failed') {
    if (!condition)
        throw new AssertionError(message);
}

export function assertEqual(actual, expected, message = '') {
    if (actual !== expected && !(Number.isNaN(actual) && Number.isNaN(expected)))
        throw new AssertionError(`${message} expected ${expected}, got ${actual}`);
}

export function assertThrows(func, domain, code, message = '') {
    try {
        func();
    } catch (e) {
        if (!(e instanceof GLib.Error))
            throw e;
        if (!e.matches(domain, code)) {
            throw new AssertionError(`${message} expected ${GLib.quark_to_string(domain)} ` +
                `${code}, got ${GLib.quark_to_string(e.domain)} ${e.code}: ${e.message}`);
        }
        return e;
    }
    throw new AssertionError(`${message} did not throw`);
}

// Runs @tests ({name, fn} with async fn), one after another in a main
// loop, printing TAP; exits with 1 if one failed, or if they all took
// longer than two minutes (times @scale).
export function runAsyncTests(tests, scale = 1) {
    const loop = new GLib.MainLoop(null, false);
    let failures = 0;

    GLib.idle_add(GLib.PRIORITY_DEFAULT, () => {
        (async () => {
            print(`1..${tests.length}`);
            for (const [index, {name, fn}] of tests.entries()) {
                try {
                    await fn();
                    print(`ok ${index + 1} - ${name}`);
                } catch (e) {
                    failures++;
                    print(`not ok ${index + 1} - ${name}\n# ${e}\n# ${e.stack ?? ''}`.replace(/\n(?!#)/g, '\n# '));
                }
            }
        })().finally(() => loop.quit());
        return GLib.SOURCE_REMOVE;
    });
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, Math.round(120000 * scale), () => {
        print('Bail out! watchdog');
        System.exit(1);
        return GLib.SOURCE_REMOVE;
    });
    loop.run();
    System.exit(failures > 0 ? 1 : 0);
}
