#!/usr/bin/env bash
# Builds the .deb the way the release does (default features: no emulator; a debug build to
# save CI time) and checks what an admin's desktops will get:
#   - the control file depends on what the sign-in redirect needs (xdg-utils, desktop-file-utils);
#   - the desktop entry passes the URL (Exec has %u) and claims the sign-in scheme (MimeType);
#   - after unpacking into a throwaway root, the desktop database resolves the scheme to that
#     entry (xdg-mime and gio, the two routes browsers take), and the entry runs the packaged
#     binary;
#   - the packaged binary has no emulator (`agent-shell demo` refuses).
# Usage: scripts/check-deb.sh [--no-build]   (--no-build: check the .deb already built)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scheme=com.agentshell.desktop
fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }
ok() { echo "check-deb: ok: $*"; }

if [ "${1:-}" != "--no-build" ]; then
  # The CLI from npm (ui/package.json pins it to the tauri crate's version).
  (cd ui && npm ci --silent --no-audit --no-fund >/dev/null && npm run --silent build)
  ui/node_modules/.bin/tauri build --debug --bundles deb --ci -- --locked
fi
deb=$(ls -t target/debug/bundle/deb/*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || fail "no .deb under target/debug/bundle/deb"
ok "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

depends=$(dpkg-deb -f "$deb" Depends)
for needed in xdg-utils desktop-file-utils libwebkit2gtk-4.1-0; do
  grep -q "$needed" <<<"$depends" || fail "Depends lacks $needed: $depends"
done
ok "Depends: $depends"

dpkg-deb -x "$deb" "$work/root"
shopt -s nullglob
entries=("$work"/root/usr/share/applications/*.desktop)
[ "${#entries[@]}" -eq 1 ] || fail "expected one desktop entry, found ${#entries[@]}"
entry=${entries[0]}
entry_name=$(basename "$entry")
desktop-file-validate "$entry" || fail "$entry_name does not validate"
exec_line=$(grep '^Exec=' "$entry")
[[ "$exec_line" == *" %u" ]] || fail "$entry_name: Exec has no %u, the sign-in URL would be dropped: $exec_line"
grep -qx "MimeType=x-scheme-handler/$scheme;" "$entry" || fail "$entry_name: no MimeType=x-scheme-handler/$scheme;"
ok "$entry_name: $exec_line, MimeType x-scheme-handler/$scheme"

binary="$work/root/usr/bin/$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$entry")"

# Machine-wide start at login: every user's session runs it; the program quits unless
# startup.autostart is on.
autostart="$work/root/etc/xdg/autostart/agent-shell.desktop"
[ -f "$autostart" ] || fail "no machine-wide autostart entry at /etc/xdg/autostart/agent-shell.desktop"
desktop-file-validate "$autostart" || fail "the autostart entry does not validate"
grep -qx "Exec=$(basename "$binary") --autostart" "$autostart" \
  || fail "the autostart entry does not run $(basename "$binary") --autostart: $(grep '^Exec=' "$autostart")"
ok "autostart entry: $(grep '^Exec=' "$autostart")"
[ -x "$binary" ] || fail "Exec names $(basename "$binary"), which the package does not install in /usr/bin"

# What the package's postinst trigger does on a real system, then the lookup browsers make.
update-desktop-database "$work/root/usr/share/applications"
# The package's /usr/bin on PATH, as on an installed system: gio skips a desktop entry whose
# program it cannot find.
isolated=(env -i PATH="$work/root/usr/bin:$PATH" HOME="$work/home" XDG_DATA_HOME="$work/home/.local/share"
  XDG_CONFIG_HOME="$work/home/.config" XDG_DATA_DIRS="$work/root/usr/share")
mkdir -p "$work/home"
resolved=$("${isolated[@]}" xdg-mime query default "x-scheme-handler/$scheme")
[ "$resolved" = "$entry_name" ] || fail "xdg-mime resolves x-scheme-handler/$scheme to '$resolved', not '$entry_name'"
ok "xdg-mime: x-scheme-handler/$scheme -> $resolved"
if command -v gio >/dev/null; then
  gio_answer=$("${isolated[@]}" gio mime "x-scheme-handler/$scheme" 2>&1 || true)
  grep -qF "Default application for" <<<"$gio_answer" && grep -qF "$entry_name" <<<"$gio_answer" \
    || fail "gio has no default $entry_name for the scheme: $gio_answer"
  ok "gio: default for x-scheme-handler/$scheme is $entry_name"
fi

set +e
demo_out=$("$binary" demo 2>&1)
demo_status=$?
set -e
[ "$demo_status" -ne 0 ] || fail "the packaged binary ran the demo: it carries the emulator"
grep -qi "emulator" <<<"$demo_out" || fail "the packaged binary's refusal does not say why: $demo_out"
ok "the packaged binary has no emulator (agent-shell demo exits $demo_status)"
