/* SPDX-License-Identifier: MIT */
/* Batched sending and receiving: many messages in one sendmmsg/recvmmsg. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "usock-private.h"

USOCK_EXPORT int usock_send_batch(struct usock *s, const struct iovec *bufs,
				  struct usock_msg *const *msgs, unsigned int n)
{
	struct mmsghdr mm[USOCK_MAX_BATCH];
	int r;

	if (!s || (!bufs && n))
		return -EINVAL;
	/* sendmmsg counts a partly written stream message as sent and
	 * loses how much of it went: no way to resume correctly. */
	if (s->type == USOCK_STREAM)
		return -EOPNOTSUPP;
	if (n > USOCK_MAX_BATCH)
		n = USOCK_MAX_BATCH;
	if (!n)
		return 0;

	memset(mm, 0, n * sizeof(mm[0]));
	for (unsigned int i = 0; i < n; i++) {
		struct usock_msg *m = msgs ? msgs[i] : NULL;
		struct msghdr *mh = &mm[i].msg_hdr;

		mh->msg_iov = (struct iovec *)&bufs[i];
		mh->msg_iovlen = 1;
		if (!m || !(m->n_fds || m->has_creds))
			continue;
		/* Each message's control data is built in its own object:
		 * all of them must live until the one syscall. */
		mh->msg_controllen = usock_build_ctl(m->ctl.buf, m);
		if (!mh->msg_controllen)
			continue;
		mh->msg_control = m->ctl.buf;
	}

	do
		r = sendmmsg(s->fd, mm, n, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

USOCK_EXPORT int usock_recv_batch(struct usock *s, const struct iovec *bufs,
				  struct usock_msg *const *msgs,
				  ssize_t *ret_lens, unsigned int n)
{
	struct mmsghdr mm[USOCK_MAX_BATCH];
	/* Control room for messages without a message object: their fds
	 * are closed, but the quota and end of file work as for the others.
	 * With the mmsghdrs this is about 37 KiB of stack. */
	union usock_recv_ctl scratch[USOCK_MAX_BATCH];
	unsigned int max;
	size_t ctl_len;
	int r, last;

	if (!s || ((!bufs || !ret_lens) && n))
		return -EINVAL;
	if (n > USOCK_MAX_BATCH)
		n = USOCK_MAX_BATCH;
	if (!n)
		return 0;
	/* One object for two entries would get two messages' fds. */
	if (msgs)
		for (unsigned int i = 0; i < n; i++)
			for (unsigned int j = i + 1; msgs[i] && j < n; j++)
				if (msgs[i] == msgs[j])
					return -EINVAL;
	/* As for usock_recv(): a 0-byte stream read is not end of file. */
	if (s->type == USOCK_STREAM)
		for (unsigned int i = 0; i < n; i++)
			if (!bufs[i].iov_len)
				return -EINVAL;

	max = load_relaxed(&s->max_fds);
	ctl_len = usock_recv_ctl_len(s, max);
	memset(mm, 0, n * sizeof(mm[0]));
	for (unsigned int i = 0; i < n; i++) {
		struct usock_msg *m = msgs ? msgs[i] : NULL;
		struct msghdr *mh = &mm[i].msg_hdr;

		mh->msg_iov = (struct iovec *)&bufs[i];
		mh->msg_iovlen = 1;
		if (m)
			usock_msg_clear(m);
		/* Without a message object the fds still arrive, in
		 * scratch room, so that the quota and EOF rules hold. */
		mh->msg_control =
			ctl_len ? (m ? m->ctl.buf : scratch[i].buf) : NULL;
		mh->msg_controllen = ctl_len;
	}

	/* MSG_WAITFORONE: block (unless nonblocking) for the first message,
	 * then take only what is already queued. */
	do
		r = recvmmsg(s->fd, mm, n, MSG_WAITFORONE | MSG_CMSG_CLOEXEC,
			     NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return usock_recv_errno(s);

	/* At end of file the kernel fills every remaining entry with an
	 * empty "message". So only entries after the last one that carried
	 * anything can be end of file; earlier empty ones are messages. */
	last = -1;
	for (int i = 0; i < r; i++)
		if (mm[i].msg_len || mm[i].msg_hdr.msg_controllen ||
		    (mm[i].msg_hdr.msg_flags & MSG_CTRUNC))
			last = i;

	for (int i = 0; i < r; i++) {
		struct usock_msg *m = msgs ? msgs[i] : NULL;
		ssize_t len = usock_finish_recv(s, &mm[i].msg_hdr,
						(ssize_t)mm[i].msg_len, max, m,
						i > last);

		if (len == -EPIPE) {
			if (i == 0)
				return -EPIPE;
			return i;
		}
		ret_lens[i] = len;
	}
	return r;
}
