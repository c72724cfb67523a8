/* SPDX-License-Identifier: MIT */
/*
 * The one main of both test programs, usock-test and usock-reliability: it
 * runs the suites that TEST_SUITE placed in the program's ELF section
 * usock_test_suites. meson registers each suite as its own test and selects
 * it with CK_RUN_SUITE; CK_FORK (default on) and the other CK_* variables
 * work as libcheck documents them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* Exit code that meson (and automake) report as a skip. */
#define EXIT_SKIP 77

/* Made by the linker for a section whose name is a C identifier. */
extern const struct test_suite __start_usock_test_suites[];
extern const struct test_suite __stop_usock_test_suites[];

int main(void)
{
	const char *only = getenv("CK_RUN_SUITE");
	SRunner *sr = srunner_create(NULL);
	int failed, run;

	for (const struct test_suite *t = __start_usock_test_suites;
	     t < __stop_usock_test_suites; t++) {
		const char *unmet;
		Suite *s;

		if (only && strcmp(only, t->name) != 0)
			continue;
		unmet = t->unmet ? t->unmet() : NULL;
		if (unmet && only) {
			/* The one suite asked for cannot run: a skip that
			 * meson shows, not a pass. */
			printf("SKIP: suite '%s' %s\n", t->name, unmet);
			srunner_free(sr);
			return EXIT_SKIP;
		}
		if (unmet) {
			printf("note: suite '%s' left out: %s\n", t->name,
			       unmet);
			continue;
		}
		s = suite_create(t->name);
		t->fill(s);
		srunner_add_suite(sr, s);
	}

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
