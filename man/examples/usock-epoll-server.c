/* SPDX-License-Identifier: MIT */
/*
 * usock-epoll-server: one process serves many clients on one listening
 * socket with epoll(7), and checks who each client is.
 *
 * Usage: usock-epoll-server [-a] [N]
 *
 * The server listens on a SEQPACKET socket in a new temporary directory
 * (with -a: on an abstract name made from its pid) and forks N clients
 * (20 by default). Each client connects, writes its request into a sealed
 * memory file, and sends the file with the request as payload; then it
 * checks the reply. The server accepts every connection on its one
 * nonblocking listener, checks the client's credentials (its uid, and the
 * pid of a child that it forked), reads the request through the received
 * file, replies, and closes the connection. At the end it reaps the
 * children and checks that its fd table is as it was at the start.
 * Exit status 0 means that every client was served correctly.
 */
#define _GNU_SOURCE /* memfd_create(), F_ADD_SEALS */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <usock.h>

#define DEFAULT_CLIENTS 20
#define MAX_CLIENTS 500 /* all connections may be open at once */
#define IDLE_MS 10000 /* give up when nothing happens for this long */
#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

enum state { WAITING, CONNECTED, SERVED, FAILED };

struct conn {
	struct usock *s;
	unsigned int client; /* index into the server's tables */
};

struct server {
	struct usock *listener;
	int ep; /* the epoll instance */
	struct usock_msg *m; /* receives every request */
	unsigned int n; /* clients forked */
	pid_t *pids; /* pid of each client */
	enum state *state; /* of each client */
	struct conn **conns; /* open connection of each client, or NULL */
	unsigned int done; /* clients SERVED or FAILED */
	int broken; /* an error that ends the event loop */
};

static void report(const char *what, int err)
{
	fprintf(stderr, "usock-epoll-server: %s: %s\n", what, strerror(err));
}

__attribute__((format(printf, 1, 2))) static void complain(const char *fmt, ...)
{
	va_list ap;

	fputs("usock-epoll-server: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The number of open fds, from /proc/self/fd. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* ---------------------------------------------------------- client */

static void format_request(char *buf, size_t size, unsigned int i, pid_t pid)
{
	snprintf(buf, size, "request %u from pid %ld", i, (long)pid);
}

/* Put the request into a memory file that nobody can change any more. */
static int request_file(const char *req, size_t len)
{
	int fd = memfd_create("usock-epoll-request",
			      MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, req, len);
	if (n >= 0 && n != (ssize_t)len)
		errno = EIO; /* a short write */
	if (n != (ssize_t)len || fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* In a forked child: one request, one reply. Returns 1 when all went
 * well. */
static int client(const char *name, unsigned int i)
{
	struct usock *s = NULL;
	struct usock_msg *m = NULL;
	char req[64], reply[96], want[96];
	int32_t pid;
	uint32_t uid, gid;
	int file = -1, r, ok = 0;
	ssize_t n;

	format_request(req, sizeof(req), i, getpid());
	snprintf(want, sizeof(want), "served %s", req);
	r = usock_connect(name, USOCK_SEQPACKET, 0, &s);
	if (r < 0) {
		report("client: usock_connect", -r);
		goto out;
	}
	/* The server as it was at its usock_listen(): our parent. */
	r = usock_get_peer_creds(s, &pid, &uid, &gid);
	if (r < 0 || pid != getppid() || uid != getuid()) {
		complain("client %u: the server is not our parent", i);
		goto out;
	}
	file = request_file(req, strlen(req));
	if (file < 0) {
		report("client: request file", -file);
		goto out;
	}
	r = usock_msg_new(&m);
	if (r >= 0)
		r = usock_msg_add_fd(m, file);
	if (r < 0) {
		report("client: building the message", -r);
		goto out;
	}
	n = usock_send(s, req, strlen(req), m);
	if (n < 0) {
		report("client: usock_send", (int)-n);
		goto out;
	}
	n = usock_recv(s, reply, sizeof(reply) - 1, NULL);
	if (n < 0) {
		report("client: usock_recv", (int)-n);
		goto out;
	}
	reply[n] = '\0';
	if (strcmp(reply, want) != 0) {
		complain("client %u: wrong reply \"%s\"", i, reply);
		goto out;
	}
	ok = 1;
out:
	usock_msg_free(m); /* never closes fds added with add_fd */
	if (file >= 0)
		close(file); /* the server got its own copy */
	usock_close(s);
	return ok;
}

/* ---------------------------------------------------------- server */

static int find_client(const struct server *srv, int32_t pid)
{
	for (unsigned int i = 0; i < srv->n; i++)
		if (srv->pids[i] == pid)
			return (int)i;
	return -1;
}

static void finish(struct server *srv, struct conn *c, enum state st)
{
	/* Take the socket out of epoll before closing it. */
	(void)epoll_ctl(srv->ep, EPOLL_CTL_DEL, usock_get_fd(c->s), NULL);
	usock_close(c->s);
	srv->conns[c->client] = NULL;
	srv->state[c->client] = st;
	srv->done++;
	free(c);
}

/* Watch a new connection from client i. */
static int add_conn(struct server *srv, struct usock *s, unsigned int i)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct conn *c = malloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->s = s;
	c->client = i;
	ev.data.ptr = c;
	if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, usock_get_fd(s), &ev) < 0) {
		int r = -errno;

		free(c);
		return r;
	}
	srv->conns[i] = c;
	srv->state[i] = CONNECTED;
	return 0;
}

/* The listener is nonblocking: accept until no connection waits. */
static void accept_all(struct server *srv)
{
	for (;;) {
		struct usock *s;
		int32_t pid = 0;
		uint32_t uid, gid;
		int r, i;

		r = usock_accept(srv->listener, USOCK_NONBLOCK, &s);
		if (r == -EAGAIN)
			return; /* nobody else is waiting */
		if (r < 0) {
			/* -EMFILE leaves the connection queued: stop, or
			 * the listener stays readable for ever. */
			report("usock_accept", -r);
			srv->broken = 1;
			return;
		}
		/* Who connected, as the kernel recorded it at connect(). */
		r = usock_get_peer_creds(s, &pid, &uid, &gid);
		i = r < 0 ? -1 : find_client(srv, pid);
		if (i < 0 || uid != getuid() || srv->state[i] != WAITING) {
			complain("refusing pid %ld", (long)pid);
			usock_close(s);
			continue;
		}
		r = add_conn(srv, s, (unsigned int)i);
		if (r < 0) {
			report("watching a connection", -r);
			usock_close(s);
			srv->state[i] = FAILED;
			srv->done++;
		}
	}
}

/* Check a request and its file; returns 1 when both are right. */
static int check_request(const struct server *srv, const struct conn *c,
			 const char *req, size_t len)
{
	char want[64], text[64];
	int file;
	ssize_t n;

	format_request(want, sizeof(want), c->client, srv->pids[c->client]);
	if (strlen(want) != len || memcmp(want, req, len) != 0) {
		complain("client %u sent \"%s\"", c->client, req);
		return 0;
	}
	/* Lent by the message, which closes it: never close it here. */
	file = usock_msg_get_fd(srv->m, 0);
	if (usock_msg_get_nfds(srv->m) != 1 || file < 0) {
		complain("client %u sent %d fds", c->client,
			 usock_msg_get_nfds(srv->m));
		return 0;
	}
	/* Sealed, so the client cannot change it while we read it. */
	if ((fcntl(file, F_GET_SEALS) & SEALS) != SEALS) {
		complain("client %u: the file is not sealed", c->client);
		return 0;
	}
	n = pread(file, text, sizeof(text), 0);
	if (n != (ssize_t)len || memcmp(text, req, len) != 0) {
		complain("client %u: the file differs", c->client);
		return 0;
	}
	return 1;
}

/* A connection is readable: serve its one request, then close it. */
static void serve(struct server *srv, struct conn *c)
{
	char req[64], reply[96];
	enum state st = FAILED;
	ssize_t n;
	int len;

	n = usock_recv(c->s, req, sizeof(req) - 1, srv->m);
	if (n == -EAGAIN)
		return; /* nothing after all: wait again */
	if (n < 0) {
		/* -EPIPE: it closed without asking; -E2BIG: over 1 fd. */
		report("usock_recv", (int)-n);
		goto out;
	}
	req[n] = '\0';
	if (!check_request(srv, c, req, (size_t)n))
		goto out;
	len = snprintf(reply, sizeof(reply), "served %s", req);
	n = usock_send(c->s, reply, (size_t)len, NULL);
	if (n < 0) {
		report("usock_send", (int)-n);
		goto out;
	}
	st = SERVED;
out:
	usock_msg_reset(srv->m); /* closes the received file now */
	finish(srv, c, st);
}

static void event_loop(struct server *srv)
{
	struct epoll_event ev[16];

	while (srv->done < srv->n && !srv->broken) {
		int n = epoll_wait(srv->ep, ev, 16, IDLE_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			report("epoll_wait", errno);
			return;
		}
		if (n == 0) {
			complain("nothing happened for %d ms", IDLE_MS);
			return;
		}
		for (int i = 0; i < n && !srv->broken; i++) {
			if (ev[i].data.ptr)
				serve(srv, ev[i].data.ptr);
			else
				accept_all(srv);
		}
	}
}

/* Fork the clients. Each one frees its copy of the listener first. */
static int fork_clients(struct server *srv, const char *name)
{
	fflush(stdout); /* or every child inherits unwritten output */
	for (unsigned int i = 0; i < srv->n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			report("fork", errno);
			return -1;
		}
		if (pid == 0) {
			/* Not usock_close(): with USOCK_UNLINK_ON_CLOSE
			 * that would remove the parent's socket file. */
			close(usock_release_fd(srv->listener));
			_exit(client(name, i) ? EXIT_SUCCESS : EXIT_FAILURE);
		}
		srv->pids[i] = pid;
	}
	return 0;
}

/* Wait for every child; returns how many exited with status 0. */
static unsigned int reap(const struct server *srv)
{
	unsigned int ok = 0;

	for (unsigned int i = 0; i < srv->n; i++) {
		int status;

		if (srv->pids[i] <= 0)
			continue;
		while (waitpid(srv->pids[i], &status, 0) < 0) {
			if (errno != EINTR) {
				report("waitpid", errno);
				status = -1;
				break;
			}
		}
		if (status != -1 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			ok++;
		else
			complain("client %u (pid %ld) failed, status %#x", i,
				 (long)srv->pids[i], (unsigned int)status);
	}
	return ok;
}

static int parse_args(int argc, char **argv, int *abstract, unsigned int *n)
{
	char *end;
	long v;
	int i = 1;

	*abstract = 0;
	*n = DEFAULT_CLIENTS;
	if (i < argc && strcmp(argv[i], "-a") == 0) {
		*abstract = 1;
		i++;
	}
	if (i < argc) {
		errno = 0;
		v = strtol(argv[i], &end, 10);
		if (errno || end == argv[i] || *end || v < 1 || v > MAX_CLIENTS)
			return -1;
		*n = (unsigned int)v;
		i++;
	}
	return i == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct server srv = { .ep = -1 };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	char dir[64] = "", name[96];
	unsigned int served = 0, exited = 0;
	int fds_at_start = count_fds(), fds_at_end, abstract, r, file_gone = 1;

	if (parse_args(argc, argv, &abstract, &srv.n) < 0) {
		fprintf(stderr, "usage: %s [-a] [N], N from 1 to %d\n", argv[0],
			MAX_CLIENTS);
		return 2;
	}
	srv.pids = calloc(srv.n, sizeof(*srv.pids));
	srv.state = calloc(srv.n, sizeof(*srv.state));
	srv.conns = calloc(srv.n, sizeof(*srv.conns));
	if (!srv.pids || !srv.state || !srv.conns) {
		report("calloc", ENOMEM);
		goto out;
	}
	if (abstract) {
		/* No file, no cleanup; but anyone on the host may connect,
		 * so the credential check below is what keeps them out. */
		snprintf(name, sizeof(name), "@usock-epoll-server-%ld",
			 (long)getpid());
	} else {
		strcpy(dir, "/tmp/usock-epoll-XXXXXX");
		if (!mkdtemp(dir)) {
			report("mkdtemp", errno);
			dir[0] = '\0';
			goto out;
		}
		snprintf(name, sizeof(name), "%s/server.sock", dir);
	}

	/* Nonblocking, so that accept_all() can take every waiting
	 * connection; usock_close() removes the socket file. */
	r = usock_listen(name, USOCK_SEQPACKET,
			 USOCK_NONBLOCK | USOCK_UNLINK_ON_CLOSE, 0,
			 &srv.listener);
	if (r < 0) {
		report(name, -r);
		goto out;
	}
	/* At most one fd per request; accepted sockets inherit this. */
	r = usock_set_max_fds(srv.listener, 1);
	if (r >= 0)
		r = usock_msg_new(&srv.m);
	if (r < 0) {
		report("setting up", -r);
		goto out;
	}
	printf("listening on %s, forking %u clients\n", name, srv.n);
	if (fork_clients(&srv, name) < 0)
		goto out;

	srv.ep = epoll_create1(EPOLL_CLOEXEC);
	if (srv.ep < 0) {
		report("epoll_create1", errno);
		goto out;
	}
	if (epoll_ctl(srv.ep, EPOLL_CTL_ADD, usock_get_fd(srv.listener), &ev) <
	    0) {
		report("epoll_ctl", errno);
		goto out;
	}
	event_loop(&srv);

out:
	/* Close what is left, so that every client stops waiting. */
	for (unsigned int i = 0; srv.conns && i < srv.n; i++)
		if (srv.conns[i])
			finish(&srv, srv.conns[i], FAILED);
	if (srv.ep >= 0)
		close(srv.ep);
	usock_msg_free(srv.m);
	usock_close(srv.listener); /* and unlinks the socket file */
	/* Fails if the socket file was left behind. */
	if (dir[0] && rmdir(dir) < 0) {
		report(dir, errno);
		file_gone = 0;
	}
	if (srv.pids)
		exited = reap(&srv);
	for (unsigned int i = 0; srv.state && i < srv.n; i++)
		served += srv.state[i] == SERVED;
	fds_at_end = count_fds();
	printf("served %u of %u clients; %u exited with status 0\n", served,
	       srv.n, exited);
	printf("open fds: %d at the start, %d at the end\n", fds_at_start,
	       fds_at_end);
	free(srv.pids);
	free(srv.state);
	free(srv.conns);
	r = served == srv.n && exited == srv.n && srv.n > 0 &&
	    fds_at_end == fds_at_start && file_gone;
	puts(r ? "usock-epoll-server: all checks passed"
	       : "usock-epoll-server: FAILED");
	return r ? EXIT_SUCCESS : EXIT_FAILURE;
}
