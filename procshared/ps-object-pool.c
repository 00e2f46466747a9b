/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "ps-object-header-private.h"
#include "ps-object-map-private.h"
#include "ps-object-pool-private.h"

/*
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

gpointer
ps_object_pool_take (PsPoolChunk **out_chunk,
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

void
ps_object_pool_give_back (PsPoolChunk *chunk,
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
