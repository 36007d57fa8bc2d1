// conclave:// links: only `conclave://join?invite=conclave-invite:…` is understood.
import { describe, expect, it } from 'vitest';
import { findDeepLink, parseDeepLink } from '../../main/electron/deeplink.js';

const INVITE = 'conclave-invite:eyJ2IjoxLCJncm91cElkIjoiYWJjIn0';

describe('parseDeepLink', () => {
  it('reads the invite of a join link', () => {
    expect(parseDeepLink(`conclave://join?invite=${INVITE}`)).toEqual({ invite: INVITE });
    expect(parseDeepLink(`conclave://join/?invite=${INVITE}`)).toEqual({ invite: INVITE });
    expect(parseDeepLink(`conclave://join?invite=${encodeURIComponent(INVITE)}`)).toEqual({
      invite: INVITE,
    });
    expect(parseDeepLink(`CONCLAVE://JOIN?invite=${INVITE}`)).toEqual({ invite: INVITE });
  });

  it('refuses everything else', () => {
    for (const link of [
      `https://join?invite=${INVITE}`,
      `conclave://approve?invite=${INVITE}`,
      `conclave://join.evil?invite=${INVITE}`,
      `conclave://join/extra?invite=${INVITE}`,
      `conclave://user@join?invite=${INVITE}`,
      `conclave://join:80?invite=${INVITE}`,
      `conclave://join?invite=${INVITE}#frag`,
      `conclave://join?invite=${INVITE}&approve=r1`,
      `conclave://join?invite=${INVITE}&invite=${INVITE}`,
      `conclave://join?code=${INVITE}`,
      'conclave://join?invite=',
      'conclave://join?invite=hello',
      'conclave://join?invite=conclave-invite:',
      'conclave://join?invite=conclave-invite:abc%0Adef',
      'conclave://join?invite=conclave-invite:<script>',
      'conclave://join?invite=conclave-invite:a b',
      `conclave://join?invite=conclave-invite:${'a'.repeat(5000)}`,
      `conclave:join?invite=${INVITE}`,
      'javascript:alert(1)',
      'file:///etc/passwd',
      '',
      'not a url',
    ]) {
      expect(parseDeepLink(link), link).toBeUndefined();
    }
    expect(parseDeepLink(undefined)).toBeUndefined();
    expect(parseDeepLink({ toString: () => `conclave://join?invite=${INVITE}` })).toBeUndefined();
  });
});

describe('findDeepLink', () => {
  it('finds the link among command-line arguments', () => {
    expect(
      findDeepLink(['/opt/Conclave/conclave', '--no-sandbox', `conclave://join?invite=${INVITE}`]),
    ).toEqual({ invite: INVITE });
    expect(findDeepLink(['/opt/Conclave/conclave', 'conclave://evil', '--flag'])).toBeUndefined();
    expect(findDeepLink([])).toBeUndefined();
  });
});
