#!/usr/bin/env bash
# Installs what Agent Shell needs to build and run (`setup.sh demo`) or to run its tests
# (`setup.sh test`) on Debian 12 or a close relative. Idempotent: skips what is already there.
set -euo pipefail

purpose=${1:-demo}
root=$(cd "$(dirname "$0")/.." && pwd)

# Build: Tauri's WebKitGTK stack. Run: xdg-utils opens the system browser and, with
# desktop-file-utils (update-desktop-database), hands the sign-in redirect back to the app on
# desktops that go through xdg-open; gio (libglib2.0-bin) is how GNOME and KDE open it.
packages=(build-essential pkg-config curl file ca-certificates
          libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
          xdg-utils desktop-file-utils libglib2.0-bin)
if [ "$purpose" = test ]; then
  # Tests: a virtual display, the WebKit WebDriver, a D-Bus session and a real Secret Service.
  # gdbus (libglib2.0-bin, above) reads the tray icon the way a desktop panel does.
  # xclip reads what "Copy diagnostics" put on the clipboard.
  # openssl makes the broker's TLS test certificates.
  # clang and llvm's archivers stand in for the Windows and macOS C toolchains when the app is
  # type-checked for those targets (scripts/cross-check-cc).
  packages+=(xvfb xauth webkit2gtk-driver dbus dbus-x11 gnome-keyring xclip openssl clang-14 llvm-14)
fi
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Rust: Debian's own cargo is too old for Tauri 2, so the toolchain comes from rustup.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing the Rust toolchain with rustup"
  if ! curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy -c rustfmt; then
    echo "setup: could not install Rust. Install it from https://rustup.rs and run this again." >&2
    exit 1
  fi
  export PATH="$HOME/.cargo/bin:$PATH"
fi

# The UI's build tools (TypeScript, esbuild), pinned by ui/package-lock.json.
stamp="$root/ui/node_modules/.agent-shell-lock"
if ! cmp -s "$root/ui/package-lock.json" "$stamp"; then
  echo "setup: installing the UI's npm packages"
  (cd "$root/ui" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$root/ui/package-lock.json" "$stamp"
fi

if [ "$purpose" = test ]; then
  tauri_driver_version=2.1.0
  if ! tauri-driver --help 2>/dev/null | grep -q "tauri-driver"; then
    if [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
      echo "setup: installing tauri-driver $tauri_driver_version"
      cargo install tauri-driver --locked --version "$tauri_driver_version" --quiet
    fi
  fi
fi
