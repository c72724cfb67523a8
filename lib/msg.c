/* SPDX-License-Identifier: MIT */
/* Message objects: the fds and credentials that travel with a payload. */
#include <errno.h>
#include <stdlib.h>

#include "usock-private.h"

void usock_msg_clear(struct usock_msg *m)
{
	if (m->owns_fds && m->n_taken < m->n_fds)
		for (unsigned int i = 0; i < m->n_fds; i++)
			if (m->fds[i] >= 0)
				usock_close_fd(m->fds[i]);
	if (m->pidfd >= 0)
		usock_close_fd(m->pidfd);
	m->pidfd = -1;
	m->n_fds = 0;
	m->n_taken = 0;
	m->owns_fds = false;
	m->has_creds = false;
	m->creds_received = false;
	m->pid = 0;
	m->uid = (uint32_t)-1;
	m->gid = (uint32_t)-1;
}

USOCK_EXPORT int usock_msg_new(struct usock_msg **ret)
{
	struct usock_msg *m;

	if (!ret)
		return -EINVAL;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->owns_fds = false;
	m->n_fds = 0;
	m->n_taken = 0;
	m->pidfd = -1;
	usock_msg_clear(m);
	*ret = m;
	return 0;
}

USOCK_EXPORT void usock_msg_free(struct usock_msg *m)
{
	if (!m)
		return;
	usock_msg_clear(m);
	free(m);
}

USOCK_EXPORT void usock_msg_reset(struct usock_msg *m)
{
	if (m)
		usock_msg_clear(m);
}

USOCK_EXPORT int usock_msg_add_fd(struct usock_msg *m, int fd)
{
	if (!m)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	/* Mixing borrowed and owned fds would make reset's duty ambiguous. */
	if (m->owns_fds)
		return -EBUSY;
	if (m->n_fds >= USOCK_MAX_FDS)
		return -E2BIG;
	m->fds[m->n_fds++] = fd;
	return 0;
}

USOCK_EXPORT int usock_msg_set_creds(struct usock_msg *m, int32_t pid,
				     uint32_t uid, uint32_t gid)
{
	/* The kernel rejects pid 0 and uid/gid -1 (no mapping) anyway; say so
	 * here, where the caller made the mistake. */
	if (!m || pid <= 0 || uid == (uint32_t)-1 || gid == (uint32_t)-1)
		return -EINVAL;
	m->has_creds = true;
	m->creds_received = false; /* to be sent: set for this send */
	m->pid = pid;
	m->uid = uid;
	m->gid = gid;
	return 0;
}

USOCK_EXPORT int usock_msg_get_creds(const struct usock_msg *m,
				     int32_t *ret_pid, uint32_t *ret_uid,
				     uint32_t *ret_gid)
{
	if (!m || !ret_pid || !ret_uid || !ret_gid)
		return -EINVAL;
	if (!m->has_creds) {
		*ret_pid = 0;
		*ret_uid = (uint32_t)-1;
		*ret_gid = (uint32_t)-1;
		return -ENODATA;
	}
	*ret_pid = m->pid;
	*ret_uid = m->uid;
	*ret_gid = m->gid;
	return 0;
}

USOCK_EXPORT int usock_msg_get_nfds(const struct usock_msg *m)
{
	if (!m)
		return -EINVAL;
	return (int)m->n_fds;
}

static int msg_slot(const struct usock_msg *m, unsigned int index)
{
	if (!m)
		return -EINVAL;
	if (index >= m->n_fds)
		return -ERANGE;
	if (m->fds[index] < 0)
		return -ENOENT;
	return m->fds[index];
}

USOCK_EXPORT int usock_msg_get_fd(const struct usock_msg *m, unsigned int index)
{
	return msg_slot(m, index);
}

USOCK_EXPORT int usock_msg_take_fd(struct usock_msg *m, unsigned int index)
{
	int fd = msg_slot(m, index);

	if (fd >= 0) {
		m->fds[index] = -1;
		m->n_taken++;
	}
	return fd;
}

USOCK_EXPORT int usock_msg_get_pidfd(const struct usock_msg *m)
{
	if (!m)
		return -EINVAL;
	return m->pidfd >= 0 ? m->pidfd : -ENODATA;
}

USOCK_EXPORT int usock_msg_take_pidfd(struct usock_msg *m)
{
	int fd = usock_msg_get_pidfd(m);

	if (fd >= 0)
		m->pidfd = -1;
	return fd;
}
