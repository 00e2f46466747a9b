/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Boost.Interprocess baselines, behind a C interface so that the
 * benchmark itself stays C. The loops live on the C++ side: a call per
 * operation across the language boundary would charge Boost for a call
 * that procshared's own rows do not pay twice.
 *
 * Every function returns 0 on success and -1 if Boost threw (which it
 * only does on a broken system); the caller reports that as a failure.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

const char *bench_boost_version (void);

size_t bench_boost_mutex_size    (void);
int     bench_boost_mutex_init    (void *memory);
void    bench_boost_mutex_destroy (void *memory);
int     bench_boost_mutex_run     (void *memory, uint64_t iterations);

size_t bench_boost_semaphore_size    (void);
int     bench_boost_semaphore_init    (void *memory, unsigned int value);
void    bench_boost_semaphore_destroy (void *memory);
int     bench_boost_semaphore_run     (void *memory, uint64_t iterations);

/* One side each of a round trip over two semaphores: the initiator posts
 * @ping and waits for @pong, the responder the other way round. */
int     bench_boost_ping_pong_initiator (void *ping, void *pong, uint64_t iterations);
int     bench_boost_ping_pong_responder (void *ping, void *pong, uint64_t iterations);

/* One operation at a time, for the broadcast row, whose loop is in C: an
 * interprocess_condition waited on with an interprocess_mutex. */
int     bench_boost_mutex_lock   (void *memory);
int     bench_boost_mutex_unlock (void *memory);

size_t bench_boost_condition_size       (void);
int     bench_boost_condition_init       (void *memory);
void    bench_boost_condition_destroy    (void *memory);
int     bench_boost_condition_wait       (void *memory, void *mutex);
int     bench_boost_condition_notify_all (void *memory);

/* Two processes hammering one mutex: lock, bump *counter, unlock. */
int     bench_boost_mutex_hammer (void *memory, volatile uint64_t *counter, uint64_t iterations);

/* A boost::interprocess::message_queue of @capacity messages of at most
 * @size bytes, named @name (in /dev/shm; removed by _free()); NULL if
 * Boost threw. Used over fork(): the child keeps the parent's mapping. */
void   *bench_boost_mq_new     (const char *name, size_t capacity, size_t size);
void    bench_boost_mq_free    (void *mq, const char *name);
/* @n messages of @size bytes each, sent from (received into) @buffer. */
int     bench_boost_mq_send    (void *mq, const void *buffer, size_t size, uint64_t n);
int     bench_boost_mq_receive (void *mq, void *buffer, size_t size, uint64_t n);
/* Round trips: the initiator sends on @ping and receives on @pong, the
 * responder the other way round. */
int     bench_boost_mq_initiator (void *ping, void *pong, void *buffer, size_t size,
                                  uint64_t iterations);
int     bench_boost_mq_responder (void *ping, void *pong, void *buffer, size_t size,
                                  uint64_t iterations);

#ifdef __cplusplus
}
#endif
