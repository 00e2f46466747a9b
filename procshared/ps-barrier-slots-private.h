/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * A barrier's table of sleeping parties (ps-barrier-private.h): a slot
 * per party about to sleep, with its death mark or its process's stamp,
 * the looks for the dead ones, and the rounds' sentries.
 */

#include "ps-barrier-private.h"

G_BEGIN_DECLS

/* A party of this process, and its slot. */
typedef struct
{
  PsBarrierState *state;
  guint           parties;   /* the caller's copy */
  guint           slot;      /* PS_BARRIER_MAX_PARTIES: none */
  guint32         pid;
  guint32         round;
  gboolean        may_mark;  /* a blocking wait: its thread only sleeps */
  guint64         slot_value;
  PsDeathMark     mark;      /* if slot_value has PS_BARRIER_SLOT_MARKED */
} PsBarrierParty;

/* Records @party (pid, round, mark or stamp) in a free slot; FALSE if
 * there is none. */
gboolean ps_barrier_party_claim (PsBarrierParty *party);
/* Gives its slot back, if it has one. */
void     ps_barrier_party_free  (PsBarrierParty *party);
/* Frees the slots of gone processes; TRUE if one of them was waiting in
 * @round (see ps-barrier-slots.c). */
gboolean ps_barrier_probe       (PsBarrierParty *party,
                                 guint32         round,
                                 gboolean        quick);

/* The round's sentry (ps-barrier-private.h): its sentry word's value. */
#define PS_BARRIER_SENTRY_OF(round, slot) (((round) << 5) | ((slot) + 1))

/* The word that names the sentry of the rounds of @round's parity. */
static inline guint32 *
ps_barrier_sentry_word (PsBarrierState *state,
                        guint32         round)
{
  return &state->sentry[round & 1];
}

/* The mark of @round's sentry, as the sentry word value @sentry names it,
 * or NULL if it names none of that round. */
guint32 *ps_barrier_sentry_mark       (PsBarrierState *state,
                                       guint32         sentry,
                                       guint32         round);
/* The same, as @round's sentry word names it now. */
guint32 *ps_barrier_round_sentry_mark (PsBarrierState *state,
                                       guint32         round);

G_END_DECLS
