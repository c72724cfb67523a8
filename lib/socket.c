/* SPDX-License-Identifier: MIT */
/* Socket handles: create a pair, adopt an fd, close, release, options. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usock-private.h"

int usock_type_to_sock(int type)
{
	switch (type) {
	case USOCK_SEQPACKET:
		return SOCK_SEQPACKET;
	case USOCK_STREAM:
		return SOCK_STREAM;
	case USOCK_DGRAM:
		return SOCK_DGRAM;
	default:
		return -1;
	}
}

int usock_type_from_sock(int sock_type)
{
	switch (sock_type) {
	case SOCK_SEQPACKET:
		return USOCK_SEQPACKET;
	case SOCK_STREAM:
		return USOCK_STREAM;
	case SOCK_DGRAM:
		return USOCK_DGRAM;
	default:
		return -1;
	}
}

void usock_close_fd(int fd)
{
	int saved = errno;

	/* Linux closes the fd even when close() reports EINTR: never retry. */
	(void)close(fd);
	errno = saved;
}

struct usock *usock_new_handle(int fd, int type)
{
	struct usock *s = malloc(sizeof(*s));

	if (s) {
		s->fd = fd;
		s->type = type;
		s->policy = POL_DEFAULT;
		s->changed = 0;
		s->lock = 0;
		s->timeout_ms = -1;
		s->forced_cred = false;
		s->unlink_path = NULL;
		s->unlink_dev = 0;
		s->unlink_ino = 0;
	}
	return s;
}

USOCK_EXPORT int usock_pair(int type, int flags, struct usock **ret_a,
			    struct usock **ret_b)
{
	struct usock *a, *b;
	int sock_type = usock_type_to_sock(type);
	int sv[2], r;

	if (!ret_a || !ret_b || ret_a == ret_b || sock_type < 0)
		return -EINVAL;
	if (flags & ~USOCK_NONBLOCK)
		return -EINVAL;

	/* Allocate first: a failed malloc then costs no syscalls to undo. */
	a = usock_new_handle(-1, type);
	b = usock_new_handle(-1, type);
	if (!a || !b) {
		free(a);
		free(b);
		return -ENOMEM;
	}

	sock_type |= SOCK_CLOEXEC;
	if (flags & USOCK_NONBLOCK)
		sock_type |= SOCK_NONBLOCK;
	if (socketpair(AF_UNIX, sock_type, 0, sv) < 0) {
		r = -errno;

		free(a);
		free(b);
		return r;
	}

	a->fd = sv[0];
	b->fd = sv[1];
	r = usock_force_passcred(a);
	if (r == 0)
		r = usock_force_passcred(b);
	if (r < 0) {
		usock_close_fd(sv[0]);
		usock_close_fd(sv[1]);
		free(a);
		free(b);
		return r;
	}
	*ret_a = a;
	*ret_b = b;
	return 0;
}

USOCK_EXPORT int usock_adopt(int fd, int flags, struct usock **ret)
{
	struct usock *s;
	int domain, sock_type, type, fdflags, flflags = 0, r;

	if (!ret || (flags & ~USOCK_NONBLOCK))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;

	/* Learn everything and allocate before changing the fd at all, so
	 * that a failure leaves the caller's fd exactly as it was. */
	fdflags = fcntl(fd, F_GETFD);
	if (fdflags < 0)
		return -errno;
	r = usock_getsockopt_int(fd, SO_DOMAIN, &domain);
	if (r < 0)
		return r;
	if (domain != AF_UNIX)
		return -EAFNOSUPPORT;
	r = usock_getsockopt_int(fd, SO_TYPE, &sock_type);
	if (r < 0)
		return r;
	type = usock_type_from_sock(sock_type);
	if (type < 0)
		return -ESOCKTNOSUPPORT;
	if (flags & USOCK_NONBLOCK) {
		flflags = fcntl(fd, F_GETFL);
		if (flflags < 0)
			return -errno;
	}

	s = usock_new_handle(fd, type);
	if (!s)
		return -ENOMEM;
	r = usock_learn_policy(s);
	if (r < 0) {
		free(s);
		return r;
	}

	if (!(fdflags & FD_CLOEXEC) &&
	    fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC) < 0) {
		r = -errno;
		goto undo;
	}
	if ((flags & USOCK_NONBLOCK) && !(flflags & O_NONBLOCK) &&
	    fcntl(fd, F_SETFL, flflags | O_NONBLOCK) < 0) {
		r = -errno;
		(void)fcntl(fd, F_SETFD, fdflags);
		goto undo;
	}

	*ret = s;
	return 0;

undo:
	usock_restore_passcred(s);
	free(s);
	return r;
}

/*
 * Remove the socket file this handle bound, but only if it is still the same
 * file: another process may have replaced it since.
 */
static void unlink_bound_path(struct usock *s)
{
	struct stat st;

	if (lstat(s->unlink_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == s->unlink_dev && st.st_ino == s->unlink_ino)
		(void)unlink(s->unlink_path);
}

static void free_handle(struct usock *s)
{
	free(s->unlink_path);
	free(s);
}

USOCK_EXPORT void usock_close(struct usock *s)
{
	if (!s)
		return;
	if (s->unlink_path)
		unlink_bound_path(s);
	usock_close_fd(s->fd);
	free_handle(s);
}

USOCK_EXPORT int usock_get_fd(const struct usock *s)
{
	if (!s)
		return -EINVAL;
	return s->fd;
}

USOCK_EXPORT int usock_get_type(const struct usock *s)
{
	if (!s)
		return -EINVAL;
	return s->type;
}

USOCK_EXPORT int usock_release_fd(struct usock *s)
{
	int fd;

	if (!s)
		return -EINVAL;
	fd = s->fd;
	/* The fd leaves as its owner would expect it: SO_PASSCRED on only
	 * if asked for (usock_release_fd(3)). */
	usock_restore_passcred(s);
	free_handle(s);
	return fd;
}

USOCK_EXPORT int usock_set_nonblock(struct usock *s, int enable)
{
	int fl, nfl;

	if (!s)
		return -EINVAL;
	fl = fcntl(s->fd, F_GETFL);
	if (fl < 0)
		return -errno;
	nfl = enable ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	if (nfl != fl && fcntl(s->fd, F_SETFL, nfl) < 0)
		return -errno;
	return 0;
}
