# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What the Ruby suites (test_ruby.rb, test_ruby_module.rb) share, as
# bindings_util.py for the Python ones. It loads nothing of procshared:
# each suite loads Ps its own way.

require "timeout"

TIME_SCALE = Float(ENV.fetch("PS_TEST_TIME_SCALE", "1"))
# Generous bounds for what must happen at all, never speed assertions.
LONG_S = 30.0 * TIME_SCALE
LONG_US = (LONG_S * 1_000_000).to_i

module PsRubyTest
  def now_us
    Process.clock_gettime(Process::CLOCK_MONOTONIC, :microsecond)
  end

  # The Process::Status of child @pid, within LONG_S (Timeout::Error
  # otherwise: the caller kills it).
  def wait_status(pid)
    Timeout.timeout(LONG_S) { Process.wait2(pid)[1] }
  end

  def assert_io_error(klass, code)
    error = assert_raise(klass) { yield }
    assert_kind_of(Gio::IOError, error)
    assert_equal("g-io-error-quark", error.domain)
    assert_equal(code, error.code)
    error
  end
end
