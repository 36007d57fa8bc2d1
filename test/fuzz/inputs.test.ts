// Fuzzes what a user or a file hands the node: share backups (file and printable forms, and the
// import itself on damaged files), group policies (validatePolicy) and every API method's input
// (validateInput). Each throws only its typed error (CryptoError, PolicyError, ApiError), and
// what is accepted is accepted again unchanged (a normalised value is a fixed point).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError, type ApiMethod } from '../../shared/api/index.js';
import { API_METHODS, validateInput } from '../../shared/api/schema.js';
import {
  backupFromPrintable,
  backupToPrintable,
  exportBackup,
  importBackup,
  readBackupHeader,
} from '../../shared/crypto/backup.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import {
  defaultPolicy,
  PolicyError,
  policyHash,
  USE_KINDS,
  validatePolicy,
} from '../../shared/policy/policy.js';
import { dealerKeys } from '../crypto/helpers.js';
import { fuzz, jsonAround, RUNS, textAround } from './fuzz.js';

describe('fuzz: share backups', () => {
  const keys = dealerKeys('secp256k1', 2, 3);
  const meta = {
    memberName: 'Alice',
    memberIdentity: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
    groupId: 'ab'.repeat(16),
    groupName: 'Treasury',
  };
  const PASS = 'correct horse battery staple';
  // Cheap scrypt so that importing damaged files costs milliseconds, not seconds.
  const CHEAP = { kdf: { N: 2 ** 4, r: 1, p: 1 }, insecureAllowWeakKdf: true };
  const file = exportBackup(keys[0]!, meta, PASS, CHEAP);
  const printable = backupToPrintable(file);

  it('readBackupHeader and backupToPrintable: CryptoError only', () => {
    const files = fc.oneof(
      textAround([file]),
      jsonAround([JSON.parse(file)]).map((j) => JSON.stringify(j) ?? ''),
    );
    fuzz('backup readBackupHeader', files, readBackupHeader, [CryptoError]);
    fuzz('backup backupToPrintable', files, backupToPrintable, [CryptoError], {
      // What prints reads back to the same file.
      check: (p, f) =>
        expect(readBackupHeader(backupFromPrintable(p))).toEqual(readBackupHeader(f)),
    });
  });

  it('backupFromPrintable: CryptoError, or a file whose header reads', () => {
    fuzz(
      'backup backupFromPrintable',
      textAround([printable]),
      backupFromPrintable,
      [CryptoError],
      {
        check: (f) => readBackupHeader(f),
      },
    );
  });

  it('importBackup on damaged files: CryptoError only (weak KDF, so it runs fast)', () => {
    fuzz(
      'backup importBackup',
      jsonAround([JSON.parse(file)]).map((j) => JSON.stringify(j) ?? ''),
      (f) => importBackup(f, PASS, { insecureAllowWeakKdf: true }),
      [CryptoError],
      { runs: Math.ceil(RUNS / 3) },
    );
  });
});

describe('fuzz: policies', () => {
  const base = defaultPolicy();
  const seeds = [
    base,
    {
      ...base,
      allowedKinds: [...base.allowedKinds, 'reconstruct', ...USE_KINDS],
      allowReconstruct: true,
      approvals: { sign: 3, refresh: 4 },
      messagePrefixes: ['pay ', 'sign:'],
      limits: {
        age: false,
        x509: { maxDays: 90 },
        ssh: { principals: ['deploy'], maxValiditySec: 3600, requesterCounts: false },
        psbt: {
          maxSpendSats: 100000,
          allowedAddresses: ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'],
        },
        nostr: { kinds: [1, 7] },
      },
    },
  ];

  it('validatePolicy: PolicyError, or a policy that validates again to itself with the same hash', () => {
    const arb = fc.tuple(
      jsonAround(seeds),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 3 }),
    );
    fuzz('validatePolicy', arb, ([p, t, extra]) => validatePolicy(p, t, t + extra), [PolicyError], {
      check: (v, [, t, extra]) => {
        const again = validatePolicy(JSON.parse(JSON.stringify(v)), t, t + extra);
        expect(again).toEqual(v);
        expect(policyHash(again)).toBe(policyHash(v));
      },
    });
  });
});

describe('fuzz: API inputs', () => {
  const VALID: Record<ApiMethod, Record<string, unknown>> = {
    'node.status': {},
    'identity.init': { name: 'alice', vault: 'file', passphrase: 'correct horse battery' },
    'vault.unlock': { passphrase: 'correct horse battery' },
    'settings.get': {},
    'settings.update': {
      name: 'alice',
      relays: ['/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWxyz'],
      notifications: false,
    },
    'sandbox.start': {},
    'sandbox.members': {},
    'sandbox.decide': { member: 'bob', id: 'r-1', decision: 'deny', reason: 'no' },
    'group.create': { name: 'treasury', threshold: 2, size: 3, scheme: 'ed25519' },
    'group.join': { invite: 'conclave-invite:eyJ2IjoxfQ' },
    'group.import': { name: 'legacy', threshold: 2, size: 3, scheme: 'taproot', keyFile: '/tmp/k' },
    'group.invite': { group: 'treasury' },
    'group.leave': { group: 'treasury', confirm: true },
    'group.list': {},
    'group.show': { group: 'treasury' },
    'group.confirm': { group: 'treasury' },
    'request.sign': {
      group: 'treasury',
      message: 'pay 1 BTC',
      encoding: 'utf8',
      approve: true,
      expiresInSec: 60,
    },
    'request.create': { group: 'treasury', kind: 'ssh', message: '00ff', approve: false },
    'request.result': { id: 'r-1' },
    'request.refresh': { group: 'treasury', expiresInSec: 600 },
    'group.policy': { group: 'treasury' },
    'request.reconstruct': {
      group: 'treasury',
      purpose: 'migrate',
      operation: 'ecdsa-sign',
      digest: 'ab'.repeat(32),
    },
    'request.policy': { group: 'treasury', policy: { v: 1 }, approve: true },
    'request.repair': { group: 'treasury', member: 'carol', newcomer: 'dave' },
    'request.reshare': { group: 'treasury', threshold: 3, add: ['dave'], remove: ['carol'] },
    'request.list': { group: 'treasury', pending: true },
    'request.show': { id: 'r-1' },
    'request.approve': { id: 'r-1' },
    'request.deny': { id: 'r-1', reason: 'not now' },
    'request.wait': { id: 'r-1', timeoutSec: 60 },
    'audit.list': { group: 'treasury', limit: 10 },
    'audit.verify': {},
    'backup.export': { group: 'treasury', passphrase: 'correct horse battery', confirm: true },
    'backup.restore': {
      file: '{"format":"conclave-share-backup"}',
      passphrase: 'correct horse battery',
    },
  };

  it('every method has a valid example here', () => {
    expect([...API_METHODS].sort()).toEqual(Object.keys(VALID).sort());
    for (const m of API_METHODS) validateInput(m, VALID[m]);
  });

  it('validateInput: ApiError, or an input that validates again to itself', () => {
    // A method's own example damaged, sometimes another method's example, or any JSON.
    const arb = fc
      .constantFrom(...API_METHODS)
      .chain((m) =>
        fc.tuple(
          fc.constant(m),
          fc.oneof(
            { weight: 5, arbitrary: jsonAround([VALID[m]]) },
            { weight: 1, arbitrary: jsonAround(Object.values(VALID)) },
          ),
        ),
      );
    fuzz('validateInput (all methods)', arb, ([m, input]) => validateInput(m, input), [ApiError], {
      runs: RUNS * 4,
      check: (v, [m]) => expect(validateInput(m, JSON.parse(JSON.stringify(v)))).toEqual(v),
    });
    // Names that are not methods, or inherited ones.
    fuzz(
      'validateInput (method names)',
      fc.tuple(
        fc.oneof(
          fc.string(),
          fc.constantFrom('__proto__', 'toString', 'constructor', 'hasOwnProperty'),
        ),
        fc.jsonValue(),
      ),
      ([m, i]) => validateInput(m as ApiMethod, i),
      [ApiError],
    );
  });
});
