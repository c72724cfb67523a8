// SPDX-License-Identifier: MIT
/*
 * usock-kernel-personality VERSION PROGRAM [ARG...]: run PROGRAM with a
 * seccomp filter that makes the kernel look like Linux VERSION (6.1, 5.14 or
 * 4.18) to it and to every process it starts:
 * - get/setsockopt(SOL_SOCKET, SO_PASSPIDFD, SO_PEERPIDFD or SO_PASSRIGHTS)
 *   fail with ENOPROTOOPT, as before 6.5 and 6.16;
 * - every system call added after VERSION fails with ENOSYS.
 * See README in this directory for what this can and cannot imitate.
 * PROGRAM finds VERSION in USOCK_KERNEL_PERSONALITY. Exit status: PROGRAM's; 2 for a bad command line, 1 if the filter could
 * not be installed, 127 if PROGRAM could not be run.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * The numbers from 403 on are the same on every architecture (alpha aside,
 * which we do not filter): 403-423 the 64-bit time calls of 32-bit
 * architectures (5.1; 64-bit ones have none there), 424 pidfd_send_signal
 * (5.1) and on. first_new is the first one the kernel did not have.
 * Numbers past the last the running kernel knows give ENOSYS anyway, so
 * the filter stops at an arbitrary bound above today's last (469).
 */
#define SYSCALL_UNIFIED_END 512

static const struct personality {
	const char *name;
	int first_new;
} personalities[] = {
	{ "6.1", 451 },  /* cachestat (6.5) and later */
	{ "5.14", 448 }, /* process_mrelease (5.15) and later */
	{ "4.18", 403 }, /* clock_gettime64, pidfd_send_signal (5.1), ... */
};

/* Socket options that VERSION lacks (all three personalities lack all). */
static const int missing_sockopts[] = {
	76, /* SO_PASSPIDFD, 6.5 */
	77, /* SO_PEERPIDFD, 6.5 */
	83, /* SO_PASSRIGHTS, 6.16 */
};

/* Newer system calls below 403, numbered by one architecture only. */
static const struct {
	uint32_t arch;
	int nr;
} late_calls[] = {
	{ SCMP_ARCH_X86_64, 335 }, /* uretprobe, 6.11 */
};

/*
 * libseccomp reads a rule's number as the native arch's and finds the
 * filter's own through the name. The native filter takes the number as it
 * is, so it needs no name (the libseccomp of today's distributions knows few
 * of the newest); the other x86 ABI's filter covers only the calls
 * libseccomp can name in both, which leaves out i386's 64-bit time calls
 * (403-423) when the wrapper is x86-64 and the program i386.
 */
static int add_enosys(scmp_filter_ctx ctx, uint32_t arch, int nr)
{
	char *name;
	int native_nr;

	if (arch == seccomp_arch_native())
		return seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(ENOSYS), nr,
					      0);
	name = seccomp_syscall_resolve_num_arch(arch, nr);
	if (!name)
		return 0;
	native_nr = seccomp_syscall_resolve_name(name);
	free(name);
	if (native_nr < 0)
		return 0;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), native_nr, 0);
}

static int add_rules(scmp_filter_ctx ctx, uint32_t arch,
		     const struct personality *p)
{
	static const char *const calls[] = { "getsockopt", "setsockopt" };
	int r;

	for (size_t c = 0; c < sizeof(calls) / sizeof(calls[0]); c++) {
		/*
		 * By name: libseccomp numbers it for the filter's arch (i386's
		 * and x86-64's differ). On i386 it also adds socketcall(2),
		 * whose arguments sit in memory where seccomp cannot compare
		 * them: a program that reaches setsockopt through socketcall
		 * (glibc on i386 does, for kernels before 4.3) is not covered.
		 */
		int nr = seccomp_syscall_resolve_name(calls[c]);

		for (size_t o = 0; o < sizeof(missing_sockopts) /
					       sizeof(missing_sockopts[0]);
		     o++) {
			/* The int arguments compare on their low 32 bits. */
			r = seccomp_rule_add(
				ctx, SCMP_ACT_ERRNO(ENOPROTOOPT), nr, 2,
				SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffff,
					SOL_SOCKET),
				SCMP_A2(SCMP_CMP_MASKED_EQ, 0xffffffff,
					missing_sockopts[o]));
			if (r < 0)
				return r;
		}
	}
	for (int nr = p->first_new; nr < SYSCALL_UNIFIED_END; nr++) {
		r = add_enosys(ctx, arch, nr);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < sizeof(late_calls) / sizeof(late_calls[0]);
	     i++) {
		if (late_calls[i].arch != arch)
			continue;
		r = add_enosys(ctx, arch, late_calls[i].nr);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * A filter for one architecture only, so that rules name its own numbers.
 * Processes of an architecture no filter covers run unfiltered: a program
 * of the other x86 ABI is covered below, others are not run by the tests.
 */
static scmp_filter_ctx arch_filter(uint32_t arch, const struct personality *p)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return NULL;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
	if (r == 0 && arch != seccomp_arch_native()) {
		r = seccomp_arch_add(ctx, arch);
		if (r == 0)
			r = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
	}
	if (r == 0)
		r = add_rules(ctx, arch, p);
	if (r < 0) {
		fprintf(stderr, "usock-kernel-personality: filter: %s\n",
			strerror(-r));
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

static int install(const struct personality *p)
{
	uint32_t native = seccomp_arch_native();
	scmp_filter_ctx ctx = arch_filter(native, p);
	int r;

	if (!ctx)
		return -1;
	/* An x86 machine runs both ABIs: the tests' build may be i386 and
	 * exec the system's x86-64 python3, or the other way round. */
	if (native == SCMP_ARCH_X86_64 || native == SCMP_ARCH_X86) {
		scmp_filter_ctx other = arch_filter(
			native == SCMP_ARCH_X86 ? SCMP_ARCH_X86_64
						: SCMP_ARCH_X86,
			p);

		if (!other || (r = seccomp_merge(ctx, other)) < 0) {
			if (other) {
				fprintf(stderr,
					"usock-kernel-personality: merge: %s\n",
					strerror(-r));
				seccomp_release(other);
			}
			seccomp_release(ctx);
			return -1;
		}
	}
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		fprintf(stderr, "usock-kernel-personality: load: %s\n",
			strerror(-r));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct personality *p = NULL;

	if (argc >= 2) {
		for (size_t i = 0;
		     i < sizeof(personalities) / sizeof(personalities[0]); i++)
			if (strcmp(argv[1], personalities[i].name) == 0)
				p = &personalities[i];
	}
	if (!p || argc < 3) {
		fprintf(stderr,
			"usage: usock-kernel-personality 6.1|5.14|4.18 "
			"PROGRAM [ARG...]\n");
		return 2;
	}
	/* Tests read it where the filter cannot be faithful (README). */
	if (setenv("USOCK_KERNEL_PERSONALITY", p->name, 1) < 0 ||
	    install(p) < 0)
		return 1;
	execvp(argv[2], &argv[2]);
	fprintf(stderr, "usock-kernel-personality: %s: %s\n", argv[2],
		strerror(errno));
	return 127;
}
