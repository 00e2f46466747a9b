// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rwlock.vala: readers in forked processes and a writer share a pair of
// numbers under a Ps.RWLock; the readers must never see them differ.
//
//     valac --pkg procshared-1 --pkg posix rwlock.vala

const int ROUNDS = 2000;
const int64 TIMEOUT_US = 10 * 1000000;   // a bug fails, never hangs

int main () {
    Posix.alarm (60);
    try {
        var a = Ps.RW_LOCK_SIZE;
        var memory = new Ps.SharedMemory (a + 16);
        var rw = new Ps.RWLock.at (memory, 0);

        var pid = Posix.fork ();
        if (pid == 0) {
            Posix.alarm (30);
            try {
                for (var i = 0; i < ROUNDS; i++) {
                    rw.read_lock (TIMEOUT_US);
                    var torn = memory.get_int64 (a) != memory.get_int64 (a + 8);
                    rw.read_unlock ();
                    if (torn)
                        Posix._exit (2);
                }
            } catch (Error e) {
                Posix._exit (1);
            }
            Posix._exit (0);
        }
        for (var i = 0; i < ROUNDS; i++) {
            rw.write_lock (TIMEOUT_US);
            memory.set_int64 (a, i);
            memory.set_int64 (a + 8, i);
            rw.write_unlock ();
        }
        int status;
        Posix.waitpid (pid, out status, 0);
        var ok = Process.if_exited (status) && Process.exit_status (status) == 0;
        print ("the reader %s a torn pair\n", ok ? "never saw" : "saw");
        return ok ? 0 : 1;
    } catch (Error e) {
        printerr ("rwlock: %s\n", e.message);
        return 1;
    }
}
