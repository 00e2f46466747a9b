/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * What every shared object has in common: the header at its start, and
 * the three ways its memory is obtained (an anonymous pool shared over
 * fork(), a named POSIX shared-memory object, or a place inside a
 * PsSharedMemory).
 */

#include <gio/gio.h>

#include "ps-names.h"
#include "ps-shared-memory.h"

G_BEGIN_DECLS

#define PS_OBJECT_MAGIC          0x4f425350u   /* "PSBO" read as bytes on little-endian */
#define PS_OBJECT_LAYOUT_VERSION 1
#define PS_OBJECT_READY          0x52454459u   /* "YDER" */

/* Named objects are opened while their creator may still be initialising
 * them; an opener waits this long before calling them corrupt. */
#define PS_OBJECT_INIT_GRACE_US  (2 * G_USEC_PER_SEC)

typedef enum
{
  PS_OBJECT_TYPE_SHARED_MEMORY = 1,
  PS_OBJECT_TYPE_SEMAPHORE     = 2,
  PS_OBJECT_TYPE_MUTEX         = 3,
  PS_OBJECT_TYPE_COND          = 4,
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

typedef gboolean (*PsObjectInitFunc) (gpointer   state,
                                      gpointer   user_data,
                                      GError   **error);

typedef struct _PsPoolChunk PsPoolChunk;

/* Where an object's memory came from, and what keeps it alive. */
typedef struct
{
  PsObjectHeader *header;
  char           *name;         /* named objects */
  gpointer        mapping;      /* named objects: our own mapping */
  gsize           mapping_size;
  PsPoolChunk    *chunk;        /* anonymous objects: their pool chunk */
  PsSharedMemory *memory;       /* placed objects: the segment they live in */
} PsObjectStorage;

static inline gpointer
ps_object_storage_get_state (PsObjectStorage *storage)
{
  return (guint8 *) storage->header + sizeof (PsObjectHeader);
}

gboolean ps_object_storage_init_anonymous (PsObjectStorage   *storage,
                                           PsObjectType       type,
                                           PsObjectInitFunc   init_func,
                                           gpointer           user_data,
                                           GError           **error);
gboolean ps_object_storage_init_named     (PsObjectStorage   *storage,
                                           const char        *name,
                                           PsOpenFlags        flags,
                                           guint              mode,
                                           PsObjectType       type,
                                           PsObjectInitFunc   init_func,
                                           gpointer           user_data,
                                           GError           **error);
gboolean ps_object_storage_init_placed    (PsObjectStorage   *storage,
                                           PsSharedMemory    *memory,
                                           gsize              offset,
                                           gboolean           attach,
                                           PsObjectType       type,
                                           PsObjectInitFunc   init_func,
                                           gpointer           user_data,
                                           GError           **error);
void     ps_object_storage_clear          (PsObjectStorage   *storage);

/* The lower layer, shared with PsSharedMemory (whose payload size varies). */
gboolean ps_object_map_named              (const char        *name,
                                           PsOpenFlags        flags,
                                           guint              mode,
                                           PsObjectType       type,
                                           gsize              payload_offset,
                                           gsize              payload_size,
                                           PsObjectInitFunc   init_func,
                                           gpointer           user_data,
                                           gpointer          *out_mapping,
                                           gsize             *out_mapping_size,
                                           GError           **error);
gpointer ps_object_map_anonymous          (gsize              length,
                                           GError           **error);
/* Unmaps what ps_object_map_named() mapped (and guarded). */
void     ps_object_unmap                  (gpointer           mapping,
                                           gsize              length);
void     ps_object_header_init            (PsObjectHeader    *header,
                                           PsObjectType       type,
                                           guint64            payload_size);
void     ps_object_header_publish         (PsObjectHeader    *header);
gboolean ps_object_header_check           (const PsObjectHeader *header,
                                           PsObjectType       type,
                                           GError           **error);
const char *ps_object_type_to_string      (PsObjectType       type);

/* Who is calling: cached per thread (a getpid() or gettid() system call
 * on every lock and unlock would cost more than the lock itself), and
 * refreshed in a child after fork(). */
/* initial-exec: a plain %fs-relative load instead of a __tls_get_addr()
 * call on every lock. A few bytes fit easily in the static TLS space the C
 * library reserves for libraries loaded later with dlopen(). */
#define PS_FAST_TLS _Thread_local __attribute__((tls_model ("initial-exec")))

extern guint32 ps_cached_process_id;
extern PS_FAST_TLS guint64 ps_cached_thread_id;

guint32  ps_self_process_id_slow          (void);
guint64  ps_self_thread_id_slow           (void);

static inline guint32
ps_self_process_id (void)
{
  guint32 pid = __atomic_load_n (&ps_cached_process_id, __ATOMIC_RELAXED);

  return G_LIKELY (pid != 0) ? pid : ps_self_process_id_slow ();
}

static inline guint64
ps_self_thread_id (void)
{
  guint64 thread_id = ps_cached_thread_id;

  return G_LIKELY (thread_id != 0) ? thread_id : ps_self_thread_id_slow ();
}

/* Names and errors. */
gboolean ps_name_validate                 (const char        *name,
                                           GError           **error);
gboolean ps_open_flags_validate           (PsOpenFlags        flags,
                                           GError           **error);
void     ps_set_error_from_errno          (GError           **error,
                                           int                saved_errno,
                                           const char        *format,
                                           ...) G_GNUC_PRINTF (3, 4);
gboolean ps_check_range                   (gsize              size,
                                           gsize              offset,
                                           gsize              length,
                                           GError           **error);

/* For the fast paths of the classes: whether @instance is of exactly
 * @type (final types; 0 until the class is initialised, when no instance
 * exists) and @error is clear, checked without calling anything. The full
 * paths make the same checks, with warnings, through
 * g_return_val_if_fail(). */
static inline gboolean
ps_object_is_plain_call (gpointer   instance,
                         GType      type,
                         GError   **error)
{
  GTypeInstance *object = instance;

  return G_LIKELY (object != NULL && object->g_class != NULL &&
                   object->g_class->g_type == type &&
                   (error == NULL || *error == NULL));
}

G_END_DECLS

/* What a constructor asked for: the properties every synchronisation
 * object shares. One of three models, chosen by which fields are set. */
typedef struct
{
  char           *name;
  PsOpenFlags     open_flags;
  guint           mode;
  PsSharedMemory *memory;
  gsize           offset;
  gboolean        attach;
} PsObjectPlacement;

enum
{
  PS_OBJECT_PROP_NAME = 1,
  PS_OBJECT_PROP_OPEN_FLAGS,
  PS_OBJECT_PROP_MODE,
  PS_OBJECT_PROP_MEMORY,
  PS_OBJECT_PROP_OFFSET,
  PS_OBJECT_N_PROPS
};

void     ps_object_placement_install_properties (GObjectClass      *object_class,
                                                 GParamSpec       **properties);
gboolean ps_object_placement_get_property       (PsObjectPlacement *placement,
                                                 guint              prop_id,
                                                 GValue            *value);
gboolean ps_object_placement_set_property       (PsObjectPlacement *placement,
                                                 guint              prop_id,
                                                 const GValue      *value);
void     ps_object_placement_clear              (PsObjectPlacement *placement);
gboolean ps_object_storage_init_for             (PsObjectStorage   *storage,
                                                 PsObjectPlacement *placement,
                                                 PsObjectType       type,
                                                 PsObjectInitFunc   init_func,
                                                 gpointer           user_data,
                                                 GError           **error);
