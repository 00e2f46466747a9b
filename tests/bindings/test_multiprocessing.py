# SPDX-License-Identifier: LGPL-2.1-or-later
"""Named procshared objects passed to multiprocessing workers under every
start method: they pickle by name and reopen in the worker, so a 'spawn'
or 'forkserver' pool shares one PsMutex and one PsSharedMemory and counts
exactly. Anonymous objects reach 'fork' children by inheritance."""

import faulthandler
import multiprocessing
import os
import struct
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bindings_util import LONG_S, BindingTestCase  # noqa: E402

import gi  # noqa: E402
gi.require_version('Ps', '1')
from gi.repository import Ps  # noqa: E402

N_WORKERS = 4
N_INCREMENTS = 2000
COUNTER = struct.Struct('=q')

# Set in each pool worker by init_worker(), from the pickled named objects.
_worker_mutex = None
_worker_memory = None


def init_worker(mutex, memory):
    global _worker_mutex, _worker_memory
    _worker_mutex = mutex
    _worker_memory = memory


def increment(count, mutex=None, memory=None):
    """count locked read-modify-write increments of the int64 at offset 0,
    through the zero-copy view: without the lock, increments would be lost."""
    mutex = mutex or _worker_mutex
    memory = memory or _worker_memory
    view = memory.buf
    for _ in range(count):
        with mutex:
            (value,) = COUNTER.unpack_from(view, 0)
            COUNTER.pack_into(view, 0, value + 1)
    return os.getpid(), type(mutex).__name__, mutex.get_name(), memory.get_name()


def increment_with_args(args):
    return increment(*args)


def release_twice(sem):
    sem.release()
    sem.release()


def add_under_lock(mutex, memory, count):
    increment(count, mutex, memory)


class StartMethods(BindingTestCase):
    def make_objects(self, tag):
        mutex = Ps.Mutex.open(self.new_name(tag + '-mtx'),
                              Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE)
        memory = Ps.SharedMemory.open(self.new_name(tag + '-shm'),
                                      Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 4096)
        return mutex, memory

    def run_pool(self, method):
        """Objects handed to the workers at spawning time (initargs)."""
        mutex, memory = self.make_objects(method)
        ctx = multiprocessing.get_context(method)
        pool = ctx.Pool(N_WORKERS, initializer=init_worker, initargs=(mutex, memory))
        try:
            results = pool.map_async(increment, [N_INCREMENTS] * N_WORKERS,
                                     chunksize=1).get(LONG_S)
            pool.close()
        finally:
            pool.terminate()
            pool.join()
        self.assertEqual(memory.get_int64(0), N_WORKERS * N_INCREMENTS)
        self.assertEqual(COUNTER.unpack_from(memory.buf, 0)[0], N_WORKERS * N_INCREMENTS)
        for pid, type_name, mutex_name, memory_name in results:
            self.assertNotEqual(pid, os.getpid())
            self.assertEqual(type_name, 'Mutex')
            self.assertEqual(mutex_name, mutex.get_name())
            self.assertEqual(memory_name, memory.get_name())
        self.assertEqual(mutex.get_owner_pid(), 0)

    def run_pool_with_task_args(self, method):
        """Objects sent with each task, through the pool's pipes."""
        mutex, memory = self.make_objects(method + '-args')
        ctx = multiprocessing.get_context(method)
        pool = ctx.Pool(N_WORKERS)
        try:
            pool.map_async(increment_with_args,
                           [(N_INCREMENTS, mutex, memory)] * N_WORKERS,
                           chunksize=1).get(LONG_S)
            pool.close()
        finally:
            pool.terminate()
            pool.join()
        self.assertEqual(memory.get_int64(0), N_WORKERS * N_INCREMENTS)

    def run_processes(self, method, tag, objects):
        """Two Process()es adding to the counter, plus the parent."""
        mutex, memory = objects
        ctx = multiprocessing.get_context(method)
        processes = [ctx.Process(target=add_under_lock, args=(mutex, memory, N_INCREMENTS))
                     for _ in range(2)]
        try:
            for process in processes:
                process.start()
            increment(N_INCREMENTS, mutex, memory)
            for process in processes:
                process.join(LONG_S)
                self.assertEqual(process.exitcode, 0)
        finally:
            for process in processes:
                if process.is_alive():
                    process.kill()
                    process.join()
        self.assertEqual(memory.get_int64(0), 3 * N_INCREMENTS)

    def test_spawn_pool(self):
        self.run_pool('spawn')

    def test_spawn_pool_task_args(self):
        self.run_pool_with_task_args('spawn')

    def test_forkserver_pool(self):
        self.run_pool('forkserver')

    def test_forkserver_pool_task_args(self):
        self.run_pool_with_task_args('forkserver')

    def test_spawn_process(self):
        self.run_processes('spawn', 'spawn-proc', self.make_objects('spawn-proc'))

    def test_forkserver_process(self):
        self.run_processes('forkserver', 'fs-proc', self.make_objects('fs-proc'))

    def test_fork_process_anonymous(self):
        # Inherited, never pickled: anonymous objects are fine here.
        memory = Ps.SharedMemory.new(Ps.MUTEX_SIZE + 8)
        mutex = Ps.Mutex.new_at(memory, 0)
        counter_memory = Ps.SharedMemory.new(8)
        self.run_processes('fork', 'fork-anon', (mutex, counter_memory))
        self.assertEqual(mutex.get_owner_pid(), 0)

    def test_spawn_semaphore(self):
        sem = Ps.Semaphore.open(self.new_name('spawn-sem'),
                                Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 0)
        process = multiprocessing.get_context('spawn').Process(target=release_twice,
                                                                args=(sem,))
        process.start()
        try:
            self.assertTrue(sem.acquire(timeout=LONG_S))
            self.assertTrue(sem.acquire(timeout=LONG_S))
            process.join(LONG_S)
            self.assertEqual(process.exitcode, 0)
        finally:
            if process.is_alive():
                process.kill()
                process.join()
        self.assertEqual(sem.get_value(), 0)

    def test_fork_pool_refuses_anonymous(self):
        # A pool's workers already exist: a task's arguments are pickled,
        # and an anonymous object cannot travel that way, even with 'fork'.
        ctx = multiprocessing.get_context('fork')
        pool = ctx.Pool(1)
        try:
            with self.assertRaises(RuntimeError) as cm:
                pool.apply_async(print, (Ps.Mutex.new(),)).get(LONG_S)
            self.assertIn('inheritance', str(cm.exception))
            pool.close()
        finally:
            pool.terminate()
            pool.join()


if __name__ == '__main__':
    faulthandler.dump_traceback_later(10 * LONG_S, exit=True)
    unittest.main()
