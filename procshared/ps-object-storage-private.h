/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * What every synchronisation class shares, written once: its construct
 * properties (named, placed or anonymous), its GInitable init, where its
 * memory comes from (the anonymous pool, a named mapping, or a place
 * inside a PsSharedMemory), its constructors' common part, and the
 * call-free argument check of its fast paths.
 *
 * A class embeds a PsObjectStorage, describes itself with a PsObjectKind,
 * and keeps only its own state and operations.
 */

#include <gio/gio.h>

#include "ps-names.h"
#include "ps-object-header-private.h"
#include "ps-object-pool-private.h"
#include "ps-shared-memory.h"

G_BEGIN_DECLS

/* How one class's objects are made. */
typedef struct
{
  PsObjectType type;
  /* Fills in the state of a new object from @instance's construct
   * properties; the object is published only if it succeeds. */
  gboolean (*init_state)  (gpointer   state,
                           gpointer   instance,
                           GError   **error);
  /* Checks the state of the object now mapped (made here or found there),
   * which a peer may have written anything into, and takes from it what
   * @instance keeps (a CORRUPT error if it is not a state the class could
   * have made). */
  gboolean (*adopt_state) (gpointer   state,
                           gpointer   instance,
                           GError   **error);
  /* The bytes an object takes, header included: 0 for
   * PS_OBJECT_SLOT_SIZE; more for a class whose state does not fit
   * there (its anonymous objects then get a mapping of their own). */
  gsize size;
  /* A class whose objects vary in size (PsQueue) sets this instead of
   * size: the bytes of a new object's state, from @instance's construct
   * properties (FALSE with G_IO_ERROR_INVALID_ARGUMENT when they make no
   * valid object); called only where an object may be created. An
   * object found is taken at the state size its header gives, checked
   * against its mapping or segment; adopt_state reads it from
   * PsObjectStorage.state_size and checks the rest. */
  gboolean (*measure_state) (gpointer   instance,
                             gsize     *out_state_size,
                             GError   **error);
} PsObjectKind;

static inline gsize
ps_object_kind_size (const PsObjectKind *kind)
{
  return kind->size != 0 ? kind->size : PS_OBJECT_SLOT_SIZE;
}

static inline gsize
ps_object_kind_state_size (const PsObjectKind *kind)
{
  return ps_object_kind_size (kind) - sizeof (PsObjectHeader);
}

typedef struct
{
  /* The construct properties: what the caller asked for. */
  char           *name;
  PsOpenFlags     open_flags;
  gboolean        open_flags_given;  /* placed: open_at rather than new_at */
  guint           mode;
  PsSharedMemory *memory;
  gsize           offset;
  gboolean        attach;

  /* What g_initable_init() found, once: it is idempotent. */
  gboolean        initialised;
  GError         *init_error;
  gboolean        created;      /* this handle initialised the object */

  /* Where the memory came from, and what keeps it alive. */
  PsObjectHeader *header;
  gpointer        mapping;      /* named objects: our own mapping */
  gsize           mapping_size;
  PsPoolChunk    *chunk;        /* anonymous objects: their pool slot's chunk */
  PsSharedMemory *placed_in;    /* placed objects: the segment, kept alive */
  gsize           state_size;   /* the bytes of the state after the header */
} PsObjectStorage;

enum
{
  PS_OBJECT_PROP_NAME = 1,
  PS_OBJECT_PROP_OPEN_FLAGS,
  PS_OBJECT_PROP_MODE,
  PS_OBJECT_PROP_MEMORY,
  PS_OBJECT_PROP_OFFSET,
  PS_OBJECT_PROP_ATTACH,
  PS_OBJECT_PROP_CREATED,
  PS_OBJECT_N_PROPS
};

static inline gpointer
ps_object_storage_get_state (PsObjectStorage *storage)
{
  return (guint8 *) storage->header + sizeof (PsObjectHeader);
}

/* From the class's instance_init, class_init, get/set_property,
 * GInitable init and finalize. */
void     ps_object_storage_init_defaults    (PsObjectStorage    *storage);
void     ps_object_storage_install_properties (GObjectClass     *object_class,
                                               GParamSpec      **properties);
gboolean ps_object_storage_get_property     (PsObjectStorage    *storage,
                                             guint               prop_id,
                                             GValue             *value);
gboolean ps_object_storage_set_property     (PsObjectStorage    *storage,
                                             guint               prop_id,
                                             const GValue       *value,
                                             GParamSpec         *pspec);
gboolean ps_object_storage_initable_init    (PsObjectStorage    *storage,
                                             const PsObjectKind *kind,
                                             gpointer            instance,
                                             GError            **error);
/* For the class's constructed(): objects made by g_object_new() alone (as
 * the language bindings make them) work too; g_initable_init() then gives
 * what this found. */
void     ps_object_storage_constructed      (PsObjectStorage    *storage,
                                             const PsObjectKind *kind,
                                             gpointer            instance);
/* For the methods of an object whose construction failed: FALSE with the
 * construction's error. */
gboolean ps_object_storage_set_init_error   (PsObjectStorage    *storage,
                                             GError            **error);
void     ps_object_storage_clear            (PsObjectStorage    *storage);
/* Keeps the object's memory mapped for the life of the process (it may
 * still be linked where the kernel looks); clearing then frees the rest. */
void     ps_object_storage_keep_mapped      (PsObjectStorage    *storage);

/* How a placed object is found: made anew (new_at: over anything but a
 * live object), opened with flags (open_at), or attached to. */
typedef enum
{
  PS_PLACE_NEW,
  PS_PLACE_OPEN,
  PS_PLACE_ATTACH,
} PsPlaceHow;

/* The constructors' common part: checks the arguments, then
 * g_initable_new() with the named or placed construct properties followed
 * by the class's own (a NULL-terminated property list). */
gpointer ps_object_new_named                (GType               type,
                                             const char         *name,
                                             PsOpenFlags         flags,
                                             guint               mode,
                                             GError            **error,
                                             const char         *first_property_name,
                                             ...);
gpointer ps_object_new_placed               (GType               type,
                                             PsSharedMemory     *memory,
                                             gsize               offset,
                                             PsPlaceHow          how,
                                             PsOpenFlags         flags,
                                             GError            **error,
                                             const char         *first_property_name,
                                             ...);

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
