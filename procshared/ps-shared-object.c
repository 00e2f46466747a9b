/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps-backend-private.h"
#include "ps-enums.h"
#include "ps-error.h"
#include "ps-shared-object-private.h"

/* Header ------------------------------------------------------------------ */

const char *
ps_object_type_to_string (PsObjectType type)
{
  switch (type)
    {
    case PS_OBJECT_TYPE_SHARED_MEMORY: return "shared memory";
    case PS_OBJECT_TYPE_SEMAPHORE:     return "semaphore";
    case PS_OBJECT_TYPE_MUTEX:         return "mutex";
    case PS_OBJECT_TYPE_COND:          return "condition variable";
    default:                           return "unknown object";
    }
}

void
ps_object_header_init (PsObjectHeader *header,
                       PsObjectType    type,
                       guint64         payload_size)
{
  header->magic = PS_OBJECT_MAGIC;
  header->layout_version = PS_OBJECT_LAYOUT_VERSION;
  header->type = type;
  header->backend = PS_BACKEND_ID;
  header->reserved = 0;
  header->payload_size = payload_size;
  header->reserved2 = 0;
  g_atomic_int_set (&header->ready, 0);
}

void
ps_object_header_publish (PsObjectHeader *header)
{
  /* Release: everything written before is seen by whoever sees ready. */
  __atomic_store_n (&header->ready, PS_OBJECT_READY, __ATOMIC_RELEASE);
}

static gboolean
header_is_ready (const PsObjectHeader *header)
{
  return __atomic_load_n (&header->ready, __ATOMIC_ACQUIRE) == PS_OBJECT_READY;
}

gboolean
ps_object_header_check (const PsObjectHeader *header,
                        PsObjectType          type,
                        GError              **error)
{
  PsObjectHeader copy;

  /* Work on one snapshot: a peer may be writing to it as we read. */
  memcpy (&copy, header, sizeof copy);

  if (copy.magic != PS_OBJECT_MAGIC || copy.ready != PS_OBJECT_READY)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "The shared memory does not hold a procshared object");
      return FALSE;
    }
  if (copy.layout_version != PS_OBJECT_LAYOUT_VERSION || copy.backend != PS_BACKEND_ID)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE,
                   "The object was made by an incompatible procshared "
                   "(layout %u, backend %u; this one uses layout %u, backend %s)",
                   copy.layout_version, copy.backend,
                   PS_OBJECT_LAYOUT_VERSION, ps_backend_name ());
      return FALSE;
    }
  if (copy.type != type)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_WRONG_TYPE,
                   "The object is a %s, not a %s",
                   ps_object_type_to_string (copy.type),
                   ps_object_type_to_string (type));
      return FALSE;
    }
  return TRUE;
}

/* Identity ----------------------------------------------------------------- */

guint32 ps_cached_process_id;
PS_FAST_TLS guint64 ps_cached_thread_id;

static void
forget_identity_in_child (void)
{
  /* The child has one thread, the one that forked, and new ids. */
  __atomic_store_n (&ps_cached_process_id, 0, __ATOMIC_RELAXED);
  ps_cached_thread_id = 0;
}

static void
register_fork_handler (void)
{
  static gsize registered;

  if (g_once_init_enter (&registered))
    {
      pthread_atfork (NULL, NULL, forget_identity_in_child);
      g_once_init_leave (&registered, 1);
    }
}

guint32
ps_self_process_id_slow (void)
{
  guint32 pid;

  register_fork_handler ();
  pid = (guint32) getpid ();
  __atomic_store_n (&ps_cached_process_id, pid, __ATOMIC_RELAXED);
  return pid;
}

guint64
ps_self_thread_id_slow (void)
{
  static guint32 process_nonce;
  static guint32 process_nonce_pid;
  static guint64 next_serial;
  static GMutex lock;
  guint32 pid = ps_self_process_id ();

  /* Never a system thread id, nor pthread_self(): both are reused as soon
   * as a thread exits, and a new thread must never pass for the dead
   * holder of a lock. A serial number is unique for the life of the
   * process; a random nonce, drawn again in each new process, keeps a
   * reused pid from matching the identity a dead process left behind. */
  g_mutex_lock (&lock);
  if (process_nonce_pid != pid)
    {
      process_nonce = g_random_int () | 1;
      process_nonce_pid = pid;
    }
  ps_cached_thread_id = ((guint64) process_nonce << 32) | (++next_serial & G_MAXUINT32);
  g_mutex_unlock (&lock);

  register_fork_handler ();
  return ps_cached_thread_id;
}

/* Errors and ranges ---------------------------------------------------- */

void
ps_set_error_from_errno (GError     **error,
                         int          saved_errno,
                         const char  *format,
                         ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s: %s", message, g_strerror (saved_errno));
}

gboolean
ps_check_range (gsize    size,
                gsize    offset,
                gsize    length,
                GError **error)
{
  /* Written so that offset + length cannot overflow. */
  if (offset > size || length > size - offset)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_OUT_OF_BOUNDS,
                   "%" G_GSIZE_FORMAT " bytes at offset %" G_GSIZE_FORMAT
                   " do not fit in a segment of %" G_GSIZE_FORMAT " bytes",
                   length, offset, size);
      return FALSE;
    }
  return TRUE;
}

gboolean
ps_open_flags_validate (PsOpenFlags   flags,
                        GError      **error)
{
  if ((flags & ~(PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE)) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Unknown open flags 0x%x", flags & ~(PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE));
      return FALSE;
    }
  if ((flags & PS_OPEN_EXCLUSIVE) && !(flags & PS_OPEN_CREATE))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "PS_OPEN_EXCLUSIVE needs PS_OPEN_CREATE");
      return FALSE;
    }
  return TRUE;
}

/* Guarding named mappings against truncation -------------------------------
 *
 * A named object is a file: anyone allowed to open it can also shrink it
 * with ftruncate(), and touching a mapped page past the new end of file
 * raises SIGBUS, which would kill a process for what another one did. As
 * libwayland does for client buffers, a SIGBUS handler replaces a guarded
 * mapping that faults with private zero-filled memory of the same size, at
 * the same address, and lets the faulting instruction run again: the
 * object then reads as zeros (an idle state for every primitive, so waits
 * end by their timeout and nothing crashes), and the process lives. A
 * SIGBUS outside our mappings goes to the handler that was there before.
 */

#define GUARD_SLOTS 4096

typedef struct
{
  guintptr start;    /* 0 when the slot is free */
  gsize    length;
  gint     rescued;  /* its file was truncated and zero pages put in */
} GuardSlot;

static GuardSlot guard_slots[GUARD_SLOTS];
static struct sigaction previous_sigbus_action;

static void
on_sigbus (int        signal_number,
           siginfo_t *info,
           void      *context)
{
  guintptr address = (guintptr) info->si_addr;
  int saved_errno = errno;

  for (guint i = 0; i < GUARD_SLOTS; i++)
    {
      guintptr start = __atomic_load_n (&guard_slots[i].start, __ATOMIC_ACQUIRE);
      gsize length = __atomic_load_n (&guard_slots[i].length, __ATOMIC_RELAXED);

      if (start > 1 && address >= start && address - start < length)
        {
          /* mmap() is async-signal-safe in practice on every system we
           * support, and this is the only way to make the access valid. */
          if (mmap ((gpointer) start, length, PROT_READ | PROT_WRITE,
                    MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED)
            {
              __atomic_store_n (&guard_slots[i].rescued, 1, __ATOMIC_RELAXED);
              errno = saved_errno;
              return;
            }
        }
    }

  errno = saved_errno;
  if (previous_sigbus_action.sa_flags & SA_SIGINFO)
    previous_sigbus_action.sa_sigaction (signal_number, info, context);
  else if (previous_sigbus_action.sa_handler != SIG_IGN &&
           previous_sigbus_action.sa_handler != SIG_DFL)
    previous_sigbus_action.sa_handler (signal_number);
  else
    {
      /* Not ours and nobody else's: die of it as if we were not here. The
       * faulting access runs again and, with the default action, ends the
       * process with SIGBUS and the right address in a core dump. */
      signal (SIGBUS, SIG_DFL);
    }
}

static void
install_sigbus_handler_once (void)
{
  static gsize installed;

  if (g_once_init_enter (&installed))
    {
      struct sigaction action = { 0, };

      action.sa_sigaction = on_sigbus;
      action.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
      sigemptyset (&action.sa_mask);
      sigaction (SIGBUS, &action, &previous_sigbus_action);
      g_once_init_leave (&installed, 1);
    }
}

static void
guard_mapping (gpointer mapping,
               gsize    length)
{
  install_sigbus_handler_once ();

  for (guint i = 0; i < GUARD_SLOTS; i++)
    {
      guintptr expected = 0;

      /* Claim the slot with a start of 1 (never a mapping), then fill it
       * in: the handler never sees a start with another slot's length. */
      if (__atomic_compare_exchange_n (&guard_slots[i].start, &expected, 1, FALSE,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        {
          __atomic_store_n (&guard_slots[i].length, length, __ATOMIC_RELAXED);
          __atomic_store_n (&guard_slots[i].rescued, 0, __ATOMIC_RELAXED);
          __atomic_store_n (&guard_slots[i].start, (guintptr) mapping, __ATOMIC_RELEASE);
          return;
        }
    }
  /* More than GUARD_SLOTS named objects open at once: the rest work, but
   * unguarded. */
}

void
ps_object_unmap (gpointer mapping,
                 gsize    length)
{
  for (guint i = 0; i < GUARD_SLOTS; i++)
    {
      if (__atomic_load_n (&guard_slots[i].start, __ATOMIC_ACQUIRE) == (guintptr) mapping)
        {
          /* Memory that was swapped for zeros may still be linked into a
           * thread's robust list (a lock taken before the truncation could
           * not be given back through it): keep it mapped for good. */
          gboolean rescued = __atomic_load_n (&guard_slots[i].rescued, __ATOMIC_RELAXED);

          __atomic_store_n (&guard_slots[i].start, 0, __ATOMIC_RELEASE);
          if (rescued)
            return;
          break;
        }
    }
  munmap (mapping, length);
}

/* Named objects ------------------------------------------------------------- */

static gboolean
init_new_object (int               fd,
                 const char       *name,
                 guint             mode,
                 PsObjectType      type,
                 gsize             payload_offset,
                 gsize             payload_size,
                 PsObjectInitFunc  init_func,
                 gpointer          user_data,
                 gpointer         *out_mapping,
                 GError          **error)
{
  gsize total = payload_offset + payload_size;
  gpointer mapping;

  /* shm_open() applies the umask; the mode asked for is the mode given. */
  if (fchmod (fd, mode) != 0)
    {
      ps_set_error_from_errno (error, errno, "Could not set the mode of “%s”", name);
      return FALSE;
    }
  if (ftruncate (fd, (off_t) total) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == EFBIG || saved_errno == EINVAL || saved_errno == ENOSPC)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "Could not make “%s” %" G_GSIZE_FORMAT " bytes long: %s",
                     name, payload_size, g_strerror (saved_errno));
      else
        ps_set_error_from_errno (error, saved_errno, "Could not size “%s”", name);
      return FALSE;
    }

  mapping = mmap (NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapping == MAP_FAILED)
    {
      int saved_errno = errno;

      if (saved_errno == ENOMEM || saved_errno == EINVAL || saved_errno == EOVERFLOW)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "Could not map %" G_GSIZE_FORMAT " bytes of “%s”: %s",
                     total, name, g_strerror (saved_errno));
      else
        ps_set_error_from_errno (error, saved_errno, "Could not map “%s”", name);
      return FALSE;
    }

  ps_object_header_init (mapping, type, payload_size);
  if (init_func != NULL &&
      !init_func ((guint8 *) mapping + payload_offset, user_data, error))
    {
      munmap (mapping, total);
      return FALSE;
    }
  ps_object_header_publish (mapping);

  *out_mapping = mapping;
  return TRUE;
}

static gboolean
map_existing_object (int            fd,
                     const char    *name,
                     PsObjectType   type,
                     gsize          payload_offset,
                     gsize          payload_size,
                     gpointer      *out_mapping,
                     gsize         *out_mapping_size,
                     GError       **error)
{
  gint64 deadline = g_get_monotonic_time () + PS_OBJECT_INIT_GRACE_US;
  gulong pause_us = 50;
  PsObjectHeader header;
  struct stat st;
  guint64 total;
  gpointer mapping;

  /* The creator may be between shm_open() and publishing the header: wait
   * a bounded while for it, checking the size before ever mapping. */
  for (;;)
    {
      ssize_t n;

      if (fstat (fd, &st) != 0)
        {
          ps_set_error_from_errno (error, errno, "Could not inspect “%s”", name);
          return FALSE;
        }

      if ((guint64) st.st_size >= sizeof header)
        {
          n = pread (fd, &header, sizeof header, 0);
          if (n != (ssize_t) sizeof header)
            {
              ps_set_error_from_errno (error, n < 0 ? errno : EIO, "Could not read “%s”", name);
              return FALSE;
            }
          if (header.ready == PS_OBJECT_READY)
            break;
          if (header.magic != PS_OBJECT_MAGIC && header.magic != 0)
            break;   /* not ours: no point waiting */
        }

      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                       "“%s” is not a procshared object, or its creator died "
                       "before finishing it (%" G_GINT64_FORMAT " bytes)",
                       name, (gint64) st.st_size);
          return FALSE;
        }
      g_usleep (pause_us);
      pause_us = MIN (pause_us * 2, 20000);
    }

  if (!ps_object_header_check (&header, type, error))
    {
      g_prefix_error (error, "“%s”: ", name);
      return FALSE;
    }

  if (header.payload_size > G_MAXSSIZE - payload_offset ||
      payload_offset + header.payload_size > (guint64) st.st_size)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "“%s” claims %" G_GUINT64_FORMAT " bytes but holds only %" G_GINT64_FORMAT,
                   name, header.payload_size, (gint64) st.st_size - (gint64) payload_offset);
      return FALSE;
    }
  if (type != PS_OBJECT_TYPE_SHARED_MEMORY && header.payload_size != payload_size)
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "“%s” has a state of %" G_GUINT64_FORMAT " bytes, expected %" G_GSIZE_FORMAT,
                   name, header.payload_size, payload_size);
      return FALSE;
    }
  if (type == PS_OBJECT_TYPE_SHARED_MEMORY && payload_size > header.payload_size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is %" G_GUINT64_FORMAT " bytes, smaller than the %" G_GSIZE_FORMAT
                   " asked for", name, header.payload_size, payload_size);
      return FALSE;
    }

  total = payload_offset + header.payload_size;
  mapping = mmap (NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapping == MAP_FAILED)
    {
      ps_set_error_from_errno (error, errno, "Could not map “%s”", name);
      return FALSE;
    }

  *out_mapping = mapping;
  *out_mapping_size = total;
  return TRUE;
}

gboolean
ps_object_map_named (const char        *name,
                     PsOpenFlags        flags,
                     guint              mode,
                     PsObjectType       type,
                     gsize              payload_offset,
                     gsize              payload_size,
                     PsObjectInitFunc   init_func,
                     gpointer           user_data,
                     gpointer          *out_mapping,
                     gsize             *out_mapping_size,
                     GError           **error)
{
  /* An object unlinked between our failed create and our open is created
   * again; the bound only guards against a peer doing that forever. */
  const guint max_attempts = 64;
  guint attempt;

  if (!ps_name_validate (name, error) || !ps_open_flags_validate (flags, error))
    return FALSE;
  if ((mode & ~0777u) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Invalid mode 0%o: only permission bits (0777) are allowed", mode);
      return FALSE;
    }
  if (payload_size > (gsize) G_MAXSSIZE - payload_offset)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "A size of %" G_GSIZE_FORMAT " bytes is larger than the system allows",
                   payload_size);
      return FALSE;
    }

  for (attempt = 0; attempt < max_attempts; attempt++)
    {
      gboolean ok;
      int fd;

      if (flags & PS_OPEN_CREATE)
        {
          fd = shm_open (name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
          if (fd >= 0)
            {
              ok = init_new_object (fd, name, mode, type, payload_offset, payload_size,
                                    init_func, user_data, out_mapping, error);
              if (ok)
                {
                  *out_mapping_size = payload_offset + payload_size;
                  guard_mapping (*out_mapping, *out_mapping_size);
                }
              else
                shm_unlink (name);   /* never leave a half-made object behind */
              close (fd);
              return ok;
            }
          if (errno != EEXIST)
            {
              ps_set_error_from_errno (error, errno, "Could not create “%s”", name);
              return FALSE;
            }
          if (flags & PS_OPEN_EXCLUSIVE)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                           "“%s” already exists", name);
              return FALSE;
            }
        }

      fd = shm_open (name, O_RDWR | O_CLOEXEC, 0);
      if (fd < 0)
        {
          if (errno == ENOENT && (flags & PS_OPEN_CREATE))
            continue;
          ps_set_error_from_errno (error, errno, "Could not open “%s”", name);
          return FALSE;
        }
      ok = map_existing_object (fd, name, type, payload_offset, payload_size,
                                out_mapping, out_mapping_size, error);
      close (fd);
      if (ok)
        guard_mapping (*out_mapping, *out_mapping_size);
      return ok;
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
               "“%s” kept being removed and recreated while opening it", name);
  return FALSE;
}

gpointer
ps_object_map_anonymous (gsize    length,
                         GError **error)
{
  gpointer mapping;

  if (length == 0)
    return NULL;

  mapping = mmap (NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED)
    {
      int saved_errno = errno;

      if (saved_errno == ENOMEM || saved_errno == EINVAL || saved_errno == EOVERFLOW)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "Could not map %" G_GSIZE_FORMAT " bytes of shared memory: %s",
                     length, g_strerror (saved_errno));
      else
        ps_set_error_from_errno (error, saved_errno, "Could not map shared memory");
      return NULL;
    }
  return mapping;
}

/* The anonymous pool -------------------------------------------------------
 *
 * Anonymous objects are carved out of shared anonymous chunks, so that
 * hundreds of them cost a handful of mappings and no descriptor at all.
 *
 * fork() shares every chunk between parent and child. A slot that both
 * processes can see must then never be handed out again by either, or a
 * new object would land on one the other process still uses. So every
 * fork() (in parent and child alike) retires all existing chunks: they
 * stay mapped while objects of this process live in them, but new
 * objects come from fresh chunks.
 */

#define POOL_CHUNK_SLOTS 256
#define POOL_CHUNK_SIZE  (POOL_CHUNK_SLOTS * PS_OBJECT_SLOT_SIZE)

struct _PsPoolChunk
{
  guint8  *base;
  guint    generation;
  guint    live;
  guint64  used[POOL_CHUNK_SLOTS / 64];
};

static GMutex     pool_lock;
static GPtrArray *pool_chunks;
static guint      pool_generation;

static void
pool_prepare_fork (void)
{
  g_mutex_lock (&pool_lock);
}

static void
pool_after_fork (void)
{
  pool_generation++;
  g_mutex_unlock (&pool_lock);
}

static void
pool_ensure_initialised (void)
{
  static gsize initialised;

  if (g_once_init_enter (&initialised))
    {
      pool_chunks = g_ptr_array_new ();
      pthread_atfork (pool_prepare_fork, pool_after_fork, pool_after_fork);
      g_once_init_leave (&initialised, 1);
    }
}

static gpointer
pool_take_slot (PsPoolChunk **out_chunk,
                GError      **error)
{
  PsPoolChunk *chunk = NULL;
  guint i;

  pool_ensure_initialised ();

  g_mutex_lock (&pool_lock);

  for (i = 0; i < pool_chunks->len; i++)
    {
      PsPoolChunk *candidate = g_ptr_array_index (pool_chunks, i);

      if (candidate->generation == pool_generation && candidate->live < POOL_CHUNK_SLOTS)
        {
          chunk = candidate;
          break;
        }
    }

  if (chunk == NULL)
    {
      guint8 *base = ps_object_map_anonymous (POOL_CHUNK_SIZE, error);

      if (base == NULL)
        {
          g_mutex_unlock (&pool_lock);
          return NULL;
        }
      chunk = g_new0 (PsPoolChunk, 1);
      chunk->base = base;
      chunk->generation = pool_generation;
      g_ptr_array_add (pool_chunks, chunk);
    }

  for (i = 0; i < G_N_ELEMENTS (chunk->used); i++)
    {
      if (chunk->used[i] != G_MAXUINT64)
        {
          guint bit = (guint) __builtin_ctzll (~chunk->used[i]);
          guint8 *slot = chunk->base + (i * 64 + bit) * PS_OBJECT_SLOT_SIZE;

          chunk->used[i] |= G_GUINT64_CONSTANT (1) << bit;
          chunk->live++;
          g_mutex_unlock (&pool_lock);

          memset (slot, 0, PS_OBJECT_SLOT_SIZE);
          *out_chunk = chunk;
          return slot;
        }
    }

  g_assert_not_reached ();
}

static void
pool_return_slot (PsPoolChunk *chunk,
                  gpointer     slot)
{
  guint index = (guint) (((guint8 *) slot - chunk->base) / PS_OBJECT_SLOT_SIZE);

  g_assert (index < POOL_CHUNK_SLOTS);

  g_mutex_lock (&pool_lock);

  g_assert (chunk->live > 0);
  chunk->live--;

  /* A retired chunk's slot may be in use by another process: never reuse
   * it; unmap the chunk once nothing of this process lives in it. */
  if (chunk->generation == pool_generation)
    chunk->used[index / 64] &= ~(G_GUINT64_CONSTANT (1) << (index % 64));

  if (chunk->live == 0 &&
      (chunk->generation != pool_generation || pool_chunks->len > 1))
    {
      g_ptr_array_remove_fast (pool_chunks, chunk);
      munmap (chunk->base, POOL_CHUNK_SIZE);
      g_free (chunk);
    }

  g_mutex_unlock (&pool_lock);
}

/* Storage ------------------------------------------------------------------- */

gboolean
ps_object_storage_init_anonymous (PsObjectStorage   *storage,
                                  PsObjectType       type,
                                  PsObjectInitFunc   init_func,
                                  gpointer           user_data,
                                  GError           **error)
{
  PsPoolChunk *chunk = NULL;
  PsObjectHeader *header;

  g_assert (storage->header == NULL);

  header = pool_take_slot (&chunk, error);
  if (header == NULL)
    return FALSE;

  ps_object_header_init (header, type, PS_OBJECT_STATE_SIZE);
  if (!init_func ((guint8 *) header + sizeof *header, user_data, error))
    {
      pool_return_slot (chunk, header);
      return FALSE;
    }
  ps_object_header_publish (header);

  storage->header = header;
  storage->chunk = chunk;
  return TRUE;
}

gboolean
ps_object_storage_init_named (PsObjectStorage   *storage,
                              const char        *name,
                              PsOpenFlags        flags,
                              guint              mode,
                              PsObjectType       type,
                              PsObjectInitFunc   init_func,
                              gpointer           user_data,
                              GError           **error)
{
  gpointer mapping = NULL;
  gsize mapping_size = 0;

  g_assert (storage->header == NULL);

  if (!ps_object_map_named (name, flags, mode, type, sizeof (PsObjectHeader),
                            PS_OBJECT_STATE_SIZE, init_func, user_data,
                            &mapping, &mapping_size, error))
    return FALSE;

  storage->header = mapping;
  storage->mapping = mapping;
  storage->mapping_size = mapping_size;
  storage->name = g_strdup (name);
  return TRUE;
}

gboolean
ps_object_storage_init_placed (PsObjectStorage   *storage,
                               PsSharedMemory    *memory,
                               gsize              offset,
                               gboolean           attach,
                               PsObjectType       type,
                               PsObjectInitFunc   init_func,
                               gpointer           user_data,
                               GError           **error)
{
  PsObjectHeader *header;

  g_assert (storage->header == NULL);

  if (offset % 8 != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Offset %" G_GSIZE_FORMAT " is not a multiple of 8", offset);
      return FALSE;
    }
  if (!ps_check_range (ps_shared_memory_get_size (memory), offset, PS_OBJECT_SLOT_SIZE, error))
    return FALSE;

  header = (gpointer) ((guint8 *) ps_shared_memory_get_data (memory) + offset);

  if (attach)
    {
      gint64 deadline = g_get_monotonic_time () + PS_OBJECT_INIT_GRACE_US;

      /* A peer may be initialising it this very moment. */
      while (header->magic == PS_OBJECT_MAGIC && !header_is_ready (header) &&
             g_get_monotonic_time () < deadline)
        g_usleep (100);

      if (!ps_object_header_check (header, type, error))
        return FALSE;
      if (header->payload_size != PS_OBJECT_STATE_SIZE)
        {
          g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                       "The object at offset %" G_GSIZE_FORMAT " has a state of %"
                       G_GUINT64_FORMAT " bytes, expected %" G_GSIZE_FORMAT,
                       offset, header->payload_size, (gsize) PS_OBJECT_STATE_SIZE);
          return FALSE;
        }
    }
  else
    {
      memset (header, 0, PS_OBJECT_SLOT_SIZE);
      ps_object_header_init (header, type, PS_OBJECT_STATE_SIZE);
      if (!init_func ((guint8 *) header + sizeof *header, user_data, error))
        {
          memset (header, 0, sizeof *header);
          return FALSE;
        }
      ps_object_header_publish (header);
    }

  storage->header = header;
  storage->memory = g_object_ref (memory);
  return TRUE;
}

void
ps_object_storage_clear (PsObjectStorage *storage)
{
  if (storage->chunk != NULL)
    pool_return_slot (storage->chunk, storage->header);
  if (storage->mapping != NULL)
    ps_object_unmap (storage->mapping, storage->mapping_size);
  g_clear_object (&storage->memory);
  g_clear_pointer (&storage->name, g_free);
  storage->header = NULL;
  storage->chunk = NULL;
  storage->mapping = NULL;
  storage->mapping_size = 0;
}

/* Placement properties ----------------------------------------------------- */

void
ps_object_placement_install_properties (GObjectClass  *object_class,
                                        GParamSpec   **properties)
{
  GParamFlags flags = (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PS_OBJECT_PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PS_OBJECT_PROP_OPEN_FLAGS] =
    g_param_spec_flags ("open-flags", NULL, NULL,
                        PS_TYPE_OPEN_FLAGS, PS_OPEN_NONE, flags);
  properties[PS_OBJECT_PROP_MODE] =
    g_param_spec_uint ("mode", NULL, NULL, 0, 0777, 0600, flags);
  properties[PS_OBJECT_PROP_MEMORY] =
    g_param_spec_object ("memory", NULL, NULL, PS_TYPE_SHARED_MEMORY, flags);
  properties[PS_OBJECT_PROP_OFFSET] =
    g_param_spec_uint64 ("offset", NULL, NULL, 0, G_MAXUINT64, 0, flags);
}

gboolean
ps_object_placement_get_property (PsObjectPlacement *placement,
                                  guint              prop_id,
                                  GValue            *value)
{
  switch (prop_id)
    {
    case PS_OBJECT_PROP_NAME:
      g_value_set_string (value, placement->name);
      return TRUE;
    case PS_OBJECT_PROP_OPEN_FLAGS:
      g_value_set_flags (value, placement->open_flags);
      return TRUE;
    case PS_OBJECT_PROP_MODE:
      g_value_set_uint (value, placement->mode);
      return TRUE;
    case PS_OBJECT_PROP_MEMORY:
      g_value_set_object (value, placement->memory);
      return TRUE;
    case PS_OBJECT_PROP_OFFSET:
      g_value_set_uint64 (value, placement->offset);
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
ps_object_placement_set_property (PsObjectPlacement *placement,
                                  guint              prop_id,
                                  const GValue      *value)
{
  switch (prop_id)
    {
    case PS_OBJECT_PROP_NAME:
      placement->name = g_value_dup_string (value);
      return TRUE;
    case PS_OBJECT_PROP_OPEN_FLAGS:
      placement->open_flags = g_value_get_flags (value);
      return TRUE;
    case PS_OBJECT_PROP_MODE:
      placement->mode = g_value_get_uint (value);
      return TRUE;
    case PS_OBJECT_PROP_MEMORY:
      placement->memory = g_value_dup_object (value);
      return TRUE;
    case PS_OBJECT_PROP_OFFSET:
      placement->offset = g_value_get_uint64 (value);
      return TRUE;
    default:
      return FALSE;
    }
}

void
ps_object_placement_clear (PsObjectPlacement *placement)
{
  g_clear_pointer (&placement->name, g_free);
  g_clear_object (&placement->memory);
}

gboolean
ps_object_storage_init_for (PsObjectStorage   *storage,
                            PsObjectPlacement *placement,
                            PsObjectType       type,
                            PsObjectInitFunc   init_func,
                            gpointer           user_data,
                            GError           **error)
{
  if (placement->name != NULL && placement->memory != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "An object is either named or placed in a PsSharedMemory, not both");
      return FALSE;
    }
  if (placement->name != NULL)
    return ps_object_storage_init_named (storage, placement->name, placement->open_flags,
                                         placement->mode, type, init_func, user_data, error);
  if (placement->memory != NULL)
    return ps_object_storage_init_placed (storage, placement->memory, placement->offset,
                                          placement->attach, type, init_func, user_data,
                                          error);
  return ps_object_storage_init_anonymous (storage, type, init_func, user_data, error);
}
