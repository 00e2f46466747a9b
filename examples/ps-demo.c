/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ps-demo: two ways for processes to share data with procshared.
 *
 *  1. An anonymous PsSharedMemory, inherited by a child made with fork():
 *     the child writes a GVariant record, the parent reads it.
 *  2. A named PsSharedMemory, `/ps-demo-PID`: the parent creates it and
 *     starts a separate program (this one again, as `ps-demo --peer NAME`)
 *     which knows nothing but the name. It opens the segment, reads the
 *     parent's question and writes back an answer.
 *
 * Run it without arguments.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <procshared/procshared.h>

/* Where the records live in the named segment. */
#define QUESTION_OFFSET 0
#define ANSWER_OFFSET   2048
#define SEGMENT_SIZE    4096

/* Nothing here may wait for long: a bug should end the demo, not hang it. */
#define WATCHDOG_SECONDS 10

static void
print_record (const char *who,
              const char *what,
              GVariant   *record)
{
  g_autofree char *text = g_variant_print (record, TRUE);

  g_print ("[%s %d] %s: %s\n", who, (int) getpid (), what, text);
}

/* The child of fork(): it shares the anonymous segment with its parent. */
G_NORETURN static void
run_forked_child (PsSharedMemory *memory)
{
  g_autoptr(GError) error = NULL;
  GVariant *record;

  alarm (WATCHDOG_SECONDS);

  record = g_variant_ref_sink (g_variant_new ("(si)", "hello from a forked child",
                                              (gint32) getpid ()));
  if (!ps_shared_memory_write_variant (memory, 0, record, &error))
    {
      g_printerr ("child: cannot write the record: %s\n", error->message);
      _exit (1);
    }
  print_record ("child ", "wrote", record);
  g_variant_unref (record);

  /* _exit(): the parent owns stdio buffers and atexit handlers. */
  fflush (stdout);
  _exit (0);
}

static gboolean
demo_anonymous (GError **error)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GVariant) record = NULL;
  pid_t pid;
  int status;

  memory = ps_shared_memory_new (SEGMENT_SIZE, error);
  if (memory == NULL)
    return FALSE;

  /* Flush first, or the child would inherit and print our buffered output. */
  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "fork: %s", g_strerror (saved_errno));
      return FALSE;
    }
  if (pid == 0)
    run_forked_child (memory);

  /* Waiting for the child to exit is all the synchronisation needed here;
   * see counter.c and handshake.c for processes that run side by side. */
  if (waitpid (pid, &status, 0) != pid ||
      !g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "forked child: ");
      return FALSE;
    }

  record = ps_shared_memory_read_variant (memory, 0, error);
  if (record == NULL)
    return FALSE;
  print_record ("parent", "read from the anonymous segment", record);
  return TRUE;
}

/* The separate program: all it is given is the name of the segment. */
static int
run_peer (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GVariant) question = NULL;
  g_autoptr(GVariant) answer = NULL;
  const char *text;

  alarm (WATCHDOG_SECONDS);

  /* PS_OPEN_NONE: the segment must exist; size 0 accepts whatever size it has. */
  memory = ps_shared_memory_open (name, PS_OPEN_NONE, 0, &error);
  if (memory == NULL)
    {
      g_printerr ("peer: cannot open %s: %s\n", name, error->message);
      return 1;
    }
  g_print ("[peer   %d] opened %s by name, %" G_GSIZE_FORMAT " bytes\n",
           (int) getpid (), name, ps_shared_memory_get_size (memory));

  question = ps_shared_memory_read_variant (memory, QUESTION_OFFSET, &error);
  if (question == NULL)
    {
      g_printerr ("peer: cannot read the question: %s\n", error->message);
      return 1;
    }
  print_record ("peer  ", "read", question);

  /* Check the type before unpacking: the data comes from another program. */
  if (!g_variant_is_of_type (question, G_VARIANT_TYPE ("(s)")))
    {
      g_printerr ("peer: unexpected record of type %s\n", g_variant_get_type_string (question));
      return 1;
    }
  g_variant_get (question, "(&s)", &text);

  answer = g_variant_ref_sink (g_variant_new ("(si)", "the answer is", (gint32) strlen (text)));
  if (!ps_shared_memory_write_variant (memory, ANSWER_OFFSET, answer, &error))
    {
      g_printerr ("peer: cannot write the answer: %s\n", error->message);
      return 1;
    }
  print_record ("peer  ", "wrote", answer);
  return 0;
}

static gboolean
demo_named (const char  *self_path,
            GError     **error)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GVariant) question = NULL;
  g_autoptr(GVariant) answer = NULL;
  g_autofree char *name = NULL;
  int wait_status;
  gboolean ok = FALSE;

  /* The pid makes the name unique to this run. */
  name = g_strdup_printf ("/ps-demo-%d", (int) getpid ());

  /* EXCLUSIVE: never reuse a stale segment left by someone else. */
  memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, SEGMENT_SIZE, error);
  if (memory == NULL)
    return FALSE;
  g_print ("[parent %d] created %s\n", (int) getpid (), name);

  question = g_variant_ref_sink (g_variant_new ("(s)", "how long is this question?"));
  if (!ps_shared_memory_write_variant (memory, QUESTION_OFFSET, question, error))
    goto out;
  print_record ("parent", "wrote", question);

  /* A fresh program, not a fork: it shares nothing with us but the name. */
  {
    const char *argv[] = { self_path, "--peer", name, NULL };

    fflush (stdout);
    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH,
                       NULL, NULL, NULL, NULL, &wait_status, error) ||
        !g_spawn_check_wait_status (wait_status, error))
      {
        g_prefix_error (error, "peer: ");
        goto out;
      }
  }

  answer = ps_shared_memory_read_variant (memory, ANSWER_OFFSET, error);
  if (answer == NULL)
    goto out;
  print_record ("parent", "read the peer's answer", answer);
  ok = TRUE;

out:
  /* Named segments outlive their processes until unlinked. */
  if (!ps_unlink (name, ok ? error : NULL))
    ok = FALSE;
  else
    g_print ("[parent %d] unlinked %s\n", (int) getpid (), name);
  return ok;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;

  if (argc == 3 && strcmp (argv[1], "--peer") == 0)
    return run_peer (argv[2]);
  if (argc != 1)
    {
      g_printerr ("Usage: %s\n", argv[0]);
      return 2;
    }

  alarm (2 * WATCHDOG_SECONDS);

  if (!demo_anonymous (&error))
    {
      g_printerr ("ps-demo: anonymous segment: %s\n", error->message);
      return 1;
    }
  if (!demo_named (argv[0], &error))
    {
      g_printerr ("ps-demo: named segment: %s\n", error->message);
      return 1;
    }
  return 0;
}
