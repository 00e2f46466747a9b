/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Hostile or corrupted shared memory. A peer with write access to a
 * segment can write anything over the objects in it; procshared cannot
 * stop that, but it must not let it crash or hang any other process:
 * every call either behaves as for some valid state or fails cleanly
 * (PS_ERROR_CORRUPT above all), and every wait stays bounded by its
 * timeout.
 *
 * Each trial places a semaphore, a mutex or a condition variable in a
 * PsSharedMemory, scribbles over it (random bytes over its state, its
 * header, both, or random words here and there), and runs a victim
 * process through the whole API on it: with a handle made before the
 * scribbling, and with one attached after it. The victim checks every
 * result and every elapsed time; the parent checks that it was neither
 * killed by a signal nor stopped by its watchdog. Variants scribble
 * while the victim sleeps in a wait, and while another process holds the
 * mutex. Named objects are scribbled through their file and reopened.
 *
 * Truncation is special: a mapping that reaches past the end of its
 * file raises SIGBUS in whoever touches it. The truncation tests state
 * exactly what procshared guarantees there (see each test).
 *
 * Every outcome is tallied and printed, so that the log says what
 * happened, not only that nothing crashed.
 */

#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "stress-util.h"
#include "ps-backend-private.h"
#include "ps-object-header-private.h"

/* The futex and posix locks keep the layout of glibc's pthread_mutex_t,
 * with its robust-list links, at the start of a mutex's state; the darwin
 * lock (macOS has no robust lists) has no such links. */
#if defined(__GLIBC__) && PS_BACKEND_ID != PS_BACKEND_DARWIN
# define LOCK_HAS_ROBUST_LIST 1
#endif

#define N_TRIALS        200
#define N_TRIALS_SLOW   30
#define SHORT_WAIT_US   2000
#define SLEEP_WAIT_US   (50 * 1000)
#define OBJECT_OFFSET   0
#define HELPER_OFFSET   PS_OBJECT_SLOT_SIZE      /* an untouched mutex, for the cond */
#define SEGMENT_SIZE    (4 * PS_OBJECT_SLOT_SIZE)
/* A victim makes a dozen calls of a few ms each, and an attach may wait
 * 2 s for a header that looks half-made: far more than that is a hang. */
#define VICTIM_WATCHDOG_S 10
/* Stop a test after this many failed trials: each hang costs a watchdog. */
#define MAX_FAILED_TRIALS 5

typedef enum
{
  OBJ_SEMAPHORE,
  OBJ_MUTEX,
  OBJ_COND,
  N_OBJ_KINDS
} ObjKind;

static const char *obj_names[N_OBJ_KINDS] = { "semaphore", "mutex", "cond" };

typedef enum
{
  SCRIBBLE_STATE,      /* random bytes over the state, header intact */
  SCRIBBLE_HEADER,     /* random bytes over the header only */
  SCRIBBLE_SLOT,       /* random bytes over all of it */
  SCRIBBLE_WORDS,      /* random values in a few 32-bit words */
  N_SCRIBBLE_KINDS
} ScribbleKind;

static const char *scribble_names[N_SCRIBBLE_KINDS] = { "state", "header", "slot", "words" };

/* Outcomes, tallied across trials (in shared memory: victims write them). */
typedef enum
{
  OUT_OK,
  OUT_OK_HELD,         /* the lock call said held (TRUE or OWNER_DEAD) */
  OUT_CORRUPT,
  OUT_INCOMPATIBLE,
  OUT_WRONG_TYPE,
  OUT_TIMED_OUT,
  OUT_WOULD_BLOCK,
  OUT_OVERFLOW,
  OUT_OWNER_DEAD,
  OUT_NOT_RECOVERABLE,
  OUT_NOT_OWNER,
  OUT_WOULD_DEADLOCK,
  OUT_OTHER_PID_NS,    /* G_IO_ERROR_NOT_SUPPORTED: a mutex that says it is of
                        * another PID namespace, as a scribble may */
  OUT_FAILED,          /* PS_ERROR_FAILED: allowed by no contract, reported */
  OUT_OTHER,
  N_OUTCOMES
} Outcome;

static const char *outcome_names[N_OUTCOMES] = {
  "ok", "held", "CORRUPT", "INCOMPATIBLE", "WRONG_TYPE", "TIMED_OUT", "WOULD_BLOCK",
  "OVERFLOW", "OWNER_DEAD", "NOT_RECOVERABLE", "NOT_OWNER", "WOULD_DEADLOCK",
  "NOT_SUPPORTED", "FAILED", "other",
};

typedef struct
{
  gint tally[N_OUTCOMES];
  gint late;             /* calls that overran their timeout by more than the bound */
  StressFailures problems;   /* of the current trial */
} Report;

static Outcome
classify (gboolean  ok,
          GError   *error)
{
  if (ok)
    return OUT_OK;
  if (error == NULL)
    return OUT_OK;   /* try_lock/try_acquire: merely busy */
  if (error->domain == PS_ERROR)
    switch (error->code)
      {
      case PS_ERROR_CORRUPT: return OUT_CORRUPT;
      case PS_ERROR_INCOMPATIBLE: return OUT_INCOMPATIBLE;
      case PS_ERROR_WRONG_TYPE: return OUT_WRONG_TYPE;
      case PS_ERROR_OVERFLOW: return OUT_OVERFLOW;
      case PS_ERROR_OWNER_DEAD: return OUT_OWNER_DEAD;
      case PS_ERROR_NOT_RECOVERABLE: return OUT_NOT_RECOVERABLE;
      case PS_ERROR_NOT_OWNER: return OUT_NOT_OWNER;
      case PS_ERROR_WOULD_DEADLOCK: return OUT_WOULD_DEADLOCK;
      case PS_ERROR_FAILED: return OUT_FAILED;
      default: return OUT_OTHER;
      }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return OUT_TIMED_OUT;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return OUT_WOULD_BLOCK;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    return OUT_OTHER_PID_NS;
  return OUT_OTHER;
}

/* Records the outcome of one call; FALSE if it is one that no call may
 * return. @allowed is a mask of Outcome bits. */
static gboolean
note (Report     *report,
      const char *what,
      gboolean    ok,
      GError     *error,
      guint       allowed,
      gint64      elapsed_us,
      gint64      timeout_us)
{
  Outcome outcome = classify (ok, error);

  g_atomic_int_inc (&report->tally[outcome]);
  if (timeout_us >= 0 && elapsed_us > timeout_us + ps_test_scaled_us (2 * G_USEC_PER_SEC))
    {
      g_atomic_int_inc (&report->late);
      stress_fail (&report->problems, "%s took %" G_GINT64_FORMAT " us with a timeout of %"
                   G_GINT64_FORMAT, what, elapsed_us, timeout_us);
      return FALSE;
    }
  if (!(allowed & (1u << outcome)))
    {
      stress_fail (&report->problems, "%s: %s", what, error != NULL ? error->message : "?");
      return FALSE;
    }
  return TRUE;
}

#define BIT(o) (1u << (o))

/* What each call may answer, whatever the memory holds. */
#define SEM_WAIT_OK   (BIT (OUT_OK) | BIT (OUT_TIMED_OUT) | BIT (OUT_WOULD_BLOCK) | BIT (OUT_CORRUPT))
#define SEM_POST_OK   (BIT (OUT_OK) | BIT (OUT_OVERFLOW) | BIT (OUT_CORRUPT))
#define MUTEX_LOCK_OK (BIT (OUT_OK) | BIT (OUT_TIMED_OUT) | BIT (OUT_WOULD_BLOCK) | \
                       BIT (OUT_OWNER_DEAD) | BIT (OUT_NOT_RECOVERABLE) | \
                       BIT (OUT_WOULD_DEADLOCK) | BIT (OUT_CORRUPT))
#define MUTEX_UNLOCK_OK (BIT (OUT_OK) | BIT (OUT_NOT_OWNER) | BIT (OUT_WOULD_DEADLOCK) | \
                         BIT (OUT_CORRUPT))
#define COND_WAIT_OK  (BIT (OUT_OK) | BIT (OUT_TIMED_OUT) | BIT (OUT_OWNER_DEAD) | \
                       BIT (OUT_CORRUPT))
#define ATTACH_OK     (BIT (OUT_OK) | BIT (OUT_CORRUPT) | BIT (OUT_INCOMPATIBLE) | \
                       BIT (OUT_WRONG_TYPE) | BIT (OUT_OTHER_PID_NS))

/* The victim: the whole API, each call checked ------------------------------- */

static gboolean
exercise_semaphore (PsSemaphore *semaphore,
                    Report      *report,
                    gint64       wait_us)
{
  gboolean fine = TRUE;
  gint64 start;

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(GError) error = NULL;
      gboolean ok;

      (void) ps_semaphore_get_value (semaphore);
      (void) ps_semaphore_get_max_value (semaphore);

      ok = ps_semaphore_try_acquire (semaphore);
      fine &= note (report, "try_acquire", ok, NULL, SEM_WAIT_OK, 0, -1);

      start = g_get_monotonic_time ();
      ok = ps_semaphore_acquire (semaphore, wait_us, NULL, &error);
      fine &= note (report, "acquire", ok, error, SEM_WAIT_OK,
                    g_get_monotonic_time () - start, wait_us);
      g_clear_error (&error);

      ok = ps_semaphore_acquire (semaphore, 0, NULL, &error);
      fine &= note (report, "acquire(0)", ok, error, SEM_WAIT_OK, 0, -1);
      g_clear_error (&error);

      for (guint i = 0; i < 3; i++)
        {
          ok = ps_semaphore_release (semaphore, &error);
          fine &= note (report, "release", ok, error, SEM_POST_OK, 0, -1);
          g_clear_error (&error);
        }
    }
  return fine;
}

static gboolean
lock_and_release (PsMutex    *mutex,
                  Report     *report,
                  gint64      wait_us)
{
  g_autoptr(GError) error = NULL;
  gboolean fine = TRUE;
  gboolean held;
  gint64 start;

  start = g_get_monotonic_time ();
  held = ps_mutex_lock (mutex, wait_us, NULL, &error);
  fine &= note (report, "lock", held, error, MUTEX_LOCK_OK,
                g_get_monotonic_time () - start, wait_us);
  if (g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
    {
      held = TRUE;
      g_clear_error (&error);
      fine &= note (report, "mark_consistent", ps_mutex_mark_consistent (mutex, &error),
                    error, MUTEX_UNLOCK_OK, 0, -1);
    }
  g_clear_error (&error);
  if (held)
    {
      g_atomic_int_inc (&report->tally[OUT_OK_HELD]);
      fine &= note (report, "unlock", ps_mutex_unlock (mutex, &error), error,
                    MUTEX_UNLOCK_OK, 0, -1);
    }
  return fine;
}

static gboolean
exercise_mutex (PsMutex *mutex,
                Report  *report,
                gint64   wait_us)
{
  gboolean fine = TRUE;

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(GError) error = NULL;
      gboolean held;

      (void) ps_mutex_get_owner_pid (mutex);
      (void) ps_mutex_is_recursive (mutex);

      held = ps_mutex_try_lock (mutex, &error);
      fine &= note (report, "try_lock", held, error, MUTEX_LOCK_OK, 0, -1);
      if (g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
        held = TRUE;
      g_clear_error (&error);
      if (held)
        {
          fine &= note (report, "mark_consistent", ps_mutex_mark_consistent (mutex, &error),
                        error, MUTEX_UNLOCK_OK, 0, -1);
          g_clear_error (&error);
          fine &= note (report, "unlock", ps_mutex_unlock (mutex, &error), error,
                        MUTEX_UNLOCK_OK, 0, -1);
          g_clear_error (&error);
        }

      fine &= lock_and_release (mutex, report, wait_us);

      /* Unlocking what one does not hold, whatever the state says. */
      fine &= note (report, "stray unlock", ps_mutex_unlock (mutex, &error), error,
                    MUTEX_UNLOCK_OK, 0, -1);
      g_clear_error (&error);
      fine &= note (report, "stray mark_consistent", ps_mutex_mark_consistent (mutex, &error),
                    error, MUTEX_UNLOCK_OK, 0, -1);
    }
  return fine;
}

static gboolean
exercise_cond (PsCond  *cond,
               PsMutex *helper,
               Report  *report,
               gint64   wait_us)
{
  gboolean fine = TRUE;

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(GError) error = NULL;
      gboolean ok;
      gint64 start;

      ps_cond_signal (cond);
      ps_cond_broadcast (cond);

      if (!ps_mutex_lock (helper, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, &error))
        {
          stress_fail (&report->problems, "the helper mutex: %s", error->message);
          return FALSE;
        }
      start = g_get_monotonic_time ();
      if (round == 0)
        ok = ps_cond_wait (cond, helper, wait_us, NULL, &error);
      else
        ok = ps_cond_wait_until (cond, helper, start + wait_us, NULL, &error);
      fine &= note (report, "cond wait", ok, error, COND_WAIT_OK,
                    g_get_monotonic_time () - start, wait_us);
      g_clear_error (&error);

      /* Whatever the cond's state, the mutex is held again. */
      if (!ps_mutex_unlock (helper, &error))
        {
          stress_fail (&report->problems, "the mutex was not held after a cond wait: %s",
                       error->message);
          fine = FALSE;
        }
    }
  return fine;
}

typedef struct
{
  ObjKind         kind;
  PsSharedMemory *memory;
  gpointer        handle;      /* made before the scribbling */
  PsMutex        *helper;
  Report         *report;
  gint64          wait_us;
  gint           *sync;        /* sleeping mode: set once the victim is about to wait */
} VictimArgs;

static gboolean
exercise (ObjKind   kind,
          gpointer  handle,
          PsMutex  *helper,
          Report   *report,
          gint64    wait_us)
{
  switch (kind)
    {
    case OBJ_SEMAPHORE:
      return exercise_semaphore (handle, report, wait_us);
    case OBJ_MUTEX:
      return exercise_mutex (handle, report, wait_us);
    case OBJ_COND:
      return exercise_cond (handle, helper, report, wait_us);
    case N_OBJ_KINDS:
    default:
      g_assert_not_reached ();
    }
}

static gpointer
attach (ObjKind          kind,
        PsSharedMemory  *memory,
        GError         **error)
{
  switch (kind)
    {
    case OBJ_SEMAPHORE:
      return ps_semaphore_attach (memory, OBJECT_OFFSET, error);
    case OBJ_MUTEX:
      return ps_mutex_attach (memory, OBJECT_OFFSET, error);
    case OBJ_COND:
      return ps_cond_attach (memory, OBJECT_OFFSET, error);
    case N_OBJ_KINDS:
    default:
      g_assert_not_reached ();
    }
}

static int
victim_child (gpointer data)
{
  VictimArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) attached = NULL;
  gboolean fine;

  stress_die_with_parent ();

  /* The handle from before: its state was scribbled under it. */
  fine = exercise (args->kind, args->handle, args->helper, args->report, args->wait_us);

  /* A fresh attach to whatever is there now. */
  attached = attach (args->kind, args->memory, &error);
  fine &= note (args->report, "attach", attached != NULL, error, ATTACH_OK, 0, -1);
  if (attached != NULL)
    fine &= exercise (args->kind, attached, args->helper, args->report, args->wait_us);
  return fine ? 0 : 1;
}

/* A victim asleep in a wait while its object is scribbled on. */
static int
sleeper_child (gpointer data)
{
  VictimArgs *args = data;
  g_autoptr(GError) error = NULL;
  gint64 start;
  gboolean ok;
  guint allowed;

  stress_die_with_parent ();

  if (args->kind == OBJ_COND &&
      !ps_mutex_lock (args->helper, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, NULL))
    return 2;

  g_atomic_int_set (args->sync, 1);
  start = g_get_monotonic_time ();
  switch (args->kind)
    {
    case OBJ_SEMAPHORE:
      ok = ps_semaphore_acquire (args->handle, SLEEP_WAIT_US, NULL, &error);
      allowed = SEM_WAIT_OK;
      break;
    case OBJ_MUTEX:
      ok = ps_mutex_lock (args->handle, SLEEP_WAIT_US, NULL, &error);
      allowed = MUTEX_LOCK_OK;
      break;
    case OBJ_COND:
      ok = ps_cond_wait (args->handle, args->helper, SLEEP_WAIT_US, NULL, &error);
      allowed = COND_WAIT_OK;
      break;
    case N_OBJ_KINDS:
    default:
      g_assert_not_reached ();
    }
  if (!note (args->report, "sleeping wait", ok, error, allowed,
             g_get_monotonic_time () - start, SLEEP_WAIT_US))
    return 1;
  if (args->kind == OBJ_COND && !ps_mutex_unlock (args->helper, NULL))
    return 3;
  if (args->kind == OBJ_MUTEX && (ok || g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD)))
    {
      g_clear_error (&error);
      ps_mutex_mark_consistent (args->handle, NULL);
      if (!note (args->report, "unlock", ps_mutex_unlock (args->handle, &error), error,
                 MUTEX_UNLOCK_OK, 0, -1))
        return 4;
    }
  return 0;
}

/* A process that holds the mutex while it is scribbled on, then lets
 * go of it and locks it again. */
static int
holder_child (gpointer data)
{
  VictimArgs *args = data;
  g_autoptr(GError) error = NULL;
  gboolean fine;

  stress_die_with_parent ();

  if (!ps_mutex_lock (args->handle, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, &error))
    return 2;
  g_atomic_int_set (args->sync, 1);
  if (!ps_test_wait_int (args->sync, 2, 30))
    return 3;
  fine = note (args->report, "holder unlock", ps_mutex_unlock (args->handle, &error), error,
               MUTEX_UNLOCK_OK, 0, -1);
  g_clear_error (&error);
  fine &= lock_and_release (args->handle, args->report, args->wait_us);
  return fine ? 0 : 1;
}

/* The scribbler ------------------------------------------------------------ */

/* A 32-bit word of the object at @at, through memcpy: byte pointers into
 * the slot carry no alignment for the compiler to trust, and a 4-byte
 * copy to an aligned address is one plain store all the same. */
static void
store_word (guint8  *at,
            guint32  value)
{
  memcpy (at, &value, sizeof value);
}

static guint32
load_word (const guint8 *at)
{
  guint32 value;

  memcpy (&value, at, sizeof value);
  return value;
}

static void
fill_random (GRand  *rand,
             guint8 *bytes,
             gsize   length)
{
  /* Bytes with a bias towards the values that parsers trip on. */
  static const guint8 special[] = { 0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe };

  for (gsize i = 0; i < length; i++)
    bytes[i] = g_rand_int_range (rand, 0, 4) == 0
               ? special[g_rand_int_range (rand, 0, G_N_ELEMENTS (special))]
               : (guint8) g_rand_int (rand);
}

static void
scribble (GRand        *rand,
          guint8       *slot,
          ScribbleKind  kind)
{
  switch (kind)
    {
    case SCRIBBLE_STATE:
      fill_random (rand, slot + sizeof (PsObjectHeader), PS_OBJECT_STATE_SIZE);
      break;
    case SCRIBBLE_HEADER:
      fill_random (rand, slot, sizeof (PsObjectHeader));
      break;
    case SCRIBBLE_SLOT:
      fill_random (rand, slot, PS_OBJECT_SLOT_SIZE);
      break;
    case SCRIBBLE_WORDS:
      {
        /* One to four words of the first 96 bytes, where every state
         * keeps its fields; values anywhere in 32 bits. */
        guint n = g_rand_int_range (rand, 1, 5);

        for (guint i = 0; i < n; i++)
          {
            guint word = g_rand_int_range (rand, 0, 24);
            guint32 value = g_rand_int (rand);

            switch (g_rand_int_range (rand, 0, 4))
              {
              case 0: value = 0; break;
              case 1: value = G_MAXUINT32 - (value & 0xf); break;
              case 2: value &= 0xff; break;
              default: break;
              }
            store_word (slot + 4 * word, value);
          }
      }
      break;
    case N_SCRIBBLE_KINDS:
    default:
      g_assert_not_reached ();
    }
}

/* Scribbling on a mutex that another process holds, sparing the one thing
 * no robust pthread mutex survives: the robust-list links in it, which
 * the holder follows (and writes through) when it unlocks. The README
 * states this limit; everything else is fair game. */
static void
scribble_held (GRand        *rand,
               guint8       *slot,
               ScribbleKind  kind,
               gboolean      held)
{
#ifdef LOCK_HAS_ROBUST_LIST
  guint8 *links = slot + sizeof (PsObjectHeader) + offsetof (pthread_mutex_t, __data.__list);
  guint8 saved[sizeof (((pthread_mutex_t *) NULL)->__data.__list)];

  if (held)
    memcpy (saved, links, sizeof saved);
  scribble (rand, slot, kind);
  if (held)
    memcpy (links, saved, sizeof saved);
#else
  scribble (rand, slot, kind);
#endif
}

static gpointer
make_object (ObjKind          kind,
             PsSharedMemory  *memory,
             GRand           *rand)
{
  g_autoptr(GError) error = NULL;
  gpointer object = NULL;

  switch (kind)
    {
    case OBJ_SEMAPHORE:
      object = ps_semaphore_new_at (memory, OBJECT_OFFSET, g_rand_int_range (rand, 0, 3), &error);
      break;
    case OBJ_MUTEX:
      object = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                               "memory", memory,
                               "offset", (guint64) OBJECT_OFFSET,
                               "recursive", g_rand_boolean (rand),
                               NULL);
      break;
    case OBJ_COND:
      object = ps_cond_new_at (memory, OBJECT_OFFSET, &error);
      break;
    case N_OBJ_KINDS:
    default:
      g_assert_not_reached ();
    }
  g_assert_no_error (error);
  return object;
}

typedef enum
{
  MODE_BEFORE,      /* scribble, then run the victim */
  MODE_SLEEPING,    /* scribble while the victim waits */
  MODE_HELD,        /* scribble while another process holds the mutex */
} TrialMode;

typedef struct
{
  ObjKind   kind;
  TrialMode mode;
} HostileCase;

typedef struct
{
  guint crashed[N_SCRIBBLE_KINDS];
  guint hung[N_SCRIBBLE_KINDS];
  guint failed[N_SCRIBBLE_KINDS];
  char  first[512];
} Failures;

static void
check_child (pid_t         pid,
             const char   *who,
             ScribbleKind  how,
             guint         trial,
             guint32       seed,
             Report       *report,
             Failures     *failures)
{
  int status = ps_test_reap (pid, ps_test_scaled_s (VICTIM_WATCHDOG_S + 20));
  g_autofree char *what = NULL;

  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return;

  if (WIFSIGNALED (status) && WTERMSIG (status) == SIGALRM)
    {
      failures->hung[how]++;
      what = g_strdup_printf ("the %s hung", who);
    }
  else if (WIFSIGNALED (status))
    {
      failures->crashed[how]++;
      what = g_strdup_printf ("the %s died of signal %d (%s)", who, WTERMSIG (status),
                              g_strsignal (WTERMSIG (status)));
    }
  else
    {
      failures->failed[how]++;
      what = g_strdup_printf ("the %s exited with %d: %s", who, WEXITSTATUS (status),
                              report->problems.first);
    }
  if (failures->first[0] == '\0')
    g_snprintf (failures->first, sizeof failures->first,
                "trial %u (scribble %s, seed %u): %s", trial, scribble_names[how], seed, what);
}

static void
test_scribble (gconstpointer data)
{
  const HostileCase *hostile = data;
  g_autoptr(PsSharedMemory) report_memory = NULL;
  Report *report = ps_test_shared_new (sizeof (Report) + 2 * sizeof (gint), &report_memory);
  gint *sync = (gint *) (report + 1);   /* [0] the victim's, [1] the holder's */
  guint n_trials = stress_is_slow () ? N_TRIALS_SLOW : N_TRIALS;
  Failures failures = { { 0 } };
  guint total_failures = 0;
  guint32 base_seed = g_test_rand_int ();
  GString *tally = g_string_new (NULL);

  /* Each sleeping trial waits out its sleeper's timeout. */
  if (hostile->mode == MODE_SLEEPING)
    n_trials /= 2;

  for (guint trial = 0; trial < n_trials; trial++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PsSharedMemory) memory = NULL;
      guint failed_so_far = 0;
      g_autoptr(PsMutex) helper = NULL;
      g_autoptr(GObject) object = NULL;
      guint32 seed = base_seed + trial;
      g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
      ScribbleKind how = trial % N_SCRIBBLE_KINDS;
      guint8 *slot;
      VictimArgs args, holder_args;
      pid_t pid, holder = 0;

      memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
      g_assert_no_error (error);
      slot = (guint8 *) ps_shared_memory_get_data (memory) + OBJECT_OFFSET;
      helper = ps_mutex_new_at (memory, HELPER_OFFSET, &error);
      g_assert_no_error (error);
      object = make_object (hostile->kind, memory, rand);
      args = (VictimArgs) { hostile->kind, memory, object, helper, report, SHORT_WAIT_US,
                            &sync[0] };
      holder_args = (VictimArgs) { hostile->kind, memory, object, helper, report,
                                   SHORT_WAIT_US, &sync[1] };
      memset (&report->problems, 0, sizeof report->problems);
      g_atomic_int_set (&sync[0], 0);
      g_atomic_int_set (&sync[1], 0);

      switch (hostile->mode)
        {
        case MODE_BEFORE:
          scribble (rand, slot, how);
          pid = ps_test_fork (victim_child, &args, ps_test_scaled_s (VICTIM_WATCHDOG_S));
          check_child (pid, "victim", how, trial, seed, report, &failures);
          break;

        case MODE_SLEEPING:
          /* Make it wait: no unit, or the lock held by another process. */
          if (hostile->kind == OBJ_SEMAPHORE)
            while (ps_semaphore_try_acquire (PS_SEMAPHORE (object)))
              ;
          else if (hostile->kind == OBJ_MUTEX)
            {
              holder = ps_test_fork (holder_child, &holder_args, ps_test_scaled_s (30));
              g_assert_true (ps_test_wait_int (&sync[1], 1, 20));
            }
          pid = ps_test_fork (sleeper_child, &args, ps_test_scaled_s (VICTIM_WATCHDOG_S));
          g_assert_true (ps_test_wait_int (&sync[0], 1, 20));
          g_usleep (g_rand_int_range (rand, 0, 20000));
          scribble_held (rand, slot, how, holder != 0);
          check_child (pid, "sleeper", how, trial, seed, report, &failures);
          if (holder != 0)
            {
              g_atomic_int_set (&sync[1], 2);
              check_child (holder, "holder", how, trial, seed, report, &failures);
            }
          break;

        case MODE_HELD:
          g_assert_cmpint (hostile->kind, ==, OBJ_MUTEX);
          holder = ps_test_fork (holder_child, &holder_args, ps_test_scaled_s (30));
          g_assert_true (ps_test_wait_int (&sync[1], 1, 20));
          scribble_held (rand, slot, how, TRUE);
          pid = ps_test_fork (victim_child, &args, ps_test_scaled_s (VICTIM_WATCHDOG_S));
          check_child (pid, "victim", how, trial, seed, report, &failures);
          g_atomic_int_set (&sync[1], 2);
          check_child (holder, "holder", how, trial, seed, report, &failures);
          break;

        default:
          g_assert_not_reached ();
        }

      for (guint h = 0; h < N_SCRIBBLE_KINDS; h++)
        failed_so_far += failures.crashed[h] + failures.hung[h] + failures.failed[h];
      if (failed_so_far >= MAX_FAILED_TRIALS)
        {
          g_test_message ("stopped after %u trials", trial + 1);
          n_trials = trial + 1;
          break;
        }
    }

  for (guint o = 0; o < N_OUTCOMES; o++)
    if (report->tally[o] != 0)
      g_string_append_printf (tally, " %s %d", outcome_names[o], report->tally[o]);
  g_test_message ("%u trials on a %s; outcomes:%s", n_trials, obj_names[hostile->kind], tally->str);
  for (guint h = 0; h < N_SCRIBBLE_KINDS; h++)
    {
      if (failures.crashed[h] + failures.hung[h] + failures.failed[h] == 0)
        continue;
      g_test_message ("  scribbling the %s: %u crashed, %u hung, %u gave a wrong answer",
                      scribble_names[h], failures.crashed[h], failures.hung[h],
                      failures.failed[h]);
      total_failures += failures.crashed[h] + failures.hung[h] + failures.failed[h];
    }
  g_string_free (tally, TRUE);
  if (total_failures != 0)
    g_error ("%u of %u trials failed; the first: %s", total_failures, n_trials, failures.first);
}

/* Targeted writes ------------------------------------------------------------
 *
 * The values that matter, one test each, so that a failure names its
 * cause. Fields are found by behaviour, not by the private layout: the
 * word holding a semaphore's count is the one that reads as the count,
 * the mutex's lock word the one that reads as its holder's thread id,
 * its kind word the first one that a fresh, idle lock does not leave at
 * zero (the darwin lock has none). The robust-list links are where
 * glibc's pthread_mutex_t keeps them from its lock word, a layout that
 * the futex backend's own lock keeps too.
 */

typedef enum
{
  FIELD_SEM_COUNT,
  FIELD_SEM_MAX,
  FIELD_SEM_WAITERS,
  FIELD_COND_SEQUENCE,
  FIELD_COND_WAITERS,
  FIELD_MUTEX_LOCK_WORD,
  FIELD_MUTEX_KIND,       /* what kind of lock it is: refused if not ours */
  FIELD_MUTEX_LIST,       /* the robust-list links, in the mutex itself */
} Field;

typedef struct
{
  ObjKind   kind;
  Field     field;
  guint64   value;
  TrialMode mode;         /* before, while a victim waits, or while another process holds it */
} TargetedCase;

static gsize
find_word (const guint8 *state,
           guint32       value)
{
  /* The lowest offset wins: glibc's lock word comes before its owner copy. */
  for (gsize offset = 0; offset + 4 <= PS_OBJECT_STATE_SIZE; offset += 4)
    if (load_word (state + offset) == value)
      return offset;
  g_error ("no word of the state reads %u", value);
}

/* The first word of a fresh mutex's lock that is not zero, or -1. */
static gssize
find_kind_word (const guint8 *state)
{
  for (gsize offset = 0; offset + 4 <= sizeof (PsRobustLock); offset += 4)
    if (load_word (state + offset) != 0)
      return offset;
  return -1;
}

static int
cond_waiter_child (gpointer data)
{
  VictimArgs *args = data;

  stress_die_with_parent ();
  if (!ps_mutex_lock (args->helper, ps_test_scaled_us (10 * G_USEC_PER_SEC), NULL, NULL))
    return 1;
  g_atomic_int_set (args->sync, 1);
  ps_cond_wait (args->handle, args->helper, ps_test_scaled_us (30 * G_USEC_PER_SEC), NULL, NULL);
  ps_mutex_unlock (args->helper, NULL);
  return 0;
}

static int
sem_waiter_child (gpointer data)
{
  VictimArgs *args = data;

  stress_die_with_parent ();
  g_atomic_int_set (args->sync, 1);
  ps_semaphore_acquire (args->handle, ps_test_scaled_us (30 * G_USEC_PER_SEC), NULL, NULL);
  return 0;
}

/* Where @field lives in a fresh object, or -1 if it has none. */
static gssize
locate_field (const TargetedCase *target,
              guint8             *state,
              VictimArgs         *args)
{
  switch (target->field)
    {
    case FIELD_SEM_COUNT:
      return find_word (state, 0x1234);
    case FIELD_SEM_MAX:
      return find_word (state, 0x2345);
    case FIELD_SEM_WAITERS:
    case FIELD_COND_WAITERS:
      {
        /* A waiter makes the count of waiters read 1. */
        pid_t pid;
        gsize offset;

        if (target->kind == OBJ_SEMAPHORE)
          while (ps_semaphore_try_acquire (args->handle))
            ;   /* so that the waiter waits */
        g_atomic_int_set (args->sync, 0);
        pid = ps_test_fork (target->field == FIELD_SEM_WAITERS ? sem_waiter_child
                                                                : cond_waiter_child,
                            args, ps_test_scaled_s (60));
        g_assert_true (ps_test_wait_int (args->sync, 1, 20));
        if (!stress_wait_asleep (pid, ps_test_scaled_us (20 * G_USEC_PER_SEC)))
          g_error ("the waiter never went to sleep");
        offset = find_word (state, 1);
        kill (pid, SIGKILL);
        ps_test_reap_killed (pid);
        /* The dead waiter is still counted; make it a clean 0 again. */
        store_word (state + offset, 0);
        return offset;
      }
    case FIELD_COND_SEQUENCE:
      for (guint i = 0; i < 77; i++)
        ps_cond_signal (args->handle);
      return find_word (state, 77);
    case FIELD_MUTEX_KIND:
      return find_kind_word (state);
    case FIELD_MUTEX_LOCK_WORD:
    case FIELD_MUTEX_LIST:
      {
        gint *sync = args->sync;
        pid_t pid;
        gsize offset;

        g_atomic_int_set (sync, 0);
        pid = ps_test_fork (holder_child, args, ps_test_scaled_s (60));
        g_assert_true (ps_test_wait_int (sync, 1, 20));
        offset = find_word (state, (guint32) pid);
        g_atomic_int_set (sync, 2);
        ps_test_reap_ok (pid, ps_test_scaled_s (30));
#ifdef LOCK_HAS_ROBUST_LIST
        if (target->field == FIELD_MUTEX_LIST)
          offset += G_STRUCT_OFFSET (pthread_mutex_t, __data.__list) -
                    G_STRUCT_OFFSET (pthread_mutex_t, __data.__lock);
#else
        if (target->field == FIELD_MUTEX_LIST)
          return -1;
#endif
        return offset;
      }
    default:
      g_assert_not_reached ();
    }
}

static void
write_field (const TargetedCase *target,
             guint8             *at)
{
  if (target->field == FIELD_MUTEX_LIST)
    {
      /* Both links of the list entry: where glibc writes on unlock. */
      guint64 links[2] = { target->value, target->value + 64 };

      memcpy (at, links, sizeof links);
    }
  else
    store_word (at, (guint32) target->value);
}

static void
test_targeted (gconstpointer data)
{
  const TargetedCase *target = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) report_memory = NULL;
  Report *report = ps_test_shared_new (sizeof (Report) + 2 * sizeof (gint), &report_memory);
  gint *sync = (gint *) (report + 1);
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) helper = NULL;
  g_autoptr(GObject) object = NULL;
  Failures failures = { { 0 } };
  GString *tally = g_string_new (NULL);
  VictimArgs args, holder_args;
  guint8 *state;
  gssize offset;
  pid_t pid, holder = 0;

#ifndef LOCK_HAS_ROBUST_LIST
  if (target->field == FIELD_MUTEX_LIST)
    {
      g_test_skip ("this backend's lock keeps no robust-list links");
      g_string_free (tally, TRUE);
      return;
    }
#endif
#if PS_BACKEND_ID == PS_BACKEND_POSIX
  if (target->field == FIELD_MUTEX_LIST && target->mode == MODE_HELD)
    {
      /* The posix backend's known limit (README, Reliability): glibc
       * follows and writes through the robust-list links stored in a held
       * mutex when its holder unlocks, so a peer that rewrites them can
       * crash the holder. The futex backend checks them first. */
      g_test_skip ("posix backend: glibc writes through a held mutex's robust-list "
                   "links on unlock (documented limit)");
      g_string_free (tally, TRUE);
      return;
    }
#endif

  memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  g_assert_no_error (error);
  state = (guint8 *) ps_shared_memory_get_data (memory) + OBJECT_OFFSET + sizeof (PsObjectHeader);
  helper = ps_mutex_new_at (memory, HELPER_OFFSET, &error);
  g_assert_no_error (error);
  switch (target->kind)
    {
    case OBJ_SEMAPHORE:
      object = g_initable_new (PS_TYPE_SEMAPHORE, NULL, &error,
                               "memory", memory, "offset", (guint64) OBJECT_OFFSET,
                               "initial-value", 0x1234, "max-value", 0x2345, NULL);
      break;
    case OBJ_MUTEX:
      object = G_OBJECT (ps_mutex_new_at (memory, OBJECT_OFFSET, &error));
      break;
    case OBJ_COND:
      object = G_OBJECT (ps_cond_new_at (memory, OBJECT_OFFSET, &error));
      break;
    case N_OBJ_KINDS:
    default:
      g_assert_not_reached ();
    }
  g_assert_no_error (error);

  args = (VictimArgs) { target->kind, memory, object, helper, report, SHORT_WAIT_US, &sync[0] };
  holder_args = (VictimArgs) { target->kind, memory, object, helper, report, SHORT_WAIT_US,
                               &sync[1] };
  offset = locate_field (target, state, &holder_args);
  if (offset < 0)
    {
      g_test_skip ("this backend's lock has no such field");
      g_string_free (tally, TRUE);
      return;
    }
  g_test_message ("the field is at offset %" G_GSSIZE_FORMAT " of the state", offset);
  if (target->kind == OBJ_SEMAPHORE)
    {
      /* Down to 0, so that waits wait. */
      while (ps_semaphore_try_acquire (PS_SEMAPHORE (object)))
        ;
    }
  g_atomic_int_set (&sync[0], 0);
  g_atomic_int_set (&sync[1], 0);

  switch (target->mode)
    {
    case MODE_BEFORE:
      write_field (target, state + offset);
      pid = ps_test_fork (victim_child, &args, ps_test_scaled_s (VICTIM_WATCHDOG_S));
      check_child (pid, "victim", SCRIBBLE_WORDS, 0, 0, report, &failures);
      break;

    case MODE_SLEEPING:
      if (target->kind == OBJ_MUTEX)
        {
          holder = ps_test_fork (holder_child, &holder_args, ps_test_scaled_s (60));
          g_assert_true (ps_test_wait_int (&sync[1], 1, 20));
        }
      pid = ps_test_fork (sleeper_child, &args, ps_test_scaled_s (VICTIM_WATCHDOG_S));
      g_assert_true (ps_test_wait_int (&sync[0], 1, 20));
      /* Best effort: the write may also land before the sleep. */
      (void) stress_wait_asleep (pid, ps_test_scaled_us (SLEEP_WAIT_US / 2));
      write_field (target, state + offset);
      check_child (pid, "sleeper", SCRIBBLE_WORDS, 0, 0, report, &failures);
      break;

    case MODE_HELD:
      holder = ps_test_fork (holder_child, &holder_args, ps_test_scaled_s (60));
      g_assert_true (ps_test_wait_int (&sync[1], 1, 20));
      write_field (target, state + offset);
      pid = ps_test_fork (victim_child, &args, ps_test_scaled_s (VICTIM_WATCHDOG_S));
      check_child (pid, "victim", SCRIBBLE_WORDS, 0, 0, report, &failures);
      break;

    default:
      g_assert_not_reached ();
    }
  if (holder != 0)
    {
      g_atomic_int_set (&sync[1], 2);
      check_child (holder, "holder", SCRIBBLE_WORDS, 0, 0, report, &failures);
    }

  for (guint o = 0; o < N_OUTCOMES; o++)
    if (report->tally[o] != 0)
      g_string_append_printf (tally, " %s %d", outcome_names[o], report->tally[o]);
  g_test_message ("outcomes:%s", tally->str);
  g_string_free (tally, TRUE);
  if (failures.first[0] != '\0')
    g_error ("%s", failures.first);
}

/* Named objects: their header, through the file ---------------------------- */

#define NAMED_SHM_SIZE (3 * 4096)

static GObject *
open_named (StressNamedKind   kind,
            const char       *name,
            PsOpenFlags       flags,
            GError          **error)
{
  return stress_open_named (kind, name, flags, NAMED_SHM_SIZE, error);
}

/* Writes @length bytes at @offset of the named object's file. */
static void
poke_file (const char    *name,
           goffset        offset,
           gconstpointer  bytes,
           gsize          length)
{
  g_autofree char *path = ps_test_dev_shm_path (name);
  int fd = open (path, O_RDWR | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, bytes, length, offset), ==, (gssize) length);
  close (fd);
}

typedef struct
{
  const char *what;
  goffset     offset;
  guint64     value;
  guint       size;          /* bytes of value written */
  gboolean    grace;         /* looks half-made: the opener waits for its creator first */
} HeaderPoke;

/* Opening must end, within the creation grace period and a bound, with
 * one of the errors a broken header can give, or with an object that
 * then works (a smaller shared-memory segment is still a valid one). */
static Outcome
assert_open_refused (StressNamedKind  kind,
                     const char      *name,
                     const char      *what,
                     gboolean         grace,
                     gboolean         quiet)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) object = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  object = open_named (kind, name, PS_OPEN_NONE, &error);
  elapsed = g_get_monotonic_time () - start;
  if (!quiet)
    g_test_message ("%s %s: %s after %" G_GINT64_FORMAT " ms", stress_named_kind_name (kind), what,
                    error != NULL ? error->message : "opened", elapsed / 1000);

  g_assert_cmpint (elapsed, <=, (grace ? PS_OBJECT_INIT_GRACE_US : 0) +
                                ps_test_scaled_us (2 * G_USEC_PER_SEC));
  if (object != NULL)
    {
      /* Only a segment whose header claims less than its file holds. */
      g_assert_cmpint (kind, ==, STRESS_NAMED_SHARED_MEMORY);
      g_assert_no_error (error);
      g_assert_cmpuint (ps_shared_memory_get_size (PS_SHARED_MEMORY (object)), <=,
                        NAMED_SHM_SIZE);
      if (ps_shared_memory_get_size (PS_SHARED_MEMORY (object)) >= 4)
        {
          ps_shared_memory_set_int32 (PS_SHARED_MEMORY (object), 0, 1, &error);
          g_assert_no_error (error);
        }
      return OUT_OK;
    }
  if (!g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT) &&
      !g_error_matches (error, PS_ERROR, PS_ERROR_INCOMPATIBLE) &&
      !g_error_matches (error, PS_ERROR, PS_ERROR_WRONG_TYPE))
    g_error ("%s %s: unexpected error %s", stress_named_kind_name (kind), what, error->message);
  return classify (FALSE, error);
}

static void
test_named_header (gconstpointer data)
{
  StressNamedKind kind = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("hostile-header");
  g_autoptr(GObject) creator = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  PsObjectHeader original;
  gsize payload;
  guint tally[N_OUTCOMES] = { 0 };
  GString *summary = g_string_new (NULL);
  const HeaderPoke pokes[] = {
    { "magic garbage", G_STRUCT_OFFSET (PsObjectHeader, magic), 0x12345678, 4, FALSE },
    { "magic zero", G_STRUCT_OFFSET (PsObjectHeader, magic), 0, 4, TRUE },
    { "never published", G_STRUCT_OFFSET (PsObjectHeader, ready), 0, 4, TRUE },
    { "ready garbage", G_STRUCT_OFFSET (PsObjectHeader, ready), 0x41414141, 4, TRUE },
    { "layout 99", G_STRUCT_OFFSET (PsObjectHeader, layout_version), 99, 2, FALSE },
    { "backend 77", G_STRUCT_OFFSET (PsObjectHeader, backend), 77, 1, FALSE },
    { "type 200", G_STRUCT_OFFSET (PsObjectHeader, type), 200, 1, FALSE },
    { "another type", G_STRUCT_OFFSET (PsObjectHeader, type),
      kind == STRESS_NAMED_MUTEX ? PS_OBJECT_TYPE_COND : PS_OBJECT_TYPE_MUTEX, 1, FALSE },
    { "size 2^64-1", G_STRUCT_OFFSET (PsObjectHeader, payload_size), G_MAXUINT64, 8, FALSE },
    { "size 2^62", G_STRUCT_OFFSET (PsObjectHeader, payload_size), G_GUINT64_CONSTANT (1) << 62, 8, FALSE },
    { "size 2^63-64", G_STRUCT_OFFSET (PsObjectHeader, payload_size), G_MAXINT64 - 63, 8, FALSE },
    { "size 0", G_STRUCT_OFFSET (PsObjectHeader, payload_size), 0, 8, FALSE },
  };

  creator = open_named (kind, name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_assert_no_error (error);
  {
    g_autofree char *path = ps_test_dev_shm_path (name);
    int fd = open (path, O_RDONLY | O_CLOEXEC);

    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (pread (fd, &original, sizeof original, 0), ==, sizeof original);
    close (fd);
  }
  payload = original.payload_size;

  for (gsize i = 0; i < G_N_ELEMENTS (pokes); i++)
    {
      guint64 value = pokes[i].value;

      poke_file (name, pokes[i].offset, &value, pokes[i].size);
      assert_open_refused (kind, name, pokes[i].what, pokes[i].grace, FALSE);
      poke_file (name, 0, &original, sizeof original);
    }

  /* One byte more than the file holds, and one less than the state. */
  {
    guint64 sizes[] = { payload + 1, payload - 8 };

    for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
      {
        g_autofree char *what = g_strdup_printf ("size %" G_GUINT64_FORMAT, sizes[i]);

        poke_file (name, G_STRUCT_OFFSET (PsObjectHeader, payload_size), &sizes[i], 8);
        assert_open_refused (kind, name, what, FALSE, FALSE);
        poke_file (name, 0, &original, sizeof original);
      }
  }

  /* Random values in everything but the magic and the ready flag, so
   * that the deeper checks are reached; tallied, not told one by one. */
  for (guint trial = 0; trial < 50; trial++)
    {
      PsObjectHeader header = original;

      fill_random (rand, (guint8 *) &header + 4, 4);                      /* version, type, backend */
      fill_random (rand, (guint8 *) &header + 12, sizeof header - 12);   /* reserved, size, reserved2 */
      if (g_rand_boolean (rand))
        {
          header.layout_version = original.layout_version;
          header.backend = original.backend;
          header.type = original.type;
        }
      poke_file (name, 0, &header, sizeof header);
      tally[assert_open_refused (kind, name, "random header", FALSE, TRUE)]++;
    }
  poke_file (name, 0, &original, sizeof original);
  for (guint o = 0; o < N_OUTCOMES; o++)
    if (tally[o] != 0)
      g_string_append_printf (summary, " %s %u", outcome_names[o], tally[o]);
  g_test_message ("%s, 50 random headers:%s", stress_named_kind_name (kind), summary->str);
  g_string_free (summary, TRUE);

  /* Put back, it opens again: nothing was cached from the bad ones. */
  {
    g_autoptr(GObject) again = open_named (kind, name, PS_OPEN_NONE, &error);

    g_assert_no_error (error);
    g_assert_nonnull (again);
  }
  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

/* Truncation ------------------------------------------------------------------
 *
 * A named object is a file: whoever may open it may also shrink it, and
 * touching a mapped page past the new end of the file raises SIGBUS.
 * procshared guards its named mappings: on such a SIGBUS it swaps the
 * mapping for private zero-filled memory and lets the access run again,
 * so the process lives on, cut off from the others, seeing the idle
 * all-zero state of the object (waits end by their timeouts), while the
 * accessors of a segment fail with PS_ERROR_CORRUPT from then on. These
 * tests pin that down (a mutex may instead refuse its zeroed lock as
 * corrupt), and check that a SIGBUS that is not procshared's still does
 * what it did before procshared was there.
 */

typedef struct
{
  StressNamedKind  kind;
  const char      *name;
  gint            *step;
} TruncateArgs;

static void
touch_object (StressNamedKind  kind,
              GObject         *object,
              gsize            shm_offset)
{
  g_autoptr(GError) error = NULL;

  switch (kind)
    {
    case STRESS_NAMED_SEMAPHORE:
      if (ps_semaphore_try_acquire (PS_SEMAPHORE (object)))
        ps_semaphore_release (PS_SEMAPHORE (object), NULL);
      break;
    case STRESS_NAMED_MUTEX:
      if (ps_mutex_lock (PS_MUTEX (object), SHORT_WAIT_US, NULL, &error))
        ps_mutex_unlock (PS_MUTEX (object), NULL);
      break;
    case STRESS_NAMED_COND:
      ps_cond_signal (PS_COND (object));
      break;
    case STRESS_NAMED_SHARED_MEMORY:
      ps_shared_memory_set_int32 (PS_SHARED_MEMORY (object), shm_offset, 7, NULL);
      break;
    case STRESS_N_NAMED:
    default:
      g_assert_not_reached ();
    }
}

/* After the truncation: the object must read as its idle, all-zero state
 * and work as such. Returns 0, or which check failed. */
static int
check_zeroed (StressNamedKind  kind,
              GObject         *object)
{
  g_autoptr(GError) error = NULL;

  switch (kind)
    {
    case STRESS_NAMED_SEMAPHORE:
      if (ps_semaphore_get_value (PS_SEMAPHORE (object)) != 0)
        return 10;
      if (ps_semaphore_acquire (PS_SEMAPHORE (object), SHORT_WAIT_US, NULL, &error) ||
          !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return 11;
      return 0;
    case STRESS_NAMED_MUTEX:
      if (ps_mutex_get_owner_pid (PS_MUTEX (object)) != 0)
        return 20;
      /* An all-zero lock is not the robust kind it was made as: refusing
       * it as corrupt is as right as using it as a fresh one. */
      if (!ps_mutex_lock (PS_MUTEX (object), SHORT_WAIT_US, NULL, &error))
        return g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT) ? 0 : 21;
      if (!ps_mutex_unlock (PS_MUTEX (object), &error))
        return 22;
      return 0;
    case STRESS_NAMED_COND:
      ps_cond_signal (PS_COND (object));
      ps_cond_broadcast (PS_COND (object));
      return 0;
    case STRESS_NAMED_SHARED_MEMORY:
      /* The lost last page first (this access faults), then the first
       * page, which went private with the rest of the mapping: every
       * access fails from then on, a write above all (nobody else would
       * ever see it). */
      if (ps_shared_memory_get_int32 (PS_SHARED_MEMORY (object), NAMED_SHM_SIZE - 8, &error) != 0 ||
          !g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT))
        return 30;
      g_clear_error (&error);
      if (ps_shared_memory_get_int32 (PS_SHARED_MEMORY (object), 0, &error) != 0 ||
          !g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT))
        return 31;
      g_clear_error (&error);
      if (ps_shared_memory_set_int32 (PS_SHARED_MEMORY (object), NAMED_SHM_SIZE - 8, 5, &error) ||
          !g_error_matches (error, PS_ERROR, PS_ERROR_CORRUPT))
        return 32;
      return 0;
    case STRESS_N_NAMED:
    default:
      g_assert_not_reached ();
    }
}

static int
truncate_victim_child (gpointer data)
{
  TruncateArgs *args = data;
  g_autoptr(GObject) object = NULL;

  stress_die_with_parent ();
  object = open_named (args->kind, args->name, PS_OPEN_NONE, NULL);
  if (object == NULL)
    return 1;
  touch_object (args->kind, object, 0);
  g_atomic_int_set (args->step, 1);
  if (!ps_test_wait_int (args->step, 2, 30))
    return 2;
  return check_zeroed (args->kind, object);
}

static void
truncate_file (const char *name,
               off_t       length)
{
  g_autofree char *path = ps_test_dev_shm_path (name);

  g_assert_cmpint (truncate (path, length), ==, 0);
}

static void
test_truncate (gconstpointer data)
{
  StressNamedKind kind = GPOINTER_TO_INT (data) % STRESS_N_NAMED;
  gboolean within_page = GPOINTER_TO_INT (data) >= STRESS_N_NAMED;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = ps_test_unique_name ("hostile-truncate");
  g_autoptr(PsSharedMemory) step_memory = NULL;
  gint *step = ps_test_shared_new (sizeof (gint), &step_memory);
  g_autoptr(GObject) creator = NULL;
  TruncateArgs args = { kind, name, step };
  pid_t pid;
  int status;

  creator = open_named (kind, name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
  g_assert_no_error (error);

  pid = ps_test_fork (truncate_victim_child, &args, ps_test_scaled_s (60));
  g_assert_true (ps_test_wait_int (step, 1, 20));
  /* Within the page: the header survives and the state reads as zeros,
   * no SIGBUS at all; for a segment, all but its first page goes. */
  if (within_page)
    truncate_file (name, kind == STRESS_NAMED_SHARED_MEMORY ? 4096 : sizeof (PsObjectHeader));
  else
    truncate_file (name, 0);
  g_atomic_int_set (step, 2);
  status = ps_test_reap (pid, ps_test_scaled_s (60));
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    g_error ("a truncated %s: the process using it %s %d", stress_named_kind_name (kind),
             WIFSIGNALED (status) ? "died of signal" : "failed check",
             WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));

  /* The creator's handle, untouched since: the same. */
  g_assert_cmpint (check_zeroed (kind, creator), ==, 0);

  /* A new opener is refused, promptly or after the creation grace
   * period (an empty file may be one being created). */
  assert_open_refused (kind, name, "truncated", !within_page, FALSE);
  g_clear_object (&creator);
  g_assert_true (ps_unlink (name, &error));
  g_assert_no_error (error);
}

/* A SIGBUS that is not about a procshared mapping is none of its
 * business: with named objects open (the guard installed), touching a
 * truncated mapping of some other file still kills, and an application's
 * own SIGBUS handler, installed before, still runs. */
static gint app_handler_ran;

G_GNUC_NORETURN static void
app_sigbus_handler (int signal_number)
{
  g_atomic_int_set (&app_handler_ran, 1);
  _exit (42);
}

static int
foreign_sigbus_child (gpointer data)
{
  gboolean with_app_handler = GPOINTER_TO_INT (data);
  g_autofree char *name = ps_test_unique_name ("hostile-foreign");
  g_autofree char *path = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  volatile guint8 *mapping;
  int fd;

  stress_die_with_parent ();
  if (with_app_handler)
    signal (SIGBUS, app_sigbus_handler);
  mutex = ps_mutex_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, NULL);
  if (mutex == NULL)
    return 1;
  ps_unlink (name, NULL);

  path = g_strdup_printf ("/dev/shm/ps-test-foreign-file-%d", (int) getpid ());
  fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate (fd, 8192) != 0)
    return 2;
  mapping = mmap (NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  unlink (path);
  if (mapping == MAP_FAILED || ftruncate (fd, 0) != 0)
    return 3;
  mapping[4096] = 1;   /* SIGBUS: not ours */
  return 4;            /* survived: the guard swallowed a foreign SIGBUS */
}

/* AddressSanitizer has a SIGBUS handler of its own, installed first: a
 * foreign SIGBUS goes to it, and it reports and aborts. */
#if defined(__SANITIZE_ADDRESS__)
# define FOREIGN_SIGBUS_DEATH SIGABRT
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define FOREIGN_SIGBUS_DEATH SIGABRT
# endif
#endif
#ifndef FOREIGN_SIGBUS_DEATH
# define FOREIGN_SIGBUS_DEATH SIGBUS
#endif

static void
test_foreign_sigbus (void)
{
  int status;

  status = ps_test_reap (ps_test_fork (foreign_sigbus_child, GINT_TO_POINTER (FALSE),
                                       ps_test_scaled_s (30)), ps_test_scaled_s (40));
  if (!WIFSIGNALED (status) || WTERMSIG (status) != FOREIGN_SIGBUS_DEATH)
    g_error ("a foreign SIGBUS: the process was to die of it, but %s %d",
             WIFSIGNALED (status) ? "died of signal" : "exited with",
             WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));

  status = ps_test_reap (ps_test_fork (foreign_sigbus_child, GINT_TO_POINTER (TRUE),
                                       ps_test_scaled_s (30)), ps_test_scaled_s (40));
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 42)
    g_error ("a foreign SIGBUS: the application's handler did not run (%s %d)",
             WIFSIGNALED (status) ? "died of signal" : "exited with",
             WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));
}

int
main (int argc, char *argv[])
{
  static const struct { const char *path; HostileCase hostile; } cases[] = {
    { "/hostile/scribble/semaphore", { OBJ_SEMAPHORE, MODE_BEFORE } },
    { "/hostile/scribble/mutex", { OBJ_MUTEX, MODE_BEFORE } },
    { "/hostile/scribble/cond", { OBJ_COND, MODE_BEFORE } },
    { "/hostile/scribble-while-waiting/semaphore", { OBJ_SEMAPHORE, MODE_SLEEPING } },
    { "/hostile/scribble-while-waiting/mutex", { OBJ_MUTEX, MODE_SLEEPING } },
    { "/hostile/scribble-while-waiting/cond", { OBJ_COND, MODE_SLEEPING } },
    { "/hostile/scribble-while-held/mutex", { OBJ_MUTEX, MODE_HELD } },
  };

  static const struct { const char *path; TargetedCase target; } targeted[] = {
    { "/hostile/targeted/semaphore/count-minus-one",
      { OBJ_SEMAPHORE, FIELD_SEM_COUNT, 0xffffffff, MODE_BEFORE } },
    { "/hostile/targeted/semaphore/count-int-min",
      { OBJ_SEMAPHORE, FIELD_SEM_COUNT, 0x80000000, MODE_BEFORE } },
    { "/hostile/targeted/semaphore/count-above-max",
      { OBJ_SEMAPHORE, FIELD_SEM_COUNT, 0x7fffffff, MODE_BEFORE } },
    { "/hostile/targeted/semaphore/count-minus-one-while-waiting",
      { OBJ_SEMAPHORE, FIELD_SEM_COUNT, 0xffffffff, MODE_SLEEPING } },
    { "/hostile/targeted/semaphore/max-zero",
      { OBJ_SEMAPHORE, FIELD_SEM_MAX, 0, MODE_BEFORE } },
    { "/hostile/targeted/semaphore/max-huge",
      { OBJ_SEMAPHORE, FIELD_SEM_MAX, 0xffffffff, MODE_BEFORE } },
    { "/hostile/targeted/semaphore/waiters-zero-while-waiting",
      { OBJ_SEMAPHORE, FIELD_SEM_WAITERS, 0, MODE_SLEEPING } },
    { "/hostile/targeted/semaphore/waiters-huge",
      { OBJ_SEMAPHORE, FIELD_SEM_WAITERS, 0xffffffff, MODE_BEFORE } },
    { "/hostile/targeted/cond/sequence-while-waiting",
      { OBJ_COND, FIELD_COND_SEQUENCE, 0xdeadbeef, MODE_SLEEPING } },
    { "/hostile/targeted/cond/waiters-huge",
      { OBJ_COND, FIELD_COND_WAITERS, 0xffffffff, MODE_BEFORE } },
    { "/hostile/targeted/cond/waiters-zero-while-waiting",
      { OBJ_COND, FIELD_COND_WAITERS, 0, MODE_SLEEPING } },
    { "/hostile/targeted/mutex/lock-word-waiters-bit-only",
      { OBJ_MUTEX, FIELD_MUTEX_LOCK_WORD, 0x80000000, MODE_BEFORE } },
    { "/hostile/targeted/mutex/lock-word-no-such-thread",
      { OBJ_MUTEX, FIELD_MUTEX_LOCK_WORD, 0x3ffffffe, MODE_BEFORE } },
    { "/hostile/targeted/mutex/lock-word-owner-died-bit",
      { OBJ_MUTEX, FIELD_MUTEX_LOCK_WORD, 0x40000000 | 0x3ffffffe, MODE_BEFORE } },
    { "/hostile/targeted/mutex/lock-word-all-ones",
      { OBJ_MUTEX, FIELD_MUTEX_LOCK_WORD, 0xffffffff, MODE_BEFORE } },
    { "/hostile/targeted/mutex/lock-word-zero-while-held",
      { OBJ_MUTEX, FIELD_MUTEX_LOCK_WORD, 0, MODE_HELD } },
    { "/hostile/targeted/mutex/lock-word-zero-while-waiting",
      { OBJ_MUTEX, FIELD_MUTEX_LOCK_WORD, 0, MODE_SLEEPING } },
    { "/hostile/targeted/mutex/kind-plain",
      { OBJ_MUTEX, FIELD_MUTEX_KIND, 0, MODE_BEFORE } },
    { "/hostile/targeted/mutex/kind-garbage",
      { OBJ_MUTEX, FIELD_MUTEX_KIND, 0x12345678, MODE_BEFORE } },
    { "/hostile/targeted/mutex/kind-priority-inherit",
      { OBJ_MUTEX, FIELD_MUTEX_KIND, 0x20 | 0x10 | 0x80 | 2, MODE_BEFORE } },
    { "/hostile/targeted/mutex/kind-priority-protect",
      { OBJ_MUTEX, FIELD_MUTEX_KIND, 0x40 | 0x80 | 2 | (50 << 19), MODE_BEFORE } },
    { "/hostile/targeted/mutex/robust-links-while-held",
      { OBJ_MUTEX, FIELD_MUTEX_LIST, 0x1000, MODE_HELD } },
  };

  stress_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    ps_test_add_full (cases[i].path, test_scribble, &cases[i].hostile, 150);
  for (gsize i = 0; i < G_N_ELEMENTS (targeted); i++)
    ps_test_add_full (targeted[i].path, test_targeted, &targeted[i].target, 60);
  for (gint k = 0; k < STRESS_N_NAMED; k++)
    {
      g_autofree char *header = g_strdup_printf ("/hostile/named/header/%s", stress_named_kind_name (k));
      g_autofree char *zero = g_strdup_printf ("/hostile/named/truncate-to-zero/%s", stress_named_kind_name (k));
      g_autofree char *partial = g_strdup_printf ("/hostile/named/truncate-partly/%s",
                                                  stress_named_kind_name (k));

      ps_test_add_full (header, test_named_header, GINT_TO_POINTER (k), 120);
      ps_test_add_full (zero, test_truncate, GINT_TO_POINTER (k), 60);
      ps_test_add_full (partial, test_truncate, GINT_TO_POINTER (k + STRESS_N_NAMED), 60);
    }
  ps_test_add_timed ("/hostile/named/foreign-sigbus", test_foreign_sigbus, 60);

  return g_test_run ();
}
