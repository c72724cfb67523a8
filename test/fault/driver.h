/* SPDX-License-Identifier: MIT */
/*
 * The fault driver's scenarios and the checks they make. A scenario is a
 * short program against the library's API; every API call goes through OP(),
 * which knows whether the one armed fault fired inside that call and so what
 * the call must return:
 *   - no fault fired: exactly the value the scenario expects;
 *   - EINTR in a call the library documents as retried (sendmsg, recvmsg,
 *     sendmmsg, recvmmsg, connect, accept4): the same value, and the call
 *     was really made again;
 *   - a short transfer: the short count;
 *   - malloc/calloc/strdup: -ENOMEM;
 *   - a failure the library may ignore (close, which releases the fd
 *     anyway; reading SO_PASSCRED again in recv's end-of-file test;
 *     turning SO_PASSCRED off in usock_release_fd): the expected value;
 *   - the peek of recv's end-of-file test: the expected value, or the
 *     other side of the documented ambiguity (0 or -EPIPE);
 *   - the connect() of usock_listen's probe for a stale socket file: the
 *     documented -EADDRINUSE (nobody answered "refused");
 *   - any other: the injected errno, negated.
 * After an error the scenario recovers the documented way (sends again,
 * receives again) and checks that nothing was lost or changed; the driver
 * then checks the fd table and the library's heap.
 */
#ifndef USOCK_FAULT_DRIVER_H
#define USOCK_FAULT_DRIVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct scenario {
	const char *name;
	void (*run)(int arg);
	int arg;
};

extern const struct scenario scenarios[];
extern const size_t n_scenarios;

/* A directory for filesystem socket names, made by the driver. */
extern const char *fault_dir;

/* Expect a value >= 0 (an fd, a count). */
#define WANT_NONNEG LLONG_MIN
/* No alternative value. */
#define NO_ALT (LLONG_MIN + 1)

void op_begin(void);
long long op_end(const char *expr, const char *file, int line, long long r,
		 long long want, long long alt);
__attribute__((format(printf, 3, 4))) void violation(const char *file, int line,
						     const char *fmt, ...);

/* Run an API call and check its result; evaluates to the result. */
#define OP(want, expr) OP2((want), NO_ALT, expr)
/* The same, when either of two results is right without a fault. */
#define OP2(want, alt, expr)                                                   \
	({                                                                     \
		op_begin();                                                    \
		long long r_ = (long long)(expr);                              \
		op_end(#expr, __FILE__, __LINE__, r_, (want), (alt));          \
	})
/* A call that returns nothing. */
#define VOP(expr)                                                              \
	OP(0, ({                                                               \
		   expr;                                                       \
		   0;                                                          \
	   }))

/* A check of the harness's own (no fault can explain a failure). */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			violation(__FILE__, __LINE__, "%s", #cond);            \
	} while (0)
#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		if (a_ != b_)                                                  \
			violation(__FILE__, __LINE__,                          \
				  "%s == %s: %lld != %lld", #a, #b, a_, b_);   \
	} while (0)

#endif /* USOCK_FAULT_DRIVER_H */
