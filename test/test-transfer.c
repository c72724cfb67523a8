/* SPDX-License-Identifier: MIT */
/* Moving fds between processes: counts, identity, forwarding, framing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/* Wait at most this long for a child's message (valgrind is slow). */
#define CHILD_TIMEOUT_MS 60000

/* A 256-byte file whose byte i is i: an fd's offset shows in what it reads. */
static struct fid make_pattern_file(char *path)
{
	unsigned char data[256];

	for (int i = 0; i < 256; i++)
		data[i] = (unsigned char)i;
	return tmpfile_create(path, data, sizeof(data));
}

/*
 * Fd i of a message the child builds: every third is the read end of a pipe
 * holding "pipe-<i>" whose write end the child closed; the others open the
 * pattern file with the offset set to i.
 */
static bool slot_is_pipe(int i)
{
	return i % 3 == 2;
}

struct send_arg {
	struct usock *mine, *theirs;
	const char *path;
	int n;
};

static int child_send_n(void *p)
{
	struct send_arg *a = p;
	struct usock_msg *m;
	int fds[USOCK_MAX_FDS];
	char payload[16];
	int len;

	usock_close(a->theirs);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	for (int i = 0; i < a->n; i++) {
		if (slot_is_pipe(i)) {
			char text[16];
			int pp[2],
				tl = snprintf(text, sizeof(text), "pipe-%d", i);

			/* Not close-on-exec on this side: the receiver must
			 * get its own flag regardless. */
			CHILD_ASSERT(pipe(pp) == 0);
			CHILD_ASSERT_INT_EQ(write(pp[1], text, tl), tl);
			CHILD_ASSERT(close(pp[1]) == 0);
			fds[i] = pp[0];
		} else {
			fds[i] = open(a->path, O_RDONLY);
			CHILD_ASSERT(fds[i] >= 0);
			CHILD_ASSERT_INT_EQ(lseek(fds[i], i, SEEK_SET), i);
		}
		CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, fds[i]), 0);
	}
	len = snprintf(payload, sizeof(payload), "n=%d", a->n);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, payload, len, m), len);
	/* Ours to close; the receiver holds its own references. */
	for (int i = 0; i < a->n; i++)
		CHILD_ASSERT(close(fds[i]) == 0);
	usock_msg_free(m);
	usock_close(a->mine);
	return 0;
}

/* The parent's check of fd i received from child_send_n(). */
static void check_slot(int fd, int i, struct fid file)
{
	char buf[32], want[16];
	unsigned char c;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fd_cloexec(fd), 1);
	if (slot_is_pipe(i)) {
		int wl = snprintf(want, sizeof(want), "pipe-%d", i);

		ck_assert_int_eq(read(fd, buf, sizeof(buf)), wl);
		ck_assert(memcmp(buf, want, wl) == 0);
		/* The only write end was closed by the child. */
		ck_assert_int_eq(read(fd, buf, sizeof(buf)), 0);
	} else {
		/* The same open file, not just the same inode: the child's
		 * offset came along. */
		ck_assert(fid_eq(fid_of(fd), file));
		ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), i);
		ck_assert_int_eq(read(fd, &c, 1), 1);
		ck_assert_int_eq(c, i);
	}
}

/* _i: socket type * 3 + which count (1, 3, 253). */
START_TEST(test_send_counts)
{
	static const int counts[] = { 1, 3, USOCK_MAX_FDS };
	const int type = _i / 3, n = counts[_i % 3];
	char path[TMP_PATH_MAX], buf[64], want[16];
	struct send_arg arg;
	struct usock_msg *m;
	struct fid file = make_pattern_file(path);
	size_t before;
	pid_t pid;
	int wl;

	pair_ok(type, 0, &arg.theirs, &arg.mine);
	arg.path = path;
	arg.n = n;
	pid = child_spawn(child_send_n, &arg);
	usock_close(arg.mine);

	m = msg_new_ok();
	wait_readable(arg.theirs, CHILD_TIMEOUT_MS);
	before = fd_count();
	wl = snprintf(want, sizeof(want), "n=%d", n);
	ck_assert_int_eq(usock_recv(arg.theirs, buf, sizeof(buf), m), wl);
	ck_assert(memcmp(buf, want, wl) == 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), n);
	ck_assert_uint_eq(fd_count(), before + n);
	for (int i = 0; i < n; i++)
		check_slot(usock_msg_get_fd(m, i), i, file);
	child_wait_ok(pid);

	usock_msg_free(m);
	ck_assert_uint_eq(fd_count(), before);
	usock_close(arg.theirs);
	unlink(path);
}
END_TEST

START_TEST(test_254_refused)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int fd = devnull();
	struct fid null;
	char c;

	ck_assert_int_ge(fd, 0);
	null = fid_of(fd);
	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	for (int i = 0; i < USOCK_MAX_FDS; i++)
		ck_assert_int_eq(usock_msg_add_fd(m, fd), 0);
	/* The 254th is refused by the message, so no send can carry it. */
	ck_assert_int_eq(usock_msg_add_fd(m, fd), -E2BIG);
	ck_assert_int_eq(usock_msg_get_nfds(m), USOCK_MAX_FDS);
	assert_nothing_queued(b);

	ck_assert_int_eq(usock_send(a, "f", 1, m), 1);
	usock_msg_reset(m);
	ck_assert_int_eq(usock_recv(b, &c, 1, m), 1);
	ck_assert_int_eq(usock_msg_get_nfds(m), USOCK_MAX_FDS);
	for (int i = 0; i < USOCK_MAX_FDS; i++)
		ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, i)), null));

	usock_msg_free(m);
	close(fd);
	usock_close(a);
	usock_close(b);
}
END_TEST

static int child_send_no_fds(void *p)
{
	struct send_arg *a = p;
	struct usock_msg *m;

	usock_close(a->theirs);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "plain", 5, NULL), 5);
	CHILD_ASSERT_INT_EQ(usock_send(a->mine, "empty", 5, m), 5);
	usock_msg_free(m);
	usock_close(a->mine);
	return 0;
}

START_TEST(test_zero_fds)
{
	struct send_arg arg = { 0 };
	struct usock_msg *m = msg_new_ok();
	pid_t pid;

	pair_ok(_i, 0, &arg.theirs, &arg.mine);
	pid = child_spawn(child_send_no_fds, &arg);
	usock_close(arg.mine);

	wait_readable(arg.theirs, CHILD_TIMEOUT_MS);
	/* Exact lengths: a stream does not keep the two writes apart. */
	recv_ok(arg.theirs, 5, m, "plain", 0);
	wait_readable(arg.theirs, CHILD_TIMEOUT_MS);
	recv_ok(arg.theirs, 5, m, "empty", 0);
	child_wait_ok(pid);

	usock_msg_free(m);
	usock_close(arg.theirs);
}
END_TEST

struct forward_arg {
	struct usock *p1a, *p1b, *p2a, *p2b;
	const char *path;
	struct fid file;
};

/* First hop: sends three fds of the pattern file, offsets 0, 1, 2. */
static int child_forward_source(void *p)
{
	struct forward_arg *a = p;
	struct usock_msg *m;
	int fds[3];

	usock_close(a->p1a);
	usock_close(a->p2a);
	usock_close(a->p2b);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	for (int i = 0; i < 3; i++) {
		fds[i] = open(a->path, O_RDONLY);
		CHILD_ASSERT(fds[i] >= 0);
		CHILD_ASSERT_INT_EQ(lseek(fds[i], i, SEEK_SET), i);
		CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, fds[i]), 0);
	}
	CHILD_ASSERT_INT_EQ(usock_send(a->p1b, "hop1", 4, m), 4);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	usock_msg_free(m);
	usock_close(a->p1b);
	return 0;
}

/* Last hop: gets the forwarded fds, checks them and reads one byte each. */
static int child_forward_sink(void *p)
{
	struct forward_arg *a = p;
	struct usock_msg *m;
	char buf[8];

	usock_close(a->p1a);
	usock_close(a->p1b);
	usock_close(a->p2a);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_recv(a->p2b, buf, sizeof(buf), m), 4);
	CHILD_ASSERT(memcmp(buf, "hop1", 4) == 0);
	CHILD_ASSERT_INT_EQ(usock_msg_get_nfds(m), 3);
	for (int i = 0; i < 3; i++) {
		int fd = usock_msg_get_fd(m, i);
		struct fid f;
		unsigned char c;

		CHILD_ASSERT(fd >= 0);
		CHILD_ASSERT(fid_of_fd(fd, &f) && fid_eq(f, a->file));
		CHILD_ASSERT_INT_EQ(lseek(fd, 0, SEEK_CUR), i);
		CHILD_ASSERT_INT_EQ(read(fd, &c, 1), 1);
		CHILD_ASSERT_INT_EQ(c, i);
	}
	usock_msg_free(m);
	usock_close(a->p2b);
	return 0;
}

START_TEST(test_forward)
{
	char path[TMP_PATH_MAX], buf[8];
	struct forward_arg arg;
	struct usock_msg *m;
	pid_t sink, source;

	arg.file = make_pattern_file(path);
	arg.path = path;
	pair_ok(USOCK_SEQPACKET, 0, &arg.p1a, &arg.p1b);
	pair_ok(USOCK_SEQPACKET, 0, &arg.p2a, &arg.p2b);
	/* The sink exists before the parent holds any of the fds. */
	sink = child_spawn(child_forward_sink, &arg);
	source = child_spawn(child_forward_source, &arg);
	usock_close(arg.p1b);
	usock_close(arg.p2b);

	m = msg_new_ok();
	wait_readable(arg.p1a, CHILD_TIMEOUT_MS);
	ck_assert_int_eq(usock_recv(arg.p1a, buf, sizeof(buf), m), 4);
	ck_assert_int_eq(usock_msg_get_nfds(m), 3);
	/* Received fds sent on as they are. */
	ck_assert_int_eq(usock_send(arg.p2a, buf, 4, m), 4);
	child_wait_ok(source);
	child_wait_ok(sink);

	/* Still ours after forwarding, and the sink's reads moved the shared
	 * offsets: the same open files went through both hops. */
	ck_assert_int_eq(usock_msg_get_nfds(m), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(lseek(usock_msg_get_fd(m, i), 0, SEEK_CUR),
				 i + 1);
	usock_msg_free(m);
	usock_close(arg.p1a);
	usock_close(arg.p2a);
	unlink(path);
}
END_TEST

START_TEST(test_sendv_recvv)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	char b0[4], b1[1], b2[10];
	struct iovec out[] = {
		{ .iov_base = "ab", .iov_len = 2 },
		{ .iov_base = "cde", .iov_len = 3 },
		{ .iov_base = NULL, .iov_len = 0 },
		{ .iov_base = "fghij", .iov_len = 5 },
	};
	struct iovec in[] = {
		{ .iov_base = b0, .iov_len = sizeof(b0) },
		{ .iov_base = b1, .iov_len = sizeof(b1) },
		{ .iov_base = b2, .iov_len = sizeof(b2) },
	};
	int p[2];

	pair_ok(_i, 0, &a, &b);
	msg_add_pipe_ok(m, p);
	ck_assert_int_eq(usock_sendv(a, out, 4, m), 10);
	usock_msg_reset(m);

	memset(b2, 0, sizeof(b2));
	ck_assert_int_eq(usock_recvv(b, in, 3, m), 10);
	ck_assert(memcmp(b0, "abcd", 4) == 0);
	ck_assert(memcmp(b1, "e", 1) == 0);
	ck_assert(memcmp(b2, "fghij\0\0\0\0\0", 10) == 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 0)), fid_of(p[0])));
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 1)), fid_of(p[1])));

	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_sendv_iov_max)
{
	static struct iovec iov[IOV_MAX + 1];
	static char bytes[IOV_MAX + 1];
	static char in[IOV_MAX + 2];
	struct usock *a, *b;

	for (int i = 0; i <= IOV_MAX; i++) {
		bytes[i] = (char)('a' + i % 26);
		iov[i].iov_base = &bytes[i];
		iov[i].iov_len = 1;
	}
	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(usock_sendv(a, iov, IOV_MAX + 1, NULL), -EMSGSIZE);
	assert_nothing_queued(b);
	ck_assert_int_eq(usock_sendv(a, iov, IOV_MAX, NULL), IOV_MAX);
	ck_assert_int_eq(usock_recv(b, in, sizeof(in), NULL), IOV_MAX);
	ck_assert(memcmp(in, bytes, IOV_MAX) == 0);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_stream_empty_payload)
{
	struct usock *a, *b;
	struct usock_msg *fds = msg_new_ok(), *creds = msg_new_ok();
	struct iovec empty[] = {
		{ .iov_base = "x", .iov_len = 0 },
		{ .iov_base = NULL, .iov_len = 0 },
	};
	int p[2];

	pair_ok(USOCK_STREAM, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(usock_msg_add_fd(fds, p[0]), 0);
	ck_assert_int_eq(
		usock_msg_set_creds(creds, getpid(), getuid(), getgid()), 0);

	/* The kernel would drop the ancillary data silently. */
	ck_assert_int_eq(usock_send(a, NULL, 0, fds), -EINVAL);
	ck_assert_int_eq(usock_send(a, "x", 0, fds), -EINVAL);
	ck_assert_int_eq(usock_sendv(a, empty, 2, fds), -EINVAL);
	ck_assert_int_eq(usock_sendv(a, NULL, 0, fds), -EINVAL);
	ck_assert_int_eq(usock_send(a, NULL, 0, creds), -EINVAL);
	ck_assert_int_eq(usock_sendv(a, empty, 2, creds), -EINVAL);
	assert_nothing_queued(b);
	/* The message is unchanged and usable. */
	ck_assert_int_eq(usock_msg_get_fd(fds, 0), p[0]);
	ck_assert_int_eq(fd_count(), fd_baseline()->n + 4);

	usock_msg_free(fds);
	usock_msg_free(creds);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_packet_empty_payload_fds)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2];
	char c;

	pair_ok(_i, 0, &a, &b);
	msg_add_pipe_ok(m, p);
	ck_assert_int_eq(usock_send(a, NULL, 0, m), 0);
	ck_assert_int_eq(usock_recv(b, &c, 1, m), 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 2);
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 0)), fid_of(p[0])));
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 1)), fid_of(p[1])));

	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* A stream read stops at the end of a write that carried fds. */
START_TEST(test_stream_fds_ride_with_write)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2];
	char buf[16];

	pair_ok(USOCK_STREAM, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	send_fds_ok(a, "AAAA", 4, &p[0], 1);
	send_fds_ok(a, "BBBB", 4, &p[1], 1);

	recv_ok(b, sizeof(buf), m, "AAAA", 1);
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 0)), fid_of(p[0])));

	recv_ok(b, sizeof(buf), m, "BBBB", 1);
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 0)), fid_of(p[1])));

	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* A stream read may return part of a write: its fds come with that part;
 * writes without fds run together. */
START_TEST(test_stream_partial_read)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2];
	char buf[16];

	pair_ok(USOCK_STREAM, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	send_fds_ok(a, "AAAA", 4, p, 2);
	ck_assert_int_eq(usock_send(a, "BBBB", 4, NULL), 4);

	recv_ok(b, 2, m, "AA", 2);
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 0)), fid_of(p[0])));
	ck_assert(fid_eq(fid_of(usock_msg_get_fd(m, 1)), fid_of(p[1])));

	recv_ok(b, 2, m, "AA", 0);

	recv_ok(b, 4, m, "BBBB", 0);

	ck_assert_int_eq(usock_send(a, "CCCC", 4, NULL), 4);
	ck_assert_int_eq(usock_send(a, "DDDD", 4, NULL), 4);
	recv_ok(b, sizeof(buf), m, "CCCCDDDD", -1);
	assert_nothing_queued(b);

	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_packet_boundaries)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok();
	int p[2];
	char buf[64];

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	send_fds_ok(a, "one", 3, &p[0], 1);
	ck_assert_int_eq(usock_send(a, "three", 5, NULL), 5);
	ck_assert_int_eq(usock_send(a, NULL, 0, NULL), 0);
	send_fds_ok(a, "four", 4, p, 2);

	recv_ok(b, sizeof(buf), m, "one", 1);
	recv_ok(b, sizeof(buf), m, "three", 0);
	ck_assert_int_eq(usock_recv(b, buf, sizeof(buf), m), 0);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	recv_ok(b, sizeof(buf), m, "four", 2);
	assert_nothing_queued(b);

	usock_msg_free(m);
	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}
END_TEST

/* The most a message can carry at once, credentials and a pidfd on top of
 * 253 fds: all of it fits the library's control buffer. */
START_TEST(test_full_control_data)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok(), *in = msg_new_ok();
	int fd = devnull(), pidfd;
	const bool with_pidfd = kernel_has_pidfds();
	int32_t pid;
	uint32_t uid, gid;
	size_t before;
	char c;

	ck_assert_int_ge(fd, 0);
	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_passcred(b, 1), 0);
	/* Before Linux 6.5: no pidfd comes. */
	ck_assert_int_eq(usock_set_passpidfd(b, 1),
			 with_pidfd ? 0 : -ENOPROTOOPT);
	for (int i = 0; i < USOCK_MAX_FDS; i++)
		ck_assert_int_eq(usock_msg_add_fd(m, fd), 0);
	ck_assert_int_eq(usock_msg_set_creds(m, getpid(), getuid(), getgid()),
			 0);
	ck_assert_int_eq(usock_send(a, "m", 1, m), 1);

	before = fd_count();
	ck_assert_int_eq(usock_recv(b, &c, 1, in), 1);
	ck_assert_int_eq(usock_msg_get_nfds(in), USOCK_MAX_FDS);
	ck_assert_int_eq(usock_msg_get_creds(in, &pid, &uid, &gid), 0);
	ck_assert_int_eq(pid, getpid());
	ck_assert_uint_eq(uid, getuid());
	ck_assert_uint_eq(gid, getgid());
	pidfd = usock_msg_get_pidfd(in);
	if (with_pidfd) {
		ck_assert_int_ge(pidfd, 0);
		ck_assert_int_eq(pidfd_pid(pidfd), getpid());
	} else {
		ck_assert_int_eq(pidfd, -ENODATA);
	}
	ck_assert_uint_eq(fd_count(), before + USOCK_MAX_FDS + with_pidfd);
	usock_msg_free(in);
	ck_assert_uint_eq(fd_count(), before);

	usock_msg_free(m);
	close(fd);
	usock_close(a);
	usock_close(b);
}
END_TEST

/*
 * A receiver that takes no fds (usock_set_max_fds 0): with SO_PASSRIGHTS
 * (Linux 6.16) the kernel refuses the message, -EPERM for its sender; before,
 * it arrives and the library refuses it (-E2BIG), its fds closed. Plain data
 * flows either way.
 */
START_TEST(test_passrights_refused)
{
	struct usock *a, *b;
	struct usock_msg *m = msg_new_ok(), *in = msg_new_ok();
	size_t before;
	char c;

	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_set_max_fds(b, 0), 0);
	ck_assert_int_eq(usock_get_max_fds(b), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, STDIN_FILENO), 0);
	before = fd_count();
	if (kernel_has_passrights()) {
		ck_assert_int_eq(sockopt_int(usock_get_fd(b), SO_PASSRIGHTS),
				 0);
		ck_assert_int_eq(usock_send(a, "f", 1, m), -EPERM);
		assert_nothing_queued(b);
	} else {
		ck_assert_int_eq(usock_send(a, "f", 1, m), 1);
		ck_assert_int_eq(usock_recv(b, &c, 1, in), -E2BIG);
		ck_assert_int_eq(usock_msg_get_nfds(in), 0);
		ck_assert_uint_eq(fd_count(), before);
	}
	ck_assert_int_eq(usock_send(a, "p", 1, NULL), 1);
	ck_assert_int_eq(usock_recv(b, &c, 1, in), 1);
	ck_assert_int_eq(c, 'p');
	ck_assert_int_eq(usock_msg_get_nfds(in), 0);
	ck_assert_uint_eq(fd_count(), before);
	assert_nothing_queued(b);
	usock_msg_free(m);
	usock_msg_free(in);
	usock_close(a);
	usock_close(b);
}
END_TEST

START_TEST(test_send_too_big)
{
	const size_t len = 16 << 20;
	struct usock *a, *b;
	char *big = calloc(1, len);
	struct iovec iov[2] = {
		{ .iov_base = big, .iov_len = len / 2 },
		{ .iov_base = big + len / 2, .iov_len = len / 2 },
	};

	ck_assert_ptr_nonnull(big);
	pair_ok(_i, 0, &a, &b);
	ck_assert_int_eq(usock_send(a, big, len, NULL), -EMSGSIZE);
	ck_assert_int_eq(usock_sendv(a, iov, 2, NULL), -EMSGSIZE);
	assert_nothing_queued(b);
	free(big);
	usock_close(a);
	usock_close(b);
}
END_TEST

/*
 * An unprivileged user may have about RLIMIT_NOFILE fds in flight: with the
 * limit at 16 and 8 fds a message, sends fail with -ETOOMANYREFS until the
 * receiver drains. Other processes of the same user (tests running in
 * parallel as nobody) add to the count, so the exact point is not asserted
 * and the send after draining may be retried for a while.
 */
static int child_too_many_refs(void *p)
{
	struct usock *a, *b;
	struct usock_msg *m;
	int sent = 0;
	ssize_t r = 0;
	char c;

	(void)p;
	close_fds_from(3);
	child_drop_privileges();
	if (!child_set_nofile(16, "ETOOMANYREFS"))
		return 0;
	CHILD_ASSERT_INT_EQ(usock_pair(USOCK_SEQPACKET, USOCK_NONBLOCK, &a, &b),
			    0);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	for (int i = 0; i < 8; i++)
		CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, STDIN_FILENO), 0);

	while (sent < 10 && (r = usock_send(a, "r", 1, m)) == 1)
		sent++;
	CHILD_ASSERT_INT_EQ(r, -ETOOMANYREFS);
	/* Plain data is not affected. */
	CHILD_ASSERT_INT_EQ(usock_send(a, "d", 1, NULL), 1);

	/* Drained, the user's count falls back and fds go through again. */
	for (int i = 0; i <= sent; i++)
		CHILD_ASSERT_INT_EQ(usock_recv(b, &c, 1, NULL), 1);
	CHILD_ASSERT_INT_EQ(c, 'd');
	for (int tries = 0; tries < 200; tries++) {
		struct timespec ts = { .tv_nsec = 25 * 1000 * 1000 };

		r = usock_send(a, "r", 1, m);
		if (r != -ETOOMANYREFS)
			break;
		nanosleep(&ts, NULL);
	}
	CHILD_ASSERT_INT_EQ(r, 1);
	CHILD_ASSERT_INT_EQ(usock_recv(b, &c, 1, NULL), 1);

	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
	return 0;
}

START_TEST(test_too_many_refs)
{
	child_wait_ok(child_spawn(child_too_many_refs, NULL));
}
END_TEST

TEST_SUITE(transfer)
{
	TCase *tc;

	tc = fd_tcase(s, "fork");
	tcase_add_loop_test(tc, test_send_counts, 0, 9);
	tcase_add_types_test(tc, test_zero_fds);
	tcase_add_test(tc, test_forward);

	tc = fd_tcase(s, "limits");
	tcase_add_test(tc, test_254_refused);
	tcase_add_test(tc, test_sendv_iov_max);
	tcase_add_types_test(tc, test_full_control_data);
	tcase_add_types_test(tc, test_passrights_refused);
	tcase_add_packet_test(tc, test_send_too_big);
	tcase_add_test(tc, test_too_many_refs);

	tc = fd_tcase(s, "framing");
	tcase_add_types_test(tc, test_sendv_recvv);
	tcase_add_test(tc, test_stream_empty_payload);
	tcase_add_packet_test(tc, test_packet_empty_payload_fds);
	tcase_add_test(tc, test_stream_fds_ride_with_write);
	tcase_add_test(tc, test_stream_partial_read);
	tcase_add_packet_test(tc, test_packet_boundaries);
}
