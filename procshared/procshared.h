/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#define PROCSHARED_INSIDE
# include "ps-version.h"
# include "ps-version-macros.h"
# include "ps-enums.h"
# include "ps-error.h"
# include "ps-names.h"
# include "ps-shared-memory.h"
# include "ps-semaphore.h"
# include "ps-mutex.h"
# include "ps-cond.h"
# include "ps-rw-lock.h"
# include "ps-event.h"
# include "ps-barrier.h"
# include "ps-queue.h"
#undef PROCSHARED_INSIDE
