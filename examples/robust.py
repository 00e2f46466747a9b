# SPDX-License-Identifier: LGPL-2.1-or-later
"""robust.py: recovering a Ps.Mutex whose holder was killed (robust.c in
Python).

Two accounts hold 100 units; a transfer debits one and credits the other
under a mutex. A child is killed with SIGKILL between the debit and the
credit, holding the mutex. The parent's next lock gets the lock *and*
Ps.Error.OWNER_DEAD; mutex.held(repair=...) runs the repair function,
marks the mutex consistent and carries on."""

import os
import signal

import gi
gi.require_version('Ps', '1')
from gi.repository import Ps  # noqa: E402

A = Ps.MUTEX_SIZE                      # two int64 accounts after the mutex
B = A + 8

signal.alarm(30)

memory = Ps.SharedMemory.new(B + 8)
mutex = Ps.Mutex.new_at(memory, 0)
memory.set_int64(A, 100)

pid = os.fork()
if pid == 0:
    signal.alarm(30)                   # alarms are not inherited over fork()
    mutex.lock()
    memory.set_int64(A, memory.get_int64(A) - 40)   # debit...
    os.kill(os.getpid(), signal.SIGKILL)            # ...and die before the credit
os.waitpid(pid, 0)
print('child killed holding the mutex: a=%d b=%d' % (memory.get_int64(A), memory.get_int64(B)))


def repair():
    # Called with the lock held, only if the previous holder died. Only a
    # debit can be missing its credit: complete the transfer.
    print('previous holder died: repairing')
    memory.set_int64(B, 100 - memory.get_int64(A))


with mutex.held(timeout=10, repair=repair):
    a, b = memory.get_int64(A), memory.get_int64(B)
print('after recovery: a=%d b=%d' % (a, b))
with mutex:                            # consistent again: an ordinary lock
    pass
raise SystemExit(0 if a + b == 100 else 1)
