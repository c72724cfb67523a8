/* SPDX-License-Identifier: MIT */
/*
 * A program from outside the tree: it knows libusock only through its
 * installed header and pkg-config, or as a meson subproject. It passes the
 * read end of a pipe to itself over a pair and reads through the fd that
 * arrives. With an argument, it checks that the library it runs with is
 * that version.
 */
#include <usock.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int failed(const char *what, long r)
{
	fprintf(stderr, "consumer: %s: %ld\n", what, r);
	return 1;
}

int main(int argc, char **argv)
{
	struct usock *a, *b;
	struct usock_msg *m;
	char buf[16];
	int p[2], fd;
	ssize_t n;
	int r;

	if (argc > 1 && strcmp(argv[1], usock_version()) != 0) {
		fprintf(stderr, "consumer: runs with libusock %s, wants %s\n",
			usock_version(), argv[1]);
		return 1;
	}
	if (pipe(p) < 0)
		return failed("pipe", -1);
	r = usock_pair(USOCK_SEQPACKET, 0, &a, &b);
	if (r < 0)
		return failed("usock_pair", r);
	r = usock_msg_new(&m);
	if (r < 0)
		return failed("usock_msg_new", r);
	r = usock_msg_add_fd(m, p[0]);
	if (r < 0)
		return failed("usock_msg_add_fd", r);
	n = usock_send(a, "fd", 2, m);
	if (n != 2)
		return failed("usock_send", (long)n);
	close(p[0]);
	usock_msg_reset(m);

	n = usock_recv(b, buf, sizeof(buf), m);
	if (n != 2 || memcmp(buf, "fd", 2) != 0)
		return failed("usock_recv", (long)n);
	if (usock_msg_get_nfds(m) != 1)
		return failed("usock_msg_get_nfds", usock_msg_get_nfds(m));
	fd = usock_msg_take_fd(m, 0);
	if (fd < 0)
		return failed("usock_msg_take_fd", fd);
	if (write(p[1], "through", 7) != 7)
		return failed("write", -1);
	close(p[1]);
	n = read(fd, buf, sizeof(buf));
	if (n != 7 || memcmp(buf, "through", 7) != 0)
		return failed("read through the received fd", (long)n);
	close(fd);
	usock_msg_free(m);
	usock_close(a);
	usock_close(b);
	printf("consumer: libusock %s passed an fd\n", usock_version());
	return 0;
}
