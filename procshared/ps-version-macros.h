/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_INSIDE) && !defined(PROCSHARED_COMPILATION)
# error "Only <procshared/procshared.h> can be included directly."
#endif

#include <glib.h>

#include "ps-version.h"

#ifndef _PS_EXTERN
# define _PS_EXTERN __attribute__((visibility("default"))) extern
#endif

#define PS_VERSION_1_0 (PS_ENCODE_VERSION (1, 0, 0))

#ifndef PS_VERSION_MIN_REQUIRED
# define PS_VERSION_MIN_REQUIRED (PS_VERSION_1_0)
#endif

#ifndef PS_VERSION_MAX_ALLOWED
# define PS_VERSION_MAX_ALLOWED (PS_VERSION_1_0)
#endif

#define PS_AVAILABLE_IN_ALL _PS_EXTERN
#define PS_AVAILABLE_IN_1_0 _PS_EXTERN
