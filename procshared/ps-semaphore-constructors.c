/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The constructors of PsSemaphore: one call each into what every class shares
 * (ps-object-storage-private.h), which checks the arguments and makes,
 * opens or attaches the object.
 */

#include "ps-object-storage-private.h"
#include "ps-semaphore-private.h"

/**
 * ps_semaphore_new:
 * @value: the initial count, at most %G_MAXINT32
 * @error: return location for a #GError
 *
 * Creates an anonymous semaphore, shared with the children forked after
 * this call.
 *
 * Returns: (transfer full): the new semaphore, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (@value too large), or
 *   %G_IO_ERROR_NO_SPACE if the process is out of memory
 *
 * Since: 1.0
 */
PsSemaphore *
ps_semaphore_new (guint    value,
                  GError **error)
{
  return ps_semaphore_new_bounded (value, G_MAXINT32, error);
}

/**
 * ps_semaphore_new_bounded:
 * @value: the initial count
 * @max_value: the largest count allowed, from 1 to %G_MAXINT32
 * @error: return location for a #GError
 *
 * Creates an anonymous semaphore whose count can never exceed its
 * maximum: a release past it fails with %PS_ERROR_OVERFLOW, atomically
 * leaving the count unchanged. With a maximum of 1 this is a binary
 * semaphore.
 *
 * Returns: (transfer full): the new semaphore, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT if @value > @max_value or @max_value is
 *   out of range
 *
 * Since: 1.0
 */
PsSemaphore *
ps_semaphore_new_bounded (guint    value,
                          guint    max_value,
                          GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ps_semaphore_check_values (value, max_value, error))
    return NULL;
  return g_initable_new (PS_TYPE_SEMAPHORE, NULL, error,
                         "initial-value", value,
                         "max-value", max_value,
                         NULL);
}

/**
 * ps_semaphore_open:
 * @name: the name of the semaphore, such as `/my-app.slots`
 * @flags: how to open it
 * @value: the initial count if it is created
 * @error: return location for a #GError
 *
 * Opens the named semaphore @name, creating it (unbounded, with count
 * @value, mode 0600) if @flags asks for it; [func@Semaphore.open_full]
 * creates a bounded one or another mode. Creation is race-free: of many
 * processes creating the same name at once, one creates it and the
 * others open it, and none sees it half-initialised.
 *
 * Returns: (transfer full): the semaphore, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %G_IO_ERROR_NOT_FOUND,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_PERMISSION_DENIED,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.0
 */
PsSemaphore *
ps_semaphore_open (const char   *name,
                   PsOpenFlags   flags,
                   guint         value,
                   GError      **error)
{
  if (!ps_semaphore_check_values (value, G_MAXINT32, error))
    return NULL;
  return ps_object_new_named (PS_TYPE_SEMAPHORE, name, flags, 0600, error,
                              "initial-value", value,
                              NULL);
}

/**
 * ps_semaphore_new_at:
 * @memory: the segment to place the semaphore in
 * @offset: where, a multiple of 8 leaving room for %PS_SEMAPHORE_SIZE bytes
 * @value: the initial count
 * @error: return location for a #GError
 *
 * Initialises a new unbounded semaphore inside @memory, next to the data
 * it guards. Other processes that share @memory use it through
 * [func@Semaphore.attach] or [func@Semaphore.open_at]. A live object of
 * any type there is left alone: the result is then %G_IO_ERROR_EXISTS.
 *
 * Returns: (transfer full): the semaphore, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (misaligned offset or bad value),
 *   %PS_ERROR_OUT_OF_BOUNDS or %G_IO_ERROR_EXISTS
 *
 * Since: 1.0
 */
PsSemaphore *
ps_semaphore_new_at (PsSharedMemory  *memory,
                     gsize            offset,
                     guint            value,
                     GError         **error)
{
  if (!ps_semaphore_check_values (value, G_MAXINT32, error))
    return NULL;
  return ps_object_new_placed (PS_TYPE_SEMAPHORE, memory, offset, PS_PLACE_NEW, 0, error,
                               "initial-value", value,
                               NULL);
}

/**
 * ps_semaphore_attach:
 * @memory: the segment holding the semaphore
 * @offset: where [ctor@Semaphore.new_at] placed it
 * @error: return location for a #GError
 *
 * Attaches to a semaphore that [ctor@Semaphore.new_at] placed in @memory,
 * in this or another process.
 *
 * Returns: (transfer full): the semaphore, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.0
 */
PsSemaphore *
ps_semaphore_attach (PsSharedMemory  *memory,
                     gsize            offset,
                     GError         **error)
{
  return ps_object_new_placed (PS_TYPE_SEMAPHORE, memory, offset, PS_PLACE_ATTACH, 0,
                               error, NULL);
}

/**
 * ps_semaphore_open_full:
 * @name: the name of the semaphore, such as `/my-app.slots`
 * @flags: how to open it
 * @mode: the permission bits it is created with, such as 0600
 * @value: the initial count if it is created
 * @max_value: the largest count of a semaphore it creates, from 1 to
 *   %G_MAXINT32 (%G_MAXINT32: unbounded)
 * @error: return location for a #GError
 *
 * Opens the named semaphore @name as [func@Semaphore.open] does,
 * creating it if @flags asks for it with @mode, @value and @max_value. A
 * semaphore that exists keeps its own count and maximum.
 *
 * Returns: (transfer full): the semaphore, or %NULL with the errors of
 *   [func@Semaphore.open]
 *
 * Since: 1.1
 */
PsSemaphore *
ps_semaphore_open_full (const char   *name,
                        PsOpenFlags   flags,
                        guint         mode,
                        guint         value,
                        guint         max_value,
                        GError      **error)
{
  if (!ps_semaphore_check_values (value, max_value, error))
    return NULL;
  return ps_object_new_named (PS_TYPE_SEMAPHORE, name, flags, mode, error,
                              "initial-value", value,
                              "max-value", max_value,
                              NULL);
}

/**
 * ps_semaphore_open_at:
 * @memory: the segment holding the semaphore
 * @offset: where, a multiple of 8 leaving room for %PS_SEMAPHORE_SIZE bytes
 * @flags: how to open it
 * @value: the initial count if it is created
 * @error: return location for a #GError
 *
 * Opens the semaphore at @offset of @memory as [func@Mutex.open_at] opens
 * a mutex: created race-free (unbounded, with count @value) with
 * %PS_OPEN_CREATE, %G_IO_ERROR_EXISTS with %PS_OPEN_EXCLUSIVE, attached
 * after a bounded wait for its creator with %PS_OPEN_NONE.
 *
 * Returns: (transfer full): the semaphore, or %NULL with the errors of
 *   [func@Mutex.open_at]
 *
 * Since: 1.1
 */
PsSemaphore *
ps_semaphore_open_at (PsSharedMemory  *memory,
                      gsize            offset,
                      PsOpenFlags      flags,
                      guint            value,
                      GError         **error)
{
  return ps_semaphore_open_at_full (memory, offset, flags, value, G_MAXINT32, error);
}

/**
 * ps_semaphore_open_at_full:
 * @memory: the segment holding the semaphore
 * @offset: where, a multiple of 8 leaving room for %PS_SEMAPHORE_SIZE bytes
 * @flags: how to open it
 * @value: the initial count if it is created
 * @max_value: the largest count of a semaphore it creates
 * @error: return location for a #GError
 *
 * Opens the semaphore at @offset of @memory as [func@Semaphore.open_at]
 * does, creating a bounded one with @max_value.
 *
 * Returns: (transfer full): the semaphore, or %NULL with the errors of
 *   [func@Mutex.open_at]
 *
 * Since: 1.1
 */
PsSemaphore *
ps_semaphore_open_at_full (PsSharedMemory  *memory,
                           gsize            offset,
                           PsOpenFlags      flags,
                           guint            value,
                           guint            max_value,
                           GError         **error)
{
  if (!ps_semaphore_check_values (value, max_value, error))
    return NULL;
  return ps_object_new_placed (PS_TYPE_SEMAPHORE, memory, offset, PS_PLACE_OPEN, flags, error,
                               "initial-value", value,
                               "max-value", max_value,
                               NULL);
}
