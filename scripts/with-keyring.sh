#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with a throw-away, unlocked GNOME keyring (what
# `npm test` uses), e.g. `bash scripts/with-keyring.sh npx vitest run test/integration`.
set -euo pipefail
tmp=$(mktemp -d -t conclave-kr.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -m 700 "$tmp/data" "$tmp/runtime"
export XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/runtime"
unset GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
dbus-run-session -- bash -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; "$@"' bash "$@"
