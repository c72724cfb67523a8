/* SPDX-License-Identifier: MIT */
/*
 * Control of the fault-injecting test build of the library
 * (libusock-fault.so, never installed). That build links the library's own
 * objects with -Wl,--wrap for each function below, so every call the library
 * makes to one of them passes through fault.c, and no call the test program
 * makes does. The Nth call (counted from 1 since fault_reset) of one function
 * can be made to fail with a chosen errno, or to move fewer bytes.
 *
 * Without the API, two environment variables do the same for any program
 * linked against libusock-fault.so:
 *   USOCK_FAULT=NAME:N:ERR    fail the Nth call of NAME (sendmsg, malloc...)
 *                             with ERR (EINTR, EAGAIN, ENOMEM, EMFILE,
 *                             ENOBUFS, SHORT, or a number)
 *   USOCK_FAULT_COUNT=1       print the calls made per function at exit
 */
#ifndef USOCK_FAULT_H
#define USOCK_FAULT_H

#include <stdbool.h>

enum fault_fn {
	FAULT_SENDMSG,
	FAULT_RECVMSG,
	FAULT_SENDMMSG,
	FAULT_RECVMMSG,
	FAULT_SOCKET,
	FAULT_SOCKETPAIR,
	FAULT_ACCEPT4,
	FAULT_CONNECT,
	FAULT_BIND,
	FAULT_LISTEN,
	FAULT_SETSOCKOPT,
	FAULT_GETSOCKOPT,
	FAULT_FCNTL,
	FAULT_CLOSE,
	FAULT_MALLOC,
	FAULT_CALLOC,
	FAULT_STRDUP,
	FAULT_N_FN
};

/*
 * Not an errno: a short transfer. sendmsg on a stream socket sends the first
 * half of the payload (at least one byte) for real and returns that count;
 * sendmmsg sends only the first message. Only where the socket type allows
 * it: see fault_shortable().
 */
#define FAULT_SHORT (-1)

/* What happened when the armed fault fired. */
struct fault_event {
	int fn;
	unsigned long nth;
	int err; /* the errno injected, or FAULT_SHORT */
	int detail; /* getsockopt/setsockopt option name, fcntl command,
		     * recvmsg flags */
	long short_len; /* FAULT_SHORT: what the short call returned */
};

/* Zero the call counters, disarm, forget the last event. */
void fault_reset(void);
/* Fail the nth (from 1) call of fn from now on counted; one fault at once. */
void fault_arm(int fn, unsigned long nth, int err);
/* Calls of fn since fault_reset (including faulted ones). */
unsigned long fault_calls(int fn);
/* Whether the armed fault fired; its details in *ev. */
bool fault_fired(struct fault_event *ev);
/* Whether the nth call of fn since fault_reset could be made short. */
bool fault_shortable(int fn, unsigned long nth);

/*
 * Heap blocks the library allocated (malloc, calloc, strdup) and did not
 * free yet; fault_forget_allocs() empties the record.
 */
long fault_live_allocs(void);
void fault_forget_allocs(void);

const char *fault_fn_name(int fn);
/* "EINTR" for EINTR, "SHORT" for FAULT_SHORT. */
const char *fault_err_name(int err);

#endif /* USOCK_FAULT_H */
