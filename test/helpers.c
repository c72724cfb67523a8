/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/* ---- fd table ---------------------------------------------------------- */

static int cmp_entry(const void *a, const void *b)
{
	const struct fd_entry *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

void fd_table_snapshot(struct fd_table *t)
{
	size_t cap = 64;
	struct dirent *de;
	DIR *d;

	t->n = 0;
	t->entries = malloc(cap * sizeof(*t->entries));
	ck_assert_ptr_nonnull(t->entries);

	d = opendir("/proc/self/fd");
	ck_assert_msg(d != NULL, "opendir /proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		struct fd_entry *e;
		ssize_t n;
		char *end;
		long fd;

		if (de->d_name[0] == '.')
			continue;
		fd = strtol(de->d_name, &end, 10);
		ck_assert_msg(*end == '\0', "odd /proc/self/fd entry %s",
			      de->d_name);
		if (fd == dirfd(d))
			continue;
		if (t->n == cap) {
			cap *= 2;
			t->entries =
				realloc(t->entries, cap * sizeof(*t->entries));
			ck_assert_ptr_nonnull(t->entries);
		}
		e = &t->entries[t->n++];
		e->fd = (int)fd;
		n = readlinkat(dirfd(d), de->d_name, e->target,
			       sizeof(e->target) - 1);
		/* The fd may have gone between readdir and readlink only if
		 * another thread closed it: tests compare at quiet points. */
		if (n < 0)
			n = 0;
		e->target[n] = '\0';
	}
	closedir(d);
	qsort(t->entries, t->n, sizeof(*t->entries), cmp_entry);
}

void fd_table_free(struct fd_table *t)
{
	free(t->entries);
	t->entries = NULL;
	t->n = 0;
}

static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

/*
 * libcheck's own message file: an unlinked $TMPDIR/check_XXXXXX. In
 * CK_NOFORK mode check replaces it (same fd number, new file) after running
 * a checked setup, i.e. between our two snapshots; that is not the test's
 * doing.
 */
static bool is_check_file(const char *target)
{
	static const char deleted[] = " (deleted)";
	size_t n = strlen(target), d = sizeof(deleted) - 1;

	return strstr(target, "/check_") && n > d &&
	       strcmp(target + n - d, deleted) == 0;
}

bool fd_table_same(const struct fd_table *a, const struct fd_table *b,
		   char *buf, size_t len)
{
	size_t i = 0, j = 0, off = 0;
	bool same = true;

	buf[0] = '\0';
	append(buf, len, &off, "%zu fds before, %zu after;", a->n, b->n);
	while (i < a->n || j < b->n) {
		if (j == b->n ||
		    (i < a->n && a->entries[i].fd < b->entries[j].fd)) {
			append(buf, len, &off, " closed %d (%s);",
			       a->entries[i].fd, a->entries[i].target);
			same = false;
			i++;
		} else if (i == a->n || b->entries[j].fd < a->entries[i].fd) {
			append(buf, len, &off, " leaked %d (%s);",
			       b->entries[j].fd, b->entries[j].target);
			same = false;
			j++;
		} else {
			if (strcmp(a->entries[i].target,
				   b->entries[j].target) &&
			    !(is_check_file(a->entries[i].target) &&
			      is_check_file(b->entries[j].target))) {
				append(buf, len, &off, " %d changed %s -> %s;",
				       a->entries[i].fd, a->entries[i].target,
				       b->entries[j].target);
				same = false;
			}
			i++;
			j++;
		}
	}
	return same;
}

size_t fd_count(void)
{
	struct fd_table t;
	size_t n;

	fd_table_snapshot(&t);
	n = t.n;
	fd_table_free(&t);
	return n;
}

int fd_highest(void)
{
	struct fd_table t;
	struct rlimit rl;
	int fd = -1;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	fd_table_snapshot(&t);
	for (size_t i = 0; i < t.n; i++)
		if ((rlim_t)t.entries[i].fd < rl.rlim_cur)
			fd = t.entries[i].fd;
	fd_table_free(&t);
	return fd;
}

/*
 * The fixture's recording. In CK_NOFORK mode a failing assertion in the
 * teardown jumps back into check, which runs the teardown again: the flag
 * makes the second run a no-op instead of a loop.
 */
static struct fd_table baseline;
static bool baseline_taken;

static void fd_setup(void)
{
	fd_table_snapshot(&baseline);
	baseline_taken = true;
}

static void fd_teardown(void)
{
	struct fd_table now;
	char diff[2048];
	bool same;

	if (!baseline_taken)
		return;
	baseline_taken = false;
	fd_table_snapshot(&now);
	same = fd_table_same(&baseline, &now, diff, sizeof(diff));
	fd_table_free(&now);
	fd_table_free(&baseline);
	ck_assert_msg(same, "fd table changed by the test: %s", diff);
}

TCase *fd_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, fd_setup, fd_teardown);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return tc;
}

const struct fd_table *fd_baseline(void)
{
	ck_assert(baseline_taken);
	return &baseline;
}

void fd_table_check_at(const struct fd_table *t, bool in_child,
		       const char *file, int line)
{
	struct fd_table now;
	char diff[1024];
	bool same;

	fd_table_snapshot(&now);
	same = fd_table_same(t, &now, diff, sizeof(diff));
	fd_table_free(&now);
	if (same)
		return;
	if (in_child)
		child_fail(file, line, "fd table changed: %s", diff);
	ck_abort_msg("%s:%d: fd table changed: %s", file, line, diff);
}

size_t baseline_inheritable(void)
{
	const struct fd_table *t = fd_baseline();
	struct rlimit rl;
	size_t n = 0;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	for (size_t i = 0; i < t->n; i++) {
		int fd = t->entries[i].fd;

		if (fd > 2 && (rlim_t)fd < rl.rlim_cur && fd_cloexec(fd) == 0)
			n++;
	}
	return n;
}

const char *fdcount_path(void)
{
	const char *prog = getenv("USOCK_TEST_FDCOUNT");

	ck_assert_msg(prog != NULL,
		      "USOCK_TEST_FDCOUNT is not set: run through meson test");
	return prog;
}

/* Parse fdcount's output ("N", then N lines "FD DEV INO") into r. */
static int fd_report_parse(char *text, struct fd_report *r)
{
	char *line, *save;

	line = strtok_r(text, "\n", &save);
	if (!line || sscanf(line, "%zu", &r->n) != 1 ||
	    r->n > sizeof(r->fds) / sizeof(r->fds[0]))
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		unsigned long long dev, ino;

		line = strtok_r(NULL, "\n", &save);
		if (!line || sscanf(line, "%d %llu %llu", &r->fds[i].fd, &dev,
				    &ino) != 3)
			return -1;
		r->fds[i].id.dev = (dev_t)dev;
		r->fds[i].id.ino = (ino_t)ino;
	}
	return strtok_r(NULL, "\n", &save) ? -1 : 0;
}

int fdcount_run(const char *prog, struct fd_report *r, char *err, size_t errlen)
{
	char text[16384];
	size_t len = 0;
	int out[2], status = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		if (dup2(out[1], STDOUT_FILENO) == STDOUT_FILENO)
			execl(prog, prog, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	while ((n = read(out[0], text + len, sizeof(text) - 1 - len)) > 0)
		len += (size_t)n;
	close(out[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "%s failed (pid %d, status %#x)", prog,
			 (int)pid, (unsigned)status);
		return -1;
	}
	text[len] = '\0';
	if (n < 0 || fd_report_parse(text, r) < 0) {
		snprintf(err, errlen, "%s: unreadable report", prog);
		return -1;
	}
	return 0;
}

bool fd_report_has(const struct fd_report *r, struct fid id)
{
	for (size_t i = 0; i < r->n; i++)
		if (fid_eq(r->fds[i].id, id))
			return true;
	return false;
}

/* ---- requirements ------------------------------------------------------ */

const char *need_root(void)
{
	static char why[96];

	if (geteuid() == 0)
		return NULL;
	snprintf(why, sizeof(why), "needs root to act as other users (euid %u)",
		 (unsigned)geteuid());
	return why;
}

const char *need_user_pid_namespaces(void)
{
	static char why[128];
	int p[2], e = -1;
	pid_t pid;

	/*
	 * Tried in a child (the namespaces would stick to this process),
	 * which writes unshare's errno (0 when it worked) into a pipe: its
	 * exit status is valgrind's to set when it finds a leak.
	 */
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, sizeof(why), "pipe2: %s", strerror(errno));
		return why;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		e = unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0 ? errno : 0;
		if (write(p[1], &e, sizeof(e)) != sizeof(e))
			_exit(1);
		close_fds_from(3);
		_exit(0);
	}
	close(p[1]);
	if (pid > 0) {
		if (read(p[0], &e, sizeof(e)) != sizeof(e))
			e = -1;
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	close(p[0]);
	if (e == 0)
		return NULL;
	snprintf(why, sizeof(why),
		 "may not create user and pid namespaces: unshare: %s",
		 e > 0 ? strerror(e) : "the probe failed");
	return why;
}

/* ---- children ---------------------------------------------------------- */

void child_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: child %d: check failed: ", file, line,
		(int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(99);
}

void child_drop_privileges(void)
{
	if (geteuid() != 0)
		return;
	CHILD_ASSERT(setgroups(0, NULL) == 0);
	CHILD_ASSERT(setgid(NOBODY) == 0);
	CHILD_ASSERT(setuid(NOBODY) == 0);
	CHILD_ASSERT_INT_EQ(geteuid(), NOBODY);
	CHILD_ASSERT_INT_EQ(getegid(), NOBODY);
}

uid_t unprivileged_uid(void)
{
	return geteuid() == 0 ? NOBODY : getuid();
}

gid_t unprivileged_gid(void)
{
	return geteuid() == 0 ? NOBODY : getgid();
}

bool child_set_nofile(unsigned long soft, const char *what)
{
	struct rlimit rl;

	CHILD_ASSERT(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = soft;
	CHILD_ASSERT(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (!what || kernel_nofile_soft_limit_is(soft))
		return true;
	fprintf(stderr,
		"note: RLIMIT_NOFILE not applied by the kernel "
		"(valgrind?): %s not checked\n",
		what);
	return false;
}

int child_fill_fd_holes(int highest, int *filler, int max)
{
	int n = 0;

	for (int fd = 3; fd < highest; fd++) {
		if (fd_is_open(fd))
			continue;
		CHILD_ASSERT(n < max);
		filler[n] = devnull();
		CHILD_ASSERT_INT_EQ(filler[n], fd);
		n++;
	}
	return n;
}

pid_t child_spawn(child_fn fn, void *arg)
{
	pid_t pid;

	/* Nothing buffered may be written twice. */
	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int rc = fn(arg);

		close_fds_from(3);
		_exit(rc);
	}
	return pid;
}

/* Reap pid (retrying on EINTR) and return its raw wait status. */
static int child_wait(pid_t pid)
{
	int status;
	pid_t r;

	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	ck_assert_msg(r == pid, "waitpid(%d): %s", (int)pid, strerror(errno));
	return status;
}

void child_wait_ok_at(pid_t pid, const char *file, int line)
{
	int status = child_wait(pid);

	if (WIFSIGNALED(status))
		ck_abort_msg("%s:%d: child %d killed by signal %d (%s)", file,
			     line, (int)pid, WTERMSIG(status),
			     strsignal(WTERMSIG(status)));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s:%d: child %d failed: exit status %d", file, line,
		      (int)pid, WEXITSTATUS(status));
}

/* ---- sockets, files ---------------------------------------------------- */

void pair_ok(int type, int flags, struct usock **a, struct usock **b)
{
	int r = usock_pair(type, flags, a, b);

	ck_assert_msg(r == 0, "usock_pair(%d, %d): %s", type, flags,
		      strerror(-r));
	ck_assert_ptr_nonnull(*a);
	ck_assert_ptr_nonnull(*b);
}

struct usock_msg *msg_new_ok(void)
{
	struct usock_msg *m = NULL;

	ck_assert_int_eq(usock_msg_new(&m), 0);
	ck_assert_ptr_nonnull(m);
	return m;
}

void msg_add_pipe_ok(struct usock_msg *m, int p[2])
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, p[0]), 0);
	ck_assert_int_eq(usock_msg_add_fd(m, p[1]), 0);
}

void send_fds_ok(struct usock *s, const void *buf, size_t len, const int *fds,
		 unsigned int n)
{
	struct usock_msg *m = msg_new_ok();
	ssize_t r;

	for (unsigned int i = 0; i < n; i++)
		ck_assert_int_eq(usock_msg_add_fd(m, fds[i]), 0);
	r = usock_send(s, buf, len, m);
	usock_msg_free(m);
	ck_assert_msg(r == (ssize_t)len,
		      "usock_send(%zu bytes, %u fds) = %zd (%s)", len, n, r,
		      r < 0 ? strerror((int)-r) : "short");
}

void wait_readable(struct usock *s, int timeout_ms)
{
	struct pollfd p = { .fd = usock_get_fd(s), .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	ck_assert_msg(r == 1, "nothing to read after %d ms (poll=%d)",
		      timeout_ms, r);
}

bool fid_of_fd(int fd, struct fid *ret)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return false;
	ret->dev = st.st_dev;
	ret->ino = st.st_ino;
	return true;
}

struct fid fid_of(int fd)
{
	struct fid f;

	ck_assert_msg(fid_of_fd(fd, &f), "fstat(%d): %s", fd, strerror(errno));
	return f;
}

bool fid_eq(struct fid a, struct fid b)
{
	return a.dev == b.dev && a.ino == b.ino;
}

pid_t pidfd_pid(int pidfd)
{
	char path[64], line[128];
	pid_t pid = -2;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		int v;

		if (sscanf(line, "Pid: %d", &v) == 1) {
			pid = v;
			break;
		}
	}
	fclose(f);
	return pid;
}

bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

int fd_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl < 0 ? -1 : !!(fl & FD_CLOEXEC);
}

int fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : !!(fl & O_NONBLOCK);
}

struct fid tmpfile_create(char *path, const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	struct fid f;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	ck_assert_int_lt(
		snprintf(path, TMP_PATH_MAX, "%s/usock-test-XXXXXX", dir),
		TMP_PATH_MAX);
	fd = mkostemp(path, O_CLOEXEC);
	ck_assert_msg(fd >= 0, "mkostemp %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	f = fid_of(fd);
	close(fd);
	return f;
}

void tmpdir_create(char *dir)
{
	const char *base = getenv("TMPDIR");

	if (!base || !*base)
		base = "/tmp";
	ck_assert_int_lt(
		snprintf(dir, TMP_PATH_MAX, "%s/usock-test-XXXXXX", base),
		TMP_PATH_MAX);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir,
		      strerror(errno));
	ck_assert_int_eq(chmod(dir, 0755), 0);
}

void abstract_name(char *buf, size_t len)
{
	static unsigned int n;

	ck_assert_int_lt(
		snprintf(buf, len, "@usock-test-%d-%u", (int)getpid(), n++),
		(int)len);
}

int closed_fd_number(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return fd;
}

int devnull(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void devnull_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		fds[i] = devnull();
		ck_assert_msg(fds[i] >= 0, "/dev/null: %s", strerror(errno));
	}
}

void close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int sockopt_int(int fd, int opt)
{
	socklen_t len = sizeof(int);
	int v = -1;

	ck_assert_msg(getsockopt(fd, SOL_SOCKET, opt, &v, &len) == 0,
		      "getsockopt(%d, %d): %s", fd, opt, strerror(errno));
	return v;
}

double now_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

bool inflight_busy(ssize_t r)
{
	const struct timespec ms = { .tv_nsec = 1000 * 1000 };

	if (r != -ETOOMANYREFS)
		return false;
	nanosleep(&ms, NULL);
	return true;
}

static void assert_ids(int32_t p, uint32_t u, uint32_t g, pid_t pid, uid_t uid,
		       gid_t gid)
{
	ck_assert_int_eq(p, pid);
	ck_assert_uint_eq(u, uid);
	ck_assert_uint_eq(g, gid);
}

void assert_msg_creds(const struct usock_msg *m, pid_t pid, uid_t uid,
		      gid_t gid)
{
	int32_t p = 0;
	uint32_t u = 0, g = 0;

	ck_assert_int_eq(usock_msg_get_creds(m, &p, &u, &g), 0);
	assert_ids(p, u, g, pid, uid, gid);
}

void assert_peer(const struct usock *s, pid_t pid, uid_t uid, gid_t gid)
{
	int32_t p = 0;
	uint32_t u = 0, g = 0;

	ck_assert_int_eq(usock_get_peer_creds(s, &p, &u, &g), 0);
	assert_ids(p, u, g, pid, uid, gid);
}

void assert_no_creds(const struct usock_msg *m)
{
	int32_t p = 42;
	uint32_t u = 42, g = 42;

	ck_assert_int_eq(usock_msg_get_creds(m, &p, &u, &g), -ENODATA);
	ck_assert_int_eq(p, 0);
	ck_assert_uint_eq(u, (uint32_t)-1);
	ck_assert_uint_eq(g, (uint32_t)-1);
}

void assert_nothing_queued_at(struct usock *s, const char *file, int line)
{
	struct pollfd p = { .fd = usock_get_fd(s), .events = POLLIN };
	int r = poll(&p, 1, 0);

	ck_assert_msg(r == 0,
		      "%s:%d: expected nothing queued, poll=%d revents=%#x",
		      file, line, r, (unsigned)p.revents);
}

void recv_ok_at(struct usock *s, size_t cap, struct usock_msg *m,
		const char *want, int nfds, const char *file, int line)
{
	char buf[256];
	size_t len = strlen(want);
	ssize_t r;

	ck_assert_uint_le(cap, sizeof(buf));
	r = usock_recv(s, buf, cap, m);
	ck_assert_msg(r == (ssize_t)len && memcmp(buf, want, len) == 0,
		      "%s:%d: usock_recv returned %zd \"%.*s\", want \"%s\"",
		      file, line, r, r > 0 ? (int)r : 0, buf, want);
	if (m && nfds >= 0)
		ck_assert_msg(usock_msg_get_nfds(m) == nfds,
			      "%s:%d: %d fds, want %d", file, line,
			      usock_msg_get_nfds(m), nfds);
}

bool kernel_nofile_soft_limit_is(unsigned long soft)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/self/limits", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long v;

		if (sscanf(line, "Max open files %lu", &v) == 1) {
			found = v == soft;
			break;
		}
	}
	fclose(f);
	return found;
}

void *thread_end(struct usock *s, struct usock_msg *m, int how)
{
	if (how >= 0)
		shutdown(usock_get_fd(s), how);
	usock_msg_free(m);
	return NULL;
}

int test_rounds(int n)
{
	const char *e = getenv("USOCK_TEST_SCALE");
	double scale = e ? strtod(e, NULL) : 1.0;
	double r = scale > 0 ? n * scale : n;

	return r < 1 ? 1 : (int)r;
}

bool kernel_opt_exists(int opt)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), v;
	socklen_t len = sizeof(v);
	bool ok;

	ck_assert_int_ge(fd, 0);
	ok = getsockopt(fd, SOL_SOCKET, opt, &v, &len) == 0 ||
	     errno != ENOPROTOOPT;
	close(fd);
	return ok;
}

/* ---- kernel features ---------------------------------------------------- */

void close_fds_from(int first)
{
	char buf[1024];
	bool closed_any = true;
	int dir;

	if (close_range((unsigned int)first, ~0U, 0) == 0)
		return;
	/*
	 * Before Linux 5.9: read /proc/self/fd with getdents64 (no malloc,
	 * so a child of a threaded process may use it) and start over
	 * after each pass that closed something, as closing shifts the
	 * directory.
	 */
	while (closed_any) {
		ssize_t n;

		closed_any = false;
		dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0)
			return;
		while ((n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) >
		       0) {
			for (ssize_t off = 0; off < n;) {
				struct dirent64 *d = (void *)(buf + off);
				int fd = atoi(d->d_name);

				off += d->d_reclen;
				if (d->d_name[0] < '0' || d->d_name[0] > '9' ||
				    fd < first || fd == dir)
					continue;
				close(fd);
				closed_any = true;
			}
		}
		close(dir);
	}
}

const char *kernel_personality(void)
{
	return getenv("USOCK_KERNEL_PERSONALITY");
}

bool kernel_has_pidfds(void)
{
	static int has = -1;

	if (has < 0)
		has = kernel_opt_exists(SO_PEERPIDFD);
	return has;
}

bool kernel_has_passrights(void)
{
	static int has = -1;

	if (has < 0)
		has = kernel_opt_exists(SO_PASSRIGHTS);
	return has;
}
