#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Instructions per operation of ps-bench contestants, counted by callgrind.

    python3 bench/profile.py [-C BUILD] [-n N] [--top K] [ID ...]

ID is ROW:CONTESTANT as `ps-bench --list` prints it (for example
lock-unlock:ps-mutex), or python:CONTESTANT for the Python row
(python:ps-lock-unlock, python:gi-noop-x2, ...) and python-records:CONTESTANT
for the Python record row (python-records:ps-record-64b,
python-records:pickle-shm-1m, ...). Without IDs, the pairs
that issue 5 compares uncontended: PsMutex and its glibc baselines,
PsSemaphore and sem_t.

C contestants run under `valgrind --tool=callgrind
--toggle-collect=profile_collect`, which counts the measured loop and
nothing else (no set-up, no warm-up). The Python ones run twice, with N
and 2N iterations, and the difference is divided by N, which cancels the
interpreter's start-up. Each contestant gets its instructions per
operation and its top functions by self cost per operation, with code
inlined from headers folded into the function it was inlined into.
Instruction counts do not move with the machine's load, unlike timings;
they do not count time spent in the kernel (system calls, sleeping).
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

DEFAULT_IDS = [
    'lock-unlock:ps-mutex',
    'lock-unlock:ps-mutex-recursive',
    'lock-unlock:glibc-robust',
    'lock-unlock:glibc-plain',
    'acquire-release:ps-semaphore',
    'acquire-release:sem-t',
]

LINE = re.compile(r'^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)\s*$')


def function_name(location):
    """'file:function [object]' -> 'function', or 'address (object)'."""
    obj = ''
    m = re.match(r'^(.*?) \[(.*)\]$', location)
    if m:
        location, obj = m.group(1), os.path.basename(m.group(2))
    name = location.rsplit(':', 1)[-1]
    if name.startswith('0x') and obj:
        name = f'{name} ({obj})'
    return name


def self_costs(out_file):
    """Self cost of each function in a callgrind output file, and the total."""
    text = subprocess.run(['callgrind_annotate', '--inclusive=no', '--threshold=100',
                           out_file], check=True, capture_output=True,
                          text=True).stdout
    costs = collections.Counter()
    total = 0
    in_table = False
    for line in text.splitlines():
        if line.rstrip().endswith('file:function'):
            in_table = True
            continue
        m = LINE.match(line)
        if not m:
            if in_table and costs and line.startswith('---'):
                break   # the end of the table, where the annotated sources begin
            continue
        count = int(m.group(1).replace(',', ''))
        if m.group(2) == 'PROGRAM TOTALS':
            total = count
        elif in_table:
            costs[function_name(m.group(2))] += count
    return costs, total


def callgrind(argv, workdir, env, extra=()):
    pattern = os.path.join(workdir, 'callgrind.%p.out')
    for f in os.listdir(workdir):
        os.unlink(os.path.join(workdir, f))
    subprocess.run(['valgrind', '--tool=callgrind', f'--callgrind-out-file={pattern}',
                    *extra, *argv], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # A two-process row leaves one file per process: the peer never enters
    # profile_collect(), so the parent's is the one with counts.
    best = (collections.Counter(), 0)
    for f in os.listdir(workdir):
        result = self_costs(os.path.join(workdir, f))
        if result[1] > best[1]:
            best = result
    return best


def profile_c(build, ident, n, workdir, env):
    argv = [os.path.join(build, 'bench', 'ps-bench'), '--profile', ident, '-n', str(n)]
    costs, total = callgrind(argv, workdir, env, ['--toggle-collect=profile_collect'])
    return {k: v / n for k, v in costs.items()}, total / n


def profile_python(ident, n, workdir, env, python, script, extra=()):
    runs = []
    for count in (n, 2 * n):
        argv = [python, script, *extra, '--profile', ident, '--iterations', str(count)]
        runs.append(callgrind(argv, workdir, env))
    (c1, t1), (c2, t2) = runs
    costs = {k: (c2[k] - c1.get(k, 0)) / n for k in c2}
    return costs, (t2 - t1) / n


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('ids', nargs='*', metavar='ID')
    parser.add_argument('-C', '--build', default=os.path.join(here, '..', '_build'),
                        help='the build directory (default: _build)')
    parser.add_argument('-n', '--iterations', type=int, default=100000)
    parser.add_argument('--top', type=int, default=8)
    args = parser.parse_args()

    env = dict(os.environ)
    libdir = os.path.join(os.path.abspath(args.build), 'procshared')
    for var in ('GI_TYPELIB_PATH', 'LD_LIBRARY_PATH'):
        env[var] = libdir + (':' + env[var] if env.get(var) else '')
    # The Python overrides, from the source tree, as ps-bench and the tests use them.
    overrides = os.path.join(here, '..', 'bindings', 'python')
    if os.path.isdir(overrides):
        env['PYTHONPATH'] = overrides + (':' + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')

    with tempfile.TemporaryDirectory() as workdir:
        for ident in args.ids or DEFAULT_IDS:
            if ident.startswith(('python:', 'python-records:')):
                extra = ['--records'] if ident.startswith('python-records:') else []
                costs, per_op = profile_python(ident.split(':', 1)[1], args.iterations // 10,
                                               workdir, env, sys.executable,
                                               os.path.join(here, 'bench_python.py'), extra)
            else:
                costs, per_op = profile_c(args.build, ident, args.iterations, workdir, env)
            print(f'{ident}: {per_op:,.1f} instructions per operation')
            for name, cost in sorted(costs.items(), key=lambda kv: -kv[1])[:args.top]:
                if cost < 0.05:
                    break
                print(f'    {cost:10,.1f}  {100 * cost / per_op:5.1f}%  {name}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
