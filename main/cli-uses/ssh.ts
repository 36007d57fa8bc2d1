// The SSH commands: the group's OpenSSH public key line, and `ssh-agent`, an agent on a Unix socket
// whose every signature (a login, a certificate, an SSH signature) is a request the members approve.
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ApiError, type GroupView, type RequestView } from '../../shared/api/index.js';
import { LIMITS } from '../../shared/api/schema.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { base64 } from '@scure/base';
import { MAX_SSH_CONTENT, encodeSshMessage } from '../../shared/requests/ssh.js';
import { isLowerHex } from '../../shared/protocol/fields.js';
import { sshsigData } from '../../shared/ssh/signed.js';
import {
  ed25519Blob,
  ed25519Line,
  equalBytes,
  fingerprint,
  parsePublicKey,
} from '../../shared/ssh/wire.js';
import {
  call,
  clean,
  EXIT,
  int,
  output,
  shutdownRequested,
  str,
  UsageError,
  type Command,
  type Context,
} from '../cli.js';
import { callControl } from '../server/control.js';
import { startSshAgent, type AgentBackend } from '../ssh-agent.js';

/** How long one request.wait call lasts before the agent looks again. */
const WAIT_SEC = 60;
/** A login must be approved within sshd's LoginGraceTime (120 s by default). */
const DEFAULT_EXPIRES_SEC = 300;

/** The group's Ed25519 key, or a usage error for a group that has none. */
async function groupKey(ctx: Context): Promise<{ g: GroupView; key: Uint8Array }> {
  const g = await call(ctx, 'group.show', { group: str(ctx, 'group') });
  if (g.scheme !== 'ed25519')
    throw new UsageError(
      `${clean(g.name)} is a ${g.scheme} group: SSH needs an ed25519 group`,
      ctx.command.name,
    );
  if (!isLowerHex(g.publicKey, 64))
    throw new UsageError(`${clean(g.name)} has no key yet (status ${g.status})`, ctx.command.name);
  return { g, key: hexToBytes(g.publicKey) };
}

/** A comment for the key line: the group's name, when it is one word of plain characters. */
function comment(g: GroupView): string {
  return /^[\w.@+-]{1,64}$/.test(g.name) ? g.name : `conclave-${g.id.slice(0, 8)}`;
}

function endedWith(r: RequestView): string {
  if (r.status === 'denied')
    return `denied by ${r.denials.map((d) => clean(d.name)).join(', ') || 'the group'}`;
  if (r.status === 'failed') return `failed${r.failure ? `: ${clean(r.failure)}` : ''}`;
  return r.status;
}

function agentBackend(
  ctx: Context,
  g: GroupView,
  key: Uint8Array,
  expiresInSec: number,
  log: (line: string) => void,
  stopping: () => boolean,
): AgentBackend {
  const approve = ctx.values.approve === true || undefined;
  return {
    key,
    comment: comment(g),
    log,
    async sign(message, what) {
      let r: RequestView;
      try {
        r = await callControl(ctx.home, 'request.create', {
          group: g.id,
          kind: 'ssh',
          message: bytesToHex(encodeSshMessage(message)),
          expiresInSec,
          ...(approve ? { approve } : {}),
        });
      } catch (err) {
        if (err instanceof ApiError) {
          log(`refused to ask the group to sign ${what}: ${err.message}`);
          return undefined;
        }
        throw err;
      }
      log(
        `signing ${what}: request ${r.id}; ${r.card?.summary ?? ''} Members approve with: conclave approve ${r.id}`,
      );
      while (r.status === 'pending' || r.status === 'signing') {
        if (stopping()) return undefined;
        r = await callControl(ctx.home, 'request.wait', { id: r.id, timeoutSec: WAIT_SEC });
      }
      if (r.status !== 'done' || !r.signature) {
        log(`request ${r.id}: ${endedWith(r)}`);
        return undefined;
      }
      const sig = hexToBytes(r.signature);
      // What goes back to the SSH client is a signature of exactly these bytes by this key.
      if (sig.length !== 64 || !ed25519.verify(sig, message.data, key)) {
        log(`request ${r.id}: the group's signature does not verify; not handed out`);
        return undefined;
      }
      log(`request ${r.id}: signed`);
      return sig;
    },
  };
}

/** The group whose Ed25519 key is the OpenSSH public key line in `text` (git's user.signingkey). */
async function groupOfKeyLine(
  ctx: Context,
  text: string,
): Promise<{ g: GroupView; key: Uint8Array }> {
  const line = text.trim().replace(/^key::/, '');
  const m = /^ssh-ed25519 ([A-Za-z0-9+/=]+)(\s|$)/.exec(line);
  let key: Uint8Array | undefined;
  try {
    key = m ? parsePublicKey(base64.decode(m[1]!)).fields[0] : undefined;
  } catch {
    key = undefined;
  }
  if (!key)
    throw new UsageError(
      'the signing key is not an ssh-ed25519 public key line (set user.signingkey to the file `conclave ssh pubkey` prints)',
      ctx.command.name,
    );
  for (const g of await call(ctx, 'group.list', {}))
    if (g.scheme === 'ed25519' && g.publicKey && equalBytes(hexToBytes(g.publicKey), key))
      return { g, key };
  throw new UsageError(
    `no group on this node has the key ${fingerprint(ed25519Blob(key))}`,
    ctx.command.name,
  );
}

/**
 * `git-sign -Y sign -n git -f KEYFILE [-U] FILE`, as git calls gpg.ssh.program: the commit (or tag)
 * travels with the request so every approver sees it, and FILE.sig is written once approved.
 * Verification (-Y verify, find-principals, check-novalidate) is ssh-keygen's own: the wrapper
 * script git runs sends only `-Y sign` here (see the README).
 */
async function gitSign(ctx: Context): Promise<number> {
  if (str(ctx, 'Y') !== 'sign')
    throw new UsageError(
      `-Y: only sign is done here, got ${JSON.stringify(str(ctx, 'Y'))}; verify with ssh-keygen`,
      ctx.command.name,
    );
  const namespace = str(ctx, 'n');
  const keyFile = str(ctx, 'f');
  const file = ctx.args[0]!;
  if (!namespace || !keyFile)
    throw new UsageError('expected -Y sign -n NAMESPACE -f KEYFILE FILE', ctx.command.name);
  const { g, key } = await groupOfKeyLine(ctx, await readFile(keyFile, 'utf8'));
  const content = new Uint8Array(await readFile(file));
  const data = sshsigData(namespace, 'sha512', sha512(content));
  const message = encodeSshMessage({
    key,
    data,
    // A commit bigger than a request carries is signed by its hash alone (the card warns).
    ...(content.length <= MAX_SSH_CONTENT ? { content } : {}),
  });
  let r = await call(ctx, 'request.create', {
    group: g.id,
    kind: 'ssh',
    message: bytesToHex(message),
    expiresInSec: DEFAULT_EXPIRES_SEC,
    approve: true,
  });
  ctx.io.stderr.write(
    `conclave: asked ${clean(g.name)} to sign (request ${clean(r.id)}); the members approve with: conclave approve ${clean(r.id)}\n`,
  );
  while (r.status === 'pending' || r.status === 'signing')
    r = await callControl(ctx.home, 'request.wait', { id: r.id, timeoutSec: WAIT_SEC });
  if (r.status !== 'done') {
    ctx.io.stderr.write(`conclave: request ${clean(r.id)} ${endedWith(r)}\n`);
    return EXIT.FAILED;
  }
  const res = await callControl(ctx.home, 'request.result', { id: r.id });
  const sig = r.signature ? hexToBytes(r.signature) : new Uint8Array();
  if (!res.artifact?.text || sig.length !== 64 || !ed25519.verify(sig, data, key)) {
    ctx.io.stderr.write(`conclave: request ${clean(r.id)} gave no valid signature\n`);
    return EXIT.FAILED;
  }
  await writeFile(`${file}.sig`, res.artifact.text, { mode: 0o644 });
  return EXIT.OK;
}

export function sshCommands(): Command[] {
  // Built here, not at the top: cli.ts calls this while this module may still be loading.
  const GROUP_OPTION = { type: 'string', value: 'GROUP', help: 'group id or name' } as const;
  return [
    {
      name: 'ssh pubkey',
      usage: '--group GROUP',
      summary:
        "the group's OpenSSH public key line (for authorized_keys, TrustedUserCAKeys, ssh-keygen -s)",
      options: { group: GROUP_OPTION },
      required: ['group'],
      fields: { group: '--group' },
      async run(ctx) {
        const { g, key } = await groupKey(ctx);
        const line = ed25519Line(key, comment(g));
        output(ctx, { group: g.id, line, fingerprint: fingerprint(ed25519Blob(key)) }, () => [
          line,
        ]);
        return EXIT.OK;
      },
    },
    {
      name: 'ssh-agent',
      usage: '--group GROUP [--socket PATH] [--approve] [--expires SECONDS]',
      summary:
        'an SSH agent for the group: prints SSH_AUTH_SOCK; every login, certificate (ssh-keygen -s -U) or SSH signature it is asked for is a request the members approve',
      options: {
        group: GROUP_OPTION,
        socket: {
          type: 'string',
          value: 'PATH',
          help: 'where to listen (default: a new private directory under the temp dir)',
        },
        approve: {
          type: 'boolean',
          help: 'approve each request yourself as the agent makes it (the others still approve)',
        },
        expires: {
          type: 'string',
          value: 'SECONDS',
          help: `seconds each request waits for approvals (default ${DEFAULT_EXPIRES_SEC}; ${LIMITS.minExpiresSec}..${LIMITS.maxExpiresSec}; sshd waits 120 s for a login)`,
        },
      },
      required: ['group'],
      fields: { group: '--group', expiresInSec: '--expires' },
      async run(ctx) {
        const expires =
          int(ctx, 'expires', {
            min: LIMITS.minExpiresSec,
            max: LIMITS.maxExpiresSec,
            words: `from ${LIMITS.minExpiresSec} to ${LIMITS.maxExpiresSec}`,
          }) ?? DEFAULT_EXPIRES_SEC;
        const { g, key } = await groupKey(ctx);
        const given = str(ctx, 'socket');
        // Like ssh-agent: a fresh 0700 directory, so nobody else can reach the socket in between.
        const dir = given ? undefined : mkdtempSync(join(tmpdir(), 'conclave-ssh-'));
        const socket = given ? resolve(given) : join(dir!, 'agent.sock');
        const log = (line: string) => ctx.io.stderr.write(`${clean(line)}\n`);
        const shutdown = shutdownRequested(ctx.io);
        let stopping = false;
        let agent;
        try {
          agent = await startSshAgent({
            socket,
            backend: agentBackend(ctx, g, key, expires, log, () => stopping),
          });
        } catch (e) {
          shutdown.dispose();
          if (dir) rmSync(dir, { recursive: true, force: true });
          throw new UsageError(`--socket: ${(e as Error).message}`, ctx.command.name);
        }
        try {
          output(ctx, { group: g.id, socket, key: ed25519Line(key, comment(g)) }, () => [
            `SSH_AUTH_SOCK=${socket}; export SSH_AUTH_SOCK;`,
          ]);
          log(`agent for ${g.name} (${fingerprint(ed25519Blob(key))}) on ${socket}; Ctrl-C stops`);
          await shutdown.promise;
        } finally {
          stopping = true;
          shutdown.dispose();
          await agent.close();
          rmSync(socket, { force: true });
          if (dir && dirname(socket) === dir) rmSync(dir, { recursive: true, force: true });
        }
        return EXIT.OK;
      },
    },
    {
      name: 'git-sign',
      usage: '-Y sign -n NAMESPACE -f KEYFILE FILE (as git calls gpg.ssh.program)',
      summary:
        "signs a git commit or tag with the group whose key is git's user.signingkey (git's gpg.ssh.program runs it through a wrapper, see the README): the commit travels with the request so every approver reads it",
      options: {
        Y: { type: 'string', short: 'Y', value: 'sign', help: 'the operation: sign' },
        n: {
          type: 'string',
          short: 'n',
          value: 'NAMESPACE',
          help: 'the signature namespace (git)',
        },
        f: {
          type: 'string',
          short: 'f',
          value: 'FILE',
          help: 'the public key file (or allowed signers)',
        },
        U: {
          type: 'boolean',
          short: 'U',
          help: 'the key is in an agent (ignored: the group signs)',
        },
      },
      args: ['FILE'],
      required: ['Y', 'n', 'f'],
      run: gitSign,
    },
  ];
}
