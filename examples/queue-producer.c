/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * queue-producer.c: a C producer on a named PsQueue, for consumers in any
 * language (queue_consumer.py, queue-consumer.js, `procshared receive`).
 *
 *     cc queue-producer.c -o queue-producer $(pkg-config --cflags --libs procshared-1)
 *     ./queue-producer /jobs 10 &
 *     python3 queue_consumer.py /jobs
 *
 * With a NAME, it opens the queue (creating it, for 16 messages of up to
 * 256 bytes, if the consumer has not yet), sends COUNT jobs (default 10):
 * text as bytes, and every third one a GVariant "(su)" record, which a
 * Python consumer's get() returns as a GLib.Variant; then an empty
 * message, which tells a consumer that there is no more. Whoever started
 * first, neither side loses a message: a full queue makes the producer
 * wait, an empty one the consumer.
 *
 * Without arguments it is a complete demo on its own: a forked child
 * consumes what the parent produces, then the name is unlinked.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

#define CAPACITY         16
#define MAX_MESSAGE_SIZE 256
#define TIMEOUT_US       (10 * G_USEC_PER_SEC)   /* a bug fails, never hangs */

static gboolean
produce (PsQueue  *queue,
         guint     count,
         GError  **error)
{
  for (guint i = 0; i < count; i++)
    {
      gboolean sent;

      if (i % 3 == 2)
        {
          g_autoptr(GVariant) job = g_variant_ref_sink (g_variant_new ("(su)", "job", i));

          sent = ps_queue_send_variant (queue, job, 0, TIMEOUT_US, NULL, error);
        }
      else
        {
          g_autofree char *text = g_strdup_printf ("job %u", i);
          g_autoptr(GBytes) message = g_bytes_new (text, strlen (text));

          sent = ps_queue_send (queue, message, 0, TIMEOUT_US, NULL, error);
        }
      if (!sent)
        return FALSE;
    }

  /* The end: an empty message. */
  {
    g_autoptr(GBytes) end = g_bytes_new (NULL, 0);

    return ps_queue_send (queue, end, 0, TIMEOUT_US, NULL, error);
  }
}

/* The demo's consumer, in a forked child: receives until the empty
 * message, printing each; returns how many jobs came. */
static int
consume (PsQueue *queue)
{
  int jobs = 0;

  alarm (30);
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GVariant) value = NULL;
      PsQueueMessageKind kind;

      if (!ps_queue_receive_message (queue, &kind, &bytes, &value, NULL, TIMEOUT_US, NULL,
                                     &error))
        {
          fprintf (stderr, "consumer: %s\n", error->message);
          return -1;
        }
      if (kind == PS_QUEUE_MESSAGE_VARIANT)
        {
          g_autofree char *text = g_variant_print (value, FALSE);

          printf ("consumer: a variant, %s\n", text);
        }
      else if (g_bytes_get_size (bytes) == 0)
        {
          return jobs;
        }
      else
        {
          printf ("consumer: %.*s\n", (int) g_bytes_get_size (bytes),
                  (const char *) g_bytes_get_data (bytes, NULL));
        }
      fflush (stdout);
      jobs++;
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsQueue) queue = NULL;
  g_autofree char *own_name = NULL;
  const char *name = argc > 1 ? argv[1] : NULL;
  guint count = argc > 2 ? (guint) strtoul (argv[2], NULL, 10) : 10;
  pid_t consumer = -1;
  int status = 0;

  alarm (60);
  if (name == NULL)
    name = own_name = g_strdup_printf ("/queue-demo-%d", (int) getpid ());

  queue = ps_queue_open (name, PS_OPEN_CREATE, CAPACITY, MAX_MESSAGE_SIZE, &error);
  if (queue == NULL)
    {
      fprintf (stderr, "queue-producer: %s\n", error->message);
      return 1;
    }

  if (own_name != NULL)
    {
      consumer = fork ();
      if (consumer == 0)
        _exit (consume (queue) == (int) count ? 0 : 1);
    }

  if (!produce (queue, count, &error))
    {
      fprintf (stderr, "queue-producer: %s\n", error->message);
      status = 1;
    }
  else
    {
      printf ("queue-producer: %u jobs sent to %s\n", count, name);
    }

  if (consumer > 0)
    {
      int child_status = 0;

      waitpid (consumer, &child_status, 0);
      if (!WIFEXITED (child_status) || WEXITSTATUS (child_status) != 0)
        status = 1;
      ps_unlink (name, NULL);
    }
  return status;
}
