/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

#include "ps-mutex.h"
#include "ps-robust-mutex-private.h"

G_BEGIN_DECLS

/* For PsCond: give the mutex up for the length of a wait, and take it
 * back afterwards whatever happened (the caller must hold it on return). */
gboolean ps_mutex_release_for_wait    (PsMutex  *self,
                                       GError  **error);
gboolean ps_mutex_reacquire_after_wait (PsMutex  *self,
                                       GError  **error);

/* For diagnostics (the procshared tool). */
PsMutexConsistency ps_mutex_get_consistency (PsMutex *self);

G_END_DECLS
