// The SSH commands: the group's OpenSSH public key line, and `ssh-agent`, an agent on a Unix socket
// whose every signature (a login, a certificate, an SSH signature) is a request the members approve.
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ApiError, type GroupView, type RequestView } from '../../shared/api/index.js';
import { LIMITS } from '../../shared/api/schema.js';
import { encodeSshMessage } from '../../shared/requests/ssh.js';
import { ed25519Blob, ed25519Line, fingerprint } from '../../shared/ssh/wire.js';
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
  if (!g.publicKey || !/^[0-9a-f]{64}$/.test(g.publicKey))
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
  ];
}
