/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "internal.h"

const char *edera_version(void)
{
	return EDERA_VERSION_STRING;
}

unsigned int edera_version_number(void)
{
	return EDERA_VERSION_NUMBER;
}
