# SPDX-License-Identifier: LGPL-2.1-or-later
"""handshake.py: a request and a reply between two forked processes,
through a Ps.Mutex, a Ps.Cond and the data they guard, in one segment.

Each side waits with cond.wait_for(), a predicate loop with one deadline:
a signal sent before the other side waits is not lost (the flag is
already set), spurious wake-ups are harmless, and a bug ends the wait
with False instead of a hang."""

import os
import signal

import gi
gi.require_version('Ps', '1')
from gi.repository import Ps  # noqa: E402

# One segment: the lock, the condition, then four int32s of data.
COND = Ps.MUTEX_SIZE
REQUEST_READY, REQUEST, REPLY_READY, REPLY = (COND + Ps.COND_SIZE + 4 * i for i in range(4))
DEADLINE_S = 5

signal.alarm(30)

memory = Ps.SharedMemory.new(REPLY + 4)
mutex = Ps.Mutex.new_at(memory, 0)
cond = Ps.Cond.new_at(memory, COND)

pid = os.fork()
if pid == 0:
    signal.alarm(30)                   # alarms are not inherited over fork()
    with mutex:
        if not cond.wait_for(mutex, lambda: memory.get_int32(REQUEST_READY), timeout=DEADLINE_S):
            os._exit(1)                              # no request in time
        memory.set_int32(REPLY, memory.get_int32(REQUEST) * 2)
        memory.set_int32(REPLY_READY, 1)
        print('child  (pid %d): got request %d, replying %d'
              % (os.getpid(), memory.get_int32(REQUEST), memory.get_int32(REPLY)), flush=True)
        cond.signal()
    os._exit(0)

with mutex:
    memory.set_int32(REQUEST, 21)
    memory.set_int32(REQUEST_READY, 1)
    print('parent (pid %d): sent request 21' % os.getpid(), flush=True)
    cond.signal()
    # Releases the mutex while waiting, so that the child can answer.
    got_reply = cond.wait_for(mutex, lambda: memory.get_int32(REPLY_READY), timeout=DEADLINE_S)
    reply = memory.get_int32(REPLY)
print('parent (pid %d): got reply %d' % (os.getpid(), reply))

child_ok = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
raise SystemExit(0 if got_reply and child_ok and reply == 42 else 1)
