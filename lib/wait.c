/* SPDX-License-Identifier: MIT */
/*
 * Signals and timeouts. A signal never makes a call wait longer than the
 * handle's timeout: with usock_set_timeout() the library waits in ppoll()
 * for what is left of one deadline; with a kernel timeout (SO_RCVTIMEO,
 * SO_SNDTIMEO) set on the fd it returns -EINTR instead of restarting, since
 * the kernel would start the whole timeout over.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "usock-private.h"

bool usock_restart(int fd, int opt)
{
	struct timeval tv = { 0 };
	socklen_t len = sizeof(tv);

	/* Only reached after EINTR, so the usual call pays nothing. */
	if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) < 0)
		return true;
	return tv.tv_sec == 0 && tv.tv_usec == 0;
}

void usock_deadline(int ms, struct timespec *deadline)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += ms / 1000;
	deadline->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
}

int usock_wait(int fd, short events, const struct timespec *deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	/* A nonblocking fd never waits, timeout or not. */
	if (fl & O_NONBLOCK)
		return -EAGAIN;
	for (;;) {
		struct timespec now, left;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = deadline->tv_sec - now.tv_sec;
		left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			return -ETIMEDOUT;
		r = ppoll(&p, 1, &left, NULL);
		if (r < 0 && errno == EINTR)
			continue; /* the deadline stays where it was */
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (p.revents & POLLNVAL)
			return -EBADF;
		return 0; /* ready, or an error the call itself reports */
	}
}

USOCK_EXPORT int usock_set_timeout(struct usock *s, int timeout_ms)
{
	if (!s || timeout_ms < -1)
		return -EINVAL;
	store_relaxed(&s->timeout_ms, timeout_ms);
	return 0;
}

USOCK_EXPORT int usock_get_timeout(const struct usock *s, int *ret_timeout_ms)
{
	if (!s || !ret_timeout_ms)
		return -EINVAL;
	*ret_timeout_ms = load_relaxed(&s->timeout_ms);
	return 0;
}
