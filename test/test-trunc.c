/* SPDX-License-Identifier: MIT */
/* Truncation: payload longer than the buffer, fds that do not fit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers.h"

#define TEN 10

/* _i: USOCK_SEQPACKET or USOCK_DGRAM; recv (even) or recvv (odd) below. */
START_TEST(test_payload_truncated)
{
	const int type = _i >= 2 ? USOCK_DGRAM : USOCK_SEQPACKET;
	const bool vec = _i & 1;
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fds[TEN], p[2];
	char buf[16];
	size_t before;

	pair_ok(type, 0, &a, &b);
	devnull_fds(fds, TEN);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	send_fds_ok(a, "0123456789", 10, fds, 3);
	send_fds_ok(a, "next", 4, p, 1);

	before = fd_count();
	memset(buf, 0, sizeof(buf));
	if (vec) {
		struct iovec iov[2] = {
			{ .iov_base = buf, .iov_len = 2 },
			{ .iov_base = buf + 2, .iov_len = 2 },
		};
		ck_assert_int_eq(usock_recvv(b, iov, 2, m), -EMSGSIZE);
	} else {
		ck_assert_int_eq(usock_recv(b, buf, 4, m), -EMSGSIZE);
	}
	/* buf has the first bytes; the fds that came were closed; m empty. */
	ck_assert(memcmp(buf, "0123\0", 5) == 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_uint_eq(fd_count(), before);

	/* The rest of that message is gone; the next one is whole. */
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 4);
	ck_assert(memcmp(buf, "next", 4) == 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 0)), fid_of(p[0])));
	assert_nothing_queued(b);

	/* Without a message: still an error, still nothing left open. */
	send_fds_ok(a, "0123456789", 10, fds, TEN);
	usock_msg_reset(m);
	before = fd_count();
	ck_assert_int_eq(usock_recv(b, buf, 4, NULL), -EMSGSIZE);
	ck_assert_uint_eq(fd_count(), before);

	usock_msg_free(m);
	close_fds(fds, TEN);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* With m NULL every fd that arrives is closed, and that is no error. */
START_TEST(test_null_msg_closes_fds)
{
	struct usock *a, *b;
	int fds[TEN];
	char buf[16];
	size_t before;

	pair_ok(_i, 0, &a, &b);
	devnull_fds(fds, TEN);
	send_fds_ok(a, "ten", 3, fds, TEN);
	before = fd_count();
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), 3);
	ck_assert(memcmp(buf, "ten", 3) == 0);
	ck_assert_uint_eq(fd_count(), before);

	close_fds(fds, TEN);
	usock_close(a);
	usock_close(b);
}
END_TEST

struct rlimit_arg {
	struct usock *b;
	int type;
};

static int child_emfile(void *p)
{
	struct rlimit_arg *a = p;
	struct usock_msg *m;
	struct fd_table before;
	int filler[1024], nfill, highest = fd_highest();
	char buf[16];

	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	/* Exactly three free fd slots: every hole below the highest open fd
	 * filled, the limit three above it. */
	nfill = child_fill_fd_holes(highest, filler, 1024);
	if (!child_set_nofile((unsigned long)highest + 4, "EMFILE case")) {
		usock_msg_free(m);
		return 0;
	}

	/* Ten fds, three free slots: -EMFILE, nothing left behind. */
	fd_table_snapshot(&before);
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, sizeof(buf), m), -EMFILE);
	CHILD_ASSERT_INT_EQ(usock_msg_get_nfds(m), 0);
	CHILD_ASSERT_FD_TABLE_IS(&before);

	/* The next message is intact. */
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, sizeof(buf), m), 4);
	CHILD_ASSERT(memcmp(buf, "next", 4) == 0);
	CHILD_ASSERT_INT_EQ(usock_msg_get_nfds(m), 1);
	usock_msg_reset(m);

	/* Truncated payload and truncated fds: -EMFILE wins. */
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, 2, m), -EMFILE);
	CHILD_ASSERT_FD_TABLE_IS(&before);

	/* Without a message the lost fds are no error. */
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, sizeof(buf), NULL), 4);
	CHILD_ASSERT(memcmp(buf, "null", 4) == 0);
	CHILD_ASSERT_FD_TABLE_IS(&before);
	fd_table_free(&before);

	/* Still usable afterwards. */
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, sizeof(buf), m), 4);
	CHILD_ASSERT(memcmp(buf, "last", 4) == 0);
	CHILD_ASSERT_INT_EQ(usock_msg_get_nfds(m), 0);

	for (int i = 0; i < nfill; i++)
		close(filler[i]);
	usock_msg_free(m);
	return 0;
}

START_TEST(test_emfile)
{
	struct rlimit_arg arg = { .type = _i };
	struct usock *a;
	struct rlimit before, after;
	int fds[TEN];
	pid_t pid;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &before), 0);
	pair_ok(_i, 0, &a, &arg.b);
	devnull_fds(fds, TEN);
	/* Queued before the child starts; exact reads keep STREAM apart. */
	send_fds_ok(a, "ten!", 4, fds, TEN);
	send_fds_ok(a, "next", 4, fds, 1);
	send_fds_ok(a, "0123456789", 10, fds, TEN);
	send_fds_ok(a, "null", 4, fds, TEN);
	ck_assert_int_eq(usock_send(a, "last", 4, NULL), 4);

	pid = child_spawn(child_emfile, &arg);
	child_wait_ok(pid);

	/* The parent's limit was never touched. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &after), 0);
	ck_assert_uint_eq(after.rlim_cur, before.rlim_cur);
	close_fds(fds, TEN);
	usock_close(a);
	usock_close(arg.b);
}
END_TEST

TEST_SUITE(trunc)
{
	TCase *tc;

	tc = fd_tcase(s, "payload");
	/* 0, 1: SEQPACKET recv, recvv; 2, 3: DGRAM recv, recvv. */
	tcase_add_loop_test(tc, test_payload_truncated, 0, 4);
	tcase_add_types_test(tc, test_null_msg_closes_fds);

	tc = fd_tcase(s, "fds");
	tcase_add_packet_test(tc, test_emfile);
}
