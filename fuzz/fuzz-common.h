/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#include "procshared.h"

G_BEGIN_DECLS

/* libFuzzer's entry point, declared for -Wmissing-declarations. */
int  LLVMFuzzerTestOneInput (const uint8_t *data,
                             size_t         size);

void fuzz_init_once         (void);

/* Aborts (a finding) unless @error is one of the errors a caller may be
 * handed for bad shared memory: PS_ERROR or G_IO_ERROR, with a message. */
void fuzz_check_error       (const GError *error,
                             const char   *what);

/* Aborts unless @error is in @domain with @code. */
void fuzz_check_error_is    (const GError *error,
                             GQuark        domain,
                             int           code,
                             const char   *what);

/* An anonymous segment of exactly @size bytes whose mapping's slack (the
 * rest of the last page) is poisoned for AddressSanitizer, so that reading
 * one byte past the segment is reported even though the page is mapped.
 * Free it with fuzz_segment_free(), which unpoisons it first. */
PsSharedMemory *fuzz_segment_new  (gsize           size);
void            fuzz_segment_free (PsSharedMemory *memory);

/* Copies a slot of PS_OBJECT_SLOT_SIZE (256) bytes to @offset of
 * @memory. A header with our magic that is not ready would make the
 * library wait PS_OBJECT_INIT_GRACE_US (2 s) for its creator, with a
 * known outcome: it is published instead (@publish) or its magic wiped. */
void fuzz_place_slot         (PsSharedMemory *memory,
                              gsize           offset,
                              const guint8   *slot,
                              gboolean        publish);

/* The same for @size bytes of an object of any size. */
void fuzz_place_bytes        (PsSharedMemory *memory,
                              gsize           offset,
                              const guint8   *bytes,
                              gsize           size,
                              gboolean        publish);

/* Reports a finding (with @error's message, if any) and aborts. */
G_NORETURN
void fuzz_finding            (const char   *what,
                              const GError *error);

/* A mutex state (the bytes after its header) that names this very thread
 * as its holder can only be written at run time: a placeholder in the
 * input (all ones in the lock word's TID bits, in glibc's owner, in the
 * owner pid, in the owner thread) is replaced by our own identity, so that
 * inputs reach, reproducibly, the states only a peer that knows who we
 * are could write. */
void     fuzz_personalise_mutex_state    (guint8 *state);

/* With PS_FUZZ_AVOID_KNOWN set in the environment, the targets steer
 * clear of findings already reported and not fixed yet, so that a run
 * searches past them instead of finding them again and again: a mutex
 * state (the bytes after its header) is rewritten to avoid them. Never
 * set for the corpus replay, which must show every open finding. */
gboolean fuzz_avoid_known_findings       (void);
void     fuzz_avoid_known_mutex_findings (guint8 *state);

/* Aborts unless this thread's robust-mutex list is empty, as it must be
 * between runs: call at the end of each. */
void fuzz_check_robust_list  (void);

/* Use an object that was attached to or opened over arbitrary bytes, the
 * way an application would, without ever blocking for long (timeouts of
 * 1 µs), checking the promises of the API: a lock taken can be released,
 * a unit taken can be given back, a condition wait returns with the mutex
 * held. @while_held, if not %NULL, is called once: while the mutex is
 * held, or at the end if it never was. */
void fuzz_exercise_mutex     (PsMutex      *mutex,
                              gboolean      mark_consistent,
                              void        (*while_held) (gpointer user_data),
                              gpointer      user_data);
void fuzz_exercise_semaphore (PsSemaphore  *semaphore);
void fuzz_exercise_cond      (PsCond       *cond);
/* Sends and receives of every kind with timeouts of 0 and 1 µs, in an
 * order drawn from @seed: each succeeds or fails with CORRUPT,
 * WOULD_BLOCK or TIMED_OUT; callbacks touch every byte they are given. */
void fuzz_exercise_queue     (PsQueue      *queue,
                              guint         seed);

G_END_DECLS
