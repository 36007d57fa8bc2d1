// 'sign': the group signs the message's raw bytes. The card shows the whole message (text when it
// is plain text, else hex), never only its hash.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { LIMITS } from '../protocol/wire.js';
import { fail } from './fields.js';
import type { CardField, RequestKindModule } from './types.js';

export interface SignParams {
  bytes: Uint8Array;
  /** The message as text when it is UTF-8 without control or direction-changing characters. */
  text?: string;
}

/** UTF-8 text without control characters (other than newline and tab), else undefined. */
export function printableText(bytes: Uint8Array): string | undefined {
  try {
    const s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    // eslint-disable-next-line no-control-regex
    return /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff]/.test(s)
      ? undefined
      : s;
  } catch {
    return undefined;
  }
}

function parse(message: Uint8Array): SignParams {
  if (message.length > LIMITS.message)
    fail('message', `must be at most ${LIMITS.message} bytes, got ${message.length}`);
  const text = printableText(message);
  return text === undefined ? { bytes: message } : { bytes: message, text };
}

export const sign: RequestKindModule<SignParams> = {
  kind: 'sign',
  parse,
  read: parse,
  decode(p, ctx) {
    const n = p.bytes.length;
    const fields: CardField[] =
      p.text !== undefined
        ? [{ label: 'Message', value: p.text, kind: 'text' }]
        : [{ label: 'Message (hex)', value: bytesToHex(p.bytes), kind: 'hex' }];
    fields.push(
      { label: 'Length', value: `${n} byte${n === 1 ? '' : 's'}`, kind: 'number' },
      { label: 'SHA-256', value: bytesToHex(sha256(p.bytes)), kind: 'hex' },
    );
    const warnings =
      p.text === undefined
        ? [
            'This message is binary data, not text: approve only if you know what these exact bytes are.',
          ]
        : undefined;
    return {
      kind: 'sign',
      title: `Sign a message with the key of “${ctx.groupName}”`,
      summary:
        p.text !== undefined
          ? `Sign this ${n}-byte text message with the key of ${ctx.groupName}.`
          : `Sign ${n} bytes of binary data with the key of ${ctx.groupName}.`,
      fields,
      ...(warnings ? { warnings } : {}),
    };
  },
  execution: (p) => ({ op: 'sign', parts: [{ message: p.bytes }] }),
  policy: {
    noun: 'signing',
    allowedByDefault: true,
    canBeForbidden: true,
    approvalsConfigurable: true,
    needsReconstructEnabled: false,
    needsOnline: 'approvers',
    exposesKey: false,
  },
};
