/* SPDX-License-Identifier: MIT */
/* Threads: a sender and a receiver on the two ends of one pair, and several
 * senders sharing one handle. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

#define MESSAGES 100000
#define FD_EVERY 100
#define SENDERS 4

struct payload {
	uint32_t sender;
	uint32_t seq;
	unsigned char fill[40];
};

static void fill_payload(struct payload *p, uint32_t sender, uint32_t seq)
{
	p->sender = sender;
	p->seq = seq;
	for (size_t i = 0; i < sizeof(p->fill); i++)
		p->fill[i] = (unsigned char)(seq * 31 + sender * 7 + i);
}

struct sender {
	pthread_t thread;
	struct usock *s;
	uint32_t id;
	uint32_t count;
	int fd; /* sent with every FD_EVERY-th message */
	struct thread_failure res;
};

static void *send_thread(void *p)
{
	struct sender *t = p;
	struct usock_msg *m = NULL;
	struct payload pl;

	T_CHECK_EQ(&t->res, usock_msg_new(&m), 0);
	T_CHECK_EQ(&t->res, usock_msg_add_fd(m, t->fd), 0);
	for (uint32_t seq = 0; seq < t->count; seq++) {
		fill_payload(&pl, t->id, seq);
		T_CHECK_EQ(&t->res,
			   usock_send(t->s, &pl, sizeof(pl),
				      seq % FD_EVERY == 0 ? m : NULL),
			   sizeof(pl));
	}
	return thread_end(t->s, m, -1);
fail:
	return thread_end(t->s, m, SHUT_RDWR);
}

struct receiver {
	pthread_t thread;
	struct usock *s;
	uint32_t senders, per_sender;
	struct fid fd_id; /* what the fds that arrive must be */
	struct thread_failure res;
};

static void *recv_thread(void *p)
{
	struct receiver *t = p;
	uint32_t next[SENDERS] = { 0 };
	struct usock_msg *m = NULL;
	struct payload pl, want;
	unsigned char buf[sizeof(pl) + 1];

	T_CHECK_EQ(&t->res, usock_msg_new(&m), 0);
	for (uint32_t i = 0; i < t->senders * t->per_sender; i++) {
		uint32_t seq, rec[2];
		struct fid id = { 0 };
		int fd;

		T_CHECK_EQ(&t->res, usock_recv(t->s, buf, sizeof(buf), m),
			   sizeof(pl));
		memcpy(&pl, buf, sizeof(pl));
		T_CHECK_EQ(&t->res, pl.sender < t->senders, 1);
		seq = next[pl.sender]++;
		fill_payload(&want, pl.sender, seq);
		/* In order per sender, and intact. */
		T_CHECK_EQ(&t->res, pl.seq, seq);
		T_CHECK_EQ(&t->res, memcmp(&pl, &want, sizeof(pl)), 0);

		if (seq % FD_EVERY) {
			T_CHECK_EQ(&t->res, usock_msg_get_nfds(m), 0);
			continue;
		}
		T_CHECK_EQ(&t->res, usock_msg_get_nfds(m), 1);
		fd = usock_msg_take_fd(m, 0);
		T_CHECK_EQ(&t->res, fd >= 0, 1);
		/* The write end of the test's pipe: record the arrival. */
		rec[0] = pl.sender;
		rec[1] = seq;
		T_CHECK_EQ(&t->res, fid_of_fd(fd, &id) && fid_eq(id, t->fd_id),
			   1);
		T_CHECK_EQ(&t->res, fd_cloexec(fd), 1);
		T_CHECK_EQ(&t->res, write(fd, rec, sizeof(rec)), sizeof(rec));
		T_CHECK_EQ(&t->res, close(fd), 0);
	}
	return thread_end(t->s, m, -1);
fail:
	return thread_end(t->s, m, SHUT_RDWR);
}

/* The pipe holds one record per fd that arrived: check them, in order per
 * sender, and that there is nothing more. */
static void check_records(int rfd, uint32_t senders, uint32_t per_sender)
{
	uint32_t next[SENDERS] = { 0 }, rec[2];
	uint32_t n = senders * ((per_sender + FD_EVERY - 1) / FD_EVERY);

	for (uint32_t i = 0; i < n; i++) {
		ck_assert_int_eq(read(rfd, rec, sizeof(rec)), sizeof(rec));
		ck_assert_uint_lt(rec[0], senders);
		ck_assert_uint_eq(rec[1], next[rec[0]]);
		next[rec[0]] += FD_EVERY;
	}
	ck_assert_int_eq(fcntl(rfd, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(read(rfd, rec, sizeof(rec)), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

static void run(uint32_t senders)
{
	struct sender snd[SENDERS];
	struct receiver rcv;
	struct usock *a, *b;
	int p[2];

	pair_ok(USOCK_SEQPACKET, 0, &a, &b);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	rcv = (struct receiver){ .s = b,
				 .senders = senders,
				 .per_sender = MESSAGES / senders,
				 .fd_id = fid_of(p[1]) };
	ck_assert_int_eq(pthread_create(&rcv.thread, NULL, recv_thread, &rcv),
			 0);
	for (uint32_t i = 0; i < senders; i++) {
		snd[i] = (struct sender){
			.s = a, .id = i, .count = MESSAGES / senders, .fd = p[1]
		};
		ck_assert_int_eq(pthread_create(&snd[i].thread, NULL,
						send_thread, &snd[i]),
				 0);
	}
	for (uint32_t i = 0; i < senders; i++)
		ck_assert_int_eq(pthread_join(snd[i].thread, NULL), 0);
	ck_assert_int_eq(pthread_join(rcv.thread, NULL), 0);
	for (uint32_t i = 0; i < senders; i++)
		assert_thread_ok("sender", &snd[i].res);
	assert_thread_ok("receiver", &rcv.res);

	/* Nothing more queued, and every fd that arrived was closed. */
	assert_nothing_queued(b);
	ck_assert_uint_eq(fd_count(), fd_baseline()->n + 4);
	check_records(p[0], senders, MESSAGES / senders);

	close(p[0]);
	close(p[1]);
	usock_close(a);
	usock_close(b);
}

START_TEST(test_one_sender_one_receiver)
{
	run(1);
}
END_TEST

START_TEST(test_senders_share_handle)
{
	run(SENDERS);
}
END_TEST

TEST_SUITE(threads)
{
	TCase *tc = fd_tcase(s, "threads");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_one_sender_one_receiver);
	tcase_add_test(tc, test_senders_share_handle);
}
