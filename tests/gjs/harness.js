// SPDX-License-Identifier: LGPL-2.1-or-later
// Assertions shared by the GJS suites: each failure says what was
// expected and what came, GLib errors by domain and code.
import GLib from 'gi://GLib';

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
