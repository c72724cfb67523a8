/* SPDX-License-Identifier: MIT */
/* Internal definitions shared by the library's source files. */
#ifndef USOCK_PRIVATE_H
#define USOCK_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "usock.h"

#define USOCK_EXPORT __attribute__((visibility("default")))

/* SCM_PIDFD (Linux 6.5) is missing from glibc 2.36 (x86, arm, most arches). */
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

/*
 * A socket handle. Nothing in it changes after creation, so one handle may be
 * used by a sending and a receiving thread at once without locks.
 */
struct usock {
	int fd;
	int type; /* USOCK_SEQPACKET, USOCK_STREAM or USOCK_DGRAM */
};

/*
 * A message. The fd slots live inline so that reuse never allocates.
 * A slot holds -1 once its fd has been taken.
 */
struct usock_msg {
	unsigned int n_fds;
	bool owns_fds; /* the fds were received: reset/free close them */
	bool has_creds;
	int32_t pid;
	uint32_t uid;
	uint32_t gid;
	int fds[USOCK_MAX_FDS];
};

/* Translate a usock type to SOCK_* and back; -1 when unknown. */
int usock_type_to_sock(int type);
int usock_type_from_sock(int sock_type);

/* Close received fds, forget added ones, clear credentials; m not NULL. */
void usock_msg_clear(struct usock_msg *m);

/* Close fd keeping errno intact; used on error paths. */
void usock_close_fd(int fd);

#endif /* USOCK_PRIVATE_H */
