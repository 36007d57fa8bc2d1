// The `conclave` command: misuse, the --json contract, and each command mapped onto the API
// through a real control socket served by an in-memory fake node.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../main/cli.js';
import type { RunningNode, StartOptions } from '../../main/node/index.js';
import { callControl, serveControl, type ControlServer } from '../../main/server/control.js';
import { ApiError, type RequestStatus, type RequestView } from '../../shared/api/index.js';
import { fakeApi, groupView, PEER_A, requestView, type FakeApi } from '../server/fake-api.js';

const BIN = fileURLToPath(new URL('../../bin/conclave.mjs', import.meta.url));

let root: string;
let home: string;
let api: FakeApi;
let server: ControlServer | undefined;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'conclave-cli-'));
  home = join(root, 'home');
  api = fakeApi();
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(root, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[], extra: Partial<CliIO> = {}): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    ...extra,
  });
  return { code, out, err };
}

/** Runs against the fake node in `home`. */
async function cli(...argv: string[]): Promise<Run> {
  server ??= await serveControl(home, api);
  return run(['--home', home, ...argv]);
}

function expectUsage(result: Run, line: string): void {
  expect(result.code).toBe(64);
  expect(result.err).toBe(`conclave: ${line}\n`);
  expect(result.out).toBe('');
}

describe('conclave misuse gives one line on stderr and exit code 64', () => {
  const cases: [string, string[], string][] = [
    ['an unknown command', ['grop'], 'unknown command "grop"; run conclave --help'],
    [
      'an unknown subcommand',
      ['group', 'frob'],
      'unknown command "group frob"; run conclave group --help',
    ],
    [
      'a command group without its subcommand',
      ['request'],
      'missing a command after "request" (sign, reshare, repair, policy, reconstruct, refresh, list, show, result, wait or decrypt); run conclave request --help',
    ],
    ['no command at all', [], 'missing command; run conclave --help'],
    [
      'an unknown option',
      ['group', 'list', '--verbose'],
      'unknown option "--verbose"; run conclave group list --help',
    ],
    [
      'an unknown short option',
      ['status', '-v'],
      'unknown option "-v"; run conclave status --help',
    ],
    [
      'a command option before the command',
      ['--name', 'x', 'init'],
      'unknown option "--name" before the command; run conclave --help',
    ],
    ['a missing argument', ['group', 'show'], 'missing GROUP; run conclave group show --help'],
    [
      'an extra argument',
      ['group', 'show', 'a', 'b'],
      'unexpected argument "b"; run conclave group show --help',
    ],
    [
      'a missing required option',
      ['group', 'create', '--name', 't', '--threshold', '2', '--size', '3'],
      'missing --scheme SCHEME; run conclave group create --help',
    ],
    [
      'an option without its value',
      ['group', 'create', '--name'],
      '--name needs a value (NAME); run conclave group create --help',
    ],
    [
      'an option followed by another option instead of its value',
      ['init', '--name', '--vault', 'file'],
      '--name needs a value (NAME); for one that starts with "-", write --name=VALUE; run conclave init --help',
    ],
    [
      'an option given twice',
      ['group', 'show', 'g', '--home', 'a', '--home', 'b'],
      '--home is given twice; run conclave group show --help',
    ],
    [
      'a value given to a flag',
      ['request', 'list', '--pending=yes'],
      '--pending takes no value; run conclave request list --help',
    ],
    [
      'a number that is not a number',
      [
        'group',
        'create',
        '--name',
        't',
        '--threshold',
        'two',
        '--size',
        '3',
        '--scheme',
        'ed25519',
      ],
      '--threshold: must be a whole number from 2 to the group size (3), got "two"; run conclave group create --help',
    ],
    [
      'a threshold above the size',
      ['group', 'create', '--name', 't', '--threshold', '5', '--size', '3', '--scheme', 'ed25519'],
      '--threshold: must be a whole number from 2 to the group size (3), got 5; run conclave group create --help',
    ],
    [
      'a negative threshold (a value, not a forgotten one)',
      ['group', 'create', '--name', 't', '--threshold', '-2', '--size', '3', '--scheme', 'ed25519'],
      '--threshold: must be a whole number from 2 to the group size (3), got -2; run conclave group create --help',
    ],
    [
      'a threshold of one',
      ['group', 'create', '--name', 't', '--threshold', '1', '--size', '3', '--scheme', 'ed25519'],
      '--threshold: must be a whole number from 2 to the group size (3), got 1; run conclave group create --help',
    ],
    [
      'a size that is not whole',
      [
        'group',
        'create',
        '--name',
        't',
        '--threshold',
        '2',
        '--size',
        '2.5',
        '--scheme',
        'ed25519',
      ],
      '--size: must be a whole number from 2 to 50, got 2.5; run conclave group create --help',
    ],
    [
      'a negative size',
      ['group', 'create', '--name', 't', '--threshold', '2', '--size', '-3', '--scheme', 'ed25519'],
      '--size: must be a whole number from 2 to 50, got -3; run conclave group create --help',
    ],
    [
      'a negative reshare threshold',
      ['request', 'reshare', '--group', 'g', '--threshold', '-2'],
      '--threshold: must be a whole number from 2 to the group size, got -2; run conclave request reshare --help',
    ],
    [
      'an unknown scheme',
      ['group', 'create', '--name', 't', '--threshold', '2', '--size', '3', '--scheme', 'rsa'],
      '--scheme: must be one of ed25519, secp256k1, taproot, got "rsa"; run conclave group create --help',
    ],
    [
      'a group name that is too long',
      [
        'group',
        'create',
        '--name',
        'x'.repeat(65),
        '--threshold',
        '2',
        '--size',
        '3',
        '--scheme',
        'taproot',
      ],
      '--name: must be at most 64 characters, got 65; run conclave group create --help',
    ],
    [
      'a sign request without a message',
      ['request', 'sign', '--group', 'g'],
      'missing the message: give --message TEXT, --file PATH or --hex HEX; run conclave request sign --help',
    ],
    [
      'a sign request with two messages',
      ['request', 'sign', '--group', 'g', '--message', 'a', '--hex', 'ab'],
      'give only one of --message, --file and --hex; run conclave request sign --help',
    ],
    [
      'a sign request with bad hex',
      ['request', 'sign', '--group', 'g', '--hex', 'xyz'],
      '--hex: must be hex (0-9, a-f); run conclave request sign --help',
    ],
    [
      'a sign request with an empty message',
      ['request', 'sign', '--group', 'g', '--message='],
      '--message: must not be empty; run conclave request sign --help',
    ],
    [
      'an expiry that is too short',
      ['request', 'sign', '--group', 'g', '--message', 'm', '--expires', '5'],
      '--expires: must be from 10 to 2592000, got 5; run conclave request sign --help',
    ],
    [
      'a wait timeout over an hour',
      ['request', 'wait', 'r-1', '--timeout', '3601'],
      '--timeout: must be from 0 to 3600, got 3601; run conclave request wait --help',
    ],
    [
      'an audit limit of zero',
      ['audit', 'list', '--limit', '0'],
      '--limit: must be a whole number from 1 to 10000, got 0; run conclave audit list --help',
    ],
    [
      'a reason that is too long',
      ['deny', 'r-1', '--reason', 'n'.repeat(501)],
      '--reason: must be at most 500 characters, got 501; run conclave deny --help',
    ],
    [
      'start with --sandbox but without --ui',
      ['start', '--sandbox'],
      '--port, --sandbox and --open go with --ui; run conclave start --help',
    ],
    [
      'start --ui on a port that does not exist',
      ['start', '--ui', '--port', '70000'],
      '--port: must be from 1 to 65535, got 70000; run conclave start --help',
    ],
    [
      'start with a listen address that is not a multiaddr',
      ['start', '--listen', 'localhost:4001'],
      '--listen: "localhost:4001" is not a multiaddr (like /ip4/127.0.0.1/tcp/4001); run conclave start --help',
    ],
    [
      'start with a relay address without the relay’s peer id',
      ['start', '--relay', '/ip4/127.0.0.1/tcp/4001'],
      '--relay: /ip4/127.0.0.1/tcp/4001 must end in /p2p/<relay peer id>; run conclave start --help',
    ],
    ['relay without --listen', ['relay'], 'missing --listen MA; run conclave relay --help'],
    [
      'init without a name',
      ['init', '--name', '  '],
      '--name: must not be empty; run conclave init --help',
    ],
    [
      'init with an unknown vault',
      ['init', '--name', 'a', '--vault', 'cloud'],
      '--vault: must be keychain or file, got "cloud"; run conclave init --help',
    ],
    [
      'init with the file vault and no passphrase',
      ['init', '--name', 'a', '--vault', 'file'],
      'the file vault needs a passphrase: set CONCLAVE_PASSPHRASE or pass --passphrase-file FILE; run conclave init --help',
    ],
    [
      'init with a passphrase file for the keychain vault',
      ['init', '--name', 'a', '--passphrase-file', '/x'],
      '--passphrase-file is only for --vault file; run conclave init --help',
    ],
    [
      'the passphrase as a plain argument',
      ['init', '--name', 'a', '--passphrase', 'hunter2'],
      'unknown option "--passphrase"; run conclave init --help',
    ],
  ];

  it.each(cases)('%s', async (_, argv, line) => {
    // No node runs in `home`: every one of these is caught before the CLI tries to reach one.
    expectUsage(await run(['--home', home, ...argv]), line);
  });

  it('--home without a directory', async () => {
    expectUsage(
      await run(['status', '--home']),
      '--home needs a value (DIR); run conclave status --help',
    );
    expectUsage(await run(['--home']), '--home needs a directory; run conclave --help');
  });

  it('an empty --home', async () => {
    expectUsage(
      await run(['--home=', 'status']),
      '--home needs a directory; run conclave status --help',
    );
  });

  it('a --file that does not exist', async () => {
    const missing = join(root, 'missing.bin');
    expectUsage(
      await run(['--home', home, 'request', 'sign', '--group', 'g', '--file', missing]),
      `--file: cannot read ${missing} (ENOENT); run conclave request sign --help`,
    );
  });

  it('a --file over 64 KiB, refused before it is read', async () => {
    const big = join(root, 'big.bin');
    writeFileSync(big, Buffer.alloc(65_537));
    expectUsage(
      await run(['--home', home, 'request', 'sign', '--group', 'g', '--file', big]),
      `--file: ${big} has 65537 bytes; the limit is 65536; run conclave request sign --help`,
    );
  });

  it('a --passphrase-file that is empty', async () => {
    const file = join(root, 'pass');
    writeFileSync(file, '\n');
    expectUsage(
      await run([
        '--home',
        home,
        'init',
        '--name',
        'a',
        '--vault',
        'file',
        '--passphrase-file',
        file,
      ]),
      `--passphrase-file: ${file} is empty; run conclave init --help`,
    );
  });
});

describe('conclave --json', () => {
  it('prints a usage error as {"error"} on stdout too, and exits 64', async () => {
    const result = await run(['--json', 'grop']);
    expect(result.code).toBe(64);
    expect(result.err).toBe('conclave: unknown command "grop"; run conclave --help\n');
    expect(JSON.parse(result.out)).toEqual({
      error: { code: 'usage', message: 'unknown command "grop"; run conclave --help' },
    });
  });

  it('prints the API error code when the node refuses, and exits 1', async () => {
    const result = await cli('group', 'show', 'missing', '--json');
    expect(result.code).toBe(1);
    expect(result.err).toBe('conclave: no group "missing"\n');
    expect(JSON.parse(result.out)).toEqual({
      error: { code: 'not_found', message: 'no group "missing"' },
    });
  });

  it('prints unreachable with how to start a node when none is running', async () => {
    const result = await run(['--home', home, '--json', 'status']);
    const message = `no Conclave node is running in ${home}; start one with: conclave --home ${home} start`;
    expect(result.code).toBe(1);
    expect(result.err).toBe(`conclave: ${message}\n`);
    expect(JSON.parse(result.out)).toEqual({ error: { code: 'unreachable', message } });
  });

  it('prints help as one JSON document', async () => {
    const result = await run(['--json', '--help']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out).help).toMatch(/^conclave: shared key custody/);
  });

  it('treats --json after -- as an argument, not the flag', async () => {
    const result = await run(['--home', home, 'group', 'show', '--', '--json']);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
  });
});

describe('conclave maps each command onto the API', () => {
  const cases: [string[], string, Record<string, unknown>][] = [
    [['status'], 'node.status', {}],
    [
      [
        'group',
        'create',
        '--name',
        'treasury',
        '--threshold',
        '2',
        '--size',
        '3',
        '--scheme',
        'taproot',
      ],
      'group.create',
      { name: 'treasury', threshold: 2, size: 3, scheme: 'taproot' },
    ],
    [['group', 'join', 'conclave1invite'], 'group.join', { invite: 'conclave1invite' }],
    [['group', 'list'], 'group.list', {}],
    [['group', 'show', 'treasury'], 'group.show', { group: 'treasury' }],
    [['group', 'confirm', 'g-7f3a'], 'group.confirm', { group: 'g-7f3a' }],
    [
      ['request', 'sign', '--group', 'treasury', '--message', 'pay 1 BTC to X'],
      'request.sign',
      { group: 'treasury', message: 'pay 1 BTC to X', encoding: 'utf8' },
    ],
    [
      ['request', 'sign', '--group', 'treasury', '--hex', '0xDEADbeef', '--expires', '600'],
      'request.sign',
      { group: 'treasury', message: 'deadbeef', encoding: 'hex', expiresInSec: 600 },
    ],
    [['request', 'list'], 'request.list', {}],
    [
      ['request', 'list', '--group', 'treasury', '--pending'],
      'request.list',
      { group: 'treasury', pending: true },
    ],
    [['request', 'show', 'r-1'], 'request.show', { id: 'r-1' }],
    [['approve', 'r-1'], 'request.approve', { id: 'r-1' }],
    [['deny', 'r-1'], 'request.deny', { id: 'r-1' }],
    [['deny', 'r-1', '--reason', 'not today'], 'request.deny', { id: 'r-1', reason: 'not today' }],
    [['audit', 'list'], 'audit.list', {}],
    [['audit', 'list', '--group', 'g', '--limit', '5'], 'audit.list', { group: 'g', limit: 5 }],
    [['audit', 'verify'], 'audit.verify', {}],
  ];

  it.each(cases)('%j calls %s and prints its result as JSON', async (argv, method, params) => {
    api.requestStatus = 'done';
    const result = await cli('--json', ...argv);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(api.calls).toEqual([{ method, input: params }]);
    const reference = fakeApi();
    reference.requestStatus = 'done';
    const call = reference[method as 'node.status'] as (input: unknown) => Promise<unknown>;
    expect(JSON.parse(result.out)).toEqual(JSON.parse(JSON.stringify(await call(params))));
  });

  it('takes global options after the command as well', async () => {
    const result = await run(['group', 'show', 'treasury', '--json', '--home', home], {});
    expect(result.code).toBe(1);
    server = await serveControl(home, api);
    const served = await run(['group', 'show', 'treasury', '--json', '--home', home]);
    expect(served.code).toBe(0);
    expect(JSON.parse(served.out).name).toBe('treasury');
  });

  it('finds the node through $CONCLAVE_HOME when --home is not given', async () => {
    server = await serveControl(home, api);
    const result = await run(['--json', 'group', 'list'], { env: { CONCLAVE_HOME: home } });
    expect(result.code).toBe(0);
    expect(api.calls.map((c) => c.method)).toEqual(['group.list']);
  });

  it('reads --file itself and sends its bytes as hex', async () => {
    const file = join(root, 'tx.bin');
    writeFileSync(file, Buffer.from([0, 1, 2, 0xff]));
    const result = await cli('--json', 'request', 'sign', '--group', 'treasury', '--file', file);
    expect(result.code).toBe(0);
    expect(api.calls).toEqual([
      {
        method: 'request.sign',
        input: { group: 'treasury', message: '000102ff', encoding: 'hex' },
      },
    ]);
  });

  it('prints the group contract of group show --json', async () => {
    const view = JSON.parse((await cli('--json', 'group', 'show', 'treasury')).out);
    for (const key of [
      'id',
      'name',
      'threshold',
      'size',
      'scheme',
      'status',
      'publicKey',
      'safetyCode',
    ]) {
      expect(view).toHaveProperty(key);
    }
    expect(view.members[0]).toMatchObject({ name: 'alice', peerId: PEER_A, online: true });
    expect(view.members[0]).toHaveProperty('fingerprint');
  });
});

describe('conclave backup export asks the custodian to confirm', () => {
  const passphrase = { CONCLAVE_BACKUP_PASSPHRASE: 'a long backup passphrase' };

  async function exportWith(extra: string[], ask?: CliIO['ask']): Promise<Run> {
    server ??= await serveControl(home, api);
    let out = '';
    let err = '';
    const file = join(root, 'share.backup');
    const code = await main(
      ['--home', home, 'backup', 'export', '--group', 'treasury', '--out', file, ...extra],
      {
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (err += s) },
        env: passphrase,
        ask,
      },
    );
    return { code, out, err };
  }
  const exports = () => api.calls.filter((c) => c.method === 'backup.export');

  it('without a terminal and without --yes it refuses, and exports nothing', async () => {
    const result = await exportWith([], async () => undefined);
    expect(result.code).toBe(64);
    expect(result.err).toContain('no terminal to confirm the export at; pass --yes');
    expect(exports()).toEqual([]);
    expect(existsSync(join(root, 'share.backup'))).toBe(false);
  });

  it('says what is at stake and refuses when the name typed is not the group’s', async () => {
    const questions: string[] = [];
    const result = await exportWith([], async (q) => {
      questions.push(q);
      return 'treasure';
    });
    expect(result.code).toBe(1);
    expect(result.err).toContain("gives whoever has both your share of treasury's key");
    expect(result.err).toContain('not exported: you typed "treasure"');
    expect(questions).toEqual(['Type the group name (treasury) to export your share: ']);
    expect(exports()).toEqual([]);
  });

  it('exports once the group name is typed, sending confirm: true', async () => {
    const result = await exportWith([], async () => ' treasury\n');
    expect(result.code).toBe(0);
    expect(exports()).toEqual([
      {
        method: 'backup.export',
        input: { group: 'g-7f3a', passphrase: 'a long backup passphrase', confirm: true },
      },
    ]);
    expect(existsSync(join(root, 'share.backup'))).toBe(true);
  });

  it('--yes exports without asking', async () => {
    const result = await exportWith(['--yes'], async () => {
      throw new Error('asked despite --yes');
    });
    expect(result.code).toBe(0);
    expect(exports()).toHaveLength(1);
  });
});

describe('conclave request wait', () => {
  const cases: [RequestStatus, number][] = [
    ['done', 0],
    ['denied', 1],
    ['expired', 1],
    ['failed', 1],
    ['pending', 2],
    ['signing', 2],
  ];

  it.each(cases)('exits with a status of %s as %i', async (status, code) => {
    api.requestStatus = status;
    const result = await cli('request', 'wait', 'r-1', '--timeout', '1');
    expect(result.code).toBe(code);
    expect(result.out).toContain(`status:      ${status}`);
    const json = await cli('--json', 'request', 'wait', 'r-1', '--timeout', '1');
    expect(json.code).toBe(code);
    expect(JSON.parse(json.out).status).toBe(status);
  });
});

describe('conclave request wait reports progress', () => {
  const view = (status: RequestStatus, approvers: string[]): RequestView => ({
    ...requestView('r-1', status),
    approvals: approvers.map((name, i) => ({ peerId: `p${i}`, name, at: '2025-01-01T00:00:01Z' })),
    approvalsNeeded: 2,
    groupSize: 3,
  });

  /**
   * A request that bob approves during the wait: the first look after the wait starts sees only
   * alice, the second sees bob too (signing), and the wait ends soon after that second look.
   */
  function approvedDuringTheWait(): void {
    let looks = -1;
    api['request.show'] = async (input) => {
      api.calls.push({ method: 'request.show', input });
      looks += looks >= 0 ? 1 : 0;
      return looks >= 2 ? view('signing', ['alice', 'bob']) : view('pending', ['alice']);
    };
    api['request.wait'] = async (input) => {
      api.calls.push({ method: 'request.wait', input });
      looks = 0;
      while (looks < 2) await new Promise((done) => setTimeout(done, 50));
      await new Promise((done) => setTimeout(done, 200));
      return view('done', ['alice', 'bob']);
    };
  }

  it('prints a line each time the approvals change, then the outcome, then the request', async () => {
    approvedDuringTheWait();
    const { code, out } = await cli('request', 'wait', 'r-1', '--timeout', '30');
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'r-1: needs 2 of 3 approvals; approved so far: alice',
      'r-1: signing; needs 2 of 3 approvals; approved so far: alice, bob',
      'r-1: done, signed',
    ]);
    expect(out).toContain('status:      done');
    expect(api.calls[1]).toEqual({ method: 'request.wait', input: { id: 'r-1', timeoutSec: 30 } });
  });

  it('keeps stdout one JSON document under --json: progress goes to stderr', async () => {
    approvedDuringTheWait();
    const { code, out, err } = await cli('--json', 'request', 'wait', 'r-1', '--timeout', '30');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ status: 'done', approvalsNeeded: 2, groupSize: 3 });
    expect(err.split('\n')).toEqual([
      'r-1: needs 2 of 3 approvals; approved so far: alice',
      'r-1: signing; needs 2 of 3 approvals; approved so far: alice, bob',
      'r-1: done, signed',
      '',
    ]);
  });

  it('says how far it got when the timeout passes', async () => {
    api['request.show'] = async () => view('pending', ['bob']);
    api['request.wait'] = async () => view('pending', ['bob']);
    const { code, out } = await cli('request', 'wait', 'r-1', '--timeout', '0');
    expect(code).toBe(2);
    expect(out).toContain(
      'r-1: still pending after 0 s (needs 2 of 3 approvals; approved so far: bob)',
    );
  });

  it('asks the node only once for a request already finished', async () => {
    api.requestStatus = 'done';
    const { code, out, err } = await cli('--json', 'request', 'wait', 'r-1');
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(JSON.parse(out).status).toBe('done');
    expect(api.calls).toEqual([{ method: 'request.show', input: { id: 'r-1' } }]);
  });
});

describe('conclave group create with a name already in use', () => {
  it('says which group has the name, on one line, and exits 1', async () => {
    const taken =
      'you already have a group called "treasury" (g-7f3a); group names must be unique on this node, so choose another name';
    api['group.create'] = async () => {
      throw new ApiError('conflict', taken);
    };
    const argv = '--name treasury --threshold 2 --size 3 --scheme ed25519'.split(' ');
    const { code, out, err } = await cli('group', 'create', ...argv);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(`conclave: ${taken}\n`);
  });
});

describe('conclave request sign says what the request needs', () => {
  it('prints how many approvals are needed and who approved, and passes --approve', async () => {
    api['request.sign'] = async (input) => {
      api.calls.push({ method: 'request.sign', input });
      return {
        ...requestView('r-1', 'pending'),
        approvalsNeeded: 2,
        groupSize: 3,
      };
    };
    const { code, out } = await cli(
      'request',
      'sign',
      '--group',
      'treasury',
      '--message',
      'pay',
      '--approve',
    );
    expect(code).toBe(0);
    expect(api.calls).toEqual([
      {
        method: 'request.sign',
        input: { group: 'treasury', message: 'pay', encoding: 'utf8', approve: true },
      },
    ]);
    expect(out).toContain('needs 2 of 3 approvals; approved so far: alice\n');
    expect(out).toContain('the other members approve with: conclave approve r-1\n');
    expect(out).toContain('then wait for the result: conclave request wait r-1\n');
    const json = JSON.parse(
      (await cli('--json', 'request', 'sign', '--group', 't', '--hex', '00')).out,
    );
    expect(json).toMatchObject({
      approvalsNeeded: 2,
      groupSize: 3,
      approvals: [{ name: 'alice' }],
    });
  });

  it('reminds a requester who did not approve that their approval counts too', async () => {
    api['request.sign'] = async () => ({
      ...requestView('r-1', 'pending'),
      approvals: [],
      approvalsNeeded: 2,
      groupSize: 3,
    });
    const { out } = await cli('request', 'sign', '--group', 'treasury', '--message', 'pay');
    expect(out).toContain('needs 2 of 3 approvals; approved so far: nobody yet\n');
    expect(out).toContain('your own approval counts too: conclave approve r-1\n');
  });

  it('approves a ceremony request right after making it with --approve', async () => {
    const { code } = await cli('request', 'refresh', '--group', 'treasury', '--approve');
    expect(code).toBe(0);
    expect(api.calls.map((c) => c.method)).toEqual(['request.refresh', 'request.approve']);
  });
});

describe('conclave human output', () => {
  it('shows a group: name, T-of-N, scheme, status, key, safety code, members', async () => {
    const { code, out } = await cli('group', 'show', 'treasury');
    expect(code).toBe(0);
    expect(out).toContain('group:       treasury (g-7f3a)');
    expect(out).toContain('policy:      2-of-3 ed25519');
    expect(out).toContain('status:      ready');
    expect(out).toContain(`public key:  ${'ab'.repeat(32)}`);
    expect(out).toContain('safety code: apple river stone');
    expect(out).toMatch(/1\. alice \(you\) +AAAA-BBBB +online +confirmed +12D3KooW/);
    expect(out).toMatch(/2\. bob +CCCC-DDDD +offline +confirmed/);
  });

  it('shows a request with its whole message and approvals', async () => {
    const { code, out } = await cli('request', 'show', 'r-1');
    expect(code).toBe(0);
    expect(out).toContain('request:     r-1');
    expect(out).toContain('message:     pay');
    expect(out).toMatch(/approvals: +alice 2025-01-01T00:00:01.000Z/);
  });

  it('prints the invite of a new group on a line of its own', async () => {
    const { out } = await cli(
      'group',
      'create',
      '--name',
      'treasury',
      '--threshold',
      '2',
      '--size',
      '3',
      '--scheme',
      'ed25519',
    );
    expect(out.trimEnd().split('\n').at(-1)).toBe('conclave1invite');
  });

  it('escapes control characters that a peer put in a name, so they cannot drive the terminal', async () => {
    api['group.show'] = async () => ({ ...groupView(), name: 'evil\u001b[2J\u202ename' });
    const { out } = await cli('group', 'show', 'treasury');
    expect(out).toContain('evil\\u001b[2J\\u202ename');
    expect(out).not.toContain('\u001b');
  });

  it('says how audit verify failed, and exits 1', async () => {
    api.auditOk = false;
    const { code, out } = await cli('audit', 'verify');
    expect(code).toBe(1);
    expect(out).toContain('audit log has 1 problem (2 entries from 1 author):');
    expect(out).toContain(`${PEER_A}#2: bad signature`);
  });

  it('prints help for one command and for a command group', async () => {
    const one = await run(['request', 'wait', '--help']);
    expect(one.code).toBe(0);
    expect(one.out).toMatch(
      /^Usage: conclave \[--home DIR\] \[--json\] request wait ID \[--timeout SECONDS\]/,
    );
    expect(one.out).toContain('exit 2');
    const group = await run(['group', '--help']);
    expect(group.code).toBe(0);
    expect(group.out).toContain('conclave group confirm GROUP');
    expect((await run(['help', 'audit', 'verify'])).out).toMatch(/^Usage: .*audit verify/);
  });
});

/** Fake node entry points: record what start/init/relay were given. */
function fakeNode() {
  const seen: { start?: StartOptions; init?: unknown; stopped: boolean; relayStopped: boolean } = {
    stopped: false,
    relayStopped: false,
  };
  const node = {
    async initIdentity(opts: {
      home: string;
      name: string;
      vault: 'keychain' | 'file';
      passphrase?: string;
    }) {
      seen.init = opts;
      return {
        peerId: PEER_A,
        name: opts.name,
        fingerprint: 'AAAA-BBBB',
        vault: opts.vault,
        home: opts.home,
      };
    },
    async startCustodian(opts: StartOptions): Promise<RunningNode> {
      seen.start = opts;
      opts.log('node: started');
      return {
        api,
        peerId: PEER_A,
        addrs: () => [`/ip4/127.0.0.1/tcp/4001/p2p/${PEER_A}`],
        onEvent: () => () => {},
        async stop() {
          seen.stopped = true;
        },
      };
    },
    async runRelay(opts: { listen: string[]; log: (line: string) => void }) {
      return {
        addrs: opts.listen.map((a) => `${a}/p2p/${PEER_A}`),
        async stop() {
          seen.relayStopped = true;
        },
      };
    },
  };
  return { node, seen };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('conclave start, relay and init', () => {
  it('start runs the node, serves the control socket, and stops cleanly when shut down', async () => {
    const { node, seen } = fakeNode();
    const shutdown = new AbortController();
    let err = '';
    let out = '';
    const running = main(
      [
        '--home',
        home,
        '--json',
        'start',
        '--relay',
        `/ip4/10.0.0.1/tcp/4001/p2p/${PEER_A}`,
        '--mdns',
      ],
      {
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (err += s) },
        env: { CONCLAVE_PASSPHRASE: 'pw' },
        node,
        shutdown: shutdown.signal,
      },
    );
    await until(() => err.includes('ready:'));
    expect(err).toBe(
      `node: started\nlistening: /ip4/127.0.0.1/tcp/4001/p2p/${PEER_A}\nready: ${PEER_A}\n`,
    );
    expect(seen.start).toMatchObject({
      home,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      relays: [`/ip4/10.0.0.1/tcp/4001/p2p/${PEER_A}`],
      mdns: true,
      passphrase: 'pw',
    });
    expect(JSON.parse(out)).toMatchObject({ peerId: PEER_A, control: join(home, 'control.sock') });

    // Other commands reach it, and a second node in the same home is refused.
    expect((await callControl(home, 'node.status', {})).peerId).toBe(PEER_A);
    const second = await run(['--home', home, 'start'], { node: fakeNode().node });
    expect(second.code).toBe(1);
    expect(second.err).toBe(`conclave: another node is already running in ${home}\n`);

    shutdown.abort();
    expect(await running).toBe(0);
    expect(seen.stopped).toBe(true);
    expect(existsSync(join(home, 'control.sock'))).toBe(false);
  });

  it('start listens on loopback always, and beyond it only where --listen says', async () => {
    for (const [given, expected] of [
      [['/ip4/192.168.1.5/tcp/4001'], ['/ip4/127.0.0.1/tcp/0', '/ip4/192.168.1.5/tcp/4001']],
      [['/ip4/0.0.0.0/tcp/4001'], ['/ip4/0.0.0.0/tcp/4001']],
      [['/ip4/127.0.0.1/tcp/4001'], ['/ip4/127.0.0.1/tcp/4001']],
    ]) {
      const { node, seen } = fakeNode();
      const shutdown = new AbortController();
      let err = '';
      const running = main(['--home', home, 'start', ...given.flatMap((a) => ['--listen', a])], {
        stdout: { write: () => true },
        stderr: { write: (s: string) => (err += s) },
        env: { CONCLAVE_PASSPHRASE: 'pw' },
        node,
        shutdown: shutdown.signal,
      });
      await until(() => err.includes('ready:'));
      expect(seen.start?.listen).toEqual(expected);
      shutdown.abort();
      expect(await running).toBe(0);
    }
  });

  it('start reports a node that fails to start in one line and exits 1', async () => {
    const failing = {
      ...fakeNode().node,
      startCustodian: async () => Promise.reject(new Error('keychain locked')),
    };
    const result = await run(['--home', home, 'start', '--listen', '/ip4/127.0.0.1/tcp/0'], {
      node: failing,
    });
    expect(result.code).toBe(1);
    expect(result.err).toBe('conclave: keychain locked\n');
  });

  it('relay prints its addresses one per line and runs until shut down', async () => {
    const { node, seen } = fakeNode();
    const shutdown = new AbortController();
    let out = '';
    const running = main(
      ['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/tcp/1'],
      {
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: () => true },
        env: {},
        node,
        shutdown: shutdown.signal,
      },
    );
    await until(() => out.includes('\n'));
    expect(out).toBe(`/ip4/127.0.0.1/tcp/0/p2p/${PEER_A}\n/ip4/127.0.0.1/tcp/1/p2p/${PEER_A}\n`);
    shutdown.abort();
    expect(await running).toBe(0);
    expect(seen.relayStopped).toBe(true);
  });

  it('init passes the name and vault, and prints the peer id and fingerprint', async () => {
    const { node, seen } = fakeNode();
    const result = await run(['--home', home, 'init', '--name', ' alice '], { node });
    expect(result.code).toBe(0);
    expect(seen.init).toEqual({ home, name: 'alice', vault: 'keychain', passphrase: undefined });
    expect(result.out).toContain(`peer id:     ${PEER_A}`);
    expect(result.out).toContain('fingerprint: AAAA-BBBB');
  });

  it('init takes the file vault passphrase from a file, without its final newline', async () => {
    const { node, seen } = fakeNode();
    const file = join(root, 'pass');
    writeFileSync(file, 'correct horse\n');
    const result = await run(
      [
        '--home',
        home,
        '--json',
        'init',
        '--name',
        'alice',
        '--vault',
        'file',
        '--passphrase-file',
        file,
      ],
      { node, env: { CONCLAVE_PASSPHRASE: 'ignored' } },
    );
    expect(result.code).toBe(0);
    expect(seen.init).toMatchObject({ vault: 'file', passphrase: 'correct horse' });
    expect(JSON.parse(result.out)).toMatchObject({ peerId: PEER_A, fingerprint: 'AAAA-BBBB' });
  });

  it('init takes the file vault passphrase from $CONCLAVE_PASSPHRASE', async () => {
    const { node, seen } = fakeNode();
    const result = await run(['--home', home, 'init', '--name', 'alice', '--vault', 'file'], {
      node,
      env: { CONCLAVE_PASSPHRASE: 'from env' },
    });
    expect(result.code).toBe(0);
    expect(seen.init).toMatchObject({ vault: 'file', passphrase: 'from env' });
  });
});

describe('bin/conclave.mjs', () => {
  function spawnCli(
    args: string[],
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        { env: { ...process.env, CONCLAVE_HOME: home } },
        (err, stdout, stderr) => done({ code: err ? (err.code as number) : 0, stdout, stderr }),
      );
    });
  }

  it('runs the CLI as a process with its exit codes', async () => {
    const misuse = await spawnCli(['grop']);
    expect(misuse).toEqual({
      code: 64,
      stdout: '',
      stderr: 'conclave: unknown command "grop"; run conclave --help\n',
    });
    const none = await spawnCli(['--json', 'status']);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout).error.code).toBe('unreachable');
    const help = await spawnCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('conclave request wait ID [--timeout SECONDS]');
  });
});
