/* SPDX-License-Identifier: MIT */
/* Received fds are close-on-exec from birth: none reaches an exec'd child. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

#define NFDS 5

START_TEST(test_received_cloexec)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2], sv[2], sent[4];
	char c;

	pair_ok(_i, 0, &a, &b);
	/* Not close-on-exec where they come from. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sent[0] = p[0];
	sent[1] = p[1];
	sent[2] = sv[0];
	sent[3] = sv[1];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(fd_cloexec(sent[i]), 0);
	send_fds_ok(a, "c", 1, sent, 4);

	ck_assert_int_eq(usock_recv(b, &c, 1, m), 1);
	ck_assert_int_eq(usock_msg_get_nfds(m), 4);
	for (int i = 0; i < 4; i++) {
		int fd = usock_msg_get_fd(m, i);

		ck_assert_int_eq(fd_cloexec(fd), 1);
		ck_assert(fid_eq(fid_of(fd), fid_of(sent[i])));
		/* Taking it hands it over as it is. */
		ck_assert_int_eq(usock_msg_take_fd(m, i), fd);
		ck_assert_int_eq(fd_cloexec(fd), 1);
		close(fd);
	}

	usock_msg_free(m);
	for (int i = 0; i < 4; i++)
		close(sent[i]);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* Sends NFDS fds that are not close-on-exec on its side, then exits, so
 * that the parent holds the only references. */
static int child_send_plain_fds(void *p)
{
	struct child_pair *a = p;
	struct usock_msg *m;
	int fds[NFDS];

	usock_close(a->theirs);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	for (int i = 0; i < NFDS; i += 2) {
		int pp[2];

		CHILD_ASSERT(pipe(pp) == 0);
		fds[i] = pp[0];
		if (i + 1 < NFDS)
			fds[i + 1] = pp[1];
		else
			close(pp[1]);
	}
	for (int i = 0; i < NFDS; i++)
		CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, fds[i]), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "fds", 3, m), 3);
	for (int i = 0; i < NFDS; i++)
		close(fds[i]);
	usock_msg_free(m);
	usock_close(a->mine);
	return 0;
}

START_TEST(test_exec_sees_none)
{
	struct child_pair arg;
	struct usock_msg *m = msg_new_ok();
	struct fid got[NFDS], control[2], sock[2], adopted_peer;
	struct usock *ad;
	struct fd_report r;
	int ctl[2], sv[2], cp[2];
	char buf[8], err[160];
	pid_t pid;

	pair_ok(USOCK_SEQPACKET, 0, &arg.theirs, &arg.mine);
	pid = child_spawn(child_send_plain_fds, &arg);
	usock_close(arg.mine);
	wait_readable(arg.theirs, 60000);
	ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m), 3);
	child_wait_ok(pid);
	ck_assert_int_eq(usock_msg_get_nfds(m), NFDS);
	for (int i = 0; i < NFDS; i++) {
		ck_assert_int_eq(fd_cloexec(usock_msg_get_fd(m, i)), 1);
		got[i] = fid_of(usock_msg_get_fd(m, i));
	}
	/* Take two: taken fds keep the flag too. */
	ctl[0] = usock_msg_take_fd(m, 0);
	ctl[1] = usock_msg_take_fd(m, 3);
	ck_assert_int_ge(ctl[0], 0);
	ck_assert_int_ge(ctl[1], 0);

	/* The handle's own socket, and an adopted one whose peer was left
	 * inheritable: the peer is the positive control for the socket. */
	sock[0] = fid_of(usock_get_fd(arg.theirs));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(usock_adopt(sv[0], 0, &ad), 0);
	sock[1] = fid_of(sv[0]);
	adopted_peer = fid_of(sv[1]);
	/* Positive control: a pipe that is not close-on-exec must show. */
	ck_assert_int_eq(pipe(cp), 0);
	control[0] = fid_of(cp[0]);
	control[1] = fid_of(cp[1]);

	ck_assert_msg(fdcount_run(fdcount_path(), &r, err, sizeof(err)) == 0,
		      "%s", err);
	close(cp[0]);
	close(cp[1]);

	/* Exactly the harness's inheritable fds, the control pipe and the
	 * adopted socket's plain peer. */
	ck_assert_uint_eq(r.n, baseline_inheritable() + 3);
	ck_assert(fd_report_has(&r, control[0]));
	ck_assert(fd_report_has(&r, control[1]));
	ck_assert(fd_report_has(&r, adopted_peer));
	for (int i = 0; i < NFDS; i++)
		ck_assert_msg(!fd_report_has(&r, got[i]),
			      "received fd %d reached the exec'd program", i);
	ck_assert(!fd_report_has(&r, sock[0]));
	ck_assert(!fd_report_has(&r, sock[1]));

	close(ctl[0]);
	close(ctl[1]);
	close(sv[1]);
	usock_close(ad);
	usock_msg_free(m);
	usock_close(arg.theirs);
}
END_TEST

TEST_SUITE(cloexec)
{
	TCase *tc;

	tc = fd_tcase(s, "cloexec");
	tcase_add_types_test(tc, test_received_cloexec);
	tcase_add_test(tc, test_exec_sees_none);
}
