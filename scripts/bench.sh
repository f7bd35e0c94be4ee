#!/usr/bin/env bash
# Benchmarks, one command: builds the release app and its .deb (no emulator inside), the
# harness, installs Chromium for the side-by-side rows, runs everything on a virtual display
# with a real keyring, prints the table and rewrites docs/benchmarks.md (the table, then the
# notes in bench/notes.md). Takes about 15 minutes with the defaults.
#   BENCH_ROUNDS (3)  BENCH_IDLE_SECS (60)  BENCH_REFRESH_CYCLES (1000)
#   BENCH_JSON (target/bench/latest.json): every figure of the run, to compare a later run with
#   BENCH_COMPARE (unset): an earlier run's JSON; a table of medians and ratios is printed
#   BENCH_APP_LOG (info): the app's AGENT_SHELL_LOG, e.g. debug to profile a start
#   BENCH_DUMP_SILENT (unset): a path prefix; each silent start's log lines are written to
#   <prefix>-<variant>-<round>.txt with the ms since launch in front (where the time goes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh test
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
if ! command -v chromium >/dev/null; then
  apt-get install -y -q chromium >/dev/null
fi

(cd ui && npm ci --silent --no-audit --no-fund >/dev/null && npm run --silent build)
# The shipped build: release profile, default features (no emulator), and its .deb.
ui/node_modules/.bin/tauri build --bundles deb --ci -- --locked
cargo build --release --locked -p agent-shell-bench -p agent-shell-floor
deb=$(ls -t target/release/bundle/deb/*.deb | head -n1)

json="${BENCH_JSON:-$root/target/bench/latest.json}"
mkdir -p "$(dirname "$json")"
generated=$(mktemp)
home=$(mktemp -d)
trap 'rm -rf "$home" "$generated"' EXIT
HOME="$home" xvfb-run -a -s "-screen 0 1440x900x24" dbus-run-session -- \
  bash scripts/with-test-keyring.sh target/release/agent-shell-bench \
    --app target/release/agent-shell --floor target/release/agent-shell-floor \
    --chromium "$(command -v chromium)" --deb "$deb" \
    --rounds "${BENCH_ROUNDS:-3}" --idle-secs "${BENCH_IDLE_SECS:-60}" \
    --refresh-cycles "${BENCH_REFRESH_CYCLES:-1000}" --out "$generated" \
    --json "$json" ${BENCH_COMPARE:+--compare "$BENCH_COMPARE"}
cat "$generated" bench/notes.md > docs/benchmarks.md
echo "bench: docs/benchmarks.md rewritten; the figures are in $json"
