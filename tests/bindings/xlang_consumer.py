# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python side of the cross-language test (test_cross_language.py):
the consumer. It takes COUNT values out of the one-slot mailbox that
xlang-producer (C) fills, logs each into PREFIX.shm and keeps their sum
there; xlang-watcher.js (GJS) checks the log.

    /usr/bin/python3 xlang_consumer.py PREFIX COUNT

Imported, it provides the layout and the value formula to the test."""

import os
import signal
import sys

import gi
gi.require_version('Ps', '1')
from gi.repository import Ps  # noqa: E402

# int64 fields of PREFIX.shm; xlang-producer.c and xlang-watcher.js agree.
OFFSET_FULL = 0        # 1 while the slot holds a value
OFFSET_VALUE = 8
OFFSET_PRODUCED = 16
OFFSET_CONSUMED = 24
OFFSET_SUM = 32
OFFSET_LOG = 64        # then one int64 per consumed value
TIME_SCALE = float(os.environ.get('PS_TEST_TIME_SCALE', '1'))


def value_for(i):
    return i * i * 1000003 + 7


def segment_size(count):
    return OFFSET_LOG + 8 * count


def consume(prefix, count):
    mutex = Ps.Mutex.open(prefix + '.mutex', Ps.OpenFlags.NONE)
    cond = Ps.Cond.open(prefix + '.cond', Ps.OpenFlags.NONE)
    memory = Ps.SharedMemory.open(prefix + '.shm', Ps.OpenFlags.NONE, 0)
    for i in range(count):
        with mutex:
            # A predicate loop with one deadline: wake-ups meant for the
            # watcher or spurious ones are harmless, and a dead producer
            # ends this with False instead of a hang.
            if not cond.wait_for(mutex, lambda: memory.get_int64(OFFSET_FULL),
                                 timeout=60 * TIME_SCALE):
                raise SystemExit('consumer: no value %d in time' % i)
            value = memory.get_int64(OFFSET_VALUE)
            memory.set_int64(OFFSET_LOG + 8 * i, value)
            memory.set_int64(OFFSET_SUM, memory.get_int64(OFFSET_SUM) + value)
            memory.set_int64(OFFSET_CONSUMED, i + 1)
            memory.set_int64(OFFSET_FULL, 0)
            cond.broadcast()
    with mutex:
        return memory.get_int64(OFFSET_SUM)


if __name__ == '__main__':
    signal.alarm(int(120 * TIME_SCALE))     # a watchdog, whatever happens
    total = consume(sys.argv[1], int(sys.argv[2]))
    print('consumed %s sum %d' % (sys.argv[2], total), flush=True)
