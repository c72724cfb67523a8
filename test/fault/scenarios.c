/* SPDX-License-Identifier: MIT */
/*
 * The fault driver's scenarios: short programs that use every call of the
 * API that makes a syscall or allocates. They run in one process (both ends
 * of each pair), so a run takes well under a millisecond. Each one cleans up
 * whatever happened; the driver checks the fd table and the heap after it.
 * The harness's own syscalls (pipes, raw sockets, fstat) are not wrapped and
 * never fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "driver.h"
#include "usock.h"

#define ARG(type, variant) ((type) | ((variant) << 2))
#define TYPE(arg) ((arg)&3)
#define VARIANT(arg) ((arg) >> 2)

static const int sock_types[] = { SOCK_SEQPACKET, SOCK_STREAM, SOCK_DGRAM };

struct fid {
	dev_t dev;
	ino_t ino;
};

static struct fid fid_of(int fd)
{
	struct stat st;
	struct fid f = { 0, 0 };

	if (fstat(fd, &st) == 0) {
		f.dev = st.st_dev;
		f.ino = st.st_ino;
	}
	return f;
}

static bool fid_eq(struct fid a, struct fid b)
{
	return a.dev == b.dev && a.ino == b.ino;
}

/*
 * SO_PEERPIDFD and SO_PASSPIDFD (Linux 6.5): before, the library answers
 * -ENOPROTOOPT to turning pidfds on and to asking for the peer's. Probed
 * with the unwrapped getsockopt, so no fault is counted.
 */
static bool kernel_has_pidfds(void)
{
	static int has = -1;
	int sv[2], fd;
	socklen_t len = sizeof(fd);

	if (has < 0 &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		has = getsockopt(sv[0], SOL_SOCKET, 77 /* SO_PEERPIDFD */, &fd,
				 &len) == 0;
		if (has)
			close(fd);
		close(sv[0]);
		close(sv[1]);
	}
	return has == 1;
}

static void fill(char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(seed * 131 + i * 7 + 1);
}

/* Harness fds: close-on-exec, never wrapped. */
static void harness_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		violation(__FILE__, __LINE__, "pipe2: %s", strerror(errno));
}

static void harness_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void harness_close_pipe(int p[2])
{
	harness_close(&p[0]);
	harness_close(&p[1]);
}

static bool readable(struct usock *s)
{
	struct pollfd p = { .fd = usock_get_fd(s), .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static bool writable(struct usock *s)
{
	struct pollfd p = { .fd = usock_get_fd(s), .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

/* ---- sending and receiving with recovery ------------------------------- */

/* Where a STREAM message was split by a short send: bytes in the first
 * write (which carried the control data). */
struct sent {
	long long len, first;
};

/*
 * Send one message that must go. After a documented failure, send it again
 * (one fault per run: that must work); after a short count (STREAM), send
 * the rest without the message, as usock_send(3) says.
 */
static bool send_msg(struct usock *s, const void *buf, size_t len,
		     const struct usock_msg *m, struct sent *out)
{
	long long r = OP((long long)len, usock_send(s, buf, len, m));

	if (r < 0)
		r = OP((long long)len, usock_send(s, buf, len, m));
	if (r < 0)
		return false;
	out->len = (long long)len;
	out->first = r;
	if (r < (long long)len &&
	    OP((long long)len - r,
	       usock_send(s, (const char *)buf + r, len - (size_t)r, NULL)) !=
		    (long long)len - r)
		return false;
	return true;
}

struct expect {
	const char *data;
	struct sent sent;
	int nfds;
	const struct fid *ids; /* identities of the fds, in order */
	bool creds; /* the receiver has SO_PASSCRED on */
};

static void check_fds(struct usock_msg *m, const struct expect *e)
{
	CHECK_EQ(usock_msg_get_nfds(m), e->nfds);
	for (int i = 0; i < e->nfds && i < usock_msg_get_nfds(m); i++) {
		int fd = usock_msg_get_fd(m, (unsigned int)i);

		CHECK(fd >= 0 && fid_eq(fid_of(fd), e->ids[i]));
		CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC);
	}
}

static void check_creds(struct usock_msg *m, bool want)
{
	int32_t pid;
	uint32_t uid, gid;
	int r = usock_msg_get_creds(m, &pid, &uid, &gid);

	if (!want) {
		CHECK_EQ(r, -ENODATA);
		return;
	}
	CHECK_EQ(r, 0);
	CHECK_EQ(pid, getpid());
	CHECK_EQ(uid, getuid());
	CHECK_EQ(gid, getgid());
}

/*
 * Receive one message; after a documented failure receive again. A failure
 * must not have consumed anything: if nothing is left to read, the retry
 * would wait forever, so that is reported instead.
 */
static long long recv_one(struct usock *s, void *buf, size_t cap,
			  struct usock_msg *m, long long want)
{
	long long r = OP(want, usock_recv(s, buf, cap, m));

	if (r < 0 && r != want) {
		if (!readable(s)) {
			violation(__FILE__, __LINE__,
				  "usock_recv failed (%lld) and consumed what "
				  "it failed on",
				  r);
			return r;
		}
		r = OP(want, usock_recv(s, buf, cap, m));
	}
	return r;
}

/*
 * Receive what send_msg sent and check it. On a stream a message split by a
 * short send comes in two reads when it carried fds (a read stops after the
 * write that brought fds); otherwise the kernel joins the writes.
 */
static bool recv_msg(struct usock *s, int type, struct usock_msg *m,
		     const struct expect *e)
{
	char buf[4096];
	long long want = e->sent.len, got;

	if (type == USOCK_STREAM && e->nfds && e->sent.first < e->sent.len)
		want = e->sent.first;
	got = recv_one(s, buf, sizeof(buf), m, want);
	if (got != want)
		return false;
	CHECK(memcmp(buf, e->data, (size_t)got) == 0);
	if (m) {
		check_fds(m, e);
		check_creds(m, e->creds);
	}
	if (got < e->sent.len) {
		long long rest = e->sent.len - got;

		if (recv_one(s, buf, sizeof(buf), NULL, rest) != rest)
			return false;
		CHECK(memcmp(buf, e->data + got, (size_t)rest) == 0);
	}
	return true;
}

/*
 * Send n messages in batches: after a partial batch (short) or a documented
 * failure, the rest again.
 */
static bool send_batch_all(struct usock *s, const struct iovec *bufs,
			   struct usock_msg *const *msgs, unsigned int n)
{
	unsigned int sent = 0;
	int failures = 0;

	while (sent < n) {
		long long r = OP((long long)(n - sent),
				 usock_send_batch(s, bufs + sent, msgs + sent,
						  n - sent));

		if (r <= 0 && ++failures > 1)
			return false;
		if (r > 0)
			sent += (unsigned int)r;
	}
	return true;
}

/* Receive a batch of n, again after a documented failure. */
static bool recv_batch_all(struct usock *s, const struct iovec *bufs,
			   struct usock_msg *const *msgs, ssize_t *lens,
			   unsigned int n)
{
	long long r = OP(n, usock_recv_batch(s, bufs, msgs, lens, n));

	if (r < 0 && readable(s))
		r = OP(n, usock_recv_batch(s, bufs, msgs, lens, n));
	return r == n;
}

/* Free and close, through OP so that faults in them are checked too. */
static void cleanup(struct usock **a, struct usock **b, struct usock_msg **m1,
		    struct usock_msg **m2)
{
	VOP(usock_msg_free(*m1));
	VOP(usock_msg_free(*m2));
	VOP(usock_close(*a));
	VOP(usock_close(*b));
	*a = *b = NULL;
	*m1 = *m2 = NULL;
}

/*
 * A pair and its messages (rm may be NULL for none). False after a
 * documented failure, with what was made left for cleanup().
 */
static bool open_pair(int type, int flags, struct usock **a, struct usock **b,
		      struct usock_msg **sm, struct usock_msg **rm)
{
	if (OP(0, usock_pair(type, flags, a, b)) < 0) {
		CHECK(*a == NULL && *b == NULL);
		return false;
	}
	return OP(0, usock_msg_new(sm)) == 0 &&
	       (!rm || OP(0, usock_msg_new(rm)) == 0);
}

/* ---- scenarios -------------------------------------------------------- */

/*
 * A message with three fds and credentials each way and a reply without.
 * Variants: 0 send/recv, 1 sendv/recvv, 2 a nonblocking pair.
 */
static void sc_transfer(int arg)
{
	const int type = TYPE(arg), variant = VARIANT(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *sm = NULL, *rm = NULL;
	int p[2] = { -1, -1 }, dn = -1, fd;
	struct fid ids[3];
	char payload[64], buf[64];
	struct sent sent;
	struct expect e;
	bool passcred;

	fill(payload, sizeof(payload), (unsigned int)arg);
	if (!open_pair(type, variant == 2 ? USOCK_NONBLOCK : 0, &a, &b, &sm,
		       &rm))
		goto out;
	harness_pipe(p);
	dn = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ids[0] = fid_of(p[0]);
	ids[1] = fid_of(p[1]);
	ids[2] = fid_of(dn);
	OP(0, usock_msg_add_fd(sm, p[0]));
	OP(0, usock_msg_add_fd(sm, p[1]));
	OP(0, usock_msg_add_fd(sm, dn));
	OP(0, usock_msg_set_creds(sm, getpid(), getuid(), getgid()));
	passcred = OP(0, usock_set_passcred(b, 1)) == 0;

	if (variant == 2)
		OP(-EAGAIN, usock_recv(b, buf, sizeof(buf), rm));
	if (variant == 1) {
		struct iovec iov[3] = { { payload, 10 },
					{ payload + 10, 0 },
					{ payload + 10, 54 } };
		long long r = OP(64, usock_sendv(a, iov, 3, sm));

		if (r < 0)
			r = OP(64, usock_sendv(a, iov, 3, sm));
		if (r < 0)
			goto out;
		sent = (struct sent){ .len = 64, .first = r };
		if (r < 64 &&
		    OP(64 - r, usock_send(a, payload + r, 64 - (size_t)r,
					  NULL)) != 64 - r)
			goto out;
	} else if (!send_msg(a, payload, sizeof(payload), sm, &sent)) {
		goto out;
	}
	e = (struct expect){ payload, sent, 3, ids, passcred };
	if (variant == 1 && (type != USOCK_STREAM || sent.first == 64)) {
		struct iovec iov[2] = { { buf, 5 }, { buf + 5, 59 } };
		long long r = OP(64, usock_recvv(b, iov, 2, rm));

		if (r < 0)
			r = OP(64, usock_recvv(b, iov, 2, rm));
		if (r != 64)
			goto out;
		CHECK(memcmp(buf, payload, 64) == 0);
		check_fds(rm, &e);
		check_creds(rm, passcred);
	} else if (!recv_msg(b, type, rm, &e)) {
		goto out;
	}

	/* One fd taken (now ours), the others closed by reset. */
	fd = (int)OP(WANT_NONNEG, usock_msg_take_fd(rm, 1));
	if (fd >= 0)
		close(fd);
	OP(-ENOENT, usock_msg_take_fd(rm, 1));
	VOP(usock_msg_reset(rm));
	CHECK_EQ(usock_msg_get_nfds(rm), 0);

	/* The same fds again, received without a message: all closed. */
	if (!send_msg(a, payload, 32, sm, &sent))
		goto out;
	e = (struct expect){ payload, sent, 3, ids, passcred };
	if (!recv_msg(b, type, NULL, &e))
		goto out;

	/* A plain reply the other way. */
	if (!send_msg(b, "reply", 5, NULL, &sent))
		goto out;
	e = (struct expect){ "reply", sent, 0, NULL, false };
	recv_msg(a, type, rm, &e);
out:
	cleanup(&a, &b, &sm, &rm);
	harness_close_pipe(p);
	harness_close(&dn);
}

/* Four messages in one sendmmsg, two carrying fds, and one recvmmsg. */
static void sc_batch(int arg)
{
	const int type = TYPE(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *m1 = NULL, *m2 = NULL, *r1 = NULL, *r2 = NULL;
	char data[4][16], buf[4][16];
	struct iovec out[4], in[4];
	ssize_t lens[4];
	int p[2] = { -1, -1 };

	if (!open_pair(type, 0, &a, &b, &m1, &m2) ||
	    OP(0, usock_msg_new(&r1)) < 0 || OP(0, usock_msg_new(&r2)) < 0)
		goto out;
	harness_pipe(p);
	OP(0, usock_msg_add_fd(m1, p[0]));
	OP(0, usock_msg_add_fd(m2, p[1]));
	OP(0, usock_msg_add_fd(m2, p[0]));
	for (int i = 0; i < 4; i++) {
		fill(data[i], sizeof(data[i]), (unsigned int)i);
		out[i] = (struct iovec){ data[i], sizeof(data[i]) };
		in[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
	}
	{
		struct usock_msg *msgs[4] = { m1, NULL, m2, NULL };

		if (!send_batch_all(a, out, msgs, 4))
			goto out;
	}
	{
		struct usock_msg *msgs[4] = { r1, NULL, r2, NULL };
		if (!recv_batch_all(b, in, msgs, lens, 4))
			goto out;
		for (int i = 0; i < 4; i++) {
			CHECK_EQ(lens[i], 16);
			CHECK(memcmp(buf[i], data[i], 16) == 0);
		}
		CHECK_EQ(usock_msg_get_nfds(r1), 1);
		CHECK_EQ(usock_msg_get_nfds(r2), 2);
		CHECK(fid_eq(fid_of(usock_msg_get_fd(r1, 0)), fid_of(p[0])));
		CHECK(fid_eq(fid_of(usock_msg_get_fd(r2, 0)), fid_of(p[1])));
	}
out:
	cleanup(&a, &b, &m1, &m2);
	VOP(usock_msg_free(r1));
	VOP(usock_msg_free(r2));
	harness_close_pipe(p);
}

/* Adopt both ends of a raw pair; a failure leaves the fd as it was. */
static void sc_adopt(int arg)
{
	const int type = TYPE(arg);
	struct usock *s = NULL, *t = NULL;
	int sv[2], fdfl, fl, p[2] = { -1, -1 };

	if (socketpair(AF_UNIX, sock_types[type], 0, sv) < 0) {
		violation(__FILE__, __LINE__, "socketpair: %s",
			  strerror(errno));
		return;
	}
	fdfl = fcntl(sv[0], F_GETFD);
	fl = fcntl(sv[0], F_GETFL);
	if (OP(0, usock_adopt(sv[0], USOCK_NONBLOCK, &s)) < 0) {
		CHECK(s == NULL);
		CHECK_EQ(fcntl(sv[0], F_GETFD), fdfl);
		CHECK_EQ(fcntl(sv[0], F_GETFL), fl);
		close(sv[0]);
	} else {
		CHECK_EQ(fcntl(sv[0], F_GETFD), FD_CLOEXEC);
		CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
		CHECK_EQ(usock_get_type(s), type);
		if (OP(0, usock_set_nonblock(s, 0)) == 0)
			CHECK(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
		if (OP(0, usock_set_nonblock(s, 1)) == 0)
			CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
		CHECK_EQ(OP(WANT_NONNEG, usock_release_fd(s)), sv[0]);
		close(sv[0]);
	}
	if (OP(0, usock_adopt(sv[1], 0, &t)) < 0)
		close(sv[1]);
	else
		VOP(usock_close(t));

	/* Not a socket: refused, the pipe untouched. */
	harness_pipe(p);
	OP(-ENOTSOCK, usock_adopt(p[0], 0, &t));
	harness_close_pipe(p);
}

static bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* What a nonblocking connect to path says: 0 or an errno. */
static int probe(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	fd = socket(AF_UNIX, sock_types[type] | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? errno : 0;
	close(fd);
	return r;
}

/* A socket file nobody listens on. */
static void make_stale(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, sock_types[type] | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		violation(__FILE__, __LINE__, "stale socket %s: %s", path,
			  strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * listen, connect, accept and a message with an fd over the connection.
 * Variant 0: an abstract name; 1: a path holding a stale socket file,
 * replaced (USOCK_REPLACE_STALE) and removed at close
 * (USOCK_UNLINK_ON_CLOSE). The listener's fd quota must reach the accepted
 * socket.
 */
static void sc_named(int arg)
{
	static unsigned int seq;
	const int type = TYPE(arg), variant = VARIANT(arg);
	struct usock *l = NULL, *c = NULL, *s = NULL;
	struct usock_msg *sm = NULL, *rm = NULL;
	char name[108];
	int flags = 0, p[2] = { -1, -1 };
	struct sent sent;
	struct expect e;
	struct fid pid;

	if (variant == 0) {
		snprintf(name, sizeof(name), "@usock-fault-%d-%u", getpid(),
			 seq++);
	} else {
		snprintf(name, sizeof(name), "%s/s", fault_dir);
		make_stale(name, type);
		flags = USOCK_REPLACE_STALE | USOCK_UNLINK_ON_CLOSE;
	}
	if (OP(0, usock_listen(name, type, flags, 4, &l)) < 0) {
		/* Nothing left but, perhaps, the stale file it found. */
		if (variant == 1) {
			CHECK(!path_exists(name) ||
			      probe(name, type) == ECONNREFUSED);
			unlink(name);
		}
		return;
	}
	if (variant == 1)
		CHECK(path_exists(name));
	if (OP(0, usock_set_max_fds(l, 2)) < 0)
		goto out;
	if (OP(0, usock_connect(name, type, 0, &c)) < 0) {
		/* A failed connect leaves no connection behind. */
		if (type != USOCK_DGRAM)
			CHECK(!readable(l));
		if (OP(0, usock_connect(name, type, 0, &c)) < 0)
			goto out;
	}
	if (type == USOCK_DGRAM) {
		s = l;
		l = NULL;
	} else {
		/* Again only if the failure left the connection queued. */
		if (OP(0, usock_accept(l, 0, &s)) < 0 &&
		    (!readable(l) || OP(0, usock_accept(l, 0, &s)) < 0))
			goto out;
		CHECK_EQ(usock_get_max_fds(s), 2);
		CHECK_EQ(usock_get_type(s), type);
	}
	if (OP(0, usock_msg_new(&sm)) < 0 || OP(0, usock_msg_new(&rm)) < 0)
		goto out;
	harness_pipe(p);
	pid = fid_of(p[1]);
	OP(0, usock_msg_add_fd(sm, p[1]));
	if (!send_msg(c, "named", 5, sm, &sent))
		goto out;
	e = (struct expect){ "named", sent, 1, &pid, false };
	recv_msg(s, type, rm, &e);
out:
	VOP(usock_close(l));
	cleanup(&c, &s, &sm, &rm);
	harness_close_pipe(p);
	if (variant == 1) {
		/* Removed by the close of the handle that bound it. */
		CHECK(!path_exists(name));
		unlink(name);
	}
}

/* SO_PEERCRED, SO_PEERGROUPS, SO_PEERPIDFD, SO_PASSPIDFD. */
static void sc_peer(int arg)
{
	const int type = TYPE(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *rm = NULL, *none = NULL;
	int32_t pid;
	uint32_t uid, gid, groups[64];
	int ngroups = getgroups(0, NULL), fd;
	bool passpidfd;
	char buf[8];

	if (!open_pair(type, 0, &a, &b, &rm, NULL))
		goto out;
	if (OP(0, usock_get_peer_creds(a, &pid, &uid, &gid)) == 0) {
		CHECK_EQ(pid, getpid());
		CHECK_EQ(uid, geteuid());
		CHECK_EQ(gid, getegid());
	}
	OP(ngroups, usock_get_peer_groups(a, NULL, 0));
	if (ngroups <= 64)
		OP(ngroups, usock_get_peer_groups(a, groups, 64));
	fd = (int)OP(kernel_has_pidfds() ? WANT_NONNEG : -ENOPROTOOPT,
		     usock_get_peer_pidfd(b));
	if (fd >= 0)
		close(fd);

	passpidfd = OP(kernel_has_pidfds() ? 0 : -ENOPROTOOPT,
		       usock_set_passpidfd(b, 1)) == 0;
	if (OP(1, usock_send(a, "x", 1, NULL)) < 0 &&
	    OP(1, usock_send(a, "x", 1, NULL)) < 0)
		goto out;
	if (recv_one(b, buf, sizeof(buf), rm, 1) != 1)
		goto out;
	fd = usock_msg_take_pidfd(rm);
	CHECK(passpidfd ? fd >= 0 : fd == -ENODATA);
	if (fd >= 0)
		close(fd);
out:
	cleanup(&a, &b, &rm, &none);
}

/* The fd quota: over it -E2BIG and nothing kept; 0 refuses fds. */
static void sc_quota(int arg)
{
	const int type = TYPE(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *sm = NULL, *rm = NULL;
	int fds[3] = { -1, -1, -1 }, v = 1;
	socklen_t len = sizeof(v);
	struct fid ids[3];
	char buf[8];
	struct sent sent;
	struct expect e;

	if (!open_pair(type, 0, &a, &b, &sm, &rm))
		goto out;
	for (int i = 0; i < 3; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		ids[i] = fid_of(fds[i]);
		OP(0, usock_msg_add_fd(sm, fds[i]));
	}
	if (OP(0, usock_set_max_fds(b, 2)) < 0)
		goto out;
	/* One byte each: a stream cannot split them. */
	if (!send_msg(a, "3", 1, sm, &sent))
		goto out;
	if (recv_one(b, buf, sizeof(buf), rm, -E2BIG) != -E2BIG)
		goto out;
	CHECK_EQ(usock_msg_get_nfds(rm), 0);

	VOP(usock_msg_reset(sm));
	OP(0, usock_msg_add_fd(sm, fds[0]));
	OP(0, usock_msg_add_fd(sm, fds[1]));
	if (!send_msg(a, "2", 1, sm, &sent))
		goto out;
	e = (struct expect){ "2", sent, 2, ids, false };
	if (!recv_msg(b, type, rm, &e))
		goto out;

	/* 0: SO_PASSRIGHTS off where the kernel has it (the sender gets
	 * -EPERM), else the receiver closes what comes and says -E2BIG. */
	if (OP(0, usock_set_max_fds(b, 0)) < 0)
		goto out;
	CHECK_EQ(usock_get_max_fds(b), 0);
	if (getsockopt(usock_get_fd(b), SOL_SOCKET, 83, &v, &len) == 0 && !v) {
		OP(-EPERM, usock_send(a, "0", 1, sm));
	} else {
		if (!send_msg(a, "0", 1, sm, &sent))
			goto out;
		if (recv_one(b, buf, sizeof(buf), rm, -E2BIG) != -E2BIG)
			goto out;
	}
	if (!send_msg(a, "n", 1, NULL, &sent))
		goto out;
	e = (struct expect){ "n", sent, 0, NULL, false };
	recv_msg(b, type, rm, &e);
out:
	cleanup(&a, &b, &sm, &rm);
	for (int i = 0; i < 3; i++)
		harness_close(&fds[i]);
}

/*
 * End of file. SEQPACKET: an empty message is not it, the close after the
 * last message is. STREAM: the same without the empty message. DGRAM: no
 * end of file; sends to the closed peer fail.
 */
static void sc_eof(int arg)
{
	const int type = TYPE(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *rm = NULL, *none = NULL;
	struct sent sent;
	char buf[8];

	if (!open_pair(type, 0, &a, &b, &rm, NULL))
		goto out;
	if (type == USOCK_DGRAM) {
		VOP(usock_close(a));
		a = NULL;
		/* Documented order: refused, then not connected. */
		if (OP(-ECONNREFUSED, usock_send(b, "x", 1, NULL)) !=
		    -ECONNREFUSED)
			OP(-ECONNREFUSED, usock_send(b, "x", 1, NULL));
		OP(-ENOTCONN, usock_send(b, "x", 1, NULL));
		goto out;
	}
	if (type == USOCK_SEQPACKET) {
		if (OP(0, usock_send(a, "", 0, NULL)) < 0 &&
		    OP(0, usock_send(a, "", 0, NULL)) < 0)
			goto out;
		recv_one(b, buf, sizeof(buf), rm, 0);
	}
	if (!send_msg(a, "last", 4, NULL, &sent))
		goto out;
	VOP(usock_close(a));
	a = NULL;
	/* Without fds, the kernel joins the parts of a short stream send. */
	if (recv_one(b, buf, sizeof(buf), rm, 4) != 4)
		goto out;
	CHECK(memcmp(buf, "last", 4) == 0);
	recv_one(b, buf, sizeof(buf), rm, -EPIPE);
	OP(-EPIPE, usock_recv(b, buf, sizeof(buf), rm));
	OP(-EPIPE, usock_send(b, "x", 1, NULL));
out:
	cleanup(&a, &b, &rm, &none);
}

/* The peer closed with data of ours unread: -ECONNRESET, then -EPIPE. */
static void sc_reset(int arg)
{
	const int type = TYPE(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *m = NULL, *none = NULL;
	struct sent sent;
	char buf[8];

	if (OP(0, usock_pair(type, 0, &a, &b)) < 0)
		return;
	if (!send_msg(b, "unread", 6, NULL, &sent))
		goto out;
	VOP(usock_close(a));
	a = NULL;
	recv_one(b, buf, sizeof(buf), NULL, -ECONNRESET);
	OP(-EPIPE, usock_recv(b, buf, sizeof(buf), NULL));
out:
	cleanup(&a, &b, &m, &none);
}

/* A payload longer than the buffer: -EMSGSIZE, its fds closed, the next
 * message whole. */
static void sc_trunc(int arg)
{
	const int type = TYPE(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *sm = NULL, *rm = NULL;
	int p[2] = { -1, -1 };
	struct fid id;
	char buf[4];
	struct sent sent;
	struct expect e;

	if (!open_pair(type, 0, &a, &b, &sm, &rm))
		goto out;
	harness_pipe(p);
	id = fid_of(p[0]);
	OP(0, usock_msg_add_fd(sm, p[0]));
	OP(0, usock_msg_add_fd(sm, p[1]));
	if (!send_msg(a, "0123456789", 10, sm, &sent))
		goto out;
	VOP(usock_msg_reset(sm));
	OP(0, usock_msg_add_fd(sm, p[0]));
	if (!send_msg(a, "next", 4, sm, &sent))
		goto out;
	if (recv_one(b, buf, sizeof(buf), rm, -EMSGSIZE) != -EMSGSIZE)
		goto out;
	CHECK(memcmp(buf, "0123", 4) == 0);
	CHECK_EQ(usock_msg_get_nfds(rm), 0);
	e = (struct expect){ "next", sent, 1, &id, false };
	recv_msg(b, type, rm, &e);
out:
	cleanup(&a, &b, &sm, &rm);
	harness_close_pipe(p);
}

/*
 * Nonblocking: fill a small send buffer with messages carrying an fd until
 * -EAGAIN, drain it all, and check the pair still works.
 */
static void sc_flood(int arg)
{
	const int type = TYPE(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *sm = NULL, *rm = NULL;
	int p[2] = { -1, -1 }, sndbuf = 4096;
	char payload[256], buf[256];
	unsigned int n = 0, got = 0, errors = 0;
	struct sent sent;
	struct expect e;
	struct fid id;

	fill(payload, sizeof(payload), 7);
	if (!open_pair(type, USOCK_NONBLOCK, &a, &b, &sm, &rm))
		goto out;
	setsockopt(usock_get_fd(a), SOL_SOCKET, SO_SNDBUF, &sndbuf,
		   sizeof(sndbuf));
	harness_pipe(p);
	id = fid_of(p[1]);
	OP(0, usock_msg_add_fd(sm, p[1]));
	/* 1 byte each: a stream never sends part of one. A real -EAGAIN
	 * leaves the socket unwritable; one injected by a fault does not. */
	for (;;) {
		long long r = OP2(1, -EAGAIN, usock_send(a, payload, 1, sm));

		if (r == -EAGAIN && !writable(a))
			break;
		if (r < 0 && ++errors > 1)
			goto out;
		if (r < 0)
			continue;
		if (++n > 1000) {
			violation(__FILE__, __LINE__, "never full");
			goto out;
		}
	}
	CHECK(n > 1);
	errors = 0;
	while (got < n) {
		long long r = OP(1, usock_recv(b, buf, 1, rm));

		if (r < 0 && ++errors > 1)
			goto out;
		if (r < 0)
			continue;
		CHECK_EQ(usock_msg_get_nfds(rm), 1);
		CHECK(fid_eq(fid_of(usock_msg_get_fd(rm, 0)), id));
		got++;
	}
	OP(-EAGAIN, usock_recv(b, buf, 1, rm));
	CHECK_EQ(usock_msg_get_nfds(rm), 0);
	if (!send_msg(a, payload, 100, sm, &sent))
		goto out;
	e = (struct expect){ payload, sent, 1, &id, false };
	recv_msg(b, type, rm, &e);
out:
	cleanup(&a, &b, &sm, &rm);
	harness_close_pipe(p);
}

/*
 * The most fds one message can carry, each way of ending up with them:
 * some taken, the rest closed by reset; all closed by a receive without a
 * message; all closed when the quota is one short (-E2BIG).
 */
static void sc_max_fds(int arg)
{
	const int type = TYPE(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *sm = NULL, *rm = NULL;
	int p[2] = { -1, -1 }, fd;
	struct fid ids[USOCK_MAX_FDS];
	char buf[8];
	struct sent sent;
	struct expect e;

	if (!open_pair(type, 0, &a, &b, &sm, &rm))
		goto out;
	harness_pipe(p);
	for (int i = 0; i < USOCK_MAX_FDS; i++) {
		ids[i] = fid_of(p[i % 2]);
		OP(0, usock_msg_add_fd(sm, p[i % 2]));
	}
	OP(-E2BIG, usock_msg_add_fd(sm, p[0]));
	if (!send_msg(a, "max", 3, sm, &sent))
		goto out;
	e = (struct expect){ "max", sent, USOCK_MAX_FDS, ids, false };
	if (!recv_msg(b, type, rm, &e))
		goto out;
	for (unsigned int i = 0; i < 3; i++) {
		fd = (int)OP(WANT_NONNEG, usock_msg_take_fd(rm, i * 100));
		if (fd >= 0)
			close(fd);
	}
	VOP(usock_msg_reset(rm));

	if (!send_msg(a, "max", 3, sm, &sent))
		goto out;
	e.sent = sent;
	if (!recv_msg(b, type, NULL, &e))
		goto out;

	if (OP(0, usock_set_max_fds(b, USOCK_MAX_FDS - 1)) < 0)
		goto out;
	if (!send_msg(a, "max", 3, sm, &sent))
		goto out;
	if (recv_one(b, buf, sizeof(buf), rm, -E2BIG) != -E2BIG)
		goto out;
	CHECK_EQ(usock_msg_get_nfds(rm), 0);
out:
	cleanup(&a, &b, &sm, &rm);
	harness_close_pipe(p);
}

/*
 * The errors of named sockets: nobody at the name, a live listener at it
 * (with and without USOCK_REPLACE_STALE), the wrong type, a name too long,
 * nobody waiting on a nonblocking listener.
 */
static void sc_named_errors(int arg)
{
	static unsigned int seq;
	const int type = TYPE(arg);
	const int other = type == USOCK_STREAM ? USOCK_SEQPACKET : USOCK_STREAM;
	struct usock *l = NULL, *x = NULL, *c = NULL;
	char path[108], abs[108], missing[108], longname[200];

	snprintf(path, sizeof(path), "%s/e", fault_dir);
	snprintf(abs, sizeof(abs), "@usock-fault-e-%d-%u", getpid(), seq++);
	snprintf(missing, sizeof(missing), "%s/missing", fault_dir);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';

	OP(-ENOENT, usock_connect(missing, type, 0, &c));
	OP(-ECONNREFUSED, usock_connect(abs, type, 0, &c));
	OP(-ENAMETOOLONG, usock_listen(longname, type, 0, 0, &x));
	OP(-EINVAL, usock_listen("@", type, 0, 0, &x));

	if (OP(0, usock_listen(path, type, USOCK_NONBLOCK, 0, &l)) < 0) {
		CHECK(!path_exists(path));
		return;
	}
	/* Alive: never replaced, whatever the flags. */
	OP(-EADDRINUSE, usock_listen(path, type, 0, 0, &x));
	OP(-EADDRINUSE, usock_listen(path, type, USOCK_REPLACE_STALE, 0, &x));
	CHECK_EQ(probe(path, type), 0);
	if (type != USOCK_DGRAM) {
		struct usock *s = NULL;

		OP(-EPROTOTYPE, usock_connect(path, other, 0, &c));
		/* The harness's probe left a connection, and so did the
		 * library's (documented) unless a fault came before it. */
		for (int i = 0; i < 3 && readable(l); i++) {
			s = NULL;
			OP(0, usock_accept(l, 0, &s));
			VOP(usock_close(s));
		}
		CHECK(!readable(l));
		OP(-EAGAIN, usock_accept(l, 0, &s));
	} else {
		struct usock *s = NULL;

		OP(-EOPNOTSUPP, usock_accept(l, 0, &s));
	}
	VOP(usock_close(l));
	unlink(path);
}

/* Adopt a socket that already has SO_PASSCRED and SO_PASSRIGHTS 0. */
static void sc_adopt_options(int arg)
{
	const int type = TYPE(arg);
	struct usock *s = NULL, *t = NULL;
	struct usock_msg *rm = NULL, *none = NULL;
	int sv[2], on = 1, off = 0, p[2] = { -1, -1 };
	bool rights = true;
	char buf[8];

	if (socketpair(AF_UNIX, sock_types[type] | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	if (setsockopt(sv[1], SOL_SOCKET, 83, &off, sizeof(off)) == 0)
		rights = false;
	if (OP(0, usock_adopt(sv[0], 0, &s)) < 0) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (OP(0, usock_adopt(sv[1], 0, &t)) < 0) {
		close(sv[1]);
		goto out;
	}
	CHECK_EQ(usock_get_max_fds(t), rights ? USOCK_MAX_FDS : 0);
	if (OP(0, usock_msg_new(&rm)) < 0)
		goto out;
	if (OP(1, usock_send(s, "c", 1, NULL)) < 0 &&
	    OP(1, usock_send(s, "c", 1, NULL)) < 0)
		goto out;
	if (recv_one(t, buf, sizeof(buf), rm, 1) != 1)
		goto out;
	check_creds(rm, true);
	if (!rights) {
		harness_pipe(p);
		OP(0, usock_msg_add_fd(none = rm, p[0]));
		OP(-EPERM, usock_send(s, "f", 1, rm));
		none = NULL;
	}
out:
	cleanup(&s, &t, &rm, &none);
	harness_close_pipe(p);
}

/*
 * A batch whose entries fail on their own: a payload too long for its
 * buffer (-EMSGSIZE) and one over the quota (-E2BIG), between good ones.
 */
static void sc_batch_errors(int arg)
{
	const int type = TYPE(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *sm = NULL, *rms[4] = { NULL, NULL, NULL, NULL };
	char data[16] = "0123456789abcdef", buf[4][16];
	struct iovec out[4], in[4];
	ssize_t lens[4];
	int p[2] = { -1, -1 };

	if (!open_pair(type, 0, &a, &b, &sm, NULL))
		goto out;
	for (int i = 0; i < 4; i++)
		if (OP(0, usock_msg_new(&rms[i])) < 0)
			goto out;
	harness_pipe(p);
	OP(0, usock_msg_add_fd(sm, p[0]));
	OP(0, usock_msg_add_fd(sm, p[1]));
	OP(0, usock_msg_add_fd(sm, p[0]));
	for (int i = 0; i < 4; i++) {
		out[i] = (struct iovec){ data, 16 };
		in[i] = (struct iovec){ buf[i], i == 1 ? 8 : 16 };
	}
	if (OP(0, usock_set_max_fds(b, 2)) < 0)
		goto out;
	{
		/* Three fds each: over the quota of two. */
		struct usock_msg *msgs[4] = { sm, sm, NULL, NULL };

		if (!send_batch_all(a, out, msgs, 4))
			goto out;
	}
	{
		if (!recv_batch_all(b, in, rms, lens, 4))
			goto out;
		CHECK_EQ(lens[0], -E2BIG);
		CHECK_EQ(lens[1], -E2BIG);
		CHECK_EQ(lens[2], 16);
		CHECK_EQ(lens[3], 16);
		for (int i = 0; i < 4; i++)
			CHECK_EQ(usock_msg_get_nfds(rms[i]), 0);
	}
	/* Within the quota, one message too long for its buffer. */
	VOP(usock_msg_reset(sm));
	OP(0, usock_msg_add_fd(sm, p[1]));
	{
		struct usock_msg *msgs[4] = { NULL, sm, sm, NULL };

		if (!send_batch_all(a, out, msgs, 4))
			goto out;
	}
	{
		if (!recv_batch_all(b, in, rms, lens, 4))
			goto out;
		CHECK_EQ(lens[0], 16);
		CHECK_EQ(lens[1], -EMSGSIZE);
		CHECK_EQ(lens[2], 16);
		CHECK_EQ(lens[3], 16);
		CHECK_EQ(usock_msg_get_nfds(rms[1]), 0);
		CHECK_EQ(usock_msg_get_nfds(rms[2]), 1);
		CHECK(fid_eq(fid_of(usock_msg_get_fd(rms[2], 0)),
			     fid_of(p[1])));
	}
	if (OP(0, usock_set_nonblock(b, 1)) == 0)
		OP(-EAGAIN, usock_recv_batch(b, in, rms, lens, 4));
out:
	cleanup(&a, &b, &sm, &rms[0]);
	for (int i = 1; i < 4; i++)
		VOP(usock_msg_free(rms[i]));
	harness_close_pipe(p);
}

/* Credentials and a pidfd with every message, wanted or not. */
static void sc_pidfd(int arg)
{
	const int type = TYPE(arg);
	struct usock *a = NULL, *b = NULL;
	struct usock_msg *rm = NULL, *none = NULL;
	bool passcred, passpidfd;
	char buf[8];
	int fd;

	if (!open_pair(type, 0, &a, &b, &rm, NULL))
		goto out;
	passcred = OP(0, usock_set_passcred(b, 1)) == 0;
	passpidfd = OP(kernel_has_pidfds() ? 0 : -ENOPROTOOPT,
		       usock_set_passpidfd(b, 1)) == 0;
	for (int i = 0; i < 3; i++)
		if (OP(1, usock_send(a, "p", 1, NULL)) < 0 &&
		    OP(1, usock_send(a, "p", 1, NULL)) < 0)
			goto out;
	if (type == USOCK_STREAM) {
		/* One writer, same credentials: one read takes all three,
		 * and one pidfd. */
		if (recv_one(b, buf, sizeof(buf), rm, 3) != 3)
			goto out;
	} else {
		if (recv_one(b, buf, sizeof(buf), rm, 1) != 1)
			goto out;
		/* Not taken: closed by the next receive. */
		CHECK(passpidfd == (usock_msg_get_pidfd(rm) >= 0));
		if (recv_one(b, buf, sizeof(buf), NULL, 1) != 1)
			goto out;
		if (recv_one(b, buf, sizeof(buf), rm, 1) != 1)
			goto out;
	}
	check_creds(rm, passcred);
	fd = usock_msg_take_pidfd(rm);
	CHECK(passpidfd ? fd >= 0 : fd == -ENODATA);
	if (fd >= 0)
		close(fd);
	OP(0, usock_set_passpidfd(b, 0));
	OP(0, usock_set_passcred(b, 0));
out:
	cleanup(&a, &b, &rm, &none);
}

/* clang-format off */
#define ALL_TYPES(name, fn, variant)					\
	{ name, fn, ARG(USOCK_SEQPACKET, variant) },			\
	{ name, fn, ARG(USOCK_STREAM, variant) },			\
	{ name, fn, ARG(USOCK_DGRAM, variant) }
/* clang-format on */

const struct scenario scenarios[] = {
	ALL_TYPES("transfer", sc_transfer, 0),
	ALL_TYPES("transfer-vec", sc_transfer, 1),
	ALL_TYPES("transfer-nonblock", sc_transfer, 2),
	{ "batch", sc_batch, ARG(USOCK_SEQPACKET, 0) },
	{ "batch", sc_batch, ARG(USOCK_DGRAM, 0) },
	ALL_TYPES("adopt", sc_adopt, 0),
	ALL_TYPES("named-abstract", sc_named, 0),
	ALL_TYPES("named-path", sc_named, 1),
	ALL_TYPES("peer", sc_peer, 0),
	ALL_TYPES("quota", sc_quota, 0),
	ALL_TYPES("eof", sc_eof, 0),
	{ "reset", sc_reset, ARG(USOCK_SEQPACKET, 0) },
	{ "reset", sc_reset, ARG(USOCK_STREAM, 0) },
	{ "trunc", sc_trunc, ARG(USOCK_SEQPACKET, 0) },
	{ "trunc", sc_trunc, ARG(USOCK_DGRAM, 0) },
	ALL_TYPES("flood", sc_flood, 0),
	ALL_TYPES("max-fds", sc_max_fds, 0),
	ALL_TYPES("named-errors", sc_named_errors, 0),
	ALL_TYPES("adopt-options", sc_adopt_options, 0),
	{ "batch-errors", sc_batch_errors, ARG(USOCK_SEQPACKET, 0) },
	{ "batch-errors", sc_batch_errors, ARG(USOCK_DGRAM, 0) },
	ALL_TYPES("pidfd", sc_pidfd, 0),
};

const size_t n_scenarios = sizeof(scenarios) / sizeof(scenarios[0]);
