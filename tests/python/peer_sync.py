# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peer program and shared helpers for the synchronisation suites.

Run as a program, this is the "unrelated process" of the cross-process
tests: the Python suites and the GJS suite spawn it with
/usr/bin/python3 and talk to it through its stdin and stdout, one line at
a time. Every command arms a watchdog (SIGALRM) first, so a peer can never
outlive a broken test by long.

    mutex-hold NAME [DELAY_MS]  lock NAME, print "locked PID", wait for a
                                line on stdin, sleep DELAY_MS, unlock,
                                print "unlocked"
    mutex-foreign NAME          while someone else holds NAME: unlock and
                                mark_consistent must fail with NOT_OWNER
                                and try_lock must return False; prints
                                "NOT_OWNER"
    mutex-lock NAME             lock NAME (bounded), print "OK" or the
                                PsError name (OWNER_DEAD: mark consistent
                                first), unlock
    sem-release NAME COUNT [DELAY_MS]
                                print "value V" (the count seen on open),
                                sleep DELAY_MS, release COUNT units, print
                                "released"
    cond-signal-hold PREFIX     open PREFIX.mutex, PREFIX.cond, PREFIX.shm,
                                print "ready", wait for a line on
                                stdin; lock (bounded), set the
                                int32 at offset 0 to 1, signal, print
                                "holding", then hold the mutex until
                                killed (or stdin closes)
    cond-handshake PREFIX ROUNDS
                                the odd side of a turn-taking handshake
                                over PREFIX.mutex, PREFIX.cond and the
                                int32 at offset 0 of PREFIX.shm; prints
                                "ready" once everything is open, then
                                "done"

Imported, it provides PsTestCase, the base class of the Python suites.
"""

import faulthandler
import itertools
import os
import select
import signal
import subprocess
import sys
import time
import traceback
import unittest

import gi
gi.require_version('Ps', '1')
from gi.repository import GLib, Gio, Ps  # noqa: E402

TIME_SCALE = float(os.environ.get('PS_TEST_TIME_SCALE', '1'))
PYTHON = '/usr/bin/python3'
PEER_SCRIPT = os.path.abspath(__file__)
PS_ERROR_DOMAIN = 'ps-error-quark'

# Generous bounds for things that must happen "at all"; never assertions
# about speed.
LONG_S = 20.0 * TIME_SCALE
LONG_US = int(LONG_S * 1e6)

_counter = itertools.count()


def scaled(seconds):
    return seconds * TIME_SCALE


def ps_error_name(error):
    if error.domain != PS_ERROR_DOMAIN:
        return 'OTHER:%s:%d' % (error.domain, error.code)
    return Ps.Error(error.code).value_nick.replace('-', '_').upper()


def unique_name(tag):
    return '/ps-test-%s-%d-%d' % (tag, os.getpid(), next(_counter))


# ---------------------------------------------------------------- helpers

class Peer:
    """A peer_sync.py process with line-based, bounded I/O."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([PYTHON, PEER_SCRIPT] + [str(a) for a in args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     bufsize=0)
        self.pid = self.proc.pid
        self._buffer = b''

    def readline(self, timeout=None):
        """The next line of output, without its newline; fails on EOF or
        when nothing comes within @timeout seconds."""
        deadline = time.monotonic() + (LONG_S if timeout is None else timeout)
        fd = self.proc.stdout.fileno()
        while b'\n' not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('peer %d said nothing within the bound' % self.pid)
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise AssertionError('peer %d closed its output (exit status %r)'
                                         % (self.pid, self.proc.poll()))
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b'\n', 1)
        return line.decode()

    def send(self, line):
        self.proc.stdin.write(line.encode() + b'\n')

    def wait(self, timeout=None):
        return self.proc.wait(LONG_S if timeout is None else timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class PsTestCase(unittest.TestCase):
    """Base class: error assertions, forked children and peers that are
    always reaped, named objects that are always unlinked, and a watchdog
    that dumps every thread's stack and exits if a test hangs."""

    WATCHDOG_S = 90

    def setUp(self):
        self._children = []
        self._peers = []
        self._names = []
        faulthandler.dump_traceback_later(self.WATCHDOG_S * TIME_SCALE, exit=True)

    def tearDown(self):
        faulthandler.cancel_dump_traceback_later()
        for pid in self._children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for peer in self._peers:
            peer.kill()
        for name in self._names:
            try:
                Ps.unlink(name)
            except GLib.Error as e:
                if not e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND):
                    raise

    # -- errors

    def assertPsError(self, ctx, code):
        e = ctx.exception
        self.assertEqual(e.domain, PS_ERROR_DOMAIN, e.message)
        self.assertEqual(e.code, code, e.message)

    def assertIOError(self, ctx, code):
        e = ctx.exception
        self.assertTrue(e.matches(Gio.io_error_quark(), code),
                        'expected G_IO_ERROR %s, got %s:%d (%s)'
                        % (code, e.domain, e.code, e.message))

    def assertRaisesPs(self, code, func, *args):
        with self.assertRaises(GLib.Error) as ctx:
            func(*args)
        self.assertPsError(ctx, code)

    def assertRaisesIO(self, code, func, *args):
        with self.assertRaises(GLib.Error) as ctx:
            func(*args)
        self.assertIOError(ctx, code)

    # -- names

    def new_name(self, tag):
        name = unique_name(tag)
        self._names.append(name)
        return name

    # -- processes

    def fork(self, func, *args, alarm=None):
        """Runs func(*args) in a forked child, whose exit status is what
        func returns (None: 0), 1 if it raised. The child dies of SIGALRM
        if it runs longer than @alarm seconds."""
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            signal.alarm(int(alarm if alarm is not None else 2 * LONG_S) + 1)
            status = 1
            try:
                result = func(*args)
                status = 0 if result is None else int(result)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        self._children.append(pid)
        return pid

    def join(self, pid, timeout=None):
        """Reaps a forked child within @timeout seconds (killing it and
        failing otherwise); returns its exit code, -N for signal N."""
        deadline = time.monotonic() + (2 * LONG_S if timeout is None else timeout)
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                self._children.remove(pid)
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                self._children.remove(pid)
                self.fail('child %d did not finish within the bound' % pid)
            time.sleep(0.005)

    def kill_and_reap(self, pid):
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(self.join(pid), -signal.SIGKILL)

    def assertChildrenSucceed(self, pids, timeout=None):
        deadline = time.monotonic() + (2 * LONG_S if timeout is None else timeout)
        for pid in pids:
            left = max(0.0, deadline - time.monotonic())
            self.assertEqual(self.join(pid, left), 0, 'child %d failed' % pid)

    def spawn_peer(self, *args):
        peer = Peer(*args)
        self._peers.append(peer)
        return peer

    def assertPeerSucceeds(self, peer):
        self.assertEqual(peer.wait(), 0, 'peer %d failed' % peer.pid)


def wait_for(predicate, timeout=None):
    """Polls @predicate until it holds; False if it did not within the
    (generous) bound."""
    deadline = time.monotonic() + (LONG_S if timeout is None else timeout)
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


# ------------------------------------------------------------ peer program

def _expect_ps_error(code, func, *args):
    try:
        func(*args)
    except GLib.Error as e:
        if e.domain == PS_ERROR_DOMAIN and e.code == code:
            return
        raise
    raise AssertionError('%s did not fail' % func.__name__)


def _mutex_hold(name, delay_ms='0'):
    mutex = Ps.Mutex.open(name, Ps.OpenFlags.NONE)
    if not mutex.lock(timeout=LONG_S):
        return 2
    print('locked', os.getpid(), flush=True)
    if not sys.stdin.readline():
        return 3
    time.sleep(int(delay_ms) / 1000)
    mutex.unlock()
    print('unlocked', flush=True)
    return 0


def _mutex_foreign(name):
    mutex = Ps.Mutex.open(name, Ps.OpenFlags.NONE)
    _expect_ps_error(Ps.Error.NOT_OWNER, mutex.unlock)
    _expect_ps_error(Ps.Error.NOT_OWNER, mutex.mark_consistent)
    if mutex.try_lock():
        return 2
    print('NOT_OWNER', flush=True)
    return 0


def _mutex_lock(name):
    mutex = Ps.Mutex.open(name, Ps.OpenFlags.NONE)
    try:
        mutex.lock(timeout=LONG_S)
        print('OK', flush=True)
    except GLib.Error as e:
        print(ps_error_name(e), flush=True)
        if not (e.domain == PS_ERROR_DOMAIN and e.code == Ps.Error.OWNER_DEAD):
            return 0
        mutex.mark_consistent()
    mutex.unlock()
    return 0


def _sem_release(name, count, delay_ms='0'):
    sem = Ps.Semaphore.open(name, Ps.OpenFlags.NONE, 0)
    print('value', sem.get_value(), flush=True)
    time.sleep(int(delay_ms) / 1000)
    for _ in range(int(count)):
        sem.release()
    print('released', flush=True)
    return 0


def _cond_handshake(prefix, rounds):
    mutex = Ps.Mutex.open(prefix + '.mutex', Ps.OpenFlags.NONE)
    cond = Ps.Cond.open(prefix + '.cond', Ps.OpenFlags.NONE)
    memory = Ps.SharedMemory.open(prefix + '.shm', Ps.OpenFlags.NONE, 0)
    print('ready', flush=True)
    end_time = GLib.get_monotonic_time() + LONG_US
    for i in range(int(rounds)):
        mutex.lock(timeout=LONG_S)
        while memory.get_int32(0) != 2 * i + 1:
            cond.wait_until(mutex, end_time, None)   # raises TIMED_OUT at the end
        memory.set_int32(0, 2 * i + 2)
        cond.signal()
        mutex.unlock()
    print('done', flush=True)
    return 0


def _cond_signal_hold(prefix):
    mutex = Ps.Mutex.open(prefix + '.mutex', Ps.OpenFlags.NONE)
    cond = Ps.Cond.open(prefix + '.cond', Ps.OpenFlags.NONE)
    memory = Ps.SharedMemory.open(prefix + '.shm', Ps.OpenFlags.NONE, 0)
    print('ready', flush=True)
    if not sys.stdin.readline():
        return 3
    mutex.lock(timeout=LONG_S)
    memory.set_int32(0, 1)
    cond.signal()
    print('holding', flush=True)
    sys.stdin.readline()             # killed here, holding the mutex
    return 4


COMMANDS = {
    'cond-signal-hold': _cond_signal_hold,
    'mutex-hold': _mutex_hold,
    'mutex-foreign': _mutex_foreign,
    'mutex-lock': _mutex_lock,
    'sem-release': _sem_release,
    'cond-handshake': _cond_handshake,
}


def main(argv):
    signal.alarm(int(3 * LONG_S) + 1)
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print('usage: peer_sync.py %s ARGS...' % '|'.join(COMMANDS), file=sys.stderr)
        return 64
    return COMMANDS[argv[1]](*argv[2:])


if __name__ == '__main__':
    sys.exit(main(sys.argv))
