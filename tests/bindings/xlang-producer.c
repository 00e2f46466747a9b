/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The C side of the cross-language test (test_cross_language.py): the
 * producer. It puts COUNT values, one at a time, into a one-slot mailbox
 * in PREFIX.shm, guarded by PREFIX.mutex and signalled through
 * PREFIX.cond; xlang_consumer.py takes them out, xlang-watcher.js watches.
 *
 *   xlang-producer PREFIX COUNT
 *
 * The layout (int64 fields) is shared with xlang_consumer.py and
 * xlang-watcher.js.
 */

#include <stdlib.h>
#include <unistd.h>

#include <procshared/procshared.h>

#define OFFSET_FULL      0
#define OFFSET_VALUE     8
#define OFFSET_PRODUCED  16
#define WATCHDOG_SECONDS 120

/* The value number @i: the consumer and the watcher check the same formula. */
static gint64
value_for (gint64 i)
{
  return i * i * 1000003 + 7;
}

static gboolean
produce (PsMutex         *mutex,
         PsCond          *cond,
         PsSharedMemory  *memory,
         gint64           count,
         gint64           end_time,
         GError         **error)
{
  for (gint64 i = 0; i < count; i++)
    {
      /* At least 1 us: 0 would mean "try once", negative "for ever". */
      if (!ps_mutex_lock (mutex, MAX (end_time - g_get_monotonic_time (), 1), NULL, error))
        return FALSE;

      /* Predicate loop: wait until the consumer emptied the slot. The
       * deadline bounds it, so a lost consumer ends this with an error. */
      while (ps_shared_memory_get_int64 (memory, OFFSET_FULL, NULL) != 0)
        {
          if (!ps_cond_wait_until (cond, mutex, end_time, NULL, error))
            {
              ps_mutex_unlock (mutex, NULL);
              return FALSE;
            }
        }

      if (!ps_shared_memory_set_int64 (memory, OFFSET_VALUE, value_for (i), error) ||
          !ps_shared_memory_set_int64 (memory, OFFSET_PRODUCED, i + 1, error) ||
          !ps_shared_memory_set_int64 (memory, OFFSET_FULL, 1, error))
        {
          ps_mutex_unlock (mutex, NULL);
          return FALSE;
        }
      /* Broadcast: the consumer and the watcher both wait on this cond. */
      ps_cond_broadcast (cond);

      if (!ps_mutex_unlock (mutex, error))
        return FALSE;
    }
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsCond) cond = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autofree char *mutex_name = NULL;
  g_autofree char *cond_name = NULL;
  g_autofree char *memory_name = NULL;
  const char *scale;
  gint64 count;
  gint64 end_time;

  alarm (WATCHDOG_SECONDS);

  if (argc != 3)
    {
      g_printerr ("usage: %s PREFIX COUNT\n", argv[0]);
      return 2;
    }
  count = g_ascii_strtoll (argv[2], NULL, 10);
  scale = g_getenv ("PS_TEST_TIME_SCALE");
  end_time = g_get_monotonic_time () +
             (gint64) (60 * G_USEC_PER_SEC * (scale != NULL ? g_ascii_strtod (scale, NULL) : 1.0));

  mutex_name = g_strconcat (argv[1], ".mutex", NULL);
  cond_name = g_strconcat (argv[1], ".cond", NULL);
  memory_name = g_strconcat (argv[1], ".shm", NULL);

  /* The test created them all: open, never create. */
  mutex = ps_mutex_open (mutex_name, PS_OPEN_NONE, &error);
  if (mutex != NULL)
    cond = ps_cond_open (cond_name, PS_OPEN_NONE, &error);
  if (cond != NULL)
    memory = ps_shared_memory_open (memory_name, PS_OPEN_NONE, 0, &error);
  if (memory == NULL || !produce (mutex, cond, memory, count, end_time, &error))
    {
      g_printerr ("xlang-producer: %s\n", error->message);
      return 1;
    }

  g_print ("produced %" G_GINT64_FORMAT "\n", count);
  return 0;
}
