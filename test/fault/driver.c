/* SPDX-License-Identifier: MIT */
/*
 * The fault driver. For each scenario: one run without a fault counts the
 * library's calls of every wrapped function; then one run per call (the Nth
 * call of function F, for every N) and per errno, with that call failing.
 * After every run the fd table must equal the one before the sweep and the
 * library must hold no heap block; under ASan (LSan) or valgrind the heap is
 * checked once more at exit.
 *
 *   usock-fault-driver [--sample] [--scenario NAME] [--fault FN:N:ERR] [-v]
 *
 * By default every call site gets every errno (EINTR, EAGAIN, ENOMEM,
 * EMFILE, ENOBUFS; ENOMEM alone for allocations) plus a short transfer where
 * the socket type allows one. --sample (or USOCK_FAULT_SAMPLE=1) gives each
 * call site one errno in turn and takes at most 16 calls of one function
 * per scenario (the 253 closes of a full message are much alike): that is
 * meson's default test, quick enough for valgrind. USOCK_FAULT_FULL=1 asks
 * for the full sweep whatever the rest says: CI's fault leg runs
 * `USOCK_FAULT_FULL=1 meson test --suite fault` under ASan.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../errno/record.h"
#include "driver.h"
#include "fault.h"

/* glibc 2.36 lacks it (Linux 6.5). */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static const int errs[] = { EINTR, EAGAIN, ENOMEM, EMFILE, ENOBUFS };
#define N_ERRS (sizeof(errs) / sizeof(errs[0]))

const char *fault_dir;

/* ---- the current run -------------------------------------------------- */

static struct {
	const char *scenario;
	int arg;
	bool armed;
	int fn;
	unsigned long nth;
	int err;
} cur;

static bool fired_at_begin;
static unsigned long violations;
static bool verbose;
#define MAX_PRINTED 1000

static void describe_run(char *buf, size_t len)
{
	if (cur.armed)
		snprintf(buf, len, "%s/%d with %s call %lu failing (%s)",
			 cur.scenario, cur.arg, fault_fn_name(cur.fn), cur.nth,
			 fault_err_name(cur.err));
	else
		snprintf(buf, len, "%s/%d without a fault", cur.scenario,
			 cur.arg);
}

void violation(const char *file, int line, const char *fmt, ...)
{
	char run[160];
	va_list ap;

	if (violations++ >= MAX_PRINTED)
		return;
	describe_run(run, sizeof(run));
	fprintf(stderr, "FAIL %s:%d: %s: ", file, line, run);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void op_begin(void)
{
	fired_at_begin = fault_fired(NULL);
}

/*
 * Whether the kernel (or libc, for the allocators) can really fail the
 * faulted call fn with err: the driver injects its five errnos everywhere,
 * but a page lists only what can happen. From the functions' man pages and
 * Linux's net/unix/af_unix.c: bind takes an interruptible lock; of the
 * socket options only SO_PEERPIDFD makes an fd; close may be interrupted.
 */
static bool injection_is_real(const struct fault_event *ev)
{
	switch (ev->fn) {
	case FAULT_SENDMSG:
	case FAULT_SENDMMSG:
		return ev->err != EMFILE;
	case FAULT_RECVMSG:
	case FAULT_RECVMMSG:
		return ev->err == EINTR || ev->err == EAGAIN ||
		       ev->err == ENOMEM;
	case FAULT_SOCKET:
	case FAULT_SOCKETPAIR:
		return ev->err == EMFILE || ev->err == ENOBUFS ||
		       ev->err == ENOMEM;
	case FAULT_ACCEPT4:
		return true;
	case FAULT_CONNECT:
		return ev->err == EINTR || ev->err == EAGAIN ||
		       ev->err == ENOMEM;
	case FAULT_BIND:
		return ev->err == EINTR || ev->err == ENOMEM;
	case FAULT_GETSOCKOPT:
		return ev->detail == SO_PEERPIDFD &&
		       (ev->err == EMFILE || ev->err == ENOMEM);
	case FAULT_CLOSE:
		return ev->err == EINTR;
	case FAULT_MALLOC:
	case FAULT_CALLOC:
	case FAULT_STRDUP:
		return ev->err == ENOMEM;
	default: /* listen, setsockopt, fcntl: none of the five */
		return false;
	}
}

/*
 * The errno recorder's hook (test/errno/record.h): r, a call's result, is
 * the errno that the fault of this call injected where the kernel could
 * not have returned it. Such a pair is the seam's artefact, not a fact
 * for the man page.
 */
bool errno_record_artefact(long long r)
{
	struct fault_event ev;

	return fault_fired(&ev) && !fired_at_begin && ev.err != FAULT_SHORT &&
	       r == -ev.err && !injection_is_real(&ev);
}

static bool matches(long long r, long long want, long long alt)
{
	if (want == WANT_NONNEG)
		return r >= 0;
	return r == want || (alt != NO_ALT && r == alt);
}

static const char *want_str(long long want, char *buf, size_t len)
{
	if (want == WANT_NONNEG)
		snprintf(buf, len, ">= 0");
	else
		snprintf(buf, len, "%lld", want);
	return buf;
}

enum outcome {
	OUT_ERRNO, /* the injected errno comes back */
	OUT_SAME, /* ignored by design: as if nothing happened */
	OUT_RETRIED, /* EINTR: retried, as if nothing happened */
	OUT_SHORT, /* the short count comes back */
	OUT_NOMEM, /* -ENOMEM */
	OUT_ADDRINUSE, /* usock_listen's probe: -EADDRINUSE */
	OUT_EOF_PROBE, /* recv's end-of-file probe: 0 or -EPIPE */
};

static bool is_retried(int fn)
{
	switch (fn) {
	case FAULT_SENDMSG:
	case FAULT_RECVMSG:
	case FAULT_SENDMMSG:
	case FAULT_RECVMMSG:
	case FAULT_CONNECT:
	case FAULT_ACCEPT4:
		return true;
	default:
		return false;
	}
}

static enum outcome outcome_of(const struct fault_event *ev, const char *expr)
{
	bool in_recv = strncmp(expr, "usock_recv", 10) == 0;

	if (ev->fn == FAULT_CLOSE)
		return OUT_SAME;
	if (ev->err == FAULT_SHORT)
		return OUT_SHORT;
	if (ev->fn == FAULT_MALLOC || ev->fn == FAULT_CALLOC ||
	    ev->fn == FAULT_STRDUP)
		return OUT_NOMEM;
	/* usock_listen() connects only to probe a stale socket file. */
	if (ev->fn == FAULT_CONNECT && strncmp(expr, "usock_listen(", 13) == 0)
		return OUT_ADDRINUSE;
	/* recv's end-of-file test after an empty message: SO_PASSCRED is
	 * read only to be sure, and the peek at the next message is a
	 * heuristic (documented as ambiguous) that cannot be interrupted
	 * (MSG_DONTWAIT). Either answer, empty message or end, will do. */
	if (in_recv && ev->fn == FAULT_RECVMSG && (ev->detail & MSG_PEEK))
		return OUT_EOF_PROBE;
	if (in_recv && ev->fn == FAULT_GETSOCKOPT && ev->detail == SO_PASSCRED)
		return OUT_SAME;
	if (ev->err == EINTR && is_retried(ev->fn))
		return OUT_RETRIED;
	/* usock_release_fd() hands the fd over whatever happens: turning
	 * the library's SO_PASSCRED off again is best effort. */
	if (ev->fn == FAULT_SETSOCKOPT && ev->detail == SO_PASSCRED &&
	    strncmp(expr, "usock_release_fd(", 17) == 0)
		return OUT_SAME;
	/* Anything else, including reading the receive options in adopt and
	 * accept: a handle whose policy disagrees with its socket would lose
	 * messages (a quota sized without room for credentials), so the
	 * failure is the call's failure. */
	return OUT_ERRNO;
}

long long op_end(const char *expr, const char *file, int line, long long r,
		 long long want, long long alt)
{
	struct fault_event ev;
	char w[32];

	if (!fault_fired(&ev) || fired_at_begin) {
		if (!matches(r, want, alt))
			violation(file, line, "%s = %lld, want %s", expr, r,
				  want_str(want, w, sizeof(w)));
		return r;
	}
	switch (outcome_of(&ev, expr)) {
	case OUT_SAME:
		if (!matches(r, want, alt))
			violation(file, line,
				  "%s = %lld, want %s (the failure is to be "
				  "ignored)",
				  expr, r, want_str(want, w, sizeof(w)));
		break;
	case OUT_RETRIED:
		if (!matches(r, want, alt))
			violation(file, line,
				  "%s = %lld, want %s (EINTR is to be retried)",
				  expr, r, want_str(want, w, sizeof(w)));
		else if (fault_calls(ev.fn) <= ev.nth)
			violation(file, line, "%s: EINTR not retried", expr);
		break;
	case OUT_SHORT:
		if (ev.short_len <= 0 || r != ev.short_len)
			violation(file, line, "%s = %lld, want the short %ld",
				  expr, r, ev.short_len);
		break;
	case OUT_NOMEM:
		if (r != -ENOMEM)
			violation(file, line, "%s = %lld, want -ENOMEM", expr,
				  r);
		break;
	case OUT_EOF_PROBE:
		if (!matches(r, want, alt) &&
		    !((want == 0 || want == -EPIPE) && (r == 0 || r == -EPIPE)))
			violation(file, line, "%s = %lld, want %s, 0 or -EPIPE",
				  expr, r, want_str(want, w, sizeof(w)));
		break;
	case OUT_ADDRINUSE:
		if (r != -EADDRINUSE)
			violation(file, line, "%s = %lld, want -EADDRINUSE",
				  expr, r);
		break;
	case OUT_ERRNO:
		if (r != -ev.err)
			violation(file, line, "%s = %lld, want -%s", expr, r,
				  fault_err_name(ev.err));
		break;
	}
	return r;
}

/* ---- fd table ---------------------------------------------------------- */

#define MAX_FDS 1024

struct fdtab {
	int n;
	int fd[MAX_FDS];
	char target[MAX_FDS][64];
};

static void fdtab_snap(struct fdtab *t)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d) {
		perror("opendir /proc/self/fd");
		exit(1);
	}
	t->n = 0;
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		ssize_t n;

		if (de->d_name[0] == '.' || fd == dirfd(d) || t->n == MAX_FDS)
			continue;
		t->fd[t->n] = fd;
		n = readlinkat(dirfd(d), de->d_name, t->target[t->n],
			       sizeof(t->target[0]) - 1);
		t->target[t->n][n < 0 ? 0 : n] = '\0';
		t->n++;
	}
	closedir(d);
}

static int fdtab_find(const struct fdtab *t, int fd)
{
	for (int i = 0; i < t->n; i++)
		if (t->fd[i] == fd)
			return i;
	return -1;
}

/* Report how now differs from base; close what was leaked so the sweep
 * can go on. Returns true when they are equal. */
static bool fdtab_check(const struct fdtab *base)
{
	static struct fdtab now;
	bool same = true;

	fdtab_snap(&now);
	for (int i = 0; i < now.n; i++) {
		int j = fdtab_find(base, now.fd[i]);

		if (j >= 0 && strcmp(base->target[j], now.target[i]) == 0)
			continue;
		violation(__FILE__, __LINE__, "fd %d (%s) %s", now.fd[i],
			  now.target[i], j < 0 ? "leaked" : "replaced");
		same = false;
		if (j < 0)
			close(now.fd[i]);
	}
	for (int j = 0; j < base->n; j++) {
		if (fdtab_find(&now, base->fd[j]) < 0) {
			violation(__FILE__, __LINE__, "fd %d (%s) closed",
				  base->fd[j], base->target[j]);
			same = false;
		}
	}
	return same;
}

/* ---- the sweep --------------------------------------------------------- */

static void on_alarm(int sig)
{
	char run[160], msg[256];
	int n;

	(void)sig;
	describe_run(run, sizeof(run));
	n = snprintf(msg, sizeof(msg), "FAIL: %s: hung (no result in 20 s)\n",
		     run);
	if (write(STDERR_FILENO, msg, (size_t)n) < 0)
		_exit(2);
	_exit(1);
}

static struct fdtab baseline;

/* One run of sc with the fault armed (fn < 0: none); checks after it. */
static bool run_once(const struct scenario *sc, int fn, unsigned long nth,
		     int err)
{
	unsigned long before = violations;
	long live;

	cur.scenario = sc->name;
	cur.arg = sc->arg;
	cur.armed = fn >= 0;
	cur.fn = fn;
	cur.nth = nth;
	cur.err = err;
	fault_reset();
	fault_forget_allocs();
	if (fn >= 0)
		fault_arm(fn, nth, err);
	alarm(20);
	sc->run(sc->arg);
	alarm(0);
	fdtab_check(&baseline);
	live = fault_live_allocs();
	if (live != 0)
		violation(__FILE__, __LINE__,
			  "the library holds %ld heap blocks after the run",
			  live);
	return violations == before;
}

struct totals {
	unsigned long sites, runs, not_reached;
	unsigned long by_err[N_ERRS + 1]; /* the last: SHORT */
	unsigned long by_fn[FAULT_N_FN];
};

/*
 * In the sampled sweep, at most SAMPLE_SITES calls of one function per
 * scenario, evenly spread from the first to the last.
 */
#define SAMPLE_SITES 16

static bool sampled(unsigned long n, unsigned long count)
{
	if (count <= SAMPLE_SITES)
		return true;
	for (unsigned long i = 0; i < SAMPLE_SITES; i++)
		if (n == 1 + i * (count - 1) / (SAMPLE_SITES - 1))
			return true;
	return false;
}

static void sweep(const struct scenario *sc, bool sample, struct totals *t)
{
	unsigned long count[FAULT_N_FN];
	static unsigned char can_short[2][8192];
	struct fault_event ev;

	if (!run_once(sc, -1, 0, 0)) {
		fprintf(stderr, "FAIL: %s/%d fails without a fault\n", sc->name,
			sc->arg);
		return;
	}
	for (int fn = 0; fn < FAULT_N_FN; fn++)
		count[fn] = fault_calls(fn);
	for (unsigned long n = 1; n <= 8192; n++) {
		can_short[0][n - 1] = fault_shortable(FAULT_SENDMSG, n);
		can_short[1][n - 1] = fault_shortable(FAULT_SENDMMSG, n);
	}
	if (verbose) {
		printf("%s/%d:", sc->name, sc->arg);
		for (int fn = 0; fn < FAULT_N_FN; fn++)
			if (count[fn])
				printf(" %s %lu", fault_fn_name(fn), count[fn]);
		printf("\n");
	}

	for (int fn = 0; fn < FAULT_N_FN; fn++) {
		bool alloc = fn == FAULT_MALLOC || fn == FAULT_CALLOC ||
			     fn == FAULT_STRDUP;

		for (unsigned long n = 1; n <= count[fn]; n++) {
			int shortable = -1;

			t->sites++;
			if (fn == FAULT_SENDMSG || fn == FAULT_SENDMMSG)
				shortable =
					n <= 8192 &&
					can_short[fn == FAULT_SENDMMSG][n - 1];
			for (size_t e = 0; e <= N_ERRS; e++) {
				int err = e < N_ERRS ? errs[e] : FAULT_SHORT;

				if (alloc && err != ENOMEM)
					continue;
				if (err == FAULT_SHORT && shortable != 1)
					continue;
				if (sample && !sampled(n, count[fn]))
					continue;
				if (sample && !alloc && err != FAULT_SHORT &&
				    e != (n + (unsigned long)fn) % N_ERRS)
					continue;
				run_once(sc, fn, n, err);
				t->runs++;
				t->by_err[e]++;
				t->by_fn[fn]++;
				if (!fault_fired(&ev))
					t->not_reached++;
			}
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: usock-fault-driver [--sample] [--scenario NAME]"
			" [--fault FN:N:ERR] [-v]\n");
	exit(2);
}

static int parse_fault(const char *spec, int *fn, unsigned long *nth, int *err)
{
	char name[32], e[32];

	if (sscanf(spec, "%31[^:]:%lu:%31s", name, nth, e) != 3)
		return -1;
	*fn = -1;
	for (int i = 0; i < FAULT_N_FN; i++)
		if (strcmp(name, fault_fn_name(i)) == 0)
			*fn = i;
	*err = 0;
	for (size_t i = 0; i <= N_ERRS; i++) {
		int v = i < N_ERRS ? errs[i] : FAULT_SHORT;

		if (strcmp(e, fault_err_name(v)) == 0)
			*err = v;
	}
	return *fn < 0 || *err == 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *only = NULL, *one = NULL, *s = getenv("USOCK_FAULT_SAMPLE");
	const char *full = getenv("USOCK_FAULT_FULL");
	bool sample = s && strcmp(s, "1") == 0;
	struct totals t = { 0 };
	const char *tmp = getenv("TMPDIR");
	char dir[256];
	struct timespec t0, t1;
	size_t ran = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--sample") == 0)
			sample = true;
		else if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--fault") == 0 && i + 1 < argc)
			one = argv[++i];
		else
			usage();
	}
	/* CI's fault leg asks for the full sweep through meson test. */
	if (full && strcmp(full, "1") == 0)
		sample = false;
	/* Socket paths go in there: a long TMPDIR would not fit in one. */
	snprintf(dir, sizeof(dir), "%s/usock-fault.XXXXXX",
		 tmp && *tmp && strlen(tmp) < 64 ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	fault_dir = dir;
	/* SIGPIPE keeps its default action: the library promises
	 * MSG_NOSIGNAL, so a send that raised it would kill the driver. */
	signal(SIGALRM, on_alarm);
	setvbuf(stdout, NULL, _IOLBF, 0);
	fdtab_snap(&baseline);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (size_t i = 0; i < n_scenarios; i++) {
		const struct scenario *sc = &scenarios[i];
		int fn, err;
		unsigned long nth;

		if (only && strcmp(only, sc->name) != 0)
			continue;
		ran++;
		if (one) {
			if (parse_fault(one, &fn, &nth, &err) < 0)
				usage();
			run_once(sc, fn, nth, err);
			printf("%s/%d: %s call %lu %s: %s\n", sc->name, sc->arg,
			       fault_fn_name(fn), nth, fault_err_name(err),
			       fault_fired(NULL) ? "fired" : "not reached");
			continue;
		}
		sweep(sc, sample, &t);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rmdir(dir);
	if (ran == 0) {
		fprintf(stderr, "no scenario named %s\n", only ? only : "");
		return 1;
	}

	if (!one) {
		printf("fault: %zu scenario runs, %lu call sites, %lu "
		       "injected-fault runs (%s) in %.1f s\n",
		       ran, t.sites, t.runs, sample ? "sampled" : "full",
		       (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		printf("fault: by errno:");
		for (size_t e = 0; e <= N_ERRS; e++)
			printf(" %s %lu",
			       fault_err_name(e < N_ERRS ? errs[e]
							 : FAULT_SHORT),
			       t.by_err[e]);
		printf("\nfault: by function:");
		for (int fn = 0; fn < FAULT_N_FN; fn++)
			printf(" %s %lu", fault_fn_name(fn), t.by_fn[fn]);
		printf("\n");
		if (t.not_reached)
			printf("fault: %lu runs ended before the armed call "
			       "(the path changed)\n",
			       t.not_reached);
	}
	printf("fault: %lu violations\n", violations);
	return violations ? 1 : 0;
}
