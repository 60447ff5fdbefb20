#!/usr/bin/env bash
# run_fuzzer.sh FUZZER CORPUS_DIR SECONDS [libFuzzer flags…]
# Fuzzes for SECONDS on a scratch copy of the checked-in corpus (which is never written), and
# fails (non-zero) on any crash, sanitizer report, timeout (> 10 s on one input) or out-of-memory
# (> 2 GB). A crashing input is saved beside the build as crash-*/timeout-*/oom-* for replay:
#   FUZZER crash-…
set -euo pipefail
fuzzer="$1" corpus="$2" seconds="$3"
shift 3
[ -x "$fuzzer" ] || { echo "run_fuzzer.sh: no fuzzer $fuzzer (build asb_fuzzers)" >&2; exit 2; }
[ -d "$corpus" ] || { echo "run_fuzzer.sh: no corpus $corpus" >&2; exit 2; }
scratch="$(mktemp -d "${TMPDIR:-/tmp}/asb-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
cp -R "$corpus"/. "$scratch"/
# -runs bounds the work too, so a very fast machine stops early; UBSan halts on the first report.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
"$fuzzer" -max_total_time="$seconds" -runs=5000000 -timeout=10 -rss_limit_mb=2048 \
  -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$PWD/" "$@" "$scratch"
