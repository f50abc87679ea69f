#!/usr/bin/env bash
# Fuzzing (issue 21): cargo fuzz on what reads untrusted input, each target
# for SECONDS (default 300), from the seeds in fuzz/seeds and the corpus kept
# in fuzz/corpus between runs. Prints executions and findings per target; a
# finding is left in fuzz/artifacts/TARGET and fails the run.
#
#   bench/fuzz.sh [SECONDS]     the long run
#   bench/fuzz.sh --sample      30 s each, what make test runs
#
# Stable toolchain, no sanitizer (-s none): pai is safe Rust; panics, overflow
# checks (debug assertions are on) and hangs (-timeout) are what is looked for.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-300}
[ "$seconds" = --sample ] && seconds=30
CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi
cargo fuzz build -s none -O --debug-assertions 2>&1 | grep -E "^(error|warning)" || true
targets=$(cargo fuzz list)
echo "| target | seconds | executions | findings |"
echo "|---|---|---|---|"
failed=0
for t in $targets; do
  mkdir -p "corpus/$t"
  log=$(mktemp)
  if cargo fuzz run -s none -O --debug-assertions "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 >"$log" 2>&1; then
    findings=0
  else
    findings=1
    failed=1
  fi
  # -a: a target's output may hold binary bytes (a PDF's), which would make grep skip the file.
  runs=$(grep -aoE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || true)
  echo "| $t | $seconds | ${runs:-stopped} | $findings |"
  if [ "$findings" != 0 ]; then
    grep -E "panicked|SUMMARY|Test unit written|ERROR" "$log" | head -5 >&2
  fi
  rm -f "$log"
done
exit "$failed"
