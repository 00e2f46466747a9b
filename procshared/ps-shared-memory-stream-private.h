/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_COMPILATION)
# error "This is a private header of procshared; include <procshared/procshared.h>"
#endif

/*
 * The stream classes behind ps_shared_memory_get_input_stream() and
 * ps_shared_memory_get_output_stream(): private types, returned as
 * GInputStream and GOutputStream, as GSocketConnection returns its
 * GSocketInputStream and GSocketOutputStream.
 */

#include "ps-shared-memory.h"

G_BEGIN_DECLS

#define PS_TYPE_SHARED_MEMORY_INPUT_STREAM (ps_shared_memory_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (PsSharedMemoryInputStream, ps_shared_memory_input_stream,
                      PS, SHARED_MEMORY_INPUT_STREAM, GInputStream)

#define PS_TYPE_SHARED_MEMORY_OUTPUT_STREAM (ps_shared_memory_output_stream_get_type ())
G_DECLARE_FINAL_TYPE (PsSharedMemoryOutputStream, ps_shared_memory_output_stream,
                      PS, SHARED_MEMORY_OUTPUT_STREAM, GOutputStream)

G_END_DECLS
