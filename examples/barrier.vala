// SPDX-License-Identifier: LGPL-2.1-or-later
//
// barrier.vala: a parent and two forked children go through phases
// together at a Ps.Barrier; a wait that fails (Ps.Error.BROKEN: a party
// timed out, died or aborted) ends the process.
//
//     valac --pkg procshared-1 --pkg posix barrier.vala

const int N_PARTIES = 3;
const int N_PHASES = 4;
const int64 TIMEOUT_US = 10 * 1000000;

void phases (Ps.Barrier barrier, string who) throws Error {
    for (var phase = 0; phase < N_PHASES; phase++) {
        var index = barrier.wait (TIMEOUT_US);
        if (index == 0)
            print ("%s: phase %d done by all, arrived first\n", who, phase);
    }
}

int main () {
    Posix.alarm (60);
    try {
        var barrier = new Ps.Barrier (N_PARTIES);
        Posix.pid_t[] pids = {};
        for (var i = 0; i < N_PARTIES - 1; i++) {
            var pid = Posix.fork ();
            if (pid == 0) {
                Posix.alarm (30);
                try {
                    phases (barrier, "child");
                } catch (Error e) {
                    printerr ("child: %s\n", e.message);
                    Posix._exit (1);
                }
                Posix._exit (0);
            }
            pids += pid;
        }
        phases (barrier, "parent");
        var ok = true;
        foreach (var pid in pids) {
            int status;
            Posix.waitpid (pid, out status, 0);
            ok = ok && Process.if_exited (status) && Process.exit_status (status) == 0;
        }
        return ok ? 0 : 1;
    } catch (Error e) {
        printerr ("barrier: %s\n", e.message);
        return 1;
    }
}
