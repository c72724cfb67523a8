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
#define USOCK_VERSION_MINOR 0
#define USOCK_VERSION_MICRO 0

/* The most file descriptors one message can carry (the kernel's SCM_MAX_FD). */
#define USOCK_MAX_FDS 253

/* Socket types for usock_pair(); usock_get_type() returns one of these. */
#define USOCK_SEQPACKET 0
#define USOCK_STREAM 1
#define USOCK_DGRAM 2

/* Flags for usock_pair() and usock_adopt(). */
#define USOCK_NONBLOCK 0x1

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

ssize_t usock_send(struct usock *s, const void *buf, size_t len,
		   const struct usock_msg *m);
ssize_t usock_sendv(struct usock *s, const struct iovec *iov, size_t iovcnt,
		    const struct usock_msg *m);
ssize_t usock_recv(struct usock *s, void *buf, size_t len, struct usock_msg *m);
ssize_t usock_recvv(struct usock *s, const struct iovec *iov, size_t iovcnt,
		    struct usock_msg *m);

#ifdef __cplusplus
}
#endif

#endif /* USOCK_H */
