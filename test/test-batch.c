/* SPDX-License-Identifier: MIT */
/* Batches: usock_send_batch (sendmmsg) and usock_recv_batch (recvmmsg). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define N 10

/* n receive buffers of size bytes each, carved out of one array. */
static void make_bufs(struct iovec *iov, char *mem, unsigned int n, size_t size)
{
	for (unsigned int i = 0; i < n; i++) {
		iov[i].iov_base = mem + i * size;
		iov[i].iov_len = size;
	}
}

START_TEST(test_roundtrip)
{
	char text[N][8], mem[N * 16];
	struct iovec out[N], in[N];
	struct usock_msg *sm[N] = { NULL }, *rm[N];
	struct usock *a, *b;
	ssize_t lens[N];
	int p[2];

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	for (int i = 0; i < N; i++) {
		snprintf(text[i], sizeof(text[i]), "msg-%02d", i);
		out[i].iov_base = text[i];
		out[i].iov_len = 6;
		rm[i] = msg_new_ok();
		/* Every third carries an fd (p[0] and p[1] by turns), and
		 * one message object per entry. */
		if (i % 3 == 0) {
			sm[i] = msg_new_ok();
			ck_assert_int_eq(usock_msg_add_fd(sm[i], p[i % 2]), 0);
		}
	}
	make_bufs(in, mem, N, 16);

	ck_assert_int_eq(usock_send_batch(a, out, sm, N), N);
	/* The message objects are unchanged. */
	for (int i = 0; i < N; i += 3) {
		ck_assert_int_eq(usock_msg_get_nfds(sm[i]), 1);
		ck_assert_int_eq(usock_msg_get_fd(sm[i], 0), p[i % 2]);
	}

	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, N), N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(lens[i], 6);
		ck_assert(memcmp(in[i].iov_base, text[i], 6) == 0);
		if (i % 3) {
			ck_assert_int_eq(usock_msg_get_nfds(rm[i]), 0);
			continue;
		}
		ck_assert_int_eq(usock_msg_get_nfds(rm[i]), 1);
		ck_assert_int_eq(fd_cloexec(usock_msg_get_fd(rm[i], 0)), 1);
		ck_assert(fid_eq(fid_of(usock_msg_get_fd(rm[i], 0)),
				 fid_of(p[i % 2])));
	}
	ck_assert_uint_eq(fd_count(), fd_baseline()->n + 4 + 4);
	assert_nothing_queued(b);

	/* Receiving again into the same objects first closes their fds. */
	ck_assert_int_eq(usock_send_batch(a, out, NULL, 2), 2);
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 2), 2);
	ck_assert_int_eq(usock_msg_get_nfds(rm[0]), 0);
	usock_msg_reset(rm[3]);
	usock_msg_reset(rm[6]);
	usock_msg_reset(rm[9]);
	ck_assert_uint_eq(fd_count(), fd_baseline()->n + 4);

	for (int i = 0; i < N; i++) {
		usock_msg_free(sm[i]);
		usock_msg_free(rm[i]);
	}
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_zero_and_clamp)
{
	static char one[100], mem[100];
	struct iovec out[100], in[100];
	ssize_t lens[100];
	struct usock *a, *b;

	pair_ok(_i, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(usock_send_batch(a, NULL, NULL, 0), 0);
	ck_assert_int_eq(usock_recv_batch(b, NULL, NULL, NULL, 0), 0);
	assert_nothing_queued(b);

	for (int i = 0; i < 100; i++) {
		one[i] = (char)i;
		out[i].iov_base = &one[i];
		out[i].iov_len = 1;
	}
	make_bufs(in, mem, 100, 1);
	/* At most USOCK_MAX_BATCH per call, both ways. */
	ck_assert_int_eq(usock_send_batch(a, out, NULL, 100), USOCK_MAX_BATCH);
	ck_assert_int_eq(usock_recv_batch(b, in, NULL, lens, 100),
			 USOCK_MAX_BATCH);
	for (int i = 0; i < USOCK_MAX_BATCH; i++) {
		ck_assert_int_eq(lens[i], 1);
		ck_assert_int_eq(mem[i], (char)i);
	}
	ck_assert_int_eq(usock_recv_batch(b, in, NULL, lens, 100), -EAGAIN);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* A nonblocking batch that does not fit: a partial count, then -EAGAIN. */
START_TEST(test_partial)
{
	enum { SIZE = 16384 };
	static char big[SIZE], mem[USOCK_MAX_BATCH * SIZE];
	struct iovec out[USOCK_MAX_BATCH], in[USOCK_MAX_BATCH];
	ssize_t lens[USOCK_MAX_BATCH];
	struct usock *a, *b;
	int sent, got = 0, r;

	for (int i = 0; i < USOCK_MAX_BATCH; i++) {
		out[i].iov_base = big;
		out[i].iov_len = SIZE;
	}
	make_bufs(in, mem, USOCK_MAX_BATCH, SIZE);
	pair_ok(_i, USOCK_NONBLOCK, &a, &b);
	sent = usock_send_batch(a, out, NULL, USOCK_MAX_BATCH);
	ck_assert_int_ge(sent, 1);
	ck_assert_int_lt(sent, USOCK_MAX_BATCH);
	ck_assert_int_eq(usock_send_batch(a, out, NULL, USOCK_MAX_BATCH),
			 -EAGAIN);
	while ((r = usock_recv_batch(b, in, NULL, lens, USOCK_MAX_BATCH)) > 0) {
		for (int i = 0; i < r; i++)
			ck_assert_int_eq(lens[i], SIZE);
		got += r;
	}
	ck_assert_int_eq(r, -EAGAIN);
	ck_assert_int_eq(got, sent);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* One bad message spoils only its own entry. */
START_TEST(test_per_message_errors)
{
	static const char *const text[] = { "ok-0", "toolong-1-xxxxxx", "q-2",
					    "fd-3" };
	int fds[3] = { STDIN_FILENO, STDIN_FILENO, STDIN_FILENO };
	struct usock_msg *q = msg_new_ok(), *one = msg_new_ok();
	struct usock_msg *sm[4] = { NULL, NULL, q, one }, *rm[4];
	struct iovec out[4], in[4];
	char mem[4 * 8];
	ssize_t lens[4];
	struct usock *a, *b;
	size_t before;

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(usock_msg_add_fd(q, fds[i]), 0);
	ck_assert_int_eq(usock_msg_add_fd(one, STDIN_FILENO), 0);
	for (int i = 0; i < 4; i++) {
		out[i].iov_base = (void *)text[i];
		out[i].iov_len = strlen(text[i]);
		rm[i] = msg_new_ok();
	}
	make_bufs(in, mem, 4, 8);
	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, 2), 0);

	ck_assert_int_eq(usock_send_batch(a, out, sm, 4), 4);
	before = fd_count();
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 4), 4);
	ck_assert_int_eq(lens[0], 4);
	ck_assert_int_eq(lens[1], -EMSGSIZE);
	ck_assert_int_eq(lens[2], -E2BIG);
	ck_assert_int_eq(lens[3], 4);
	ck_assert(memcmp(in[3].iov_base, "fd-3", 4) == 0);
	ck_assert_int_eq(usock_msg_get_nfds(rm[1]), 0);
	ck_assert_int_eq(usock_msg_get_nfds(rm[2]), 0);
	ck_assert_int_eq(usock_msg_get_nfds(rm[3]), 1);
	ck_assert_uint_eq(fd_count(), before + 1);
	usock_msg_reset(rm[3]);

	/* Without message objects: the same verdicts, no fd kept. */
	ck_assert_int_eq(usock_send_batch(a, out, sm, 4), 4);
	ck_assert_int_eq(usock_recv_batch(b, in, NULL, lens, 4), 4);
	ck_assert_int_eq(lens[0], 4);
	ck_assert_int_eq(lens[1], -EMSGSIZE);
	ck_assert_int_eq(lens[2], -E2BIG);
	ck_assert_int_eq(lens[3], 4);
	ck_assert_uint_eq(fd_count(), before);

	for (int i = 0; i < 4; i++)
		usock_msg_free(rm[i]);
	usock_msg_free(q);
	usock_msg_free(one);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* The quota applies without message objects, whatever its size: 13 fds
 * over a quota of 12 are rejected, 12 pass (and are closed). */
START_TEST(test_quota_without_msgs)
{
	struct usock_msg *over = msg_new_ok(), *fit = msg_new_ok();
	struct usock_msg *sm[2] = { over, fit };
	struct iovec out[2] = { { .iov_base = "13", .iov_len = 2 },
				{ .iov_base = "12", .iov_len = 2 } };
	struct iovec in[2];
	char mem[2 * 4];
	ssize_t lens[2];
	struct usock *a, *b;
	size_t before;

	for (int i = 0; i < 13; i++)
		ck_assert_int_eq(usock_msg_add_fd(over, STDIN_FILENO), 0);
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(usock_msg_add_fd(fit, STDIN_FILENO), 0);
	make_bufs(in, mem, 2, 4);
	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, 12), 0);
	ck_assert_int_eq(usock_send_batch(a, out, sm, 2), 2);
	before = fd_count();
	ck_assert_int_eq(usock_recv_batch(b, in, NULL, lens, 2), 2);
	ck_assert_int_eq(lens[0], -E2BIG);
	ck_assert_int_eq(lens[1], 2);
	ck_assert_uint_eq(fd_count(), before);

	usock_msg_free(over);
	usock_msg_free(fit);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* _i: 0, 1 SEQPACKET without and with SO_PASSCRED; 2 STREAM. */
START_TEST(test_eof)
{
	const int type = _i == 2 ? USOCK_STREAM : USOCK_SEQPACKET;
	struct usock *a, *b;
	struct usock_msg *rm[8];
	struct iovec out[2] = { { .iov_base = "abc", .iov_len = 3 },
				{ .iov_base = "de", .iov_len = 2 } };
	struct iovec in[8];
	char mem[8 * 8];
	ssize_t lens[8];

	for (int i = 0; i < 8; i++)
		rm[i] = msg_new_ok();
	make_bufs(in, mem, 8, 8);
	pair_ok(type, 0, &a, &b);
	ck_assert_int_eq(usock_set_passcred(b, _i == 1), 0);
	if (type == USOCK_STREAM) {
		/* No batched sends on a stream (usock_send_batch(3)). */
		ck_assert_int_eq(usock_send_batch(a, out, NULL, 2),
				 -EOPNOTSUPP);
		ck_assert_int_eq(usock_send(a, "abc", 3, NULL), 3);
		ck_assert_int_eq(usock_send(a, "de", 2, NULL), 2);
	} else {
		ck_assert_int_eq(usock_send_batch(a, out, NULL, 2), 2);
	}
	usock_close(a);

	if (type == USOCK_STREAM) {
		/* A stream has no boundaries: one read takes both. */
		ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 8), 1);
		ck_assert_int_eq(lens[0], 5);
		ck_assert(memcmp(mem, "abcde", 5) == 0);
	} else {
		ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 8), 2);
		ck_assert_int_eq(lens[0], 3);
		ck_assert_int_eq(lens[1], 2);
	}
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 8), -EPIPE);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(usock_msg_get_nfds(rm[i]), 0);
	ck_assert_int_eq(usock_recv_batch(b, in, NULL, lens, 8), -EPIPE);

	for (int i = 0; i < 8; i++)
		usock_msg_free(rm[i]);
	usock_close(b);
}
END_TEST

struct late_arg {
	struct usock *mine, *theirs;
};

static int child_send_late(void *p)
{
	struct late_arg *a = p;
	struct timespec ts = { .tv_nsec = 200 * 1000 * 1000 };

	usock_close(a->theirs);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "late", 4, NULL), 4);
	usock_close(a->mine);
	return 0;
}

/* Blocks for the first message only, then returns what there is. */
START_TEST(test_waits_for_one)
{
	struct late_arg arg;
	struct iovec in[8];
	char mem[8 * 8];
	ssize_t lens[8];
	pid_t pid;

	make_bufs(in, mem, 8, 8);
	pair_ok(_i, 0, &arg.theirs, &arg.mine);
	pid = child_spawn(child_send_late, &arg);
	usock_close(arg.mine);
	ck_assert_int_eq(usock_recv_batch(arg.theirs, in, NULL, lens, 8), 1);
	ck_assert_int_eq(lens[0], 4);
	ck_assert(memcmp(mem, "late", 4) == 0);
	child_wait_ok(pid);
	usock_close(arg.theirs);
}
END_TEST

START_TEST(test_stream_empty)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok(), *sm[2] = { NULL, m };
	struct iovec out[2] = { { .iov_base = "x", .iov_len = 1 },
				{ .iov_base = "y", .iov_len = 0 } };
	struct iovec in[2];
	char mem[2 * 4];
	ssize_t lens[2];

	pair_ok(USOCK_STREAM, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(usock_msg_add_fd(m, STDIN_FILENO), 0);
	/* Refused as a whole, on a stream: a partly written message would
	 * count as sent and its rest be lost. Not even the first goes. */
	ck_assert_int_eq(usock_send_batch(a, out, sm, 2), -EOPNOTSUPP);
	assert_nothing_queued(b);
	ck_assert_int_eq(usock_send_batch(a, out, NULL, 1), -EOPNOTSUPP);
	assert_nothing_queued(b);

	ck_assert_int_eq(usock_send(a, "z", 1, NULL), 1);
	make_bufs(in, mem, 2, 4);
	in[1].iov_len = 0;
	ck_assert_int_eq(usock_recv_batch(b, in, NULL, lens, 2), -EINVAL);
	/* The byte is still there. */
	in[1].iov_len = 4;
	ck_assert_int_eq(usock_recv_batch(b, in, NULL, lens, 2), 1);
	ck_assert_int_eq(lens[0], 1);

	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* Packets: an empty payload may carry fds; credentials per message. */
START_TEST(test_empty_and_creds)
{
	struct usock *a, *b;
	struct usock_msg *sm[2], *rm[2];
	struct iovec out[2] = { { .iov_base = NULL, .iov_len = 0 },
				{ .iov_base = "c", .iov_len = 1 } };
	struct iovec in[2];
	char mem[2 * 4];
	ssize_t lens[2];
	int32_t pid;
	uint32_t uid, gid;

	for (int i = 0; i < 2; i++) {
		rm[i] = msg_new_ok();
		sm[i] = msg_new_ok();
		ck_assert_int_eq(usock_msg_add_fd(sm[i], STDIN_FILENO), 0);
		ck_assert_int_eq(usock_msg_set_creds(sm[i], getpid(), getuid(),
						     getgid()),
				 0);
	}
	make_bufs(in, mem, 2, 4);
	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_passcred(b, 1), 0);
	ck_assert_int_eq(usock_send_batch(a, out, sm, 2), 2);
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 2), 2);
	ck_assert_int_eq(lens[0], 0);
	ck_assert_int_eq(lens[1], 1);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(usock_msg_get_nfds(rm[i]), 1);
		ck_assert_int_eq(usock_msg_get_creds(rm[i], &pid, &uid, &gid),
				 0);
		ck_assert_int_eq(pid, getpid());
		ck_assert_uint_eq(uid, getuid());
		ck_assert_uint_eq(gid, getgid());
	}
	for (int i = 0; i < 2; i++) {
		usock_msg_free(rm[i]);
		usock_msg_free(sm[i]);
	}
	usock_close(a);
	usock_close(b);
}
END_TEST

TEST_SUITE(batch)
{
	TCase *tc = fd_tcase(s, "batch");

	tcase_add_loop_test(tc, test_roundtrip, USOCK_SEQPACKET,
			    USOCK_SEQPACKET + 1);
	tcase_add_loop_test(tc, test_roundtrip, USOCK_DGRAM, USOCK_DGRAM + 1);
	tcase_add_loop_test(tc, test_zero_and_clamp, USOCK_SEQPACKET,
			    USOCK_SEQPACKET + 1);
	tcase_add_loop_test(tc, test_zero_and_clamp, USOCK_DGRAM,
			    USOCK_DGRAM + 1);
	tcase_add_loop_test(tc, test_partial, USOCK_SEQPACKET,
			    USOCK_SEQPACKET + 1);
	tcase_add_loop_test(tc, test_partial, USOCK_DGRAM, USOCK_DGRAM + 1);
	tcase_add_loop_test(tc, test_per_message_errors, USOCK_SEQPACKET,
			    USOCK_SEQPACKET + 1);
	tcase_add_loop_test(tc, test_per_message_errors, USOCK_DGRAM,
			    USOCK_DGRAM + 1);
	tcase_add_loop_test(tc, test_quota_without_msgs, USOCK_SEQPACKET,
			    USOCK_SEQPACKET + 1);
	tcase_add_loop_test(tc, test_quota_without_msgs, USOCK_DGRAM,
			    USOCK_DGRAM + 1);
	tcase_add_loop_test(tc, test_eof, 0, 3);
	tcase_add_loop_test(tc, test_waits_for_one, USOCK_SEQPACKET,
			    USOCK_DGRAM + 1);
	tcase_add_test(tc, test_stream_empty);
	tcase_add_loop_test(tc, test_empty_and_creds, USOCK_SEQPACKET,
			    USOCK_SEQPACKET + 1);
	tcase_add_loop_test(tc, test_empty_and_creds, USOCK_DGRAM,
			    USOCK_DGRAM + 1);
}
