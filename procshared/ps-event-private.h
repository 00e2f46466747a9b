/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * PsEvent's shared state, for its async wait (ps-event-async.c).
 */

#include "ps-backend-private.h"
#include "ps-counter-private.h"
#include "ps-event.h"

G_BEGIN_DECLS

typedef struct
{
  guint32    auto_reset;   /* 0 or 1, set by the creator */
  guint32    waiters;      /* manual-reset: threads inside wait(); a set wakes them */
  PsWaitWord flag;         /* manual-reset: (sets << 1) | 1 while set */
  PsCounter  signal;       /* auto-reset: one unit while set, taken by one waiter */
} PsEventState;

/* Manual-reset: the flag is set while bit 0 is; the bits above count
 * the sets. */
#define PS_EVENT_FLAG_SET 1u

static inline guint32 *
ps_event_flag_value (PsEventState *state)
{
  return ps_wait_word_value (&state->flag);
}

/* The event's state, NULL if it failed to initialise. */
PsEventState *ps_event_get_state (PsEvent *self);

G_END_DECLS
