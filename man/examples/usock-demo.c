/* SPDX-License-Identifier: MIT */
/*
 * usock-demo: a child process hands its parent an open file and
 * proves who it is, over a SEQPACKET socket pair.
 *
 * Run it without arguments. The parent makes the pair and starts
 * this program again as "usock-demo --child 3", with the child's
 * end of the pair on fd 3. It receives the file and the child's
 * credentials, checks them, reads the file and reaps the child.
 * Exit status 0 means that every check passed.
 */
#define _GNU_SOURCE /* memfd_create() */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <usock.h>

#define CHILD_FD 3

static void report(const char *what, int err)
{
	fprintf(stderr, "usock-demo: %s: %s\n", what, strerror(err));
}

/* In the forked child: move our end of the pair to CHILD_FD, exec. */
static void exec_child(char *argv0, struct usock *end)
{
	int fd = usock_get_fd(end), r;
	char opt[] = "--child", num[16], self[PATH_MAX];
	char *args[] = { argv0, opt, num, NULL };
	ssize_t len;

	snprintf(num, sizeof(num), "%d", CHILD_FD);
	/* Exec the path that /proc/self/exe names, not the link itself,
	 * so that tools which emulate the program (valgrind) see it. */
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0) {
		report("readlink /proc/self/exe", errno);
		_exit(127);
	}
	self[len] = '\0';
	/* dup2() clears FD_CLOEXEC on the copy, but does nothing when
	 * fd already is CHILD_FD: then clear the flag by hand. */
	if (fd == CHILD_FD)
		r = fcntl(fd, F_SETFD, 0);
	else
		r = dup2(fd, CHILD_FD);
	if (r < 0) {
		report("moving the socket to fd 3", errno);
		_exit(127);
	}
	execv(self, args);
	report("execv", errno);
	_exit(127);
}

static int child(int fd)
{
	struct usock *s = NULL;
	struct usock_msg *m = NULL;
	char line[64];
	int file = -1, len, r, ok = 0;
	ssize_t n;

	r = usock_adopt(fd, 0, &s);
	if (r < 0) {
		report("usock_adopt", -r);
		close(fd); /* adopt failed: the fd is still ours */
		return EXIT_FAILURE;
	}
	file = memfd_create("usock-demo", MFD_CLOEXEC);
	if (file < 0) {
		report("memfd_create", errno);
		goto out;
	}
	len = snprintf(line, sizeof(line), "hello from pid %ld\n",
		       (long)getpid());
	if (write(file, line, (size_t)len) != len) {
		report("write", errno);
		goto out;
	}

	r = usock_msg_new(&m);
	if (r >= 0)
		r = usock_msg_add_fd(m, file);
	if (r >= 0)
		r = usock_msg_set_creds(m, getpid(), getuid(), getgid());
	if (r < 0) {
		report("building the message", -r);
		goto out;
	}
	printf("child:  adopted fd %d, sending memfd %d as pid %ld "
	       "uid %u gid %u\n", fd, file, (long)getpid(),
	       (unsigned)getuid(), (unsigned)getgid());
	fflush(stdout);
	n = usock_send(s, "memfd", 5, m);
	if (n < 0) {
		report("usock_send", (int)-n);
		goto out;
	}
	ok = 1;
out:
	usock_msg_free(m); /* never closes fds added with add_fd */
	if (file >= 0)
		close(file); /* the parent got its own copy */
	usock_close(s);
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Receive the file and check everything that came with it. */
static int receive(struct usock *s, pid_t kid, struct usock_msg *m)
{
	char payload[16], text[128];
	int32_t pid;
	uint32_t uid, gid;
	int file, r, ok = 0;
	ssize_t n;

	n = usock_recv(s, payload, sizeof(payload) - 1, m);
	if (n < 0) {
		report("usock_recv", (int)-n);
		return 0;
	}
	payload[n] = '\0';
	r = usock_msg_get_creds(m, &pid, &uid, &gid);
	if (r < 0) {
		report("usock_msg_get_creds", -r);
		return 0;
	}
	if (pid != kid || uid != getuid() || gid != getgid()) {
		fprintf(stderr, "usock-demo: pid %ld uid %u gid %u "
			"is not the child\n",
			(long)pid, (unsigned)uid, (unsigned)gid);
		return 0;
	}
	if (usock_msg_get_nfds(m) != 1) {
		fprintf(stderr, "usock-demo: expected 1 fd, got %d\n",
			usock_msg_get_nfds(m));
		return 0;
	}
	file = usock_msg_take_fd(m, 0); /* now ours to close */
	if (file < 0) {
		report("usock_msg_take_fd", -file);
		return 0;
	}
	printf("parent: received \"%s\" with fd %d from pid %ld "
	       "uid %u gid %u\n", payload, file, (long)pid,
	       (unsigned)uid, (unsigned)gid);

	/* The child's write moved the shared file offset: rewind. */
	if (lseek(file, 0, SEEK_SET) < 0) {
		report("lseek", errno);
	} else if ((n = read(file, text, sizeof(text) - 1)) <= 0) {
		report("read", n < 0 ? errno : EIO);
	} else {
		text[n] = '\0';
		printf("parent: the file says: %s", text);
		ok = 1;
	}
	close(file);
	if (!ok)
		return 0;

	/* The child exits after one message: next is end of file. */
	n = usock_recv(s, payload, sizeof(payload), m);
	if (n != -EPIPE) {
		fprintf(stderr, "usock-demo: expected end of file, "
			"got %zd\n", n);
		return 0;
	}
	printf("parent: end of file: the child closed its end\n");
	return 1;
}

static int parent(char *argv0)
{
	struct usock *s = NULL, *peer = NULL;
	struct usock_msg *m = NULL;
	pid_t pid = -1;
	int r, status, ok = 0;

	r = usock_pair(USOCK_SEQPACKET, 0, &s, &peer);
	if (r < 0) {
		report("usock_pair", -r);
		return EXIT_FAILURE;
	}
	/* Before the child exists, so that its message has them. */
	r = usock_set_passcred(s, 1);
	if (r >= 0)
		r = usock_msg_new(&m);
	if (r < 0) {
		report("setting up", -r);
		goto out;
	}

	printf("parent: pair made, SO_PASSCRED on, starting child\n");
	fflush(stdout); /* or the child inherits unwritten output */
	pid = fork();
	if (pid < 0) {
		report("fork", errno);
		goto out;
	}
	if (pid == 0)
		exec_child(argv0, peer);

	/* Drop our copy of the child's end: if it dies, we see EOF. */
	usock_close(peer);
	peer = NULL;
	ok = receive(s, pid, m);
out:
	usock_msg_free(m);
	usock_close(peer);
	usock_close(s); /* first, so that a blocked child gets EPIPE */
	if (pid > 0) {
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR) {
				report("waitpid", errno);
				return EXIT_FAILURE;
			}
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "usock-demo: child failed, "
				"status %#x\n", (unsigned)status);
			ok = 0;
		} else {
			printf("parent: child %ld exited with status 0\n",
			       (long)pid);
		}
	}
	puts(ok ? "usock-demo: all checks passed" : "usock-demo: FAILED");
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	char *end;
	long fd;

	if (argc == 1)
		return parent(argv[0]);
	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		errno = 0;
		fd = strtol(argv[2], &end, 10);
		if (errno == 0 && end != argv[2] && *end == '\0' &&
		    fd >= 0 && fd <= INT_MAX)
			return child((int)fd);
	}
	fprintf(stderr, "usage: %s [--child FD]\n", argv[0]);
	return 2;
}
