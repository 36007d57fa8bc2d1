# Sourced by test.sh, test-one.sh and with-keyring.sh: a throw-away home for a private GNOME
# keyring, to be used inside `dbus-run-session` (whose command starts the daemon unlocked).
# Sets $tmp (removed on exit), XDG_DATA_HOME and XDG_RUNTIME_DIR.
#
# gnome-keyring-daemon aborts now and then when clients connect and leave quickly (an upstream
# race: an assertion on a NULL client in its Secret Service, the daemon dies with a trap in GLib);
# the suite's many short-lived node processes hit it. D-Bus then starts the daemon again on the
# next request, by default LOCKED (it would ask for the password in a GUI prompt that cannot open
# here), and every later keychain test fails. So this session's D-Bus starts it with our own
# service file instead, unlocked with the same throw-away password: the keyring file and what it
# holds survive the crash, and only the call in flight at that moment fails.
tmp=$(mktemp -d -t "${1:-conclave-test}.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -m 700 "$tmp/data" "$tmp/runtime"
mkdir -p "$tmp/data/dbus-1/services"
cat > "$tmp/keyring-again.sh" <<'EOS'
#!/bin/sh
printf pw | exec gnome-keyring-daemon --foreground --unlock --components=secrets
EOS
chmod 755 "$tmp/keyring-again.sh"
# $XDG_DATA_HOME/dbus-1/services comes before the system's service directories.
printf '[D-BUS Service]\nName=org.freedesktop.secrets\nExec=%s\n' "$tmp/keyring-again.sh" \
  > "$tmp/data/dbus-1/services/org.freedesktop.secrets.service"
# gnome-keyring keeps its keyrings in $XDG_DATA_HOME/keyrings and its control socket in
# $XDG_RUNTIME_DIR/keyring; both are set before dbus-run-session so nothing lands in $HOME.
export XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/runtime"
unset GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
