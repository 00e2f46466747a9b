// SPDX-License-Identifier: LGPL-2.1-or-later
//
// procshared from Vala, through the generated procshared-1.vapi: error
// domains caught by code, timeouts, async acquire with yield and a
// GLib.Cancellable, fork() sharing, robust mutex recovery and GVariant
// records. GLib.Test, in TAP mode.

const int64 LONG_US = 30 * 1000000;

int64 scaled (int64 us) {
    var scale = Environment.get_variable ("PS_TEST_TIME_SCALE");
    return (int64) (us * (scale != null ? double.parse (scale) : 1.0));
}

string unique_name (string tag) {
    return "/ps-bind-vala-%s-%d".printf (tag, (int) Posix.getpid ());
}

void unlink_quietly (string name) {
    try {
        Ps.unlink (name);
    } catch (IOError.NOT_FOUND e) {
    } catch (Error e) {
        error ("unlink %s: %s", name, e.message);
    }
}

// Runs @body in a forked child, which exits 0 when it returns; a watchdog
// ends it if it hangs.
delegate void ChildBody ();

Posix.pid_t fork_child (ChildBody body) {
    var pid = Posix.fork ();
    assert (pid >= 0);
    if (pid == 0) {
        Posix.alarm (60);
        body ();
        Posix._exit (0);
    }
    return pid;
}

// Reaps a child, killing it if it outlives the bound; true if it exited 0.
bool reap (Posix.pid_t pid) {
    int status = 0;
    var deadline = get_monotonic_time () + scaled (LONG_US);
    while (Posix.waitpid (pid, out status, Posix.WNOHANG) == 0) {
        if (get_monotonic_time () > deadline) {
            Posix.kill (pid, Posix.Signal.KILL);
            Posix.waitpid (pid, out status, 0);
            return false;
        }
        Thread.usleep (1000);
    }
    return Process.if_exited (status) && Process.exit_status (status) == 0;
}

void test_error_domains () {
    var name = unique_name ("wrong");
    try {
        var memory = Ps.SharedMemory.open (name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 64);
        assert (memory.get_name () == name);
        try {
            Ps.Mutex.open (name, Ps.OpenFlags.NONE);
            assert_not_reached ();
        } catch (Ps.Error.WRONG_TYPE e) {
            // The error domain is a Vala errordomain: caught by code.
            assert (e is Ps.Error);
            assert (e.domain == Ps.Error.quark ());
        }
        try {
            Ps.SharedMemory.open (name, Ps.OpenFlags.CREATE | Ps.OpenFlags.EXCLUSIVE, 64);
            assert_not_reached ();
        } catch (IOError.EXISTS e) {
        }
        try {
            memory.set_int64 (60, 1);
            assert_not_reached ();
        } catch (Ps.Error.OUT_OF_BOUNDS e) {
        }
    } catch (Error e) {
        error ("%s", e.message);
    } finally {
        unlink_quietly (name);
    }
}

void test_mutex_and_timeouts () {
    try {
        var mutex = new Ps.Mutex ();
        assert (mutex.lock (Ps.TIMEOUT_INFINITE));
        assert (mutex.get_owner_pid () == Posix.getpid ());
        try {
            mutex.lock (0);
            assert_not_reached ();
        } catch (Ps.Error.WOULD_DEADLOCK e) {
        }
        assert (mutex.unlock ());
        try {
            mutex.unlock ();
            assert_not_reached ();
        } catch (Ps.Error.NOT_OWNER e) {
        }

        var sem = new Ps.Semaphore (0);
        var start = get_monotonic_time ();
        try {
            sem.acquire (50000);
            assert_not_reached ();
        } catch (IOError.TIMED_OUT e) {
            assert (get_monotonic_time () - start >= 50000);
        }
        try {
            sem.acquire (0);
            assert_not_reached ();
        } catch (IOError.WOULD_BLOCK e) {
        }
        var bounded = new Ps.Semaphore.bounded (1, 1);
        try {
            bounded.release ();
            assert_not_reached ();
        } catch (Ps.Error.OVERFLOW e) {
            assert (bounded.get_value () == 1);
        }
    } catch (Error e) {
        error ("%s", e.message);
    }
}

// acquire_async with yield: a worker thread waits, the main loop runs.
async void acquire_twice (Ps.Semaphore sem, Cancellable cancellable, MainLoop loop) {
    try {
        assert (yield sem.acquire_async (scaled (LONG_US), null));
        try {
            yield sem.acquire_async (scaled (LONG_US), cancellable);
            assert_not_reached ();
        } catch (IOError.CANCELLED e) {
            assert (sem.get_value () == 0);   // the cancelled wait took nothing
        }
    } catch (Error e) {
        error ("%s", e.message);
    }
    loop.quit ();
}

void test_async () {
    try {
        var sem = new Ps.Semaphore (0);
        var cancellable = new Cancellable ();
        var loop = new MainLoop ();
        var ticks = 0;
        // Releases on the 3rd tick and cancels on the 6th: the loop runs
        // while both waits are pending.
        Timeout.add (10, () => {
            ticks++;
            try {
                if (ticks == 3)
                    sem.release ();
            } catch (Error e) {
                error ("%s", e.message);
            }
            if (ticks == 6)
                cancellable.cancel ();
            return ticks < 6 ? Source.CONTINUE : Source.REMOVE;
        });
        var watchdog = Timeout.add ((uint) (scaled (LONG_US) / 1000), () => {
            error ("watchdog: the async waits did not end");
        });
        acquire_twice.begin (sem, cancellable, loop);
        loop.run ();
        Source.remove (watchdog);
        assert (ticks == 6);
    } catch (Error e) {
        error ("%s", e.message);
    }
}

// lock_async and wait_async with yield: the mutex is held by the thread
// running the loop, and the condition wait hands it back.
async void lock_then_wait (Ps.Mutex mutex, Ps.Cond cond, MainLoop loop) {
    try {
        assert (yield mutex.lock_async (scaled (LONG_US), null));
        assert (mutex.get_owner_pid () == Posix.getpid ());
        // Signalled from a timeout in this very thread: the wait released
        // the mutex, or the signaller's lock would fail.
        Timeout.add (20, () => {
            try {
                assert (mutex.try_lock ());
                cond.signal ();
                mutex.unlock ();
            } catch (Error e) {
                error ("%s", e.message);
            }
            return Source.REMOVE;
        });
        assert (yield cond.wait_async (mutex, scaled (LONG_US), null));
        try {
            yield cond.wait_async (mutex, 20000, null);
            assert_not_reached ();
        } catch (IOError.TIMED_OUT e) {
        }
        mutex.unlock ();   // held again after each wait
    } catch (Error e) {
        error ("%s", e.message);
    }
    loop.quit ();
}

void test_lock_async () {
    try {
        var mutex = new Ps.Mutex ();
        var cond = new Ps.Cond ();
        var loop = new MainLoop ();
        var watchdog = Timeout.add ((uint) (scaled (LONG_US) / 1000), () => {
            error ("watchdog: the async lock did not end");
        });
        lock_then_wait.begin (mutex, cond, loop);
        loop.run ();
        Source.remove (watchdog);
        assert (mutex.get_owner_pid () == 0);
    } catch (Error e) {
        error ("%s", e.message);
    }
}

void test_fork_counter () {
    try {
        var memory = new Ps.SharedMemory (Ps.MUTEX_SIZE + 8);
        var mutex = new Ps.Mutex.at (memory, 0);
        ChildBody work = () => {
            try {
                for (var i = 0; i < 5000; i++) {
                    mutex.lock (scaled (LONG_US));
                    memory.set_int64 (Ps.MUTEX_SIZE, memory.get_int64 (Ps.MUTEX_SIZE) + 1);
                    mutex.unlock ();
                }
            } catch (Error e) {
                printerr ("child: %s\n", e.message);
                Posix._exit (1);
            }
        };
        var pid = fork_child (work);
        work ();                   // the parent too, at the same time
        assert (reap (pid));
        assert (memory.get_int64 (Ps.MUTEX_SIZE) == 10000);
    } catch (Error e) {
        error ("%s", e.message);
    }
}

void test_owner_dead () {
    try {
        var mutex = new Ps.Mutex ();
        var pid = fork_child (() => {
            try {
                mutex.lock (Ps.TIMEOUT_INFINITE);
            } catch (Error e) {
                Posix._exit (1);
            }
            // Exits holding the lock.
        });
        assert (reap (pid));
        try {
            mutex.lock (scaled (LONG_US));
            assert_not_reached ();
        } catch (Ps.Error.OWNER_DEAD e) {
            // We hold the lock: repair, then say so.
            assert (mutex.get_owner_pid () == Posix.getpid ());
            mutex.mark_consistent ();
        }
        mutex.unlock ();
        assert (mutex.lock (0));
        mutex.unlock ();
    } catch (Error e) {
        error ("%s", e.message);
    }
}

void test_variants () {
    try {
        var memory = new Ps.SharedMemory (4096);
        var value = new Variant ("(sia{sv})", "from Vala", 42, null);
        memory.write_variant (8, value);
        var back = memory.read_variant (8);
        assert (back.equal (value));
        assert (Ps.SharedMemory.measure_variant (value) <= 4096 - 8);
        memory.write (8, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff });
        try {
            memory.read_variant (8);
            assert_not_reached ();
        } catch (Ps.Error.CORRUPT e) {
        }
    } catch (Error e) {
        error ("%s", e.message);
    }
}

// Ps.RWLock: shares, the write lock, exact errors, an async read share
// taken with yield, and a dead writer's lock recovered.
async void rw_read_async (Ps.RWLock rw, MainLoop loop, out bool ok) {
    ok = false;
    try {
        ok = yield rw.read_lock_async (Ps.TIMEOUT_INFINITE, null);
    } catch (Error e) {
        error ("read_lock_async: %s", e.message);
    }
    loop.quit ();
}

void test_rw_lock () {
    try {
        var rw = new Ps.RWLock ();
        assert (rw.read_lock (0));
        assert (rw.get_n_readers () == 1);
        try {
            rw.write_lock (0);
            assert_not_reached ();
        } catch (Ps.Error.WOULD_DEADLOCK e) {
        }
        assert (rw.read_unlock ());
        try {
            rw.read_unlock ();
            assert_not_reached ();
        } catch (Ps.Error.NOT_OWNER e) {
        }

        var loop = new MainLoop ();
        bool ok = false;
        rw_read_async.begin (rw, loop, (obj, res) => { rw_read_async.end (res, out ok); });
        loop.run ();
        assert (ok);
        assert (rw.read_unlock ());

        var pid = fork_child (() => {
            try {
                rw.write_lock (Ps.TIMEOUT_INFINITE);
            } catch (Error e) {
                Posix._exit (1);
            }
            // Exits holding the lock.
        });
        assert (reap (pid));
        try {
            rw.read_lock (scaled (LONG_US));
            assert_not_reached ();
        } catch (Ps.Error.OWNER_DEAD e) {
            // Held for writing: repair, then say so.
            assert (rw.get_writer_pid () == Posix.getpid ());
            assert (rw.mark_consistent ());
        }
        assert (rw.write_unlock ());
        assert (rw.try_write_lock ());
        assert (rw.write_unlock ());
    } catch (Error e) {
        error ("rw lock: %s", e.message);
    }
}

void test_event_and_barrier () {
    try {
        var event = new Ps.Event (true);
        assert (event.get_auto_reset () && !event.is_set ());
        event.set ();
        assert (event.wait (0));
        assert (!event.is_set ());
        try {
            event.wait (0);
            assert_not_reached ();
        } catch (IOError.WOULD_BLOCK e) {
        }

        var barrier = new Ps.Barrier (2);
        assert (barrier.get_parties () == 2);
        var pid = fork_child (() => {
            try {
                barrier.wait (scaled (LONG_US));
                event.set ();
            } catch (Error e) {
                Posix._exit (1);
            }
        });
        var index = barrier.wait (scaled (LONG_US));
        assert (index == 0 || index == 1);
        assert (event.wait (scaled (LONG_US)));
        assert (reap (pid));
        try {
            barrier.wait (20000);
            assert_not_reached ();
        } catch (IOError.TIMED_OUT e) {
        }
        try {
            barrier.wait (Ps.TIMEOUT_INFINITE);
            assert_not_reached ();
        } catch (Ps.Error.BROKEN e) {
            assert (barrier.is_broken ());
        }
        barrier.reset ();
        assert (!barrier.is_broken ());
    } catch (Error e) {
        error ("%s", e.message);
    }
}

// Ps.Queue: sends and receives awaited with yield, priorities, kinds, the
// exact errors, and a forked producer.
bool bytes_are (Bytes bytes, string text) {
    return bytes.get_size () == text.length &&
           (text.length == 0 || Memory.cmp (bytes.get_data (), text.data, text.length) == 0);
}

async void queue_round_trip (Ps.Queue queue, MainLoop loop, out bool ok) {
    ok = false;
    try {
        assert (yield queue.send_async (new Bytes ("low".data), 0, 0, null));
        assert (yield queue.send_async (new Bytes ("high".data), 5, 0, null));
        assert (yield queue.send_variant_async (new Variant ("(su)", "v", 7), 1, 0, null));
        uint priority;
        var high = yield queue.receive_async (scaled (LONG_US), null, out priority);
        assert (bytes_are (high, "high") && priority == 5);
        Ps.QueueMessageKind kind;
        Bytes? data;
        Variant? value;
        assert (yield queue.receive_message_async (0, null, out kind, out data, out value,
                                                   out priority));
        assert (kind == Ps.QueueMessageKind.VARIANT && priority == 1);
        assert (value.get_type_string () == "(su)");
        var low = yield queue.receive_async (0, null, out priority);
        assert (bytes_are (low, "low") && priority == 0);
        try {
            yield queue.receive_async (0, null, out priority);
            assert_not_reached ();
        } catch (IOError.WOULD_BLOCK e) {
        }
        var cancellable = new Cancellable ();
        Idle.add (() => { cancellable.cancel (); return Source.REMOVE; });
        try {
            yield queue.receive_async (Ps.TIMEOUT_INFINITE, cancellable, out priority);
            assert_not_reached ();
        } catch (IOError.CANCELLED e) {
        }
        ok = true;
    } catch (Error e) {
        error ("queue: %s", e.message);
    }
    loop.quit ();
}

void test_queue () {
    try {
        var queue = new Ps.Queue (4, 64);
        assert (queue.get_capacity () == 4 && queue.get_max_message_size () == 64);
        var loop = new MainLoop ();
        bool ok = false;
        queue_round_trip.begin (queue, loop, (obj, res) => { queue_round_trip.end (res, out ok); });
        loop.run ();
        assert (ok);
        assert (queue.get_length () == 0);

        try {
            queue.send (new Bytes (new uint8[65]), 0, 0);
            assert_not_reached ();
        } catch (IOError.MESSAGE_TOO_LARGE e) {
        }
        var pid = fork_child (() => {
            try {
                for (int i = 0; i < 50; i++)
                    queue.send (new Bytes ("%d".printf (i).data), 0, scaled (LONG_US));
            } catch (Error e) {
                Posix._exit (1);
            }
        });
        for (int i = 0; i < 50; i++) {
            uint priority;
            var message = queue.receive (out priority, scaled (LONG_US));
            assert (bytes_are (message, "%d".printf (i)));
        }
        assert (reap (pid));
        try {
            queue.send (new Bytes ("a".data), 0, 0);
            queue.send (new Bytes ("b".data), 0, 0);
            queue.send (new Bytes ("c".data), 0, 0);
            queue.send (new Bytes ("d".data), 0, 0);
            queue.send (new Bytes ("e".data), 0, 20000);
            assert_not_reached ();
        } catch (IOError.TIMED_OUT e) {
            assert (queue.get_length () == 4);
        }
    } catch (Error e) {
        error ("%s", e.message);
    }
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/vala/error-domains", test_error_domains);
    Test.add_func ("/vala/mutex-and-timeouts", test_mutex_and_timeouts);
    Test.add_func ("/vala/async", test_async);
    Test.add_func ("/vala/lock-async", test_lock_async);
    Test.add_func ("/vala/fork-counter", test_fork_counter);
    Test.add_func ("/vala/owner-dead", test_owner_dead);
    Test.add_func ("/vala/variants", test_variants);
    Test.add_func ("/vala/rw-lock", test_rw_lock);
    Test.add_func ("/vala/event-and-barrier", test_event_and_barrier);
    Test.add_func ("/vala/queue", test_queue);
    return Test.run ();
}
