// Smoke test of the OS keychain binding against a real Secret Service (scripts/test.sh starts one).
import { randomBytes, randomUUID } from 'node:crypto';
import { Entry } from '@napi-rs/keyring';
import { describe, expect, it } from 'vitest';

// Without a Secret Service the pinned store throws instead of falling back (measured with
// @napi-rs/keyring 2.1.2 on Debian 12), all with code 'GenericFailure':
// - no D-Bus session (DBUS_SESSION_BUS_ADDRESS unset), thrown by `new Entry(...)`:
//   "Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile
//   time, set your DBUS_SESSION_BUS_ADDRESS instead"
// - a D-Bus session but no unlocked keyring (D-Bus activates gnome-keyring, which has no default
//   collection), thrown by `setSecret`: "Couldn't access platform storage: Secret Service: no
//   result found"
// Without the `linux.store` option the binding silently falls back to the kernel keyring, which
// does not survive a reboot; Conclave always pins 'secret-service'.
function secretServiceEntry(service: string, account: string): Entry {
  try {
    return new Entry(service, account, { linux: { store: 'secret-service' } });
  } catch (err) {
    throw new Error('no Secret Service reachable: run keychain tests with `npm test`', {
      cause: err,
    });
  }
}

describe('OS keychain (Secret Service)', () => {
  it('stores a binary secret, reads it back, deletes it, and then finds nothing', () => {
    const service = `org.conclave.test.${randomUUID()}`;
    const entry = secretServiceEntry(service, 'share-1');
    // Every byte value, so NULs and bytes that are not valid UTF-8 must survive the round trip.
    const secret = new Uint8Array([
      ...Array.from({ length: 256 }, (_, i) => i),
      ...randomBytes(32),
    ]);

    entry.setSecret(secret);
    try {
      const read = entry.getSecret();
      expect(read).not.toBeNull();
      expect(Uint8Array.from(read ?? [])).toEqual(secret);
    } finally {
      expect(entry.deleteCredential()).toBe(true);
    }

    expect(entry.getSecret()).toBeNull();
    expect(secretServiceEntry(service, 'share-1').getSecret()).toBeNull();
    // A second delete reports that nothing was there rather than failing.
    expect(entry.deleteCredential()).toBe(false);
  });
});
