/* SPDX-License-Identifier: MIT */
/* Internal definitions shared by the library's source files. */
#ifndef USOCK_PRIVATE_H
#define USOCK_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "usock.h"

#define USOCK_EXPORT __attribute__((visibility("default")))

/* Newer than glibc 2.36's headers. SO_* values are the asm-generic ones
 * (x86, arm, most arches); parisc and sparc differ. */
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

/* Bits of struct usock's rx_flags. */
#define USOCK_RX_PASSCRED 0x1
#define USOCK_RX_PASSPIDFD 0x2

/*
 * A socket handle. fd and type never change after creation; the receive
 * policy (max_fds, rx_flags) is read and written with relaxed atomics, so one
 * handle may be used by sending and receiving threads at once without locks.
 */
struct usock {
	int fd;
	int type; /* USOCK_SEQPACKET, USOCK_STREAM or USOCK_DGRAM */
	unsigned int max_fds; /* fds accepted per received message */
	unsigned int rx_flags; /* what the kernel attaches on receive */
	char *unlink_path; /* USOCK_UNLINK_ON_CLOSE: the bound path */
	dev_t unlink_dev; /* ... and its identity, checked before unlink */
	ino_t unlink_ino;
};

#define load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/*
 * Control buffers live on the stack of each call or in a message object: no
 * allocation per message, and no buffer in the handle that two threads could
 * share. The receive buffer has room for everything the kernel can attach to
 * one message: credentials, USOCK_MAX_FDS fds and a pidfd.
 */
#define CTL_CREDS CMSG_SPACE(sizeof(struct ucred))
#define CTL_FDS CMSG_SPACE(sizeof(int) * USOCK_MAX_FDS)
#define CTL_PIDFD CMSG_SPACE(sizeof(int))

union usock_send_ctl {
	struct cmsghdr align;
	char buf[CTL_CREDS + CTL_FDS];
};

union usock_recv_ctl {
	struct cmsghdr align;
	char buf[CTL_CREDS + CTL_PIDFD + CTL_FDS];
};

/*
 * A message. The fd slots live inline so that reuse never allocates.
 * A slot holds -1 once its fd has been taken; n_taken counts those slots, so
 * that the usual message, none or all of them taken, is not scanned for
 * them. ctl is the control buffer the batch calls use for this message
 * (single sends and receives use the stack).
 */
struct usock_msg {
	unsigned int n_fds;
	unsigned int n_taken; /* slots emptied by usock_msg_take_fd() */
	bool owns_fds; /* the fds were received: reset/free close them */
	bool has_creds;
	int32_t pid;
	uint32_t uid;
	uint32_t gid;
	int pidfd; /* SCM_PIDFD of the sender, owned; -1 when none */
	int fds[USOCK_MAX_FDS];
	union usock_recv_ctl ctl;
};

/* Translate a usock type to SOCK_* and back; -1 when unknown. */
int usock_type_to_sock(int type);
int usock_type_from_sock(int sock_type);

/* Close received fds, forget added ones, clear credentials; m not NULL. */
void usock_msg_clear(struct usock_msg *m);

/* True when the iovecs hold no byte at all. */
bool usock_iov_empty(const struct iovec *iov, size_t iovcnt);

/* Fill buf (aligned, at least sizeof(union usock_send_ctl) bytes) from m's
 * fds and credentials; returns the bytes used. */
size_t usock_build_ctl(void *buf, const struct usock_msg *m);

/* Control buffer length that s's receive policy (max fds) allows. */
size_t usock_recv_ctl_len(const struct usock *s, unsigned int max);

/*
 * After recvmsg() returned n >= 0: move fds and credentials into m (or close
 * them), apply the fd quota max, report truncation, tell end of file from an
 * empty message (only when maybe_eof: a batch knows that an empty entry
 * followed by a real one is no end of file). Returns n or a negative errno;
 * on error m is empty and every fd that arrived is closed.
 */
ssize_t usock_finish_recv(const struct usock *s, struct msghdr *mh, ssize_t n,
			  unsigned int max, struct usock_msg *m,
			  bool maybe_eof);

/* -errno of a failed recvmsg/recvmmsg on s, with the kernel's EINVAL for an
 * unconnected stream reported as ENOTCONN. */
int usock_recv_errno(const struct usock *s);

/* Allocate a handle for fd with the default receive policy. */
struct usock *usock_new_handle(int fd, int type);

/* Set s->rx_flags from the socket's SO_PASSCRED and SO_PASSPIDFD; 0, or a
 * negative errno when one cannot be read. */
int usock_learn_rx_flags(struct usock *s);

/* Turn SO_PASSRIGHTS off when max is 0, on otherwise; ignores kernels that
 * lack the option (the library closes arriving fds itself). */
void usock_apply_passrights(int fd, unsigned int max);

/* Close fd keeping errno intact; used on error paths. */
void usock_close_fd(int fd);

#endif /* USOCK_PRIVATE_H */
