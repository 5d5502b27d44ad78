/*
 * fds__sweep: close what a process inherited beyond stdio and the
 * descriptors it was told about.  close_range(2) closes the gaps between
 * the kept ones in a few calls, whatever the fd limit.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/fds.h"

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int fds__sweep(const int *keep, int n)
{
	int sorted[16], k = 0;
	unsigned int lo = 3;

	if (n < 0 || n > 16)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (keep[i] >= 3)
			sorted[k++] = keep[i];
	qsort(sorted, (size_t)k, sizeof(int), cmp_int);
	for (int i = 0; i < k; i++) {
		if ((unsigned int)sorted[i] > lo && close_range(lo, (unsigned int)sorted[i] - 1, 0) < 0)
			return -errno;
		lo = (unsigned int)sorted[i] + 1;
	}
	return close_range(lo, UINT_MAX, 0) < 0 ? -errno : 0;
}
