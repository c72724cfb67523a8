/* SPDX-License-Identifier: MIT */
/* Batched sending and receiving: many messages in one sendmmsg/recvmmsg. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "usock-private.h"

/* Entries without a message object per receive under an fd limit. */
#define BATCH_SCRATCH 4

struct batch {
	struct mmsghdr *mm;
	unsigned int n;
};

static ssize_t sendmmsg_op(int fd, void *arg, int flags)
{
	struct batch *b = arg;

	return sendmmsg(fd, b->mm, b->n, flags | MSG_NOSIGNAL);
}

static ssize_t recvmmsg_op(int fd, void *arg, int flags)
{
	struct batch *b = arg;

	/* MSG_WAITFORONE: block (unless nonblocking) for the first message,
	 * then take only what is already queued. */
	return recvmmsg(fd, b->mm, b->n,
			flags | MSG_WAITFORONE | MSG_CMSG_CLOEXEC, NULL);
}

USOCK_EXPORT int usock_send_batch(struct usock *s, const struct iovec *bufs,
				  struct usock_msg *const *msgs, unsigned int n)
{
	struct mmsghdr mm[USOCK_MAX_BATCH];

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
		if (!m || !(m->n_fds || (m->has_creds && !m->creds_received)))
			continue;
		/* Each message's control data is built in its own object:
		 * all of them must live until the one syscall. */
		mh->msg_controllen = usock_build_ctl(m->ctl.buf, m);
		if (!mh->msg_controllen)
			continue;
		mh->msg_control = m->ctl.buf;
	}

	return (int)usock_io(s, false, sendmmsg_op, &(struct batch){ mm, n });
}

USOCK_EXPORT int usock_recv_batch(struct usock *s, const struct iovec *bufs,
				  struct usock_msg *const *msgs,
				  ssize_t *ret_lens, unsigned int n)
{
	/*
	 * About 7 KiB of stack: the control buffers live in the message
	 * objects. An entry without one needs a buffer only under an fd
	 * limit, to enforce it; such a batch takes at most BATCH_SCRATCH of
	 * them per call.
	 */
	struct mmsghdr mm[USOCK_MAX_BATCH];
	union usock_recv_ctl scratch[BATCH_SCRATCH];
	unsigned int nscratch = 0;
	uint32_t pol;
	size_t ctl_len;
	int r, last;

	if (n > USOCK_MAX_BATCH)
		n = USOCK_MAX_BATCH;
	/* Every message object is empty after any failure. */
	if (msgs)
		for (unsigned int i = 0; i < n; i++)
			if (msgs[i])
				usock_msg_clear(msgs[i]);
	if (!s || ((!bufs || !ret_lens) && n))
		return -EINVAL;
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

	pol = load_relaxed(&s->policy);
	ctl_len = usock_recv_ctl_len(pol);
	memset(mm, 0, n * sizeof(mm[0]));
	for (unsigned int i = 0; i < n; i++) {
		struct usock_msg *m = msgs ? msgs[i] : NULL;
		struct msghdr *mh = &mm[i].msg_hdr;

		mh->msg_iov = (struct iovec *)&bufs[i];
		mh->msg_iovlen = 1;
		if (!usock_recv_wants_ctl(m, pol))
			continue;
		if (!m && nscratch == BATCH_SCRATCH) {
			n = i;
			break;
		}
		mh->msg_control = m ? m->ctl.buf : scratch[nscratch++].buf;
		mh->msg_controllen = ctl_len;
	}

	r = (int)usock_io(s, true, recvmmsg_op, &(struct batch){ mm, n });
	if (r < 0)
		return usock_recv_errno(s, r);

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
						(ssize_t)mm[i].msg_len, pol, m,
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
