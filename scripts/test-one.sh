#!/usr/bin/env bash
# Runs chosen vitest files inside a private D-Bus session with a throw-away unlocked GNOME keyring
# (as scripts/test.sh does), without the type check and UI build: `bash scripts/test-one.sh FILE…`.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d -t conclave-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -m 700 "$tmp/data" "$tmp/runtime"
export XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/runtime"
unset GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
dbus-run-session -- bash -c '
  set -euo pipefail
  echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  npx --no-install vitest run "$@"
' bash "$@"
