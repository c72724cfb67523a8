/* SPDX-License-Identifier: MIT */
/* Internal definitions shared by the library's source files. */
#ifndef USOCK_PRIVATE_H
#define USOCK_PRIVATE_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

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

/*
 * The receive policy of a handle, one word read with one atomic load per
 * receive, so that a receive never mixes two policies: the fd limit
 * (0..USOCK_MAX_FDS) and two bits.
 */
#define POL_MAX 0x1ffu /* fds accepted per received message */
#define POL_CRED 0x200u /* hand received credentials to the caller */
#define POL_PIDFD 0x400u /* SO_PASSPIDFD is on: hand over the pidfd */
#define POL_DEFAULT ((uint32_t)USOCK_MAX_FDS)

/* Bits of struct usock's changed: options set through the library. */
#define CHG_CRED 0x1u
#define CHG_PIDFD 0x2u
#define CHG_MAX 0x4u
/* An adopted SEQPACKET listener whose SO_PASSCRED the library turned on:
 * clients already queued got the old value at connect, so accept sets it. */
#define CHG_KCRED 0x8u

/*
 * A socket handle. fd and type never change after creation. policy is read
 * with relaxed atomics by every receive and written only by the setters,
 * which hold lock, so the word and the kernel's options never disagree
 * (policy.c). timeout_ms is usock_set_timeout()'s, -1 for none.
 */
struct usock {
	int fd;
	int type; /* USOCK_SEQPACKET, USOCK_STREAM or USOCK_DGRAM */
	uint32_t policy; /* POL_* */
	uint32_t changed; /* CHG_*: what accept must copy to a new socket */
	int lock; /* serialises the policy setters */
	int timeout_ms;
	bool forced_cred; /* the library turned SO_PASSCRED on */
	char *unlink_path; /* USOCK_UNLINK_ON_CLOSE: the bound path */
	dev_t unlink_dev; /* ... and its identity, checked before unlink */
	ino_t unlink_ino;
};

#define load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/*
 * Control buffers live on the stack of each call or in a message object: no
 * allocation per message, and no buffer in the handle that two threads could
 * share. A receive buffer always has room for everything the kernel may put
 * ahead of the fds, whatever the policy is now: ancillary data that options
 * set on the fd by others add (SO_TIMESTAMPING, SO_TIMESTAMP(NS), SCM_INQ;
 * the library ignores them), credentials (every SEQPACKET message carries
 * them: the library keeps SO_PASSCRED on), then the fds, then a pidfd.
 */
#define CTL_CREDS CMSG_SPACE(sizeof(struct ucred))
#define CTL_FDS CMSG_SPACE(sizeof(int) * USOCK_MAX_FDS)
#define CTL_PIDFD CMSG_SPACE(sizeof(int))
#define CTL_FOREIGN (CMSG_SPACE(48) + CMSG_SPACE(16) + CMSG_SPACE(sizeof(int)))
#define CTL_HEAD (CTL_FOREIGN + CTL_CREDS)

union usock_send_ctl {
	struct cmsghdr align;
	char buf[CTL_CREDS + CTL_FDS];
};

union usock_recv_ctl {
	struct cmsghdr align;
	char buf[CTL_HEAD + CTL_FDS + CTL_PIDFD];
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
	bool creds_received; /* has_creds came from a receive: never sent on */
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

/* Does a receive into m (maybe NULL) under pol need a control buffer? */
bool usock_recv_wants_ctl(const struct usock_msg *m, uint32_t pol);

/* Control buffer length for a receive under policy pol. */
size_t usock_recv_ctl_len(uint32_t pol);

/*
 * After recvmsg() returned n >= 0 under policy pol: move fds and credentials
 * into m (or close them), apply the fd limit, report truncation, tell end of
 * file from an empty message (only when maybe_eof: a batch knows that an
 * empty entry followed by a real one is no end of file). Returns n or a
 * negative errno; on error m is empty and every fd that arrived is closed.
 */
ssize_t usock_finish_recv(const struct usock *s, struct msghdr *mh, ssize_t n,
			  uint32_t pol, struct usock_msg *m, bool maybe_eof);

/* The error err of a failed recvmsg/recvmmsg on s, with the kernel's EINVAL
 * for an unconnected stream reported as ENOTCONN. */
int usock_recv_errno(const struct usock *s, int err);

/* Allocate a handle for fd with the default receive policy. */
struct usock *usock_new_handle(int fd, int type);

/* An int SOL_SOCKET option of fd into *v: 0 or a negative errno. */
int usock_getsockopt_int(int fd, int opt, int *v);

/* policy.c: SEQPACKET handles keep SO_PASSCRED on so that end of file is a
 * message without credentials. Turn it on for a new socket of s's type. */
int usock_force_passcred(struct usock *s);

/* Learn an adopted socket's options into s->policy (and force passcred). */
int usock_learn_policy(struct usock *s);

/* Give the accepted handle s the listener's policy, setting on its socket
 * only the options that the listener's owner changed. */
int usock_inherit_policy(struct usock *s, const struct usock *listener);

/* Before the fd leaves the library: SO_PASSCRED as its owner asked. */
void usock_restore_passcred(struct usock *s);

/* wait.c: restart after EINTR? Not when the socket has a kernel timeout
 * (opt SO_RCVTIMEO or SO_SNDTIMEO): the kernel would start it over. */
bool usock_restart(int fd, int opt);

/* The deadline ms (>= 0, a timeout read once per call) from now. */
void usock_deadline(int ms, struct timespec *deadline);

/*
 * Wait until fd is ready for events or the deadline passes: 0 (ready),
 * -ETIMEDOUT, -EAGAIN (the fd is nonblocking: never wait) or another
 * negative errno. Signals do not extend the wait.
 */
int usock_wait(int fd, short events, const struct timespec *deadline);

/*
 * Run op (a sendmsg/recvmsg-like call on s->fd with extra flags) as a
 * blocking call would, restarting after signals within s's timeout (rx:
 * receiving, else sending). Returns op's result or a negative errno.
 * Inline, so that op is a direct call on the usual path.
 */
static inline ssize_t usock_io(struct usock *s, bool rx,
			       ssize_t (*op)(int, void *, int), void *arg)
{
	struct timespec deadline;
	int ms = load_relaxed(&s->timeout_ms);
	ssize_t n;
	int r;

	if (__builtin_expect(ms < 0, 1)) {
		do
			n = op(s->fd, arg, 0);
		while (n < 0 && errno == EINTR &&
		       usock_restart(s->fd, rx ? SO_RCVTIMEO : SO_SNDTIMEO));
		return n < 0 ? -errno : n;
	}
	usock_deadline(ms, &deadline);
	for (;;) {
		n = op(s->fd, arg, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = usock_wait(s->fd, rx ? POLLIN : POLLOUT, &deadline);
		if (r < 0)
			return r;
	}
}

/* Close fd keeping errno intact; used on error paths. */
void usock_close_fd(int fd);

#endif /* USOCK_PRIVATE_H */
