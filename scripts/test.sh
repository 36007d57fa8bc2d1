#!/usr/bin/env bash
# `npm test`: type check, then the whole vitest suite inside a private D-Bus session with a
# throw-away, unlocked GNOME keyring, so keychain tests use a real Secret Service and never touch
# the user's own keyring. Extra arguments go to vitest: `npm test -- test/crypto`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh

tmp=$(mktemp -d -t conclave-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -m 700 "$tmp/data" "$tmp/runtime"
# gnome-keyring keeps its keyrings in $XDG_DATA_HOME/keyrings and its control socket in
# $XDG_RUNTIME_DIR/keyring; both are set before dbus-run-session so nothing lands in $HOME.
export XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/runtime"
unset GNOME_KEYRING_CONTROL SSH_AUTH_SOCK

# dbus-daemon prints a harmless "Failed to set fd limit" line when not allowed to raise it.
dbus-run-session -- bash -c '
  set -euo pipefail
  echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  npm run --silent typecheck
  # Browser-mode tests serve the built renderer.
  npm run --silent build:ui >/dev/null
  # Every node process and CLI call of the tests starts from the bundle, as users run it.
  npm run --silent build:node
  npx --no-install vitest run "$@"
' bash "$@"
