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
// Either side may die holding the mutex. Then the other side's lock (), or
// its wait_until (), throws Ps.Error.OWNER_DEAD *with the mutex held*: it
// repairs the exchange, calls mark_consistent () and goes on. An unlock ()
// without mark_consistent () would make the mutex unusable for everyone.
//
//     valac --pkg procshared-1 --pkg posix handshake.vala

// The lock, the condition, then five int32s of data.
const size_t COND = Ps.MUTEX_SIZE;
const size_t REQUEST_READY = Ps.MUTEX_SIZE + Ps.COND_SIZE;
const size_t REQUEST = REQUEST_READY + 4;
const size_t REPLY_READY = REQUEST_READY + 8;
const size_t REPLY = REQUEST_READY + 12;
const size_t PEER_DIED = REQUEST_READY + 16;
const int64 DEADLINE_US = 5 * 1000000;

// After the other side died holding the mutex: a reply written without
// its flag is not to be trusted, and nobody will answer any more.
void repair_exchange (Ps.SharedMemory memory, Ps.Mutex mutex) throws Error {
    if (memory.get_int32 (REPLY_READY) == 0)
        memory.set_int32 (REPLY, 0);
    memory.set_int32 (PEER_DIED, 1);
    mutex.mark_consistent ();
}

// On Ps.Error.OWNER_DEAD the mutex is held: repair, then carry on.
void lock_exchange (Ps.SharedMemory memory, Ps.Mutex mutex) throws Error {
    try {
        mutex.lock (DEADLINE_US);
    } catch (Ps.Error.OWNER_DEAD e) {
        repair_exchange (memory, mutex);
    }
}

// The caller holds the mutex, and holds it again when this returns.
void wait_for_flag (Ps.SharedMemory memory, Ps.Mutex mutex, Ps.Cond cond, size_t flag) throws Error {
    var end_time = get_monotonic_time () + DEADLINE_US;   // computed once
    while (memory.get_int32 (flag) == 0 && memory.get_int32 (PEER_DIED) == 0) {
        try {
            cond.wait_until (mutex, end_time);
        } catch (Ps.Error.OWNER_DEAD e) {
            repair_exchange (memory, mutex);   // the mutex is held: repair
        }
    }
}

// Errors are thrown and end the process; the mutex is robust, so one held
// by a dead process is never lost to the other side.
void child (Ps.SharedMemory memory, Ps.Mutex mutex, Ps.Cond cond) throws Error {
    lock_exchange (memory, mutex);
    wait_for_flag (memory, mutex, cond, REQUEST_READY);
    if (memory.get_int32 (PEER_DIED) != 0)
        throw new IOError.FAILED ("the parent died");
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
        var memory = new Ps.SharedMemory (PEER_DIED + 4);
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

        lock_exchange (memory, mutex);
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
