/* SPDX-License-Identifier: MIT */
/*
 * Batches: usock_send_batch (sendmmsg) and usock_recv_batch (recvmmsg). A
 * full batch of 32 with fds, the USOCK_MAX_BATCH clamp, partial batches,
 * a batch that takes only what is queued or waits for one; errors per
 * message, a message that cannot be sent in the middle of a batch, one
 * message object used twice, the fd quota without message objects; empty
 * messages next to end of file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define FULL 32
#define FDS_OF(i) ((i) % 4) /* fds carried by message i of the full batch */

/* n receive buffers of size bytes each, carved out of one array. */
static void make_bufs(struct iovec *iov, char *mem, unsigned int n, size_t size)
{
	for (unsigned int i = 0; i < n; i++) {
		iov[i].iov_base = mem + i * size;
		iov[i].iov_len = size;
	}
}

/*
 * _i: type. 32 messages "msg-NN", message i with i % 4 fds (memfds, each
 * its own inode): all 32 arrive in one call with their own fds (checked by
 * st_ino), close-on-exec; the sent message objects are unchanged. A
 * second batch received into the same message objects closes the fds they
 * held.
 */
START_TEST(test_full_batch)
{
	static char text[FULL][8], mem[FULL * 8];
	struct usock_msg *sm[FULL], *rm[FULL];
	struct iovec out[FULL], in[FULL];
	int fds[FULL][3], total = 0;
	ssize_t lens[FULL];
	struct usock *a, *b;
	size_t before;

	pair_ok(_i, 0, &a, &b);
	for (int i = 0; i < FULL; i++) {
		snprintf(text[i], sizeof(text[i]), "msg-%02d", i);
		out[i].iov_base = text[i];
		out[i].iov_len = 6;
		sm[i] = msg_new_ok();
		rm[i] = msg_new_ok();
		for (int k = 0; k < FDS_OF(i); k++) {
			fds[i][k] = memfd_create("batch", MFD_CLOEXEC);
			ck_assert_int_ge(fds[i][k], 0);
			ck_assert_int_eq(usock_msg_add_fd(sm[i], fds[i][k]), 0);
			total++;
		}
	}
	make_bufs(in, mem, FULL, 6);

	ck_assert_int_eq(usock_send_batch(a, out, sm, FULL), FULL);
	for (int i = 0; i < FULL; i++) {
		ck_assert_int_eq(usock_msg_get_nfds(sm[i]), FDS_OF(i));
		for (int k = 0; k < FDS_OF(i); k++)
			ck_assert_int_eq(
				usock_msg_get_fd(sm[i], (unsigned int)k),
				fds[i][k]);
	}

	before = fd_count();
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, FULL), FULL);
	ck_assert_uint_eq(fd_count(), before + (size_t)total);
	for (int i = 0; i < FULL; i++) {
		ck_assert_int_eq(lens[i], 6);
		ck_assert(memcmp(in[i].iov_base, text[i], 6) == 0);
		ck_assert_int_eq(usock_msg_get_nfds(rm[i]), FDS_OF(i));
		for (int k = 0; k < FDS_OF(i); k++) {
			int fd = usock_msg_get_fd(rm[i], (unsigned int)k);

			ck_assert_int_eq(fd_cloexec(fd), 1);
			ck_assert(fid_eq(fid_of(fd), fid_of(fds[i][k])));
		}
	}
	assert_nothing_queued(b);

	/* Receiving into the same objects again first closes their fds. */
	ck_assert_int_eq(usock_send_batch(a, out, NULL, 2), 2);
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 2), 2);
	ck_assert_int_eq(usock_msg_get_nfds(rm[0]), 0);
	ck_assert_int_eq(usock_msg_get_nfds(rm[1]), 0);
	ck_assert_uint_eq(fd_count(),
			  before + (size_t)(total - FDS_OF(0) - FDS_OF(1)));
	for (int i = 0; i < FULL; i++)
		usock_msg_free(rm[i]);
	ck_assert_uint_eq(fd_count(), before);

	for (int i = 0; i < FULL; i++) {
		usock_msg_free(sm[i]);
		for (int k = 0; k < FDS_OF(i); k++)
			close(fds[i][k]);
	}
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

/*
 * The quota holds when the batch has no message objects, whatever its
 * size: the over-quota entry is -E2BIG, the one within the quota its
 * length, and no fd stays open either way. _i: SEQPACKET with quota 20
 * (21 fds sent), DGRAM with quota 12, SEQPACKET with quota 1 and
 * credentials and pidfds on.
 */
START_TEST(test_quota_without_messages)
{
	static const struct {
		int type;
		unsigned int max;
		bool creds;
	} cases[] = {
		{ USOCK_SEQPACKET, 20, false },
		{ USOCK_DGRAM, 12, false },
		{ USOCK_SEQPACKET, 1, true },
	};
	const unsigned int max = cases[_i].max;
	struct usock *a, *b;
	struct usock_msg *over = msg_new_ok(), *within = msg_new_ok();
	struct usock_msg *sm[2] = { over, within };
	struct iovec out[2] = { { .iov_base = "over", .iov_len = 4 },
				{ .iov_base = "fits", .iov_len = 4 } };
	struct iovec in[2];
	char mem[2 * 8];
	ssize_t lens[2];
	size_t before;

	pair_ok(cases[_i].type, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, max), 0);
	if (cases[_i].creds) {
		ck_assert_int_eq(usock_set_passcred(b, 1), 0);
		ck_assert_int_eq(usock_set_passpidfd(b, 1),
				 kernel_has_pidfds() ? 0 : -ENOPROTOOPT);
	}
	for (unsigned int i = 0; i <= max; i++) {
		ck_assert_int_eq(usock_msg_add_fd(over, STDIN_FILENO), 0);
		if (i < max)
			ck_assert_int_eq(usock_msg_add_fd(within, STDIN_FILENO),
					 0);
	}
	make_bufs(in, mem, 2, 8);
	ck_assert_int_eq(usock_send_batch(a, out, sm, 2), 2);
	before = fd_count();
	ck_assert_int_eq(usock_recv_batch(b, in, NULL, lens, 2), 2);
	ck_assert_uint_eq(fd_count(), before);
	ck_assert_int_eq(lens[0], -E2BIG);
	ck_assert_int_eq(lens[1], 4);
	ck_assert(memcmp(mem + 8, "fits", 4) == 0);

	usock_msg_free(over);
	usock_msg_free(within);
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

static int child_send_late(void *p)
{
	struct child_pair *a = p;
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
	struct child_pair arg;
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

/*
 * _i: type (+3: blocking receiver). Five queued, 16 asked for: 5, at once
 * (MSG_WAITFORONE: only the first receive may wait), then nothing more.
 * Each message carries an fd, which on a stream also keeps the five
 * writes apart.
 */
START_TEST(test_takes_what_is_queued)
{
	const int type = _i % 3;
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok(), *rm[16];
	struct iovec in[16];
	char mem[16 * 8];
	ssize_t lens[16];
	int p[2];

	pair_ok(type, _i < 3 ? USOCK_NONBLOCK : 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, p[0]), 0);
	for (int i = 0; i < 16; i++)
		rm[i] = msg_new_ok();
	make_bufs(in, mem, 16, 8);
	for (int i = 0; i < 5; i++) {
		char c = (char)('a' + i);

		ck_assert_int_eq(usock_send(a, &c, 1, m), 1);
	}
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 16), 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(lens[i], 1);
		ck_assert_int_eq(mem[i * 8], 'a' + i);
		ck_assert_int_eq(usock_msg_get_nfds(rm[i]), 1);
	}
	for (int i = 5; i < 16; i++)
		ck_assert_int_eq(usock_msg_get_nfds(rm[i]), 0);
	assert_nothing_queued(b);
	ck_assert_int_eq(usock_set_nonblock(b, 1), 0);
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 16), -EAGAIN);
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(usock_msg_get_nfds(rm[i]), 0);

	for (int i = 0; i < 16; i++)
		usock_msg_free(rm[i]);
	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

/*
 * SEQPACKET; _i: SO_PASSCRED off (0) or on (1) at the receiver. An empty
 * message followed by a message with data, then the peer closes: a batch
 * gets both (0, then 1 byte with its fd), then -EPIPE. The single-message
 * rule (end of file only when no message with data is still queued) holds
 * for a batch too: the later entries of the same batch are still queued
 * as far as the empty one is concerned.
 */
START_TEST(test_empty_message_before_eof)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok(), *rm[4];
	struct iovec in[4];
	char mem[4 * 8];
	ssize_t lens[4];
	size_t before;
	int p[2];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(usock_set_passcred(b, _i), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, p[0]), 0);
	for (int i = 0; i < 4; i++)
		rm[i] = msg_new_ok();
	make_bufs(in, mem, 4, 8);

	/* The peer still there. */
	ck_assert_int_eq(usock_send(a, NULL, 0, NULL), 0);
	ck_assert_int_eq(usock_send(a, "d", 1, m), 1);
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 4), 2);
	ck_assert_int_eq(lens[0], 0);
	ck_assert_int_eq(lens[1], 1);
	ck_assert_int_eq(usock_msg_get_nfds(rm[1]), 1);
	usock_msg_reset(rm[1]);

	/* The peer gone after sending. */
	ck_assert_int_eq(usock_send(a, "x", 1, NULL), 1);
	ck_assert_int_eq(usock_send(a, NULL, 0, NULL), 0);
	ck_assert_int_eq(usock_send(a, "d", 1, m), 1);
	usock_close(a);
	before = fd_count();
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 4), 3);
	ck_assert_int_eq(lens[0], 1);
	ck_assert_int_eq(lens[1], 0);
	ck_assert_int_eq(lens[2], 1);
	ck_assert_int_eq(mem[0], 'x');
	ck_assert_int_eq(mem[16], 'd');
	ck_assert_int_eq(usock_msg_get_nfds(rm[2]), 1);
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(rm[2], 0)), fid_of(p[0])));
	ck_assert_uint_eq(fd_count(), before + 1);
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 4), -EPIPE);
	ck_assert_uint_eq(fd_count(), before);

	for (int i = 0; i < 4; i++)
		usock_msg_free(rm[i]);
	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(b);
}
END_TEST

/*
 * _i: type. A message that cannot be sent (a closed fd) ends the batch
 * there: the ones before it went, the count says how many; first in the
 * batch, it is the call's error and nothing goes.
 */
START_TEST(test_send_stops_at_bad_message)
{
	struct usock *a, *b;
	struct usock_msg *good = msg_new_ok(), *bad = msg_new_ok();
	struct usock_msg *sm[3] = { good, bad, good };
	struct iovec out[3] = { { .iov_base = "one", .iov_len = 3 },
				{ .iov_base = "two", .iov_len = 3 },
				{ .iov_base = "thr", .iov_len = 3 } };
	char buf[8];

	pair_ok(_i, USOCK_NONBLOCK, &a, &b);
	ck_assert_int_eq(usock_msg_add_fd(good, STDIN_FILENO), 0);
	ck_assert_int_eq(usock_msg_add_fd(bad, closed_fd_number()), 0);
	ck_assert_int_eq(usock_send_batch(a, out, sm, 3), 1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), 3);
	ck_assert(memcmp(buf, "one", 3) == 0);
	assert_nothing_queued(b);
	ck_assert_int_eq(usock_send_batch(a, out + 1, sm + 1, 2), -EBADF);
	assert_nothing_queued(b);

	usock_msg_free(good);
	usock_msg_free(bad);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* _i: type. The same message object for every entry: each message gets
 * its fds (the object is only scratch for the call). */
START_TEST(test_one_object_many_entries)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok(), *sm[3] = { m, m, m }, *rm[3];
	struct iovec out[3] = { { .iov_base = "aa", .iov_len = 2 },
				{ .iov_base = "bb", .iov_len = 2 },
				{ .iov_base = "cc", .iov_len = 2 } };
	struct iovec in[3];
	char mem[3 * 2];
	ssize_t lens[3];
	int p[2];

	pair_ok(_i, 0, &a, &b);
	msg_add_pipe_ok(m, p);
	for (int i = 0; i < 3; i++)
		rm[i] = msg_new_ok();
	make_bufs(in, mem, 3, 2);
	ck_assert_int_eq(usock_send_batch(a, out, sm, 3), 3);
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 3), 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(lens[i], 2);
		ck_assert_int_eq(mem[2 * i], 'a' + i);
		ck_assert_int_eq(usock_msg_get_nfds(rm[i]), 2);
		ck_assert(fid_eq(fid_of(usock_msg_get_fd(rm[i], 0)),
				 fid_of(p[0])));
		ck_assert(fid_eq(fid_of(usock_msg_get_fd(rm[i], 1)),
				 fid_of(p[1])));
		usock_msg_free(rm[i]);
	}
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* One object for two receive entries would hold two messages' fds: refused
 * before anything is received. */
START_TEST(test_recv_same_object_twice)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok(), *other = msg_new_ok();
	struct usock_msg *rm[3] = { m, other, m };
	struct iovec in[3];
	char mem[3 * 4], buf[4];
	ssize_t lens[3];

	pair_ok(USOCK_SEQPACKET, USOCK_NONBLOCK, &a, &b);
	make_bufs(in, mem, 3, 4);
	ck_assert_int_eq(usock_send(a, "x", 1, NULL), 1);
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 3), -EINVAL);
	/* NULL entries may repeat. */
	rm[0] = NULL;
	rm[2] = NULL;
	ck_assert_int_eq(usock_recv_batch(b, in, rm, lens, 3), 1);
	ck_assert_int_eq(lens[0], 1);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), -EAGAIN);

	usock_msg_free(m);
	usock_msg_free(other);
	usock_close(a);
	usock_close(b);
}
END_TEST

TEST_SUITE(batch)
{
	TCase *tc = fd_tcase(s, "batch");

	tcase_add_packet_test(tc, test_full_batch);
	tcase_add_packet_test(tc, test_zero_and_clamp);
	tcase_add_packet_test(tc, test_partial);
	tcase_add_loop_test(tc, test_takes_what_is_queued, 0, 6);
	tcase_add_types_test(tc, test_waits_for_one);
	tcase_add_test(tc, test_stream_empty);

	tc = fd_tcase(s, "messages");
	tcase_add_packet_test(tc, test_per_message_errors);
	tcase_add_packet_test(tc, test_send_stops_at_bad_message);
	tcase_add_packet_test(tc, test_one_object_many_entries);
	tcase_add_test(tc, test_recv_same_object_twice);
	tcase_add_loop_test(tc, test_quota_without_messages, 0, 3);
	tcase_add_packet_test(tc, test_empty_and_creds);

	tc = fd_tcase(s, "eof");
	tcase_add_loop_test(tc, test_eof, 0, 3);
	tcase_add_loop_test(tc, test_empty_message_before_eof, 0, 2);
}
