#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the libFuzzer target for a bounded time, starting from the committed
# seed corpus (never written to: new inputs go to a scratch directory).
# Fails on any crash, leak or fd growth (the target aborts on those), and
# prints the executions per second and the total.
#   run-fuzz.sh FUZZER SEED_DIR SECONDS [ARTIFACT_DIR]
# USOCK_FUZZ_SECONDS, when set, replaces SECONDS (CI: 180 through meson).
set -eu
fuzzer=$1 seeds=$2 seconds=${USOCK_FUZZ_SECONDS:-$3}
artifacts=${4:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/usock-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
log="$work/log"
status=0
start=$(date +%s)
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
	-rss_limit_mb=2048 -artifact_prefix="$work/" \
	"$work/corpus" "$seeds" >"$log" 2>&1 || status=$?
elapsed=$(( $(date +%s) - start ))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
echo "fuzz: ${execs:-?} executions in ${elapsed} s (${rate:-?} per second), ${cov:-cov: ?}, $(ls "$work/corpus" | wc -l) new inputs"
if [ "$status" != 0 ]; then
	tail -n 60 "$log"
	if [ -n "$artifacts" ]; then
		mkdir -p "$artifacts"
		cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$artifacts"/ 2>/dev/null || true
		echo "fuzz: inputs that failed copied to $artifacts"
	fi
	exit 1
fi
