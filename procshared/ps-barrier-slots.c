/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A barrier's table of sleeping parties: see ps-barrier-slots-private.h. */

#include "ps-barrier-slots-private.h"
#include "ps-identity-private.h"

static inline guint64
slot_value (guint32 pid,
            guint32 round)
{
  return ((guint64) round << 32) | pid;
}

gboolean
ps_barrier_party_claim (PsBarrierParty *party)
{
  PsBarrierState *state = party->state;

  for (guint i = 0; i < PS_BARRIER_MAX_PARTIES; i++)
    {
      guint64 expected = 0;
      guint64 value = slot_value (party->pid, party->round);

      if (__atomic_load_n (&state->slots[i], __ATOMIC_RELAXED) != 0 ||
          !__atomic_compare_exchange_n (&state->slots[i], &expected,
                                        value | PS_BARRIER_SLOT_FILLING,
                                        FALSE, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        continue;
      if (party->may_mark && ps_death_mark_set (&state->stamps[i], &party->mark))
        value |= PS_BARRIER_SLOT_MARKED;
      else
        __atomic_store_n (&state->stamps[i], ps_process_self_stamp (), __ATOMIC_RELAXED);
      /* A prober that sees the slot without FILLING sees our stamp or
       * mark. */
      __atomic_store_n (&state->slots[i], value, __ATOMIC_SEQ_CST);
      party->slot = i;
      party->slot_value = value;
      return TRUE;
    }
  return FALSE;
}

/* Only we write our slot but to free it, and only for a gone process
 * (not ours): compare-and-swap all the same, so that a slot a peer
 * scribbled on is never taken for ours. The mark goes first: a slot
 * that is free is never left with a mark the kernel still watches. */
void
ps_barrier_party_free (PsBarrierParty *party)
{
  guint64 expected = party->slot_value;

  if (party->slot >= PS_BARRIER_MAX_PARTIES)
    return;
  if (expected & PS_BARRIER_SLOT_MARKED)
    {
      guint32 *mark = &party->state->stamps[party->slot];

      /* A sentry whose round's end did not release its mark (its ender
       * found another sentry named): its sleepers wake now. */
      if (ps_death_mark_is_armed (__atomic_load_n (mark, __ATOMIC_SEQ_CST)))
        ps_death_mark_release (mark);
      ps_death_mark_clear (mark, &party->mark);
    }
  __atomic_compare_exchange_n (&party->state->slots[party->slot], &expected, 0,
                               FALSE, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
  party->slot = PS_BARRIER_MAX_PARTIES;
}

/* Whether the party in a slot that held @value is gone, as far as a look
 * at its mark, or else (unless @quick) at its process, tells: see
 * ps_barrier_probe(). */
static gboolean
slot_party_gone (PsBarrierState *state,
                 guint           i,
                 guint64         value,
                 gboolean        quick)
{
  guint32 pid = (guint32) value;
  guint32 stamp;

  if ((value & (PS_BARRIER_SLOT_MARKED | PS_BARRIER_SLOT_FILLING)) == PS_BARRIER_SLOT_MARKED)
    {
      guint32 mark = __atomic_load_n (&state->stamps[i], __ATOMIC_SEQ_CST);

      if (ps_death_mark_is_dead (mark))
        return __atomic_load_n (&state->slots[i], __ATOMIC_SEQ_CST) == value;
      /* Alive by its mark, which the kernel would have changed: the
       * quick look stops there. The thorough one asks the system all
       * the same (the stamp is the mark's: the pid alone), against a
       * party that died between clearing its mark and freeing its slot. */
      if (quick)
        return FALSE;
      stamp = 0;
    }
  else
    {
      /* Still being filled in: its stamp is not there yet. */
      stamp = (value & PS_BARRIER_SLOT_FILLING) ? 0
              : __atomic_load_n (&state->stamps[i], __ATOMIC_SEQ_CST);
    }
  if (__atomic_load_n (&state->slots[i], __ATOMIC_SEQ_CST) != value)
    return FALSE;
  return ps_process_is_gone (pid, stamp, quick);
}

/* Frees the slots of gone processes; TRUE if one of them was waiting in
 * @round. A few system calls per other party; if @quick, only the
 * parties asleep in @round, and no system call for a marked one (its
 * mark tells) but one for each other, noticing only processes that are
 * gone and reaped (see ps_process_is_gone()). */
gboolean
ps_barrier_probe (PsBarrierParty *party,
                  guint32         round,
                  gboolean        quick)
{
  PsBarrierState *state = party->state;
  gboolean dead_in_round = FALSE;

  for (guint i = 0; i < PS_BARRIER_MAX_PARTIES; i++)
    {
      guint64 value = __atomic_load_n (&state->slots[i], __ATOMIC_SEQ_CST);
      guint32 pid = (guint32) value;

      if (value == 0 || pid == party->pid ||
          (quick && ((value >> 32) & PS_BARRIER_ROUND_MASK) != round) ||
          !slot_party_gone (state, i, value, quick))
        continue;
      if (__atomic_compare_exchange_n (&state->slots[i], &value, 0, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED) &&
          ((value >> 32) & PS_BARRIER_ROUND_MASK) == round)
        dead_in_round = TRUE;
    }
  return dead_in_round;
}

guint32 *
ps_barrier_sentry_mark (PsBarrierState *state,
                        guint32         sentry,
                        guint32         round)
{
  guint32 slot = sentry & 0x1f;

  if (slot == 0 || slot > PS_BARRIER_MAX_PARTIES || (sentry >> 5) != round)
    return NULL;
  return &state->stamps[slot - 1];
}

guint32 *
ps_barrier_round_sentry_mark (PsBarrierState *state,
                              guint32         round)
{
  guint32 sentry = __atomic_load_n (ps_barrier_sentry_word (state, round), __ATOMIC_SEQ_CST);

  return ps_barrier_sentry_mark (state, sentry, round);
}
