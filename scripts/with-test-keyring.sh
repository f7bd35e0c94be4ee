#!/usr/bin/env bash
# Runs a command with a real Secret Service on the current D-Bus session: gnome-keyring with
# a "login" keyring that is the default collection. For tests only.
#
# The keyring is gnome-keyring's plain (unencrypted) kind, in the throwaway HOME the tests
# run in. That is deliberate: a password-protected keyring is locked again whenever a fresh
# daemon loads it, and unlocking it then needs a prompt nobody can answer, so every keychain
# call would hang. A CI run once lost its first daemon part-way through and the D-Bus
# activated replacement did exactly that. A plain keyring unlocks without a prompt, whichever
# daemon serves it.
set -euo pipefail
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  echo "with-test-keyring: no D-Bus session; run inside dbus-run-session" >&2
  exit 1
fi
keyrings="${XDG_DATA_HOME:-$HOME/.local/share}/keyrings"
mkdir -p "$keyrings"
if [ ! -e "$keyrings/login.keyring" ]; then
  printf '[keyring]\ndisplay-name=login\nctime=0\nmtime=0\nlock-on-idle=false\nlock-after=false\n' \
    > "$keyrings/login.keyring"
  printf 'login' > "$keyrings/default"
fi
# --daemonize: its own session and process group, so nothing aimed at the test's process
# group reaches it.
eval "$(gnome-keyring-daemon --start --daemonize --components=secrets)"
export GNOME_KEYRING_CONTROL

# Fail now, with a reason, rather than hang in the first test: unlocking the default
# collection must complete without a prompt (the reply's prompt path is "/").
reply=$(timeout 10 dbus-send --session --print-reply --dest=org.freedesktop.secrets \
  /org/freedesktop/secrets org.freedesktop.Secret.Service.Unlock \
  array:objpath:/org/freedesktop/secrets/collection/login 2>&1) || true
if ! printf '%s' "$reply" | grep -q 'object path "/"$'; then
  echo "with-test-keyring: the test keyring did not unlock without a prompt:" >&2
  printf '%s\n' "$reply" >&2
  exit 1
fi
exec "$@"
