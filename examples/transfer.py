# SPDX-License-Identifier: LGPL-2.1-or-later
"""transfer.py: passing a structured value from one process to another
through shared memory, as a self-describing GVariant record.

A forked child builds a dictionary and stores it with write_variant();
a Ps.Semaphore tells the parent it is there; the parent reads it back
with read_variant(), which validates the record, and unpacks it into
Python values. Any language can read such a record: see transfer.js."""

import os
import signal

import gi
gi.require_version('Ps', '1')
from gi.repository import GLib, Ps  # noqa: E402

signal.alarm(30)

memory = Ps.SharedMemory.new(4096)
written = Ps.Semaphore.new(0)          # released once the record is complete

pid = os.fork()
if pid == 0:
    signal.alarm(30)                   # alarms are not inherited over fork()
    record = GLib.Variant('a{sv}', {
        'from': GLib.Variant('s', 'child %d' % os.getpid()),
        'primes': GLib.Variant('ai', [2, 3, 5, 7, 11]),
        'ratio': GLib.Variant('d', 0.5),
    })
    memory.write_variant(0, record)
    written.release()
    os._exit(0)

if not written.acquire(timeout=10):     # False if the child never wrote
    raise SystemExit('the child wrote nothing within 10 s')
value = memory.read_variant(0)
print('parent received %s: %s' % (value.get_type_string(), value.print_(True)))
data = value.unpack()                  # {'from': 'child N', 'primes': [...], ...}
os.waitpid(pid, 0)
raise SystemExit(0 if data['primes'] == [2, 3, 5, 7, 11] and data['ratio'] == 0.5 else 1)
