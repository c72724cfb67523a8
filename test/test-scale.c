/* SPDX-License-Identifier: MIT */
/*
 * Many clients at once: 200 processes connect to one listener together and
 * each sends one fd; an epoll server accepts and receives them all. Every
 * fd arrives exactly once, none leaks, every client exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "helpers.h"

#define CLIENTS 200
/* Longest wait for any event (valgrind runs 200 processes slowly). */
#define EVENT_TIMEOUT_MS 120000

struct client_arg {
	const char *name;
	const int *start; /* the start line, a pipe the server closes */
	int index;
};

/*
 * Waits for the start, connects, sends "idx=<i>" with the read end of a
 * pipe, then writes "idx=<i>" into the pipe and closes it (so the server
 * reads the index through the fd it received), and waits for "ok".
 */
static int child_client(void *p)
{
	const struct client_arg *a = p;
	struct usock *c;
	struct usock_msg *m;
	char text[16], reply[4], go;
	int32_t pid;
	uint32_t uid, gid;
	int pp[2], len;
	ssize_t r;

	CHILD_ASSERT(close(a->start[1]) == 0);
	CHILD_ASSERT_INT_EQ(read(a->start[0], &go, 1), 0);
	CHILD_ASSERT_INT_EQ(usock_connect(a->name, USOCK_SEQPACKET, 0, &c), 0);
	/* The listener was made by the server, our parent. */
	CHILD_ASSERT_INT_EQ(usock_get_peer_creds(c, &pid, &uid, &gid), 0);
	CHILD_ASSERT_INT_EQ(pid, getppid());
	CHILD_ASSERT(pipe2(pp, O_CLOEXEC) == 0);
	len = snprintf(text, sizeof(text), "idx=%d", a->index);
	CHILD_ASSERT_INT_EQ(usock_msg_new(&m), 0);
	CHILD_ASSERT_INT_EQ(usock_msg_add_fd(m, pp[0]), 0);
	/* 200 clients send at once: with the tests beside this one (same
	 * user), their fds may take an unprivileged user's in-flight count
	 * over the limit until the server has drained some. */
	while (inflight_busy(r = usock_send(c, text, (size_t)len, m)))
		;
	CHILD_ASSERT_INT_EQ(r, len);
	usock_msg_free(m);
	CHILD_ASSERT(close(pp[0]) == 0);
	CHILD_ASSERT_INT_EQ(write(pp[1], text, (size_t)len), len);
	CHILD_ASSERT(close(pp[1]) == 0);
	CHILD_ASSERT_INT_EQ(usock_recv(c, reply, sizeof(reply), NULL), 2);
	CHILD_ASSERT(memcmp(reply, "ok", 2) == 0);
	usock_close(c);
	return 0;
}

/* What came through the received fd: the text, then end of file. */
static int index_through_fd(int fd)
{
	char buf[32];
	size_t off = 0;
	ssize_t n;
	int idx = -1;

	while ((n = read(fd, buf + off, sizeof(buf) - 1 - off)) > 0)
		off += (size_t)n;
	ck_assert_int_eq(n, 0);
	buf[off] = '\0';
	ck_assert_msg(sscanf(buf, "idx=%d", &idx) == 1, "pipe held \"%s\"",
		      buf);
	return idx;
}

static void epoll_add(int ep, int fd, void *ptr)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ptr };

	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
}

/* One client's message: check it, answer, close the connection. */
static void serve(int ep, struct usock *s, struct usock_msg *m,
		  int seen[CLIENTS])
{
	char buf[16];
	ssize_t n;
	int idx, via_fd, fd;

	n = usock_recv(s, buf, sizeof(buf) - 1, m);
	ck_assert_msg(n > 0, "usock_recv: %zd", n);
	buf[n] = '\0';
	ck_assert_int_eq(sscanf(buf, "idx=%d", &idx), 1);
	ck_assert(idx >= 0 && idx < CLIENTS);
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	fd = usock_msg_take_fd(m, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fd_cloexec(fd), 1);
	via_fd = index_through_fd(fd);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(via_fd, idx);
	ck_assert_int_eq(seen[idx]++, 0);

	ck_assert_int_eq(usock_send(s, "ok", 2, NULL), 2);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_DEL, usock_get_fd(s), NULL),
			 0);
	usock_close(s);
}

START_TEST(test_many_clients)
{
	static struct client_arg arg[CLIENTS];
	static pid_t pid[CLIENTS];
	int seen[CLIENTS] = { 0 };
	struct usock_msg *m;
	struct epoll_event ev[64];
	struct usock *l;
	char name[64];
	int ep, start[2], done = 0, open_conns = 0, peak = 0;
	size_t base = fd_baseline()->n;

	abstract_name(name, sizeof(name));
	ck_assert_int_eq(
		usock_listen(name, USOCK_SEQPACKET, USOCK_NONBLOCK, 0, &l), 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(ep, 0);
	epoll_add(ep, usock_get_fd(l), NULL);

	/* All clients first, held at a start line, then released at once. */
	ck_assert_int_eq(pipe2(start, O_CLOEXEC), 0);
	for (int i = 0; i < CLIENTS; i++) {
		arg[i] = (struct client_arg){ .name = name,
					      .start = start,
					      .index = i };
		pid[i] = child_spawn(child_client, &arg[i]);
	}
	ck_assert_int_eq(close(start[1]), 0);
	ck_assert_int_eq(close(start[0]), 0);
	/* Allocated after the fork: valgrind checks the child's heap too. */
	m = msg_new_ok();

	while (done < CLIENTS) {
		int n = epoll_wait(ep, ev, 64, EVENT_TIMEOUT_MS);

		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "epoll_wait = %d with %d of %d served", n,
			      done, CLIENTS);
		for (int i = 0; i < n; i++) {
			struct usock *s;
			int r;

			if (ev[i].data.ptr) {
				serve(ep, ev[i].data.ptr, m, seen);
				open_conns--;
				done++;
				continue;
			}
			while ((r = usock_accept(l, 0, &s)) == 0) {
				ck_assert_int_eq(fd_cloexec(usock_get_fd(s)),
						 1);
				epoll_add(ep, usock_get_fd(s), s);
				if (++open_conns > peak)
					peak = open_conns;
			}
			ck_assert_int_eq(r, -EAGAIN);
		}
	}
	for (int i = 0; i < CLIENTS; i++)
		child_wait_ok(pid[i]);
	for (int i = 0; i < CLIENTS; i++)
		ck_assert_msg(seen[i] == 1, "client %d seen %d times", i,
			      seen[i]);
	ck_assert_int_eq(open_conns, 0);
	ck_assert_int_ge(peak, 1);
	/* Nothing more is waiting, and only the listener and epoll are
	 * left of everything the server opened. */
	ck_assert_int_eq(usock_accept(l, 0, &(struct usock *){ NULL }),
			 -EAGAIN);
	ck_assert_uint_eq(fd_count(), base + 2);
	printf("scale: %d clients, at most %d connections open at once\n",
	       CLIENTS, peak);

	usock_msg_free(m);
	close(ep);
	usock_close(l);
	ck_assert_uint_eq(fd_count(), base);
}
END_TEST

TEST_SUITE(scale)
{
	TCase *tc = fd_tcase(s, "clients");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_many_clients);
}
