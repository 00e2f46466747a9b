/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PROCSHARED_INSIDE) && !defined(PROCSHARED_COMPILATION)
# error "Only <procshared/procshared.h> can be included directly."
#endif

/*
 * Availability and deprecation of the API, after GLib's gversionmacros.h
 * and libdex's dex-version-macros.h. Every public symbol is declared with
 * PS_AVAILABLE_IN_x_y (the release that added it), and later with
 * PS_DEPRECATED_IN_x_y or PS_DEPRECATED_IN_x_y_FOR (the release that
 * deprecated it). A program that defines PS_VERSION_MIN_REQUIRED and
 * PS_VERSION_MAX_ALLOWED before including <procshared/procshared.h> is
 * warned when it uses API deprecated in a release it need not support,
 * or API newer than the oldest release it must build against.
 *
 * A new minor release adds its PS_VERSION_x_y and the PS_AVAILABLE_IN_x_y,
 * PS_DEPRECATED_IN_x_y and PS_DEPRECATED_IN_x_y_FOR macros below, and
 * PS_VERSION_LATEST_KNOWN becomes that version.
 */

#include <glib.h>

#include "ps-version.h"

#ifndef _PS_EXTERN
# define _PS_EXTERN __attribute__((visibility("default"))) extern
#endif

/**
 * PS_DEPRECATED:
 *
 * Marks a declaration as deprecated: using it warns, unless
 * `PS_DISABLE_DEPRECATION_WARNINGS` is defined.
 *
 * Since: 1.0
 */
/**
 * PS_DEPRECATED_FOR:
 * @f: the replacement of the deprecated symbol
 *
 * Marks a declaration as deprecated in favour of @f: using it warns,
 * naming @f, unless `PS_DISABLE_DEPRECATION_WARNINGS` is defined.
 *
 * Since: 1.0
 */
/**
 * PS_UNAVAILABLE:
 * @maj: the major version that introduced the symbol
 * @min: the minor version that introduced the symbol
 *
 * Marks a declaration as newer than %PS_VERSION_MAX_ALLOWED: using it
 * warns, unless `PS_DISABLE_DEPRECATION_WARNINGS` is defined.
 *
 * Since: 1.0
 */
#ifdef PS_DISABLE_DEPRECATION_WARNINGS
# define PS_DEPRECATED _PS_EXTERN
# define PS_DEPRECATED_FOR(f) _PS_EXTERN
# define PS_UNAVAILABLE(maj,min) _PS_EXTERN
#else
# define PS_DEPRECATED G_DEPRECATED _PS_EXTERN
# define PS_DEPRECATED_FOR(f) G_DEPRECATED_FOR (f) _PS_EXTERN
# define PS_UNAVAILABLE(maj,min) G_UNAVAILABLE (maj, min) _PS_EXTERN
#endif

/**
 * PS_VERSION_1_0:
 *
 * A macro that evaluates to the 1.0 version of procshared, in a format
 * that can be used by %PS_VERSION_MIN_REQUIRED and %PS_VERSION_MAX_ALLOWED.
 *
 * Since: 1.0
 */
#define PS_VERSION_1_0 (PS_ENCODE_VERSION (1, 0, 0))

/**
 * PS_VERSION_1_1:
 *
 * A macro that evaluates to the 1.1 version of procshared, in a format
 * that can be used by %PS_VERSION_MIN_REQUIRED and %PS_VERSION_MAX_ALLOWED.
 *
 * Since: 1.1
 */
#define PS_VERSION_1_1 (PS_ENCODE_VERSION (1, 1, 0))

/* The newest release these headers declare API for. The library and its
 * own tests build against all of it, even before the project's version
 * reaches that release. */
#define _PS_VERSION_LATEST_KNOWN (PS_VERSION_1_1)

/**
 * PS_VERSION_CUR_STABLE:
 *
 * A macro that evaluates to the current stable version of procshared, in
 * a format that can be used by %PS_VERSION_MIN_REQUIRED and
 * %PS_VERSION_MAX_ALLOWED.
 *
 * Since: 1.0
 */
#define PS_VERSION_CUR_STABLE (PS_ENCODE_VERSION (PS_MAJOR_VERSION, PS_MINOR_VERSION, 0))

/**
 * PS_VERSION_PREV_STABLE:
 *
 * A macro that evaluates to the previous stable version of procshared,
 * in a format that can be used by %PS_VERSION_MIN_REQUIRED and
 * %PS_VERSION_MAX_ALLOWED. For the first release of a major version, it
 * is that release.
 *
 * Since: 1.0
 */
#if PS_MINOR_VERSION == 0
# define PS_VERSION_PREV_STABLE (PS_ENCODE_VERSION (PS_MAJOR_VERSION, 0, 0))
#else
# define PS_VERSION_PREV_STABLE (PS_ENCODE_VERSION (PS_MAJOR_VERSION, PS_MINOR_VERSION - 1, 0))
#endif

/**
 * PS_VERSION_MIN_REQUIRED:
 *
 * The oldest version of procshared that a program must build against.
 * Define it before including <procshared/procshared.h>, to a
 * `PS_VERSION_x_y` value, to be warned about every symbol deprecated in
 * that version or earlier. It defaults to %PS_VERSION_CUR_STABLE.
 *
 * Since: 1.0
 */
#ifndef PS_VERSION_MIN_REQUIRED
# define PS_VERSION_MIN_REQUIRED (PS_VERSION_CUR_STABLE)
#endif

/**
 * PS_VERSION_MAX_ALLOWED:
 *
 * The newest version of procshared whose API a program may use. Define
 * it before including <procshared/procshared.h>, to a `PS_VERSION_x_y`
 * value, to be warned about every symbol added after that version. It
 * defaults to %PS_VERSION_MIN_REQUIRED when that is newer than
 * %PS_VERSION_PREV_STABLE, and to %PS_VERSION_CUR_STABLE otherwise.
 *
 * Since: 1.0
 */
#ifndef PS_VERSION_MAX_ALLOWED
# if defined(PROCSHARED_COMPILATION)
#  define PS_VERSION_MAX_ALLOWED (_PS_VERSION_LATEST_KNOWN)
# elif PS_VERSION_MIN_REQUIRED > PS_VERSION_PREV_STABLE
#  define PS_VERSION_MAX_ALLOWED (PS_VERSION_MIN_REQUIRED)
# else
#  define PS_VERSION_MAX_ALLOWED (PS_VERSION_CUR_STABLE)
# endif
#endif

#if PS_VERSION_MIN_REQUIRED < PS_VERSION_1_0
# error "PS_VERSION_MIN_REQUIRED must be PS_VERSION_1_0 or later"
#endif
#if PS_VERSION_MAX_ALLOWED < PS_VERSION_MIN_REQUIRED
# error "PS_VERSION_MAX_ALLOWED must be >= PS_VERSION_MIN_REQUIRED"
#endif

/**
 * PS_AVAILABLE_IN_ALL:
 *
 * Declares a symbol that is available in every version of procshared.
 *
 * Since: 1.0
 */
#define PS_AVAILABLE_IN_ALL _PS_EXTERN

/**
 * PS_AVAILABLE_IN_1_0:
 *
 * Declares a symbol added in procshared 1.0.
 *
 * Since: 1.0
 */
#if PS_VERSION_MAX_ALLOWED < PS_VERSION_1_0
# define PS_AVAILABLE_IN_1_0 PS_UNAVAILABLE (1, 0)
#else
# define PS_AVAILABLE_IN_1_0 _PS_EXTERN
#endif

/**
 * PS_DEPRECATED_IN_1_0:
 *
 * Declares a symbol deprecated in procshared 1.0: using it warns when
 * %PS_VERSION_MIN_REQUIRED is 1.0 or later.
 *
 * Since: 1.0
 */
/**
 * PS_DEPRECATED_IN_1_0_FOR:
 * @f: the replacement of the deprecated symbol
 *
 * Declares a symbol deprecated in procshared 1.0 in favour of @f: using
 * it warns when %PS_VERSION_MIN_REQUIRED is 1.0 or later.
 *
 * Since: 1.0
 */
#if PS_VERSION_MIN_REQUIRED >= PS_VERSION_1_0
# define PS_DEPRECATED_IN_1_0 PS_DEPRECATED
# define PS_DEPRECATED_IN_1_0_FOR(f) PS_DEPRECATED_FOR (f)
#else
# define PS_DEPRECATED_IN_1_0 _PS_EXTERN
# define PS_DEPRECATED_IN_1_0_FOR(f) _PS_EXTERN
#endif

/**
 * PS_AVAILABLE_IN_1_1:
 *
 * Declares a symbol added in procshared 1.1: using it warns when
 * %PS_VERSION_MAX_ALLOWED is older than 1.1.
 *
 * Since: 1.1
 */
#if PS_VERSION_MAX_ALLOWED < PS_VERSION_1_1
# define PS_AVAILABLE_IN_1_1 PS_UNAVAILABLE (1, 1)
#else
# define PS_AVAILABLE_IN_1_1 _PS_EXTERN
#endif

/**
 * PS_DEPRECATED_IN_1_1:
 *
 * Declares a symbol deprecated in procshared 1.1: using it warns when
 * %PS_VERSION_MIN_REQUIRED is 1.1 or later.
 *
 * Since: 1.1
 */
/**
 * PS_DEPRECATED_IN_1_1_FOR:
 * @f: the replacement of the deprecated symbol
 *
 * Declares a symbol deprecated in procshared 1.1 in favour of @f: using
 * it warns when %PS_VERSION_MIN_REQUIRED is 1.1 or later.
 *
 * Since: 1.1
 */
#if PS_VERSION_MIN_REQUIRED >= PS_VERSION_1_1
# define PS_DEPRECATED_IN_1_1 PS_DEPRECATED
# define PS_DEPRECATED_IN_1_1_FOR(f) PS_DEPRECATED_FOR (f)
#else
# define PS_DEPRECATED_IN_1_1 _PS_EXTERN
# define PS_DEPRECATED_IN_1_1_FOR(f) _PS_EXTERN
#endif
