/* SPDX-License-Identifier: MIT */
/*
 * A peer that does not use libusock: plain sendmsg()/recvmsg() with control
 * data laid out by hand, including layouts libusock never makes (several
 * SCM_RIGHTS blocks, credentials between them). The one raw sender of the
 * unit tests, the reliability tests and the benchmark's raw implementation.
 * No libcheck here: the benchmark links it too.
 */
#ifndef USOCK_TEST_RAW_H
#define USOCK_TEST_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The kernel's SCM_MAX_FD, and the most SCM_RIGHTS blocks one message gets
 * here. */
#define RAW_MAX_FDS 253
#define RAW_MAX_BLOCKS 8

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

/* Room for the control data of any raw_ctl. */
union raw_ctl_buf {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(struct ucred)) +
		 RAW_MAX_BLOCKS * CMSG_SPACE(sizeof(int)) +
		 CMSG_SPACE(sizeof(int) * RAW_MAX_FDS)];
};

/*
 * Lay out ctl's cmsgs in buf (len bytes, aligned as a cmsghdr), their
 * padding zeroed: the kernel copies it too, so no stack bytes go out.
 * Returns the bytes used, the msg_controllen; aborts when they do not fit
 * or ctl asks for what no message can be.
 */
size_t raw_build_ctl(void *buf, size_t len, const struct raw_ctl *ctl);

/*
 * One sendmsg(flags | MSG_NOSIGNAL), retried on EINTR, with the control data
 * of ctl (NULL: none); returns its result or -errno.
 */
ssize_t raw_send(int sock, const void *buf, size_t len,
		 const struct raw_ctl *ctl, int flags);

/*
 * recvmsg(MSG_CMSG_CLOEXEC) into buf; the fds that arrive are closed and
 * counted into *nfds (may be NULL). Returns its result or -errno.
 */
ssize_t raw_recv(int sock, void *buf, size_t len, unsigned int *nfds,
		 int flags);

#endif /* USOCK_TEST_RAW_H */
