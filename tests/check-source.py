#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""House rules of the source tree, checked from the sources themselves.

    check-source.py [--source-root DIR] [--build-root DIR] CHECK [-- CC...]

CHECK is one of:

  private-headers  every *-private.h under procshared/ (found by glob, so
                   new ones are checked too) opens, after `#pragma once`,
                   with the PROCSHARED_COMPILATION guard, and compiling a
                   file that includes it without that define stops at the
                   guard's #error (needs the C compiler after `--`);
  version-macros   a program that includes <procshared/procshared.h> with
                   PS_VERSION_MAX_ALLOWED=PS_VERSION_1_0 builds, and the
                   availability and deprecation macros warn as documented
                   (needs the C compiler after `--` and --build-root);
  source-size      no .c or .h file of procshared/ is over MAX_LINES lines;
  source-layering  no include loop between the units of procshared/: a
                   file's unit is its directory and its name without the
                   extension and a "-private" suffix, so that ps-mutex.c,
                   ps-mutex.h and ps-mutex-private.h are the unit ps-mutex.

Each prints what it finds and exits 1 on a violation (77, skipped, when it
lacks what it needs).
"""

import argparse
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

MAX_LINES = 700
GUARD = [
    '#if !defined(PROCSHARED_COMPILATION)',
    '# error "This is a private header of procshared; include <procshared/procshared.h>"',
    '#endif',
]
GUARD_MESSAGE = 'This is a private header of procshared'
SKIP = 77


def library_files(source_root, extensions=('.c', '.h')):
    """Every file of procshared/, recursively, relative to source_root."""
    found = []
    top = os.path.join(source_root, 'procshared')
    for directory, subdirs, files in os.walk(top):
        subdirs.sort()
        for name in sorted(files):
            if name.endswith(extensions):
                found.append(os.path.relpath(os.path.join(directory, name), source_root))
    return found


def compile_c(cc, source, args=()):
    """Compiles source (C text) to an object; returns (ok, diagnostics)."""
    with tempfile.TemporaryDirectory(prefix='ps-check-source-') as tmp:
        path = os.path.join(tmp, 'probe.c')
        with open(path, 'w') as f:
            f.write(source)
        result = subprocess.run(
            list(cc) + list(args) + ['-c', path, '-o', os.path.join(tmp, 'probe.o')],
            capture_output=True, text=True, timeout=120)
        return result.returncode == 0, result.stdout + result.stderr


def check_private_headers(options):
    if not options.cc:
        print('no C compiler given after --')
        return SKIP
    headers = sorted(glob.glob(os.path.join(options.source_root, 'procshared', '**', '*-private.h'),
                               recursive=True))
    if not headers:
        print('no private header found under procshared/')
        return 1
    failures = 0
    for path in headers:
        name = os.path.relpath(path, options.source_root)
        with open(path) as f:
            text = strip_comments(f.read())
        # Blank lines and comments may come before #pragma once and between
        # it and the guard; nothing else.
        code = [line.rstrip() for line in text.splitlines() if line.strip()]
        if code[:1] != ['#pragma once'] or code[1:4] != GUARD:
            print('FAIL %s: does not open with #pragma once and the guard:\n  %s'
                  % (name, '\n  '.join(GUARD)))
            failures += 1
            continue
        source = '#include "%s"\n' % os.path.abspath(path)
        ok, output = compile_c(options.cc, source, ['-UPROCSHARED_COMPILATION'])
        if ok or GUARD_MESSAGE not in output:
            print('FAIL %s: compiling it without PROCSHARED_COMPILATION did not stop at the guard:\n%s'
                  % (name, output))
            failures += 1
            continue
        # And the guard lets the library through (other errors, such as a
        # backend header of another platform missing its context, are not
        # this check's business).
        ok, output = compile_c(options.cc, source, ['-DPROCSHARED_COMPILATION', '-fsyntax-only'])
        if GUARD_MESSAGE in output:
            print('FAIL %s: the guard fires with PROCSHARED_COMPILATION defined' % name)
            failures += 1
            continue
        print('ok   %s' % name)
    print('%d private headers, %d without a working guard' % (len(headers), failures))
    return 1 if failures else 0


def pkg_config_cflags(*packages):
    try:
        out = subprocess.run(['pkg-config', '--cflags'] + list(packages),
                             capture_output=True, text=True, check=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


def check_version_macros(options):
    if not options.cc or not options.build_root:
        print('needs --build-root and the C compiler after --')
        return SKIP
    cflags = pkg_config_cflags('gio-2.0')
    if cflags is None:
        print('pkg-config --cflags gio-2.0 failed')
        return SKIP
    # The headers as an application sees them: the source tree for the
    # static ones, the build tree for ps-version.h and ps-enums.h, no
    # PROCSHARED_COMPILATION.
    args = cflags + [
        '-I' + options.source_root,
        '-I' + os.path.join(options.source_root, 'procshared'),
        '-I' + options.build_root,
        '-I' + os.path.join(options.build_root, 'procshared'),
        '-UPROCSHARED_COMPILATION',
        '-Werror=deprecated-declarations',
        '-Werror=implicit-function-declaration',
    ]
    program = '''
#include <procshared/procshared.h>

%s

int
main (void)
{
  GError *error = NULL;
  PsSemaphore *semaphore = ps_semaphore_new (1, &error);
  %s
  g_assert_no_error (error);
  g_clear_object (&semaphore);
  return 0;
}
'''
    cases = [
        # (what, defines, declaration, call, expected to build)
        ('1.0 API with PS_VERSION_MAX_ALLOWED=PS_VERSION_1_0',
         ['-DPS_VERSION_MIN_REQUIRED=PS_VERSION_1_0', '-DPS_VERSION_MAX_ALLOWED=PS_VERSION_1_0'], '', '', True),
        ('1.0 API with PS_VERSION_MIN_REQUIRED=PS_VERSION_1_0',
         ['-DPS_VERSION_MIN_REQUIRED=PS_VERSION_1_0'], '', '', True),
        ('a PS_AVAILABLE_IN_1_0 symbol with PS_VERSION_MAX_ALLOWED=PS_VERSION_1_0',
         ['-DPS_VERSION_MIN_REQUIRED=PS_VERSION_1_0', '-DPS_VERSION_MAX_ALLOWED=PS_VERSION_1_0'],
         'PS_AVAILABLE_IN_1_0 void ps_probe (void);', 'if (0) ps_probe ();', True),
        ('a PS_AVAILABLE_IN_1_1 symbol with PS_VERSION_MAX_ALLOWED=PS_VERSION_1_0 (must warn)',
         ['-DPS_VERSION_MIN_REQUIRED=PS_VERSION_1_0', '-DPS_VERSION_MAX_ALLOWED=PS_VERSION_1_0'],
         'PS_AVAILABLE_IN_1_1 void ps_probe (void);', 'if (0) ps_probe ();', False),
        ('a PS_AVAILABLE_IN_1_1 symbol with PS_VERSION_MAX_ALLOWED=PS_VERSION_1_1',
         ['-DPS_VERSION_MAX_ALLOWED=PS_VERSION_1_1'],
         'PS_AVAILABLE_IN_1_1 void ps_probe (void);', 'if (0) ps_probe ();', True),
        ('a PS_AVAILABLE_IN_1_1 symbol with PS_DISABLE_DEPRECATION_WARNINGS',
         ['-DPS_VERSION_MIN_REQUIRED=PS_VERSION_1_0', '-DPS_VERSION_MAX_ALLOWED=PS_VERSION_1_0', '-DPS_DISABLE_DEPRECATION_WARNINGS'],
         'PS_AVAILABLE_IN_1_1 void ps_probe (void);', 'if (0) ps_probe ();', True),
        ('a PS_DEPRECATED_IN_1_0_FOR symbol (must warn)',
         [], 'PS_DEPRECATED_IN_1_0_FOR (ps_semaphore_new) void ps_probe (void);',
         'if (0) ps_probe ();', False),
        ('a PS_DEPRECATED_IN_1_1 symbol with PS_VERSION_MIN_REQUIRED=PS_VERSION_1_0',
         ['-DPS_VERSION_MIN_REQUIRED=PS_VERSION_1_0'],
         'PS_DEPRECATED_IN_1_1 void ps_probe (void);', 'if (0) ps_probe ();', True),
        ('a PS_DEPRECATED_IN_1_1 symbol with PS_VERSION_MIN_REQUIRED=PS_VERSION_1_1 (must warn)',
         ['-DPS_VERSION_MIN_REQUIRED=PS_VERSION_1_1'],
         'PS_DEPRECATED_IN_1_1 void ps_probe (void);', 'if (0) ps_probe ();', False),
        ('a PS_DEPRECATED symbol with PS_DISABLE_DEPRECATION_WARNINGS',
         ['-DPS_DISABLE_DEPRECATION_WARNINGS'],
         'PS_DEPRECATED void ps_probe (void);', 'if (0) ps_probe ();', True),
    ]
    failures = 0
    for what, defines, declaration, call, expected in cases:
        ok, output = compile_c(options.cc, program % (declaration, call), args + defines)
        if ok != expected or (not ok and 'deprecated' not in output):
            print('FAIL %s: %s\n%s' % (what, 'built' if ok else 'did not build', output))
            failures += 1
        else:
            print('ok   %s' % what)
    return 1 if failures else 0


def check_source_size(options):
    failures = 0
    files = library_files(options.source_root)
    for name in files:
        with open(os.path.join(options.source_root, name), 'rb') as f:
            count = sum(1 for _ in f)
        if count > MAX_LINES:
            print('FAIL %s: %d lines (at most %d)' % (name, count, MAX_LINES))
            failures += 1
    print('%d files, %d over %d lines' % (len(files), failures, MAX_LINES))
    return 1 if failures else 0


INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)


def unit_of(name):
    """procshared/ps-mutex-private.h -> procshared/ps-mutex"""
    stem = os.path.splitext(name)[0]
    if stem.endswith('-private'):
        stem = stem[:-len('-private')]
    return stem


def strip_comments(text):
    return re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'), text, flags=re.S)


def include_graph(source_root):
    """{file: [(included file, line)]} between files of procshared/.

    An include resolves to the file beside the includer, else to every
    file of that name under procshared/ (the backend's ps-backend-types.h
    is one per backend directory: all of them), else to a path from the
    top of the tree (<procshared/ps-foo.h>). Generated headers (ps-enums.h,
    ps-version.h) and system headers resolve to nothing. Includes under
    #if count as well: a loop on any platform is a loop.
    """
    files = library_files(source_root)
    by_name = {}
    for name in files:
        by_name.setdefault(os.path.basename(name), []).append(name)
    graph = {}
    for name in files:
        with open(os.path.join(source_root, name)) as f:
            text = strip_comments(f.read())
        edges = []
        for match in INCLUDE.finditer(text):
            target = match.group(2)
            line = text.count('\n', 0, match.start()) + 1
            beside = os.path.normpath(os.path.join(os.path.dirname(name), target))
            if beside in files:
                resolved = [beside]
            elif os.path.normpath(target) in files:
                resolved = [os.path.normpath(target)]
            else:
                resolved = by_name.get(os.path.basename(target), [])
            edges.extend((r, line) for r in resolved if r != name)
        graph[name] = edges
    return graph


def strongly_connected(nodes, successors):
    """Tarjan's algorithm, iterative; components in no particular order."""
    index = {}
    low = {}
    stack = []
    on_stack = set()
    components = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(successors(root)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors(child))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def check_source_layering(options):
    graph = include_graph(options.source_root)
    # unit -> {unit: [evidence]}
    units = {}
    for name, edges in graph.items():
        units.setdefault(unit_of(name), {})
        for target, line in edges:
            a, b = unit_of(name), unit_of(target)
            if a != b:
                units[a].setdefault(b, []).append('%s:%d includes %s' % (name, line, target))
    components = [c for c in strongly_connected(sorted(units), lambda u: sorted(units[u]))
                  if len(c) > 1]
    for component in sorted(components):
        members = set(component)
        print('FAIL include loop between %d units: %s' % (len(component), ', '.join(component)))
        # One shortest cycle through the first unit, with its evidence.
        start = component[0]
        previous = {start: None}
        queue = [start]
        end = None
        while queue and end is None:
            unit = queue.pop(0)
            for child in sorted(units[unit]):
                if child not in members:
                    continue
                if child == start:
                    end = unit
                    break
                if child not in previous:
                    previous[child] = unit
                    queue.append(child)
        cycle = [end]
        while previous[cycle[-1]] is not None:
            cycle.append(previous[cycle[-1]])
        cycle.reverse()
        cycle.append(start)
        print('  cycle: %s' % ' -> '.join(cycle))
        for a, b in zip(cycle, cycle[1:]):
            for evidence in units[a][b]:
                print('    %s' % evidence)
        # Every edge inside the component, for whoever breaks it.
        print('  all includes inside the loop:')
        for a in component:
            for b in sorted(units[a]):
                if b in members:
                    for evidence in units[a][b]:
                        print('    %s' % evidence)
    print('%d units, %d include loops' % (len(units), len(components)))
    return 1 if components else 0


CHECKS = {
    'private-headers': check_private_headers,
    'version-macros': check_version_macros,
    'source-size': check_source_size,
    'source-layering': check_source_layering,
}


def main(argv):
    cc = []
    if '--' in argv:
        cut = argv.index('--')
        argv, cc = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--source-root',
                        default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument('--build-root', default=os.environ.get('PS_BUILD_ROOT'))
    parser.add_argument('check', choices=sorted(CHECKS))
    options = parser.parse_args(argv)
    options.cc = cc
    return CHECKS[options.check](options)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
