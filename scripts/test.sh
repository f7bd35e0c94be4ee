#!/usr/bin/env bash
# Quick start, command 2: installs what is needed and runs every check CI runs: formatting,
# the UI type check, clippy, and the whole test suite (unit, emulator protocol, CLI, and the
# end-to-end tests that drive the real app under Xvfb through WebDriver).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh test
export PATH="$HOME/.cargo/bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check

step "UI: TypeScript type check, unit tests (Node) and bundle"
(cd ui && npm run --silent typecheck && npm test --silent && npm run --silent build)

step "clippy (the shipped build, without the emulator; then with the demo feature)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --workspace --all-targets --locked --features demo -- -D warnings

step "the app for Windows and macOS (app, core and os-calls linted for those targets; they cannot run here)"
rustup target add --toolchain "$(rustup show active-toolchain | cut -d' ' -f1)" x86_64-pc-windows-msvc aarch64-apple-darwin >/dev/null
# C and Objective-C in dependencies' build scripts (ring, mac-notification-sys) need the MSVC
# CRT or the macOS SDK; nothing is linked here, so a stand-in compiler writes empty objects.
export CC_x86_64_pc_windows_msvc="$PWD/scripts/cross-check-cc" AR_x86_64_pc_windows_msvc=llvm-lib-14
export CC_aarch64_apple_darwin="$PWD/scripts/cross-check-cc" AR_aarch64_apple_darwin=llvm-ar-14
for target in x86_64-pc-windows-msvc aarch64-apple-darwin; do
  cargo clippy -p agent-shell -p agent-shell-core -p agent-shell-os-calls --locked --target "$target" -- -D warnings
done

step "the release workflow (actionlint, with shellcheck for its run: steps)"
bash scripts/lint-workflows.sh

step "the .deb: built without the emulator, desktop entry passes the sign-in URL, scheme resolves"
bash scripts/check-deb.sh

step "fuzzing the parsers that face the outside (20 s per target, from the committed corpus)"
bash scripts/fuzz.sh 20

step "tests (on a virtual display, in a private D-Bus session with an unlocked keyring)"
# xvfb-run -a: a free virtual display for the real webview. dbus-run-session inside it: the
# single-instance plugin and the Secret Service need a session bus, services it starts see the
# display, and the private bus ends with the run. A throwaway HOME keeps the test keyring and
# everything the app writes away from the real one; cargo and rustup keep their own homes.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
test_home=$(mktemp -d)
# The document portal may leave a FUSE mount in the throwaway HOME: unmount it, and never let
# cleaning up decide the result of the run.
cleanup() {
  fusermount -uz "$test_home/.cache/doc" 2>/dev/null || umount -l "$test_home/.cache/doc" 2>/dev/null || true
  rm -rf "$test_home" 2>/dev/null || true
}
trap cleanup EXIT
# Each end-to-end app has its own watchdog (tests/support); this outer limit is the last
# resort that keeps a hang anywhere else from eating CI's 90 minutes without a word.
status=0
HOME="$test_home" timeout --kill-after=30s 45m xvfb-run -a -s "-screen 0 1440x900x24" dbus-run-session -- \
  bash scripts/with-test-keyring.sh cargo test --workspace --locked --features demo -- --include-ignored || status=$?
if [ "$status" -eq 124 ]; then
  echo "test.sh: the test run passed its 45-minute limit and was stopped" >&2
fi
exit "$status"
