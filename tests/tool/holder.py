# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python side of the procshared tool tests: an unrelated process that
holds or waits for named objects through PyGObject, driven one line at a
time over stdin and stdout. A watchdog (SIGALRM) ends it if a broken test
forgets it.

    hold NAME            lock the mutex NAME, print "locked PID", wait for
                         a line on stdin (or its end), unlock, print
                         "unlocked"
    hold-new NAME        create the mutex NAME (run as PID 1 of a PID
                         namespace of its own, the objects it uses must be
                         its namespace's), then as hold; after "unlocked",
                         wait for another line
    lock NAME            print "waiting", lock the mutex NAME (bounded);
                         print "locked", or "error CODE" (after OWNER_DEAD
                         it marks the mutex consistent first, holding it);
                         then unlock and print "unlocked"
    condemn NAME         lock the mutex NAME, which must report
                         OWNER_DEAD, and unlock it without marking it
                         consistent; print "condemned"
    cond-wait MUTEX COND lock MUTEX, print "waiting", wait on COND
                         (bounded), print "woken" or "error CODE", unlock
"""

import os
import signal
import sys

import gi
gi.require_version('Ps', '1')
from gi.repository import GLib, Ps  # noqa: E402

TIME_SCALE = float(os.environ.get('PS_TEST_TIME_SCALE', '1'))
LONG_US = int(20 * TIME_SCALE * 1e6)
WATCHDOG_S = int(60 * TIME_SCALE)


def say(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def error_code(error):
    if error.domain == 'ps-error-quark':
        return Ps.Error(error.code).value_nick.replace('-', '_').upper()
    return '%s:%d' % (error.domain, error.code)


def hold(name):
    mutex = Ps.Mutex.open(name, Ps.OpenFlags.NONE)
    mutex.lock(LONG_US, None)
    say('locked %d' % os.getpid())
    sys.stdin.readline()
    mutex.unlock()
    say('unlocked')


def hold_new(name):
    mutex = Ps.Mutex.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
    mutex.lock(LONG_US, None)
    say('locked %d' % os.getpid())
    sys.stdin.readline()
    mutex.unlock()
    say('unlocked')
    sys.stdin.readline()


def lock(name):
    mutex = Ps.Mutex.open(name, Ps.OpenFlags.NONE)
    say('waiting')
    try:
        mutex.lock(LONG_US, None)
        say('locked')
    except GLib.Error as e:
        say('error ' + error_code(e))
        if error_code(e) != 'OWNER_DEAD':
            return
        mutex.mark_consistent()
    mutex.unlock()
    say('unlocked')


def condemn(name):
    mutex = Ps.Mutex.open(name, Ps.OpenFlags.NONE)
    try:
        mutex.lock(LONG_US, None)
    except GLib.Error as e:
        if error_code(e) != 'OWNER_DEAD':
            raise
    else:
        raise AssertionError('the previous holder was expected to be dead')
    mutex.unlock()
    say('condemned')


def cond_wait(mutex_name, cond_name):
    mutex = Ps.Mutex.open(mutex_name, Ps.OpenFlags.NONE)
    cond = Ps.Cond.open(cond_name, Ps.OpenFlags.NONE)
    mutex.lock(LONG_US, None)
    say('waiting')
    try:
        cond.wait(mutex, LONG_US, None)
        say('woken')
    except GLib.Error as e:
        say('error ' + error_code(e))
    mutex.unlock()


COMMANDS = {
    'hold': hold,
    'hold-new': hold_new,
    'lock': lock,
    'condemn': condemn,
    'cond-wait': cond_wait,
}

if __name__ == '__main__':
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(WATCHDOG_S)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
