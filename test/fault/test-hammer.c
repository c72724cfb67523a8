/* SPDX-License-Identifier: MIT */
/*
 * Close-on-exec hammer. A raw peer process streams fds (copies of one pipe
 * end); one thread receives them with libusock, at least 80,000, while
 * another forks and execs a checker (the fdcount helper) in a tight loop,
 * at least 100 times.
 * Received fds are close-on-exec from birth (MSG_CMSG_CLOEXEC), so no
 * checker may ever see one: setting the flag after recvmsg() would leave a
 * window that this loop finds.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../helpers.h"
#include "../raw.h"

#define HAMMER_FDS 4
#define MIN_FDS 80000
#define MIN_EXECS 100
/* On a loaded machine: stop after this long, with fewer execs. */
#define MAX_SECONDS 30
/*
 * The sender's SO_SNDBUF (the kernel doubles it): about 40 messages, 160
 * fds, queued at most on x86-64. At the default of 208 KiB about 280
 * messages, 1,100 fds, would wait in the queue: past the in-flight limit of
 * an unprivileged user with the usual RLIMIT_NOFILE of 1024 on their own,
 * and a drain on the limit of the tests beside this one (same user).
 */
#define HAMMER_SNDBUF 16384

struct hammer {
	struct usock *rx, *tx;
	int target_fd; /* the pipe end whose copies travel */
	struct fid target;
	const char *prog; /* the checker */
	size_t inheritable; /* fds an exec keeps at the start */
	bool done;
	/* Receiver thread. */
	unsigned long fds;
	char rx_err[160];
	/* Exec thread. */
	unsigned long execs, leaks;
	char exec_err[160];
};

/* Send until the receiver shuts its end down. */
static int child_sender(void *p)
{
	struct hammer *h = p;
	int sock = usock_get_fd(h->tx), fds[HAMMER_FDS];
	struct raw_ctl ctl = { .fds = fds, .nfds = HAMMER_FDS, .nblocks = 1 };
	ssize_t r;

	usock_close(h->rx);
	for (int i = 0; i < HAMMER_FDS; i++)
		fds[i] = h->target_fd;
	/* Tests running beside this one as the same user may take the
	 * user's in-flight count over the limit for a while. */
	while ((r = raw_send(sock, "fds", 3, &ctl, 0)) == 3 || inflight_busy(r))
		;
	CHILD_ASSERT_INT_EQ(r, -EPIPE);
	usock_close(h->tx);
	return 0;
}

static void *receiver(void *p)
{
	struct hammer *h = p;
	struct usock_msg *m = NULL;
	double end = now_seconds() + MAX_SECONDS;
	char buf[8];

	if (usock_msg_new(&m) < 0) {
		snprintf(h->rx_err, sizeof(h->rx_err), "usock_msg_new failed");
		goto out;
	}
	while (h->fds < MIN_FDS ||
	       (__atomic_load_n(&h->execs, __ATOMIC_RELAXED) < MIN_EXECS &&
		now_seconds() < end)) {
		ssize_t r = usock_recv(h->rx, buf, sizeof(buf), m);

		if (r != 3 || usock_msg_get_nfds(m) != HAMMER_FDS) {
			snprintf(h->rx_err, sizeof(h->rx_err),
				 "usock_recv = %zd with %d fds", r,
				 usock_msg_get_nfds(m));
			break;
		}
		h->fds += HAMMER_FDS;
		/* The fds stay open until the next receive closes them. */
	}
out:
	usock_msg_free(m);
	/* The sender's next send fails with EPIPE. */
	shutdown(usock_get_fd(h->rx), SHUT_RDWR);
	__atomic_store_n(&h->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* How many of the fds the checker inherited are copies of the target, or
 * -1 on a failure (described in err). */
static long run_checker(const struct hammer *h, size_t *n_inherited, char *err,
			size_t errlen)
{
	struct fd_report r;
	long hits = 0;

	if (fdcount_run(h->prog, &r, err, errlen) < 0)
		return -1;
	*n_inherited = r.n;
	for (size_t i = 0; i < r.n; i++)
		hits += fid_eq(r.fds[i].id, h->target);
	return hits;
}

static void *exec_loop(void *p)
{
	struct hammer *h = p;

	while (!__atomic_load_n(&h->done, __ATOMIC_ACQUIRE)) {
		size_t n = 0;
		long hits =
			run_checker(h, &n, h->exec_err, sizeof(h->exec_err));

		if (hits < 0)
			break;
		__atomic_add_fetch(&h->execs, 1, __ATOMIC_RELAXED);
		if (hits > 0 || n != h->inheritable) {
			h->leaks++;
			snprintf(h->exec_err, sizeof(h->exec_err),
				 "exec %lu inherited %zu fds (want %zu), %ld "
				 "of them received",
				 h->execs, n, h->inheritable, hits);
		}
	}
	return NULL;
}

START_TEST(test_cloexec_hammer)
{
	struct hammer h = { .prog = fdcount_path() };
	pthread_t rx, ex;
	char err[160];
	size_t n;
	int p[2], plain;
	pid_t pid;

	h.inheritable = baseline_inheritable();
	pair_ok(USOCK_SEQPACKET, 0, &h.tx, &h.rx);
	ck_assert_int_eq(setsockopt(usock_get_fd(h.tx), SOL_SOCKET, SO_SNDBUF,
				    &(int){ HAMMER_SNDBUF }, sizeof(int)),
			 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	h.target_fd = p[0];
	h.target = fid_of(p[0]);

	pid = child_spawn(child_sender, &h);
	usock_close(h.tx);
	ck_assert_int_eq(pthread_create(&ex, NULL, exec_loop, &h), 0);
	ck_assert_int_eq(pthread_create(&rx, NULL, receiver, &h), 0);
	ck_assert_int_eq(pthread_join(rx, NULL), 0);
	ck_assert_int_eq(pthread_join(ex, NULL), 0);
	child_wait_ok(pid);

	printf("hammer: %lu fds received while %lu checkers ran\n", h.fds,
	       h.execs);
	ck_assert_msg(h.rx_err[0] == '\0', "receiver: %s", h.rx_err);
	ck_assert_msg(h.leaks == 0, "%lu leaks; last: %s", h.leaks, h.exec_err);
	ck_assert_msg(h.exec_err[0] == '\0', "exec thread: %s", h.exec_err);
	ck_assert_uint_ge(h.fds, MIN_FDS);
	/* The two overlapped: the checker ran many times meanwhile. */
	ck_assert_uint_ge(h.execs, 10);

	/* Positive control: an inheritable copy of the target is seen. */
	plain = fcntl(p[0], F_DUPFD, 3);
	ck_assert_int_ge(plain, 0);
	ck_assert_int_eq(run_checker(&h, &n, err, sizeof(err)), 1);
	ck_assert_uint_eq(n, h.inheritable + 1);
	close(plain);

	close(p[0]);
	close(p[1]);
	usock_close(h.rx);
}
END_TEST

TEST_SUITE(hammer)
{
	TCase *tc = fd_tcase(s, "cloexec");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_cloexec_hammer);
}
