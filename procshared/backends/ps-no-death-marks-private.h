/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/* Death marks (ps-backend-private.h) for a backend that has none:
 * ps_death_mark_set() says so, and the barrier's parties look for dead
 * processes with ps_process_is_gone() instead. No mark is ever set, so
 * nobody sleeps on one: the wait returns at once (as a spurious wake
 * may), and there is nobody to wake. */

#include <glib.h>

#include "ps-backend-common-private.h"

typedef struct
{
  gpointer unused;
} PsDeathMark;

static inline gboolean ps_death_mark_set     (guint32 *mark, PsDeathMark *saved) { return FALSE; }
static inline void     ps_death_mark_clear   (guint32 *mark, PsDeathMark *saved) { }
static inline gboolean ps_death_mark_is_dead (guint32 value) { return FALSE; }
static inline PsWaitStatus ps_death_mark_wait (guint32 *mark, guint32 expected, gint64 deadline,
                                               PsCanceller *canceller) { return PS_WAIT_WOKEN; }
static inline void     ps_death_mark_arm     (guint32 *mark, guint tag) { }
static inline gboolean ps_death_mark_is_armed (guint32 value) { return FALSE; }
static inline void     ps_death_mark_release (guint32 *mark) { }
