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

/* The caller holds @mutex, and holds it again when this returns, except
 * after PS_ERROR_NOT_OWNER or PS_ERROR_WOULD_DEADLOCK. */
static gboolean
wait_for_flag (PsCond        *cond,
               PsMutex       *mutex,
               const gint32  *flag,
               GError       **error)
{
  /* Computed once: spurious wake-ups must not push the deadline back. */
  gint64 end_time = g_get_monotonic_time () + DEADLINE_SECONDS * G_USEC_PER_SEC;

  while (!*flag)
    {
      if (!ps_cond_wait_until (cond, mutex, end_time, NULL, error))
        return FALSE;
    }
  return TRUE;
}

G_NORETURN static void
run_child (PsSharedMemory *memory)
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

  if (!ps_mutex_lock (mutex, DEADLINE_SECONDS * G_USEC_PER_SEC, NULL, &error) ||
      !wait_for_flag (cond, mutex, &exchange->request_ready, &error))
    {
      g_printerr ("child: waiting for the request: %s\n", error->message);
      _exit (1);
    }

  exchange->reply = exchange->request * 2;
  exchange->reply_ready = 1;
  g_print ("child  (pid %d): got request %d, replying %d\n",
           (int) getpid (), exchange->request, exchange->reply);
  ps_cond_signal (cond);

  if (!ps_mutex_unlock (mutex, &error))
    {
      g_printerr ("child: unlock: %s\n", error->message);
      _exit (1);
    }

  fflush (stdout);
  _exit (0);
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
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
    run_child (memory);

  /* Likely lets the child wait first, as in the seed's example. Not needed
   * for correctness: the predicate loop copes with either order. */
  g_usleep (100 * 1000);

  if (!ps_mutex_lock (mutex, DEADLINE_SECONDS * G_USEC_PER_SEC, NULL, &error))
    goto fail;
  exchange->request = 21;
  exchange->request_ready = 1;
  g_print ("parent (pid %d): sent request %d\n", (int) getpid (), exchange->request);
  ps_cond_signal (cond);

  /* Releases the mutex while waiting, so that the child can answer. */
  if (!wait_for_flag (cond, mutex, &exchange->reply_ready, &error))
    goto fail;
  g_print ("parent (pid %d): got reply %d\n", (int) getpid (), exchange->reply);
  if (!ps_mutex_unlock (mutex, &error))
    goto fail;

  if (waitpid (pid, &status, 0) != pid || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
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
