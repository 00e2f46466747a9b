/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The constructors of PsMutex: one call each into what every class shares
 * (ps-object-storage-private.h), which checks the arguments and makes,
 * opens or attaches the object.
 */

#include "ps-mutex.h"
#include "ps-object-storage-private.h"

/**
 * ps_mutex_new:
 * @error: return location for a #GError
 *
 * Creates an anonymous, non-recursive mutex, shared with the children
 * forked after this call.
 *
 * Returns: (transfer full): the new mutex, or %NULL with
 *   %G_IO_ERROR_NO_SPACE if the process is out of memory
 *
 * Since: 1.0
 */
PsMutex *
ps_mutex_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (PS_TYPE_MUTEX, NULL, error, NULL);
}

/**
 * ps_mutex_new_recursive:
 * @error: return location for a #GError
 *
 * Creates an anonymous recursive mutex (a monitor): its holder may lock
 * it again, and must unlock it as many times.
 *
 * Returns: (transfer full): the new mutex, or %NULL
 *
 * Since: 1.0
 */
PsMutex *
ps_mutex_new_recursive (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (PS_TYPE_MUTEX, NULL, error, "recursive", TRUE, NULL);
}

/**
 * ps_mutex_open:
 * @name: the name of the mutex, such as `/my-app.lock`
 * @flags: how to open it
 * @error: return location for a #GError
 *
 * Opens the named mutex @name, creating it (non-recursive, mode 0600) if
 * @flags asks for it; [func@Mutex.open_full] creates a recursive one or
 * another mode. Creation is race-free.
 *
 * A mutex works only among processes of one PID namespace: opening one
 * created in another (another container sharing `/dev/shm`) fails with
 * %G_IO_ERROR_NOT_SUPPORTED (since 1.1; see the README's "Containers and
 * PID namespaces").
 *
 * Returns: (transfer full): the mutex, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %G_IO_ERROR_NOT_FOUND,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_PERMISSION_DENIED,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.0
 */
PsMutex *
ps_mutex_open (const char   *name,
               PsOpenFlags   flags,
               GError      **error)
{
  return ps_object_new_named (PS_TYPE_MUTEX, name, flags, 0600, error, NULL);
}

/**
 * ps_mutex_new_at:
 * @memory: the segment to place the mutex in
 * @offset: where, a multiple of 8 leaving room for %PS_MUTEX_SIZE bytes
 * @error: return location for a #GError
 *
 * Initialises a new non-recursive mutex inside @memory, next to the data
 * it guards. Other processes that share @memory use it through
 * [func@Mutex.attach] or [func@Mutex.open_at]. Whatever the place holds
 * is overwritten, unless it is a live object of any type: then nothing
 * changes and the result is %G_IO_ERROR_EXISTS.
 *
 * Returns: (transfer full): the mutex, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (misaligned offset),
 *   %PS_ERROR_OUT_OF_BOUNDS or %G_IO_ERROR_EXISTS
 *
 * Since: 1.0
 */
PsMutex *
ps_mutex_new_at (PsSharedMemory  *memory,
                 gsize            offset,
                 GError         **error)
{
  return ps_object_new_placed (PS_TYPE_MUTEX, memory, offset, PS_PLACE_NEW, 0, error, NULL);
}

/**
 * ps_mutex_attach:
 * @memory: the segment holding the mutex
 * @offset: where [ctor@Mutex.new_at] placed it
 * @error: return location for a #GError
 *
 * Attaches to a mutex that [ctor@Mutex.new_at] placed in @memory, in this
 * or another process.
 *
 * A mutex placed by a process of another PID namespace is refused with
 * %G_IO_ERROR_NOT_SUPPORTED (since 1.1), as by [func@Mutex.open].
 *
 * Returns: (transfer full): the mutex, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.0
 */
PsMutex *
ps_mutex_attach (PsSharedMemory  *memory,
                 gsize            offset,
                 GError         **error)
{
  return ps_object_new_placed (PS_TYPE_MUTEX, memory, offset, PS_PLACE_ATTACH, 0, error, NULL);
}

/**
 * ps_mutex_open_full:
 * @name: the name of the mutex, such as `/my-app.lock`
 * @flags: how to open it
 * @mode: the permission bits it is created with, such as 0600
 * @recursive: whether a mutex it creates is recursive
 * @error: return location for a #GError
 *
 * Opens the named mutex @name as [func@Mutex.open] does, creating it if
 * @flags asks for it with @mode and @recursive. A mutex that exists
 * keeps what its creator chose; [method@Mutex.is_recursive] tells.
 *
 * Returns: (transfer full): the mutex, or %NULL with the errors of
 *   [func@Mutex.open]
 *
 * Since: 1.1
 */
PsMutex *
ps_mutex_open_full (const char   *name,
                    PsOpenFlags   flags,
                    guint         mode,
                    gboolean      recursive,
                    GError      **error)
{
  return ps_object_new_named (PS_TYPE_MUTEX, name, flags, mode, error,
                              "recursive", recursive,
                              NULL);
}

/**
 * ps_mutex_open_at:
 * @memory: the segment holding the mutex
 * @offset: where, a multiple of 8 leaving room for %PS_MUTEX_SIZE bytes
 * @flags: how to open it
 * @error: return location for a #GError
 *
 * Opens the mutex at @offset of @memory as [func@Mutex.open] opens a
 * name: %PS_OPEN_CREATE initialises a new non-recursive mutex if the
 * place is empty (all zeros) and attaches to the mutex there otherwise,
 * %PS_OPEN_EXCLUSIVE fails with %G_IO_ERROR_EXISTS if an object is there,
 * and %PS_OPEN_NONE attaches, waiting a bounded while (2 seconds) for a
 * creator still initialising it. Of many processes and threads creating
 * at once, exactly one creates (see #PsMutex:created) and none sees the
 * mutex half-made.
 *
 * A mutex placed by a process of another PID namespace is refused with
 * %G_IO_ERROR_NOT_SUPPORTED, as by [func@Mutex.open].
 *
 * Returns: (transfer full): the mutex, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_NOT_FOUND (nobody created it),
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsMutex *
ps_mutex_open_at (PsSharedMemory  *memory,
                  gsize            offset,
                  PsOpenFlags      flags,
                  GError         **error)
{
  return ps_object_new_placed (PS_TYPE_MUTEX, memory, offset, PS_PLACE_OPEN, flags, error, NULL);
}

/**
 * ps_mutex_open_at_full:
 * @memory: the segment holding the mutex
 * @offset: where, a multiple of 8 leaving room for %PS_MUTEX_SIZE bytes
 * @flags: how to open it
 * @recursive: whether a mutex it creates is recursive
 * @error: return location for a #GError
 *
 * Opens the mutex at @offset of @memory as [func@Mutex.open_at] does,
 * creating a recursive one if @recursive is %TRUE.
 *
 * Returns: (transfer full): the mutex, or %NULL with the errors of
 *   [func@Mutex.open_at]
 *
 * Since: 1.1
 */
PsMutex *
ps_mutex_open_at_full (PsSharedMemory  *memory,
                       gsize            offset,
                       PsOpenFlags      flags,
                       gboolean         recursive,
                       GError         **error)
{
  return ps_object_new_placed (PS_TYPE_MUTEX, memory, offset, PS_PLACE_OPEN, flags, error,
                               "recursive", recursive,
                               NULL);
}
