// The X.509 CA commands: `ca init` (the group's self-signed CA certificate), `ca sign` (a
// certificate from a CSR), `ca revoke` (a CRL of every certificate revoked so far) and `ca show`.
// Each is an 'x509' request the group approves. The CA's state (its certificate, the revoked list,
// the CRL number) is rebuilt from the group's finished x509 requests, so any member can run them.
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { isLowerHex } from '../../shared/protocol/fields.js';
import { DAY_MS, MAX_DAYS } from '../../shared/x509/cert.js';
import {
  caInitMessage,
  caRevokeMessage,
  caSignMessage,
  caStateOf,
  type CaState,
} from '../../shared/x509/ca.js';
import { fromPem, MAX_DER_BYTES, toPem, X509Error } from '../../shared/x509/der.js';
import { parseSanText, type SubjectAltName } from '../../shared/x509/extensions.js';
import {
  call,
  clean,
  EXIT,
  int,
  output,
  outputCreated,
  str,
  UsageError,
  type Command,
  type Context,
  type OptionSpec,
} from '../cli.js';
import { waitDone } from './wait.js';

/** A CRL's next update when --days is not given. */
const DEFAULT_CRL_DAYS = 30;

const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function usage(ctx: Context, message: string): never {
  throw new UsageError(message, ctx.command.name);
}

/** An X509Error as a usage error naming the flag whose file it came from. */
function x509Usage<T>(ctx: Context, flag: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof X509Error) usage(ctx, `${flag}: ${err.message}`);
    throw err;
  }
}

function days(ctx: Context, fallback?: number): number {
  const d = int(ctx, 'days', { min: 1, max: MAX_DAYS, words: `from 1 to ${MAX_DAYS}` }) ?? fallback;
  if (d === undefined) usage(ctx, '--days: give how many days it is valid');
  return d;
}

/** The group (ed25519, with its key), or a usage error saying why it cannot be a CA. */
async function caGroup(ctx: Context): Promise<{ g: GroupView; key: Uint8Array }> {
  const g = await call(ctx, 'group.show', { group: str(ctx, 'group') });
  if (g.scheme !== 'ed25519')
    usage(ctx, `${g.name} is a ${g.scheme} group: an X.509 CA needs an ed25519 group`);
  if (!isLowerHex(g.publicKey, 64)) usage(ctx, `${g.name} has no key yet (status ${g.status})`);
  return { g, key: hexToBytes(g.publicKey) };
}

/** The group's x509 requests, and the CA state its finished ones make. */
async function caState(
  ctx: Context,
  g: GroupView,
  key: Uint8Array,
): Promise<{ state: CaState; open: RequestView[] }> {
  const all = (await call(ctx, 'request.list', { group: g.id })).filter((r) => r.kind === 'x509');
  const done = all
    .filter((r) => r.status === 'done')
    .map((r) => ({
      message: r.message,
      createdAt: r.createdAt,
      ...(r.signature ? { signature: r.signature } : {}),
    }));
  const open = all.filter((r) => r.status === 'pending' || r.status === 'signing');
  return { state: caStateOf(done, key), open };
}

function requireCa(ctx: Context, g: GroupView, state: CaState): NonNullable<CaState['ca']> {
  if (!state.ca)
    usage(
      ctx,
      `${g.name} has no CA certificate yet: make one with conclave ca init --group ${g.name} --subject "CN=…" --days N`,
    );
  return state.ca;
}

/** A PEM (or DER) file holding one of these blocks, as DER. */
async function readDerFile(
  ctx: Context,
  flag: string,
  path: string,
  labels: string[],
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    const info = await stat(path);
    if (!info.isFile()) usage(ctx, `${flag}: ${path} is not a regular file`);
    if (info.size > 4 * MAX_DER_BYTES)
      usage(ctx, `${flag}: ${path} has ${info.size} bytes, too many for a ${labels[0]}`);
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return usage(ctx, `${flag}: cannot read ${path} (${reason})`);
  }
  const text = new TextDecoder().decode(bytes);
  if (!text.includes('-----BEGIN')) return bytes;
  return x509Usage(ctx, flag, () => fromPem(text, labels, path));
}

/**
 * Makes the x509 request; with --out, waits for the approvals and saves what the group signed
 * (the PEM certificate or CRL), else says how to get it once done.
 */
async function createAndSave(
  ctx: Context,
  g: GroupView,
  message: Uint8Array,
  defaultName: string,
): Promise<number> {
  const r = await call(ctx, 'request.create', {
    group: g.id,
    kind: 'x509',
    message: bytesToHex(message),
    expiresInSec: int(ctx, 'expires'),
    approve: ctx.values.approve === true || undefined,
  });
  const out = str(ctx, 'out');
  if (out === undefined) {
    outputCreated(ctx, r);
    if (!ctx.json)
      ctx.io.stdout.write(
        `once done: conclave request result ${clean(r.id)} --out ${defaultName}\n`,
      );
    return EXIT.OK;
  }
  if (!ctx.json) outputCreated(ctx, r);
  const end = await waitDone(ctx, r);
  if (end.status !== 'done') {
    output(ctx, end, () => [
      `${clean(end.id)}: ${end.status}${end.failure ? `: ${clean(end.failure)}` : ''}; nothing saved`,
    ]);
    return EXIT.FAILED;
  }
  const res = await call(ctx, 'request.result', { id: end.id });
  const a = res.artifact;
  if (a?.text === undefined) throw new Error(`request ${end.id} is done but has no PEM result`);
  await writeFile(out, a.text, { mode: 0o644 });
  output(ctx, res, () => [
    `saved ${clean(a.name)} to ${clean(out)}`,
    ...(a.fields ?? []).map((f) => `${clean(f.label)}: ${clean(f.value)}`),
  ]);
  return EXIT.OK;
}

const COMMON: Record<string, OptionSpec> = {
  group: { type: 'string', value: 'GROUP', help: 'the ed25519 group that is the CA' },
  expires: {
    type: 'string',
    value: 'SECONDS',
    help: 'seconds until the request expires if not approved',
  },
  approve: { type: 'boolean', help: 'approve it yourself as you make it' },
};

const DAYS: OptionSpec = { type: 'string', value: 'N', help: 'days it is valid' };

export function caCommands(): Command[] {
  return [
    {
      name: 'ca init',
      usage: '--group GROUP --subject "CN=…" --days N [--out ca.pem] [--replace] [--approve]',
      summary: 'make the group an X.509 CA: its self-signed CA certificate, signed once approved',
      options: {
        ...COMMON,
        subject: {
          type: 'string',
          value: 'NAME',
          help: 'the CA\'s name, "CN=Example Root CA, O=Example" (CN, O, OU, C, ST, L)',
        },
        days: DAYS,
        out: {
          type: 'string',
          value: 'FILE',
          help: 'wait for the approvals, then save the CA certificate (PEM) to FILE',
        },
        replace: {
          type: 'boolean',
          help: 'make a new CA certificate even though the group has one (ca sign then uses the new one)',
        },
      },
      required: ['group', 'subject', 'days'],
      async run(ctx) {
        const { g, key } = await caGroup(ctx);
        const { state } = await caState(ctx, g, key);
        if (state.ca && ctx.values.replace !== true)
          usage(
            ctx,
            `${g.name} already has a CA certificate (${state.ca.tbs.subjectText}, serial ${state.ca.tbs.serialHex}): get it with conclave ca show --group ${g.name} --out ca.pem, or pass --replace to make a new one`,
          );
        const message = x509Usage(ctx, '--subject', () =>
          caInitMessage({
            subject: str(ctx, 'subject')!,
            days: days(ctx),
            groupKey: key,
            now: new Date(),
            random,
          }),
        );
        return createAndSave(ctx, g, message, 'ca.pem');
      },
    },
    {
      name: 'ca sign',
      usage: '--group GROUP --csr FILE --days N [--out cert.pem] [--san LIST] [--eku LIST]',
      summary: "issue a certificate from a CSR (PEM or DER) with the group's CA, once approved",
      options: {
        ...COMMON,
        csr: {
          type: 'string',
          value: 'FILE',
          help: 'the certificate signing request (openssl req -new)',
        },
        days: DAYS,
        san: {
          type: 'string',
          value: 'LIST',
          help: 'alternative names instead of the CSR\'s: "DNS:a.example,IP:10.0.0.1"',
        },
        eku: {
          type: 'string',
          value: 'LIST',
          help: 'extended key usages (default serverAuth,clientAuth)',
        },
        out: {
          type: 'string',
          value: 'FILE',
          help: 'wait for the approvals, then save the certificate (PEM) to FILE',
        },
      },
      required: ['group', 'csr', 'days'],
      async run(ctx) {
        const d = days(ctx);
        const csr = await readDerFile(ctx, '--csr', str(ctx, 'csr')!, [
          'CERTIFICATE REQUEST',
          'NEW CERTIFICATE REQUEST',
        ]);
        const sanText = str(ctx, 'san');
        const sans: SubjectAltName[] | undefined =
          sanText === undefined ? undefined : x509Usage(ctx, '--san', () => parseSanText(sanText));
        const ekuText = str(ctx, 'eku');
        const eku = ekuText
          ?.split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        const { g, key } = await caGroup(ctx);
        const { state } = await caState(ctx, g, key);
        const ca = requireCa(ctx, g, state);
        const message = x509Usage(ctx, '--csr', () =>
          caSignMessage({
            ca: ca.der,
            csr,
            days: d,
            groupKey: key,
            now: new Date(),
            random,
            ...(sans ? { sans } : {}),
            ...(eku ? { extKeyUsage: eku } : {}),
          }),
        );
        return createAndSave(ctx, g, message, 'cert.pem');
      },
    },
    {
      name: 'ca revoke',
      usage: '--group GROUP --cert FILE [--days N] [--out crl.pem]',
      summary:
        'revoke a certificate: a new CRL listing it and every one revoked before, once approved',
      options: {
        ...COMMON,
        cert: { type: 'string', value: 'FILE', help: 'the certificate to revoke (PEM or DER)' },
        days: {
          type: 'string',
          value: 'N',
          help: `days until the CRL's next update (default ${DEFAULT_CRL_DAYS})`,
        },
        out: {
          type: 'string',
          value: 'FILE',
          help: 'wait for the approvals, then save the CRL (PEM) to FILE',
        },
      },
      required: ['group', 'cert'],
      async run(ctx) {
        const d = days(ctx, DEFAULT_CRL_DAYS);
        const cert = await readDerFile(ctx, '--cert', str(ctx, 'cert')!, ['CERTIFICATE']);
        const { g, key } = await caGroup(ctx);
        const { state, open } = await caState(ctx, g, key);
        const ca = requireCa(ctx, g, state);
        // Two CRLs made at once would each miss the other's certificate.
        const pendingRevoke = open.find((r) => {
          try {
            return JSON.parse(new TextDecoder().decode(hexToBytes(r.message))).op === 'revoke';
          } catch {
            return false;
          }
        });
        if (pendingRevoke)
          usage(
            ctx,
            `request ${pendingRevoke.id} is already revoking a certificate: let it finish (or deny it) first, so the new CRL lists both`,
          );
        const message = x509Usage(ctx, '--cert', () =>
          caRevokeMessage({
            ca: ca.der,
            cert,
            days: d,
            groupKey: key,
            now: new Date(),
            previous: state,
          }),
        );
        return createAndSave(ctx, g, message, 'crl.pem');
      },
    },
    {
      name: 'ca show',
      usage: '--group GROUP [--out ca.pem] [--crl crl.pem]',
      summary:
        "the group's CA certificate and what it revoked (from the group's finished requests)",
      options: {
        group: COMMON.group!,
        out: { type: 'string', value: 'FILE', help: 'save the CA certificate (PEM) to FILE' },
        crl: { type: 'string', value: 'FILE', help: 'save the latest CRL (PEM) to FILE' },
      },
      required: ['group'],
      async run(ctx) {
        const { g, key } = await caGroup(ctx);
        const { state } = await caState(ctx, g, key);
        const ca = requireCa(ctx, g, state);
        const caPem = toPem('CERTIFICATE', ca.der);
        const out = str(ctx, 'out');
        if (out !== undefined) await writeFile(out, caPem, { mode: 0o644 });
        const crlPath = str(ctx, 'crl');
        if (crlPath !== undefined) {
          if (!state.crl) usage(ctx, `--crl: ${g.name}'s CA has not revoked anything yet: no CRL`);
          await writeFile(crlPath, toPem('X509 CRL', state.crl), { mode: 0o644 });
        }
        const t = ca.tbs;
        const view = {
          group: g.name,
          subject: t.subjectText,
          serial: t.serialHex,
          notBefore: t.notBefore.toISOString(),
          notAfter: t.notAfter.toISOString(),
          crlNumber: state.crlNumber,
          revoked: state.revoked.map((r) => ({
            serial: r.serialHex,
            at: r.revokedAt.toISOString(),
          })),
          certificate: caPem,
        };
        output(ctx, view, () => [
          `CA of ${clean(g.name)}: ${clean(t.subjectText)}`,
          `serial ${t.serialHex}; valid ${t.notBefore.toISOString()} to ${t.notAfter.toISOString()} (${Math.round((t.notAfter.getTime() - t.notBefore.getTime()) / DAY_MS)} days)`,
          state.revoked.length
            ? `revoked (CRL ${state.crlNumber}): ${state.revoked.map((r) => r.serialHex).join(', ')}`
            : 'nothing revoked yet',
          ...(out !== undefined
            ? [`saved the CA certificate to ${clean(out)}`]
            : caPem.trimEnd().split('\n')),
          ...(crlPath !== undefined ? [`saved the CRL to ${clean(crlPath)}`] : []),
        ]);
        return EXIT.OK;
      },
    },
  ];
}
