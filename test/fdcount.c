/* SPDX-License-Identifier: MIT */
/*
 * Helper run by the cloexec suite after fork+exec: reports the fds it
 * inherited beyond 0, 1 and 2. Output on stdout: a first line with their
 * number, then one line per fd, "FD DEV INO", in /proc/self/fd order.
 * Exit status 0, or 1 if /proc/self/fd cannot be listed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define MAX_FDS 4096

int main(void)
{
	static struct {
		int fd;
		struct stat st;
	} found[MAX_FDS];
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");

	if (!d) {
		perror("fdcount: /proc/self/fd");
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd <= 2 || fd == dirfd(d))
			continue;
		if (n == MAX_FDS) {
			fprintf(stderr, "fdcount: more than %d fds\n", MAX_FDS);
			closedir(d);
			return 1;
		}
		found[n].fd = fd;
		if (fstat(fd, &found[n].st) < 0) {
			perror("fdcount: fstat");
			closedir(d);
			return 1;
		}
		n++;
	}
	closedir(d);

	printf("%zu\n", n);
	for (size_t i = 0; i < n; i++)
		printf("%d %llu %llu\n", found[i].fd,
		       (unsigned long long)found[i].st.st_dev,
		       (unsigned long long)found[i].st.st_ino);
	return fflush(stdout) == 0 ? 0 : 1;
}
