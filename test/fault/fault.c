/* SPDX-License-Identifier: MIT */
/*
 * The wrappers of the fault-injecting test build (see fault.h). The link
 * turns each reference the library's objects make to NAME into __wrap_NAME,
 * and __real_NAME into the libc function (or a sanitizer's interceptor of
 * it). This file is linked into that build only, so it must call
 * __real_NAME itself: a plain call would come back here.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"

/*
 * The real function and its wrapper share a prototype; declaring the wrapper
 * too satisfies -Wmissing-prototypes.
 */
#define DECLARE(ret, name, params)                                             \
	ret __real_##name params;                                              \
	ret __wrap_##name params

DECLARE(ssize_t, sendmsg, (int fd, const struct msghdr *msg, int flags));
DECLARE(int, sendmmsg,
	(int fd, struct mmsghdr *vec, unsigned int vlen, int flags));
DECLARE(int, fcntl, (int fd, int cmd, ...));
DECLARE(int, fcntl64, (int fd, int cmd, ...));
DECLARE(int, close, (int fd));
DECLARE(void *, malloc, (size_t size));
DECLARE(void *, calloc, (size_t n, size_t size));
DECLARE(char *, strdup, (const char *s));
DECLARE(void, free, (void *p));

static const char *const fn_names[FAULT_N_FN] = {
	[FAULT_SENDMSG] = "sendmsg",
	[FAULT_RECVMSG] = "recvmsg",
	[FAULT_SENDMMSG] = "sendmmsg",
	[FAULT_RECVMMSG] = "recvmmsg",
	[FAULT_SOCKET] = "socket",
	[FAULT_SOCKETPAIR] = "socketpair",
	[FAULT_ACCEPT4] = "accept4",
	[FAULT_CONNECT] = "connect",
	[FAULT_BIND] = "bind",
	[FAULT_LISTEN] = "listen",
	[FAULT_SETSOCKOPT] = "setsockopt",
	[FAULT_GETSOCKOPT] = "getsockopt",
	[FAULT_FCNTL] = "fcntl",
	[FAULT_CLOSE] = "close",
	[FAULT_MALLOC] = "malloc",
	[FAULT_CALLOC] = "calloc",
	[FAULT_STRDUP] = "strdup",
};

static const struct {
	int err;
	const char *name;
} err_names[] = {
	{ EINTR, "EINTR" },   { EAGAIN, "EAGAIN" },   { ENOMEM, "ENOMEM" },
	{ EMFILE, "EMFILE" }, { ENOBUFS, "ENOBUFS" }, { FAULT_SHORT, "SHORT" },
};

/* Calls per function; the armed fault; what fired. */
static unsigned long calls[FAULT_N_FN];
static int armed_fn = -1;
static unsigned long armed_nth;
static int armed_err;
static bool fired;
static struct fault_event event;

/* Which of the first SHORT_RECORD sendmsg/sendmmsg calls could be short. */
#define SHORT_RECORD 8192
static unsigned char shortable[2][SHORT_RECORD];

/* The library's live heap blocks. A list is enough: it holds a few. */
#define MAX_LIVE 4096
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static void *live[MAX_LIVE];
static long n_live;
static bool live_overflow;

const char *fault_fn_name(int fn)
{
	return fn >= 0 && fn < FAULT_N_FN ? fn_names[fn] : "?";
}

const char *fault_err_name(int err)
{
	for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
		if (err_names[i].err == err)
			return err_names[i].name;
	return "?";
}

void fault_reset(void)
{
	for (int i = 0; i < FAULT_N_FN; i++)
		__atomic_store_n(&calls[i], 0, __ATOMIC_SEQ_CST);
	armed_fn = -1;
	fired = false;
	memset(shortable, 0, sizeof(shortable));
}

void fault_arm(int fn, unsigned long nth, int err)
{
	armed_fn = fn;
	armed_nth = nth;
	armed_err = err;
	fired = false;
}

unsigned long fault_calls(int fn)
{
	return __atomic_load_n(&calls[fn], __ATOMIC_SEQ_CST);
}

bool fault_fired(struct fault_event *ev)
{
	if (fired && ev)
		*ev = event;
	return fired;
}

bool fault_shortable(int fn, unsigned long nth)
{
	int i = fn == FAULT_SENDMSG ? 0 : fn == FAULT_SENDMMSG ? 1 : -1;

	if (i < 0 || nth == 0 || nth > SHORT_RECORD)
		return false;
	return shortable[i][nth - 1];
}

/* Count a call of fn; true (and the errno in *err) if this one must fail. */
static bool hit(int fn, int detail, int *err)
{
	unsigned long n = __atomic_add_fetch(&calls[fn], 1, __ATOMIC_SEQ_CST);

	if (fn != armed_fn || n != armed_nth || fired)
		return false;
	fired = true;
	event = (struct fault_event){
		.fn = fn, .nth = n, .err = armed_err, .detail = detail
	};
	*err = armed_err;
	return true;
}

#define FAIL(err)                                                              \
	do {                                                                   \
		errno = (err);                                                 \
		return -1;                                                     \
	} while (0)

/* A wrapper that only counts the call, and fails it when armed to. */
#define PASS_WRAP(ret, name, fn, detail, params, args)                         \
	DECLARE(ret, name, params);                                            \
	ret __wrap_##name params                                               \
	{                                                                      \
		int err;                                                       \
                                                                               \
		if (hit(fn, detail, &err))                                     \
			FAIL(err);                                             \
		return __real_##name args;                                     \
	}

PASS_WRAP(ssize_t, recvmsg, FAULT_RECVMSG, flags,
	  (int fd, struct msghdr *msg, int flags), (fd, msg, flags));
PASS_WRAP(int, recvmmsg, FAULT_RECVMMSG, 0,
	  (int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
	   struct timespec *timeout),
	  (fd, vec, vlen, flags, timeout));
PASS_WRAP(int, socket, FAULT_SOCKET, 0, (int domain, int type, int protocol),
	  (domain, type, protocol));
PASS_WRAP(int, socketpair, FAULT_SOCKETPAIR, 0,
	  (int domain, int type, int protocol, int sv[2]),
	  (domain, type, protocol, sv));
PASS_WRAP(int, accept4, FAULT_ACCEPT4, 0,
	  (int fd, struct sockaddr *addr, socklen_t *len, int flags),
	  (fd, addr, len, flags));
PASS_WRAP(int, connect, FAULT_CONNECT, 0,
	  (int fd, const struct sockaddr *addr, socklen_t len),
	  (fd, addr, len));
PASS_WRAP(int, bind, FAULT_BIND, 0,
	  (int fd, const struct sockaddr *addr, socklen_t len),
	  (fd, addr, len));
PASS_WRAP(int, listen, FAULT_LISTEN, 0, (int fd, int backlog), (fd, backlog));
PASS_WRAP(int, setsockopt, FAULT_SETSOCKOPT, name,
	  (int fd, int level, int name, const void *val, socklen_t len),
	  (fd, level, name, val, len));
PASS_WRAP(int, getsockopt, FAULT_GETSOCKOPT, name,
	  (int fd, int level, int name, void *val, socklen_t *len),
	  (fd, level, name, val, len));

static void note_shortable(int which, int fn, bool can)
{
	unsigned long n = fault_calls(fn);

	if (n >= 1 && n <= SHORT_RECORD)
		shortable[which][n - 1] = can;
}

static int sock_type(int fd)
{
	int type = -1;
	socklen_t len = sizeof(type);

	if (__real_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -1;
	return type;
}

static size_t iov_total(const struct msghdr *msg)
{
	size_t n = 0;

	for (size_t i = 0; i < msg->msg_iovlen; i++)
		n += msg->msg_iov[i].iov_len;
	return n;
}

#define SHORT_MAX_IOV 16

static bool sendmsg_can_be_short(int fd, const struct msghdr *msg)
{
	return msg->msg_iovlen <= SHORT_MAX_IOV && iov_total(msg) >= 2 &&
	       sock_type(fd) == SOCK_STREAM;
}

/* Send the first half of the payload (with all the control data). */
static ssize_t short_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct iovec iov[SHORT_MAX_IOV];
	struct msghdr mh = *msg;
	size_t want = iov_total(msg) / 2, n = 0;
	ssize_t r;

	mh.msg_iov = iov;
	mh.msg_iovlen = 0;
	for (size_t i = 0; i < msg->msg_iovlen && n < want; i++) {
		iov[i] = msg->msg_iov[i];
		if (iov[i].iov_len > want - n)
			iov[i].iov_len = want - n;
		n += iov[i].iov_len;
		mh.msg_iovlen++;
	}
	r = __real_sendmsg(fd, &mh, flags);
	event.short_len = r;
	return r;
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	bool can = sendmsg_can_be_short(fd, msg);
	int err;

	if (hit(FAULT_SENDMSG, 0, &err)) {
		note_shortable(0, FAULT_SENDMSG, can);
		if (err != FAULT_SHORT)
			FAIL(err);
		if (can)
			return short_sendmsg(fd, msg, flags);
		/* Not applicable here: the call goes through whole. */
		event.short_len = -1;
		return __real_sendmsg(fd, msg, flags);
	}
	note_shortable(0, FAULT_SENDMSG, can);
	return __real_sendmsg(fd, msg, flags);
}

int __wrap_sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	int err;

	if (hit(FAULT_SENDMMSG, 0, &err)) {
		note_shortable(1, FAULT_SENDMMSG, vlen >= 2);
		if (err != FAULT_SHORT)
			FAIL(err);
		if (vlen >= 2) {
			int r = __real_sendmmsg(fd, vec, 1, flags);

			event.short_len = r;
			return r;
		}
		event.short_len = -1;
		return __real_sendmmsg(fd, vec, vlen, flags);
	}
	note_shortable(1, FAULT_SENDMMSG, vlen >= 2);
	return __real_sendmmsg(fd, vec, vlen, flags);
}

/*
 * The library's fcntl commands all take an int argument or none; fcntl64 is
 * what glibc's headers may redirect fcntl to.
 */
#define FCNTL_WRAP(name)                                                       \
	int __wrap_##name(int fd, int cmd, ...)                                \
	{                                                                      \
		va_list ap;                                                    \
		int arg, err;                                                  \
                                                                               \
		va_start(ap, cmd);                                             \
		arg = va_arg(ap, int);                                         \
		va_end(ap);                                                    \
		if (hit(FAULT_FCNTL, cmd, &err))                               \
			FAIL(err);                                             \
		return __real_##name(fd, cmd, arg);                            \
	}

FCNTL_WRAP(fcntl64)
FCNTL_WRAP(fcntl)

/* Linux releases the fd even when close() fails: so does the fault. */
int __wrap_close(int fd)
{
	int r = __real_close(fd), err;

	if (hit(FAULT_CLOSE, 0, &err))
		FAIL(err);
	return r;
}

static void *live_add(void *p)
{
	if (!p)
		return NULL;
	pthread_mutex_lock(&live_lock);
	if (n_live < MAX_LIVE)
		live[n_live++] = p;
	else
		live_overflow = true;
	pthread_mutex_unlock(&live_lock);
	return p;
}

static void live_del(void *p)
{
	pthread_mutex_lock(&live_lock);
	for (long i = n_live - 1; i >= 0; i--) {
		if (live[i] == p) {
			live[i] = live[--n_live];
			break;
		}
	}
	pthread_mutex_unlock(&live_lock);
}

long fault_live_allocs(void)
{
	long n;

	pthread_mutex_lock(&live_lock);
	n = live_overflow ? -1 : n_live;
	pthread_mutex_unlock(&live_lock);
	return n;
}

void fault_forget_allocs(void)
{
	pthread_mutex_lock(&live_lock);
	n_live = 0;
	live_overflow = false;
	pthread_mutex_unlock(&live_lock);
}

/* True, with errno set, if this allocation must fail. */
static bool alloc_fails(int fn)
{
	int err;

	if (!hit(fn, 0, &err))
		return false;
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t size)
{
	return alloc_fails(FAULT_MALLOC) ? NULL : live_add(__real_malloc(size));
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_fails(FAULT_CALLOC) ? NULL
					 : live_add(__real_calloc(n, size));
}

char *__wrap_strdup(const char *s)
{
	return alloc_fails(FAULT_STRDUP) ? NULL : live_add(__real_strdup(s));
}

void __wrap_free(void *p)
{
	if (p)
		live_del(p);
	__real_free(p);
}

/* ---- control through the environment ----------------------------------- */

static int parse_err(const char *s)
{
	for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
		if (strcmp(err_names[i].name, s) == 0)
			return err_names[i].err;
	return atoi(s);
}

__attribute__((constructor)) static void fault_from_env(void)
{
	const char *spec = getenv("USOCK_FAULT");
	char name[32], err[32];
	unsigned long nth;

	if (!spec)
		return;
	if (sscanf(spec, "%31[^:]:%lu:%31s", name, &nth, err) != 3) {
		fprintf(stderr, "USOCK_FAULT=%s: want NAME:N:ERR\n", spec);
		abort();
	}
	for (int fn = 0; fn < FAULT_N_FN; fn++) {
		if (strcmp(fn_names[fn], name) == 0) {
			fault_arm(fn, nth, parse_err(err));
			return;
		}
	}
	fprintf(stderr, "USOCK_FAULT: unknown function %s\n", name);
	abort();
}

__attribute__((destructor)) static void fault_count_to_env(void)
{
	const char *v = getenv("USOCK_FAULT_COUNT");

	if (!v || strcmp(v, "1") != 0)
		return;
	for (int fn = 0; fn < FAULT_N_FN; fn++)
		fprintf(stderr, "fault[%d]: %s %lu\n", (int)getpid(),
			fn_names[fn], fault_calls(fn));
	if (fired)
		fprintf(stderr, "fault[%d]: fired %s call %lu with %s\n",
			(int)getpid(), fn_names[event.fn], event.nth,
			fault_err_name(event.err));
}
