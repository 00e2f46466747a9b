# SPDX-License-Identifier: LGPL-2.1-or-later
#
# procshared for Ruby: `require "procshared"` loads the typelib's
# namespace "Ps" into `module Ps` through ruby-gnome's
# gobject-introspection gem, as `require "gio2"` does for GIO, and mends
# what the gem alone gets wrong (docs/ruby.md):
#
# - waits let the other Ruby threads run, so that one of them can cancel
#   a wait through a Gio::Cancellable;
# - Ps::Mutex.new_recursive (or Ps::Mutex.new(recursive: true)) and
#   Ps::SharedMemory.new_from_fd, which `new` cannot reach;
# - the queue's receives the gem cannot convert raise NotImplementedError
#   before anything is taken, instead of after the message is gone;
# - a GVariant argument that is not a GLib::Variant raises TypeError
#   instead of crashing the interpreter.

require "gio2"

module Ps
  class Loader < GObjectIntrospection::Loader
    private

    # ruby-gnome keeps Ruby's global lock (the GVL) during a C call by
    # default: a blocking wait would then stop every Ruby thread of the
    # process, the one that would cancel it included. Releasing it is
    # safe for a function that does not call back into Ruby while it
    # runs: procshared's functions touch no Ruby object, and their only
    # callbacks are the _async ones (scope async), which ruby-gnome runs
    # later from the main loop, holding the GVL again
    # (test_ruby_module.rb checks it). A callback of scope call
    # (Ps::Queue#send_with, #receive_with) runs during the call, and the
    # gem deadlocks running it without the GVL: such a function keeps it.
    def should_unlock_gvl?(info, _klass)
      info.args.none? do |arg|
        arg.scope == GObjectIntrospection::ScopeType::CALL
      end
    end
  end
  Loader.new(self).load("Ps")

  # The version of the typelib loaded, as GLib::VERSION: [major, minor,
  # micro].
  VERSION = [MAJOR_VERSION, MINOR_VERSION, MICRO_VERSION].freeze

  # Raises TypeError unless @value is a GLib::Variant: ruby-gnome passes
  # anything else as NULL, or crashes on it.
  def self.check_variant(value)
    return if value.is_a?(GLib::Variant)

    raise TypeError, "expected a GLib::Variant, got #{value.class}: " \
                     "make one with GLib::Variant.new(value, type)"
  end
  private_class_method :check_variant

  class Mutex
    # A recursive mutex, ps_mutex_new_recursive(): locked again by the
    # thread that holds it, unlocked as many times.
    def self.new_recursive
      mutex = allocate
      mutex.__send__(:initialize_new_recursive)
      mutex
    end

    # Ps::Mutex.new(recursive: true) is Ps::Mutex.new_recursive; the
    # other forms are ruby-gnome's.
    module RecursiveKeyword
      def initialize(*arguments, recursive: nil, &block)
        return super(*arguments, &block) if recursive.nil?
        unless arguments.empty?
          raise ArgumentError, "recursive: only for an anonymous mutex; " \
                               "use Ps::Mutex.open_full or open_at_full"
        end
        recursive ? initialize_new_recursive : super()
      end
    end
    prepend RecursiveKeyword
  end

  class SharedMemory
    # ps_shared_memory_new_from_fd(): the segment behind @fd (an Integer,
    # or an IO), which stays the caller's to close.
    def self.new_from_fd(fd)
      fd = fd.fileno if fd.respond_to?(:fileno)
      memory = allocate
      memory.__send__(:initialize_new_from_fd, fd)
      memory
    end

    # Type checks in front of ruby-gnome's class methods.
    module VariantFunctions
      def measure_variant(value)
        Ps.__send__(:check_variant, value)
        super
      end
    end
    singleton_class.prepend VariantFunctions

    # Type checks in front of ruby-gnome's methods.
    module VariantArguments
      def write_variant(offset, value, *rest, &block)
        Ps.__send__(:check_variant, value)
        super
      end
    end
    prepend VariantArguments
  end

  class Queue
    # What ruby-gnome cannot do with a queue, refused before anything is
    # sent or taken.
    module Unsupported
      def self.refuse(method, instead)
        raise NotImplementedError,
              "Ps::Queue##{method} is not available from Ruby (ruby-gnome " \
              "cannot convert its arguments); use #{instead}"
      end

      # The message is an out GVariant, which the gem raises on only after
      # the message was taken: refused first. The _async form takes it
      # before its _finish, so it is refused as well.
      def receive_message(*)
        Unsupported.refuse(:receive_message, "receive or receive_variant")
      end

      def receive_message_async(*)
        Unsupported.refuse(:receive_message_async, "receive_async")
      end

      def receive_message_finish(*)
        Unsupported.refuse(:receive_message_finish, "receive_async and receive_finish")
      end

      # The block gets a copy of the message, not the queue's slot: the
      # gem would send zeros, or raise after taking the message.
      def send_with(*)
        Unsupported.refuse(:send_with, "send")
      end

      def receive_with(*)
        Unsupported.refuse(:receive_with, "receive or receive_variant")
      end

      def send_variant(value, *rest, &block)
        Ps.__send__(:check_variant, value)
        super
      end

      def send_variant_async(value, *rest, &block)
        Ps.__send__(:check_variant, value)
        super
      end
    end
    prepend Unsupported
  end
end
