#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks what the build produces, as a packager would: the exported ABI,
the typelib's contents, the VAPI and the pkg-config file."""

import os
import re
import subprocess
import sys
import unittest

BUILD_ROOT = os.environ['PS_BUILD_ROOT']
LIBDIR = os.path.join(BUILD_ROOT, 'procshared')


def run(*args, **kwargs):
    env = dict(os.environ, GI_TYPELIB_PATH=LIBDIR)
    return subprocess.run(args, check=True, capture_output=True, text=True,
                          env=env, timeout=60, **kwargs).stdout


class ExportedSymbols(unittest.TestCase):
    def test_only_ps_symbols_are_exported(self):
        library = os.path.join(LIBDIR, 'libprocshared-1.so.0')
        self.assertTrue(os.path.exists(library), library)
        symbols = [line.split()[-1]
                   for line in run('nm', '-D', '--defined-only', library).splitlines()
                   if line.strip()]
        self.assertGreater(len(symbols), 50)
        foreign = [s for s in symbols if not s.startswith('ps_')]
        self.assertEqual(foreign, [], 'symbols leaking out of the library')
        for needed in ('ps_shared_memory_new', 'ps_mutex_lock', 'ps_cond_wait',
                       'ps_semaphore_acquire_async', 'ps_unlink', 'ps_error_quark',
                       'ps_open_flags_get_type', 'ps_error_get_type'):
            self.assertIn(needed, symbols)


@unittest.skipUnless(os.path.exists(os.path.join(LIBDIR, 'Ps-1.typelib')),
                     'introspection disabled')
class Typelib(unittest.TestCase):
    def setUp(self):
        self.gir = run('g-ir-generate', os.path.join(LIBDIR, 'Ps-1.typelib'))

    def test_namespace(self):
        self.assertRegex(self.gir, r'<namespace name="Ps" version="1"')

    def test_classes(self):
        for name in ('SharedMemory', 'Semaphore', 'Mutex', 'Cond', 'RWLock', 'Event', 'Barrier', 'Queue'):
            self.assertRegex(self.gir, r'<class name="%s" parent="GObject.Object"' % name)
            self.assertRegex(self.gir, r'<implements name="Gio.Initable"/>')

    def test_error_domain_and_flags(self):
        self.assertRegex(self.gir, r'<enumeration name="Error" [^>]*glib:error-domain="ps-error-quark"')
        self.assertRegex(self.gir, r'<bitfield name="OpenFlags"')
        for member in ('failed', 'owner_dead', 'not_recoverable', 'not_owner',
                       'would_deadlock', 'overflow', 'wrong_type', 'incompatible',
                       'corrupt', 'out_of_bounds', 'broken'):
            self.assertRegex(self.gir, r'<member name="%s"' % member)

    def test_requires_gio(self):
        self.assertIn('typelib: Gio-2.0', run('g-ir-inspect', '--print-typelibs', 'Ps'))


@unittest.skipUnless(os.path.exists(os.path.join(LIBDIR, 'procshared-1.vapi')), 'vapi disabled')
class Vapi(unittest.TestCase):
    def test_classes_and_errordomain(self):
        with open(os.path.join(LIBDIR, 'procshared-1.vapi')) as f:
            vapi = f.read()
        self.assertIn('namespace Ps {', vapi)
        for name in ('SharedMemory', 'Semaphore', 'Mutex', 'Cond', 'RWLock', 'Event', 'Barrier', 'Queue'):
            self.assertRegex(vapi, r'public sealed class %s : GLib.Object, GLib.Initable' % name)
        self.assertRegex(vapi, r'public errordomain Error \{')


@unittest.skipUnless(os.path.exists(os.path.join(LIBDIR, 'Ps-1.gir')), 'introspection disabled')
class ForkDocs(unittest.TestCase):
    def test_every_class_and_method_says_what_it_does_across_fork(self):
        import xml.etree.ElementTree as ET
        core = '{http://www.gtk.org/introspection/core/1.0}'
        root = ET.parse(os.path.join(LIBDIR, 'Ps-1.gir')).getroot()
        missing = []
        classes = list(root.iter(core + 'class'))
        self.assertEqual(len(classes), 8)
        for cls in classes:
            for node in [cls] + cls.findall(core + 'method'):
                doc = node.find(core + 'doc')
                if doc is None or 'Across fork()' not in ' '.join(doc.text.split()):
                    missing.append('%s.%s' % (cls.get('name'), node.get('name')))
        self.assertEqual(missing, [])


class PkgConfig(unittest.TestCase):
    def test_pc_file(self):
        path = os.path.join(BUILD_ROOT, 'meson-private', 'procshared-1.pc')
        with open(path) as f:
            pc = f.read()
        self.assertRegex(pc, r'(?m)^Libs: .*-lprocshared-1')
        self.assertRegex(pc, r'(?m)^Cflags: .*-I\$\{includedir\}/procshared-1')
        self.assertRegex(pc, r'(?m)^Requires: .*gio-2.0')


if __name__ == '__main__':
    unittest.main()
