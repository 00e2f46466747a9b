/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * handshake: a request and a reply between two forked processes, with a
 * PsMutex, a PsCond and the data they guard in one PsSharedMemory.
 *
 * Each side waits in a predicate loop ("while the flag is not set, wait")
 * with ps_cond_wait_until() and a fixed deadline. The loop makes the
 * order of events irrelevant: a signal sent before the other side waits
 * is not lost, since that side then finds the flag already set. The
 * deadline means a bug ends the example with an error instead of a hang.
 *
 * Either side may die holding the mutex. Then the other side's lock, or
 * its wait on the condition, fails with PS_ERROR_OWNER_DEAD *holding the
 * mutex*: it repairs the exchange (repair_exchange()), calls
 * ps_mutex_mark_consistent() and goes on. Unlocking without marking it
 * consistent would make the mutex unusable for everyone.
 *
 *     handshake           the request and its reply
 *     handshake --crash   the child is killed (SIGKILL) holding the mutex,
 *                         after writing its reply and before flagging it;
 *                         the parent repairs, then checks that another
 *                         process can still lock and unlock the mutex
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

typedef struct
{
  gint32 request_ready;
  gint32 request;
  gint32 reply_ready;
  gint32 reply;
  gint32 peer_died;   /* set by the repair: nobody will answer any more */
} Exchange;

/* One segment: the lock, the condition and the data, side by side. */
#define MUTEX_OFFSET    0
#define COND_OFFSET     PS_MUTEX_SIZE
#define EXCHANGE_OFFSET (PS_MUTEX_SIZE + PS_COND_SIZE)
#define SEGMENT_SIZE    (EXCHANGE_OFFSET + sizeof (Exchange))

#define DEADLINE_SECONDS 5
#define WATCHDOG_SECONDS 10

static Exchange *
get_exchange (PsSharedMemory *memory)
{
  /* The data is 64-byte aligned, and so is EXCHANGE_OFFSET. */
  return (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + EXCHANGE_OFFSET);
}

/* After the other side died holding the mutex: a reply written without
 * its flag is not to be trusted, and nobody will answer any more. */
static void
repair_exchange (Exchange *exchange)
{
  if (!exchange->reply_ready)
    exchange->reply = 0;
  exchange->peer_died = 1;
}

/* Locks @mutex; on PS_ERROR_OWNER_DEAD (held, then), repairs and marks it
 * consistent. FALSE: not held. */
static gboolean
lock_exchange (PsMutex   *mutex,
               Exchange  *exchange,
               GError   **error)
{
  g_autoptr(GError) local_error = NULL;

  if (ps_mutex_lock (mutex, DEADLINE_SECONDS * G_USEC_PER_SEC, NULL, &local_error))
    return TRUE;
  if (!g_error_matches (local_error, PS_ERROR, PS_ERROR_OWNER_DEAD))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  repair_exchange (exchange);
  return ps_mutex_mark_consistent (mutex, error);
}

/* The caller holds @mutex, and holds it again when this returns, whatever
 * the outcome (it always holds it when waiting). TRUE: *@flag is set, or
 * the other side died (exchange->peer_died). */
static gboolean
wait_for_flag (PsCond        *cond,
               PsMutex       *mutex,
               Exchange      *exchange,
               const gint32  *flag,
               GError       **error)
{
  /* Computed once: spurious wake-ups must not push the deadline back. */
  gint64 end_time = g_get_monotonic_time () + DEADLINE_SECONDS * G_USEC_PER_SEC;

  while (!*flag && !exchange->peer_died)
    {
      g_autoptr(GError) local_error = NULL;

      if (ps_cond_wait_until (cond, mutex, end_time, NULL, &local_error))
        continue;
      if (!g_error_matches (local_error, PS_ERROR, PS_ERROR_OWNER_DEAD))
        {
          /* Timed out or cancelled: we hold the mutex; the caller unlocks. */
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      /* The other side died holding the mutex, and we hold it now: repair
       * what it may have left half done, say so, and go on. */
      repair_exchange (exchange);
      if (!ps_mutex_mark_consistent (mutex, error))
        return FALSE;
    }
  return TRUE;
}

G_NORETURN static void
run_child (PsSharedMemory *memory,
           gboolean        crash)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  Exchange *exchange = get_exchange (memory);

  alarm (WATCHDOG_SECONDS);

  /* attach() is what any process sharing the segment would do; a forked
   * child could also use the parent's objects directly. */
  mutex = ps_mutex_attach (memory, MUTEX_OFFSET, &error);
  if (mutex != NULL)
    cond = ps_cond_attach (memory, COND_OFFSET, &error);
  if (cond == NULL)
    {
      g_printerr ("child: attach: %s\n", error->message);
      _exit (1);
    }

  if (!lock_exchange (mutex, exchange, &error))
    {
      g_printerr ("child: lock: %s\n", error->message);
      _exit (1);
    }
  if (!wait_for_flag (cond, mutex, exchange, &exchange->request_ready, &error))
    {
      g_printerr ("child: waiting for the request: %s\n", error->message);
      ps_mutex_unlock (mutex, NULL);
      _exit (1);
    }
  if (exchange->peer_died)
    {
      g_printerr ("child: the parent died\n");
      ps_mutex_unlock (mutex, NULL);
      _exit (1);
    }

  exchange->reply = exchange->request * 2;
  ps_cond_signal (cond);
  if (crash)
    {
      /* Killed in the middle of the update, holding the mutex: the reply
       * is written, its flag is not. */
      g_print ("child  (pid %d): killed holding the mutex\n", (int) getpid ());
      fflush (stdout);
      raise (SIGKILL);
    }
  exchange->reply_ready = 1;
  g_print ("child  (pid %d): got request %d, replying %d\n",
           (int) getpid (), exchange->request, exchange->reply);

  if (!ps_mutex_unlock (mutex, &error))
    {
      g_printerr ("child: unlock: %s\n", error->message);
      _exit (1);
    }

  fflush (stdout);
  _exit (0);
}

/* Whether a process other than this one can lock and unlock @memory's
 * mutex: after a repair, it must. */
static gboolean
mutex_usable_from_another_process (PsSharedMemory *memory)
{
  pid_t pid;
  int status;

  pid = fork ();
  if (pid == 0)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PsMutex) mutex = NULL;

      alarm (WATCHDOG_SECONDS);
      mutex = ps_mutex_attach (memory, MUTEX_OFFSET, &error);
      if (mutex == NULL ||
          !ps_mutex_lock (mutex, DEADLINE_SECONDS * G_USEC_PER_SEC, NULL, &error) ||
          !ps_mutex_unlock (mutex, &error))
        {
          g_printerr ("checker: %s\n", error->message);
          _exit (1);
        }
      _exit (0);
    }
  return pid > 0 && waitpid (pid, &status, 0) == pid &&
         WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  gboolean crash = argc > 1 && g_str_equal (argv[1], "--crash");
  Exchange *exchange;
  pid_t pid;
  int status;

  alarm (WATCHDOG_SECONDS);

  memory = ps_shared_memory_new (SEGMENT_SIZE, &error);
  if (memory != NULL)
    mutex = ps_mutex_new_at (memory, MUTEX_OFFSET, &error);
  if (mutex != NULL)
    cond = ps_cond_new_at (memory, COND_OFFSET, &error);
  if (cond == NULL)
    {
      g_printerr ("handshake: setup: %s\n", error->message);
      return 1;
    }
  exchange = get_exchange (memory);

  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    {
      g_printerr ("handshake: fork: %s\n", g_strerror (errno));
      return 1;
    }
  if (pid == 0)
    run_child (memory, crash);

  /* Likely lets the child wait first, as in the seed's example. Not needed
   * for correctness: the predicate loop copes with either order. */
  g_usleep (100 * 1000);

  if (!lock_exchange (mutex, exchange, &error))
    goto fail;
  exchange->request = 21;
  exchange->request_ready = 1;
  g_print ("parent (pid %d): sent request %d\n", (int) getpid (), exchange->request);
  ps_cond_signal (cond);

  /* Releases the mutex while waiting, so that the child can answer. */
  if (!wait_for_flag (cond, mutex, exchange, &exchange->reply_ready, &error))
    {
      ps_mutex_unlock (mutex, NULL);   /* held again on every return */
      goto fail;
    }
  if (exchange->peer_died)
    g_print ("parent (pid %d): the child died before replying; repaired\n", (int) getpid ());
  else
    g_print ("parent (pid %d): got reply %d\n", (int) getpid (), exchange->reply);
  if (!ps_mutex_unlock (mutex, &error))
    goto fail;

  if (waitpid (pid, &status, 0) != pid)
    return 1;
  if (crash)
    {
      /* The child was killed as planned; the mutex must work for all. */
      if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL || !exchange->peer_died)
        {
          g_printerr ("handshake: the child was not killed holding the mutex\n");
          return 1;
        }
      if (!mutex_usable_from_another_process (memory))
        {
          g_printerr ("handshake: the mutex is not usable after the repair\n");
          return 1;
        }
      g_print ("parent (pid %d): the mutex works for another process\n", (int) getpid ());
      return 0;
    }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      g_printerr ("handshake: the child failed\n");
      return 1;
    }
  return exchange->reply == 42 ? 0 : 1;

fail:
  g_printerr ("handshake: %s\n", error->message);
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  return 1;
}
