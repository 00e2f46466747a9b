// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Segments shared by file descriptor from Vala, through the generated
// procshared-1.vapi: dup_fd and new_from_fd, read-only descriptors caught
// as IOError.READ_ONLY, seals, and handles in a GLib.UnixFDList.
// GLib.Test, in TAP mode.

void test_round_trip () {
    try {
        var memory = new Ps.SharedMemory (4096);
        int fd = memory.dup_fd ();
        assert (fd > 2);
        assert ((Posix.fcntl (fd, Posix.F_GETFD) & Posix.FD_CLOEXEC) != 0);
        var received = new Ps.SharedMemory.from_fd (fd);
        Posix.close (fd);
        memory.set_int64 (8, 31337);
        assert (received.get_int64 (8) == 31337);
        assert (!received.is_read_only ());
    } catch (Error e) {
        error ("%s", e.message);
    }
}

void test_read_only () {
    try {
        var memory = new Ps.SharedMemory (4096);
        memory.set_int32 (0, 3);
        int fd = memory.dup_read_only_fd ();
        var reader = new Ps.SharedMemory.from_fd (fd);
        Posix.close (fd);
        assert (reader.is_read_only ());
        assert (reader.get_int32 (0) == 3);
        try {
            reader.set_int32 (0, 4);
            assert_not_reached ();
        } catch (IOError.READ_ONLY e) {
        }
        try {
            new Ps.Mutex.at (reader, 256);
            assert_not_reached ();
        } catch (IOError.READ_ONLY e) {
        }
        try {
            memory.dup_fd ();
            assert_not_reached ();
        } catch (IOError.READ_ONLY e) {
        }
    } catch (Error e) {
        error ("%s", e.message);
    }
}

void test_bad_descriptor () {
    int fds[2];
    assert (Posix.pipe (fds) == 0);
    try {
        new Ps.SharedMemory.from_fd (fds[0]);
        assert_not_reached ();
    } catch (IOError.NOT_REGULAR_FILE e) {
    } catch (Error e) {
        error ("%s", e.message);
    }
    Posix.close (fds[0]);
    Posix.close (fds[1]);
}

void test_handle () {
    try {
        var memory = new Ps.SharedMemory (64);
        memory.seal ();
        memory.set_uint8 (5, 200);
        var list = new UnixFDList ();
        var handle = memory.to_handle (list);
        assert (handle.get_type_string () == "h");
        var received = new Ps.SharedMemory.from_handle (handle, list);
        assert (received.get_uint8 (5) == 200);
    } catch (Error e) {
        error ("%s", e.message);
    }
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/vala/fd/round-trip", test_round_trip);
    Test.add_func ("/vala/fd/read-only", test_read_only);
    Test.add_func ("/vala/fd/bad-descriptor", test_bad_descriptor);
    Test.add_func ("/vala/fd/handle", test_handle);
    return Test.run ();
}
