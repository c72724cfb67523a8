/* SPDX-License-Identifier: MIT */
#include "usock-private.h"

#define STR_(x) #x
#define STR(x) STR_(x)

USOCK_EXPORT const char *usock_version(void)
{
	return STR(USOCK_VERSION_MAJOR) "." STR(USOCK_VERSION_MINOR) "." STR(
		USOCK_VERSION_MICRO);
}
