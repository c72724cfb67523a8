/* SPDX-License-Identifier: MIT */
/*
 * Shared test helpers: fd-table snapshots, a checked fixture that fails any
 * test leaving the fd table changed, a fork helper that reaps its child with
 * a status check, and small socket and file utilities.
 */
#ifndef USOCK_TEST_HELPERS_H
#define USOCK_TEST_HELPERS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "usock.h"

/* ---- the suite registry ------------------------------------------------- */

/*
 * Suites register themselves (the idea of libevdev's test runner): each
 * TEST_SUITE places a descriptor in the ELF section usock_test_suites, and
 * the one main (test-main.c) walks that section from __start_ to __stop_.
 * Adding a suite takes its TEST_SUITE in a C file and a line in the meson
 * list of suites (test/meson.build, test/fault/meson.build), which makes it
 * a meson test of its own selected with CK_RUN_SUITE.
 */
struct test_suite {
	const char *name;
	/* Adds the suite's TCases to s, made by main with the suite's name. */
	void (*fill)(Suite *s);
	/* NULL if the suite runs anywhere; else it returns NULL when it can
	 * run here and otherwise why not (main then skips it). */
	const char *(*unmet)(void);
};

/*
 * TEST_SUITE(name) { ...add TCases to s... } defines suite "name"; the body
 * is a function of Suite *s. TEST_SUITE_NEEDS(name, need) defines a suite
 * that runs only where need() returns NULL, e.g. need_root.
 */
#define TEST_SUITE_NEEDS(name, need)                                           \
	static void name##_suite(Suite *s);                                    \
	static const struct test_suite name##_registration __attribute__((     \
		used, section("usock_test_suites"),                            \
		aligned(sizeof(void *)))) = { #name, name##_suite, need };     \
	static void name##_suite(Suite *s)
#define TEST_SUITE(name) TEST_SUITE_NEEDS(name, NULL)

/*
 * Loop tests over socket types, _i being the USOCK_ type: every type, the
 * two that keep message boundaries (SEQPACKET, DGRAM), and the two that
 * connect (SEQPACKET, STREAM).
 */
#define tcase_add_types_test(tc, tf)                                           \
	tcase_add_loop_test((tc), tf, USOCK_SEQPACKET, USOCK_DGRAM + 1)
#define tcase_add_packet_test(tc, tf)                                          \
	do {                                                                   \
		tcase_add_loop_test((tc), tf, USOCK_SEQPACKET,                 \
				    USOCK_SEQPACKET + 1);                      \
		tcase_add_loop_test((tc), tf, USOCK_DGRAM, USOCK_DGRAM + 1);   \
	} while (0)
#define tcase_add_conn_test(tc, tf)                                            \
	tcase_add_loop_test((tc), tf, USOCK_SEQPACKET, USOCK_STREAM + 1)

/* Requirements for TEST_SUITE_NEEDS: NULL when met, else the reason. */
const char *need_root(void);
/* unshare(CLONE_NEWUSER | CLONE_NEWPID) works in a child of this process. */
const char *need_user_pid_namespaces(void);

/* ---- fd table ---------------------------------------------------------- */

/* File identity, compared by st_dev and st_ino. */
struct fid {
	dev_t dev;
	ino_t ino;
};

/* One open fd: its number and what /proc/self/fd/N points at. */
struct fd_entry {
	int fd;
	char target[96];
};

struct fd_table {
	size_t n;
	struct fd_entry *entries; /* sorted by fd; free with fd_table_free() */
};

/*
 * Snapshot /proc/self/fd (without the directory's own fd). Reads link names
 * instead of calling fstat so that no syscall touches fds that belong to
 * valgrind, which shows them in /proc but refuses their use.
 */
void fd_table_snapshot(struct fd_table *t);
void fd_table_free(struct fd_table *t);
/* Describe how b differs from a into buf; returns true if they are equal. */
bool fd_table_same(const struct fd_table *a, const struct fd_table *b,
		   char *buf, size_t len);
/* Number of open fds in this process. */
size_t fd_count(void);
/*
 * Highest open fd below the soft RLIMIT_NOFILE. Under valgrind the fds at or
 * above it are valgrind's own (it lowers the limit its client sees).
 */
int fd_highest(void);

/*
 * Every TCase is made by fd_tcase, which adds it to suite s with the checked
 * fixture below: every test starts by recording the fd table and ends by
 * asserting it is unchanged (same count, same numbers, same targets).
 * fd_baseline() returns that recording.
 */
TCase *fd_tcase(Suite *s, const char *name);
const struct fd_table *fd_baseline(void);

/*
 * The fd table is t right now (numbers and targets), or the test fails:
 * with ck_assert, or in a forked child (in_child) through child_fail.
 */
#define assert_fd_table_is(t) fd_table_check_at((t), false, __FILE__, __LINE__)
#define CHILD_ASSERT_FD_TABLE_IS(t)                                            \
	fd_table_check_at((t), true, __FILE__, __LINE__)
void fd_table_check_at(const struct fd_table *t, bool in_child,
		       const char *file, int line);

/*
 * Fds above 2 in the fixture's recording that an exec would keep. Fds at or
 * above the soft RLIMIT_NOFILE are valgrind's own (it lowers the limit its
 * client sees and keeps its fds above): not ours, and close-on-exec anyway.
 */
size_t baseline_inheritable(void);

/* What the fdcount helper (USOCK_TEST_FDCOUNT) reports: the fds a program
 * inherited across exec beyond 0, 1 and 2, with their files. */
struct fd_report {
	size_t n;
	struct {
		int fd;
		struct fid id;
	} fds[256];
};

/* The fdcount helper's path; fails the test when meson did not give it. */
const char *fdcount_path(void);
/*
 * fork and exec the fdcount helper prog and parse its report into r.
 * Returns 0, or -1 with the reason in err. It makes no ck_assert and the
 * child only async-signal-safe calls, so threads may use it while others
 * run.
 */
int fdcount_run(const char *prog, struct fd_report *r, char *err,
		size_t errlen);
bool fd_report_has(const struct fd_report *r, struct fid id);

/* ---- children ---------------------------------------------------------- */

/*
 * Run fn(arg) in a forked child. The child never returns into check: its
 * result becomes the exit status, after every fd above 2 is closed (so that
 * valgrind's --track-fds does not report the parent's fds as the child's).
 * Use the CHILD_* macros in the child instead of ck_assert: in CK_NOFORK mode
 * a ck_assert failure in the child would jump back into the test runner.
 */
typedef int (*child_fn)(void *arg);
pid_t child_spawn(child_fn fn, void *arg);
/* Reap pid and fail the test unless it exited with status 0. */
#define child_wait_ok(pid) child_wait_ok_at((pid), __FILE__, __LINE__)
void child_wait_ok_at(pid_t pid, const char *file, int line);

__attribute__((noreturn, format(printf, 3, 4))) void
child_fail(const char *file, int line, const char *fmt, ...);

#define CHILD_ASSERT(expr)                                                     \
	do {                                                                   \
		if (!(expr))                                                   \
			child_fail(__FILE__, __LINE__, "%s", #expr);           \
	} while (0)

#define CHILD_ASSERT_INT_EQ(a, b)                                              \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		if (a_ != b_)                                                  \
			child_fail(__FILE__, __LINE__,                         \
				   "%s == %s (%lld != %lld)", #a, #b, a_, b_); \
	} while (0)

/*
 * The two ends of a pair that a forked child talks over: the child uses
 * mine and closes theirs, the parent the other way round.
 */
struct child_pair {
	struct usock *mine, *theirs;
};

/*
 * Threads cannot use ck_assert (check's failure path is not thread-safe): a
 * thread records its first failure in a struct thread_failure and jumps to
 * its label fail, where it shuts its socket down so that the thread on the
 * other end is not left blocked; the test then asserts that none failed.
 */
struct thread_failure {
	char what[200];
};

#define T_FAIL(f, ...)                                                         \
	do {                                                                   \
		snprintf((f)->what, sizeof((f)->what), __VA_ARGS__);           \
		goto fail;                                                     \
	} while (0)
#define T_CHECK_EQ(f, x, y)                                                    \
	do {                                                                   \
		long long x_ = (long long)(x), y_ = (long long)(y);            \
		if (x_ != y_)                                                  \
			T_FAIL(f, "line %d: %s == %s (%lld != %lld)",          \
			       __LINE__, #x, #y, x_, y_);                      \
	} while (0)
#define assert_thread_ok(who, f)                                               \
	ck_assert_msg((f)->what[0] == '\0', "%s thread: %s", (who), (f)->what)
/*
 * A thread's way out: frees m and returns NULL for the thread to return;
 * from its label fail (how >= 0) it first shuts s down with how.
 */
void *thread_end(struct usock *s, struct usock_msg *m, int how);

/* n scaled by the environment's USOCK_TEST_SCALE (a positive number,
 * default 1), at least 1: CI runs the threaded tests longer. */
int test_rounds(int n);

/* Does the kernel know the SOL_SOCKET option opt (not ENOPROTOOPT)? */
bool kernel_opt_exists(int opt);

/* uid and gid of the unprivileged identity tests drop to. */
#define NOBODY 65534
/*
 * In a child: if root, become an ordinary process of uid/gid NOBODY with no
 * supplementary groups (and so no capabilities); otherwise it already is
 * unprivileged and nothing changes.
 */
void child_drop_privileges(void);
/* The uid and gid a child has after child_drop_privileges(): NOBODY when
 * the test runs as root, else the test's own (the tests never run set-id,
 * so the real and effective ids are the same). */
uid_t unprivileged_uid(void);
gid_t unprivileged_gid(void);

/*
 * In a child: set the soft RLIMIT_NOFILE (the hard limit stays, so it can
 * go back up). Returns whether the kernel applied it: valgrind keeps
 * setrlimit(RLIMIT_NOFILE) to itself, and then a note says that what (the
 * check that needs the limit) is not checked. With what NULL it only sets
 * the limit and returns true.
 */
bool child_set_nofile(unsigned long soft, const char *what);
/*
 * In a child: open /dev/null into every free slot from 3 up to below
 * highest, into filler[] (max entries); returns how many.
 */
int child_fill_fd_holes(int highest, int *filler, int max);

/* ---- sockets, files -------------------------------------------------- */

/* usock_pair() that fails the test on error. */
void pair_ok(int type, int flags, struct usock **a, struct usock **b);
/* usock_msg_new() that fails the test on error. */
struct usock_msg *msg_new_ok(void);
/* A new pipe p, both ends added to m (p[0] first); fails the test on error. */
void msg_add_pipe_ok(struct usock_msg *m, int p[2]);

/* Send buf with the n fds in one message; fails the test unless all of
 * len was sent. */
void send_fds_ok(struct usock *s, const void *buf, size_t len, const int *fds,
		 unsigned int n);
/* Block until s is readable (or fail after timeout_ms). */
void wait_readable(struct usock *s, int timeout_ms);

struct fid fid_of(int fd); /* ck_asserts that fstat works */
bool fid_eq(struct fid a, struct fid b);
bool fid_of_fd(int fd, struct fid *ret); /* no assertion; for children */

/* The pid a pidfd refers to, from /proc/self/fdinfo ("Pid:"); -1 if the
 * process is gone, -2 if fd is no pidfd. */
pid_t pidfd_pid(int pidfd);

/* The fd is open (fcntl F_GETFD works). */
bool fd_is_open(int fd);
/* FD_CLOEXEC set on fd; -1 if not open. */
int fd_cloexec(int fd);
/* O_NONBLOCK set on fd; -1 if not open. */
int fd_nonblock(int fd);

/*
 * Create a temporary regular file holding len bytes of data; the path is
 * written to path (TMP_PATH_MAX bytes), the identity returned. The caller
 * unlinks it.
 */
#define TMP_PATH_MAX 256
struct fid tmpfile_create(char *path, const void *data, size_t len);

/* Create a temporary directory (mode 0755, so that a child that dropped
 * privileges can reach what is in it) into dir (TMP_PATH_MAX bytes). The
 * caller removes it. */
void tmpdir_create(char *dir);
/* A fresh abstract socket name, "@usock-test-<pid>-<n>", into buf. */
void abstract_name(char *buf, size_t len);

/* An fd number that is not open right now. */
int closed_fd_number(void);

/* /dev/null opened read-only and close-on-exec: an fd to send. */
int devnull(void);
/* n of them into fds (fails the test if one does not open), and closing
 * n fds. */
void devnull_fds(int *fds, int n);
void close_fds(const int *fds, int n);

/* lstat works on path: something is there, whatever it is. */
bool path_exists(const char *path);
/* getsockopt(SOL_SOCKET, opt) of an int option; fails the test on error. */
int sockopt_int(int fd, int opt);
/* Seconds on CLOCK_MONOTONIC. */
double now_seconds(void);
/*
 * Whether a send's result r is -ETOOMANYREFS, after a millisecond's sleep:
 * the caller then sends again. An unprivileged user may have only about
 * RLIMIT_NOFILE fds in flight, counted across all of its processes, so the
 * tests that a distro build runs side by side as one user refuse each
 * other's fds until their receivers drain. For the tests that move many
 * fds; the tests of the limit itself assert it.
 */
bool inflight_busy(ssize_t r);

/* The message carries these credentials (usock_msg_get_creds). */
void assert_msg_creds(const struct usock_msg *m, pid_t pid, uid_t uid,
		      gid_t gid);
/* It carries none: -ENODATA, with pid 0 and uid and gid -1. */
void assert_no_creds(const struct usock_msg *m);
/* The peer of s is this (usock_get_peer_creds). */
void assert_peer(const struct usock *s, pid_t pid, uid_t uid, gid_t gid);

/* Nothing is queued for reading on s (poll without POLLIN). */
#define assert_nothing_queued(s)                                               \
	assert_nothing_queued_at((s), __FILE__, __LINE__)
void assert_nothing_queued_at(struct usock *s, const char *file, int line);

/*
 * usock_recv(s, buf, cap, m) returns exactly the bytes of want; then, if m
 * is not NULL and nfds >= 0, m holds nfds fds.
 */
#define recv_ok(s, cap, m, want, nfds)                                         \
	recv_ok_at((s), (cap), (m), (want), (nfds), __FILE__, __LINE__)
void recv_ok_at(struct usock *s, size_t cap, struct usock_msg *m,
		const char *want, int nfds, const char *file, int line);

/*
 * Whether the kernel's soft RLIMIT_NOFILE is soft, read back from
 * /proc/self/limits. valgrind fakes setrlimit(RLIMIT_NOFILE) for its client
 * without telling the kernel, so tests that need the kernel to run out of
 * fd slots check this first.
 */
bool kernel_nofile_soft_limit_is(unsigned long soft);

/* ---- kernel features ---------------------------------------------------- */

/*
 * What the running kernel has, probed once per process. Tests assert the
 * documented fallback where a feature is missing; test/kernel/ imitates
 * kernels without them.
 */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif
/* SO_PEERPIDFD, SO_PASSPIDFD and SCM_PIDFD (Linux 6.5). */
bool kernel_has_pidfds(void);
/* SO_PASSRIGHTS (Linux 6.16). */
bool kernel_has_passrights(void);
/*
 * The kernel version test/kernel/usock-kernel-personality imitates, NULL
 * when the tests run on the kernel as it is. Its filter answers before the
 * kernel looks at the arguments, which a test may need to know.
 */
const char *kernel_personality(void);
/*
 * Close every fd from first up, also where close_range (Linux 5.9) is
 * missing. Async-signal-safe: for children of threaded processes.
 */
void close_fds_from(int first);

#endif /* USOCK_TEST_HELPERS_H */
