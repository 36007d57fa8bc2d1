// Refresh: every member gets a new share of the same key, epoch + 1, old shares stop combining with
// new ones. It is a reshare onto the same roster and threshold with every member dealing.
import { check } from './errors.js';
import type { DkgMember } from './dkg.js';
import type { PublicKeyPackage } from './keys.js';
import type { ReshareParams } from './reshare.js';

/** Parameters of a refresh of `old` for the given roster (which must be exactly the key's members). */
export function refreshParams(
  old: PublicKeyPackage,
  members: readonly DkgMember[],
  sessionId: Uint8Array,
): ReshareParams {
  const ids = members.map((m) => m.identifier);
  check(
    ids.length === old.verifyingShares.size && ids.every((id) => old.verifyingShares.has(id)),
    'bad_input',
    'a refresh keeps the roster: pass exactly the current members',
  );
  return { old, dealers: ids, members, threshold: old.threshold, sessionId };
}

export {
  reshareEcho as refreshEcho,
  reshareFinalize as refreshFinalize,
  reshareRound1 as refreshRound1,
  reshareRound2 as refreshRound2,
} from './reshare.js';
