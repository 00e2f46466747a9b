# SPDX-License-Identifier: LGPL-2.1-or-later
"""queue_consumer.py: a Python consumer on the named queue that
queue-producer.c (or queue-consumer.js's peer, or `procshared send`)
fills, used as a queue.Queue: get() returns bytes for what was sent as
bytes and a GLib.Variant for what was sent as a variant, whichever
language sent it. An empty message is the end.

    ./queue-producer /jobs 10 &
    python3 queue_consumer.py /jobs

Without a NAME it makes one, starts the producer itself (the program in
$PS_QUEUE_PRODUCER, or queue-producer on the PATH) and removes the name
at the end."""

import os
import queue
import signal
import subprocess
import sys

import gi
gi.require_version('Ps', '1')
from gi.repository import GLib, Ps  # noqa: E402

signal.alarm(60)                        # a bug ends the example, never hangs it

producer = None
if len(sys.argv) > 1:
    name = sys.argv[1]
else:
    name = '/queue-py-%d' % os.getpid()
    producer = subprocess.Popen([os.environ.get('PS_QUEUE_PRODUCER', 'queue-producer'),
                                 name, '10'])

# Opens the queue, or creates it if the producer has not yet: both sides
# ask for the same capacity and size.
jobs = Ps.Queue(name=name, open_flags=Ps.OpenFlags.CREATE, capacity=16, max_message_size=256)
received = 0
try:
    while True:
        try:
            item = jobs.get(timeout=10)
        except queue.Empty:
            print('no job for 10 s: giving up', file=sys.stderr)
            break
        if item == b'':
            break                       # the end
        if isinstance(item, GLib.Variant):
            print('a variant job:', item.unpack())
        else:
            print('a job:', item.decode())
        received += 1
finally:
    if producer is not None:
        producer.wait(30)
        Ps.unlink(name)

print('%d jobs received' % received)
raise SystemExit(0 if received > 0 and (producer is None or producer.returncode == 0) else 1)
