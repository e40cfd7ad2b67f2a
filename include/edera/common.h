/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_COMMON_H
#define EDERA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(SWIG)
#define EDERA_API __attribute__((visibility("default")))
#else
#define EDERA_API
#endif

#endif
