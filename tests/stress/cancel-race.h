/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the parts of test-cancel-race share: the races' cases, the state
 * their participants share, the subjects (the waits under test), and the
 * functions each part gives the others. The churn is in
 * cancel-race-churn.c, the subjects in cancel-race-subject.c, the async
 * races of single waits in cancel-race-async.c, and the races themselves
 * in test-cancel-race.c.
 */

#include "stress-util.h"

typedef enum
{
  PRIM_SEMAPHORE,
  PRIM_SEMAPHORE_ASYNC,
  PRIM_MUTEX,
  PRIM_COND,
  PRIM_MUTEX_ASYNC,
  PRIM_COND_ASYNC,
  PRIM_RW_READ_ASYNC,
  PRIM_RW_WRITE_ASYNC,
} Prim;

static inline gboolean
is_cond (Prim prim)
{
  return prim == PRIM_COND || prim == PRIM_COND_ASYNC;
}

typedef enum
{
  END_CANCEL,
  END_TIMEOUT,
} EndKind;

typedef struct
{
  Prim    prim;
  EndKind end;
} RaceCase;

typedef struct
{
  gint           stop;
  gint           holder;       /* mutex and cond cases: who holds the mutex, 0 if nobody */
  gint           next_id;
  gint           churn_ops;
  StressFailures failures;
  gint           readers;      /* rw-lock cases: read shares held */
} RaceShared;

typedef struct
{
  const RaceCase *race;
  RaceShared     *shared;
  PsSemaphore    *semaphore;
  PsMutex        *mutex;
  PsCond         *cond;
  PsRWLock       *rw_lock;
} Race;

typedef struct
{
  GCancellable *cancellable;
  gint64        delay_us;
} CancelRequest;

typedef struct
{
  Race          *race;
  guint32        seed;
  guint          n_waits;
  GAsyncQueue   *requests;    /* to the companion */
  GAsyncQueue   *fired;       /* back from it */
  GThread       *companion;

  /* results */
  guint          acquired;
  guint          cancelled;
  guint          timed_out;
  guint          would_block;
  gint64         max_late_us;  /* how long after its cancellation or deadline a wait returned */
} Subject;

typedef struct
{
  gboolean      done;
  gboolean      result;
  GError       *error;
} AsyncResult;

/* cancel-race-churn.c */
void mark_held (RaceShared *shared,
                gint        id);
void mark_released (RaceShared *shared,
                    gint        id);
void use_rw_lock (Race     *race,
                  GRand    *rand,
                  gint      id,
                  gboolean  write,
                  gint      max_us);
void churn_loop (Race    *race,
                 guint32  seed);

/* cancel-race-subject.c */
void on_acquired (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data);
gpointer companion_thread (gpointer data);
gpointer subject_thread (gpointer data);

/* cancel-race-async.c */
void test_async_tiny_timeouts (void);
void test_event_barrier_async_race (gconstpointer data);
