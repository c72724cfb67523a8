/* SPDX-License-Identifier: MIT */
/* The per-socket receive quota: usock_set_max_fds / usock_get_max_fds. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

/* Send a 3-byte payload with n copies of stdin. */
static void send_n(struct usock *s, const char *payload, unsigned int n)
{
	int fds[USOCK_MAX_FDS];

	for (unsigned int i = 0; i < n; i++)
		fds[i] = STDIN_FILENO;
	send_fds_ok(s, payload, 3, fds, n);
}

START_TEST(test_default_and_range)
{
	struct usock *a, *b, *s;
	int sv[2];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(usock_get_max_fds(a), USOCK_MAX_FDS);
	ck_assert_int_eq(usock_get_max_fds(b), USOCK_MAX_FDS);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(usock_adopt(sv[0], 0, &s), 0);
	ck_assert_int_eq(usock_get_max_fds(s), USOCK_MAX_FDS);

	for (unsigned int v = 0; v <= USOCK_MAX_FDS; v++) {
		ck_assert_int_eq(usock_set_max_fds(a, v), 0);
		ck_assert_int_eq(usock_get_max_fds(a), v);
	}
	ck_assert_int_eq(usock_set_max_fds(a, 7), 0);
	ck_assert_int_eq(usock_set_max_fds(a, USOCK_MAX_FDS + 1), -EINVAL);
	ck_assert_int_eq(usock_set_max_fds(a, UINT_MAX), -EINVAL);
	ck_assert_int_eq(usock_get_max_fds(a), 7);
	/* Per socket: the other end keeps its own. */
	ck_assert_int_eq(usock_get_max_fds(b), USOCK_MAX_FDS);

	usock_close(s);
	close(sv[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_over_quota)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	size_t before;
	char buf[3];

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, 2), 0);
	send_n(a, "ovr", 3);
	send_n(a, "yes", 2);
	send_n(a, "one", 1);
	send_n(a, "nul", 3);
	send_n(a, "end", 0);

	before = fd_count();
	/* Rejected, every fd closed, the message consumed. */
	ck_assert_int_eq(usock_recv(b, buf, 3, m), -E2BIG);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_uint_eq(fd_count(), before);
	ck_assert_int_eq(usock_recv(b, buf, 3, m), 3);
	ck_assert(memcmp(buf, "yes", 3) == 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	ck_assert_int_eq(usock_recv(b, buf, 3, m), 3);
	ck_assert(memcmp(buf, "one", 3) == 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	usock_msg_reset(m);
	/* The policy holds without a message object too. */
	ck_assert_int_eq(usock_recv(b, buf, 3, NULL), -E2BIG);
	ck_assert_uint_eq(fd_count(), before);
	ck_assert_int_eq(usock_recv(b, buf, 3, NULL), 3);
	ck_assert(memcmp(buf, "end", 3) == 0);

	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

/*
 * The CMSG_SPACE padding trap: a buffer of CMSG_SPACE(max * 4) holds one
 * more fd than max when max is odd. _i is max (1 or 3).
 */
START_TEST(test_padding_trap)
{
	const unsigned int max = (unsigned int)_i;
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	size_t before;
	char buf[3];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, max), 0);
	send_n(a, "big", max + 1);
	send_n(a, "fit", max);
	before = fd_count();
	ck_assert_int_eq(usock_recv(b, buf, 3, m), -E2BIG);
	ck_assert_uint_eq(fd_count(), before);
	ck_assert_int_eq(usock_recv(b, buf, 3, m), 3);
	ck_assert_int_eq(usock_msg_get_nfds(m), max);
	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* Credentials and a pidfd come first in the kernel's order: the quota
 * still lets max fds through with them, and rejects max + 1. */
START_TEST(test_quota_with_creds_and_pidfd)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	bool pidfd = true;
	size_t before;
	char buf[3];
	int r;

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, 2), 0);
	ck_assert_int_eq(usock_set_passcred(b, 1), 0);
	r = usock_set_passpidfd(b, 1);
	if (r == -ENOPROTOOPT)
		pidfd = false;
	else
		ck_assert_int_eq(r, 0);
	send_n(a, "two", 2);
	send_n(a, "thr", 3);

	before = fd_count();
	ck_assert_int_eq(usock_recv(b, buf, 3, m), 3);
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	ck_assert_int_eq(usock_msg_get_creds(m, &(int32_t){ 0 },
					     &(uint32_t){ 0 },
					     &(uint32_t){ 0 }),
			 0);
	if (pidfd)
		ck_assert_int_ge(usock_msg_get_pidfd(m), 0);
	ck_assert_uint_eq(fd_count(), before + 2 + pidfd);
	ck_assert_int_eq(usock_recv(b, buf, 3, m), -E2BIG);
	ck_assert_int_eq(usock_msg_get_pidfd(m), -ENODATA);
	ck_assert_uint_eq(fd_count(), before);

	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_quota_zero)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int passrights = -1;
	socklen_t len = sizeof(passrights);
	size_t before;
	char buf[3];

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, 0), 0);
	ck_assert_int_eq(usock_get_max_fds(b), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, STDIN_FILENO), 0);
	if (getsockopt(usock_get_fd(b), SOL_SOCKET, SO_PASSRIGHTS, &passrights,
		       &len) == 0) {
		/* The kernel refuses them: the sender learns at once. */
		ck_assert_int_eq(passrights, 0);
		ck_assert_int_eq(usock_send(a, "fds", 3, m), -EPERM);
	} else {
		/* Older kernel: they arrive and the library rejects them. */
		ck_assert_int_eq(usock_send(a, "fds", 3, m), 3);
		before = fd_count();
		ck_assert_int_eq(usock_recv(b, buf, 3, NULL), -E2BIG);
		ck_assert_uint_eq(fd_count(), before);
	}
	ck_assert_int_eq(usock_send(a, "pln", 3, NULL), 3);
	usock_msg_reset(m);
	ck_assert_int_eq(usock_recv(b, buf, 3, m), 3);
	ck_assert(memcmp(buf, "pln", 3) == 0);

	/* Lifted again: fds flow. */
	ck_assert_int_eq(usock_set_max_fds(b, 1), 0);
	if (len == sizeof(passrights)) {
		ck_assert_int_eq(getsockopt(usock_get_fd(b), SOL_SOCKET,
					    SO_PASSRIGHTS, &passrights, &len),
				 0);
		ck_assert_int_eq(passrights, 1);
	}
	send_n(a, "one", 1);
	ck_assert_int_eq(usock_recv(b, buf, 3, m), 3);
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);

	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* Precedence: -E2BIG (quota) before -EMSGSIZE (payload). */
START_TEST(test_quota_before_msgsize)
{
	struct usock *a, *b;
	int fds[3] = { STDIN_FILENO, STDIN_FILENO, STDIN_FILENO };
	size_t before;
	char buf[4];

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, 2), 0);
	send_fds_ok(a, "0123456789", 10, fds, 3);
	send_fds_ok(a, "next", 4, fds, 2);
	before = fd_count();
	ck_assert_int_eq(usock_recv(b, buf, 4, NULL), -E2BIG);
	ck_assert_uint_eq(fd_count(), before);
	ck_assert_int_eq(usock_recv(b, buf, 4, NULL), 4);
	ck_assert(memcmp(buf, "next", 4) == 0);
	usock_close(a);
	usock_close(b);
}
END_TEST

struct slots_arg {
	struct usock *b;
};

/*
 * Precedence: over the quota is -E2BIG even when the fd table is nearly
 * full; within the quota but not fitting the table is -EMFILE. (With fewer
 * free slots than the quota the two cannot be told apart: the kernel stops
 * at the first fd that does not fit.)
 */
static int child_quota_vs_emfile(void *p)
{
	struct slots_arg *a = p;
	struct usock_msg *m;
	struct rlimit rl;
	int highest, filler[1024], n = 0, extra;
	char buf[3];

	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	highest = fd_highest();
	for (int fd = 3; fd < highest; fd++) {
		if (fd_is_open(fd))
			continue;
		CHILD_ASSERT(n < 1024);
		filler[n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		CHILD_ASSERT_INT_EQ(filler[n], fd);
		n++;
	}
	/* Two free slots: highest + 1 and highest + 2. */
	CHILD_ASSERT(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = (rlim_t)highest + 3;
	CHILD_ASSERT(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (!kernel_nofile_soft_limit_is((unsigned long)highest + 3)) {
		fprintf(stderr, "note: RLIMIT_NOFILE not applied by the kernel "
				"(valgrind?): precedence not checked\n");
		usock_msg_free(m);
		return 0;
	}

	/* Three fds, quota 2, two free slots: over the quota. */
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, 3, m), -E2BIG);
	CHILD_ASSERT(!fd_is_open(highest + 1));
	CHILD_ASSERT(!fd_is_open(highest + 2));

	/* Two fds, one free slot: the table is full. */
	extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHILD_ASSERT_INT_EQ(extra, highest + 1);
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, 3, m), -EMFILE);
	CHILD_ASSERT_INT_EQ(usock_msg_get_nfds(m), 0);
	CHILD_ASSERT(!fd_is_open(highest + 2));
	close(extra);

	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, 3, m), 3);
	CHILD_ASSERT_INT_EQ(usock_msg_get_nfds(m), 1);

	while (n-- > 0)
		close(filler[n]);
	usock_msg_free(m);
	return 0;
}

START_TEST(test_quota_before_emfile)
{
	struct slots_arg arg;
	struct usock *a;

	pair_ok(USOCK_SEQPACKET, 0, &a, &arg.b);
	ck_assert_int_eq(usock_set_max_fds(arg.b, 2), 0);
	send_n(a, "ovr", 3);
	send_n(a, "two", 2);
	send_n(a, "one", 1);
	child_wait_ok(child_spawn(child_quota_vs_emfile, &arg));
	usock_close(a);
	usock_close(arg.b);
}
END_TEST

TEST_SUITE(quota)
{
	TCase *tc = fd_tcase(s, "quota");

	tcase_add_test(tc, test_default_and_range);
	tcase_add_loop_test(tc, test_over_quota, USOCK_SEQPACKET,
			    USOCK_DGRAM + 1);
	tcase_add_loop_test(tc, test_padding_trap, 1, 2);
	tcase_add_loop_test(tc, test_padding_trap, 3, 4);
	tcase_add_loop_test(tc, test_quota_with_creds_and_pidfd,
			    USOCK_SEQPACKET, USOCK_DGRAM + 1);
	tcase_add_loop_test(tc, test_quota_zero, USOCK_SEQPACKET,
			    USOCK_DGRAM + 1);
	tcase_add_loop_test(tc, test_quota_before_msgsize, USOCK_SEQPACKET,
			    USOCK_SEQPACKET + 1);
	tcase_add_loop_test(tc, test_quota_before_msgsize, USOCK_DGRAM,
			    USOCK_DGRAM + 1);
	tcase_add_test(tc, test_quota_before_emfile);
}
