/* SPDX-License-Identifier: MIT */
/*
 * The main of the reliability suites (hostile peers, exhaustion, the
 * close-on-exec hammer, threads, soak). As in test-main.c, meson runs each
 * suite as its own test, selected with CK_RUN_SUITE.
 */
#include <stdio.h>
#include <stdlib.h>

#include "raw.h"

int main(void)
{
	static Suite *(*const suites[])(void) = {
		exhaustion_suite, hostile_suite, hammer_suite,
		threads8_suite,	  soak_suite,
	};
	const char *only = getenv("CK_RUN_SUITE");
	SRunner *sr = srunner_create(NULL);
	int failed, run;

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	run = srunner_ntests_run(sr);
	srunner_free(sr);
	if (run == 0) {
		fprintf(stderr, "no test ran (CK_RUN_SUITE=%s)\n",
			only ? only : "");
		return EXIT_FAILURE;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
