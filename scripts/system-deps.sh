#!/usr/bin/env bash
# Ensures the Debian packages the test suite needs (Secret Service for keychain tests, Chromium for
# browser tests, OpenSSH, age and OpenSSL for the uses' tests) are present; installs the missing
# ones when root, otherwise names the command.
set -euo pipefail

# binary path -> Debian package that provides it
declare -A needed=(
  [/usr/bin/chromium]=chromium
  [/usr/bin/gnome-keyring-daemon]=gnome-keyring
  [/usr/bin/dbus-run-session]=dbus-daemon
  # The uses' tests run the standard tools against the group's key.
  [/usr/sbin/sshd]=openssh-server
  [/usr/bin/ssh-keygen]=openssh-client
  [/usr/bin/age]=age
  [/usr/bin/openssl]=openssl
  # The hostile-network test drops packets at random inside its own network namespaces.
  [/usr/sbin/iptables]=iptables
)

missing=()
for bin in "${!needed[@]}"; do
  [[ -x "$bin" ]] || missing+=("${needed[$bin]}")
done
((${#missing[@]} == 0)) && exit 0

# Sorted so the printed command is stable.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort)
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"

if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "system-deps: installing ${missing[*]} (needed by the tests)" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  exit 0
fi

echo "system-deps: missing ${missing[*]}; run as root: $cmd" >&2
exit 1
