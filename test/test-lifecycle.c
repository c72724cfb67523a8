/* SPDX-License-Identifier: MIT */
/* Handles: pair, adopt, close, release, version and the two options. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

static const int sock_types[] = {
	[USOCK_SEQPACKET] = SOCK_SEQPACKET,
	[USOCK_STREAM] = SOCK_STREAM,
	[USOCK_DGRAM] = SOCK_DGRAM,
};

/* Both ends are connected to each other: a byte goes across each way. */
static void assert_connected(int fa, int fb)
{
	char c = 0;

	ck_assert_int_eq(write(fa, "a", 1), 1);
	ck_assert_int_eq(read(fb, &c, 1), 1);
	ck_assert_int_eq(c, 'a');
	ck_assert_int_eq(write(fb, "b", 1), 1);
	ck_assert_int_eq(read(fa, &c, 1), 1);
	ck_assert_int_eq(c, 'b');
}

START_TEST(test_pair_types)
{
	const int type = _i;
	struct usock *a = NULL, *b = NULL;
	int fa, fb;

	ck_assert_int_eq(usock_pair(type, 0, &a, &b), 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	ck_assert_int_eq(usock_get_type(a), type);
	ck_assert_int_eq(usock_get_type(b), type);

	fa = usock_get_fd(a);
	fb = usock_get_fd(b);
	ck_assert_int_ge(fa, 0);
	ck_assert_int_ge(fb, 0);
	ck_assert_int_ne(fa, fb);
	/* Exactly the two new fds appeared. */
	ck_assert_uint_eq(fd_count(), fd_baseline()->n + 2);

	ck_assert_int_eq(fd_cloexec(fa), 1);
	ck_assert_int_eq(fd_cloexec(fb), 1);
	ck_assert_int_eq(fd_nonblock(fa), 0);
	ck_assert_int_eq(fd_nonblock(fb), 0);
	ck_assert_int_eq(sockopt_int(fa, SO_DOMAIN), AF_UNIX);
	ck_assert_int_eq(sockopt_int(fa, SO_TYPE), sock_types[type]);
	ck_assert_int_eq(sockopt_int(fb, SO_TYPE), sock_types[type]);
	assert_connected(fa, fb);

	usock_close(a);
	usock_close(b);
	ck_assert(!fd_is_open(fa));
	ck_assert(!fd_is_open(fb));
}
END_TEST

START_TEST(test_pair_nonblock)
{
	const int type = _i;
	struct usock *a = NULL, *b = NULL;

	ck_assert_int_eq(usock_pair(type, USOCK_NONBLOCK, &a, &b), 0);
	ck_assert_int_eq(usock_get_type(a), type);
	ck_assert_int_eq(fd_nonblock(usock_get_fd(a)), 1);
	ck_assert_int_eq(fd_nonblock(usock_get_fd(b)), 1);
	ck_assert_int_eq(fd_cloexec(usock_get_fd(a)), 1);
	ck_assert_int_eq(fd_cloexec(usock_get_fd(b)), 1);
	assert_connected(usock_get_fd(a), usock_get_fd(b));
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_pair_bad_args)
{
	/* SOCK_SEQPACKET (5): a SOCK_ value is not a USOCK_ type. */
	static const int bad_types[] = {
		-1, 3, 4, 100, INT_MAX, INT_MIN, SOCK_SEQPACKET
	};
	static const int bad_flags[] = {
		0x2, 0x4, 0x100, SOCK_CLOEXEC, SOCK_NONBLOCK, INT_MIN, -1
	};
	struct usock *a = (struct usock *)&a, *b = (struct usock *)&b;
	struct usock *const sa = a, *const sb = b;

	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		ck_assert_int_eq(usock_pair(bad_types[i], 0, &a, &b), -EINVAL);
		ck_assert_int_eq(
			usock_pair(bad_types[i], USOCK_NONBLOCK, &a, &b),
			-EINVAL);
	}
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++)
		for (int t = USOCK_SEQPACKET; t <= USOCK_DGRAM; t++)
			ck_assert_int_eq(usock_pair(t, bad_flags[i], &a, &b),
					 -EINVAL);
	ck_assert_int_eq(usock_pair(USOCK_STREAM, 0, &a, &a), -EINVAL);
	/* On failure the outputs are untouched (and the fixture checks that
	 * no fd was left behind). */
	ck_assert_ptr_eq(a, sa);
	ck_assert_ptr_eq(b, sb);
	ck_assert_uint_eq(fd_count(), fd_baseline()->n);
}
END_TEST

static int child_pair_emfile(void *arg)
{
	struct usock *a = (struct usock *)&a, *b = (struct usock *)&b;
	struct usock *const sa = a, *const sb = b;

	(void)arg;
	/* Keep 0-2 only, then allow exactly one more fd: a pair needs two. */
	close_fds_from(3);
	if (!child_set_nofile(4, "EMFILE case"))
		return 0;

	for (int t = USOCK_SEQPACKET; t <= USOCK_DGRAM; t++) {
		CHILD_ASSERT_INT_EQ(usock_pair(t, 0, &a, &b), -EMFILE);
		CHILD_ASSERT(a == sa && b == sb);
		/* The one slot that was free is free again. */
		CHILD_ASSERT(!fd_is_open(3));
		CHILD_ASSERT(!fd_is_open(4));
	}
	return 0;
}

START_TEST(test_pair_emfile)
{
	child_wait_ok(child_spawn(child_pair_emfile, NULL));
}
END_TEST

START_TEST(test_adopt_unix)
{
	const int type = _i;
	struct usock *s = NULL;
	int sv[2];

	/* Made elsewhere, without close-on-exec and blocking. */
	ck_assert_int_eq(socketpair(AF_UNIX, sock_types[type], 0, sv), 0);
	ck_assert_int_eq(fd_cloexec(sv[0]), 0);

	ck_assert_int_eq(usock_adopt(sv[0], 0, &s), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(usock_get_type(s), type);
	ck_assert_int_eq(usock_get_fd(s), sv[0]);
	ck_assert_int_eq(fd_cloexec(sv[0]), 1);
	/* Without USOCK_NONBLOCK the blocking mode is left as it was. */
	ck_assert_int_eq(fd_nonblock(sv[0]), 0);
	/* The peer was not touched. */
	ck_assert_int_eq(fd_cloexec(sv[1]), 0);
	ck_assert_uint_eq(fd_count(), fd_baseline()->n + 2);
	assert_connected(sv[0], sv[1]);

	/* The handle owns the fd now. */
	usock_close(s);
	ck_assert(!fd_is_open(sv[0]));
	close(sv[1]);
}
END_TEST

START_TEST(test_adopt_nonblock)
{
	struct usock *s = NULL, *t = NULL;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(usock_adopt(sv[0], USOCK_NONBLOCK, &s), 0);
	ck_assert_int_eq(fd_nonblock(sv[0]), 1);
	ck_assert_int_eq(fd_cloexec(sv[0]), 1);

	/* Already nonblocking and adopted without the flag: stays so. */
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(usock_adopt(sv[1], 0, &t), 0);
	ck_assert_int_eq(fd_nonblock(sv[1]), 1);
	ck_assert_int_eq(usock_get_type(t), USOCK_SEQPACKET);

	usock_close(s);
	usock_close(t);
	ck_assert(!fd_is_open(sv[0]));
	ck_assert(!fd_is_open(sv[1]));
}
END_TEST

START_TEST(test_adopt_pipe)
{
	struct usock *s = (struct usock *)&s;
	char buf[8] = "";
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(usock_adopt(p[0], 0, &s), -ENOTSOCK);
	ck_assert_int_eq(usock_adopt(p[1], USOCK_NONBLOCK, &s), -ENOTSOCK);
	/* Still the caller's, open and unchanged. */
	ck_assert_int_eq(fd_cloexec(p[0]), 0);
	ck_assert_int_eq(fd_cloexec(p[1]), 0);
	ck_assert_int_eq(fd_nonblock(p[0]), 0);
	ck_assert_int_eq(fd_nonblock(p[1]), 0);
	ck_assert_int_eq(write(p[1], "pipe", 4), 4);
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "pipe");
	ck_assert_int_eq(close(p[0]), 0);
	ck_assert_int_eq(close(p[1]), 0);
}
END_TEST

/* Sockets that are not AF_UNIX, each with what SO_TYPE reports. */
static const struct {
	int domain, type, protocol;
} foreign[] = {
	{ AF_INET, SOCK_STREAM, IPPROTO_TCP },
	{ AF_INET, SOCK_DGRAM, IPPROTO_UDP },
	{ AF_NETLINK, SOCK_RAW, NETLINK_ROUTE },
};

START_TEST(test_adopt_foreign)
{
	struct usock *s = (struct usock *)&s;
	int fd = socket(foreign[_i].domain, foreign[_i].type,
			foreign[_i].protocol);

	ck_assert_msg(fd >= 0, "socket(%d, %d): %s", foreign[_i].domain,
		      foreign[_i].type, strerror(errno));
	ck_assert_int_eq(usock_adopt(fd, 0, &s), -EAFNOSUPPORT);
	ck_assert_int_eq(usock_adopt(fd, USOCK_NONBLOCK, &s), -EAFNOSUPPORT);
	/* Still open, still the same socket, flags unchanged. */
	ck_assert_int_eq(sockopt_int(fd, SO_DOMAIN), foreign[_i].domain);
	ck_assert_int_eq(sockopt_int(fd, SO_TYPE), foreign[_i].type);
	ck_assert_int_eq(fd_cloexec(fd), 0);
	ck_assert_int_eq(fd_nonblock(fd), 0);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_adopt_badfd)
{
	struct usock *s = (struct usock *)&s;
	int closed = closed_fd_number();

	ck_assert_int_eq(usock_adopt(-1, 0, &s), -EBADF);
	ck_assert_int_eq(usock_adopt(INT_MIN, 0, &s), -EBADF);
	ck_assert_int_eq(usock_adopt(closed, 0, &s), -EBADF);
	ck_assert_int_eq(usock_adopt(closed, USOCK_NONBLOCK, &s), -EBADF);
	ck_assert_int_eq(usock_adopt(INT_MAX, 0, &s), -EBADF);
	ck_assert(!fd_is_open(closed));
}
END_TEST

START_TEST(test_adopt_einval)
{
	struct usock *s = (struct usock *)&s;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(usock_adopt(sv[0], 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_adopt(sv[0], 0x2, &s), -EINVAL);
	ck_assert_int_eq(usock_adopt(sv[0], SOCK_CLOEXEC, &s), -EINVAL);
	ck_assert_int_eq(usock_adopt(sv[0], -1, &s), -EINVAL);
	/* Still the caller's and unchanged. */
	ck_assert_int_eq(fd_cloexec(sv[0]), 0);
	ck_assert_int_eq(fd_nonblock(sv[0]), 0);
	assert_connected(sv[0], sv[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_release_fd)
{
	struct usock *a, *b;
	char c = 0;
	int fd;

	pair_ok(USOCK_STREAM, 0, &a, &b);
	fd = usock_get_fd(a);
	ck_assert_int_eq(usock_release_fd(a), fd);
	/* Open, still close-on-exec, still connected, and now ours. */
	ck_assert_int_eq(fd_cloexec(fd), 1);
	ck_assert_int_eq(write(fd, "r", 1), 1);
	ck_assert_int_eq(read(usock_get_fd(b), &c, 1), 1);
	ck_assert_int_eq(c, 'r');
	ck_assert_uint_eq(fd_count(), fd_baseline()->n + 2);
	ck_assert_int_eq(close(fd), 0);
	usock_close(b);
}
END_TEST

START_TEST(test_null_noops)
{
	usock_close(NULL);
	usock_msg_free(NULL);
	usock_msg_reset(NULL);
	ck_assert_uint_eq(fd_count(), fd_baseline()->n);
}
END_TEST

START_TEST(test_version)
{
	char want[32];
	const char *v = usock_version();

	snprintf(want, sizeof(want), "%d.%d.%d", USOCK_VERSION_MAJOR,
		 USOCK_VERSION_MINOR, USOCK_VERSION_MICRO);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, want);
	ck_assert_str_eq(v, "1.1.0");
	/* A static string: the same one every time. */
	ck_assert_ptr_eq(usock_version(), v);
}
END_TEST

START_TEST(test_set_nonblock)
{
	const int type = _i;
	struct usock *a, *b;
	char c;
	int fa;

	pair_ok(type, 0, &a, &b);
	fa = usock_get_fd(a);
	ck_assert_int_eq(fd_nonblock(fa), 0);

	ck_assert_int_eq(usock_set_nonblock(a, 1), 0);
	ck_assert_int_eq(fd_nonblock(fa), 1);
	ck_assert_int_eq(fd_nonblock(usock_get_fd(b)), 0);
	ck_assert_int_eq(usock_recv(a, &c, 1, NULL), -EAGAIN);
	/* Setting it twice is fine. */
	ck_assert_int_eq(usock_set_nonblock(a, 1), 0);
	ck_assert_int_eq(fd_nonblock(fa), 1);

	ck_assert_int_eq(usock_set_nonblock(a, 0), 0);
	ck_assert_int_eq(fd_nonblock(fa), 0);
	ck_assert_int_eq(usock_set_nonblock(a, 0), 0);
	ck_assert_int_eq(fd_nonblock(fa), 0);
	/* The access mode is untouched. */
	ck_assert_int_eq(fcntl(fa, F_GETFL) & O_ACCMODE, O_RDWR);
	ck_assert_int_eq(fd_cloexec(fa), 1);

	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_set_passcred)
{
	const int type = _i;
	/* SEQPACKET handles keep SO_PASSCRED on whatever the policy: every
	 * message then carries credentials, end of file none (usock(7)). */
	const int kept = type == USOCK_SEQPACKET;
	struct usock *a, *b;
	int fa;

	pair_ok(type, 0, &a, &b);
	fa = usock_get_fd(a);
	ck_assert_int_eq(sockopt_int(fa, SO_PASSCRED), kept);

	ck_assert_int_eq(usock_set_passcred(a, 1), 0);
	ck_assert_int_eq(sockopt_int(fa, SO_PASSCRED), 1);
	ck_assert_int_eq(sockopt_int(usock_get_fd(b), SO_PASSCRED), kept);
	ck_assert_int_eq(usock_set_passcred(a, 0), 0);
	ck_assert_int_eq(sockopt_int(fa, SO_PASSCRED), kept);
	/* Any non-zero value enables it. */
	ck_assert_int_eq(usock_set_passcred(a, 42), 0);
	ck_assert_int_eq(sockopt_int(fa, SO_PASSCRED), 1);
	ck_assert_int_eq(usock_set_passcred(a, -1), 0);
	ck_assert_int_eq(sockopt_int(fa, SO_PASSCRED), 1);
	ck_assert_int_eq(usock_set_passcred(a, 0), 0);
	ck_assert_int_eq(sockopt_int(fa, SO_PASSCRED), kept);

	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_options_closed_fd)
{
	struct usock *a, *b;
	char c;
	int fa;

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	fa = usock_get_fd(a);
	/* Closed behind the library's back (a caller bug it must survive). */
	ck_assert_int_eq(close(fa), 0);
	/* On SEQPACKET the option stays on: only the policy changes, and
	 * no system call is made. */
	ck_assert_int_eq(usock_set_passcred(a, 1), 0);
	if (kernel_has_passrights() || !kernel_personality()) {
		ck_assert_int_eq(usock_set_max_fds(a, 3), -EBADF);
		ck_assert_int_eq(usock_get_max_fds(a), USOCK_MAX_FDS);
	} else {
		/* The seccomp filter answers ENOPROTOOPT before the kernel
		 * looks at the fd, and the library takes that for a kernel
		 * without SO_PASSRIGHTS (a real one says EBADF). */
		ck_assert_int_eq(usock_set_max_fds(a, 3), 0);
		ck_assert_int_eq(usock_get_max_fds(a), 3);
	}
	ck_assert_int_eq(usock_set_nonblock(a, 1), -EBADF);
	ck_assert_int_eq(usock_set_nonblock(a, 0), -EBADF);
	ck_assert_int_eq(usock_send(a, "x", 1, NULL), -EBADF);
	ck_assert_int_eq(usock_recv(a, &c, 1, NULL), -EBADF);
	ck_assert_int_eq(usock_get_fd(a), fa);
	/* Free the handle without closing the (reusable) number again. */
	ck_assert_int_eq(usock_release_fd(a), fa);
	usock_close(b);
}
END_TEST

/* An adopted socket that was never connected: -ENOTCONN both ways (a DGRAM
 * socket may receive unconnected: nothing queued). */
START_TEST(test_adopt_unconnected)
{
	const int type = _i;
	struct usock *s;
	struct usock_msg *m = msg_new_ok();
	char c;
	int fd = socket(AF_UNIX, sock_types[type], 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(usock_adopt(fd, USOCK_NONBLOCK, &s), 0);
	ck_assert_int_eq(usock_get_type(s), type);
	ck_assert_int_eq(usock_send(s, "x", 1, NULL), -ENOTCONN);
	ck_assert_int_eq(usock_msg_add_fd(m, STDIN_FILENO), 0);
	ck_assert_int_eq(usock_send(s, "x", 1, m), -ENOTCONN);
	ck_assert_int_eq(usock_recv(s, &c, 1, NULL),
			 type == USOCK_DGRAM ? -EAGAIN : -ENOTCONN);
	usock_msg_free(m);
	usock_close(s);
}
END_TEST

TEST_SUITE(lifecycle)
{
	TCase *tc;

	tc = fd_tcase(s, "pair");
	tcase_add_types_test(tc, test_pair_types);
	tcase_add_types_test(tc, test_pair_nonblock);
	tcase_add_test(tc, test_pair_bad_args);
	tcase_add_test(tc, test_pair_emfile);

	tc = fd_tcase(s, "adopt");
	tcase_add_types_test(tc, test_adopt_unix);
	tcase_add_test(tc, test_adopt_nonblock);
	tcase_add_test(tc, test_adopt_pipe);
	tcase_add_loop_test(tc, test_adopt_foreign, 0,
			    sizeof(foreign) / sizeof(foreign[0]));
	tcase_add_test(tc, test_adopt_badfd);
	tcase_add_test(tc, test_adopt_einval);
	tcase_add_types_test(tc, test_adopt_unconnected);

	tc = fd_tcase(s, "handle");
	tcase_add_test(tc, test_release_fd);
	tcase_add_test(tc, test_null_noops);
	tcase_add_test(tc, test_version);
	tcase_add_types_test(tc, test_set_nonblock);
	tcase_add_types_test(tc, test_set_passcred);
	tcase_add_test(tc, test_options_closed_fd);
}
