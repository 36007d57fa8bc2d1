// The SSH agent's socket layer against a fake group (a local Ed25519 key that signs what the 'ssh'
// kind parses): the real ssh-keygen and ssh talk to it, and the approver's card is what they sent.
import { ed25519 } from '@noble/curves/ed25519.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshAgent, type RunningAgent } from '../../main/ssh-agent.js';
import { defaultPolicy } from '../../shared/policy/policy.js';
import { encodeSshMessage, ssh, type SshMessageInput } from '../../shared/requests/ssh.js';
import type { RequestCard, RequestContext } from '../../shared/requests/types.js';
import { agentRequest, frame, parseAgentAnswer } from '../../shared/ssh/agent.js';
import { ed25519Blob, ed25519Line } from '../../shared/ssh/wire.js';
import { hasOpenSsh, run, sshTrue, startSshd } from './tools.js';

const secret = ed25519.utils.randomSecretKey();
const key = ed25519.getPublicKey(secret);

const ctx: RequestContext = {
  groupId: 'g1',
  groupName: 'ops',
  scheme: 'ed25519',
  threshold: 2,
  size: 2,
  epoch: 0,
  members: [],
  policy: defaultPolicy(),
  author: 'me',
  policyHash: '00',
};

/** Each sign the fake group was asked for: the card the approvers would see. */
const cards: RequestCard[] = [];
let refuseNext = false;

let dir: string;
let agent: RunningAgent;
const logs: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-ssh-agent-'));
  agent = await startSshAgent({
    socket: join(dir, 'agent.sock'),
    backend: {
      key,
      comment: 'ops',
      async sign(m: SshMessageInput) {
        // What every approver's node does with the request's message.
        const p = ssh.parse(encodeSshMessage(m), ctx);
        cards.push(ssh.decode(p, ctx));
        if (refuseNext) return undefined;
        const exec = ssh.execution!(p, ctx);
        if (exec.op !== 'sign') throw new Error('not a sign');
        return ed25519.sign(exec.parts[0]!.message, secret);
      },
      log: (l) => logs.push(l),
    },
    maxConnections: 4,
  });
  writeFileSync(join(dir, 'ca.pub'), `${ed25519Line(key, 'ops')}\n`);
});

afterAll(async () => {
  await agent?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends frames on one connection and reads one answer per frame. */
async function talk(frames: Uint8Array[]): Promise<ReturnType<typeof parseAgentAnswer>[]> {
  const sock = createConnection(agent.path);
  const answers: ReturnType<typeof parseAgentAnswer>[] = [];
  let buf = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    sock.on('error', reject);
    sock.on('close', () => resolve(answers));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const n = buf.readUInt32BE(0);
        answers.push(parseAgentAnswer(new Uint8Array(buf.subarray(4, 4 + n))));
        buf = buf.subarray(4 + n);
      }
      if (answers.length === frames.length) sock.end();
    });
    sock.on('connect', () => sock.write(Buffer.concat(frames.map((f) => frame(f)))));
  });
}

describe('ssh agent (socket layer, fake group)', () => {
  it('listens on a 0600 socket and lists the group key with its name', async () => {
    expect(statSync(agent.path).mode & 0o777).toBe(0o600);
    const [a] = await talk([agentRequest.identities()]);
    expect(a).toEqual({ type: 'identities', keys: [{ blob: ed25519Blob(key), comment: 'ops' }] });
  });

  it('refuses bytes that are no login, SSHSIG or certificate, another key, and unknown extensions', async () => {
    const before = cards.length;
    const answers = await talk([
      agentRequest.sign(ed25519Blob(key), new TextEncoder().encode('pay 100 to mallory')),
      agentRequest.sign(
        ed25519Blob(ed25519.getPublicKey(ed25519.utils.randomSecretKey())),
        new Uint8Array(40),
      ),
      Uint8Array.from([27, 0, 0, 0, 5, ...new TextEncoder().encode('query')]),
      Uint8Array.of(17),
    ]);
    expect(answers.map((a) => a.type)).toEqual(['failure', 'failure', 'failure', 'failure']);
    expect(cards.length).toBe(before);
    expect(logs.join('\n')).toMatch(/refused to sign: data: is not an SSH login request/);
  });

  it('refuses a session-bind whose host key did not sign the session id', async () => {
    const host = ed25519.utils.randomSecretKey();
    const hostBlob = ed25519Blob(ed25519.getPublicKey(host));
    const sid = new Uint8Array(32).fill(7);
    const sigOf = (m: Uint8Array) =>
      Uint8Array.from([
        0,
        0,
        0,
        11,
        ...new TextEncoder().encode('ssh-ed25519'),
        0,
        0,
        0,
        64,
        ...ed25519.sign(m, host),
      ]);
    const answers = await talk([
      agentRequest.sessionBind(hostBlob, sid, sigOf(sid)),
      agentRequest.sessionBind(hostBlob, sid, sigOf(new Uint8Array(32))),
    ]);
    expect(answers.map((a) => a.type)).toEqual(['success', 'failure']);
  });

  it('closes a connection that announces a frame over 256 KiB', async () => {
    const sock = createConnection(agent.path);
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', () => {});
    sock.write(Buffer.from([0x00, 0x04, 0x00, 0x01]));
    await closed;
  });

  it.runIf(hasOpenSsh)(
    'ssh-keygen -s -U through the agent issues a certificate the card describes',
    async () => {
      const user = join(dir, 'user');
      expect((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', user])).code).toBe(0);
      const env = { SSH_AUTH_SOCK: agent.path };
      const r = await run(
        'ssh-keygen',
        [
          '-s',
          join(dir, 'ca.pub'),
          '-U',
          '-I',
          'alice@laptop',
          '-n',
          'alice,deploy',
          '-V',
          '+8h',
          `${user}.pub`,
        ],
        { env },
      );
      expect(r.code, r.stderr).toBe(0);
      const shown = await run('ssh-keygen', ['-L', '-f', `${user}-cert.pub`]);
      expect(shown.stdout).toMatch(/Key ID: "alice@laptop"/);
      const card = cards.at(-1)!;
      expect(card.title).toMatch(/user certificate “alice@laptop”/);
      const f = Object.fromEntries(card.fields.map((x) => [x.label, x.value]));
      expect(f.Principals).toBe('alice, deploy');
      expect(f.Validity).toMatch(/\(8 hours( 1 minute)?\)$/);
      expect(f.Extensions).toMatch(/permit-pty/);
      const fp = (await run('ssh-keygen', ['-l', '-f', `${user}.pub`])).stdout.split(' ')[1];
      expect(f['Subject key']).toContain(fp);
    },
  );

  it.runIf(hasOpenSsh)(
    'ssh-keygen -Y sign through the agent makes a signature ssh-keygen -Y verify accepts',
    async () => {
      const file = join(dir, 'note.txt');
      writeFileSync(file, 'release 1.2.3\n');
      const env = { SSH_AUTH_SOCK: agent.path };
      const r = await run(
        'ssh-keygen',
        ['-Y', 'sign', '-f', join(dir, 'ca.pub'), '-n', 'file', file],
        { env },
      );
      expect(r.code, r.stderr).toBe(0);
      writeFileSync(join(dir, 'allowed'), `ops@example ${ed25519Line(key)}\n`);
      const v = await run(
        'ssh-keygen',
        [
          '-Y',
          'verify',
          '-f',
          join(dir, 'allowed'),
          '-I',
          'ops@example',
          '-n',
          'file',
          '-s',
          `${file}.sig`,
        ],
        { input: readFileSync(file) },
      );
      expect(v.code, v.stderr + v.stdout).toBe(0);
      const card = cards.at(-1)!;
      expect(card.fields.find((x) => x.label === 'Namespace')?.value).toBe('file');
      expect(card.warnings?.join(' ')).toMatch(/Only the hash/);
    },
  );

  it.runIf(hasOpenSsh)(
    'ssh logs in through the agent with the server host key on the card, and not when refused',
    async () => {
      const sshd = await startSshd(join(dir, 'sshd'), { authorizedKeys: `${ed25519Line(key)}\n` });
      try {
        const me = userInfo().username;
        const ok = await sshTrue(sshd.port, me, ['-o', `IdentityAgent=${agent.path}`]);
        expect(ok.code, ok.stderr + sshd.log()).toBe(0);
        const card = cards.at(-1)!;
        const f = Object.fromEntries(card.fields.map((x) => [x.label, x.value]));
        expect(f.User).toBe(me);
        const hostFp = (
          await run('ssh-keygen', ['-l', '-f', join(dir, 'sshd', 'host_ed25519.pub')])
        ).stdout.split(' ')[1]!;
        expect(f['Server host key']).toContain(hostFp);
        expect(card.warnings ?? []).toEqual([]);
        refuseNext = true;
        const no = await sshTrue(sshd.port, me, ['-o', `IdentityAgent=${agent.path}`]);
        expect(no.code).not.toBe(0);
      } finally {
        refuseNext = false;
        await sshd.stop();
      }
    },
  );

  it("will not take over a live agent's socket or another file", async () => {
    const backend = { key, comment: 'x', sign: async () => undefined };
    await expect(startSshAgent({ socket: agent.path, backend })).rejects.toThrow(
      /already listening/,
    );
    writeFileSync(join(dir, 'plain'), 'x');
    await expect(startSshAgent({ socket: join(dir, 'plain'), backend })).rejects.toThrow(
      /not a socket/,
    );
  });

  it('refuses connections over the limit', async () => {
    const socks = Array.from({ length: 6 }, () => createConnection(agent.path));
    for (const s of socks) s.on('error', () => {});
    const closedEarly = await Promise.all(
      socks.map(
        (s) =>
          new Promise<boolean>((r) => {
            s.on('close', () => r(true));
            setTimeout(() => r(false), 1000);
          }),
      ),
    );
    expect(closedEarly.filter(Boolean).length).toBeGreaterThanOrEqual(2);
    for (const s of socks) s.destroy();
    expect(existsSync(agent.path)).toBe(true);
  });
});
