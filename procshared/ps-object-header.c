/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <string.h>

#include "ps-backend-private.h"
#include "ps-error.h"
#include "ps-object-header-private.h"

const char *
ps_object_type_to_string (PsObjectType type)
{
  switch (type)
    {
    case PS_OBJECT_TYPE_SHARED_MEMORY: return "shared memory";
    case PS_OBJECT_TYPE_SEMAPHORE:     return "semaphore";
    case PS_OBJECT_TYPE_MUTEX:         return "mutex";
    case PS_OBJECT_TYPE_COND:          return "condition variable";
    case PS_OBJECT_TYPE_RW_LOCK:       return "reader-writer lock";
    case PS_OBJECT_TYPE_EVENT:         return "event";
    case PS_OBJECT_TYPE_BARRIER:       return "barrier";
    case PS_OBJECT_TYPE_QUEUE:         return "queue";
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
}

void
ps_object_header_publish (PsObjectHeader *header)
{
  /* Release: everything written before is seen by whoever sees ready. */
  __atomic_store_n (&header->ready, PS_OBJECT_READY, __ATOMIC_RELEASE);
}

gboolean
ps_object_type_is_known (guint type)
{
  return (type >= PS_OBJECT_TYPE_SHARED_MEMORY && type <= PS_OBJECT_TYPE_COND) ||
         type == PS_OBJECT_TYPE_RW_LOCK ||
         type == PS_OBJECT_TYPE_EVENT ||
         type == PS_OBJECT_TYPE_BARRIER ||
         type == PS_OBJECT_TYPE_QUEUE;
}

PsObjectHeaderStatus
ps_object_header_classify (const PsObjectHeader *header)
{
  if (header->magic == 0)
    return PS_OBJECT_HEADER_BLANK;
  if (header->magic != PS_OBJECT_MAGIC)
    return PS_OBJECT_HEADER_FOREIGN;
  if (header->ready != PS_OBJECT_READY)
    return PS_OBJECT_HEADER_UNFINISHED;
  if (header->layout_version != PS_OBJECT_LAYOUT_VERSION || header->backend != PS_BACKEND_ID)
    return PS_OBJECT_HEADER_INCOMPATIBLE;
  if (!ps_object_type_is_known (header->type))
    return PS_OBJECT_HEADER_UNKNOWN_TYPE;
  return PS_OBJECT_HEADER_VALID;
}

gboolean
ps_object_header_check (const PsObjectHeader *header,
                        PsObjectType          type,
                        GError              **error)
{
  PsObjectHeader copy;

  /* Work on one snapshot: a peer may be writing to it as we read. */
  memcpy (&copy, header, sizeof copy);

  switch (ps_object_header_classify (&copy))
    {
    case PS_OBJECT_HEADER_BLANK:
    case PS_OBJECT_HEADER_FOREIGN:
    case PS_OBJECT_HEADER_UNFINISHED:
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "The shared memory does not hold a procshared object");
      return FALSE;
    case PS_OBJECT_HEADER_INCOMPATIBLE:
      g_set_error (error, PS_ERROR, PS_ERROR_INCOMPATIBLE,
                   "The object was made by an incompatible procshared "
                   "(layout %u, backend %u; this one uses layout %u, backend %s)",
                   copy.layout_version, copy.backend,
                   PS_OBJECT_LAYOUT_VERSION, ps_backend_name ());
      return FALSE;
    case PS_OBJECT_HEADER_UNKNOWN_TYPE:
    case PS_OBJECT_HEADER_VALID:
    default:
      break;
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
