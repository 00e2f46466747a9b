# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers shared by the binding suites: unique names, bounded child
processes (forked or spawned) and a base TestCase with exact error checks.

Every wait here is bounded; every child is killed and reaped if it
outlives its bound, so that a broken library fails a test instead of
hanging it."""

import itertools
import os
import signal
import subprocess
import time
import unittest

import gi
gi.require_version('Ps', '1')
from gi.repository import Gio, GLib, Ps  # noqa: E402

TIME_SCALE = float(os.environ.get('PS_TEST_TIME_SCALE', '1'))
# Generous bounds for things that must happen "at all", never assertions
# about speed.
LONG_S = 30.0 * TIME_SCALE
LONG_US = int(LONG_S * 1e6)
PYTHON = '/usr/bin/python3'
HERE = os.path.dirname(os.path.abspath(__file__))

_counter = itertools.count()


def unique_name(tag):
    """A name no other test, run or process uses at the same time."""
    return '/ps-bind-%s-%d-%d' % (tag, os.getpid(), next(_counter))


def unlink_quietly(name):
    try:
        Ps.unlink(name)
    except GLib.Error as e:
        if not e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND):
            raise


def fork_child(func, watchdog_s=None):
    """Runs func() in a forked child, which exits 0 if it returns, 1 if it
    raises; a SIGALRM watchdog ends a child that hangs. Returns the pid."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(int(watchdog_s or LONG_S) + 1)
            func()
            code = 0
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def reap(pid, timeout=None):
    """Waits (bounded) for a child; kills it if it does not end in time.
    Returns its wait status."""
    deadline = time.monotonic() + (LONG_S if timeout is None else timeout)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError('child %d did not end within the bound' % pid)
        time.sleep(0.005)


def run_process(argv, timeout=None, **kwargs):
    """Runs a program to completion (bounded); returns CompletedProcess with
    text output."""
    return subprocess.run(argv, timeout=LONG_S if timeout is None else timeout,
                          capture_output=True, text=True, **kwargs)


class BindingTestCase(unittest.TestCase):
    def new_name(self, tag):
        name = unique_name(tag)
        self.addCleanup(unlink_quietly, name)
        return name

    def assertRaisesPs(self, code, func, *args, **kwargs):
        return self.assertRaisesDomain(Ps.error_quark(), code, func, *args, **kwargs)

    def assertRaisesIO(self, code, func, *args, **kwargs):
        return self.assertRaisesDomain(Gio.io_error_quark(), code, func, *args, **kwargs)

    def assertRaisesDomain(self, domain, code, func, *args, **kwargs):
        with self.assertRaises(GLib.Error) as cm:
            func(*args, **kwargs)
        self.assertErrorIs(cm.exception, domain, code)
        return cm.exception

    def assertErrorIs(self, error, domain, code):
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(domain, code),
                        'expected %s:%d, got %s:%d (%s)'
                        % (GLib.quark_to_string(domain), int(code), error.domain,
                           error.code, error.message))

    def assertChildSucceeds(self, pid, timeout=None):
        status = reap(pid, timeout)
        self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
                        'child %d failed: status %#x' % (pid, status))
