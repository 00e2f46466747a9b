# SPDX-License-Identifier: LGPL-2.1-or-later
"""A peer process for test-async.js: opens the named semaphore NAME,
prints "ready", waits for a line "go" on stdin, releases COUNT units and
prints "released". A watchdog ends it if the test dies first.

    /usr/bin/python3 sem_peer.py NAME [COUNT]"""

import os
import signal
import sys

import gi
gi.require_version('Ps', '1')
from gi.repository import Ps  # noqa: E402

signal.alarm(int(120 * float(os.environ.get('PS_TEST_TIME_SCALE', '1'))))
sem = Ps.Semaphore.open(sys.argv[1], Ps.OpenFlags.NONE, 0)
print('ready', flush=True)
line = sys.stdin.readline().strip()
if line != 'go':
    sys.exit('sem_peer: expected "go", got %r' % line)
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
    sem.release()
print('released', flush=True)
