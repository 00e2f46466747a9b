/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The constructors of PsEvent: one call each into what every class shares
 * (ps-object-storage-private.h), which checks the arguments and makes,
 * opens or attaches the object.
 */

#include "ps-event.h"
#include "ps-object-storage-private.h"

/**
 * ps_event_new:
 * @auto_reset: %TRUE for an auto-reset event (a set lets one waiter
 *   through), %FALSE for a manual-reset one (every waiter, until reset)
 * @error: return location for a #GError
 *
 * Creates an anonymous event, clear, shared with the children forked
 * after this call.
 *
 * Returns: (transfer full): the new event, or %NULL with
 *   %G_IO_ERROR_NO_SPACE if the process is out of memory
 *
 * Since: 1.1
 */
PsEvent *
ps_event_new (gboolean   auto_reset,
              GError   **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (PS_TYPE_EVENT, NULL, error,
                         "auto-reset", auto_reset,
                         NULL);
}

/**
 * ps_event_open:
 * @name: the name of the event, such as `/my-app.ready`
 * @flags: how to open it
 * @auto_reset: the kind of event to create (ignored when opening one)
 * @error: return location for a #GError
 *
 * Opens the named event @name, creating it (clear, mode 0600) if @flags
 * asks for it. Creation is race-free. An event that exists keeps its
 * own kind: see [property@Event:auto-reset].
 *
 * Returns: (transfer full): the event, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %G_IO_ERROR_NOT_FOUND,
 *   %G_IO_ERROR_EXISTS, %G_IO_ERROR_PERMISSION_DENIED,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsEvent *
ps_event_open (const char   *name,
               PsOpenFlags   flags,
               gboolean      auto_reset,
               GError      **error)
{
  return ps_object_new_named (PS_TYPE_EVENT, name, flags, 0600, error,
                              "auto-reset", auto_reset,
                              NULL);
}

/**
 * ps_event_new_at:
 * @memory: the segment to place the event in
 * @offset: where, a multiple of 8 leaving room for %PS_EVENT_SIZE bytes
 * @auto_reset: the kind of event
 * @error: return location for a #GError
 *
 * Initialises a new, clear event inside @memory. Other processes that
 * share @memory use it through [func@Event.attach] or
 * [func@Event.open_at]. A live object of any type there is left alone:
 * the result is then %G_IO_ERROR_EXISTS.
 *
 * Returns: (transfer full): the event, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT (misaligned offset),
 *   %PS_ERROR_OUT_OF_BOUNDS or %G_IO_ERROR_EXISTS
 *
 * Since: 1.1
 */
PsEvent *
ps_event_new_at (PsSharedMemory  *memory,
                 gsize            offset,
                 gboolean         auto_reset,
                 GError         **error)
{
  return ps_object_new_placed (PS_TYPE_EVENT, memory, offset, PS_PLACE_NEW, 0, error,
                               "auto-reset", auto_reset,
                               NULL);
}

/**
 * ps_event_open_at:
 * @memory: the segment holding the event
 * @offset: where, a multiple of 8 leaving room for %PS_EVENT_SIZE bytes
 * @flags: how to open it
 * @auto_reset: the kind of event to create (ignored when attaching)
 * @error: return location for a #GError
 *
 * Opens the event at @offset of @memory as [func@Mutex.open_at] opens a
 * mutex: created race-free with %PS_OPEN_CREATE, %G_IO_ERROR_EXISTS with
 * %PS_OPEN_EXCLUSIVE, attached after a bounded wait for its creator with
 * %PS_OPEN_NONE.
 *
 * Returns: (transfer full): the event, or %NULL with the errors of
 *   [func@Mutex.open_at]
 *
 * Since: 1.1
 */
PsEvent *
ps_event_open_at (PsSharedMemory  *memory,
                  gsize            offset,
                  PsOpenFlags      flags,
                  gboolean         auto_reset,
                  GError         **error)
{
  return ps_object_new_placed (PS_TYPE_EVENT, memory, offset, PS_PLACE_OPEN, flags, error,
                               "auto-reset", auto_reset,
                               NULL);
}

/**
 * ps_event_attach:
 * @memory: the segment holding the event
 * @offset: where [ctor@Event.new_at] placed it
 * @error: return location for a #GError
 *
 * Attaches to an event that [ctor@Event.new_at] placed in @memory, in
 * this or another process.
 *
 * Returns: (transfer full): the event, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT, %PS_ERROR_OUT_OF_BOUNDS,
 *   %PS_ERROR_WRONG_TYPE, %PS_ERROR_INCOMPATIBLE or %PS_ERROR_CORRUPT
 *
 * Since: 1.1
 */
PsEvent *
ps_event_attach (PsSharedMemory  *memory,
                 gsize            offset,
                 GError         **error)
{
  return ps_object_new_placed (PS_TYPE_EVENT, memory, offset, PS_PLACE_ATTACH, 0,
                               error, NULL);
}
