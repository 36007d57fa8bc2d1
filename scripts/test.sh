#!/usr/bin/env bash
# `npm test`: type check, then the whole vitest suite inside a private D-Bus session with a
# throw-away, unlocked GNOME keyring, so keychain tests use a real Secret Service and never touch
# the user's own keyring. Extra arguments go to vitest: `npm test -- test/crypto`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh

# A throw-away keyring home, restarted unlocked should the daemon die (see keyring-env.sh).
source scripts/keyring-env.sh conclave-test

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
