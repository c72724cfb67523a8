/* SPDX-License-Identifier: MIT */
/* Named sockets: listen on a path or abstract name, connect, accept. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "usock-private.h"

/*
 * Fill sa from name. A leading '@' names the abstract namespace (as systemd,
 * ss and socat write it); anything else is a filesystem path, so a path that
 * really starts with '@' is written "./@...". Names that do not fit are
 * refused, never truncated. Returns the address length or a negative errno.
 */
static int make_addr(const char *name, struct sockaddr_un *sa)
{
	size_t len;

	if (!name || !name[0])
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	len = strlen(name);
	if (name[0] == '@') {
		/* No terminating NUL: the length delimits an abstract name. */
		if (len == 1)
			return -EINVAL;
		if (len > sizeof(sa->sun_path))
			return -ENAMETOOLONG;
		memcpy(sa->sun_path + 1, name + 1, len - 1);
		return (int)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	/* Keep room for the NUL so that every reader sees a C string. */
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, name, len);
	return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

static int new_socket(int type, int flags)
{
	int st = usock_type_to_sock(type);
	int fd;

	st |= SOCK_CLOEXEC;
	if (flags & USOCK_NONBLOCK)
		st |= SOCK_NONBLOCK;
	fd = socket(AF_UNIX, st, 0);
	return fd < 0 ? -errno : fd;
}

/*
 * Is the socket file at sa stale, i.e. a socket that nobody answers on?
 * A nonblocking probe never waits on a full backlog: EAGAIN means alive.
 * 1 stale, 0 not (or not a socket), or a negative errno when the probe
 * itself cannot be made: out of fds is not "address in use".
 */
static int stale_socket_file(const struct sockaddr_un *sa, socklen_t salen,
			     int type)
{
	struct stat st;
	int fd, r;

	if (lstat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	fd = new_socket(type, USOCK_NONBLOCK);
	if (fd < 0)
		return fd;
	r = connect(fd, (const struct sockaddr *)sa, salen);
	r = r < 0 ? errno : 0;
	usock_close_fd(fd);
	return r == ECONNREFUSED;
}

static int bind_name(int fd, const struct sockaddr_un *sa, socklen_t salen,
		     int type, int flags)
{
	int r;

	if (bind(fd, (const struct sockaddr *)sa, salen) == 0)
		return 0;
	if (errno != EADDRINUSE || !(flags & USOCK_REPLACE_STALE) ||
	    sa->sun_path[0] == '\0')
		return -errno;
	/* Racy by nature: between the probe and the unlink another process
	 * may bind a live socket there (documented in usock_listen(3)). */
	r = stale_socket_file(sa, salen, type);
	if (r < 0)
		return r;
	if (r == 0)
		return -EADDRINUSE;
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	if (bind(fd, (const struct sockaddr *)sa, salen) < 0)
		return -errno;
	return 0;
}

static int remember_path(struct usock *s, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	s->unlink_path = strdup(path);
	if (!s->unlink_path)
		return -ENOMEM;
	s->unlink_dev = st.st_dev;
	s->unlink_ino = st.st_ino;
	return 0;
}

USOCK_EXPORT int usock_listen(const char *name, int type, int flags,
			      int backlog, struct usock **ret)
{
	const int known =
		USOCK_NONBLOCK | USOCK_REPLACE_STALE | USOCK_UNLINK_ON_CLOSE;
	struct sockaddr_un sa;
	struct usock *s;
	bool bound = false;
	int salen, fd, r;

	if (!ret || (flags & ~known) || usock_type_to_sock(type) < 0 ||
	    backlog < 0)
		return -EINVAL;
	salen = make_addr(name, &sa);
	if (salen < 0)
		return salen;

	fd = new_socket(type, flags);
	if (fd < 0)
		return fd;
	s = usock_new_handle(fd, type);
	if (!s) {
		usock_close_fd(fd);
		return -ENOMEM;
	}
	/* Before listen: accepted sockets inherit SO_PASSCRED. */
	r = usock_force_passcred(s);
	if (r < 0)
		goto fail;
	r = bind_name(fd, &sa, (socklen_t)salen, type, flags);
	if (r < 0)
		goto fail;
	bound = sa.sun_path[0] != '\0';
	if ((flags & USOCK_UNLINK_ON_CLOSE) && bound) {
		r = remember_path(s, name);
		if (r < 0)
			goto fail;
	}
	/* A DGRAM socket is a bound receiver: there is nothing to accept. */
	if (type != USOCK_DGRAM &&
	    listen(fd, backlog ? backlog : SOMAXCONN) < 0) {
		r = -errno;
		goto fail;
	}
	*ret = s;
	return 0;

fail:
	/* Leave no socket file behind that this call created. */
	if (bound)
		(void)unlink(name);
	usock_close_fd(fd);
	free(s->unlink_path);
	free(s);
	return r;
}

USOCK_EXPORT int usock_connect(const char *name, int type, int flags,
			       struct usock **ret)
{
	struct sockaddr_un sa;
	struct usock *s;
	int salen, fd, r;

	if (!ret || (flags & ~USOCK_NONBLOCK) || usock_type_to_sock(type) < 0)
		return -EINVAL;
	salen = make_addr(name, &sa);
	if (salen < 0)
		return salen;

	/* Allocate first: once connected, a failure would leave the
	 * listener a connection whose client is already gone. */
	s = usock_new_handle(-1, type);
	if (!s)
		return -ENOMEM;
	fd = new_socket(type, flags);
	if (fd < 0) {
		free(s);
		return fd;
	}
	s->fd = fd;
	/* Before connect: the socket must never be without SO_PASSCRED. */
	r = usock_force_passcred(s);
	if (r < 0) {
		usock_close_fd(fd);
		free(s);
		return r;
	}
	/* AF_UNIX connect completes or fails at once; EINTR can only come
	 * while it waited for backlog room, before anything happened. */
	do
		r = connect(fd, (const struct sockaddr *)&sa, (socklen_t)salen);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = -errno;
		usock_close_fd(fd);
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

/*
 * accept4 within the listener's timeout. A blocking listener is polled first;
 * if another thread takes the connection in between, accept4 waits for the
 * next one (usock_set_timeout(3)). A nonblocking one never waits.
 */
static int timed_accept(struct usock *l, int fl, const struct timespec *dl)
{
	for (;;) {
		int r = usock_wait(l->fd, POLLIN, dl);
		int fd;

		if (r < 0 && r != -EAGAIN)
			return r;
		fd = accept4(l->fd, NULL, NULL, fl);
		if (fd >= 0)
			return fd;
		if (errno != EINTR && (errno != EAGAIN || r < 0))
			return -errno;
	}
}

USOCK_EXPORT int usock_accept(struct usock *listener, int flags,
			      struct usock **ret)
{
	struct timespec deadline;
	struct usock *s;
	int fd, r, fl = SOCK_CLOEXEC, ms;

	if (!listener || !ret || (flags & ~USOCK_NONBLOCK))
		return -EINVAL;
	if (flags & USOCK_NONBLOCK)
		fl |= SOCK_NONBLOCK;

	/* Allocate first: a connection once accepted is not to be dropped
	 * for want of memory. */
	s = usock_new_handle(-1, listener->type);
	if (!s)
		return -ENOMEM;
	ms = load_relaxed(&listener->timeout_ms);
	if (ms < 0) {
		do
			fd = accept4(listener->fd, NULL, NULL, fl);
		while (fd < 0 && errno == EINTR &&
		       usock_restart(listener->fd, SO_RCVTIMEO));
		fd = fd < 0 ? -errno : fd;
	} else {
		usock_deadline(ms, &deadline);
		fd = timed_accept(listener, fl, &deadline);
	}
	if (fd < 0) {
		free(s);
		return fd;
	}
	s->fd = fd;
	r = usock_inherit_policy(s, listener);
	if (r < 0) {
		usock_close_fd(fd);
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}
