#!/usr/bin/env bash
# Fuzzes the parsers that face the outside (the sign-in redirect, the embedded client's
# messages, configuration and policy files, the loopback listener's requests) and the log
# scrubber (no panic, and a planted token never comes out) with cargo-fuzz
# (libFuzzer), each for a bounded time, starting from the committed corpus in fuzz/corpus.
# Any panic fails the run and leaves the crashing input in fuzz/artifacts/TARGET/.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET...]
# Installs what it needs: a nightly toolchain (for this only; the product builds on stable)
# and cargo-fuzz.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(redirect client_message config loopback_head scrub)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.1



for target in "${targets[@]}"; do
  corpus="corpus/$target"
  # A scratch copy: new inputs the run finds do not churn the committed corpus (refresh it
  # deliberately with `cargo +nightly fuzz cmin TARGET corpus/TARGET`).
  scratch=$(mktemp -d)
  cp "$corpus"/* "$scratch"/
  echo "fuzz: $target for ${seconds}s from $(ls "$corpus" | wc -l) corpus inputs"
  # The fuzzer's own exit status decides (a `|| true` after the pipe would hide it: with
  # pipefail, PIPESTATUS would then be that of `true`).
  set +e
  cargo +nightly fuzz run --debug-assertions "$target" "$scratch" "$corpus" -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|thread .* panicked)'
  status=${PIPESTATUS[0]}
  set -e
  rm -rf "$scratch"
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $target FAILED (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
echo "fuzz: no target panicked"
