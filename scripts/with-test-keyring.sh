#!/usr/bin/env bash
# Runs a command with a real Secret Service on the current D-Bus session: gnome-keyring,
# its login keyring created (or unlocked) with a throwaway password. For tests only.
set -euo pipefail
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  echo "with-test-keyring: no D-Bus session; run inside dbus-run-session" >&2
  exit 1
fi
eval "$(printf '%s' "${AGENT_SHELL_TEST_KEYRING_PASSWORD:-agent-shell-tests}" \
  | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
exec "$@"
