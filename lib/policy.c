/* SPDX-License-Identifier: MIT */
/*
 * The receive policy: which credentials, pidfds and how many fds a received
 * message may bring. A receive reads the policy word once and sizes its
 * control buffer for any policy, so a setter running meanwhile never makes a
 * good message fail. The setters are serialised per handle: each one changes
 * the kernel's option and the word together, under the handle's lock, so the
 * two never disagree.
 */
#include <errno.h>
#include <sched.h>
#include <sys/socket.h>

#include "usock-private.h"

static void lock(struct usock *s)
{
	/* Held only around one setsockopt: a spin that yields is enough,
	 * and needs neither libpthread nor an allocation. */
	while (__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void unlock(struct usock *s)
{
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

static int setsockopt_int(int fd, int opt, int v)
{
	if (setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v)) < 0)
		return -errno;
	return 0;
}

int usock_getsockopt_int(int fd, int opt, int *v)
{
	socklen_t len = sizeof(*v);

	if (getsockopt(fd, SOL_SOCKET, opt, v, &len) < 0)
		return -errno;
	return 0;
}

/* Replace the bits of mask in s->policy with val; under the lock. */
static void set_policy(struct usock *s, uint32_t mask, uint32_t val,
		       uint32_t chg)
{
	uint32_t pol = load_relaxed(&s->policy);

	store_relaxed(&s->policy, (pol & ~mask) | val);
	store_relaxed(&s->changed, load_relaxed(&s->changed) | chg);
}

int usock_force_passcred(struct usock *s)
{
	int r;

	if (s->type != USOCK_SEQPACKET)
		return 0;
	r = setsockopt_int(s->fd, SO_PASSCRED, 1);
	if (r == 0)
		s->forced_cred = true;
	return r;
}

void usock_restore_passcred(struct usock *s)
{
	if (s->forced_cred && !(load_relaxed(&s->policy) & POL_CRED))
		(void)setsockopt_int(s->fd, SO_PASSCRED, 0);
}

int usock_learn_policy(struct usock *s)
{
	uint32_t pol = USOCK_MAX_FDS;
	bool turned_on = false;
	int v, r;

	r = usock_getsockopt_int(s->fd, SO_PASSCRED, &v);
	if (r < 0)
		return r;
	if (v) {
		pol |= POL_CRED;
		s->forced_cred = s->type == USOCK_SEQPACKET;
	} else if (s->type == USOCK_SEQPACKET) {
		r = usock_force_passcred(s);
		if (r < 0)
			return r;
		turned_on = true;
		s->changed = CHG_KCRED;
	}
	/* Options a kernel lacks (ENOPROTOOPT) are off. SO_PASSPIDFD: Linux
	 * 6.5; SO_PASSRIGHTS: 6.16. */
	r = usock_getsockopt_int(s->fd, SO_PASSPIDFD, &v);
	if (r < 0 && r != -ENOPROTOOPT)
		goto undo;
	if (r == 0 && v)
		pol |= POL_PIDFD;
	r = usock_getsockopt_int(s->fd, SO_PASSRIGHTS, &v);
	if (r < 0 && r != -ENOPROTOOPT)
		goto undo;
	if (r == 0 && !v)
		pol &= ~POL_MAX;
	s->policy = pol;
	return 0;
undo:
	if (turned_on)
		(void)setsockopt_int(s->fd, SO_PASSCRED, 0);
	s->forced_cred = false;
	s->changed = 0;
	return r;
}

int usock_inherit_policy(struct usock *s, const struct usock *listener)
{
	uint32_t pol = load_relaxed(&listener->policy);
	uint32_t chg = load_relaxed(&listener->changed);
	int r = 0;

	/*
	 * The kernel gave the new socket the listener's SO_PASSCRED and
	 * SO_PASSPIDFD (and SO_PASSRIGHTS) as they were when the client
	 * connected. They can differ from the policy now only if the
	 * listener's owner changed them: only then is an option set here, so
	 * that the usual accept costs accept4 and nothing else.
	 */
	if ((chg & CHG_CRED) && s->type != USOCK_SEQPACKET)
		r = setsockopt_int(s->fd, SO_PASSCRED, !!(pol & POL_CRED));
	if (chg & CHG_KCRED)
		r = setsockopt_int(s->fd, SO_PASSCRED, 1);
	if (r == 0 && (chg & CHG_PIDFD)) {
		r = setsockopt_int(s->fd, SO_PASSPIDFD, !!(pol & POL_PIDFD));
		if (r == -ENOPROTOOPT && !(pol & POL_PIDFD))
			r = 0;
	}
	if (r == 0 && (chg & CHG_MAX)) {
		r = setsockopt_int(s->fd, SO_PASSRIGHTS, (pol & POL_MAX) > 0);
		if (r == -ENOPROTOOPT)
			r = 0;
	}
	if (r < 0)
		return r;
	s->policy = pol;
	s->changed = chg;
	s->forced_cred = listener->forced_cred;
	return 0;
}

USOCK_EXPORT int usock_set_passcred(struct usock *s, int enable)
{
	int r = 0;

	if (!s)
		return -EINVAL;
	lock(s);
	/* SEQPACKET keeps the option on: only the handing over changes. */
	if (!s->forced_cred)
		r = setsockopt_int(s->fd, SO_PASSCRED, !!enable);
	if (r == 0)
		set_policy(s, POL_CRED, enable ? POL_CRED : 0, CHG_CRED);
	unlock(s);
	return r;
}

USOCK_EXPORT int usock_set_passpidfd(struct usock *s, int enable)
{
	int r;

	if (!s)
		return -EINVAL;
	lock(s);
	r = setsockopt_int(s->fd, SO_PASSPIDFD, !!enable);
	/* A kernel without the option (before 6.5) sends no pidfds: off is
	 * what was asked. */
	if (r == -ENOPROTOOPT && !enable)
		r = 0;
	if (r == 0)
		set_policy(s, POL_PIDFD, enable ? POL_PIDFD : 0, CHG_PIDFD);
	unlock(s);
	return r;
}

USOCK_EXPORT int usock_set_max_fds(struct usock *s, unsigned int max)
{
	int r;

	if (!s || max > USOCK_MAX_FDS)
		return -EINVAL;
	lock(s);
	/* SO_PASSRIGHTS 0 makes the kernel refuse fds to senders (EPERM);
	 * before Linux 6.16 the library closes arriving fds itself. */
	r = setsockopt_int(s->fd, SO_PASSRIGHTS, max > 0);
	if (r == -ENOPROTOOPT)
		r = 0;
	if (r == 0)
		set_policy(s, POL_MAX, max, CHG_MAX);
	unlock(s);
	return r;
}

USOCK_EXPORT int usock_get_max_fds(const struct usock *s)
{
	if (!s)
		return -EINVAL;
	return (int)(load_relaxed(&s->policy) & POL_MAX);
}
