# SPDX-License-Identifier: LGPL-2.1-or-later
#
# procshared from Ruby, through ruby-gnome's gobject-introspection gem:
# the API as docs/ruby.md shows it to a Ruby user, with the exact error
# classes and codes of both domains.
#
# Every blocking call here has a finite timeout (a call into C is not
# interrupted by Ruby's Timeout); every forked child is waited for under
# Timeout (Process.wait is) and killed in teardown if still there; every
# loop is bounded.

require "test/unit"
require "gio2"
require "open3"
require "rbconfig"
require_relative "ruby_test_util"

# As docs/ruby.md loads it: every call of procshared may block, so the
# loader lets the other Ruby threads run meanwhile (ruby-gnome keeps the
# GVL by default, and then no other thread could cancel a wait).
module Ps
  class Loader < GObjectIntrospection::Loader
    private

    def should_unlock_gvl?(_info, _klass)
      true
    end
  end
  Loader.new(self).load("Ps")
end

PYTHON = "/usr/bin/python3"

class TestRuby < Test::Unit::TestCase
  include PsRubyTest

  @@counter = 0

  def setup
    @names = []
    @children = []
  end

  def teardown
    @children.each do |pid|
      begin
        Process.kill(:KILL, pid)
        Process.wait(pid)
      rescue Errno::ESRCH, Errno::ECHILD
        nil
      end
    end
    @names.each do |name|
      begin
        Ps.unlink(name)
      rescue Gio::IOError::NotFound
        nil
      end
    end
  end

  # A name no other test, run or process uses; unlinked in teardown.
  def unique_name(tag)
    @@counter += 1
    name = "/ps-ruby-#{tag}-#{Process.pid}-#{@@counter}"
    @names << name
    name
  end

  # Runs the block in a forked child that exits 0 when it returns, 1
  # when it raises; the child ends itself if it outlives LONG_S.
  def fork_child
    pid = fork do
      code = 1
      begin
        Thread.new do
          sleep(LONG_S + 1)
          Process.kill(:KILL, Process.pid)
        end
        yield
        code = 0
      rescue Exception => e # rubocop:disable Lint/RescueException
        $stderr.puts("child: #{e.class}: #{e.message}\n#{e.backtrace.join("\n")}")
      ensure
        exit!(code)
      end
    end
    @children << pid
    pid
  end

  # The child's Process::Status, within LONG_S (the child is killed in
  # teardown otherwise).
  def wait_child(pid)
    status = wait_status(pid)
    @children.delete(pid)
    status
  end

  def assert_child_ok(pid)
    status = wait_child(pid)
    assert_true(status.exited?, "child #{status.inspect}")
    assert_equal(0, status.exitstatus)
  end

  def assert_ps_error(klass, code)
    error = assert_raise(klass) { yield }
    assert_equal("ps-error-quark", error.domain)
    assert_equal(code, error.code)
    error
  end

  # --- Errors -------------------------------------------------------

  def test_error_classes
    [
      [Ps::Error::Failed, Ps::Error::FAILED, 0],
      [Ps::Error::OwnerDead, Ps::Error::OWNER_DEAD, 1],
      [Ps::Error::NotRecoverable, Ps::Error::NOT_RECOVERABLE, 2],
      [Ps::Error::NotOwner, Ps::Error::NOT_OWNER, 3],
      [Ps::Error::WouldDeadlock, Ps::Error::WOULD_DEADLOCK, 4],
      [Ps::Error::Overflow, Ps::Error::OVERFLOW, 5],
      [Ps::Error::WrongType, Ps::Error::WRONG_TYPE, 6],
      [Ps::Error::Incompatible, Ps::Error::INCOMPATIBLE, 7],
      [Ps::Error::Corrupt, Ps::Error::CORRUPT, 8],
      [Ps::Error::OutOfBounds, Ps::Error::OUT_OF_BOUNDS, 9],
      [Ps::Error::Broken, Ps::Error::BROKEN, 10],
    ].each do |klass, constant, value|
      assert_equal(value, constant)
      assert_true(klass < Ps::Error)
      assert_true(klass < StandardError)
    end
    assert_true(Gio::IOError::WouldBlock < Gio::IOError)
  end

  # --- PsSharedMemory -----------------------------------------------

  def test_shared_memory_anonymous
    memory = Ps::SharedMemory.new(64)
    assert_equal(64, memory.size)
    assert_nil(memory.name)
    assert_true(memory.created?)
    assert_not_equal(0, memory.address)
    assert_equal("\0" * 64, memory.read(0, 64).to_s)
  end

  def test_shared_memory_named_flags
    name = unique_name("shm")
    create = Ps::OpenFlags::CREATE | Ps::OpenFlags::EXCLUSIVE
    memory = Ps::SharedMemory.open(name, create, 4096)
    assert_true(memory.created?)
    assert_equal(name, memory.name)
    assert_equal(4096, memory.size)
    memory.set_int32(8, 1234)
    assert_io_error(Gio::IOError::Exists, Gio::IOError::EXISTS) do
      Ps::SharedMemory.open(name, create, 4096)
    end
    other = Ps::SharedMemory.open(name, Ps::OpenFlags::NONE, 0)
    assert_false(other.created?)
    assert_equal(4096, other.size)
    assert_equal(1234, other.get_int32(8))
    assert_true(Ps.unlink(name))
    assert_io_error(Gio::IOError::NotFound, Gio::IOError::NOT_FOUND) do
      Ps::SharedMemory.open(name, Ps::OpenFlags::NONE, 0)
    end
    assert_io_error(Gio::IOError::NotFound, Gio::IOError::NOT_FOUND) { Ps.unlink(name) }
    assert_equal(1234, other.get_int32(8)) # still mapped after unlink
    symbols = unique_name("shm-symbols")
    assert_true(Ps::SharedMemory.open(symbols, [:create, :exclusive], 64).created?)
    assert_io_error(Gio::IOError::Exists, Gio::IOError::EXISTS) do
      Ps::SharedMemory.open(symbols, [:create, :exclusive], 64)
    end
  end

  def test_shared_memory_accessors
    memory = Ps::SharedMemory.new(64)
    assert_true(memory.write(1, "hello\0\xff".b))
    assert_equal("hello\0\xff".b, memory.read(1, 7).to_s)
    memory.set_int32(8, -5)
    assert_equal(-5, memory.get_int32(8))
    memory.set_int64(16, 2**62 + 1)
    assert_equal(2**62 + 1, memory.get_int64(16))
    memory.set_int64(16, -2**63)
    assert_equal(-2**63, memory.get_int64(16))
    memory.set_uint8(24, 255)
    assert_equal(255, memory.get_uint8(24))
    memory.set_double(32, 1.5)
    assert_equal(1.5, memory.get_double(32))
    assert_equal([-5].pack("l<"), memory.read(8, 4).to_s)
  end

  def test_shared_memory_out_of_bounds
    memory = Ps::SharedMemory.new(16)
    memory.write(0, "x" * 16)
    error = assert_ps_error(Ps::Error::OutOfBounds, Ps::Error::OUT_OF_BOUNDS) do
      memory.get_int32(14)
    end
    assert_kind_of(Ps::Error, error)
    assert_ps_error(Ps::Error::OutOfBounds, Ps::Error::OUT_OF_BOUNDS) { memory.read(10, 7) }
    assert_ps_error(Ps::Error::OutOfBounds, Ps::Error::OUT_OF_BOUNDS) { memory.write(12, "abcde") }
    assert_ps_error(Ps::Error::OutOfBounds, Ps::Error::OUT_OF_BOUNDS) { memory.set_int64(9, 1) }
    assert_ps_error(Ps::Error::OutOfBounds, Ps::Error::OUT_OF_BOUNDS) { memory.get_uint8(16) }
    assert_equal("x" * 16, memory.read(0, 16).to_s) # nothing touched
  end

  def test_variant_round_trip
    memory = Ps::SharedMemory.new(4096)
    [[42, "i"], [2**40, "x"], [7, "u"], [1.25, "d"], [true, "b"], ["text", "s"],
     [%w[a b], "as"]].each do |value, type|
      assert_true(memory.write_variant(64, GLib::Variant.new(value, type)))
      assert_equal(value, memory.read_variant(64))
    end
    assert_ps_error(Ps::Error::Corrupt, Ps::Error::CORRUPT) { memory.read_variant(2048) }
    assert_ps_error(Ps::Error::OutOfBounds, Ps::Error::OUT_OF_BOUNDS) do
      memory.write_variant(4090, GLib::Variant.new("a long string", "s"))
    end
  end

  # ruby-gnome dispatches Ps::SharedMemory.new by its arguments: an
  # Integer is a size, so new_from_fd is reached as docs/ruby.md shows.
  def test_shared_memory_fd
    memory = Ps::SharedMemory.new(64)
    memory.set_int32(0, 77)
    fd = memory.dup_fd
    assert_kind_of(Integer, fd)
    begin
      copy = Ps::SharedMemory.allocate
      copy.__send__(:initialize_new_from_fd, fd)
      assert_equal(64, copy.size)
      assert_equal(77, copy.get_int32(0))
      copy.set_int32(4, 88)
      assert_equal(88, memory.get_int32(4))
      assert_equal(fd, Ps::SharedMemory.new(fd).size) # the size constructor
    ensure
      IO.for_fd(fd).close
    end
    read_only_fd = memory.dup_read_only_fd
    begin
      view = Ps::SharedMemory.allocate
      view.__send__(:initialize_new_from_fd, read_only_fd)
      assert_true(view.read_only?)
      assert_equal(77, view.get_int32(0))
      assert_io_error(Gio::IOError::ReadOnly, Gio::IOError::READ_ONLY) { view.set_int32(0, 1) }
    ensure
      IO.for_fd(read_only_fd).close
    end
    assert_equal(77, memory.get_int32(0))
  end

  def test_shared_memory_streams
    memory = Ps::SharedMemory.new(256)
    output = memory.get_output_stream(16, 8)
    assert_kind_of(Gio::OutputStream, output)
    assert_kind_of(Gio::Seekable, output)
    assert_equal(8, output.write("abcdefghij"))  # what fits
    assert_io_error(Gio::IOError::NoSpace, Gio::IOError::NO_SPACE) { output.write("k") }
    assert_equal("abcdefgh", memory.read(16, 8).to_s)
    input = memory.get_input_stream(16, 8)
    assert_kind_of(Gio::InputStream, input)
    assert_equal("abc", input.read_bytes(3, nil).to_s)
    assert_true(input.seek(6, GLib::IOChannel::SEEK_SET, nil))
    assert_equal(6, input.tell)
    assert_equal("gh", input.read_bytes(10, nil).to_s)
    assert_equal("", input.read_bytes(10, nil).to_s)
  end

  # --- PsSemaphore --------------------------------------------------

  def test_semaphore
    semaphore = Ps::Semaphore.new(1)
    assert_equal(2_147_483_647, semaphore.max_value)
    assert_true(semaphore.acquire(0, nil))
    assert_io_error(Gio::IOError::WouldBlock, Gio::IOError::WOULD_BLOCK) { semaphore.acquire(0, nil) }
    assert_equal(27, Gio::IOError::WOULD_BLOCK)
    assert_false(semaphore.try_acquire)
    assert_true(semaphore.release)
    assert_equal(1, semaphore.value)

    bounded = Ps::Semaphore.new(1, 2)
    assert_equal([1, 2], [bounded.value, bounded.max_value])
    assert_ps_error(Ps::Error::Overflow, Ps::Error::OVERFLOW) { bounded.release_many(2) }
    assert_equal(1, bounded.value)
    bounded.release
    assert_ps_error(Ps::Error::Overflow, Ps::Error::OVERFLOW) { bounded.release }
    assert_equal(2, bounded.value)
  end

  def test_semaphore_across_fork
    semaphore = Ps::Semaphore.new(0)
    pid = fork_child { 3.times { semaphore.release } }
    3.times { assert_true(semaphore.acquire(LONG_US, nil)) }
    assert_child_ok(pid)
    assert_equal(0, semaphore.value)
  end

  def test_timed_wait_never_early
    semaphore = Ps::Semaphore.new(0)
    start = now_us
    assert_io_error(Gio::IOError::TimedOut, Gio::IOError::TIMED_OUT) do
      semaphore.acquire(100_000, nil)
    end
    assert_operator(now_us - start, :>=, 100_000)
    assert_equal(0, semaphore.value)
  end

  def test_cancel_from_another_thread
    semaphore = Ps::Semaphore.new(0)
    cancellable = Gio::Cancellable.new
    canceller = Thread.new do
      sleep(0.1)
      cancellable.cancel
    end
    start = now_us
    assert_io_error(Gio::IOError::Cancelled, Gio::IOError::CANCELLED) do
      semaphore.acquire(LONG_US, cancellable)
    end
    assert_operator(now_us - start, :<, LONG_US / 2) # woken, not timed out
    canceller.join
    assert_equal(0, semaphore.value)
    semaphore.release
    assert_io_error(Gio::IOError::Cancelled, Gio::IOError::CANCELLED) do
      semaphore.acquire(LONG_US, cancellable) # already cancelled
    end
    assert_equal(1, semaphore.value) # the unit is not lost
  end

  # --- PsMutex ------------------------------------------------------

  def test_mutex
    mutex = Ps::Mutex.new
    assert_false(mutex.recursive?)
    assert_equal(0, mutex.owner_pid)
    assert_true(mutex.lock(LONG_US, nil))
    assert_equal(Process.pid, mutex.owner_pid)
    assert_ps_error(Ps::Error::WouldDeadlock, Ps::Error::WOULD_DEADLOCK) { mutex.lock(0, nil) }
    other = Thread.new do
      busy = mutex.try_lock
      error = begin
        mutex.unlock
      rescue Ps::Error::NotOwner => e
        e
      end
      [busy, error.class, error.code]
    end.value
    assert_equal([false, Ps::Error::NotOwner, Ps::Error::NOT_OWNER], other)
    assert_true(mutex.unlock)
    assert_ps_error(Ps::Error::NotOwner, Ps::Error::NOT_OWNER) { mutex.unlock }
  end

  # ps_mutex_new_recursive() is a second constructor without arguments:
  # ruby-gnome's Ps::Mutex.new is ps_mutex_new(), so Ruby reaches it as
  # docs/ruby.md shows.
  def test_mutex_recursive
    mutex = Ps::Mutex.allocate
    mutex.__send__(:initialize_new_recursive)
    assert_true(mutex.recursive?)
    3.times { assert_true(mutex.lock(0, nil)) }
    3.times { assert_true(mutex.unlock) }
    assert_ps_error(Ps::Error::NotOwner, Ps::Error::NOT_OWNER) { mutex.unlock }
    name = unique_name("recursive")
    named = Ps::Mutex.open_full(name, Ps::OpenFlags::CREATE, 0o600, true)
    assert_true(named.recursive?)
  end

  def test_mutex_owner_dead
    memory = Ps::SharedMemory.new(Ps::MUTEX_SIZE + Ps::SEMAPHORE_SIZE)
    mutex = Ps::Mutex.new(memory, 0)
    locked = Ps::Semaphore.new(memory, Ps::MUTEX_SIZE, 0)
    pid = fork_child do
      mutex.lock(LONG_US, nil)
      locked.release
      Process.kill(:KILL, Process.pid)
    end
    assert_true(locked.acquire(LONG_US, nil))
    status = wait_child(pid)
    assert_equal("KILL", Signal.signame(status.termsig))
    assert_ps_error(Ps::Error::OwnerDead, Ps::Error::OWNER_DEAD) { mutex.lock(LONG_US, nil) }
    assert_equal(Process.pid, mutex.owner_pid) # held
    assert_equal(pid, mutex.previous_owner_pid)
    assert_true(mutex.unlock) # without mark_consistent
    assert_ps_error(Ps::Error::NotRecoverable, Ps::Error::NOT_RECOVERABLE) { mutex.lock(0, nil) }
  end

  def test_mutex_owner_dead_repaired
    mutex = Ps::Mutex.new
    pid = fork_child do
      mutex.lock(LONG_US, nil)
      Process.kill(:KILL, Process.pid)
    end
    wait_child(pid)
    assert_ps_error(Ps::Error::OwnerDead, Ps::Error::OWNER_DEAD) { mutex.lock(LONG_US, nil) }
    assert_true(mutex.mark_consistent)
    assert_true(mutex.unlock)
    assert_true(mutex.lock(0, nil))
    assert_true(mutex.unlock)
  end

  # --- PsCond -------------------------------------------------------

  def test_cond_timeout
    mutex = Ps::Mutex.new
    cond = Ps::Cond.new
    assert_ps_error(Ps::Error::NotOwner, Ps::Error::NOT_OWNER) { cond.wait(mutex, 0, nil) }
    mutex.lock(LONG_US, nil)
    start = now_us
    assert_io_error(Gio::IOError::TimedOut, Gio::IOError::TIMED_OUT) { cond.wait(mutex, 50_000, nil) }
    assert_operator(now_us - start, :>=, 50_000)
    assert_equal(Process.pid, mutex.owner_pid) # held again
    deadline = now_us + 50_000 # the clock of g_get_monotonic_time()
    assert_io_error(Gio::IOError::TimedOut, Gio::IOError::TIMED_OUT) do
      cond.wait_until(mutex, deadline, nil)
    end
    assert_operator(now_us, :>=, deadline)
    assert_true(mutex.unlock)
  end

  def test_cond_signal_from_another_process
    memory = Ps::SharedMemory.new(Ps::MUTEX_SIZE + Ps::COND_SIZE + 8)
    mutex = Ps::Mutex.new(memory, 0)
    cond = Ps::Cond.new(memory, Ps::MUTEX_SIZE)
    flag = Ps::MUTEX_SIZE + Ps::COND_SIZE
    pid = fork_child do
      mutex.lock(LONG_US, nil)
      memory.set_int64(flag, 1)
      cond.signal
      mutex.unlock
    end
    mutex.lock(LONG_US, nil)
    deadline = now_us + LONG_US
    rounds = 0
    while memory.get_int64(flag).zero? && rounds < 1000
      cond.wait_until(mutex, deadline, nil)
      rounds += 1
    end
    assert_equal(1, memory.get_int64(flag))
    mutex.unlock
    assert_child_ok(pid)
  end

  # --- PsRWLock, PsEvent, PsBarrier ---------------------------------

  def test_rw_lock
    lock = Ps::RWLock.new
    assert_true(lock.read_lock(LONG_US, nil))
    assert_false(Thread.new { lock.try_write_lock }.value)
    assert_true(Thread.new { lock.try_read_lock.tap { lock.read_unlock } }.value)
    assert_true(lock.read_unlock)
    assert_true(lock.write_lock(LONG_US, nil))
    assert_equal(Process.pid, lock.writer_pid)
    assert_false(Thread.new { lock.try_read_lock }.value)
    assert_true(lock.write_unlock)
    assert_equal(0, lock.writer_pid)

    pid = fork_child do
      lock.write_lock(LONG_US, nil)
      Process.kill(:KILL, Process.pid)
    end
    wait_child(pid)
    assert_ps_error(Ps::Error::OwnerDead, Ps::Error::OWNER_DEAD) { lock.write_lock(LONG_US, nil) }
    assert_true(lock.mark_consistent)
    assert_true(lock.write_unlock)
  end

  # is_set() is set? in Ruby.
  def test_event
    event = Ps::Event.new(false)
    assert_false(event.auto_reset?)
    assert_false(event.set?)
    assert_io_error(Gio::IOError::WouldBlock, Gio::IOError::WOULD_BLOCK) { event.wait(0, nil) }
    event.set
    assert_true(event.set?)
    assert_true(event.wait(0, nil))
    assert_true(event.set?) # manual reset: stays set
    event.reset
    assert_false(event.set?)

    auto = Ps::Event.new(true)
    assert_true(auto.auto_reset?)
    auto.set
    assert_true(auto.wait(0, nil))
    assert_false(auto.set?)

    pid = fork_child { event.set }
    assert_true(event.wait(LONG_US, nil))
    assert_child_ok(pid)
  end

  def test_barrier
    barrier = Ps::Barrier.new(2)
    assert_equal(2, barrier.parties)
    pid = fork_child { exit!(10 + barrier.wait(LONG_US, nil)) }
    index = barrier.wait(LONG_US, nil)
    status = wait_child(pid)
    assert_equal([0, 1], [index, status.exitstatus - 10].sort)

    start = now_us
    assert_io_error(Gio::IOError::TimedOut, Gio::IOError::TIMED_OUT) { barrier.wait(50_000, nil) }
    assert_operator(now_us - start, :>=, 50_000)
    assert_true(barrier.broken?)
    assert_ps_error(Ps::Error::Broken, Ps::Error::BROKEN) { barrier.wait(0, nil) }
    assert_true(barrier.reset)
    assert_false(barrier.broken?)
    assert_equal(0, barrier.n_waiting)
  end

  # --- PsQueue ------------------------------------------------------

  # Ps::Queue#send is ps_queue_send(): it replaces Object#send on queues;
  # __send__ and public_send remain Ruby's.
  def test_queue_send_is_ps_queue_send
    queue = Ps::Queue.new(4, 64)
    assert_equal(Ps::Queue, queue.method(:send).owner)
    assert_true(queue.send(GLib::Bytes.new("one"), 0, 0, nil))
    assert_equal(1, queue.__send__(:length))
    assert_equal(4, queue.public_send(:capacity))
  end

  def test_queue_priorities
    queue = Ps::Queue.new(4, 64)
    assert_equal([4, 64, 0], [queue.capacity, queue.max_message_size, queue.length])
    queue.send("low", 0, 0, nil)
    queue.send("high", 5, 0, nil)
    queue.send("mid", 2, 0, nil)
    queue.send_variant(GLib::Variant.new(%w[a b], "as"), 1, 0, nil)
    assert_equal(4, queue.length)
    assert_io_error(Gio::IOError::WouldBlock, Gio::IOError::WOULD_BLOCK) do
      queue.send("full", 9, 0, nil)
    end
    received = 2.times.map do
      bytes, priority = queue.receive(0, nil)
      [bytes.to_s, priority]
    end
    assert_equal([["high", 5], ["mid", 2]], received)
    assert_equal([%w[a b], 1], queue.receive_variant(0, nil))
    bytes, priority = queue.receive(0, nil)
    assert_equal(["low", 0], [bytes.to_s, priority])
    assert_io_error(Gio::IOError::WouldBlock, Gio::IOError::WOULD_BLOCK) { queue.receive(0, nil) }
    assert_io_error(Gio::IOError::MessageTooLarge, Gio::IOError::MESSAGE_TOO_LARGE) do
      queue.send("x" * 65, 0, 0, nil)
    end
    assert_equal(0, queue.length)
  end

  def test_queue_across_fork
    queue = Ps::Queue.new(2, 16)
    pid = fork_child do
      5.times { |i| queue.send("message #{i}", 0, LONG_US, nil) }
    end
    got = 5.times.map { queue.receive(LONG_US, nil)[0].to_s }
    assert_equal((0..4).map { |i| "message #{i}" }, got)
    assert_child_ok(pid)
  end

  # --- Sharing models -----------------------------------------------

  def test_named_from_another_process
    name = unique_name("named")
    semaphore = Ps::Semaphore.open(name, Ps::OpenFlags::CREATE | Ps::OpenFlags::EXCLUSIVE, 0)
    assert_true(semaphore.created?)
    assert_equal(name, semaphore.name)
    pid = fork_child do
      # A new handle opened by name in the child, not the inherited one.
      peer = Ps::Semaphore.open(name, Ps::OpenFlags::NONE, 0)
      raise "created by the child" if peer.created?

      peer.release_many(2)
    end
    assert_child_ok(pid)
    assert_equal(2, semaphore.value)
    assert_ps_error(Ps::Error::WrongType, Ps::Error::WRONG_TYPE) do
      Ps::Mutex.open(name, Ps::OpenFlags::NONE)
    end
    assert_true(Ps.unlink(name))
  end

  # Each class's open, with its creation parameters after the flags.
  def test_every_class_by_name
    create = Ps::OpenFlags::CREATE | Ps::OpenFlags::EXCLUSIVE
    none = Ps::OpenFlags::NONE
    {
      Ps::Semaphore => [[4], ->(o) { o.value }, 4],
      Ps::Mutex => [[], ->(o) { o.owner_pid }, 0],
      Ps::Cond => [[], ->(o) { o.class }, Ps::Cond],
      Ps::RWLock => [[], ->(o) { o.writer_pid }, 0],
      Ps::Event => [[true], ->(o) { o.auto_reset? }, true],
      Ps::Barrier => [[3], ->(o) { o.parties }, 3],
      Ps::Queue => [[5, 100], ->(o) { [o.capacity, o.max_message_size] }, [5, 100]],
    }.each do |klass, (parameters, probe, expected)|
      name = unique_name(klass.name.split("::").last.downcase)
      created = klass.open(name, create, *parameters)
      assert_true(created.created?)
      assert_equal(name, created.name)
      opened = klass.open(name, none, *parameters.map { 0 })
      assert_false(opened.created?)
      assert_equal(expected, probe.call(opened))
      assert_io_error(Gio::IOError::Exists, Gio::IOError::EXISTS) { klass.open(name, create, *parameters) }
      assert_true(Ps.unlink(name))
      assert_io_error(Gio::IOError::NotFound, Gio::IOError::NOT_FOUND) { klass.open(name, none, *parameters) }
    end
    assert_io_error(Gio::IOError::InvalidArgument, Gio::IOError::INVALID_ARGUMENT) do
      Ps::Mutex.open("no-slash", Ps::OpenFlags::CREATE)
    end
    assert_io_error(Gio::IOError::InvalidArgument, Gio::IOError::INVALID_ARGUMENT) { Ps.unlink("/..") }
    assert_false(Ps.name_is_valid?("/a/b"))
    assert_true(Ps.name_is_valid?("/ok.name-1_x"))
  end

  def test_placed
    size = Ps::Queue.measure(4, 32)
    queue_at = Ps::SEMAPHORE_SIZE + Ps::EVENT_SIZE
    memory = Ps::SharedMemory.new(queue_at + size)
    semaphore = Ps::Semaphore.new(memory, 0, 2) # new_at
    assert_true(semaphore.created?)
    assert_equal(0, semaphore.offset)
    assert_equal(2, Ps::Semaphore.attach(memory, 0).value)
    opened = Ps::Semaphore.open_at(memory, 0, Ps::OpenFlags::CREATE, 9)
    assert_false(opened.created?)
    assert_equal(2, opened.value)
    assert_io_error(Gio::IOError::Exists, Gio::IOError::EXISTS) { Ps::Semaphore.new(memory, 0, 1) }
    assert_io_error(Gio::IOError::Exists, Gio::IOError::EXISTS) do
      Ps::Semaphore.open_at(memory, 0, Ps::OpenFlags::CREATE | Ps::OpenFlags::EXCLUSIVE, 1)
    end
    assert_ps_error(Ps::Error::WrongType, Ps::Error::WRONG_TYPE) { Ps::Mutex.attach(memory, 0) }
    assert_io_error(Gio::IOError::InvalidArgument, Gio::IOError::INVALID_ARGUMENT) do
      Ps::Mutex.new(memory, 4)
    end
    event = Ps::Event.open_at(memory, Ps::SEMAPHORE_SIZE, Ps::OpenFlags::CREATE, true)
    assert_true(event.auto_reset?)
    queue = Ps::Queue.new(memory, queue_at, 4, 32) # new_at
    queue.send("placed", 3, 0, nil)
    pid = fork_child do
      attached = Ps::Queue.attach(memory, queue_at)
      bytes, priority = attached.receive(0, nil)
      raise "got #{bytes} #{priority}" unless bytes.to_s == "placed" && priority == 3

      Ps::Semaphore.attach(memory, 0).release
    end
    assert_child_ok(pid)
    assert_equal(3, semaphore.value)
    assert_equal(0, queue.length)
  end

  # --- Async --------------------------------------------------------

  # The value of the block, or the GError it raised: an exception must
  # not escape a callback that the main loop runs.
  def capture
    yield
  rescue GLib::ErrorInfo => e
    e
  end

  # Runs the loop until a callback quits it; a guard quits it after
  # LONG_S and fails the test.
  def run_loop(loop)
    fired = false
    guard = GLib::Timeout.add((LONG_S * 1000).to_i) do
      fired = true
      loop.quit
      false
    end
    loop.run
    GLib::Source.remove(guard) unless fired
    assert_false(fired, "the main loop's guard fired")
  end

  def test_semaphore_acquire_async_released_by_child
    semaphore = Ps::Semaphore.new(0)
    loop = GLib::MainLoop.new(nil, false)
    result = nil
    semaphore.acquire_async(LONG_US, nil) do |source, async_result|
      result = capture { source.acquire_finish(async_result) }
      loop.quit
    end
    pid = fork_child do
      sleep(0.05)
      semaphore.release
    end
    run_loop(loop)
    assert_true(result)
    assert_equal(0, semaphore.value)
    assert_child_ok(pid)

    semaphore.acquire_async(50_000, nil) do |source, async_result|
      result = capture { source.acquire_finish(async_result) }
      loop.quit
    end
    run_loop(loop)
    assert_kind_of(Gio::IOError::TimedOut, result)
  end

  def test_queue_receive_async_and_mutex_lock_async
    queue = Ps::Queue.new(2, 32)
    mutex = Ps::Mutex.new
    loop = GLib::MainLoop.new(nil, false)
    results = []
    queue.receive_async(LONG_US, nil) do |source, async_result|
      results << capture { source.receive_finish(async_result) }
      mutex.lock_async(LONG_US, nil) do |m, r|
        results << capture { m.lock_finish(r) }
        loop.quit
      end
    end
    pid = fork_child { queue.send("async", 4, LONG_US, nil) }
    run_loop(loop)
    bytes, priority = results[0]
    assert_equal(["async", 4], [bytes.to_s, priority])
    assert_true(results[1])
    assert_equal(Process.pid, mutex.owner_pid)
    mutex.unlock
    assert_child_ok(pid)
  end

  # The other _async/_finish trios, each once, in one main loop.
  def test_async_trios
    event = Ps::Event.new(false)
    barrier = Ps::Barrier.new(1)
    lock = Ps::RWLock.new
    mutex = Ps::Mutex.new
    cond = Ps::Cond.new
    queue = Ps::Queue.new(2, 64) # a variant counts as its record: 28 bytes here
    loop = GLib::MainLoop.new(nil, false)
    results = {}
    done = lambda do |key, value|
      results[key] = value
      loop.quit if results.size == 6
    end
    event.wait_async(LONG_US, nil) { |o, r| done.call(:event, capture { o.wait_finish(r) }) }
    barrier.wait_async(LONG_US, nil) { |o, r| done.call(:barrier, capture { o.wait_finish(r) }) }
    lock.write_lock_async(LONG_US, nil) do |o, r|
      done.call(:write_lock, capture { o.write_lock_finish(r) && o.writer_pid })
      o.write_unlock
    end
    mutex.lock(LONG_US, nil)
    cond.wait_async(mutex, 20_000, nil) do |_o, r|
      done.call(:cond, capture { cond.wait_finish(r) }.class)
      mutex.unlock
    end
    queue.send_async("sent", 6, LONG_US, nil) { |o, r| done.call(:send, capture { o.send_finish(r) }) }
    queue.send_variant_async(GLib::Variant.new(9, "i"), 1, LONG_US, nil) do |o, r|
      done.call(:send_variant, capture { o.send_finish(r) })
    end
    event.set
    run_loop(loop)
    assert_equal({ event: true, barrier: 0, write_lock: Process.pid,
                   cond: Gio::IOError::TimedOut, send: true, send_variant: true }, results)
    assert_equal(0, mutex.owner_pid)
    assert_equal(["sent", 6], queue.receive(0, nil).then { |b, p| [b.to_s, p] })
    assert_equal([9, 1], queue.receive_variant(0, nil))
  end

  def test_shared_memory_handle_and_seal
    memory = Ps::SharedMemory.new(64)
    memory.set_int32(0, 31)
    fd_list = Gio::UnixFDList.new
    handle = memory.to_handle(fd_list)
    assert_equal(0, handle) # an "h": the index in fd_list
    assert_equal(1, fd_list.length)
    copy = Ps::SharedMemory.new(GLib::Variant.new(handle, "h"), fd_list) # new_from_handle
    assert_equal(31, copy.get_int32(0))
    assert_true(memory.seal)
    assert_equal(31, memory.get_int32(0))
  end

  # --- Other languages ----------------------------------------------

  # Runs a program to its end within LONG_S (killed otherwise); its
  # standard output once it succeeded.
  def run_program(*argv)
    Open3.popen3(*argv) do |stdin, stdout, stderr, waiter|
      stdin.close
      out = Thread.new { stdout.read }
      err = Thread.new { stderr.read }
      unless waiter.join(LONG_S)
        Process.kill(:KILL, waiter.pid)
        waiter.join
      end
      status = waiter.value
      assert_true(status.success?, "#{argv.first} failed (#{status.inspect}):\n#{out.value}#{err.value}")
      out.value
    end
  end

  def test_python_peer
    omit_unless(File.executable?(PYTHON), "#{PYTHON} not found")
    queue_name = unique_name("xlang-queue")
    memory_name = unique_name("xlang-shm")
    queue = Ps::Queue.open(queue_name, Ps::OpenFlags::CREATE | Ps::OpenFlags::EXCLUSIVE, 4, 128)
    memory = Ps::SharedMemory.open(memory_name, Ps::OpenFlags::CREATE, 4096)
    memory.write_variant(0, GLib::Variant.new(%w[from ruby], "as"))
    memory.set_int64(1024, 2**62 + 1)
    out = run_program(PYTHON, "-c", <<~PYTHON)
      import gi
      gi.require_version('Ps', '1')
      from gi.repository import GLib, Ps
      memory = Ps.SharedMemory.open('#{memory_name}', Ps.OpenFlags.NONE, 0)
      print(memory.read_variant(0).unpack(), memory.get_int64(1024))
      queue = Ps.Queue.open('#{queue_name}', Ps.OpenFlags.NONE, 0, 0)
      queue.send(GLib.Bytes.new(b'bytes from python'), 1, 1000000, None)
      queue.send_variant(GLib.Variant('as', ['variant', 'from', 'python']), 7, 1000000, None)
    PYTHON
    assert_equal("['from', 'ruby'] #{2**62 + 1}\n", out)
    assert_equal([%w[variant from python], 7], queue.receive_variant(0, nil))
    bytes, priority = queue.receive(0, nil)
    assert_equal(["bytes from python", 1], [bytes.to_s, priority])
  end

  # The plain loader (ruby-gnome's default, keeping the GVL during calls)
  # runs the same API in a single-threaded program.
  def test_plain_loader
    name = unique_name("plain")
    script = <<~RUBY
      require "gio2"
      module Ps; end
      GObjectIntrospection::Loader.new(Ps).load("Ps")
      s = Ps::Semaphore.open("#{name}", Ps::OpenFlags::CREATE, 1)
      p s.acquire(0, nil)
      begin
        s.acquire(0, nil)
      rescue Gio::IOError::WouldBlock => e
        p [e.domain, e.code]
      end
      m = Ps::Mutex.new
      m.lock(-1, nil)
      begin
        m.lock(0, nil)
      rescue Ps::Error::WouldDeadlock => e
        p [e.domain, e.code]
      end
      p m.unlock
      p Ps.unlink("#{name}")
    RUBY
    out = run_program(RbConfig.ruby, "-e", script)
    assert_equal("true\n[\"g-io-error-quark\", 27]\n[\"ps-error-quark\", 4]\ntrue\ntrue\n", out)
  end
end
