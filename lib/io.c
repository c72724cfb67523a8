/* SPDX-License-Identifier: MIT */
/* Sending and receiving: the only place that knows msghdr and cmsg layout. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "usock-private.h"

/*
 * Control buffers live on the stack of each call: no allocation per message,
 * and no buffer in the handle that two threads could share. The receive
 * buffer has room for everything the kernel can attach to one message:
 * credentials, a pidfd and USOCK_MAX_FDS fds.
 */
#define CTL_CREDS CMSG_SPACE(sizeof(struct ucred))
#define CTL_FDS CMSG_SPACE(sizeof(int) * USOCK_MAX_FDS)
#define CTL_PIDFD CMSG_SPACE(sizeof(int))

union send_ctl {
	struct cmsghdr align;
	char buf[CTL_CREDS + CTL_FDS];
};

union recv_ctl {
	struct cmsghdr align;
	char buf[CTL_CREDS + CTL_PIDFD + CTL_FDS];
};

static bool iov_empty(const struct iovec *iov, size_t iovcnt)
{
	for (size_t i = 0; i < iovcnt; i++)
		if (iov[i].iov_len)
			return false;
	return true;
}

/* Fill the control buffer from m; returns the number of bytes used. */
static size_t build_ctl(union send_ctl *ctl, const struct usock_msg *m)
{
	struct cmsghdr *c = &ctl->align;
	size_t used = 0;
	unsigned int n = 0;

	if (m->has_creds) {
		struct ucred uc = { .pid = m->pid,
				    .uid = m->uid,
				    .gid = m->gid };

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(uc));
		memcpy(CMSG_DATA(c), &uc, sizeof(uc));
		/* The kernel copies the padding too: never leak stack bytes. */
		memset(CMSG_DATA(c) + sizeof(uc), 0,
		       CTL_CREDS - CMSG_LEN(sizeof(uc)));
		used += CTL_CREDS;
		c = (struct cmsghdr *)(ctl->buf + used);
	}

	for (unsigned int i = 0; i < m->n_fds; i++) {
		if (m->fds[i] < 0)
			continue; /* taken */
		memcpy(CMSG_DATA(c) + n * sizeof(int), &m->fds[i], sizeof(int));
		n++;
	}
	if (n) {
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memset(CMSG_DATA(c) + n * sizeof(int), 0,
		       CMSG_SPACE(n * sizeof(int)) - CMSG_LEN(n * sizeof(int)));
		used += CMSG_SPACE(n * sizeof(int));
	}
	return used;
}

static ssize_t do_send(struct usock *s, const struct iovec *iov, size_t iovcnt,
		       const struct usock_msg *m)
{
	union send_ctl ctl;
	struct msghdr mh = {
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = iovcnt,
	};
	ssize_t n;

	if (m && (m->n_fds || m->has_creds)) {
		mh.msg_controllen = build_ctl(&ctl, m);
		if (mh.msg_controllen)
			mh.msg_control = ctl.buf;
		/* On a stream the kernel silently drops ancillary data sent
		 * with no bytes to carry it. */
		if (mh.msg_controllen && s->type == USOCK_STREAM &&
		    iov_empty(iov, iovcnt))
			return -EINVAL;
	}

	do
		n = sendmsg(s->fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

USOCK_EXPORT ssize_t usock_send(struct usock *s, const void *buf, size_t len,
				const struct usock_msg *m)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	if (!s || (!buf && len))
		return -EINVAL;
	return do_send(s, &iov, 1, m);
}

USOCK_EXPORT ssize_t usock_sendv(struct usock *s, const struct iovec *iov,
				 size_t iovcnt, const struct usock_msg *m)
{
	if (!s || (!iov && iovcnt))
		return -EINVAL;
	return do_send(s, iov, iovcnt, m);
}

/* Store a received fd in m, or close it when nobody wants it. */
static void keep_fd(struct usock_msg *m, int fd)
{
	if (m && m->n_fds < USOCK_MAX_FDS) {
		m->fds[m->n_fds++] = fd;
		m->owns_fds = true;
	} else {
		usock_close_fd(fd);
	}
}

/* Walk the control data: every fd in it ends up in m or closed. */
static void parse_ctl(struct msghdr *mh, struct usock_msg *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS || c->cmsg_type == SCM_PIDFD) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int),
				       sizeof(fd));
				if (c->cmsg_type == SCM_RIGHTS)
					keep_fd(m, fd);
				else
					usock_close_fd(fd);
			}
		} else if (c->cmsg_type == SCM_CREDENTIALS && m &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			/* pid 0: queued before SO_PASSCRED, or a sender the
			 * receiver's pid namespace cannot name. */
			if (uc.pid > 0) {
				m->has_creds = true;
				m->pid = uc.pid;
				m->uid = uc.uid;
				m->gid = uc.gid;
			}
		}
	}
}

/*
 * recvmsg() returned 0 bytes and no control data on a SEQPACKET socket:
 * end of file or an empty message? With SO_PASSCRED on, every message
 * carries credentials, so this was end of file. Otherwise it is end of file
 * only if the peer has shut down and no message with data is still queued
 * (a peek with MSG_TRUNC gives the next message's real length). What stays
 * ambiguous: empty messages with nothing but empty messages after them, sent
 * just before the peer closed.
 */
static bool seqpacket_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	int passcred = 0;
	socklen_t len = sizeof(passcred);

	if (getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &passcred, &len) == 0 &&
	    passcred)
		return true;
	if (poll(&p, 1, 0) < 0 || !(p.revents & (POLLRDHUP | POLLHUP)))
		return false;
	return recv(fd, NULL, 0, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) <= 0;
}

static ssize_t do_recv(struct usock *s, const struct iovec *iov, size_t iovcnt,
		       struct usock_msg *m)
{
	union recv_ctl ctl;
	struct msghdr mh = {
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = iovcnt,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;

	/* A stream read of 0 bytes could not be told from end of file. */
	if (s->type == USOCK_STREAM && iov_empty(iov, iovcnt))
		return -EINVAL;
	if (m)
		usock_msg_clear(m);

	do
		n = recvmsg(s->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	parse_ctl(&mh, m);

	/* Fds lost to truncation cannot be recovered: report it, and close
	 * the ones that did arrive rather than hand over part of a message.
	 * Without m the fds were unwanted, so their loss is no error. */
	if ((mh.msg_flags & MSG_CTRUNC) && m) {
		usock_msg_clear(m);
		return -EMFILE;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		if (m)
			usock_msg_clear(m);
		return -EMSGSIZE;
	}
	/* A stream read of 0 bytes is end of file even when the kernel adds
	 * (empty) credentials to it. */
	if (n == 0 && (s->type == USOCK_STREAM ||
		       (s->type == USOCK_SEQPACKET && mh.msg_controllen == 0 &&
			seqpacket_eof(s->fd)))) {
		if (m)
			usock_msg_clear(m);
		return -EPIPE;
	}
	return n;
}

USOCK_EXPORT ssize_t usock_recv(struct usock *s, void *buf, size_t len,
				struct usock_msg *m)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	if (!s || (!buf && len))
		return -EINVAL;
	return do_recv(s, &iov, 1, m);
}

USOCK_EXPORT ssize_t usock_recvv(struct usock *s, const struct iovec *iov,
				 size_t iovcnt, struct usock_msg *m)
{
	if (!s || (!iov && iovcnt))
		return -EINVAL;
	return do_recv(s, iov, iovcnt, m);
}
