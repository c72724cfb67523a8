/* SPDX-License-Identifier: MIT */
/*
 * usock-bench: each workload runs through libusock and through a raw
 * sendmsg/recvmsg implementation of the same work, in the same process run.
 */
#ifndef USOCK_BENCH_H
#define USOCK_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "../raw.h"
#include "usock.h"

/* ---- heap accounting (alloc-count.c) ----------------------------------- */

/* Totals since the start of the process, over every thread. */
struct heap_count {
	uint64_t calls; /* malloc, calloc, realloc, posix_memalign, ... */
	uint64_t bytes; /* bytes requested */
	uint64_t usable; /* malloc_usable_size() of what was returned */
};

void heap_snapshot(struct heap_count *c);
/* Whether this executable's malloc receives the calls: not under valgrind,
 * which replaces it, nor in a sanitizer build, which leaves it out. */
bool heap_counting(void);
/* Calls since the snapshot *from*. */
uint64_t heap_calls_since(const struct heap_count *from);

/* ---- implementations and results --------------------------------------- */

enum impl {
	IMPL_RAW, /* one sendmsg/recvmsg per message, written by hand */
	IMPL_LIB, /* usock_send/usock_recv */
	IMPL_RAW_BATCH, /* sendmmsg/recvmmsg, written by hand */
	IMPL_LIB_BATCH, /* usock_send_batch/usock_recv_batch */
	/* IMPL_RAW with SO_PASSCRED on the receiver: what the kernel's part of
	 * libusock's exact end of file costs (the seed workload). */
	IMPL_RAW_CRED,
};

const char *impl_name(enum impl impl);

struct run_result {
	uint64_t ns; /* wall time of the timed part */
	uint64_t cpu_ns; /* CPU time (user and system) spent in it, all
			  * threads, and the forked peer's for the round trip */
	uint64_t ops; /* messages, round trips or connections in it */
	uint64_t allocs; /* heap allocations during it (this process) */
	uint64_t child_allocs; /* ... and in the forked peer (round trip) */
	uint64_t p50_ns, p99_ns; /* per round trip latency */
	unsigned int peak_fds; /* scale: most fds open in the server */
};

/* ---- workloads ---------------------------------------------------------- */

/* Ancillary data per message, for the seed shape and the round trip. */
enum mode {
	MODE_NONE,
	MODE_FD1, /* one fd; the receiver closes it */
	MODE_CREDS, /* receiver has SO_PASSCRED and reads pid/uid/gid */
	MODE_FD16, /* 16 fds; the receiver closes them */
	MODE_COUNT
};

const char *mode_name(enum mode mode);
unsigned int mode_nfds(enum mode mode);

/*
 * Sender thread to receiver thread over a blocking SEQPACKET pair: n messages
 * of len bytes with the mode's ancillary data; batch messages per call for
 * the batch implementations.
 */
struct pair_spec {
	size_t len;
	enum mode mode;
	unsigned int batch;
	unsigned long n;
};

int pair_run(const struct pair_spec *spec, enum impl impl,
	     struct run_result *res);

/* Ping-pong with a forked child: n round trips of len bytes each way,
 * after a warm-up; per round trip latency. MODE_NONE or MODE_FD1. */
struct rtt_spec {
	size_t len;
	enum mode mode;
	unsigned long n;
};

int rtt_run(const struct rtt_spec *spec, enum impl impl,
	    struct run_result *res);

/* clients forked processes connect to one nonblocking listener served with
 * epoll; each passes one fd and waits for an acknowledgement. */
int scale_run(unsigned int clients, enum impl impl, struct run_result *res);

/* ---- the raw implementation -------------------------------------------- */

/*
 * It sends with the tests' raw sender (../raw.c: raw_send, raw_build_ctl
 * for sendmmsg) and receives with raw-recv.c. Control buffers sized as the
 * library sizes its own.
 */
union raw_tx_ctl {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(struct ucred)) +
		 CMSG_SPACE(sizeof(int) * USOCK_MAX_FDS)];
};

union raw_rx_ctl {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int)) +
		 CMSG_SPACE(sizeof(int) * USOCK_MAX_FDS)];
};

/* What one received message carried; the fds are the caller's to close. */
struct raw_rx {
	unsigned int nfds;
	bool has_creds;
	struct ucred creds;
	int fds[USOCK_MAX_FDS];
};

/* After recvmsg returned n >= 0: fds and credentials into rx; truncation
 * closes the fds and fails; 0 bytes is end of file (-EPIPE). */
ssize_t raw_parse(const struct msghdr *mh, ssize_t n, struct raw_rx *rx);
/* One recvmsg(MSG_CMSG_CLOEXEC) and raw_parse(). */
ssize_t raw_recv_one(int fd, void *buf, size_t len, struct raw_rx *rx);

/* ---- helpers (util.c) --------------------------------------------------- */

uint64_t now_ns(void);
/* CPU time of this process, all threads, user and system. */
uint64_t cpu_ns(void);
/* Number of open fds in this process (/proc/self/fd). */
int count_fds(void);
/* Report a failure of the benchmark itself on stderr; returns -1. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An abstract socket name ("@...") unique to this process and call. */
void unique_name(char *buf, size_t len, const char *what);

#endif /* USOCK_BENCH_H */
