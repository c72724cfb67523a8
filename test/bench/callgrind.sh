#!/bin/sh
# SPDX-License-Identifier: MIT
#
# User-space instructions per usock_send and usock_recv, and per send and
# receive of the benchmark's raw implementation, for each mode of the seed
# workload: runs `usock-bench --quick -n 2000 -r 2 -w seed -m MODE` under
# valgrind --tool=callgrind and divides the inclusive instruction count of
# each function (callgrind_annotate --inclusive=yes) by its number of calls.
# Inclusive counts include libc's sendmsg/recvmsg wrappers (all user space);
# the kernel is not counted. -n and -r are given because the quick mode
# shrinks under valgrind; one-time costs (lazy binding) spread over 4,200
# calls.
#
# Usage: test/bench/callgrind.sh [PATH/TO/usock-bench] [MODE...]
#        (default: build/test/bench/usock-bench; modes none fd1 creds fd16)
set -eu

bench=${1:-$(dirname "$0")/../../build/test/bench/usock-bench}
[ $# -gt 0 ] && shift
modes=${*:-none fd1 creds fd16}
for tool in valgrind callgrind_annotate; do
	command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 77; }
done
[ -x "$bench" ] || { echo "$0: $bench: not an executable" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Print "inclusive calls" of function $2 in callgrind_annotate's caller tree
# $1: the '*' line of a block holds the inclusive cost, the '<' lines above
# it the callers with their call counts "(Nx)".
per_call() {
	awk -v fn=":$2 " '
		/^[[:space:]]*$/ { calls = 0; next }
		/ < / {
			if (match($0, /\([0-9,]+x\)/)) {
				c = substr($0, RSTART + 1, RLENGTH - 3)
				gsub(",", "", c)
				calls += c
			}
			next
		}
		/ \* / && index($0, fn) {
			ir = $1
			gsub(",", "", ir)
			printf "%d %d\n", ir, calls
			exit
		}' "$1"
}

printf 'user-space instructions per call (callgrind, %s %s)\n' \
	"$(basename "$bench")" "--quick -n 2000 -r 2 -w seed"
printf '%-6s %11s %11s %11s %11s %8s\n' mode usock_send "raw send" \
	usock_recv "raw recv" calls
for mode in $modes; do
	out=$tmp/callgrind.$mode
	if ! valgrind --tool=callgrind --callgrind-out-file="$out" \
		"$bench" --quick -n 2000 -r 2 -w seed -m "$mode" \
		>"$tmp/log" 2>&1; then
		cat "$tmp/log" >&2
		exit 1
	fi
	callgrind_annotate --inclusive=yes --tree=caller "$out" >"$tmp/ann"
	line=$mode
	calls=0
	for fn in usock_send raw_send usock_recv raw_recv_one; do
		r=$(per_call "$tmp/ann" "$fn")
		ir=${r%% *}
		n=${r##* }
		if [ -z "$r" ] || [ "$n" -eq 0 ]; then
			echo "$0: no calls of $fn in the $mode run" >&2
			exit 1
		fi
		line=$line$(printf ' %11d' $(( (ir + n / 2) / n )))
		calls=$n
	done
	printf '%s %8d\n' "$line" "$calls"
done
