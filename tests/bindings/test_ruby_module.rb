# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `require "procshared"` (bindings/ruby/procshared.rb, from the source
# tree through RUBYLIB): what it adds to ruby-gnome's loading of Ps.
#
# Every blocking call here has a finite timeout; every thread is joined
# within a bound; the calls that crash the interpreter without the
# module run in a child interpreter.

require "test/unit"
require "procshared"
require "open3"
require "rbconfig"
require_relative "ruby_test_util"


class TestRubyModule < Test::Unit::TestCase
  include PsRubyTest

  def join(thread)
    assert_not_nil(thread.join(LONG_S), "thread still running after #{LONG_S} s")
    thread.value
  end

  # The block's value, or the GError it raised (an exception must not
  # escape a callback of the main loop).
  def capture
    yield
  rescue GLib::ErrorInfo => e
    e
  end

  # Runs @script in a child interpreter, killed past LONG_S: its output,
  # error output and Process::Status.
  def run_ruby(script)
    Open3.popen3(RbConfig.ruby, "-e", script) do |stdin, stdout, stderr, waiter|
      stdin.close
      out = Thread.new { stdout.read }
      err = Thread.new { stderr.read }
      unless waiter.join(LONG_S)
        Process.kill(:KILL, waiter.pid)
        waiter.join
      end
      [out.value, err.value, waiter.value]
    end
  end

  def test_loaded_from_bindings_ruby
    path = $LOADED_FEATURES.find { |feature| feature.end_with?("/procshared.rb") }
    assert_equal(File.join(ENV.fetch("PS_RUBY_MODULE_DIR"), "procshared.rb"), path)
    assert_equal([Ps::MAJOR_VERSION, Ps::MINOR_VERSION, Ps::MICRO_VERSION], Ps::VERSION)
    assert_equal(Ps::VERSION_S, Ps::VERSION.join("."))
    assert_true(Ps::VERSION.frozen?)
  end

  # --- The GVL --------------------------------------------------------

  # Every function of Ps lets the other Ruby threads run, except those
  # that call a Ruby block during the call.
  def test_gvl_released_except_for_synchronous_callbacks
    loader = Ps::Loader.new(Module.new)
    kept = []
    released = 0
    GObjectIntrospection::Repository.default.each("Ps") do |info|
      functions = info.is_a?(GObjectIntrospection::ObjectInfo) ? info.methods : [info]
      functions.grep(GObjectIntrospection::FunctionInfo).each do |function|
        if loader.__send__(:should_unlock_gvl?, function, nil)
          released += 1
        else
          kept << "#{info.name}.#{function.name}"
        end
      end
    end
    assert_equal(["Queue.receive_with", "Queue.send_with"], kept.sort)
    assert_operator(released, :>, 100)
  end

  # The acceptance case: a wait blocked in one Ruby thread, cancelled by
  # another, while a third keeps running.
  def test_blocking_waits_cancelled_from_another_thread
    mutex = Ps::Mutex.new
    locked = Queue.new
    done = Queue.new
    # Held by another Ruby thread until the end (a thread that ended could
    # give its native thread, and so its identity, to the next one).
    holder = Thread.new do
      mutex.lock(0, nil)
      locked << true
      done.pop
      mutex.unlock
    end
    locked.pop
    event = Ps::Event.new(true)
    cond_mutex = Ps::Mutex.new
    waits = {
      semaphore: ->(c) { Ps::Semaphore.new(0).acquire(LONG_US, c) },
      mutex: ->(c) { mutex.lock(LONG_US, c) },
      cond: lambda do |c|
        cond_mutex.lock(LONG_US, nil)
        begin
          Ps::Cond.new.wait(cond_mutex, LONG_US, c)
        ensure
          cond_mutex.unlock
        end
      end,
      event: ->(c) { event.wait(LONG_US, c) },
      barrier: ->(c) { Ps::Barrier.new(2).wait(LONG_US, c) },
      queue: ->(c) { Ps::Queue.new(2, 16).receive(LONG_US, c) },
    }
    waits.each do |what, wait|
      cancellable = Gio::Cancellable.new
      started = Queue.new
      waiter = Thread.new do
        started << true
        start = now_us
        error = begin
          wait.call(cancellable)
          nil
        rescue Gio::IOError::Cancelled => e
          e
        end
        [error, now_us - start]
      end
      started.pop
      # Ruby threads run while the waiter is in C: this one counts.
      ticks = 0
      ticker = Thread.new { 1_000.times { ticks += 1; sleep(0.001) } }
      join(ticker)
      assert_equal(1_000, ticks, what)
      cancellable.cancel
      error, elapsed = join(waiter)
      assert_kind_of(Gio::IOError::Cancelled, error, what)
      assert_equal(Gio::IOError::CANCELLED, error.code)
      assert_operator(elapsed, :<, LONG_US / 2, what) # woken, not timed out
    end
    done << true
    assert_true(join(holder))
    assert_equal(0, mutex.owner_pid)
  end

  # Async callbacks run from the main loop with the GVL, in the thread
  # running it, while the waits themselves released it.
  def test_async_callbacks
    semaphore = Ps::Semaphore.new(0)
    queue = Ps::Queue.new(2, 16)
    loop = GLib::MainLoop.new(nil, false)
    results = []
    semaphore.acquire_async(LONG_US, nil) do |source, result|
      results << [Thread.current, capture { source.acquire_finish(result) }]
      queue.receive_async(LONG_US, nil) do |q, r|
        bytes, priority = capture { q.receive_finish(r) }
        results << [Thread.current, bytes.to_s, priority]
        loop.quit
      end
    end
    # Released by a forked child: ruby-gnome's GLib::MainLoop#run does not
    # always let other Ruby threads run (under test-unit it does not).
    pid = fork do
      sleep(0.05)
      semaphore.release
      queue.send("async", 3, LONG_US, nil)
      exit!(0)
    rescue StandardError
      exit!(1)
    end
    guard = GLib::Timeout.add((LONG_S * 1000).to_i) { loop.quit; false }
    loop.run
    GLib::Source.remove(guard) if results.size == 2
    # Bounded: a child that hangs is killed, and the test fails.
    begin
      status = wait_status(pid)
    rescue Timeout::Error
      Process.kill(:KILL, pid)
      Process.wait2(pid)
      raise
    end
    assert_equal(0, status.exitstatus)
    assert_equal([[Thread.current, true], [Thread.current, "async", 3]], results)
  end

  # --- Constructors ---------------------------------------------------

  def test_mutex_new_recursive
    [Ps::Mutex.new_recursive, Ps::Mutex.new(recursive: true)].each do |mutex|
      assert_instance_of(Ps::Mutex, mutex)
      assert_true(mutex.recursive?)
      3.times { assert_true(mutex.lock(0, nil)) } # relocked by its holder
      other = Thread.new do
        mutex.lock(0, nil)
      rescue Gio::IOError::WouldBlock => e
        e.code
      end
      assert_equal(Gio::IOError::WOULD_BLOCK, join(other))
      3.times { assert_true(mutex.unlock) }
      assert_raise(Ps::Error::NotOwner) { mutex.unlock }
    end
    [Ps::Mutex.new(recursive: false), Ps::Mutex.new].each do |mutex|
      assert_false(mutex.recursive?)
      assert_true(mutex.lock(0, nil))
      assert_raise(Ps::Error::WouldDeadlock) { mutex.lock(0, nil) }
      assert_true(mutex.unlock)
    end
    memory = Ps::SharedMemory.new(Ps::MUTEX_SIZE)
    error = assert_raise(ArgumentError) { Ps::Mutex.new(memory, 0, recursive: true) }
    assert_match(/open_at_full/, error.message)
    assert_false(Ps::Mutex.new(memory, 0).recursive?) # ruby-gnome's new_at
  end

  # --- The C API's names ---------------------------------------------

  # Every constructor, method and function of the typelib answers to its
  # C name, beside ruby-gnome's (test_ruby.rb uses those).
  def test_every_c_name_reachable
    repository = GObjectIntrospection::Repository.default
    missing = []
    counted = 0
    repository.each("Ps") do |info|
      case info
      when GObjectIntrospection::ObjectInfo
        klass = Ps.const_get(info.name)
        info.methods.each do |function|
          counted += 1
          reachable = case function
                      when GObjectIntrospection::ConstructorInfo then klass.respond_to?(function.name)
                      when GObjectIntrospection::MethodInfo then klass.public_method_defined?(function.name)
                      else klass.respond_to?(function.name)
                      end
          missing << "#{info.name}.#{function.name}" unless reachable
        end
      when GObjectIntrospection::FunctionInfo
        counted += 1
        missing << "Ps.#{info.name}" unless Ps.respond_to?(info.name)
      end
    end
    assert_equal([], missing)
    assert_operator(counted, :>=, 150) # the whole typelib was looked at
  end

  def test_c_named_constructors
    memory = Ps::SharedMemory.new(8192)
    semaphore = Ps::Semaphore.new_at(memory, 0, 2)
    assert_equal([2, true], [Ps::Semaphore.attach(memory, 0).get_value, semaphore.get_created])
    bounded = Ps::Semaphore.new_bounded(1, 1)
    assert_equal(1, bounded.get_max_value)
    assert_raise(Ps::Error::Overflow) { bounded.release }
    assert_equal(1, bounded.value) # unchanged
    # One after another, each at its size (256 bytes, the lock 4096).
    placed = {
      Ps::Mutex.new_at(memory, 256) => ->(m) { m.get_owner_pid },
      Ps::Cond.new_at(memory, 512) => ->(c) { c.offset }, # a property
      Ps::Event.new_at(memory, 768, true) => ->(e) { e.get_auto_reset },
      Ps::Barrier.new_at(memory, 1024, 3) => ->(b) { b.get_parties },
      Ps::Queue.new_at(memory, 1280, 2, 16) => ->(q) { q.get_capacity },
      Ps::RWLock.new_at(memory, 4096) => ->(r) { r.get_n_readers },
    }
    assert_equal([0, 512, true, 3, 2, 0], placed.map { |object, getter| getter.call(object) })
    assert_equal([Ps::Mutex, Ps::Cond, Ps::Event, Ps::Barrier, Ps::Queue, Ps::RWLock],
                 placed.keys.map(&:class))
    error = assert_raise(Ps::Error::OutOfBounds) { Ps::RWLock.new_at(memory, 6144) }
    assert_equal(Ps::Error::OUT_OF_BOUNDS, error.code)
    assert_raise(Ps::Error::WrongType) { Ps::Mutex.attach(memory, 0) } # still the semaphore
  end

  def test_c_named_methods
    event = Ps::Event.new(false)
    assert_equal([false, false], [event.is_set, event.set?])
    event.set
    assert_equal([true, true], [event.is_set, event.set?])
    assert_equal([true, true], [event.wait(0, nil), event.is_set])
    mutex = Ps::Mutex.new
    assert_true(mutex.lock(0, nil))
    assert_equal([Process.pid, Process.pid], [mutex.get_owner_pid, mutex.owner_pid])
    assert_false(mutex.is_recursive)
    assert_true(mutex.unlock)
    assert_equal([true, false], [Ps.name_is_valid("/ruby-c-name"), Ps.name_is_valid("no-slash")])
    memory = Ps::SharedMemory.new(64)
    assert_equal([64, false], [memory.get_size, memory.is_read_only])
  end

  # The handle's type is checked before the gem sees it, as the other
  # GVariant arguments are (test_variant_arguments_type_checked).
  def test_shared_memory_new_from_handle
    memory = Ps::SharedMemory.new(64)
    memory.set_int32(0, 58)
    fd_list = Gio::UnixFDList.new
    handle = GLib::Variant.new(memory.to_handle(fd_list), "h")
    copy = Ps::SharedMemory.new_from_handle(handle, fd_list)
    assert_equal(58, copy.get_int32(0))
    copy.set_int32(0, 59)
    assert_equal(59, memory.get_int32(0))
    error = assert_raise(TypeError) { Ps::SharedMemory.new_from_handle(0, fd_list) }
    assert_match(/expected a GLib::Variant, got Integer/, error.message)
    error = assert_raise(TypeError) do
      Ps::SharedMemory.new_from_handle(GLib::Variant.new(0, "i"), fd_list)
    end
    assert_equal('expected a GLib::Variant of type "h", got one of type "i"', error.message)
    assert_io_error(Gio::IOError::InvalidArgument, Gio::IOError::INVALID_ARGUMENT) do
      Ps::SharedMemory.new_from_handle(GLib::Variant.new(5, "h"), fd_list)
    end
  end

  def test_shared_memory_new_from_fd
    memory = Ps::SharedMemory.new(64)
    memory.set_int32(0, 77)
    fd = memory.dup_fd
    io = IO.for_fd(fd)
    begin
      [Ps::SharedMemory.new_from_fd(fd), Ps::SharedMemory.new_from_fd(io)].each_with_index do |view, i|
        assert_instance_of(Ps::SharedMemory, view)
        assert_equal(64, view.size)
        assert_equal(77, view.get_int32(0))
        view.set_int32(4, 100 + i) # the same memory
        assert_equal(100 + i, memory.get_int32(4))
      end
    ensure
      io.close
    end
    read, write = IO.pipe
    closed = read.fileno
    read.close
    write.close
    assert_io_error(Gio::IOError::Closed, Gio::IOError::CLOSED) do
      Ps::SharedMemory.new_from_fd(closed)
    end
  end

  # --- Queues ---------------------------------------------------------

  def test_queue_refusals_take_nothing
    queue = Ps::Queue.new(4, 64)
    queue.send("first", 2, 0, nil)
    queue.send_variant(GLib::Variant.new("second", "s"), 1, 0, nil)
    {
      receive_message: -> { queue.receive_message(0, nil) },
      receive_message_async: -> { queue.receive_message_async(0, nil) { flunk("called") } },
      receive_message_finish: -> { queue.receive_message_finish(nil) },
      receive_with: -> { queue.receive_with(0, nil) { flunk("called") } },
      send_with: -> { queue.send_with(3, 0, 0, nil) { flunk("called") } },
    }.each do |method, call|
      error = assert_raise(NotImplementedError) { call.call }
      assert_match(/\APs::Queue##{method} is not available from Ruby/, error.message)
      assert_match(method.to_s.start_with?("send") ? /use send\z/ : /use receive/, error.message)
      assert_equal(2, queue.length, method)
    end
    bytes, priority = queue.receive(0, nil)
    assert_equal(["first", 2], [bytes.to_s, priority])
    assert_equal(["second", 1], queue.receive_variant(0, nil))
  end

  # --- GVariant arguments ---------------------------------------------

  # In a child interpreter: without the checks, an Integer where a
  # GVariant goes crashes it.
  def test_variant_arguments_type_checked
    script = <<~'RUBY'
      require "procshared"
      memory = Ps::SharedMemory.new(256)
      memory.set_int64(0, 7)
      queue = Ps::Queue.new(2, 64)
      calls = {
        write_variant: ->(v) { memory.write_variant(0, v) },
        send_variant: ->(v) { queue.send_variant(v, 0, 0, nil) },
        send_variant_async: ->(v) { queue.send_variant_async(v, 0, 0, nil) { abort("called") } },
        measure_variant: ->(v) { Ps::SharedMemory.measure_variant(v) },
      }
      calls.each do |name, call|
        [5, "s", nil, [1]].each do |value|
          begin
            call.call(value)
            puts "#{name} #{value.inspect}: no error"
          rescue TypeError => e
            puts "#{name}: #{e.message}" if value == 5
          end
        end
      end
      p [memory.get_int64(0), queue.length]
      p [memory.write_variant(0, GLib::Variant.new(3, "i")), memory.read_variant(0)]
      p Ps::SharedMemory.measure_variant(GLib::Variant.new(3, "i"))
    RUBY
    out, err, status = run_ruby(script)
    assert_true(status.success?, "#{status.inspect}\n#{out}#{err}")
    message = "expected a GLib::Variant, got Integer: make one with GLib::Variant.new(value, type)"
    assert_equal(<<~OUT, out)
      write_variant: #{message}
      send_variant: #{message}
      send_variant_async: #{message}
      measure_variant: #{message}
      [7, 0]
      [true, 3]
      #{Ps::SharedMemory.measure_variant(GLib::Variant.new(3, "i"))}
    OUT
  end
end
