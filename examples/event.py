# SPDX-License-Identifier: LGPL-2.1-or-later
"""event.py: a starting gun. Forked workers wait on a Ps.Event (as a
threading.Event, across processes) until the parent sets it; then an
auto-reset event lets one of them through per set, as a token."""

import os
import signal
import time

import gi
gi.require_version('Ps', '1')
from gi.repository import Ps  # noqa: E402

signal.alarm(60)                        # a bug ends the example, never hangs it

start = Ps.Event()                      # manual-reset: every waiter goes
token = Ps.Event(auto_reset=True)       # one waiter per set()

children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        signal.alarm(30)
        ok = start.wait(10) and token.wait(10)
        print('worker %d: %s' % (os.getpid(), 'started, and got the token' if ok else 'timed out'),
              flush=True)
        token.set()                     # pass the token on
        os._exit(0 if ok else 1)
    children.append(pid)

time.sleep(0.05)
start.set()
token.set()
ok = all(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in children)
print('start is %s' % ('still set' if start.is_set() else 'clear'))
raise SystemExit(0 if ok and start.is_set() else 1)
