/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps-error.h"
#include "ps-errors-private.h"
#include "ps-names-private.h"
#include "ps-object-map-private.h"
#include "ps-platform-fd-private.h"

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
 *
 * The rescue is recorded in the mapping's slot ("lost"), so that what
 * reads or writes the memory through procshared fails from then on
 * instead of reporting a write that nobody else will ever see
 * (ps_object_map_lost_flag()).
 *
 * A full /dev/shm is not one of these cases: a new object's memory is
 * reserved with posix_fallocate() when it is created (init_new_object()),
 * so touching a page of it never needs a page the file system has not
 * got. The guard is installed before the first write to a new mapping all
 * the same: if the file is truncated while it is being filled in, the
 * creation fails instead of the process.
 */

/* A table rather than a list, so that opening the ten-thousandth object
 * costs what opening the first did: a mapping's slot is found from a hash
 * of its address, probing on from there. Slots are freed in place, so a
 * lookup cannot stop at a free slot; it stops after the longest probe any
 * claim has needed (max_probe), which stays short while the table is far
 * from full. The SIGBUS handler, which looks for an address inside a
 * mapping rather than for a mapping, reads every slot. */
#define GUARD_SLOTS 16384

typedef struct
{
  guintptr start;    /* 0 when the slot is free */
  gsize    length;
  gint     rescued;  /* its file was truncated and zero pages put in */
} GuardSlot;

static GuardSlot guard_slots[GUARD_SLOTS];
static guint     max_probe;   /* only grows */
/* What an unguarded mapping's lost flag points to: never lost. */
static const gint never_lost;
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

/* Where the probe for @mapping starts. Mappings are page-aligned: a
 * multiplicative hash spreads their page numbers over the table. */
static guint
guard_home (gpointer mapping)
{
  guint64 page = (guint64) (guintptr) mapping >> 12;

  G_STATIC_ASSERT ((GUARD_SLOTS & (GUARD_SLOTS - 1)) == 0);
  return (guint) ((page * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15)) >> 32) & (GUARD_SLOTS - 1);
}

/* The slot now guarding @mapping, or NULL if every slot is taken. */
static GuardSlot *
guard_mapping (gpointer mapping,
               gsize    length)
{
  guint home = guard_home (mapping);

  install_sigbus_handler_once ();

  for (guint probe = 0; probe < GUARD_SLOTS; probe++)
    {
      GuardSlot *slot = &guard_slots[(home + probe) & (GUARD_SLOTS - 1)];
      guintptr expected = 0;
      guint longest;

      /* Claim the slot with a start of 1 (never a mapping), then fill it
       * in: the handler never sees a start with another slot's length. */
      if (__atomic_compare_exchange_n (&slot->start, &expected, 1, FALSE,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        {
          longest = __atomic_load_n (&max_probe, __ATOMIC_RELAXED);
          while (probe > longest &&
                 !__atomic_compare_exchange_n (&max_probe, &longest, probe, TRUE,
                                               __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
          __atomic_store_n (&slot->length, length, __ATOMIC_RELAXED);
          __atomic_store_n (&slot->rescued, 0, __ATOMIC_RELAXED);
          __atomic_store_n (&slot->start, (guintptr) mapping, __ATOMIC_RELEASE);
          return slot;
        }
    }
  /* More than GUARD_SLOTS named objects open at once: the rest work, but
   * unguarded. */
  return NULL;
}

/* The slot guarding @mapping, or NULL if none does (anonymous memory, or
 * a mapping made when the table was full). */
static GuardSlot *
find_guard (gpointer mapping)
{
  guint home = guard_home (mapping);
  guint longest = __atomic_load_n (&max_probe, __ATOMIC_RELAXED);

  for (guint probe = 0; probe <= longest; probe++)
    {
      GuardSlot *slot = &guard_slots[(home + probe) & (GUARD_SLOTS - 1)];

      if (__atomic_load_n (&slot->start, __ATOMIC_ACQUIRE) == (guintptr) mapping)
        return slot;
    }
  return NULL;
}

const gint *
ps_object_map_lost_flag (gpointer mapping)
{
  GuardSlot *slot = find_guard (mapping);

  return slot != NULL ? &slot->rescued : &never_lost;
}

const gint *
ps_object_map_guard (gpointer mapping,
                     gsize    length)
{
  GuardSlot *slot = guard_mapping (mapping, length);

  return slot != NULL ? &slot->rescued : &never_lost;
}

void
ps_object_unmap (gpointer mapping,
                 gsize    length)
{
  GuardSlot *slot = find_guard (mapping);

  if (slot != NULL)
    {
      /* Memory that was swapped for zeros may still be linked into a
       * thread's robust list (a lock taken before the truncation could
       * not be given back through it): keep it mapped for good. */
      gboolean rescued = __atomic_load_n (&slot->rescued, __ATOMIC_RELAXED);

      __atomic_store_n (&slot->start, 0, __ATOMIC_RELEASE);
      if (rescued)
        return;
    }
  munmap (mapping, length);
}

/* Named objects ----------------------------------------------------------- */

/* Writes a new object's header through its file, then publishes it,
 * without touching its mapping: an object with nothing else to fill in
 * (a segment) then costs no page fault to create. Its pages were reserved
 * first, so this cannot find /dev/shm full. */
static gboolean
write_header (int           fd,
              const char   *name,
              PsObjectType  type,
              gsize         payload_size,
              GError      **error)
{
  PsObjectHeader header = { 0, };
  const guint8 *ready = (const guint8 *) &header + G_STRUCT_OFFSET (PsObjectHeader, ready);
  ssize_t n;

  ps_object_header_init (&header, type, payload_size);
  header.ready = 0;
  do
    n = pwrite (fd, &header, sizeof header, 0);
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t) sizeof header)
    {
      /* Published on its own, after the rest: an opener's pread() sees
       * the ready word only with everything before it. */
      ps_object_header_publish (&header);
      do
        n = pwrite (fd, ready, sizeof header.ready, G_STRUCT_OFFSET (PsObjectHeader, ready));
      while (n < 0 && errno == EINTR);
      if (n == (ssize_t) sizeof header.ready)
        return TRUE;
    }
  ps_set_error_from_errno (error, n < 0 ? errno : EIO, "Could not write the header of “%s”",
                           name);
  return FALSE;
}

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
  GuardSlot *slot;
  int result;

  /* shm_open() applies the umask; the mode asked for is the mode given. */
  if (fchmod (fd, mode) != 0)
    {
      ps_set_error_from_errno (error, errno, "Could not set the mode of “%s”", name);
      return FALSE;
    }
  /* Sized and reserved at once: a full /dev/shm fails the creation,
   * never a later touch of a page (a SIGBUS, and data that never reaches
   * the file). */
  result = ps_platform_fd_allocate (fd, total);
  if (result != 0)
    {
      ps_set_error_from_memory_errno (error, result, total,
                                      "Could not reserve the memory of “%s”", name);
      return FALSE;
    }
  mapping = mmap (NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapping == MAP_FAILED)
    {
      ps_set_error_from_memory_errno (error, errno, total, "Could not map “%s”", name);
      return FALSE;
    }

  /* Guarded before the first write: see the top of this file. */
  slot = guard_mapping (mapping, total);
  if (init_func != NULL)
    {
      ps_object_header_init (mapping, type, payload_size);
      if (!init_func ((guint8 *) mapping + payload_offset, user_data, error))
        {
          ps_object_unmap (mapping, total);
          return FALSE;
        }
      ps_object_header_publish (mapping);
    }
  if (slot != NULL && __atomic_load_n (&slot->rescued, __ATOMIC_ACQUIRE))
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "“%s” lost its backing while being created: another process "
                   "truncated it", name);
      ps_object_unmap (mapping, total);
      return FALSE;
    }
  /* Published last, through the file (no page of ours touched): an
   * opener must not map an object whose creator can still fail and
   * unlink it. */
  if (init_func == NULL && !write_header (fd, name, type, payload_size, error))
    {
      ps_object_unmap (mapping, total);
      return FALSE;
    }

  *out_mapping = mapping;
  return TRUE;
}

/* Name squatting: another user can make a name first (mode 0666, say),
 * and a program that meant to create a private object would then use
 * theirs, sharing its data and locks with them. An existing object is
 * opened only if it is the caller's or root's, unless @flags says that
 * sharing with other users is meant. */
static gboolean
check_owner (int           fd,
             const char   *name,
             PsOpenFlags   flags,
             GError      **error)
{
  struct stat st;
  uid_t euid;

  if (fstat (fd, &st) != 0)
    {
      ps_set_error_from_errno (error, errno, "Could not inspect “%s”", name);
      return FALSE;
    }
  euid = geteuid ();
  if (st.st_uid == euid || st.st_uid == 0 || (flags & PS_OPEN_ANY_OWNER))
    return TRUE;

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
               "“%s” belongs to another user (uid %u, not %u): it may have been made "
               "to be taken for yours; open it with PS_OPEN_ANY_OWNER to share it on purpose",
               name, (guint) st.st_uid, (guint) euid);
  return FALSE;
}

static gboolean
map_existing_object (int            fd,
                     const char    *name,
                     PsOpenFlags    flags,
                     PsObjectType   type,
                     gsize          payload_offset,
                     gsize          payload_size,
                     gboolean       any_size,
                     gpointer      *out_mapping,
                     gsize         *out_mapping_size,
                     guint         *out_mode,
                     GError       **error)
{
  gint64 deadline = g_get_monotonic_time () + PS_OBJECT_INIT_GRACE_US;
  gulong pause_us = 50;
  PsObjectHeader header;
  struct stat st;
  guint64 total;
  gpointer mapping;

  if (!check_owner (fd, name, flags, error))
    return FALSE;

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
  if (type != PS_OBJECT_TYPE_SHARED_MEMORY && !any_size && header.payload_size != payload_size)
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
  /* The creator set its mode before it published the header. */
  if (out_mode != NULL)
    *out_mode = st.st_mode & 0777;
  return TRUE;
}

gboolean
ps_object_map_named (const char        *name,
                     PsOpenFlags        flags,
                     guint              mode,
                     PsObjectType       type,
                     gsize              payload_offset,
                     gsize              payload_size,
                     gboolean           any_size,
                     PsObjectInitFunc   init_func,
                     gpointer           user_data,
                     gpointer          *out_mapping,
                     gsize             *out_mapping_size,
                     gboolean          *out_created,
                     guint             *out_mode,
                     GError           **error)
{
  /* An object unlinked between our failed create and our open is created
   * again; the bound only guards against a peer doing that forever. */
  const guint max_attempts = 64;
  guint attempt;

  if (!ps_name_validate (name, error) || !ps_open_flags_validate (flags, error) ||
      !ps_mode_validate (mode, error))
    return FALSE;
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
                  *out_created = TRUE;
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
      ok = map_existing_object (fd, name, flags, type, payload_offset, payload_size, any_size,
                                out_mapping, out_mapping_size, out_mode, error);
      close (fd);
      if (ok)
        {
          *out_created = FALSE;
          guard_mapping (*out_mapping, *out_mapping_size);
        }
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

  /* Shared anonymous memory lives in the kernel's internal tmpfs, not in
   * /dev/shm, whose size does not limit it. It is committed as any
   * memory of the process is: under strict overcommit an mmap() beyond
   * the commit limit fails here with ENOMEM; otherwise a system out of
   * memory calls the OOM killer, as for malloc()ed memory. */
  mapping = mmap (NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED)
    {
      ps_set_error_from_memory_errno (error, errno, length, "Could not map shared memory");
      return NULL;
    }
  return mapping;
}

gpointer
ps_object_map_fd (int        fd,
                  gsize      length,
                  gboolean   read_only,
                  GError   **error)
{
  gpointer mapping;

  mapping = mmap (NULL, length, read_only ? PROT_READ : PROT_READ | PROT_WRITE,
                  MAP_SHARED, fd, 0);
  if (mapping == MAP_FAILED)
    {
      if (errno == EACCES || errno == EPERM)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                     "Could not map descriptor %d %s: %s", fd,
                     read_only ? "for reading" : "for writing", g_strerror (errno));
      else
        ps_set_error_from_memory_errno (error, errno, length,
                                        "Could not map descriptor %d", fd);
      return NULL;
    }
  return mapping;
}
