/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The soak: six worker processes do random operations on every class
 * while a supervisor SIGKILLs them and SIGSTOPs (then SIGCONTs) them at
 * random times, and starts a new worker for each one killed. It runs
 * for 45 s in the `stress` suite (PS_SOAK_SECONDS changes that), or for
 * as long as asked: `test-soak --minutes N`.
 *
 * What the workers share:
 *
 *  - three "banks", records of N_ACCOUNTS accounts whose sum never
 *    changes, each guarded by its own mutex: a named one, one placed in
 *    a named segment, and a recursive placed one (taken 1 to 3 deep). A
 *    transfer writes an undo journal, moves an amount in two steps (a
 *    kill in between tears the record), and closes the journal. The
 *    named bank also keeps a copy of its sequence number in the segment
 *    through each of PsSharedMemory's accessors (integers, double,
 *    bytes, a GVariant);
 *  - a condition variable with each of the first two mutexes (named and
 *    placed), waited on with short timeouts, signalled and broadcast;
 *  - a bounded named semaphore, of which a worker takes one or two units
 *    (blocking, with a short timeout, or trying), and a placed one taken
 *    with ps_semaphore_acquire_async().
 *
 * What is checked, by the workers as they go and by the supervisor at
 * the end of every window of a few seconds (the workers then pause at a
 * clean point, holding nothing):
 *
 *  - mutual exclusion: a holder marks the record, and finding it marked
 *    without OWNER_DEAD, or the journal open, is a violation;
 *  - repair: after OWNER_DEAD the journal rolls the record back, and the
 *    record (sum, hash, the accessors' copies) must then be sound;
 *    OWNER_DEAD is reported at least once for every worker killed holding
 *    the mutex, and never more often than workers died near it;
 *  - conserved units: each worker keeps, in memory the supervisor reads,
 *    how many units it holds; the supervisor gives back those of a killed
 *    worker, and at each window the count is exact, but for the few
 *    whose death came in the middle of an acquire or a release;
 *  - bounded waits: every lock and acquire has a timeout far beyond any
 *    legitimate wait, reaching it is a failure, and an operation that
 *    takes longer than its bound is one too: the supervisor watches each
 *    worker's current operation, so a hang fails instead of stalling;
 *  - progress: in every window each bank commits, each semaphore is
 *    acquired, and each worker that lived through it did something.
 */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stress-util.h"

#define N_WORKERS       6
#define N_ACCOUNTS      8
#define ACCOUNT_START   1000
#define NAMED_UNITS     3
#define PLACED_UNITS    2
#define DEFAULT_SECONDS 45
#define WINDOW_SECONDS  4

typedef enum
{
  BANK_NAMED,
  BANK_PLACED,
  BANK_RECURSIVE,
  N_BANKS
} BankId;

static const char *const bank_names[N_BANKS] = { "named", "placed", "recursive" };

typedef enum
{
  SEM_NAMED,    /* acquired blocking, timed or trying */
  SEM_PLACED,   /* acquired with ps_semaphore_acquire_async() */
  N_SEMS
} SemId;

static const char *const sem_names[N_SEMS] = { "named", "placed" };
static const guint sem_units[N_SEMS] = { NAMED_UNITS, PLACED_UNITS };

/* The data segment --------------------------------------------------------- */

/* A bank, in the data segment, guarded by its mutex. Volatile: a kill
 * stops a writer between two of these stores, in program order. */
typedef struct
{
  volatile gint    holder;        /* pid of the holder, 0 when free */
  volatile gint    journal_open;  /* an update is under way: undo it from the journal */
  volatile gint64  seq;           /* committed updates */
  volatile gint64  accounts[N_ACCOUNTS];
  volatile guint64 hash;          /* of seq and accounts */
  volatile gint64  journal_seq;
  volatile gint64  journal_accounts[N_ACCOUNTS];
} Bank;

/* Where things are in the data segment. */
#define OFF_BANKS    0
#define OFF_INT64    1024   /* the named bank's copies of its seq */
#define OFF_DOUBLE   1032
#define OFF_INT32    1040
#define OFF_UINT8    1044
#define OFF_BLOCK    1088
#define BLOCK_SIZE   64
#define OFF_VARIANT  1280
#define VARIANT_ROOM 512
#define OFF_PLACED_MUTEX    2048
#define OFF_RECURSIVE_MUTEX (OFF_PLACED_MUTEX + PS_MUTEX_SIZE)
#define OFF_PLACED_COND     (OFF_RECURSIVE_MUTEX + PS_MUTEX_SIZE)
#define OFF_PLACED_SEM      (OFF_PLACED_COND + PS_COND_SIZE)
#define DATA_SIZE           (OFF_PLACED_SEM + PS_SEMAPHORE_SIZE)
G_STATIC_ASSERT (N_BANKS * sizeof (Bank) <= OFF_INT64);
G_STATIC_ASSERT (OFF_VARIANT + VARIANT_ROOM <= OFF_PLACED_MUTEX);

/* The control block: anonymous, shared with the workers ------------------- */

/* Where a worker stands with a bank's mutex; after its death, whether it
 * held it: surely (HELD), perhaps (at the edges), or not. */
typedef enum
{
  HOLD_NONE,
  HOLD_LOCKING,     /* inside lock(): may have got it */
  HOLD_HELD,
  HOLD_UNLOCKING,   /* about to unlock: may have let it go */
  HOLD_COND,        /* inside a condition wait: may hold it again */
} HoldState;

/* Where a worker stands with a semaphore: units it surely holds are
 * `held`; the edges leave one (acquiring) or all (releasing) in doubt. */
typedef enum
{
  UNITS_IDLE,
  UNITS_ACQUIRING,
  UNITS_HELD,
  UNITS_RELEASING,
} UnitsState;

typedef enum
{
  OP_TRANSFER_NAMED,
  OP_TRANSFER_PLACED,
  OP_TRANSFER_RECURSIVE,
  OP_COND_NAMED,
  OP_COND_PLACED,
  OP_AUDIT,
  OP_SEMAPHORE,
  OP_ASYNC,
  OP_REOPEN,
  N_OPS
} Op;

static const char *const op_names[N_OPS] = {
  "transfer (named mutex)", "transfer (placed mutex)", "transfer (recursive mutex)",
  "condition wait (named)", "condition wait (placed)", "audit", "semaphore acquire",
  "async semaphore acquire", "reopen by name",
};

/* How often each operation is drawn. */
static const guint op_weights[N_OPS] = { 20, 15, 15, 10, 10, 5, 12, 10, 3 };

typedef struct
{
  gint   pid;
  gint   paused;
  gint   ops;
  gint   op;
  gint64 op_start;    /* monotonic time the current operation began, 0 between */
  gint   hold[N_BANKS];
  gint   units_state[N_SEMS];
  gint   units_held[N_SEMS];
} Slot;

/* What the supervisor is doing, for its watchdog's report. */
typedef enum
{
  PHASE_STARTING,
  PHASE_WATCHING,
  PHASE_STOPPING_WORKER,
  PHASE_KILLING_WORKER,
  PHASE_SPAWNING_WORKER,
  PHASE_AWAITING_PAUSE,
  PHASE_AUDITING_BANK,
  PHASE_AUDITING_SEMAPHORE,
  PHASE_REAPING_WORKERS,
  PHASE_FAILING,
  N_PHASES
} Phase;

static const char *const phase_names[N_PHASES] = {
  "starting", "watching", "stopping a worker", "killing a worker", "spawning a worker",
  "awaiting the pause", "auditing a bank", "auditing a semaphore", "reaping the workers",
  "failing",
};

typedef struct
{
  gint   phase;       /* the supervisor's Phase */
  gint   phase_arg;   /* the worker (pid) or object (index) it is about */
  gint   window;
  gint64 start_us;    /* the run's start, on the monotonic and the wall */
  gint64 start_wall_us;   /* clock: the watchdog's report compares them */
  gint   pause;
  gint   stop;
  gint   owner_dead[N_BANKS];   /* OWNER_DEAD reported, by anyone */
  gint   repairs[N_BANKS];      /* of those, torn updates rolled back */
  gint   acquires[N_SEMS];
  gint   short_timeouts;        /* short acquires that expired, as they may */
  gint   cond_woken;
  gint   cond_timed_out;
  Slot   slots[N_WORKERS];
  StressFailures failures;
} Control;

/* One process's view ------------------------------------------------------ */

typedef struct
{
  char *data;
  char *mutex;
  char *cond;
  char *semaphore;
} SoakNames;

typedef struct
{
  Control        *control;
  Slot           *slot;      /* NULL in the supervisor */
  const SoakNames *names;
  PsSharedMemory *data;
  PsMutex        *mutex[N_BANKS];
  PsCond         *cond[N_BANKS];   /* none with the recursive mutex */
  PsSemaphore    *sem[N_SEMS];
  GRand          *rand;
  GCancellable   *cancellable;
  gint64          long_timeout;   /* far beyond any legitimate wait */
} Soak;

#define FAIL(soak, ...) stress_fail (&(soak)->control->failures, __VA_ARGS__)

static Bank *
soak_bank (Soak   *soak,
           BankId  id)
{
  gpointer banks = (guint8 *) ps_shared_memory_get_data (soak->data) + OFF_BANKS;

  return (Bank *) banks + id;
}

/* Opens everything (with @create: makes it); FALSE with @error. */
static gboolean
soak_open (Soak     *soak,
           gboolean  create,
           GError  **error)
{
  PsOpenFlags flags = create ? PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE : PS_OPEN_NONE;
  const SoakNames *names = soak->names;

  soak->data = ps_shared_memory_open (names->data, flags, create ? DATA_SIZE : 0, error);
  if (soak->data == NULL)
    return FALSE;
  soak->mutex[BANK_NAMED] = ps_mutex_open (names->mutex, flags, error);
  if (soak->mutex[BANK_NAMED] == NULL)
    return FALSE;
  soak->cond[BANK_NAMED] = ps_cond_open (names->cond, flags, error);
  if (soak->cond[BANK_NAMED] == NULL)
    return FALSE;
  soak->sem[SEM_NAMED] = ps_semaphore_open_full (names->semaphore, flags, 0600,
                                                 NAMED_UNITS, NAMED_UNITS, error);
  if (soak->sem[SEM_NAMED] == NULL)
    return FALSE;

  /* The supervisor places them, the workers attach to them. */
  soak->mutex[BANK_PLACED] = create
    ? ps_mutex_open_at_full (soak->data, OFF_PLACED_MUTEX, flags, FALSE, error)
    : ps_mutex_attach (soak->data, OFF_PLACED_MUTEX, error);
  if (soak->mutex[BANK_PLACED] == NULL)
    return FALSE;
  soak->mutex[BANK_RECURSIVE] = create
    ? ps_mutex_open_at_full (soak->data, OFF_RECURSIVE_MUTEX, flags, TRUE, error)
    : ps_mutex_attach (soak->data, OFF_RECURSIVE_MUTEX, error);
  if (soak->mutex[BANK_RECURSIVE] == NULL)
    return FALSE;
  soak->cond[BANK_PLACED] = create
    ? ps_cond_open_at (soak->data, OFF_PLACED_COND, flags, error)
    : ps_cond_attach (soak->data, OFF_PLACED_COND, error);
  if (soak->cond[BANK_PLACED] == NULL)
    return FALSE;
  soak->sem[SEM_PLACED] = create
    ? ps_semaphore_open_at_full (soak->data, OFF_PLACED_SEM, flags, PLACED_UNITS, PLACED_UNITS, error)
    : ps_semaphore_attach (soak->data, OFF_PLACED_SEM, error);
  if (soak->sem[SEM_PLACED] == NULL)
    return FALSE;
  if (!ps_mutex_is_recursive (soak->mutex[BANK_RECURSIVE]) ||
      ps_mutex_is_recursive (soak->mutex[BANK_PLACED]))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the placed mutexes have the wrong kind");
      return FALSE;
    }
  return TRUE;
}

static void
soak_close (Soak *soak)
{
  for (guint b = 0; b < N_BANKS; b++)
    {
      g_clear_object (&soak->mutex[b]);
      g_clear_object (&soak->cond[b]);
    }
  for (guint s = 0; s < N_SEMS; s++)
    g_clear_object (&soak->sem[s]);
  g_clear_object (&soak->data);
}

/* Banks -------------------------------------------------------------------- */

static guint64
bank_hash (const Bank *bank)
{
  guint64 hash = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  hash = (hash ^ (guint64) bank->seq) * G_GUINT64_CONSTANT (0x100000001b3);
  for (guint i = 0; i < N_ACCOUNTS; i++)
    hash = (hash ^ (guint64) bank->accounts[i]) * G_GUINT64_CONSTANT (0x100000001b3);
  return hash;
}

/* The named bank's copies of its sequence number @seq. */
static GVariant *
copy_variant (gint64 seq)
{
  g_autofree char *text = g_strnfill ((gsize) (seq % 40), 'a' + (char) (seq % 26));

  return g_variant_new ("(xds)", seq, seq / 4.0, text);
}

static void
copy_block (gint64  seq,
            guint8 *block)
{
  for (guint i = 0; i < BLOCK_SIZE; i++)
    block[i] = (guint8) (seq + i * 13);
}

static gboolean
write_copies (Soak   *soak,
              gint64  seq)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) variant = g_variant_ref_sink (copy_variant (seq));
  guint8 block[BLOCK_SIZE];

  copy_block (seq, block);
  if (!ps_shared_memory_set_int64 (soak->data, OFF_INT64, seq, &error) ||
      !ps_shared_memory_set_double (soak->data, OFF_DOUBLE, seq / 4.0, &error) ||
      !ps_shared_memory_set_int32 (soak->data, OFF_INT32, (gint32) (seq * 7), &error) ||
      !ps_shared_memory_set_uint8 (soak->data, OFF_UINT8, (guint8) seq, &error) ||
      !ps_shared_memory_write (soak->data, OFF_BLOCK, block, BLOCK_SIZE, &error) ||
      !ps_shared_memory_write_variant (soak->data, OFF_VARIANT, variant, &error))
    {
      FAIL (soak, "%d could not write to the segment: %s", (int) getpid (), error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_copies (Soak   *soak,
              gint64  seq)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) expected = g_variant_ref_sink (copy_variant (seq));
  g_autoptr(GVariant) variant = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint8 block[BLOCK_SIZE];
  gint64 i64 = ps_shared_memory_get_int64 (soak->data, OFF_INT64, &error);
  double d = error == NULL ? ps_shared_memory_get_double (soak->data, OFF_DOUBLE, &error) : 0;
  gint32 i32 = error == NULL ? ps_shared_memory_get_int32 (soak->data, OFF_INT32, &error) : 0;
  guint8 u8 = error == NULL ? ps_shared_memory_get_uint8 (soak->data, OFF_UINT8, &error) : 0;

  if (error == NULL)
    bytes = ps_shared_memory_read (soak->data, OFF_BLOCK, BLOCK_SIZE, &error);
  if (error == NULL)
    variant = ps_shared_memory_read_variant (soak->data, OFF_VARIANT, &error);
  if (error != NULL)
    {
      FAIL (soak, "%d could not read the segment: %s", (int) getpid (), error->message);
      return FALSE;
    }
  copy_block (seq, block);
  if (i64 != seq || d != seq / 4.0 || i32 != (gint32) (seq * 7) || u8 != (guint8) seq ||
      g_bytes_get_size (bytes) != BLOCK_SIZE ||
      memcmp (g_bytes_get_data (bytes, NULL), block, BLOCK_SIZE) != 0 ||
      !g_variant_equal (variant, expected))
    {
      FAIL (soak, "the segment's copies of the named bank do not match its seq %" G_GINT64_FORMAT
            " (int64 %" G_GINT64_FORMAT ")", seq, i64);
      return FALSE;
    }
  return TRUE;
}

/* Whether the bank, its journal closed, is sound. */
static gboolean
bank_verify (Soak       *soak,
             BankId      id,
             const char *when)
{
  Bank *bank = soak_bank (soak, id);
  gint64 sum = 0;

  for (guint i = 0; i < N_ACCOUNTS; i++)
    sum += bank->accounts[i];
  if (sum != (gint64) N_ACCOUNTS * ACCOUNT_START || bank->hash != bank_hash (bank))
    {
      FAIL (soak, "%s bank broken %s: sum %" G_GINT64_FORMAT ", seq %" G_GINT64_FORMAT
            ", hash %s", bank_names[id], when, sum, bank->seq,
            bank->hash == bank_hash (bank) ? "right" : "wrong");
      return FALSE;
    }
  return id != BANK_NAMED || check_copies (soak, bank->seq);
}

/* After OWNER_DEAD: undo the dead holder's update, if it was making one. */
static gboolean
bank_repair (Soak   *soak,
             BankId  id)
{
  Bank *bank = soak_bank (soak, id);

  if (bank->journal_open)
    {
      bank->seq = bank->journal_seq;
      for (guint i = 0; i < N_ACCOUNTS; i++)
        bank->accounts[i] = bank->journal_accounts[i];
      bank->hash = bank_hash (bank);
      if (id == BANK_NAMED && !write_copies (soak, bank->seq))
        return FALSE;
      g_atomic_int_set (&bank->journal_open, 0);
      g_atomic_int_inc (&soak->control->repairs[id]);
    }
  return bank_verify (soak, id, "after repair");
}

static void
set_hold (Soak      *soak,
          BankId     id,
          HoldState  state)
{
  if (soak->slot != NULL)
    g_atomic_int_set (&soak->slot->hold[id], state);
}

/* What a new holder does: check that nobody else holds the bank, repair
 * it after OWNER_DEAD, check it. */
static gboolean
bank_enter (Soak     *soak,
            BankId    id,
            gboolean  owner_dead)
{
  g_autoptr(GError) error = NULL;
  Bank *bank = soak_bank (soak, id);
  gint previous = g_atomic_int_get (&bank->holder);

  set_hold (soak, id, HOLD_HELD);
  if (previous != 0 && !owner_dead)
    {
      FAIL (soak, "mutual exclusion: %d took the %s mutex still marked as held by %d",
            (int) getpid (), bank_names[id], previous);
      return FALSE;
    }
  g_atomic_int_set (&bank->holder, getpid ());
  if (ps_mutex_get_owner_pid (soak->mutex[id]) != getpid ())
    {
      FAIL (soak, "%d holds the %s mutex, whose owner is %d", (int) getpid (), bank_names[id],
            (int) ps_mutex_get_owner_pid (soak->mutex[id]));
      return FALSE;
    }
  if (owner_dead)
    {
      if (!bank_repair (soak, id))
        return FALSE;
      if (!ps_mutex_mark_consistent (soak->mutex[id], &error))
        {
          FAIL (soak, "mark_consistent of the %s mutex: %s", bank_names[id], error->message);
          return FALSE;
        }
      return TRUE;
    }
  if (g_atomic_int_get (&bank->journal_open))
    {
      FAIL (soak, "%d found a torn update of the %s bank without OWNER_DEAD", (int) getpid (),
            bank_names[id]);
      return FALSE;
    }
  return bank_verify (soak, id, "on entry");
}

static gboolean
lock_how (Soak     *soak,
          BankId    id,
          GError  **error)
{
  PsMutex *mutex = soak->mutex[id];

  switch (soak->rand != NULL ? g_rand_int_range (soak->rand, 0, 3) : 0)
    {
    case 0:
      return ps_mutex_lock (mutex, soak->long_timeout, NULL, error);
    case 1:
      return ps_mutex_lock (mutex, soak->long_timeout, soak->cancellable, error);
    default:
      /* FALSE without an error: busy. */
      if (ps_mutex_try_lock (mutex, error))
        return TRUE;
      if (*error != NULL)
        return FALSE;
      return ps_mutex_lock (mutex, soak->long_timeout, NULL, error);
    }
}

/* Locks bank @id and makes it sound. Anything but success or OWNER_DEAD
 * fails: the timeout is far beyond any legitimate wait. */
static gboolean
bank_lock (Soak   *soak,
           BankId  id)
{
  g_autoptr(GError) error = NULL;
  gboolean owner_dead = FALSE;

  set_hold (soak, id, HOLD_LOCKING);
  if (!lock_how (soak, id, &error))
    {
      if (!g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
        {
          FAIL (soak, "%d could not lock the %s mutex: %s", (int) getpid (), bank_names[id],
                error->message);
          return FALSE;
        }
      /* Counted before the state says HELD: see the checks of a window. */
      g_atomic_int_inc (&soak->control->owner_dead[id]);
      owner_dead = TRUE;
    }
  return bank_enter (soak, id, owner_dead);
}

static gboolean
bank_unlock (Soak   *soak,
             BankId  id)
{
  g_autoptr(GError) error = NULL;

  g_atomic_int_set (&soak_bank (soak, id)->holder, 0);
  set_hold (soak, id, HOLD_UNLOCKING);
  if (!ps_mutex_unlock (soak->mutex[id], &error))
    {
      FAIL (soak, "%d could not unlock the %s mutex: %s", (int) getpid (), bank_names[id],
            error->message);
      return FALSE;
    }
  set_hold (soak, id, HOLD_NONE);
  return TRUE;
}

/* A transfer between two accounts, journaled: a kill anywhere in it
 * leaves the journal open, and the next holder rolls it back. */
static gboolean
bank_transfer (Soak   *soak,
               BankId  id)
{
  Bank *bank = soak_bank (soak, id);
  guint from = (guint) g_rand_int_range (soak->rand, 0, N_ACCOUNTS);
  guint to = (from + (guint) g_rand_int_range (soak->rand, 1, N_ACCOUNTS)) % N_ACCOUNTS;
  gint64 amount = g_rand_int_range (soak->rand, 1, 100);

  bank->journal_seq = bank->seq;
  for (guint i = 0; i < N_ACCOUNTS; i++)
    bank->journal_accounts[i] = bank->accounts[i];
  g_atomic_int_set (&bank->journal_open, 1);

  bank->accounts[from] -= amount;
  /* The torn window: widened now and then, for the kills to land in. */
  if (g_rand_boolean (soak->rand))
    g_usleep (g_rand_int_range (soak->rand, 0, 500));
  bank->accounts[to] += amount;
  bank->seq = bank->seq + 1;
  bank->hash = bank_hash (bank);
  if (id == BANK_NAMED && !write_copies (soak, bank->seq))
    return FALSE;

  g_atomic_int_set (&bank->journal_open, 0);
  return TRUE;
}

/* Operations ---------------------------------------------------------------- */

static gboolean
op_transfer (Soak   *soak,
             BankId  id)
{
  return bank_lock (soak, id) && bank_transfer (soak, id) && bank_unlock (soak, id);
}

/* The recursive mutex, taken 1 to 3 deep: only the last unlock frees it. */
static gboolean
op_transfer_recursive (Soak *soak)
{
  PsMutex *mutex = soak->mutex[BANK_RECURSIVE];
  guint depth = (guint) g_rand_int_range (soak->rand, 1, 4);
  g_autoptr(GError) error = NULL;

  if (!bank_lock (soak, BANK_RECURSIVE))
    return FALSE;
  for (guint d = 1; d < depth; d++)
    if (!(d % 2 ? ps_mutex_try_lock (mutex, &error)
                : ps_mutex_lock (mutex, 0, NULL, &error)))
      {
        FAIL (soak, "nested lock %u of the recursive mutex: %s", d, error->message);
        return FALSE;
      }
  if (!bank_transfer (soak, BANK_RECURSIVE))
    return FALSE;
  for (guint d = 1; d < depth; d++)
    if (!ps_mutex_unlock (mutex, &error) ||
        ps_mutex_get_owner_pid (mutex) != getpid ())
      {
        FAIL (soak, "nested unlock %u of the recursive mutex: %s", d,
              error != NULL ? error->message : "it let go");
        return FALSE;
      }
  return bank_unlock (soak, BANK_RECURSIVE);
}

/* A short timed wait on the bank's condition, then a transfer, a signal
 * or a broadcast. */
static gboolean
op_cond (Soak   *soak,
         BankId  id)
{
  g_autoptr(GError) error = NULL;
  gint64 timeout = g_rand_int_range (soak->rand, 0, 20000);
  gint64 start, elapsed;
  gboolean woken;

  if (!bank_lock (soak, id))
    return FALSE;

  g_atomic_int_set (&soak_bank (soak, id)->holder, 0);
  set_hold (soak, id, HOLD_COND);
  start = g_get_monotonic_time ();
  woken = ps_cond_wait (soak->cond[id], soak->mutex[id], timeout, NULL, &error);
  elapsed = g_get_monotonic_time () - start;

  if (woken)
    g_atomic_int_inc (&soak->control->cond_woken);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_atomic_int_inc (&soak->control->cond_timed_out);
      if (elapsed < timeout)
        {
          FAIL (soak, "a condition wait of %" G_GINT64_FORMAT " µs timed out after %"
                G_GINT64_FORMAT " µs", timeout, elapsed);
          return FALSE;
        }
    }
  else if (g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
    g_atomic_int_inc (&soak->control->owner_dead[id]);
  else if (!(timeout == 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)))
    {
      FAIL (soak, "%d: condition wait on the %s mutex: %s", (int) getpid (), bank_names[id],
            error->message);
      return FALSE;
    }

  /* Whatever the outcome, the mutex is held again. */
  if (!bank_enter (soak, id, g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD)) ||
      !bank_transfer (soak, id))
    return FALSE;
  if (g_rand_boolean (soak->rand))
    ps_cond_signal (soak->cond[id]);
  else
    ps_cond_broadcast (soak->cond[id]);
  return bank_unlock (soak, id);
}

/* Every bank checked under its mutex, nothing changed. */
static gboolean
op_audit (Soak *soak)
{
  for (guint b = 0; b < N_BANKS; b++)
    if (!bank_lock (soak, b) || !bank_unlock (soak, b))
      return FALSE;
  return TRUE;
}

static void
set_units (Soak       *soak,
           SemId       id,
           UnitsState  state)
{
  g_atomic_int_set (&soak->slot->units_state[id], state);
}

/* A long wait on a semaphore waits in slices, and gives up (FALSE, no
 * error) when the supervisor asks the workers to pause: units taken by a
 * worker killed in the middle of an acquire are given back only once
 * everybody has paused, and until then a semaphore may have none left
 * for anybody. Without a pause, the wait is still bounded as a whole by
 * the long timeout. */
#define WAIT_SLICE_US (250 * 1000)

static gboolean
waited_long_enough (Soak    *soak,
                    gint64   started,
                    GError **error)
{
  if (g_atomic_int_get (&soak->control->pause) || g_atomic_int_get (&soak->control->stop))
    {
      g_atomic_int_inc (&soak->control->short_timeouts);
      g_clear_error (error);
      return TRUE;
    }
  return g_get_monotonic_time () - started >= soak->long_timeout;
}

static gboolean
acquire_patiently (Soak          *soak,
                   PsSemaphore   *semaphore,
                   GCancellable  *cancellable,
                   GError       **error)
{
  gint64 started = g_get_monotonic_time ();

  for (;;)
    {
      if (ps_semaphore_acquire (semaphore, WAIT_SLICE_US, cancellable, error))
        return TRUE;
      if (!g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
          waited_long_enough (soak, started, error))
        return FALSE;
      g_clear_error (error);
    }
}

/* Takes a unit the way @how says: TRUE if taken; FALSE with @error
 * unset if a try or a short wait found none, as they may. */
static gboolean
acquire_how (Soak     *soak,
             guint     how,
             GError  **error)
{
  PsSemaphore *semaphore = soak->sem[SEM_NAMED];
  gint64 timeout;

  switch (how)
    {
    case 0:
      return ps_semaphore_try_acquire (semaphore);
    case 1:
      timeout = g_rand_int_range (soak->rand, 0, 2000);
      if (ps_semaphore_acquire (semaphore, timeout, NULL, error))
        return TRUE;
      if (g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
          g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_atomic_int_inc (&soak->control->short_timeouts);
          g_clear_error (error);
        }
      return FALSE;
    default:
      return acquire_patiently (soak, semaphore, how == 2 ? soak->cancellable : NULL, error);
    }
}

static gboolean
release_held (Soak  *soak,
              SemId  id)
{
  g_autoptr(GError) error = NULL;
  guint held = (guint) g_atomic_int_get (&soak->slot->units_held[id]);
  gboolean released;

  if (held == 0)
    return TRUE;
  g_usleep (g_rand_int_range (soak->rand, 0, 500));
  set_units (soak, id, UNITS_RELEASING);
  released = held == 1 ? ps_semaphore_release (soak->sem[id], &error)
                       : ps_semaphore_release_many (soak->sem[id], held, &error);
  if (!released)
    {
      /* OVERFLOW: more units than the semaphore was made with. */
      FAIL (soak, "%d could not give back %u units of the %s semaphore: %s", (int) getpid (),
            held, sem_names[id], error->message);
      return FALSE;
    }
  g_atomic_int_set (&soak->slot->units_held[id], 0);
  set_units (soak, id, UNITS_IDLE);
  return TRUE;
}

/* One or two units of the named semaphore: the first by any way, the
 * second only by trying (waiting while holding one could deadlock). */
static gboolean
op_semaphore (Soak *soak)
{
  guint wanted = (guint) g_rand_int_range (soak->rand, 1, 3);

  for (guint u = 0; u < wanted; u++)
    {
      g_autoptr(GError) error = NULL;
      gboolean taken;

      set_units (soak, SEM_NAMED, UNITS_ACQUIRING);
      taken = acquire_how (soak, u == 0 ? (guint) g_rand_int_range (soak->rand, 0, 4) : 0,
                           &error);
      if (error != NULL)
        {
          FAIL (soak, "%d could not acquire the named semaphore: %s", (int) getpid (),
                error->message);
          return FALSE;
        }
      if (!taken)
        break;
      g_atomic_int_inc (&soak->slot->units_held[SEM_NAMED]);
      g_atomic_int_inc (&soak->control->acquires[SEM_NAMED]);
      set_units (soak, SEM_NAMED, UNITS_HELD);
    }
  set_units (soak, SEM_NAMED,
             g_atomic_int_get (&soak->slot->units_held[SEM_NAMED]) != 0 ? UNITS_HELD : UNITS_IDLE);
  return release_held (soak, SEM_NAMED);
}

typedef struct
{
  gboolean  done;
  gboolean  acquired;
  GError   *error;
} AsyncResult;

static void
acquired_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AsyncResult *outcome = user_data;

  outcome->acquired = ps_semaphore_acquire_finish (PS_SEMAPHORE (source), result,
                                                   &outcome->error);
  outcome->done = TRUE;
}

static gboolean
set_true (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* A unit of the placed semaphore through acquire_async(), with a long or
 * a short timeout; the callback must come within the bound. */
static gboolean
op_async (Soak   *soak,
          gint64  bound_us)
{
  GMainContext *context = g_main_context_get_thread_default ();
  gboolean short_wait = g_rand_int_range (soak->rand, 0, 3) == 0;
  gint64 timeout = short_wait ? g_rand_int_range (soak->rand, 0, 2000) : soak->long_timeout;
  AsyncResult outcome = { FALSE, FALSE, NULL };
  gboolean expired = FALSE;
  GSource *bound = g_timeout_source_new ((guint) (bound_us / 1000));
  gint64 started = g_get_monotonic_time ();

  g_source_set_callback (bound, set_true, &expired, NULL);
  g_source_attach (bound, context);
  set_units (soak, SEM_PLACED, UNITS_ACQUIRING);
  /* A long wait in slices, as acquire_patiently() does. */
  for (;;)
    {
      outcome.done = FALSE;
      ps_semaphore_acquire_async (soak->sem[SEM_PLACED], short_wait ? timeout : WAIT_SLICE_US,
                                  NULL, acquired_cb, &outcome);
      while (!outcome.done && !expired)
        g_main_context_iteration (context, TRUE);
      if (short_wait || !outcome.done || outcome.acquired ||
          !g_error_matches (outcome.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        break;
      if (waited_long_enough (soak, started, &outcome.error))
        {
          if (outcome.error == NULL)
            {
              set_units (soak, SEM_PLACED, UNITS_IDLE);
              g_source_destroy (bound);
              g_source_unref (bound);
              return TRUE;
            }
          break;
        }
      g_clear_error (&outcome.error);
    }
  g_source_destroy (bound);
  g_source_unref (bound);

  if (!outcome.done)
    {
      FAIL (soak, "%d: acquire_async with a timeout of %" G_GINT64_FORMAT
            " µs did not complete within %" G_GINT64_FORMAT " s", (int) getpid (), timeout,
            bound_us / G_USEC_PER_SEC);
      return FALSE;
    }
  if (!outcome.acquired)
    {
      gboolean may_expire = short_wait &&
                            (g_error_matches (outcome.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
                             g_error_matches (outcome.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK));

      if (!may_expire)
        FAIL (soak, "%d: acquire_async: %s", (int) getpid (), outcome.error->message);
      else
        g_atomic_int_inc (&soak->control->short_timeouts);
      g_clear_error (&outcome.error);
      set_units (soak, SEM_PLACED, UNITS_IDLE);
      return may_expire;
    }
  g_atomic_int_set (&soak->slot->units_held[SEM_PLACED], 1);
  g_atomic_int_inc (&soak->control->acquires[SEM_PLACED]);
  set_units (soak, SEM_PLACED, UNITS_HELD);
  return release_held (soak, SEM_PLACED);
}

/* Opens every named object again by its name, and lets go of it. */
static gboolean
op_reopen (Soak *soak)
{
  const SoakNames *names = soak->names;
  StressNamedKind kinds[] = {
    STRESS_NAMED_SHARED_MEMORY, STRESS_NAMED_MUTEX, STRESS_NAMED_COND, STRESS_NAMED_SEMAPHORE,
  };
  const char *kind_names[] = { names->data, names->mutex, names->cond, names->semaphore };

  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GObject) object = stress_open_named (kinds[k], kind_names[k], PS_OPEN_NONE, 0,
                                                     &error);

      if (object == NULL)
        {
          FAIL (soak, "%d could not open %s again: %s", (int) getpid (), kind_names[k],
                error->message);
          return FALSE;
        }
    }
  return TRUE;
}

/* The bound on any one operation: its waits' timeout and then some. */
static gint64
op_bound_us (Soak *soak)
{
  return soak->long_timeout + ps_test_scaled_us (10 * G_USEC_PER_SEC);
}

static gboolean
run_op (Soak *soak,
        Op    op)
{
  switch (op)
    {
    case OP_TRANSFER_NAMED:
      return op_transfer (soak, BANK_NAMED);
    case OP_TRANSFER_PLACED:
      return op_transfer (soak, BANK_PLACED);
    case OP_TRANSFER_RECURSIVE:
      return op_transfer_recursive (soak);
    case OP_COND_NAMED:
      return op_cond (soak, BANK_NAMED);
    case OP_COND_PLACED:
      return op_cond (soak, BANK_PLACED);
    case OP_AUDIT:
      return op_audit (soak);
    case OP_SEMAPHORE:
      return op_semaphore (soak);
    case OP_ASYNC:
      return op_async (soak, op_bound_us (soak));
    case OP_REOPEN:
      return op_reopen (soak);
    case N_OPS:
    default:
      g_assert_not_reached ();
    }
  return FALSE;
}

static Op
draw_op (GRand *rand)
{
  guint total = 0, pick;

  for (guint o = 0; o < N_OPS; o++)
    total += op_weights[o];
  pick = (guint) g_rand_int_range (rand, 0, (gint32) total);
  for (guint o = 0; o < N_OPS; o++)
    {
      if (pick < op_weights[o])
        return (Op) o;
      pick -= op_weights[o];
    }
  g_assert_not_reached ();
  return OP_AUDIT;
}

/* Workers ------------------------------------------------------------------- */

typedef struct
{
  Control         *control;
  const SoakNames *names;
  guint            slot;
  guint32          seed;
} WorkerArgs;

static int
worker_main (gpointer data)
{
  WorkerArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (args->seed);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Control *control = args->control;
  Soak soak = {
    .control = control,
    .slot = &control->slots[args->slot],
    .names = args->names,
    .rand = rand,
    .cancellable = cancellable,
    .long_timeout = ps_test_scaled_us (10 * G_USEC_PER_SEC),
  };
  Slot *slot = soak.slot;
  int status = 0;

  stress_die_with_parent ();
  g_main_context_push_thread_default (context);
  if (!soak_open (&soak, FALSE, &error))
    {
      FAIL (&soak, "worker %d could not open the objects: %s", (int) getpid (), error->message);
      return 1;
    }

  while (!g_atomic_int_get (&control->stop))
    {
      Op op;
      gint64 start, elapsed;

      if (g_atomic_int_get (&control->pause))
        {
          /* Holding nothing: the supervisor checks the world meanwhile. */
          g_atomic_int_set (&slot->paused, 1);
          while (g_atomic_int_get (&control->pause) && !g_atomic_int_get (&control->stop))
            g_usleep (200);
          g_atomic_int_set (&slot->paused, 0);
          continue;
        }

      op = draw_op (rand);
      start = g_get_monotonic_time ();
      g_atomic_int_set (&slot->op, op);
      slot->op_start = start;
      if (!run_op (&soak, op))
        {
          status = 1;
          break;
        }
      elapsed = g_get_monotonic_time () - start;
      slot->op_start = 0;
      if (elapsed > op_bound_us (&soak))
        {
          FAIL (&soak, "%d: %s took %" G_GINT64_FORMAT " ms, beyond its bound", (int) getpid (),
                op_names[op], elapsed / 1000);
          status = 1;
          break;
        }
      g_atomic_int_inc (&slot->ops);
    }

  soak_close (&soak);
  g_main_context_pop_thread_default (context);
  return status;
}

/* The supervisor ------------------------------------------------------------ */

typedef struct
{
  Soak     soak;
  GRand   *rand;
  guint    seconds;
  guint    window;          /* index of the current window */
  guint    born[N_WORKERS]; /* the window in which each worker started */
  gint     ops_seen[N_WORKERS];
  /* In the current window, from the deaths: */
  gint     owner_dead_min[N_BANKS];
  gint     owner_dead_max[N_BANKS];
  gint     owner_dead_seen[N_BANKS];   /* control->owner_dead at the last check */
  guint    units_in_doubt[N_SEMS];
  gint64   seq_seen[N_BANKS];
  gint     acquires_seen[N_SEMS];
  /* Totals. */
  guint64  ops;
  guint    kills;
  guint    kills_while_stopped;
  guint    stops;
  guint    spared;          /* strikes withheld from a long operation */
  guint    units_given_back;
  guint    units_in_doubt_lost;
  guint    windows;
} Supervisor;

/* For the watchdog's report. */
static inline void
set_phase (Supervisor *sv,
           Phase       phase,
           gint        arg)
{
  g_atomic_int_set (&sv->soak.control->phase_arg, arg);
  g_atomic_int_set (&sv->soak.control->phase, phase);
}

static void supervisor_fail (Supervisor *sv,
                             const char *format,
                             ...) G_GNUC_PRINTF (2, 3) G_GNUC_NORETURN;

static void
remove_names (const SoakNames *names)
{
  const char *all[] = { names->data, names->mutex, names->cond, names->semaphore };

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    ps_unlink (all[i], NULL);
}

/* Kills every worker, removes the names, and fails the test. */
static void
supervisor_fail (Supervisor *sv,
                 const char *format,
                 ...)
{
  Control *control = sv->soak.control;
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  set_phase (sv, PHASE_FAILING, 0);
  for (guint i = 0; i < N_WORKERS; i++)
    if (control->slots[i].pid > 0)
      {
        kill (control->slots[i].pid, SIGKILL);
        waitpid (control->slots[i].pid, NULL, 0);
      }
  remove_names (sv->soak.names);
  if (g_atomic_int_get (&control->failures.count) != 0)
    g_error ("%s; %d failures in the workers, the first: %s", message,
             g_atomic_int_get (&control->failures.count), control->failures.first);
  g_error ("%s", message);
}

static void
spawn_worker (Supervisor      *sv,
              guint            index)
{
  Control *control = sv->soak.control;
  Slot *slot = &control->slots[index];
  WorkerArgs args = { control, sv->soak.names, index, g_rand_int (sv->rand) };

  set_phase (sv, PHASE_SPAWNING_WORKER, (gint) index);
  memset (slot, 0, sizeof *slot);
  sv->born[index] = sv->window;
  sv->ops_seen[index] = 0;
  slot->pid = ps_test_fork (worker_main, &args, sv->seconds + ps_test_scaled_s (240));
}

/* What a worker's death leaves: the units it surely held go back now;
 * those in doubt, and the OWNER_DEAD it may cause, are settled at the
 * end of the window. */
static void
account_death (Supervisor *sv,
               guint       index)
{
  Slot *slot = &sv->soak.control->slots[index];

  sv->ops += (guint) slot->ops;
  for (guint b = 0; b < N_BANKS; b++)
    switch (slot->hold[b])
      {
      case HOLD_HELD:
        sv->owner_dead_min[b]++;
        sv->owner_dead_max[b]++;
        break;
      case HOLD_LOCKING:
      case HOLD_UNLOCKING:
      case HOLD_COND:
        sv->owner_dead_max[b]++;
        break;
      case HOLD_NONE:
      default:
        break;
      }

  for (guint s = 0; s < N_SEMS; s++)
    {
      guint held = (guint) slot->units_held[s];
      guint sure = held;

      switch (slot->units_state[s])
        {
        case UNITS_ACQUIRING:
          sv->units_in_doubt[s]++;
          break;
        case UNITS_RELEASING:
          sv->units_in_doubt[s] += held;
          sure = 0;
          break;
        case UNITS_IDLE:
          if (held != 0)
            supervisor_fail (sv, "worker %d died idle with %u units", slot->pid, held);
          break;
        case UNITS_HELD:
        default:
          break;
        }
      if (sure > 0)
        {
          g_autoptr(GError) error = NULL;

          /* The application's recovery: a semaphore has no owner. */
          if (!ps_semaphore_release_many (sv->soak.sem[s], sure, &error))
            supervisor_fail (sv, "giving back %u units of the %s semaphore of a dead worker: %s",
                             sure, sem_names[s], error->message);
          sv->units_given_back += sure;
        }
    }
}

static void
kill_worker (Supervisor *sv,
             guint       index,
             gboolean    stopped)
{
  Slot *slot = &sv->soak.control->slots[index];
  int status;

  set_phase (sv, PHASE_KILLING_WORKER, slot->pid);
  if (kill (slot->pid, SIGKILL) != 0)
    supervisor_fail (sv, "kill %d: %s", slot->pid, g_strerror (errno));
  status = ps_test_reap (slot->pid, ps_test_scaled_s (20));
  if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL)
    supervisor_fail (sv, "worker %d ended by itself (%s %d) before it was killed", slot->pid,
                     WIFSIGNALED (status) ? "signal" : "status",
                     WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));
  sv->kills++;
  if (stopped)
    sv->kills_while_stopped++;
  account_death (sv, index);
  spawn_worker (sv, index);
}

/* A worker that ended by itself failed (or its watchdog fired); one
 * whose operation outlived its bound is stuck. */
static void
watch_workers (Supervisor *sv)
{
  Control *control = sv->soak.control;
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < N_WORKERS; i++)
    {
      Slot *slot = &control->slots[i];
      gint64 start = slot->op_start;
      int status;

      if (waitpid (slot->pid, &status, WNOHANG) == slot->pid)
        {
          slot->pid = 0;
          supervisor_fail (sv, "worker %u ended by itself (%s %d)", i,
                           WIFSIGNALED (status) ? "signal" : "status",
                           WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));
        }
      if (start != 0 && now - start > op_bound_us (&sv->soak) + ps_test_scaled_us (5 * G_USEC_PER_SEC))
        supervisor_fail (sv, "worker %d is stuck in %s for %" G_GINT64_FORMAT " s", slot->pid,
                         op_names[g_atomic_int_get (&slot->op)], (now - start) / G_USEC_PER_SEC);
    }
  if (g_atomic_int_get (&control->failures.count) != 0)
    supervisor_fail (sv, "a worker failed");
}

/* Sleeps @us, watching the workers meanwhile. */
static void
watch_for (Supervisor *sv,
           gint64      us)
{
  gint64 end = g_get_monotonic_time () + us;

  do
    {
      watch_workers (sv);
      g_usleep (MIN (2000, MAX (0, end - g_get_monotonic_time ())));
    }
  while (g_get_monotonic_time () < end);
}

/* SIGKILL, or SIGSTOP for 1 to 30 ms then SIGCONT (or, one time in
 * eight, SIGKILL while stopped). */
static void
strike (Supervisor *sv)
{
  guint victim = (guint) g_rand_int_range (sv->rand, 0, N_WORKERS);
  Slot *slot = &sv->soak.control->slots[victim];
  pid_t pid = slot->pid;
  gint64 start = slot->op_start;

  /* A worker whose operation already takes long is left alone: were it
   * stuck, killing it would hide the hang its bound is there to catch. */
  if (start != 0 && g_get_monotonic_time () - start > ps_test_scaled_us (G_USEC_PER_SEC))
    {
      sv->spared++;
      return;
    }
  if (g_rand_int_range (sv->rand, 0, 5) < 2)
    {
      kill_worker (sv, victim, FALSE);
      return;
    }
  set_phase (sv, PHASE_STOPPING_WORKER, pid);
  if (kill (pid, SIGSTOP) != 0)
    supervisor_fail (sv, "SIGSTOP %d: %s", pid, g_strerror (errno));
  sv->stops++;
  g_usleep (g_rand_int_range (sv->rand, 1000, 30000));
  if (g_rand_int_range (sv->rand, 0, 8) == 0)
    kill_worker (sv, victim, TRUE);
  else if (kill (pid, SIGCONT) != 0)
    supervisor_fail (sv, "SIGCONT %d: %s", pid, g_strerror (errno));
}

/* Locks bank @id as the supervisor, collecting an OWNER_DEAD still due,
 * checks it, and unlocks it. */
static void
audit_bank (Supervisor *sv,
            BankId      id)
{
  Control *control = sv->soak.control;
  gint reports;

  if (!bank_lock (&sv->soak, id) || !bank_unlock (&sv->soak, id))
    supervisor_fail (sv, "window %u: the %s bank", sv->window, bank_names[id]);

  /* Every death in this window has been reported by now: to a worker,
   * or to the supervisor just above. At least once for each worker that
   * died surely holding the mutex: a worker counts an OWNER_DEAD before
   * it writes HOLD_HELD, so one that dies before counting it died at an
   * edge, and its death passes OWNER_DEAD on to the next locker. At most
   * once for each death at all near the mutex. */
  reports = g_atomic_int_get (&control->owner_dead[id]) - sv->owner_dead_seen[id];
  if (reports < sv->owner_dead_min[id] || reports > sv->owner_dead_max[id])
    supervisor_fail (sv, "window %u: OWNER_DEAD reported %d times for the %s mutex, "
                     "where %d to %d deaths could cause it", sv->window, reports,
                     bank_names[id], sv->owner_dead_min[id], sv->owner_dead_max[id]);
  sv->owner_dead_seen[id] += reports;
  sv->owner_dead_min[id] = sv->owner_dead_max[id] = 0;
  if (ps_mutex_get_owner_pid (sv->soak.mutex[id]) != 0)
    supervisor_fail (sv, "window %u: the %s mutex is still owned by %d", sv->window,
                     bank_names[id], (int) ps_mutex_get_owner_pid (sv->soak.mutex[id]));
}

/* All workers hold nothing: every unit is back but those lost in doubt,
 * which the supervisor gives back too. */
static void
audit_semaphore (Supervisor *sv,
                 SemId       id)
{
  g_autoptr(GError) error = NULL;
  guint value = ps_semaphore_get_value (sv->soak.sem[id]);
  guint lost = sem_units[id] - MIN (value, sem_units[id]);

  if (value > sem_units[id] || lost > sv->units_in_doubt[id])
    supervisor_fail (sv, "window %u: the %s semaphore has %u of its %u units, "
                     "with %u in doubt", sv->window, sem_names[id], value, sem_units[id],
                     sv->units_in_doubt[id]);
  if (lost > 0 && !ps_semaphore_release_many (sv->soak.sem[id], lost, &error))
    supervisor_fail (sv, "giving back %u units: %s", lost, error->message);
  sv->units_in_doubt_lost += lost;
  sv->units_in_doubt[id] = 0;
  if (ps_semaphore_get_value (sv->soak.sem[id]) != sem_units[id])
    supervisor_fail (sv, "window %u: the %s semaphore has %u units after recovery",
                     sv->window, sem_names[id], ps_semaphore_get_value (sv->soak.sem[id]));
}

/* The end of a window: the workers pause holding nothing, and the world
 * is checked. With @last, they then stop. */
static void
end_window (Supervisor *sv,
            gboolean    last)
{
  Control *control = sv->soak.control;
  gint64 deadline = g_get_monotonic_time () + op_bound_us (&sv->soak);

  g_atomic_int_set (&control->window, (gint) sv->window);
  g_atomic_int_set (&control->pause, 1);
  for (guint i = 0; i < N_WORKERS; i++)
    while (set_phase (sv, PHASE_AWAITING_PAUSE, control->slots[i].pid),
           !g_atomic_int_get (&control->slots[i].paused))
      {
        if (g_get_monotonic_time () > deadline)
          supervisor_fail (sv, "window %u: worker %d did not pause; it is in %s", sv->window,
                           control->slots[i].pid, op_names[g_atomic_int_get (&control->slots[i].op)]);
        watch_for (sv, 500);
      }

  for (guint i = 0; i < N_WORKERS; i++)
    {
      Slot *slot = &control->slots[i];

      for (guint b = 0; b < N_BANKS; b++)
        if (slot->hold[b] != HOLD_NONE)
          supervisor_fail (sv, "worker %d paused in state %d of the %s mutex", slot->pid,
                           slot->hold[b], bank_names[b]);
      for (guint s = 0; s < N_SEMS; s++)
        if (slot->units_held[s] != 0 || slot->units_state[s] != UNITS_IDLE)
          supervisor_fail (sv, "worker %d paused holding %d units", slot->pid,
                           slot->units_held[s]);
    }

  for (guint b = 0; b < N_BANKS; b++)
    {
      gint64 seq;

      set_phase (sv, PHASE_AUDITING_BANK, (gint) b);
      audit_bank (sv, b);
      seq = soak_bank (&sv->soak, b)->seq;
      if (seq <= sv->seq_seen[b])
        supervisor_fail (sv, "window %u: no commit to the %s bank", sv->window, bank_names[b]);
      sv->seq_seen[b] = seq;
    }
  for (guint s = 0; s < N_SEMS; s++)
    {
      gint acquires = g_atomic_int_get (&control->acquires[s]);

      set_phase (sv, PHASE_AUDITING_SEMAPHORE, (gint) s);
      audit_semaphore (sv, s);
      if (acquires <= sv->acquires_seen[s])
        supervisor_fail (sv, "window %u: the %s semaphore was never acquired", sv->window,
                         sem_names[s]);
      sv->acquires_seen[s] = acquires;
    }
  for (guint i = 0; i < N_WORKERS; i++)
    {
      gint ops = g_atomic_int_get (&control->slots[i].ops);

      if (sv->born[i] < sv->window && ops <= sv->ops_seen[i])
        supervisor_fail (sv, "window %u: worker %d made no progress", sv->window,
                         control->slots[i].pid);
      sv->ops_seen[i] = ops;
    }

  sv->windows++;
  sv->window++;
  if (last)
    g_atomic_int_set (&control->stop, 1);
  g_atomic_int_set (&control->pause, 0);
}

/* The summary, for the log (and the terminal of a manual run). */
static void
report (Supervisor *sv,
        double      seconds)
{
  Control *control = sv->soak.control;
  gint64 commits = 0;
  gint owner_dead = 0, repairs = 0;
  guint64 ops = sv->ops;   /* of the workers killed, and of the living: */
  g_autofree char *line = NULL;

  for (guint i = 0; i < N_WORKERS; i++)
    ops += (guint) g_atomic_int_get (&control->slots[i].ops);

  for (guint b = 0; b < N_BANKS; b++)
    {
      commits += soak_bank (&sv->soak, b)->seq;
      owner_dead += control->owner_dead[b];
      repairs += control->repairs[b];
    }
  line = g_strdup_printf ("soak: %.0f s, %u windows, %u workers, %" G_GUINT64_FORMAT " operations, "
                          "%" G_GINT64_FORMAT " commits; %u SIGKILLs (%u of stopped workers), "
                          "%u SIGSTOPs (%u spared); %d OWNER_DEAD recoveries, %d torn updates rolled back; "
                          "%d semaphore acquires (%d async), %d short waits expired, "
                          "%u units of dead workers given back, %u more in doubt; "
                          "condition waits: %d woken, %d timed out",
                          seconds, sv->windows, N_WORKERS, ops, commits, sv->kills,
                          sv->kills_while_stopped, sv->stops, sv->spared, owner_dead, repairs,
                          control->acquires[SEM_NAMED] + control->acquires[SEM_PLACED],
                          control->acquires[SEM_PLACED], control->short_timeouts,
                          sv->units_given_back, sv->units_in_doubt_lost,
                          control->cond_woken, control->cond_timed_out);
  g_test_message ("%s", line);
  fflush (stdout);   /* a long run's progress, even into a file */
}

/* Seconds to run: --minutes N, else PS_SOAK_SECONDS, else the default. */
static guint soak_seconds = DEFAULT_SECONDS;

/* The supervisor's watchdog ----------------------------------------------- */

/* Where the supervisor was and what each worker was doing, written to
 * stderr when the test's watchdog fires, so that a soak that overran its
 * time says why instead of dying mute. Signal-safe: write(), open(),
 * read() and clock_gettime() only. */
static Control *watched_control;
static const SoakNames *watched_names;

static void
dog_write (const char *text)
{
  gsize length = strlen (text);

  while (length > 0)
    {
      ssize_t n = write (STDERR_FILENO, text, length);

      if (n <= 0)
        return;
      text += n;
      length -= (gsize) n;
    }
}

/* @value in decimal, at the end of @digits (24 bytes): where it starts. */
static const char *
dog_format_int (gint64 value,
                char   digits[24])
{
  guint i = 23;
  gboolean negative = value < 0;
  guint64 magnitude = negative ? (guint64) -(value + 1) + 1 : (guint64) value;

  digits[i] = '\0';
  do
    {
      digits[--i] = (char) ('0' + magnitude % 10);
      magnitude /= 10;
    }
  while (magnitude != 0 && i > 1);
  if (negative)
    digits[--i] = '-';
  return digits + i;
}

static void
dog_write_int (gint64 value)
{
  char digits[24];

  dog_write (dog_format_int (value, digits));
}

/* Reads /proc/@pid/@file into @buffer, NUL-terminated: its length, or
 * -1. */
static ssize_t
dog_read_proc (gint        pid,
               const char *file,
               char       *buffer,
               gsize       size)
{
  char path[64] = "/proc/";
  char digits[24];
  const char *number = dog_format_int (pid, digits);
  gsize at = strlen (path);
  ssize_t n;
  int fd;

  memcpy (path + at, number, strlen (number));
  at += strlen (number);
  path[at++] = '/';
  memcpy (path + at, file, strlen (file) + 1);

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read (fd, buffer, size - 1);
  close (fd);
  if (n >= 0)
    buffer[n] = '\0';
  return n;
}

/* The state letter and wait channel of @pid. */
static void
dog_write_proc (gint pid)
{
  char buffer[512];

  if (dog_read_proc (pid, "stat", buffer, sizeof buffer) > 0)
    {
      /* The state follows the command's ") ". */
      char *end = strrchr (buffer, ')');

      if (end != NULL && end[1] == ' ' && end[2] != '\0')
        {
          char state[2] = { end[2], '\0' };

          dog_write (", state ");
          dog_write (state);
        }
    }
  if (dog_read_proc (pid, "wchan", buffer, sizeof buffer) > 0)
    {
      dog_write (", in ");
      dog_write (buffer);
    }
}

static void
soak_watchdog_fired (int signal_number)
{
  Control *control = watched_control;
  struct timespec now;
  gint64 now_us;
  gint phase;

  clock_gettime (CLOCK_MONOTONIC, &now);
  now_us = (gint64) now.tv_sec * G_USEC_PER_SEC + now.tv_nsec / 1000;
  phase = g_atomic_int_get (&control->phase);

  /* The clocks, in case the run's end never came by the clock it uses. */
  dog_write ("soak: ");
  dog_write_int ((now_us - control->start_us) / 1000);
  dog_write (" ms since the start on the monotonic clock, ");
  clock_gettime (CLOCK_REALTIME, &now);
  dog_write_int (((gint64) now.tv_sec * G_USEC_PER_SEC + now.tv_nsec / 1000 -
                  control->start_wall_us) / 1000);
  dog_write (" ms on the wall clock; the run ends at ");
  dog_write_int ((gint64) soak_seconds * 1000);
  dog_write (" ms\n");

  dog_write ("soak: the watchdog fired in window ");
  dog_write_int (g_atomic_int_get (&control->window));
  dog_write (", the supervisor ");
  dog_write (phase >= 0 && phase < N_PHASES ? phase_names[phase] : "?");
  dog_write (" (");
  dog_write_int (g_atomic_int_get (&control->phase_arg));
  dog_write ("); pause ");
  dog_write_int (g_atomic_int_get (&control->pause));
  dog_write (", stop ");
  dog_write_int (g_atomic_int_get (&control->stop));
  dog_write ("\n");
  for (guint i = 0; i < N_WORKERS; i++)
    {
      Slot *slot = &control->slots[i];
      gint64 start = slot->op_start;
      gint op = g_atomic_int_get (&slot->op);

      dog_write ("  worker ");
      dog_write_int (i);
      dog_write (": pid ");
      dog_write_int (slot->pid);
      dog_write (slot->paused ? ", paused" : ", running");
      dog_write (", ");
      dog_write_int (slot->ops);
      dog_write (" operations, ");
      if (start != 0)
        {
          dog_write (op >= 0 && op < N_OPS ? op_names[op] : "?");
          dog_write (" for ");
          dog_write_int ((now_us - start) / 1000);
          dog_write (" ms");
        }
      else
        dog_write ("between operations");
      dog_write (", holds");
      for (guint b = 0; b < N_BANKS; b++)
        {
          dog_write (" ");
          dog_write_int (slot->hold[b]);
        }
      if (slot->pid > 0)
        dog_write_proc (slot->pid);
      dog_write ("\n");
    }
  /* The names go, as supervisor_fail() removes them: shm_unlink() is
   * an unlink() of a path under /dev/shm. */
  shm_unlink (watched_names->data);
  shm_unlink (watched_names->mutex);
  shm_unlink (watched_names->cond);
  shm_unlink (watched_names->semaphore);
  signal (signal_number, SIG_DFL);
  raise (signal_number);
}

/* The test's watchdog (ps_test_watchdog()) still ends it, with the same
 * signal, once it has said where everybody was. */
static void
watch_supervisor (Control         *control,
                  const SoakNames *names)
{
  struct sigaction action = { 0, };

  watched_control = control;
  watched_names = names;
  action.sa_handler = soak_watchdog_fired;
  sigemptyset (&action.sa_mask);
  g_assert_cmpint (sigaction (SIGALRM, &action, NULL), ==, 0);
}

static void
test_soak (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) control_memory = NULL;
  g_autoptr(GVariant) largest = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  SoakNames names = {
    ps_test_unique_name ("soak-data"), ps_test_unique_name ("soak-mutex"),
    ps_test_unique_name ("soak-cond"), ps_test_unique_name ("soak-sem"),
  };
  Supervisor sv = {
    .soak = {
      .control = ps_test_shared_new (sizeof (Control), &control_memory),
      .names = &names,
      .long_timeout = ps_test_scaled_us (10 * G_USEC_PER_SEC),
    },
    .rand = rand,
    .seconds = soak_seconds,
  };
  Control *control = sv.soak.control;
  gint64 start = g_get_monotonic_time ();
  gint64 end = start + (gint64) soak_seconds * G_USEC_PER_SEC;
  gint64 next_report = start + 60 * G_USEC_PER_SEC;

  control->start_us = start;
  control->start_wall_us = g_get_real_time ();

  watch_supervisor (control, &names);
  g_assert_true (soak_open (&sv.soak, TRUE, &error));
  g_assert_no_error (error);
  for (guint b = 0; b < N_BANKS; b++)
    {
      Bank *bank = soak_bank (&sv.soak, b);

      for (guint i = 0; i < N_ACCOUNTS; i++)
        bank->accounts[i] = ACCOUNT_START;
      bank->hash = bank_hash (bank);
    }
  g_assert_true (write_copies (&sv.soak, 0));
  largest = g_variant_ref_sink (copy_variant (39));
  g_assert_cmpuint (ps_shared_memory_measure_variant (largest), <=, VARIANT_ROOM);

  for (guint i = 0; i < N_WORKERS; i++)
    spawn_worker (&sv, i);

  while (g_get_monotonic_time () < end)
    {
      gint64 now = g_get_monotonic_time ();
      /* No short last window: it would leave too little time for progress. */
      gint64 window_end = end - now < 2 * WINDOW_SECONDS * G_USEC_PER_SEC
                          ? end : now + WINDOW_SECONDS * G_USEC_PER_SEC;

      while (g_get_monotonic_time () < window_end)
        {
          set_phase (&sv, PHASE_WATCHING, 0);
          watch_for (&sv, g_rand_int_range (sv.rand, 10000, 100000));
          strike (&sv);
        }
      end_window (&sv, g_get_monotonic_time () >= end);
      if (g_get_monotonic_time () >= next_report && g_get_monotonic_time () < end)
        {
          report (&sv, (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
          next_report += 60 * G_USEC_PER_SEC;
        }
    }

  for (guint i = 0; i < N_WORKERS; i++)
    {
      set_phase (&sv, PHASE_REAPING_WORKERS, control->slots[i].pid);
      ps_test_reap_ok (control->slots[i].pid, ps_test_scaled_s (30));
      control->slots[i].pid = 0;
    }
  report (&sv, (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
  g_assert_cmpint (control->failures.count, ==, 0);

  /* Left as made: every mutex free and consistent, every unit back. */
  for (guint b = 0; b < N_BANKS; b++)
    {
      g_assert_cmpint (ps_mutex_get_owner_pid (sv.soak.mutex[b]), ==, 0);
      g_assert_true (ps_mutex_try_lock (sv.soak.mutex[b], &error));
      g_assert_no_error (error);
      g_assert_true (bank_verify (&sv.soak, b, "at the end"));
      g_assert_true (ps_mutex_unlock (sv.soak.mutex[b], &error));
      g_assert_no_error (error);
    }
  for (guint s = 0; s < N_SEMS; s++)
    g_assert_cmpuint (ps_semaphore_get_value (sv.soak.sem[s]), ==, sem_units[s]);
  /* The soak did what it is for. */
  g_assert_cmpuint (sv.kills, >, 0);
  g_assert_cmpuint (sv.stops, >, 0);

  soak_close (&sv.soak);
  remove_names (&names);
  g_free (names.data);
  g_free (names.mutex);
  g_free (names.cond);
  g_free (names.semaphore);
}

/* Takes --minutes N (or --minutes=N) out of the arguments. */
static gboolean
parse_minutes (int    *argc,
               char ***argv)
{
  const char *env = g_getenv ("PS_SOAK_SECONDS");
  int out = 1;

  if (env != NULL && *env != '\0')
    soak_seconds = (guint) g_ascii_strtoull (env, NULL, 10);
  for (int i = 1; i < *argc; i++)
    {
      const char *arg = (*argv)[i];
      const char *value = NULL;

      if (g_str_equal (arg, "--minutes") && i + 1 < *argc)
        value = (*argv)[++i];
      else if (g_str_has_prefix (arg, "--minutes="))
        value = arg + strlen ("--minutes=");
      else
        {
          (*argv)[out++] = (*argv)[i];
          continue;
        }
      soak_seconds = (guint) (60 * g_ascii_strtod (value, NULL));
    }
  (*argv)[out] = NULL;
  *argc = out;
  return soak_seconds >= WINDOW_SECONDS;
}

int
main (int argc, char *argv[])
{
  if (!parse_minutes (&argc, &argv))
    {
      g_printerr ("usage: %s [--minutes N]: at least %d seconds (PS_SOAK_SECONDS)\n", argv[0],
                  WINDOW_SECONDS);
      return 2;
    }
  stress_init (&argc, &argv, NULL);
  ps_test_add_timed ("/stress/soak/every-class", test_soak,
                     soak_seconds + ps_test_scaled_s (180));
  return g_test_run ();
}
