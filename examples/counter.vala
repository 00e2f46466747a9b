// SPDX-License-Identifier: LGPL-2.1-or-later
//
// counter.vala: two forked processes increment one counter under a
// Ps.Mutex placed next to it in one anonymous Ps.SharedMemory.
//
//     valac --pkg procshared-1 --pkg posix counter.vala

const int N_INCREMENTS = 20000;
const int64 LOCK_TIMEOUT_US = 10 * 1000000;   // a bug fails, never hangs

void increment (Ps.SharedMemory memory, Ps.Mutex mutex) throws Error {
    for (var i = 0; i < N_INCREMENTS; i++) {
        // On any error this throws, and the process ends: the mutex is
        // robust, so a lock held by a dead process is never lost.
        mutex.lock (LOCK_TIMEOUT_US);
        // A non-atomic read-modify-write: the lock makes it safe.
        memory.set_int64 (Ps.MUTEX_SIZE, memory.get_int64 (Ps.MUTEX_SIZE) + 1);
        mutex.unlock ();
    }
}

int main () {
    Posix.alarm (60);
    try {
        // Zero-filled: the counter, right after the mutex, starts at 0.
        var memory = new Ps.SharedMemory (Ps.MUTEX_SIZE + sizeof (int64));
        var mutex = new Ps.Mutex.at (memory, 0);

        var pid = Posix.fork ();    // the child shares memory and mutex
        if (pid == 0) {
            Posix.alarm (30);         // alarm() is not inherited over fork()
            try {
                increment (memory, mutex);
            } catch (Error e) {
                printerr ("child: %s\n", e.message);
                Posix._exit (1);
            }
            Posix._exit (0);
        }
        increment (memory, mutex);   // at the same time as the child

        int status;
        Posix.waitpid (pid, out status, 0);
        var total = memory.get_int64 (Ps.MUTEX_SIZE);
        print ("total: %" + int64.FORMAT + " (expected %d)\n", total, 2 * N_INCREMENTS);
        return Process.if_exited (status) && Process.exit_status (status) == 0 &&
               total == 2 * N_INCREMENTS ? 0 : 1;
    } catch (Error e) {
        printerr ("counter: %s\n", e.message);
        return 1;
    }
}
