/* SPDX-License-Identifier: MIT */
/*
 * The one main for every suite. meson registers each suite as its own test
 * and selects it with CK_RUN_SUITE; CK_FORK (default on) and the other CK_*
 * variables work as libcheck documents them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

/* Exit code that meson (and automake) report as a skip. */
#define EXIT_SKIP 77

int main(void)
{
	static Suite *(*const suites[])(void) = {
		lifecycle_suite, msg_suite,	transfer_suite,
		cloexec_suite,	 creds_suite,	trunc_suite,
		eof_suite,	 threads_suite, args_suite,
		addr_suite,	 peer_suite,	quota_suite,
		batch_suite,	 connect_suite, types_suite,
		identity_suite,	 rawsend_suite, batchedge_suite,
		scale_suite,
	};
	const char *only = getenv("CK_RUN_SUITE");
	bool root = geteuid() == 0;
	int failed, run;
	SRunner *sr;

	if (only && strcmp(only, "privileged") == 0 && !root) {
		printf("SKIP: suite 'privileged' claims other processes' "
		       "credentials and needs root (euid %u)\n",
		       (unsigned)geteuid());
		return EXIT_SKIP;
	}

	sr = srunner_create(NULL);
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	if (root) {
		srunner_add_suite(sr, privileged_suite());
		srunner_add_suite(sr, identity_privileged_suite());
	} else if (!only)
		printf("note: suite 'privileged' left out: not root\n");

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	run = srunner_ntests_run(sr);
	srunner_free(sr);

	/* A misspelt CK_RUN_SUITE runs nothing; that must not pass. */
	if (run == 0) {
		fprintf(stderr, "no test ran (CK_RUN_SUITE=%s)\n",
			only ? only : "");
		return EXIT_FAILURE;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
