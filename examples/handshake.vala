// SPDX-License-Identifier: LGPL-2.1-or-later
//
// handshake.vala: a request and a reply between two forked processes
// through a Ps.Mutex, a Ps.Cond and the data they guard, in one segment.
//
// Each side waits in a predicate loop with Ps.Cond.wait_until() and one
// deadline: a signal sent before the other side waits is not lost,
// spurious wake-ups are harmless, and a bug ends the wait with
// IOError.TIMED_OUT instead of a hang.
//
//     valac --pkg procshared-1 --pkg posix handshake.vala

// The lock, the condition, then four int32s of data.
const size_t COND = Ps.MUTEX_SIZE;
const size_t REQUEST_READY = Ps.MUTEX_SIZE + Ps.COND_SIZE;
const size_t REQUEST = REQUEST_READY + 4;
const size_t REPLY_READY = REQUEST_READY + 8;
const size_t REPLY = REQUEST_READY + 12;
const int64 DEADLINE_US = 5 * 1000000;

// The caller holds the mutex, and holds it again when this returns.
void wait_for_flag (Ps.SharedMemory memory, Ps.Mutex mutex, Ps.Cond cond, size_t flag) throws Error {
    var end_time = get_monotonic_time () + DEADLINE_US;   // computed once
    while (memory.get_int32 (flag) == 0)
        cond.wait_until (mutex, end_time);
}

// Errors are thrown and end the process; the mutex is robust, so one held
// by a dead process is never lost to the other side.
void child (Ps.SharedMemory memory, Ps.Mutex mutex, Ps.Cond cond) throws Error {
    mutex.lock (DEADLINE_US);
    wait_for_flag (memory, mutex, cond, REQUEST_READY);
    memory.set_int32 (REPLY, memory.get_int32 (REQUEST) * 2);
    memory.set_int32 (REPLY_READY, 1);
    print ("child  (pid %d): got request %d, replying %d\n",
           (int) Posix.getpid (), memory.get_int32 (REQUEST), memory.get_int32 (REPLY));
    cond.@signal ();
    mutex.unlock ();
}

int main () {
    Posix.alarm (30);
    try {
        var memory = new Ps.SharedMemory (REPLY + 4);
        var mutex = new Ps.Mutex.at (memory, 0);
        var cond = new Ps.Cond.at (memory, COND);

        var pid = Posix.fork ();
        if (pid == 0) {
            Posix.alarm (30);         // alarm() is not inherited over fork()
            try {
                child (memory, mutex, cond);
            } catch (Error e) {
                printerr ("child: %s\n", e.message);
                Posix._exit (1);
            }
            Posix._exit (0);
        }

        mutex.lock (DEADLINE_US);
        memory.set_int32 (REQUEST, 21);
        memory.set_int32 (REQUEST_READY, 1);
        print ("parent (pid %d): sent request 21\n", (int) Posix.getpid ());
        cond.@signal ();
        // Releases the mutex while waiting, so that the child can answer.
        wait_for_flag (memory, mutex, cond, REPLY_READY);
        var reply = memory.get_int32 (REPLY);
        print ("parent (pid %d): got reply %d\n", (int) Posix.getpid (), reply);
        mutex.unlock ();

        int status;
        Posix.waitpid (pid, out status, 0);
        return Process.if_exited (status) && Process.exit_status (status) == 0 &&
               reply == 42 ? 0 : 1;
    } catch (Error e) {
        printerr ("handshake: %s\n", e.message);
        return 1;
    }
}
