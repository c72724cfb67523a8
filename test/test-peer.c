/* SPDX-License-Identifier: MIT */
/* Who is on the other end: SO_PEERCRED, SO_PEERGROUPS, SO_PEERPIDFD, and the
 * sender's pidfd with each message (SO_PASSPIDFD). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

#define CHILD_TIMEOUT_MS 60000
/* Room for the groups of any process these tests run as. */
#define NGROUPS_MAX_TEST 256

static void assert_peer(const struct usock *s, pid_t pid, uid_t uid, gid_t gid)
{
	int32_t p = 0;
	uint32_t u = 0, g = 0;

	ck_assert_int_eq(usock_get_peer_creds(s, &p, &u, &g), 0);
	ck_assert_int_eq(p, pid);
	ck_assert_uint_eq(u, uid);
	ck_assert_uint_eq(g, gid);
}

static uid_t unprivileged_uid(void)
{
	return geteuid() == 0 ? NOBODY : geteuid();
}

static gid_t unprivileged_gid(void)
{
	return geteuid() == 0 ? NOBODY : getegid();
}

START_TEST(test_peer_creds_pair)
{
	struct usock *a, *b;

	pair_ok(_i, 0, &a, &b);
	assert_peer(a, getpid(), geteuid(), getegid());
	assert_peer(b, getpid(), geteuid(), getegid());
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_peer_unconnected)
{
	struct usock *s;
	int32_t p = 42;
	uint32_t u = 42, g = 42, groups[4];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(usock_adopt(fd, 0, &s), 0);
	ck_assert_int_eq(usock_get_peer_creds(s, &p, &u, &g), -ENODATA);
	ck_assert_int_eq(p, 0);
	ck_assert_uint_eq(u, (uint32_t)-1);
	ck_assert_uint_eq(g, (uint32_t)-1);
	ck_assert_int_eq(usock_get_peer_groups(s, groups, 4), -ENODATA);
	ck_assert_int_eq(usock_get_peer_groups(s, NULL, 0), -ENODATA);
	fd = usock_get_peer_pidfd(s);
	ck_assert_msg(fd == -ENODATA || fd == -ENOPROTOOPT,
		      "usock_get_peer_pidfd: %d", fd);
	usock_close(s);
}
END_TEST

struct conn_arg {
	char name[64];
};

/*
 * Connects once as it is, drops privileges, connects again, says "d" on
 * the second connection and waits for a byte on the first before exiting.
 */
static int child_connect_twice(void *p)
{
	struct conn_arg *a = p;
	struct usock *c1, *c2;
	char c;

	CHILD_ASSERT_INT_EQ(usock_connect(a->name, USOCK_STREAM, 0, &c1), 0);
	child_drop_privileges();
	CHILD_ASSERT_INT_EQ(usock_connect(a->name, USOCK_STREAM, 0, &c2), 0);
	CHILD_ASSERT_INT_EQ(usock_send(c2, "d", 1, NULL), 1);
	CHILD_ASSERT_INT_EQ(usock_recv(c1, &c, 1, NULL), 1);
	usock_close(c1);
	usock_close(c2);
	return 0;
}

START_TEST(test_peer_creds_snapshot)
{
	struct conn_arg arg;
	struct usock *l, *s1, *s2;
	char c;
	pid_t pid;

	abstract_name(arg.name, sizeof(arg.name));
	ck_assert_int_eq(usock_listen(arg.name, USOCK_STREAM, 0, 0, &l), 0);
	pid = child_spawn(child_connect_twice, &arg);
	ck_assert_int_eq(usock_accept(l, 0, &s1), 0);
	ck_assert_int_eq(usock_accept(l, 0, &s2), 0);
	wait_readable(s2, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_recv(s2, &c, 1, NULL), 1);

	/* As of connect: the later drop does not show on the first. */
	assert_peer(s1, pid, geteuid(), getegid());
	assert_peer(s2, pid, unprivileged_uid(), unprivileged_gid());
	ck_assert_int_eq(usock_send(s1, "x", 1, NULL), 1);
	child_wait_ok(pid);
	/* Still answers once the peer is gone. */
	assert_peer(s1, pid, geteuid(), getegid());

	usock_close(s1);
	usock_close(s2);
	usock_close(l);
}
END_TEST

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

START_TEST(test_peer_groups)
{
	struct usock *a, *b;
	uint32_t got[NGROUPS_MAX_TEST], want[NGROUPS_MAX_TEST];
	gid_t mine[NGROUPS_MAX_TEST];
	int n = getgroups(NGROUPS_MAX_TEST, mine);

	ck_assert_msg(n >= 0, "getgroups: %s", strerror(errno));
	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_get_peer_groups(a, NULL, 0), n);
	ck_assert_int_eq(usock_get_peer_groups(a, got, NGROUPS_MAX_TEST), n);
	for (int i = 0; i < n; i++)
		want[i] = mine[i];
	qsort(got, (size_t)n, sizeof(got[0]), cmp_u32);
	qsort(want, (size_t)n, sizeof(want[0]), cmp_u32);
	ck_assert(memcmp(got, want, (size_t)n * sizeof(got[0])) == 0);

	/* Too short: the count, and nothing written. */
	if (n > 0) {
		for (int i = 0; i < NGROUPS_MAX_TEST; i++)
			got[i] = 0xdeadbeef;
		ck_assert_int_eq(usock_get_peer_groups(a, got, (size_t)n - 1),
				 n);
		for (int i = 0; i < NGROUPS_MAX_TEST; i++)
			ck_assert_uint_eq(got[i], 0xdeadbeef);
	}
	usock_close(a);
	usock_close(b);
}
END_TEST

/* Connects without supplementary groups (when root: after dropping). */
static int child_connect_dropped(void *p)
{
	struct conn_arg *a = p;
	struct usock *c;
	char ch;

	child_drop_privileges();
	CHILD_ASSERT_INT_EQ(usock_connect(a->name, USOCK_STREAM, 0, &c), 0);
	CHILD_ASSERT_INT_EQ(usock_recv(c, &ch, 1, NULL), 1);
	usock_close(c);
	return 0;
}

START_TEST(test_peer_groups_of_child)
{
	struct conn_arg arg;
	struct usock *l, *s;
	gid_t mine[NGROUPS_MAX_TEST];
	uint32_t got[NGROUPS_MAX_TEST];
	pid_t pid;
	int n;

	abstract_name(arg.name, sizeof(arg.name));
	ck_assert_int_eq(usock_listen(arg.name, USOCK_STREAM, 0, 0, &l), 0);
	pid = child_spawn(child_connect_dropped, &arg);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	/* Root's child has none left; otherwise the child has ours. */
	n = geteuid() == 0 ? 0 : getgroups(NGROUPS_MAX_TEST, mine);
	ck_assert_int_eq(usock_get_peer_groups(s, got, NGROUPS_MAX_TEST), n);
	ck_assert_int_eq(usock_send(s, "x", 1, NULL), 1);
	child_wait_ok(pid);
	usock_close(s);
	usock_close(l);
}
END_TEST

START_TEST(test_peer_pidfd)
{
	struct conn_arg arg;
	struct usock *l, *s;
	pid_t pid;
	int pidfd;

	abstract_name(arg.name, sizeof(arg.name));
	ck_assert_int_eq(usock_listen(arg.name, USOCK_STREAM, 0, 0, &l), 0);
	pid = child_spawn(child_connect_dropped, &arg);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	pidfd = usock_get_peer_pidfd(s);
	if (pidfd == -ENOPROTOOPT) {
		printf("note: no SO_PEERPIDFD (Linux < 6.5)\n");
		ck_assert_int_eq(usock_send(s, "x", 1, NULL), 1);
		child_wait_ok(pid);
	} else {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

		/* A pidfd polls readable once its process has exited
		 * (pidfd_send_signal would do, but valgrind 3.19 lacks it). */
		ck_assert_int_ge(pidfd, 0);
		ck_assert_int_eq(fd_cloexec(pidfd), 1);
		ck_assert_int_eq(pidfd_pid(pidfd), pid);
		ck_assert_int_eq(poll(&pfd, 1, 0), 0);
		ck_assert_int_eq(usock_send(s, "x", 1, NULL), 1);
		child_wait_ok(pid);
		/* It names the process, which is gone, not the number. */
		ck_assert_int_eq(poll(&pfd, 1, 0), 1);
		ck_assert(pfd.revents & POLLIN);
		ck_assert_int_eq(pidfd_pid(pidfd), -1);
		close(pidfd);
	}
	usock_close(s);
	usock_close(l);
}
END_TEST

struct send_arg {
	struct usock *mine, *theirs;
};

/* Sends "1", "2", "3", then waits for a byte before exiting. */
static int child_send_three_and_wait(void *p)
{
	struct send_arg *a = p;
	char c;

	usock_close(a->theirs);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "1", 1, NULL), 1);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "2", 1, NULL), 1);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "3", 1, NULL), 1);
	CHILD_ASSERT_INT_EQ(usock_recv(a->mine, &c, 1, NULL), 1);
	usock_close(a->mine);
	return 0;
}

START_TEST(test_passpidfd)
{
	struct send_arg arg;
	struct usock_msg *m = msg_new_ok();
	size_t before;
	pid_t pid;
	int r, fd;
	char c;

	ck_assert_int_eq(usock_msg_get_pidfd(m), -ENODATA);
	ck_assert_int_eq(usock_msg_take_pidfd(m), -ENODATA);
	pair_ok(_i, 0, &arg.theirs, &arg.mine);
	r = usock_set_passpidfd(arg.theirs, 1);
	if (r == -ENOPROTOOPT) {
		printf("note: no SO_PASSPIDFD (Linux < 6.5)\n");
		usock_msg_free(m);
		usock_close(arg.theirs);
		usock_close(arg.mine);
		return;
	}
	ck_assert_int_eq(r, 0);
	pid = child_spawn(child_send_three_and_wait, &arg);
	usock_close(arg.mine);

	/* Owned by the message until taken; taken, it is the caller's. */
	wait_readable(arg.theirs, CHILD_TIMEOUT_MS);
	before = fd_count();
	ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, m), 1);
	fd = usock_msg_get_pidfd(m);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fd_cloexec(fd), 1);
	ck_assert_int_eq(pidfd_pid(fd), pid);
	ck_assert_uint_eq(fd_count(), before + 1);
	ck_assert_int_eq(usock_msg_take_pidfd(m), fd);
	ck_assert_int_eq(usock_msg_get_pidfd(m), -ENODATA);
	ck_assert_int_eq(usock_msg_take_pidfd(m), -ENODATA);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	usock_msg_reset(m);
	ck_assert(fd_is_open(fd));
	ck_assert_int_eq(close(fd), 0);

	/* Not taken: reset closes it. */
	wait_readable(arg.theirs, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, m), 1);
	ck_assert_int_ge(usock_msg_get_pidfd(m), 0);
	ck_assert_uint_eq(fd_count(), before + 1);
	usock_msg_reset(m);
	ck_assert_uint_eq(fd_count(), before);

	/* Without a message it is closed at once; off, none comes. */
	wait_readable(arg.theirs, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, NULL), 1);
	ck_assert_uint_eq(fd_count(), before);
	ck_assert_int_eq(usock_set_passpidfd(arg.theirs, 0), 0);
	ck_assert_int_eq(usock_send(arg.theirs, "x", 1, NULL), 1);
	child_wait_ok(pid);
	ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, m), -EPIPE);

	usock_msg_free(m);
	usock_close(arg.theirs);
}
END_TEST

/* Root only: a child with known supplementary groups checks what its own
 * socketpair reports, including the count when the buffer is too short. */
static int child_known_groups(void *p)
{
	static const gid_t set[] = { 100, 200, 300 };
	uint32_t got[4] = { 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef };
	struct usock *a, *b;

	(void)p;
	CHILD_ASSERT(setgroups(3, set) == 0);
	CHILD_ASSERT_INT_EQ(usock_pair(USOCK_STREAM, 0, &a, &b), 0);
	CHILD_ASSERT_INT_EQ(usock_get_peer_groups(a, NULL, 0), 3);
	CHILD_ASSERT_INT_EQ(usock_get_peer_groups(a, got, 2), 3);
	for (int i = 0; i < 4; i++)
		CHILD_ASSERT_INT_EQ(got[i], 0xdeadbeef);
	CHILD_ASSERT_INT_EQ(usock_get_peer_groups(a, got, 4), 3);
	qsort(got, 3, sizeof(got[0]), cmp_u32);
	for (int i = 0; i < 3; i++)
		CHILD_ASSERT_INT_EQ(got[i], set[i]);
	CHILD_ASSERT_INT_EQ(got[3], 0xdeadbeef);
	usock_close(a);
	usock_close(b);
	return 0;
}

START_TEST(test_peer_groups_known)
{
	child_wait_ok(child_spawn(child_known_groups, NULL));
}
END_TEST

TEST_SUITE(peer)
{
	TCase *tc;

	tc = fd_tcase(s, "peer");
	tcase_add_loop_test(tc, test_peer_creds_pair, USOCK_SEQPACKET,
			    USOCK_DGRAM + 1);
	tcase_add_test(tc, test_peer_unconnected);
	tcase_add_test(tc, test_peer_creds_snapshot);
	tcase_add_loop_test(tc, test_peer_groups, USOCK_SEQPACKET,
			    USOCK_DGRAM + 1);
	tcase_add_test(tc, test_peer_groups_of_child);
	tcase_add_test(tc, test_peer_pidfd);

	tc = fd_tcase(s, "passpidfd");
	tcase_add_loop_test(tc, test_passpidfd, USOCK_SEQPACKET,
			    USOCK_STREAM + 1);
}

TEST_SUITE_NEEDS(peer_root, need_root)
{
	TCase *tc = fd_tcase(s, "peer");

	tcase_add_test(tc, test_peer_groups_known);
}
