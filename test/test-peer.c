/* SPDX-License-Identifier: MIT */
/*
 * Who is on the other end: SO_PEERCRED, SO_PEERGROUPS and SO_PEERPIDFD from
 * both ends of a pair and of a named connection, as a snapshot taken at
 * connect; the sender's pidfd with each message (SO_PASSPIDFD), from
 * several senders and after they died. Suite "peer" runs as anyone;
 * "peer_ns" (peers in new user and pid namespaces) where those can be
 * made; "peer_root" (known groups, a peer that becomes another user) as
 * root only.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define CHILD_TIMEOUT_MS 60000
/* Room for the groups of any process these tests run as. */
#define NGROUPS_MAX_TEST 256

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
	ck_assert_int_eq(usock_get_peer_pidfd(s),
			 kernel_has_pidfds() ? -ENODATA : -ENOPROTOOPT);
	usock_close(s);
}
END_TEST

struct conn_arg {
	char name[64];
	int type;
	bool drop;
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

/*
 * 1 while the process a pidfd names lives, 0 once it is gone: the answer
 * of pidfd_send_signal(fd, 0) (ESRCH when gone). valgrind 3.19 does not
 * know that syscall (ENOSYS); then poll, which says POLLIN once the
 * process has exited.
 */
static int pidfd_alive(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (pidfd_send_signal(fd, 0, NULL, 0) == 0)
		return 1;
	if (errno == ESRCH)
		return 0;
	ck_assert_msg(errno == ENOSYS, "pidfd_send_signal: %s",
		      strerror(errno));
	ck_assert_int_ge(poll(&p, 1, 0), 0);
	return !(p.revents & POLLIN);
}

/* ---- the connecting side ----------------------------------------------- */

struct connector_arg {
	const char *name;
	int type;
	pid_t server;
	uid_t server_uid;
	gid_t server_gid;
	int server_ngroups;
};

/*
 * Drops privileges (when root), connects and checks the listener's
 * credentials from its side; then sends its own groups as the payload.
 */
static int child_connector(void *p)
{
	const struct connector_arg *a = p;
	uint32_t groups[NGROUPS_MAX_TEST + 1] = { 0 };
	int32_t pid;
	uint32_t uid, gid;
	struct usock *c;
	gid_t mine[NGROUPS_MAX_TEST];
	int n;

	child_drop_privileges();
	CHILD_ASSERT_INT_EQ(usock_connect(a->name, a->type, 0, &c), 0);
	/* The listener's credentials as of its listen(), not ours. */
	CHILD_ASSERT_INT_EQ(usock_get_peer_creds(c, &pid, &uid, &gid), 0);
	CHILD_ASSERT_INT_EQ(pid, a->server);
	CHILD_ASSERT_INT_EQ(uid, a->server_uid);
	CHILD_ASSERT_INT_EQ(gid, a->server_gid);
	CHILD_ASSERT_INT_EQ(usock_get_peer_groups(c, NULL, 0),
			    a->server_ngroups);
	n = getgroups(NGROUPS_MAX_TEST, mine);
	CHILD_ASSERT(n >= 0);
	for (int i = 0; i < n; i++)
		groups[i] = mine[i];
	CHILD_ASSERT_INT_EQ(
		usock_send(c, groups, (size_t)n * sizeof(groups[0]) + 1, NULL),
		(ssize_t)(n * sizeof(groups[0]) + 1));
	usock_close(c);
	return 0;
}

/* _i: SEQPACKET or STREAM. Both ends of a named connection see the other:
 * pid, uid, gid exact, and the groups the peer has (from getgroups). */
START_TEST(test_both_sides)
{
	struct connector_arg arg = { .type = _i };
	uint32_t sent[NGROUPS_MAX_TEST + 1], got[NGROUPS_MAX_TEST];
	char dir[TMP_PATH_MAX], name[TMP_PATH_MAX + 8];
	struct usock *l, *s;
	ssize_t n;
	pid_t pid;
	int ng;

	tmpdir_create(dir);
	snprintf(name, sizeof(name), "%s/id", dir);
	ck_assert_int_eq(usock_listen(name, _i, USOCK_UNLINK_ON_CLOSE, 0, &l),
			 0);
	/* Connecting takes write permission: the child may be nobody. */
	ck_assert_int_eq(chmod(name, 0666), 0);
	arg.name = name;
	arg.server = getpid();
	arg.server_uid = geteuid();
	arg.server_gid = getegid();
	arg.server_ngroups = getgroups(0, NULL);
	pid = child_spawn(child_connector, &arg);
	wait_readable(l, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	wait_readable(s, CHILD_TIMEOUT_MS);
	n = usock_recv(s, sent, sizeof(sent), NULL);
	child_wait_ok(pid);

	ck_assert_int_ge(n, 1);
	ng = (int)((size_t)(n - 1) / sizeof(sent[0]));
	if (geteuid() == 0)
		assert_peer(s, pid, NOBODY, NOBODY);
	else
		assert_peer(s, pid, geteuid(), getegid());
	ck_assert_int_eq(usock_get_peer_groups(s, got, NGROUPS_MAX_TEST), ng);
	ck_assert(memcmp(got, sent, (size_t)ng * sizeof(got[0])) == 0);
	ck_assert_int_eq(usock_get_peer_groups(s, NULL, 0), ng);

	usock_close(s);
	usock_close(l);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/*
 * A connected DGRAM socket has no peer credentials: Linux records them
 * only for socketpair() and stream/seqpacket connect(). All three calls
 * say -ENODATA, on both the client and the bound receiver.
 */
START_TEST(test_dgram_connected_nodata)
{
	struct usock *l, *c, *x[2];
	char name[64];
	int32_t pid = 42;
	uint32_t uid = 42, gid = 42, groups[4];

	abstract_name(name, sizeof(name));
	ck_assert_int_eq(usock_listen(name, USOCK_DGRAM, 0, 0, &l), 0);
	ck_assert_int_eq(usock_connect(name, USOCK_DGRAM, 0, &c), 0);
	x[0] = c;
	x[1] = l;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(usock_get_peer_creds(x[i], &pid, &uid, &gid),
				 -ENODATA);
		ck_assert_int_eq(pid, 0);
		ck_assert_uint_eq(uid, (uint32_t)-1);
		ck_assert_uint_eq(gid, (uint32_t)-1);
		ck_assert_int_eq(usock_get_peer_groups(x[i], groups, 4),
				 -ENODATA);
		ck_assert_int_eq(usock_get_peer_pidfd(x[i]),
				 kernel_has_pidfds() ? -ENODATA : -ENOPROTOOPT);
	}
	usock_close(c);
	usock_close(l);
}
END_TEST

/* ---- pidfds ------------------------------------------------------------ */

/* Connects (after dropping privileges, if told to) and waits for a byte
 * before exiting. */
static int child_connect_wait(void *p)
{
	const struct conn_arg *a = p;
	struct usock *c;
	char ch;

	if (a->drop)
		child_drop_privileges();
	CHILD_ASSERT_INT_EQ(usock_connect(a->name, a->type, 0, &c), 0);
	CHILD_ASSERT_INT_EQ(usock_recv(c, &ch, 1, NULL), 1);
	usock_close(c);
	return 0;
}

/*
 * Listen on a fresh abstract name of the type and accept the connection of
 * a child_connect_wait child (unprivileged if drop); returns its pid.
 */
static pid_t accept_waiting_child(int type, bool drop, struct usock **l,
				  struct usock **s)
{
	struct conn_arg arg = { .type = type, .drop = drop };
	pid_t pid;

	abstract_name(arg.name, sizeof(arg.name));
	ck_assert_int_eq(usock_listen(arg.name, type, 0, 0, l), 0);
	pid = child_spawn(child_connect_wait, &arg);
	wait_readable(*l, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_accept(*l, 0, s), 0);
	return pid;
}

START_TEST(test_peer_pidfd)
{
	struct usock *l, *s;
	pid_t pid = accept_waiting_child(USOCK_STREAM, true, &l, &s);
	int pidfd;

	pidfd = usock_get_peer_pidfd(s);
	if (!kernel_has_pidfds()) {
		ck_assert_int_eq(pidfd, -ENOPROTOOPT);
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

/* Sends "1", "2", "3", then waits for a byte before exiting. */
static int child_send_three_and_wait(void *p)
{
	struct child_pair *a = p;
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
	struct child_pair arg;
	struct usock_msg *m = msg_new_ok();
	size_t before;
	pid_t pid;
	int r, fd;
	char c;

	ck_assert_int_eq(usock_msg_get_pidfd(m), -ENODATA);
	ck_assert_int_eq(usock_msg_take_pidfd(m), -ENODATA);
	pair_ok(_i, 0, &arg.theirs, &arg.mine);
	r = usock_set_passpidfd(arg.theirs, 1);
	pid = child_spawn(child_send_three_and_wait, &arg);
	usock_close(arg.mine);
	if (!kernel_has_pidfds()) {
		/* Before Linux 6.5: -ENOPROTOOPT, messages come without a
		 * pidfd, and turning it off succeeds. */
		ck_assert_int_eq(r, -ENOPROTOOPT);
		before = fd_count();
		for (int i = 0; i < 3; i++) {
			wait_readable(arg.theirs, CHILD_TIMEOUT_MS);
			ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, m), 1);
			ck_assert_int_eq(c, '1' + i);
			ck_assert_int_eq(usock_msg_get_pidfd(m), -ENODATA);
			ck_assert_uint_eq(fd_count(), before);
		}
		ck_assert_int_eq(usock_set_passpidfd(arg.theirs, 0), 0);
		ck_assert_int_eq(usock_send(arg.theirs, "x", 1, NULL), 1);
		child_wait_ok(pid);
		usock_msg_free(m);
		usock_close(arg.theirs);
		return;
	}
	ck_assert_int_eq(r, 0);

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

/*
 * After the peer was reaped: SO_PEERCRED still names its pid, and a pidfd
 * asked for now refers to the dead process (Linux 6.18; older kernels
 * refuse with -EINVAL or -ESRCH), never to whatever has the number now.
 */
START_TEST(test_pidfd_of_reaped_peer)
{
	struct usock *l, *s;
	pid_t pid = accept_waiting_child(USOCK_SEQPACKET, false, &l, &s);
	int fd;

	ck_assert_int_eq(usock_send(s, "x", 1, NULL), 1);
	child_wait_ok(pid);

	assert_peer(s, pid, geteuid(), getegid());
	fd = usock_get_peer_pidfd(s);
	if (!kernel_has_pidfds()) {
		ck_assert_int_eq(fd, -ENOPROTOOPT);
	} else if (fd < 0) {
		ck_assert_msg(fd == -EINVAL || fd == -ESRCH,
			      "usock_get_peer_pidfd: %d", fd);
	} else {
		ck_assert_int_eq(fd_cloexec(fd), 1);
		ck_assert_int_eq(pidfd_pid(fd), -1);
		ck_assert_int_eq(pidfd_alive(fd), 0);
		close(fd);
	}
	usock_close(s);
	usock_close(l);
}
END_TEST

struct sender_arg {
	struct usock *mine, *theirs;
	char tag;
};

static int child_send_tag(void *p)
{
	const struct sender_arg *a = p;

	usock_close(a->theirs);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, &a->tag, 1, NULL), 1);
	usock_close(a->mine);
	return 0;
}

/*
 * _i: type. Messages from three senders (this process and two children):
 * each carries a pidfd of its own sender, which agrees with the
 * credentials; the next receive into the same message closes the last
 * pidfd, free closes it too.
 */
START_TEST(test_pidfd_each_sender)
{
	struct sender_arg arg;
	struct usock_msg *m;
	pid_t pid[3];
	size_t before;
	bool pidfds = kernel_has_pidfds();

	pair_ok(_i, 0, &arg.theirs, &arg.mine);
	/* Before Linux 6.5: the credentials alone, no pidfd. */
	ck_assert_int_eq(usock_set_passpidfd(arg.theirs, 1),
			 pidfds ? 0 : -ENOPROTOOPT);
	ck_assert_int_eq(usock_set_passcred(arg.theirs, 1), 0);
	ck_assert_int_eq(usock_send(arg.mine, "0", 1, NULL), 1);
	pid[0] = getpid();
	for (int i = 1; i < 3; i++) {
		arg.tag = (char)('0' + i);
		pid[i] = child_spawn(child_send_tag, &arg);
		child_wait_ok(pid[i]);
	}
	usock_close(arg.mine);

	m = msg_new_ok();
	before = fd_count();
	for (int i = 0; i < 3; i++) {
		char c = 0;
		int fd;

		ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, m), 1);
		ck_assert_int_eq(c, '0' + i);
		fd = usock_msg_get_pidfd(m);
		if (pidfds) {
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(fd_cloexec(fd), 1);
			/* The children are gone already: their pidfds say
			 * so. */
			ck_assert_int_eq(pidfd_pid(fd), i ? -1 : getpid());
		} else {
			ck_assert_int_eq(fd, -ENODATA);
		}
		assert_msg_creds(m, pid[i], getuid(), getgid());
		ck_assert_uint_eq(fd_count(), before + pidfds);
	}
	usock_msg_free(m);
	ck_assert_uint_eq(fd_count(), before);
	usock_close(arg.theirs);
}
END_TEST

TEST_SUITE(peer)
{
	TCase *tc;

	tc = fd_tcase(s, "peer");
	tcase_add_types_test(tc, test_peer_creds_pair);
	tcase_add_test(tc, test_peer_unconnected);
	tcase_add_test(tc, test_peer_creds_snapshot);
	tcase_add_types_test(tc, test_peer_groups);
	tcase_add_conn_test(tc, test_both_sides);
	tcase_add_test(tc, test_dgram_connected_nodata);

	tc = fd_tcase(s, "pidfd");
	tcase_add_test(tc, test_peer_pidfd);
	tcase_add_test(tc, test_pidfd_of_reaped_peer);
	tcase_add_conn_test(tc, test_passpidfd);
	tcase_add_types_test(tc, test_pidfd_each_sender);
}

/* ---- namespaces: suite peer_ns ------------------------------------------ */

struct ns_arg {
	bool map; /* write uid_map/gid_map mapping 0 to our ids */
	uid_t outer_uid;
	gid_t outer_gid;
	/* Pairs with the test: up (ours) to it; down (passcred on) and inner
	 * (for the grandchild, passcred on) from it. */
	struct usock *up, *up_peer;
	struct usock *down, *down_peer;
	struct usock *inner, *inner_peer;
	const char *name; /* the test's listener */
};

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t len = (ssize_t)strlen(text);

	CHILD_ASSERT(fd >= 0);
	CHILD_ASSERT_INT_EQ(write(fd, text, (size_t)len), len);
	CHILD_ASSERT(close(fd) == 0);
}

/*
 * The grandchild: pid 1 of the new pid namespace. Sends a message with no
 * credentials (the kernel attaches them) and, with a mapping, one that
 * claims its own ids (1, 0, 0) explicitly; receives the test's message
 * (the test's pid is not visible here: no credentials); connects to the
 * test's listener and waits there for a byte.
 */
static int grandchild(const struct ns_arg *a, int go)
{
	struct usock_msg *m;
	struct usock *c;
	int32_t pid;
	uint32_t uid, gid;
	char ch;

	CHILD_ASSERT_INT_EQ(read(go, &ch, 1), 1);
	CHILD_ASSERT_INT_EQ(getpid(), 1);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->up, "g", 1, NULL), 1);
	if (a->map) {
		CHILD_ASSERT_INT_EQ(usock_msg_set_creds(m, 1, 0, 0), 0);
		CHILD_ASSERT_INT_EQ(usock_send(a->up, "e", 1, m), 1);
		usock_msg_reset(m);
	}
	CHILD_ASSERT_INT_EQ(usock_recv(a->inner, &ch, 1, m), 1);
	CHILD_ASSERT_INT_EQ(ch, 'i');
	CHILD_ASSERT_INT_EQ(usock_msg_get_creds(m, &pid, &uid, &gid), -ENODATA);
	CHILD_ASSERT_INT_EQ(pid, 0);
	CHILD_ASSERT_INT_EQ(uid, (uint32_t)-1);
	usock_msg_free(m);

	CHILD_ASSERT_INT_EQ(usock_connect(a->name, USOCK_SEQPACKET, 0, &c), 0);
	CHILD_ASSERT_INT_EQ(usock_recv(c, &ch, 1, NULL), 1);
	usock_close(c);
	return 0;
}

/*
 * The child: new user and pid namespaces. Reports "skip <errno>" when it
 * may not create them. Otherwise maps its ids (or not), receives the
 * test's message as seen from inside, forks the grandchild and reports
 * its pid ("gpid N"), then reaps it.
 */
static int child_ns(void *p)
{
	const struct ns_arg *a = p;
	struct usock_msg *m;
	int32_t pid;
	uint32_t uid, gid;
	int go[2], status, len;
	char text[64], ch;
	pid_t g;

	usock_close(a->up_peer);
	usock_close(a->down_peer);
	usock_close(a->inner_peer);
	if (unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0) {
		int e = errno;

		CHILD_ASSERT(e == EPERM || e == EINVAL || e == ENOSPC ||
			     e == EUSERS || e == ENOSYS);
		len = snprintf(text, sizeof(text), "skip %d", e);
		CHILD_ASSERT_INT_EQ(usock_send(a->up, text, (size_t)len, NULL),
				    len);
		return 0;
	}
	if (a->map) {
		snprintf(text, sizeof(text), "0 %u 1", (unsigned)a->outer_uid);
		write_file("/proc/self/uid_map", text);
		write_file("/proc/self/setgroups", "deny");
		snprintf(text, sizeof(text), "0 %u 1", (unsigned)a->outer_gid);
		write_file("/proc/self/gid_map", text);
		CHILD_ASSERT_INT_EQ(getuid(), 0);
		CHILD_ASSERT_INT_EQ(getgid(), 0);
	} else {
		CHILD_ASSERT_INT_EQ(getuid(), NOBODY);
		CHILD_ASSERT_INT_EQ(getgid(), NOBODY);
	}

	/* Still in the test's pid namespace, but not its user namespace:
	 * the test's ids are translated (0 when mapped, else the overflow
	 * id 65534). */
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_recv(a->down, &ch, 1, m), 1);
	CHILD_ASSERT_INT_EQ(ch, 'd');
	CHILD_ASSERT_INT_EQ(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
	CHILD_ASSERT_INT_EQ(pid, getppid());
	CHILD_ASSERT_INT_EQ(uid, a->map ? 0 : NOBODY);
	CHILD_ASSERT_INT_EQ(gid, a->map ? 0 : NOBODY);
	usock_msg_free(m);

	CHILD_ASSERT(pipe2(go, O_CLOEXEC) == 0);
	fflush(NULL);
	g = fork();
	CHILD_ASSERT(g >= 0);
	if (g == 0) {
		int rc;

		close(go[1]);
		rc = grandchild(a, go[0]);
		close_fds_from(3);
		_exit(rc);
	}
	close(go[0]);
	len = snprintf(text, sizeof(text), "gpid %d", (int)g);
	CHILD_ASSERT_INT_EQ(usock_send(a->up, text, (size_t)len, NULL), len);
	CHILD_ASSERT_INT_EQ(write(go[1], "g", 1), 1);
	close(go[1]);
	while (waitpid(g, &status, 0) < 0)
		CHILD_ASSERT(errno == EINTR);
	CHILD_ASSERT(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * _i: 0 no id mapping, 1 root inside mapped to our uid/gid. Seen from here
 * the grandchild (pid 1 inside) has its outer pid, and our (outer) uid and
 * gid whatever it is called inside: in its messages' credentials (sent
 * implicitly or claimed explicitly), its pidfd, and SO_PEERCRED.
 */
START_TEST(test_namespaces)
{
	struct ns_arg arg = { .map = _i };
	struct usock_msg *m;
	struct usock *l, *s;
	char name[64], text[64];
	bool pidfds;
	pid_t child, g = -1;
	ssize_t n;
	int fd;

	abstract_name(name, sizeof(name));
	arg.name = name;
	arg.outer_uid = geteuid();
	arg.outer_gid = getegid();
	ck_assert_int_eq(usock_listen(name, USOCK_SEQPACKET, 0, 0, &l), 0);
	pair_ok(USOCK_SEQPACKET, 0, &arg.up_peer, &arg.up);
	pair_ok(USOCK_SEQPACKET, 0, &arg.down_peer, &arg.down);
	pair_ok(USOCK_SEQPACKET, 0, &arg.inner_peer, &arg.inner);
	ck_assert_int_eq(usock_set_passcred(arg.up_peer, 1), 0);
	pidfds = usock_set_passpidfd(arg.up_peer, 1) == 0;
	ck_assert_int_eq(usock_set_passcred(arg.down, 1), 0);
	ck_assert_int_eq(usock_set_passcred(arg.inner, 1), 0);
	ck_assert_int_eq(usock_send(arg.down_peer, "d", 1, NULL), 1);
	ck_assert_int_eq(usock_send(arg.inner_peer, "i", 1, NULL), 1);

	child = child_spawn(child_ns, &arg);
	/* Allocated after the fork: valgrind checks the child's heap too. */
	m = msg_new_ok();
	usock_close(arg.up);
	usock_close(arg.down);
	usock_close(arg.inner);

	wait_readable(arg.up_peer, CHILD_TIMEOUT_MS);
	n = usock_recv(arg.up_peer, text, sizeof(text) - 1, m);
	ck_assert_int_gt(n, 0);
	text[n] = '\0';
	/* The child itself: its kernel ids did not change with unshare. */
	assert_msg_creds(m, child, arg.outer_uid, arg.outer_gid);
	if (strncmp(text, "skip ", 5) == 0) {
		/* The suite's probe made them: the child must too. */
		child_wait_ok(child);
		ck_abort_msg("the child may not create user and pid namespaces "
			     "(unshare: %s), though the suite's probe could",
			     strerror(atoi(text + 5)));
	}
	ck_assert_int_eq(sscanf(text, "gpid %d", &g), 1);
	ck_assert_int_gt(g, 1);

	wait_readable(arg.up_peer, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_recv(arg.up_peer, text, 1, m), 1);
	ck_assert_int_eq(text[0], 'g');
	assert_msg_creds(m, g, arg.outer_uid, arg.outer_gid);
	if (pidfds) {
		fd = usock_msg_get_pidfd(m);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pidfd_pid(fd), g);
	}
	if (arg.map) {
		/* Claimed (1, 0, 0) inside: translated, not taken as is. */
		wait_readable(arg.up_peer, CHILD_TIMEOUT_MS);
		ck_assert_int_eq(usock_recv(arg.up_peer, text, 1, m), 1);
		ck_assert_int_eq(text[0], 'e');
		assert_msg_creds(m, g, arg.outer_uid, arg.outer_gid);
	}

	wait_readable(l, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	assert_peer(s, g, arg.outer_uid, arg.outer_gid);
	fd = usock_get_peer_pidfd(s);
	if (!kernel_has_pidfds()) {
		ck_assert_int_eq(fd, -ENOPROTOOPT);
	} else {
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pidfd_pid(fd), g);
		ck_assert_int_eq(pidfd_alive(fd), 1);
		close(fd);
	}
	ck_assert_int_eq(usock_send(s, "x", 1, NULL), 1);
	child_wait_ok(child);
	usock_close(s);
	usock_msg_free(m);
	usock_close(arg.up_peer);
	usock_close(arg.down_peer);
	usock_close(arg.inner_peer);
	usock_close(l);
}
END_TEST

TEST_SUITE_NEEDS(peer_ns, need_user_pid_namespaces)
{
	TCase *tc = fd_tcase(s, "namespaces");

	tcase_add_loop_test(tc, test_namespaces, 0, 2);
}

/* ---- root only: suite peer_root ----------------------------------------- */

struct setuid_arg {
	const char *name;
	const gid_t *groups;
	int ngroups;
};

/* As root: sets the given groups, connects, then becomes uid/gid NOBODY
 * and sends a message. */
static int child_connect_then_setuid(void *p)
{
	const struct setuid_arg *a = p;
	struct usock *c;

	CHILD_ASSERT_INT_EQ(geteuid(), 0);
	CHILD_ASSERT(setgroups((size_t)a->ngroups, a->groups) == 0);
	CHILD_ASSERT_INT_EQ(usock_connect(a->name, USOCK_STREAM, 0, &c), 0);
	CHILD_ASSERT(setgroups(0, NULL) == 0);
	CHILD_ASSERT(setgid(NOBODY) == 0);
	CHILD_ASSERT(setuid(NOBODY) == 0);
	CHILD_ASSERT_INT_EQ(usock_send(c, "n", 1, NULL), 1);
	usock_close(c);
	return 0;
}

/*
 * SO_PEERCRED and SO_PEERGROUPS are a snapshot at connect: the child
 * connected as root with groups 10..50, then became nobody; its message
 * says nobody, the peer calls still say root and the five groups.
 */
START_TEST(test_snapshot_after_setuid)
{
	static const gid_t groups[] = { 10, 20, 30, 40, 50 };
	struct setuid_arg arg = { .groups = groups, .ngroups = 5 };
	struct usock_msg *m;
	uint32_t got[8];
	struct usock *l, *s;
	char name[64], c;
	pid_t pid;

	abstract_name(name, sizeof(name));
	arg.name = name;
	ck_assert_int_eq(usock_listen(name, USOCK_STREAM, 0, 0, &l), 0);
	ck_assert_int_eq(usock_set_passcred(l, 1), 0);
	pid = child_spawn(child_connect_then_setuid, &arg);
	/* Allocated after the fork: valgrind checks the child's heap too. */
	m = msg_new_ok();
	wait_readable(l, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	wait_readable(s, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_recv(s, &c, 1, m), 1);
	child_wait_ok(pid);

	assert_msg_creds(m, pid, NOBODY, NOBODY);
	assert_peer(s, pid, 0, 0);
	for (int i = 0; i < 8; i++)
		got[i] = 0xdeadbeef;
	/* Too short: the count, nothing written. */
	ck_assert_int_eq(usock_get_peer_groups(s, got, 4), 5);
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(got[i], 0xdeadbeef);
	ck_assert_int_eq(usock_get_peer_groups(s, got, 8), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(got[i], groups[i]);
	for (int i = 5; i < 8; i++)
		ck_assert_uint_eq(got[i], 0xdeadbeef);

	usock_msg_free(m);
	usock_close(s);
	usock_close(l);
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

TEST_SUITE_NEEDS(peer_root, need_root)
{
	TCase *tc = fd_tcase(s, "peer");

	tcase_add_test(tc, test_peer_groups_known);
	tcase_add_test(tc, test_snapshot_after_setuid);
}
