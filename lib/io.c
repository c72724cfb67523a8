/* SPDX-License-Identifier: MIT */
/* Sending and receiving single messages: msghdr and cmsg layout. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "usock-private.h"

bool usock_iov_empty(const struct iovec *iov, size_t iovcnt)
{
	for (size_t i = 0; i < iovcnt; i++)
		if (iov[i].iov_len)
			return false;
	return true;
}

/* Fill the control buffer from m; returns the number of bytes used. */
size_t usock_build_ctl(void *buf, const struct usock_msg *m)
{
	struct cmsghdr *c = buf;
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
		c = (struct cmsghdr *)((char *)buf + used);
	}

	if (!m->n_taken) {
		/* The usual message: its fds are contiguous. */
		n = m->n_fds;
		for (unsigned int i = 0; i < n; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &m->fds[i],
			       sizeof(int));
	} else {
		for (unsigned int i = 0; i < m->n_fds; i++) {
			if (m->fds[i] < 0)
				continue; /* taken */
			memcpy(CMSG_DATA(c) + n * sizeof(int), &m->fds[i],
			       sizeof(int));
			n++;
		}
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
	union usock_send_ctl ctl;
	struct msghdr mh = {
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = iovcnt,
	};
	ssize_t n;

	if (m && (m->n_fds || m->has_creds)) {
		mh.msg_controllen = usock_build_ctl(ctl.buf, m);
		if (mh.msg_controllen)
			mh.msg_control = ctl.buf;
		/* On a stream the kernel silently drops ancillary data sent
		 * with no bytes to carry it. */
		if (mh.msg_controllen && s->type == USOCK_STREAM &&
		    usock_iov_empty(iov, iovcnt))
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

/* Store the n received fds at data in m; close those nobody wants. */
static void keep_fds(struct usock_msg *m, const unsigned char *data, size_t n)
{
	/* A local count: stores through m->fds could alias m->n_fds. */
	unsigned int have = m ? m->n_fds : USOCK_MAX_FDS;

	for (size_t i = 0; i < n; i++) {
		int fd;

		memcpy(&fd, data + i * sizeof(int), sizeof(fd));
		if (have < USOCK_MAX_FDS)
			m->fds[have++] = fd;
		else
			usock_close_fd(fd);
	}
	if (m && have != m->n_fds) {
		m->n_fds = have;
		m->owns_fds = true;
	}
}

static void keep_pidfd(struct usock_msg *m, int fd)
{
	if (m && m->pidfd < 0)
		m->pidfd = fd;
	else
		usock_close_fd(fd);
}

static void keep_creds(struct usock_msg *m, const struct cmsghdr *c)
{
	struct ucred uc;

	if (!m || c->cmsg_len < CMSG_LEN(sizeof(uc)))
		return;
	memcpy(&uc, CMSG_DATA(c), sizeof(uc));
	/* pid 0: queued before SO_PASSCRED, or a sender the receiver's pid
	 * namespace cannot name. Either way there is nobody to trust. */
	if (uc.pid > 0) {
		m->has_creds = true;
		m->pid = uc.pid;
		m->uid = uc.uid;
		m->gid = uc.gid;
	}
}

/*
 * Walk the control data: every fd in it ends up in m or closed. Returns the
 * number of SCM_RIGHTS fds that arrived.
 */
static unsigned int parse_ctl(struct msghdr *mh, struct usock_msg *m)
{
	unsigned int count = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS) {
			keep_creds(m, c);
			continue;
		}
		if (c->cmsg_type != SCM_RIGHTS && c->cmsg_type != SCM_PIDFD)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (c->cmsg_type == SCM_RIGHTS) {
			keep_fds(m, CMSG_DATA(c), n);
			count += (unsigned int)n;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			keep_pidfd(m, fd);
		}
	}
	return count;
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
	/* No control buffer: a peek must not install the queued message's
	 * fds, and MSG_CTRUNC then says the message carries some. */
	struct msghdr peek = { 0 };
	ssize_t n = recvmsg(fd, &peek, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);

	return n <= 0 && !(peek.msg_flags & MSG_CTRUNC);
}

size_t usock_recv_ctl_len(const struct usock *s, unsigned int max)
{
	unsigned int fl;
	size_t len = 0;

	if (max >= USOCK_MAX_FDS)
		return sizeof(union usock_recv_ctl);
	/*
	 * Under a quota the fd part is sized with CMSG_LEN, not CMSG_SPACE:
	 * the padding of CMSG_SPACE would let the kernel install more fds
	 * than max (D-Bus CVE-2014-3635). The kernel writes credentials
	 * first, then the fds, then the pidfd; it sizes the fds from all the
	 * room left, so the pidfd's room can take extra fds: those are
	 * counted and rejected below (usock_set_max_fds(3) says so).
	 */
	fl = load_relaxed(&s->rx_flags);
	if (fl & USOCK_RX_PASSCRED)
		len += CTL_CREDS;
	if (fl & USOCK_RX_PASSPIDFD)
		len += CTL_PIDFD;
	if (max)
		len += CMSG_LEN(max * sizeof(int));
	return len;
}

ssize_t usock_finish_recv(const struct usock *s, struct msghdr *mh, ssize_t n,
			  unsigned int max, struct usock_msg *m, bool maybe_eof)
{
	unsigned int nfds = parse_ctl(mh, m);
	bool ctrunc = mh->msg_flags & MSG_CTRUNC;
	int err = 0;

	/*
	 * Fds lost to truncation cannot be recovered: report it, and close
	 * the ones that did arrive rather than hand over part of a message.
	 * Under a quota, a full fd part plus truncation means the sender sent
	 * more than max. Without m the fds were unwanted, so the loss of some
	 * of them to a full fd table is no error.
	 */
	if (nfds > max || (ctrunc && max < USOCK_MAX_FDS && nfds >= max))
		err = -E2BIG;
	else if (ctrunc && m)
		err = -EMFILE;
	else if (mh->msg_flags & MSG_TRUNC)
		err = -EMSGSIZE;
	if (err) {
		if (m)
			usock_msg_clear(m);
		return err;
	}
	/* A stream read of 0 bytes is end of file even when the kernel adds
	 * (empty) credentials to it. */
	if (n == 0 && maybe_eof &&
	    (s->type == USOCK_STREAM ||
	     (s->type == USOCK_SEQPACKET && mh->msg_controllen == 0 &&
	      !(mh->msg_flags & MSG_CTRUNC) && seqpacket_eof(s->fd)))) {
		if (m)
			usock_msg_clear(m);
		return -EPIPE;
	}
	return n;
}

int usock_recv_errno(const struct usock *s)
{
	/* The kernel says EINVAL for a read on an unconnected stream socket;
	 * the caller passed nothing invalid. */
	if (errno == EINVAL && s->type == USOCK_STREAM)
		return -ENOTCONN;
	return -errno;
}

static ssize_t do_recv(struct usock *s, const struct iovec *iov, size_t iovcnt,
		       struct usock_msg *m)
{
	union usock_recv_ctl ctl;
	unsigned int max = load_relaxed(&s->max_fds);
	struct msghdr mh = {
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = iovcnt,
		.msg_control = ctl.buf,
		.msg_controllen = usock_recv_ctl_len(s, max),
	};
	ssize_t n;

	/* A stream read of 0 bytes could not be told from end of file. */
	if (s->type == USOCK_STREAM && usock_iov_empty(iov, iovcnt))
		return -EINVAL;
	if (m)
		usock_msg_clear(m);
	if (!mh.msg_controllen)
		mh.msg_control = NULL;

	do
		n = recvmsg(s->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return usock_recv_errno(s);
	/* The common case, a whole message with nothing attached: nothing to
	 * parse, and n > 0 is not end of file. */
	if (n > 0 && !mh.msg_controllen &&
	    !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return n;
	return usock_finish_recv(s, &mh, n, max, m, true);
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
