/* SPDX-License-Identifier: MIT */
/* Message objects: fd slots, ownership, credentials, reset and free. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

START_TEST(test_new_is_empty)
{
	struct usock_msg *m = msg_new_ok();

	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_int_eq(usock_msg_get_fd(m, 0), -ERANGE);
	ck_assert_int_eq(usock_msg_take_fd(m, 0), -ERANGE);
	ck_assert_int_eq(usock_msg_get_fd(m, UINT_MAX), -ERANGE);
	assert_no_creds(m);
	usock_msg_free(m);
}
END_TEST

START_TEST(test_add_get_take)
{
	struct usock_msg *m = msg_new_ok();
	int p[2];

	msg_add_pipe_ok(m, p);
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	ck_assert_int_eq(usock_msg_get_fd(m, 0), p[0]);
	ck_assert_int_eq(usock_msg_get_fd(m, 1), p[1]);
	ck_assert_int_eq(usock_msg_get_fd(m, 2), -ERANGE);
	ck_assert_int_eq(usock_msg_take_fd(m, 2), -ERANGE);
	ck_assert_int_eq(usock_msg_get_fd(m, UINT_MAX), -ERANGE);

	/* Take empties the slot; indices do not shift; count unchanged. */
	ck_assert_int_eq(usock_msg_take_fd(m, 0), p[0]);
	ck_assert_int_eq(usock_msg_get_fd(m, 0), -ENOENT);
	ck_assert_int_eq(usock_msg_take_fd(m, 0), -ENOENT);
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	ck_assert_int_eq(usock_msg_get_fd(m, 1), p[1]);
	ck_assert_int_eq(usock_msg_take_fd(m, 1), p[1]);
	ck_assert_int_eq(usock_msg_get_fd(m, 1), -ENOENT);
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);

	/* Adding never transfers ownership: both still open. */
	ck_assert(fd_is_open(p[0]));
	ck_assert(fd_is_open(p[1]));
	usock_msg_free(m);
	ck_assert(fd_is_open(p[0]));
	ck_assert(fd_is_open(p[1]));
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_add_negative)
{
	struct usock_msg *m = msg_new_ok();

	ck_assert_int_eq(usock_msg_add_fd(m, -1), -EBADF);
	ck_assert_int_eq(usock_msg_add_fd(m, -2), -EBADF);
	ck_assert_int_eq(usock_msg_add_fd(m, INT_MIN), -EBADF);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	usock_msg_free(m);
}
END_TEST

START_TEST(test_add_limit)
{
	struct usock_msg *m = msg_new_ok();
	int fd = devnull();

	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < USOCK_MAX_FDS; i++)
		ck_assert_int_eq(usock_msg_add_fd(m, fd), 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 253);
	ck_assert_int_eq(usock_msg_add_fd(m, fd), -E2BIG);
	ck_assert_int_eq(usock_msg_add_fd(m, fd), -E2BIG);
	ck_assert_int_eq(usock_msg_get_nfds(m), 253);
	ck_assert_int_eq(usock_msg_get_fd(m, 252), fd);
	ck_assert_int_eq(usock_msg_get_fd(m, 253), -ERANGE);
	/* A taken slot still counts: the message stays full. */
	ck_assert_int_eq(usock_msg_take_fd(m, 0), fd);
	ck_assert_int_eq(usock_msg_add_fd(m, fd), -E2BIG);
	usock_msg_reset(m);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, fd), 0);
	usock_msg_free(m);
	ck_assert(fd_is_open(fd));
	close(fd);
}
END_TEST

START_TEST(test_add_busy)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2], spare;
	char buf[8];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	spare = devnull();
	ck_assert_int_ge(spare, 0);
	send_fds_ok(a, "two", 3, p, 2);

	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 3);
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	ck_assert_int_eq(usock_msg_add_fd(m, spare), -EBUSY);
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	/* The refused add disturbed nothing. */
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 0)), fid_of(p[0])));
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 1)), fid_of(p[1])));
	usock_msg_reset(m);
	ck_assert_int_eq(usock_msg_add_fd(m, spare), 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);

	usock_msg_free(m);
	ck_assert(fd_is_open(spare));
	close(spare);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_set_creds)
{
	struct usock_msg *m = msg_new_ok();
	int32_t pid;
	uint32_t uid, gid;

	ck_assert_int_eq(usock_msg_set_creds(m, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(usock_msg_set_creds(m, -1, 0, 0), -EINVAL);
	ck_assert_int_eq(usock_msg_set_creds(m, INT32_MIN, 0, 0), -EINVAL);
	ck_assert_int_eq(usock_msg_set_creds(m, 1, (uint32_t)-1, 0), -EINVAL);
	ck_assert_int_eq(usock_msg_set_creds(m, 1, 0, (uint32_t)-1), -EINVAL);
	ck_assert_int_eq(usock_msg_set_creds(NULL, 1, 0, 0), -EINVAL);
	assert_no_creds(m);

	ck_assert_int_eq(usock_msg_set_creds(m, 1234, 1000, 100), 0);
	ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
	ck_assert_int_eq(pid, 1234);
	ck_assert_uint_eq(uid, 1000);
	ck_assert_uint_eq(gid, 100);

	/* The largest valid values; a second call replaces the first. */
	ck_assert_int_eq(usock_msg_set_creds(m, INT32_MAX, UINT32_MAX - 1,
					     UINT32_MAX - 1),
			 0);
	ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
	ck_assert_int_eq(pid, INT32_MAX);
	ck_assert_uint_eq(uid, UINT32_MAX - 1);
	ck_assert_uint_eq(gid, UINT32_MAX - 1);
	ck_assert_int_eq(usock_msg_set_creds(m, 1, 0, 0), 0);
	ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
	ck_assert_int_eq(pid, 1);
	ck_assert_uint_eq(uid, 0);
	ck_assert_uint_eq(gid, 0);
	/* Credentials do not occupy fd slots. */
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);

	usock_msg_reset(m);
	assert_no_creds(m);
	usock_msg_free(m);
}
END_TEST

START_TEST(test_received_without_passcred)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	char buf[8];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(usock_send(a, "x", 1, NULL), 1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 1);
	assert_no_creds(m);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

/*
 * Receive three fds into m, take the middle one, then dispose of m with
 * reset (_i == 0) or free (_i == 1): the two untaken fds are closed, the
 * taken one is not.
 */
START_TEST(test_dispose_closes_received)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2], f, sent[3], got[3];
	size_t before;
	char buf[8];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	f = devnull();
	ck_assert_int_ge(f, 0);
	sent[0] = p[0];
	sent[1] = p[1];
	sent[2] = f;
	send_fds_ok(a, "abc", 3, sent, 3);

	before = fd_count();
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 3);
	ck_assert_int_eq(usock_msg_get_nfds(m), 3);
	ck_assert_uint_eq(fd_count(), before + 3);
	for (int i = 0; i < 3; i++) {
		got[i] = usock_msg_get_fd(m, i);
		ck_assert_int_ge(got[i], 0);
		ck_assert(fid_eq(fid_of(got[i]), fid_of(sent[i])));
	}
	ck_assert_int_eq(usock_msg_take_fd(m, 1), got[1]);

	if (_i == 0) {
		usock_msg_reset(m);
		ck_assert_int_eq(usock_msg_get_nfds(m), 0);
		ck_assert_int_eq(usock_msg_get_fd(m, 0), -ERANGE);
	} else {
		usock_msg_free(m);
		m = NULL;
	}
	ck_assert(!fd_is_open(got[0]));
	ck_assert(!fd_is_open(got[2]));
	ck_assert(fd_is_open(got[1]));
	ck_assert_uint_eq(fd_count(), before + 1);
	/* The sender's fds were never the message's to close. */
	for (int i = 0; i < 3; i++)
		ck_assert(fd_is_open(sent[i]));

	close(got[1]);
	usock_msg_free(m);
	for (int i = 0; i < 3; i++)
		close(sent[i]);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* reset (_i == 0) and free (_i == 1) forget added fds without closing. */
START_TEST(test_dispose_keeps_added)
{
	struct usock_msg *m = msg_new_ok();
	int p[2];

	msg_add_pipe_ok(m, p);
	ck_assert_int_eq(usock_msg_set_creds(m, getpid(), getuid(), getgid()),
			 0);
	if (_i == 0) {
		usock_msg_reset(m);
		ck_assert_int_eq(usock_msg_get_nfds(m), 0);
		ck_assert_int_eq(usock_msg_get_fd(m, 0), -ERANGE);
		assert_no_creds(m);
		usock_msg_free(m);
	} else {
		usock_msg_free(m);
	}
	ck_assert(fd_is_open(p[0]));
	ck_assert(fd_is_open(p[1]));
	ck_assert_int_eq(write(p[1], "k", 1), 1);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_recv_resets_message)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2], r0, r1;
	char buf[8];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	send_fds_ok(a, "fds", 3, p, 2);
	ck_assert_int_eq(usock_send(a, "none", 4, NULL), 4);
	close(p[0]);
	close(p[1]);

	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 3);
	r0 = usock_msg_get_fd(m, 0);
	r1 = usock_msg_get_fd(m, 1);
	ck_assert_int_ge(r0, 0);
	ck_assert_int_ge(r1, 0);
	/* The next receive first closes what m still held. */
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 4);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert(!fd_is_open(r0));
	ck_assert(!fd_is_open(r1));

	/* A message with added fds used for receiving forgets them. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, p[0]), 0);
	ck_assert_int_eq(usock_send(a, "x", 1, NULL), 1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 1);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert(fd_is_open(p[0]));
	close(p[0]);
	close(p[1]);

	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_taken_added_slot_not_sent)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok(), *in = msg_new_ok();
	int p[2];
	char buf[8];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	msg_add_pipe_ok(m, p);
	ck_assert_int_eq(usock_msg_take_fd(m, 0), p[0]);
	ck_assert(fd_is_open(p[0]));

	ck_assert_int_eq(usock_send(a, "t", 1, m), 1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), in), 1);
	ck_assert_int_eq(usock_msg_get_nfds(in), 1);
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(in, 0)), fid_of(p[1])));

	/* Every slot taken: nothing is attached at all. */
	ck_assert_int_eq(usock_msg_take_fd(m, 1), p[1]);
	ck_assert_int_eq(usock_send(a, "u", 1, m), 1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), in), 1);
	ck_assert_int_eq(usock_msg_get_nfds(in), 0);

	usock_msg_free(m);
	usock_msg_free(in);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_send_leaves_message)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2];
	int32_t pid;
	uint32_t uid, gid;
	char buf[8];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	msg_add_pipe_ok(m, p);
	ck_assert_int_eq(usock_msg_set_creds(m, getpid(), getuid(), getgid()),
			 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(usock_send(a, "s", 1, m), 1);
		ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), 1);
	}
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	ck_assert_int_eq(usock_msg_get_fd(m, 0), p[0]);
	ck_assert_int_eq(usock_msg_get_fd(m, 1), p[1]);
	ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
	ck_assert_int_eq(pid, getpid());
	ck_assert_uint_eq(uid, getuid());
	ck_assert_uint_eq(gid, getgid());

	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_send_closed_fd)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int closed;

	pair_ok(_i, 0, &a, &b);
	closed = closed_fd_number();
	/* Whether it is open is the kernel's check, at send time. */
	ck_assert_int_eq(usock_msg_add_fd(m, closed), 0);
	ck_assert_int_eq(usock_send(a, "b", 1, m), -EBADF);
	assert_nothing_queued(b);

	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

TEST_SUITE(msg)
{
	TCase *tc;

	tc = fd_tcase(s, "slots");
	tcase_add_test(tc, test_new_is_empty);
	tcase_add_test(tc, test_add_get_take);
	tcase_add_test(tc, test_add_negative);
	tcase_add_test(tc, test_add_limit);
	tcase_add_test(tc, test_add_busy);
	tcase_add_test(tc, test_taken_added_slot_not_sent);
	tcase_add_test(tc, test_send_leaves_message);
	tcase_add_types_test(tc, test_send_closed_fd);

	tc = fd_tcase(s, "creds");
	tcase_add_test(tc, test_set_creds);
	tcase_add_test(tc, test_received_without_passcred);

	tc = fd_tcase(s, "ownership");
	tcase_add_loop_test(tc, test_dispose_closes_received, 0, 2);
	tcase_add_loop_test(tc, test_dispose_keeps_added, 0, 2);
	tcase_add_test(tc, test_recv_resets_message);
}
