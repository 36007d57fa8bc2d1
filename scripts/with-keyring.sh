#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with a throw-away, unlocked GNOME keyring (what
# `npm test` uses), e.g. `bash scripts/with-keyring.sh npx vitest run test/integration`.
set -euo pipefail
# A throw-away keyring home, restarted unlocked should the daemon die (see keyring-env.sh).
source "$(dirname "$0")/keyring-env.sh" conclave-kr
dbus-run-session -- bash -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; "$@"' bash "$@"
