/* SPDX-License-Identifier: MIT */
/*
 * What each socket type means for messages, seen from a forked peer over a
 * pair and over a named connection: STREAM reads and the fds that ride with
 * the bytes; SEQPACKET and DGRAM, one message per receive; DGRAM, no end of
 * file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers.h"

#define CHILD_TIMEOUT_MS 60000

/* A connected pair of handles, made by usock_pair or over an abstract name
 * with listen/connect/accept; here is the end the forked peer uses. */
struct conn {
	struct usock *here, *there;
};

static void conn_open(struct conn *c, int type, bool named)
{
	struct usock *l, *x;
	char name[64];

	if (!named) {
		pair_ok(type, 0, &c->here, &c->there);
		return;
	}
	abstract_name(name, sizeof(name));
	ck_assert_int_eq(usock_listen(name, type, 0, 0, &l), 0);
	ck_assert_int_eq(usock_connect(name, type, 0, &c->there), 0);
	if (type == USOCK_DGRAM) {
		/* The receiver is the bound socket itself. */
		c->here = l;
		return;
	}
	ck_assert_int_eq(usock_accept(l, 0, &x), 0);
	c->here = x;
	usock_close(l);
}

/* The peer's writes, one usock_send each; the entries with a tag carry a
 * pipe read end holding that tag. */
struct write_spec {
	const char *data;
	const char *tag; /* NULL: no fd */
};

struct writer_arg {
	struct conn *c;
	const struct write_spec *w;
	int n;
};

static int child_writer(void *p)
{
	const struct writer_arg *a = p;
	struct usock_msg *m;

	usock_close(a->c->here);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	for (int i = 0; i < a->n; i++) {
		const struct write_spec *w = &a->w[i];
		size_t len = strlen(w->data);
		int pp[2] = { -1, -1 };

		usock_msg_reset(m);
		if (w->tag) {
			CHILD_ASSERT(pipe2(pp, O_CLOEXEC) == 0);
			CHILD_ASSERT_INT_EQ(
				write(pp[1], w->tag, strlen(w->tag)),
				(ssize_t)strlen(w->tag));
			CHILD_ASSERT(close(pp[1]) == 0);
			CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, pp[0]), 0);
		}
		CHILD_ASSERT_INT_EQ(usock_send(a->c->there, w->data, len, m),
				    (ssize_t)len);
		if (w->tag)
			CHILD_ASSERT(close(pp[0]) == 0);
	}
	usock_msg_free(m);
	usock_close(a->c->there);
	return 0;
}

/* Run the writer to completion: everything it wrote is queued. */
static void run_writer(struct conn *c, const struct write_spec *w, int n)
{
	struct writer_arg arg = { .c = c, .w = w, .n = n };

	child_wait_ok(child_spawn(child_writer, &arg));
	usock_close(c->there);
	c->there = NULL;
}

/* Receive into buf (len bytes); assert the data and the fds' tags. */
static void expect_read(struct usock *s, struct usock_msg *m, size_t len,
			const char *data, const char *tag)
{
	char buf[64], t[32];
	ssize_t n, want = (ssize_t)strlen(data);

	ck_assert_uint_le(len, sizeof(buf));
	n = usock_recv(s, buf, len, m);
	ck_assert_msg(n == want, "recv(%zu) = %zd, want %zd (\"%s\")", len, n,
		      want, data);
	ck_assert(memcmp(buf, data, (size_t)want) == 0);
	if (!tag) {
		ck_assert_int_eq(usock_msg_get_nfds(m), 0);
		return;
	}
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	n = read(usock_msg_get_fd(m, 0), t, sizeof(t) - 1);
	ck_assert_int_ge(n, 0);
	t[n] = '\0';
	ck_assert_str_eq(t, tag);
}

/* One read: its length, the data it must return and its fd's tag (NULL:
 * no fd). */
struct read_spec {
	size_t len;
	const char *data, *tag;
};

/*
 * A STREAM connection (a pair, or named) over which a child makes the nw
 * writes of w; the nr reads of r must then return what they say, and the
 * next one end of file.
 */
static void expect_stream(bool named, const struct write_spec *w, int nw,
			  const struct read_spec *r, int nr)
{
	struct usock_msg *m;
	struct conn c;

	conn_open(&c, USOCK_STREAM, named);
	run_writer(&c, w, nw);
	m = msg_new_ok();
	for (int i = 0; i < nr; i++)
		expect_read(c.here, m, r[i].len, r[i].data, r[i].tag);
	ck_assert_int_eq(usock_recv(c.here, (char[4]){ 0 }, 4, m), -EPIPE);
	usock_msg_free(m);
	usock_close(c.here);
}

/* ---- STREAM ------------------------------------------------------------ */

/*
 * _i: 0 pair, 1 named. The fds of a write arrive with the read that takes
 * its first byte, and that read ends with the write: plain bytes before it
 * run into it, the next write's bytes do not. A read never carries the fds
 * of two writes.
 */
START_TEST(test_stream_fds_end_a_read)
{
	static const struct write_spec w[] = {
		{ "aa", NULL },	    { "bbbb", "fd-b" }, { "cc", NULL },
		{ "dddd", "fd-d" }, { "eeee", "fd-e" }, { "ff", NULL },
		{ "gg", NULL },
	};
	static const struct read_spec r[] = {
		{ 64, "aabbbb", "fd-b" },
		{ 64, "ccdddd", "fd-d" },
		{ 64, "eeee", "fd-e" },
		/* Plain writes run together. */
		{ 64, "ffgg", NULL },
	};

	expect_stream(_i, w, 7, r, 4);
}
END_TEST

/*
 * A read may return part of a write; the fds come with the first part. The
 * rest of that write may then share a read with the start of the next
 * fd-carrying write, whose fds come with it: fds belong to the write, not
 * to the first byte of the read that delivers them.
 */
START_TEST(test_stream_partial_reads)
{
	static const struct write_spec w[] = {
		{ "0123456789", "first" },
		{ "ABCDEFGHIJ", "second" },
		{ "xyz", NULL },
	};
	static const struct read_spec r[] = {
		{ 4, "0123", "first" },
		{ 4, "4567", NULL },
		{ 4, "89AB", "second" },
		/* The read that took fds ends with their write. */
		{ 64, "CDEFGHIJxyz", NULL },
	};

	expect_stream(_i, w, 3, r, 4);
}
END_TEST

static int child_second_writer(void *p)
{
	struct child_pair *a = p;

	usock_close(a->theirs);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "cc", 2, NULL), 2);
	usock_close(a->mine);
	return 0;
}

/* With SO_PASSCRED on, a read never joins the bytes of two writers; off,
 * it does. */
START_TEST(test_stream_writers_not_joined)
{
	struct child_pair arg;
	struct usock_msg *m;
	int32_t pid;
	uint32_t uid, gid;
	char buf[16];
	pid_t child;

	pair_ok(USOCK_STREAM, 0, &arg.theirs, &arg.mine);
	ck_assert_int_eq(usock_set_passcred(arg.theirs, _i), 0);
	ck_assert_int_eq(usock_send(arg.mine, "pp", 2, NULL), 2);
	child = child_spawn(child_second_writer, &arg);
	child_wait_ok(child);
	m = msg_new_ok();
	ck_assert_int_eq(usock_send(arg.mine, "qq", 2, NULL), 2);
	usock_close(arg.mine);

	if (_i) {
		ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m),
				 2);
		ck_assert(memcmp(buf, "pp", 2) == 0);
		ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
		ck_assert_int_eq(pid, getpid());
		ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m),
				 2);
		ck_assert(memcmp(buf, "cc", 2) == 0);
		ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
		ck_assert_int_eq(pid, child);
		ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m),
				 2);
		ck_assert(memcmp(buf, "qq", 2) == 0);
		ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
		ck_assert_int_eq(pid, getpid());
	} else {
		ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m),
				 6);
		ck_assert(memcmp(buf, "ppccqq", 6) == 0);
	}
	ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m), -EPIPE);
	usock_msg_free(m);
	usock_close(arg.theirs);
}
END_TEST

/* ---- SEQPACKET and DGRAM ----------------------------------------------- */

/*
 * _i: type (SEQPACKET 0, DGRAM 2) + 1 for named. Each receive is exactly
 * one message, whatever the buffer size: with or without fds, empty or not.
 */
START_TEST(test_packet_one_message_each)
{
	const int type = _i & 2 ? USOCK_DGRAM : USOCK_SEQPACKET;
	static const struct write_spec w[] = {
		{ "a", "fd-a" }, { "", NULL },	 { "bb", "fd-b" },
		{ "ccc", NULL }, { "", "fd-e" }, { "end", NULL },
	};
	struct usock_msg *m;
	struct conn c;
	char buf[8];
	struct iovec iov[2] = { { .iov_base = buf, .iov_len = 1 },
				{ .iov_base = buf + 1, .iov_len = 7 } };

	conn_open(&c, type, _i & 1);
	run_writer(&c, w, 6);
	m = msg_new_ok();
	expect_read(c.here, m, 64, "a", "fd-a");
	expect_read(c.here, m, 64, "", NULL);
	expect_read(c.here, m, 64, "bb", "fd-b");
	/* Scattered over two buffers: still one message. */
	ck_assert_int_eq(usock_recvv(c.here, iov, 2, m), 3);
	ck_assert(memcmp(buf, "ccc", 3) == 0);
	expect_read(c.here, m, 64, "", "fd-e");
	expect_read(c.here, m, 64, "end", NULL);
	if (type == USOCK_SEQPACKET) {
		ck_assert_int_eq(usock_recv(c.here, buf, sizeof(buf), m),
				 -EPIPE);
	} else {
		ck_assert_int_eq(usock_set_nonblock(c.here, 1), 0);
		ck_assert_int_eq(usock_recv(c.here, buf, sizeof(buf), m),
				 -EAGAIN);
	}
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	usock_msg_free(m);
	usock_close(c.here);
}
END_TEST

/*
 * DGRAM has no end of file: after the peer closed, what was queued is
 * delivered, then a nonblocking receive says -EAGAIN (again and again),
 * poll shows nothing, and a blocking one waits (here until SO_RCVTIMEO).
 * _i: 0 pair, 1 named (a connected client and the bound receiver).
 */
START_TEST(test_dgram_no_eof)
{
	struct usock_msg *m = msg_new_ok();
	struct timeval tv = { .tv_usec = 50 * 1000 };
	struct pollfd p = { .events = POLLIN | POLLRDHUP };
	struct conn c;
	char buf[8];

	conn_open(&c, USOCK_DGRAM, _i);
	ck_assert_int_eq(usock_send(c.there, "last", 4, NULL), 4);
	usock_close(c.there);

	ck_assert_int_eq(usock_recv(c.here, buf, sizeof(buf), m), 4);
	ck_assert(memcmp(buf, "last", 4) == 0);
	p.fd = usock_get_fd(c.here);
	ck_assert_int_eq(poll(&p, 1, 0), 0);
	ck_assert_int_eq(usock_set_nonblock(c.here, 1), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(usock_recv(c.here, buf, sizeof(buf), m),
				 -EAGAIN);
		ck_assert_int_eq(usock_recv(c.here, buf, sizeof(buf), NULL),
				 -EAGAIN);
	}
	ck_assert_int_eq(usock_set_nonblock(c.here, 0), 0);
	ck_assert_int_eq(setsockopt(usock_get_fd(c.here), SOL_SOCKET,
				    SO_RCVTIMEO, &tv, sizeof(tv)),
			 0);
	ck_assert_int_eq(usock_recv(c.here, buf, sizeof(buf), m), -EAGAIN);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	usock_msg_free(m);
	usock_close(c.here);
}
END_TEST

struct dgram_sender_arg {
	const char *name;
	int index;
};

/* Connects to the bound receiver and sends two datagrams with an fd each. */
static int child_dgram_sender(void *p)
{
	const struct dgram_sender_arg *a = p;
	struct usock *c;
	struct usock_msg *m;
	char text[16];
	int len;

	CHILD_ASSERT_INT_EQ(usock_connect(a->name, USOCK_DGRAM, 0, &c), 0);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, STDERR_FILENO), 0);
	for (int k = 0; k < 2; k++) {
		len = snprintf(text, sizeof(text), "s%d-%d", a->index, k);
		CHILD_ASSERT_INT_EQ(usock_send(c, text, (size_t)len, m), len);
	}
	usock_msg_free(m);
	usock_close(c);
	return 0;
}

/* Several senders, one bound receiver: every datagram whole, each with its
 * own sender's credentials and fd. */
START_TEST(test_dgram_many_senders)
{
	enum { SENDERS = 4 };
	struct dgram_sender_arg arg[SENDERS];
	struct usock_msg *m;
	struct usock *l;
	char name[64], buf[16];
	pid_t pid[SENDERS];
	int seen[SENDERS][2] = { { 0 } };
	struct fid err = fid_of(STDERR_FILENO);

	abstract_name(name, sizeof(name));
	ck_assert_int_eq(usock_listen(name, USOCK_DGRAM, 0, 0, &l), 0);
	ck_assert_int_eq(usock_set_passcred(l, 1), 0);
	for (int i = 0; i < SENDERS; i++) {
		arg[i].name = name;
		arg[i].index = i;
		pid[i] = child_spawn(child_dgram_sender, &arg[i]);
	}
	m = msg_new_ok();
	for (int got = 0; got < 2 * SENDERS; got++) {
		int32_t cpid;
		uint32_t uid, gid;
		int i, k;
		ssize_t n;

		wait_readable(l, CHILD_TIMEOUT_MS);
		n = usock_recv(l, buf, sizeof(buf) - 1, m);
		ck_assert_int_eq(n, 4);
		buf[n] = '\0';
		ck_assert_int_eq(sscanf(buf, "s%d-%d", &i, &k), 2);
		ck_assert(i >= 0 && i < SENDERS && k >= 0 && k < 2);
		ck_assert_int_eq(seen[i][k]++, 0);
		ck_assert_int_eq(usock_msg_get_creds(m, &cpid, &uid, &gid), 0);
		ck_assert_int_eq(cpid, pid[i]);
		ck_assert_int_eq(usock_msg_get_nfds(m), 1);
		ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 0)), err));
	}
	for (int i = 0; i < SENDERS; i++)
		child_wait_ok(pid[i]);
	assert_nothing_queued(l);
	usock_msg_free(m);
	usock_close(l);
}
END_TEST

TEST_SUITE(types)
{
	TCase *tc;

	tc = fd_tcase(s, "stream");
	tcase_add_loop_test(tc, test_stream_fds_end_a_read, 0, 2);
	tcase_add_loop_test(tc, test_stream_partial_reads, 0, 2);
	tcase_add_loop_test(tc, test_stream_writers_not_joined, 0, 2);

	tc = fd_tcase(s, "packets");
	tcase_add_loop_test(tc, test_packet_one_message_each, 0, 4);
	tcase_add_loop_test(tc, test_dgram_no_eof, 0, 2);
	tcase_add_test(tc, test_dgram_many_senders);
}
