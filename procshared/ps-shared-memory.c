/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <string.h>

#include "ps-enums.h"
#include "ps-error.h"
#include "ps-shared-memory-private.h"
#include "ps-errors-private.h"
#include "ps-names-private.h"
#include "ps-object-map-private.h"

/**
 * PsSharedMemory:
 *
 * A segment of memory shared between processes.
 *
 * A segment is either anonymous ([ctor@SharedMemory.new]), and then shared
 * with the children forked after it was made, or named
 * ([func@SharedMemory.open]), and then shared with any process that opens
 * the same name, in any language. It is zero-filled when created.
 *
 * Offsets are relative to the start of the data. Every accessor checks
 * its offset and length against the size of the segment and fails with
 * %PS_ERROR_OUT_OF_BOUNDS, touching nothing, if they do not fit.
 *
 * Besides raw bytes and fixed-size numbers, a segment can hold
 * self-describing #GVariant records ([method@SharedMemory.write_variant],
 * [method@SharedMemory.read_variant]): any program that can read GVariant
 * can exchange structured values with any other through them.
 *
 * Locks can live inside the segment, next to the data they guard: see
 * [ctor@Mutex.new_at], [ctor@Cond.new_at] and [ctor@Semaphore.new_at].
 *
 * Named segments start with a small header (so that opening one as the
 * wrong kind of object fails cleanly); the data follows it, 64-byte
 * aligned.
 *
 * Memory: a named segment lives in the system's shared-memory file system
 * (`/dev/shm` on Linux), and all of its memory is reserved there when it
 * is created. If there is not enough room (a full `/dev/shm`, or one
 * smaller than the segment, such as Docker's default of 64 MiB), creating
 * it fails with %G_IO_ERROR_NO_SPACE and leaves nothing behind; once
 * created, no write to it can fail for want of room. Anonymous segments
 * live in the kernel's own memory, not in `/dev/shm`, and are not limited
 * by its size. Out of memory (including `RLIMIT_AS`) is
 * %G_IO_ERROR_NO_SPACE too; %G_IO_ERROR_INVALID_ARGUMENT is kept for sizes
 * that can never work.
 *
 * Truncation: anyone who may open a named segment may also shrink its
 * file. Touching a page past the new end would raise `SIGBUS`; instead,
 * procshared replaces this process's mapping of the segment with private
 * zero-filled memory and the process lives on, cut off from the others.
 * From then on every accessor of the segment fails with %PS_ERROR_CORRUPT
 * ("the segment lost its backing: another process truncated it"), so that
 * no read or write ever looks successful. A pointer from
 * [method@SharedMemory.get_data] sees the zeros, and what is written
 * through it is seen by no other process.
 *
 * Sharing by file descriptor (since 1.1): an anonymous segment is a memfd
 * on Linux, whose descriptor ([method@SharedMemory.dup_fd]) another
 * process, even in a sandbox with its own `/dev/shm`, maps with
 * [ctor@SharedMemory.new_from_fd]; see also [method@SharedMemory.seal]
 * and [method@SharedMemory.dup_read_only_fd].
 *
 * Across fork(): a segment mapped before fork() is inherited at the same
 * address ([method@SharedMemory.get_address] and
 * [method@SharedMemory.get_data] give the same value in parent and
 * child) and is the same memory: what either process writes, the other
 * reads. Nothing in a segment is owned by a process, so nothing is
 * released when one dies; guard data that several processes update with
 * a [class@Mutex], which notices.
 *
 * Since: 1.0
 */

/* The data of a segment starts here, after the object header. */
#define DATA_OFFSET 64
G_STATIC_ASSERT (DATA_OFFSET >= sizeof (PsObjectHeader));

struct _PsSharedMemory
{
  GObject parent_instance;

  char *name;
  gsize size;
  PsOpenFlags open_flags;
  guint mode;

  gpointer mapping;
  gsize mapping_size;
  guint8 *data;
  const gint *lost;   /* ps_object_map_lost_flag(), read and set atomically */
  PsSharedMemoryFd fd;  /* ps-shared-memory-fd.c */

  gboolean initialised;
  GError *init_error;
  gboolean created;
};

static void ps_shared_memory_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PsSharedMemory, ps_shared_memory, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      ps_shared_memory_initable_iface_init))

enum {
  PROP_0,
  PROP_NAME,
  PROP_SIZE,
  PROP_OPEN_FLAGS,
  PROP_MODE,
  PROP_CREATED,
  PROP_FD,
  N_PROPS
};

static GParamSpec *properties [N_PROPS];

static gboolean
map_new_or_named (PsSharedMemory  *self,
                  GError         **error)
{
  if ((self->name == NULL || (self->open_flags & PS_OPEN_CREATE)) && self->size == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "A shared memory segment cannot be created with a size of 0");
      return FALSE;
    }
  if (self->size > (gsize) G_MAXSSIZE - DATA_OFFSET)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "A size of %" G_GSIZE_FORMAT " bytes is larger than the system allows",
                   self->size);
      return FALSE;
    }

  if (self->name != NULL)
    return ps_object_map_named (self->name, self->open_flags, self->mode,
                                PS_OBJECT_TYPE_SHARED_MEMORY, DATA_OFFSET, self->size, FALSE,
                                NULL, NULL, &self->mapping, &self->mapping_size,
                                &self->created, &self->mode, error);

  /* Anonymous: over a file that can be shared by descriptor, untouched:
   * its header is written when a descriptor first leaves (-fd.c). */
  self->created = TRUE;
  self->mapping_size = DATA_OFFSET + self->size;
  self->mapping = ps_shared_memory_fd_create (&self->fd, self->mapping_size, error);
  return self->mapping != NULL;
}

void
ps_shared_memory_write_header (PsSharedMemory *self)
{
  if (g_atomic_int_get (&self->fd.header_written))
    return;
  ps_object_header_init (self->mapping, PS_OBJECT_TYPE_SHARED_MEMORY, self->size);
  ps_object_header_publish (self->mapping);
  g_atomic_int_set (&self->fd.header_written, TRUE);
}

static gboolean
map_segment (PsSharedMemory  *self,
             GError         **error)
{
  if (self->fd.source_fd >= 0)
    {
      /* Handed over by another process: what it is, the descriptor says. */
      g_clear_pointer (&self->name, g_free);
      self->open_flags = PS_OPEN_NONE;
      if (!ps_shared_memory_fd_open (&self->fd, DATA_OFFSET, &self->mapping,
                                     &self->mapping_size, error))
        return FALSE;
    }
  else if (!map_new_or_named (self, error))
    return FALSE;

  self->data = (guint8 *) self->mapping + DATA_OFFSET;
  self->size = self->mapping_size - DATA_OFFSET;
  self->lost = ps_object_map_lost_flag (self->mapping);
  if (self->fd.needs_guard)
    ps_shared_memory_guard (self);
  return TRUE;
}

void
ps_shared_memory_guard (PsSharedMemory *self)
{
  if (g_atomic_int_compare_and_exchange (&self->fd.guarded, FALSE, TRUE))
    __atomic_store_n (&self->lost, ps_object_map_guard (self->mapping, self->mapping_size),
                      __ATOMIC_RELEASE);
}

PsSharedMemoryFd *
ps_shared_memory_get_fd (PsSharedMemory *self)
{
  return &self->fd;
}

static gboolean
ps_shared_memory_initable_init (GInitable     *initable,
                                GCancellable  *cancellable,
                                GError       **error)
{
  PsSharedMemory *self = PS_SHARED_MEMORY (initable);

  /* Idempotent, as GInitable asks: constructed() already tried. */
  if (!self->initialised)
    {
      self->initialised = TRUE;
      map_segment (self, &self->init_error);
    }
  if (self->init_error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->init_error));
      return FALSE;
    }
  return TRUE;
}

/* A segment made by g_object_new() alone, as the language bindings make
 * it, works too. */
static void
ps_shared_memory_constructed (GObject *object)
{
  G_OBJECT_CLASS (ps_shared_memory_parent_class)->constructed (object);
  ps_shared_memory_initable_init (G_INITABLE (object), NULL, NULL);
}

static void
ps_shared_memory_initable_iface_init (GInitableIface *iface)
{
  iface->init = ps_shared_memory_initable_init;
}

static void
ps_shared_memory_finalize (GObject *object)
{
  PsSharedMemory *self = (PsSharedMemory *)object;

  if (self->mapping != NULL)
    ps_object_unmap (self->mapping, self->mapping_size);
  ps_shared_memory_fd_clear (&self->fd);
  g_clear_pointer (&self->name, g_free);
  g_clear_error (&self->init_error);

  G_OBJECT_CLASS (ps_shared_memory_parent_class)->finalize (object);
}

static void
ps_shared_memory_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  PsSharedMemory *self = PS_SHARED_MEMORY (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_SIZE:
      g_value_set_uint64 (value, self->size);
      break;
    case PROP_OPEN_FLAGS:
      g_value_set_flags (value, self->open_flags);
      break;
    case PROP_MODE:
      g_value_set_uint (value, self->mode);
      break;
    case PROP_CREATED:
      g_value_set_boolean (value, self->created);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ps_shared_memory_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  PsSharedMemory *self = PS_SHARED_MEMORY (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case PROP_SIZE:
      self->size = g_value_get_uint64 (value);
      break;
    case PROP_OPEN_FLAGS:
      self->open_flags = g_value_get_flags (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_uint (value);
      break;
    case PROP_FD:
      self->fd.source_fd = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ps_shared_memory_class_init (PsSharedMemoryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = ps_shared_memory_constructed;
  object_class->finalize = ps_shared_memory_finalize;
  object_class->get_property = ps_shared_memory_get_property;
  object_class->set_property = ps_shared_memory_set_property;

  /**
   * PsSharedMemory:name: (getter get_name)
   *
   * The name of a named segment, such as `/my-app.data`, or %NULL for an
   * anonymous one.
   *
   * Since: 1.0
   */
  properties [PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * PsSharedMemory:size: (getter get_size)
   *
   * The number of data bytes. When opening an existing named segment, 0
   * accepts any size, and after construction the property holds the size
   * of the segment opened.
   *
   * Since: 1.0
   */
  properties [PROP_SIZE] =
    g_param_spec_uint64 ("size", NULL, NULL,
                         0, G_MAXUINT64, 0,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * PsSharedMemory:open-flags: (getter get_open_flags)
   *
   * How a named segment is opened.
   *
   * Since: 1.0
   */
  properties [PROP_OPEN_FLAGS] =
    g_param_spec_flags ("open-flags", NULL, NULL,
                        PS_TYPE_OPEN_FLAGS, PS_OPEN_NONE,
                        (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * PsSharedMemory:mode: (getter get_mode)
   *
   * The permission bits a named segment is created with, whatever the
   * umask: by default 0600, so that only its owner can open it. After
   * opening a segment that existed, its real permission bits (since 1.1).
   *
   * Since: 1.0
   */
  properties [PROP_MODE] =
    g_param_spec_uint ("mode", NULL, NULL,
                       0, 0777, 0600,
                       (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * PsSharedMemory:created: (getter get_created)
   *
   * Whether this handle created the segment; %FALSE when it opened one
   * that existed.
   *
   * Since: 1.1
   */
  properties [PROP_CREATED] =
    g_param_spec_boolean ("created", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * PsSharedMemory:fd:
   *
   * A file descriptor of a segment to map, as another process handed it
   * over (see [ctor@SharedMemory.new_from_fd], which sets it), or -1. The
   * descriptor is not taken: the segment keeps a duplicate of its own.
   * When it is set, #PsSharedMemory:size, #PsSharedMemory:name and the
   * other construct properties are ignored.
   *
   * Since: 1.1
   */
  properties [PROP_FD] =
    g_param_spec_int ("fd", NULL, NULL,
                      -1, G_MAXINT, -1,
                      (G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ps_shared_memory_init (PsSharedMemory *self)
{
  self->mode = 0600;
  ps_shared_memory_fd_init (&self->fd);
}

/**
 * ps_shared_memory_new:
 * @size: the number of bytes, more than 0
 * @error: return location for a #GError
 *
 * Creates an anonymous, zero-filled segment, shared with every child
 * process forked after this call.
 *
 * Returns: (transfer full): the new segment, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT if @size is 0 or larger than the system
 *   allows, or %G_IO_ERROR_NO_SPACE if it is out of memory
 *
 * Since: 1.0
 */
PsSharedMemory *
ps_shared_memory_new (gsize    size,
                      GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (PS_TYPE_SHARED_MEMORY, NULL, error,
                         "size", (guint64) size,
                         NULL);
}

/**
 * ps_shared_memory_open:
 * @name: the name of the segment, such as `/my-app.data`
 * @flags: how to open it
 * @size: the number of bytes when creating it; when opening an existing
 *   segment, 0 accepts any size and a larger value is the minimum needed
 * @error: return location for a #GError
 *
 * Opens the named segment @name, creating it zero-filled if @flags asks
 * for it. Any process that opens the same name shares the same memory.
 * A new segment gets mode 0600 unless the #PsSharedMemory:mode property
 * says otherwise (use g_initable_new() to set it).
 *
 * Returns: (transfer full): the segment, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (a bad name or size),
 *   %G_IO_ERROR_NO_SPACE (no room for it in `/dev/shm`, or out of
 *   memory), %G_IO_ERROR_NOT_FOUND, %G_IO_ERROR_EXISTS,
 *   %G_IO_ERROR_PERMISSION_DENIED, %PS_ERROR_WRONG_TYPE (the name holds
 *   another kind of object), %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.0
 */
PsSharedMemory *
ps_shared_memory_open (const char   *name,
                       PsOpenFlags   flags,
                       gsize         size,
                       GError      **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ps_name_given (name, error) || !ps_open_flags_validate (flags, error))
    return NULL;

  return g_initable_new (PS_TYPE_SHARED_MEMORY, NULL, error,
                         "name", name,
                         "open-flags", flags,
                         "size", (guint64) size,
                         NULL);
}

/**
 * ps_shared_memory_open_full:
 * @name: the name of the segment, such as `/my-app.data`
 * @flags: how to open it
 * @size: the size in bytes if it is created; when opening, 0 accepts any
 *   size, another value the segments of at least that size
 * @mode: the permission bits it is created with, such as 0600
 * @error: return location for a #GError
 *
 * Opens the named segment @name as [func@SharedMemory.open] does,
 * creating it with @mode if @flags asks for it.
 *
 * Returns: (transfer full): the segment, or %NULL with the errors of
 *   [func@SharedMemory.open]
 *
 * Since: 1.1
 */
PsSharedMemory *
ps_shared_memory_open_full (const char   *name,
                            PsOpenFlags   flags,
                            gsize         size,
                            guint         mode,
                            GError      **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ps_name_given (name, error) || !ps_open_flags_validate (flags, error) ||
      !ps_mode_validate (mode, error))
    return NULL;

  return g_initable_new (PS_TYPE_SHARED_MEMORY, NULL, error,
                         "name", name,
                         "open-flags", flags,
                         "size", (guint64) size,
                         "mode", mode,
                         NULL);
}

/**
 * ps_shared_memory_get_created:
 * @self: a #PsSharedMemory
 *
 * Whether this handle created the segment.
 *
 * Across fork(): a child sees its parent's handle, with the same answer.
 *
 * Returns: %TRUE if it created it, %FALSE if it opened one that existed
 *
 * Since: 1.1
 */
gboolean
ps_shared_memory_get_created (PsSharedMemory *self)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), FALSE);

  return self->created;
}

/**
 * ps_shared_memory_get_name:
 * @self: a #PsSharedMemory
 *
 * Gets the name of a named segment.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: (nullable): the name, or %NULL if the segment is anonymous
 *
 * Since: 1.0
 */
const char *
ps_shared_memory_get_name (PsSharedMemory *self)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), NULL);
  g_return_val_if_fail (self->mapping != NULL, NULL);

  return self->name;
}

/**
 * ps_shared_memory_get_size:
 * @self: a #PsSharedMemory
 *
 * Gets the number of data bytes in the segment.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: the size in bytes
 *
 * Since: 1.0
 */
gsize
ps_shared_memory_get_size (PsSharedMemory *self)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), 0);
  g_return_val_if_fail (self->mapping != NULL, 0);

  return self->size;
}

/**
 * ps_shared_memory_get_open_flags:
 * @self: a #PsSharedMemory
 *
 * Gets the flags the segment was opened with.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: the #PsOpenFlags
 *
 * Since: 1.0
 */
PsOpenFlags
ps_shared_memory_get_open_flags (PsSharedMemory *self)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), PS_OPEN_NONE);
  g_return_val_if_fail (self->mapping != NULL, PS_OPEN_NONE);

  return self->open_flags;
}

/**
 * ps_shared_memory_get_mode:
 * @self: a #PsSharedMemory
 *
 * Gets the permission bits of the segment: since 1.1, those of the
 * named segment that was opened if it existed (before, the mode it would
 * have been created with); otherwise the ones it was created with.
 *
 * Across fork(): the same in parent and child.
 *
 * Returns: the mode, such as 0600
 *
 * Since: 1.0
 */
guint
ps_shared_memory_get_mode (PsSharedMemory *self)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), 0);
  g_return_val_if_fail (self->mapping != NULL, 0);

  return self->mode;
}

/**
 * ps_shared_memory_get_data: (skip)
 * @self: a #PsSharedMemory
 *
 * Gets a pointer to the data of the segment, valid as long as @self is.
 *
 * Reads and writes through it are not checked: if another process
 * truncates a named segment's file, this process's mapping is replaced
 * with private zeros, which the pointer then reads, and what is written
 * through it is no longer shared (the accessors, such as
 * [method@SharedMemory.read], fail with %PS_ERROR_CORRUPT instead).
 *
 * Across fork(): the mapping is inherited at the same address, so the
 * pointer is valid in the child and points to the same memory.
 *
 * Returns: (transfer none): the first byte of the data, 64-byte aligned
 *
 * Since: 1.0
 */
gpointer
ps_shared_memory_get_data (PsSharedMemory *self)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), NULL);
  g_return_val_if_fail (self->mapping != NULL, NULL);

  return self->data;
}

/**
 * ps_shared_memory_get_address:
 * @self: a #PsSharedMemory
 *
 * Gets the address of the data as an integer, so that bindings can build
 * zero-copy views of it (a Python `memoryview`, say). It stays valid as
 * long as @self is alive.
 *
 * Across fork(): the same address in parent and child (the mapping is
 * inherited), and the same memory.
 *
 * Returns: the address of the first data byte
 *
 * Since: 1.0
 */
guintptr
ps_shared_memory_get_address (PsSharedMemory *self)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), 0);
  g_return_val_if_fail (self->mapping != NULL, 0);

  return (guintptr) self->data;
}

guint8 *
ps_shared_memory_peek (PsSharedMemory *self,
                       gsize          *out_size)
{
  g_return_val_if_fail (PS_IS_SHARED_MEMORY (self), NULL);
  g_return_val_if_fail (self->mapping != NULL, NULL);

  *out_size = self->size;
  return self->data;
}

gboolean
ps_shared_memory_check_backing (PsSharedMemory  *self,
                                GError         **error)
{
  if (G_LIKELY (__atomic_load_n (__atomic_load_n (&self->lost, __ATOMIC_ACQUIRE),
                                 __ATOMIC_ACQUIRE) == 0))
    return TRUE;
  g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
               "The segment “%s” lost its backing: another process truncated it, "
               "and what this process reads or writes there is no longer shared",
               self->name != NULL ? self->name : "(anonymous)");
  return FALSE;
}
