// `conclave://` links: the only one is `conclave://join?invite=conclave-invite:…`. Anything else a
// web page or another program might hand the app is ignored.
import { LIMITS } from '../../shared/api/schema.js';

export const DEEP_LINK_SCHEME = 'conclave';
const INVITE = /^conclave-invite:[A-Za-z0-9_-]+$/;

/** The invite a `conclave://join?invite=…` link carries, or undefined for any other string. */
export function parseDeepLink(link: unknown): { invite: string } | undefined {
  if (typeof link !== 'string' || link.length > LIMITS.inviteChars + 64) return undefined;
  let url: URL;
  try {
    url = new URL(link);
  } catch (_) {
    return undefined;
  }
  if (
    url.protocol !== `${DEEP_LINK_SCHEME}:` ||
    url.host.toLowerCase() !== 'join' ||
    url.username !== '' ||
    url.password !== '' ||
    (url.pathname !== '' && url.pathname !== '/') ||
    url.hash !== ''
  )
    return undefined;
  const keys = [...url.searchParams.keys()];
  if (keys.length !== 1 || keys[0] !== 'invite') return undefined;
  const invite = url.searchParams.get('invite') ?? '';
  if (invite.length > LIMITS.inviteChars || !INVITE.test(invite)) return undefined;
  return { invite };
}

/** The first deep link among command-line arguments (Windows and Linux pass it that way). */
export function findDeepLink(argv: readonly string[]): { invite: string } | undefined {
  for (const arg of argv) {
    if (!arg.toLowerCase().startsWith(`${DEEP_LINK_SCHEME}:`)) continue;
    const link = parseDeepLink(arg);
    if (link) return link;
  }
  return undefined;
}
