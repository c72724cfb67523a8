/* SPDX-License-Identifier: MIT */
/*
 * Named sockets: usock_listen, usock_connect and usock_accept over a path
 * (in a fresh directory) and over an abstract name, for every socket type;
 * name rules, stale and live socket files, unlink on close, errors, what an
 * accepted socket inherits from its listener.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"

#define CHILD_TIMEOUT_MS 60000

static const char *const type_names[] = { "seqpacket", "stream", "dgram" };

/* dir/leaf into buf (TMP_PATH_MAX bytes). */
static void path_in(char *buf, const char *dir, const char *leaf)
{
	ck_assert_int_lt(snprintf(buf, TMP_PATH_MAX, "%s/%s", dir, leaf),
			 TMP_PATH_MAX);
}

/* Remove the test's directory: it must be empty, nothing left behind. */
static void dir_remove(const char *dir)
{
	ck_assert_msg(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
}

/* The socket file at path: exists, is a socket; returns its identity. */
static struct fid socket_file(const char *path)
{
	struct stat st;

	ck_assert_msg(lstat(path, &st) == 0, "lstat %s: %s", path,
		      strerror(errno));
	ck_assert_msg(S_ISSOCK(st.st_mode), "%s is not a socket (%o)", path,
		      (unsigned)st.st_mode);
	return (struct fid){ st.st_dev, st.st_ino };
}

static void listen_ok(const char *name, int type, int flags, struct usock **ret)
{
	int r = usock_listen(name, type, flags, 0, ret);

	ck_assert_msg(r == 0, "usock_listen(%s, %s, %#x): %s", name,
		      type_names[type], (unsigned)flags, strerror(-r));
}

static void connect_ok(const char *name, int type, int flags,
		       struct usock **ret)
{
	int r = usock_connect(name, type, flags, ret);

	ck_assert_msg(r == 0, "usock_connect(%s, %s, %#x): %s", name,
		      type_names[type], (unsigned)flags, strerror(-r));
}

/* One byte each way between two connected handles. */
static void assert_talk(struct usock *x, struct usock *y)
{
	char c = 0;

	ck_assert_int_eq(usock_send(x, "x", 1, NULL), 1);
	ck_assert_int_eq(usock_recv(y, &c, 1, NULL), 1);
	ck_assert_int_eq(c, 'x');
	ck_assert_int_eq(usock_send(y, "y", 1, NULL), 1);
	ck_assert_int_eq(usock_recv(x, &c, 1, NULL), 1);
	ck_assert_int_eq(c, 'y');
}

/*
 * A name reachable by connect: for STREAM/SEQPACKET a client gets in and is
 * accepted; for DGRAM a connected client's datagram reaches the receiver.
 */
static void assert_live(struct usock *l, const char *name, int type)
{
	struct usock *c, *s;
	char ch = 0;

	connect_ok(name, type, 0, &c);
	if (type == USOCK_DGRAM) {
		ck_assert_int_eq(usock_send(c, "d", 1, NULL), 1);
		ck_assert_int_eq(usock_recv(l, &ch, 1, NULL), 1);
		ck_assert_int_eq(ch, 'd');
	} else {
		ck_assert_int_eq(usock_accept(l, 0, &s), 0);
		assert_talk(c, s);
		usock_close(s);
	}
	usock_close(c);
}

/* ---- round trip with a forked client ----------------------------------- */

struct client_arg {
	const char *name;
	int type;
};

/* Connects, sends "ping" with a pipe read end holding "from-<pid>", waits
 * for "pong" (not on DGRAM: the receiver has no way back). */
static int child_client(void *p)
{
	const struct client_arg *a = p;
	struct usock *c;
	struct usock_msg *m;
	char text[32], buf[8];
	int pp[2], len;

	CHILD_ASSERT_INT_EQ(usock_connect(a->name, a->type, 0, &c), 0);
	CHILD_ASSERT_INT_EQ(usock_get_type(c), a->type);
	CHILD_ASSERT_INT_EQ(fd_cloexec(usock_get_fd(c)), 1);
	CHILD_ASSERT_INT_EQ(fd_nonblock(usock_get_fd(c)), 0);
	CHILD_ASSERT(pipe2(pp, O_CLOEXEC) == 0);
	len = snprintf(text, sizeof(text), "from-%d", (int)getpid());
	CHILD_ASSERT_INT_EQ(write(pp[1], text, len), len);
	CHILD_ASSERT(close(pp[1]) == 0);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, pp[0]), 0);
	CHILD_ASSERT_INT_EQ(usock_send(c, "ping", 4, m), 4);
	usock_msg_free(m);
	CHILD_ASSERT(close(pp[0]) == 0);
	if (a->type != USOCK_DGRAM) {
		CHILD_ASSERT_INT_EQ(usock_recv(c, buf, sizeof(buf), NULL), 4);
		CHILD_ASSERT(memcmp(buf, "pong", 4) == 0);
	}
	usock_close(c);
	return 0;
}

/* Reads all of fd (a pipe whose writer closed) into buf as a string. */
static void read_all(int fd, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while ((n = read(fd, buf + off, len - 1 - off)) > 0)
		off += (size_t)n;
	ck_assert_int_eq(n, 0);
	buf[off] = '\0';
}

/* _i: type (0..2) + 3 * abstract. */
START_TEST(test_roundtrip)
{
	const int type = _i % 3;
	const bool abstract = _i >= 3;
	struct client_arg arg = { .type = type };
	struct usock *l, *s = NULL;
	struct usock_msg *m;
	char dir[TMP_PATH_MAX], name[TMP_PATH_MAX], buf[16], text[32], want[32];
	pid_t pid;

	tmpdir_create(dir);
	if (abstract)
		abstract_name(name, sizeof(name));
	else
		path_in(name, dir, "sock");
	arg.name = name;

	listen_ok(name, type, 0, &l);
	ck_assert_int_eq(usock_get_type(l), type);
	ck_assert_int_eq(fd_cloexec(usock_get_fd(l)), 1);
	ck_assert_int_eq(fd_nonblock(usock_get_fd(l)), 0);
	if (!abstract)
		socket_file(name);

	pid = child_spawn(child_client, &arg);
	/* Allocated after the fork: valgrind checks the child's heap too. */
	m = msg_new_ok();
	if (type == USOCK_DGRAM) {
		/* A bound receiver: nothing to accept, the datagram of the
		 * connected client lands on it. */
		ck_assert_int_eq(usock_accept(l, 0, &s), -EOPNOTSUPP);
		wait_readable(l, CHILD_TIMEOUT_MS);
		ck_assert_int_eq(usock_recv(l, buf, sizeof(buf), m), 4);
	} else {
		wait_readable(l, CHILD_TIMEOUT_MS);
		ck_assert_int_eq(usock_accept(l, 0, &s), 0);
		ck_assert_int_eq(usock_get_type(s), type);
		ck_assert_int_eq(fd_cloexec(usock_get_fd(s)), 1);
		ck_assert_int_eq(fd_nonblock(usock_get_fd(s)), 0);
		wait_readable(s, CHILD_TIMEOUT_MS);
		ck_assert_int_eq(usock_recv(s, buf, sizeof(buf), m), 4);
	}
	ck_assert(memcmp(buf, "ping", 4) == 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	/* Exactly the listener, the accepted socket and the fd received. */
	ck_assert_uint_eq(fd_count(),
			  fd_baseline()->n + (type == USOCK_DGRAM ? 2 : 3));
	ck_assert_int_eq(fd_cloexec(usock_msg_get_fd(m, 0)), 1);
	read_all(usock_msg_get_fd(m, 0), text, sizeof(text));
	snprintf(want, sizeof(want), "from-%d", (int)pid);
	ck_assert_str_eq(text, want);
	if (s) {
		ck_assert_int_eq(usock_send(s, "pong", 4, NULL), 4);
		/* The client closes after the reply: end of file. */
		ck_assert_int_eq(usock_recv(s, buf, sizeof(buf), m), -EPIPE);
		ck_assert_int_eq(usock_msg_get_nfds(m), 0);
		usock_close(s);
	}
	child_wait_ok(pid);

	usock_msg_free(m);
	usock_close(l);
	/* Without USOCK_UNLINK_ON_CLOSE the file stays: the caller's. */
	if (!abstract) {
		socket_file(name);
		ck_assert_int_eq(unlink(name), 0);
	}
	dir_remove(dir);
}
END_TEST

/* DGRAM: listen makes a bound receiver (backlog ignored), connect sets the
 * default destination, every datagram arrives whole from either client;
 * the receiver itself has no destination. */
START_TEST(test_dgram_receiver)
{
	struct usock *l, *c1, *c2, *s = NULL;
	char name[TMP_PATH_MAX], buf[16];

	abstract_name(name, sizeof(name));
	ck_assert_int_eq(usock_listen(name, USOCK_DGRAM, 0, 7, &l), 0);
	connect_ok(name, USOCK_DGRAM, 0, &c1);
	connect_ok(name, USOCK_DGRAM, 0, &c2);
	ck_assert_int_eq(usock_send(c1, "one", 3, NULL), 3);
	ck_assert_int_eq(usock_send(c2, "two!", 4, NULL), 4);
	ck_assert_int_eq(usock_send(c1, "three", 5, NULL), 5);
	ck_assert_int_eq(usock_recv(l, buf, sizeof(buf), NULL), 3);
	ck_assert(memcmp(buf, "one", 3) == 0);
	ck_assert_int_eq(usock_recv(l, buf, sizeof(buf), NULL), 4);
	ck_assert(memcmp(buf, "two!", 4) == 0);
	ck_assert_int_eq(usock_recv(l, buf, sizeof(buf), NULL), 5);
	ck_assert(memcmp(buf, "three", 5) == 0);
	assert_nothing_queued(l);
	ck_assert_int_eq(usock_send(l, "x", 1, NULL), -ENOTCONN);
	ck_assert_int_eq(usock_accept(l, USOCK_NONBLOCK, &s), -EOPNOTSUPP);
	ck_assert_ptr_null(s);

	usock_close(c1);
	usock_close(c2);
	usock_close(l);
}
END_TEST

/* ---- flags, blocking, poll --------------------------------------------- */

/* _i: USOCK_SEQPACKET or USOCK_STREAM. */
START_TEST(test_nonblock_flags)
{
	struct usock *l, *c, *s = NULL, *x = NULL;
	char name[TMP_PATH_MAX];

	abstract_name(name, sizeof(name));
	listen_ok(name, _i, USOCK_NONBLOCK, &l);
	ck_assert_int_eq(fd_nonblock(usock_get_fd(l)), 1);
	ck_assert_int_eq(fd_cloexec(usock_get_fd(l)), 1);
	ck_assert_int_eq(usock_accept(l, 0, &s), -EAGAIN);
	ck_assert_int_eq(usock_accept(l, USOCK_NONBLOCK, &s), -EAGAIN);
	ck_assert_ptr_null(s);

	/* Connected nonblocking: the flag on the client only. */
	connect_ok(name, _i, USOCK_NONBLOCK, &c);
	ck_assert_int_eq(fd_nonblock(usock_get_fd(c)), 1);
	ck_assert_int_eq(fd_cloexec(usock_get_fd(c)), 1);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	/* Accepted sockets do not inherit O_NONBLOCK from the listener. */
	ck_assert_int_eq(fd_nonblock(usock_get_fd(s)), 0);
	ck_assert_int_eq(fd_cloexec(usock_get_fd(s)), 1);
	ck_assert_int_eq(usock_recv(c, name, 1, NULL), -EAGAIN);
	assert_talk(c, s);
	usock_close(s);
	usock_close(c);

	connect_ok(name, _i, 0, &c);
	ck_assert_int_eq(fd_nonblock(usock_get_fd(c)), 0);
	ck_assert_int_eq(usock_accept(l, USOCK_NONBLOCK, &s), 0);
	ck_assert_int_eq(fd_nonblock(usock_get_fd(s)), 1);
	ck_assert_int_eq(fd_cloexec(usock_get_fd(s)), 1);
	ck_assert_int_eq(usock_recv(s, name, 1, NULL), -EAGAIN);
	/* Drained: nothing more to accept. */
	ck_assert_int_eq(usock_accept(l, 0, &x), -EAGAIN);
	usock_close(s);
	usock_close(c);
	usock_close(l);

	/* A blocking listener made nonblocking later, and back and forth. */
	listen_ok(name, _i, 0, &l);
	ck_assert_int_eq(usock_set_nonblock(l, 1), 0);
	ck_assert_int_eq(usock_accept(l, 0, &s), -EAGAIN);
	ck_assert_int_eq(usock_set_nonblock(l, 0), 0);
	ck_assert_int_eq(fd_nonblock(usock_get_fd(l)), 0);
	ck_assert_int_eq(usock_set_nonblock(l, 1), 0);
	ck_assert_int_eq(usock_accept(l, 0, &s), -EAGAIN);
	ck_assert_ptr_null(x);
	usock_close(l);
}
END_TEST

static short poll_now(struct usock *s)
{
	struct pollfd p = { .fd = usock_get_fd(s), .events = POLLIN };

	ck_assert_int_ge(poll(&p, 1, 0), 0);
	return p.revents;
}

/* _i: USOCK_SEQPACKET or USOCK_STREAM. */
START_TEST(test_listener_polls)
{
	struct usock *l, *c1, *c2, *s;
	char name[TMP_PATH_MAX];

	abstract_name(name, sizeof(name));
	listen_ok(name, _i, 0, &l);
	ck_assert_int_eq(poll_now(l), 0);
	connect_ok(name, _i, 0, &c1);
	connect_ok(name, _i, 0, &c2);
	ck_assert_int_eq(poll_now(l), POLLIN);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	usock_close(s);
	ck_assert_int_eq(poll_now(l), POLLIN);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	usock_close(s);
	ck_assert_int_eq(poll_now(l), 0);
	usock_close(c1);
	usock_close(c2);
	usock_close(l);
}
END_TEST

/* A full backlog: a nonblocking connect gets -EAGAIN (Linux lets backlog + 1
 * connections wait), and so does the stale-file probe's view: alive. */
START_TEST(test_backlog_full)
{
	struct usock *l, *l2 = NULL, *c[3], *s;
	char dir[TMP_PATH_MAX], name[TMP_PATH_MAX];
	struct fid f;

	tmpdir_create(dir);
	path_in(name, dir, "full");
	ck_assert_int_eq(usock_listen(name, _i, 0, 1, &l), 0);
	f = socket_file(name);
	connect_ok(name, _i, USOCK_NONBLOCK, &c[0]);
	connect_ok(name, _i, USOCK_NONBLOCK, &c[1]);
	ck_assert_int_eq(usock_connect(name, _i, USOCK_NONBLOCK, &c[2]),
			 -EAGAIN);
	ck_assert_int_eq(usock_listen(name, _i, USOCK_REPLACE_STALE, 0, &l2),
			 -EADDRINUSE);
	ck_assert_ptr_null(l2);
	ck_assert(fid_eq(socket_file(name), f));

	/* One accepted makes room for one more. */
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	usock_close(s);
	connect_ok(name, _i, USOCK_NONBLOCK, &c[2]);
	ck_assert_int_eq(usock_connect(name, _i, USOCK_NONBLOCK, &l2), -EAGAIN);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(usock_accept(l, 0, &s), 0);
		usock_close(s);
	}
	assert_nothing_queued(l);
	for (int i = 0; i < 3; i++)
		usock_close(c[i]);
	usock_close(l);
	ck_assert_int_eq(unlink(name), 0);
	dir_remove(dir);
}
END_TEST

/* ---- names ------------------------------------------------------------- */

START_TEST(test_name_lengths)
{
	const int type = _i;
	struct usock *l = NULL, *c;
	char dir[TMP_PATH_MAX], path[200], abs[200];
	size_t dl;

	tmpdir_create(dir);
	dl = strlen(dir);
	ck_assert_uint_lt(dl, 100);

	/* A path of 108 bytes leaves no room for the NUL: refused. */
	memset(path, 'p', sizeof(path));
	memcpy(path, dir, dl);
	path[dl] = '/';
	path[108] = '\0';
	ck_assert_int_eq(usock_listen(path, type, 0, 0, &l), -ENAMETOOLONG);
	ck_assert_int_eq(usock_connect(path, type, 0, &l), -ENAMETOOLONG);
	ck_assert_ptr_null(l);
	/* Refused, never truncated: no file at the path or its prefix. */
	ck_assert(!path_exists(path));
	path[107] = '\0';
	ck_assert(!path_exists(path));
	/* 107 fits. */
	ck_assert_uint_eq(strlen(path), 107);
	listen_ok(path, type, USOCK_UNLINK_ON_CLOSE, &l);
	socket_file(path);
	assert_live(l, path, type);
	usock_close(l);
	ck_assert(!path_exists(path));

	/* Abstract: the whole sun_path after the leading NUL, 107 bytes. */
	abstract_name(abs, sizeof(abs));
	memset(abs + strlen(abs), 'a', sizeof(abs) - strlen(abs));
	abs[1 + 108] = '\0';
	l = NULL;
	ck_assert_int_eq(usock_listen(abs, type, 0, 0, &l), -ENAMETOOLONG);
	ck_assert_int_eq(usock_connect(abs, type, 0, &l), -ENAMETOOLONG);
	ck_assert_ptr_null(l);
	abs[1 + 107] = '\0';
	listen_ok(abs, type, 0, &l);
	assert_live(l, abs, type);
	/* The name is all 107 bytes: a prefix of it is another name. */
	abs[1 + 106] = '\0';
	ck_assert_int_eq(usock_connect(abs, type, 0, &c), -ECONNREFUSED);
	usock_close(l);

	/* Empty names. */
	ck_assert_int_eq(usock_listen("", type, 0, 0, &l), -EINVAL);
	ck_assert_int_eq(usock_listen("@", type, 0, 0, &l), -EINVAL);
	ck_assert_int_eq(usock_connect("", type, 0, &l), -EINVAL);
	ck_assert_int_eq(usock_connect("@", type, 0, &l), -EINVAL);
	dir_remove(dir);
}
END_TEST

struct at_arg {
	const char *dir;
	char leaf[64];
};

/* In dir: "./@leaf" is a file named "@leaf"; "@leaf" is abstract. */
static int child_at_path(void *p)
{
	const struct at_arg *a = p;
	char rel[80];
	struct usock *l, *c;
	struct stat st;

	CHILD_ASSERT(chdir(a->dir) == 0);
	snprintf(rel, sizeof(rel), "./%s", a->leaf);
	CHILD_ASSERT_INT_EQ(usock_listen(rel, USOCK_SEQPACKET, 0, 0, &l), 0);
	CHILD_ASSERT(lstat(a->leaf, &st) == 0 && S_ISSOCK(st.st_mode));
	/* Nobody listens on the abstract name of the same spelling. */
	CHILD_ASSERT_INT_EQ(usock_connect(a->leaf, USOCK_SEQPACKET, 0, &c),
			    -ECONNREFUSED);
	CHILD_ASSERT_INT_EQ(usock_connect(rel, USOCK_SEQPACKET, 0, &c), 0);
	usock_close(c);
	usock_close(l);
	CHILD_ASSERT(unlink(a->leaf) == 0);

	/* And the other way round: no file appears for "@leaf". */
	CHILD_ASSERT_INT_EQ(usock_listen(a->leaf, USOCK_SEQPACKET, 0, 0, &l),
			    0);
	CHILD_ASSERT(lstat(a->leaf, &st) < 0 && errno == ENOENT);
	CHILD_ASSERT_INT_EQ(usock_connect(rel, USOCK_SEQPACKET, 0, &c),
			    -ENOENT);
	usock_close(l);
	return 0;
}

START_TEST(test_at_path)
{
	struct at_arg arg;
	char dir[TMP_PATH_MAX];

	tmpdir_create(dir);
	arg.dir = dir;
	abstract_name(arg.leaf, sizeof(arg.leaf));
	child_wait_ok(child_spawn(child_at_path, &arg));
	dir_remove(dir);
}
END_TEST

/* ---- address in use, stale files --------------------------------------- */

START_TEST(test_addrinuse)
{
	const int type = _i;
	struct usock *l, *l2 = NULL, *other = NULL;
	char dir[TMP_PATH_MAX], path[TMP_PATH_MAX], abs[TMP_PATH_MAX];
	struct fid f;

	tmpdir_create(dir);
	path_in(path, dir, "busy");
	listen_ok(path, type, 0, &l);
	f = socket_file(path);
	ck_assert_int_eq(usock_listen(path, type, 0, 0, &l2), -EADDRINUSE);
	/* Another type, or the same: a live socket is never replaced. */
	for (int t = USOCK_SEQPACKET; t <= USOCK_DGRAM; t++)
		ck_assert_int_eq(
			usock_listen(path, t, USOCK_REPLACE_STALE, 0, &l2),
			-EADDRINUSE);
	ck_assert_ptr_null(l2);
	ck_assert(fid_eq(socket_file(path), f));
	usock_close(l);
	ck_assert_int_eq(unlink(path), 0);

	abstract_name(abs, sizeof(abs));
	listen_ok(abs, type, 0, &l);
	ck_assert_int_eq(usock_listen(abs, type, 0, 0, &l2), -EADDRINUSE);
	ck_assert_int_eq(usock_listen(abs, type, USOCK_REPLACE_STALE, 0, &l2),
			 -EADDRINUSE);
	ck_assert_ptr_null(l2);
	assert_live(l, abs, type);
	/* ... per socket type: each type may bind the name once, and each
	 * connect reaches the listener of its own type. */
	for (int t = USOCK_SEQPACKET; t <= USOCK_DGRAM; t++) {
		if (t == type)
			continue;
		listen_ok(abs, t, 0, &l2);
		ck_assert_int_eq(usock_listen(abs, t, 0, 0, &other),
				 -EADDRINUSE);
		assert_live(l2, abs, t);
		usock_close(l2);
	}
	assert_live(l, abs, type);
	l2 = NULL;
	usock_close(l);
	/* Abstract names go with the last fd. */
	listen_ok(abs, type, 0, &l);
	usock_close(l);
	dir_remove(dir);
}
END_TEST

START_TEST(test_stale_replaced)
{
	const int type = _i;
	struct usock *l, *l2 = NULL, *c = NULL;
	char dir[TMP_PATH_MAX], path[TMP_PATH_MAX];
	struct fid old;

	tmpdir_create(dir);
	path_in(path, dir, "stale");
	listen_ok(path, type, 0, &l);
	old = socket_file(path);
	usock_close(l);
	/* Its listener is gone, the file stays: stale. */
	ck_assert(fid_eq(socket_file(path), old));
	ck_assert_int_eq(usock_connect(path, type, 0, &c), -ECONNREFUSED);
	ck_assert_int_eq(usock_connect(path, type, USOCK_NONBLOCK, &c),
			 -ECONNREFUSED);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(usock_listen(path, type, 0, 0, &l2), -EADDRINUSE);
	ck_assert_ptr_null(l2);
	ck_assert(fid_eq(socket_file(path), old));

	/* Replaced: (the inode number may be reused, so liveness shows it). */
	listen_ok(path, type, USOCK_REPLACE_STALE, &l);
	socket_file(path);
	assert_live(l, path, type);
	usock_close(l);
	ck_assert_int_eq(usock_connect(path, type, 0, &c), -ECONNREFUSED);

	/* A stale file of another type is just as stale. */
	listen_ok(path, (type + 1) % 3, USOCK_REPLACE_STALE, &l);
	socket_file(path);
	assert_live(l, path, (type + 1) % 3);
	usock_close(l);
	ck_assert_int_eq(unlink(path), 0);
	dir_remove(dir);
}
END_TEST

/* A live listener with USOCK_REPLACE_STALE: -EADDRINUSE, still live. The
 * probe's connection waits in the backlog and reads as closed at once
 * (documented); the next client is served normally. */
START_TEST(test_live_not_replaced)
{
	const int type = _i;
	struct usock *l, *l2 = NULL, *s;
	char dir[TMP_PATH_MAX], path[TMP_PATH_MAX];
	struct fid f;
	char c;

	tmpdir_create(dir);
	path_in(path, dir, "live");
	listen_ok(path, type, 0, &l);
	f = socket_file(path);
	ck_assert_int_eq(usock_listen(path, type, USOCK_REPLACE_STALE, 0, &l2),
			 -EADDRINUSE);
	ck_assert_ptr_null(l2);
	ck_assert(fid_eq(socket_file(path), f));
	if (type != USOCK_DGRAM) {
		ck_assert_int_eq(usock_accept(l, USOCK_NONBLOCK, &s), 0);
		ck_assert_int_eq(usock_recv(s, &c, 1, NULL), -EPIPE);
		usock_close(s);
	}
	assert_nothing_queued(l);
	assert_live(l, path, type);
	usock_close(l);
	ck_assert_int_eq(unlink(path), 0);
	dir_remove(dir);
}
END_TEST

/* Never removes what is not a socket: a regular file, a directory, a
 * symlink (even one to a stale socket). */
START_TEST(test_not_a_socket_kept)
{
	const int type = _i;
	struct usock *l = NULL, *old;
	char dir[TMP_PATH_MAX], file[TMP_PATH_MAX], sub[TMP_PATH_MAX],
		link[TMP_PATH_MAX], target[TMP_PATH_MAX], buf[16];
	struct stat st, st2;
	int fd;

	tmpdir_create(dir);
	path_in(file, dir, "file");
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "keep me", 7), 7);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	ck_assert_int_eq(usock_listen(file, type, USOCK_REPLACE_STALE, 0, &l),
			 -EADDRINUSE);
	ck_assert_int_eq(usock_listen(file, type, 0, 0, &l), -EADDRINUSE);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(lstat(file, &st2), 0);
	ck_assert(S_ISREG(st2.st_mode));
	ck_assert_uint_eq(st2.st_ino, st.st_ino);
	ck_assert_int_eq(st2.st_size, 7);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 7);
	ck_assert(memcmp(buf, "keep me", 7) == 0);
	close(fd);
	/* Connecting to it is refused, not an error of the name. */
	ck_assert_int_eq(usock_connect(file, type, 0, &l), -ECONNREFUSED);

	path_in(sub, dir, "sub");
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(usock_listen(sub, type, USOCK_REPLACE_STALE, 0, &l),
			 -EADDRINUSE);
	ck_assert_int_eq(lstat(sub, &st2), 0);
	ck_assert(S_ISDIR(st2.st_mode));

	path_in(target, dir, "target");
	listen_ok(target, type, 0, &old);
	usock_close(old); /* stale now */
	path_in(link, dir, "link");
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(usock_listen(link, type, USOCK_REPLACE_STALE, 0, &l),
			 -EADDRINUSE);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(lstat(link, &st2), 0);
	ck_assert(S_ISLNK(st2.st_mode));
	socket_file(target);

	ck_assert_int_eq(unlink(link), 0);
	ck_assert_int_eq(unlink(target), 0);
	ck_assert_int_eq(rmdir(sub), 0);
	ck_assert_int_eq(unlink(file), 0);
	dir_remove(dir);
}
END_TEST

/* ---- USOCK_UNLINK_ON_CLOSE --------------------------------------------- */

START_TEST(test_unlink_on_close)
{
	const int type = _i;
	struct usock *l, *other;
	char dir[TMP_PATH_MAX], path[TMP_PATH_MAX], abs[TMP_PATH_MAX];
	struct fid f;
	int fd;

	tmpdir_create(dir);
	path_in(path, dir, "u");

	/* Removed on close. */
	listen_ok(path, type, USOCK_UNLINK_ON_CLOSE, &l);
	socket_file(path);
	assert_live(l, path, type);
	usock_close(l);
	ck_assert(!path_exists(path));

	/* Not when another socket took the path meanwhile. */
	listen_ok(path, type, USOCK_UNLINK_ON_CLOSE, &l);
	ck_assert_int_eq(unlink(path), 0);
	listen_ok(path, type, 0, &other);
	f = socket_file(path);
	usock_close(l);
	ck_assert(fid_eq(socket_file(path), f));
	assert_live(other, path, type);
	usock_close(other);
	ck_assert_int_eq(unlink(path), 0);

	/* Nor when a regular file took it. */
	listen_ok(path, type, USOCK_UNLINK_ON_CLOSE, &l);
	ck_assert_int_eq(unlink(path), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	usock_close(l);
	ck_assert(path_exists(path));
	ck_assert_int_eq(unlink(path), 0);

	/* usock_release_fd hands over the fd and forgets the duty. */
	listen_ok(path, type, USOCK_UNLINK_ON_CLOSE, &l);
	f = socket_file(path);
	fd = usock_release_fd(l);
	ck_assert_int_ge(fd, 0);
	ck_assert(fid_eq(socket_file(path), f));
	ck_assert_int_eq(close(fd), 0);
	ck_assert(fid_eq(socket_file(path), f));
	ck_assert_int_eq(unlink(path), 0);

	/* Without the flag nobody removes it. */
	listen_ok(path, type, 0, &l);
	usock_close(l);
	socket_file(path);
	ck_assert_int_eq(unlink(path), 0);

	/* Abstract: nothing to remove, the name is free after close. */
	abstract_name(abs, sizeof(abs));
	listen_ok(abs, type, USOCK_UNLINK_ON_CLOSE, &l);
	usock_close(l);
	listen_ok(abs, type, 0, &l);
	usock_close(l);
	dir_remove(dir);
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

START_TEST(test_connect_errors)
{
	const int type = _i;
	struct usock *l, *c = NULL;
	char dir[TMP_PATH_MAX], path[TMP_PATH_MAX], abs[TMP_PATH_MAX];

	tmpdir_create(dir);
	path_in(path, dir, "missing");
	ck_assert_int_eq(usock_connect(path, type, 0, &c), -ENOENT);
	path_in(path, dir, "no/such/dir");
	ck_assert_int_eq(usock_connect(path, type, 0, &c), -ENOENT);
	abstract_name(abs, sizeof(abs));
	ck_assert_int_eq(usock_connect(abs, type, 0, &c), -ECONNREFUSED);

	/* Another socket type listens there. */
	path_in(path, dir, "typed");
	listen_ok(path, type, USOCK_UNLINK_ON_CLOSE, &l);
	for (int t = USOCK_SEQPACKET; t <= USOCK_DGRAM; t++)
		if (t != type)
			ck_assert_int_eq(usock_connect(path, t, 0, &c),
					 -EPROTOTYPE);
	usock_close(l);
	/*
	 * Abstract names are looked up per socket type (Linux hashes the type
	 * into the name): another type finds nobody, -ECONNREFUSED, not
	 * -EPROTOTYPE.
	 */
	listen_ok(abs, type, 0, &l);
	for (int t = USOCK_SEQPACKET; t <= USOCK_DGRAM; t++)
		if (t != type)
			ck_assert_int_eq(usock_connect(abs, t, 0, &c),
					 -ECONNREFUSED);
	usock_close(l);

	/* Arguments. */
	ck_assert_int_eq(usock_connect(NULL, type, 0, &c), -EINVAL);
	ck_assert_int_eq(usock_connect(abs, type, 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_connect(abs, 3, 0, &c), -EINVAL);
	ck_assert_int_eq(usock_connect(abs, -1, 0, &c), -EINVAL);
	ck_assert_int_eq(usock_connect(abs, type, USOCK_REPLACE_STALE, &c),
			 -EINVAL);
	ck_assert_int_eq(usock_connect(abs, type, USOCK_UNLINK_ON_CLOSE, &c),
			 -EINVAL);
	ck_assert_int_eq(usock_connect(abs, type, 0x100, &c), -EINVAL);
	ck_assert_ptr_null(c);
	dir_remove(dir);
}
END_TEST

START_TEST(test_listen_errors)
{
	const int type = _i;
	struct usock *l = NULL;
	char dir[TMP_PATH_MAX], path[TMP_PATH_MAX], abs[TMP_PATH_MAX];
	int fd;

	tmpdir_create(dir);
	abstract_name(abs, sizeof(abs));
	ck_assert_int_eq(usock_listen(NULL, type, 0, 0, &l), -EINVAL);
	ck_assert_int_eq(usock_listen(abs, type, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_listen(abs, 3, 0, 0, &l), -EINVAL);
	ck_assert_int_eq(usock_listen(abs, -1, 0, 0, &l), -EINVAL);
	ck_assert_int_eq(usock_listen(abs, type, 0x8, 0, &l), -EINVAL);
	ck_assert_int_eq(usock_listen(abs, type, 0, -1, &l), -EINVAL);
	ck_assert_ptr_null(l);
	/* None of them bound the name. */
	listen_ok(abs, type, 0, &l);
	usock_close(l);
	l = NULL;

	path_in(path, dir, "no/such/dir");
	ck_assert_int_eq(usock_listen(path, type, 0, 0, &l), -ENOENT);
	ck_assert_int_eq(usock_listen(path, type, USOCK_REPLACE_STALE, 0, &l),
			 -ENOENT);
	path_in(path, dir, "file");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	path_in(path, dir, "file/sock");
	ck_assert_int_eq(usock_listen(path, type, 0, 0, &l), -ENOTDIR);
	ck_assert_ptr_null(l);
	path_in(path, dir, "file");
	ck_assert_int_eq(unlink(path), 0);
	/* Nothing left behind by any of them: the directory is empty. */
	dir_remove(dir);
}
END_TEST

struct perm_arg {
	const char *dir, *sock;
	int type;
};

/* As an ordinary user: no write permission on the socket file -> EACCES for
 * connect; no write permission on the directory -> EACCES for listen. */
static int child_permissions(void *p)
{
	const struct perm_arg *a = p;
	char path[TMP_PATH_MAX];
	struct usock *s = NULL;

	child_drop_privileges();
	CHILD_ASSERT(geteuid() != 0);
	CHILD_ASSERT_INT_EQ(usock_connect(a->sock, a->type, 0, &s), -EACCES);
	snprintf(path, sizeof(path), "%s/new", a->dir);
	CHILD_ASSERT_INT_EQ(usock_listen(path, a->type, 0, 0, &s), -EACCES);
	CHILD_ASSERT(s == NULL);
	CHILD_ASSERT(!path_exists(path));
	return 0;
}

START_TEST(test_permissions)
{
	struct perm_arg arg = { .type = _i };
	struct usock *l;
	char dir[TMP_PATH_MAX], path[TMP_PATH_MAX];

	tmpdir_create(dir);
	path_in(path, dir, "private");
	listen_ok(path, _i, USOCK_UNLINK_ON_CLOSE, &l);
	/* Searchable but not writable directory, socket not writable. */
	ck_assert_int_eq(chmod(path, 0400), 0);
	ck_assert_int_eq(chmod(dir, 0555), 0);
	arg.dir = dir;
	arg.sock = path;
	child_wait_ok(child_spawn(child_permissions, &arg));
	ck_assert_int_eq(chmod(dir, 0700), 0);
	usock_close(l);
	ck_assert(!path_exists(path));
	dir_remove(dir);
}
END_TEST

START_TEST(test_accept_errors)
{
	struct usock *a, *b, *s = NULL;

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_accept(NULL, 0, &s), -EINVAL);
	ck_assert_int_eq(usock_accept(a, 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_accept(a, USOCK_REPLACE_STALE, &s), -EINVAL);
	ck_assert_int_eq(usock_accept(a, 0x100, &s), -EINVAL);
	/* Not a listener: the kernel's answer. */
	ck_assert_int_eq(usock_accept(a, 0, &s),
			 _i == USOCK_DGRAM ? -EOPNOTSUPP : -EINVAL);
	ck_assert_ptr_null(s);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* Accepted sockets get the listener's options and fd quota. */
START_TEST(test_accept_inherits)
{
	struct usock *l, *c, *s;
	struct usock_msg *m = msg_new_ok();
	char name[TMP_PATH_MAX];
	int fds[3] = { STDIN_FILENO, STDIN_FILENO, STDIN_FILENO };
	size_t before;
	char buf[4];

	abstract_name(name, sizeof(name));
	ck_assert_int_eq(usock_listen(name, _i, 0, 0, &l), 0);
	ck_assert_int_eq(usock_set_passcred(l, 1), 0);
	ck_assert_int_eq(usock_set_max_fds(l, 2), 0);
	ck_assert_int_eq(usock_connect(name, _i, 0, &c), 0);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	ck_assert_int_eq(sockopt_int(usock_get_fd(s), SO_PASSCRED), 1);
	ck_assert_int_eq(usock_get_max_fds(s), 2);
	send_fds_ok(c, "3", 1, fds, 3);
	ck_assert_int_eq(usock_recv(s, buf, 1, m), -E2BIG);
	send_fds_ok(c, "2", 1, fds, 2);
	ck_assert_int_eq(usock_recv(s, buf, 1, m), 1);
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	ck_assert_int_eq(usock_msg_get_creds(m, &(int32_t){ 0 },
					     &(uint32_t){ 0 },
					     &(uint32_t){ 0 }),
			 0);
	usock_close(s);
	usock_close(c);

	/* A quota of 0 refuses fds in the kernel where it can. */
	ck_assert_int_eq(usock_set_max_fds(l, 0), 0);
	ck_assert_int_eq(usock_connect(name, _i, 0, &c), 0);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	ck_assert_int_eq(usock_get_max_fds(s), 0);
	usock_msg_reset(m);
	ck_assert_int_eq(usock_msg_add_fd(m, STDIN_FILENO), 0);
	if (kernel_has_passrights()) {
		ck_assert_int_eq(sockopt_int(usock_get_fd(s), SO_PASSRIGHTS), 0);
		ck_assert_int_eq(usock_send(c, "f", 1, m), -EPERM);
	} else {
		/* Before Linux 6.16 the library alone refuses the fds. */
		before = fd_count();
		ck_assert_int_eq(usock_send(c, "f", 1, m), 1);
		ck_assert_int_eq(usock_recv(s, buf, 1, m), -E2BIG);
		ck_assert_int_eq(usock_msg_get_nfds(m), 0);
		ck_assert_uint_eq(fd_count(), before);
	}
	usock_msg_reset(m);
	ck_assert_int_eq(usock_send(c, "1", 1, NULL), 1);
	ck_assert_int_eq(usock_recv(s, buf, 1, m), 1);
	ck_assert_int_eq(buf[0], '1');
	usock_close(s);
	usock_close(c);
	usock_close(l);
	usock_msg_free(m);
}
END_TEST

TEST_SUITE(connect)
{
	TCase *tc;

	tc = fd_tcase(s, "roundtrip");
	tcase_add_loop_test(tc, test_roundtrip, 0, 6);
	tcase_add_test(tc, test_dgram_receiver);
	tcase_add_conn_test(tc, test_nonblock_flags);
	tcase_add_conn_test(tc, test_listener_polls);
	tcase_add_conn_test(tc, test_backlog_full);

	tc = fd_tcase(s, "names");
	tcase_add_types_test(tc, test_name_lengths);
	tcase_add_test(tc, test_at_path);
	tcase_add_types_test(tc, test_addrinuse);
	tcase_add_types_test(tc, test_stale_replaced);
	tcase_add_types_test(tc, test_live_not_replaced);
	tcase_add_types_test(tc, test_not_a_socket_kept);
	tcase_add_types_test(tc, test_unlink_on_close);

	tc = fd_tcase(s, "errors");
	tcase_add_types_test(tc, test_connect_errors);
	tcase_add_types_test(tc, test_listen_errors);
	tcase_add_types_test(tc, test_permissions);

	tc = fd_tcase(s, "accept");
	tcase_add_types_test(tc, test_accept_errors);
	tcase_add_conn_test(tc, test_accept_inherits);
}
