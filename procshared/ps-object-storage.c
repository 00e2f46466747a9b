/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <string.h>

#include <gobject/gvaluecollector.h>

#include "ps-enums.h"
#include "ps-error.h"
#include "ps-errors-private.h"
#include "ps-names-private.h"
#include "ps-object-map-private.h"
#include "ps-object-storage-private.h"

/* Where the memory comes from ---------------------------------------------- */

/* The state size of a new object of @kind. */
static gboolean
measure_new_state (const PsObjectKind  *kind,
                   gpointer             instance,
                   gsize               *out_state_size,
                   GError             **error)
{
  if (kind->measure_state == NULL)
    {
      *out_state_size = ps_object_kind_state_size (kind);
      return TRUE;
    }
  return kind->measure_state (instance, out_state_size, error);
}

static gboolean
init_anonymous (PsObjectStorage     *storage,
                const PsObjectKind  *kind,
                gpointer             instance,
                GError             **error)
{
  PsPoolChunk *chunk = NULL;
  PsObjectHeader *header;
  gsize state_size;
  gsize size;

  if (!measure_new_state (kind, instance, &state_size, error))
    return FALSE;
  size = sizeof (PsObjectHeader) + state_size;

  /* A large object is a mapping of its own (shared over fork() all the
   * same): the pool's slots are PS_OBJECT_SLOT_SIZE bytes. */
  if (size > PS_OBJECT_SLOT_SIZE || kind->measure_state != NULL)
    header = ps_object_map_anonymous (size, error);
  else
    header = ps_object_pool_take (&chunk, error);
  if (header == NULL)
    return FALSE;

  ps_object_header_init (header, kind->type, state_size);
  storage->state_size = state_size;
  if (!kind->init_state ((guint8 *) header + sizeof *header, instance, error))
    {
      if (chunk != NULL)
        ps_object_pool_give_back (chunk, header);
      else
        ps_object_unmap (header, size);
      return FALSE;
    }
  ps_object_header_publish (header);

  storage->header = header;
  storage->chunk = chunk;
  if (chunk == NULL)
    {
      storage->mapping = header;
      storage->mapping_size = size;
    }
  storage->created = TRUE;
  return TRUE;
}

static gboolean
init_named (PsObjectStorage     *storage,
            const PsObjectKind  *kind,
            gpointer             instance,
            GError             **error)
{
  gpointer mapping = NULL;
  gsize mapping_size = 0;
  gsize state_size = 0;

  /* Measured only where the object may be created: opening ignores the
   * creation parameters of a class whose objects vary in size. */
  if ((kind->measure_state == NULL || (storage->open_flags & PS_OPEN_CREATE)) &&
      !measure_new_state (kind, instance, &state_size, error))
    return FALSE;
  /* init_state reads it (only when the object is created at that size). */
  storage->state_size = state_size;
  if (!ps_object_map_named (storage->name, storage->open_flags, storage->mode, kind->type,
                            sizeof (PsObjectHeader), state_size, kind->measure_state != NULL,
                            kind->init_state, instance, &mapping, &mapping_size,
                            &storage->created, &storage->mode, error))
    return FALSE;

  storage->header = mapping;
  storage->mapping = mapping;
  storage->mapping_size = mapping_size;
  storage->state_size = mapping_size - sizeof (PsObjectHeader);
  return TRUE;
}

static gboolean
check_placed_payload (PsObjectHeader      *header,
                      const PsObjectKind  *kind,
                      gsize                room,
                      gsize               *out_state_size,
                      GError             **error)
{
  /* Read once: a peer may be rewriting it. */
  guint64 payload_size = __atomic_load_n (&header->payload_size, __ATOMIC_RELAXED);

  if (kind->measure_state != NULL)
    {
      /* @room: the bytes from the header's end to the segment's. */
      if (payload_size > room)
        {
          g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                       "The object claims a state of %" G_GUINT64_FORMAT " bytes, past the "
                       "end of the segment", payload_size);
          return FALSE;
        }
      *out_state_size = payload_size;
      return TRUE;
    }
  *out_state_size = ps_object_kind_state_size (kind);
  if (payload_size != ps_object_kind_state_size (kind))
    {
      g_set_error (error, PS_ERROR, PS_ERROR_CORRUPT,
                   "The object has a state of %" G_GUINT64_FORMAT " bytes, expected %"
                   G_GSIZE_FORMAT, payload_size, ps_object_kind_state_size (kind));
      return FALSE;
    }
  return TRUE;
}

/* ps_X_attach(): the object must be there, or a creator at work on it. */
static gboolean
attach_placed (PsObjectHeader      *header,
               const PsObjectKind  *kind,
               gsize                room,
               gsize               *out_state_size,
               GError             **error)
{
  gint64 deadline = g_get_monotonic_time () + PS_OBJECT_INIT_GRACE_US;

  /* A peer may be initialising it this very moment. */
  for (;;)
    {
      guint32 ready = __atomic_load_n (&header->ready, __ATOMIC_ACQUIRE);

      if (ready == PS_OBJECT_READY ||
          (ready != PS_OBJECT_CLAIMED && header->magic != PS_OBJECT_MAGIC) ||
          g_get_monotonic_time () >= deadline)
        break;
      g_usleep (100);
    }

  return ps_object_header_check (header, kind->type, error) &&
         check_placed_payload (header, kind, room, out_state_size, error);
}

/* Initialises the object in a slot this thread has claimed. */
static gboolean
create_placed (PsObjectHeader      *header,
               const PsObjectKind  *kind,
               gpointer             instance,
               gsize                state_size,
               GError             **error)
{
  guint8 *state = (guint8 *) header + sizeof *header;

  memset (state, 0, state_size);
  ps_object_header_init (header, kind->type, state_size);
  if (!kind->init_state (state, instance, error))
    {
      /* Back to an empty slot, the claim last. */
      memset (header, 0, G_STRUCT_OFFSET (PsObjectHeader, ready));
      memset (&header->reserved, 0, sizeof *header - G_STRUCT_OFFSET (PsObjectHeader, reserved));
      __atomic_store_n (&header->ready, 0, __ATOMIC_RELEASE);
      return FALSE;
    }
  ps_object_header_publish (header);
  return TRUE;
}

/* new_at (@flags CREATE | EXCLUSIVE, @over_foreign) or open_at (@flags),
 * race-free: a creator claims the slot's ready word before it writes
 * anything, and everyone else waits, a bounded while, for it to publish. */
static gboolean
open_placed (PsObjectHeader      *header,
             const PsObjectKind  *kind,
             gpointer             instance,
             PsOpenFlags          flags,
             gboolean             over_foreign,
             gsize                room,
             gsize               *inout_state_size,
             gboolean            *out_created,
             GError             **error)
{
  gint64 deadline = g_get_monotonic_time () + PS_OBJECT_INIT_GRACE_US;

  for (;;)
    {
      guint32 ready = __atomic_load_n (&header->ready, __ATOMIC_ACQUIRE);

      if (ready == PS_OBJECT_READY)
        {
          if (flags & PS_OPEN_EXCLUSIVE)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                           "The place already holds a %s",
                           ps_object_type_to_string (header->type));
              return FALSE;
            }
          *out_created = FALSE;
          return ps_object_header_check (header, kind->type, error) &&
                 check_placed_payload (header, kind, room, inout_state_size, error);
        }

      if (ready != PS_OBJECT_CLAIMED)
        {
          gboolean empty = ready == 0 && header->magic == 0;

          if ((flags & PS_OPEN_CREATE) && (empty || over_foreign))
            {
              if (__atomic_compare_exchange_n (&header->ready, &ready, PS_OBJECT_CLAIMED, FALSE,
                                               __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                {
                  *out_created = TRUE;
                  return create_placed (header, kind, instance, *inout_state_size, error);
                }
              continue;   /* another creator was quicker: look again */
            }
          if (!empty)
            {
              g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                                   "The place does not hold a procshared object");
              return FALSE;
            }
        }

      if (g_get_monotonic_time () >= deadline)
        {
          if (ready == PS_OBJECT_CLAIMED)
            g_set_error_literal (error, PS_ERROR, PS_ERROR_CORRUPT,
                                 "The creator of the object there died before finishing it");
          else
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                 "No object was created there");
          return FALSE;
        }
      g_usleep (100);
    }
}

static gboolean
init_placed (PsObjectStorage     *storage,
             const PsObjectKind  *kind,
             gpointer             instance,
             GError             **error)
{
  PsObjectHeader *header;
  gsize state_size;
  gsize room;
  gboolean may_create;
  gboolean ok;

  /* Every primitive writes its state, to lock as much as to create. */
  if (ps_shared_memory_is_read_only (storage->memory))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY,
                           "The segment is read-only: no object can be made or used in it");
      return FALSE;
    }
  if (storage->offset % 8 != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Offset %" G_GSIZE_FORMAT " is not a multiple of 8", storage->offset);
      return FALSE;
    }
  /* A new object's size, where one may be created; a found one's is
   * checked against the room left after its header. */
  state_size = 0;
  may_create = !storage->attach &&
               (!storage->open_flags_given || (storage->open_flags & PS_OPEN_CREATE));
  if ((kind->measure_state == NULL || may_create) &&
      !measure_new_state (kind, instance, &state_size, error))
    return FALSE;
  storage->state_size = state_size;
  if (!ps_check_range (ps_shared_memory_get_size (storage->memory), storage->offset,
                       sizeof (PsObjectHeader) + state_size, error))
    return FALSE;
  room = ps_shared_memory_get_size (storage->memory) - storage->offset - sizeof (PsObjectHeader);

  header = (gpointer) ((guint8 *) ps_shared_memory_get_data (storage->memory) + storage->offset);

  if (storage->attach)
    ok = attach_placed (header, kind, room, &state_size, error);
  else if (storage->open_flags_given)
    ok = ps_open_flags_validate (storage->open_flags, error) &&
         open_placed (header, kind, instance, storage->open_flags, FALSE, room, &state_size,
                      &storage->created, error);
  else
    ok = open_placed (header, kind, instance, PS_OPEN_CREATE | PS_OPEN_EXCLUSIVE, TRUE,
                      room, &state_size, &storage->created, error);
  if (!ok)
    {
      g_prefix_error (error, "At offset %" G_GSIZE_FORMAT ": ", storage->offset);
      return FALSE;
    }

  storage->state_size = state_size;
  storage->header = header;
  storage->placed_in = g_object_ref (storage->memory);
  return TRUE;
}

static gboolean
map_storage (PsObjectStorage     *storage,
             const PsObjectKind  *kind,
             gpointer             instance,
             GError             **error)
{
  if (storage->name != NULL && storage->memory != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "An object is either named or placed in a PsSharedMemory, not both");
      return FALSE;
    }
  if (storage->name != NULL)
    return init_named (storage, kind, instance, error);
  if (storage->memory != NULL)
    return init_placed (storage, kind, instance, error);
  if (storage->attach)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "Attaching needs the PsSharedMemory and offset of the object");
      return FALSE;
    }
  return init_anonymous (storage, kind, instance, error);
}

static void
unmap_storage (PsObjectStorage *storage)
{
  if (storage->chunk != NULL)
    ps_object_pool_give_back (storage->chunk, storage->header);
  if (storage->mapping != NULL)
    ps_object_unmap (storage->mapping, storage->mapping_size);
  g_clear_object (&storage->placed_in);
  storage->header = NULL;
  storage->chunk = NULL;
  storage->mapping = NULL;
  storage->mapping_size = 0;
}

/* The class's GInitable, GObject and finalize parts ------------------------- */

void
ps_object_storage_init_defaults (PsObjectStorage *storage)
{
  storage->mode = 0600;
}

gboolean
ps_object_storage_initable_init (PsObjectStorage     *storage,
                                 const PsObjectKind  *kind,
                                 gpointer             instance,
                                 GError             **error)
{
  GError *local_error = NULL;

  /* GInitable asks for idempotence: a second call gives the first
   * result, and never maps a second object. */
  if (storage->initialised)
    {
      if (storage->init_error == NULL)
        return TRUE;
      g_propagate_error (error, g_error_copy (storage->init_error));
      return FALSE;
    }
  storage->initialised = TRUE;

  if (map_storage (storage, kind, instance, &local_error))
    {
      if (kind->adopt_state (ps_object_storage_get_state (storage), instance, &local_error))
        return TRUE;
      unmap_storage (storage);
    }

  storage->init_error = g_error_copy (local_error);
  g_propagate_error (error, local_error);
  return FALSE;
}

void
ps_object_storage_constructed (PsObjectStorage     *storage,
                               const PsObjectKind  *kind,
                               gpointer             instance)
{
  ps_object_storage_initable_init (storage, kind, instance, NULL);
}

gboolean
ps_object_storage_set_init_error (PsObjectStorage  *storage,
                                  GError          **error)
{
  if (storage->init_error != NULL)
    g_propagate_error (error, g_error_copy (storage->init_error));
  else
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                         "The object was not initialised");
  return FALSE;
}

void
ps_object_storage_keep_mapped (PsObjectStorage *storage)
{
  /* The segment of a placed object stays referenced, so stays mapped. */
  storage->header = NULL;
  storage->chunk = NULL;
  storage->mapping = NULL;
  storage->mapping_size = 0;
  storage->placed_in = NULL;
}

void
ps_object_storage_clear (PsObjectStorage *storage)
{
  unmap_storage (storage);
  g_clear_pointer (&storage->name, g_free);
  g_clear_object (&storage->memory);
  g_clear_error (&storage->init_error);
}

void
ps_object_storage_install_properties (GObjectClass  *object_class,
                                      GParamSpec   **properties)
{
  GParamFlags flags = (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PS_OBJECT_PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PS_OBJECT_PROP_OPEN_FLAGS] =
    g_param_spec_flags ("open-flags", NULL, NULL,
                        PS_TYPE_OPEN_FLAGS, PS_OPEN_NONE, flags);
  properties[PS_OBJECT_PROP_MODE] =
    g_param_spec_uint ("mode", NULL, NULL, 0, 0777, 0600, flags);
  properties[PS_OBJECT_PROP_MEMORY] =
    g_param_spec_object ("memory", NULL, NULL, PS_TYPE_SHARED_MEMORY, flags);
  properties[PS_OBJECT_PROP_OFFSET] =
    g_param_spec_uint64 ("offset", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PS_OBJECT_PROP_ATTACH] =
    g_param_spec_boolean ("attach", NULL, NULL, FALSE, flags);
  properties[PS_OBJECT_PROP_CREATED] =
    g_param_spec_boolean ("created", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

gboolean
ps_object_storage_get_property (PsObjectStorage *storage,
                                guint            prop_id,
                                GValue          *value)
{
  switch (prop_id)
    {
    case PS_OBJECT_PROP_NAME:
      g_value_set_string (value, storage->name);
      return TRUE;
    case PS_OBJECT_PROP_OPEN_FLAGS:
      g_value_set_flags (value, storage->open_flags);
      return TRUE;
    case PS_OBJECT_PROP_MODE:
      g_value_set_uint (value, storage->mode);
      return TRUE;
    case PS_OBJECT_PROP_MEMORY:
      g_value_set_object (value, storage->memory);
      return TRUE;
    case PS_OBJECT_PROP_OFFSET:
      g_value_set_uint64 (value, storage->offset);
      return TRUE;
    case PS_OBJECT_PROP_ATTACH:
      g_value_set_boolean (value, storage->attach);
      return TRUE;
    case PS_OBJECT_PROP_CREATED:
      g_value_set_boolean (value, storage->created);
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
ps_object_storage_set_property (PsObjectStorage *storage,
                                guint            prop_id,
                                const GValue    *value,
                                GParamSpec      *pspec)
{
  switch (prop_id)
    {
    case PS_OBJECT_PROP_NAME:
      g_free (storage->name);
      storage->name = g_value_dup_string (value);
      return TRUE;
    case PS_OBJECT_PROP_OPEN_FLAGS:
      /* GObject sets a construct property the caller did not give from
       * the pspec's own default value: anything else was given, and
       * makes a placed object open_at() rather than new_at(). */
      storage->open_flags = g_value_get_flags (value);
      storage->open_flags_given = value != g_param_spec_get_default_value (pspec);
      return TRUE;
    case PS_OBJECT_PROP_MODE:
      storage->mode = g_value_get_uint (value);
      return TRUE;
    case PS_OBJECT_PROP_MEMORY:
      g_clear_object (&storage->memory);
      storage->memory = g_value_dup_object (value);
      return TRUE;
    case PS_OBJECT_PROP_OFFSET:
      /* gsize holds every offset a segment can have; a larger one is out
       * of bounds all the same. */
      storage->offset = (gsize) MIN (g_value_get_uint64 (value), (guint64) G_MAXSIZE);
      return TRUE;
    case PS_OBJECT_PROP_ATTACH:
      storage->attach = g_value_get_boolean (value);
      return TRUE;
    default:
      return FALSE;
    }
}

/* Constructors ----------------------------------------------------------------- */

/* At most: the named or placed properties, and the class's own. */
#define MAX_CONSTRUCT_PROPERTIES 12

/* g_initable_new() with @n_given properties already in @names/@values,
 * followed by the NULL-terminated list in @args. */
static gpointer
initable_new_with (GType         type,
                   GError      **error,
                   guint         n_given,
                   const char  **names,
                   GValue       *values,
                   const char   *first_property_name,
                   va_list       args)
{
  GObjectClass *object_class = g_type_class_ref (type);
  GObject *object;
  guint n = n_given;

  for (const char *name = first_property_name; name != NULL; name = va_arg (args, const char *))
    {
      GParamSpec *pspec = g_object_class_find_property (object_class, name);
      g_autofree char *collect_error = NULL;

      g_assert (pspec != NULL && n < MAX_CONSTRUCT_PROPERTIES);
      names[n] = name;
      G_VALUE_COLLECT_INIT (&values[n], pspec->value_type, args, 0, &collect_error);
      g_assert (collect_error == NULL);
      n++;
    }

  object = g_object_new_with_properties (type, n, names, values);
  for (guint i = 0; i < n; i++)
    g_value_unset (&values[i]);
  g_type_class_unref (object_class);

  if (!g_initable_init (G_INITABLE (object), NULL, error))
    {
      g_object_unref (object);
      return NULL;
    }
  return object;
}

gpointer
ps_object_new_named (GType         type,
                     const char   *name,
                     PsOpenFlags   flags,
                     guint         mode,
                     GError      **error,
                     const char   *first_property_name,
                     ...)
{
  const char *names[MAX_CONSTRUCT_PROPERTIES];
  GValue values[MAX_CONSTRUCT_PROPERTIES] = { G_VALUE_INIT, };
  gpointer object;
  va_list args;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Checked before the properties are set: a NULL name must be an error
   * rather than a request for an anonymous object, and GObject would only
   * warn about a mode out of range. Any other name is checked once, by
   * ps_object_map_named(), whichever way the object is made. */
  if (!ps_name_given (name, error) || !ps_open_flags_validate (flags, error) ||
      !ps_mode_validate (mode, error))
    return NULL;

  names[0] = "name";
  g_value_init (&values[0], G_TYPE_STRING);
  g_value_set_string (&values[0], name);
  names[1] = "open-flags";
  g_value_init (&values[1], PS_TYPE_OPEN_FLAGS);
  g_value_set_flags (&values[1], flags);
  names[2] = "mode";
  g_value_init (&values[2], G_TYPE_UINT);
  g_value_set_uint (&values[2], mode);

  va_start (args, first_property_name);
  object = initable_new_with (type, error, 3, names, values, first_property_name, args);
  va_end (args);
  return object;
}

gpointer
ps_object_new_placed (GType            type,
                      PsSharedMemory  *memory,
                      gsize            offset,
                      PsPlaceHow       how,
                      PsOpenFlags      flags,
                      GError         **error,
                      const char      *first_property_name,
                      ...)
{
  const char *names[MAX_CONSTRUCT_PROPERTIES];
  GValue values[MAX_CONSTRUCT_PROPERTIES] = { G_VALUE_INIT, };
  guint n = 0;
  gpointer object;
  va_list args;

  g_return_val_if_fail (PS_IS_SHARED_MEMORY (memory), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (how == PS_PLACE_OPEN && !ps_open_flags_validate (flags, error))
    return NULL;

  names[n] = "memory";
  g_value_init (&values[n], PS_TYPE_SHARED_MEMORY);
  g_value_set_object (&values[n++], memory);
  names[n] = "offset";
  g_value_init (&values[n], G_TYPE_UINT64);
  g_value_set_uint64 (&values[n++], offset);
  names[n] = "attach";
  g_value_init (&values[n], G_TYPE_BOOLEAN);
  g_value_set_boolean (&values[n++], how == PS_PLACE_ATTACH);
  if (how == PS_PLACE_OPEN)
    {
      names[n] = "open-flags";
      g_value_init (&values[n], PS_TYPE_OPEN_FLAGS);
      g_value_set_flags (&values[n++], flags);
    }

  va_start (args, first_property_name);
  object = initable_new_with (type, error, n, names, values, first_property_name, args);
  va_end (args);
  return object;
}
