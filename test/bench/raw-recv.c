/* SPDX-License-Identifier: MIT */
/*
 * The raw side of the comparison: what a careful program writes by hand with
 * sendmsg/recvmsg for the same work as usock_send/usock_recv. It sends with
 * the tests' raw sender (../raw.c: MSG_NOSIGNAL, retry on EINTR, padding
 * zeroed); here is its receive side: MSG_CMSG_CLOEXEC, retry on EINTR, a
 * control buffer with room for credentials, a pidfd and USOCK_MAX_FDS fds
 * (the library's size), truncation checked.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static void raw_close_all(struct raw_rx *rx)
{
	for (unsigned int i = 0; i < rx->nfds; i++)
		close(rx->fds[i]);
	rx->nfds = 0;
}

ssize_t raw_parse(const struct msghdr *mh, ssize_t n, struct raw_rx *rx)
{
	rx->nfds = 0;
	rx->has_creds = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c;
	     c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(rx->creds))) {
			memcpy(&rx->creds, CMSG_DATA(c), sizeof(rx->creds));
			rx->has_creds = rx->creds.pid > 0;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int),
				       sizeof(fd));
				if (rx->nfds < USOCK_MAX_FDS)
					rx->fds[rx->nfds++] = fd;
				else
					close(fd);
			}
		}
	}
	if (mh->msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
		raw_close_all(rx);
		return mh->msg_flags & MSG_CTRUNC ? -EMFILE : -EMSGSIZE;
	}
	/* The benchmark never sends an empty message: 0 is end of file. */
	if (n == 0)
		return -EPIPE;
	return n;
}

__attribute__((noinline)) ssize_t raw_recv_one(int fd, void *buf, size_t len,
					       struct raw_rx *rx)
{
	union raw_rx_ctl ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;

	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return raw_parse(&mh, n, rx);
}
