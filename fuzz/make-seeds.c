/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Writes the seed corpus of the fuzz targets: valid records and objects
 * made by the library itself, in the states an application meets (held
 * by a live peer, left by a dead holder, condemned), and damaged copies
 * of them (truncated, wrong type, wrong version, impossible state).
 *
 *   fuzz-make-seeds OUTDIR
 *
 * writes OUTDIR/fuzz-read-variant/, OUTDIR/fuzz-attach/,
 * OUTDIR/fuzz-open-named/ and OUTDIR/fuzz-attach-queue/ (among others). Each file is a control byte (see each
 * target's header comment) followed by the bytes under test.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procshared.h"
#include "ps-object-header-private.h"
#include "ps-queue-private.h"

#define SLOT_SIZE 256

static const char *out_dir;

static void
write_seed (const char   *target,
            const char   *name,
            guint8        control,
            const guint8 *bytes,
            gsize         length)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (out_dir, target, NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree guint8 *contents = g_malloc (length + 1);

  contents[0] = control;
  memcpy (contents + 1, bytes, length);
  if (g_mkdir_with_parents (dir, 0755) != 0 ||
      !g_file_set_contents (path, (const char *) contents, (gssize) length + 1, &error))
    g_error ("Could not write %s: %s", path, error ? error->message : g_strerror (errno));
}

/* fuzz-read-variant -------------------------------------------------------- */

static const char *const values[] = {
  "true", "byte 0xff", "int16 -2", "uint16 65535", "int32 -7", "uint32 7",
  "int64 -9223372036854775808", "uint64 18446744073709551615", "handle 3",
  "3.25", "'hello'", "''", "'ünïcödé ✓'", "objectpath '/org/example/Obj'",
  "signature 'a{sv}'", "<42>", "<<'nested'>>", "@ay []", "b'bytes'",
  "[1, 2, 3]", "['a', 'bc', '']", "{'k': <1>, 'z': <'v'>}", "@a{sv} {}",
  "(1, 'two', 3.0)", "()", "[(1, 2), (3, 4)]", "@mi 5", "@mi nothing", "@ms 'maybe'",
  "@ms nothing", "[@mi 1, nothing]", "{1: 'one'}", "[[1], [], [2, 3]]",
  "(true, byte 1, <(int16 2, 'x')>)", "@a(sai) [('x', [1]), ('', [])]",
  "[<1>, <'s'>, <[2]>]", "@aay [b'ab', b'']", "(@ai [], @as [], @a{ss} {})",
  "[{'a': 1}, {'b': 2}]", "@(yqut) (1, 2, 3, 4)", "[3.5, -0.0]",
};

static gsize
record_into (PsSharedMemory *memory,
             gsize           offset,
             GVariant       *value)
{
  g_autoptr(GError) error = NULL;

  if (!ps_shared_memory_write_variant (memory, offset, value, &error))
    g_error ("write_variant: %s", error->message);
  return ps_shared_memory_measure_variant (value);
}

static void
seeds_read_variant (void)
{
  const char *target = "fuzz-read-variant";
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  guint i;

  memory = ps_shared_memory_new (4096, &error);
  g_assert_no_error (error);

  for (i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_parsed (values[i], NULL));
      guint8 *data = ps_shared_memory_get_data (memory);
      g_autofree char *name = NULL;
      gsize length, second;

      memset (data, 0, 4096);
      length = record_into (memory, 0, value);
      name = g_strdup_printf ("value-%02u", i);
      write_seed (target, name, 0, data, length);

      /* The same record after another one, at an odd offset, read there. */
      if (i % 3 == 0)
        {
          g_autoptr(GVariant) other = g_variant_ref_sink (g_variant_new_parsed (values[(i + 7) % G_N_ELEMENTS (values)], NULL));
          gsize first;

          memset (data, 0xa5, 4096);
          first = record_into (memory, 0, other) + (i % 8);
          second = record_into (memory, first, value);
          if (first < 256)
            {
              g_free (name);
              name = g_strdup_printf ("pair-%02u", i);
              write_seed (target, name, (guint8) first, data, first + second);
            }
          memset (data, 0, 4096);
          length = record_into (memory, 0, value);
        }

      /* Damaged copies of some. */
      if (i % 4 == 1 && length > 17)
        {
          g_free (name);
          name = g_strdup_printf ("truncated-%02u", i);
          write_seed (target, name, 0, data, length - 1);
        }
      if (i % 4 == 2)
        {
          guint64 huge = G_MAXUINT64 - 3;
          guint8 copy[512];

          if (length <= sizeof copy)
            {
              memcpy (copy, data, length);
              memcpy (copy + 8, &huge, sizeof huge);
              g_free (name);
              name = g_strdup_printf ("huge-length-%02u", i);
              write_seed (target, name, 0, copy, length);
              memcpy (copy, data, length);
              copy[length - 1] ^= 0x41;
              g_free (name);
              name = g_strdup_printf ("flipped-%02u", i);
              write_seed (target, name, 0, copy, length);
            }
        }
    }

  /* Hand-made records a writer never makes. */
  {
    static const struct
    {
      const char *name;
      guint32 magic;
      guint32 type_length;
      guint64 data_length;
      const char *type;
      const char *data;
      gsize data_size;
    } bad[] = {
      { "bad-magic", 0x31525651, 1, 4, "i", "\1\0\0\0", 4 },
      { "type-length-0", 0x31525650, 0, 0, "", "", 0 },
      { "type-length-max", 0x31525650, 65535, 0, "i", "", 0 },
      { "type-length-huge", 0x31525650, 0xffffffff, 0, "i", "", 0 },
      { "indefinite-type", 0x31525650, 1, 0, "*", "", 0 },
      { "invalid-type", 0x31525650, 4, 0, "{sv}", "", 0 },
      { "type-with-nul", 0x31525650, 2, 4, "i\0", "\1\0\0\0", 4 },
      { "string-without-nul", 0x31525650, 1, 3, "s", "abc", 3 },
      { "wrong-fixed-size", 0x31525650, 1, 3, "i", "\1\0\0", 3 },
      { "bad-utf8", 0x31525650, 1, 3, "s", "\xff\xfe", 3 },
      { "bad-offsets", 0x31525650, 2, 6, "as", "a\0b\0\7\2", 6 },
      { "bad-bool", 0x31525650, 1, 1, "b", "\2", 1 },
      { "bad-object-path", 0x31525650, 1, 3, "o", "//\0", 3 },
      { "bad-signature", 0x31525650, 1, 3, "g", "a{\0", 3 },
      { "variant-no-type", 0x31525650, 1, 4, "v", "\1\2\0\0", 4 },
      { "deep-type", 0x31525650, 16, 0, "aaaaaaaaaaaaaaai", "", 0 },
      { "empty-unit", 0x31525650, 2, 0, "()", "", 0 },
      { "unit-one-byte", 0x31525650, 2, 1, "()", "\0", 1 },
      { "maybe-trailing", 0x31525650, 2, 5, "mi", "\1\0\0\0\0", 5 },
    };

    for (i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        guint8 record[256] = { 0 };
        gsize type_room = (MIN (bad[i].type_length, 32) + 7) & ~(gsize) 7;
        gsize length = 16 + type_room + bad[i].data_size;

        memcpy (record, &bad[i].magic, 4);
        memcpy (record + 4, &bad[i].type_length, 4);
        memcpy (record + 8, &bad[i].data_length, 8);
        memcpy (record + 16, bad[i].type, MIN (strlen (bad[i].type) + (bad[i].type_length == 2 && bad[i].type[0] == 'i'), type_room));
        memcpy (record + 16 + type_room, bad[i].data, bad[i].data_size);
        write_seed (target, bad[i].name, 0, record, length);
      }
  }

  write_seed (target, "empty", 0, (const guint8 *) "", 0);
  write_seed (target, "short", 0, (const guint8 *) "PVR1", 4);
}

/* fuzz-attach -------------------------------------------------------------- */

typedef void (*StateFunc) (PsSharedMemory *memory, gsize offset);

static void
slot_seed (const char   *base,
           const guint8 *slot,
           gboolean      damaged)
{
  g_autofree char *name = NULL;
  union { guint8 bytes[SLOT_SIZE]; PsObjectHeader header; } slot_copy;
  guint8 *copy = slot_copy.bytes;
  PsObjectHeader *header = &slot_copy.header;

  write_seed ("fuzz-attach", base, 0, slot, SLOT_SIZE);
  /* A named object's file is laid out like a slot (header, then state):
   * the states only a peer's life and death produce, for the openers. */
  if (strstr (base, "-held") || strstr (base, "-owner-died") || strstr (base, "-not-recoverable"))
    write_seed ("fuzz-open-named", base, 0, slot, SLOT_SIZE);
  name = g_strconcat (base, "-at-40-and-0", NULL);
  write_seed ("fuzz-attach", name, 5 | 0x80, slot, SLOT_SIZE);

  if (!damaged)
    return;

  /* The same in the states a header must be refused in. */
#define DAMAGED(suffix, control, change)                                  \
  G_STMT_START {                                                          \
    g_autofree char *damaged_name = g_strconcat (base, "-" suffix, NULL); \
    memcpy (copy, slot, SLOT_SIZE);                                       \
    change;                                                               \
    write_seed ("fuzz-attach", damaged_name, control, copy, SLOT_SIZE);   \
  } G_STMT_END
  DAMAGED ("not-ready-published", 0x20, header->ready = 0);
  DAMAGED ("not-ready", 0x00, header->ready = 0);
  DAMAGED ("magic", 0x00, header->magic ^= 1);
  DAMAGED ("layout", 0x00, header->layout_version = 2);
  DAMAGED ("backend", 0x00, header->backend = 0xee);
  DAMAGED ("payload", 0x00, header->payload_size = 4096);
  DAMAGED ("truncated", 0x00, memset (copy + 64, 0, SLOT_SIZE - 64));
#undef DAMAGED
}

static void
copy_slot (PsSharedMemory *memory,
           guint8         *slot)
{
  memcpy (slot, ps_shared_memory_get_data (memory), SLOT_SIZE);
}

static void
seeds_mutex_states (gboolean recursive)
{
  const char *kind = recursive ? "mutex-recursive" : "mutex";
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  guint8 slot[SLOT_SIZE];
  int to_parent[2];
  int to_child[2];
  pid_t pid;
  char byte;
  int status;

  memory = ps_shared_memory_new (SLOT_SIZE, &error);
  g_assert_no_error (error);
  /* ps_mutex_new_at() makes a plain one; the property, either. */
  mutex = g_initable_new (PS_TYPE_MUTEX, NULL, &error,
                          "memory", memory, "offset", (guint64) 0,
                          "recursive", recursive, NULL);
  g_assert_no_error (error);

  copy_slot (memory, slot);
  slot_seed (kind, slot, TRUE);

  /* Held by a live peer (whose thread is gone when the seed is replayed:
   * only its death is not recorded in the lock word). */
  g_assert (pipe (to_parent) == 0 && pipe (to_child) == 0);
  pid = fork ();
  if (pid == 0)
    {
      if (!ps_mutex_lock (mutex, 0, NULL, NULL))
        _exit (1);
      if (write (to_parent[1], "l", 1) != 1)
        _exit (1);
      if (read (to_child[0], &byte, 1) != 1)   /* until the parent has copied */
        _exit (1);
      _exit (0);   /* dies holding it */
    }
  g_assert (read (to_parent[0], &byte, 1) == 1);
  copy_slot (memory, slot);
  name = g_strconcat (kind, "-held", NULL);
  slot_seed (name, slot, FALSE);
  g_assert (write (to_child[1], "c", 1) == 1);
  g_assert (waitpid (pid, &status, 0) == pid && WIFEXITED (status) && WEXITSTATUS (status) == 0);
  close (to_parent[0]);
  close (to_parent[1]);
  close (to_child[0]);
  close (to_child[1]);

  /* Its holder died: the kernel marked the lock word. */
  copy_slot (memory, slot);
  g_free (name);
  name = g_strconcat (kind, "-owner-died", NULL);
  slot_seed (name, slot, FALSE);
  write_seed ("fuzz-attach", name, 0x40, slot, SLOT_SIZE);   /* and marked consistent */

  /* Unlocked without repair: condemned. */
  if (ps_mutex_lock (mutex, 0, NULL, &error) || !g_error_matches (error, PS_ERROR, PS_ERROR_OWNER_DEAD))
    g_error ("expected OWNER_DEAD");
  g_clear_error (&error);
  g_assert (ps_mutex_unlock (mutex, NULL));
  copy_slot (memory, slot);
  g_free (name);
  name = g_strconcat (kind, "-not-recoverable", NULL);
  slot_seed (name, slot, FALSE);
}

static void
seeds_attach (void)
{
  g_autoptr(PsSharedMemory) memory = NULL;
  g_autoptr(GError) error = NULL;
  guint8 slot[SLOT_SIZE];
  static const guint values[][2] = { { 0, 1 }, { 1, 1 }, { 3, 5 }, { 0, G_MAXINT32 }, { G_MAXINT32, G_MAXINT32 } };
  guint i;

  memory = ps_shared_memory_new (SLOT_SIZE, &error);
  g_assert_no_error (error);

  seeds_mutex_states (FALSE);
  seeds_mutex_states (TRUE);

  for (i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autofree char *name = g_strdup_printf ("semaphore-%u-of-%u", values[i][0], values[i][1]);
      PsSemaphore *semaphore;

      /* The slot again empty: creating over the last seed's live object
       * would fail with G_IO_ERROR_EXISTS. */
      memset (ps_shared_memory_get_data (memory), 0, SLOT_SIZE);
      semaphore = g_initable_new (PS_TYPE_SEMAPHORE, NULL, &error,
                                  "memory", memory, "offset", (guint64) 0,
                                  "initial-value", values[i][0],
                                  "max-value", values[i][1], NULL);

      g_assert_no_error (error);
      copy_slot (memory, slot);
      slot_seed (name, slot, i == 2);
      g_object_unref (semaphore);
    }

  {
    PsCond *cond;

    memset (ps_shared_memory_get_data (memory), 0, SLOT_SIZE);
    cond = ps_cond_new_at (memory, 0, &error);

    g_assert_no_error (error);
    ps_cond_signal (cond);
    copy_slot (memory, slot);
    slot_seed ("cond", slot, TRUE);
    g_object_unref (cond);
  }

  memset (slot, 0, sizeof slot);
  write_seed ("fuzz-attach", "zeros", 0, slot, SLOT_SIZE);
  memset (slot, 0xff, sizeof slot);
  write_seed ("fuzz-attach", "ones", 0, slot, SLOT_SIZE);
}

/* fuzz-open-named ----------------------------------------------------------- */

static GBytes *
named_file (const char *name)
{
  g_autofree char *path = g_strconcat ("/dev/shm", name, NULL);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, &error))
    g_error ("%s", error->message);
  ps_unlink (name, NULL);
  return g_bytes_new_take (contents, length);
}

static void
named_seed (const char *base,
            GBytes     *file,
            guint8      control)
{
  g_autofree char *name = NULL;
  gsize length;
  const guint8 *bytes = g_bytes_get_data (file, &length);
  /* g_malloc() memory is aligned for any type. */
  g_autofree gpointer copy = g_malloc0 (MAX (length, sizeof (PsObjectHeader)));
  PsObjectHeader *header = copy;

  write_seed ("fuzz-open-named", base, control, bytes, length);
  /* Shrunk by a peer once opened: to nothing, or to the header alone. */
  name = g_strconcat (base, "-shrunk", NULL);
  write_seed ("fuzz-open-named", name, control | 0x40, bytes, length);
  g_free (name);
  name = g_strconcat (base, "-shrunk-to-header", NULL);
  write_seed ("fuzz-open-named", name, control | 0xc0, bytes, length);
  g_clear_pointer (&name, g_free);
  if (length > 64)
    {
      name = g_strconcat (base, "-truncated", NULL);
      write_seed ("fuzz-open-named", name, control, bytes, length - 1);
    }
  memcpy (copy, bytes, length);
  header->ready = 0;
  g_free (name);
  name = g_strconcat (base, "-not-ready", NULL);
  write_seed ("fuzz-open-named", name, control | 1, copy, length);
  memcpy (copy, bytes, length);
  header->payload_size = G_MAXUINT64 - 100;
  g_free (name);
  name = g_strconcat (base, "-huge", NULL);
  write_seed ("fuzz-open-named", name, control, copy, length);
}

static void
seeds_open_named (void)
{
  g_autofree char *name = g_strdup_printf ("/ps-fuzz-seed-%d", (int) getpid ());
  g_autoptr(GError) error = NULL;
  static const gsize sizes[] = { 1, 8, 64, 200 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *seed_name = g_strdup_printf ("memory-%" G_GSIZE_FORMAT, sizes[i]);
      PsSharedMemory *memory = ps_shared_memory_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE,
                                                      sizes[i], &error);
      g_autoptr(GBytes) file = NULL;

      g_assert_no_error (error);
      if (sizes[i] >= 64)
        {
          g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_parsed ("{'key': <[1, 2]>}"));

          record_into (memory, 0, value);
        }
      g_object_unref (memory);
      file = named_file (name);
      named_seed (seed_name, file, 0);
      if (sizes[i] >= 64)
        {
          g_free (seed_name);
          seed_name = g_strdup_printf ("memory-%" G_GSIZE_FORMAT "-min-size", sizes[i]);
          named_seed (seed_name, file, 1 << 2);
        }
    }

  {
    PsMutex *mutex = ps_mutex_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
    g_autoptr(GBytes) file = NULL;

    g_assert_no_error (error);
    g_object_unref (mutex);
    file = named_file (name);
    named_seed ("mutex", file, 0);
  }
  {
    PsSemaphore *semaphore = ps_semaphore_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, 2, &error);
    g_autoptr(GBytes) file = NULL;

    g_assert_no_error (error);
    g_object_unref (semaphore);
    file = named_file (name);
    named_seed ("semaphore", file, 0);
  }
  {
    PsCond *cond = ps_cond_open (name, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, &error);
    g_autoptr(GBytes) file = NULL;

    g_assert_no_error (error);
    g_object_unref (cond);
    file = named_file (name);
    named_seed ("cond", file, 0);
  }

  write_seed ("fuzz-open-named", "empty", 0, (const guint8 *) "", 0);
}

/* fuzz-attach-rendezvous ------------------------------------------------- */

/* The slot at offset 0 of @memory, as the seed @name. */
static void
rendezvous_seed (PsSharedMemory *memory,
                 const char     *name)
{
  write_seed ("fuzz-attach-rendezvous", name, 0, ps_shared_memory_get_data (memory), SLOT_SIZE);
}

static void
seeds_rendezvous (void)
{
  static const guint parties[] = { 1, 2, 5, PS_BARRIER_MAX_PARTIES };

  for (guint auto_reset = 0; auto_reset < 2; auto_reset++)
    for (guint set = 0; set < 2; set++)
      {
        g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SLOT_SIZE, NULL);
        g_autoptr(PsEvent) event = ps_event_new_at (memory, 0, auto_reset, NULL);
        g_autofree char *name = g_strdup_printf ("event-%s-%s", auto_reset ? "auto" : "manual",
                                                 set ? "set" : "clear");

        if (set)
          ps_event_set (event);
        rendezvous_seed (memory, name);
      }

  for (guint i = 0; i < G_N_ELEMENTS (parties); i++)
    for (guint broken = 0; broken < 2; broken++)
      {
        g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (SLOT_SIZE, NULL);
        g_autoptr(PsBarrier) barrier = ps_barrier_new_at (memory, 0, parties[i], NULL);
        g_autofree char *name = g_strdup_printf ("barrier-%u%s", parties[i],
                                                 broken ? "-broken" : "");

        if (broken)
          ps_barrier_abort (barrier);
        rendezvous_seed (memory, name);
      }
}

/* fuzz-attach-queue ------------------------------------------------------- */

/* A seed of fuzz-attach-queue: control, call seed, then one edit of
 * @length bytes of @value at @at (none if @length is 0). */
static void
queue_seed (const char *name,
            guint8      control,
            guint8      seed,
            gsize       at,
            guint8      value,
            gsize       length)
{
  guint8 bytes[3 + 32 + 1];

  g_assert (length <= 32);
  bytes[0] = seed;
  bytes[1] = at & 0xff;
  bytes[2] = (at >> 8) & 0xff;
  bytes[3] = (guint8) length;
  memset (bytes + 4, value, length);
  write_seed ("fuzz-attach-queue", name, control, bytes, length > 0 ? 4 + length : 1);
}

static void
seeds_queue (void)
{
  static const struct
  {
    const char *name;
    gsize       offset;
    gsize       size;
  } state_fields[] = {
    { "capacity", G_STRUCT_OFFSET (PsQueueState, capacity), 4 },
    { "max-size", G_STRUCT_OFFSET (PsQueueState, max_message_size), 8 },
    { "stride", G_STRUCT_OFFSET (PsQueueState, slot_stride), 8 },
    { "slots-offset", G_STRUCT_OFFSET (PsQueueState, slots_offset), 8 },
    { "ready-head", G_STRUCT_OFFSET (PsQueueState, ready_head), 4 },
    { "free-head", G_STRUCT_OFFSET (PsQueueState, free_head), 4 },
    { "counts", G_STRUCT_OFFSET (PsQueueState, n_ready), 24 },
  }, slot_fields[] = {
    { "state", G_STRUCT_OFFSET (PsQueueSlot, state), 4 },
    { "kind", G_STRUCT_OFFSET (PsQueueSlot, kind), 4 },
    { "owner", G_STRUCT_OFFSET (PsQueueSlot, owner_pid), 8 },
    { "size", G_STRUCT_OFFSET (PsQueueSlot, size), 8 },
    { "next", G_STRUCT_OFFSET (PsQueueSlot, next), 4 },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(PsSharedMemory) memory = ps_shared_memory_new (ps_queue_measure (4, 64), &error);
  g_autoptr(PsQueue) queue = NULL;
  gsize state_at = sizeof (PsObjectHeader);
  gsize slots_at;
  guint i;

  g_assert_no_error (error);
  queue = ps_queue_new_at (memory, 0, 4, 64, &error);
  g_assert_no_error (error);
  slots_at = (gsize) (ps_queue_get_handle (queue)->slots -
                      (guint8 *) ps_shared_memory_get_data (memory));

  queue_seed ("empty", 0x00, 0x11, 0, 0, 0);
  queue_seed ("three-messages", 3 << 5, 0x5a, 0, 0, 0);
  queue_seed ("seven-messages-offset", (7 << 5) | 3, 0xc3, 0, 0, 0);
  queue_seed ("zeros", 1 << 4, 0x00, 0, 0, 0);
  for (i = 0; i < G_N_ELEMENTS (state_fields); i++)
    {
      g_autofree char *ones = g_strdup_printf ("state-%s-ones", state_fields[i].name);
      g_autofree char *zero = g_strdup_printf ("state-%s-zero", state_fields[i].name);

      queue_seed (ones, 2 << 5, 0x3c, state_at + state_fields[i].offset, 0xff,
                  state_fields[i].size);
      queue_seed (zero, 2 << 5, 0xa7, state_at + state_fields[i].offset, 0x00,
                  state_fields[i].size);
    }
  for (i = 0; i < G_N_ELEMENTS (slot_fields); i++)
    {
      g_autofree char *ones = g_strdup_printf ("slot-%s-ones", slot_fields[i].name);
      g_autofree char *two = g_strdup_printf ("slot-%s-two", slot_fields[i].name);

      queue_seed (ones, 3 << 5, 0x96, slots_at + slot_fields[i].offset, 0xff,
                  slot_fields[i].size);
      queue_seed (two, 3 << 5, 0x69, slots_at + slot_fields[i].offset, 0x02, 1);
    }
}

int
main (int   argc,
      char *argv[])
{
  if (argc != 2)
    {
      fprintf (stderr, "Usage: %s OUTDIR\n", argv[0]);
      return 2;
    }
  out_dir = argv[1];

  seeds_read_variant ();
  seeds_attach ();
  seeds_open_named ();
  seeds_rendezvous ();
  seeds_queue ();
  return 0;
}
