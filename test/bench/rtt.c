/* SPDX-License-Identifier: MIT */
/*
 * Round trip across processes: the parent sends a message to a forked child
 * over a SEQPACKET pair and waits for its answer of the same size. With one
 * fd, the fd travels both ways: the child sends back the one it received,
 * then closes it; the parent closes what comes back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define WARMUP 200

/* One end of the pair, either implementation. */
struct end {
	enum impl impl;
	int fd;
	struct usock *s;
	struct usock_msg *tx, *rx;
	struct raw_rx raw;
	unsigned int nfds;
	size_t len;
};

/* Receive one message of e->len bytes carrying e->nfds fds; the fd (if any)
 * is returned in *fd, the caller's. 0 or a negative errno. */
static int end_recv(struct end *e, void *buf, size_t cap, int *fd)
{
	ssize_t r;
	int n;

	*fd = -1;
	if (e->impl == IMPL_RAW) {
		r = raw_recv_one(e->fd, buf, cap, &e->raw);
		if (r < 0)
			return (int)r;
		if (e->raw.nfds == 1)
			*fd = e->raw.fds[0];
		else
			for (unsigned int i = 0; i < e->raw.nfds; i++)
				close(e->raw.fds[i]);
		n = (int)e->raw.nfds;
	} else {
		r = usock_recv(e->s, buf, cap, e->rx);
		if (r < 0)
			return (int)r;
		n = usock_msg_get_nfds(e->rx);
		if (n == 1)
			*fd = usock_msg_take_fd(e->rx, 0);
	}
	if ((size_t)r != e->len || n != (int)e->nfds) {
		if (*fd >= 0)
			close(*fd);
		return -EBADMSG;
	}
	return 0;
}

/* Send one message of e->len bytes, with fd when it is >= 0. */
static int end_send(struct end *e, const void *buf, int fd)
{
	ssize_t r;

	if (e->impl == IMPL_RAW) {
		struct raw_ctl ctl = { .fds = &fd,
				       .nfds = fd >= 0,
				       .nblocks = 1 };

		r = raw_send(e->fd, buf, e->len, &ctl, 0);
	} else {
		usock_msg_reset(e->tx);
		if (fd >= 0)
			usock_msg_add_fd(e->tx, fd);
		r = usock_send(e->s, buf, e->len, fd >= 0 ? e->tx : NULL);
	}
	if (r < 0)
		return (int)r;
	return (size_t)r == e->len ? 0 : -EBADMSG;
}

/* Shared with the child: what it counted. */
struct child_report {
	uint64_t allocs;
	uint64_t cpu_ns;
	int err;
};

static void child(struct end *e, unsigned long n, struct child_report *report)
{
	char buf[256];
	struct heap_count heap = { 0 };
	uint64_t cpu0 = 0;
	int r = 0, fd;

	for (unsigned long i = 0; r == 0; i++) {
		if (i == WARMUP) {
			heap_snapshot(&heap);
			cpu0 = cpu_ns();
		}
		r = end_recv(e, buf, sizeof(buf), &fd);
		if (r == -EPIPE && i == WARMUP + n) {
			report->cpu_ns = cpu_ns() - cpu0;
			report->allocs = heap_calls_since(&heap);
			break;
		}
		if (r == 0) {
			r = end_send(e, buf, fd);
			if (fd >= 0)
				close(fd);
		}
	}
	report->err = r == -EPIPE ? 0 : -r;
}

static int open_end(struct end *e, int *peer_fd, struct usock **peer)
{
	int sv[2], r;

	if (e->impl == IMPL_RAW) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) <
		    0)
			return fail("socketpair: %m");
		e->fd = sv[0];
		*peer_fd = sv[1];
		return 0;
	}
	r = usock_pair(USOCK_SEQPACKET, 0, &e->s, peer);
	if (r < 0)
		return fail("usock_pair: %s", strerror(-r));
	if (usock_msg_new(&e->tx) < 0 || usock_msg_new(&e->rx) < 0)
		return fail("usock_msg_new failed");
	return 0;
}

static void close_end(struct end *e)
{
	usock_msg_free(e->tx);
	usock_msg_free(e->rx);
	e->tx = e->rx = NULL;
	if (e->s)
		usock_close(e->s);
	else if (e->fd >= 0)
		close(e->fd);
	e->s = NULL;
	e->fd = -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The parent's side: warm up, then n timed round trips. */
static int ping(struct end *e, unsigned long n, int pass, uint64_t *lat,
		struct run_result *res)
{
	char buf[256], out[256];
	struct heap_count heap = { 0 };
	uint64_t t0 = 0, cpu0 = 0;

	memset(out, 'p', sizeof(out));
	for (unsigned long i = 0; i < WARMUP + n; i++) {
		uint64_t a;
		int r, fd;

		if (i == WARMUP) {
			heap_snapshot(&heap);
			cpu0 = cpu_ns();
			t0 = now_ns();
		}
		a = now_ns();
		r = end_send(e, out, pass);
		if (r == 0)
			r = end_recv(e, buf, sizeof(buf), &fd);
		if (r < 0)
			return fail("round trip %lu: %s", i, strerror(-r));
		if (fd >= 0)
			close(fd);
		if (i >= WARMUP)
			lat[i - WARMUP] = now_ns() - a;
	}
	res->ns = now_ns() - t0;
	res->cpu_ns = cpu_ns() - cpu0;
	res->allocs = heap_calls_since(&heap);
	return 0;
}

int rtt_run(const struct rtt_spec *spec, enum impl impl, struct run_result *res)
{
	struct end e = { .impl = impl,
			 .fd = -1,
			 .nfds = mode_nfds(spec->mode),
			 .len = spec->len };
	struct child_report *report;
	struct usock *peer = NULL;
	uint64_t *lat = NULL;
	int peer_fd = -1, pass = -1, status = 0, r = -1;
	pid_t pid;

	report = mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (report == MAP_FAILED)
		return fail("mmap: %m");
	if (e.nfds) {
		pass = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (pass < 0) {
			fail("/dev/null: %m");
			goto out;
		}
	}
	if (open_end(&e, &peer_fd, &peer) < 0)
		goto out;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fail("fork: %m");
		goto out;
	}
	if (pid == 0) {
		struct end c = { .impl = impl,
				 .fd = peer_fd,
				 .s = peer,
				 .nfds = e.nfds,
				 .len = e.len };

		close_end(&e);
		if (impl == IMPL_LIB &&
		    (usock_msg_new(&c.tx) < 0 || usock_msg_new(&c.rx) < 0))
			_exit(1);
		child(&c, spec->n, report);
		close_end(&c);
		if (pass >= 0)
			close(pass);
		_exit(report->err ? 1 : 0);
	}
	if (peer)
		usock_close(peer);
	else
		close(peer_fd);
	peer = NULL;
	peer_fd = -1;

	/* Allocated after the fork: the child never sees it. */
	lat = malloc(spec->n * sizeof(*lat));
	if (lat)
		r = ping(&e, spec->n, pass, lat, res);
	else
		fail("out of memory");
	close_end(&e); /* end of file for the child */
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		r = fail("round trip child failed (status %#x): %s", status,
			 strerror(report->err));
	}
	if (r == 0) {
		qsort(lat, spec->n, sizeof(*lat), cmp_u64);
		res->ops = spec->n;
		res->p50_ns = lat[spec->n / 2];
		res->p99_ns = lat[spec->n * 99 / 100];
		res->child_allocs = report->allocs;
		res->cpu_ns += report->cpu_ns;
	}
out:
	close_end(&e);
	usock_close(peer);
	if (peer_fd >= 0)
		close(peer_fd);
	if (pass >= 0)
		close(pass);
	munmap(report, sizeof(*report));
	free(lat);
	return r;
}
