// A use whose module has not landed yet: it refuses every request with a clear error, so the
// registry can name every kind from the start. Each use's own file replaces its stub.
import type { SchemeName } from '../crypto/suite.js';
import { fail } from './fields.js';
import type { RequestKind, RequestKindModule } from './types.js';

export function unsupportedUse(
  kind: RequestKind,
  noun: string,
  schemes: readonly SchemeName[],
): RequestKindModule<never> {
  const refuse = (): never => fail('message', `${noun} requests are not supported by this build`);
  return {
    kind,
    parse: refuse,
    read: refuse,
    decode: refuse,
    schemes,
    policy: {
      noun,
      allowedByDefault: true,
      canBeForbidden: true,
      approvalsConfigurable: true,
      needsReconstructEnabled: false,
      needsOnline: 'approvers',
      exposesKey: false,
    },
  };
}
