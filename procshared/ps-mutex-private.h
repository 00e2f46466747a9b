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

PsRobustLock *ps_mutex_get_robust_lock (PsMutex *self);
/* FALSE, with the error its other calls give, if @self never got its
 * state. */
gboolean      ps_mutex_check_ready     (PsMutex  *self,
                                        GError  **error);

/* One try of an async lock (ps-mutex-async.c), by the thread that runs
 * the task's callback and will hold the mutex: TRUE when over, holding
 * it (*@error unset, or PS_ERROR_OWNER_DEAD) or not (*@error set, as
 * ps_mutex_lock() sets it); FALSE having filled @watch with the lock's
 * word. *@watched, FALSE at first, says whether the lock is watched;
 * ps_mutex_lock_step_abandon() ends a wait that gives up. */
gboolean ps_mutex_lock_step         (PsMutex   *self,
                                     gboolean  *watched,
                                     PsWatch   *watch,
                                     GError   **error);
void     ps_mutex_lock_step_abandon (PsMutex   *self,
                                     gboolean  *watched);

G_END_DECLS
