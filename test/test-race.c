/* SPDX-License-Identifier: MIT */
/*
 * Stress (issue 9): what usock(7) promises to several threads on one handle,
 * kept while signals arrive and the receive policy changes under them.
 *
 * Each round of test_mixed runs, on one fresh SEQPACKET pair: RECEIVERS
 * threads in usock_recv() on one end; a sender thread on the other that sends
 * a random sequence of data messages, empty messages and messages with one
 * fd, then closes at a random point; TOGGLERS threads that flip
 * usock_set_passcred, usock_set_max_fds (1, 5, 253) and usock_set_passpidfd
 * meanwhile; and a thread that sends SIGUSR1 (no SA_RESTART) to the
 * receivers every SIGNAL_US. After the round it counts what a user would
 * see go wrong:
 * - false end of file: -EPIPE while a message was still queued. Proven two
 *   ways: a receive that began after an -EPIPE had been returned got a
 *   message (every -EPIPE before it was false), or messages were left in the
 *   queue when every receiver had stopped at -EPIPE (a raw drain finds them);
 * - lost messages: a sequence number not received exactly once, or fewer
 *   empty messages received than sent;
 * - refused: a 1-fd message refused (-EMFILE, -E2BIG) though the limit was
 *   never below 1;
 * - leaked fds: the process's fd count changed over the round;
 * - diverged policy: after the togglers race set_max_fds(0) against
 *   set_max_fds(5) (and passcred, passpidfd 0 against 1) on a probe pair,
 *   usock_get_max_fds() disagrees with SO_PASSRIGHTS, or a 1-fd message at
 *   limit 1 is refused (a control buffer sized for other options than the
 *   kernel's).
 * test_timeout checks that signals never stretch a bounded wait: SO_RCVTIMEO,
 * SO_SNDTIMEO or usock_set_timeout(3), on a receive and on a send.
 *
 * USOCK_TEST_SCALE (a float, default 1) multiplies the rounds;
 * USOCK_TEST_SEED fixes the random sequence (the summary prints it).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

#define ROUNDS 400
#define MAX_MESSAGES 48
#define RECEIVERS 3
#define TOGGLERS 2
#define SIGNAL_US 2000
/* Races of opposite policy setters per round. */
#define RACES 8
/* A round that takes longer has hung: its socket is shut down. */
#define ROUND_DEADLINE 10.0

enum kind { KIND_EMPTY, KIND_DATA, KIND_FD };

struct wire {
	uint32_t seq;
	uint32_t kind;
};

static unsigned int signals_caught;

static void on_usr1(int sig)
{
	(void)sig;
	__atomic_fetch_add(&signals_caught, 1, __ATOMIC_RELAXED);
}

/* SIGUSR1 without SA_RESTART: a blocked call sees EINTR. */
static void catch_usr1(struct sigaction *old)
{
	struct sigaction sa = { .sa_handler = on_usr1 };

	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, old), 0);
}

static double test_scale(void)
{
	const char *e = getenv("USOCK_TEST_SCALE");
	double v = e ? strtod(e, NULL) : 1.0;

	return v > 0 ? v : 1.0;
}

static unsigned int test_seed(void)
{
	const char *e = getenv("USOCK_TEST_SEED");

	return e ? (unsigned int)strtoul(e, NULL, 0) : (unsigned int)time(NULL);
}

static void sleep_us(long us)
{
	struct timespec t = { .tv_sec = us / 1000000,
			      .tv_nsec = us % 1000000 * 1000 };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static void atomic_max(unsigned int *p, unsigned int v)
{
	unsigned int cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (cur < v &&
	       !__atomic_compare_exchange_n(p, &cur, v, true, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

/* The kernel has SO_PASSRIGHTS (Linux 6.16+). */
static bool have_passrights(int fd)
{
	int v;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &v, &len) == 0;
}

struct round {
	struct usock *s, *peer; /* receivers' end, sender's end */
	struct usock *probe, *probe_peer; /* for the setters' race */
	/* A message with 1 fd, and where it is received. */
	struct usock_msg *probe_out, *probe_in;
	bool passrights; /* the kernel has SO_PASSRIGHTS */
	unsigned int seed;
	uint32_t n; /* messages sent */
	unsigned char kinds[MAX_MESSAGES];
	unsigned int empties_sent;

	pthread_t receivers[RECEIVERS], togglers[TOGGLERS], signaller, sender;
	pthread_barrier_t race; /* the togglers' races on probe */

	/* Counted by the threads (atomics). */
	unsigned int seen[MAX_MESSAGES];
	unsigned int empties, epipes, max_pre, refused, bad, eintr, other;
	int other_err;
	unsigned int diverged; /* toggler 0's count */
	unsigned int receivers_done;
	bool stop;

	struct thread_failure sender_res, toggler_res[TOGGLERS];
};

static void *receive(void *p)
{
	struct round *r = p;
	struct usock_msg *m = NULL;
	struct wire w;

	if (usock_msg_new(&m) < 0) {
		__atomic_store_n(&r->other_err, ENOMEM, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->other, 1, __ATOMIC_RELAXED);
		goto out;
	}
	for (;;) {
		/* How many -EPIPE had been returned before this call began:
		 * if it gets a message, every one of them was false. */
		unsigned int pre =
			__atomic_load_n(&r->epipes, __ATOMIC_SEQ_CST);
		ssize_t n = usock_recv(r->s, &w, sizeof(w), m);

		if (n == -EPIPE) {
			__atomic_fetch_add(&r->epipes, 1, __ATOMIC_SEQ_CST);
			break;
		}
		if (n == -EINTR) {
			/* usock_recv(3): interrupted receives are restarted
			 * (no SO_RCVTIMEO here). */
			__atomic_fetch_add(&r->eintr, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (n == -EMFILE || n == -E2BIG) {
			/* Only 1-fd messages carry fds, the limit is >= 1. */
			atomic_max(&r->max_pre, pre);
			__atomic_fetch_add(&r->refused, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (n < 0) {
			__atomic_store_n(&r->other_err, (int)-n,
					 __ATOMIC_RELAXED);
			__atomic_fetch_add(&r->other, 1, __ATOMIC_RELAXED);
			break;
		}
		atomic_max(&r->max_pre, pre);
		if (n == 0) {
			__atomic_fetch_add(&r->empties, 1, __ATOMIC_RELAXED);
			if (usock_msg_get_nfds(m) != 0)
				__atomic_fetch_add(&r->bad, 1,
						   __ATOMIC_RELAXED);
			continue;
		}
		if (n != sizeof(w) || w.seq >= r->n ||
		    w.kind != r->kinds[w.seq] ||
		    usock_msg_get_nfds(m) != (w.kind == KIND_FD ? 1 : 0)) {
			__atomic_fetch_add(&r->bad, 1, __ATOMIC_RELAXED);
			continue;
		}
		__atomic_fetch_add(&r->seen[w.seq], 1, __ATOMIC_RELAXED);
	}
out:
	usock_msg_free(m);
	__atomic_fetch_add(&r->receivers_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *send_all(void *p)
{
	struct round *r = p;
	struct thread_failure *f = &r->sender_res;
	/* A bound on a blocked send: if false end of file stopped every
	 * receiver, nobody reads until the drain. */
	struct timeval tv = { .tv_sec = 3 };
	struct usock_msg *m = NULL;
	unsigned int seed = r->seed;
	int fd = devnull();

	T_CHECK_EQ(f, fd >= 0, 1);
	T_CHECK_EQ(f,
		   setsockopt(usock_get_fd(r->peer), SOL_SOCKET, SO_SNDTIMEO,
			      &tv, sizeof(tv)),
		   0);
	T_CHECK_EQ(f, usock_msg_new(&m), 0);
	T_CHECK_EQ(f, usock_msg_add_fd(m, fd), 0);
	for (uint32_t i = 0; i < r->n; i++) {
		struct wire w = { .seq = i, .kind = r->kinds[i] };
		size_t len = w.kind == KIND_EMPTY ? 0 : sizeof(w);

		T_CHECK_EQ(f,
			   usock_send(r->peer, &w, len,
				      w.kind == KIND_FD ? m : NULL),
			   len);
		if (rand_r(&seed) % 8 == 0)
			sched_yield();
	}
	/* Close at a random moment relative to the receivers. */
	if (rand_r(&seed) % 2)
		sleep_us(rand_r(&seed) % 200);
fail:
	usock_close(r->peer);
	usock_msg_free(m);
	if (fd >= 0)
		close(fd);
	return NULL;
}

struct toggler {
	struct round *r;
	int id;
};

static const unsigned int max_values[] = { 1, 5, USOCK_MAX_FDS };

/*
 * After a race on the probe: 1 if the handle's policy disagrees with the
 * kernel's options, seen through SO_PASSRIGHTS or through a 1-fd message at
 * limit 1 that the receive refuses (a control buffer sized for other options
 * than the kernel's), else 0. Runs in a toggler: no ck_assert.
 */
static unsigned int probe_diverged(struct round *r)
{
	int fd = usock_get_fd(r->probe);
	struct wire w = { .seq = 1, .kind = KIND_FD }, got;
	socklen_t len = sizeof(int);
	int v = -1;

	if (r->passrights &&
	    (getsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &v, &len) < 0 ||
	     (usock_get_max_fds(r->probe) > 0) != v))
		return 1;
	if (usock_set_max_fds(r->probe, 1) < 0 ||
	    usock_send(r->probe_peer, &w, sizeof(w), r->probe_out) !=
		    sizeof(w) ||
	    usock_recv(r->probe, &got, sizeof(got), r->probe_in) !=
		    sizeof(got) ||
	    usock_msg_get_nfds(r->probe_in) != 1)
		return 1;
	return 0;
}

static void *toggle(void *p)
{
	struct toggler *t = p;
	struct round *r = t->r;
	struct thread_failure *f = &r->toggler_res[t->id];
	unsigned int seed = r->seed * 7 + (unsigned int)t->id;
	int rc;

	/* Bounded: the round ends long before, or it has hung. */
	for (int i = 0;
	     i < 100000 && !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); i++) {
		switch (rand_r(&seed) % 3) {
		case 0:
			rc = usock_set_passcred(r->s, rand_r(&seed) % 2);
			break;
		case 1:
			rc = usock_set_max_fds(r->s,
					       max_values[rand_r(&seed) % 3]);
			break;
		default:
			rc = usock_set_passpidfd(r->s, rand_r(&seed) % 2);
			if (rc == -ENOPROTOOPT)
				rc = 0;
			break;
		}
		if (rc != 0 && !f->what[0])
			snprintf(f->what, sizeof(f->what), "setter: %s",
				 strerror(-rc));
		sleep_us(rand_r(&seed) % 50);
	}
	/*
	 * The race of issue 9 item 2: opposite settings at the same moment,
	 * RACES times; toggler 0 checks the outcome while toggler 1 waits at
	 * the next barrier.
	 */
	for (int i = 0; i < RACES; i++) {
		pthread_barrier_wait(&r->race);
		rc = usock_set_max_fds(r->probe, t->id ? 5 : 0);
		if (rc == 0)
			rc = usock_set_passcred(r->probe, t->id);
		if (rc == 0) {
			rc = usock_set_passpidfd(r->probe, t->id);
			if (rc == -ENOPROTOOPT)
				rc = 0;
		}
		if (rc != 0 && !f->what[0])
			snprintf(f->what, sizeof(f->what), "probe setter: %s",
				 strerror(-rc));
		pthread_barrier_wait(&r->race);
		if (t->id == 0)
			r->diverged += probe_diverged(r);
	}
	return NULL;
}

static void *signal_receivers(void *p)
{
	struct round *r = p;

	/* Receivers that finished are waited for before they are joined, so
	 * their thread ids stay valid here. */
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < RECEIVERS; i++)
			pthread_kill(r->receivers[i], SIGUSR1);
		sleep_us(SIGNAL_US);
	}
	return NULL;
}

/*
 * Read what the receivers left in the queue, with a raw recvmsg and
 * SO_PASSCRED on, so that end of file (no credentials) is told apart from
 * an empty message (credentials, maybe of pid 0). Returns the number of
 * messages found; their fds are closed.
 */
static unsigned int drain(int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(sizeof(int) * USOCK_MAX_FDS) +
			 CMSG_SPACE(sizeof(int))];
	} ctl;
	unsigned int found = 0;
	int on = 1;

	ck_assert_int_eq(
		setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
	for (;;) {
		struct wire w;
		struct iovec iov = { .iov_base = &w, .iov_len = sizeof(w) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n >= 0, "drain: %s", strerror(errno));
		if (n == 0 && mh.msg_controllen == 0)
			return found;
		found++;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
		     c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    (c->cmsg_type != SCM_RIGHTS &&
			     c->cmsg_type != SCM_PIDFD))
				continue;
			for (size_t i = 0;
			     i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			     i++) {
				int rfd;

				memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int),
				       sizeof(rfd));
				close(rfd);
			}
		}
	}
}

struct totals {
	unsigned long rounds, messages, false_eof, lost, refused, leaked,
		diverged, bad, eintr, other, signals;
	int other_err;
};

static void run_round(struct totals *tot, unsigned int seed, bool passrights)
{
	static struct round r; /* large; one round at a time */
	struct toggler tg[TOGGLERS];
	size_t fds_before = fd_count();
	unsigned int sig0 = __atomic_load_n(&signals_caught, __ATOMIC_RELAXED);
	unsigned int drained, false_eof, lost = 0;
	double t0 = now_seconds();
	int probe_fd;

	memset(&r, 0, sizeof(r));
	r.seed = seed;
	r.n = 1 + (uint32_t)(rand_r(&seed) % MAX_MESSAGES);
	for (uint32_t i = 0; i < r.n; i++) {
		r.kinds[i] = (unsigned char)(rand_r(&seed) % 3);
		r.empties_sent += r.kinds[i] == KIND_EMPTY;
	}
	pair_ok(USOCK_SEQPACKET, 0, &r.s, &r.peer);
	pair_ok(USOCK_SEQPACKET, 0, &r.probe, &r.probe_peer);
	r.passrights = passrights;
	r.probe_out = msg_new_ok();
	r.probe_in = msg_new_ok();
	probe_fd = devnull();
	ck_assert_int_ge(probe_fd, 0);
	ck_assert_int_eq(usock_msg_add_fd(r.probe_out, probe_fd), 0);
	ck_assert_int_eq(pthread_barrier_init(&r.race, NULL, TOGGLERS), 0);

	for (int i = 0; i < RECEIVERS; i++)
		ck_assert_int_eq(
			pthread_create(&r.receivers[i], NULL, receive, &r), 0);
	for (int i = 0; i < TOGGLERS; i++) {
		tg[i] = (struct toggler){ .r = &r, .id = i };
		ck_assert_int_eq(
			pthread_create(&r.togglers[i], NULL, toggle, &tg[i]),
			0);
	}
	ck_assert_int_eq(
		pthread_create(&r.signaller, NULL, signal_receivers, &r), 0);
	ck_assert_int_eq(pthread_create(&r.sender, NULL, send_all, &r), 0);

	while (__atomic_load_n(&r.receivers_done, __ATOMIC_SEQ_CST) <
	       RECEIVERS) {
		if (now_seconds() - t0 > ROUND_DEADLINE) {
			/* Hung: wake the receivers; the check below fails. */
			shutdown(usock_get_fd(r.s), SHUT_RDWR);
			ck_abort_msg("round %lu (seed %u) hung", tot->rounds,
				     r.seed);
		}
		sleep_us(200);
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
	ck_assert_int_eq(pthread_join(r.signaller, NULL), 0);
	for (int i = 0; i < TOGGLERS; i++)
		ck_assert_int_eq(pthread_join(r.togglers[i], NULL), 0);
	for (int i = 0; i < RECEIVERS; i++)
		ck_assert_int_eq(pthread_join(r.receivers[i], NULL), 0);
	for (int i = 0; i < TOGGLERS; i++)
		assert_thread_ok("toggler", &r.toggler_res[i]);

	/* The receivers' handle: its policy is the last one set; nothing in
	 * the test sets max 0 on it, so SO_PASSRIGHTS must be on. */
	if (passrights)
		tot->diverged += (usock_get_max_fds(r.s) > 0) !=
				 sockopt_int(usock_get_fd(r.s), SO_PASSRIGHTS);
	tot->diverged += r.diverged;

	drained = drain(usock_get_fd(r.s));
	ck_assert_int_eq(pthread_join(r.sender, NULL), 0);
	assert_thread_ok("sender", &r.sender_res);
	usock_close(r.s);
	usock_close(r.probe);
	usock_close(r.probe_peer);
	usock_msg_free(r.probe_out);
	usock_msg_free(r.probe_in);
	close(probe_fd);
	pthread_barrier_destroy(&r.race);

	for (uint32_t i = 0; i < r.n; i++)
		if (r.kinds[i] != KIND_EMPTY && r.seen[i] != 1)
			lost++;
	lost += r.empties_sent > r.empties ? r.empties_sent - r.empties
					   : r.empties - r.empties_sent;
	false_eof = drained ? r.epipes : r.max_pre;
	if (false_eof || lost || r.refused || r.bad || r.other)
		fprintf(stderr,
			"race: round %lu seed %u: %u messages, %u -EPIPE, "
			"%u false, %u drained, %u lost, %u refused, %u bad\n",
			tot->rounds, r.seed, r.n, r.epipes, false_eof, drained,
			lost, r.refused, r.bad);

	tot->rounds++;
	tot->messages += r.n;
	tot->false_eof += false_eof;
	tot->lost += lost;
	tot->refused += r.refused;
	tot->bad += r.bad;
	tot->eintr += r.eintr;
	tot->other += r.other;
	if (r.other)
		tot->other_err = r.other_err;
	tot->signals +=
		__atomic_load_n(&signals_caught, __ATOMIC_RELAXED) - sig0;
	tot->leaked += (unsigned long)labs((long)fd_count() - (long)fds_before);
}

START_TEST(test_mixed)
{
	struct totals tot = { 0 };
	struct sigaction old;
	unsigned long rounds = (unsigned long)(ROUNDS * test_scale());
	unsigned int seed = test_seed();
	struct usock *a, *b;
	bool passrights;

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	passrights = have_passrights(usock_get_fd(a));
	usock_close(a);
	usock_close(b);

	catch_usr1(&old);
	for (unsigned long i = 0; i < rounds; i++)
		run_round(&tot, seed + (unsigned int)i, passrights);
	ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);

	printf("race mixed: seed %u, %lu rounds, %lu messages, %lu signals, "
	       "%lu false EOF, %lu lost, %lu refused, %lu leaked fds, "
	       "%lu diverged policy, %lu bad, %lu EINTR, %lu other errors "
	       "(last %s)\n",
	       seed, tot.rounds, tot.messages, tot.signals, tot.false_eof,
	       tot.lost, tot.refused, tot.leaked, tot.diverged, tot.bad,
	       tot.eintr, tot.other,
	       tot.other ? strerror(tot.other_err) : "none");
	fflush(stdout);
	ck_assert_uint_gt(tot.signals, 0);
	ck_assert_uint_eq(tot.false_eof, 0);
	ck_assert_uint_eq(tot.lost, 0);
	ck_assert_uint_eq(tot.refused, 0);
	ck_assert_uint_eq(tot.leaked, 0);
	ck_assert_uint_eq(tot.diverged, 0);
	ck_assert_uint_eq(tot.bad, 0);
	ck_assert_uint_eq(tot.eintr, 0);
	ck_assert_uint_eq(tot.other, 0);
}
END_TEST

#define TIMEOUT_MS 200
#define TIMEOUT_SLACK_MS 300
#define TIMEOUT_SIGNAL_MS 50
/* Signals stop after this, so that a receive that restarts its timeout
 * with every signal still returns, late, and the test can say how late. */
#define TIMEOUT_SIGNALS_FOR_MS 2000

struct pester {
	pthread_t target;
	bool stop;
};

static void *pester(void *p)
{
	struct pester *ps = p;

	for (int i = 0; i < TIMEOUT_SIGNALS_FOR_MS / TIMEOUT_SIGNAL_MS &&
			!__atomic_load_n(&ps->stop, __ATOMIC_RELAXED);
	     i++) {
		sleep_us(TIMEOUT_SIGNAL_MS * 1000);
		pthread_kill(ps->target, SIGUSR1);
	}
	return NULL;
}

/*
 * The ways a wait is bounded, each with the results a call may give
 * (usock_set_timeout(3)): a kernel timeout on the fd returns -EAGAIN when it
 * expires and -EINTR when a signal interrupts it (a restart would start it
 * over); the library's deadline returns -ETIMEDOUT whatever the signals.
 */
enum bound { RCVTIMEO, SNDTIMEO, RECV_DEADLINE, SEND_DEADLINE, BOUNDS };

static const char *const bound_names[BOUNDS] = {
	"recv, SO_RCVTIMEO",
	"send, SO_SNDTIMEO",
	"recv, usock_set_timeout",
	"send, usock_set_timeout",
};

/* Queue messages on s until the next send would block. */
static void fill_queue(struct usock *s)
{
	char byte = 0;
	int n = 0;

	while (send(usock_get_fd(s), &byte, 1, MSG_DONTWAIT) == 1)
		n++;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_gt(n, 0);
}

START_TEST(test_timeout)
{
	enum bound bound = (enum bound)_i;
	bool sending = bound == SNDTIMEO || bound == SEND_DEADLINE;
	struct timeval tv = { .tv_usec = TIMEOUT_MS * 1000 };
	int calls = (int)(3 * test_scale() + 0.5) > 0
			    ? (int)(3 * test_scale() + 0.5)
			    : 1;
	struct sigaction old;
	struct usock *a, *b;
	double worst = 0;
	int expired = 0, eintr = 0, late = 0, other = 0, last_other = 0;
	unsigned int sig0;
	char buf[16] = { 0 };

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	if (sending)
		fill_queue(a);
	if (bound == RCVTIMEO || bound == SNDTIMEO)
		ck_assert_int_eq(setsockopt(usock_get_fd(a), SOL_SOCKET,
					    bound == RCVTIMEO ? SO_RCVTIMEO
							      : SO_SNDTIMEO,
					    &tv, sizeof(tv)),
				 0);
	else
		ck_assert_int_eq(usock_set_timeout(a, TIMEOUT_MS), 0);
	catch_usr1(&old);
	sig0 = __atomic_load_n(&signals_caught, __ATOMIC_RELAXED);
	for (int i = 0; i < calls; i++) {
		struct pester ps = { .target = pthread_self() };
		pthread_t t;
		double t0, dt;
		ssize_t n;

		ck_assert_int_eq(pthread_create(&t, NULL, pester, &ps), 0);
		t0 = now_seconds();
		n = sending ? usock_send(a, buf, 1, NULL)
			    : usock_recv(a, buf, sizeof(buf), NULL);
		dt = now_seconds() - t0;
		__atomic_store_n(&ps.stop, true, __ATOMIC_RELAXED);
		ck_assert_int_eq(pthread_join(t, NULL), 0);

		if (dt > worst)
			worst = dt;
		if (dt > (TIMEOUT_MS + TIMEOUT_SLACK_MS) / 1000.0)
			late++;
		if (n == (bound <= SNDTIMEO ? -EAGAIN : -ETIMEDOUT))
			expired++;
		else if (n == -EINTR && bound <= SNDTIMEO)
			eintr++;
		else
			last_other = (int)n, other++;
	}
	ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
	usock_close(a);
	usock_close(b);

	printf("race timeout (%s): %d calls, %u signals, worst %.3f s "
	       "(bound %.3f s), %d late, %d expired (%s), %d -EINTR, "
	       "%d other (last %d)\n",
	       bound_names[bound], calls,
	       __atomic_load_n(&signals_caught, __ATOMIC_RELAXED) - sig0, worst,
	       (TIMEOUT_MS + TIMEOUT_SLACK_MS) / 1000.0, late, expired,
	       bound <= SNDTIMEO ? "-EAGAIN" : "-ETIMEDOUT", eintr, other,
	       last_other);
	fflush(stdout);
	ck_assert_int_eq(late, 0);
	ck_assert_int_eq(other, 0);
	ck_assert_int_eq(expired + eintr, calls);
}
END_TEST

TEST_SUITE(race)
{
	TCase *tc = fd_tcase(s, "race");

	/* The default run takes a few seconds; USOCK_TEST_SCALE more. */
	tcase_set_timeout(tc, 60 * test_scale());
	tcase_add_test(tc, test_mixed);
	tcase_add_loop_test(tc, test_timeout, RCVTIMEO, BOUNDS);
}
