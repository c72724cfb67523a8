/* SPDX-License-Identifier: MIT */
/*
 * The seed's shape: a sender thread and a receiver thread on the two ends of
 * a blocking SEQPACKET pair, one message per call or in batches. The bulk
 * workload is the same with 64 KiB messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define MAX_PASS 16

struct pair_ctx {
	const struct pair_spec *spec;
	enum impl impl;
	bool raw_impl;
	unsigned int nfds; /* fds per message */
	unsigned int batch; /* messages per call: 1 unless a batch impl */
	size_t rx_cap; /* receive buffer per message */
	int raw[2]; /* raw: [0] sends, [1] receives */
	struct usock *tx, *rx; /* libusock */
	int pass[MAX_PASS]; /* the fds sent with every message */
	struct raw_ctl raw_ctl; /* raw: pass and nfds, in one SCM_RIGHTS */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	pthread_barrier_t barrier;
	const char *tx_err, *rx_err; /* what failed, NULL when all went well */
	int tx_errno, rx_errno;

	char *tx_buf, *rx_buf; /* batch payloads of len and rx_cap bytes */
	struct iovec tx_iov[USOCK_MAX_BATCH], rx_iov[USOCK_MAX_BATCH];
	struct usock_msg *tx_msg[USOCK_MAX_BATCH], *rx_msg[USOCK_MAX_BATCH];
	ssize_t lens[USOCK_MAX_BATCH];
	struct mmsghdr tx_mm[USOCK_MAX_BATCH], rx_mm[USOCK_MAX_BATCH];
	union raw_tx_ctl tx_ctl[USOCK_MAX_BATCH];
	union raw_rx_ctl rx_ctl[USOCK_MAX_BATCH];
	struct raw_rx raw_rx;
};

/* ---- sending ------------------------------------------------------------ */

static int raw_send_batch(struct pair_ctx *c, unsigned int k)
{
	int r;

	/* Built on every call, as usock_send_batch does. */
	memset(c->tx_mm, 0, k * sizeof(c->tx_mm[0]));
	for (unsigned int i = 0; i < k; i++) {
		struct msghdr *mh = &c->tx_mm[i].msg_hdr;

		mh->msg_iov = &c->tx_iov[i];
		mh->msg_iovlen = 1;
		if (c->nfds) {
			mh->msg_control = c->tx_ctl[i].buf;
			mh->msg_controllen = raw_build_ctl(
				c->tx_ctl[i].buf, sizeof(c->tx_ctl[i].buf),
				&c->raw_ctl);
		}
	}
	do
		r = sendmmsg(c->raw[0], c->tx_mm, k, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* Send up to k messages; returns how many went or a negative errno. */
static long send_some(struct pair_ctx *c, unsigned int k)
{
	const struct pair_spec *s = c->spec;
	ssize_t r;

	switch (c->impl) {
	case IMPL_RAW:
	case IMPL_RAW_CRED:
		r = raw_send(c->raw[0], c->tx_buf, s->len, &c->raw_ctl, 0);
		return r < 0 ? r : 1;
	case IMPL_LIB:
		r = usock_send(c->tx, c->tx_buf, s->len,
			       c->nfds ? c->tx_msg[0] : NULL);
		return r < 0 ? r : 1;
	case IMPL_RAW_BATCH:
		return raw_send_batch(c, k);
	case IMPL_LIB_BATCH:
		return usock_send_batch(c->tx, c->tx_iov,
					c->nfds ? c->tx_msg : NULL, k);
	}
	return -EINVAL;
}

static void *sender(void *arg)
{
	struct pair_ctx *c = arg;
	unsigned long n = c->spec->n, sent = 0;
	pthread_barrier_wait(&c->barrier); /* ready */
	pthread_barrier_wait(&c->barrier); /* go */
	while (sent < n) {
		unsigned long left = n - sent;
		long r = send_some(c, left < c->batch ? (unsigned int)left
						      : c->batch);

		/*
		 * An unprivileged user with a low RLIMIT_NOFILE can reach the
		 * limit of fds in flight: let the receiver drain, in both
		 * implementations alike.
		 */
		if (r == -ETOOMANYREFS) {
			sched_yield();
			continue;
		}
		if (r < 0) {
			c->tx_err = "send";
			c->tx_errno = (int)-r;
			/* The receiver then sees end of file. */
			shutdown(c->raw_impl ? c->raw[0] : usock_get_fd(c->tx),
				 SHUT_RDWR);
			break;
		}
		sent += (unsigned long)r;
	}
	pthread_barrier_wait(&c->barrier); /* done */
	pthread_barrier_wait(&c->barrier); /* counted */
	return NULL;
}

/* ---- receiving ---------------------------------------------------------- */

/* Check one raw message and close its fds; NULL or what is wrong. */
static const char *raw_consume(struct pair_ctx *c, ssize_t len,
			       struct raw_rx *rx)
{
	const char *err = NULL;

	if (len < 0)
		return "truncated message";
	if (len != (ssize_t)c->spec->len)
		err = "payload length";
	else if (rx->nfds != c->nfds)
		err = "number of fds";
	else if (c->spec->mode == MODE_CREDS &&
		 (!rx->has_creds || rx->creds.pid != c->pid ||
		  rx->creds.uid != c->uid || rx->creds.gid != c->gid))
		err = "credentials";
	for (unsigned int i = 0; i < rx->nfds; i++)
		close(rx->fds[i]);
	return err;
}

/* The same for a message object: take each fd and close it. */
static const char *lib_consume(struct pair_ctx *c, ssize_t len,
			       struct usock_msg *m)
{
	const char *err = NULL;
	int nfds = usock_msg_get_nfds(m);

	if (len < 0)
		return "truncated message";
	if (len != (ssize_t)c->spec->len) {
		err = "payload length";
	} else if (nfds != (int)c->nfds) {
		err = "number of fds";
	} else if (c->spec->mode == MODE_CREDS) {
		int32_t pid;
		uint32_t uid, gid;

		if (usock_msg_get_creds(m, &pid, &uid, &gid) < 0 ||
		    pid != c->pid || uid != c->uid || gid != c->gid)
			err = "credentials";
	}
	for (int i = 0; i < nfds; i++) {
		int fd = usock_msg_take_fd(m, (unsigned int)i);

		if (fd >= 0)
			close(fd);
	}
	return err;
}

static long raw_recv_batch(struct pair_ctx *c, unsigned int k, const char **bad)
{
	int r;

	memset(c->rx_mm, 0, k * sizeof(c->rx_mm[0]));
	for (unsigned int i = 0; i < k; i++) {
		struct msghdr *mh = &c->rx_mm[i].msg_hdr;

		mh->msg_iov = &c->rx_iov[i];
		mh->msg_iovlen = 1;
		mh->msg_control = c->rx_ctl[i].buf;
		mh->msg_controllen = sizeof(c->rx_ctl[i].buf);
	}
	do
		r = recvmmsg(c->raw[1], c->rx_mm, k,
			     MSG_WAITFORONE | MSG_CMSG_CLOEXEC, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	for (int i = 0; i < r; i++) {
		ssize_t len =
			raw_parse(&c->rx_mm[i].msg_hdr,
				  (ssize_t)c->rx_mm[i].msg_len, &c->raw_rx);
		const char *e = raw_consume(c, len, &c->raw_rx);

		if (e && !*bad)
			*bad = e;
	}
	return r;
}

static long lib_recv_batch(struct pair_ctx *c, unsigned int k, const char **bad)
{
	int r = usock_recv_batch(c->rx, c->rx_iov, c->rx_msg, c->lens, k);

	for (int i = 0; i < r; i++) {
		const char *e = lib_consume(c, c->lens[i], c->rx_msg[i]);

		if (e && !*bad)
			*bad = e;
	}
	return r;
}

/*
 * Receive up to k messages and consume them. Returns how many arrived or a
 * negative errno; *bad says what was wrong with a message.
 */
static long recv_some(struct pair_ctx *c, unsigned int k, const char **bad)
{
	ssize_t r;

	switch (c->impl) {
	case IMPL_RAW:
	case IMPL_RAW_CRED:
		r = raw_recv_one(c->raw[1], c->rx_buf, c->rx_cap, &c->raw_rx);
		if (r < 0)
			return r;
		*bad = raw_consume(c, r, &c->raw_rx);
		return 1;
	case IMPL_LIB:
		r = usock_recv(c->rx, c->rx_buf, c->rx_cap, c->rx_msg[0]);
		if (r < 0)
			return r;
		*bad = lib_consume(c, r, c->rx_msg[0]);
		return 1;
	case IMPL_RAW_BATCH:
		return raw_recv_batch(c, k, bad);
	case IMPL_LIB_BATCH:
		return lib_recv_batch(c, k, bad);
	}
	return -EINVAL;
}

static void *receiver(void *arg)
{
	struct pair_ctx *c = arg;
	unsigned long n = c->spec->n, got = 0;
	pthread_barrier_wait(&c->barrier); /* ready */
	pthread_barrier_wait(&c->barrier); /* go */
	while (got < n) {
		unsigned long left = n - got;
		const char *bad = NULL;
		long r = recv_some(
			c, left < c->batch ? (unsigned int)left : c->batch,
			&bad);

		if (r < 0 || bad) {
			c->rx_err = bad ? bad : "receive";
			c->rx_errno = r < 0 ? (int)-r : 0;
			/* The sender then gets EPIPE. */
			shutdown(c->raw_impl ? c->raw[1] : usock_get_fd(c->rx),
				 SHUT_RDWR);
			break;
		}
		got += (unsigned long)r;
	}
	pthread_barrier_wait(&c->barrier); /* done */
	pthread_barrier_wait(&c->barrier); /* counted */
	return NULL;
}

/* ---- set-up and the timed run ------------------------------------------- */

static int setup(struct pair_ctx *c)
{
	const struct pair_spec *s = c->spec;
	unsigned int nb = c->batch;
	int r;

	c->tx_buf = malloc(s->len * nb + 1);
	c->rx_buf = malloc(c->rx_cap * nb);
	if (!c->tx_buf || !c->rx_buf)
		return fail("out of memory");
	memset(c->tx_buf, 'x', s->len * nb + 1);
	for (unsigned int i = 0; i < nb; i++) {
		c->tx_iov[i].iov_base = c->tx_buf + i * s->len;
		c->tx_iov[i].iov_len = s->len;
		c->rx_iov[i].iov_base = c->rx_buf + i * c->rx_cap;
		c->rx_iov[i].iov_len = c->rx_cap;
	}

	/* The fds to pass: one pipe end and copies of it. */
	if (c->nfds) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) < 0)
			return fail("pipe2: %m");
		close(p[1]);
		c->pass[0] = p[0];
		for (unsigned int i = 1; i < c->nfds; i++) {
			c->pass[i] = fcntl(p[0], F_DUPFD_CLOEXEC, 0);
			if (c->pass[i] < 0)
				return fail("dup: %m");
		}
	}

	if (c->raw_impl) {
		int on = 1;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
			       c->raw) < 0)
			return fail("socketpair: %m");
		if ((s->mode == MODE_CREDS || c->impl == IMPL_RAW_CRED) &&
		    setsockopt(c->raw[1], SOL_SOCKET, SO_PASSCRED, &on,
			       sizeof(on)) < 0)
			return fail("SO_PASSCRED: %m");
		return 0;
	}

	r = usock_pair(USOCK_SEQPACKET, 0, &c->tx, &c->rx);
	if (r < 0)
		return fail("usock_pair: %s", strerror(-r));
	if (s->mode == MODE_CREDS) {
		r = usock_set_passcred(c->rx, 1);
		if (r < 0)
			return fail("usock_set_passcred: %s", strerror(-r));
	}
	for (unsigned int i = 0; i < nb; i++) {
		if (usock_msg_new(&c->rx_msg[i]) < 0 ||
		    usock_msg_new(&c->tx_msg[i]) < 0)
			return fail("usock_msg_new failed");
		for (unsigned int j = 0; j < c->nfds; j++) {
			r = usock_msg_add_fd(c->tx_msg[i], c->pass[j]);
			if (r < 0)
				return fail("usock_msg_add_fd: %s",
					    strerror(-r));
		}
	}
	return 0;
}

static void teardown(struct pair_ctx *c)
{
	for (unsigned int i = 0; i < USOCK_MAX_BATCH; i++) {
		usock_msg_free(c->tx_msg[i]);
		usock_msg_free(c->rx_msg[i]);
	}
	usock_close(c->tx);
	usock_close(c->rx);
	for (unsigned int i = 0; i < 2; i++)
		if (c->raw[i] >= 0)
			close(c->raw[i]);
	for (unsigned int i = 0; i < MAX_PASS; i++)
		if (c->pass[i] >= 0)
			close(c->pass[i]);
	free(c->tx_buf);
	free(c->rx_buf);
	free(c);
}

int pair_run(const struct pair_spec *spec, enum impl impl,
	     struct run_result *res)
{
	struct pair_ctx *c = calloc(1, sizeof(*c));
	struct heap_count heap;
	pthread_t tx, rx;
	uint64_t t0, t1, cpu0;
	int r = -1;

	if (!c)
		return fail("out of memory");
	c->spec = spec;
	c->impl = impl;
	c->raw_impl = impl == IMPL_RAW || impl == IMPL_RAW_BATCH ||
		      impl == IMPL_RAW_CRED;
	c->nfds = mode_nfds(spec->mode);
	c->raw_ctl = (struct raw_ctl){ .fds = c->pass,
				       .nfds = c->nfds,
				       .nblocks = 1 };
	c->batch = impl == IMPL_RAW_BATCH || impl == IMPL_LIB_BATCH
			   ? spec->batch
			   : 1;
	c->rx_cap = spec->len < 64 ? 64 : spec->len;
	c->raw[0] = c->raw[1] = -1;
	for (unsigned int i = 0; i < MAX_PASS; i++)
		c->pass[i] = -1;
	c->pid = getpid();
	c->uid = getuid();
	c->gid = getgid();

	if (setup(c) < 0)
		goto out;
	if (pthread_barrier_init(&c->barrier, NULL, 3)) {
		fail("pthread_barrier_init failed");
		goto out;
	}
	if (pthread_create(&rx, NULL, receiver, c)) {
		fail("pthread_create failed");
		goto out_barrier;
	}
	if (pthread_create(&tx, NULL, sender, c)) {
		/* Cannot happen twice in a row often enough to matter: let
		 * the receiver finish on end of file. */
		fail("pthread_create failed");
		abort();
	}

	pthread_barrier_wait(&c->barrier); /* ready: both threads started */
	heap_snapshot(&heap);
	cpu0 = cpu_ns();
	t0 = now_ns();
	pthread_barrier_wait(&c->barrier); /* go */
	pthread_barrier_wait(&c->barrier); /* done */
	t1 = now_ns();
	res->cpu_ns = cpu_ns() - cpu0;
	res->allocs = heap_calls_since(&heap);
	pthread_barrier_wait(&c->barrier); /* counted */
	pthread_join(tx, NULL);
	pthread_join(rx, NULL);

	res->ns = t1 - t0;
	res->ops = spec->n;
	if (c->rx_err) {
		/* The sender's failure, if any, followed from this one. */
		fail("%s %s: receiver: %s%s%s", mode_name(spec->mode),
		     impl_name(impl), c->rx_err, c->rx_errno ? ": " : "",
		     c->rx_errno ? strerror(c->rx_errno) : "");
		goto out_barrier;
	}
	if (c->tx_err) {
		fail("%s %s: sender: %s: %s", mode_name(spec->mode),
		     impl_name(impl), c->tx_err, strerror(c->tx_errno));
		goto out_barrier;
	}
	r = 0;
out_barrier:
	pthread_barrier_destroy(&c->barrier);
out:
	teardown(c);
	return r;
}
