/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * A barrier's shared state and its rounds, without the GObject.
 *
 * One wait word holds everything a party decides on, changed by
 * compare-and-swap only (no lock a dying party could keep):
 *
 *   bits 0-7   parties arrived in the current round
 *   bit 8      BROKEN: the round is broken, and every wait fails until reset
 *   bit 9      TRIPPED: the previous round ended by its last arrival
 *              (rather than by a reset)
 *   bit 10     SLEEPING: a party of the round sleeps (or is about to)
 *   bits 11-31 the round's number (generation), wrapping
 *
 * The last arrival moves to the next round with TRIPPED set; a reset
 * moves to it with TRIPPED clear; a timeout, cancellation, abort or a
 * waiting party's death sets BROKEN in the round. A party asleep in round
 * g that wakes in round g + 1 reads the outcome of g in TRIPPED; one
 * that wakes later (others went through more rounds meanwhile) in the
 * history, where whoever leaves round g + 1 records TRIPPED of g.
 *
 * Parties sleep on the word. A party about to sleep sets SLEEPING
 * (which a new round clears), and the party that ends a round, breaks it
 * or resets it wakes the word's sleepers (one FUTEX_WAKE of all) only if
 * it was set: a round whose parties all found it ended while they polled
 * makes no system call.
 *
 * Who sleeps: a party records its process (pid) and round in a slot of
 * a table before it sets SLEEPING, and frees it when it leaves. Beside
 * the slot, a blocking wait keeps a death mark (ps-backend-private.h:
 * the platform changes it if the thread dies) where the backend has
 * them, and the process's start-time stamp, against pid reuse, where it
 * has not or for an async wait (whose thread goes on with other work).
 * The last arrival of a round where somebody sleeps reads the marks of
 * the round's parties and asks the system only about the unmarked ones,
 * before it ends the round. A gone party of the current round breaks
 * it, and any gone party's slot is freed. A round where nobody sleeps
 * costs no look.
 *
 * Sleepers look for dead ones too, with three parties or more (a party
 * of two sleeps alone: only the last arrival needs to look). Unmarked,
 * each sleeps on the word and wakes every PS_BARRIER_PROBE_US to look at
 * every slot. Marked, the first to sleep in the round becomes its sentry
 * (the sentry word of the round's parity names its slot: the ender of a
 * round finds it there even if the next round has its own already),
 * arms its mark, and the others sleep on the sentry's mark: its death
 * wakes one of them at once (the mark's waiters), and each also wakes
 * every PS_BARRIER_PROBE_US to look, as the kernel's one wake-up may go
 * to a thread that is dying too, or none comes if the dead thread's
 * robust list was scribbled on before its mark. Whoever
 * ends, breaks or resets a round releases the sentry's mark (its
 * sleepers wake, and a party about to sleep there does not), beside
 * waking the word's sleepers if SLEEPING is set. A sleeper that finds the
 * sentry's mark dead breaks the round. A party that read the mark of a
 * sentry of an earlier round and sleeps on it once that thread is the
 * sentry of a later one (same slot, same mark) wakes at its own next
 * look, or when that sentry leaves: it releases its mark as it leaves if
 * nobody did.
 */

#include <gio/gio.h>

#include "ps-async-watch-private.h"
#include "ps-backend-private.h"
#include "ps-barrier.h"

G_BEGIN_DECLS

#define PS_BARRIER_COUNT_MASK   0xffu
#define PS_BARRIER_BROKEN       (1u << 8)
#define PS_BARRIER_TRIPPED      (1u << 9)
#define PS_BARRIER_SLEEPING     (1u << 10)
#define PS_BARRIER_ROUND_SHIFT  11
#define PS_BARRIER_ROUND_MASK   (G_MAXUINT32 >> PS_BARRIER_ROUND_SHIFT)

/* How often a sleeping party looks for dead ones. */
#define PS_BARRIER_PROBE_US     (50 * 1000)

/* In shared memory. A slot is free (0) or holds its party's pid (bits
 * 0-31), round (bits 32-52), MARKED if the slot's entry of stamps[]
 * is its thread's death mark rather than its process's stamp and,
 * while it is being filled in, FILLING. */
#define PS_BARRIER_SLOT_MARKED  (G_GUINT64_CONSTANT (1) << 61)
#define PS_BARRIER_SLOT_FILLING (G_GUINT64_CONSTANT (1) << 62)

typedef struct
{
  PsWaitWord word;
  guint32    parties;
  guint32    history;   /* bit (g % 32): whether round g ended by a trip */
  guint64    slots[PS_BARRIER_MAX_PARTIES];
  guint32    stamps[PS_BARRIER_MAX_PARTIES];   /* or death marks: see MARKED */
  guint32    sentry[2]; /* (round << 5) | (slot + 1) of the sentry of a round of
                         * that parity, or 0 */
} PsBarrierState;

static inline guint32 *
ps_barrier_word (PsBarrierState *state)
{
  return ps_wait_word_value (&state->word);
}

static inline guint32
ps_barrier_round_of (guint32 word)
{
  return word >> PS_BARRIER_ROUND_SHIFT;
}

gboolean ps_barrier_state_init  (PsBarrierState  *state,
                                 guint            parties,
                                 GError         **error);
/* CORRUPT unless @state is one a barrier could be in. */
gboolean ps_barrier_state_check (PsBarrierState  *state,
                                 GError         **error);
/* A wait by one party: its arrival index, or -1 with an error. @parties
 * is the caller's copy, never re-read from shared memory. */
gint     ps_barrier_state_wait  (PsBarrierState  *state,
                                 guint            parties,
                                 gint64           timeout_us,
                                 GCancellable    *cancellable,
                                 GError         **error);
/* The async form of ps_barrier_state_wait() (timeout not 0): the task's
 * data, made by ps_barrier_async_new() (freed with g_free()), and its
 * PsAsyncTryFunc, which returns the arrival index with
 * g_task_return_int(). A cancellable already cancelled is the caller's
 * to refuse, before anything is arrived. */
typedef struct _PsBarrierAsync PsBarrierAsync;

PsBarrierAsync *ps_barrier_async_new  (PsBarrierState *state,
                                       guint           parties);
gboolean        ps_barrier_async_step (GTask          *task,
                                       PsAsyncReason   reason,
                                       PsWatch        *watch);
/* Breaks the current round (abort). */
void     ps_barrier_state_abort (PsBarrierState  *state);
/* Breaks the current round, if it has waiters, and starts the next. */
void     ps_barrier_state_reset (PsBarrierState  *state);

G_END_DECLS
