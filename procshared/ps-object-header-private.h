/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * The header every shared object starts with, wherever its memory came
 * from: what it is, which layout and backend made it, and whether its
 * creator has finished initialising it. Readers check it before trusting
 * anything after it.
 */

#include <gio/gio.h>

G_BEGIN_DECLS

#define PS_OBJECT_MAGIC          0x4f425350u   /* "PSBO" read as bytes on little-endian */
#define PS_OBJECT_LAYOUT_VERSION 1
#define PS_OBJECT_READY          0x52454459u   /* "YDER" */
/* In the ready word of a placed object while its creator initialises it:
 * the claim that makes creation inside a segment race-free. */
#define PS_OBJECT_CLAIMED        0x4d49414cu   /* "LAIM" */

/* Objects are opened while their creator may still be initialising them;
 * an opener waits this long before calling them corrupt. */
#define PS_OBJECT_INIT_GRACE_US  (2 * G_USEC_PER_SEC)

typedef enum
{
  PS_OBJECT_TYPE_SHARED_MEMORY = 1,
  PS_OBJECT_TYPE_SEMAPHORE     = 2,
  PS_OBJECT_TYPE_MUTEX         = 3,
  PS_OBJECT_TYPE_COND          = 4,
  PS_OBJECT_TYPE_RW_LOCK       = 5,
  PS_OBJECT_TYPE_EVENT         = 6,
  PS_OBJECT_TYPE_BARRIER       = 7,
  PS_OBJECT_TYPE_QUEUE         = 8,
} PsObjectType;

typedef struct
{
  guint32 magic;
  guint16 layout_version;
  guint8  type;
  guint8  backend;
  guint32 ready;          /* PS_OBJECT_READY once fully initialised */
  guint32 reserved;
  guint64 payload_size;   /* bytes after the payload offset */
  guint64 reserved2;
} PsObjectHeader;

G_STATIC_ASSERT (sizeof (PsObjectHeader) == 32);

/* A synchronisation object: header, then its state, PS_OBJECT_SLOT_SIZE
 * bytes in all (the public PS_*_SIZE constants). */
#define PS_OBJECT_SLOT_SIZE  256
#define PS_OBJECT_STATE_SIZE (PS_OBJECT_SLOT_SIZE - sizeof (PsObjectHeader))

/* What a header says, as an opener and the procshared tool judge it. */
typedef enum
{
  PS_OBJECT_HEADER_VALID,         /* published by this layout and backend, of a known type */
  PS_OBJECT_HEADER_BLANK,         /* no magic yet: being created, or not ours */
  PS_OBJECT_HEADER_FOREIGN,       /* another magic: not a procshared object */
  PS_OBJECT_HEADER_UNFINISHED,    /* ours, never published: being created, or its creator died */
  PS_OBJECT_HEADER_INCOMPATIBLE,  /* published by another layout version or backend */
  PS_OBJECT_HEADER_UNKNOWN_TYPE,  /* published, compatible, of a type this build does not know */
} PsObjectHeaderStatus;

const char *ps_object_type_to_string  (PsObjectType          type);
gboolean    ps_object_type_is_known   (guint                 type);
/* Judges one snapshot of a header (a peer may be writing to it). */
PsObjectHeaderStatus ps_object_header_classify (const PsObjectHeader *header);
/* Fills in everything but the ready word, which is the creator's: zero,
 * or its claim on a placed slot. */
void        ps_object_header_init     (PsObjectHeader       *header,
                                       PsObjectType          type,
                                       guint64               payload_size);
void        ps_object_header_publish  (PsObjectHeader       *header);
gboolean    ps_object_header_check    (const PsObjectHeader *header,
                                       PsObjectType          type,
                                       GError              **error);

static inline gboolean
ps_object_header_is_ready (const PsObjectHeader *header)
{
  return __atomic_load_n (&header->ready, __ATOMIC_ACQUIRE) == PS_OBJECT_READY;
}

G_END_DECLS
