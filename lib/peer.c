/* SPDX-License-Identifier: MIT */
/* Who is on the other end: SO_PEERCRED, SO_PEERGROUPS, SO_PEERPIDFD. */
#include <errno.h>
#include <sys/socket.h>

#include "usock-private.h"

USOCK_EXPORT int usock_get_peer_creds(const struct usock *s, int32_t *ret_pid,
				      uint32_t *ret_uid, uint32_t *ret_gid)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (!s || !ret_pid || !ret_uid || !ret_gid)
		return -EINVAL;
	if (getsockopt(s->fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	/* An unconnected socket reports pid 0, uid/gid -1 and no error. */
	if (uc.pid <= 0) {
		*ret_pid = 0;
		*ret_uid = (uint32_t)-1;
		*ret_gid = (uint32_t)-1;
		return -ENODATA;
	}
	*ret_pid = uc.pid;
	*ret_uid = uc.uid;
	*ret_gid = uc.gid;
	return 0;
}

USOCK_EXPORT int usock_get_peer_groups(const struct usock *s, uint32_t *groups,
				       size_t n_groups)
{
	socklen_t len;

	_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t is 32 bits");
	if (!s || (!groups && n_groups))
		return -EINVAL;
	if (n_groups > INT32_MAX / sizeof(uint32_t))
		n_groups = INT32_MAX / sizeof(uint32_t);
	len = (socklen_t)(n_groups * sizeof(uint32_t));
	/* The kernel fills nothing when the buffer is short, but says how
	 * long it must be: return that count so the caller can retry. */
	if (getsockopt(s->fd, SOL_SOCKET, SO_PEERGROUPS,
		       n_groups ? groups : NULL, &len) < 0 &&
	    errno != ERANGE)
		return -errno;
	return (int)(len / sizeof(uint32_t));
}

USOCK_EXPORT int usock_get_peer_pidfd(const struct usock *s)
{
	int fd = -1;
	socklen_t len = sizeof(fd);

	if (!s)
		return -EINVAL;
	/* The kernel makes the pidfd close-on-exec. There is deliberately no
	 * fallback to pidfd_open(peer pid): that pid may be reused already. */
	if (getsockopt(s->fd, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) < 0)
		return -errno;
	return fd;
}
