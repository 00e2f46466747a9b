# SPDX-License-Identifier: LGPL-2.1-or-later
"""The same named objects used at once from C, Python and GJS.

* A producer in C (xlang-producer), a consumer in Python
  (xlang_consumer.py) and a watcher in GJS (xlang-watcher.js) pass values
  through a named PsMutex, PsCond and PsSharedMemory; the data must come
  out exact.
* GVariant records written by Python are read by GJS, and the reverse.

The test environment gives PS_XLANG_PRODUCER and PS_GJS (meson.build)."""

import faulthandler
import os
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import xlang_consumer as layout  # noqa: E402
from bindings_util import (HERE, LONG_S, PYTHON, BindingTestCase,  # noqa: E402
                           run_process, unlink_quietly)

import gi  # noqa: E402
gi.require_version('Ps', '1')
from gi.repository import GLib, Ps  # noqa: E402

PRODUCER = os.environ.get('PS_XLANG_PRODUCER')
GJS = os.environ.get('PS_GJS')
COUNT = 300
FIRST_RECORD = 8


def record_end(offset, value):
    """Where the next record goes: after this one, at a multiple of 8."""
    return offset + -(-Ps.SharedMemory.measure_variant(value) // 8) * 8


@unittest.skipUnless(PRODUCER and GJS, 'needs PS_XLANG_PRODUCER and PS_GJS')
class ProducerConsumerWatcher(BindingTestCase):
    def start(self, argv):
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        self.addCleanup(stop)
        return proc

    def finish(self, proc):
        out, err = proc.communicate(timeout=2 * LONG_S)
        self.assertEqual(proc.returncode, 0, '%s failed:\n%s%s' % (proc.args[0], out, err))
        return out.strip()

    def test_c_python_gjs(self):
        prefix = '/ps-bind-xlang-%d' % os.getpid()
        flags = Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE
        for suffix in ('.mutex', '.cond', '.shm'):
            self.addCleanup(unlink_quietly, prefix + suffix)
        mutex = Ps.Mutex.open(prefix + '.mutex', flags)
        cond = Ps.Cond.open(prefix + '.cond', flags)
        memory = Ps.SharedMemory.open(prefix + '.shm', flags,
                                      layout.segment_size(COUNT))

        # All three at once; the order they start in does not matter.
        watcher = self.start([GJS, '-m', os.path.join(HERE, 'xlang-watcher.js'),
                              prefix, str(COUNT)])
        consumer = self.start([PYTHON, os.path.join(HERE, 'xlang_consumer.py'),
                               prefix, str(COUNT)])
        producer = self.start([PRODUCER, prefix, str(COUNT)])

        expected = [layout.value_for(i) for i in range(COUNT)]
        self.assertEqual(self.finish(producer), 'produced %d' % COUNT)
        self.assertEqual(self.finish(consumer), 'consumed %d sum %d' % (COUNT, sum(expected)))
        watched = self.finish(watcher).split()
        self.assertEqual(watched[:4], ['watched', str(COUNT), 'sum', str(sum(expected))])
        self.assertEqual(watched[4], 'observations')
        self.assertGreaterEqual(int(watched[5]), 1)

        with mutex:
            self.assertEqual(memory.get_int64(layout.OFFSET_PRODUCED), COUNT)
            self.assertEqual(memory.get_int64(layout.OFFSET_CONSUMED), COUNT)
            self.assertEqual(memory.get_int64(layout.OFFSET_FULL), 0)
            log = [memory.get_int64(layout.OFFSET_LOG + 8 * i) for i in range(COUNT)]
            self.assertEqual(log, expected)
            self.assertEqual(memory.get_int64(layout.OFFSET_SUM), sum(expected))
        cond.broadcast()      # still a valid, open condition variable


# Written by Python, read by GJS: the text GLib prints for each must match.
PYTHON_RECORDS = [
    GLib.Variant('s', 'from Python: ünïcødé ✓'),
    GLib.Variant('(si)', ('answer', 42)),
    GLib.Variant('a{sv}', {'pid': GLib.Variant('i', 1234),
                           'ratio': GLib.Variant('d', 0.25),
                           'tags': GLib.Variant('as', ['x', 'y'])}),
    GLib.Variant('ax', [-(2 ** 62), 0, 2 ** 53 + 1]),
    GLib.Variant('ay', b'\x00\x01\xfe\xff'),
    GLib.Variant('(bdmsao)', (True, -1.5, None, ['/org/example/a', '/b'])),
    GLib.Variant('v', GLib.Variant('u', 4294967295)),
    GLib.Variant('()', ()),
    GLib.Variant('a(tn)', [(2 ** 64 - 1, -32768)]),
]

# What xlang-variants.js writes, rebuilt here.
GJS_RECORDS = [
    GLib.Variant('s', 'from GJS: ünïcødé ✓'),
    GLib.Variant('(sid)', ('answer', 42, -0.5)),
    GLib.Variant('a{sv}', {'pid': GLib.Variant('i', 4321),
                           'name': GLib.Variant('s', 'watcher'),
                           'flags': GLib.Variant('as', ['a', 'b', 'c'])}),
    GLib.Variant('ax', [-(2 ** 52), 0, 2 ** 52]),
    GLib.Variant('ay', b'\x00\x01\xfe\xff'),
    GLib.Variant('(bmsmiao)', (True, None, 7, ['/org/example/a', '/b'])),
    GLib.Variant('v', GLib.Variant('u', 4294967295)),
    GLib.Variant('a(yq)', [(1, 65535), (2, 0)]),
]


@unittest.skipUnless(GJS, 'needs PS_GJS')
class VariantRecords(BindingTestCase):
    def segment(self):
        name = self.new_name('variants')
        memory = Ps.SharedMemory.open(name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 4096)
        return name, memory

    def gjs(self, *args):
        result = run_process([GJS, '-m', os.path.join(HERE, 'xlang-variants.js')] + list(args))
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_python_writes_gjs_reads(self):
        name, memory = self.segment()
        offset = FIRST_RECORD
        for value in PYTHON_RECORDS:
            self.assertTrue(memory.write_variant(offset, value))
            offset = record_end(offset, value)
        memory.set_int32(0, len(PYTHON_RECORDS))

        lines = self.gjs('read', name).splitlines()
        self.assertEqual(lines, ['%s\t%s' % (v.get_type_string(), v.print_(True))
                                 for v in PYTHON_RECORDS])

    def test_gjs_writes_python_reads(self):
        name, memory = self.segment()
        self.assertEqual(self.gjs('write', name).strip(), 'wrote %d' % len(GJS_RECORDS))
        self.assertEqual(memory.get_int32(0), len(GJS_RECORDS))
        offset = FIRST_RECORD
        for expected in GJS_RECORDS:
            value = memory.read_variant(offset)
            self.assertEqual(value.get_type_string(), expected.get_type_string())
            self.assertTrue(value.equal(expected), '%s != %s' % (value, expected))
            self.assertEqual(value.unpack(), expected.unpack())
            offset = record_end(offset, value)

    def test_gjs_reads_corrupt_record(self):
        # A record that is not one: GJS gets PS_ERROR_CORRUPT, not garbage.
        name, memory = self.segment()
        memory.set_int32(0, 1)
        memory.write(FIRST_RECORD, b'\xff' * 64)
        result = run_process([GJS, '-m', os.path.join(HERE, 'xlang-variants.js'), 'read', name])
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertEqual(result.stdout.strip(), 'error ps-error-quark %d' % Ps.Error.CORRUPT)


if __name__ == '__main__':
    faulthandler.dump_traceback_later(10 * LONG_S, exit=True)
    unittest.main()
