#!/usr/bin/env bash
# Quick start, command 1: installs what is needed, builds, and opens Agent Shell against the
# bundled Genesys Cloud emulator (no Genesys org or configuration needed).
# Extra arguments go to `agent-shell demo`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh demo
export PATH="$HOME/.cargo/bin:$PATH"
(cd ui && npm run --silent build)
# The emulator is a development tool: only this build (and the tests') carries it.
cargo build --bin agent-shell --features demo
exec target/debug/agent-shell demo "$@"
