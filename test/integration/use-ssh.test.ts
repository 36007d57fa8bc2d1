// SSH on a real 2-of-2 ed25519 group (two node processes, one DKG), with `conclave ssh-agent` run
// as a user would and Debian's OpenSSH on 127.0.0.1: a certificate issued by ssh-keygen -s through
// the agent logs in to an sshd trusting the group as a user CA; a login through the agent to an
// sshd with the group key in authorized_keys succeeds after approval and fails after a denial; an
// SSHSIG made through the agent passes ssh-keygen -Y verify; a git commit signed through `conclave
// git-sign` (the commit on bob's card) passes git verify-commit. Bob's node decodes every request.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { RequestView } from '../../shared/api/index.js';
import { encodeSshMessage } from '../../shared/requests/ssh.js';
import { SshWriter, ed25519Blob } from '../../shared/ssh/wire.js';
import { hasOpenSsh, run, sshTrue, startSshd, type Sshd } from '../ssh/tools.js';
import { formGroup, tempRoot, TestNode, waitFor } from './harness.js';

const BIN = fileURLToPath(new URL('../../bin/conclave.mjs', import.meta.url));

describe.runIf(hasOpenSsh)('SSH with an ed25519 group', () => {
  const tmp = tempRoot('conclave-ssh-');
  const [alice, bob] = ['alice', 'bob'].map((n) => new TestNode(n, tmp.root));
  const me = userInfo().username;
  let groupLine: string;
  let agent: ChildProcess | undefined;
  let agentLog = '';
  let socket: string;
  let sshd: Sshd;
  /** Requests bob has already decided. */
  const decided = new Set<string>();

  /** Bob waits for the next 'ssh' request, checks its card, and approves or denies it. */
  async function bobDecides(decision: 'approve' | 'deny'): Promise<RequestView> {
    const r = await waitFor(
      'an ssh request on bob',
      async () =>
        (await bob.api('request.list', {})).find(
          (x) => x.kind === 'ssh' && x.status === 'pending' && !decided.has(x.id),
        ),
      60_000,
    );
    decided.add(r.id);
    const shown = await bob.api('request.show', { id: r.id });
    if (decision === 'approve') await bob.api('request.approve', { id: r.id });
    else await bob.api('request.deny', { id: r.id, reason: 'not now' });
    return shown;
  }

  const field = (r: RequestView, label: string) =>
    r.card?.fields.find((f) => f.label === label)?.value;

  beforeAll(async () => {
    await Promise.all([alice, bob].map((n) => n.init()));
    await Promise.all([alice, bob].map((n) => n.start()));
    await formGroup(alice, [bob], { name: 'ops', threshold: 2, scheme: 'ed25519' });
    const key = await alice.cli(['ssh', 'pubkey', '--group', 'ops']);
    expect(key.code, key.stderr).toBe(0);
    groupLine = key.stdout.trim();
    expect(groupLine).toMatch(/^ssh-ed25519 AAAA\S+ ops$/);
    writeFileSync(join(tmp.root, 'group.pub'), `${groupLine}\n`);

    agent = spawn(
      process.execPath,
      [
        BIN,
        '--home',
        alice.home,
        'ssh-agent',
        '--group',
        'ops',
        '--approve',
        '--socket',
        join(tmp.root, 'agent.sock'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    agent.stdout!.on('data', (d) => (agentLog += d));
    agent.stderr!.on('data', (d) => (agentLog += d));
    socket = await waitFor('the agent to print SSH_AUTH_SOCK', () => {
      if (agent!.exitCode !== null) throw new Error(`ssh-agent exited: ${agentLog}`);
      return /SSH_AUTH_SOCK=([^;]+);/.exec(agentLog)?.[1];
    });
    sshd = await startSshd(join(tmp.root, 'sshd'), {
      authorizedKeys: `${groupLine}\n`,
      trustedCa: groupLine,
    });
  }, 180_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    await sshd?.stop();
    await Promise.all([alice, bob].map((n) => n.kill()));
    tmp.cleanup();
  });

  it('lists the group key', async () => {
    const r = await run('ssh-add', ['-L'], { env: { SSH_AUTH_SOCK: socket } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(groupLine);
  });

  it("refuses through the API what the agent would not sign, and a key that is not the group's", async () => {
    const g = await alice.api('group.show', { group: 'ops' });
    const other = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    const userauth = (key: Uint8Array) =>
      new SshWriter()
        .string(new Uint8Array(32).fill(1))
        .byte(50)
        .string(me)
        .string('ssh-connection')
        .string('publickey')
        .bool(true)
        .string('ssh-ed25519')
        .string(ed25519Blob(key))
        .bytes();
    const create = (key: Uint8Array, data: Uint8Array) =>
      alice.api('request.create', {
        group: g.id,
        kind: 'ssh',
        message: bytesToHex(encodeSshMessage({ key, data })),
      });
    await expect(create(hexToBytes(g.publicKey!), utf8ToBytes('pay mallory'))).rejects.toThrow(
      /signs nothing else/,
    );
    await expect(create(other, userauth(other))).rejects.toThrow(/must be the group's key/);
  });

  it('issues a user certificate (ssh-keygen -s -U) that sshd accepts with TrustedUserCAKeys', async () => {
    const user = join(tmp.root, 'user');
    expect((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', user])).code).toBe(0);
    const [signed, card] = await Promise.all([
      run(
        'ssh-keygen',
        [
          '-s',
          join(tmp.root, 'group.pub'),
          '-U',
          '-I',
          'alice-laptop',
          '-n',
          me,
          '-V',
          '+8h',
          `${user}.pub`,
        ],
        { env: { SSH_AUTH_SOCK: socket }, timeoutMs: 120_000 },
      ),
      bobDecides('approve'),
    ]);
    expect(signed.code, signed.stderr + agentLog).toBe(0);
    // Bob's own node read the certificate from the bytes to sign.
    expect(card.card?.title).toMatch(/user certificate “alice-laptop”/);
    expect(field(card, 'Principals')).toBe(me);
    expect(field(card, 'Validity')).toMatch(/\(8 hours/);
    const fp = (await run('ssh-keygen', ['-l', '-f', `${user}.pub`])).stdout.split(' ')[1]!;
    expect(field(card, 'Subject key')).toContain(fp);
    const login = await sshTrue(sshd.port, me, [
      '-o',
      'IdentityAgent=none',
      '-o',
      'IdentitiesOnly=yes',
      '-i',
      user,
    ]);
    expect(login.code, login.stderr + sshd.log()).toBe(0);
  });

  it('logs in through the agent after approval, with the host key on the card; a denial refuses it', async () => {
    const [ok, card] = await Promise.all([
      sshTrue(sshd.port, me, ['-o', `IdentityAgent=${socket}`]),
      bobDecides('approve'),
    ]);
    expect(ok.code, ok.stderr + agentLog).toBe(0);
    expect(field(card, 'User')).toBe(me);
    const hostFp = (
      await run('ssh-keygen', ['-l', '-f', join(tmp.root, 'sshd', 'host_ed25519.pub')])
    ).stdout.split(' ')[1]!;
    expect(field(card, 'Server host key')).toContain(hostFp);

    const [no] = await Promise.all([
      sshTrue(sshd.port, me, ['-o', `IdentityAgent=${socket}`]),
      bobDecides('deny'),
    ]);
    expect(no.code).not.toBe(0);
    expect(agentLog).toMatch(/denied by bob/);
  });

  it('makes an SSHSIG through the agent that ssh-keygen -Y verify accepts', async () => {
    const file = join(tmp.root, 'release.txt');
    writeFileSync(file, 'release 1.0\n');
    const [signed, card] = await Promise.all([
      run('ssh-keygen', ['-Y', 'sign', '-f', join(tmp.root, 'group.pub'), '-n', 'file', file], {
        env: { SSH_AUTH_SOCK: socket },
        timeoutMs: 120_000,
      }),
      bobDecides('approve'),
    ]);
    expect(signed.code, signed.stderr + agentLog).toBe(0);
    expect(field(card, 'Namespace')).toBe('file');
    writeFileSync(join(tmp.root, 'allowed_signers'), `ops@conclave ${groupLine}\n`);
    const v = await run(
      'ssh-keygen',
      [
        '-Y',
        'verify',
        '-f',
        join(tmp.root, 'allowed_signers'),
        '-I',
        'ops@conclave',
        '-n',
        'file',
        '-s',
        `${file}.sig`,
      ],
      { input: readFileSync(file) },
    );
    expect(v.code, v.stderr + v.stdout).toBe(0);
    expect(v.stdout).toMatch(/Good "file" signature for ops@conclave/);
  });

  it('signs a git commit through git-sign with the commit on the card; git verify-commit accepts it', async () => {
    const repo = join(tmp.root, 'repo');
    const wrapper = join(tmp.root, 'git-sign.sh');
    // git runs gpg.ssh.program without a shell or arguments: signing goes to conclave, the rest
    // (verify, find-principals) to ssh-keygen.
    writeFileSync(
      wrapper,
      `#!/bin/sh\ncase "$2" in sign) exec "${process.execPath}" "${BIN}" --home "${alice.home}" git-sign "$@" ;; *) exec ssh-keygen "$@" ;; esac\n`,
    );
    chmodSync(wrapper, 0o755);
    writeFileSync(join(tmp.root, 'git_allowed'), `a@example.org ${groupLine}\n`);
    const git = (args: string[]) =>
      run(
        'git',
        [
          '-c',
          'user.name=Alice',
          '-c',
          'user.email=a@example.org',
          '-c',
          'gpg.format=ssh',
          '-c',
          `user.signingkey=${join(tmp.root, 'group.pub')}`,
          '-c',
          `gpg.ssh.program=${wrapper}`,
          '-c',
          `gpg.ssh.allowedSignersFile=${join(tmp.root, 'git_allowed')}`,
          ...args,
        ],
        {
          cwd: repo,
          env: { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
          timeoutMs: 120_000,
        },
      );
    expect((await run('git', ['init', '-q', repo])).code).toBe(0);
    const [commit, card] = await Promise.all([
      git(['commit', '-q', '--allow-empty', '-S', '-m', 'Deploy the threshold key']),
      bobDecides('approve'),
    ]);
    expect(commit.code, commit.stderr).toBe(0);
    expect(card.card?.title).toMatch(/git commit/);
    expect(field(card, 'Git commit')).toMatch(
      /^tree [0-9a-f]{40}\nauthor Alice <a@example\.org> [\s\S]*\n\nDeploy the threshold key\n$/,
    );
    const v = await git(['verify-commit', 'HEAD']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toMatch(/Good "git" signature for a@example\.org/);
  });
});
