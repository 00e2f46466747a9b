// SPDX-License-Identifier: LGPL-2.1-or-later

// Boost.Interprocess baselines. On Linux, interprocess_mutex is a
// process-shared pthread mutex and interprocess_semaphore a
// process-shared sem_t, each behind Boost's own wrapper: what these rows
// measure is what a C++ user who picks Boost instead gets.

#include <new>

#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/sync/interprocess_condition.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/interprocess_semaphore.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <boost/version.hpp>

#include "bench-boost.h"

using boost::interprocess::create_only;
using boost::interprocess::interprocess_condition;
using boost::interprocess::message_queue;
using boost::interprocess::interprocess_mutex;
using boost::interprocess::interprocess_semaphore;
using boost::interprocess::scoped_lock;

// Boost reports failures by throwing; the C side wants 0 or -1.
template <typename Body>
static int
without_exceptions (Body body)
{
  try
    {
      body ();
      return 0;
    }
  catch (...)
    {
      return -1;
    }
}

const char *
bench_boost_version (void)
{
  return BOOST_LIB_VERSION;
}

size_t
bench_boost_mutex_size (void)
{
  return sizeof (interprocess_mutex);
}

int
bench_boost_mutex_init (void *memory)
{
  return without_exceptions ([&] {
    new (memory) interprocess_mutex ();
  });
}

void
bench_boost_mutex_destroy (void *memory)
{
  static_cast<interprocess_mutex *> (memory)->~interprocess_mutex ();
}

int
bench_boost_mutex_run (void     *memory,
                       uint64_t  iterations)
{
  interprocess_mutex *mutex = static_cast<interprocess_mutex *> (memory);

  return without_exceptions ([&] {
    for (uint64_t i = 0; i < iterations; i++)
      {
        mutex->lock ();
        mutex->unlock ();
      }
  });
}

int
bench_boost_mutex_hammer (void              *memory,
                          volatile uint64_t *counter,
                          uint64_t           iterations)
{
  interprocess_mutex *mutex = static_cast<interprocess_mutex *> (memory);

  return without_exceptions ([&] {
    for (uint64_t i = 0; i < iterations; i++)
      {
        mutex->lock ();
        *counter = *counter + 1;
        mutex->unlock ();
      }
  });
}

size_t
bench_boost_semaphore_size (void)
{
  return sizeof (interprocess_semaphore);
}

int
bench_boost_semaphore_init (void         *memory,
                            unsigned int  value)
{
  return without_exceptions ([&] {
    new (memory) interprocess_semaphore (value);
  });
}

void
bench_boost_semaphore_destroy (void *memory)
{
  static_cast<interprocess_semaphore *> (memory)->~interprocess_semaphore ();
}

int
bench_boost_semaphore_run (void     *memory,
                           uint64_t  iterations)
{
  interprocess_semaphore *semaphore = static_cast<interprocess_semaphore *> (memory);

  return without_exceptions ([&] {
    for (uint64_t i = 0; i < iterations; i++)
      {
        semaphore->wait ();
        semaphore->post ();
      }
  });
}

int
bench_boost_ping_pong_initiator (void     *ping,
                                 void     *pong,
                                 uint64_t  iterations)
{
  interprocess_semaphore *to_peer = static_cast<interprocess_semaphore *> (ping);
  interprocess_semaphore *from_peer = static_cast<interprocess_semaphore *> (pong);

  return without_exceptions ([&] {
    for (uint64_t i = 0; i < iterations; i++)
      {
        to_peer->post ();
        from_peer->wait ();
      }
  });
}

int
bench_boost_ping_pong_responder (void     *ping,
                                 void     *pong,
                                 uint64_t  iterations)
{
  interprocess_semaphore *from_peer = static_cast<interprocess_semaphore *> (ping);
  interprocess_semaphore *to_peer = static_cast<interprocess_semaphore *> (pong);

  return without_exceptions ([&] {
    for (uint64_t i = 0; i < iterations; i++)
      {
        from_peer->wait ();
        to_peer->post ();
      }
  });
}

int
bench_boost_mutex_lock (void *memory)
{
  return without_exceptions ([&] {
    static_cast<interprocess_mutex *> (memory)->lock ();
  });
}

int
bench_boost_mutex_unlock (void *memory)
{
  return without_exceptions ([&] {
    static_cast<interprocess_mutex *> (memory)->unlock ();
  });
}

size_t
bench_boost_condition_size (void)
{
  return sizeof (interprocess_condition);
}

int
bench_boost_condition_init (void *memory)
{
  return without_exceptions ([&] {
    new (memory) interprocess_condition ();
  });
}

void
bench_boost_condition_destroy (void *memory)
{
  static_cast<interprocess_condition *> (memory)->~interprocess_condition ();
}

int
bench_boost_condition_wait (void *memory,
                            void *mutex)
{
  interprocess_condition *condition = static_cast<interprocess_condition *> (memory);
  interprocess_mutex *lock = static_cast<interprocess_mutex *> (mutex);

  return without_exceptions ([&] {
    // The C side holds the mutex: the lock takes it over for the wait,
    // and gives it back held.
    scoped_lock<interprocess_mutex> held (*lock, boost::interprocess::accept_ownership);

    condition->wait (held);
    held.release ();
  });
}

int
bench_boost_condition_notify_all (void *memory)
{
  return without_exceptions ([&] {
    static_cast<interprocess_condition *> (memory)->notify_all ();
  });
}

// message_queue: a named shared-memory queue of fixed-size slots, with a
// process-shared mutex and two condition variables inside.

void *
bench_boost_mq_new (const char *name,
                    size_t      capacity,
                    size_t      size)
{
  message_queue *mq = nullptr;

  message_queue::remove (name);
  if (without_exceptions ([&] {
        mq = new message_queue (create_only, name, capacity, size);
      }) != 0)
    return nullptr;
  return mq;
}

void
bench_boost_mq_free (void       *mq,
                     const char *name)
{
  delete static_cast<message_queue *> (mq);
  message_queue::remove (name);
}

int
bench_boost_mq_send (void       *mq,
                     const void *buffer,
                     size_t      size,
                     uint64_t    n)
{
  message_queue *queue = static_cast<message_queue *> (mq);

  return without_exceptions ([&] {
    for (uint64_t i = 0; i < n; i++)
      queue->send (buffer, size, 0);
  });
}

int
bench_boost_mq_receive (void     *mq,
                        void     *buffer,
                        size_t    size,
                        uint64_t  n)
{
  message_queue *queue = static_cast<message_queue *> (mq);

  return without_exceptions ([&] {
    for (uint64_t i = 0; i < n; i++)
      {
        message_queue::size_type received;
        unsigned int priority;

        queue->receive (buffer, size, received, priority);
        if (received != size)
          throw std::exception ();
      }
  });
}

int
bench_boost_mq_initiator (void     *ping,
                          void     *pong,
                          void     *buffer,
                          size_t    size,
                          uint64_t  iterations)
{
  message_queue *to_peer = static_cast<message_queue *> (ping);
  message_queue *from_peer = static_cast<message_queue *> (pong);

  return without_exceptions ([&] {
    for (uint64_t i = 0; i < iterations; i++)
      {
        message_queue::size_type received;
        unsigned int priority;

        to_peer->send (buffer, size, 0);
        from_peer->receive (buffer, size, received, priority);
      }
  });
}

int
bench_boost_mq_responder (void     *ping,
                          void     *pong,
                          void     *buffer,
                          size_t    size,
                          uint64_t  iterations)
{
  message_queue *from_peer = static_cast<message_queue *> (ping);
  message_queue *to_peer = static_cast<message_queue *> (pong);

  return without_exceptions ([&] {
    for (uint64_t i = 0; i < iterations; i++)
      {
        message_queue::size_type received;
        unsigned int priority;

        from_peer->receive (buffer, size, received, priority);
        to_peer->send (buffer, size, 0);
      }
  });
}
