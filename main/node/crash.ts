// Test-only named crash points: the node SIGKILLs itself at the point CONCLAVE_CRASH_AT names.
// They show that a restart after a crash anywhere loses nothing acknowledged; inert unless
// CONCLAVE_ALLOW_FAULTS=1, like the other faults (context.ts).

/** Every named point, in protocol order; a test picks one with CONCLAVE_CRASH_AT. */
export const CRASH_POINTS = [
  // DKG (dkg.ts)
  'dkg-round1-sent',
  'dkg-echo-sent',
  'dkg-round2-sent',
  'dkg-before-store',
  'dkg-after-store',
  // Signing (signing.ts): signer side, then coordinator side
  'sign-nonce-taken',
  'sign-share-released',
  'sign-coordinator-sent',
  // Ceremonies (ceremonies/*.ts)
  'refresh-mid',
  'refresh-committed',
  'repair-mid',
  'repair-committed',
  'import-mid',
  'import-committed',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/**
 * Kills this process at once (no cleanup, no flush: what a power cut or the OOM killer does) when
 * this is the point CONCLAVE_CRASH_AT names and faults are allowed.
 */
export function crashPoint(name: CrashPoint): void {
  if (process.env.CONCLAVE_ALLOW_FAULTS !== '1' || process.env.CONCLAVE_CRASH_AT !== name) return;
  process.kill(process.pid, 'SIGKILL');
}
