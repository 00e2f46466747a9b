/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_INSIDE) && !defined(PROCSHARED_COMPILATION)
# error "Only <procshared/procshared.h> can be included directly."
#endif

#include <glib.h>

#include "ps-version-macros.h"

G_BEGIN_DECLS

/**
 * PS_ERROR:
 *
 * The error domain of procshared's own conditions. Generic conditions
 * (timeouts, cancellation, missing or existing names, permissions, bad
 * arguments) use %G_IO_ERROR instead.
 *
 * Since: 1.0
 */
#define PS_ERROR (ps_error_quark ())

/**
 * PsError:
 * @PS_ERROR_FAILED: an error with no more specific code
 * @PS_ERROR_OWNER_DEAD: the previous holder of a mutex died while holding
 *   it; the caller now holds the mutex and should repair the data it
 *   guards, then call ps_mutex_mark_consistent()
 * @PS_ERROR_NOT_RECOVERABLE: a mutex whose holder died was unlocked without
 *   ps_mutex_mark_consistent(); it can never be locked again
 * @PS_ERROR_NOT_OWNER: the calling thread does not hold the mutex
 * @PS_ERROR_WOULD_DEADLOCK: the calling thread already holds this
 *   non-recursive mutex
 * @PS_ERROR_OVERFLOW: releasing the semaphore would take it past its
 *   maximum value
 * @PS_ERROR_WRONG_TYPE: the shared object is of another type than the one
 *   asked for
 * @PS_ERROR_INCOMPATIBLE: the shared object was made by an incompatible
 *   version or build of procshared
 * @PS_ERROR_CORRUPT: the shared memory does not hold a valid object or
 *   record
 * @PS_ERROR_OUT_OF_BOUNDS: an offset or length lies outside the shared
 *   memory segment
 * @PS_ERROR_BROKEN: the barrier is broken: a waiting party timed out, was
 *   cancelled or died, or it was aborted or reset (since: 1.1)
 *
 * Error codes in the %PS_ERROR domain.
 *
 * Since: 1.0
 */
typedef enum
{
  PS_ERROR_FAILED,
  PS_ERROR_OWNER_DEAD,
  PS_ERROR_NOT_RECOVERABLE,
  PS_ERROR_NOT_OWNER,
  PS_ERROR_WOULD_DEADLOCK,
  PS_ERROR_OVERFLOW,
  PS_ERROR_WRONG_TYPE,
  PS_ERROR_INCOMPATIBLE,
  PS_ERROR_CORRUPT,
  PS_ERROR_OUT_OF_BOUNDS,
  PS_ERROR_BROKEN,
} PsError;

PS_AVAILABLE_IN_ALL
GQuark ps_error_quark (void);

G_END_DECLS
