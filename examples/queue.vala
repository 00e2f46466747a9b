// SPDX-License-Identifier: LGPL-2.1-or-later
//
// queue.vala: a Ps.Queue between a forked consumer and its parent, which
// sends with yield (send_async) from its main loop: jobs as bytes, one as
// a GVariant, and an urgent one of a higher priority, which overtakes any
// still in the queue; then an empty message, the end.
//
//     valac --pkg procshared-1 --pkg posix queue.vala

const int64 TIMEOUT_US = 10 * 1000000;   // a bug fails, never hangs
const int N_JOBS = 5;

async void produce (Ps.Queue queue, MainLoop loop, out bool ok) {
    ok = false;
    try {
        for (var i = 0; i < N_JOBS; i++)
            yield queue.send_async (new Bytes ("job %d".printf (i).data), 0, TIMEOUT_US, null);
        yield queue.send_variant_async (new Variant ("(su)", "report", N_JOBS), 0, TIMEOUT_US, null);
        yield queue.send_async (new Bytes ("urgent".data), 9, TIMEOUT_US, null);
        yield queue.send_async (new Bytes (new uint8[0]), 0, TIMEOUT_US, null);
        ok = true;
    } catch (Error e) {
        printerr ("producer: %s\n", e.message);
    }
    loop.quit ();
}

// In the forked child: prints each message until the empty one; exits 0
// if all came.
int consume (Ps.Queue queue) {
    Posix.alarm (30);
    var received = 0;
    try {
        for (;;) {
            Ps.QueueMessageKind kind;
            Bytes? bytes;
            Variant? value;
            uint priority;
            queue.receive_message (out kind, out bytes, out value, out priority, TIMEOUT_US);
            if (kind == Ps.QueueMessageKind.VARIANT) {
                print ("consumer: a variant, %s\n", value.print (false));
            } else if (bytes.get_size () == 0) {
                break;
            } else {
                var text = new StringBuilder ();
                text.append_len ((string) bytes.get_data (), (ssize_t) bytes.get_size ());
                print ("consumer: %s (priority %u)\n", text.str, priority);
            }
            received++;
        }
    } catch (Error e) {
        printerr ("consumer: %s\n", e.message);
        return 1;
    }
    return received == N_JOBS + 2 ? 0 : 1;
}

int main () {
    Posix.alarm (60);
    try {
        var queue = new Ps.Queue (4, 64);
        var pid = Posix.fork ();
        if (pid == 0)
            Posix._exit (consume (queue));

        var loop = new MainLoop ();
        bool ok = false;
        produce.begin (queue, loop, (obj, res) => { produce.end (res, out ok); });
        loop.run ();

        int status;
        Posix.waitpid (pid, out status, 0);
        return ok && Process.if_exited (status) && Process.exit_status (status) == 0 ? 0 : 1;
    } catch (Error e) {
        printerr ("queue: %s\n", e.message);
        return 1;
    }
}
