/* SPDX-License-Identifier: MIT */
/*
 * Interoperability with CPython's own socket module: test/interop.py is
 * the peer; this program is the libusock side and the test driver. Python
 * sends fds (socket.send_fds) and credentials (SCM_CREDENTIALS) that
 * libusock receives; libusock sends fds and credentials that Python
 * receives (socket.recv_fds, recvmsg with SO_PASSCRED). Both sides check
 * every fd by st_dev/st_ino and what it holds. The exchange runs over a
 * pair (Python inherits one end) and over named sockets Python connects to.
 *
 * Suite "interop" of usock-test: the script is $USOCK_TEST_INTEROP, the
 * interpreter $USOCK_TEST_PYTHON, else (unset or missing) python3 from
 * PATH. The suite is skipped (77, with the reason) when there is no python3
 * or it lacks the fd-passing API.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define EXIT_SKIP 77
#define PEER_TIMEOUT_MS 60000
/* The fd number Python finds its end of a pair at. */
#define PY_FD 100
#define PY_FD_TEXT "100"

static const char *script;
static const char *python;

/* ---- running Python ---------------------------------------------------- */

struct py_arg {
	const char *argv[6]; /* NULL-terminated */
	int fd; /* pair mode: our end's peer, moved to PY_FD */
};

static int child_exec_python(void *p)
{
	struct py_arg *a = p;

	/* dup2 leaves the copy without FD_CLOEXEC: inherited by Python. */
	if (a->fd >= 0 && dup2(a->fd, PY_FD) != PY_FD)
		child_fail(__FILE__, __LINE__, "dup2: %s", strerror(errno));
	execvp(a->argv[0], (char *const *)a->argv);
	child_fail(__FILE__, __LINE__, "exec %s: %s", a->argv[0],
		   strerror(errno));
}

/* ---- the exchange ------------------------------------------------------ */

/* Receive one message (waiting at most PEER_TIMEOUT_MS) as a string. */
static void recv_text(struct usock *s, struct usock_msg *m, char *buf,
		      size_t len)
{
	ssize_t n;

	wait_readable(s, PEER_TIMEOUT_MS);
	n = usock_recv(s, buf, len - 1, m);
	ck_assert_msg(n > 0, "usock_recv from Python: %zd (%s)", n,
		      n < 0 ? strerror((int)-n) : "empty");
	buf[n] = '\0';
}

static void send_text(struct usock *s, const struct usock_msg *m,
		      const char *text)
{
	ssize_t len = (ssize_t)strlen(text);

	ck_assert_int_eq(usock_send(s, text, (size_t)len, m), len);
}

/* "DEV:INO" of fd. */
static void fid_text(int fd, char *buf, size_t len)
{
	struct fid f = fid_of(fd);

	snprintf(buf, len, "%llu:%llu", (unsigned long long)f.dev,
		 (unsigned long long)f.ino);
}

static void assert_creds(const struct usock_msg *m, pid_t pid)
{
	int32_t p;
	uint32_t u, g;

	ck_assert_int_eq(usock_msg_get_creds(m, &p, &u, &g), 0);
	ck_assert_int_eq(p, pid);
	ck_assert_uint_eq(u, getuid());
	ck_assert_uint_eq(g, getgid());
}

/* The file behind fd holds text (read from offset 0, or from a pipe). */
static void assert_holds(int fd, const char *text, bool pipe)
{
	char buf[64];
	ssize_t n = pipe ? read(fd, buf, sizeof(buf))
			 : pread(fd, buf, sizeof(buf), 0);

	ck_assert_int_eq(n, (ssize_t)strlen(text));
	ck_assert(memcmp(buf, text, (size_t)n) == 0);
}

/* Steps 1-4: what Python sends. */
static void receive_from_python(struct usock *s, struct usock_msg *m, pid_t py)
{
	char buf[256], want[64], *tok, *save = NULL;
	int i = 0;

	/* 1. three fds, their identities in the text. */
	recv_text(s, m, buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "fds ", 4) == 0, "got \"%s\"", buf);
	ck_assert_int_eq(usock_msg_get_nfds(m), 3);
	for (tok = strtok_r(buf + 4, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save), i++) {
		int fd = usock_msg_get_fd(m, (unsigned int)i);

		ck_assert_int_lt(i, 3);
		ck_assert_int_eq(fd_cloexec(fd), 1);
		fid_text(fd, want, sizeof(want));
		ck_assert_str_eq(tok, want);
	}
	ck_assert_int_eq(i, 3);
	assert_holds(usock_msg_get_fd(m, 0), "python-file", false);
	assert_holds(usock_msg_get_fd(m, 1), "python-pipe", true);
	/* With SO_PASSCRED on, the kernel stamps every message. */
	assert_creds(m, py);
	send_text(s, NULL, "ok 1");

	/* 2. explicit SCM_CREDENTIALS: as claimed, and the claim is true. */
	recv_text(s, m, buf, sizeof(buf));
	snprintf(want, sizeof(want), "creds %d %u %u", (int)py, getuid(),
		 getgid());
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(usock_msg_get_nfds(m), 0);
	assert_creds(m, py);
	send_text(s, NULL, "ok 2");

	/* 3. nothing sent, credentials still there. */
	recv_text(s, m, buf, sizeof(buf));
	ck_assert_str_eq(buf, "plain");
	assert_creds(m, py);
	send_text(s, NULL, "ok 3");

	/* 4. credentials and an fd in one sendmsg. */
	recv_text(s, m, buf, sizeof(buf));
	ck_assert_int_eq(usock_msg_get_nfds(m), 1);
	fid_text(usock_msg_get_fd(m, 0), want, sizeof(want));
	ck_assert_int_eq(strncmp(buf, "both ", 5), 0);
	ck_assert_str_eq(buf + 5, want);
	assert_creds(m, py);
	send_text(s, NULL, "ok 4");
}

/* Steps 5-7: what Python receives. */
static void send_to_python(struct usock *s, struct usock_msg *m)
{
	char buf[256], f1[64], f2[64];
	int file, p[2];

	recv_text(s, m, buf, sizeof(buf));
	ck_assert_str_eq(buf, "go");

	/* 5. a file and a pipe. */
	file = memfd_create("usock-interop", MFD_CLOEXEC);
	ck_assert_int_ge(file, 0);
	ck_assert_int_eq(write(file, "libusock-file", 13), 13);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(write(p[1], "libusock-pipe", 13), 13);
	ck_assert_int_eq(close(p[1]), 0);
	fid_text(file, f1, sizeof(f1));
	fid_text(p[0], f2, sizeof(f2));
	snprintf(buf, sizeof(buf), "fds %s libusock-file %s libusock-pipe", f1,
		 f2);
	usock_msg_reset(m);
	ck_assert_int_eq(usock_msg_add_fd(m, file), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, p[0]), 0);
	send_text(s, m, buf);
	usock_msg_reset(m);
	close(p[0]);
	recv_text(s, m, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ok 5");

	/* 6. Python turned SO_PASSCRED on before its answer: credentials
	 * attached by the kernel; 7. explicit ones with an fd. */
	snprintf(buf, sizeof(buf), "pid %d", (int)getpid());
	send_text(s, NULL, buf);
	recv_text(s, m, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ok 6");
	usock_msg_reset(m);
	ck_assert_int_eq(usock_msg_set_creds(m, getpid(), getuid(), getgid()),
			 0);
	ck_assert_int_eq(usock_msg_add_fd(m, file), 0);
	snprintf(buf, sizeof(buf), "explicit %s", f1);
	send_text(s, m, buf);
	usock_msg_reset(m);
	close(file);
	recv_text(s, m, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ok 7");
}

static void exchange(struct usock *s, pid_t py)
{
	struct usock_msg *m = msg_new_ok();
	char buf[16];

	recv_text(s, m, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ready");
	send_text(s, NULL, "ok 0");
	receive_from_python(s, m, py);
	send_to_python(s, m);
	/* Python closes: end of file on both types. */
	wait_readable(s, PEER_TIMEOUT_MS);
	ck_assert_int_eq(usock_recv(s, buf, sizeof(buf), m), -EPIPE);
	usock_msg_free(m);
}

/* _i: USOCK_SEQPACKET or USOCK_STREAM. Python gets one end of a pair. */
START_TEST(test_pair)
{
	struct py_arg arg = { .argv = { python, script, "fd", PY_FD_TEXT,
					NULL } };
	struct usock *mine, *theirs;
	pid_t py;

	pair_ok(_i, 0, &mine, &theirs);
	ck_assert_int_eq(usock_set_passcred(mine, 1), 0);
	/* Released, not just closed: the fd that Python gets has
	 * SO_PASSCRED as its owner set it (off), not as the library keeps
	 * it for SEQPACKET (usock_release_fd(3)). */
	arg.fd = usock_release_fd(theirs);
	py = child_spawn(child_exec_python, &arg);
	close(arg.fd);
	exchange(mine, py);
	child_wait_ok(py);
	usock_close(mine);
}
END_TEST

/* _i: 0 SEQPACKET on an abstract name, 1 STREAM on a path. Python
 * connects; it checks SO_PEERCRED, we check usock_get_peer_creds. */
START_TEST(test_named)
{
	const int type = _i ? USOCK_STREAM : USOCK_SEQPACKET;
	struct py_arg arg = { .fd = -1 };
	struct usock *l, *s;
	char dir[TMP_PATH_MAX], name[TMP_PATH_MAX + 8];
	int32_t pid;
	uint32_t uid, gid;
	pid_t py;

	if (_i) {
		tmpdir_create(dir);
		snprintf(name, sizeof(name), "%s/py", dir);
	} else {
		abstract_name(name, sizeof(name));
	}
	ck_assert_int_eq(usock_listen(name, type, USOCK_UNLINK_ON_CLOSE, 0, &l),
			 0);
	/* Inherited by accepted sockets. */
	ck_assert_int_eq(usock_set_passcred(l, 1), 0);
	arg.argv[0] = python;
	arg.argv[1] = script;
	arg.argv[2] = "connect";
	arg.argv[3] = name;
	arg.argv[4] = _i ? "stream" : "seqpacket";
	py = child_spawn(child_exec_python, &arg);

	wait_readable(l, PEER_TIMEOUT_MS);
	ck_assert_int_eq(usock_accept(l, 0, &s), 0);
	ck_assert_int_eq(usock_get_peer_creds(s, &pid, &uid, &gid), 0);
	ck_assert_int_eq(pid, py);
	ck_assert_uint_eq(uid, geteuid());
	ck_assert_uint_eq(gid, getegid());
	exchange(s, py);
	child_wait_ok(py);
	usock_close(s);
	usock_close(l);
	if (_i)
		ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- the suite ------------------------------------------------------- */

/* Can Python take part? 0 yes, EXIT_SKIP (the reason in why) no, 1 the
 * probe failed (said on stderr). */
static int probe_python(char *why, size_t len)
{
	int status, err[2], e = 0;
	pid_t pid;

	/* The child reports a failed exec through a close-on-exec pipe. */
	if (pipe2(err, O_CLOEXEC) < 0)
		return 1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		execlp(python, python, script, "probe", (char *)NULL);
		e = errno;
		if (write(err[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(err[1]);
	if (read(err[0], &e, sizeof(e)) != sizeof(e))
		e = 0;
	close(err[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (e) {
		snprintf(why, len, "cannot run %s: %s", python, strerror(e));
		return EXIT_SKIP;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SKIP) {
		/* The probe said why on stdout. */
		snprintf(why, len, "%s cannot take part (interop.py probe)",
			 python);
		return EXIT_SKIP;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s %s probe failed (status %#x)\n", python,
			script, (unsigned)status);
		return 1;
	}
	return 0;
}

/*
 * The suite's requirement: the script and an interpreter that can take part.
 * A probe that fails otherwise than with a skip lets the suite run, so that
 * its tests fail with the details.
 */
static const char *need_python_peer(void)
{
	static char why[160];
	int r;

	script = getenv("USOCK_TEST_INTEROP");
	python = getenv("USOCK_TEST_PYTHON");
	/* The build's interpreter may be missing where the tests run (a
	 * VM guest, a copied build): then python3 from PATH. */
	if (!python || !*python || access(python, X_OK) != 0)
		python = "python3";
	if (!script || !*script)
		return "USOCK_TEST_INTEROP (the path of interop.py) is not "
		       "set: "
		       "run through meson test";
	r = probe_python(why, sizeof(why));
	return r == EXIT_SKIP ? why : NULL;
}

TEST_SUITE_NEEDS(interop, need_python_peer)
{
	TCase *tc = fd_tcase(s, "python");

	tcase_set_timeout(tc, 120);
	tcase_add_conn_test(tc, test_pair);
	tcase_add_loop_test(tc, test_named, 0, 2);
}
