// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GIO streams over a range of a segment from Vala, through the generated
// procshared-1.vapi: lines through a DataInputStream, seeking as a
// Seekable, IOError.NO_SPACE past the range, Ps.Error.OUT_OF_BOUNDS for a
// range outside the segment, and an async read with yield.
// GLib.Test, in TAP mode.

void test_lines () {
    try {
        var memory = new Ps.SharedMemory (4096);
        var output = new DataOutputStream (memory.get_output_stream (100, 64));
        output.put_string ("first\nsecond\n");
        var input = new DataInputStream (memory.get_input_stream (100, 13));
        assert (input.read_line () == "first");
        assert (input.read_line () == "second");
        assert (input.read_line () == null);
    } catch (Error e) {
        error ("%s", e.message);
    }
}

void test_seek_and_limits () {
    try {
        var memory = new Ps.SharedMemory (4096);
        var output = memory.get_output_stream (10, 8);
        var seekable = output as Seekable;
        assert (seekable.can_seek () && !seekable.can_truncate ());
        seekable.seek (-2, SeekType.END);
        assert (seekable.tell () == 6);
        assert (output.write ("abcd".data) == 2);
        try {
            output.write ("x".data);
            assert_not_reached ();
        } catch (IOError.NO_SPACE e) {
        }
        try {
            seekable.seek (1, SeekType.END);
            assert_not_reached ();
        } catch (IOError.INVALID_ARGUMENT e) {
        }
        try {
            memory.get_input_stream (4090, 7);
            assert_not_reached ();
        } catch (Ps.Error.OUT_OF_BOUNDS e) {
        }
        assert (memory.get_uint8 (16) == 'a' && memory.get_uint8 (17) == 'b');
        assert (memory.get_uint8 (18) == 0);
    } catch (Error e) {
        error ("%s", e.message);
    }
}

async void read_async (Ps.SharedMemory memory, MainLoop loop) {
    try {
        var bytes = yield memory.get_input_stream (0, 5).read_bytes_async (64);
        assert (bytes.length == 5);
        assert (Memory.cmp (bytes.get_data (), "async".data, 5) == 0);
    } catch (Error e) {
        error ("%s", e.message);
    }
    loop.quit ();
}

void test_async () {
    try {
        var memory = new Ps.SharedMemory (64);
        memory.get_output_stream (0, 5).write_all ("async".data, null);
        var loop = new MainLoop ();
        read_async.begin (memory, loop);
        loop.run ();
    } catch (Error e) {
        error ("%s", e.message);
    }
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/vala/stream/lines", test_lines);
    Test.add_func ("/vala/stream/seek-and-limits", test_seek_and_limits);
    Test.add_func ("/vala/stream/async", test_async);
    return Test.run ();
}
