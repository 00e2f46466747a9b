/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A barrier's rounds: see ps-barrier-private.h for the protocol. */

#include "ps-barrier-private.h"
#include "ps-barrier-slots-private.h"
#include "ps-error.h"
#include "ps-identity-private.h"
#include "ps-spin-private.h"
#include "ps-wait-private.h"

G_STATIC_ASSERT (PS_BARRIER_MAX_PARTIES <= PS_BARRIER_COUNT_MASK);

/* About 2 µs of polling on current x86 CPUs. */
#define AWAIT_SPINS 100
/* How soon a party that found no free slot tries again. */
#define NO_SLOT_RETRY_US 1000

/* How a party's round ended, as far as it can tell. */
typedef enum
{
  ROUND_PENDING,
  ROUND_PASSED,
  ROUND_BROKEN,
} RoundOutcome;

typedef PsBarrierParty Party;

gboolean
ps_barrier_state_init (PsBarrierState  *state,
                       guint            parties,
                       GError         **error)
{
  state->parties = parties;
  state->history = 0;
  state->sentry[0] = state->sentry[1] = 0;
  for (guint i = 0; i < PS_BARRIER_MAX_PARTIES; i++)
    {
      state->slots[i] = 0;
      state->stamps[i] = 0;
    }
  return ps_wait_word_init (&state->word, 0, error);
}

gboolean
ps_barrier_state_check (PsBarrierState  *state,
                        GError         **error)
{
  guint32 parties = __atomic_load_n (&state->parties, __ATOMIC_RELAXED);
  guint32 word = __atomic_load_n (ps_barrier_word (state), __ATOMIC_SEQ_CST);

  if (parties == 0 || parties > PS_BARRIER_MAX_PARTIES ||
      (word & PS_BARRIER_COUNT_MASK) >= parties)
    {
      g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                           "The barrier's state is corrupt (its number of parties, "
                           "or of parties arrived, is out of range)");
      return FALSE;
    }
  return TRUE;
}

static inline guint32
load_word (PsBarrierState *state)
{
  return __atomic_load_n (ps_barrier_word (state), __ATOMIC_SEQ_CST);
}

static inline gboolean
swap_word (PsBarrierState *state,
           guint32        *expected,
           guint32         desired)
{
  return __atomic_compare_exchange_n (ps_barrier_word (state), expected, desired, FALSE,
                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Before leaving round r + 1 (found in @word): the outcome of round r,
 * fixed since, for parties of r that wake later. */
static void
record_history (PsBarrierState *state,
                guint32         word)
{
  guint32 bit = 1u << ((ps_barrier_round_of (word) - 1) % 32);
  gboolean tripped = (word & PS_BARRIER_TRIPPED) != 0;

  /* Only whoever leaves a round writes its bit: most rounds find it
   * right already, and a load keeps the line shared. */
  if (((__atomic_load_n (&state->history, __ATOMIC_SEQ_CST) & bit) != 0) == tripped)
    return;
  if (tripped)
    __atomic_fetch_or (&state->history, bit, __ATOMIC_SEQ_CST);
  else
    __atomic_fetch_and (&state->history, ~bit, __ATOMIC_SEQ_CST);
}

static inline guint32
next_round (guint32 word)
{
  return ((ps_barrier_round_of (word) + 1) & PS_BARRIER_ROUND_MASK) << PS_BARRIER_ROUND_SHIFT;
}

static RoundOutcome
judge (PsBarrierState *state,
       guint32         word,
       guint32         round)
{
  guint32 ahead = (ps_barrier_round_of (word) - round) & PS_BARRIER_ROUND_MASK;

  if (ahead == 0)
    return (word & PS_BARRIER_BROKEN) ? ROUND_BROKEN : ROUND_PENDING;
  if (ahead == 1)
    return (word & PS_BARRIER_TRIPPED) ? ROUND_PASSED : ROUND_BROKEN;
  if (ahead <= 32)
    return (__atomic_load_n (&state->history, __ATOMIC_SEQ_CST) & (1u << (round % 32)))
           ? ROUND_PASSED : ROUND_BROKEN;
  /* Others went through more than 32 rounds while this party slept:
   * its own must have ended, and rounds end far more often by trips. */
  return ROUND_PASSED;
}

/* After the word left @word (ended, broke or reset its round): wakes the
 * round's sleepers, on the word (if SLEEPING was set, or @always) and on
 * its sentry's mark. */
static void
wake_round (PsBarrierState *state,
            guint32         word,
            gboolean        always)
{
  guint32 *mark = ps_barrier_round_sentry_mark (state, ps_barrier_round_of (word));

  if (always || (word & PS_BARRIER_SLEEPING))
    ps_wait_word_wake (&state->word, TRUE);
  if (mark != NULL)
    ps_death_mark_release (mark);
}

/* Breaks @round if it is still the current, unbroken one. */
static gboolean
break_round (PsBarrierState *state,
             guint32         round)
{
  guint32 word = load_word (state);

  do
    {
      if (ps_barrier_round_of (word) != round || (word & PS_BARRIER_BROKEN))
        return FALSE;
    }
  while (!swap_word (state, &word, word | PS_BARRIER_BROKEN));
  wake_round (state, word, TRUE);
  return TRUE;
}

static void
set_broken_error (GError **error)
{
  g_set_error_literal (error, PS_ERROR, PS_ERROR_BROKEN,
                       "The barrier is broken: a waiting party timed out, was cancelled "
                       "or died, or the barrier was aborted or reset");
}

static void
set_corrupt_error (GError **error)
{
  g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                       "The barrier's state is corrupt (more parties arrived than it has)");
}

typedef enum
{
  ARRIVED,      /* *index set: wait for the round to end */
  TRIPPED,      /* *index set: we were the last, the round is over */
  NOT_ARRIVED,  /* error set */
} Arrival;

/* Arrives in the current round, or (@try_only) only if that ends it. */
static Arrival
arrive (Party     *party,
        guint      parties,
        gboolean   try_only,
        gint      *index,
        GError   **error)
{
  PsBarrierState *state = party->state;
  guint32 word = load_word (state);

  for (;;)
    {
      guint32 count = word & PS_BARRIER_COUNT_MASK;

      /* No slot yet: the round we arrive in is the one we are in. */
      party->round = ps_barrier_round_of (word);
      if (word & PS_BARRIER_BROKEN)
        {
          set_broken_error (error);
          return NOT_ARRIVED;
        }
      if (count >= parties)
        {
          set_corrupt_error (error);
          return NOT_ARRIVED;
        }
      if (count + 1 == parties)
        {
          /* Last: unless a party that sleeps is gone. Only the quick
           * look, and only in a round where somebody sleeps: the
           * parties asleep make the thorough one (a zombie, a reused
           * pid) every PS_BARRIER_PROBE_US. */
          if (((word & PS_BARRIER_SLEEPING) ||
               ps_barrier_round_sentry_mark (state, party->round) != NULL) &&
              ps_barrier_probe (party, party->round, TRUE))
            {
              break_round (state, party->round);
              word = load_word (state);
              continue;
            }
          record_history (state, word);
          if (!swap_word (state, &word, next_round (word) | PS_BARRIER_TRIPPED))
            continue;
          /* The word kept what it held: one wake-up for every sleeper,
           * none if nobody sleeps. */
          wake_round (state, word, FALSE);
          *index = (gint) count;
          return TRIPPED;
        }
      if (try_only)
        {
          ps_set_would_block_error (error, "barrier");
          return NOT_ARRIVED;
        }
      if (swap_word (state, &word, word + 1))
        {
          *index = (gint) count;
          return ARRIVED;
        }
    }
}

/* Whether the round @word is in is over (ended or broken) for a party
 * that waits in it. */
static inline gboolean
round_over (guint32 word,
            guint32 round)
{
  return ps_barrier_round_of (word) != round || (word & PS_BARRIER_BROKEN);
}

/* Polls a few microseconds for the end of the round @word is in, when
 * that pays (ps-spin-private.h: never with one CPU); whether it ended. A
 * round that still misses two parties or more hardly ends in the time
 * a poll lasts (they would all have to arrive meanwhile, each on a CPU
 * of its own), so only the last but one polls. */
static gboolean
poll_round (Party   *party,
            guint32  word)
{
  PsBarrierState *state = party->state;
  gboolean over = FALSE;

  if ((word & PS_BARRIER_COUNT_MASK) + 1 != party->parties || !ps_spin_should_poll (state))
    return FALSE;
  for (guint spins = 0; spins < AWAIT_SPINS && !over; spins++)
    {
      ps_cpu_relax ();
      over = round_over (load_word (state), party->round);
    }
  ps_spin_record (state, over);
  return over;
}

/* Where a party sleeps, on what it read there, and how soon it wakes to
 * look for dead parties (G_MAXINT64: it does not). */
typedef struct
{
  guint32 *mark;       /* the sentry's mark, or NULL: the word */
  guint32  expected;
  gboolean sentry;     /* we are the round's sentry */
  gint64   retry_us;
} Sleep;

typedef enum
{
  ON_MARK,      /* sleep on @sleep->mark */
  LOOK_AGAIN,
  ON_WORD,      /* the sentry's mark is not armed: sleep on the word */
} MarkSleep;

/* A marked party of three or more: sleeps on the round's sentry's mark,
 * becoming the sentry if there is none. */
static MarkSleep
prepare_mark_sleep (Party *party,
                    Sleep *sleep)
{
  PsBarrierState *state = party->state;
  guint32 own = PS_BARRIER_SENTRY_OF (party->round, party->slot);
  guint32 *word = ps_barrier_sentry_word (state, party->round);
  guint32 sentry = __atomic_load_n (word, __ATOMIC_SEQ_CST);

  sleep->mark = ps_barrier_sentry_mark (state, sentry, party->round);
  if (sleep->mark == NULL)
    {
      if (!__atomic_compare_exchange_n (word, &sentry, own, FALSE,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return LOOK_AGAIN;
      sentry = own;
      sleep->mark = &state->stamps[party->slot];
      /* Tagged with the round's parity: a party of the round before
       * that read our mark then, as sentry, does not sleep on it now. */
      ps_death_mark_arm (sleep->mark, party->round & 1);
    }
  sleep->expected = __atomic_load_n (sleep->mark, __ATOMIC_SEQ_CST);
  sleep->sentry = sentry == own;
  if (!sleep->sentry)
    {
      if (ps_death_mark_is_dead (sleep->expected))
        {
          /* The sentry died in our round: free its slot, break it. */
          ps_barrier_probe (party, party->round, TRUE);
          break_round (state, party->round);
          return LOOK_AGAIN;
        }
      /* Not armed yet (or released, or scribbled on). Asleep on it, we
       * keep our own timer: the kernel wakes one sleeper of a dead mark,
       * which may be dying too, and does not mark it at all if it finds
       * the dead thread's robust list scribbled on first. */
      if (!ps_death_mark_is_armed (sleep->expected))
        return ON_WORD;
    }
  /* The sentry word published, or the mark read, before we look at the
   * round again: whoever ends it after our look releases the mark. */
  return round_over (load_word (state), party->round) ? LOOK_AGAIN : ON_MARK;
}

/* Before sleeping in the round @word is in: a slot, so that our death is
 * seen, then where to sleep: the sentry's mark (prepare_mark_sleep()),
 * or the word with SLEEPING set, so that the round's end wakes us. FALSE
 * if the word changed (look again). @sleep->retry_us is how soon to look
 * again without a slot (the table is full), else left alone. */
static gboolean
prepare_sleep (Party   *party,
               guint32  word,
               Sleep   *sleep)
{
  PsBarrierState *state = party->state;

  sleep->mark = NULL;
  sleep->sentry = FALSE;
  if (party->slot >= PS_BARRIER_MAX_PARTIES && !ps_barrier_party_claim (party))
    {
      /* Parties of the previous round still leaving hold them, or gone
       * ones: free theirs, and sleep a little at a time until a slot
       * frees. */
      ps_barrier_probe (party, G_MAXUINT32, FALSE);
      sleep->retry_us = MIN (sleep->retry_us, NO_SLOT_RETRY_US);
    }
  else if ((party->slot_value & PS_BARRIER_SLOT_MARKED) && party->parties >= 3)
    {
      switch (prepare_mark_sleep (party, sleep))
        {
        case ON_MARK:
          return TRUE;
        case LOOK_AGAIN:
          return FALSE;
        case ON_WORD:
        default:
          sleep->mark = NULL;
          sleep->sentry = FALSE;
          break;
        }
    }
  if (!(word & PS_BARRIER_SLEEPING) && !swap_word (state, &word, word | PS_BARRIER_SLEEPING))
    return FALSE;
  sleep->expected = word | PS_BARRIER_SLEEPING;
  return TRUE;
}

/* After a sleep on a mark: the death of its sentry, if it shows, breaks
 * the sentry's round (ours, or a later one whose sentry we slept on). */
static void
check_sentry_mark (PsBarrierState *state,
                   guint32        *mark)
{
  if (!ps_death_mark_is_dead (__atomic_load_n (mark, __ATOMIC_SEQ_CST)))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (state->sentry); i++)
    {
      guint32 sentry = __atomic_load_n (&state->sentry[i], __ATOMIC_SEQ_CST);

      if (ps_barrier_sentry_mark (state, sentry, sentry >> 5) == mark)
        break_round (state, sentry >> 5);
    }
}

/* Sleeps until our round ends. */
static gboolean
await_round (Party          *party,
             gint64          deadline,
             PsWaitContext  *context,
             GError        **error)
{
  PsBarrierState *state = party->state;
  gboolean polled = FALSE;

  for (;;)
    {
      guint32 word = load_word (state);
      PsWaitStatus status;
      Sleep sleep;
      gint64 wake_at, now;

      switch (judge (state, word, party->round))
        {
        case ROUND_PASSED:
          return TRUE;
        case ROUND_BROKEN:
          set_broken_error (error);
          return FALSE;
        case ROUND_PENDING:
        default:
          break;
        }

      /* The last party often arrives on another CPU at this very
       * moment: looking for it a few microseconds before going to sleep
       * spares a sleep and a wake-up. */
      if (!polled)
        {
          polled = TRUE;
          if (poll_round (party, word))
            continue;
        }

      /* Two parties: nobody else sleeps in our round, whose death we
       * would have to look for; the last arrival looks for ours. */
      sleep.retry_us = party->parties < 3 ? G_MAXINT64 : PS_BARRIER_PROBE_US;
      if (!prepare_sleep (party, word, &sleep))
        continue;
      wake_at = sleep.retry_us == G_MAXINT64 ? deadline : g_get_monotonic_time () + sleep.retry_us;
      if (deadline >= 0 && (wake_at < 0 || deadline < wake_at))
        wake_at = deadline;
      status = sleep.mark != NULL
               ? ps_death_mark_wait (sleep.mark, sleep.expected, wake_at,
                                     ps_wait_context_get_canceller (context))
               : ps_wait_word_wait (&state->word, sleep.expected, wake_at,
                                    ps_wait_context_get_canceller (context));
      if (sleep.mark != NULL && !sleep.sentry)
        check_sentry_mark (state, sleep.mark);
      /* Woken, with no deadline of ours: look at the round. */
      if (status == PS_WAIT_WOKEN && deadline < 0)
        continue;
      now = g_get_monotonic_time ();
      if (status != PS_WAIT_CANCELLED)
        {
          if (deadline < 0 || now < deadline)
            {
              /* Woken, or time to look for dead parties. */
              if (status == PS_WAIT_TIMED_OUT && ps_barrier_probe (party, party->round, FALSE))
                break_round (state, party->round);
              continue;
            }
          status = PS_WAIT_TIMED_OUT;
        }

      /* Our own timeout or cancellation breaks the round, unless it
       * already ended: then its outcome is ours. */
      if (break_round (state, party->round))
        {
          ps_set_wait_error (error, status, "barrier");
          return FALSE;
        }
    }
}

gint
ps_barrier_state_wait (PsBarrierState  *state,
                       guint            parties,
                       gint64           timeout_us,
                       GCancellable    *cancellable,
                       GError         **error)
{
  Party party = { state, parties, PS_BARRIER_MAX_PARTIES, ps_self_process_id (), 0, TRUE, 0 };
  PsWaitContext context;
  gint64 deadline;
  gint index = -1;
  gboolean passed = FALSE;

  party.round = ps_barrier_round_of (load_word (state));
  if (timeout_us == 0)
    return arrive (&party, parties, TRUE, &index, error) == TRIPPED ? index : -1;

  deadline = ps_deadline_from_timeout (timeout_us);
  if (!ps_wait_context_begin (&context, cancellable, error))
    return -1;

  /* No slot before arriving: a party records itself only when it is
   * about to sleep (prepare_sleep()), so that a round whose parties all
   * meet while polling costs no record and no look for dead ones. */
  switch (arrive (&party, parties, FALSE, &index, error))
    {
    case TRIPPED:
      passed = TRUE;
      break;
    case ARRIVED:
      passed = await_round (&party, deadline, &context, error);
      break;
    case NOT_ARRIVED:
    default:
      break;
    }

  ps_barrier_party_free (&party);
  ps_wait_context_end (&context);
  return passed ? index : -1;
}

/* The async wait (ps-async-watch-private.h): the steps of
 * ps_barrier_state_wait(), each in the task's context, with the word
 * watched between them and the look for dead parties on a
 * PS_BARRIER_PROBE_US timer of the hub's. */
struct _PsBarrierAsync
{
  Party    party;
  guint    parties;
  gboolean arrived;
  gint     index;
  gint64   probe_at;
};

PsBarrierAsync *
ps_barrier_async_new (PsBarrierState *state,
                      guint           parties)
{
  PsBarrierAsync *wait = g_new0 (PsBarrierAsync, 1);

  wait->party.state = state;
  wait->party.parties = parties;
  wait->party.slot = PS_BARRIER_MAX_PARTIES;
  wait->party.pid = ps_self_process_id ();
  wait->party.round = ps_barrier_round_of (load_word (state));
  wait->parties = parties;
  return wait;
}

/* Ends the task with @error or, if NULL, the arrival index. */
static gboolean
async_done (GTask          *task,
            PsBarrierAsync *wait,
            GError         *error)
{
  ps_barrier_party_free (&wait->party);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, wait->index);
  return TRUE;
}

/* Arrives, as ps_barrier_state_wait() does (no slot before arriving);
 * TRUE if that ended the wait (*@over, the task returned). */
static gboolean
async_arrive (GTask          *task,
              PsBarrierAsync *wait)
{
  GError *error = NULL;

  switch (arrive (&wait->party, wait->parties, FALSE, &wait->index, &error))
    {
    case ARRIVED:
      wait->arrived = TRUE;
      wait->probe_at = g_get_monotonic_time () + PS_BARRIER_PROBE_US;
      return FALSE;
    case TRIPPED:
    case NOT_ARRIVED:
    default:
      return async_done (task, wait, error);
    }
}

gboolean
ps_barrier_async_step (GTask         *task,
                       PsAsyncReason  reason,
                       PsWatch       *watch)
{
  PsBarrierAsync *wait = g_task_get_task_data (task);
  PsBarrierState *state = wait->party.state;

  if (!wait->arrived && async_arrive (task, wait))
    return TRUE;

  for (;;)
    {
      guint32 word = load_word (state);
      GError *error = NULL;
      Sleep sleep;
      gint64 now;

      switch (judge (state, word, wait->party.round))
        {
        case ROUND_PASSED:
          return async_done (task, wait, NULL);
        case ROUND_BROKEN:
          set_broken_error (&error);
          return async_done (task, wait, error);
        case ROUND_PENDING:
        default:
          break;
        }

      if (reason != PS_ASYNC_WOKEN)
        {
          /* Our own timeout or cancellation breaks the round, unless it
           * already ended: then its outcome is ours. */
          if (!break_round (state, wait->party.round))
            continue;
          ps_async_return_error (task, reason, "barrier");
          ps_barrier_party_free (&wait->party);
          return TRUE;
        }

      now = g_get_monotonic_time ();
      if (now >= wait->probe_at)
        {
          wait->probe_at = now + PS_BARRIER_PROBE_US;
          if (ps_barrier_probe (&wait->party, wait->party.round, FALSE))
            {
              break_round (state, wait->party.round);
              continue;
            }
        }
      /* Asleep in the watch as in ps_wait_word_wait(): recorded, and
       * SLEEPING set, so that the round's end wakes the watch. */
      sleep.retry_us = wait->probe_at - now;
      if (!prepare_sleep (&wait->party, word, &sleep))
        continue;
      watch->address = ps_wait_word_watch_address (&state->word);
      watch->expected = sleep.expected;
      watch->wake_all = TRUE;
      ps_async_watch_retry_after (watch, sleep.retry_us);
      return FALSE;
    }
}

void
ps_barrier_state_abort (PsBarrierState *state)
{
  guint32 word = load_word (state);

  do
    {
      if (word & PS_BARRIER_BROKEN)
        return;
    }
  while (!swap_word (state, &word, word | PS_BARRIER_BROKEN));
  wake_round (state, word, TRUE);
}

void
ps_barrier_state_reset (PsBarrierState *state)
{
  guint32 word = load_word (state);

  do
    {
      /* Nobody waits and nothing is broken: nothing to do. */
      if ((word & (PS_BARRIER_COUNT_MASK | PS_BARRIER_BROKEN)) == 0)
        return;
      record_history (state, word);
    }
  while (!swap_word (state, &word, next_round (word)));
  wake_round (state, word, TRUE);
}
