/* SPDX-License-Identifier: MIT */
/* Small helpers: clocks, fd counts, names, failure messages. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("usock-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

void unique_name(char *buf, size_t len, const char *what)
{
	static unsigned int seq;

	snprintf(buf, len, "@usock-bench-%ld-%s-%u", (long)getpid(), what,
		 seq++);
}

const char *impl_name(enum impl impl)
{
	switch (impl) {
	case IMPL_RAW:
		return "raw";
	case IMPL_LIB:
		return "libusock";
	case IMPL_RAW_BATCH:
		return "raw mmsg";
	case IMPL_LIB_BATCH:
		return "lib batch";
	case IMPL_RAW_CRED:
		return "raw+cred";
	}
	return "?";
}

const char *mode_name(enum mode mode)
{
	static const char *const names[MODE_COUNT] = {
		[MODE_NONE] = "none",
		[MODE_FD1] = "fd1",
		[MODE_CREDS] = "creds",
		[MODE_FD16] = "fd16",
	};

	return mode < MODE_COUNT ? names[mode] : "?";
}

unsigned int mode_nfds(enum mode mode)
{
	return mode == MODE_FD1 ? 1 : mode == MODE_FD16 ? 16 : 0;
}
