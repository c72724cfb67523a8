/* SPDX-License-Identifier: MIT */
/*
 * usock-bench: runs each workload through libusock and through a raw
 * sendmsg/recvmsg implementation of the same work, alternating them, and
 * prints the median rates, the ratio libusock/raw and the heap allocations
 * per message. See --help.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

#define MAX_IMPLS 3
#define MAX_REPEATS 99

/* The targets of issue 6. */
#define TARGET_WALL_RATIO 1.03
#define TARGET_HANDLE_BYTES 64
#define TARGET_BATCH_GAIN 1.15

struct config {
	unsigned long n;
	unsigned int repeats;
	unsigned int batch;
	unsigned int clients;
	bool quick;
	bool strict;
	const char *workload; /* NULL: all */
	int mode; /* -1: all */
};

/* Every run of one workload variant, by implementation and repeat. */
struct series {
	unsigned int nimpl;
	enum impl impls[MAX_IMPLS];
	unsigned int reps;
	struct run_result res[MAX_IMPLS][MAX_REPEATS];
};

typedef int (*run_fn)(const void *arg, enum impl impl, struct run_result *res);

static int run_pair(const void *arg, enum impl impl, struct run_result *res)
{
	return pair_run(arg, impl, res);
}

static int run_rtt(const void *arg, enum impl impl, struct run_result *res)
{
	return rtt_run(arg, impl, res);
}

static int run_scale(const void *arg, enum impl impl, struct run_result *res)
{
	return scale_run(*(const unsigned int *)arg, impl, res);
}

/*
 * One unrecorded warm-up run of each implementation (warm_arg: a smaller
 * job), then reps rounds that run every implementation once, rotating which
 * goes first so that neither always meets a cold or a warm machine.
 */
static int measure(struct series *s, run_fn fn, const void *arg,
		   const void *warm_arg)
{
	struct run_result tmp;

	for (unsigned int j = 0; j < s->nimpl; j++)
		if (fn(warm_arg, s->impls[j], &tmp) < 0)
			return -1;
	for (unsigned int rep = 0; rep < s->reps; rep++) {
		for (unsigned int k = 0; k < s->nimpl; k++) {
			unsigned int j = (k + rep) % s->nimpl;

			memset(&s->res[j][rep], 0, sizeof(s->res[j][rep]));
			if (fn(arg, s->impls[j], &s->res[j][rep]) < 0)
				return -1;
		}
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median of a per-run figure of implementation j. */
static double med_of(const struct series *s, unsigned int j,
		     double (*get)(const struct run_result *))
{
	double v[MAX_REPEATS];

	for (unsigned int r = 0; r < s->reps; r++)
		v[r] = get(&s->res[j][r]);
	return median(v, s->reps);
}

static double get_ns(const struct run_result *r)
{
	return (double)r->ns;
}

static double get_rate(const struct run_result *r)
{
	return (double)r->ops * 1e9 / (double)r->ns;
}

static double get_p50_us(const struct run_result *r)
{
	return (double)r->p50_ns / 1e3;
}

static double get_p99_us(const struct run_result *r)
{
	return (double)r->p99_ns / 1e3;
}

static double get_peak(const struct run_result *r)
{
	return r->peak_fds;
}

/* Time of implementation a over b: the median, lowest and highest of the
 * ratios of the runs of one round (run back to back, so under the same
 * load). */
struct ratio {
	double med, lo, hi;
};

static struct ratio time_ratio(const struct series *s, unsigned int a,
			       unsigned int b, bool cpu)
{
	struct ratio q = { .lo = 1e9, .hi = 0 };
	double v[MAX_REPEATS];

	for (unsigned int r = 0; r < s->reps; r++) {
		const struct run_result *x = &s->res[a][r], *y = &s->res[b][r];
		double t = cpu ? (double)x->cpu_ns / (double)y->cpu_ns
			       : (double)x->ns / (double)y->ns;

		v[r] = t;
		q.lo = t < q.lo ? t : q.lo;
		q.hi = t > q.hi ? t : q.hi;
	}
	q.med = median(v, s->reps);
	return q;
}

/* heap_counting(): false under valgrind or a sanitizer, and allocations
 * print as n/a. */
static bool counting;

/* Heap allocations per operation of implementation j over all its runs. */
static double allocs_per_op(const struct series *s, unsigned int j)
{
	uint64_t a = 0, ops = 0;

	for (unsigned int r = 0; r < s->reps; r++) {
		a += s->res[j][r].allocs + s->res[j][r].child_allocs;
		ops += s->res[j][r].ops;
	}
	return ops ? (double)a / (double)ops : 0;
}

/* ---- targets ---------------------------------------------------------- */

#define MAX_TARGETS 32

static struct target {
	char what[96];
	char figure[32];
	bool met;
} targets[MAX_TARGETS];
static unsigned int n_targets;

/* A target met or missed: what it is and the figure, with decimals. */
static void target(bool met, const char *what, double v, int decimals,
		   const char *unit)
{
	struct target *t;

	if (n_targets == MAX_TARGETS)
		return;
	t = &targets[n_targets++];
	snprintf(t->what, sizeof(t->what), "%s", what);
	snprintf(t->figure, sizeof(t->figure), "%.*f%s", decimals, v, unit);
	t->met = met;
}

/* The most heap allocations per message seen in a libusock steady state. */
static double worst_allocs = -1;
static char worst_allocs_where[32];

static void note_allocs(const char *where, double per_op)
{
	if (counting && per_op > worst_allocs) {
		worst_allocs = per_op;
		snprintf(worst_allocs_where, sizeof(worst_allocs_where),
			 "%.31s", where);
	}
}

/* " %9.3f" allocations per operation, or n/a. */
static void print_allocs(const struct series *s, unsigned int j)
{
	if (counting)
		printf(" %9.3f", allocs_per_op(s, j));
	else
		printf(" %9s", "n/a");
}

/* ---- the workloads ---------------------------------------------------- */

static bool want(const struct config *cfg, const char *workload)
{
	return !cfg->workload || strcmp(cfg->workload, workload) == 0;
}

static bool want_mode(const struct config *cfg, enum mode m)
{
	return cfg->mode < 0 || cfg->mode == (int)m;
}

/* How many more fds this process may open. */
static unsigned int fd_room(void)
{
	struct rlimit rl;
	int open = count_fds();

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || open < 0)
		return 0;
	if (rl.rlim_cur <= (rlim_t)open)
		return 0;
	return rl.rlim_cur - (rlim_t)open > 1000000
		       ? 1000000
		       : (unsigned int)(rl.rlim_cur - (rlim_t)open);
}

static unsigned long warm_n(unsigned long n)
{
	return n / 10 ? n / 10 : 1;
}

static struct series *new_series(const struct config *cfg, unsigned int nimpl,
				 const enum impl *impls)
{
	struct series *s = calloc(1, sizeof(*s));

	if (!s) {
		fail("out of memory");
		return NULL;
	}
	s->nimpl = nimpl;
	memcpy(s->impls, impls, nimpl * sizeof(*impls));
	s->reps = cfg->repeats;
	return s;
}

/* "wall lib/raw (range) cpu lib/raw" of implementation a against b. */
static void print_ratios(const struct series *s, unsigned int a, unsigned int b)
{
	struct ratio w = time_ratio(s, a, b, false);
	struct ratio c = time_ratio(s, a, b, true);

	printf(" %7.3f (%5.3f-%5.3f) %7.3f", w.med, w.lo, w.hi, c.med);
}

static void wall_target(const struct series *s, const char *what)
{
	char buf[96];
	double v = time_ratio(s, 1, 0, false).med;

	snprintf(buf, sizeof(buf), "wall lib/raw <= %.2f, %s",
		 TARGET_WALL_RATIO, what);
	target(v <= TARGET_WALL_RATIO, buf, v, 3, "");
}

static const char ratio_head[] = "    wall     (range)     cpu";

static int bench_seed(const struct config *cfg)
{
	/* raw+cred: the raw receiver with SO_PASSCRED on, as libusock keeps
	 * it on every SEQPACKET socket for exact end of file; its wall ratio
	 * to raw is that design's cost in the kernel. */
	static const enum impl impls[] = { IMPL_RAW, IMPL_LIB, IMPL_RAW_CRED };
	struct series *s = new_series(cfg, 3, impls);

	if (!s)
		return -1;
	printf("\nseed: sender thread -> receiver thread over a SEQPACKET "
	       "pair, 7-byte messages, %lu per run\n",
	       cfg->n);
	printf("%-6s %10s %10s%s %9s %9s %9s\n", "mode", "raw msg/s",
	       "lib msg/s", ratio_head, "raw alloc", "lib alloc", "eof cost");
	for (enum mode m = 0; m < MODE_COUNT; m++) {
		struct pair_spec spec = { .len = 7, .mode = m, .n = cfg->n };
		struct pair_spec warm = spec;
		char what[32];

		if (!want_mode(cfg, m))
			continue;
		warm.n = warm_n(cfg->n);
		if (measure(s, run_pair, &spec, &warm) < 0)
			goto fail;
		printf("%-6s %10.0f %10.0f", mode_name(m),
		       med_of(s, 0, get_rate), med_of(s, 1, get_rate));
		print_ratios(s, 1, 0);
		print_allocs(s, 0);
		print_allocs(s, 1);
		printf(" %9.3f\n", time_ratio(s, 2, 0, false).med);
		snprintf(what, sizeof(what), "seed %s", mode_name(m));
		wall_target(s, what);
		note_allocs(what, allocs_per_op(s, 1));
	}
	free(s);
	return 0;
fail:
	free(s);
	return -1;
}

static int bench_batch(const struct config *cfg)
{
	static const enum impl impls[] = { IMPL_RAW, IMPL_RAW_BATCH,
					   IMPL_LIB_BATCH };
	struct series *s = new_series(cfg, 3, impls);

	if (!s)
		return -1;
	printf("\nbatch: the seed workload, %u messages per sendmmsg/recvmmsg "
	       "call, %lu per run\n",
	       cfg->batch, cfg->n);
	printf("%-6s %10s %10s %10s %9s %9s %9s %9s\n", "mode", "raw 1/call",
	       "raw mmsg", "lib batch", "mmsg/raw", "lib/raw", "lib/mmsg",
	       "lib alloc");
	for (enum mode m = 0; m < MODE_COUNT; m++) {
		struct pair_spec spec = {
			.len = 7, .mode = m, .batch = cfg->batch, .n = cfg->n
		};
		struct pair_spec warm = spec;
		double gain;
		char what[96];

		if (!want_mode(cfg, m))
			continue;
		/* One receive installs the fds of a whole batch. */
		if (mode_nfds(m) * cfg->batch + 16 > fd_room()) {
			printf("%-6s skipped: a batch carries %u fds, the fd "
			       "limit leaves room for %u\n",
			       mode_name(m), mode_nfds(m) * cfg->batch,
			       fd_room());
			continue;
		}
		warm.n = warm_n(cfg->n);
		if (measure(s, run_pair, &spec, &warm) < 0)
			goto fail;
		/* Rates relative to each other: wall time ratios inverted. */
		gain = time_ratio(s, 0, 2, false).med;
		printf("%-6s %10.0f %10.0f %10.0f %9.3f %9.3f %9.3f",
		       mode_name(m), med_of(s, 0, get_rate),
		       med_of(s, 1, get_rate), med_of(s, 2, get_rate),
		       time_ratio(s, 0, 1, false).med, gain,
		       time_ratio(s, 1, 2, false).med);
		print_allocs(s, 2);
		printf("\n");
		snprintf(what, sizeof(what),
			 "batch of %u >= %.2f x raw 1/call, %s", cfg->batch,
			 TARGET_BATCH_GAIN, mode_name(m));
		target(gain >= TARGET_BATCH_GAIN, what, gain, 3, "");
		snprintf(what, sizeof(what), "batch %s", mode_name(m));
		note_allocs(what, allocs_per_op(s, 2));
	}
	free(s);
	return 0;
fail:
	free(s);
	return -1;
}

static int bench_rtt(const struct config *cfg, unsigned long n)
{
	static const enum impl impls[] = { IMPL_RAW, IMPL_LIB };
	static const enum mode modes[] = { MODE_NONE, MODE_FD1 };
	struct series *s[2] = { NULL, NULL };
	int r = -1;

	printf("\nround trip: parent <-> forked child over a SEQPACKET pair, "
	       "64 bytes each way, %lu per run\n",
	       n);
	printf("%-6s %10s %10s%s %9s\n", "mode", "raw rt/s", "lib rt/s",
	       ratio_head, "lib alloc");
	for (unsigned int i = 0; i < 2; i++) {
		struct rtt_spec spec = { .len = 64, .mode = modes[i], .n = n };
		struct rtt_spec warm = spec;
		char what[32];

		if (!want_mode(cfg, modes[i]))
			continue;
		s[i] = new_series(cfg, 2, impls);
		if (!s[i])
			goto out;
		warm.n = warm_n(n);
		if (measure(s[i], run_rtt, &spec, &warm) < 0)
			goto out;
		printf("%-6s %10.0f %10.0f", mode_name(modes[i]),
		       med_of(s[i], 0, get_rate), med_of(s[i], 1, get_rate));
		print_ratios(s[i], 1, 0);
		print_allocs(s[i], 1);
		printf("\n");
		snprintf(what, sizeof(what), "round trip %s",
			 mode_name(modes[i]));
		wall_target(s[i], what);
		note_allocs(what, allocs_per_op(s[i], 1));
	}
	printf("latency per round trip, microseconds (median over runs)\n");
	printf("%-6s %10s %10s %10s %10s\n", "mode", "raw p50", "lib p50",
	       "raw p99", "lib p99");
	for (unsigned int i = 0; i < 2; i++)
		if (s[i])
			printf("%-6s %10.2f %10.2f %10.2f %10.2f\n",
			       mode_name(modes[i]), med_of(s[i], 0, get_p50_us),
			       med_of(s[i], 1, get_p50_us),
			       med_of(s[i], 0, get_p99_us),
			       med_of(s[i], 1, get_p99_us));
	r = 0;
out:
	free(s[0]);
	free(s[1]);
	return r;
}

static int bench_bulk(const struct config *cfg, unsigned long n)
{
	static const enum impl impls[] = { IMPL_RAW, IMPL_LIB };
	struct series *s = new_series(cfg, 2, impls);
	struct pair_spec spec = { .len = 65536, .mode = MODE_NONE, .n = n };
	struct pair_spec warm = spec;

	if (!s)
		return -1;
	warm.n = warm_n(n);
	printf("\nbulk: 64 KiB messages, sender thread -> receiver thread over "
	       "a SEQPACKET pair, %lu per run\n",
	       n);
	if (measure(s, run_pair, &spec, &warm) < 0) {
		free(s);
		return -1;
	}
	printf("%-6s %10s %10s%s %9s\n", "", "raw MiB/s", "lib MiB/s",
	       ratio_head, "lib alloc");
	printf("%-6s %10.0f %10.0f", "", med_of(s, 0, get_rate) / 16,
	       med_of(s, 1, get_rate) / 16);
	print_ratios(s, 1, 0);
	print_allocs(s, 1);
	printf("\n");
	note_allocs("bulk", allocs_per_op(s, 1));
	free(s);
	return 0;
}

static int bench_scale(const struct config *cfg)
{
	static const enum impl impls[] = { IMPL_RAW, IMPL_LIB };
	struct series *s = new_series(cfg, 2, impls);
	unsigned int warm = cfg->clients / 10 ? cfg->clients / 10 : 1;

	if (!s)
		return -1;
	printf("\nscale: %u client processes -> one SEQPACKET listener served "
	       "with epoll, one fd each\n",
	       cfg->clients);
	if (measure(s, run_scale, &cfg->clients, &warm) < 0) {
		free(s);
		return -1;
	}
	printf("%-6s %10s %10s%s %9s %9s %9s %9s\n", "", "raw ms", "lib ms",
	       ratio_head, "raw peak", "lib peak", "raw alloc", "lib alloc");
	printf("%-6s %10.2f %10.2f", "", med_of(s, 0, get_ns) / 1e6,
	       med_of(s, 1, get_ns) / 1e6);
	print_ratios(s, 1, 0);
	printf(" %9.0f %9.0f", med_of(s, 0, get_peak), med_of(s, 1, get_peak));
	print_allocs(s, 0);
	print_allocs(s, 1);
	printf("\n");
	free(s);
	return 0;
}

/* Heap cost of the two handle types, from the counting interposer. */
static int bench_heap(void)
{
	struct heap_count a, b, c;
	struct usock *x, *y;
	struct usock_msg *m;
	int r;

	if (!counting) {
		printf("\nheap: not measured: malloc is not this program's "
		       "(valgrind or a sanitizer)\n");
		return 0;
	}
	heap_snapshot(&a);
	r = usock_pair(USOCK_SEQPACKET, 0, &x, &y);
	heap_snapshot(&b);
	if (r < 0)
		return fail("usock_pair: %s", strerror(-r));
	r = usock_msg_new(&m);
	heap_snapshot(&c);
	if (r < 0) {
		usock_close(x);
		usock_close(y);
		return fail("usock_msg_new: %s", strerror(-r));
	}
	printf("\nheap: socket handle %llu bytes (%llu usable), "
	       "%llu allocation(s) per usock_pair\n",
	       (unsigned long long)(b.bytes - a.bytes) / 2,
	       (unsigned long long)(b.usable - a.usable) / 2,
	       (unsigned long long)(b.calls - a.calls));
	printf("      message object %llu bytes (%llu usable), "
	       "%llu allocation(s) per usock_msg_new\n",
	       (unsigned long long)(c.bytes - b.bytes),
	       (unsigned long long)(c.usable - b.usable),
	       (unsigned long long)(c.calls - b.calls));
	target((b.bytes - a.bytes) / 2 <= TARGET_HANDLE_BYTES,
	       "socket handle <= 64 bytes", (double)(b.bytes - a.bytes) / 2, 0,
	       " bytes");
	usock_msg_free(m);
	usock_close(x);
	usock_close(y);
	return 0;
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: usock-bench [OPTIONS]\n"
		"Runs each workload through libusock and through raw "
		"sendmsg/recvmsg code doing\nthe same work, alternating them, "
		"and prints median rates, the ratio libusock/raw\nand heap "
		"allocations per message.\n\n"
		"  -n, --messages N     messages per run of the seed and batch "
		"workloads\n"
		"                       (default 100000; round trips: N/5, "
		"bulk "
		"messages: N/20)\n"
		"  -r, --repeats R      runs of each implementation (default "
		"5, "
		"at most %d)\n"
		"  -b, --batch B        messages per batch call (default 32, "
		"at most %d)\n"
		"  -c, --clients C      client processes of the scale workload "
		"(default 1000)\n"
		"  -w, --workload W     only seed, batch, rtt, bulk or scale\n"
		"  -m, --mode M         only none, fd1, creds or fd16 (seed, "
		"batch, rtt)\n"
		"  -q, --quick          smoke test: -n 2000 -r 2 -c 50 unless "
		"given\n"
		"                       (under valgrind: -n 300 -r 1 -c 10)\n"
		"  -s, --strict         exit 1 if libusock allocates on the "
		"heap "
		"per message\n"
		"  -h, --help           this text\n\n"
		"Instructions per call: test/bench/callgrind.sh BENCH runs "
		"the quick seed workload\nunder valgrind --tool=callgrind and "
		"prints the user-space instructions per\nusock_send/usock_recv "
		"(and per raw send/receive) for each mode.\n",
		MAX_REPEATS, USOCK_MAX_BATCH);
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max,
		       unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = {
		{ "messages", required_argument, NULL, 'n' },
		{ "repeats", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "clients", required_argument, NULL, 'c' },
		{ "workload", required_argument, NULL, 'w' },
		{ "mode", required_argument, NULL, 'm' },
		{ "quick", no_argument, NULL, 'q' },
		{ "strict", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long n = 0, r = 0, b = 32, c = 0;
	bool vg;
	int opt;

	cfg->mode = -1;
	while ((opt = getopt_long(argc, argv, "n:r:b:c:w:m:qsh", opts, NULL)) !=
	       -1) {
		int bad = 0;

		switch (opt) {
		case 'n':
			bad = parse_ulong(optarg, 10, 100000000, &n);
			break;
		case 'r':
			bad = parse_ulong(optarg, 1, MAX_REPEATS, &r);
			break;
		case 'b':
			bad = parse_ulong(optarg, 1, USOCK_MAX_BATCH, &b);
			break;
		case 'c':
			bad = parse_ulong(optarg, 1, 100000, &c);
			break;
		case 'w':
			cfg->workload = optarg;
			bad = strcmp(optarg, "seed") &&
			      strcmp(optarg, "batch") &&
			      strcmp(optarg, "rtt") && strcmp(optarg, "bulk") &&
			      strcmp(optarg, "scale");
			break;
		case 'm':
			for (enum mode m = 0; m < MODE_COUNT; m++)
				if (strcmp(optarg, mode_name(m)) == 0)
					cfg->mode = (int)m;
			bad = cfg->mode < 0;
			break;
		case 'q':
			cfg->quick = true;
			break;
		case 's':
			cfg->strict = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad) {
			fprintf(stderr, "usock-bench: bad value for -%c: %s\n",
				opt, optarg);
			return -1;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -1;
	}
	/* Valgrind runs the quick mode some 50 times slower: smaller. */
	vg = cfg->quick && getenv("LD_PRELOAD") &&
	     strstr(getenv("LD_PRELOAD"), "vgpreload");
	cfg->n = n ? n : vg ? 300 : cfg->quick ? 2000 : 100000;
	cfg->repeats = (unsigned int)(r ? r : vg ? 1 : cfg->quick ? 2 : 5);
	cfg->batch = (unsigned int)b;
	cfg->clients = (unsigned int)(c ? c : vg ? 10 : cfg->quick ? 50 : 1000);
	return 0;
}

/*
 * The scale workload keeps a connection per client open in the server, and
 * as many fds may be in flight: raise the soft fd limit to the hard one, and
 * use fewer clients if even that is too low.
 */
static void raise_nofile(struct config *cfg)
{
	struct rlimit rl;
	unsigned int room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	room = rl.rlim_cur > 200000 ? 100000 : (unsigned int)rl.rlim_cur / 2;
	if (room < 100)
		room = 100;
	if (cfg->clients > room - 64) {
		printf("note: RLIMIT_NOFILE %llu: scale uses %u clients\n",
		       (unsigned long long)rl.rlim_cur, room - 64);
		cfg->clients = room - 64;
	}
}

static void print_header(const struct config *cfg)
{
	struct utsname u;
	struct rlimit rl;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	uname(&u);
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("usock-bench: libusock %s, N=%lu, repeats=%u, batch=%u, "
	       "clients=%u%s\n",
	       usock_version(), cfg->n, cfg->repeats, cfg->batch, cfg->clients,
	       cfg->quick ? " (quick: figures are not meaningful)" : "");
	printf("machine: %ld cpus, %s %s %s, uid %ld, RLIMIT_NOFILE %llu\n",
	       cpus, u.sysname, u.release, u.machine, (long)getuid(),
	       (unsigned long long)rl.rlim_cur);
}

static void print_legend(void)
{
	printf("\nmsg/s, rt/s, MiB/s, ms: median over the runs. wall, cpu: "
	       "libusock/raw ratio of the wall\ntimes and of the CPU times "
	       "(user and system, all threads and the forked peer;\nthe "
	       "scale server only), median of the ratios of the runs paired "
	       "in each round;\nrange: their lowest and highest. batch "
	       "ratios are of rates (higher is faster).\nalloc: heap "
	       "allocations per message, round trip or connection in the "
	       "timed part\n(scale: usock_accept allocates the handle). "
	       "peak: most fds open in the server.\neof cost (seed): wall "
	       "ratio of raw with SO_PASSCRED on the receiver to raw, the\n"
	       "kernel's part of the price of libusock's exact end of file.\n");
}

static void print_targets(void)
{
	if (counting && worst_allocs >= 0) {
		char what[96];

		snprintf(what, sizeof(what),
			 "0 heap allocations per message (worst: %s)",
			 worst_allocs_where);
		target(worst_allocs == 0, what, worst_allocs, 3, "");
	}
	printf("\ntargets (issue 6)%s:\n", n_targets ? "" : ": none measured");
	for (unsigned int i = 0; i < n_targets; i++)
		printf("  %-56s %8s  %s\n", targets[i].what, targets[i].figure,
		       targets[i].met ? "met" : "MISSED");
	if (!counting)
		printf("  heap allocations: not measured (valgrind or a "
		       "sanitizer)\n");
	printf("  instructions per usock_send/usock_recv: "
	       "test/bench/callgrind.sh\n");
}

int main(int argc, char **argv)
{
	struct config cfg = { 0 };
	int fds, r = 0;

	if (parse_args(argc, argv, &cfg) < 0)
		return 2;
	raise_nofile(&cfg);
	counting = heap_counting();
	setvbuf(stdout, NULL, _IOLBF, 0);
	print_header(&cfg);
	fds = count_fds();

	if (!cfg.workload && bench_heap() < 0)
		return 1;
	if (want(&cfg, "seed") && bench_seed(&cfg) < 0)
		r = 1;
	if (r == 0 && want(&cfg, "batch") && bench_batch(&cfg) < 0)
		r = 1;
	if (r == 0 && want(&cfg, "rtt") &&
	    bench_rtt(&cfg, cfg.n / 5 ? cfg.n / 5 : 1) < 0)
		r = 1;
	if (r == 0 && want(&cfg, "bulk") &&
	    bench_bulk(&cfg, cfg.n / 20 ? cfg.n / 20 : 1) < 0)
		r = 1;
	if (r == 0 && want(&cfg, "scale") && bench_scale(&cfg) < 0)
		r = 1;
	if (r)
		return r;

	print_legend();
	print_targets();
	if (count_fds() != fds) {
		fail("fd table changed: %d fds at start, %d at the end", fds,
		     count_fds());
		return 1;
	}
	if (cfg.strict && worst_allocs > 0) {
		fail("--strict: libusock allocated on the heap per message");
		return 1;
	}
	return 0;
}
