/* SPDX-License-Identifier: MIT */
/*
 * A main for the fuzz target without libFuzzer: runs every file named on
 * the command line (or found in a directory named there) through it once.
 * Every build replays the committed corpus this way, also under valgrind
 * and the sanitizers.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long runs;

static int run_file(const char *path)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rbe");
	size_t n;

	if (!f) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	/* Named first: a failure aborts. */
	printf("%s\n", path);
	fflush(stdout);
	LLVMFuzzerTestOneInput(buf, n);
	runs++;
	return 0;
}

static int run_path(const char *path)
{
	struct stat st;
	struct dirent **names;
	char sub[4096];
	int n, r = 0;

	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		perror(path);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' && r == 0) {
			snprintf(sub, sizeof(sub), "%s/%s", path,
				 names[i]->d_name);
			r = run_file(sub);
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i]) < 0)
			return 1;
	printf("%lu inputs replayed\n", runs);
	return runs ? 0 : 1;
}
