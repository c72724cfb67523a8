// SPDX-License-Identifier: MIT
/*
 * usock-kernel-probe PERSONALITY-PROGRAM: checks that the wrapper changes
 * exactly what each kernel personality promises. For every personality it
 * runs itself under the wrapper (--inside), which prints the errno of each
 * probe; the outer run expects ENOSYS for every call newer than the
 * personality, ENOPROTOOPT for the three socket options, and for the rest
 * what this kernel answers without the wrapper (so it holds on any kernel,
 * also an old one in a VM). Also: a bad personality name and a missing
 * program make the wrapper fail with its documented status.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* System calls with arguments that make them fail at once (or do nothing),
 * so that calling them here is harmless on any kernel. */
static const struct call {
	const char *name;
	long nr;
	long a[4];
} calls[] = {
	{ "pidfd_send_signal", 424, { -1, 0, 0, 0 } }, /* 5.1: EBADF */
	{ "pidfd_open", 434, { 0, -1, 0, 0 } },        /* 5.3: EINVAL */
	{ "clone3", 435, { 0, 0, 0, 0 } },             /* 5.3: EINVAL */
	{ "close_range", 436, { 5, 3, 0, 0 } },        /* 5.9: EINVAL */
	{ "epoll_pwait2", 441, { -1, 0, 0, 0 } },      /* 5.11: EINVAL */
	{ "quotactl_fd", 443, { -1, 0, 0, 0 } },       /* 5.14: EBADF */
	{ "process_mrelease", 448, { -1, 0, 0, 0 } },  /* 5.15: EBADF */
	{ "cachestat", 451, { -1, 0, 0, 0 } },         /* 6.5: EBADF */
	{ "fchmodat2", 452, { -1, 0, 0, -1 } },        /* 6.6: EINVAL */
	{ "file_setattr", 469, { -1, 0, 0, 0 } },      /* 6.17 */
};
#define NCALLS (sizeof(calls) / sizeof(calls[0]))

static const int sockopts[] = { 76, 77, 83, 16 /* SO_PASSCRED */ };
#define NOPTS (sizeof(sockopts) / sizeof(sockopts[0]))

/* What a personality must change: calls from first_new on give ENOSYS. */
static const struct {
	const char *name;
	long first_new;
} personalities[] = {
	{ "6.1", 451 },
	{ "5.14", 448 },
	{ "4.18", 424 },
};

/* The answers of this process's kernel: errno of each call (0: success),
 * then of getsockopt and of setsockopt of each option. */
struct answers {
	int call[NCALLS];
	int get[NOPTS], set[NOPTS];
};

static void probe(struct answers *ans)
{
	int sv[2], one = 1, v;
	socklen_t len;

	for (size_t i = 0; i < NCALLS; i++) {
		const struct call *c = &calls[i];

		errno = 0;
		ans->call[i] = syscall(c->nr, c->a[0], c->a[1], c->a[2],
				       c->a[3]) < 0 ? errno : 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	for (size_t i = 0; i < NOPTS; i++) {
		len = sizeof(v);
		ans->get[i] = getsockopt(sv[0], SOL_SOCKET, sockopts[i], &v,
					 &len) < 0 ? errno : 0;
		ans->set[i] = setsockopt(sv[0], SOL_SOCKET, sockopts[i], &one,
					 sizeof(one)) < 0 ? errno : 0;
	}
	close(sv[0]);
	close(sv[1]);
}

static int run(const char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* The wrapper's usage message is expected here. */
		dup2(null, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(126);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		perror("fork/waitpid");
		exit(1);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int expect_status(const char *what, int got, int want)
{
	if (got == want)
		return 0;
	printf("FAIL: %s: exit status %d, expected %d\n", what, got, want);
	return 1;
}

/* Run the probe under personality p and compare with the expected. */
static int check_personality(const char *wrapper, const char *self, size_t p,
			     const struct answers *real)
{
	struct answers want = *real, got;
	int fds[2], failed = 0;
	pid_t pid;
	FILE *in;
	int status;

	for (size_t i = 0; i < NCALLS; i++)
		if (calls[i].nr >= personalities[p].first_new)
			want.call[i] = ENOSYS;
	for (size_t i = 0; i < NOPTS; i++)
		if (sockopts[i] != 16)
			want.get[i] = want.set[i] = ENOPROTOOPT;

	if (pipe(fds) < 0 || (pid = fork()) < 0) {
		perror("pipe/fork");
		exit(1);
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execl(wrapper, wrapper, personalities[p].name, self, "--inside",
		      (char *)NULL);
		_exit(126);
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	if (!in || fread(&got, sizeof(got), 1, in) != 1) {
		printf("FAIL: %s: no answers from the probe\n",
		       personalities[p].name);
		failed = 1;
	}
	if (in)
		fclose(in);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		printf("FAIL: %s: the probe did not exit 0\n",
		       personalities[p].name);
		return 1;
	}
	if (failed)
		return 1;
	for (size_t i = 0; i < NCALLS; i++) {
		printf("%s %s: %s (%s without the filter)\n",
		       personalities[p].name, calls[i].name,
		       strerrorname_np(got.call[i]) ?: "success",
		       strerrorname_np(real->call[i]) ?: "success");
		if (got.call[i] != want.call[i]) {
			printf("FAIL: expected %s\n",
			       strerrorname_np(want.call[i]) ?: "success");
			failed = 1;
		}
	}
	for (size_t i = 0; i < NOPTS; i++) {
		printf("%s sockopt %d: get %s, set %s\n", personalities[p].name,
		       sockopts[i], strerrorname_np(got.get[i]) ?: "success",
		       strerrorname_np(got.set[i]) ?: "success");
		if (got.get[i] != want.get[i] || got.set[i] != want.set[i]) {
			printf("FAIL: expected get %s, set %s\n",
			       strerrorname_np(want.get[i]) ?: "success",
			       strerrorname_np(want.set[i]) ?: "success");
			failed = 1;
		}
	}
	return failed;
}

int main(int argc, char **argv)
{
	struct answers real;
	char self[PATH_MAX];
	ssize_t n;
	int failed = 0;

	if (argc == 2 && strcmp(argv[1], "--inside") == 0) {
		probe(&real);
		return fwrite(&real, sizeof(real), 1, stdout) == 1 ? 0 : 1;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s PERSONALITY-PROGRAM\n", argv[0]);
		return 2;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		perror("/proc/self/exe");
		return 1;
	}
	self[n] = '\0';
	probe(&real);
	for (size_t p = 0; p < sizeof(personalities) / sizeof(personalities[0]);
	     p++)
		failed |= check_personality(argv[1], self, p, &real);

	failed |= expect_status("bad personality name",
				run((const char *const[]){ argv[1], "linux-6.1",
							   "/bin/true", NULL }),
				2);
	failed |= expect_status("no program",
				run((const char *const[]){ argv[1], "6.1",
							   NULL }),
				2);
	failed |= expect_status("missing program",
				run((const char *const[]){ argv[1], "6.1",
							   "/nonexistent",
							   NULL }),
				127);
	failed |= expect_status("program's status",
				run((const char *const[]){ argv[1], "4.18",
							   "/bin/false", NULL }),
				1);
	return failed;
}
