/* SPDX-License-Identifier: MIT */
/*
 * Hostile peers: a raw-syscall peer sends what libusock itself never would
 * (too many fds, several SCM_RIGHTS blocks, fds without payload, credentials
 * nobody asked for, a flood), dies half way, or gets a socket sent over
 * itself. The receiver (libusock) must report the documented error, keep
 * nothing it should not, and go on reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../helpers.h"
#include "../raw.h"

static void assert_fds(struct usock_msg *m, const int *want, int n)
{
	ck_assert_int_eq(usock_msg_get_nfds(m), n);
	for (int i = 0; i < n; i++) {
		int fd = usock_msg_get_fd(m, (unsigned int)i);

		ck_assert_int_ge(fd, 0);
		ck_assert_msg(fid_eq(fid_of(fd), fid_of(want[i])),
			      "fd %d is not the file sent", i);
		ck_assert_int_eq(fd_cloexec(fd), 1);
	}
}

/* 253 fds (one block, then three) to a receiver that takes 4. */
START_TEST(test_253_to_quota_4)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fds[USOCK_MAX_FDS], sock;
	struct raw_ctl big = { .fds = fds,
			       .nfds = USOCK_MAX_FDS,
			       .nblocks = 1 };
	struct raw_ctl four = { .fds = fds, .nfds = 4, .nblocks = 1 };
	char buf[8];
	size_t before;

	pair_ok(_i, 0, &a, &b);
	sock = usock_get_fd(a);
	devnull_fds(fds, USOCK_MAX_FDS);
	ck_assert_int_eq(usock_set_max_fds(b, 4), 0);
	ck_assert_int_eq(raw_send(sock, "big", 3, &big, 0), 3);
	ck_assert_int_eq(raw_send(sock, "ok", 2, &four, 0), 2);
	big.nblocks = 3;
	ck_assert_int_eq(raw_send(sock, "big", 3, &big, 0), 3);
	ck_assert_int_eq(raw_send(sock, "end", 3, NULL, 0), 3);

	before = fd_count();
	ck_assert_int_eq(usock_recv(b, buf, 3, m), -E2BIG);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_uint_eq(fd_count(), before);
	ck_assert_int_eq(usock_recv(b, buf, 2, m), 2);
	assert_fds(m, fds, 4);
	usock_msg_reset(m);
	/* The quota holds without a message object too. */
	ck_assert_int_eq(usock_recv(b, buf, 3, NULL), -E2BIG);
	ck_assert_uint_eq(fd_count(), before);
	recv_ok(b, 3, m, "end", -1);
	assert_nothing_queued(b);

	close_fds(fds, USOCK_MAX_FDS);
	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* Three SCM_RIGHTS blocks and credentials between them: one list, in
 * order; over the quota, nothing kept. */
START_TEST(test_rights_blocks)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2], q[2], fds[6];
	struct raw_ctl six = {
		.fds = fds, .nfds = 6, .nblocks = 3, .creds = true
	};
	int32_t pid;
	uint32_t uid, gid;
	char buf[8];
	size_t before;

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(q, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = q[0];
	fds[3] = q[1];
	fds[4] = devnull();
	fds[5] = p[0];
	ck_assert_int_eq(usock_set_passcred(b, 1), 0);
	ck_assert_int_eq(raw_send(usock_get_fd(a), "six", 3, &six, 0), 3);
	ck_assert_int_eq(raw_send(usock_get_fd(a), "six", 3, &six, 0), 3);

	ck_assert_int_eq(usock_recv(b, buf, 3, m), 3);
	assert_fds(m, fds, 6);
	ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
	ck_assert_int_eq(pid, getpid());
	ck_assert_uint_eq(uid, getuid());
	ck_assert_uint_eq(gid, getgid());
	usock_msg_reset(m);

	ck_assert_int_eq(usock_set_max_fds(b, 5), 0);
	before = fd_count();
	ck_assert_int_eq(usock_recv(b, buf, 3, m), -E2BIG);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_uint_eq(fd_count(), before);
	assert_nothing_queued(b);

	close_fds(p, 2);
	close_fds(q, 2);
	close(fds[4]);
	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

/*
 * fds with no payload. SEQPACKET and DGRAM: a message of 0 bytes with its
 * fds, not end of file even when the peer closes right after. STREAM: the
 * kernel drops such fds (sendmsg returns 0): nothing arrives, nothing leaks.
 */
START_TEST(test_fds_empty_payload)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fds[2];
	struct raw_ctl two = { .fds = fds, .nfds = 2, .nblocks = 1 };
	char buf[8];
	size_t before;

	pair_ok(_i, 0, &a, &b);
	devnull_fds(fds, 2);
	before = fd_count();
	if (_i == USOCK_STREAM) {
		ck_assert_int_eq(raw_send(usock_get_fd(a), "", 0, &two, 0), 0);
		assert_nothing_queued(b);
		ck_assert_int_eq(raw_send(usock_get_fd(a), "x", 1, &two, 0), 1);
		usock_close(a);
		ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 1);
		assert_fds(m, fds, 2);
		usock_msg_reset(m);
		ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), -EPIPE);
	} else {
		ck_assert_int_eq(raw_send(usock_get_fd(a), "", 0, &two, 0), 0);
		ck_assert_int_eq(raw_send(usock_get_fd(a), "", 0, &two, 0), 0);
		if (_i == USOCK_SEQPACKET)
			usock_close(a);
		ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 0);
		assert_fds(m, fds, 2);
		ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), NULL), 0);
		usock_msg_reset(m);
		ck_assert_uint_eq(fd_count(),
				  before - (_i == USOCK_SEQPACKET ? 1 : 0));
		if (_i == USOCK_SEQPACKET) {
			ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m),
					 -EPIPE);
		} else {
			ck_assert_int_eq(usock_set_nonblock(b, 1), 0);
			ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m),
					 -EAGAIN);
			usock_close(a);
		}
	}
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	close_fds(fds, 2);
	usock_msg_free(m);
	usock_close(b);
}
END_TEST

static void assert_creds(struct usock_msg *m, bool want)
{
	int32_t pid;
	uint32_t uid, gid;

	if (!want) {
		ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, &gid),
				 -ENODATA);
		ck_assert_int_eq(pid, 0);
		return;
	}
	ck_assert_int_eq(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
	ck_assert_int_eq(pid, getpid());
	ck_assert_uint_eq(uid, getuid());
	ck_assert_uint_eq(gid, getgid());
}

/*
 * Credentials the receiver did not ask for are not reported; a message
 * queued before it asked carries pid 0 (nobody); after, every message has
 * them, sent or not.
 */
START_TEST(test_unasked_creds)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fd = devnull(), sock;
	struct raw_ctl creds_fd = {
		.fds = &fd, .nfds = 1, .nblocks = 1, .creds = true
	};
	struct raw_ctl creds = { .creds = true };
	char buf[8];

	pair_ok(_i, 0, &a, &b);
	sock = usock_get_fd(a);
	ck_assert_int_eq(raw_send(sock, "unasked", 7, &creds_fd, 0), 7);
	ck_assert_int_eq(raw_send(sock, "queued", 6, NULL, 0), 6);

	recv_ok(b, 7, m, "unasked", -1);
	assert_fds(m, &fd, 1);
	assert_creds(m, false);

	ck_assert_int_eq(usock_set_passcred(b, 1), 0);
	ck_assert_int_eq(raw_send(sock, "asked", 5, &creds, 0), 5);
	ck_assert_int_eq(raw_send(sock, "implicit", 8, NULL, 0), 8);
	recv_ok(b, 6, m, "queued", -1);
	/* Queued before SO_PASSCRED went on: no credentials, except on
	 * SEQPACKET, where the library keeps the option on all along. */
	assert_creds(m, _i == USOCK_SEQPACKET);
	ck_assert_int_eq(usock_recv(b, buf, 5, m), 5);
	assert_creds(m, true);
	recv_ok(b, 8, m, "implicit", -1);
	assert_creds(m, true);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	assert_nothing_queued(b);

	close(fd);
	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

#define RECORD 64
/* Every 8th record carries an fd: few in flight, so that the per-user
 * in-flight limit of an unprivileged run cannot end the flood first. */
#define HAS_FD(i) ((i) % 8 == 0)

static void record(char *buf, unsigned int i)
{
	memset(buf, 0, RECORD);
	snprintf(buf, RECORD, "record %u", i);
}

/*
 * Send records 0, 1, ... (every 8th with its fd) until -EAGAIN: through
 * libusock on b with m, or, with b NULL, raw on sock with ctl. Returns how
 * many went, more than one.
 */
static unsigned int flood(struct usock *b, const struct usock_msg *m, int sock,
			  const struct raw_ctl *ctl)
{
	char buf[RECORD];
	unsigned int n;
	ssize_t r;

	for (n = 0;; n++) {
		record(buf, n);
		/* Few in flight, but tests beside this one (same user) may
		 * hold the user's count over the limit for a moment: only a
		 * full buffer ends the flood. */
		do {
			if (b)
				r = usock_send(b, buf, RECORD,
					       HAS_FD(n) ? m : NULL);
			else
				r = raw_send(sock, buf, RECORD,
					     HAS_FD(n) ? ctl : NULL,
					     MSG_DONTWAIT);
		} while (inflight_busy(r));
		if (r == -EAGAIN)
			break;
		ck_assert_int_eq(r, RECORD);
		ck_assert_uint_lt(n, 100000);
	}
	ck_assert_uint_gt(n, 1);
	return n;
}

/*
 * Nonblocking floods both ways until the socket buffer is full: -EAGAIN,
 * every message whole with its fd when drained, then it works again.
 */
START_TEST(test_flood)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fd = devnull(), sock;
	struct raw_ctl one = { .fds = &fd, .nfds = 1, .nblocks = 1 };
	char buf[RECORD], want[RECORD];
	unsigned int n, got, nfds;
	ssize_t r;

	pair_ok(_i, 0, &a, &b);
	sock = usock_get_fd(a);
	ck_assert_int_eq(usock_set_nonblock(b, 1), 0);

	for (int round = 0; round < 2; round++) {
		/* Raw peer to libusock. */
		n = flood(NULL, NULL, sock, &one);
		for (got = 0;; got++) {
			r = usock_recv(b, buf, RECORD, m);
			if (r == -EAGAIN)
				break;
			ck_assert_int_eq(r, RECORD);
			record(want, got);
			ck_assert_str_eq(buf, want);
			if (HAS_FD(got))
				assert_fds(m, &fd, 1);
			else
				ck_assert_int_eq(usock_msg_get_nfds(m), 0);
		}
		ck_assert_uint_eq(got, n);
		ck_assert_int_eq(usock_msg_get_nfds(m), 0);

		/* libusock to the raw peer. */
		usock_msg_reset(m);
		ck_assert_int_eq(usock_msg_add_fd(m, fd), 0);
		n = flood(b, m, -1, NULL);
		for (got = 0;; got++) {
			r = raw_recv(sock, buf, RECORD, &nfds, MSG_DONTWAIT);
			if (r == -EAGAIN)
				break;
			ck_assert_int_eq(r, RECORD);
			record(want, got);
			ck_assert_str_eq(buf, want);
			ck_assert_uint_eq(nfds, HAS_FD(got) ? 1 : 0);
		}
		ck_assert_uint_eq(got, n);
		usock_msg_reset(m);
	}

	close(fd);
	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

struct dies_arg {
	int type;
	struct usock *mine, *theirs;
	int fds[3];
};

/* Raw peer: three messages with an fd each, half a record, then death
 * with our message still unread in its queue. */
static int child_dies(void *p)
{
	struct dies_arg *a = p;
	int sock = usock_get_fd(a->mine);
	char buf[8];

	usock_close(a->theirs);
	/* Wait for the parent's message, so it is surely queued here. */
	CHILD_ASSERT(recv(sock, buf, sizeof(buf), MSG_PEEK) == 6);
	for (int i = 0; i < 3; i++) {
		struct raw_ctl one = { .fds = &a->fds[i],
				       .nfds = 1,
				       .nblocks = 1 };

		snprintf(buf, sizeof(buf), "msg-%d!", i);
		CHILD_ASSERT_INT_EQ(raw_send(sock, buf, 6, &one, 0), 6);
	}
	if (a->type == USOCK_STREAM)
		CHILD_ASSERT_INT_EQ(raw_send(sock, "hal", 3, NULL, 0), 3);
	/* What the kernel does at the kill anyway; done first, valgrind has
	 * no open fds of ours to report when it sees the signal. */
	close_fds_from(3);
	raise(SIGKILL);
	return 1;
}

/*
 * A peer that dies half way. What it sent is intact, fds and all; our data
 * it never read gives -ECONNRESET once (SEQPACKET: before the queued
 * messages, as the kernel reports a socket error first; STREAM: after
 * them); then end of file.
 */
START_TEST(test_peer_dies)
{
	struct dies_arg arg = { .type = _i };
	struct usock_msg *m = msg_new_ok();
	char buf[8], want[8];
	int status;
	pid_t pid;

	pair_ok(_i, 0, &arg.mine, &arg.theirs);
	devnull_fds(arg.fds, 3);
	pid = child_spawn(child_dies, &arg);
	usock_close(arg.mine);
	ck_assert_int_eq(usock_send(arg.theirs, "unread", 6, NULL), 6);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	if (_i == USOCK_SEQPACKET)
		ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m),
				 -ECONNRESET);
	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "msg-%d!", i);
		ck_assert_int_eq(usock_recv(arg.theirs, buf, 6, m), 6);
		ck_assert(memcmp(buf, want, 6) == 0);
		assert_fds(m, &arg.fds[i], 1);
	}
	if (_i == USOCK_STREAM) {
		recv_ok(arg.theirs, 6, m, "hal", -1);
		ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m),
				 -ECONNRESET);
	}
	ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m), -EPIPE);
	ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m), -EPIPE);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_int_eq(usock_send(arg.theirs, "x", 1, NULL), -EPIPE);

	close_fds(arg.fds, 3);
	usock_msg_free(m);
	usock_close(arg.theirs);
}
END_TEST

/* Wait until rfd reports end of file: the kernel's garbage collector
 * reclaimed the cycle holding the write end. Closing a socket kicks it. */
static bool wait_hangup(int rfd, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		struct pollfd p = { .fd = rfd, .events = POLLIN };
		int sv[2];

		if (poll(&p, 1, 100) == 1 && (p.revents & POLLHUP))
			return true;
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) ==
		    0) {
			close(sv[0]);
			close(sv[1]);
		}
	}
	return false;
}

/*
 * A socket sent over itself. Received: the receiver gets an fd for its own
 * socket. Left in flight and both ends closed: a cycle nobody can reach,
 * which the kernel reclaims (a pipe end sent along shows when).
 */
START_TEST(test_socket_over_itself)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int self, p[2], cycle[2];
	struct raw_ctl ctl = { .fds = &self, .nfds = 1, .nblocks = 1 };
	char buf[8];

	pair_ok(_i, 0, &a, &b);
	self = usock_get_fd(b);
	ck_assert_int_eq(raw_send(usock_get_fd(a), "self", 4, &ctl, 0), 4);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 4);
	assert_fds(m, &self, 1);
	usock_msg_reset(m);

	/* Now a cycle: b's own socket in b's queue, with a pipe end. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	cycle[0] = usock_get_fd(b);
	cycle[1] = p[1];
	ck_assert_int_eq(usock_msg_add_fd(m, cycle[0]), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, cycle[1]), 0);
	ck_assert_int_eq(usock_send(a, "cycle", 5, m), 5);
	usock_msg_free(m);
	close(p[1]);
	usock_close(b);
	usock_close(a);
	ck_assert_msg(wait_hangup(p[0], 10),
		      "the cycle was not reclaimed within 10 s");
	ck_assert_int_eq(read(p[0], buf, 1), 0);
	close(p[0]);
}
END_TEST

TEST_SUITE(hostile)
{
	TCase *tc = fd_tcase(s, "hostile");

	tcase_add_types_test(tc, test_253_to_quota_4);
	tcase_add_types_test(tc, test_rights_blocks);
	tcase_add_types_test(tc, test_fds_empty_payload);
	tcase_add_types_test(tc, test_unasked_creds);
	tcase_add_types_test(tc, test_flood);
	tcase_add_conn_test(tc, test_peer_dies);
	tcase_add_types_test(tc, test_socket_over_itself);
}
