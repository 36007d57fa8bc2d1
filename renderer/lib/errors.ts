// Turns an error from the node into a sentence a custodian understands, with what to do next.
import { ApiError, type ApiErrorCode } from '../../shared/api/index.js';

const ADVICE: Record<ApiErrorCode, string> = {
  bad_input: 'Check what you entered and try again.',
  not_found: 'It may have been removed. Reload the list and try again.',
  ambiguous: 'More than one thing has that name; pick it from the list instead.',
  conflict: 'It changed in the meantime: look at its current state before trying again.',
  not_member: 'Your node is not a member of that group.',
  not_ready: 'It is not ready for that yet: wait for the step shown on screen, then try again.',
  unreachable:
    'Your Conclave node cannot be reached. Check that it is still running (conclave start), then reload this page.',
  timeout: 'Your node did not answer in time. It may be busy or offline; try again in a minute.',
  vault:
    'Your key share store could not be opened. Unlock your keychain (or check the vault passphrase) and try again.',
  confirmation_required: 'Read what this does, confirm it, and try again.',
  keychain_unavailable:
    'This computer has no keychain service. Keep your shares in a file protected by a passphrase instead.',
  locked: 'Your key share store is locked: enter its passphrase to unlock it.',
  internal:
    'Something went wrong inside your node. Try again; if it happens again, look at the node’s log.',
};

/** "Could not <doing>. <advice> (Details: <node's message>)" */
export function explain(err: unknown, doing: string): string {
  const code: ApiErrorCode = err instanceof ApiError ? err.code : 'internal';
  const detail = err instanceof Error ? err.message : String(err);
  const advice = ADVICE[code] ?? ADVICE.internal;
  return `Could not ${doing}. ${advice}${detail ? ` (Details: ${detail})` : ''}`;
}
