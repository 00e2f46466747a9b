/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The constructors of PsCond: one call each into what every class shares
 * (ps-object-storage-private.h), which checks the arguments and makes,
 * opens or attaches the object.
 */

#include "ps-cond.h"
#include "ps-object-storage-private.h"

/**
 * ps_cond_new:
 * @error: return location for a #GError
 *
 * Creates an anonymous condition variable, shared with the children
 * forked after this call.
 *
 * Returns: (transfer full): the new condition variable, or %NULL with
 *   %G_IO_ERROR_NO_SPACE if the process is out of memory
 *
 * Since: 1.0
 */
PsCond *
ps_cond_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (PS_TYPE_COND, NULL, error, NULL);
}

/**
 * ps_cond_open:
 * @name: the name of the condition variable, such as `/my-app.ready`
 * @flags: how to open it
 * @error: return location for a #GError
 *
 * Opens the named condition variable @name, creating it if @flags asks
 * for it. Creation is race-free.
 *
 * Returns: (transfer full): the condition variable, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %G_IO_ERROR_NOT_FOUND,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_PERMISSION_DENIED,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.0
 */
PsCond *
ps_cond_open (const char   *name,
              PsOpenFlags   flags,
              GError      **error)
{
  return ps_object_new_named (PS_TYPE_COND, name, flags, 0600, error, NULL);
}

/**
 * ps_cond_new_at:
 * @memory: the segment to place the condition variable in
 * @offset: where, a multiple of 8 leaving room for %PS_COND_SIZE bytes
 * @error: return location for a #GError
 *
 * Initialises a new condition variable inside @memory. Other processes
 * that share @memory use it through [func@Cond.attach] or
 * [func@Cond.open_at]. A live object of any type there is left alone:
 * the result is then %G_IO_ERROR_EXISTS.
 *
 * Returns: (transfer full): the condition variable, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (misaligned offset),
 *   %PS_ERROR_OUT_OF_BOUNDS or %G_IO_ERROR_EXISTS
 *
 * Since: 1.0
 */
PsCond *
ps_cond_new_at (PsSharedMemory  *memory,
                gsize            offset,
                GError         **error)
{
  return ps_object_new_placed (PS_TYPE_COND, memory, offset, PS_PLACE_NEW, 0, error, NULL);
}

/**
 * ps_cond_attach:
 * @memory: the segment holding the condition variable
 * @offset: where [ctor@Cond.new_at] placed it
 * @error: return location for a #GError
 *
 * Attaches to a condition variable that [ctor@Cond.new_at] placed in
 * @memory, in this or another process.
 *
 * Returns: (transfer full): the condition variable, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.0
 */
PsCond *
ps_cond_attach (PsSharedMemory  *memory,
                gsize            offset,
                GError         **error)
{
  return ps_object_new_placed (PS_TYPE_COND, memory, offset, PS_PLACE_ATTACH, 0, error, NULL);
}

/**
 * ps_cond_open_full:
 * @name: the name of the condition variable, such as `/my-app.ready`
 * @flags: how to open it
 * @mode: the permission bits it is created with, such as 0600
 * @error: return location for a #GError
 *
 * Opens the named condition variable @name as [func@Cond.open] does,
 * creating it with @mode if @flags asks for it.
 *
 * Returns: (transfer full): the condition variable, or %NULL with the
 *   errors of [func@Cond.open]
 *
 * Since: 1.1
 */
PsCond *
ps_cond_open_full (const char   *name,
                   PsOpenFlags   flags,
                   guint         mode,
                   GError      **error)
{
  return ps_object_new_named (PS_TYPE_COND, name, flags, mode, error, NULL);
}

/**
 * ps_cond_open_at:
 * @memory: the segment holding the condition variable
 * @offset: where, a multiple of 8 leaving room for %PS_COND_SIZE bytes
 * @flags: how to open it
 * @error: return location for a #GError
 *
 * Opens the condition variable at @offset of @memory as
 * [func@Mutex.open_at] opens a mutex: created race-free with
 * %PS_OPEN_CREATE, %G_IO_ERROR_EXISTS with %PS_OPEN_EXCLUSIVE, attached
 * after a bounded wait for its creator with %PS_OPEN_NONE.
 *
 * Returns: (transfer full): the condition variable, or %NULL with the
 *   errors of [func@Mutex.open_at]
 *
 * Since: 1.1
 */
PsCond *
ps_cond_open_at (PsSharedMemory  *memory,
                 gsize            offset,
                 PsOpenFlags      flags,
                 GError         **error)
{
  return ps_object_new_placed (PS_TYPE_COND, memory, offset, PS_PLACE_OPEN, flags, error, NULL);
}
