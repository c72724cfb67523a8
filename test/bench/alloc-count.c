/* SPDX-License-Identifier: MIT */
/*
 * Heap accounting. The executable's own malloc family comes first in the
 * dynamic symbol lookup order, so these definitions receive every call that
 * libusock and libc make. Each is counted and forwarded to the next
 * definition: glibc's, or a sanitizer runtime's (which sits between the
 * executable and libc). Under valgrind the forwarded calls reach valgrind's
 * replacements as usual, and this file sees nothing: heap_counting() says
 * so. Sanitizer builds leave the interposer out (meson.build): a sanitizer
 * runtime allocates before it is ready to forward to.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifdef BENCH_COUNT_HEAP

static uint64_t n_calls, n_bytes, n_usable;

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);
static void *(*next_memalign)(size_t, size_t);

/*
 * dlsym() may allocate (its error state) while the next definitions are
 * looked up: those few early requests come from a static arena and are never
 * freed.
 */
static _Alignas(max_align_t) char boot[4096];
static size_t boot_used;
static int resolving;

static void *boot_alloc(size_t size)
{
	size_t at = (boot_used + _Alignof(max_align_t) - 1) &
		    ~(_Alignof(max_align_t) - 1);

	if (size > sizeof(boot) - at)
		return NULL;
	boot_used = at + size;
	return boot + at;
}

static int in_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

/* Called before main's threads exist: the first allocation is made by the
 * dynamic loader or libc's start-up. */
static void resolve(void)
{
	resolving = 1;
	next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	next_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(
		RTLD_NEXT, "posix_memalign");
	next_aligned_alloc =
		(void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
	next_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
	resolving = 0;
	if (!next_malloc || !next_calloc || !next_realloc || !next_free ||
	    !next_posix_memalign || !next_aligned_alloc || !next_memalign)
		abort();
}

static void count(const void *p, size_t size)
{
	if (!p)
		return;
	__atomic_fetch_add(&n_calls, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&n_bytes, size, __ATOMIC_RELAXED);
	__atomic_fetch_add(&n_usable, malloc_usable_size((void *)p),
			   __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
	void *p;

	if (!next_malloc) {
		if (resolving)
			return boot_alloc(size);
		resolve();
	}
	p = next_malloc(size);
	count(p, size);
	return p;
}

void *calloc(size_t nmemb, size_t size)
{
	void *p;

	if (!next_calloc) {
		/* The arena is static, hence already zeroed. */
		if (resolving)
			return size && nmemb > SIZE_MAX / size
				       ? NULL
				       : boot_alloc(nmemb * size);
		resolve();
	}
	p = next_calloc(nmemb, size);
	count(p, nmemb * size);
	return p;
}

void *realloc(void *old, size_t size)
{
	void *p;

	if (!next_realloc)
		resolve();
	if (in_boot(old)) {
		/* Never freed; copy what can have been stored. */
		p = next_malloc(size);
		if (p) {
			size_t avail =
				(size_t)(boot + sizeof(boot) - (char *)old);

			memcpy(p, old, size < avail ? size : avail);
		}
		count(p, size);
		return p;
	}
	p = next_realloc(old, size);
	count(p, size);
	return p;
}

void free(void *p)
{
	if (!p || in_boot(p))
		return;
	if (!next_free)
		resolve();
	next_free(p);
}

int posix_memalign(void **ret, size_t align, size_t size)
{
	int r;

	if (!next_posix_memalign)
		resolve();
	r = next_posix_memalign(ret, align, size);
	if (r == 0)
		count(*ret, size);
	return r;
}

/* aligned_alloc and memalign: the same arguments, counted the same way. */
static void *counted_aligned(void *(**next)(size_t, size_t), size_t align,
			     size_t size)
{
	void *p;

	if (!*next)
		resolve();
	p = (*next)(align, size);
	count(p, size);
	return p;
}

void *aligned_alloc(size_t align, size_t size)
{
	return counted_aligned(&next_aligned_alloc, align, size);
}

void *memalign(size_t align, size_t size)
{
	return counted_aligned(&next_memalign, align, size);
}

void heap_snapshot(struct heap_count *c)
{
	c->calls = __atomic_load_n(&n_calls, __ATOMIC_RELAXED);
	c->bytes = __atomic_load_n(&n_bytes, __ATOMIC_RELAXED);
	c->usable = __atomic_load_n(&n_usable, __ATOMIC_RELAXED);
}

bool heap_counting(void)
{
	/* Through a volatile pointer: a malloc/free pair the compiler can
	 * see may be left out. */
	void *(*volatile alloc)(size_t) = malloc;
	struct heap_count a;
	void *p;

	heap_snapshot(&a);
	p = alloc(16);
	free(p);
	return heap_calls_since(&a) > 0;
}

uint64_t heap_calls_since(const struct heap_count *from)
{
	return __atomic_load_n(&n_calls, __ATOMIC_RELAXED) - from->calls;
}

#else /* !BENCH_COUNT_HEAP */

void heap_snapshot(struct heap_count *c)
{
	c->calls = c->bytes = c->usable = 0;
}

bool heap_counting(void)
{
	return false;
}

uint64_t heap_calls_since(const struct heap_count *from)
{
	(void)from;
	return 0;
}

#endif
