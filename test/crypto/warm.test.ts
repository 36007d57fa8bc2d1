// The rehearsal before a key generation (main/crypto/warm.ts): a real key generation and
// signature on throwaway keys for each scheme, run a step per turn until told to stop.
import { describe, expect, it, vi } from 'vitest';
import { rehearsal, warmThreshold, type Rehearsed } from '../../main/crypto/warm.js';
import { verifySignature } from '../../shared/crypto/sign.js';
import { SCHEMES, type SchemeName } from '../../shared/crypto/suite.js';

/** A whole rehearsal at once. */
function rehearse(scheme: SchemeName): Rehearsed {
  const steps = rehearsal(scheme);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

describe('warming the threshold code before a key generation', () => {
  it.each(SCHEMES)('rehearses a %s key generation and a signature that verifies', (scheme) => {
    const a = rehearse(scheme);
    expect(verifySignature(a.publicPackage, a.message, a.signature)).toBe(true);
    // Fresh keys every time: nothing is reused between rehearsals.
    const b = rehearse(scheme);
    expect(b.publicPackage.groupKey.equals(a.publicPackage.groupKey)).toBe(false);
  });

  it('runs one rehearsal per turn until stopped, and none after', async () => {
    const w = warmThreshold('ed25519');
    await vi.waitFor(() => expect(w.rehearsals()).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    w.stop();
    const at = w.rehearsals();
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
    expect(w.rehearsals()).toBe(at);
  });

  it('rehearses nothing for an unknown scheme, nor once its time is up', async () => {
    const none = warmThreshold('rsa');
    const late = warmThreshold('ed25519', 0);
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
    expect(none.rehearsals()).toBe(0);
    expect(late.rehearsals()).toBe(0);
  });
});
