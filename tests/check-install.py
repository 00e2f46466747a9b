#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a user of an installed or embedded procshared sees.

- destdir: `meson install --destdir` into a temporary directory puts the
  library, headers, pkg-config file, typelib, GIR, VAPI, Python overrides
  (where /usr/bin/python3 looks, for the prefixes /usr and /usr/local),
  man page and tool where they belong; a C program builds against the
  installed .pc, and Python and GJS import Ps from there with the
  variables the README names.
- uninstalled: a C program including <procshared/procshared.h> builds
  with PKG_CONFIG_PATH=BUILD/meson-uninstalled.
- subproject: examples/subproject, a project of its own, builds with the
  procshared source tree as its subproject, and its program runs.

Run by meson (tests/meson.build, suite 'install') with the build's
directories in the environment: PS_SOURCE_ROOT, PS_BUILD_ROOT, PS_PREFIX,
PS_LIBDIR, PS_INCLUDEDIR, PS_BINDIR, PS_DATADIR, PS_MANDIR,
PS_PYTHON_OVERRIDES_DIR (empty without introspection), PS_GJS, PS_MESON,
PS_INTROSPECTION, PS_VAPI ('true' or 'false')."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_ROOT = os.environ['PS_SOURCE_ROOT']
BUILD_ROOT = os.environ['PS_BUILD_ROOT']
PREFIX = os.environ['PS_PREFIX']
PYTHON = '/usr/bin/python3'
GJS = os.environ.get('PS_GJS', '')
# Where `require "procshared"` is installed, and the interpreter that
# loads it; both empty without Ruby and ruby-gnome's gems.
RUBY = os.environ.get('PS_RUBY', '')
RUBY_MODULE_DIR = os.environ.get('PS_RUBY_MODULE_DIR', '')
MESON = os.environ.get('PS_MESON', '') or shutil.which('meson')
INTROSPECTION = os.environ.get('PS_INTROSPECTION') == 'true'
VAPI = os.environ.get('PS_VAPI') == 'true'
# The reference is installed when it was built.
DOCS = os.path.isdir(os.path.join(BUILD_ROOT, 'docs', 'procshared-1'))
TIMEOUT_S = 600

PROGRAM = r'''
#include <procshared/procshared.h>

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSemaphore) semaphore = ps_semaphore_new (1, &error);

  if (semaphore == NULL || !ps_semaphore_try_acquire (semaphore))
    return 1;
  g_print ("%s\n", PS_VERSION_S);
  return 0;
}
'''


def in_prefix(variable):
    """An install directory of the build, absolute."""
    return os.path.join(PREFIX, os.environ[variable])


def clean_env(**extra):
    """The environment without what the test suite points at the build
    tree, so that only what the caller names is found."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('GI_TYPELIB_PATH', 'LD_LIBRARY_PATH', 'PYTHONPATH',
                        'PKG_CONFIG_PATH', 'PKG_CONFIG_SYSROOT_DIR')}
    env.update(extra)
    return env


def run(argv, env=None, cwd=None):
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                            timeout=TIMEOUT_S)
    if result.returncode != 0:
        raise AssertionError('%s exited with %d:\n%s%s'
                             % (' '.join(argv), result.returncode, result.stdout, result.stderr))
    return result.stdout


def compile_program(tmp, env):
    """Builds PROGRAM in @tmp with pkg-config's flags under @env."""
    source = os.path.join(tmp, 'program.c')
    with open(source, 'w') as f:
        f.write(PROGRAM)
    flags = run(['pkg-config', '--cflags', '--libs', 'procshared-1'], env=env).split()
    program = os.path.join(tmp, 'program')
    run([os.environ.get('CC', 'cc'), source, '-o', program] + flags, env=env)
    return program


class Destdir(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='ps-install-')
        cls.destdir = os.path.join(cls.tmp, 'root')
        run([MESON, 'install', '-C', BUILD_ROOT, '--no-rebuild', '--quiet',
             '--destdir', cls.destdir])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def staged(self, *parts):
        """The path under the destdir of an installed path."""
        path = os.path.join(*parts)
        return os.path.join(self.destdir, os.path.relpath(path, '/'))

    def assertInstalled(self, *parts):
        path = self.staged(*parts)
        self.assertTrue(os.path.exists(path), '%s not installed' % path)
        return path

    def test_library_headers_pc_tool_man(self):
        libdir = in_prefix('PS_LIBDIR')
        includedir = in_prefix('PS_INCLUDEDIR')
        self.assertInstalled(libdir, 'libprocshared-1.so.0')
        self.assertInstalled(libdir, 'libprocshared-1.so')
        for header in ('procshared.h', 'ps-enums.h', 'ps-version.h', 'ps-mutex.h'):
            self.assertInstalled(includedir, 'procshared-1', 'procshared', header)
        self.assertInstalled(libdir, 'pkgconfig', 'procshared-1.pc')
        tool = self.assertInstalled(in_prefix('PS_BINDIR'), 'procshared')
        self.assertTrue(os.access(tool, os.X_OK))
        self.assertInstalled(in_prefix('PS_MANDIR'), 'man1', 'procshared.1')
        if DOCS:
            self.assertInstalled(in_prefix('PS_DATADIR'), 'doc', 'procshared-1', 'index.html')

    @unittest.skipUnless(INTROSPECTION, 'introspection disabled')
    def test_introspection_files(self):
        self.assertInstalled(in_prefix('PS_LIBDIR'), 'girepository-1.0', 'Ps-1.typelib')
        self.assertInstalled(in_prefix('PS_DATADIR'), 'gir-1.0', 'Ps-1.gir')
        if VAPI:
            self.assertInstalled(in_prefix('PS_DATADIR'), 'vala', 'vapi', 'procshared-1.vapi')
        overrides = os.environ['PS_PYTHON_OVERRIDES_DIR']
        self.assertInstalled(overrides, 'Ps.py')

    @unittest.skipUnless(INTROSPECTION and PREFIX in ('/usr', '/usr/local'),
                         'not a prefix Debian\'s python3 searches')
    def test_overrides_on_the_interpreters_path(self):
        # Where the overrides go must be where the interpreter looks once
        # installed, without PYTHONPATH.
        site_dir = os.path.dirname(os.path.dirname(os.environ['PS_PYTHON_OVERRIDES_DIR']))
        path = run([PYTHON, '-c', 'import sys; print("\\n".join(sys.path))'],
                   env=clean_env()).splitlines()
        self.assertIn(site_dir, path)

    def test_c_program_builds_against_the_installed_pc(self):
        libdir = self.staged(in_prefix('PS_LIBDIR'))
        # The installed .pc with its prefix moved into the destdir (only
        # its own: PKG_CONFIG_SYSROOT_DIR would move GLib's as well).
        with open(os.path.join(libdir, 'pkgconfig', 'procshared-1.pc')) as f:
            pc = f.read()
        self.assertIn('prefix=%s\n' % PREFIX, pc)
        pc_dir = os.path.join(self.tmp, 'pkgconfig')
        os.makedirs(pc_dir, exist_ok=True)
        with open(os.path.join(pc_dir, 'procshared-1.pc'), 'w') as f:
            f.write(pc.replace('prefix=%s\n' % PREFIX, 'prefix=%s\n' % self.staged(PREFIX), 1))
        env = clean_env(PKG_CONFIG_PATH=pc_dir)
        program = compile_program(self.tmp, env)
        out = run([program], env=clean_env(LD_LIBRARY_PATH=libdir))
        self.assertEqual(out.strip(), os.environ['PS_VERSION'])

    def gi_env(self, **extra):
        libdir = self.staged(in_prefix('PS_LIBDIR'))
        return clean_env(GI_TYPELIB_PATH=os.path.join(libdir, 'girepository-1.0'),
                         LD_LIBRARY_PATH=libdir, **extra)

    @unittest.skipUnless(INTROSPECTION, 'introspection disabled')
    def test_python_imports_the_installed_ps(self):
        overrides = self.staged(os.environ['PS_PYTHON_OVERRIDES_DIR'])
        site_dir = os.path.dirname(os.path.dirname(overrides))
        out = run([PYTHON, '-c',
                   'import gi; gi.require_version("Ps", "1"); from gi.repository import Ps; '
                   'Ps.Semaphore.new(1); '
                   'import gi.overrides.Ps, gi.repository; '
                   'from gi.repository import GIRepository; '
                   'print(gi.overrides.Ps.__file__); '
                   'print(GIRepository.Repository.get_default().get_typelib_path("Ps"))'],
                  env=self.gi_env(PYTHONPATH=site_dir)).splitlines()
        self.assertEqual(out[0], os.path.join(overrides, 'Ps.py'))
        self.assertTrue(out[1].startswith(self.destdir + '/'), out[1])

    @unittest.skipUnless(INTROSPECTION and GJS, 'introspection disabled or gjs missing')
    def test_gjs_imports_the_installed_ps(self):
        out = run([GJS, '-c',
                   'imports.gi.versions.Ps = "1"; const Ps = imports.gi.Ps; '
                   'Ps.Semaphore.new(1); print("ok");'],
                  env=self.gi_env())
        self.assertEqual(out.strip(), 'ok')

    @unittest.skipUnless(RUBY_MODULE_DIR, 'ruby or its gobject-introspection gem missing')
    def test_ruby_requires_the_installed_procshared(self):
        module = self.assertInstalled(RUBY_MODULE_DIR, 'procshared.rb')
        with open(os.path.join(SOURCE_ROOT, 'bindings', 'ruby', 'procshared.rb')) as f:
            source = f.read()
        with open(module) as f:
            self.assertEqual(f.read(), source)
        out = run([RUBY, '-e',
                   'require "procshared"; '
                   'puts $LOADED_FEATURES.grep(/procshared\\.rb\\z/); '
                   'puts Ps::VERSION_S; '
                   'puts Ps::Mutex.new_recursive.recursive?; '
                   'puts File.readlines("/proc/self/maps").grep(/libprocshared/)[0].split[-1]'],
                  env=self.gi_env(RUBYLIB=self.staged(RUBY_MODULE_DIR))).splitlines()
        self.assertEqual(out[:3], [module, os.environ['PS_VERSION'], 'true'])
        self.assertTrue(out[3].startswith(self.destdir + '/'), out[3])

    @unittest.skipUnless(RUBY_MODULE_DIR and PREFIX in ('/usr', '/usr/local'),
                         'no Ruby, or not a prefix Debian\'s ruby searches')
    def test_ruby_module_on_the_interpreters_path(self):
        # Where procshared.rb goes must be where Ruby looks once installed,
        # without RUBYLIB.
        path = run([RUBY, '-e', 'puts $LOAD_PATH'],
                   env=clean_env()).splitlines()
        self.assertIn(RUBY_MODULE_DIR, path)


class Uninstalled(unittest.TestCase):
    def test_c_program_builds_against_the_uninstalled_pc(self):
        with tempfile.TemporaryDirectory(prefix='ps-uninstalled-') as tmp:
            env = clean_env(PKG_CONFIG_PATH=os.path.join(BUILD_ROOT, 'meson-uninstalled'))
            program = compile_program(tmp, env)
            out = run([program],
                      env=clean_env(LD_LIBRARY_PATH=os.path.join(BUILD_ROOT, 'procshared')))
            self.assertEqual(out.strip(), os.environ['PS_VERSION'])


class Subproject(unittest.TestCase):
    def test_example_builds_with_procshared_as_subproject(self):
        with tempfile.TemporaryDirectory(prefix='ps-subproject-') as tmp:
            project = os.path.join(tmp, 'consumer')
            shutil.copytree(os.path.join(SOURCE_ROOT, 'examples', 'subproject'), project)
            os.symlink(os.path.abspath(SOURCE_ROOT),
                       os.path.join(project, 'subprojects', 'procshared'))
            build = os.path.join(project, '_build')
            # The subproject even if procshared is installed on this machine.
            run([MESON, 'setup', build, project, '--force-fallback-for=procshared-1',
                 '--wrap-mode=nodownload'], env=clean_env())
            run(['ninja', '-C', build, 'consumer'], env=clean_env())
            out = run([os.path.join(build, 'consumer')], env=clean_env())
            self.assertIn('procshared %s' % os.environ['PS_VERSION'], out)


if __name__ == '__main__':
    unittest.main()
