# SPDX-License-Identifier: LGPL-2.1-or-later
"""barrier.py: three processes work in phases with a Ps.Barrier (as a
threading.Barrier, across processes): none starts a phase before all have
finished the last. The action runs once per phase, before anyone goes on."""

import os
import signal
import threading

import gi
gi.require_version('Ps', '1')
from gi.repository import Ps  # noqa: E402

N_PARTIES = 3
N_PHASES = 4

signal.alarm(60)
barrier = Ps.Barrier(N_PARTIES, action=lambda: print('phase done by all', flush=True),
                     timeout=10)


def work():
    try:
        for _ in range(N_PHASES):
            barrier.wait()              # its index if needed: i = barrier.wait()
    except threading.BrokenBarrierError:
        return 1                        # a party timed out, died or aborted
    return 0


children = []
for _ in range(N_PARTIES - 1):
    pid = os.fork()
    if pid == 0:
        signal.alarm(30)
        os._exit(work())
    children.append(pid)
failed = work()
failed |= any(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children)
raise SystemExit(1 if failed else 0)
