/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The constructors of PsRWLock: one call each into what every class shares
 * (ps-object-storage-private.h), which checks the arguments and makes,
 * opens or attaches the object.
 */

#include "ps-object-storage-private.h"
#include "ps-rw-lock.h"

/**
 * ps_rw_lock_new:
 * @error: return location for a #GError
 *
 * Creates an anonymous reader-writer lock, shared with the children
 * forked after this call. Unlike the other anonymous objects, each takes
 * a mapping of its own (%PS_RW_LOCK_SIZE bytes).
 *
 * Returns: (transfer full): the new lock, or %NULL with
 *   %G_IO_ERROR_NO_SPACE if the process is out of memory
 *
 * Since: 1.1
 */
PsRWLock *
ps_rw_lock_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (PS_TYPE_RW_LOCK, NULL, error, NULL);
}

/**
 * ps_rw_lock_open:
 * @name: the name of the lock, such as `/my-app.rwlock`
 * @flags: how to open it
 * @error: return location for a #GError
 *
 * Opens the named reader-writer lock @name, creating it (mode 0600) if
 * @flags asks for it. Creation is race-free.
 *
 * Returns: (transfer full): the lock, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %G_IO_ERROR_NOT_FOUND,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_PERMISSION_DENIED,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsRWLock *
ps_rw_lock_open (const char   *name,
                 PsOpenFlags   flags,
                 GError      **error)
{
  return ps_object_new_named (PS_TYPE_RW_LOCK, name, flags, 0600, error, NULL);
}

/**
 * ps_rw_lock_new_at:
 * @memory: the segment to place the lock in
 * @offset: where, a multiple of 8 leaving room for %PS_RW_LOCK_SIZE bytes
 *   (a multiple of 64 keeps each reader slot on a cache line of its own)
 * @error: return location for a #GError
 *
 * Initialises a new reader-writer lock inside @memory. Other processes
 * that share @memory use it through [func@RWLock.attach] or
 * [func@RWLock.open_at]. Whatever the place holds is overwritten, unless
 * it is a live object of any type: then nothing changes and the result is
 * %G_IO_ERROR_EXISTS.
 *
 * Returns: (transfer full): the lock, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (misaligned offset),
 *   %PS_ERROR_OUT_OF_BOUNDS or %G_IO_ERROR_EXISTS
 *
 * Since: 1.1
 */
PsRWLock *
ps_rw_lock_new_at (PsSharedMemory  *memory,
                   gsize            offset,
                   GError         **error)
{
  return ps_object_new_placed (PS_TYPE_RW_LOCK, memory, offset, PS_PLACE_NEW, 0, error, NULL);
}

/**
 * ps_rw_lock_open_at:
 * @memory: the segment holding the lock
 * @offset: where, a multiple of 8 leaving room for %PS_RW_LOCK_SIZE bytes
 * @flags: how to open it
 * @error: return location for a #GError
 *
 * Opens the lock at @offset of @memory as [func@RWLock.open] opens a
 * name: %PS_OPEN_CREATE initialises a new lock if the place is empty (all
 * zeros) and attaches to the lock there otherwise, %PS_OPEN_EXCLUSIVE
 * fails with %G_IO_ERROR_EXISTS if an object is there, and %PS_OPEN_NONE
 * attaches, waiting a bounded while (2 seconds) for a creator still
 * initialising it. Of many creating at once, exactly one creates (see
 * #PsRWLock:created).
 *
 * Returns: (transfer full): the lock, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_NOT_FOUND (nobody created it),
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsRWLock *
ps_rw_lock_open_at (PsSharedMemory  *memory,
                    gsize            offset,
                    PsOpenFlags      flags,
                    GError         **error)
{
  return ps_object_new_placed (PS_TYPE_RW_LOCK, memory, offset, PS_PLACE_OPEN, flags, error,
                               NULL);
}

/**
 * ps_rw_lock_attach:
 * @memory: the segment holding the lock
 * @offset: where [ctor@RWLock.new_at] placed it
 * @error: return location for a #GError
 *
 * Attaches to a reader-writer lock that [ctor@RWLock.new_at] placed in
 * @memory, in this or another process.
 *
 * Returns: (transfer full): the lock, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsRWLock *
ps_rw_lock_attach (PsSharedMemory  *memory,
                   gsize            offset,
                   GError         **error)
{
  return ps_object_new_placed (PS_TYPE_RW_LOCK, memory, offset, PS_PLACE_ATTACH, 0, error,
                               NULL);
}
