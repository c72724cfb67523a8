/* SPDX-License-Identifier: MIT */
/*
 * Scale: clients forked processes wait at a gate, then all at once connect
 * to one nonblocking SEQPACKET listener, send an 8-byte message with one fd
 * and wait for a one-byte answer. The parent serves them with epoll: accept,
 * receive, close the fd, answer, close the connection. Timed from the gate's
 * opening to the last answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define SCALE_TIMEOUT_MS 30000
/* epoll data of the listener; connections carry their fd or handle. */
#define LISTENER UINT64_MAX

struct server {
	enum impl impl;
	int lfd; /* raw listener */
	struct usock *l; /* libusock listener */
	int ep;
	struct usock_msg *m;
	struct raw_rx raw;
	unsigned int open_now, peak; /* fds opened by serving */
	unsigned int served;
};

/* Fill sa from "@name"; returns the address length. */
static socklen_t abstract_addr(struct sockaddr_un *sa, const char *name)
{
	size_t len = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path + 1, name + 1, len - 1);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

/* ---- the clients ------------------------------------------------------ */

static int raw_client(const char *name, int pass)
{
	struct sockaddr_un sa;
	socklen_t salen = abstract_addr(&sa, name);
	struct raw_ctl ctl = { .fds = &pass, .nfds = 1, .nblocks = 1 };
	char buf[8];
	ssize_t r;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	do
		r = connect(fd, (struct sockaddr *)&sa, salen);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	do
		r = raw_send(fd, "request", 8, &ctl, 0);
	while (r == -ETOOMANYREFS && usleep(1000) == 0);
	if (r < 0)
		return (int)-r;
	do
		r = recv(fd, buf, sizeof(buf), 0);
	while (r < 0 && errno == EINTR);
	close(fd);
	return r == 1 ? 0 : EBADMSG;
}

static int lib_client(const char *name, int pass)
{
	struct usock *s;
	struct usock_msg *m;
	char buf[8];
	ssize_t r;

	r = usock_connect(name, USOCK_SEQPACKET, 0, &s);
	if (r < 0)
		return (int)-r;
	r = usock_msg_new(&m);
	if (r == 0)
		r = usock_msg_add_fd(m, pass);
	if (r == 0)
		do
			r = usock_send(s, "request", 8, m);
		while (r == -ETOOMANYREFS && usleep(1000) == 0);
	if (r >= 0)
		r = usock_recv(s, buf, sizeof(buf), NULL);
	usock_msg_free(m);
	usock_close(s);
	if (r < 0)
		return (int)-r;
	return r == 1 ? 0 : EBADMSG;
}

/* ---- the server ------------------------------------------------------- */

static int listen_on(struct server *sv, const char *name)
{
	struct sockaddr_un sa;
	socklen_t salen;
	int r;

	if (sv->impl == IMPL_LIB) {
		r = usock_listen(name, USOCK_SEQPACKET, USOCK_NONBLOCK, 0,
				 &sv->l);
		if (r < 0)
			return fail("usock_listen: %s", strerror(-r));
		sv->lfd = usock_get_fd(sv->l);
		return 0;
	}
	salen = abstract_addr(&sa, name);
	sv->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 0);
	if (sv->lfd < 0)
		return fail("socket: %m");
	if (bind(sv->lfd, (struct sockaddr *)&sa, salen) < 0 ||
	    listen(sv->lfd, SOMAXCONN) < 0)
		return fail("bind/listen: %m");
	return 0;
}

/* Accept every waiting connection into the epoll set. */
static int accept_all(struct server *sv)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct usock *c = NULL;
		int fd;

		if (sv->impl == IMPL_LIB) {
			fd = usock_accept(sv->l, USOCK_NONBLOCK, &c);
			if (fd == 0)
				fd = usock_get_fd(c);
		} else {
			fd = accept4(sv->lfd, NULL, NULL,
				     SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0)
				fd = -errno;
		}
		if (fd == -EAGAIN)
			return 0;
		if (fd == -EINTR || fd == -ECONNABORTED)
			continue;
		if (fd < 0)
			return fail("accept: %s", strerror(-fd));
		if (++sv->open_now > sv->peak)
			sv->peak = sv->open_now;
		if (c)
			ev.data.ptr = c;
		else
			ev.data.u64 = (uint64_t)fd;
		if (epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			return fail("epoll_ctl: %m");
	}
}

/* Serve one ready connection: its message, its fd, the answer. */
static int serve(struct server *sv, const struct epoll_event *ev)
{
	char buf[64];
	ssize_t r;
	int fd, passed = -1;

	if (sv->impl == IMPL_LIB) {
		struct usock *c = ev->data.ptr;

		r = usock_recv(c, buf, sizeof(buf), sv->m);
		if (r == -EAGAIN)
			return 0;
		if (r == 8 && usock_msg_get_nfds(sv->m) == 1)
			passed = usock_msg_take_fd(sv->m, 0);
		if (passed >= 0 && ++sv->open_now > sv->peak)
			sv->peak = sv->open_now;
		if (passed >= 0) {
			close(passed);
			sv->open_now--;
			r = usock_send(c, "k", 1, NULL);
		}
		usock_close(c);
	} else {
		fd = (int)ev->data.u64;
		r = raw_recv_one(fd, buf, sizeof(buf), &sv->raw);
		if (r == -EAGAIN)
			return 0;
		if (r >= 0) {
			if (r == 8 && sv->raw.nfds == 1)
				passed = sv->raw.fds[0];
			else
				for (unsigned int i = 0; i < sv->raw.nfds; i++)
					close(sv->raw.fds[i]);
		}
		if (passed >= 0 && ++sv->open_now > sv->peak)
			sv->peak = sv->open_now;
		if (passed >= 0) {
			close(passed);
			sv->open_now--;
			r = raw_send(fd, "k", 1, NULL, 0);
		}
		close(fd);
	}
	sv->open_now--;
	if (passed < 0)
		return fail("scale: bad request (%s)",
			    r < 0 ? strerror((int)-r) : "payload or fds");
	if (r != 1)
		return fail("scale: answer: %s",
			    r < 0 ? strerror((int)-r) : "short");
	sv->served++;
	return 0;
}

static int serve_all(struct server *sv, unsigned int clients)
{
	struct epoll_event evs[64];

	while (sv->served < clients) {
		int n = epoll_wait(sv->ep, evs, 64, SCALE_TIMEOUT_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("epoll_wait: %m");
		if (n == 0)
			return fail("scale: %u of %u clients served in %d s",
				    sv->served, clients,
				    SCALE_TIMEOUT_MS / 1000);
		for (int i = 0; i < n; i++) {
			int r = evs[i].data.u64 == LISTENER
					? accept_all(sv)
					: serve(sv, &evs[i]);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Reap every client; -1 if one failed. */
static int reap(pid_t *pids, unsigned int n)
{
	int r = 0;

	for (unsigned int i = 0; i < n; i++) {
		int status = 0;

		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			if (r == 0 && WIFEXITED(status))
				fail("scale client %u: exit status %d (an "
				     "errno value: %s)",
				     i, WEXITSTATUS(status),
				     strerror(WEXITSTATUS(status)));
			else if (r == 0)
				fail("scale client %u: killed by signal %d", i,
				     WTERMSIG(status));
			r = -1;
		}
	}
	return r;
}

int scale_run(unsigned int clients, enum impl impl, struct run_result *res)
{
	struct server sv = { .impl = impl, .lfd = -1, .ep = -1 };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTENER };
	struct heap_count heap;
	char name[64];
	pid_t *pids = calloc(clients, sizeof(*pids));
	unsigned int forked = 0;
	int gate[2] = { -1, -1 }, base, r = -1;
	uint64_t t0, cpu0;

	if (!pids)
		return fail("out of memory");
	unique_name(name, sizeof(name), "scale");
	if (listen_on(&sv, name) < 0)
		goto out;
	sv.ep = epoll_create1(EPOLL_CLOEXEC);
	if (sv.ep < 0 || epoll_ctl(sv.ep, EPOLL_CTL_ADD, sv.lfd, &ev) < 0) {
		fail("epoll: %m");
		goto out;
	}
	if (impl == IMPL_LIB && usock_msg_new(&sv.m) < 0) {
		fail("usock_msg_new failed");
		goto out;
	}
	if (pipe2(gate, O_CLOEXEC) < 0) {
		fail("pipe2: %m");
		goto out;
	}

	fflush(NULL);
	for (; forked < clients; forked++) {
		pid_t pid = fork();
		char c;

		if (pid < 0) {
			fail("fork: %m");
			break;
		}
		if (pid > 0) {
			pids[forked] = pid;
			continue;
		}
		/* The client: drop the server's things (valgrind checks
		 * each process for leaks), wait for the gate to open (end of
		 * file), then pass the gate's read end. */
		close(gate[1]);
		close(sv.ep);
		if (sv.l)
			usock_close(sv.l);
		else
			close(sv.lfd);
		usock_msg_free(sv.m);
		free(pids);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		r = impl == IMPL_LIB ? lib_client(name, gate[0])
				     : raw_client(name, gate[0]);
		close(gate[0]);
		_exit(r);
	}
	close(gate[0]);
	gate[0] = -1;

	base = count_fds() - 1; /* the gate's write end closes at once */
	heap_snapshot(&heap);
	cpu0 = cpu_ns();
	t0 = now_ns();
	close(gate[1]);
	gate[1] = -1;
	if (forked == clients)
		r = serve_all(&sv, clients);
	res->ns = now_ns() - t0;
	res->cpu_ns = cpu_ns() - cpu0;
	res->allocs = heap_calls_since(&heap);
	res->ops = clients;
	res->peak_fds = (unsigned int)base + sv.peak;
	if (r < 0) {
		/* Clients still waiting for an answer would hang the reap. */
		for (unsigned int i = 0; i < forked; i++)
			kill(pids[i], SIGKILL);
	}
	if (reap(pids, forked) < 0)
		r = -1;
out:
	if (gate[0] >= 0)
		close(gate[0]);
	if (gate[1] >= 0)
		close(gate[1]);
	if (sv.ep >= 0)
		close(sv.ep);
	usock_msg_free(sv.m);
	if (sv.l)
		usock_close(sv.l);
	else if (sv.lfd >= 0)
		close(sv.lfd);
	free(pids);
	return r;
}
