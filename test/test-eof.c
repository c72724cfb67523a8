/* SPDX-License-Identifier: MIT */
/* End of file, empty messages, closed peers, signals, full and empty queues. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/*
 * Empty messages of the type (SEQPACKET or DGRAM) are messages, whether the
 * receiver has SO_PASSCRED (passcred) or not.
 */
static void expect_empty_messages(int type, int passcred)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	char buf[8];

	pair_ok(type, 0, &a, &b);
	ck_assert_int_eq(usock_set_passcred(b, passcred), 0);
	ck_assert_int_eq(usock_send(a, NULL, 0, NULL), 0);
	ck_assert_int_eq(usock_send(a, "x", 1, NULL), 1);
	ck_assert_int_eq(usock_send(a, "", 0, NULL), 0);

	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 1);
	ck_assert_int_eq(buf[0], 'x');
	/* The last thing queued, but the peer is still there. */
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 0);
	assert_nothing_queued(b);

	/* A zero-length buffer receives an empty message too. */
	ck_assert_int_eq(usock_send(a, NULL, 0, NULL), 0);
	ck_assert_int_eq(usock_recv(b, NULL, 0, m), 0);

	/* And without a message object. */
	ck_assert_int_eq(usock_send(a, NULL, 0, NULL), 0);
	ck_assert_int_eq(usock_send(a, "y", 1, NULL), 1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), 0);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), 1);
	ck_assert_int_eq(buf[0], 'y');

	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}

/* _i: passcred off (0) or on (1) on the receiver. */
START_TEST(test_seqpacket_empty_message)
{
	expect_empty_messages(USOCK_SEQPACKET, _i);
}
END_TEST

START_TEST(test_dgram_empty_message)
{
	expect_empty_messages(USOCK_DGRAM, _i);
}
END_TEST

/*
 * The peer sends last and closes: the receiver (SO_PASSCRED set to
 * passcred) gets last, then -EPIPE for good, with a message or without.
 */
static void expect_eof_after(int type, int passcred, const char *last)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	char buf[8];

	pair_ok(type, 0, &a, &b);
	ck_assert_int_eq(usock_set_passcred(b, passcred), 0);
	ck_assert_int_eq(usock_send(a, last, strlen(last), NULL),
			 (ssize_t)strlen(last));
	usock_close(a);
	recv_ok(b, sizeof(buf), m, last, -1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), -EPIPE);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), -EPIPE);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), -EPIPE);
	usock_msg_free(m);
	usock_close(b);
}

START_TEST(test_seqpacket_eof)
{
	expect_eof_after(USOCK_SEQPACKET, _i, "last");
}
END_TEST

/*
 * A SEQPACKET peer sends the n messages of sent (NULL: an empty one, sent
 * without a buffer) and closes. The receiver, with SO_PASSCRED set to
 * passcred (left alone if passcred < 0), gets them all, then -EPIPE for
 * good.
 */
static void expect_all_then_eof(int passcred, const char *const *sent, int n)
{
	struct usock *a, *b;
	char buf[8];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	if (passcred >= 0)
		ck_assert_int_eq(usock_set_passcred(b, passcred), 0);
	for (int i = 0; i < n; i++) {
		size_t len = sent[i] ? strlen(sent[i]) : 0;

		ck_assert_int_eq(usock_send(a, sent[i], len, NULL),
				 (ssize_t)len);
	}
	usock_close(a);
	for (int i = 0; i < n; i++)
		recv_ok(b, sizeof(buf), NULL, sent[i] ? sent[i] : "", -1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), -EPIPE);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), -EPIPE);
	usock_close(b);
}

/* An empty message that is not the last thing sent is a message, with or
 * without SO_PASSCRED, even when the peer has closed since. */
START_TEST(test_empty_then_data_then_close)
{
	static const char *const sent[] = { NULL, "x" };

	expect_all_then_eof(_i, sent, 2);
}
END_TEST

/* With SO_PASSCRED the rule is exact: the empty message, then EOF. */
START_TEST(test_empty_then_close_passcred)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	char buf[8];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(usock_set_passcred(b, 1), 0);
	ck_assert_int_eq(usock_send(a, NULL, 0, NULL), 0);
	usock_close(a);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 0);
	ck_assert_int_eq(usock_msg_get_creds(m, &(int32_t){ 0 },
					     &(uint32_t){ 0 },
					     &(uint32_t){ 0 }),
			 0);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), -EPIPE);
	usock_msg_free(m);
	usock_close(b);
}
END_TEST

/* Without usock_set_passcred() too: an empty message that is the last thing
 * before close is an empty message (1.0 read it as end of file). */
START_TEST(test_empty_then_close_no_passcred)
{
	static const char *const sent[] = { NULL, NULL };

	expect_all_then_eof(-1, sent, 2);
}
END_TEST

/*
 * An empty message with an fd, after an empty one without if empty_first,
 * then close: the receiver gets them all, then end of file.
 */
static void expect_fd_message_then_eof(bool empty_first)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2];
	char buf[8];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	if (empty_first)
		ck_assert_int_eq(usock_send(a, NULL, 0, NULL), 0);
	send_fds_ok(a, NULL, 0, p, 1);
	usock_close(a);
	if (empty_first) {
		ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 0);
		ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	}
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 0)), fid_of(p[0])));
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), -EPIPE);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(b);
}

/* An empty message with fds is never mistaken for end of file. */
START_TEST(test_empty_with_fd_then_close)
{
	expect_fd_message_then_eof(false);
}
END_TEST

/* Without SO_PASSCRED: an empty message followed by an empty one that
 * carries an fd is not the last thing sent, so it is no end of file. */
START_TEST(test_empty_then_fd_message_then_close)
{
	expect_fd_message_then_eof(true);
}
END_TEST

START_TEST(test_stream_eof)
{
	expect_eof_after(USOCK_STREAM, _i, "abc");
}
END_TEST

/* In a child, with SIGPIPE at its default action (which would kill it):
 * send to a closed peer fails with -EPIPE and the child lives on. */
static int child_send_to_closed(void *p)
{
	const int type = *(const int *)p;
	struct usock *a, *b;
	struct usock_msg *m;
	struct iovec iov = { .iov_base = "v", .iov_len = 1 };
	sigset_t set;

	CHILD_ASSERT(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	CHILD_ASSERT(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0);

	CHILD_ASSERT_INT_EQ(usock_pair(type, 0, &a, &b), 0);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, STDERR_FILENO), 0);
	usock_close(b);
	CHILD_ASSERT_INT_EQ(usock_send(a, "s", 1, NULL), -EPIPE);
	CHILD_ASSERT_INT_EQ(usock_send(a, "s", 1, m), -EPIPE);
	CHILD_ASSERT_INT_EQ(usock_sendv(a, &iov, 1, NULL), -EPIPE);
	CHILD_ASSERT_INT_EQ(usock_sendv(a, &iov, 1, m), -EPIPE);
	/* Still -EPIPE, still alive. */
	CHILD_ASSERT_INT_EQ(usock_send(a, "s", 1, NULL), -EPIPE);
	CHILD_ASSERT(sigpending(&set) == 0);
	CHILD_ASSERT(!sigismember(&set, SIGPIPE));
	usock_msg_free(m);
	usock_close(a);
	return 0;
}

START_TEST(test_send_closed_peer)
{
	int type = _i;

	/* A SIGPIPE death shows as "killed by signal 13". */
	child_wait_ok(child_spawn(child_send_to_closed, &type));
}
END_TEST

START_TEST(test_dgram_closed_peer)
{
	struct usock *a, *b;

	pair_ok(USOCK_DGRAM, 0, &a, &b);
	ck_assert_int_eq(usock_send(a, "1", 1, NULL), 1);
	usock_close(b);
	ck_assert_int_eq(usock_send(a, "2", 1, NULL), -ECONNREFUSED);
	ck_assert_int_eq(usock_send(a, "3", 1, NULL), -ENOTCONN);
	ck_assert_int_eq(usock_send(a, "4", 1, NULL), -ENOTCONN);
	usock_close(a);
}
END_TEST

START_TEST(test_nonblock_recv_eagain)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	char buf[8];

	pair_ok(_i, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(usock_msg_add_fd(m, STDIN_FILENO), 0);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), -EAGAIN);
	/* Left empty by the error. */
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), -EAGAIN);
	ck_assert_int_eq(usock_recv(a, buf, sizeof(buf), NULL), -EAGAIN);
	/* Something queued, then nothing again. */
	ck_assert_int_eq(usock_send(a, "z", 1, NULL), 1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), -EAGAIN);
	ck_assert(fd_is_open(STDIN_FILENO));
	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

#define CHUNK 1000

START_TEST(test_nonblock_send_full)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	static unsigned char out[CHUNK], in[CHUNK];
	long sent = 0, got = 0, msgs = 0;
	ssize_t r;
	int p[2];

	for (int i = 0; i < CHUNK; i++)
		out[i] = (unsigned char)(i * 7);
	pair_ok(_i, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, p[0]), 0);

	for (;;) {
		r = usock_send(a, out, CHUNK, (msgs % 2) ? m : NULL);
		if (r == -EAGAIN)
			break;
		ck_assert_msg(r > 0 && r <= CHUNK, "send: %zd", r);
		if (_i != USOCK_STREAM)
			ck_assert_int_eq(r, CHUNK);
		sent += r;
		msgs++;
		ck_assert_int_lt(msgs, 1000000);
	}
	ck_assert_int_gt(msgs, 0);
	/* Still full: -EAGAIN again, with and without fds. */
	ck_assert_int_eq(usock_send(a, out, CHUNK, NULL), -EAGAIN);
	ck_assert_int_eq(usock_send(a, out, CHUNK, m), -EAGAIN);
	ck_assert_int_eq(usock_msg_get_fd(m, 0), p[0]);

	/* Everything that was accepted arrives, intact. */
	for (;;) {
		r = usock_recv(b, in, CHUNK, NULL);
		if (r == -EAGAIN)
			break;
		ck_assert_msg(r > 0, "recv: %zd", r);
		if (_i != USOCK_STREAM)
			ck_assert_int_eq(r, CHUNK);
		/* A stream may cut anywhere: compare by stream position. */
		for (ssize_t k = 0; k < r; k++)
			ck_assert_int_eq(in[k], out[(got + k) % CHUNK]);
		got += r;
	}
	ck_assert_int_eq(got, sent);

	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* SO_RCVTIMEO / SO_SNDTIMEO expiring on a blocking handle: -EAGAIN. */
START_TEST(test_timeouts)
{
	struct timeval tv = { .tv_usec = 50000 };
	static unsigned char out[CHUNK];
	struct usock *a, *b;
	char buf[8];
	ssize_t r;

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(setsockopt(usock_get_fd(b), SOL_SOCKET, SO_RCVTIMEO,
				    &tv, sizeof(tv)),
			 0);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), -EAGAIN);

	ck_assert_int_eq(usock_set_nonblock(a, 1), 0);
	while ((r = usock_send(a, out, sizeof(out), NULL)) > 0)
		;
	ck_assert_int_eq(r, -EAGAIN);
	ck_assert_int_eq(usock_set_nonblock(a, 0), 0);
	ck_assert_int_eq(setsockopt(usock_get_fd(a), SOL_SOCKET, SO_SNDTIMEO,
				    &tv, sizeof(tv)),
			 0);
	ck_assert_int_eq(usock_send(a, out, sizeof(out), NULL), -EAGAIN);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* The peer closed with data of its own unread: -ECONNRESET, then EOF. */
START_TEST(test_econnreset)
{
	struct usock *a, *b;
	char buf[8];

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_send(a, "unread", 6, NULL), 6);
	usock_close(b);
	ck_assert_int_eq(usock_recv(a, buf, sizeof(buf), NULL), -ECONNRESET);
	ck_assert_int_eq(usock_recv(a, buf, sizeof(buf), NULL), -EPIPE);
	ck_assert_int_eq(usock_recv(a, buf, sizeof(buf), NULL), -EPIPE);
	usock_close(a);
}
END_TEST

/* ---- EINTR: a handler without SA_RESTART interrupts a blocked call ---- */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

struct timer_state {
	struct sigaction old;
};

/* SIGALRM every 20 ms, without SA_RESTART. */
static void start_alarms(struct timer_state *st)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = {
		.it_interval = { .tv_usec = 20000 },
		.it_value = { .tv_usec = 20000 },
	};

	alarms = 0;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &st->old), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void stop_alarms(struct timer_state *st)
{
	struct itimerval off = { 0 };

	ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
	ck_assert_int_eq(sigaction(SIGALRM, &st->old, NULL), 0);
}

struct late_arg {
	struct usock *mine, *theirs;
	int drain; /* messages to read before answering */
};

/* Waits 300 ms (several alarms in the parent), reads drain messages, then
 * sends one. */
static int child_late(void *p)
{
	struct late_arg *a = p;
	struct timespec ts = { .tv_nsec = 300 * 1000 * 1000 };
	char buf[CHUNK];

	usock_close(a->theirs);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	for (int i = 0; i < a->drain; i++)
		CHILD_ASSERT(usock_recv(a->mine, buf, sizeof(buf), NULL) > 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "late", 4, NULL), 4);
	usock_close(a->mine);
	return 0;
}

START_TEST(test_recv_retries_eintr)
{
	struct late_arg arg = { .drain = 0 };
	struct timer_state st;
	char buf[8];
	ssize_t r;
	pid_t pid;

	pair_ok(USOCK_SEQPACKET, 0, &arg.theirs, &arg.mine);
	pid = child_spawn(child_late, &arg);
	usock_close(arg.mine);

	start_alarms(&st);
	r = usock_recv(arg.theirs, buf, sizeof(buf), NULL);
	stop_alarms(&st);
	ck_assert_int_eq(r, 4);
	ck_assert(memcmp(buf, "late", 4) == 0);
	ck_assert_int_gt(alarms, 0);

	child_wait_ok(pid);
	usock_close(arg.theirs);
}
END_TEST

START_TEST(test_send_retries_eintr)
{
	struct late_arg arg = { .drain = 0 };
	struct timer_state st;
	static char out[CHUNK];
	char buf[8];
	ssize_t r;
	pid_t pid;

	pair_ok(USOCK_SEQPACKET, 0, &arg.theirs, &arg.mine);
	/* Fill the queue, then block on one more send. */
	ck_assert_int_eq(usock_set_nonblock(arg.theirs, 1), 0);
	while ((r = usock_send(arg.theirs, out, sizeof(out), NULL)) > 0)
		arg.drain++;
	ck_assert_int_eq(r, -EAGAIN);
	ck_assert_int_eq(usock_set_nonblock(arg.theirs, 0), 0);
	/* The child reads the queue and then the blocked send's message
	 * too, so it cannot close before that send is done. */
	arg.drain++;
	pid = child_spawn(child_late, &arg);
	usock_close(arg.mine);

	start_alarms(&st);
	r = usock_send(arg.theirs, out, sizeof(out), NULL);
	stop_alarms(&st);
	ck_assert_int_eq(r, CHUNK);
	ck_assert_int_gt(alarms, 0);

	recv_ok(arg.theirs, sizeof(buf), NULL, "late", -1);
	child_wait_ok(pid);
	usock_close(arg.theirs);
}
END_TEST

TEST_SUITE(eof)
{
	TCase *tc;

	tc = fd_tcase(s, "empty");
	tcase_add_loop_test(tc, test_seqpacket_empty_message, 0, 2);
	tcase_add_loop_test(tc, test_dgram_empty_message, 0, 2);
	tcase_add_loop_test(tc, test_empty_then_data_then_close, 0, 2);
	tcase_add_test(tc, test_empty_then_close_passcred);
	tcase_add_test(tc, test_empty_then_close_no_passcred);
	tcase_add_test(tc, test_empty_with_fd_then_close);
	tcase_add_test(tc, test_empty_then_fd_message_then_close);

	tc = fd_tcase(s, "closed");
	tcase_add_loop_test(tc, test_seqpacket_eof, 0, 2);
	tcase_add_loop_test(tc, test_stream_eof, 0, 2);
	tcase_add_conn_test(tc, test_send_closed_peer);
	tcase_add_test(tc, test_dgram_closed_peer);
	tcase_add_conn_test(tc, test_econnreset);

	tc = fd_tcase(s, "nonblock");
	tcase_add_types_test(tc, test_nonblock_recv_eagain);
	tcase_add_types_test(tc, test_nonblock_send_full);
	tcase_add_types_test(tc, test_timeouts);

	tc = fd_tcase(s, "eintr");
	tcase_add_test(tc, test_recv_retries_eintr);
	tcase_add_test(tc, test_send_retries_eintr);
}
