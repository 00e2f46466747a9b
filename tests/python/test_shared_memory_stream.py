# SPDX-License-Identifier: LGPL-2.1-or-later
"""GIO streams over a range of a PsSharedMemory through the typelib
(Gio.DataInputStream lines, seeking, writes past the range, splices,
async reads, a forked writer), and Ps.SharedMemoryIO, the io.RawIOBase
over them that the overrides add."""
import gc
import io
import os
import unittest

import gi
gi.require_version('Ps', '1')
from gi.repository import Gio, GLib, Ps  # noqa: E402

FILL = 0xa5


def filled(size=4096):
    memory = Ps.SharedMemory.new(size)
    memory.buf[:] = bytes([FILL]) * size
    return memory


def read_only_twin(memory):
    """The segment again, through a read-only descriptor."""
    fd = memory.dup_read_only_fd()
    try:
        return Ps.SharedMemory.new_from_fd(fd)
    finally:
        os.close(fd)


class StreamTest(unittest.TestCase):
    def assertError(self, domain, code, func, *args):
        with self.assertRaises(GLib.Error) as raised:
            func(*args)
        self.assertTrue(raised.exception.matches(domain, code), raised.exception.message)

    def assertUntouchedOutside(self, memory, offset, length):
        data = bytes(memory.buf)
        self.assertEqual(data[:offset], bytes([FILL]) * offset)
        self.assertEqual(data[offset + length:], bytes([FILL]) * (len(data) - offset - length))


class Streams(StreamTest):
    def test_types(self):
        memory = filled()
        stream_in = memory.get_input_stream(0, 16)
        stream_out = memory.get_output_stream(0, 16)
        self.assertIsInstance(stream_in, Gio.InputStream)
        self.assertIsInstance(stream_in, Gio.Seekable)
        self.assertIsInstance(stream_in, Gio.PollableInputStream)
        self.assertIsInstance(stream_out, Gio.OutputStream)
        self.assertIsInstance(stream_out, Gio.Seekable)
        self.assertIsInstance(stream_out, Gio.PollableOutputStream)

    def test_ranges(self):
        memory = filled()
        for offset, length in ((4097, 0), (0, 4097), (4096, 1), (1, 4096)):
            self.assertError(Ps.error_quark(), Ps.Error.OUT_OF_BOUNDS,
                             memory.get_input_stream, offset, length)
            self.assertError(Ps.error_quark(), Ps.Error.OUT_OF_BOUNDS,
                             memory.get_output_stream, offset, length)
        at_end = memory.get_input_stream(4096, 0)
        self.assertEqual(at_end.read_bytes(10, None).get_size(), 0)
        self.assertError(Gio.io_error_quark(), Gio.IOErrorEnum.NO_SPACE,
                         memory.get_output_stream(4096, 0).write, b'x', None)

    def test_lines(self):
        memory = filled()
        out = memory.get_output_stream(100, 200)
        out.write_all(b'alpha\nbeta\n\ngamma', None)
        lines = Gio.DataInputStream.new(memory.get_input_stream(100, 17))
        self.assertEqual(lines.read_line_utf8(None), ('alpha', 5))
        self.assertEqual(lines.read_line_utf8(None), ('beta', 4))
        self.assertEqual(lines.read_line_utf8(None), ('', 0))
        self.assertEqual(lines.read_line_utf8(None), ('gamma', 5))
        self.assertEqual(lines.read_line_utf8(None), (None, 0))
        self.assertUntouchedOutside(memory, 100, 17)

    def test_seek(self):
        memory = filled()
        for stream in (memory.get_input_stream(10, 100), memory.get_output_stream(10, 100)):
            self.assertTrue(stream.can_seek())
            self.assertFalse(stream.can_truncate())
            self.assertError(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_SUPPORTED,
                             stream.truncate, 0, None)
            self.assertTrue(stream.seek(-10, GLib.SeekType.END, None))
            self.assertEqual(stream.tell(), 90)
            self.assertTrue(stream.seek(10, GLib.SeekType.CUR, None))
            self.assertEqual(stream.tell(), 100)
            for offset, whence in ((1, GLib.SeekType.CUR), (-1, GLib.SeekType.SET),
                                   (101, GLib.SeekType.SET), (-101, GLib.SeekType.END)):
                self.assertError(Gio.io_error_quark(), Gio.IOErrorEnum.INVALID_ARGUMENT,
                                 stream.seek, offset, whence, None)
                self.assertEqual(stream.tell(), 100)

    def test_write_past_end(self):
        memory = filled()
        out = memory.get_output_stream(50, 10)
        self.assertEqual(out.write(b'0123456', None), 7)
        self.assertEqual(out.write(b'abcdef', None), 3)   # what fits
        self.assertError(Gio.io_error_quark(), Gio.IOErrorEnum.NO_SPACE,
                         out.write, b'x', None)
        self.assertEqual(bytes(memory.buf[50:60]), b'0123456abc')
        self.assertUntouchedOutside(memory, 50, 10)

    def test_read_only(self):
        memory = filled()
        memory.write(0, b'shared')
        reader = read_only_twin(memory)
        self.assertError(Gio.io_error_quark(), Gio.IOErrorEnum.READ_ONLY,
                         reader.get_output_stream, 0, 6)
        self.assertEqual(reader.get_input_stream(0, 6).read_bytes(6, None).get_data(),
                         b'shared')

    def test_splice(self):
        memory = filled(20000)
        payload = bytes(range(256)) * 40    # more than one 8 KiB chunk
        source = Gio.MemoryInputStream.new_from_bytes(GLib.Bytes.new(payload))
        spliced = memory.get_output_stream(3, len(payload)).splice(
            source, Gio.OutputStreamSpliceFlags.CLOSE_SOURCE, None)
        self.assertEqual(spliced, len(payload))
        self.assertUntouchedOutside(memory, 3, len(payload))
        sink = Gio.MemoryOutputStream.new_resizable()
        sink.splice(memory.get_input_stream(3, len(payload)),
                    Gio.OutputStreamSpliceFlags.CLOSE_TARGET, None)
        self.assertEqual(sink.steal_as_bytes().get_data(), payload)

    def test_read_bytes_async(self):
        memory = filled()
        memory.write(0, b'async read')
        stream = memory.get_input_stream(0, 10)
        loop = GLib.MainLoop()
        got = []

        def done(source, result):
            got.append(source.read_bytes_finish(result).get_data())
            loop.quit()

        stream.read_bytes_async(100, GLib.PRIORITY_DEFAULT, None, done)
        GLib.timeout_add_seconds(30, loop.quit)
        loop.run()
        self.assertEqual(got, [b'async read'])

    def test_keeps_segment(self):
        memory = filled()
        stream = memory.get_output_stream(0, 4)
        reader = memory.get_input_stream(0, 4)
        del memory
        gc.collect()
        stream.write_all(b'kept', None)
        self.assertEqual(reader.read_bytes(4, None).get_data(), b'kept')

    def test_child_writes_lines(self):
        memory = filled()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                out = memory.get_output_stream(0, 4096)
                for i in range(100):
                    out.write_all(b'line %d\n' % i, None)
                status = 0
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        lines = Gio.DataInputStream.new(memory.get_input_stream(0, 4096))
        for i in range(100):
            self.assertEqual(lines.read_line_utf8(None)[0], 'line %d' % i)


class SharedMemoryIO(StreamTest):
    def test_read_write(self):
        memory = filled()
        with Ps.SharedMemoryIO(memory, 16, 32, 'wb') as f:
            self.assertTrue(f.writable())
            self.assertFalse(f.readable())
            self.assertTrue(f.seekable())
            self.assertEqual(f.write(b'one\ntwo\n'), 8)
            self.assertEqual(f.tell(), 8)
            self.assertRaises(io.UnsupportedOperation, f.read, 1)
            self.assertRaises(io.UnsupportedOperation, f.truncate, 0)
        self.assertRaises(ValueError, f.tell)
        with Ps.SharedMemoryIO(memory, 16, 8) as f:
            self.assertEqual(f.read(), b'one\ntwo\n')
            self.assertEqual(f.read(), b'')
            self.assertRaises(io.UnsupportedOperation, f.write, b'x')
        with io.TextIOWrapper(io.BufferedReader(Ps.SharedMemoryIO(memory, 16, 8))) as text:
            self.assertEqual(text.readlines(), ['one\n', 'two\n'])
        self.assertUntouchedOutside(memory, 16, 8)

    def test_readinto_and_seek(self):
        memory = filled()
        memory.write(0, b'0123456789')
        f = Ps.SharedMemoryIO(memory, 0, 10)
        buffer = bytearray(4)
        self.assertEqual(f.readinto(buffer), 4)
        self.assertEqual(buffer, b'0123')
        self.assertEqual(f.seek(-3, io.SEEK_END), 7)
        self.assertEqual(f.readinto(buffer), 3)
        self.assertEqual(buffer, b'7893')
        self.assertEqual(f.seek(2), 2)
        self.assertEqual(f.seek(1, io.SEEK_CUR), 3)
        self.assertEqual(f.read(2), b'34')
        self.assertError(Gio.io_error_quark(), Gio.IOErrorEnum.INVALID_ARGUMENT, f.seek, 11)
        self.assertError(Gio.io_error_quark(), Gio.IOErrorEnum.INVALID_ARGUMENT, f.seek, -1)
        self.assertRaises(ValueError, f.seek, 0, 3)
        self.assertEqual(f.tell(), 5)

    def test_read_plus_one_position(self):
        memory = filled()
        f = Ps.SharedMemoryIO(memory, 100, 10, 'r+b')
        self.assertEqual(f.write(b'abc'), 3)
        self.assertEqual(f.read(2), bytes([FILL, FILL]))
        self.assertEqual(f.tell(), 5)
        f.seek(1)
        self.assertEqual(f.read(2), b'bc')
        f.seek(-1, io.SEEK_END)
        self.assertEqual(f.write(b'xyz'), 1)     # what fits
        self.assertError(Gio.io_error_quark(), Gio.IOErrorEnum.NO_SPACE, f.write, b'z')
        self.assertEqual(bytes(memory.buf[100:110]), b'abc' + bytes([FILL] * 6) + b'x')
        self.assertUntouchedOutside(memory, 100, 10)

    def test_length_defaults_to_the_end(self):
        memory = filled(64)
        f = Ps.SharedMemoryIO(memory, 60)
        self.assertEqual(f.read(), bytes([FILL] * 4))
        self.assertEqual(Ps.SharedMemoryIO(memory, 64).read(), b'')

    def test_errors(self):
        memory = filled(64)
        self.assertRaises(ValueError, Ps.SharedMemoryIO, memory, 0, 8, 'a')
        self.assertRaises(ValueError, Ps.SharedMemoryIO, memory, -1)
        self.assertRaises(ValueError, Ps.SharedMemoryIO, memory, 0, -1)
        self.assertError(Ps.error_quark(), Ps.Error.OUT_OF_BOUNDS,
                         Ps.SharedMemoryIO, memory, 65)
        self.assertError(Ps.error_quark(), Ps.Error.OUT_OF_BOUNDS,
                         Ps.SharedMemoryIO, memory, 60, 8)
        reader = read_only_twin(memory)
        self.assertError(Gio.io_error_quark(), Gio.IOErrorEnum.READ_ONLY,
                         Ps.SharedMemoryIO, reader, 0, 8, 'r+b')
        self.assertEqual(Ps.SharedMemoryIO(reader, 0, 2).read(), bytes([FILL, FILL]))


if __name__ == '__main__':
    unittest.main()
