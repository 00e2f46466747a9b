# SPDX-License-Identifier: LGPL-2.1-or-later
"""rwlock.py: readers and a writer sharing a pair of numbers under a
Ps.RWLock (rwlock.c in Python).

The writer keeps the two equal, changing one after the other; readers in
forked processes must never see them differ. Then a writer is killed
halfway, and the next reader's ``with rw.read(repair=...)`` repairs the
pair (the death makes it hold the lock for writing)."""

import os
import signal

import gi
gi.require_version('Ps', '1')
from gi.repository import Ps  # noqa: E402

A = Ps.RW_LOCK_SIZE                    # two int64 after the lock
B = A + 8
ROUNDS = 500

signal.alarm(60)
memory = Ps.SharedMemory.new(B + 8)
rw = Ps.RWLock.new_at(memory, 0)

readers = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        signal.alarm(30)
        status = 0
        for _ in range(ROUNDS):
            with rw.read(timeout=10):
                if memory.get_int64(A) != memory.get_int64(B):
                    status = 1
        os._exit(status)
    readers.append(pid)

for i in range(ROUNDS):
    with rw.write(timeout=10):
        memory.set_int64(A, i)
        memory.set_int64(B, i)
torn = [os.waitpid(pid, 0)[1] for pid in readers]
assert torn == [0, 0, 0], torn
print('3 readers never saw a torn pair')

pid = os.fork()
if pid == 0:
    rw.write_lock(timeout=10)
    memory.set_int64(A, -1)
    os.kill(os.getpid(), signal.SIGKILL)
os.waitpid(pid, 0)


def repair():
    print('writer died: repairing')
    memory.set_int64(A, memory.get_int64(B))


with rw.read(timeout=10, repair=repair):
    print('pair: %d %d' % (memory.get_int64(A), memory.get_int64(B)))
    assert memory.get_int64(A) == memory.get_int64(B)
