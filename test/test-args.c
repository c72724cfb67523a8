/* SPDX-License-Identifier: MIT */
/* Every entry point with NULL handles, buffers and out-pointers: -EINVAL,
 * before any syscall, and nothing opened, closed, sent or received. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers.h"

START_TEST(test_null_handles)
{
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct usock *s = (struct usock *)&s;
	ssize_t len = 7;
	int32_t pid;
	uint32_t uid, gid;
	char buf[4];

	ck_assert_int_eq(usock_get_fd(NULL), -EINVAL);
	ck_assert_int_eq(usock_get_type(NULL), -EINVAL);
	ck_assert_int_eq(usock_release_fd(NULL), -EINVAL);
	ck_assert_int_eq(usock_set_passcred(NULL, 0), -EINVAL);
	ck_assert_int_eq(usock_set_passcred(NULL, 1), -EINVAL);
	ck_assert_int_eq(usock_set_nonblock(NULL, 0), -EINVAL);
	ck_assert_int_eq(usock_set_nonblock(NULL, 1), -EINVAL);

	ck_assert_int_eq(usock_send(NULL, "x", 1, NULL), -EINVAL);
	ck_assert_int_eq(usock_send(NULL, NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_sendv(NULL, &iov, 1, NULL), -EINVAL);
	ck_assert_int_eq(usock_sendv(NULL, NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_recv(NULL, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(usock_recv(NULL, NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_recvv(NULL, &iov, 1, NULL), -EINVAL);
	ck_assert_int_eq(usock_recvv(NULL, NULL, 0, NULL), -EINVAL);

	ck_assert_int_eq(usock_msg_add_fd(NULL, 0), -EINVAL);
	ck_assert_int_eq(usock_msg_set_creds(NULL, 1, 0, 0), -EINVAL);
	ck_assert_int_eq(usock_msg_get_creds(NULL, &pid, &uid, &gid), -EINVAL);
	ck_assert_int_eq(usock_msg_get_nfds(NULL), -EINVAL);
	ck_assert_int_eq(usock_msg_get_fd(NULL, 0), -EINVAL);
	ck_assert_int_eq(usock_msg_take_fd(NULL, 0), -EINVAL);

	ck_assert_int_eq(usock_get_peer_creds(NULL, &pid, &uid, &gid), -EINVAL);
	ck_assert_int_eq(usock_get_peer_groups(NULL, &gid, 1), -EINVAL);
	ck_assert_int_eq(usock_get_peer_groups(NULL, NULL, 0), -EINVAL);
	ck_assert_int_eq(usock_get_peer_pidfd(NULL), -EINVAL);
	ck_assert_int_eq(usock_set_passpidfd(NULL, 1), -EINVAL);
	ck_assert_int_eq(usock_set_max_fds(NULL, 1), -EINVAL);
	ck_assert_int_eq(usock_get_max_fds(NULL), -EINVAL);
	ck_assert_int_eq(usock_msg_get_pidfd(NULL), -EINVAL);
	ck_assert_int_eq(usock_msg_take_pidfd(NULL), -EINVAL);
	ck_assert_int_eq(usock_accept(NULL, 0, &s), -EINVAL);
	ck_assert_int_eq(usock_send_batch(NULL, &iov, NULL, 1), -EINVAL);
	ck_assert_int_eq(usock_send_batch(NULL, NULL, NULL, 0), -EINVAL);
	ck_assert_int_eq(usock_recv_batch(NULL, &iov, NULL, &len, 1), -EINVAL);
	ck_assert_int_eq(usock_recv_batch(NULL, NULL, NULL, NULL, 0), -EINVAL);

	/* void functions: no-ops. */
	usock_close(NULL);
	usock_msg_free(NULL);
	usock_msg_reset(NULL);
	ck_assert_uint_eq(fd_count(), fd_baseline()->n);
}
END_TEST

START_TEST(test_null_out_pointers)
{
	struct usock *a = (struct usock *)&a;
	struct usock *const sa = a;
	struct usock_msg *m;
	int32_t pid = 7;
	uint32_t uid = 7, gid = 7;
	int sv[2];

	ck_assert_int_eq(usock_pair(USOCK_SEQPACKET, 0, NULL, &a), -EINVAL);
	ck_assert_int_eq(usock_pair(USOCK_SEQPACKET, 0, &a, NULL), -EINVAL);
	ck_assert_int_eq(usock_pair(USOCK_SEQPACKET, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(usock_pair(USOCK_STREAM, USOCK_NONBLOCK, &a, &a),
			 -EINVAL);
	ck_assert_ptr_eq(a, sa);
	ck_assert_uint_eq(fd_count(), fd_baseline()->n);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(usock_adopt(sv[0], 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_adopt(sv[0], USOCK_NONBLOCK, NULL), -EINVAL);
	ck_assert_int_eq(fd_cloexec(sv[0]), 0);
	ck_assert_int_eq(fd_nonblock(sv[0]), 0);
	close(sv[0]);
	close(sv[1]);

	ck_assert_int_eq(usock_msg_new(NULL), -EINVAL);

	ck_assert_int_eq(usock_listen(NULL, USOCK_STREAM, 0, 0, &a), -EINVAL);
	ck_assert_int_eq(
		usock_listen("@usock-test-args", USOCK_STREAM, 0, 0, NULL),
		-EINVAL);
	ck_assert_int_eq(usock_connect(NULL, USOCK_STREAM, 0, &a), -EINVAL);
	ck_assert_int_eq(
		usock_connect("@usock-test-args", USOCK_STREAM, 0, NULL),
		-EINVAL);
	ck_assert_ptr_eq(a, sa);
	ck_assert_uint_eq(fd_count(), fd_baseline()->n);

	{
		struct usock *x, *y;

		pair_ok(USOCK_STREAM, 0, &x, &y);
		ck_assert_int_eq(usock_accept(x, 0, NULL), -EINVAL);
		ck_assert_int_eq(usock_get_peer_creds(x, NULL, &uid, &gid),
				 -EINVAL);
		ck_assert_int_eq(usock_get_peer_creds(x, &pid, NULL, &gid),
				 -EINVAL);
		ck_assert_int_eq(usock_get_peer_creds(x, &pid, &uid, NULL),
				 -EINVAL);
		ck_assert_int_eq(usock_get_peer_groups(x, NULL, 1), -EINVAL);
		ck_assert_int_eq(pid, 7);
		ck_assert_uint_eq(uid, 7);
		ck_assert_uint_eq(gid, 7);
		usock_close(x);
		usock_close(y);
	}

	m = msg_new_ok();
	ck_assert_int_eq(usock_msg_set_creds(m, getpid(), getuid(), getgid()),
			 0);
	ck_assert_int_eq(usock_msg_get_creds(m, NULL, &uid, &gid), -EINVAL);
	ck_assert_int_eq(usock_msg_get_creds(m, &pid, NULL, &gid), -EINVAL);
	ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, NULL), -EINVAL);
	ck_assert_int_eq(usock_msg_get_creds(m, NULL, NULL, NULL), -EINVAL);
	/* Nothing was written through the pointers that were given. */
	ck_assert_int_eq(pid, 7);
	ck_assert_uint_eq(uid, 7);
	ck_assert_uint_eq(gid, 7);
	usock_msg_free(m);
}
END_TEST

START_TEST(test_null_buffers)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2];

	pair_ok(_i, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, p[0]), 0);

	/* buf NULL with len > 0; iov NULL with iovcnt > 0; the batch calls
	 * arrays NULL with n > 0. */
	ck_assert_int_eq(usock_send(a, NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(usock_send(a, NULL, 1, m), -EINVAL);
	ck_assert_int_eq(usock_send(a, NULL, SIZE_MAX, NULL), -EINVAL);
	ck_assert_int_eq(usock_sendv(a, NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(usock_sendv(a, NULL, 1, m), -EINVAL);
	ck_assert_int_eq(usock_send_batch(a, NULL, NULL, 1), -EINVAL);
	ck_assert_int_eq(usock_send_batch(a, NULL, &m, 1), -EINVAL);
	assert_nothing_queued(b);

	/* Something is queued: a bad call must not consume it. */
	ck_assert_int_eq(usock_send(a, "q", 1, m), 1);
	ck_assert_int_eq(usock_recv(b, NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(usock_recv(b, NULL, 1, m), -EINVAL);
	ck_assert_int_eq(usock_recvv(b, NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(usock_recvv(b, NULL, 2, m), -EINVAL);
	{
		char c;
		struct iovec iov = { .iov_base = &c, .iov_len = 1 };
		ssize_t len;

		ck_assert_int_eq(usock_recv_batch(b, NULL, NULL, &len, 1),
				 -EINVAL);
		ck_assert_int_eq(usock_recv_batch(b, &iov, NULL, NULL, 1),
				 -EINVAL);
		ck_assert_int_eq(usock_recv_batch(b, NULL, &m, NULL, 1),
				 -EINVAL);
	}
	ck_assert_uint_eq(fd_count(), fd_baseline()->n + 4);
	{
		char c = 0;

		usock_msg_reset(m);
		ck_assert_int_eq(usock_recv(b, &c, 1, m), 1);
		ck_assert_int_eq(c, 'q');
		ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	}

	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* Zero-length buffers: fine for packets (an empty message), refused for a
 * stream receive (it could not be told from end of file). */
START_TEST(test_zero_length)
{
	struct usock *a, *b;
	struct iovec empty = { .iov_base = NULL, .iov_len = 0 };
	char c;

	pair_ok(USOCK_STREAM, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(usock_send(a, "s", 1, NULL), 1);
	ck_assert_int_eq(usock_recv(b, NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_recv(b, &c, 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_recvv(b, NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(usock_recvv(b, &empty, 1, NULL), -EINVAL);
	/* The byte is still there. */
	ck_assert_int_eq(usock_recv(b, &c, 1, NULL), 1);
	ck_assert_int_eq(c, 's');
	usock_close(a);
	usock_close(b);

	pair_ok(USOCK_SEQPACKET, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(usock_sendv(a, NULL, 0, NULL), 0);
	ck_assert_int_eq(usock_recvv(b, NULL, 0, NULL), 0);
	ck_assert_int_eq(usock_send(a, NULL, 0, NULL), 0);
	ck_assert_int_eq(usock_recv(b, NULL, 0, NULL), 0);
	ck_assert_int_eq(usock_recv(b, NULL, 0, NULL), -EAGAIN);
	usock_close(a);
	usock_close(b);
}
END_TEST

TEST_SUITE(args)
{
	TCase *tc = fd_tcase(s, "args");

	tcase_add_test(tc, test_null_handles);
	tcase_add_test(tc, test_null_out_pointers);
	tcase_add_types_test(tc, test_null_buffers);
	tcase_add_test(tc, test_zero_length);
}
