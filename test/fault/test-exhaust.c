/* SPDX-License-Identifier: MIT */
/*
 * Resource exhaustion against a raw-syscall peer: a receiver with 0, 1 or 3
 * free fd slots, and an unprivileged sender past its in-flight limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../helpers.h"
#include "../raw.h"

#define TEN 10

static const int free_slots[] = { 0, 1, 3 };

struct slots_arg {
	struct usock *b;
	int slots;
};

/*
 * Fill every hole below the highest open fd and set the soft limit so that
 * exactly a->slots fds can still be opened. The fd table is compared with
 * the limit back up (taking a snapshot needs an fd itself).
 */
static int child_free_slots(void *p)
{
	struct slots_arg *a = p;
	struct usock_msg *m;
	struct fd_table before;
	struct rlimit orig;
	int filler[1024], nfill, highest;
	unsigned long limit;
	char buf[8];

	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT(getrlimit(RLIMIT_NOFILE, &orig) == 0);
	highest = fd_highest();
	nfill = child_fill_fd_holes(highest, filler, 1024);
	fd_table_snapshot(&before);
	/* One slot more first: reading /proc/self/limits takes one. */
	limit = (unsigned long)highest + 2 + (unsigned long)a->slots;
	if (!child_set_nofile(limit, "free fd slots")) {
		child_set_nofile(orig.rlim_cur, NULL);
		for (int i = 0; i < 4; i++)
			CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, 4, NULL), 4);
		goto out;
	}
	child_set_nofile(--limit, NULL);

	/* Ten fds, too few slots: -EMFILE, no fd left, message consumed. */
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, 4, m), -EMFILE);
	CHILD_ASSERT_INT_EQ(usock_msg_get_nfds(m), 0);
	CHILD_ASSERT(memcmp(buf, "ten!", 4) == 0);
	child_set_nofile(orig.rlim_cur, NULL);
	CHILD_ASSERT_FD_TABLE_IS(&before);
	child_set_nofile(limit, NULL);

	/* The next message is whole (with an fd if one slot is free). */
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, 4, m), 4);
	CHILD_ASSERT(memcmp(buf, "next", 4) == 0);
	CHILD_ASSERT_INT_EQ(usock_msg_get_nfds(m), a->slots ? 1 : 0);
	usock_msg_reset(m);

	/* Without a message object the fds were unwanted: no error. */
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, 4, NULL), 4);
	CHILD_ASSERT(memcmp(buf, "null", 4) == 0);
	CHILD_ASSERT_INT_EQ(usock_recv(a->b, buf, 4, m), 4);
	CHILD_ASSERT(memcmp(buf, "last", 4) == 0);
	CHILD_ASSERT_INT_EQ(usock_msg_get_nfds(m), 0);
	child_set_nofile(orig.rlim_cur, NULL);
	CHILD_ASSERT_FD_TABLE_IS(&before);
out:
	fd_table_free(&before);
	for (int i = 0; i < nfill; i++)
		close(filler[i]);
	usock_msg_free(m);
	return 0;
}

/* _i: free slots index * 3 + socket type. */
START_TEST(test_free_slots)
{
	const int type = _i % 3;
	struct slots_arg arg = { .slots = free_slots[_i / 3] };
	struct raw_ctl ten = { .nfds = TEN, .nblocks = 1 };
	struct raw_ctl one = { .nfds = arg.slots ? 1 : 0, .nblocks = 1 };
	struct usock *a;
	int fds[TEN], sock;

	pair_ok(type, 0, &a, &arg.b);
	for (int i = 0; i < TEN; i++)
		ck_assert_int_ge(fds[i] = devnull(), 0);
	ten.fds = one.fds = fds;
	sock = usock_get_fd(a);
	ck_assert_int_eq(raw_send(sock, "ten!", 4, &ten, 0), 4);
	ck_assert_int_eq(raw_send(sock, "next", 4, &one, 0), 4);
	ck_assert_int_eq(raw_send(sock, "null", 4, &ten, 0), 4);
	ck_assert_int_eq(raw_send(sock, "last", 4, NULL, 0), 4);

	child_wait_ok(child_spawn(child_free_slots, &arg));

	/* Everything was consumed by the child. */
	assert_nothing_queued(arg.b);
	for (int i = 0; i < TEN; i++)
		close(fds[i]);
	usock_close(a);
	usock_close(arg.b);
}
END_TEST

/* ---- in-flight limit -------------------------------------------------- */

#define REFS_LIMIT 64
#define REFS_PER_MSG 16

struct refs_arg {
	struct usock *mine, *theirs;
	int status[2]; /* the child writes how many went, or -1: skipped */
};

/*
 * A uid of our own when root drops privileges: the in-flight count is per
 * user, and other tests may run as nobody at the same time.
 */
static uid_t private_uid(void)
{
	return (uid_t)(61000 + getpid() % 4000);
}

static int child_toomanyrefs(void *p)
{
	struct refs_arg *a = p;
	struct usock_msg *m;
	struct fid ids[2];
	int pp[2], n;
	bool own_uid = geteuid() == 0;
	char buf[16];

	usock_close(a->theirs);
	close(a->status[0]);
	if (own_uid) {
		uid_t uid = private_uid();

		CHILD_ASSERT(setgroups(0, NULL) == 0);
		CHILD_ASSERT(setgid(uid) == 0);
		CHILD_ASSERT(setuid(uid) == 0);
	}
	if (!child_set_nofile(REFS_LIMIT, "ETOOMANYREFS")) {
		n = -1;
		CHILD_ASSERT(write(a->status[1], &n, sizeof(n)) == sizeof(n));
		usock_close(a->mine);
		return 0;
	}

	CHILD_ASSERT(pipe2(pp, O_CLOEXEC) == 0);
	ids[0] = (struct fid){ 0, 0 };
	CHILD_ASSERT(fid_of_fd(pp[0], &ids[0]) && fid_of_fd(pp[1], &ids[1]));
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	for (int i = 0; i < REFS_PER_MSG; i++)
		CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, pp[0]), 0);

	/* The kernel checks before counting the message's own fds: it
	 * refuses once more than the limit are in flight. */
	for (n = 0;; n++) {
		ssize_t r = usock_send(a->mine, "fds", 3, m);

		if (r == -ETOOMANYREFS)
			break;
		CHILD_ASSERT_INT_EQ(r, 3);
		CHILD_ASSERT(n < 1000);
	}
	if (own_uid)
		CHILD_ASSERT_INT_EQ(n, REFS_LIMIT / REFS_PER_MSG + 1);
	else
		CHILD_ASSERT(n >= 1 && n <= REFS_LIMIT / REFS_PER_MSG + 1);

	/* The caller's fds: open, the same files, still in the message. */
	for (int i = 0; i < 2; i++) {
		struct fid now;

		CHILD_ASSERT(fid_of_fd(pp[i], &now) && fid_eq(now, ids[i]));
	}
	CHILD_ASSERT_INT_EQ(usock_msg_get_nfds(m), REFS_PER_MSG);
	for (int i = 0; i < REFS_PER_MSG; i++)
		CHILD_ASSERT_INT_EQ(usock_msg_get_fd(m, (unsigned int)i),
				    pp[0]);

	/* Plain data still goes; once the receiver drains, fds go too. The
	 * receiver waits for the count before it reads anything. */
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "drain", 5, NULL), 5);
	CHILD_ASSERT(write(a->status[1], &n, sizeof(n)) == sizeof(n));
	CHILD_ASSERT_INT_EQ(usock_recv(a->mine, buf, sizeof(buf), NULL), 7);
	CHILD_ASSERT(memcmp(buf, "drained", 7) == 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "fds", 3, m), 3);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "end", 3, NULL), 3);

	usock_msg_free(m);
	close(pp[0]);
	close(pp[1]);
	usock_close(a->mine);
	return 0;
}

START_TEST(test_toomanyrefs)
{
	struct refs_arg arg;
	struct usock_msg *m;
	char buf[16];
	int sent;
	pid_t pid;

	pair_ok(USOCK_SEQPACKET, 0, &arg.mine, &arg.theirs);
	ck_assert_int_eq(pipe2(arg.status, O_CLOEXEC), 0);
	pid = child_spawn(child_toomanyrefs, &arg);
	usock_close(arg.mine);
	close(arg.status[1]);
	m = msg_new_ok();
	ck_assert_int_eq(read(arg.status[0], &sent, sizeof(sent)),
			 sizeof(sent));
	if (sent < 0)
		goto done;

	/* Nothing was read until now: every fd sent was in flight. */
	for (int i = 0; i < sent; i++) {
		ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m),
				 3);
		ck_assert(memcmp(buf, "fds", 3) == 0);
		ck_assert_int_eq(usock_msg_get_nfds(m), REFS_PER_MSG);
	}
	ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m), 5);
	ck_assert(memcmp(buf, "drain", 5) == 0);
	ck_assert_int_eq(usock_send(arg.theirs, "drained", 7, NULL), 7);
	ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m), 3);
	ck_assert_int_eq(usock_msg_get_nfds(m), REFS_PER_MSG);
	ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m), 3);
	ck_assert(memcmp(buf, "end", 3) == 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m), -EPIPE);
done:
	child_wait_ok(pid);
	close(arg.status[0]);
	usock_msg_free(m);
	usock_close(arg.theirs);
}
END_TEST

TEST_SUITE(exhaustion)
{
	TCase *tc = fd_tcase(s, "fd-slots");

	tcase_add_loop_test(tc, test_free_slots, 0, 9);

	tc = fd_tcase(s, "in-flight");
	tcase_add_test(tc, test_toomanyrefs);
}
