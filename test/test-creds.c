/* SPDX-License-Identifier: MIT */
/*
 * Credentials across fork. Suite "creds" runs as anyone (as root, the
 * unprivileged cases drop to uid/gid 65534 in the child first); suite
 * "creds_root" holds what only root may do and is skipped otherwise.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define CHILD_TIMEOUT_MS 60000

struct peer {
	struct usock *mine, *theirs;
	bool drop;
};

/* Sends "i" with no message, "e" with an empty one, "o" claiming its own
 * credentials explicitly. */
static int child_send_three(void *p)
{
	struct peer *a = p;
	struct usock_msg *m;

	usock_close(a->theirs);
	if (a->drop)
		child_drop_privileges();
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "i", 1, NULL), 1);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "e", 1, m), 1);
	CHILD_ASSERT_INT_EQ(
		usock_msg_set_creds(m, getpid(), getuid(), getgid()), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "o", 1, m), 1);
	usock_msg_free(m);
	usock_close(a->mine);
	return 0;
}

/*
 * A pair of the type, SO_PASSCRED set to passcred on arg->theirs, and fn
 * run in a child on arg->mine, which the parent then closes. Returns the
 * child's pid.
 */
static pid_t spawn_peer(int type, bool passcred, struct peer *arg, child_fn fn)
{
	pid_t pid;

	pair_ok(type, 0, &arg->theirs, &arg->mine);
	ck_assert_int_eq(usock_set_passcred(arg->theirs, passcred), 0);
	pid = child_spawn(fn, arg);
	usock_close(arg->mine);
	return pid;
}

/*
 * A child (dropping privileges first, if told to) sends the three messages
 * of child_send_three() over a pair of the given type, received into m[]
 * one byte at a time with SO_PASSCRED on or off. Returns the child's pid,
 * reaped with a status check.
 */
static pid_t receive_three(int type, bool passcred, bool drop,
			   struct usock_msg *m[3])
{
	static const char want[] = "ieo";
	struct peer arg = { .drop = drop };
	pid_t pid;
	char c;

	for (int i = 0; i < 3; i++)
		m[i] = msg_new_ok();
	pid = spawn_peer(type, passcred, &arg, child_send_three);
	for (int i = 0; i < 3; i++) {
		wait_readable(arg.theirs, CHILD_TIMEOUT_MS);
		ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, m[i]), 1);
		ck_assert_int_eq(c, want[i]);
		ck_assert_int_eq(usock_msg_get_nfds(m[i]), 0);
	}
	child_wait_ok(pid);
	usock_close(arg.theirs);
	return pid;
}

static void free_three(struct usock_msg *m[3])
{
	for (int i = 0; i < 3; i++)
		usock_msg_free(m[i]);
}

START_TEST(test_passcred_sees_child)
{
	struct usock_msg *m[3];
	pid_t pid = receive_three(_i, true, false, m);

	/* Implicit (none sent, or an empty message) and explicit: the same,
	 * real credentials of the child. */
	for (int i = 0; i < 3; i++)
		assert_msg_creds(m[i], pid, getuid(), getgid());
	free_three(m);
}
END_TEST

/* The same from a child that is not root, when the test runs as root:
 * the kernel reports the sender's own uid, not the receiver's. */
START_TEST(test_passcred_sees_unprivileged_child)
{
	struct usock_msg *m[3];
	pid_t pid = receive_three(_i, true, true, m);

	for (int i = 0; i < 3; i++)
		assert_msg_creds(m[i], pid, unprivileged_uid(),
				 unprivileged_gid());
	free_three(m);
}
END_TEST

START_TEST(test_no_passcred_nodata)
{
	struct usock_msg *m[3];

	receive_three(_i, false, false, m);
	/* Even the explicitly sent credentials are not delivered. */
	for (int i = 0; i < 3; i++)
		assert_no_creds(m[i]);
	free_three(m);
}
END_TEST

START_TEST(test_passcred_after_queued)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	char c;

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_send(a, "q", 1, NULL), 1);
	/* Turned on with the message already queued: pid 0 arrives, and
	 * that is no credentials. On SEQPACKET the kernel option was on all
	 * along (the library keeps it on), so the sender's are there. */
	ck_assert_int_eq(usock_set_passcred(b, 1), 0);
	ck_assert_int_eq(usock_recv(b, &c, 1, m), 1);
	ck_assert_int_eq(c, 'q');
	if (_i == USOCK_SEQPACKET)
		assert_msg_creds(m, getpid(), getuid(), getgid());
	else
		assert_no_creds(m);

	ck_assert_int_eq(usock_send(a, "r", 1, NULL), 1);
	ck_assert_int_eq(usock_recv(b, &c, 1, m), 1);
	ck_assert_int_eq(c, 'r');
	assert_msg_creds(m, getpid(), getuid(), getgid());

	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

static int child_claims_refused(void *p)
{
	struct peer *a = p;
	struct usock_msg *m;

	usock_close(a->theirs);
	child_drop_privileges();
	CHILD_ASSERT(getuid() != 0 && geteuid() != 0);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);

	/* uid 0, somebody else's pid, gid 0: none is ours to claim. */
	CHILD_ASSERT_INT_EQ(usock_msg_set_creds(m, getpid(), 0, getgid()), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "u", 1, m), -EPERM);
	CHILD_ASSERT_INT_EQ(
		usock_msg_set_creds(m, getppid(), getuid(), getgid()), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "p", 1, m), -EPERM);
	if (getgid() != 0 && getegid() != 0) {
		CHILD_ASSERT_INT_EQ(
			usock_msg_set_creds(m, getpid(), getuid(), 0), 0);
		CHILD_ASSERT_INT_EQ(usock_send(a->mine, "g", 1, m), -EPERM);
	}
	/* With fds too: refused as a whole. */
	CHILD_ASSERT_INT_EQ(usock_msg_set_creds(m, getpid(), 0, getgid()), 0);
	CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, STDIN_FILENO), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "f", 1, m), -EPERM);

	/* Its own: allowed. */
	usock_msg_reset(m);
	CHILD_ASSERT_INT_EQ(
		usock_msg_set_creds(m, getpid(), getuid(), getgid()), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "k", 1, m), 1);
	usock_msg_free(m);
	usock_close(a->mine);
	return 0;
}

START_TEST(test_unprivileged_claim_eperm)
{
	struct peer arg = { .drop = true };
	struct usock_msg *m = msg_new_ok();
	pid_t pid =
		spawn_peer(USOCK_SEQPACKET, true, &arg, child_claims_refused);
	char c;

	child_wait_ok(pid);

	/* Only the allowed message arrived. */
	ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, m), 1);
	ck_assert_int_eq(c, 'k');
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	assert_msg_creds(m, pid, unprivileged_uid(), unprivileged_gid());
	ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, m), -EPIPE);

	usock_msg_free(m);
	usock_close(arg.theirs);
}
END_TEST

struct forward_arg {
	struct usock *a1, *b1, *a2, *b2;
};

/* Receives a message with credentials (not its own) and forwards it. */
static int child_forward_creds(void *p)
{
	struct forward_arg *a = p;
	struct usock_msg *m;
	int32_t pid;
	uint32_t uid, gid;
	char buf[4];

	usock_close(a->a1);
	usock_close(a->b2);
	child_drop_privileges();
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_recv(a->b1, buf, sizeof(buf), m), 2);
	CHILD_ASSERT_INT_EQ(usock_msg_get_creds(m, &pid, &uid, &gid), 0);
	CHILD_ASSERT_INT_EQ(pid, getppid());

	/* Sending the message on never relays the parent's credentials:
	 * the child's own go with it. */
	CHILD_ASSERT_INT_EQ(usock_send(a->a2, "fw", 2, m), 2);
	/* Claiming them explicitly is refused. */
	CHILD_ASSERT_INT_EQ(usock_msg_set_creds(m, pid, uid, gid), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->a2, buf, 2, m), -EPERM);
	usock_msg_free(m);
	usock_close(a->b1);
	usock_close(a->a2);
	return 0;
}

START_TEST(test_forward_creds_eperm)
{
	struct forward_arg arg;
	struct usock_msg *m = msg_new_ok();
	char buf[4];
	pid_t pid;

	pair_ok(USOCK_SEQPACKET, 0, &arg.a1, &arg.b1);
	pair_ok(USOCK_SEQPACKET, 0, &arg.a2, &arg.b2);
	ck_assert_int_eq(usock_set_passcred(arg.b1, 1), 0);
	ck_assert_int_eq(usock_set_passcred(arg.b2, 1), 0);
	pid = child_spawn(child_forward_creds, &arg);
	usock_close(arg.b1);
	usock_close(arg.a2);

	ck_assert_int_eq(usock_send(arg.a1, "hi", 2, NULL), 2);
	child_wait_ok(pid);
	ck_assert_int_eq(usock_recv(arg.b2, buf, sizeof(buf), m), 2);
	ck_assert(memcmp(buf, "fw", 2) == 0);
	assert_msg_creds(m, pid, unprivileged_uid(), unprivileged_gid());
	ck_assert_int_eq(usock_recv(arg.b2, buf, sizeof(buf), m), -EPIPE);

	usock_msg_free(m);
	usock_close(arg.a1);
	usock_close(arg.b2);
}
END_TEST

TEST_SUITE(creds)
{
	TCase *tc;

	tc = fd_tcase(s, "passcred");
	tcase_add_types_test(tc, test_passcred_sees_child);
	tcase_add_types_test(tc, test_passcred_sees_unprivileged_child);
	tcase_add_types_test(tc, test_no_passcred_nodata);
	tcase_add_packet_test(tc, test_passcred_after_queued);

	tc = fd_tcase(s, "claims");
	tcase_add_test(tc, test_unprivileged_claim_eperm);
	tcase_add_test(tc, test_forward_creds_eperm);
}

/* ---- privileged: root only --------------------------------------------- */

static int child_root_claims(void *p)
{
	struct peer *a = p;
	struct usock_msg *m;

	usock_close(a->theirs);
	CHILD_ASSERT_INT_EQ(geteuid(), 0);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_msg_set_creds(m, getppid(), 1234, 5678), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "r", 1, m), 1);
	usock_msg_free(m);
	usock_close(a->mine);
	return 0;
}

START_TEST(test_root_claims_any)
{
	struct peer arg = { .drop = false };
	struct usock_msg *m = msg_new_ok();
	char c;

	child_wait_ok(spawn_peer(_i, true, &arg, child_root_claims));

	ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, m), 1);
	ck_assert_int_eq(c, 'r');
	/* The claimed pid is the receiver's own, not the sender's. */
	assert_msg_creds(m, getpid(), 1234, 5678);

	usock_msg_free(m);
	usock_close(arg.theirs);
}
END_TEST

static int child_exit_now(void *p)
{
	(void)p;
	return 0;
}

/* A pid that names no process right now. */
static pid_t dead_pid(void)
{
	pid_t pid = child_spawn(child_exit_now, NULL);

	child_wait_ok(pid);
	for (int i = 0; i < 1000; i++, pid++)
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return pid;
	ck_abort_msg("no free pid found");
}

START_TEST(test_root_claims_missing_pid)
{
	/* Forked first, while this process owns no allocation that only a
	 * register points at (valgrind would count it lost in the child). */
	pid_t dead = dead_pid();
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_passcred(b, 1), 0);
	ck_assert_int_eq(usock_msg_set_creds(m, dead, 0, 0), 0);
	ck_assert_int_eq(usock_send(a, "x", 1, m), -ESRCH);
	assert_nothing_queued(b);

	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* Sends as uid 65534, then waits for the parent's word before exiting so
 * that its pid stays valid while the parent forwards its credentials. */
static int child_send_and_hold(void *p)
{
	struct child_pair *a = p;
	char c;

	usock_close(a->theirs);
	child_drop_privileges();
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "h", 1, NULL), 1);
	CHILD_ASSERT_INT_EQ(usock_recv(a->mine, &c, 1, NULL), 1);
	usock_close(a->mine);
	return 0;
}

START_TEST(test_root_forwards_creds)
{
	struct child_pair arg;
	struct usock *a2, *b2;
	struct usock_msg *m = msg_new_ok(), *fw = msg_new_ok();
	char c;
	pid_t pid;

	pair_ok(USOCK_SEQPACKET, 0, &arg.theirs, &arg.mine);
	pair_ok(USOCK_SEQPACKET, 0, &a2, &b2);
	ck_assert_int_eq(usock_set_passcred(arg.theirs, 1), 0);
	ck_assert_int_eq(usock_set_passcred(b2, 1), 0);
	pid = child_spawn(child_send_and_hold, &arg);
	usock_close(arg.mine);

	wait_readable(arg.theirs, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_recv(arg.theirs, &c, 1, m), 1);
	assert_msg_creds(m, pid, NOBODY, NOBODY);
	/* Sent on as received, even by root, the message carries the
	 * relay's own credentials: received ones are never relayed. */
	ck_assert_int_eq(usock_send(a2, &c, 1, m), 1);
	ck_assert_int_eq(usock_recv(b2, &c, 1, fw), 1);
	assert_msg_creds(fw, getpid(), getuid(), getgid());
	/* Set explicitly for the send, they go: the receiver sees the
	 * child. */
	ck_assert_int_eq(usock_msg_set_creds(m, pid, NOBODY, NOBODY), 0);
	ck_assert_int_eq(usock_send(a2, &c, 1, m), 1);
	ck_assert_int_eq(usock_recv(b2, &c, 1, fw), 1);
	assert_msg_creds(fw, pid, NOBODY, NOBODY);

	ck_assert_int_eq(usock_send(arg.theirs, "g", 1, NULL), 1);
	child_wait_ok(pid);
	usock_msg_free(m);
	usock_msg_free(fw);
	usock_close(arg.theirs);
	usock_close(a2);
	usock_close(b2);
}
END_TEST

TEST_SUITE_NEEDS(creds_root, need_root)
{
	TCase *tc;

	tc = fd_tcase(s, "root");
	tcase_add_types_test(tc, test_root_claims_any);
	tcase_add_types_test(tc, test_root_claims_missing_pid);
	tcase_add_test(tc, test_root_forwards_creds);
}
