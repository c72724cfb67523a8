/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "raw.h"

/* One cmsg at offset used of buf; returns the offset after it. */
static inline size_t put(char *buf, size_t len, size_t used, int type,
			 const void *data, size_t n)
{
	struct cmsghdr *c = (struct cmsghdr *)(void *)(buf + used);

	if (CMSG_SPACE(n) > len - used)
		abort();
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(n);
	memcpy(CMSG_DATA(c), data, n);
	memset(CMSG_DATA(c) + n, 0, CMSG_SPACE(n) - CMSG_LEN(n));
	return used + CMSG_SPACE(n);
}

static size_t put_creds(char *buf, size_t len, size_t used)
{
	struct ucred uc = { getpid(), getuid(), getgid() };

	return put(buf, len, used, SCM_CREDENTIALS, &uc, sizeof(uc));
}

/* Several blocks, credentials: every layout raw_ctl describes. Kept out of
 * line, so that the usual case (build_ctl) stays as short as hand-written
 * code. */
static __attribute__((noinline)) size_t build_blocks(char *buf, size_t len,
						     const struct raw_ctl *ctl)
{
	unsigned int blocks = ctl->nfds ? ctl->nblocks : 0, done = 0;
	size_t used = 0;

	if (ctl->nfds > RAW_MAX_FDS ||
	    (ctl->nfds &&
	     (blocks == 0 || blocks > RAW_MAX_BLOCKS || blocks > ctl->nfds)))
		abort();
	for (unsigned int b = 0; b < blocks; b++) {
		unsigned int k = (ctl->nfds - done) / (blocks - b);

		if (ctl->creds && b == blocks - 1)
			used = put_creds(buf, len, used);
		used = put(buf, len, used, SCM_RIGHTS, ctl->fds + done,
			   k * sizeof(int));
		done += k;
	}
	if (ctl->creds && blocks == 0)
		used = put_creds(buf, len, used);
	return used;
}

/* The usual layout, one SCM_RIGHTS and nothing else, laid out straight away
 * as a careful program does: usock-bench times it against libusock's own. */
static inline size_t build_ctl(void *buf, size_t len, const struct raw_ctl *ctl)
{
	if (ctl->nblocks == 1 && !ctl->creds && ctl->nfds &&
	    ctl->nfds <= RAW_MAX_FDS)
		return put(buf, len, 0, SCM_RIGHTS, ctl->fds,
			   ctl->nfds * sizeof(int));
	return build_blocks(buf, len, ctl);
}

size_t raw_build_ctl(void *buf, size_t len, const struct raw_ctl *ctl)
{
	return build_ctl(buf, len, ctl);
}

ssize_t raw_send(int sock, const void *buf, size_t len,
		 const struct raw_ctl *ctl, int flags)
{
	union raw_ctl_buf u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (ctl && (ctl->nfds || ctl->creds)) {
		mh.msg_control = u.buf;
		mh.msg_controllen = build_ctl(u.buf, sizeof(u.buf), ctl);
	}
	do
		n = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t raw_recv(int sock, void *buf, size_t len, unsigned int *nfds, int flags)
{
	union raw_ctl_buf u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	ssize_t n;

	if (nfds)
		*nfds = 0;
	do
		n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
	     c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0;
		     i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
			if (nfds)
				(*nfds)++;
		}
	}
	return n;
}
