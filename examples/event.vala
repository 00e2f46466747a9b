// SPDX-License-Identifier: LGPL-2.1-or-later
//
// event.vala: a starting gun. Forked workers wait on a manual-reset
// Ps.Event until the parent sets it; every one of them starts.
//
//     valac --pkg procshared-1 --pkg posix event.vala

const int N_WORKERS = 3;
const int64 TIMEOUT_US = 10 * 1000000;   // a bug fails, never hangs

int main () {
    Posix.alarm (60);
    try {
        var start = new Ps.Event (false);
        Posix.pid_t[] pids = {};
        for (var i = 0; i < N_WORKERS; i++) {
            var pid = Posix.fork ();
            if (pid == 0) {
                Posix.alarm (30);
                try {
                    start.wait (TIMEOUT_US);
                    print ("worker %d: started\n", (int) Posix.getpid ());
                } catch (Error e) {
                    printerr ("worker: %s\n", e.message);
                    Posix._exit (1);
                }
                Posix._exit (0);
            }
            pids += pid;
        }
        Thread.usleep (50000);
        start.set ();
        var ok = true;
        foreach (var pid in pids) {
            int status;
            Posix.waitpid (pid, out status, 0);
            ok = ok && Process.if_exited (status) && Process.exit_status (status) == 0;
        }
        return ok && start.is_set () ? 0 : 1;
    } catch (Error e) {
        printerr ("event: %s\n", e.message);
        return 1;
    }
}
