# SPDX-License-Identifier: LGPL-2.1-or-later
"""counter.py: two forked processes increment one counter under a Ps.Mutex.

The mutex sits in the same anonymous Ps.SharedMemory as the counter it
guards; children made with os.fork() share both. Each child does a
deliberately non-atomic read-modify-write through the zero-copy
memory.buf; with the lock no increment is lost. Exits 1 if the total is
not exact."""

import os
import signal
import struct

import gi
gi.require_version('Ps', '1')
from gi.repository import Ps  # noqa: E402

N_PROCESSES = 2
N_INCREMENTS = 20000
COUNTER = struct.Struct('=q')          # an int64 right after the mutex

signal.alarm(60)                       # a bug ends the example, never hangs it

memory = Ps.SharedMemory.new(Ps.MUTEX_SIZE + COUNTER.size)   # zero-filled
mutex = Ps.Mutex.new_at(memory, 0)

children = []
for _ in range(N_PROCESSES):
    pid = os.fork()
    if pid == 0:
        signal.alarm(60)                # alarms are not inherited over fork()
        view = memory.buf               # the very bytes of the segment
        for _ in range(N_INCREMENTS):
            with mutex:                 # lock() ... unlock(), even on errors
                (value,) = COUNTER.unpack_from(view, Ps.MUTEX_SIZE)
                COUNTER.pack_into(view, Ps.MUTEX_SIZE, value + 1)
        os._exit(0)
    children.append(pid)

ok = all(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in children)
total = memory.get_int64(Ps.MUTEX_SIZE)
print('total: %d (expected %d)' % (total, N_PROCESSES * N_INCREMENTS))
raise SystemExit(0 if ok and total == N_PROCESSES * N_INCREMENTS else 1)
