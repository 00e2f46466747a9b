/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Error codes under memory and descriptor pressure: a call with valid
 * arguments never fails with G_IO_ERROR_INVALID_ARGUMENT because the
 * process ran out of something. Out of memory, of address space
 * (RLIMIT_AS) or of mappings (vm.max_map_count) is G_IO_ERROR_NO_SPACE;
 * out of descriptors (RLIMIT_NOFILE) is G_IO_ERROR_TOO_MANY_OPEN_FILES;
 * and a failed creation leaves no name behind.
 *
 * Each case runs in a forked child, which lowers its own limits.
 */

#include <malloc.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "ps-test-util.h"

/* Grows the heap and keeps it, so that the small allocations of GLib and
 * GObject need no new mapping once the limits are down, and registers
 * the types up front. */
static void
prepare_for_limits (void)
{
  mallopt (M_MMAP_THRESHOLD, 64 * 1024 * 1024);
  mallopt (M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  g_free (g_malloc (16 * 1024 * 1024));
  g_type_ensure (PS_TYPE_MUTEX);
  g_type_ensure (PS_TYPE_SEMAPHORE);
  g_type_ensure (PS_TYPE_COND);
  g_type_ensure (PS_TYPE_SHARED_MEMORY);
  g_type_ensure (G_TYPE_INITABLE);
  g_quark_from_static_string ("g-io-error-quark");
  (void) g_io_error_quark ();
  (void) ps_error_quark ();
}

/* Creating an object of every kind, anonymous and named, fails with
 * @code, and the named ones leave nothing in /dev/shm; @existing, made
 * before the limit, cannot be opened either. */
static int
check_creation_fails (GQuark      domain,
                      gint        code,
                      const char *existing)
{
  for (int kind = 0; kind < PS_TEST_N_KINDS; kind++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = ps_test_unique_name ("limits");
      g_autofree char *path = ps_test_dev_shm_path (name);
      g_autoptr(GObject) object = ps_test_create_named (kind, name, 4096, 1, &error);

      PS_CHILD_CHECK (object == NULL);
      PS_CHILD_CHECK_ERROR (error, domain, code);
      PS_CHILD_CHECK (!g_file_test (path, G_FILE_TEST_EXISTS));
    }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(PsMutex) mutex = ps_mutex_open (existing, PS_OPEN_NONE, &error);

    PS_CHILD_CHECK (mutex == NULL);
    PS_CHILD_CHECK_ERROR (error, domain, code);
  }
  return 0;
}

static int
check_anonymous_fails (GQuark domain,
                       gint   code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;

  mutex = ps_mutex_new (&error);
  PS_CHILD_CHECK (mutex == NULL);
  PS_CHILD_CHECK_ERROR (error, domain, code);
  g_clear_error (&error);
  semaphore = ps_semaphore_new (1, &error);
  PS_CHILD_CHECK (semaphore == NULL);
  PS_CHILD_CHECK_ERROR (error, domain, code);
  g_clear_error (&error);
  memory = ps_shared_memory_new (4096, &error);
  PS_CHILD_CHECK (memory == NULL);
  PS_CHILD_CHECK_ERROR (error, domain, code);
  return 0;
}

#define SKIP_STATUS 77

/* Why this run cannot lower its limits and still work as the library
 * would, or NULL: valgrind keeps descriptors and maps memory of its own,
 * and AddressSanitizer's malloc() maps memory of its own (a concern
 * only when the child @limits_memory). */
static const char *
checker_in_the_way (gboolean limits_memory)
{
#ifdef PS_TEST_HAVE_VALGRIND
  if (RUNNING_ON_VALGRIND)
    return "under valgrind, which maps memory and keeps descriptors of its own";
#endif
#if defined(__SANITIZE_ADDRESS__)
  if (limits_memory)
    return "under AddressSanitizer, whose allocator maps memory of its own";
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
  if (limits_memory)
    return "under AddressSanitizer, whose allocator maps memory of its own";
# endif
#endif
  return NULL;
}

/* Runs @child_func in a child, with the name of a mutex made before it
 * lowers its limits: a failed check or a death fails the test, and
 * SKIP_STATUS skips it. A child that @limits_memory needs malloc() to
 * live on the heap it grew beforehand. */
static void
run_limited (int    (*child_func) (gpointer data),
             gboolean limits_memory)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *existing = ps_test_unique_name ("limits-existing");
  g_autoptr(PsMutex) mutex = ps_mutex_open (existing, PS_OPEN_CREATE, &error);
  int status;

  g_assert_no_error (error);
  g_assert_nonnull (mutex);   /* kept open: the children open it again */
  if (checker_in_the_way (limits_memory) != NULL)
    {
      g_test_skip (checker_in_the_way (limits_memory));
      g_assert_true (ps_unlink (existing, &error));
      return;
    }
  status = ps_test_reap (ps_test_fork (child_func, existing, ps_test_scaled_s (60)),
                         ps_test_scaled_s (90));
  if (WIFEXITED (status) && WEXITSTATUS (status) == SKIP_STATUS)
    g_test_skip ("vm.max_map_count is unreadable or too high to use up here");
  else if (WIFSIGNALED (status))
    g_test_fail_printf ("the child under the limit died of signal %d (%s)",
                        WTERMSIG (status), g_strsignal (WTERMSIG (status)));
  else if (WEXITSTATUS (status) != 0)
    g_test_fail_printf ("a check failed in the child under the limit (see above)");
  g_assert_true (ps_unlink (existing, &error));
}

/* Everything that needs a new mapping fails with NO_SPACE. */
static int
check_out_of_memory (const char *existing)
{
  int status = check_anonymous_fails (G_IO_ERROR, G_IO_ERROR_NO_SPACE);

  if (status == 0)
    status = check_creation_fails (G_IO_ERROR, G_IO_ERROR_NO_SPACE, existing);
  return status;
}

/* The address space this process uses now, in bytes. */
static rlim_t
address_space_in_use (void)
{
  g_autofree char *statm = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL));
  return (rlim_t) g_ascii_strtoull (statm, NULL, 10) * (rlim_t) sysconf (_SC_PAGESIZE);
}

static int
address_space_child (gpointer data)
{
  const char *existing = data;
  struct rlimit limit;

  prepare_for_limits ();
  limit.rlim_cur = limit.rlim_max = address_space_in_use ();
  PS_CHILD_CHECK (setrlimit (RLIMIT_AS, &limit) == 0);

  return check_out_of_memory (existing);
}

/* RLIMIT_AS: every mapping refused with ENOMEM, which is out of memory,
 * not a bad argument. */
static void
test_address_space (void)
{
  run_limited (address_space_child, TRUE);
}

/* The lowest descriptor number free now. */
static int
lowest_free_descriptor (void)
{
  int fd = dup (0);

  g_assert_cmpint (fd, >=, 0);
  close (fd);
  return fd;
}

static int
descriptors_child (gpointer data)
{
  const char *existing = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PsMutex) mutex = NULL;
  g_autoptr(PsSemaphore) semaphore = NULL;
  g_autoptr(PsSharedMemory) memory = NULL;
  struct rlimit limit;

  prepare_for_limits ();
  limit.rlim_cur = limit.rlim_max = (rlim_t) lowest_free_descriptor ();
  PS_CHILD_CHECK (setrlimit (RLIMIT_NOFILE, &limit) == 0);
  PS_CHILD_CHECK (dup (0) < 0 && errno == EMFILE);

  /* Anonymous objects need no descriptor. */
  mutex = ps_mutex_new (&error);
  PS_CHILD_CHECK_NO_ERROR (error);
  semaphore = ps_semaphore_new (1, &error);
  PS_CHILD_CHECK_NO_ERROR (error);
  memory = ps_shared_memory_new (4096, &error);
  PS_CHILD_CHECK_NO_ERROR (error);

  return check_creation_fails (G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES, existing);
}

/* RLIMIT_NOFILE: EMFILE is G_IO_ERROR_TOO_MANY_OPEN_FILES. */
static void
test_descriptors (void)
{
  run_limited (descriptors_child, FALSE);
}

/* Uses up vm.max_map_count: alternate pages of a PROT_NONE reservation
 * made readable split it into as many mappings as the system allows,
 * and single pages of alternating protection (which cannot merge) take
 * the last ones. FALSE if the limit is too high to reach quickly. */
static gboolean
exhaust_map_count (void)
{
  g_autofree char *contents = NULL;
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  guint64 max_count;
  guint8 *reservation;
  gsize pages;

  if (!g_file_get_contents ("/proc/sys/vm/max_map_count", &contents, NULL, NULL))
    return FALSE;
  max_count = g_ascii_strtoull (contents, NULL, 10);
  if (max_count == 0 || max_count > 1000000)
    return FALSE;

  pages = (gsize) max_count * 2 + 64;
  reservation = mmap (NULL, pages * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  g_assert_true (reservation != MAP_FAILED);
  for (gsize i = 1; i < pages; i += 2)
    if (mprotect (reservation + i * page, page, PROT_READ) != 0)
      {
        g_assert_cmpint (errno, ==, ENOMEM);
        break;
      }
  for (guint i = 0; i < 1000; i++)
    if (mmap (NULL, page, i % 2 ? PROT_READ : PROT_NONE,
              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
      {
        g_assert_cmpint (errno, ==, ENOMEM);
        return TRUE;
      }
  g_error ("vm.max_map_count (%" G_GUINT64_FORMAT ") never ran out", max_count);
  return FALSE;
}

static int
map_count_child (gpointer data)
{
  const char *existing = data;

  prepare_for_limits ();
  if (!exhaust_map_count ())
    return SKIP_STATUS;

  return check_out_of_memory (existing);
}

/* vm.max_map_count used up: mmap() fails with ENOMEM, out of memory. */
static void
test_map_count (void)
{
  run_limited (map_count_child, TRUE);
}

int
main (int argc, char *argv[])
{
  ps_test_init (&argc, &argv, NULL);

  ps_test_add ("/resource-limits/address-space", test_address_space);
  ps_test_add ("/resource-limits/descriptors", test_descriptors);
  ps_test_add ("/resource-limits/map-count", test_map_count);

  return g_test_run ();
}
