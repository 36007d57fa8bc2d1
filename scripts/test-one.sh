#!/usr/bin/env bash
# Runs chosen vitest files inside a private D-Bus session with a throw-away unlocked GNOME keyring
# (as scripts/test.sh does), without the type check and UI build: `bash scripts/test-one.sh FILE…`.
set -euo pipefail
cd "$(dirname "$0")/.."
# A throw-away keyring home, restarted unlocked should the daemon die (see keyring-env.sh).
source scripts/keyring-env.sh conclave-test
dbus-run-session -- bash -c '
  set -euo pipefail
  echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  npx --no-install vitest run "$@"
' bash "$@"
