/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Watches for the backends that cannot sleep on many words at once (posix,
 * darwin): none. Their async waits poll instead, from a GSource in the
 * wait's own main context (ps-async-watch.c): no thread per pending
 * wait, at the cost of a wake-up per pending wait every few milliseconds
 * while it waits, and of a release being seen that late.
 */

#include "ps-backend-private.h"

gboolean
ps_watch_add (PsWatch *watch)
{
  return FALSE;
}

void
ps_watch_remove (PsWatch *watch)
{
}

void
ps_watch_done (PsWatch *watch)
{
}

const guint32 *
ps_wait_word_watch_address (PsWaitWord *word)
{
  return NULL;
}

gboolean
ps_robust_lock_watch (PsRobustLock    *lock,
                      const guint32  **address,
                      guint32         *expected)
{
  /* Whether the lock is free can only be learnt by taking it. */
  *address = NULL;
  *expected = 0;
  return TRUE;
}

void
ps_robust_lock_watch_done (PsRobustLock *lock,
                           gboolean      taken)
{
  /* Polling watchers take no wake-up that could need passing on. */
}
