/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ps-error.h"

/**
 * ps_error_quark:
 *
 * The quark of the %PS_ERROR domain, `ps-error-quark`.
 *
 * Returns: the error domain
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (ps-error-quark, ps_error)
