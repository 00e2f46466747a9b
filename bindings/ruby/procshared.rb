# SPDX-License-Identifier: LGPL-2.1-or-later
#
# procshared for Ruby: `require "procshared"` loads the typelib's
# namespace "Ps" into `module Ps` through ruby-gnome's
# gobject-introspection gem, as `require "gio2"` does for GIO, and mends
# what the gem alone gets wrong (docs/ruby.md):
#
# - waits let the other Ruby threads run, so that one of them can cancel
#   a wait through a Gio::Cancellable;
# - every constructor as a class method of its C name
#   (Ps::Semaphore.new_at, Ps::Mutex.new_recursive, ...), and every
#   function ruby-gnome renames under its C name too (get_value beside
#   value, is_set beside set?), as Python and GJS have them, and
#   Ps::Mutex.new(recursive: true);
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
  # Kept: its renaming rule gives the C names their Ruby ones (CNames).
  LOADER = Loader.new(self)
  LOADER.load("Ps")
  private_constant :LOADER

  # The version of the typelib loaded, as GLib::VERSION: [major, minor,
  # micro].
  VERSION = [MAJOR_VERSION, MINOR_VERSION, MICRO_VERSION].freeze

  # The C API's names beside ruby-gnome's, so that code written from the
  # C API (or ported from Python or GJS) reads the same in Ruby.
  module CNames
    # Where ruby-gnome put @function: "get_value" is "value", "is_set"
    # and "get_created" (booleans) "set?" and "created?". The gem's own
    # rule, from its loader.
    def self.rubyish(function)
      LOADER.__send__(:rubyish_method_name, function)
    end

    # @target's method under the C name of @function, if ruby-gnome
    # renamed it. A call goes through the Ruby name, so that the module's
    # own checks in front of it apply to both.
    def self.alias_c_name(target, function)
      name = function.name
      return if target.method_defined?(name) || target.private_method_defined?(name)

      ruby_name = rubyish(function)
      return unless target.public_method_defined?(ruby_name, false)

      target.define_method(name) { |*arguments, &block| __send__(ruby_name, *arguments, &block) }
    end

    # A @klass made by its constructor @name, which ruby-gnome keeps as
    # the private initializer initialize_@name, reached by `new` only when
    # its arguments tell it from the others.
    def self.construct(klass, name, *arguments, &block)
      object = klass.allocate
      object.__send__(:"initialize_#{name}", *arguments, &block)
      object
    end

    # A class method @name for that constructor.
    def self.define_constructor(klass, name)
      return if klass.respond_to?(name)

      klass.define_singleton_method(name) do |*arguments, &block|
        CNames.construct(self, name, *arguments, &block)
      end
    end

    def self.define_all(namespace)
      repository = GObjectIntrospection::Repository.default
      repository.each("Ps") do |info|
        case info
        when GObjectIntrospection::ObjectInfo
          klass = namespace.const_get(info.name)
          info.methods.each do |function|
            case function
            when GObjectIntrospection::ConstructorInfo
              define_constructor(klass, function.name) unless function.name == "new"
            when GObjectIntrospection::MethodInfo
              alias_c_name(klass, function)
            else
              alias_c_name(klass.singleton_class, function)
            end
          end
        when GObjectIntrospection::FunctionInfo
          alias_c_name(namespace.singleton_class, info)
        end
      end
    end
  end
  private_constant :CNames

  # Raises TypeError unless @value is a GLib::Variant: ruby-gnome passes
  # anything else as NULL, or crashes on it.
  def self.check_variant(value, type = nil)
    unless value.is_a?(GLib::Variant)
      raise TypeError, "expected a GLib::Variant, got #{value.class}: " \
                       "make one with GLib::Variant.new(value, type)"
    end
    return if type.nil? || value.type.to_s == type

    raise TypeError, "expected a GLib::Variant of type \"#{type}\", got one of type " \
                     "\"#{value.type}\""
  end
  private_class_method :check_variant

  class Mutex
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
      CNames.construct(self, "new_from_fd", fd)
    end

    # ps_shared_memory_new_from_handle(), its handle type-checked (an
    # "h", as to_handle gives it wrapped in GLib::Variant.new(handle, "h")).
    def self.new_from_handle(handle, fd_list)
      Ps.__send__(:check_variant, handle, "h")
      CNames.construct(self, "new_from_handle", handle, fd_list)
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

  CNames.define_all(self)
end
