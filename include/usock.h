/* SPDX-License-Identifier: MIT */
/*
 * libusock: pass file descriptors and credentials over Unix-domain sockets.
 *
 * Every function returns 0 or a non-negative count on success and a negative
 * errno value on failure; results come back through pointer out-parameters.
 * The two handle types are opaque. See usock(7).
 */
#ifndef USOCK_H
#define USOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define USOCK_VERSION_MAJOR 1
#define USOCK_VERSION_MINOR 1
#define USOCK_VERSION_MICRO 0

/* The most file descriptors one message can carry (the kernel's SCM_MAX_FD). */
#define USOCK_MAX_FDS 253

/* The most messages usock_send_batch() and usock_recv_batch() move per call. */
#define USOCK_MAX_BATCH 32

/* Socket types for usock_pair(); usock_get_type() returns one of these. */
#define USOCK_SEQPACKET 0
#define USOCK_STREAM 1
#define USOCK_DGRAM 2

/* Flags for usock_pair(), usock_adopt(), usock_listen(), usock_connect()
 * and usock_accept(). */
#define USOCK_NONBLOCK 0x1
/* Flags for usock_listen() only. */
#define USOCK_REPLACE_STALE 0x2
#define USOCK_UNLINK_ON_CLOSE 0x4

struct usock;
struct usock_msg;

const char *usock_version(void);

int usock_pair(int type, int flags, struct usock **ret_a, struct usock **ret_b);
int usock_adopt(int fd, int flags, struct usock **ret);
void usock_close(struct usock *s);
int usock_get_fd(const struct usock *s);
int usock_get_type(const struct usock *s);
int usock_release_fd(struct usock *s);
int usock_set_passcred(struct usock *s, int enable);
int usock_set_nonblock(struct usock *s, int enable);
/* Since 1.1. */
int usock_set_timeout(struct usock *s, int timeout_ms);
int usock_get_timeout(const struct usock *s, int *ret_timeout_ms);

int usock_listen(const char *name, int type, int flags, int backlog,
		 struct usock **ret);
int usock_connect(const char *name, int type, int flags, struct usock **ret);
int usock_accept(struct usock *listener, int flags, struct usock **ret);

int usock_get_peer_creds(const struct usock *s, int32_t *ret_pid,
			 uint32_t *ret_uid, uint32_t *ret_gid);
int usock_get_peer_groups(const struct usock *s, uint32_t *groups,
			  size_t n_groups);
int usock_get_peer_pidfd(const struct usock *s);
int usock_set_passpidfd(struct usock *s, int enable);
int usock_set_max_fds(struct usock *s, unsigned int max);
int usock_get_max_fds(const struct usock *s);

int usock_msg_new(struct usock_msg **ret);
void usock_msg_free(struct usock_msg *m);
void usock_msg_reset(struct usock_msg *m);
int usock_msg_add_fd(struct usock_msg *m, int fd);
int usock_msg_set_creds(struct usock_msg *m, int32_t pid, uint32_t uid,
			uint32_t gid);
int usock_msg_get_creds(const struct usock_msg *m, int32_t *ret_pid,
			uint32_t *ret_uid, uint32_t *ret_gid);
int usock_msg_get_nfds(const struct usock_msg *m);
int usock_msg_get_fd(const struct usock_msg *m, unsigned int index);
int usock_msg_take_fd(struct usock_msg *m, unsigned int index);
int usock_msg_get_pidfd(const struct usock_msg *m);
int usock_msg_take_pidfd(struct usock_msg *m);

ssize_t usock_send(struct usock *s, const void *buf, size_t len,
		   const struct usock_msg *m);
ssize_t usock_sendv(struct usock *s, const struct iovec *iov, size_t iovcnt,
		    const struct usock_msg *m);
ssize_t usock_recv(struct usock *s, void *buf, size_t len, struct usock_msg *m);
ssize_t usock_recvv(struct usock *s, const struct iovec *iov, size_t iovcnt,
		    struct usock_msg *m);

int usock_send_batch(struct usock *s, const struct iovec *bufs,
		     struct usock_msg *const *msgs, unsigned int n);
int usock_recv_batch(struct usock *s, const struct iovec *bufs,
		     struct usock_msg *const *msgs, ssize_t *ret_lens,
		     unsigned int n);

#ifdef __cplusplus
}
#endif

#endif /* USOCK_H */
