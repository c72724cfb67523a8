/* SPDX-License-Identifier: MIT */
/*
 * The errno recorder (see meson.build here). Each (function, errno) pair is
 * appended to the log once per process, one write(2) of one line to a file
 * opened O_APPEND, so that the lines of test processes running in parallel
 * never interleave. The log is opened and closed around each write: the
 * tests check that their fd table is unchanged, and some of them close
 * every fd they did not open.
 *
 * The calls come from many threads and from forked children, so the table
 * of pairs seen is lock-free: a bit per errno per function, set atomically.
 * A pair whose line could not be written (the fd table full, in the tests
 * that fill it) stays pending and is written by the next record or at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

/* Linux's errno values are below 134; larger ones are logged every time. */
#define ERRNO_BITS 256
#define WORDS (ERRNO_BITS / 64)

static _Atomic uint64_t seen[ERRNO_MAX_FNS][WORDS];
static _Atomic uint64_t pending[ERRNO_MAX_FNS][WORDS];

static const char *log_path(void)
{
	const char *p = getenv("USOCK_ERRNO_LOG");

	return p && *p ? p : "build/test/errno-observed.log";
}

static int open_log(void)
{
	return open(log_path(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0644);
}

static void write_pair(int fd, unsigned int fn, int err)
{
	const char *name = strerrorname_np(err);
	char line[96];
	int n;

	if (name)
		n = snprintf(line, sizeof(line), "%s %s\n", errno_fn_names[fn],
			     name);
	else
		n = snprintf(line, sizeof(line), "%s %d\n", errno_fn_names[fn],
			     err);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    write(fd, line, (size_t)n) != n)
		fprintf(stderr, "errno recorder: cannot write %s: %s\n",
			log_path(), strerror(errno));
}

static void flush_pending(int fd)
{
	for (unsigned int fn = 0; fn < errno_n_fns; fn++)
		for (unsigned int w = 0; w < WORDS; w++) {
			uint64_t bits = atomic_exchange(&pending[fn][w], 0);

			for (unsigned int b = 0; b < 64; b++)
				if (bits & (UINT64_C(1) << b))
					write_pair(fd, fn, (int)(w * 64 + b));
		}
}

void errno_record(unsigned int fn, long long r)
{
	int saved = errno;
	long long err = -r;
	uint64_t bit = 0;
	int fd;

	if (fn >= errno_n_fns ||
	    (errno_record_artefact && errno_record_artefact(r)))
		return;
	if (err < ERRNO_BITS) {
		bit = UINT64_C(1) << (err % 64);
		if (atomic_fetch_or(&seen[fn][err / 64], bit) & bit) {
			errno = saved;
			return;
		}
	}
	fd = open_log();
	if (fd < 0) {
		if (bit)
			atomic_fetch_or(&pending[fn][err / 64], bit);
	} else {
		write_pair(fd, fn, (int)err);
		flush_pending(fd);
		close(fd);
	}
	errno = saved;
}

__attribute__((destructor)) static void errno_record_flush(void)
{
	int saved = errno;
	int fd = open_log();

	if (fd >= 0) {
		flush_pending(fd);
		close(fd);
	}
	errno = saved;
}
