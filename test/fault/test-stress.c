/* SPDX-License-Identifier: MIT */
/*
 * Load: eight senders on one handle and one receiver; a soak of many
 * messages with fds through one pair.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../helpers.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* ---- eight senders ---------------------------------------------------- */

#define SENDERS 8
#define PER_SENDER 20000
#define FD_EVERY 64
#define MAX_PAYLOAD 2048

struct hdr {
	uint32_t sender, seq, len;
};

static uint32_t payload_len(uint32_t sender, uint32_t seq)
{
	return (uint32_t)sizeof(struct hdr) +
	       (seq * 2654435761u + sender * 40503u) %
		       (MAX_PAYLOAD - (uint32_t)sizeof(struct hdr));
}

static unsigned char body_byte(uint32_t sender, uint32_t seq, size_t i)
{
	return (unsigned char)(sender * 31 + seq * 7 + i * 13);
}

static void make_payload(unsigned char *buf, uint32_t sender, uint32_t seq)
{
	struct hdr h = { sender, seq, payload_len(sender, seq) };

	memcpy(buf, &h, sizeof(h));
	for (size_t i = sizeof(h); i < h.len; i++)
		buf[i] = body_byte(sender, seq, i);
}

struct sender {
	pthread_t thread;
	struct usock *s;
	uint32_t id;
	int fd; /* this sender's pipe end, sent every FD_EVERY messages */
	struct thread_failure f;
};

static void *send_thread(void *p)
{
	struct sender *t = p;
	struct usock_msg *m = NULL;
	unsigned char buf[MAX_PAYLOAD];

	if (usock_msg_new(&m) < 0 || usock_msg_add_fd(m, t->fd) < 0)
		T_FAIL(&t->f, "sender %u: message setup", t->id);
	for (uint32_t seq = 0; seq < PER_SENDER; seq++) {
		uint32_t len = payload_len(t->id, seq);
		ssize_t r;

		make_payload(buf, t->id, seq);
		/* Other tests of this user may hold the in-flight count
		 * over the limit for a moment. */
		while (inflight_busy(r = usock_send(t->s, buf, len,
						    seq % FD_EVERY ? NULL : m)))
			;
		if (r != (ssize_t)len)
			T_FAIL(&t->f, "sender %u seq %u: usock_send = %zd",
			       t->id, seq, r);
	}
	return thread_end(t->s, m, -1);
fail:
	return thread_end(t->s, m, SHUT_WR);
}

struct receiver {
	pthread_t thread;
	struct usock *s;
	struct fid ids[SENDERS];
	unsigned long messages, fds;
	struct thread_failure f;
};

static void *recv_thread(void *p)
{
	struct receiver *t = p;
	uint32_t next[SENDERS] = { 0 };
	unsigned char buf[MAX_PAYLOAD + 1];
	struct usock_msg *m = NULL;

	if (usock_msg_new(&m) < 0)
		T_FAIL(&t->f, "receiver: message setup");
	for (unsigned long i = 0; i < (unsigned long)SENDERS * PER_SENDER;
	     i++) {
		ssize_t r = usock_recv(t->s, buf, sizeof(buf), m);
		struct hdr h;
		struct fid id;

		if (r < (ssize_t)sizeof(h))
			T_FAIL(&t->f, "message %lu: usock_recv = %zd", i, r);
		memcpy(&h, buf, sizeof(h));
		/* Whole: the length it says; from a sender, in its order. */
		if (h.sender >= SENDERS || h.len != (uint32_t)r)
			T_FAIL(&t->f,
			       "message %lu: sender %u, %zd bytes for %u", i,
			       h.sender, r, h.len);
		if (h.seq != next[h.sender])
			T_FAIL(&t->f, "sender %u: seq %u after %u", h.sender,
			       h.seq, next[h.sender]);
		next[h.sender]++;
		if (h.len != payload_len(h.sender, h.seq))
			T_FAIL(&t->f, "sender %u seq %u: %u bytes", h.sender,
			       h.seq, h.len);
		/* Not mixed: every byte is this message's. */
		for (size_t k = sizeof(h); k < h.len; k++)
			if (buf[k] != body_byte(h.sender, h.seq, k))
				T_FAIL(&t->f, "sender %u seq %u: byte %zu",
				       h.sender, h.seq, k);
		if (h.seq % FD_EVERY) {
			if (usock_msg_get_nfds(m) != 0)
				T_FAIL(&t->f, "sender %u seq %u: stray fd",
				       h.sender, h.seq);
		} else {
			int fd = usock_msg_get_fd(m, 0);

			if (usock_msg_get_nfds(m) != 1 || fd < 0 ||
			    !fid_of_fd(fd, &id) ||
			    !fid_eq(id, t->ids[h.sender]))
				T_FAIL(&t->f, "sender %u seq %u: wrong fd",
				       h.sender, h.seq);
			t->fds++;
		}
		t->messages++;
	}
	return thread_end(t->s, m, -1);
fail:
	return thread_end(t->s, m, SHUT_RD);
}

/* _i: USOCK_SEQPACKET or USOCK_DGRAM (both keep message boundaries). */
START_TEST(test_eight_senders)
{
	struct sender snd[SENDERS];
	struct receiver rcv = { 0 };
	struct usock *a, *b;
	int pipes[SENDERS][2];

	pair_ok(_i, 0, &a, &b);
	rcv.s = b;
	for (int i = 0; i < SENDERS; i++) {
		ck_assert_int_eq(pipe2(pipes[i], O_CLOEXEC), 0);
		rcv.ids[i] = fid_of(pipes[i][1]);
		snd[i] = (struct sender){ .s = a,
					  .id = (uint32_t)i,
					  .fd = pipes[i][1] };
	}
	ck_assert_int_eq(pthread_create(&rcv.thread, NULL, recv_thread, &rcv),
			 0);
	for (int i = 0; i < SENDERS; i++)
		ck_assert_int_eq(pthread_create(&snd[i].thread, NULL,
						send_thread, &snd[i]),
				 0);
	for (int i = 0; i < SENDERS; i++)
		ck_assert_int_eq(pthread_join(snd[i].thread, NULL), 0);
	ck_assert_int_eq(pthread_join(rcv.thread, NULL), 0);
	for (int i = 0; i < SENDERS; i++)
		assert_thread_ok("sender", &snd[i].f);
	assert_thread_ok("receiver", &rcv.f);

	/* None lost, none left over. */
	ck_assert_uint_eq(rcv.messages, (unsigned long)SENDERS * PER_SENDER);
	ck_assert_uint_eq(rcv.fds,
			  (unsigned long)SENDERS *
				  ((PER_SENDER + FD_EVERY - 1) / FD_EVERY));
	assert_nothing_queued(b);
	for (int i = 0; i < SENDERS; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	usock_close(a);
	usock_close(b);
}
END_TEST

TEST_SUITE(threads8)
{
	TCase *tc = fd_tcase(s, "threads8");

	tcase_set_timeout(tc, 300);
	tcase_add_packet_test(tc, test_eight_senders);
}

/* ---- soak ---------------------------------------------------------------- */

/* ASan's quarantine and shadow memory grow as it runs, like valgrind's: its
 * leak check (LSan) covers the heap there. */
#if defined(__SANITIZE_ADDRESS__)
#define SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#endif
#endif
#ifndef SOAK_ASAN
#define SOAK_ASAN 0
#endif

#define SOAK_DEFAULT 100000
#define SOAK_VALGRIND 20000
#define SOAK_FIRST 10000
#define SOAK_BURST 16

/*
 * Resident memory in KiB from /proc/self/status: "RssAnon" (heap, stack,
 * anonymous maps: where a leak would show) or "VmRSS" (also the mapped
 * pages of code and data files, which grow as code is first touched).
 */
static long status_kib(const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	ck_assert_int_ge(v, 0);
	return v;
}

static void measure(size_t *fds, long *anon, long *rss)
{
	*fds = fd_count();
	*anon = status_kib("RssAnon");
	*rss = status_kib("VmRSS");
}

/*
 * USOCK_SOAK_MESSAGES messages (default 100,000; CI runs 1,000,000) with
 * one to three fds each through one SEQPACKET pair, in bursts of 16: the
 * fd count and the anonymous resident memory at the end must equal those
 * after the first 10,000. (VmRSS is printed too; its file-backed part grows
 * a little while code pages are first touched, and is no leak.) Under
 * valgrind, whose own memory grows as it runs, only the fd count is
 * compared, over 20,000 messages by default: its leak check covers the
 * heap. The same holds under ASan, whose LSan checks the heap.
 */
START_TEST(test_soak)
{
	const char *env = getenv("USOCK_SOAK_MESSAGES");
	const bool valgrind = RUNNING_ON_VALGRIND;
	unsigned long total = env	 ? strtoul(env, NULL, 10)
			      : valgrind ? SOAK_VALGRIND
					 : SOAK_DEFAULT;
	struct usock *a, *b;
	struct usock_msg *sm = msg_new_ok(), *rm = msg_new_ok();
	size_t fds_first = 0, fds_end;
	long anon_first = 0, anon_end, rss_first = 0, rss_end;
	unsigned long fds_moved = 0;
	int fds[3];
	double t0 = now_seconds();

	ck_assert_uint_ge(total, 2 * SOAK_FIRST);
	total -= total % SOAK_BURST;
	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(fds[i] = devnull(), 0);

	for (unsigned long i = 0; i < total; i += SOAK_BURST) {
		for (unsigned long j = i; j < i + SOAK_BURST; j++) {
			unsigned long k = j % 3 + 1;

			usock_msg_reset(sm);
			for (unsigned long f = 0; f < k; f++)
				ck_assert_int_eq(usock_msg_add_fd(sm, fds[f]),
						 0);
			ssize_t r;

			/* Other tests of this user may hold the in-flight
			 * count over the limit for a moment. */
			while (inflight_busy(
				r = usock_send(a, &j, sizeof(j), sm)))
				;
			ck_assert_int_eq(r, sizeof(j));
		}
		for (unsigned long j = i; j < i + SOAK_BURST; j++) {
			unsigned long got = 0;

			ck_assert_int_eq(usock_recv(b, &got, sizeof(got), rm),
					 sizeof(got));
			ck_assert_uint_eq(got, j);
			ck_assert_int_eq(usock_msg_get_nfds(rm),
					 (int)(j % 3 + 1));
			fds_moved += j % 3 + 1;
			/* Some taken (and closed by us), the rest closed
			 * by the next receive or the reset. */
			if (j % 7 == 0)
				ck_assert_int_eq(
					close(usock_msg_take_fd(rm, 0)), 0);
		}
		usock_msg_reset(rm);
		/* Measured twice: the first lays out the heap blocks that
		 * measuring itself uses. */
		if (i + SOAK_BURST == SOAK_FIRST)
			for (int k = 0; k < 2; k++)
				measure(&fds_first, &anon_first, &rss_first);
	}
	measure(&fds_end, &anon_end, &rss_end);
	printf("soak: %lu messages, %lu fds passed in %.1f s\n"
	       "soak: after %d: %zu fds open, RssAnon %ld KiB (VmRSS %ld)\n"
	       "soak: at the end: %zu fds open, RssAnon %ld KiB (VmRSS %ld)\n",
	       total, fds_moved, now_seconds() - t0, SOAK_FIRST, fds_first,
	       anon_first, rss_first, fds_end, anon_end, rss_end);
	ck_assert_uint_eq(fds_end, fds_first);
	if (!valgrind && !SOAK_ASAN)
		ck_assert_int_eq(anon_end, anon_first);

	for (int i = 0; i < 3; i++)
		close(fds[i]);
	usock_msg_free(sm);
	usock_msg_free(rm);
	usock_close(a);
	usock_close(b);
}
END_TEST

TEST_SUITE(soak)
{
	TCase *tc = fd_tcase(s, "soak");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_soak);
}
