/* SPDX-License-Identifier: MIT */
/* Sending and receiving single messages: msghdr and cmsg layout. */
#include <errno.h>
#include <limits.h>
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

	if (m->has_creds && !m->creds_received) {
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

static ssize_t sendmsg_op(int fd, void *mh, int flags)
{
	return sendmsg(fd, mh, flags | MSG_NOSIGNAL);
}

static ssize_t do_send(struct usock *s, const struct iovec *iov, size_t iovcnt,
		       const struct usock_msg *m)
{
	union usock_send_ctl ctl;
	struct msghdr mh = {
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = iovcnt,
	};

	/* Received credentials are never sent on: a relay speaks for itself
	 * (the kernel attaches its own) unless it sets them for this send. */
	if (m && (m->n_fds || (m->has_creds && !m->creds_received))) {
		mh.msg_controllen = usock_build_ctl(ctl.buf, m);
		if (mh.msg_controllen)
			mh.msg_control = ctl.buf;
		/* On a stream the kernel silently drops ancillary data sent
		 * with no bytes to carry it. */
		if (mh.msg_controllen && s->type == USOCK_STREAM &&
		    usock_iov_empty(iov, iovcnt))
			return -EINVAL;
	}
	return usock_io(s, false, sendmsg_op, &mh);
}

USOCK_EXPORT ssize_t usock_send(struct usock *s, const void *buf, size_t len,
				const struct usock_msg *m)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	if (!s || (!buf && len) || len > SSIZE_MAX)
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
		m->creds_received = true;
		m->pid = uc.pid;
		m->uid = uc.uid;
		m->gid = uc.gid;
	}
}

/*
 * Walk the control data: every fd in it ends up in m or closed, and what the
 * policy pol does not ask for is dropped. Returns the number of SCM_RIGHTS
 * fds that arrived; *head gets the room taken by the blocks the kernel puts
 * ahead of the fds.
 */
static unsigned int parse_ctl(struct msghdr *mh, struct usock_msg *m,
			      uint32_t pol, size_t *head)
{
	unsigned int count = 0;

	*head = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			keep_fds(m, CMSG_DATA(c), n);
			count += (unsigned int)n;
			continue;
		}
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_PIDFD) {
			for (size_t i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int),
				       sizeof(fd));
				keep_pidfd(pol & POL_PIDFD ? m : NULL, fd);
			}
			continue;
		}
		*head += CMSG_SPACE(c->cmsg_len - CMSG_LEN(0));
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS && (pol & POL_CRED))
			keep_creds(m, c);
		/* Anything else (timestamps, SCM_SECURITY, ...) comes from
		 * options set on the fd by others: ignored. */
	}
	return count;
}

/*
 * Without SO_PASSCRED (turned off on the fd behind the library's back) a
 * 0-byte SEQPACKET message looks like end of file. It is end of file only if
 * the peer has shut down and no message with data is still queued (a peek
 * with MSG_TRUNC gives the next message's real length).
 */
static bool seqpacket_eof_guess(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	if (poll(&p, 1, 0) < 0 || !(p.revents & (POLLRDHUP | POLLHUP)))
		return false;
	/* No control buffer: a peek must not install the queued message's
	 * fds, and MSG_CTRUNC then says the message carries some. */
	struct msghdr peek = { 0 };
	ssize_t n = recvmsg(fd, &peek, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);

	return n <= 0 && !(peek.msg_flags & MSG_CTRUNC);
}

/*
 * 0 bytes arrived. On a stream that is end of file. On SEQPACKET the library
 * keeps SO_PASSCRED on, so every message, empty or not, carries credentials
 * (or MSG_CTRUNC when there was no room for them): 0 bytes with no control
 * data at all is end of file, a fact the kernel reports.
 */
static bool is_eof(const struct usock *s, const struct msghdr *mh)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (s->type == USOCK_STREAM)
		return true;
	if (s->type != USOCK_SEQPACKET || mh->msg_controllen ||
	    (mh->msg_flags & MSG_CTRUNC))
		return false;
	/* Reached once per connection: check that nobody turned the option
	 * off through the fd. */
	if (getsockopt(s->fd, SOL_SOCKET, SO_PASSCRED, &v, &len) == 0 && v)
		return true;
	return seqpacket_eof_guess(s->fd);
}

bool usock_recv_wants_ctl(const struct usock_msg *m, uint32_t pol)
{
	/* Without a message object and without a limit nothing that comes
	 * is wanted or checked: the kernel discards the fds uninstalled, and
	 * end of file still shows (no MSG_CTRUNC). */
	return m || (pol & POL_MAX) < USOCK_MAX_FDS;
}

size_t usock_recv_ctl_len(uint32_t pol)
{
	unsigned int max = pol & POL_MAX;

	if (max >= USOCK_MAX_FDS)
		return sizeof(union usock_recv_ctl);
	/*
	 * Under a limit the fd part is sized with CMSG_LEN, not CMSG_SPACE,
	 * so that little room is left past the limit (D-Bus CVE-2014-3635).
	 * The kernel sizes the fds from all the room left after the blocks
	 * ahead of them, so the room kept for those blocks and for the pidfd
	 * can take extra fds when they are absent: those are counted, closed
	 * and the message refused (usock_set_max_fds(3)).
	 */
	return CTL_HEAD + (max ? CMSG_LEN(max * sizeof(int)) : 0) + CTL_PIDFD;
}

ssize_t usock_finish_recv(const struct usock *s, struct msghdr *mh, ssize_t n,
			  uint32_t pol, struct usock_msg *m, bool maybe_eof)
{
	unsigned int max = pol & POL_MAX;
	bool counted = mh->msg_control != NULL;
	size_t head;
	unsigned int nfds = parse_ctl(mh, m, pol, &head);
	int err = 0;

	/*
	 * Fds lost to truncation cannot be recovered: report it, and close
	 * the ones that did arrive rather than hand over part of a message.
	 * Without m the fds were unwanted: their loss to a full fd table is
	 * no error, and with no limit there was no control buffer at all
	 * (usock_recv_wants_ctl()).
	 */
	if (counted && nfds > max)
		err = -E2BIG;
	else if (counted && (mh->msg_flags & MSG_CTRUNC)) {
		if (head > CTL_HEAD)
			err = -ENOBUFS; /* foreign blocks took the fds' room */
		else if (nfds >= max && max < USOCK_MAX_FDS)
			err = -E2BIG; /* more than the limit were sent */
		else if (m)
			err = -EMFILE; /* the fd table is full */
	} else if (mh->msg_flags & MSG_TRUNC)
		err = -EMSGSIZE;
	if (!err && n == 0 && maybe_eof && is_eof(s, mh))
		err = -EPIPE;
	if (err && m)
		usock_msg_clear(m);
	return err ? err : n;
}

int usock_recv_errno(const struct usock *s, int err)
{
	/* The kernel says EINVAL for a read on an unconnected stream socket;
	 * the caller passed nothing invalid. */
	if (err == -EINVAL && s->type == USOCK_STREAM)
		return -ENOTCONN;
	return err;
}

static ssize_t recvmsg_op(int fd, void *mh, int flags)
{
	return recvmsg(fd, mh, flags | MSG_CMSG_CLOEXEC);
}

static ssize_t do_recv(struct usock *s, const struct iovec *iov, size_t iovcnt,
		       struct usock_msg *m)
{
	union usock_recv_ctl ctl;
	uint32_t pol = load_relaxed(&s->policy);
	struct msghdr mh = {
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = iovcnt,
	};
	ssize_t n;

	/* A stream read of 0 bytes could not be told from end of file. */
	if (s->type == USOCK_STREAM && usock_iov_empty(iov, iovcnt))
		return -EINVAL;
	if (usock_recv_wants_ctl(m, pol)) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = usock_recv_ctl_len(pol);
	}
	n = usock_io(s, true, recvmsg_op, &mh);
	if (n < 0)
		return usock_recv_errno(s, (int)n);
	/* The usual message: data with credentials only, or nothing. */
	if (n > 0 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		if (!c)
			return n;
		if (mh.msg_controllen == CTL_CREDS &&
		    c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS) {
			if (pol & POL_CRED)
				keep_creds(m, c);
			return n;
		}
	}
	return usock_finish_recv(s, &mh, n, pol, m, true);
}

USOCK_EXPORT ssize_t usock_recv(struct usock *s, void *buf, size_t len,
				struct usock_msg *m)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	/* m is empty after any failure, argument errors included. */
	if (m)
		usock_msg_clear(m);
	if (!s || (!buf && len) || len > SSIZE_MAX)
		return -EINVAL;
	return do_recv(s, &iov, 1, m);
}

USOCK_EXPORT ssize_t usock_recvv(struct usock *s, const struct iovec *iov,
				 size_t iovcnt, struct usock_msg *m)
{
	if (m)
		usock_msg_clear(m);
	if (!s || (!iov && iovcnt))
		return -EINVAL;
	return do_recv(s, iov, iovcnt, m);
}
