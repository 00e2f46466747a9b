# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every Python, JavaScript and Vala snippet of the language guides runs.

The fenced code blocks of docs/python.md, docs/javascript.md, docs/vala.md,
docs/ruby.md and docs/bindings.md are extracted and run as they are (Vala ones
compiled first against the generated VAPI): each must exit with status 0
within the bound. So the documentation cannot rot.

The test environment gives PS_SOURCE_ROOT, PS_BUILD_ROOT, PS_GJS and
PS_VALAC and PS_RUBY (meson.build); a language whose tool is missing is skipped."""

import faulthandler
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bindings_util import LONG_S, PYTHON  # noqa: E402

SOURCE_ROOT = os.environ.get('PS_SOURCE_ROOT',
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
BUILD_ROOT = os.environ.get('PS_BUILD_ROOT')
GJS = os.environ.get('PS_GJS')
VALAC = os.environ.get('PS_VALAC')
RUBY = os.environ.get('PS_RUBY')
PAGES = ['python.md', 'javascript.md', 'vala.md', 'ruby.md', 'bindings.md']
FENCE = re.compile(r'^```(\w+)\n(.*?)^```$', re.MULTILINE | re.DOTALL)


def snippets(language):
    """(page, number, code) for every block of @language in the pages."""
    found = []
    for page in PAGES:
        with open(os.path.join(SOURCE_ROOT, 'docs', page), encoding='utf-8') as f:
            text = f.read()
        blocks = [code for lang, code in FENCE.findall(text) if lang == language]
        found += [(page, i + 1, code) for i, code in enumerate(blocks)]
    return found


class DocSnippets(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix='ps-doc-snippets-')
        self.addCleanup(self.tmp.cleanup)

    def run_ok(self, argv, what):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=LONG_S,
                                cwd=self.tmp.name)
        self.assertEqual(result.returncode, 0, '%s failed:\n%s%s'
                         % (what, result.stdout, result.stderr))
        return result

    def write(self, name, code):
        path = os.path.join(self.tmp.name, name)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(code)
        return path

    def check_count(self, found, minimum):
        # The regular expression must find the blocks: a test that finds
        # none would pass for nothing.
        self.assertGreaterEqual(len(found), minimum)

    def test_python(self):
        found = snippets('python')
        self.check_count(found, 10)
        for page, number, code in found:
            with self.subTest(page=page, snippet=number):
                path = self.write('snippet_%s_%d.py' % (page[:-3], number), code)
                self.run_ok([PYTHON, path], '%s python snippet %d' % (page, number))

    @unittest.skipUnless(GJS, 'gjs not found')
    def test_javascript(self):
        found = snippets('js')
        self.check_count(found, 6)
        for page, number, code in found:
            with self.subTest(page=page, snippet=number):
                path = self.write('snippet_%s_%d.js' % (page[:-3], number), code)
                self.run_ok([GJS, '-m', path], '%s js snippet %d' % (page, number))

    @unittest.skipUnless(VALAC and BUILD_ROOT, 'valac or the VAPI not available')
    def test_vala(self):
        found = snippets('vala')
        self.check_count(found, 4)
        lib_dir = os.path.join(BUILD_ROOT, 'procshared')
        for page, number, code in found:
            with self.subTest(page=page, snippet=number):
                source = self.write('snippet_%s_%d.vala' % (page[:-3], number), code)
                program = source[:-len('.vala')]
                self.run_ok([VALAC, '--vapidir', lib_dir, '--pkg', 'procshared-1',
                             '--pkg', 'gio-2.0', '--pkg', 'posix', '-o', program,
                             '-X', '-w',
                             '-X', '-I' + SOURCE_ROOT,
                             '-X', '-I' + os.path.join(SOURCE_ROOT, 'procshared'),
                             '-X', '-I' + lib_dir,
                             '-X', '-L' + lib_dir, '-X', '-lprocshared-1', source],
                            '%s vala snippet %d: valac' % (page, number))
                self.run_ok([program], '%s vala snippet %d' % (page, number))

    @unittest.skipUnless(RUBY, 'ruby with the gobject-introspection gem not found')
    def test_ruby(self):
        found = snippets('ruby')
        self.check_count(found, 9)
        for page, number, code in found:
            with self.subTest(page=page, snippet=number):
                path = self.write('snippet_%s_%d.rb' % (page[:-3], number), code)
                self.run_ok([RUBY, path], '%s ruby snippet %d' % (page, number))



class DocumentedPatterns(unittest.TestCase):
    """The condition-wait loops the guides show are the examples' very
    code, which the 'examples' suite runs with a peer killed holding the
    mutex (handshake --crash, handshake.js --crash)."""

    @staticmethod
    def read(*parts):
        with open(os.path.join(SOURCE_ROOT, *parts), encoding='utf-8') as f:
            return f.read()

    def test_overview_c_wait_loop_is_handshake_c(self):
        example = self.read('examples', 'handshake.c')
        blocks = [code for lang, code in FENCE.findall(self.read('docs', 'overview.md'))
                  if lang == 'c' and 'ps_cond_wait_until' in code]
        self.assertGreaterEqual(len(blocks), 1)
        for code in blocks:
            self.assertIn('PS_ERROR_OWNER_DEAD', code)
            self.assertIn('ps_mutex_mark_consistent', code)
            # Function by function (each with its comment), as the example
            # has more of them in between.
            for function in re.split(r'\n\n(?=/\*)', code):
                self.assertIn(function.strip(), example)

    def test_javascript_recovering_is_handshake_js(self):
        function = re.compile(r'^function recovering\(.*?^}$', re.MULTILINE | re.DOTALL)
        documented = function.findall(self.read('docs', 'javascript.md'))
        example = function.findall(self.read('examples', 'handshake.js'))
        self.assertEqual(len(documented), 1)
        self.assertEqual(documented, example)
        self.assertIn('mark_consistent()', documented[0])


if __name__ == '__main__':
    faulthandler.dump_traceback_later(20 * LONG_S, exit=True)
    unittest.main()
