# SPDX-License-Identifier: LGPL-2.1-or-later
"""The procshared command-line tool, driven as a user would: every
subcommand, its human and JSON output, and the exact exit status and
stderr line of every error, against objects made by the tool itself, by
a Python peer (holder.py, through PyGObject) and by hand-crafted files.

Every process a test starts is killed and reaped when the test ends,
every wait is bounded, and every name in /dev/shm is unique to this run
and removed at the end.
"""

import grp
import itertools
import json
import os
import pwd
import queue
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True

try:
    import gi
    gi.require_version('Ps', '1')
    from gi.repository import Ps  # noqa: E402
    HAVE_GI = True
except (ImportError, ValueError):
    HAVE_GI = False

TOOL = os.environ['PROCSHARED_TOOL']
TOOL_SRCDIR = os.environ['PROCSHARED_TOOL_SRCDIR']
BACKEND = os.environ.get('PS_TEST_BACKEND', 'futex')
BACKEND_ID = {'futex': 1, 'posix': 2, 'darwin': 3}[BACKEND]
HOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'holder.py')
PYTHON = sys.executable

TIME_SCALE = float(os.environ.get('PS_TEST_TIME_SCALE', '1'))
# Generous bounds for things that must happen at all; never about speed.
LONG_S = 20.0 * TIME_SCALE

SHM = '/dev/shm'
MAGIC = 0x4f425350
READY = 0x52454459
TYPE_SHM, TYPE_SEMAPHORE, TYPE_MUTEX, TYPE_COND = 1, 2, 3, 4
STATE_SIZE = 224
SYNC_FILE_SIZE = 256
SHM_DATA_OFFSET = 64
UNBOUNDED = 2147483647

OK, USAGE, NOT_FOUND, NOT_USABLE, PERMISSION, TIMED_OUT = 0, 1, 2, 3, 4, 5
OWNER_DEAD, EXISTS, NOT_RECOVERABLE, OVERFLOW, FAILED = 6, 7, 8, 9, 10
CANNOT_EXECUTE, COMMAND_NOT_FOUND = 126, 127
BROKEN = 11
TOO_LARGE = 12

NOBODY_UID = 65534
COMMANDS = ['list', 'info', 'create', 'unlink', 'lock', 'acquire', 'release', 'event', 'barrier',
            'send', 'receive']

_counter = itertools.count()


def header(magic=MAGIC, layout=1, type_=TYPE_MUTEX, backend=BACKEND_ID, ready=READY,
           payload=STATE_SIZE):
    return struct.pack('<IHBBIIQQ', magic, layout, type_, backend, ready, 0, payload, 0)


def path_of(name):
    return SHM + name


def remove_path(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def nobody_can_run():
    return os.geteuid() == 0 and shutil.which('setpriv') is not None


class Result:
    def __init__(self, returncode, out, err):
        self.returncode = returncode
        self.out = out
        self.err = err

    def __repr__(self):
        return 'Result(%d, out=%r, err=%r)' % (self.returncode, self.out, self.err)


class Process:
    """A started process whose stdout is read line by line, with bounds."""

    def __init__(self, test, args, **kwargs):
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1, **kwargs)
        self.pid = self.proc.pid
        self.lines = queue.Queue()
        self.err_lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()
        test.addCleanup(self.kill)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_err(self):
        for line in self.proc.stderr:
            self.err_lines.append(line)

    def readline(self, timeout=LONG_S):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError('no output from %r within %.0f s' % (self.proc.args, timeout))
        if line is None:
            raise AssertionError('%r ended its output early' % (self.proc.args,))
        return line.rstrip('\n')

    def has_line_within(self, seconds):
        try:
            line = self.lines.get(timeout=seconds)
        except queue.Empty:
            return None
        return line

    def write(self, text):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def wait(self, timeout=LONG_S):
        returncode = self.proc.wait(timeout)
        self.reader.join(timeout)
        self.err_reader.join(timeout)
        return returncode

    def stderr(self):
        return ''.join(self.err_lines)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(LONG_S)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


class ToolTestCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.prefix = '/ps-tool-test-%d-' % os.getpid()

    # names and files ---------------------------------------------------

    def name(self, tag):
        name = '%s%s-%d' % (self.prefix, tag, next(_counter))
        self.addCleanup(remove_path, path_of(name))
        return name

    def craft(self, tag, data):
        name = self.name(tag)
        with open(path_of(name), 'wb') as f:
            f.write(data)
        os.chmod(path_of(name), 0o600)
        return name

    def snapshot(self, name):
        st = os.lstat(path_of(name))
        if stat.S_ISREG(st.st_mode):
            with open(path_of(name), 'rb') as f:
                data = f.read()
        else:
            data = None
        return (data, st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    # running the tool ----------------------------------------------------

    def tool(self, *args, input=None, as_nobody=False, env=None):
        command = [TOOL] + list(args)
        if as_nobody:
            command = ['setpriv', '--reuid=%d' % NOBODY_UID, '--regid=%d' % NOBODY_UID,
                       '--clear-groups', '--'] + command
        completed = subprocess.run(command, input=input, capture_output=True, text=True,
                                   timeout=LONG_S, env=env)
        return Result(completed.returncode, completed.stdout, completed.stderr)

    def assertOk(self, result, out=''):
        self.assertEqual((result.returncode, result.err), (OK, ''), result)
        if out is not None:
            self.assertEqual(result.out, out)

    def assertFails(self, result, status, line):
        """Exactly one line on stderr, nothing on stdout, the status."""
        self.assertEqual((result.returncode, result.out, result.err),
                         (status, '', 'procshared: %s\n' % line))

    def start_tool(self, *args, **kwargs):
        return Process(self, [TOOL] + list(args), **kwargs)

    def holder(self, *args):
        if not HAVE_GI:
            self.skipTest('PyGObject with the Ps typelib is not available')
        return Process(self, [PYTHON, HOLDER] + list(args))

    def holder_in_pid_namespace(self, *args):
        """A holder that is PID 1 of a PID namespace of its own, sharing
        /dev/shm with the test, as a container of the same pod would."""
        if not HAVE_GI:
            self.skipTest('PyGObject with the Ps typelib is not available')
        unshare = shutil.which('unshare')
        if unshare is None:
            self.skipTest('unshare(1) is not installed')
        probe = subprocess.run([unshare, '--pid', '--fork', 'true'], capture_output=True,
                               text=True, timeout=LONG_S)
        if probe.returncode != 0:
            reason = 'the kernel refused a PID namespace: %s' % probe.stderr.strip()
            print(reason, file=sys.stderr)
            self.skipTest(reason)
        return Process(self, [unshare, '--pid', '--fork', '--kill-child', PYTHON, HOLDER]
                       + list(args))

    def info(self, name):
        result = self.tool('info', '--json', name)
        self.assertOk(result, out=None)
        return json.loads(result.out)

    def listed(self, *args, as_nobody=False):
        result = self.tool('list', '--json', *args, as_nobody=as_nobody)
        self.assertOk(result, out=None)
        entries = json.loads(result.out)
        self.assertIsInstance(entries, list)
        names = [e['name'] for e in entries]
        self.assertEqual(names, sorted(names))
        return {e['name']: e for e in entries if e['name'].startswith(self.prefix)}

    def human_rows(self, *args):
        result = self.tool('list', *args)
        self.assertOk(result, out=None)
        lines = result.out.splitlines()
        self.assertRegex(lines[0], r'^NAME +TYPE +SIZE  OWNER +MODE  STATE$')
        rows = {}
        for line in lines[1:]:
            fields = line.split(None, 5)
            if fields[0].startswith(self.prefix):
                rows[fields[0]] = fields[1:]
        return rows

    def expected_entry(self, name, type_, state, kind='object', file_size=SYNC_FILE_SIZE,
                       mode='0600', detail=None, layout=1, backend=BACKEND):
        uid, gid = os.geteuid(), os.getegid()
        return {
            'name': name, 'kind': kind, 'type': type_, 'file_size': file_size,
            'uid': uid, 'user': user_name(uid), 'gid': gid, 'group': group_name(gid),
            'mode': mode, 'layout_version': layout, 'backend': backend,
            'detail': detail, 'state': state,
        }

    def wait_for(self, predicate, what):
        deadline = time.monotonic() + LONG_S
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError('%s did not happen within %.0f s' % (what, LONG_S))
            time.sleep(0.01)

    def wait_until_waiting(self, process):
        """Until the tool's signal thread runs: its signal handlers are in
        place, so a signal interrupts the wait instead of killing it."""
        def has_signal_thread():
            task_dir = '/proc/%d/task' % process.pid
            try:
                tasks = os.listdir(task_dir)
            except FileNotFoundError:
                return False
            for task in tasks:
                try:
                    with open(os.path.join(task_dir, task, 'comm')) as f:
                        if f.read().strip() == 'ps-signals':
                            return True
                except FileNotFoundError:
                    pass
            return False
        self.wait_for(has_signal_thread, 'the tool waiting')

    def kill_holder(self, holder):
        """SIGKILL a holder and reap it: its locks are released by death."""
        os.kill(holder.pid, signal.SIGKILL)
        self.assertEqual(holder.wait(), -signal.SIGKILL)


# ---------------------------------------------------------------------------

class Usage(ToolTestCase):
    def test_no_arguments(self):
        result = self.tool()
        self.assertEqual((result.returncode, result.out), (USAGE, ''))
        self.assertTrue(result.err.startswith('Usage:\n  procshared COMMAND'), result.err)

    def test_help(self):
        for args in (['--help'], ['help'], ['-h']):
            result = self.tool(*args)
            self.assertOk(result, out=None)
            for command in COMMANDS:
                self.assertRegex(result.out, r'\n  %s +\S' % command)
            self.assertIn('\nExit status:\n', result.out)

    def test_help_of_every_command(self):
        for command in COMMANDS:
            result = self.tool(command, '--help')
            self.assertOk(result, out=None)
            self.assertTrue(result.out.startswith('Usage:\n  procshared %s [OPTION…]' % command),
                            result.out)
            self.assertIn('\nExit status:\n', result.out)
            self.assertEqual(self.tool('help', command).out, result.out)
        self.assertFails(self.tool('help', 'frob'), USAGE, 'help: unknown command “frob”')

    def test_exit_statuses_documented_alike(self):
        """--help and the man page list the same exit statuses, and every
        status the tool uses is among them."""
        help_text = self.tool('--help').out.split('Exit status:\n')[1]
        in_help = set(int(n) for n in re.findall(r'^  (\d+) ', help_text, re.M))
        with open(os.path.join(TOOL_SRCDIR, 'procshared.1')) as f:
            page = f.read()
        section = page.split('.SH "EXIT STATUS"')[1].split('.SH ')[0]
        in_page = set(int(n) for n in re.findall(r'^\.B (\d+)$', section, re.M))
        used = {OK, USAGE, NOT_FOUND, NOT_USABLE, PERMISSION, TIMED_OUT, OWNER_DEAD, EXISTS,
                NOT_RECOVERABLE, OVERFLOW, FAILED, CANNOT_EXECUTE, COMMAND_NOT_FOUND, BROKEN,
                TOO_LARGE}
        self.assertEqual(in_help, used)
        self.assertEqual(in_page, used)

    def test_version(self):
        result = self.tool('--version')
        self.assertOk(result, out=None)
        self.assertRegex(result.out, r'^procshared \d+\.\d+\.\d+ \(backend %s\)\n$' % BACKEND)

    def test_unknown_command_and_option(self):
        self.assertFails(self.tool('frob'), USAGE, 'unknown command “frob” (see procshared --help)')
        self.assertFails(self.tool('list', '--frob'), USAGE,
                         'list: Unknown option --frob (see procshared list --help)')

    def test_missing_and_extra_arguments(self):
        name = self.name('args')
        cases = [
            (['info'], 'info: missing NAME (see procshared info --help)'),
            (['info', name, 'x'], 'info: unexpected argument “x”'),
            (['list', 'x'], 'list: unexpected argument “x”'),
            (['create'], 'create: missing TYPE and NAME (see procshared create --help)'),
            (['create', 'mutex'], 'create: missing NAME (see procshared create --help)'),
            (['create', 'mutex', name, 'x'], 'create: unexpected argument “x”'),
            (['unlink'], 'unlink: missing NAME (see procshared unlink --help)'),
            (['lock'], 'lock: missing NAME (see procshared lock --help)'),
            (['lock', name], 'lock: missing COMMAND (see procshared lock --help)'),
            (['lock', name, '--'], 'lock: missing COMMAND (see procshared lock --help)'),
            (['acquire'], 'acquire: missing NAME (see procshared acquire --help)'),
            (['acquire', name, 'x'], 'acquire: unexpected argument “x”'),
            (['release'], 'release: missing NAME (see procshared release --help)'),
            (['release', name, 'x'], 'release: unexpected argument “x”'),
        ]
        for args, line in cases:
            with self.subTest(args=args):
                self.assertFails(self.tool(*args), USAGE, line)
        self.assertFalse(os.path.lexists(path_of(name)))

    def test_invalid_names(self):
        cases = [
            (['info', 'nope'], 'nope: The name “nope” does not start with “/”'),
            (['create', 'mutex', '/a b'], '/a b: The name “/a b” has a character outside '
                                          '[A-Za-z0-9._-] at position 2'),
            (['unlink', '/'], '/: The name “/” must have 1 to 200 characters after the “/”'),
            (['lock', '/..', '--', 'true'], '/..: The name “/..” is not allowed'),
            (['acquire', 'x'], 'x: The name “x” does not start with “/”'),
            (['release', 'x'], 'x: The name “x” does not start with “/”'),
        ]
        for args, line in cases:
            with self.subTest(args=args):
                self.assertFails(self.tool(*args), USAGE, line)

    def test_bad_values(self):
        name = self.name('values')
        cases = [
            (['create', 'frob', name],
             'create: unknown type “frob”: use mutex, recursive-mutex, semaphore, cond, rwlock, shm, event, '
             'barrier or queue'),
            (['create', 'semaphore', name, '--value', 'x'],
             'create: --value: “x” is not a whole number from 0 to 2147483647'),
            (['create', 'semaphore', name, '--value', '-1'],
             'create: --value: “-1” is not a whole number from 0 to 2147483647'),
            (['create', 'semaphore', name, '--value', '2147483648'],
             'create: --value: “2147483648” is not a whole number from 0 to 2147483647'),
            (['create', 'semaphore', name, '--max', '0'], 'create: --max: the maximum must be at least 1'),
            (['create', 'semaphore', name, '--value', '5', '--max', '2'],
             'create: --value: 5 is larger than --max 2'),
            (['create', 'shm', name], 'create: shm needs --size'),
            (['create', 'shm', name, '--size', '0'],
             'create: --size: “0” is not a size in bytes (at least 1, with an optional K, M, G or T suffix)'),
            (['create', 'shm', name, '--size', '12Q'],
             'create: --size: “12Q” is not a size in bytes (at least 1, with an optional K, M, G or T suffix)'),
            (['create', 'shm', name, '--size', 'K'],
             'create: --size: “K” is not a size in bytes (at least 1, with an optional K, M, G or T suffix)'),
            (['create', 'mutex', name, '--mode', '999'], 'create: --mode: “999” is not an octal mode from 0 to 0777'),
            (['create', 'mutex', name, '--mode', '1777'], 'create: --mode: “1777” is not an octal mode from 0 to 0777'),
            (['create', 'mutex', name, '--value', '1'], 'create: --value applies to semaphores only'),
            (['create', 'cond', name, '--max', '1'], 'create: --max applies to semaphores only'),
            (['create', 'mutex', name, '--size', '1'], 'create: --size applies to shm only'),
            (['lock', '--timeout', '-1', name, '--', 'true'],
             'lock: --timeout: “-1” is not a number of seconds from 0 to 1000000000000'),
            (['lock', '--timeout', 'abc', name, '--', 'true'],
             'lock: --timeout: “abc” is not a number of seconds from 0 to 1000000000000'),
            (['lock', '--timeout', 'nan', name, '--', 'true'],
             'lock: --timeout: “nan” is not a number of seconds from 0 to 1000000000000'),
            (['lock', '--mode', '0600', name, '--', 'true'], 'lock: --mode applies with --create only'),
            (['acquire', '--timeout', '', name], 'acquire: --timeout: “” is not a number of seconds from 0 to 1000000000000'),
            (['acquire', '--value', '1', name], 'acquire: --value applies with --create only'),
            (['acquire', '--max', '1', name], 'acquire: --max applies with --create only'),
            (['acquire', '--mode', '0600', name], 'acquire: --mode applies with --create only'),
            (['acquire', '--create', '--value', '3', '--max', '2', name],
             'acquire: --value: 3 is larger than --max 2'),
        ]
        for args, line in cases:
            with self.subTest(args=args):
                self.assertFails(self.tool(*args), USAGE, line)
        self.assertFalse(os.path.lexists(path_of(name)))


class Create(ToolTestCase):
    def test_every_type(self):
        names = {t: self.name('create-' + t) for t in
                 ('mutex', 'recursive-mutex', 'semaphore', 'cond', 'shm')}
        self.assertOk(self.tool('create', 'mutex', names['mutex']))
        self.assertOk(self.tool('create', 'recursive-mutex', names['recursive-mutex'], '--mode', '640'))
        self.assertOk(self.tool('create', 'semaphore', names['semaphore'], '--value', '2', '--max', '5'))
        self.assertOk(self.tool('create', 'cond', names['cond'], '--mode', '0666'))
        self.assertOk(self.tool('create', 'shm', names['shm'], '--size', '4K', '--mode', '0640'))

        mutex_state = {'recursive': False, 'held': False, 'owner_pid': None, 'owner_alive': None}
        self.assertEqual(self.info(names['mutex']),
                         self.expected_entry(names['mutex'], 'mutex', mutex_state))
        self.assertEqual(self.info(names['recursive-mutex']),
                         self.expected_entry(names['recursive-mutex'], 'mutex',
                                             dict(mutex_state, recursive=True), mode='0640'))
        self.assertEqual(self.info(names['semaphore']),
                         self.expected_entry(names['semaphore'], 'semaphore',
                                             {'value': 2, 'max_value': 5, 'bounded': True}))
        self.assertEqual(self.info(names['cond']),
                         self.expected_entry(names['cond'], 'cond', {'waiters': 0}, mode='0666'))
        self.assertEqual(self.info(names['shm']),
                         self.expected_entry(names['shm'], 'shm', {'size': 4096}, mode='0640',
                                             file_size=SHM_DATA_OFFSET + 4096))

        # The mode asked for is the mode given, whatever the umask.
        modes = {t: stat.S_IMODE(os.stat(path_of(n)).st_mode) for t, n in names.items()}
        self.assertEqual(modes, {'mutex': 0o600, 'recursive-mutex': 0o640, 'semaphore': 0o600,
                                 'cond': 0o666, 'shm': 0o640})

    def test_sizes_and_defaults(self):
        for text, size in (('1', 1), ('2k', 2048), ('1M', 1 << 20)):
            name = self.name('size')
            self.assertOk(self.tool('create', 'shm', name, '--size', text))
            self.assertEqual(self.info(name)['state'], {'size': size})
        name = self.name('default-semaphore')
        self.assertOk(self.tool('create', 'semaphore', name))
        self.assertEqual(self.info(name)['state'],
                         {'value': 0, 'max_value': UNBOUNDED, 'bounded': False})

    def test_exists(self):
        name = self.name('exists')
        self.assertOk(self.tool('create', 'semaphore', name, '--value', '2'))
        before = self.snapshot(name)
        for args in (['semaphore', name, '--value', '7'], ['mutex', name],
                     ['shm', name, '--size', '10']):
            self.assertFails(self.tool('create', *args), EXISTS, '%s: already exists' % name)
        self.assertEqual(self.snapshot(name), before)

        foreign = self.craft('exists-foreign', b'not ours' * 100)
        before = self.snapshot(foreign)
        self.assertFails(self.tool('create', 'mutex', foreign), EXISTS, '%s: already exists' % foreign)
        self.assertEqual(self.snapshot(foreign), before)


class List(ToolTestCase):
    def test_objects_json_and_table(self):
        mutex, semaphore, cond, memory = (self.name(t) for t in ('m', 's', 'c', 'shm'))
        self.assertOk(self.tool('create', 'recursive-mutex', mutex))
        self.assertOk(self.tool('create', 'semaphore', semaphore, '--value', '3'))
        self.assertOk(self.tool('create', 'cond', cond, '--mode', '0644'))
        self.assertOk(self.tool('create', 'shm', memory, '--size', '100'))

        listed = self.listed()
        self.assertEqual(listed, {
            mutex: self.expected_entry(mutex, 'mutex', {'recursive': True, 'held': False,
                                                        'owner_pid': None, 'owner_alive': None}),
            semaphore: self.expected_entry(semaphore, 'semaphore',
                                           {'value': 3, 'max_value': UNBOUNDED, 'bounded': False}),
            cond: self.expected_entry(cond, 'cond', {'waiters': 0}, mode='0644'),
            memory: self.expected_entry(memory, 'shm', {'size': 100}, file_size=SHM_DATA_OFFSET + 100),
        })
        self.assertEqual(self.listed('--all'), listed)

        owner = user_name(os.geteuid())
        self.assertEqual(self.human_rows(), {
            mutex: ['recursive-mutex', '256', owner, '0600', 'free'],
            semaphore: ['semaphore', '256', owner, '0600', 'value 3, unbounded'],
            cond: ['cond', '256', owner, '0644', 'no waiters'],
            memory: ['shm', '164', owner, '0600', '100 bytes of data'],
        })

    def test_holder_alive_then_dead(self):
        name = self.name('held')
        self.assertOk(self.tool('create', 'mutex', name))
        holder = self.holder('hold', name)
        self.assertEqual(holder.readline(), 'locked %d' % holder.pid)

        state = {'recursive': False, 'held': True, 'owner_pid': holder.pid, 'owner_alive': True}
        self.assertEqual(self.listed()[name]['state'], state)
        self.assertEqual(self.human_rows()[name][4], 'held by pid %d (alive)' % holder.pid)

        self.kill_holder(holder)
        state['owner_alive'] = False
        self.assertEqual(self.listed()[name]['state'], state)
        self.assertEqual(self.info(name)['state'], state)
        self.assertEqual(self.human_rows()[name][4], 'held by pid %d (dead)' % holder.pid)
        info = self.tool('info', name).out
        self.assertIn('\nstate:        held by pid %d (dead)\n' % holder.pid, info)
        self.assertIn('\nholder pid:   %d\nholder alive: no\n' % holder.pid, info)

    def test_holder_in_other_pid_namespace(self):
        """PID 1 of another namespace is not this namespace's init: info
        says where the holder is instead of probing a pid of its own."""
        name = self.name('pidns')
        holder = self.holder_in_pid_namespace('hold-new', name)
        self.assertEqual(holder.readline(), 'locked 1')

        self.assertEqual(self.info(name)['state'], {
            'recursive': False, 'held': True, 'other_pid_namespace': True,
            'owner_pid': 1, 'owner_alive': None})
        self.assertEqual(self.human_rows()[name][4],
                         'held in another PID namespace (pid 1 there, not a pid here)')
        info = self.tool('info', name).out
        self.assertIn('\nstate:        held in another PID namespace (pid 1 there, '
                      'not a pid here)\n', info)
        self.assertIn('\nholder pid:   1 (in its PID namespace)\n'
                      'holder alive: unknown (another PID namespace)\n', info)
        # Nor can it be locked from here.
        result = self.tool('lock', '--timeout', '0', name, '--', 'true')
        self.assertEqual((result.returncode, result.out), (NOT_USABLE, ''))
        self.assertIn('created in another PID namespace', result.err)

        holder.write('\n')
        self.assertEqual(holder.readline(), 'unlocked')
        self.assertEqual(self.info(name)['state'], {
            'recursive': False, 'held': False, 'other_pid_namespace': True,
            'owner_pid': None, 'owner_alive': None})
        self.assertEqual(self.human_rows()[name][4], 'free, of another PID namespace')
        holder.write('\n')
        self.assertEqual(holder.wait(), 0)

    def test_zombie_holder_counts_as_dead(self):
        name = self.name('zombie')
        self.assertOk(self.tool('create', 'mutex', name))
        holder = self.holder('hold', name)
        self.assertEqual(holder.readline(), 'locked %d' % holder.pid)
        os.kill(holder.pid, signal.SIGKILL)

        def is_zombie():
            with open('/proc/%d/stat' % holder.pid) as f:
                return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
        # Not reaped yet: it still answers kill(pid, 0).
        self.wait_for(is_zombie, 'the holder becoming a zombie')
        self.assertEqual(self.info(name)['state']['owner_alive'], False)
        self.assertEqual(holder.wait(), -signal.SIGKILL)

    def test_foreign_files_only_with_all(self):
        noise = bytearray(os.urandom(1000))
        noise[0:4] = b'JUNK'
        foreign = self.craft('foreign', bytes(noise))
        empty = self.craft('empty', b'')
        zeros = self.craft('zeros', bytes(SYNC_FILE_SIZE))
        target = self.name('target')
        self.assertOk(self.tool('create', 'mutex', target))
        link = self.name('link')
        os.symlink(path_of(target), path_of(link))
        fifo = self.name('fifo')
        os.mkfifo(path_of(fifo), 0o600)
        directory = self.name('dir')
        os.mkdir(path_of(directory), 0o700)

        listed = self.listed()
        self.assertEqual(sorted(listed), [target])

        listed = self.listed('--all')
        self.assertEqual(sorted(listed), sorted([foreign, empty, zeros, target, link, fifo, directory]))

        def foreign_entry(name, size, detail, kind='foreign', mode='0600'):
            return self.expected_entry(name, None, None, kind=kind, file_size=size, mode=mode,
                                       detail=detail, layout=None, backend=None)
        self.assertEqual(listed[foreign], foreign_entry(foreign, 1000, 'not a procshared object'))
        self.assertEqual(listed[empty], foreign_entry(
            empty, 0, 'an empty file: being created, or not a procshared object', kind='blank'))
        self.assertEqual(listed[zeros], foreign_entry(
            zeros, SYNC_FILE_SIZE, 'a zero-filled header: being created, or not a procshared object',
            kind='blank'))
        # The link itself, never what it points to.
        link_entry = listed[link]
        self.assertEqual((link_entry['kind'], link_entry['type'], link_entry['detail'], link_entry['state']),
                         ('foreign', None, 'a symbolic link', None))
        self.assertEqual(listed[fifo], foreign_entry(fifo, 0, 'a named pipe'))
        self.assertEqual(listed[directory]['detail'], 'a directory')

        rows = self.human_rows('--all')
        self.assertEqual(rows[foreign][0], '-')
        self.assertEqual(rows[foreign][4], 'foreign: not a procshared object')
        self.assertEqual(rows[fifo][4], 'foreign: a named pipe')
        self.assertEqual(rows[empty][4], 'blank: an empty file: being created, or not a procshared object')

    def test_ours_but_not_usable_are_listed(self):
        truncated = self.name('truncated')
        self.assertOk(self.tool('create', 'semaphore', truncated))
        os.truncate(path_of(truncated), 16)
        unfinished = self.craft('unfinished', header(type_=TYPE_SEMAPHORE, ready=0) + bytes(STATE_SIZE))
        incompatible = self.craft('incompatible', header(layout=2, type_=TYPE_COND) + bytes(STATE_SIZE))
        other_backend = self.craft('other-backend',
                                   header(backend=BACKEND_ID % 3 + 1) + bytes(STATE_SIZE))
        unknown_type = self.craft('unknown-type', header(type_=9) + bytes(STATE_SIZE))

        listed = self.listed()
        self.assertEqual(listed[truncated], self.expected_entry(
            truncated, None, None, kind='corrupt', file_size=16, layout=None, backend=None,
            detail='truncated to 16 bytes, shorter than the 32-byte object header'))
        self.assertEqual(listed[unfinished], self.expected_entry(
            unfinished, 'semaphore', None, kind='unfinished', detail='being created, or its creator died'))
        self.assertEqual(listed[incompatible], self.expected_entry(
            incompatible, 'cond', None, kind='incompatible', layout=2,
            detail='made by an incompatible procshared (layout 2, backend %s; this one uses layout 1, '
                   'backend %s)' % (BACKEND, BACKEND)))
        other = {1: 'futex', 2: 'posix', 3: 'darwin'}[BACKEND_ID % 3 + 1]
        self.assertEqual(listed[other_backend], self.expected_entry(
            other_backend, 'mutex', None, kind='incompatible', backend=other,
            detail='made by an incompatible procshared (layout 1, backend %s; this one uses layout 1, '
                   'backend %s)' % (other, BACKEND)))
        self.assertEqual(listed[unknown_type], self.expected_entry(
            unknown_type, None, None, kind='corrupt', detail='unknown object type 9'))

        rows = self.human_rows()
        self.assertEqual(rows[unfinished], ['semaphore', '256', user_name(os.geteuid()), '0600',
                                            'unfinished: being created, or its creator died'])
        self.assertEqual(rows[truncated][0], '-')

    def test_looking_changes_nothing(self):
        mutex, semaphore, cond, memory = (self.name(t) for t in ('m', 's', 'c', 'shm'))
        self.assertOk(self.tool('create', 'mutex', mutex))
        self.assertOk(self.tool('create', 'semaphore', semaphore, '--value', '1', '--max', '1'))
        self.assertOk(self.tool('create', 'cond', cond))
        self.assertOk(self.tool('create', 'shm', memory, '--size', '64'))
        unfinished = self.craft('unfinished', header(ready=0) + bytes(STATE_SIZE))
        holder = self.holder('hold', mutex)
        self.assertEqual(holder.readline(), 'locked %d' % holder.pid)

        names = [mutex, semaphore, cond, memory, unfinished]
        before = {n: self.snapshot(n) for n in names}
        time.sleep(0.05)   # so that a write would show in the timestamps
        self.listed()
        self.listed('--all')
        self.human_rows('--all')
        for name in names[:4]:
            self.info(name)
            self.assertOk(self.tool('info', name), out=None)
        self.assertEqual(self.tool('info', unfinished).returncode, NOT_USABLE)
        self.assertEqual({n: self.snapshot(n) for n in names}, before)

        holder.write('\n')
        self.assertEqual(holder.readline(), 'unlocked')


class Info(ToolTestCase):
    def expected_text(self, name, type_, state, details, file_size=SYNC_FILE_SIZE, mode='0600'):
        uid, gid = os.geteuid(), os.getegid()
        fields = [('name', name), ('type', type_), ('state', state)] + details + [
            ('file size', str(file_size)),
            ('owner', '%s (uid %d)' % (user_name(uid), uid)),
            ('group', '%s (gid %d)' % (group_name(gid), gid)),
            ('mode', mode), ('layout', '1'), ('backend', BACKEND)]
        return ''.join('%-14s%s\n' % (key + ':', value) for key, value in fields)

    def test_every_type(self):
        mutex, semaphore, cond, memory = (self.name(t) for t in ('m', 's', 'c', 'shm'))
        self.assertOk(self.tool('create', 'mutex', mutex))
        self.assertOk(self.tool('create', 'semaphore', semaphore, '--value', '1', '--max', '4'))
        self.assertOk(self.tool('create', 'cond', cond))
        self.assertOk(self.tool('create', 'shm', memory, '--size', '1000', '--mode', '0604'))

        self.assertOk(self.tool('info', mutex),
                      self.expected_text(mutex, 'mutex', 'free', [('recursive', 'no')]))
        self.assertOk(self.tool('info', semaphore),
                      self.expected_text(semaphore, 'semaphore', 'value 1, max 4',
                                         [('value', '1'), ('max value', '4')]))
        self.assertOk(self.tool('info', cond),
                      self.expected_text(cond, 'cond', 'no waiters', [('waiters', '0')]))
        self.assertOk(self.tool('info', memory),
                      self.expected_text(memory, 'shm', '1000 bytes of data', [('data size', '1000')],
                                         file_size=SHM_DATA_OFFSET + 1000, mode='0604'))

        unbounded = self.name('unbounded')
        self.assertOk(self.tool('create', 'semaphore', unbounded))
        self.assertIn('\nmax value:    2147483647 (unbounded)\n', self.tool('info', unbounded).out)

        # One line of JSON.
        result = self.tool('info', '--json', semaphore)
        self.assertOk(result, out=None)
        self.assertEqual(result.out.count('\n'), 1)
        self.assertEqual(json.loads(result.out),
                         self.expected_entry(semaphore, 'semaphore',
                                             {'value': 1, 'max_value': 4, 'bounded': True}))

    def test_errors(self):
        missing = self.name('missing')
        foreign = self.craft('foreign', b'\x01\x02\x03\x04' * 64)
        blank = self.craft('blank', b'')
        truncated = self.craft('truncated', header()[:20])
        unfinished = self.craft('unfinished', header(ready=0) + bytes(STATE_SIZE))
        short_state = self.craft('short-state', header() + bytes(10))
        link = self.name('link')
        os.symlink(path_of(missing), path_of(link))
        fifo = self.name('fifo')
        os.mkfifo(path_of(fifo), 0o600)

        cases = [
            (missing, NOT_FOUND, 'no such object'),
            (foreign, NOT_USABLE, 'foreign: not a procshared object'),
            (blank, NOT_USABLE, 'blank: an empty file: being created, or not a procshared object'),
            (truncated, NOT_USABLE, 'corrupt: truncated to 20 bytes, shorter than the 32-byte object header'),
            (unfinished, NOT_USABLE, 'unfinished: being created, or its creator died'),
            (short_state, NOT_USABLE, 'corrupt: truncated to 42 bytes; a mutex takes 256'),
            (link, NOT_USABLE, 'foreign: a symbolic link'),
            (fifo, NOT_USABLE, 'foreign: a named pipe'),
        ]
        for name, status, message in cases:
            for json_flag in ([], ['--json']):
                with self.subTest(name=name, json=json_flag):
                    self.assertFails(self.tool('info', *json_flag, name), status,
                                     '%s: %s' % (name, message))

    def test_condition_waiters(self):
        if not HAVE_GI:
            self.skipTest('PyGObject with the Ps typelib is not available')
        mutex, cond = self.name('cond-mutex'), self.name('cond')
        self.assertOk(self.tool('create', 'mutex', mutex))
        self.assertOk(self.tool('create', 'cond', cond))
        waiter = self.holder('cond-wait', mutex, cond)
        self.assertEqual(waiter.readline(), 'waiting')
        self.wait_for(lambda: self.info(cond)['state'] == {'waiters': 1}, 'one waiter')
        self.assertIn('\nwaiters:      1\n', self.tool('info', cond).out)
        self.assertEqual(self.human_rows()[cond][4], '1 waiter')

        Ps.Cond.open(cond, Ps.OpenFlags.NONE).signal()
        self.assertEqual(waiter.readline(), 'woken')
        self.assertEqual(waiter.wait(), 0)
        self.assertEqual(self.info(cond)['state'], {'waiters': 0})

    def test_dead_condition_waiter_forgotten(self):
        """A waiter killed mid-wait stays counted until the next broadcast,
        or the next signal that finds nobody asleep where the backend can
        tell (futex, darwin): never for ever."""
        if not HAVE_GI:
            self.skipTest('PyGObject with the Ps typelib is not available')
        mutex, cond = self.name('dead-cond-mutex'), self.name('dead-cond')
        self.assertOk(self.tool('create', 'mutex', mutex))
        self.assertOk(self.tool('create', 'cond', cond))
        for wake in ('signal', 'broadcast'):
            with self.subTest(wake=wake):
                waiter = self.holder('cond-wait', mutex, cond)
                self.assertEqual(waiter.readline(), 'waiting')
                self.wait_for(lambda: self.info(cond)['state'] == {'waiters': 1}, 'one waiter')
                self.kill_holder(waiter)
                self.assertEqual(self.human_rows()[cond][4], '1 waiter')

                handle = Ps.Cond.open(cond, Ps.OpenFlags.NONE)
                getattr(handle, wake)()
                if wake == 'signal' and BACKEND == 'posix':
                    self.assertEqual(self.info(cond)['state'], {'waiters': 1})
                    handle.broadcast()
                self.assertEqual(self.info(cond)['state'], {'waiters': 0})
                self.assertIn('\nwaiters:      0\n', self.tool('info', cond).out)
                self.assertEqual(self.human_rows()[cond][4], 'no waiters')


class Unlink(ToolTestCase):
    def test_unlink(self):
        names = [self.name('u%d' % i) for i in range(3)]
        self.assertOk(self.tool('create', 'mutex', names[0]))
        self.assertOk(self.tool('create', 'semaphore', names[1]))
        self.assertOk(self.tool('create', 'shm', names[2], '--size', '1'))
        self.assertOk(self.tool('unlink', *names))
        for name in names:
            self.assertFalse(os.path.lexists(path_of(name)))

    def test_every_name_is_tried(self):
        missing, present = self.name('missing'), self.name('present')
        self.assertOk(self.tool('create', 'cond', present))
        self.assertFails(self.tool('unlink', missing, present, 'bad'), NOT_FOUND,
                         '%s: no such object\nprocshared: bad: The name “bad” does not start with “/”'
                         % missing)
        self.assertFalse(os.path.lexists(path_of(present)))

    def test_foreign_needs_force(self):
        foreign = self.craft('foreign', b'keep me' * 10)
        blank = self.craft('blank', b'')
        fifo = self.name('fifo')
        os.mkfifo(path_of(fifo), 0o600)
        for name, what in ((foreign, 'foreign: not a procshared object'),
                           (blank, 'blank: an empty file: being created, or not a procshared object'),
                           (fifo, 'foreign: a named pipe')):
            before = self.snapshot(name)
            self.assertFails(self.tool('unlink', name), NOT_USABLE,
                             '%s: %s (not removed; --force removes it anyway)' % (name, what))
            self.assertEqual(self.snapshot(name), before)
        self.assertOk(self.tool('unlink', '--force', foreign, blank, fifo))
        for name in (foreign, blank, fifo):
            self.assertFalse(os.path.lexists(path_of(name)))

    def test_stale_objects_go_without_force(self):
        unfinished = self.craft('unfinished', header(ready=0) + bytes(STATE_SIZE))
        truncated = self.craft('truncated', header()[:8])
        incompatible = self.craft('incompatible', header(layout=7) + bytes(STATE_SIZE))
        self.assertOk(self.tool('unlink', unfinished, truncated, incompatible))
        for name in (unfinished, truncated, incompatible):
            self.assertFalse(os.path.lexists(path_of(name)))


class Lock(ToolTestCase):
    def test_runs_command_with_our_stdio(self):
        name = self.name('lock')
        self.assertOk(self.tool('create', 'mutex', name))
        result = self.tool('lock', name, '--', 'sh', '-c', 'echo out; echo err >&2; cat; exit 3',
                           input='in\n')
        self.assertEqual((result.returncode, result.out, result.err), (3, 'out\nin\n', 'err\n'))
        self.assertEqual(self.info(name)['state']['held'], False)

        # Options after NAME, and the command's own options after --.
        result = self.tool('lock', name, '--timeout', '5', '--', 'sh', '-c', 'echo "$@"', 'sh',
                           '--timeout', '-x')
        self.assertOk(result, '--timeout -x\n')

    def test_holds_while_command_runs(self):
        name = self.name('lock-held')
        self.assertOk(self.tool('create', 'recursive-mutex', name))
        process = self.start_tool('lock', name, '--', TOOL, 'info', '--json', name)
        state = json.loads(process.readline())['state']
        self.assertEqual(process.wait(), 0)
        self.assertEqual(process.stderr(), '')
        self.assertEqual(state, {'recursive': True, 'held': True, 'owner_pid': process.pid,
                                 'owner_alive': True})
        self.assertEqual(self.info(name)['state']['held'], False)

    def test_command_status_and_signals(self):
        name = self.name('lock-status')
        self.assertOk(self.tool('create', 'mutex', name))
        result = self.tool('lock', name, '--', 'sh', '-c', 'kill -KILL $$')
        self.assertEqual((result.returncode, result.out, result.err), (128 + signal.SIGKILL, '', ''))
        self.assertEqual(self.info(name)['state']['held'], False)

        not_executable = os.path.join(tempfile.mkdtemp(), 'script')
        self.addCleanup(shutil.rmtree, os.path.dirname(not_executable))
        with open(not_executable, 'w') as f:
            f.write('#!/bin/sh\n')
        os.chmod(not_executable, 0o644)
        self.assertFails(self.tool('lock', name, '--', 'ps-no-such-command-here'), COMMAND_NOT_FOUND,
                         'ps-no-such-command-here: command not found')
        self.assertFails(self.tool('lock', name, '--', not_executable), CANNOT_EXECUTE,
                         '%s: not an executable file' % not_executable)
        self.assertEqual(self.info(name)['state']['held'], False)

    def test_missing_create_and_wrong_type(self):
        name = self.name('lock-create')
        marker = self.name('marker')
        self.assertFails(self.tool('lock', name, '--', 'true'), NOT_FOUND, '%s: no such object' % name)
        self.assertFalse(os.path.lexists(path_of(name)))
        self.assertOk(self.tool('lock', '--create', '--mode', '0660', name, '--', 'true'))
        self.assertEqual(stat.S_IMODE(os.stat(path_of(name)).st_mode), 0o660)
        self.assertEqual(self.info(name)['state']['held'], False)

        semaphore = self.name('lock-semaphore')
        self.assertOk(self.tool('create', 'semaphore', semaphore, '--value', '1'))
        foreign = self.craft('lock-foreign', b'JUNK' * 64)
        corrupt = self.craft('lock-corrupt', header()[:16])
        for target, message in ((semaphore, 'is a semaphore, not a mutex'),
                                (foreign, 'foreign: not a procshared object'),
                                (corrupt, 'corrupt: truncated to 16 bytes, shorter than the 32-byte '
                                          'object header')):
            for create in ([], ['--create']):
                before = self.snapshot(target)
                self.assertFails(self.tool('lock', *create, target, '--', 'touch', path_of(marker)),
                                 NOT_USABLE, '%s: %s' % (target, message))
                self.assertEqual(self.snapshot(target), before)
        self.assertFalse(os.path.lexists(path_of(marker)))

    def test_unfinished_and_blank_are_waited_for_then_refused(self):
        # Perhaps being created this very moment: the library gives a
        # creator a bounded grace period before calling it corrupt.
        unfinished = self.craft('lock-unfinished', header(ready=0) + bytes(STATE_SIZE))
        blank = self.craft('release-blank', bytes(SYNC_FILE_SIZE))
        before = {n: self.snapshot(n) for n in (unfinished, blank)}
        self.assertFails(self.tool('lock', unfinished, '--', 'true'), NOT_USABLE,
                         '%s: is not a procshared object, or its creator died before finishing it '
                         '(256 bytes)' % unfinished)
        self.assertFails(self.tool('release', blank), NOT_USABLE,
                         '%s: is not a procshared object, or its creator died before finishing it '
                         '(256 bytes)' % blank)
        unfinished_semaphore = self.craft('acquire-unfinished',
                                          header(type_=TYPE_SEMAPHORE, ready=0) + bytes(STATE_SIZE))
        self.assertFails(self.tool('lock', unfinished_semaphore, '--', 'true'), NOT_USABLE,
                         '%s: is a semaphore, not a mutex' % unfinished_semaphore)
        self.assertEqual({n: self.snapshot(n) for n in before}, before)

    def test_times_out_against_python_holder(self):
        name = self.name('lock-race')
        marker = self.name('marker')
        self.assertOk(self.tool('create', 'mutex', name))
        holder = self.holder('hold', name)
        self.assertEqual(holder.readline(), 'locked %d' % holder.pid)

        start = time.monotonic()
        self.assertFails(self.tool('lock', '--timeout', '0.2', name, '--', 'touch', path_of(marker)),
                         TIMED_OUT, '%s: timed out: held by pid %d (alive)' % (name, holder.pid))
        self.assertGreaterEqual(time.monotonic() - start, 0.2)
        self.assertFails(self.tool('lock', '-t', '0', name, '--', 'touch', path_of(marker)),
                         TIMED_OUT, '%s: busy: held by pid %d (alive)' % (name, holder.pid))
        self.assertFalse(os.path.lexists(path_of(marker)))

        # A lock that waits gets it when the holder lets go.
        waiting = self.start_tool('lock', name, '--', 'sh', '-c', 'echo ran')
        self.wait_until_waiting(waiting)
        holder.write('\n')
        self.assertEqual(holder.readline(), 'unlocked')
        self.assertEqual(waiting.readline(), 'ran')
        self.assertEqual(waiting.wait(), 0)
        self.assertEqual(waiting.stderr(), '')
        self.assertEqual(holder.wait(), 0)

    def test_python_locker_waits_for_command(self):
        name = self.name('lock-block')
        self.assertOk(self.tool('create', 'mutex', name))
        locked = self.start_tool('lock', name, '--', 'sh', '-c', 'echo locked; read line; echo done')
        self.assertEqual(locked.readline(), 'locked')
        self.assertEqual(self.info(name)['state'], {'recursive': False, 'held': True,
                                                    'owner_pid': locked.pid, 'owner_alive': True})

        locker = self.holder('lock', name)
        self.assertEqual(locker.readline(), 'waiting')
        # Still blocked while the command runs (this can only pass wrongly).
        self.assertIsNone(locker.has_line_within(0.3))
        locked.write('go\n')
        self.assertEqual(locked.readline(), 'done')
        self.assertEqual(locked.wait(), 0)
        self.assertEqual(locker.readline(), 'locked')
        self.assertEqual(locker.readline(), 'unlocked')
        self.assertEqual(locker.wait(), 0)

    def test_dead_holder_without_and_with_recover(self):
        name = self.name('lock-dead')
        marker = self.name('marker')
        self.assertOk(self.tool('create', 'mutex', name))
        holder = self.holder('hold', name)
        self.assertEqual(holder.readline(), 'locked %d' % holder.pid)
        self.kill_holder(holder)

        # Without --recover: reported, COMMAND not run, the mutex left as
        # found (held by a dead process), twice in a row.
        dead = holder.pid
        for attempt in range(2):
            refused = self.start_tool('lock', name, '--', 'touch', path_of(marker))
            self.assertEqual(refused.wait(), OWNER_DEAD)
            self.assertEqual(refused.stderr(),
                             'procshared: %s: its previous holder (pid %d) died holding it; COMMAND not '
                             'run and the lock left for recovery: check the data it guards, then use '
                             '--recover\n' % (name, dead))
            self.assertFalse(os.path.lexists(path_of(marker)))
            self.assertEqual(self.info(name)['state'], {'recursive': False, 'held': True,
                                                        'owner_pid': refused.pid, 'owner_alive': False})
            dead = refused.pid

        # With it: recovered, COMMAND run, the mutex free and healthy.
        result = self.tool('lock', '--recover', name, '--', 'touch', path_of(marker))
        self.assertEqual((result.returncode, result.out, result.err),
                         (0, '', 'procshared: %s: its previous holder (pid %d) died holding it; marked '
                                 'consistent (--recover)\n' % (name, dead)))
        self.assertTrue(os.path.exists(path_of(marker)))
        self.assertEqual(self.info(name)['state']['held'], False)

        locker = self.holder('lock', name)
        self.assertEqual([locker.readline() for _ in range(3)], ['waiting', 'locked', 'unlocked'])
        self.assertOk(self.tool('lock', name, '--', 'true'))

    def test_not_recoverable(self):
        name = self.name('lock-condemned')
        self.assertOk(self.tool('create', 'mutex', name))
        holder = self.holder('hold', name)
        self.assertEqual(holder.readline(), 'locked %d' % holder.pid)
        self.kill_holder(holder)
        condemner = self.holder('condemn', name)
        self.assertEqual(condemner.readline(), 'condemned')
        self.assertEqual(condemner.wait(), 0)

        self.assertIn('\nstate:        not recoverable (a holder died and it was unlocked unrepaired)\n',
                      self.tool('info', name).out)
        for recover in ([], ['--recover']):
            self.assertFails(self.tool('lock', *recover, name, '--', 'true'), NOT_RECOVERABLE,
                             '%s: not recoverable: a holder died and it was unlocked without being '
                             'marked consistent; remove it (procshared unlink) and create it again' % name)

    def test_sigterm_passed_on_sigint_ignored(self):
        name = self.name('lock-signals')
        self.assertOk(self.tool('create', 'mutex', name))

        process = self.start_tool('lock', name, '--', 'sh', '-c', 'echo started; exec sleep 60')
        self.assertEqual(process.readline(), 'started')
        process.proc.send_signal(signal.SIGTERM)
        self.assertEqual(process.wait(), 128 + signal.SIGTERM)
        self.assertEqual(process.stderr(), '')
        self.assertEqual(self.info(name)['state']['held'], False)

        process = self.start_tool('lock', name, '--', 'sh', '-c', 'echo started; read line; echo finished')
        self.assertEqual(process.readline(), 'started')
        process.proc.send_signal(signal.SIGINT)
        process.write('go\n')
        self.assertEqual(process.readline(), 'finished')
        self.assertEqual(process.wait(), 0)
        self.assertEqual(self.info(name)['state']['held'], False)

    def test_signal_while_waiting(self):
        name = self.name('lock-interrupted')
        marker = self.name('marker')
        self.assertOk(self.tool('create', 'mutex', name))
        holder = self.holder('hold', name)
        self.assertEqual(holder.readline(), 'locked %d' % holder.pid)

        for signum in (signal.SIGTERM, signal.SIGINT):
            waiting = self.start_tool('lock', name, '--', 'touch', path_of(marker))
            self.wait_until_waiting(waiting)
            waiting.proc.send_signal(signum)
            self.assertEqual(waiting.wait(), 128 + signum)
            self.assertRegex(waiting.stderr(),
                             r'^procshared: %s: interrupted by signal %d \(.+\) while waiting for the '
                             r'mutex\n$' % (re.escape(name), signum))
        self.assertFalse(os.path.lexists(path_of(marker)))
        self.assertEqual(self.info(name)['state']['owner_pid'], holder.pid)
        holder.write('\n')
        self.assertEqual(holder.readline(), 'unlocked')


class Semaphore(ToolTestCase):
    def value(self, name):
        return self.info(name)['state']['value']

    def test_acquire_and_release(self):
        name = self.name('sem')
        self.assertOk(self.tool('create', 'semaphore', name, '--value', '1', '--max', '2'))
        self.assertOk(self.tool('acquire', name))
        self.assertEqual(self.value(name), 0)

        start = time.monotonic()
        self.assertFails(self.tool('acquire', '--timeout', '0.2', name), TIMED_OUT,
                         '%s: timed out: the value stayed 0' % name)
        self.assertGreaterEqual(time.monotonic() - start, 0.2)
        self.assertFails(self.tool('acquire', '--timeout', '0', name), TIMED_OUT, '%s: busy: the value is 0' % name)
        self.assertEqual(self.value(name), 0)

        self.assertOk(self.tool('release', name))
        self.assertOk(self.tool('release', name))
        self.assertEqual(self.value(name), 2)
        self.assertFails(self.tool('release', name), OVERFLOW,
                         '%s: already at its maximum value 2; not released' % name)
        self.assertEqual(self.value(name), 2)

        unbounded = self.name('sem-unbounded')
        self.assertOk(self.tool('create', 'semaphore', unbounded, '--value', str(UNBOUNDED)))
        self.assertFails(self.tool('release', unbounded), OVERFLOW,
                         '%s: already at its maximum value %d; not released' % (unbounded, UNBOUNDED))

    def test_acquire_create(self):
        name = self.name('sem-create')
        self.assertOk(self.tool('acquire', '--create', '--value', '3', '--max', '4', '--mode', '0640', name))
        self.assertEqual(self.info(name)['state'], {'value': 2, 'max_value': 4, 'bounded': True})
        self.assertEqual(stat.S_IMODE(os.stat(path_of(name)).st_mode), 0o640)
        # An existing semaphore keeps its value and bound.
        self.assertOk(self.tool('acquire', '--create', '--value', '9', '--max', '9', name))
        self.assertEqual(self.info(name)['state'], {'value': 1, 'max_value': 4, 'bounded': True})

    def test_acquire_waits_for_release(self):
        name = self.name('sem-wait')
        self.assertOk(self.tool('create', 'semaphore', name))
        waiting = self.start_tool('acquire', name)
        self.wait_until_waiting(waiting)
        self.assertOk(self.tool('release', name))
        self.assertEqual(waiting.wait(), 0)
        self.assertEqual(waiting.stderr(), '')
        self.assertEqual(self.value(name), 0)

    def test_interrupted_acquire_takes_nothing(self):
        name = self.name('sem-interrupted')
        self.assertOk(self.tool('create', 'semaphore', name))
        waiting = self.start_tool('acquire', name)
        self.wait_until_waiting(waiting)
        waiting.proc.send_signal(signal.SIGINT)
        self.assertEqual(waiting.wait(), 128 + signal.SIGINT)
        self.assertRegex(waiting.stderr(), r'^procshared: %s: interrupted by signal 2 \(.+\) while '
                                           r'waiting for the semaphore\n$' % re.escape(name))
        self.assertOk(self.tool('release', name))
        self.assertEqual(self.value(name), 1)

    def test_errors(self):
        missing = self.name('sem-missing')
        mutex = self.name('sem-mutex')
        memory = self.name('sem-shm')
        foreign = self.craft('sem-foreign', b'JUNK' * 100)
        self.assertOk(self.tool('create', 'mutex', mutex))
        self.assertOk(self.tool('create', 'shm', memory, '--size', '8'))
        cases = [
            (['acquire', missing], NOT_FOUND, '%s: no such object' % missing),
            (['release', missing], NOT_FOUND, '%s: no such object' % missing),
            (['acquire', mutex], NOT_USABLE, '%s: is a mutex, not a semaphore' % mutex),
            (['acquire', '--create', mutex], NOT_USABLE, '%s: is a mutex, not a semaphore' % mutex),
            (['release', memory], NOT_USABLE, '%s: is a shared memory, not a semaphore' % memory),
            (['release', foreign], NOT_USABLE, '%s: foreign: not a procshared object' % foreign),
        ]
        before = {n: self.snapshot(n) for n in (mutex, memory, foreign)}
        for args, status, line in cases:
            with self.subTest(args=args):
                self.assertFails(self.tool(*args), status, line)
        self.assertEqual({n: self.snapshot(n) for n in before}, before)
        self.assertFalse(os.path.lexists(path_of(missing)))


@unittest.skipUnless(nobody_can_run(), 'needs root and setpriv to run the tool as nobody')
class EventsAndBarriers(ToolTestCase):
    def wait_until_arrived(self, barrier):
        self.wait_for(lambda: self.info(barrier)['state']['waiting'] == 1,
                      'a party waiting at %s' % barrier)

    def test_create_and_info(self):
        event, auto, barrier = self.name('ev'), self.name('ev-auto'), self.name('bar')
        self.assertOk(self.tool('create', 'event', event))
        self.assertOk(self.tool('create', 'event', auto, '--auto-reset'))
        self.assertOk(self.tool('create', 'barrier', barrier, '--parties', '3'))
        self.assertEqual(self.info(event),
                         self.expected_entry(event, 'event', {'set': False, 'auto_reset': False}))
        self.assertEqual(self.info(barrier),
                         self.expected_entry(barrier, 'barrier',
                                             {'parties': 3, 'waiting': 0, 'broken': False}))
        self.assertIn('\nstate:        not set, auto-reset\n', self.tool('info', auto).out)
        self.assertIn('\nstate:        0 of 3 parties waiting\n', self.tool('info', barrier).out)

        self.assertFails(self.tool('create', 'barrier', self.name('b0')), USAGE,
                         'create: barrier needs --parties')
        self.assertFails(self.tool('create', 'barrier', self.name('b0'), '--parties', '0'), USAGE,
                         'create: --parties: a barrier has at least 1 party')
        self.assertFails(self.tool('create', 'event', self.name('e0'), '--parties', '2'), USAGE,
                         'create: --parties applies to barriers only')
        self.assertFails(self.tool('create', 'mutex', self.name('m0'), '--auto-reset'), USAGE,
                         'create: --auto-reset applies to events only')

    def test_event_set_reset_wait(self):
        event = self.name('ev-wait')
        self.assertOk(self.tool('create', 'event', event))
        self.assertFails(self.tool('event', 'wait', event, '--timeout', '0.1'), TIMED_OUT,
                         '%s: timed out: the event is not set' % event)
        waiting = self.start_tool('event', 'wait', event)
        self.wait_until_waiting(waiting)
        self.assertOk(self.tool('event', 'set', event))
        self.assertEqual(waiting.wait(), 0)
        self.assertTrue(self.info(event)['state']['set'])
        self.assertOk(self.tool('event', 'wait', event, '--timeout', '0'))
        self.assertOk(self.tool('event', 'reset', event))
        self.assertFalse(self.info(event)['state']['set'])
        self.assertFails(self.tool('event', 'frob', event), USAGE,
                         'event: unknown action “frob”: use set, reset or wait')
        mutex = self.name('ev-mutex')
        self.assertOk(self.tool('create', 'mutex', mutex))
        self.assertEqual(self.tool('event', 'set', mutex).returncode, NOT_USABLE)

    def test_barrier_wait_timeout_broken_reset(self):
        barrier = self.name('bar-wait')
        self.assertOk(self.tool('create', 'barrier', barrier, '--parties', '2'))
        first = self.start_tool('barrier', 'wait', barrier)
        self.wait_until_arrived(barrier)
        self.assertOk(self.tool('barrier', 'wait', barrier), '1\n')
        self.assertEqual(first.wait(), 0)

        # Our own timeout: 5, and the barrier is broken for everyone (11).
        self.assertFails(self.tool('barrier', 'wait', barrier, '--timeout', '0.1'), TIMED_OUT,
                         '%s: timed out: not every party arrived; the barrier is now broken' % barrier)
        self.assertTrue(self.info(barrier)['state']['broken'])
        self.assertEqual(self.tool('barrier', 'wait', barrier).returncode, BROKEN)
        self.assertOk(self.tool('barrier', 'reset', barrier))
        self.assertFalse(self.info(barrier)['state']['broken'])

        waiting = self.start_tool('barrier', 'wait', barrier)
        self.wait_until_arrived(barrier)
        self.assertOk(self.tool('barrier', 'abort', barrier))
        self.assertEqual(waiting.wait(), BROKEN)

        # Interrupted: the signal's status, and the barrier breaks.
        self.assertOk(self.tool('barrier', 'reset', barrier))
        waiting = self.start_tool('barrier', 'wait', barrier)
        self.wait_until_waiting(waiting)
        self.wait_until_arrived(barrier)
        waiting.proc.send_signal(signal.SIGINT)
        self.assertEqual(waiting.wait(), 128 + signal.SIGINT)
        self.assertTrue(self.info(barrier)['state']['broken'])


class Permissions(ToolTestCase):
    def test_private_objects(self):
        semaphore, mutex = self.name('perm-sem'), self.name('perm-mutex')
        readable = self.name('perm-cond')
        self.assertOk(self.tool('create', 'semaphore', semaphore, '--value', '1'))
        self.assertOk(self.tool('create', 'mutex', mutex))
        self.assertOk(self.tool('create', 'cond', readable, '--mode', '0644'))
        before = {n: self.snapshot(n) for n in (semaphore, mutex, readable)}

        cases = [
            (['info', semaphore], '%s: permission denied' % semaphore),
            (['info', readable], '%s: permission denied' % readable),
            (['lock', mutex, '--', 'true'], '%s: permission denied' % mutex),
            (['lock', '--create', mutex, '--', 'true'], '%s: permission denied' % mutex),
            (['acquire', semaphore], '%s: permission denied' % semaphore),
            (['release', semaphore], '%s: permission denied' % semaphore),
            (['acquire', '--create', semaphore], '%s: permission denied' % semaphore),
            (['unlink', semaphore], '%s: permission denied: cannot tell whether it is a procshared '
                                    'object (not removed; --force removes it anyway)' % semaphore),
            (['unlink', '--force', semaphore], '%s: permission denied' % semaphore),
            (['unlink', readable], '%s: permission denied' % readable),
        ]
        for args, line in cases:
            with self.subTest(args=args):
                self.assertFails(self.tool(*args, as_nobody=True), PERMISSION, line)
        self.assertEqual({n: self.snapshot(n) for n in before}, before)

        listed = self.listed(as_nobody=True)
        self.assertNotIn(semaphore, listed)
        # Readable but not writable: known, its state not.
        self.assertEqual(listed[readable], self.expected_entry(readable, 'cond', None, mode='0644',
                                                               detail='permission denied'))
        listed = self.listed('--all', as_nobody=True)
        self.assertEqual(listed[semaphore], self.expected_entry(
            semaphore, None, None, kind='unreadable', detail='permission denied', layout=None,
            backend=None))
        rows = self.human_rows('--all')
        self.assertEqual(rows[semaphore][4], 'value 1, unbounded')
        result = self.tool('list', '--all', as_nobody=True)
        row = [line for line in result.out.splitlines() if line.startswith(semaphore + ' ')]
        self.assertEqual(row[0].split(None, 5)[1:], ['?', '256', 'root', '0600', 'unreadable: permission denied'])
        row = [line for line in result.out.splitlines() if line.startswith(readable + ' ')]
        self.assertEqual(row[0].split(None, 5)[1:], ['cond', '256', 'root', '0644', 'unknown: permission denied'])


@unittest.skipUnless(nobody_can_run(), 'needs root and setpriv to run the tool as nobody')
class Owners(ToolTestCase):
    """An object another user made first is not taken for ours: lock,
    acquire and release refuse it, changing nothing, unless --any-owner;
    root's objects are anyone's to use; info shows whose it is."""

    def owner(self, uid):
        name = user_name(uid)
        return '%s (uid %d)' % (name, uid) if name is not None else 'uid %d' % uid

    def refused(self, name):
        return '%s: owned by another user, %s: not opened without --any-owner' % (
            name, self.owner(NOBODY_UID))

    def test_other_users_objects_need_any_owner(self):
        mutex, semaphore = self.name('squat-mutex'), self.name('squat-sem')
        self.assertOk(self.tool('create', 'mutex', mutex, '--mode', '0666', as_nobody=True))
        self.assertOk(self.tool('create', 'semaphore', semaphore, '--value', '1', '--mode', '0666',
                                as_nobody=True))
        before = {n: self.snapshot(n) for n in (mutex, semaphore)}
        self.assertEqual(before[mutex][2], NOBODY_UID)

        for args, name in [(['lock', mutex, '--', 'true'], mutex),
                           (['lock', '--create', mutex, '--', 'true'], mutex),
                           (['acquire', semaphore, '--timeout', '0'], semaphore),
                           (['acquire', '--create', semaphore], semaphore),
                           (['release', semaphore], semaphore)]:
            with self.subTest(args=args):
                self.assertFails(self.tool(*args), PERMISSION, self.refused(name))
        self.assertEqual({n: self.snapshot(n) for n in before}, before)

        self.assertOk(self.tool('lock', '--any-owner', mutex, '--', 'true'))
        self.assertOk(self.tool('lock', '--create', '--any-owner', mutex, '--', 'true'))
        self.assertOk(self.tool('acquire', '--any-owner', '--timeout', '0', semaphore))
        self.assertEqual(self.info(semaphore)['state']['value'], 0)
        self.assertOk(self.tool('release', '--any-owner', semaphore))
        self.assertOk(self.tool('acquire', '--create', '--any-owner', semaphore))
        self.assertEqual(self.snapshot(mutex)[2], NOBODY_UID)

    def test_root_objects_are_accepted(self):
        mutex, semaphore = self.name('root-mutex'), self.name('root-sem')
        self.assertOk(self.tool('create', 'mutex', mutex, '--mode', '0666'))
        self.assertOk(self.tool('create', 'semaphore', semaphore, '--mode', '0666'))
        self.assertOk(self.tool('lock', mutex, '--', 'true', as_nobody=True))
        self.assertOk(self.tool('lock', '--create', mutex, '--', 'true', as_nobody=True))
        self.assertOk(self.tool('release', semaphore, as_nobody=True))
        self.assertOk(self.tool('acquire', '--timeout', '0', semaphore, as_nobody=True))

    def test_info_and_list_show_every_owner(self):
        mutex = self.name('theirs')
        self.assertOk(self.tool('create', 'mutex', mutex, '--mode', '0666', as_nobody=True))
        result = self.tool('info', mutex)
        self.assertOk(result, out=None)
        self.assertIn('%-14s%s\n' % ('owner:', self.owner(NOBODY_UID)), result.out)
        self.assertIn('%-14s%s\n' % ('state:', 'free'), result.out)
        info = self.info(mutex)
        self.assertEqual((info['uid'], info['user'], info['mode']),
                         (NOBODY_UID, user_name(NOBODY_UID), '0666'))
        self.assertEqual(info['state']['held'], False)
        self.assertEqual(self.listed()[mutex], info)
        self.assertEqual(self.tool('info', mutex, as_nobody=True).out, result.out)


class Completion(ToolTestCase):
    def complete(self, *words):
        script = ('source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_procshared\nprintf "%%s\\n" "${COMPREPLY[@]}"\n'
                  % (os.path.join(TOOL_SRCDIR, 'procshared.bash-completion'),
                     ' '.join("'%s'" % w for w in words), len(words) - 1))
        result = subprocess.run(['bash', '-c', script], capture_output=True, text=True, timeout=LONG_S)
        self.assertEqual((result.returncode, result.stderr), (0, ''))
        return sorted(line for line in result.stdout.splitlines() if line)

    @unittest.skipUnless(shutil.which('bash'), 'needs bash')
    def test_completion(self):
        self.assertEqual(self.complete('procshared', ''), sorted(COMMANDS + ['help']))
        self.assertEqual(self.complete('procshared', 'li'), ['list'])
        self.assertEqual(self.complete('procshared', 'create', ''),
                         ['barrier', 'cond', 'event', 'mutex', 'queue', 'recursive-mutex', 'rwlock', 'semaphore',
                          'shm'])
        self.assertEqual(self.complete('procshared', 'event', ''), ['reset', 'set', 'wait'])
        self.assertEqual(self.complete('procshared', 'barrier', ''), ['abort', 'reset', 'wait'])
        self.assertIn('--parties', self.complete('procshared', 'create', '--'))
        self.assertIn('--capacity', self.complete('procshared', 'create', '--'))
        self.assertEqual(self.complete('procshared', 'send', '--'),
                         ['--any-owner', '--help', '--priority', '--timeout', '--variant'])
        self.assertEqual(self.complete('procshared', 'receive', '--'),
                         ['--any-owner', '--help', '--timeout'])
        self.assertIn('--recover', self.complete('procshared', 'lock', '--'))
        for command in ('lock', 'acquire', 'release'):
            self.assertIn('--any-owner', self.complete('procshared', command, '--'))
        name = self.name('complete')
        self.assertOk(self.tool('create', 'mutex', name))
        self.assertEqual(self.complete('procshared', 'info', self.prefix + 'compl'), [name])
        self.assertEqual(self.complete('procshared', 'create', 'mutex', self.prefix + 'compl'), [])


class ManPage(ToolTestCase):
    @unittest.skipUnless(shutil.which('groff'), 'needs groff')
    def test_man_page_renders_cleanly(self):
        result = subprocess.run(['groff', '-man', '-Tutf8', '-ww', '-z',
                                 os.path.join(TOOL_SRCDIR, 'procshared.1')],
                                capture_output=True, text=True, timeout=LONG_S)
        self.assertEqual((result.returncode, result.stderr), (0, ''))

    def test_man_page_covers_every_command(self):
        with open(os.path.join(TOOL_SRCDIR, 'procshared.1')) as f:
            page = f.read()
        for command in COMMANDS:
            self.assertIn('.B procshared %s' % command, page)


class RWLockTool(ToolTestCase):
    """create rwlock, its state in info, lock --shared (as flock -s) and
    lock without it (held for writing)."""

    RW_LOCK_SIZE = 4096

    def state(self, readers=0, writer_pid=None):
        return {'readers': readers, 'writers_waiting': 0, 'writer_pid': writer_pid,
                'not_recoverable': False}

    def test_create_and_info(self):
        name = self.name('rwlock')
        self.assertOk(self.tool('create', 'rwlock', name, '--mode', '0640'))
        self.assertEqual(self.info(name),
                         self.expected_entry(name, 'rwlock', self.state(), mode='0640',
                                             file_size=self.RW_LOCK_SIZE))
        result = self.tool('info', name)
        self.assertIn('state:        0 readers, 0 waiting writers\n', result.out)
        self.assertIn('writer pid:   none\n', result.out)
        self.assertFails(self.tool('create', 'rwlock', name), EXISTS,
                         '%s: already exists' % name)

    def test_shared_holders_together_writer_alone(self):
        name = self.name('rwlock-shared')
        self.assertOk(self.tool('create', 'rwlock', name))
        # A reader, and inside it a second reader at once; a writer cannot.
        script = ('"$0" info --json "$1"; "$0" lock --shared -t 0 "$1" -- echo second; '
                  '"$0" lock -t 0 "$1" -- echo writer; echo "writer status $?"')
        process = self.start_tool('lock', '--shared', name, '--', 'sh', '-c', script, TOOL, name)
        state = json.loads(process.readline())['state']
        self.assertEqual(state, self.state(readers=1))
        self.assertEqual(process.readline(), 'second')
        self.assertEqual(process.readline(), 'writer status %d' % TIMED_OUT)
        self.assertEqual(process.wait(), 0)
        self.assertEqual(self.info(name)['state'], self.state())

        # Without --shared: held for writing; a reader cannot come in.
        script = '"$0" info --json "$1"; "$0" lock --shared -t 0 "$1" -- echo reader; echo $?'
        process = self.start_tool('lock', name, '--', 'sh', '-c', script, TOOL, name)
        state = json.loads(process.readline())['state']
        self.assertEqual(state, self.state(writer_pid=process.pid))
        self.assertEqual(process.readline(), '%d' % TIMED_OUT)
        self.assertEqual(process.wait(), 0)
        self.assertEqual(self.info(name)['state'], self.state())

    def test_shared_create(self):
        name = self.name('rwlock-create')
        self.assertOk(self.tool('lock', '--shared', '--create', name, '--', 'true'))
        self.assertEqual(self.info(name)['type'], 'rwlock')
        # A mutex is not a reader-writer lock.
        mutex = self.name('rwlock-mutex')
        self.assertOk(self.tool('create', 'mutex', mutex))
        self.assertFails(self.tool('lock', '--shared', mutex, '--', 'true'), NOT_USABLE,
                         '%s: is a mutex, not a reader-writer lock' % mutex)


class QueueTool(ToolTestCase):
    """create queue, its state in info and list, send (argument or
    stdin, priorities, --variant) and receive (to stdout), as a shell
    script would use a FIFO; exact statuses and lines."""

    def create(self, tag, capacity=4, size='64'):
        name = self.name(tag)
        self.assertOk(self.tool('create', 'queue', name, '--capacity', str(capacity),
                                '--message-size', size))
        return name

    def state(self, length=0, capacity=4, max_size=64, senders=0, receivers=0):
        return {'length': length, 'capacity': capacity, 'max_message_size': max_size,
                'senders_waiting': senders, 'receivers_waiting': receivers,
                'slots_writing': 0, 'slots_reading': 0}

    def receive(self, name, *args):
        completed = subprocess.run([TOOL, 'receive', name] + list(args), capture_output=True,
                                   timeout=LONG_S)
        self.assertEqual((completed.returncode, completed.stderr), (OK, b''), completed)
        return completed.stdout

    def test_create_and_info(self):
        name = self.create('queue', capacity=3, size='1K')
        info = self.info(name)
        self.assertEqual(info, self.expected_entry(name, 'queue', self.state(capacity=3, max_size=1024),
                                                   file_size=os.stat(path_of(name)).st_size))
        self.assertEqual(self.listed()[name], info)
        result = self.tool('info', name)
        self.assertOk(result, out=None)
        self.assertIn('\nstate:        0 of 3 messages of up to 1024 bytes\n', result.out)
        self.assertIn('\nlength:       0\ncapacity:     3\nmax size:     1024 bytes\n'
                      'waiting:      0 senders, 0 receivers\n'
                      'busy slots:   0 being written, 0 being read\n', result.out)
        self.assertEqual(self.human_rows()[name][4], '0 of 3 messages of up to 1024 bytes')
        self.assertOk(self.tool('send', name, 'x'))
        self.assertEqual(self.info(name)['state'], self.state(length=1, capacity=3, max_size=1024))
        self.assertFails(self.tool('create', 'queue', name, '--capacity', '1', '--message-size', '1'),
                         EXISTS, '%s: already exists' % name)

    def test_create_errors(self):
        name = self.name('queue-bad')
        cases = [
            (['create', 'queue', name], 'create: queue needs --capacity and --message-size'),
            (['create', 'queue', name, '--capacity', '2'],
             'create: queue needs --capacity and --message-size'),
            (['create', 'queue', name, '--capacity', '0', '--message-size', '8'],
             'create: --capacity: a queue holds at least 1 message'),
            (['create', 'queue', name, '--capacity', '65537', '--message-size', '8'],
             'create: --capacity: “65537” is not a whole number from 0 to 65536'),
            (['create', 'queue', name, '--capacity', '2', '--message-size', '0'],
             'create: --message-size: “0” is not a size in bytes (at least 1, with an optional '
             'K, M, G or T suffix)'),
            (['create', 'mutex', name, '--capacity', '2'], 'create: --capacity applies to queues only'),
            (['create', 'shm', name, '--size', '1', '--message-size', '2'],
             'create: --message-size applies to queues only'),
        ]
        for args, line in cases:
            with self.subTest(args=args):
                self.assertFails(self.tool(*args), USAGE, line)
        # What the library refuses: more than 64 MiB a message.
        result = self.tool('create', 'queue', name, '--capacity', '1', '--message-size', '65M')
        self.assertEqual((result.returncode, result.out), (USAGE, ''))
        self.assertTrue(result.err.startswith('procshared: %s: ' % name), result.err)
        self.assertFalse(os.path.lexists(path_of(name)))

    def test_send_and_receive(self):
        name = self.create('queue-io')
        self.assertOk(self.tool('send', name, 'hello world'))
        self.assertOk(self.tool('send', name, '--', '-starts-with-a-dash'))
        self.assertOk(self.tool('send', name, input='from stdin\n'))
        self.assertOk(self.tool('send', name, ''))
        self.assertEqual(self.info(name)['state']['length'], 4)
        self.assertEqual(self.receive(name), b'hello world')
        self.assertEqual(self.receive(name), b'-starts-with-a-dash')
        self.assertEqual(self.receive(name), b'from stdin\n')
        self.assertEqual(self.receive(name), b'')
        # Any bytes, through standard input.
        data = bytes(range(64))
        completed = subprocess.run([TOOL, 'send', name], input=data, capture_output=True,
                                   timeout=LONG_S)
        self.assertEqual(completed.returncode, OK, completed)
        self.assertEqual(self.receive(name, '--timeout', '0'), data)
        self.assertEqual(self.info(name)['state'], self.state())

    def test_priorities(self):
        name = self.create('queue-prio', capacity=8)
        for message, priority in [('a', '0'), ('b', '5'), ('c', '0'), ('d', '4294967295'),
                                  ('e', '5')]:
            self.assertOk(self.tool('send', '--priority', priority, name, message))
        self.assertEqual([self.receive(name) for _ in range(5)], [b'd', b'b', b'e', b'a', b'c'])
        self.assertFails(self.tool('send', '-p', '4294967296', name, 'x'), USAGE,
                         'send: --priority: “4294967296” is not a whole number from 0 to 4294967295')

    def test_full_empty_and_too_large(self):
        name = self.create('queue-full', capacity=1, size='8')
        self.assertFails(self.tool('receive', name, '--timeout', '0'), TIMED_OUT,
                         '%s: the queue is empty (--timeout 0)' % name)
        self.assertFails(self.tool('receive', name, '--timeout', '0.05'), TIMED_OUT,
                         '%s: timed out: the queue is empty' % name)
        self.assertFails(self.tool('send', name, '123456789'), TOO_LARGE,
                         "%s: the message is longer than the queue's maximum, 8 bytes: not sent" % name)
        self.assertFails(self.tool('send', name, input='123456789'), TOO_LARGE,
                         "%s: the message on standard input is longer than the queue's maximum, "
                         "8 bytes: not sent" % name)
        self.assertOk(self.tool('send', name, '12345678'))
        self.assertFails(self.tool('send', name, 'x', '--timeout', '0'), TIMED_OUT,
                         '%s: the queue is full (--timeout 0)' % name)
        self.assertFails(self.tool('send', name, 'x', '-t', '0.05'), TIMED_OUT,
                         '%s: timed out: the queue is full' % name)
        self.assertEqual(self.receive(name), b'12345678')
        self.assertEqual(self.info(name)['state'], self.state(capacity=1, max_size=8))

    def test_errors(self):
        missing = self.name('queue-missing')
        mutex = self.name('queue-mutex')
        self.assertOk(self.tool('create', 'mutex', mutex))
        cases = [
            (['send'], USAGE, 'send: missing NAME (see procshared send --help)'),
            (['receive'], USAGE, 'receive: missing NAME (see procshared receive --help)'),
            (['send', missing, 'a', 'b'], USAGE, 'send: unexpected argument “b”'),
            (['receive', missing, 'a'], USAGE, 'receive: unexpected argument “a”'),
            (['send', 'x', 'a'], USAGE, 'x: The name “x” does not start with “/”'),
            (['send', '--variant', missing], USAGE, 'send: --variant needs MESSAGE'),
            (['send', '--variant', missing, '(1,'], USAGE, None),
            (['receive', '--timeout', '-1', missing], USAGE,
             'receive: --timeout: “-1” is not a number of seconds from 0 to 1000000000000'),
            (['send', missing, 'a'], NOT_FOUND, '%s: no such object' % missing),
            (['receive', missing], NOT_FOUND, '%s: no such object' % missing),
            (['send', mutex, 'a'], NOT_USABLE, '%s: is a mutex, not a queue' % mutex),
            (['receive', mutex], NOT_USABLE, '%s: is a mutex, not a queue' % mutex),
        ]
        for args, status, line in cases:
            with self.subTest(args=args):
                result = self.tool(*args)
                if line is None:
                    self.assertEqual((result.returncode, result.out), (status, ''))
                    self.assertTrue(result.err.startswith('procshared: send: --variant: “(1,” '
                                                          'is not a GVariant: '), result.err)
                else:
                    self.assertFails(result, status, line)
        self.assertFalse(os.path.lexists(path_of(missing)))

    def test_receive_waits_and_is_interrupted(self):
        name = self.create('queue-wait')
        waiting = self.start_tool('receive', name)
        self.wait_until_waiting(waiting)
        self.wait_for(lambda: self.info(name)['state']['receivers_waiting'] == 1,
                      'a receiver waiting')
        self.assertIn('waiting:      0 senders, 1 receivers\n', self.tool('info', name).out)
        self.assertOk(self.tool('send', name, 'wake up'))
        self.assertEqual(waiting.wait(), 0)
        self.assertEqual(waiting.readline(), 'wake up')

        # Interrupted: the signal's status, and nothing taken.
        waiting = self.start_tool('receive', name)
        self.wait_until_waiting(waiting)
        self.wait_for(lambda: self.info(name)['state']['receivers_waiting'] == 1,
                      'a receiver waiting')
        waiting.proc.send_signal(signal.SIGTERM)
        self.assertEqual(waiting.wait(), 128 + signal.SIGTERM)
        self.assertEqual(waiting.stderr(),
                         'procshared: %s: interrupted by signal %d (Terminated) while waiting: '
                         'nothing received\n' % (name, signal.SIGTERM))
        self.assertOk(self.tool('send', name, 'kept'))
        self.assertEqual(self.receive(name), b'kept')
        self.assertEqual(self.info(name)['state'], self.state())

    def test_send_waits_for_room(self):
        name = self.create('queue-room', capacity=1)
        self.assertOk(self.tool('send', name, 'first'))
        waiting = self.start_tool('send', name, 'second')
        self.wait_until_waiting(waiting)
        self.wait_for(lambda: self.info(name)['state']['senders_waiting'] == 1,
                      'a sender waiting')
        self.assertIn('1 of 1 messages of up to 64 bytes, 1 waiting sender',
                      self.human_rows()[name][4])
        self.assertEqual(self.receive(name), b'first')
        self.assertEqual(waiting.wait(), 0)
        self.assertEqual(self.receive(name), b'second')

    def test_scribbled_queue_is_not_usable(self):
        """A queue whose state another process scribbled on (its capacity,
        right after the object header): every command says it is not
        usable (status 3), none crashes, and looking changes nothing."""
        name = self.create('queue-scribbled', capacity=2, size='16')
        with open(path_of(name), 'r+b') as f:
            f.seek(len(header()) + 4)           # the state's magic, then its capacity
            f.write(struct.pack('<I', 0xffffffff))
        before = self.snapshot(name)
        for args in (['info', name], ['send', name, 'x'], ['receive', name, '--timeout', '0']):
            with self.subTest(args=args):
                result = self.tool(*args)
                self.assertEqual((result.returncode, result.out), (NOT_USABLE, ''), result)
                self.assertRegex(result.err, r'^procshared: %s: [^\n]+\n$' % re.escape(name))
        entry = self.listed()[name]
        self.assertEqual((entry['kind'], entry['type'], entry['state']), ('object', 'queue', None))
        self.assertIsNotNone(entry['detail'])
        self.assertTrue(self.human_rows()[name][4].startswith('unknown: '))
        self.assertEqual(self.snapshot(name), before)

    def test_variants_and_python(self):
        if not HAVE_GI:
            self.skipTest('PyGObject with the Ps typelib is not available')
        name = self.create('queue-variant')
        self.assertOk(self.tool('send', '--variant', name, "('job', 42)"))
        self.assertEqual(self.receive(name), b"('job', 42)\n")
        # A Python receiver gets a GLib.Variant from send --variant, bytes
        # from a plain send; the tool prints what Python sent.
        self.assertOk(self.tool('send', '--variant', name, '[1, 2]'))
        self.assertOk(self.tool('send', name, 'plain'))
        code = ('import gi, sys\ngi.require_version("Ps", "1")\n'
                'from gi.repository import GLib, Ps\n'
                'q = Ps.Queue(name=sys.argv[1])\n'
                'v = q.get(timeout=10)\n'
                'assert isinstance(v, GLib.Variant) and v.unpack() == [1, 2], v\n'
                'assert q.get(timeout=10) == b"plain"\n'
                'q.put(GLib.Variant("(sb)", ("py", True)))\n'
                'q.put(b"raw \\x00 bytes")\n')
        completed = subprocess.run([PYTHON, '-c', code, name], capture_output=True, text=True,
                                   timeout=LONG_S)
        self.assertEqual(completed.returncode, 0, completed.stderr)
        self.assertEqual(self.receive(name), b"('py', true)\n")
        self.assertEqual(self.receive(name), b'raw \x00 bytes')


if __name__ == '__main__':
    unittest.main()
