/* SPDX-License-Identifier: MIT */
/*
 * Errors that the calls return and the man pages once left out (issue 9,
 * item 7): each test provokes one and asserts the exact value and what it
 * leaves behind. The errno recorder (test/errno) then finds each on its
 * function's page, or errnos-documented fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"

#define BAD_BUFFER_SIZE 4096

/*
 * A page that the kernel can neither read nor write: recv and send fail
 * with EFAULT on it. It maps a file of 0 bytes, so it lies wholly past the
 * file's end; valgrind sees a mapped read-write page, not a stray pointer,
 * and does not report the deliberate calls.
 */
static void *bad_buffer(void)
{
	int fd = memfd_create("usock-test-efault", MFD_CLOEXEC);
	void *p;

	ck_assert_int_ge(fd, 0);
	p = mmap(NULL, BAD_BUFFER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	close(fd);
	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

/* Close the handle's fd behind the library's back and reuse its number
 * for a file that is not a socket. */
static void reuse_fd_number(struct usock *s)
{
	int fd = usock_get_fd(s);
	int other = devnull();

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(other, fd), fd);
	close(other);
}

/* The peer closed with a message of ours unread: the next batch send gets
 * -ECONNRESET once, then -EPIPE (as usock_send does). */
START_TEST(test_send_batch_connreset)
{
	struct usock *a, *b;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };

	pair_ok(USOCK_SEQPACKET, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(usock_send(b, "y", 1, NULL), 1);
	usock_close(a);
	a = NULL;
	ck_assert_int_eq(usock_send_batch(b, &iov, NULL, 1), -ECONNRESET);
	ck_assert_int_eq(usock_send_batch(b, &iov, NULL, 1), -EPIPE);
	usock_close(b);
}
END_TEST

/* A DGRAM receiver that is connected to another socket accepts datagrams
 * only from that one: connecting to it is refused. */
START_TEST(test_connect_dgram_eperm)
{
	char name[64], other_name[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct usock *r, *other, *c;
	size_t n;

	abstract_name(name, sizeof(name));
	abstract_name(other_name, sizeof(other_name));
	ck_assert_int_eq(usock_listen(name, USOCK_DGRAM, 0, 0, &r), 0);
	ck_assert_int_eq(usock_listen(other_name, USOCK_DGRAM, 0, 0, &other),
			 0);
	/* r connects to other: from then on it takes datagrams only from
	 * other. Abstract: a NUL in place of the '@'. */
	n = strlen(other_name);
	memcpy(sa.sun_path + 1, other_name + 1, n - 1);
	ck_assert_int_eq(
		connect(usock_get_fd(r), (struct sockaddr *)&sa,
			(socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				    n)),
		0);
	ck_assert_int_eq(usock_connect(name, USOCK_DGRAM, 0, &c), -EPERM);
	usock_close(other);
	usock_close(r);
}
END_TEST

/* The fd number of a handle now names a file that is no socket. */
START_TEST(test_notsock)
{
	struct usock *a, *b, *l, *acc = NULL;
	struct usock_msg *m = msg_new_ok();
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	ssize_t len = 7;
	char buf[4], name[64];

	pair_ok(_i, USOCK_NONBLOCK, &a, &b);
	reuse_fd_number(a);
	ck_assert_int_eq(usock_recv(a, buf, sizeof(buf), m), -ENOTSOCK);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_int_eq(usock_recvv(a, &iov, 1, NULL), -ENOTSOCK);
	ck_assert_int_eq(usock_send(a, "x", 1, NULL), -ENOTSOCK);
	ck_assert_int_eq(usock_sendv(a, &iov, 1, NULL), -ENOTSOCK);
	if (_i != USOCK_STREAM) {
		ck_assert_int_eq(usock_recv_batch(a, &iov, &m, &len, 1),
				 -ENOTSOCK);
		ck_assert_int_eq(usock_send_batch(a, &iov, NULL, 1), -ENOTSOCK);
	}
	/* The handle closes the fd that now has its number. */
	usock_close(a);
	usock_close(b);

	if (_i != USOCK_DGRAM) {
		abstract_name(name, sizeof(name));
		ck_assert_int_eq(usock_listen(name, _i, USOCK_NONBLOCK, 4, &l),
				 0);
		reuse_fd_number(l);
		ck_assert_int_eq(usock_accept(l, 0, &acc), -ENOTSOCK);
		ck_assert_ptr_null(acc);
		usock_close(l);
	}
	usock_msg_free(m);
}
END_TEST

/* A buffer the process cannot write: -EFAULT, and the message is gone
 * with its fds (the kernel dequeues it before it copies). */
START_TEST(test_recv_efault)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fd = devnull();
	void *bad = bad_buffer();
	char c;

	pair_ok(_i, USOCK_NONBLOCK, &a, &b);
	send_fds_ok(a, "abc", 3, &fd, 1);
	close(fd);
	ck_assert_int_eq(usock_recv(b, bad, 3, m), -EFAULT);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_uint_eq(fd_count(), fd_baseline()->n + 2);
	ck_assert_int_eq(usock_recv(b, &c, 1, m), -EAGAIN);
	usock_close(a);
	usock_close(b);
	usock_msg_free(m);
	munmap(bad, BAD_BUFFER_SIZE);
}
END_TEST

/* On a stream the bytes stay queued: the kernel copies before it takes
 * them. */
START_TEST(test_recv_efault_stream)
{
	struct usock *a, *b;
	void *bad = bad_buffer();
	char buf[4] = "";

	pair_ok(USOCK_STREAM, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(usock_send(a, "abc", 3, NULL), 3);
	ck_assert_int_eq(usock_recv(b, bad, 3, NULL), -EFAULT);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), 3);
	ck_assert_str_eq(buf, "abc");
	usock_close(a);
	usock_close(b);
	munmap(bad, BAD_BUFFER_SIZE);
}
END_TEST

/* A payload the process cannot read: -EFAULT, and nothing is sent. */
START_TEST(test_send_efault)
{
	struct usock *a, *b;
	void *bad = bad_buffer();
	struct iovec iov = { .iov_base = bad, .iov_len = 3 };

	pair_ok(_i, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(usock_send(a, bad, 3, NULL), -EFAULT);
	if (_i != USOCK_STREAM)
		ck_assert_int_eq(usock_send_batch(a, &iov, NULL, 1), -EFAULT);
	assert_nothing_queued(b);
	usock_close(a);
	usock_close(b);
	munmap(bad, BAD_BUFFER_SIZE);
}
END_TEST

/* The peer of a DGRAM socket shut down reading: sends fail with -EPIPE. */
START_TEST(test_dgram_send_epipe)
{
	struct usock *a, *b;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };

	pair_ok(USOCK_DGRAM, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(shutdown(usock_get_fd(b), SHUT_RD), 0);
	ck_assert_int_eq(usock_send(a, "x", 1, NULL), -EPIPE);
	ck_assert_int_eq(usock_sendv(a, &iov, 1, NULL), -EPIPE);
	ck_assert_int_eq(usock_send_batch(a, &iov, NULL, 1), -EPIPE);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* len greater than SSIZE_MAX: -EINVAL, and nothing sent or consumed. The
 * buffer is never read, so a small one serves. */
START_TEST(test_len_over_ssize_max)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fd = devnull();
	char buf[4] = "";

	pair_ok(_i, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(usock_send(a, buf, (size_t)SSIZE_MAX + 1, NULL),
			 -EINVAL);
	assert_nothing_queued(b);
	send_fds_ok(a, "abc", 3, &fd, 1);
	close(fd);
	ck_assert_int_eq(usock_recv(b, buf, (size_t)SSIZE_MAX + 1, m), -EINVAL);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	/* Still queued. */
	ck_assert_int_eq(usock_recv(b, buf, 3, m), 3);
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* A stream receive into 0 bytes: -EINVAL, and m is empty, as after any
 * failure (the fds of an earlier message are not left in it). */
START_TEST(test_stream_recv_len0_empties_msg)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fd = devnull();
	char c;

	pair_ok(USOCK_STREAM, USOCK_NONBLOCK, &a, &b);
	send_fds_ok(a, "a", 1, &fd, 1);
	close(fd);
	ck_assert_int_eq(usock_recv(b, &c, 1, m), 1);
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	ck_assert_int_eq(usock_recv(b, &c, 0, m), -EINVAL);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_uint_eq(fd_count(), fd_baseline()->n + 2);
	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

TEST_SUITE(errors)
{
	TCase *tc = fd_tcase(s, "errors");

	tcase_add_test(tc, test_send_batch_connreset);
	tcase_add_test(tc, test_connect_dgram_eperm);
	tcase_add_types_test(tc, test_notsock);
	tcase_add_packet_test(tc, test_recv_efault);
	tcase_add_test(tc, test_recv_efault_stream);
	tcase_add_types_test(tc, test_send_efault);
	tcase_add_test(tc, test_dgram_send_epipe);
	tcase_add_types_test(tc, test_len_over_ssize_max);
	tcase_add_test(tc, test_stream_recv_len0_empties_msg);
}
