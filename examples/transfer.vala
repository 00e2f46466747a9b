// SPDX-License-Identifier: LGPL-2.1-or-later
//
// transfer.vala: passing a structured value from one process to another
// through shared memory, as a self-describing GVariant record.
//
// A forked child stores a dictionary with write_variant() and releases a
// Ps.Semaphore; the parent takes it, reads the record back with
// read_variant(), which validates it, and looks the values up. A Python
// or GJS program could be on either side: see transfer.py, transfer.js.
//
//     valac --pkg procshared-1 --pkg posix transfer.vala

int main () {
    Posix.alarm (30);
    try {
        var memory = new Ps.SharedMemory (4096);
        var written = new Ps.Semaphore (0);   // released once the record is complete

        var pid = Posix.fork ();
        if (pid == 0) {
            Posix.alarm (30);         // alarm() is not inherited over fork()
            try {
                var record = new VariantDict ();
                record.insert_value ("from", "child %d".printf ((int) Posix.getpid ()));
                record.insert_value ("primes", new int32[] { 2, 3, 5, 7, 11 });
                record.insert_value ("ratio", 0.5);
                memory.write_variant (0, record.end ());
                written.release ();
            } catch (Error e) {
                printerr ("child: %s\n", e.message);
                Posix._exit (1);
            }
            Posix._exit (0);
        }

        written.acquire (10 * 1000000);       // IOError.TIMED_OUT if the child failed
        var value = memory.read_variant (0);
        print ("parent received %s: %s\n", value.get_type_string (), value.print (true));

        var dict = new VariantDict (value);
        var primes = (int32[]) dict.lookup_value ("primes", new VariantType ("ai"));
        var ratio = (double) dict.lookup_value ("ratio", VariantType.DOUBLE);

        int status;
        Posix.waitpid (pid, out status, 0);
        return primes.length == 5 && primes[4] == 11 && ratio == 0.5 ? 0 : 1;
    } catch (Error e) {
        printerr ("transfer: %s\n", e.message);
        return 1;
    }
}
