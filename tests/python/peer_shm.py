# SPDX-License-Identifier: LGPL-2.1-or-later
"""A separately spawned peer for the shared-memory suites (Python and GJS).

  peer_shm.py check-named NAME
      Opens NAME (any size), checks the bytes and the record the test put
      there, and writes an answer back (see PATTERN and the offsets below).
  peer_shm.py write-variant NAME OFFSET TEXT
      Writes the GVariant TEXT (text format) as a record at OFFSET.
  peer_shm.py read-variant NAME OFFSET EXPECTED
      Reads the record at OFFSET, prints it, and fails unless it equals
      the GVariant EXPECTED.

Exits 0 on success; anything else is a failure, explained on stderr.
"""
import os
import signal
import sys

import gi
gi.require_version('Ps', '1')
from gi.repository import GLib, Ps  # noqa: E402

PEER_SIZE = 4096
VARIANT_OFFSET = 512
INT64_OFFSET = 1024
INT64_VALUE = -0x123456789abcdef
REPLY_OFFSET = 2048
REPLY_TEXT = "('from peer', [1, 2, 3])"


def pattern(i):
    return (i * 7 + 3) & 0xff


def check_named(name):
    mem = Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0)
    if mem.get_size() != PEER_SIZE:
        sys.exit('size %d, expected %d' % (mem.get_size(), PEER_SIZE))
    data = mem.read(0, 256).get_data()
    if data != bytes(pattern(i) for i in range(256)):
        sys.exit('pattern mismatch: %r' % data[:16])
    value = mem.read_variant(VARIANT_OFFSET)
    expected = GLib.Variant('(si)', ('from parent', 42))
    if not value.equal(expected):
        sys.exit('variant mismatch: %s' % value.print_(True))
    mem.set_int64(INT64_OFFSET, INT64_VALUE)
    mem.write_variant(REPLY_OFFSET, GLib.Variant.parse(None, REPLY_TEXT, None, None))


def write_variant(name, offset, text):
    mem = Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0)
    value = GLib.Variant.parse(None, text, None, None)
    mem.write_variant(int(offset), value)
    print(Ps.SharedMemory.measure_variant(value))


def read_variant(name, offset, expected_text):
    mem = Ps.SharedMemory.open(name, Ps.OpenFlags.NONE, 0)
    value = mem.read_variant(int(offset))
    print(value.print_(True))
    expected = GLib.Variant.parse(None, expected_text, None, None)
    if not value.equal(expected):
        sys.exit('variant mismatch: got %s, expected %s'
                 % (value.print_(True), expected.print_(True)))


def main(argv):
    # A peer that hangs must not hang the suite that spawned it.
    signal.alarm(60 * int(os.environ.get('PS_TEST_TIME_SCALE', '1') or '1'))
    commands = {
        'check-named': (check_named, 1),
        'write-variant': (write_variant, 3),
        'read-variant': (read_variant, 3),
    }
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        sys.exit('usage: peer_shm.py check-named|write-variant|read-variant ARGS')
    func = commands[argv[1]][0]
    try:
        func(*argv[2:])
    except GLib.Error as e:
        sys.exit('%s: %s (%s %d)' % (argv[1], e.message, e.domain, e.code))


if __name__ == '__main__':
    main(sys.argv)
