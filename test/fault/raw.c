/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "raw.h"

#define MAX_RAW_FDS 253
#define MAX_BLOCKS 8

union raw_buf {
	struct cmsghdr align;
	char buf[MAX_BLOCKS * CMSG_SPACE(sizeof(int) * MAX_RAW_FDS) +
		 CMSG_SPACE(sizeof(struct ucred))];
};

static struct cmsghdr *put(struct cmsghdr *c, int type, const void *data,
			   size_t len)
{
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	return (struct cmsghdr *)((char *)c + CMSG_SPACE(len));
}

ssize_t raw_send(int sock, const void *buf, size_t len,
		 const struct raw_ctl *ctl, int flags)
{
	union raw_buf u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c = (struct cmsghdr *)u.buf;
	unsigned int blocks, done = 0;
	ssize_t n;

	if (ctl && (ctl->nfds || ctl->creds)) {
		blocks = ctl->nfds ? ctl->nblocks : 0;
		if (ctl->nfds &&
		    (blocks == 0 || blocks > MAX_BLOCKS || blocks > ctl->nfds))
			abort();
		memset(u.buf, 0, sizeof(u.buf));
		for (unsigned int b = 0; b < blocks; b++) {
			unsigned int k = (ctl->nfds - done) / (blocks - b);

			if (ctl->creds && b == blocks - 1) {
				struct ucred uc = { getpid(), getuid(),
						    getgid() };

				c = put(c, SCM_CREDENTIALS, &uc, sizeof(uc));
			}
			c = put(c, SCM_RIGHTS, ctl->fds + done,
				k * sizeof(int));
			done += k;
		}
		if (ctl->creds && blocks == 0) {
			struct ucred uc = { getpid(), getuid(), getgid() };

			c = put(c, SCM_CREDENTIALS, &uc, sizeof(uc));
		}
		mh.msg_control = u.buf;
		mh.msg_controllen = (size_t)((char *)c - u.buf);
	}
	do
		n = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t raw_recv(int sock, void *buf, size_t len, unsigned int *nfds, int flags)
{
	union raw_buf u;
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

int devnull(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}
