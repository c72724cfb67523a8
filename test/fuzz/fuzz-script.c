/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is a script of operations on one socket pair,
 * run against libusock and against a model of the kernel's Unix sockets.
 * After each operation the result must be the one the model predicts (the
 * payload bytes, the fds by identity, the credentials, the errno); after
 * the script, what is still queued is read back, everything is closed and
 * the process's fd table must be what it was before. Any difference aborts.
 *
 * Script: byte 0 picks the socket type; then operations, each an opcode
 * byte and its argument bytes (a missing byte reads as 0):
 *   SEND     end, fds, fd seed, creds, size    usock_send
 *   RECV     end, buffer size, with message     usock_recv
 *   TAKE     end, index                         usock_msg_take_fd
 *   RESET    which message                      usock_msg_reset
 *   RENEW    which message                      usock_msg_free + _new
 *   NONBLOCK end, on                            usock_set_nonblock
 *   PASSCRED end, on                            usock_set_passcred
 *   PIDFD    end, on                            usock_set_passpidfd
 *   MAXFDS   end, value                         usock_set_max_fds
 *   CLOSE    end                                usock_close
 * Ends are 0 and 1; messages are the sending one and one per end for
 * receiving. Blocking sockets get 1 ms send/receive timeouts so that no
 * script can hang; a blocking send into a full buffer or a blocking receive
 * with nothing to come is skipped rather than waited for.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "usock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 128
#define MAX_QUEUE 256
#define POOL 3
#define MAX_PAYLOAD 4096

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

enum op {
	OP_SEND,
	OP_RECV,
	OP_TAKE,
	OP_RESET,
	OP_RENEW,
	OP_NONBLOCK,
	OP_PASSCRED,
	OP_PIDFD,
	OP_MAXFDS,
	OP_CLOSE,
	N_OPS
};

static const uint32_t send_sizes[] = { 0,  1,	2,   3,	   7,	 8,
				       16, 100, 255, 1000, 2048, 4096 };
static const uint32_t recv_sizes[] = { 1,   2,	 3,    8,    16,
				       100, 255, 1000, 4096, 8192 };
static const unsigned int max_values[] = { 0, 1, 2, 3, 4, 7, 100, 252, 253 };

/* A message (SEQPACKET, DGRAM) or a write (STREAM) in flight. */
struct qmsg {
	uint32_t id; /* payload byte i is pattern(id, i) */
	uint32_t len;
	uint32_t off; /* STREAM: bytes already read */
	uint16_t nfds;
	bool fds_read; /* STREAM: its fds went with an earlier read */
	bool has_pid; /* the kernel attached the sender's credentials */
	uint8_t pool[USOCK_MAX_FDS]; /* which pool file each fd is */
};

struct end {
	struct usock *s; /* NULL once closed */
	struct usock_msg *rm; /* what this end receives into */
	bool nonblock, passcred, passpidfd;
	unsigned int max;
	bool reset_pending; /* the peer closed with our data unread */
	bool refused; /* DGRAM: ECONNREFUSED was reported */
	/* What arrives at this end, oldest first. */
	struct qmsg q[MAX_QUEUE];
	unsigned int head, count;
	/* The fds rm holds from the last receive: pool index, taken. */
	unsigned int rm_nfds;
	uint8_t rm_pool[USOCK_MAX_FDS];
	bool rm_taken[USOCK_MAX_FDS];
};

static struct {
	int type;
	struct end e[2];
	struct usock_msg *sm;
	int pool[POOL];
	struct stat pool_st[POOL];
	uint32_t next_id;
	bool passrights; /* the kernel has SO_PASSRIGHTS (6.16+) */
	bool empty_resets; /* an unread empty message resets the peer */
	bool root;
	int script_op;
} st;

static size_t baseline_fds;

struct input {
	const uint8_t *p;
	size_t n, pos;
};

static uint8_t next(struct input *in)
{
	return in->pos < in->n ? in->p[in->pos++] : 0;
}

static uint8_t pattern(uint32_t id, uint32_t i)
{
	return (uint8_t)(id * 131u + i * 7u + (i >> 8) + 1u);
}

__attribute__((noreturn, format(printf, 1, 2))) static void
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz-script: type %d, operation %d: ", st.type,
		st.script_op);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define EXPECT_EQ(a, b)                                                        \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		if (a_ != b_)                                                  \
			fail("line %d: %s == %s: %lld != %lld", __LINE__, #a,  \
			     #b, a_, b_);                                      \
	} while (0)

static size_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		abort();
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static bool same_file(int fd, unsigned int pool)
{
	struct stat s;

	return fstat(fd, &s) == 0 && s.st_dev == st.pool_st[pool].st_dev &&
	       s.st_ino == st.pool_st[pool].st_ino;
}

static bool open_end(int i)
{
	return st.e[i].s != NULL;
}

/* ---- operations ---------------------------------------------------------- */

static void timeouts(struct usock *s)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 1000 };
	int fd = usock_get_fd(s);

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		abort();
}

static bool writable(struct usock *s)
{
	struct pollfd p = { .fd = usock_get_fd(s), .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

static struct qmsg *enqueue(struct end *to)
{
	struct qmsg *q = &to->q[(to->head + to->count) % MAX_QUEUE];

	to->count++;
	return q;
}

static void op_send(struct input *in)
{
	const int from = next(in) & 1, to = from ^ 1;
	uint8_t f = next(in), seed = next(in), step = next(in);
	bool creds = next(in) & 1;
	uint32_t len = send_sizes[next(in) %
				  (sizeof(send_sizes) / sizeof(send_sizes[0]))];
	unsigned int nfds = f < 200 ? f % 5 : f < 250 ? f % 40 : USOCK_MAX_FDS;
	struct end *s = &st.e[from], *r = &st.e[to];
	static uint8_t buf[MAX_PAYLOAD];
	uint8_t pool[USOCK_MAX_FDS];
	uint32_t id = st.next_id++;
	long long want;
	ssize_t n;

	if (!open_end(from) || s->count + r->count >= MAX_QUEUE - 1)
		return;
	/* Blocking into a full buffer would wait for the 1 ms timeout: not
	 * worth the time (the nonblocking case covers -EAGAIN). */
	if (!s->nonblock && open_end(to) && !writable(s->s))
		return;
	usock_msg_reset(st.sm);
	for (unsigned int i = 0; i < nfds; i++) {
		pool[i] = (uint8_t)((seed + i * (step | 1u)) % POOL);
		EXPECT_EQ(usock_msg_add_fd(st.sm, st.pool[pool[i]]), 0);
	}
	if (creds)
		EXPECT_EQ(usock_msg_set_creds(st.sm, getpid(), getuid(),
					      getgid()),
			  0);
	for (uint32_t i = 0; i < len; i++)
		buf[i] = pattern(id, i);
	n = usock_send(s->s, buf, len, st.sm);

	/* What the kernel (or the library) must say before queueing. */
	want = len;
	if (st.type == USOCK_STREAM && len == 0 && (nfds || creds)) {
		want = -EINVAL;
	} else if (!open_end(to)) {
		if (st.type == USOCK_DGRAM) {
			want = s->refused ? -ENOTCONN : -ECONNREFUSED;
		} else if (st.type == USOCK_SEQPACKET && s->reset_pending) {
			want = -ECONNRESET;
		} else {
			want = -EPIPE;
		}
	} else if (r->max == 0 && nfds && st.passrights) {
		want = -EPERM;
	}
	if (want != len) {
		/* The kernel refuses fds after it found room for the
		 * message: a full buffer says so first. */
		if (want == -EPERM && n == -EAGAIN)
			return;
		EXPECT_EQ(n, want);
		if (want == -ECONNRESET)
			s->reset_pending = false;
		if (want == -ECONNREFUSED) {
			/* The kernel drops what the dead peer had sent. */
			s->refused = true;
			s->head = s->count = 0;
		}
		return;
	}
	/* A full buffer (or the 1 ms timeout), the in-flight limit of an
	 * unprivileged user, or part of a stream write. */
	if (n == -EAGAIN || (n == -ETOOMANYREFS && !st.root))
		return;
	/* len is at most MAX_PAYLOAD: it fits a 32-bit ssize_t too. */
	if (!(n == (ssize_t)len ||
	      (st.type == USOCK_STREAM && n > 0 && n < (ssize_t)len)))
		fail("usock_send(%u bytes, %u fds, creds %d) = %zd", len, nfds,
		     creds, n);
	/* A stream write of nothing leaves nothing to read. */
	if (n == 0 && st.type == USOCK_STREAM)
		return;

	struct qmsg *q = enqueue(r);

	q->id = id;
	q->len = (uint32_t)n;
	q->off = 0;
	q->nfds = (uint16_t)nfds;
	q->fds_read = false;
	/* The kernel attaches credentials when they were sent, or when
	 * either end wants credentials or pidfds; SEQPACKET handles keep
	 * SO_PASSCRED on. */
	q->has_pid = creds || st.type == USOCK_SEQPACKET || s->passcred ||
		     s->passpidfd || r->passcred ||
		     r->passpidfd;
	memcpy(q->pool, pool, nfds);
}

static void check_creds(struct end *r, bool has_pid)
{
	int32_t pid;
	uint32_t uid, gid;
	int fd;

	if (r->passcred && has_pid) {
		EXPECT_EQ(usock_msg_get_creds(r->rm, &pid, &uid, &gid), 0);
		EXPECT_EQ(pid, getpid());
		EXPECT_EQ(uid, getuid());
		EXPECT_EQ(gid, getgid());
	} else {
		EXPECT_EQ(usock_msg_get_creds(r->rm, &pid, &uid, &gid),
			  -ENODATA);
	}
	fd = usock_msg_get_pidfd(r->rm);
	if (r->passpidfd && has_pid)
		EXPECT_EQ(fd >= 0, 1);
	else
		EXPECT_EQ(fd, -ENODATA);
}

static void note_fds(struct end *r, const uint8_t *pool, unsigned int n,
		     bool with_m)
{
	if (!with_m)
		return;
	EXPECT_EQ(usock_msg_get_nfds(r->rm), n);
	r->rm_nfds = n;
	for (unsigned int i = 0; i < n; i++) {
		int fd = usock_msg_get_fd(r->rm, i);

		if (fd < 0 || !same_file(fd, pool[i]))
			fail("fd %u of %u is not pool file %u", i, n, pool[i]);
		if (fcntl(fd, F_GETFD) != FD_CLOEXEC)
			fail("fd %u is not close-on-exec", i);
		r->rm_pool[i] = pool[i];
		r->rm_taken[i] = false;
	}
}

static void pop(struct end *r)
{
	r->head = (r->head + 1) % MAX_QUEUE;
	r->count--;
}

/* SEQPACKET, DGRAM: one message, or its error. */
static void recv_message(struct end *r, bool peer_closed, ssize_t n,
			 const uint8_t *buf, uint32_t cap, bool with_m)
{
	struct qmsg *q = &r->q[r->head];

	if (st.type == USOCK_SEQPACKET && r->reset_pending) {
		EXPECT_EQ(n, -ECONNRESET);
		r->reset_pending = false;
		return;
	}
	if (r->count == 0) {
		EXPECT_EQ(n, st.type == USOCK_SEQPACKET && peer_closed
				     ? -EPIPE
				     : -EAGAIN);
		return;
	}
	pop(r);
	if (q->nfds > r->max) {
		EXPECT_EQ(n, -E2BIG);
	} else if (q->len > cap) {
		EXPECT_EQ(n, -EMSGSIZE);
	} else {
		EXPECT_EQ(n, q->len);
		for (uint32_t i = 0; i < q->len; i++)
			if (buf[i] != pattern(q->id, i))
				fail("message %u: byte %u differs", q->id, i);
		note_fds(r, q->pool, q->nfds, with_m);
		if (with_m)
			check_creds(r, q->has_pid);
		return;
	}
	if (with_m)
		EXPECT_EQ(usock_msg_get_nfds(r->rm), 0);
}

/*
 * STREAM: what one read takes, as the kernel does it: from the oldest write
 * on, never past a write whose fds it delivered, never joining writes whose
 * credentials differ when the receiver asks for them.
 */
static void recv_stream(struct end *r, bool peer_closed, ssize_t n,
			const uint8_t *buf, uint32_t cap, bool with_m)
{
	uint8_t pool[USOCK_MAX_FDS];
	unsigned int nfds = 0;
	bool check_creds_class = r->passcred || r->passpidfd, first_pid = false;
	uint32_t copied = 0;

	if (r->count == 0) {
		if (!peer_closed) {
			EXPECT_EQ(n, -EAGAIN);
		} else if (r->reset_pending) {
			EXPECT_EQ(n, -ECONNRESET);
			r->reset_pending = false;
		} else {
			EXPECT_EQ(n, -EPIPE);
		}
		return;
	}
	while (r->count && copied < cap) {
		struct qmsg *q = &r->q[r->head];
		uint32_t chunk = q->len - q->off;
		bool got_fds = false;

		if (copied == 0)
			first_pid = q->has_pid;
		else if (check_creds_class && q->has_pid != first_pid)
			break;
		if (chunk > cap - copied)
			chunk = cap - copied;
		if (n > 0)
			for (uint32_t i = 0;
			     i < chunk && copied + i < (uint32_t)n; i++)
				if (buf[copied + i] !=
				    pattern(q->id, q->off + i))
					fail("write %u: byte %u differs", q->id,
					     q->off + i);
		copied += chunk;
		q->off += chunk;
		if (q->nfds && !q->fds_read) {
			memcpy(pool, q->pool, q->nfds);
			nfds = q->nfds;
			q->fds_read = true;
			got_fds = true;
		}
		if (q->off < q->len)
			break;
		pop(r);
		if (got_fds)
			break;
	}
	if (nfds > r->max) {
		/* Quota: the bytes are gone with the fds. */
		EXPECT_EQ(n, -E2BIG);
		if (with_m)
			EXPECT_EQ(usock_msg_get_nfds(r->rm), 0);
		return;
	}
	EXPECT_EQ(n, copied);
	note_fds(r, pool, nfds, with_m);
	if (with_m)
		check_creds(r, first_pid);
}

static void do_recv(int e, uint32_t cap, bool with_m)
{
	struct end *r = &st.e[e];
	bool peer_closed = !open_end(e ^ 1);
	static uint8_t buf[8192];
	ssize_t n;

	if (with_m)
		r->rm_nfds = 0;
	n = usock_recv(r->s, buf, cap, with_m ? r->rm : NULL);
	if (st.type == USOCK_STREAM)
		recv_stream(r, peer_closed, n, buf, cap, with_m);
	else
		recv_message(r, peer_closed, n, buf, cap, with_m);
}

static void op_recv(struct input *in)
{
	const int e = next(in) & 1;
	uint32_t cap = recv_sizes[next(in) %
				  (sizeof(recv_sizes) / sizeof(recv_sizes[0]))];
	bool with_m = next(in) & 1;
	struct end *r = &st.e[e];

	if (!open_end(e))
		return;
	/* Blocking with nothing coming (a live peer, or a DGRAM peer gone):
	 * the 1 ms timeout would answer -EAGAIN; not worth the wait. */
	if (!r->nonblock && r->count == 0 && !r->reset_pending &&
	    (open_end(e ^ 1) || st.type == USOCK_DGRAM))
		return;
	do_recv(e, cap, with_m);
}

static void op_take(struct input *in)
{
	struct end *r = &st.e[next(in) & 1];
	unsigned int idx = next(in);
	int fd;

	EXPECT_EQ(usock_msg_get_nfds(r->rm), r->rm_nfds);
	idx %= r->rm_nfds + 1;
	fd = usock_msg_take_fd(r->rm, idx);
	if (idx == r->rm_nfds) {
		EXPECT_EQ(fd, -ERANGE);
	} else if (r->rm_taken[idx]) {
		EXPECT_EQ(fd, -ENOENT);
	} else {
		if (fd < 0 || !same_file(fd, r->rm_pool[idx]))
			fail("taken fd %u is not pool file %u", idx,
			     r->rm_pool[idx]);
		r->rm_taken[idx] = true;
		EXPECT_EQ(close(fd), 0);
	}
}

static struct usock_msg **msg_slot(uint8_t which, unsigned int **nfds)
{
	*nfds = NULL;
	switch (which % 3) {
	case 0:
		return &st.sm;
	default:
		*nfds = &st.e[which % 3 - 1].rm_nfds;
		return &st.e[which % 3 - 1].rm;
	}
}

static void op_reset(struct input *in, bool renew)
{
	unsigned int *nfds;
	struct usock_msg **m = msg_slot(next(in), &nfds);

	if (renew) {
		usock_msg_free(*m);
		*m = NULL;
		EXPECT_EQ(usock_msg_new(m), 0);
	} else {
		usock_msg_reset(*m);
	}
	EXPECT_EQ(usock_msg_get_nfds(*m), 0);
	if (nfds)
		*nfds = 0;
}

static void op_option(struct input *in, enum op op)
{
	const int e = next(in) & 1;
	uint8_t v = next(in);
	struct end *x = &st.e[e];
	int r;

	if (!open_end(e))
		return;
	switch (op) {
	case OP_NONBLOCK:
		EXPECT_EQ(usock_set_nonblock(x->s, v & 1), 0);
		x->nonblock = v & 1;
		break;
	case OP_PASSCRED:
		EXPECT_EQ(usock_set_passcred(x->s, v & 1), 0);
		x->passcred = v & 1;
		break;
	case OP_PIDFD:
		r = usock_set_passpidfd(x->s, v & 1);
		if (r == -ENOPROTOOPT)
			break; /* before Linux 6.5 */
		EXPECT_EQ(r, 0);
		x->passpidfd = v & 1;
		break;
	case OP_MAXFDS:
		x->max = max_values[v % (sizeof(max_values) /
					 sizeof(max_values[0]))];
		EXPECT_EQ(usock_set_max_fds(x->s, x->max), 0);
		EXPECT_EQ(usock_get_max_fds(x->s), x->max);
		break;
	default:
		abort();
	}
}

static void op_close(struct input *in)
{
	const int e = next(in) & 1;
	struct end *x = &st.e[e], *peer = &st.e[e ^ 1];

	if (!open_end(e))
		return;
	usock_close(x->s);
	x->s = NULL;
	/*
	 * Connected types: data of the peer's we leave unread resets it.
	 * Newer kernels (unix_release_sock) skip one empty message at the
	 * head, which an out-of-band byte could leave there; 5.10 does not.
	 */
	if (st.type != USOCK_DGRAM && open_end(e ^ 1) &&
	    (x->count > 1 ||
	     (x->count == 1 && (st.empty_resets ||
				x->q[x->head].len > x->q[x->head].off))))
		peer->reset_pending = true;
	x->head = x->count = 0;
}

/* ---- a script ------------------------------------------------------------ */

/*
 * Does closing a SEQPACKET end with one unread empty message reset its
 * peer? Linux 5.10 says ECONNRESET to the peer's next send; 6.18 (and 6.1's
 * later stable releases) skips the empty message and says EPIPE.
 */
static bool kernel_empty_message_resets(void)
{
	static int resets = -1;
	int sv[2];

	if (resets >= 0)
		return resets;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    send(sv[0], "", 0, MSG_DONTWAIT) != 0 || close(sv[1]) < 0)
		abort();
	if (send(sv[0], "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
		abort();
	resets = errno == ECONNRESET;
	if (!resets && errno != EPIPE)
		abort();
	close(sv[0]);
	return resets;
}

static void setup(uint8_t type_byte)
{
	int p[2], v;
	socklen_t len = sizeof(v);
	struct usock *a, *b;

	memset(&st, 0, sizeof(st));
	st.type = type_byte % 3;
	st.root = geteuid() == 0;
	st.empty_resets = kernel_empty_message_resets();
	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	st.pool[0] = p[0];
	st.pool[1] = p[1];
	st.pool[2] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < POOL; i++)
		if (st.pool[i] < 0 || fstat(st.pool[i], &st.pool_st[i]) < 0)
			abort();
	EXPECT_EQ(usock_pair(st.type, 0, &a, &b), 0);
	st.e[0].s = a;
	st.e[1].s = b;
	st.passrights = getsockopt(usock_get_fd(a), SOL_SOCKET, SO_PASSRIGHTS,
				   &v, &len) == 0;
	EXPECT_EQ(usock_msg_new(&st.sm), 0);
	for (int i = 0; i < 2; i++) {
		timeouts(st.e[i].s);
		st.e[i].max = USOCK_MAX_FDS;
		EXPECT_EQ(usock_msg_new(&st.e[i].rm), 0);
	}
}

/* Read back what is still queued, then close everything. */
static void teardown(void)
{
	st.script_op = -1;
	for (int e = 0; e < 2; e++) {
		struct end *r = &st.e[e];

		if (!open_end(e))
			continue;
		if (!r->nonblock) {
			EXPECT_EQ(usock_set_nonblock(r->s, 1), 0);
			r->nonblock = true;
		}
		for (int i = 0; i < MAX_QUEUE * 2 && r->count; i++)
			do_recv(e, 8192, true);
		EXPECT_EQ(r->count, 0);
		do_recv(e, 8192, true);
	}
	usock_msg_free(st.sm);
	for (int e = 0; e < 2; e++) {
		usock_msg_free(st.e[e].rm);
		usock_close(st.e[e].s);
	}
	for (int i = 0; i < POOL; i++)
		close(st.pool[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .p = data, .n = size };
	size_t fds;

	if (!baseline_fds)
		baseline_fds = count_fds();
	setup(next(&in));
	for (st.script_op = 0; in.pos < in.n && st.script_op < MAX_OPS;
	     st.script_op++) {
		enum op op = (enum op)(next(&in) % N_OPS);

		switch (op) {
		case OP_SEND:
			op_send(&in);
			break;
		case OP_RECV:
			op_recv(&in);
			break;
		case OP_TAKE:
			op_take(&in);
			break;
		case OP_RESET:
		case OP_RENEW:
			op_reset(&in, op == OP_RENEW);
			break;
		case OP_NONBLOCK:
		case OP_PASSCRED:
		case OP_PIDFD:
		case OP_MAXFDS:
			op_option(&in, op);
			break;
		case OP_CLOSE:
			op_close(&in);
			break;
		default:
			abort();
		}
	}
	teardown();
	fds = count_fds();
	if (fds != baseline_fds)
		fail("%zu fds open after the script, %zu before", fds,
		     baseline_fds);
	return 0;
}
