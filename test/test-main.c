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
/* More suites than one program will hold. */
#define MAX_SUITES 64

/* Made by the linker for a section whose name is a C identifier. */
extern const struct test_suite __start_usock_test_suites[];
extern const struct test_suite __stop_usock_test_suites[];

/* The suite runs here (no requirement, or it is met); else say why not. */
static bool runs_here(const struct test_suite *t, bool only)
{
	const char *unmet = t->unmet ? t->unmet() : NULL;

	if (!unmet)
		return true;
	if (only) {
		/* The one suite asked for cannot run: a skip that meson
		 * shows, not a pass. */
		printf("SKIP: suite '%s' %s\n", t->name, unmet);
		exit(EXIT_SKIP);
	}
	printf("note: suite '%s' left out: %s\n", t->name, unmet);
	return false;
}

int main(void)
{
	const struct test_suite *start = __start_usock_test_suites;
	const struct test_suite *stop = __stop_usock_test_suites;
	const char *only = getenv("CK_RUN_SUITE");
	static bool runs[MAX_SUITES];
	SRunner *sr;
	int failed, run;

	if (stop - start > MAX_SUITES) {
		fprintf(stderr, "%d suites, more than MAX_SUITES\n",
			(int)(stop - start));
		return EXIT_FAILURE;
	}

	/*
	 * Requirements first, before anything is allocated: a probe forks,
	 * and valgrind would count this process's heap as the child's leak.
	 */
	for (const struct test_suite *t = start; t < stop; t++)
		runs[t - start] = (!only || strcmp(only, t->name) == 0) &&
				  runs_here(t, only != NULL);

	sr = srunner_create(NULL);
	for (const struct test_suite *t = start; t < stop; t++) {
		Suite *s;

		if (!runs[t - start])
			continue;
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
