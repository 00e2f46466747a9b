/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ps-mutex.h"

G_BEGIN_DECLS

/* For PsCond: give the mutex up for the length of a wait, and take it
 * back afterwards whatever happened (the caller must hold it on return). */
gboolean ps_mutex_release_for_wait    (PsMutex  *self,
                                       GError  **error);
gboolean ps_mutex_reacquire_after_wait (PsMutex  *self,
                                       GError  **error);

G_END_DECLS
