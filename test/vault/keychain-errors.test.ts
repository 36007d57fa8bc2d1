// How the keychain binding's errors read to a custodian (messages measured with @napi-rs/keyring
// 2.1.2 on Debian 12 with gnome-keyring), and the checks made before the keychain is touched.
import { describe, expect, it } from 'vitest';
import { classifyKeychainError } from '../../main/vault/keychain.js';
import { newKeychainNamespace, openKeychainVault, VaultError } from '../../main/vault/index.js';

const FILE_HINT =
  'or choose the passphrase-protected file vault with `conclave init --vault file`.';

describe('keychain error messages', () => {
  const cases: [string, string, string][] = [
    [
      'no D-Bus session (DBUS_SESSION_BUS_ADDRESS unset)',
      'Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead',
      'no_keychain',
    ],
    [
      'a session bus without a Secret Service',
      'Platform failure: DBus error: The name org.freedesktop.secrets was not provided by any .service files',
      'no_keychain',
    ],
    [
      'a stale bus address',
      'Platform failure: DBus error: Failed to connect to socket /run/user/1000/bus: No such file or directory',
      'no_keychain',
    ],
    [
      'a Secret Service without a default keyring',
      "Couldn't access platform storage: Secret Service: no result found",
      'no_keychain',
    ],
    [
      'a locked keyring whose unlock prompt cannot be shown',
      "Couldn't access platform storage: Secret Service: unlock prompt was dismissed",
      'keychain_locked',
    ],
    [
      'a D-Bus call without a reply',
      'Platform failure: DBus error: org.freedesktop.DBus.Error.NoReply: Did not receive a reply',
      'keychain_timeout',
    ],
    ['anything else', 'Entry is matched by 2 credentials: [...]', 'keychain_failure'],
  ];
  for (const [what, message, expected] of cases)
    it(`reports ${what} as ${expected}`, () => {
      const err = classifyKeychainError(message, 10_000);
      expect(err).toBeInstanceOf(VaultError);
      expect(err.code).toBe(expected);
      expect(err.message.endsWith(FILE_HINT)).toBe(true);
      expect((err.cause as Error).message).toBe(message);
    });

  it('words each kind of failure as the custodian reads it', () => {
    const text = (m: string) => classifyKeychainError(m, 10_000).message;
    expect(text('Platform failure: DBus error: Using X11 for dbus-daemon autolaunch')).toBe(
      'No OS keychain is available (Secret Service not running). Start a keyring such as ' +
        `gnome-keyring, ${FILE_HINT}`,
    );
    expect(text('Secret Service: unlock prompt was dismissed')).toBe(
      'The OS keychain is locked, or has no default keyring yet. Unlock or create it (log in to ' +
        `your desktop session, or open your keyring app) and try again, ${FILE_HINT}`,
    );
    expect(text('org.freedesktop.DBus.Error.NoReply')).toBe(
      'The OS keychain did not answer within 10 s. It may be waiting for you to unlock it in a ' +
        'dialog, or its service may be stuck. Unlock your keyring or restart it and try again, ' +
        FILE_HINT,
    );
    expect(text('Attribute too long')).toBe(
      'The OS keychain reported an error: Attribute too long. Try again; if it persists, check ' +
        `your keyring app, ${FILE_HINT}`,
    );
  });
});

describe('openKeychainVault input checks (before the keychain is touched)', () => {
  it('makes 128-bit hex namespaces that differ', () => {
    const a = newKeychainNamespace();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newKeychainNamespace()).not.toBe(a);
  });

  it('refuses a namespace that could run into a name (a "/" in it) or is empty', async () => {
    for (const namespace of ['a/b', '', 'x'.repeat(101)])
      await expect(openKeychainVault({ namespace })).rejects.toMatchObject({ code: 'bad_input' });
  });
});
