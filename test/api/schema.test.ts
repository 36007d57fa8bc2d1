// The API input schemas: one accepted input per operation, and a negative test for every rule.
import { describe, expect, it } from 'vitest';
import { ApiError, type ApiMethod } from '../../shared/api/index.js';
import {
  API_METHODS,
  isApiMethod,
  LIMITS,
  validateInput,
  validateName,
} from '../../shared/api/schema.js';

/** A valid input for every operation; each negative test breaks one thing in one of these. */
const VALID: Record<ApiMethod, Record<string, unknown>> = {
  'node.status': {},
  'identity.init': { name: 'alice', vault: 'keychain' },
  'vault.unlock': { passphrase: 'correct horse battery' },
  'settings.get': {},
  'settings.update': {
    name: 'alice',
    relays: ['/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWxyz'],
    notifications: false,
  },
  'sandbox.start': {},
  'sandbox.members': {},
  'sandbox.decide': { member: 'bob', id: 'r-1', decision: 'approve' },
  'group.create': { name: 'treasury', threshold: 2, size: 3, scheme: 'ed25519' },
  'group.join': { invite: 'conclave1qqqsyqcyq5rqwzqf' },
  'group.import': {
    name: 'legacy',
    threshold: 2,
    size: 3,
    scheme: 'ed25519',
    keyFile: '/tmp/key.hex',
  },
  'group.invite': { group: 'treasury' },
  'group.leave': { group: 'treasury', confirm: true },
  'group.list': {},
  'group.show': { group: 'treasury' },
  'group.confirm': { group: 'treasury' },
  'request.sign': { group: 'treasury', message: 'pay 1 BTC to X', encoding: 'utf8' },
  'request.create': { group: 'treasury', kind: 'ssh', message: '00ff' },
  'request.result': { id: 'r-1' },
  'request.refresh': { group: 'treasury' },
  'group.policy': { group: 'treasury' },
  'request.reconstruct': {
    group: 'treasury',
    purpose: 'migrate',
    operation: 'ecdsa-sign',
    digest: 'ab'.repeat(32),
  },
  'request.policy': { group: 'treasury', policy: { v: 1 } },
  'request.repair': { group: 'treasury', member: 'carol' },
  'request.reshare': { group: 'treasury', threshold: 3, add: ['dave'], remove: ['carol'] },
  'request.list': {},
  'request.show': { id: 'r-1' },
  'request.approve': { id: 'r-1' },
  'request.deny': { id: 'r-1' },
  'request.wait': { id: 'r-1', timeoutSec: 60 },
  'audit.list': {},
  'audit.verify': {},
  'backup.export': { group: 'treasury', passphrase: 'correct horse battery', confirm: true },
  'backup.restore': {
    file: '{"format":"conclave-share-backup"}',
    passphrase: 'correct horse battery',
  },
};

/** Runs validateInput and returns the ApiError it throws (the test fails if it does not). */
function rejection(method: string, input: unknown): ApiError {
  try {
    validateInput(method as ApiMethod, input);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('bad_input');
    return err as ApiError;
  }
  throw new Error(`validateInput(${method}) accepted ${JSON.stringify(input)}`);
}

function withField(method: ApiMethod, field: string, value: unknown): Record<string, unknown> {
  return { ...VALID[method], [field]: value };
}

describe('validateInput accepts', () => {
  it.each(API_METHODS)('a valid input for %s', (method) => {
    expect(validateInput(method, VALID[method])).toEqual(VALID[method]);
  });

  it('every operation of the contract, each with a schema', () => {
    expect([...API_METHODS].sort()).toEqual(Object.keys(VALID).sort());
  });

  it('every optional field when it is valid', () => {
    const inputs: [ApiMethod, Record<string, unknown>][] = [
      ['request.sign', { ...VALID['request.sign'], expiresInSec: 3600 }],
      ['request.create', { ...VALID['request.create'], expiresInSec: 3600, approve: true }],
      ['request.list', { group: 'treasury', pending: true }],
      ['request.deny', { id: 'r-1', reason: 'not this week\nask again monday' }],
      ['audit.list', { group: 'g-1', limit: 10 }],
    ];
    for (const [method, input] of inputs) expect(validateInput(method, input)).toEqual(input);
  });

  it('the bounds of every integer range', () => {
    const ok: [ApiMethod, string, number][] = [
      ['group.create', 'size', 50],
      ['request.sign', 'expiresInSec', 10],
      ['request.sign', 'expiresInSec', 30 * 24 * 3600],
      ['request.wait', 'timeoutSec', 0],
      ['request.wait', 'timeoutSec', 3600],
      ['audit.list', 'limit', 1],
      ['audit.list', 'limit', 10_000],
    ];
    for (const [method, field, value] of ok) {
      expect(validateInput(method, withField(method, field, value))).toMatchObject({
        [field]: value,
      });
    }
    const input = { name: 'n', threshold: 50, size: 50, scheme: 'taproot' };
    expect(validateInput('group.create', input)).toEqual(input);
  });

  it('a name of exactly 64 characters, counting characters rather than UTF-16 units', () => {
    const name = '🔑'.repeat(64);
    expect(validateInput('group.create', withField('group.create', 'name', name)).name).toBe(name);
  });

  it('a message of exactly 64 KiB, as text or as hex', () => {
    const text = 'a'.repeat(LIMITS.messageBytes);
    expect(validateInput('request.sign', withField('request.sign', 'message', text)).message).toBe(
      text,
    );
    const hex = { group: 'g', message: 'ab'.repeat(LIMITS.messageBytes), encoding: 'hex' };
    expect(validateInput('request.sign', hex)).toEqual(hex);
  });

  it('upper-case hex', () => {
    const input = { group: 'g', message: 'DEADbeef', encoding: 'hex' };
    expect(validateInput('request.sign', input)).toEqual(input);
  });

  it('and trims names, references, invites and reasons', () => {
    expect(
      validateInput('group.create', withField('group.create', 'name', '  treasury \n')),
    ).toEqual(VALID['group.create']);
    expect(validateInput('group.show', { group: ' treasury ' })).toEqual({ group: 'treasury' });
    expect(validateInput('group.join', { invite: ' abc\n' })).toEqual({ invite: 'abc' });
    expect(validateInput('request.deny', { id: 'r-1', reason: ' no ' })).toEqual({
      id: 'r-1',
      reason: 'no',
    });
  });

  it('an optional field that is undefined, and leaves it out', () => {
    expect(validateInput('request.list', { group: undefined })).toEqual({});
  });

  it('a message as given, without trimming it', () => {
    const input = { group: 'g', message: '  spaced  \n', encoding: 'utf8' };
    expect(validateInput('request.sign', input)).toEqual(input);
  });

  it('and returns a copy, not the caller’s object', () => {
    const input = { group: 'treasury' };
    expect(validateInput('group.show', input)).not.toBe(input);
  });
});

describe('validateInput rejects', () => {
  it('a use request of a kind that has its own operation, or whose message is not hex', () => {
    expect(
      rejection('request.create', { ...VALID['request.create'], kind: 'reshare' }).message,
    ).toMatch(/^kind: /);
    expect(
      rejection('request.create', { ...VALID['request.create'], message: 'xyz' }).message,
    ).toBe('message: must be hex (0-9, a-f)');
    expect(
      rejection('request.create', { ...VALID['request.create'], message: 'abc' }).message,
    ).toBe('message: hex must have an even number of digits');
  });

  it('an unknown method', () => {
    expect(rejection('group.delete', {}).message).toBe('method: unknown method "group.delete"');
  });

  it('a method name inherited from Object.prototype', () => {
    expect(rejection('constructor', {}).message).toMatch(/^method: unknown method/);
    expect(isApiMethod('toString')).toBe(false);
    expect(isApiMethod('__proto__')).toBe(false);
  });

  it('an input that is not an object', () => {
    for (const input of [null, undefined, 'x', 3, []]) {
      expect(rejection('node.status', input).message).toMatch(/^input: must be an object, got /);
    }
  });

  it('an input whose prototype is not a plain object', () => {
    expect(rejection('node.status', new Date()).message).toBe('input: must be a plain object');
  });

  it('an unknown field, naming it', () => {
    expect(rejection('node.status', { verbose: true }).message).toBe(
      'verbose: is not a known field',
    );
    expect(rejection('group.show', { group: 'g', groupId: 'x' }).message).toBe(
      'groupId: is not a known field',
    );
  });

  it('an own __proto__ field, as JSON.parse makes one', () => {
    const input: unknown = JSON.parse('{"group":"g","__proto__":{"admin":true}}');
    expect(rejection('group.show', input).message).toBe('__proto__: is not a known field');
  });

  it('a missing required field, naming it', () => {
    const { threshold: _, ...input } = VALID['group.create'];
    expect(rejection('group.create', input).message).toBe('threshold: is required');
    expect(rejection('request.wait', { id: 'r-1' }).message).toBe('timeoutSec: is required');
  });

  it('a required field that is undefined', () => {
    expect(rejection('group.show', { group: undefined }).message).toBe('group: is required');
  });

  it('a string field that holds another type', () => {
    expect(rejection('group.show', { group: 7 }).message).toBe('group: must be a string, got 7');
    expect(rejection('request.sign', withField('request.sign', 'message', null)).message).toBe(
      'message: must be a string, got null',
    );
  });

  it('a name that is empty once trimmed', () => {
    expect(rejection('group.create', withField('group.create', 'name', ' \t ')).message).toBe(
      'name: must not be empty',
    );
  });

  it('a name longer than 64 characters', () => {
    const name = 'x'.repeat(65);
    expect(rejection('group.create', withField('group.create', 'name', name)).message).toBe(
      'name: must be at most 64 characters, got 65',
    );
  });

  it('a name with control characters, which could drive a terminal', () => {
    for (const name of ['tre\u001b[31masury', 'a\nb', 'a\u0000', 'a\u009bb']) {
      expect(rejection('group.create', withField('group.create', 'name', name)).message).toBe(
        'name: must not contain control characters',
      );
    }
  });

  it('a name with a lone surrogate', () => {
    expect(rejection('group.create', withField('group.create', 'name', 'a\ud800b')).message).toBe(
      'name: is not valid Unicode (lone surrogate)',
    );
  });

  it('a group reference or request id longer than 128 characters', () => {
    expect(rejection('group.show', { group: 'g'.repeat(129) }).message).toBe(
      'group: must be at most 128 characters, got 129',
    );
    expect(rejection('request.show', { id: 'r'.repeat(129) }).message).toBe(
      'id: must be at most 128 characters, got 129',
    );
  });

  it('an empty request id', () => {
    expect(rejection('request.approve', { id: '' }).message).toBe('id: must not be empty');
  });

  it('a threshold that is not an integer', () => {
    for (const threshold of [2.5, '2', NaN, Infinity]) {
      expect(
        rejection('group.create', withField('group.create', 'threshold', threshold)).message,
      ).toMatch(/^threshold: must be an integer, got /);
    }
  });

  it('a threshold below 2', () => {
    expect(rejection('group.create', withField('group.create', 'threshold', 1)).message).toBe(
      'threshold: must be from 2 to 50, got 1',
    );
  });

  it('a threshold above the size', () => {
    expect(rejection('group.create', withField('group.create', 'threshold', 4)).message).toBe(
      'threshold: must be from 2 to size (3), got 4',
    );
  });

  it('a size below 2 or above 50', () => {
    for (const size of [1, 51]) {
      const input = { name: 'n', threshold: 2, size, scheme: 'ed25519' };
      expect(rejection('group.create', input).message).toBe(
        `size: must be from 2 to 50, got ${size}`,
      );
    }
  });

  it('a scheme that is not ed25519, secp256k1 or taproot', () => {
    expect(rejection('group.create', withField('group.create', 'scheme', 'ED25519')).message).toBe(
      'scheme: must be one of ed25519, secp256k1, taproot, got "ED25519"',
    );
  });

  it('an invite longer than 4 KiB', () => {
    expect(rejection('group.join', { invite: 'a'.repeat(4097) }).message).toBe(
      'invite: must be at most 4096 characters, got 4097',
    );
  });

  it('an empty invite', () => {
    expect(rejection('group.join', { invite: '\n' }).message).toBe('invite: must not be empty');
  });

  it('an encoding other than utf8 or hex', () => {
    expect(rejection('request.sign', withField('request.sign', 'encoding', 'base64')).message).toBe(
      'encoding: must be one of utf8, hex, got "base64"',
    );
  });

  it('a hex message with a character that is not a hex digit', () => {
    const input = { group: 'g', message: '0xdead', encoding: 'hex' };
    expect(rejection('request.sign', input).message).toBe('message: must be hex (0-9, a-f)');
  });

  it('a hex message with an odd number of digits', () => {
    const input = { group: 'g', message: 'abc', encoding: 'hex' };
    expect(rejection('request.sign', input).message).toBe(
      'message: hex must have an even number of digits',
    );
  });

  it('an empty message', () => {
    for (const encoding of ['utf8', 'hex']) {
      expect(rejection('request.sign', { group: 'g', message: '', encoding }).message).toBe(
        'message: must not be empty',
      );
    }
  });

  it('a text message over 64 KiB once encoded as UTF-8', () => {
    // 21846 three-byte characters: 65538 bytes, though only 21846 UTF-16 units.
    const message = '€'.repeat(21_846);
    expect(rejection('request.sign', withField('request.sign', 'message', message)).message).toBe(
      'message: must be at most 65536 bytes, got 65538',
    );
  });

  it('a hex message that stands for more than 64 KiB', () => {
    const input = { group: 'g', message: 'ab'.repeat(LIMITS.messageBytes + 1), encoding: 'hex' };
    expect(rejection('request.sign', input).message).toBe(
      'message: must be at most 65536 bytes, got 65537',
    );
  });

  it('a text message with a lone surrogate, which has no UTF-8 encoding', () => {
    const input = withField('request.sign', 'message', 'pay \udc00');
    expect(rejection('request.sign', input).message).toBe(
      'message: is not valid Unicode (lone surrogate)',
    );
  });

  it('an expiry below 10 seconds or above 30 days', () => {
    for (const expiresInSec of [9, 30 * 24 * 3600 + 1]) {
      const input = withField('request.sign', 'expiresInSec', expiresInSec);
      expect(rejection('request.sign', input).message).toBe(
        `expiresInSec: must be from 10 to 2592000, got ${expiresInSec}`,
      );
    }
  });

  it('a wait timeout below 0 or above an hour', () => {
    for (const timeoutSec of [-1, 3601]) {
      expect(rejection('request.wait', { id: 'r', timeoutSec }).message).toBe(
        `timeoutSec: must be from 0 to 3600, got ${timeoutSec}`,
      );
    }
  });

  it('an audit limit below 1 or above 10000', () => {
    for (const limit of [0, 10_001]) {
      expect(rejection('audit.list', { limit }).message).toBe(
        `limit: must be from 1 to 10000, got ${limit}`,
      );
    }
  });

  it('a pending flag that is not a boolean', () => {
    expect(rejection('request.list', { pending: 'yes' }).message).toBe(
      'pending: must be true or false, got "yes"',
    );
  });

  it('a reason longer than 500 characters', () => {
    expect(rejection('request.deny', { id: 'r', reason: 'n'.repeat(501) }).message).toBe(
      'reason: must be at most 500 characters, got 501',
    );
  });

  it('a reason with control characters other than line breaks and tabs', () => {
    expect(rejection('request.deny', { id: 'r', reason: 'no\u001b]0;owned\u0007' }).message).toBe(
      'reason: must not contain control characters',
    );
  });

  it('with the offending value shortened, so a huge input does not flood the message', () => {
    const message = rejection(
      'group.create',
      withField('group.create', 'scheme', 'x'.repeat(1e5)),
    ).message;
    expect(message.length).toBeLessThan(120);
  });
});

describe('validateName', () => {
  it('trims a name and checks it like the API does', () => {
    expect(validateName(' alice ')).toBe('alice');
  });

  it('refuses an empty name, naming the field it was given', () => {
    expect(() => validateName('', '--name')).toThrow('--name: must not be empty');
  });
});

describe('backup passphrases', () => {
  it('refuses a passphrase shorter than ten characters and keeps a long one untrimmed', () => {
    expect(
      rejection('backup.export', { group: 'g', passphrase: 'short', confirm: true }).message,
    ).toMatch(/passphrase: must be at least 10 characters/);
    const spaced = '  ten chars and spaces  ';
    expect(
      validateInput('backup.export', { group: 'g', passphrase: spaced, confirm: true }).passphrase,
    ).toBe(spaced);
  });
});

describe('backup export needs the custodian to confirm', () => {
  const input = { group: 'treasury', passphrase: 'correct horse battery' };

  it('refuses an export without confirm: true, saying what is at stake', () => {
    for (const confirm of [undefined, false]) {
      let thrown: unknown;
      try {
        validateInput('backup.export', { ...input, confirm });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ApiError);
      expect((thrown as ApiError).code).toBe('confirmation_required');
      expect((thrown as ApiError).message).toBe(
        'confirm: must be true once the custodian agreed: a backup of your share of "treasury" ' +
          'lets whoever has the file and its passphrase sign in your place in that group',
      );
    }
    expect(rejection('backup.export', { ...input, confirm: 'yes' }).message).toBe(
      'confirm: must be true or false, got "yes"',
    );
  });

  it('accepts it with confirm: true', () => {
    expect(validateInput('backup.export', { ...input, confirm: true })).toEqual({
      ...input,
      confirm: true,
    });
  });
});
