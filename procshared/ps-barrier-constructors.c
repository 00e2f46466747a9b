/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The constructors of PsBarrier: one call each into what every class shares
 * (ps-object-storage-private.h), which checks the arguments and makes,
 * opens or attaches the object.
 */

#include "ps-barrier.h"
#include "ps-object-storage-private.h"

/* Checked before the property is set: out of range, GObject would only
 * warn and keep the default. */
static gboolean
check_parties (guint    parties,
               GError **error)
{
  if (parties >= 1 && parties <= PS_BARRIER_MAX_PARTIES)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "The number of parties %u is not between 1 and %u",
               parties, PS_BARRIER_MAX_PARTIES);
  return FALSE;
}

/* For open and open_at: only a barrier made here needs its parties, so
 * they are checked only with PS_OPEN_CREATE (and otherwise replaced by a
 * valid number, which the opened barrier's own replaces). */
static gboolean
check_parties_to_create (PsOpenFlags   flags,
                         guint        *parties,
                         GError      **error)
{
  if (!(flags & PS_OPEN_CREATE) && !check_parties (*parties, NULL))
    *parties = 1;
  return check_parties (*parties, error);
}

/**
 * ps_barrier_new:
 * @parties: how many parties each round waits for, from 1 to
 *   %PS_BARRIER_MAX_PARTIES
 * @error: return location for a #GError
 *
 * Creates an anonymous barrier, shared with the children forked
 * after this call.
 *
 * Returns: (transfer full): the new barrier, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (@parties out of range) or
 *   %G_IO_ERROR_NO_SPACE if the process is out of memory
 *
 * Since: 1.1
 */
PsBarrier *
ps_barrier_new (guint      parties,
              GError   **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_parties (parties, error))
    return NULL;
  return g_initable_new (PS_TYPE_BARRIER, NULL, error,
                         "parties", parties,
                         NULL);
}

/**
 * ps_barrier_open:
 * @name: the name of the barrier, such as `/my-app.round`
 * @flags: how to open it
 * @parties: the parties of a barrier it creates, from 1 to
 *   %PS_BARRIER_MAX_PARTIES (ignored, and not checked, unless @flags has
 *   %PS_OPEN_CREATE)
 * @error: return location for a #GError
 *
 * Opens the named barrier @name, creating it (mode 0600) if @flags
 * asks for it. Creation is race-free. A barrier that exists keeps its
 * own number of parties: see [property@Barrier:parties].
 *
 * Returns: (transfer full): the barrier, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %G_IO_ERROR_NOT_FOUND,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_PERMISSION_DENIED,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsBarrier *
ps_barrier_open (const char   *name,
               PsOpenFlags   flags,
               guint         parties,
               GError      **error)
{
  if (!check_parties_to_create (flags, &parties, error))
    return NULL;
  return ps_object_new_named (PS_TYPE_BARRIER, name, flags, 0600, error,
                              "parties", parties,
                              NULL);
}

/**
 * ps_barrier_new_at:
 * @memory: the segment to place the barrier in
 * @offset: where, a multiple of 8 leaving room for %PS_BARRIER_SIZE bytes
 * @parties: how many parties each round waits for
 * @error: return location for a #GError
 *
 * Initialises a new barrier inside @memory. Other processes that
 * share @memory use it through [func@Barrier.attach] or
 * [func@Barrier.open_at]. A live object of any type there is left alone:
 * the result is then %G_IO_ERROR_EXISTS.
 *
 * Returns: (transfer full): the barrier, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (misaligned offset, or @parties out
 *   of range),
 *   %PS_ERROR_OUT_OF_BOUNDS or %G_IO_ERROR_EXISTS
 *
 * Since: 1.1
 */
PsBarrier *
ps_barrier_new_at (PsSharedMemory  *memory,
                 gsize            offset,
                 guint            parties,
                 GError         **error)
{
  if (!check_parties (parties, error))
    return NULL;
  return ps_object_new_placed (PS_TYPE_BARRIER, memory, offset, PS_PLACE_NEW, 0, error,
                               "parties", parties,
                               NULL);
}

/**
 * ps_barrier_open_at:
 * @memory: the segment holding the barrier
 * @offset: where, a multiple of 8 leaving room for %PS_BARRIER_SIZE bytes
 * @flags: how to open it
 * @parties: the parties of a barrier it creates (ignored, and not
 *   checked, unless @flags has %PS_OPEN_CREATE)
 * @error: return location for a #GError
 *
 * Opens the barrier at @offset of @memory as [func@Mutex.open_at] opens a
 * mutex: created race-free with %PS_OPEN_CREATE, %G_IO_ERROR_EXISTS with
 * %PS_OPEN_EXCLUSIVE, attached after a bounded wait for its creator with
 * %PS_OPEN_NONE.
 *
 * Returns: (transfer full): the barrier, or %NULL with the errors of
 *   [func@Mutex.open_at]
 *
 * Since: 1.1
 */
PsBarrier *
ps_barrier_open_at (PsSharedMemory  *memory,
                  gsize            offset,
                  PsOpenFlags      flags,
                  guint            parties,
                  GError         **error)
{
  if (!check_parties_to_create (flags, &parties, error))
    return NULL;
  return ps_object_new_placed (PS_TYPE_BARRIER, memory, offset, PS_PLACE_OPEN, flags, error,
                               "parties", parties,
                               NULL);
}

/**
 * ps_barrier_attach:
 * @memory: the segment holding the barrier
 * @offset: where [ctor@Barrier.new_at] placed it
 * @error: return location for a #GError
 *
 * Attaches to a barrier that [ctor@Barrier.new_at] placed in @memory, in
 * this or another process.
 *
 * Returns: (transfer full): the barrier, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsBarrier *
ps_barrier_attach (PsSharedMemory  *memory,
                 gsize            offset,
                 GError         **error)
{
  return ps_object_new_placed (PS_TYPE_BARRIER, memory, offset, PS_PLACE_ATTACH, 0,
                               error, NULL);
}
