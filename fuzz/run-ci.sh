#!/usr/bin/env bash
# Runs every fuzz target for a short, fixed time with the corpus and dictionary; fails on
# any crash. Called by the test command. Needs the nightly toolchain and cargo-fuzz
# (installed from crates.io if missing).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-20}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

for target in parsers unstuffer session commands server round_trip; do
  echo "fuzz: $target for ${seconds}s"
  # A scratch copy of the corpus: new inputs found in CI are not written into the checkout.
  work=$(mktemp -d)
  cp -r "corpus/$target/." "$work/"
  # The exit status is the fuzzer's own (a pipeline under pipefail would hide it).
  log=$(mktemp)
  status=0
  cargo +nightly fuzz run "$target" "$work" -- \
    -dict=pop3.dict -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E -A3 'stat::number_of_executed_units|stat::peak_rss|Done|ERROR|panicked|SUMMARY' "$log" || true
  rm -f "$log"
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $target FAILED (exit $status); the crashing input is under fuzz/artifacts/$target/"
    exit 1
  fi
done
echo "fuzz: every target ran ${seconds}s without a crash"
