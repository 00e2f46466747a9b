/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The darwin backend (macOS 14.4 or later).
 *
 * NOTE: this code has never run on a Mac. It is compiled and tested on
 * Linux against os-sync-standin.c, which implements the macOS calls used
 * here over futexes; ps-darwin-platform.h picks one or the other.
 *
 * Waiting is os_sync_wait_on_address() with OS_SYNC_WAIT_ON_ADDRESS_SHARED
 * on plain 32-bit words, the public successor of __ulock_wait(). Its
 * timeouts are relative, on OS_CLOCK_MACH_ABSOLUTE_TIME, the clock behind
 * g_get_monotonic_time() on macOS; every call recomputes the time left
 * from the caller's fixed deadline, and a timed-out return is trusted
 * only once g_get_monotonic_time() has reached that deadline, so EINTR,
 * spurious returns and rounding never extend a wait nor end it early.
 *
 * Waiting and cancellation are in ps-darwin-wait.c.
 *
 * Ownership. macOS has no robust process-shared mutexes, so the lock is
 * built here on its own word:
 *
 *   bits  0-23  the holder's pid, 0 when free (unlocking keeps the
 *               takeover count). Pids stay below 100000 on macOS, and
 *               below 2^22 on Linux.
 *   bits 24-30  a count of takeovers from dead holders, so that a
 *               takeover always changes the word, even when the taker's
 *               pid is the dead holder's, reused.
 *   bit  31     contended: someone may sleep on the word; unlock wakes one.
 *
 * Keeping the holder's pid in the word itself means the holder is known
 * from the instant it locks: there is no window in which a holder that
 * dies leaves an anonymous lock behind. Beside the word, the holder
 * records its thread id (for per-thread ownership and recursion), and its
 * process start time, which tells the holder from a later process that
 * was given the same pid. The start time is published with release
 * ordering before owner_pid, so a reader that sees owner_pid equal to the
 * word's pid also sees that holder's start time.
 *
 * A locker that finds the lock busy asks whether the holder process is
 * gone: kill(pid, 0) fails with ESRCH, or it is a zombie, or it is alive
 * but started at another time than the one recorded (its pid was reused).
 * Then it takes the lock over with a compare-and-swap from the very word
 * it examined: exactly one taker wins, and it gets PS_LOCK_OWNER_DIED
 * while holding the lock. Sleepers wake every DEATH_POLL_US to ask again;
 * an unlock or a cancellation wakes them at once.
 *
 * What cannot be detected: a thread that exits (or is cancelled) while
 * holding the lock in a process that lives on. macOS has no robust-futex
 * list and no notification of a thread's end to another process, and the
 * recorded pid stays alive, so the lock stays held until that process
 * exits (then it is taken over as above). A thread-specific-data
 * destructor could release the locks its thread still holds, but by then
 * the memory of such a lock may be unmapped, or reused by another object.
 * Also undetected: a holder that dies between its compare-and-swap and
 * recording its start time, and whose pid is reused before anyone looks.
 *
 * Consistency (OWNER_DEAD, mark consistent, NOT_RECOVERABLE) is tracked
 * by PsMutex itself, so ps_robust_lock_make_consistent() has nothing to
 * do here.
 */

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <gio/gio.h>

#include "ps-backend-private.h"
#include "ps-darwin-platform.h"
#include "ps-darwin-wait.h"

/* How often a blocked locker checks whether the holder died. */
#define DEATH_POLL_US (20 * 1000)

/* How long a thread trusts its last sysctl() look-up of a live holder:
 * see holder_is_gone(). */
#define HOLDER_RECHECK_US 1000

#define LOCK_PID_MASK      0x00ffffffu
#define LOCK_TAKEOVER_MASK 0x7f000000u
#define LOCK_TAKEOVER_ONE  0x01000000u
#define LOCK_CONTENDED     0x80000000u

/* Processes and threads -------------------------------------------------- */

typedef enum
{
  PROCESS_ALIVE,
  PROCESS_GONE,      /* no such process, or a zombie */
  PROCESS_UNKNOWN,   /* could not tell: assume alive */
} ProcessState;

static ProcessState
look_up_process (pid_t    pid,
                 guint64 *start_time)
{
  int mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PID, (int) pid };
  struct kinfo_proc info;
  size_t length = sizeof info;

  memset (&info, 0, sizeof info);
  if (sysctl (mib, G_N_ELEMENTS (mib), &info, &length, NULL, 0) != 0)
    return PROCESS_UNKNOWN;
  if (length == 0 || info.kp_proc.p_pid != pid)
    return PROCESS_GONE;
  /* A holder that was killed stays a zombie until its parent reaps it,
   * and kill(pid, 0) still succeeds on it; that parent may well be the
   * very process now waiting for the lock. */
  if (info.kp_proc.p_stat == SZOMB)
    return PROCESS_GONE;

  *start_time = (guint64) info.kp_proc.p_starttime.tv_sec * G_USEC_PER_SEC +
                (guint64) info.kp_proc.p_starttime.tv_usec;
  return PROCESS_ALIVE;
}

typedef struct
{
  guint32 pid;
  guint64 start;    /* 0 if unknown */
  guint64 thread;
} Identity;

/* Who we are, looked up once: system calls on every lock and unlock would
 * cost far more than the lock. A forked child has a new pid, start time
 * and thread id, so it forgets them (pthread_atfork() runs the handler in
 * the child's only thread, the one whose cached thread id is stale). */
static guint32 own_pid;                  /* 0: not known yet */
static guint64 own_start;
/* 0: not known yet. initial-exec: a plain thread-pointer-relative load
 * on every lock, rather than a call to __tls_get_addr(). */
static _Thread_local guint64 own_thread __attribute__ ((tls_model ("initial-exec")));

static void
forget_identity_in_child (void)
{
  __atomic_store_n (&own_pid, 0, __ATOMIC_RELAXED);
  own_thread = 0;
}

static G_GNUC_NO_INLINE guint32
learn_own_pid (void)
{
  static gsize registered;
  guint64 start = 0;
  pid_t pid;

  /* Registered before the first lookup, so no child can inherit a pid
   * that no handler will forget. */
  if (g_once_init_enter (&registered))
    {
      pthread_atfork (NULL, NULL, forget_identity_in_child);
      g_once_init_leave (&registered, 1);
    }

  pid = getpid ();
  if (pid <= 0 || (guint32) pid > LOCK_PID_MASK)
    return 0;   /* cannot be recorded in a lock word */
  if (look_up_process (pid, &start) != PROCESS_ALIVE)
    start = 0;
  __atomic_store_n (&own_start, start, __ATOMIC_RELAXED);
  __atomic_store_n (&own_pid, (guint32) pid, __ATOMIC_RELEASE);
  return (guint32) pid;
}

static guint64
system_thread_id (void)
{
  uint64_t id = 0;

  /* Unique system-wide, and not reused while the system runs. */
  pthread_threadid_np (pthread_self (), &id);
  return id;
}

static inline gboolean
get_identity (Identity *me)
{
  me->pid = __atomic_load_n (&own_pid, __ATOMIC_ACQUIRE);
  if (G_UNLIKELY (me->pid == 0))
    {
      me->pid = learn_own_pid ();
      if (me->pid == 0)
        return FALSE;
    }
  me->start = __atomic_load_n (&own_start, __ATOMIC_RELAXED);
  if (G_UNLIKELY (own_thread == 0))
    own_thread = system_thread_id ();
  me->thread = own_thread;
  return TRUE;
}

guint32
ps_process_self_stamp (void)
{
  Identity me;

  return get_identity (&me) ? ps_process_stamp_from_start (me.start) : 0;
}

gboolean
ps_process_is_gone (guint32  pid,
                    guint32  stamp,
                    gboolean quick)
{
  guint64 start = 0;
  ProcessState state;

  if (pid == 0 || pid > G_MAXINT32)
    return FALSE;
  if (kill ((pid_t) pid, 0) == -1 && errno == ESRCH)
    return TRUE;
  state = quick ? PROCESS_UNKNOWN : look_up_process ((pid_t) pid, &start);
  if (state != PROCESS_ALIVE)
    return state == PROCESS_GONE;
  return stamp != 0 && start != 0 && ps_process_stamp_from_start (start) != stamp;
}

/* Robust locks ----------------------------------------------------------- */

static inline guint32
load_word (PsRobustLock *lock)
{
  return __atomic_load_n (&lock->word, __ATOMIC_SEQ_CST);
}

static inline gboolean
swap_word (PsRobustLock *lock,
           guint32      *expected,
           guint32       desired)
{
  /* On failure, *expected is updated to the current word. */
  return __atomic_compare_exchange_n (&lock->word, expected, desired, FALSE,
                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static void
record_holder (PsRobustLock   *lock,
               const Identity *me)
{
  lock->depth = 1;
  __atomic_store_n (&lock->owner_thread, me->thread, __ATOMIC_RELAXED);
  __atomic_store_n (&lock->owner_start, me->start, __ATOMIC_RELAXED);
  __atomic_store_n (&lock->owner_pid, me->pid, __ATOMIC_RELEASE);
}

static gboolean
held_by (PsRobustLock   *lock,
         guint32         word,
         const Identity *me)
{
  /* owner_pid is published after owner_thread: if it names our process,
   * owner_thread is that of the holder our process recorded. */
  return (word & LOCK_PID_MASK) == me->pid &&
         __atomic_load_n (&lock->owner_pid, __ATOMIC_ACQUIRE) == me->pid &&
         __atomic_load_n (&lock->owner_thread, __ATOMIC_RELAXED) == me->thread;
}

/* This thread's last look-up of a live lock holder. */
typedef struct
{
  guint32 pid;
  guint64 start;
  gint64  until;
} HolderMemo;

static _Thread_local HolderMemo holder_memo;

static gboolean
holder_is_gone (PsRobustLock   *lock,
                guint32         word,
                const Identity *me)
{
  guint32 pid = word & LOCK_PID_MASK;
  guint32 recorded_pid;
  guint64 recorded_start;
  guint64 start = 0;

  if (pid == me->pid)
    {
      /* Our own process, alive, unless it merely inherited the pid of a
       * dead holder: the start time check below tells. */
      start = me->start;
    }
  else
    {
      gint64 now;

      if (kill ((pid_t) pid, 0) == -1 && errno == ESRCH)
        return TRUE;

      /* Only sysctl() tells a zombie, or a reused pid, from the holder,
       * and every busy try of a contended lock comes here: a thread
       * reuses its look-up of a live process for HOLDER_RECHECK_US. A
       * holder that exited but is not yet reaped is thus noticed up to
       * that much later, as if it had died that much later; one that is
       * reaped fails kill() above at once. */
      now = g_get_monotonic_time ();
      if (holder_memo.pid == pid && now < holder_memo.until)
        start = holder_memo.start;
      else
        {
          switch (look_up_process ((pid_t) pid, &start))
            {
            case PROCESS_GONE:
              return TRUE;
            case PROCESS_UNKNOWN:
              return FALSE;
            case PROCESS_ALIVE:
            default:
              break;
            }
          holder_memo.pid = pid;
          holder_memo.start = start;
          holder_memo.until = now + HOLDER_RECHECK_US;
        }
    }

  /* Alive: but is it the process that locked it? Only if the record
   * belongs to the word we examined (a holder that has not recorded
   * itself yet is running right now, so alive). */
  recorded_pid = __atomic_load_n (&lock->owner_pid, __ATOMIC_ACQUIRE);
  recorded_start = __atomic_load_n (&lock->owner_start, __ATOMIC_RELAXED);
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  if (recorded_pid != pid || load_word (lock) != word ||
      __atomic_load_n (&lock->owner_pid, __ATOMIC_RELAXED) != pid)
    return FALSE;
  if (recorded_start == 0 || start == 0)
    return FALSE;   /* a start time could not be read: rely on kill() alone */
  return recorded_start != start;
}

/* One attempt. @sleeper: the caller waits, so others may too: keep the
 * contended bit set so that our unlock wakes the next. @check_holder: ask
 * whether a busy lock's holder died. On PS_LOCK_BUSY, @observed is the
 * word that was found. */
static PsLockStatus
try_once (PsRobustLock   *lock,
          const Identity *me,
          gboolean        sleeper,
          gboolean        check_holder,
          guint32        *observed)
{
  guint32 contended = sleeper ? LOCK_CONTENDED : 0;
  guint32 word = load_word (lock);

  for (;;)
    {
      if ((word & LOCK_PID_MASK) == 0)
        {
          if (swap_word (lock, &word, (word & LOCK_TAKEOVER_MASK) | me->pid | contended))
            {
              record_holder (lock, me);
              return PS_LOCK_ACQUIRED;
            }
          continue;
        }

      /* PsMutex counts relocks itself and never asks for one: a word
       * naming the caller was forged. */
      if (held_by (lock, word, me))
        return PS_LOCK_WOULD_DEADLOCK;

      if (check_holder && holder_is_gone (lock, word, me))
        {
          guint32 taken = me->pid |
                          ((word + LOCK_TAKEOVER_ONE) & LOCK_TAKEOVER_MASK) |
                          (word & LOCK_CONTENDED) | contended;

          /* From the very word examined: of several takers, one wins. */
          if (swap_word (lock, &word, taken))
            {
              record_holder (lock, me);
              return PS_LOCK_OWNER_DIED;
            }
          continue;
        }

      *observed = word;
      return PS_LOCK_BUSY;
    }
}

gboolean
ps_robust_lock_init (PsRobustLock *lock,
                     gboolean      recursive,
                     GError      **error)
{
  Identity me;

  if (!get_identity (&me))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "Process id %ld does not fit in a lock word", (long) getpid ());
      return FALSE;
    }

  lock->word = 0;
  lock->recursive = recursive ? 1 : 0;
  lock->depth = 0;
  lock->owner_pid = 0;
  lock->owner_start = 0;
  lock->owner_thread = 0;
  return TRUE;
}

PsLockStatus
ps_robust_lock_try (PsRobustLock *lock)
{
  Identity me;
  guint32 observed;

  if (!get_identity (&me))
    return PS_LOCK_FAILED;
  return try_once (lock, &me, FALSE, TRUE, &observed);
}

static void
pass_wake_on (PsRobustLock *lock)
{
  /* An unlock wakes one sleeper; if that was us and we are leaving, the
   * lock is free and the others would sleep until their next death
   * check: wake one of them instead. */
  if ((load_word (lock) & LOCK_PID_MASK) == 0)
    os_sync_wake_by_address_any (&lock->word, sizeof lock->word,
                                 OS_SYNC_WAKE_BY_ADDRESS_SHARED);
}

PsLockStatus
ps_robust_lock_wait (PsRobustLock *lock,
                     gint64        deadline,
                     PsCanceller  *canceller)
{
  gboolean check_holder = FALSE;   /* the caller's ps_robust_lock_try() just did */
  Identity me;

  if (!get_identity (&me))
    return PS_LOCK_FAILED;

  for (;;)
    {
      guint32 observed = 0;
      PsLockStatus status;
      PsWaitStatus wait_status;
      gint64 now;
      gint64 slice_end;

      status = try_once (lock, &me, TRUE, check_holder, &observed);
      if (status != PS_LOCK_BUSY)
        return status;

      now = g_get_monotonic_time ();
      if (deadline >= 0 && now >= deadline)
        {
          pass_wake_on (lock);
          return PS_LOCK_TIMED_OUT;
        }

      /* Tell the holder that someone sleeps, so that its unlock wakes us. */
      if ((observed & LOCK_CONTENDED) == 0)
        {
          if (!swap_word (lock, &observed, observed | LOCK_CONTENDED))
            continue;
          observed |= LOCK_CONTENDED;
        }

      /* Sleep until the word changes (an unlock, a new holder), a
       * cancellation, or the end of this slice, after which the holder's
       * health is checked again. */
      slice_end = now + DEATH_POLL_US;
      if (deadline >= 0 && deadline < slice_end)
        slice_end = deadline;
      wait_status = ps_darwin_wait_on_address (&lock->word, observed, slice_end, canceller);
      if (wait_status == PS_WAIT_CANCELLED)
        {
          pass_wake_on (lock);
          return PS_LOCK_CANCELLED;
        }

      /* A changed word means a holder that was running a moment ago; an
       * unchanged one, for a whole slice, deserves a look. */
      check_holder = wait_status == PS_WAIT_TIMED_OUT;
    }
}

PsLockStatus
ps_robust_lock_unlock (PsRobustLock *lock)
{
  guint32 previous;
  Identity me;

  if (!get_identity (&me) || !held_by (lock, load_word (lock), &me))
    return PS_LOCK_NOT_OWNER;

  lock->depth = 0;
  __atomic_store_n (&lock->owner_pid, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&lock->owner_thread, 0, __ATOMIC_RELAXED);

  /* Free: clear the pid and the contended bit, keep the takeover count. */
  previous = __atomic_fetch_and (&lock->word, LOCK_TAKEOVER_MASK, __ATOMIC_SEQ_CST);
  if (previous & LOCK_CONTENDED)
    os_sync_wake_by_address_any (&lock->word, sizeof lock->word,
                                 OS_SYNC_WAKE_BY_ADDRESS_SHARED);
  return PS_LOCK_ACQUIRED;
}

void
ps_robust_lock_make_consistent (PsRobustLock *lock)
{
  /* PsMutex keeps the consistency state itself. */
}

gboolean
ps_robust_lock_check (PsRobustLock *lock,
                      gboolean      recursive)
{
  /* The lock word and its holder record are validated as they are used. */
  return TRUE;
}

const char *
ps_backend_name (void)
{
  return "darwin";
}
