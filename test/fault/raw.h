/* SPDX-License-Identifier: MIT */
/*
 * A peer that does not use libusock: plain sendmsg()/recvmsg() with control
 * data laid out by hand, including layouts libusock never makes.
 */
#ifndef USOCK_TEST_RAW_H
#define USOCK_TEST_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * What a raw message carries besides its payload: nfds fds split into
 * nblocks SCM_RIGHTS cmsgs (as evenly as they go; 0 blocks when nfds is 0),
 * and, when creds is set, an SCM_CREDENTIALS with the caller's own pid, uid
 * and gid placed before the last block.
 */
struct raw_ctl {
	const int *fds;
	unsigned int nfds;
	unsigned int nblocks;
	bool creds;
};

/* sendmsg() with that control data; returns its result or -errno. */
ssize_t raw_send(int sock, const void *buf, size_t len,
		 const struct raw_ctl *ctl, int flags);

/*
 * recvmsg(MSG_CMSG_CLOEXEC) into buf; the fds that arrive are closed and
 * counted into *nfds (may be NULL). Returns its result or -errno.
 */
ssize_t raw_recv(int sock, void *buf, size_t len, unsigned int *nfds,
		 int flags);

/* An fd that is open on /dev/null, close-on-exec. */
int devnull(void);

#endif /* USOCK_TEST_RAW_H */
