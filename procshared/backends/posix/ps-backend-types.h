/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Any POSIX system: process-shared robust pthread mutexes and condition
 * variables only. */

#include <pthread.h>
#include <glib.h>

#define PS_BACKEND_ID PS_BACKEND_POSIX

struct _PsWaitWord
{
  guint32 value;
  guint32 padding;
  pthread_mutex_t mutex;   /* guards sleeping, not the value */
  pthread_cond_t cond;
};

struct _PsRobustLock
{
  pthread_mutex_t mutex;
  guint32 waiters;
  guint32 padding;
  struct _PsWaitWord released;   /* bumped by an unlock that sees waiters */
};

struct _PsCanceller
{
  guint32 fired;
  guint32 padding;
  struct _PsWaitWord *word;      /* the word being waited on, if any */
};
