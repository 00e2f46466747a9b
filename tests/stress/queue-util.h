/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Messages for the PsQueue reliability tests (test-queue-exact,
 * test-queue-storm, test-queue-hostile, test-queue-leaks): every message
 * says who sent it (a stream: one producer's life), its place in that
 * stream, its priority and its length, and carries a payload derived from
 * those, so that a receiver can check every byte of what it got and name
 * the message exactly. Sent as bytes, in place (send_with) or as an "ay"
 * variant; received in every form, all decoded to the same bytes.
 */

#include <string.h>

#include "stress-util.h"
#include "ps-variant-record-private.h"

typedef struct
{
  guint32 stream;
  guint32 seq;
  guint32 priority;
  guint32 length;     /* of the whole message */
  guint32 check;      /* of the payload after this header */
  guint32 magic;
} QMsgHeader;

#define QMSG_MAGIC      0x51755321u
#define QMSG_MIN        ((gsize) sizeof (QMsgHeader))
/* What an "ay" record adds to its bytes, at most (type string, length,
 * alignment): a variant message's bytes are kept this far below the
 * queue's maximum. */
#define QMSG_VARIANT_SLACK 64

/* The payload's bytes: a xorshift of the message's identity. */
static inline guint8
qmsg_next (guint32 *x)
{
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return (guint8) *x;
}

static inline guint32
qmsg_seed (guint32 stream,
           guint32 seq,
           guint32 priority)
{
  guint32 x = stream * 0x9e3779b1u ^ seq * 0x85ebca77u ^ priority * 0xc2b2ae3du;

  return x != 0 ? x : 1;
}

/* Writes message (@stream, @seq, @priority) of @length bytes (at least
 * QMSG_MIN) into @out. */
static inline void
qmsg_fill (guint8  *out,
           gsize    length,
           guint32  stream,
           guint32  seq,
           guint32  priority)
{
  QMsgHeader header = { stream, seq, priority, (guint32) length, 0, QMSG_MAGIC };
  guint32 x = qmsg_seed (stream, seq, priority);

  g_assert (length >= QMSG_MIN);
  for (gsize i = QMSG_MIN; i < length; i++)
    {
      out[i] = qmsg_next (&x);
      header.check = header.check * 31 + out[i];
    }
  memcpy (out, &header, sizeof header);
}

static inline GBytes *
qmsg_new_bytes (gsize   length,
                guint32 stream,
                guint32 seq,
                guint32 priority)
{
  guint8 *data = g_malloc (length);

  qmsg_fill (data, length, stream, seq, priority);
  return g_bytes_new_take (data, length);
}

static inline GVariant *
qmsg_new_variant (gsize   length,
                  guint32 stream,
                  guint32 seq,
                  guint32 priority)
{
  g_autoptr(GBytes) bytes = qmsg_new_bytes (length, stream, seq, priority);

  return g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE));
}

/* Checks that @data (@size bytes) is a whole, intact message of priority
 * @priority; fills @out with its header. FALSE, with @why, otherwise. */
static inline gboolean
qmsg_check (const guint8  *data,
            gsize          size,
            guint          priority,
            QMsgHeader    *out,
            const char   **why)
{
  guint32 x, check = 0;

  if (size < QMSG_MIN)
    {
      *why = "shorter than a message header";
      return FALSE;
    }
  memcpy (out, data, sizeof *out);
  if (out->magic != QMSG_MAGIC)
    *why = "no message magic";
  else if (out->length != size)
    *why = "length differs from the header's";
  else if (out->priority != priority)
    *why = "priority differs from the sender's";
  else
    *why = NULL;
  if (*why != NULL)
    return FALSE;

  x = qmsg_seed (out->stream, out->seq, out->priority);
  for (gsize i = QMSG_MIN; i < size; i++)
    {
      guint8 expected = qmsg_next (&x);

      if (data[i] != expected)
        {
          *why = "payload bytes differ";
          return FALSE;
        }
      check = check * 31 + expected;
    }
  if (check != out->check)
    {
      *why = "payload checksum differs";
      return FALSE;
    }
  return TRUE;
}

/* The bytes of a received message whatever its kind: a variant message
 * seen as bytes is its record (ps_queue_receive(), the read callback). */
static inline GBytes *
qmsg_bytes_of_record (const guint8        *data,
                      gsize                size,
                      PsQueueMessageKind   kind,
                      const char         **why)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  if (kind == PS_QUEUE_MESSAGE_BYTES)
    return g_bytes_new (data, size);
  value = ps_variant_record_read (data, size, 0, &error);
  if (value == NULL)
    {
      *why = "a variant message's record does not read back";
      return NULL;
    }
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
    {
      *why = "a variant message is not of type ay";
      return NULL;
    }
  return g_variant_get_data_as_bytes (value);
}

/* The same for a message received as a variant. */
static inline GBytes *
qmsg_bytes_of_variant (GVariant    *value,
                       const char **why)
{
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
    {
      *why = "a message received as a variant is not of type ay";
      return NULL;
    }
  return g_variant_get_data_as_bytes (value);
}

/* Sending -------------------------------------------------------------------- */

typedef enum
{
  QSEND_BYTES,     /* ps_queue_send() */
  QSEND_WITH,      /* ps_queue_send_with(), written in place */
  QSEND_VARIANT,   /* ps_queue_send_variant(), an "ay" */
  QSEND_N_METHODS
} QSendMethod;

typedef struct
{
  guint32 stream;
  guint32 seq;
  guint32 priority;
  /* Called inside the fill callback of QSEND_WITH, after the message is
   * written (a test marks or lingers there). */
  void   (*inside) (gpointer data);
  gpointer inside_data;
} QSend;

static inline void
qsend_fill (guint8   *slot,
            gsize     size,
            gpointer  user_data)
{
  QSend *send = user_data;

  qmsg_fill (slot, size, send->stream, send->seq, send->priority);
  if (send->inside != NULL)
    send->inside (send->inside_data);
}

/* The length a message sent with @method may have in a queue whose
 * maximum is @max: what @length asks for, cut to fit. */
static inline gsize
qsend_fit (QSendMethod method,
           gsize       length,
           gsize       max)
{
  gsize limit = method == QSEND_VARIANT ? max - QMSG_VARIANT_SLACK : max;

  g_assert (max >= QMSG_MIN + QMSG_VARIANT_SLACK);
  return CLAMP (length, QMSG_MIN, limit);
}

/* Sends message @send of @length bytes (at least QMSG_MIN, fitting with
 * qsend_fit()) by @method. */
static inline gboolean
qsend (PsQueue       *queue,
       QSendMethod    method,
       gsize          length,
       QSend         *send,
       gint64         timeout_us,
       GCancellable  *cancellable,
       GError       **error)
{
  switch (method)
    {
    case QSEND_BYTES:
      {
        g_autoptr(GBytes) bytes = qmsg_new_bytes (length, send->stream, send->seq,
                                                  send->priority);

        return ps_queue_send (queue, bytes, send->priority, timeout_us, cancellable, error);
      }
    case QSEND_WITH:
      return ps_queue_send_with (queue, length, send->priority, qsend_fill, send, timeout_us,
                                 cancellable, error);
    case QSEND_VARIANT:
      {
        g_autoptr(GVariant) value = qmsg_new_variant (length, send->stream, send->seq,
                                                      send->priority);

        return ps_queue_send_variant (queue, value, send->priority, timeout_us, cancellable,
                                      error);
      }
    case QSEND_N_METHODS:
    default:
      g_assert_not_reached ();
    }
}

/* Receiving ------------------------------------------------------------------ */

typedef enum
{
  QRECV_BYTES,             /* ps_queue_receive() */
  QRECV_WITH,              /* ps_queue_receive_with(), read in place */
  QRECV_MESSAGE,           /* ps_queue_receive_message(), both out values */
  QRECV_MESSAGE_VARIANT,   /* ps_queue_receive_message(), the variant only */
  QRECV_MESSAGE_BYTES,     /* ps_queue_receive_message(), the bytes only */
  QRECV_VARIANT,           /* ps_queue_receive_variant() */
  QRECV_N_METHODS
} QRecvMethod;

typedef struct
{
  /* Filled by qrecv() */
  QMsgHeader  header;
  guint       priority;
  gboolean    kind_known;
  PsQueueMessageKind kind;
  const char *why;          /* not NULL: the message received is wrong */
  /* Called inside the read callback of QRECV_WITH, once the message is
   * checked (with @header filled), before the callback returns. */
  void      (*inside) (gpointer data);
  gpointer    inside_data;
} QRecv;

/* Checks @bytes as a message of @recv->priority, into @recv. */
static inline void
qrecv_check_bytes (QRecv  *recv,
                   GBytes *bytes)
{
  gsize size = 0;
  const guint8 *data;

  if (bytes == NULL)
    return;   /* why is set */
  data = g_bytes_get_data (bytes, &size);
  (void) qmsg_check (data, size, recv->priority, &recv->header, &recv->why);
}

/* A message seen as bytes, kind unknown (ps_queue_receive()): a message
 * of ours, or the record of one sent as a variant. */
static inline void
qrecv_check_unknown (QRecv        *recv,
                     const guint8 *data,
                     gsize         size)
{
  g_autoptr(GBytes) inner = NULL;

  if (qmsg_check (data, size, recv->priority, &recv->header, &recv->why))
    return;
  inner = qmsg_bytes_of_record (data, size, PS_QUEUE_MESSAGE_VARIANT, &recv->why);
  if (inner == NULL)
    {
      recv->why = "neither a message nor the record of one";
      return;
    }
  qrecv_check_bytes (recv, inner);
}

static inline void
qrecv_read (const guint8       *message,
            gsize               size,
            PsQueueMessageKind  kind,
            guint               priority,
            gpointer            user_data)
{
  QRecv *recv = user_data;
  g_autoptr(GBytes) bytes = NULL;

  recv->priority = priority;
  recv->kind = kind;
  recv->kind_known = TRUE;
  bytes = qmsg_bytes_of_record (message, size, kind, &recv->why);
  qrecv_check_bytes (recv, bytes);
  if (recv->inside != NULL)
    recv->inside (recv->inside_data);
}

/* Receives one message by @method into @recv: FALSE with @error if the
 * queue said no. TRUE if a message came; then @recv->why says whether it
 * was wrong (and why). */
static inline gboolean
qrecv (PsQueue       *queue,
       QRecvMethod    method,
       QRecv         *recv,
       gint64         timeout_us,
       GCancellable  *cancellable,
       GError       **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GBytes) inner = NULL;
  PsQueueMessageKind kind = PS_QUEUE_MESSAGE_BYTES;

  recv->why = NULL;
  recv->kind_known = FALSE;
  recv->priority = G_MAXUINT;
  switch (method)
    {
    case QRECV_BYTES:
      bytes = ps_queue_receive (queue, &recv->priority, timeout_us, cancellable, error);
      if (bytes == NULL)
        return FALSE;
      qrecv_check_unknown (recv, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      return TRUE;

    case QRECV_WITH:
      return ps_queue_receive_with (queue, qrecv_read, recv, timeout_us, cancellable, error);

    case QRECV_MESSAGE:
    case QRECV_MESSAGE_VARIANT:
    case QRECV_MESSAGE_BYTES:
      if (!ps_queue_receive_message (queue, &kind,
                                     method != QRECV_MESSAGE_VARIANT ? &bytes : NULL,
                                     method != QRECV_MESSAGE_BYTES ? &value : NULL,
                                     &recv->priority, timeout_us, cancellable, error))
        return FALSE;
      recv->kind = kind;
      recv->kind_known = TRUE;
      if (method == QRECV_MESSAGE)
        {
          /* The out value of the message's kind, and only that one. */
          if ((kind == PS_QUEUE_MESSAGE_BYTES) != (bytes != NULL) ||
              (kind == PS_QUEUE_MESSAGE_VARIANT) != (value != NULL))
            {
              recv->why = "receive_message filled the out value of the other kind";
              return TRUE;
            }
        }
      if (value != NULL)
        inner = qmsg_bytes_of_variant (value, &recv->why);
      else if (bytes != NULL)
        inner = qmsg_bytes_of_record (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                      kind, &recv->why);
      else
        recv->why = "receive_message filled no out value";
      qrecv_check_bytes (recv, inner);
      return TRUE;

    case QRECV_VARIANT:
      value = ps_queue_receive_variant (queue, &recv->priority, timeout_us, cancellable, error);
      if (value == NULL)
        return FALSE;
      inner = qmsg_bytes_of_variant (value, &recv->why);
      qrecv_check_bytes (recv, inner);
      return TRUE;

    case QRECV_N_METHODS:
    default:
      g_assert_not_reached ();
    }
}
