/* SPDX-License-Identifier: MIT */
/*
 * The per-socket receive quota, usock_set_max_fds / usock_get_max_fds:
 * against libusock senders, and against a peer that does not use libusock
 * (raw sendmsg() with as many fds as it likes, in one SCM_RIGHTS or
 * several, after forcing SO_PASSRIGHTS back on). Whatever it sends, no fd
 * beyond the quota stays in the receiver's fd table.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers.h"
#include "raw.h"

/* Send a 3-byte payload with n copies of stdin. */
static void send_n(struct usock *s, const char *payload, unsigned int n)
{
	int fds[USOCK_MAX_FDS];

	for (unsigned int i = 0; i < n; i++)
		fds[i] = STDIN_FILENO;
	send_fds_ok(s, payload, 3, fds, n);
}

#define MAX_RAW 8

/*
 * raw_send() the string data with the n fds: in one SCM_RIGHTS, or (split)
 * in one SCM_RIGHTS per fd, which the kernel merges on arrival.
 */
static ssize_t send_raw(int sock, const char *data, const int *fds, int n,
			bool split)
{
	struct raw_ctl ctl = { .fds = fds,
			       .nfds = (unsigned int)n,
			       .nblocks = split ? (unsigned int)n : 1 };

	return raw_send(sock, data, strlen(data), &ctl, 0);
}

static void send_raw_ok(int sock, const char *data, const int *fds, int n,
			bool split)
{
	ssize_t r = send_raw(sock, data, fds, n, split);

	ck_assert_msg(r == (ssize_t)strlen(data), "sendmsg(%d fds): %zd", n, r);
}

/* n distinct fds: read ends of pipes (their write ends closed). */
static void make_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		int p[2];

		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		close(p[1]);
		fds[i] = p[0];
	}
}

/* recv into m (or NULL) expecting err, then the fd table as before. */
static void expect_rejected(struct usock *b, struct usock_msg *m, int err)
{
	struct fd_table t;
	char buf[8];

	fd_table_snapshot(&t);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), err);
	assert_fd_table_is(&t);
	fd_table_free(&t);
	if (m)
		ck_assert_int_eq(usock_msg_get_nfds(m), 0);
}

static void expect_plain(struct usock *b, struct usock_msg *m, const char *data)
{
	char buf[16];
	ssize_t len = (ssize_t)strlen(data);

	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), len);
	ck_assert(memcmp(buf, data, (size_t)len) == 0);
	if (m)
		ck_assert_int_eq(usock_msg_get_nfds(m), 0);
}

static int passrights(struct usock *s)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(usock_get_fd(s), SOL_SOCKET, SO_PASSRIGHTS, &v, &len) <
	    0)
		return -errno;
	return v;
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
	recv_ok(b, 3, m, "yes", 2);
	recv_ok(b, 3, m, "one", 1);
	usock_msg_reset(m);
	/* The policy holds without a message object too. */
	ck_assert_int_eq(usock_recv(b, buf, 3, NULL), -E2BIG);
	ck_assert_uint_eq(fd_count(), before);
	recv_ok(b, 3, NULL, "end", -1);

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
	const bool pidfd = kernel_has_pidfds();
	size_t before;
	char buf[3];

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, 2), 0);
	ck_assert_int_eq(usock_set_passcred(b, 1), 0);
	ck_assert_int_eq(usock_set_passpidfd(b, 1), pidfd ? 0 : -ENOPROTOOPT);
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
	else
		ck_assert_int_eq(usock_msg_get_pidfd(m), -ENODATA);
	ck_assert_uint_eq(fd_count(), before + 2 + pidfd);
	ck_assert_int_eq(usock_recv(b, buf, 3, m), -E2BIG);
	ck_assert_int_eq(usock_msg_get_pidfd(m), -ENODATA);
	ck_assert_uint_eq(fd_count(), before);

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
	recv_ok(b, 4, NULL, "next", -1);
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
	int highest = fd_highest(), filler[1024], n, extra;
	char buf[3];

	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	n = child_fill_fd_holes(highest, filler, 1024);
	/* Two free slots: highest + 1 and highest + 2. */
	if (!child_set_nofile((unsigned long)highest + 3, "precedence")) {
		usock_msg_free(m);
		return 0;
	}

	/* Three fds, quota 2, two free slots: over the quota. */
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, 3, m), -E2BIG);
	CHILD_ASSERT(!fd_is_open(highest + 1));
	CHILD_ASSERT(!fd_is_open(highest + 2));

	/* Two fds, one free slot: the table is full. */
	extra = devnull();
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

/*
 * _i: type (+3: passcred on). Quota 0 refuses fds in the kernel where it
 * can (SO_PASSRIGHTS 0): the sender learns at once, raw or through
 * libusock, and plain data still flows. Lifted to 1, fds flow again. A
 * peer that turns SO_PASSRIGHTS back on (through usock_get_fd) and sends
 * fds anyway still gets nothing in: -E2BIG, every fd closed, the next
 * message intact. On an older kernel the fds arrive and the library alone
 * rejects them.
 */
START_TEST(test_quota_zero)
{
	const int type = _i % 3;
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fds[2], one = 1;
	size_t before;
	char buf[3];

	pair_ok(type, 0, &a, &b);
	ck_assert_int_eq(usock_set_passcred(b, _i >= 3), 0);
	ck_assert_int_eq(usock_set_max_fds(b, 0), 0);
	ck_assert_int_eq(usock_get_max_fds(b), 0);
	make_fds(fds, 2);
	ck_assert_int_eq(usock_msg_add_fd(m, fds[0]), 0);
	if (!kernel_has_passrights()) {
		/* Before Linux 6.16 the library alone refuses the fds. */
		ck_assert_int_eq(passrights(b), -ENOPROTOOPT);
		ck_assert_int_eq(usock_send(a, "fds", 3, m), 3);
		before = fd_count();
		ck_assert_int_eq(usock_recv(b, buf, 3, NULL), -E2BIG);
		ck_assert_uint_eq(fd_count(), before);
	} else {
		ck_assert_int_eq(passrights(b), 0);
		ck_assert_int_eq(send_raw(usock_get_fd(a), "fd", fds, 2, false),
				 -EPERM);
		ck_assert_int_eq(usock_send(a, "fds", 3, m), -EPERM);
		assert_nothing_queued(b);
	}
	usock_msg_reset(m);
	ck_assert_int_eq(usock_send(a, "pln", 3, NULL), 3);
	recv_ok(b, 3, m, "pln", -1);

	/* Lifted again: fds flow. */
	ck_assert_int_eq(usock_set_max_fds(b, 1), 0);
	if (passrights(b) != -ENOPROTOOPT)
		ck_assert_int_eq(passrights(b), 1);
	send_n(a, "one", 1);
	ck_assert_int_eq(usock_recv(b, buf, 3, m), 3);
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	usock_msg_reset(m);

	/* Back to 0, and SO_PASSRIGHTS forced on behind the library. */
	ck_assert_int_eq(usock_set_max_fds(b, 0), 0);
	if (kernel_has_passrights()) {
		ck_assert_int_eq(passrights(b), 0);
		ck_assert_int_eq(setsockopt(usock_get_fd(b), SOL_SOCKET,
					    SO_PASSRIGHTS, &one, sizeof(one)),
				 0);
	}
	ck_assert_int_eq(usock_get_max_fds(b), 0);

	/* One at a time: on a stream, plain bytes would run into the next
	 * write that carries fds. */
	send_raw_ok(usock_get_fd(a), "fd", fds, 2, false);
	expect_rejected(b, m, -E2BIG);
	ck_assert_int_eq(usock_send(a, "next", 4, NULL), 4);
	expect_plain(b, m, "next");
	send_raw_ok(usock_get_fd(a), "fd", fds, 1, false);
	expect_rejected(b, NULL, -E2BIG);
	ck_assert_int_eq(usock_send(a, "last", 4, NULL), 4);
	expect_plain(b, NULL, "last");
	assert_nothing_queued(b);

	usock_msg_free(m);
	close_fds(fds, 2);
	usock_close(a);
	usock_close(b);
}
END_TEST

/*
 * The CMSG_SPACE padding trap. _i: type (+3: quota 3 instead of 1). On a
 * 64-bit ABI a buffer of CMSG_SPACE(max * 4) bytes holds max + 1 fds when
 * max is odd (on a 32-bit one exactly max: test_padding_trap_kernel);
 * the library must size it so that the kernel never installs more than
 * max. A raw peer sends max + 1 fds, in one SCM_RIGHTS and split in
 * several: -E2BIG, and the fd table right after the receive is the one
 * before. max fds still go through.
 */
START_TEST(test_padding_trap_raw)
{
	const int type = _i % 3, max = _i >= 3 ? 3 : 1;
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fds[MAX_RAW];

	pair_ok(type, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, (unsigned int)max), 0);
	make_fds(fds, max + 1);

	send_raw_ok(usock_get_fd(a), "one", fds, max + 1, false);
	send_raw_ok(usock_get_fd(a), "two", fds, max + 1, true);
	send_raw_ok(usock_get_fd(a), "fit", fds, max, true);
	ck_assert_int_eq(usock_send(a, "end", 3, NULL), 3);
	expect_rejected(b, m, -E2BIG);
	expect_rejected(b, NULL, -E2BIG);
	ck_assert_int_eq(usock_recv(b, (char[8]){ 0 }, 8, m), 3);
	ck_assert_int_eq(usock_msg_get_nfds(m), max);
	for (int i = 0; i < max; i++)
		ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, (unsigned int)i)),
				 fid_of(fds[i])));
	expect_plain(b, m, "end");

	usock_msg_free(m);
	close_fds(fds, max + 1);
	usock_close(a);
	usock_close(b);
}
END_TEST

/*
 * What the trap is, without the library: on a 64-bit ABI (cmsg data
 * aligned to 8) a receive buffer of CMSG_SPACE(sizeof(int)) takes two fds
 * whole, no MSG_CTRUNC; one of CMSG_LEN(sizeof(int)) takes one and reports
 * truncation. (If this ever stops holding, test_padding_trap_raw no longer
 * proves anything.) A 32-bit ABI aligns to 4: CMSG_SPACE adds no padding,
 * holds one fd and truncates too, and the trap does not exist there.
 */
START_TEST(test_padding_trap_kernel)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	int sv[2], fds[2], got[2];
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	/* 2 on a 64-bit ABI, 1 on a 32-bit one. */
	const int holds =
		(int)((CMSG_SPACE(sizeof(int)) - CMSG_LEN(0)) / sizeof(int));

	ck_assert(holds == 1 || holds == 2);
	/* A plain pair: a usock SEQPACKET pair keeps SO_PASSCRED on. */
	ck_assert_int_eq(
		socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	make_fds(fds, 2);
	send_raw_ok(sv[0], "x", fds, 2, false);
	send_raw_ok(sv[0], "y", fds, 2, false);

	mh.msg_control = ctl.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int));
	ck_assert_int_eq(recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC), 1);
	ck_assert_int_eq(mh.msg_flags & MSG_CTRUNC,
			 holds == 2 ? 0 : MSG_CTRUNC);
	cm = CMSG_FIRSTHDR(&mh);
	ck_assert_ptr_nonnull(cm);
	ck_assert_uint_eq(cm->cmsg_len, CMSG_LEN((size_t)holds * sizeof(int)));
	memcpy(got, CMSG_DATA(cm), (size_t)holds * sizeof(int));
	for (int i = 0; i < holds; i++) {
		ck_assert(fid_eq(fid_of(got[i]), fid_of(fds[i])));
		close(got[i]);
	}

	mh.msg_controllen = CMSG_LEN(sizeof(int));
	ck_assert_int_eq(recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC), 1);
	ck_assert_int_eq(mh.msg_flags & MSG_CTRUNC, MSG_CTRUNC);
	cm = CMSG_FIRSTHDR(&mh);
	ck_assert_ptr_nonnull(cm);
	ck_assert_uint_eq(cm->cmsg_len, CMSG_LEN(sizeof(int)));
	memcpy(got, CMSG_DATA(cm), sizeof(int));
	close(got[0]);

	close_fds(fds, 2);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * The capacity of this process's fd table ("FDSize:" in /proc/self/status).
 * The kernel grows it when it installs an fd at or beyond it, and never
 * shrinks it: a lasting trace of an fd that was installed and closed
 * again at once.
 */
static int fdtable_size(void)
{
	char line[128];
	int size = -1;
	FILE *f = fopen("/proc/self/status", "re");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "FDSize: %d", &size) == 1)
			break;
	fclose(f);
	ck_assert_int_gt(size, 0);
	return size;
}

/*
 * The most fds beyond the limit that the kernel may install for a moment
 * on a SEQPACKET handle (they are closed at once, and the message refused):
 * the room that the library's receive buffer keeps for the blocks options
 * set by others put ahead of the fds and for the pidfd after them
 * (CTL_FOREIGN + CTL_PIDFD in lib/usock-private.h; usock_set_max_fds(3)).
 */
#define SLACK_FDS                                                              \
	((CMSG_SPACE(48) + CMSG_SPACE(16) + 2 * CMSG_SPACE(sizeof(int))) /     \
	 sizeof(int))

/*
 * _i: 0 quota 1; 1 quota 3; 2 quota 1 with SO_PASSCRED; 3 quota 1, 4 quota
 * 2 with SO_PASSCRED and SO_PASSPIDFD. No fd beyond the quota plus the
 * documented slack is ever installed, not even for a moment: with every
 * free slot of the fd table taken but those (and one for the pidfd), a
 * message of two more fds would make the kernel grow the table. It is
 * rejected and the table did not grow; a message of max fds then arrives
 * whole, credentials and pidfd included.
 */
START_TEST(test_never_beyond_quota)
{
	static const struct {
		int max;
		bool creds, pidfd;
	} cases[] = {
		{ 1, false, false }, { 3, false, false }, { 1, true, false },
		{ 1, true, true },   { 2, true, true },
	};
	const int max = cases[_i].max, big = max + (int)SLACK_FDS + 2;
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fds[64], filler[1024], nfill = 0, size, free_slots = 0, leave;
	struct rlimit rl;
	bool pidfd;
	char buf[8];

	ck_assert_int_le(big, 64);
	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, (unsigned int)max), 0);
	ck_assert_int_eq(usock_set_passcred(b, cases[_i].creds), 0);
	/* Before Linux 6.5 there is no pidfd to make room for. */
	pidfd = cases[_i].pidfd && kernel_has_pidfds();
	if (cases[_i].pidfd)
		ck_assert_int_eq(usock_set_passpidfd(b, 1),
				 pidfd ? 0 : -ENOPROTOOPT);
	make_fds(fds, big);
	send_raw_ok(usock_get_fd(a), "big", fds, big, false);
	send_raw_ok(usock_get_fd(a), "fit", fds, max, false);

	/* A table large enough for the slack: grown once, it stays. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur > 256 && fdtable_size() < 256) {
		ck_assert_int_eq(dup2(STDIN_FILENO, 255), 255);
		close(255);
	}
	size = fdtable_size();
	if (size > 1024 || rl.rlim_cur <= (rlim_t)size) {
		/* Under valgrind (CK_FORK=no) the table is large already. */
		printf("note: fd table of %d slots (limit %llu): growth not "
		       "checked\n",
		       size, (unsigned long long)rl.rlim_cur);
		ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), -E2BIG);
	} else {
		for (int fd = 0; fd < size; fd++)
			free_slots += !fd_is_open(fd);
		/* Room for max fds, the slack, and the pidfd. */
		leave = max + (int)SLACK_FDS + pidfd;
		ck_assert_int_ge(free_slots, leave);
		while (nfill < free_slots - leave) {
			filler[nfill] = devnull();
			ck_assert_int_ge(filler[nfill], 0);
			ck_assert_int_lt(filler[nfill], size);
			nfill++;
		}
		ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), -E2BIG);
		while (nfill > 0)
			close(filler[--nfill]);
		ck_assert_msg(fdtable_size() == size,
			      "the kernel installed more than %d fds: the fd "
			      "table grew from %d to %d slots",
			      max + (int)SLACK_FDS, size, fdtable_size());
	}
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_int_eq(usock_msg_get_pidfd(m), -ENODATA);

	recv_ok(b, sizeof(buf), m, "fit", max);
	ck_assert_int_eq(usock_msg_get_creds(m, &(int32_t){ 0 },
					     &(uint32_t){ 0 },
					     &(uint32_t){ 0 }),
			 cases[_i].creds ? 0 : -ENODATA);
	if (pidfd)
		ck_assert_int_ge(usock_msg_get_pidfd(m), 0);
	else
		ck_assert_int_eq(usock_msg_get_pidfd(m), -ENODATA);

	usock_msg_free(m);
	close_fds(fds, big);
	usock_close(a);
	usock_close(b);
}
END_TEST

struct hostile_arg {
	struct usock *mine, *theirs;
	int fds[5];
};

/* A peer process of its own that sends with sendmsg: 4 fds, 5 fds (one
 * cmsg), 5 fds (split), then one fd with "next". */
static int child_hostile(void *p)
{
	struct hostile_arg *a = p;
	int s = usock_get_fd(a->mine);

	usock_close(a->theirs);
	CHILD_ASSERT_INT_EQ(send_raw(s, "four", a->fds, 4, false), 4);
	CHILD_ASSERT_INT_EQ(send_raw(s, "five", a->fds, 5, false), 4);
	CHILD_ASSERT_INT_EQ(send_raw(s, "fiv2", a->fds, 5, true), 4);
	CHILD_ASSERT_INT_EQ(send_raw(s, "next", a->fds + 4, 1, false), 4);
	usock_close(a->mine);
	return 0;
}

/* _i: type. Quota 4: four arrive (identity checked), five are refused with
 * every fd closed, the next message is intact. */
START_TEST(test_quota_four)
{
	struct hostile_arg arg;
	struct usock_msg *m;
	char buf[8];

	pair_ok(_i, 0, &arg.theirs, &arg.mine);
	ck_assert_int_eq(usock_set_max_fds(arg.theirs, 4), 0);
	make_fds(arg.fds, 5);
	child_wait_ok(child_spawn(child_hostile, &arg));
	/* Allocated after the fork: valgrind checks the child's heap too. */
	m = msg_new_ok();
	usock_close(arg.mine);

	recv_ok(arg.theirs, sizeof(buf), m, "four", 4);
	for (int i = 0; i < 4; i++)
		ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, (unsigned int)i)),
				 fid_of(arg.fds[i])));
	usock_msg_reset(m);
	expect_rejected(arg.theirs, m, -E2BIG);
	expect_rejected(arg.theirs, m, -E2BIG);
	recv_ok(arg.theirs, sizeof(buf), m, "next", 1);
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 0)), fid_of(arg.fds[4])));
	usock_msg_reset(m);
	if (_i == USOCK_DGRAM) {
		ck_assert_int_eq(usock_set_nonblock(arg.theirs, 1), 0);
		ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m),
				 -EAGAIN);
	} else {
		ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m),
				 -EPIPE);
	}

	usock_msg_free(m);
	close_fds(arg.fds, 5);
	usock_close(arg.theirs);
}
END_TEST

TEST_SUITE(quota)
{
	TCase *tc;

	tc = fd_tcase(s, "quota");
	tcase_add_test(tc, test_default_and_range);
	tcase_add_types_test(tc, test_over_quota);
	tcase_add_types_test(tc, test_quota_with_creds_and_pidfd);
	tcase_add_loop_test(tc, test_quota_zero, 0, 6);
	tcase_add_packet_test(tc, test_quota_before_msgsize);
	tcase_add_test(tc, test_quota_before_emfile);

	tc = fd_tcase(s, "raw");
	tcase_add_loop_test(tc, test_padding_trap_raw, 0, 6);
	tcase_add_test(tc, test_padding_trap_kernel);
	tcase_add_loop_test(tc, test_never_beyond_quota, 0, 5);
	tcase_add_types_test(tc, test_quota_four);
}
