/* SPDX-License-Identifier: MIT */
/*
 * The errno recorder: every negative result of a libusock call that a test
 * program makes, as "usock_X ENAME" lines in one log (record.c). The
 * wrappers that call it are generated from usock.h (gen-wrap.py).
 */
#ifndef USOCK_ERRNO_RECORD_H
#define USOCK_ERRNO_RECORD_H

#include <stdbool.h>

/* More functions than usock.h declares; the generated file checks it. */
#define ERRNO_MAX_FNS 64

/* Made by gen-wrap.py: the wrapped functions' names, by index. */
extern const char *const errno_fn_names[];
extern const unsigned int errno_n_fns;

/*
 * Defined only by a program that injects faults (test/fault/driver.c):
 * whether r is an errno that an injected fault made up, which then is not
 * logged.
 */
bool errno_record_artefact(long long r) __attribute__((weak));

/* Function number fn returned r, a negative errno: log the pair once. */
void errno_record(unsigned int fn, long long r);

#endif
