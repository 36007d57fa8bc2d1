// The uses of the key (ssh, age, x509, psbt, nostr) as the API offers them: a request of any use
// kind from the bytes its kind parses, and what a done request produced, built by its kind's
// module from the group's signatures (or, for an ECDH kind, the requester's own result).
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { ApiError, type RequestResult, type RequestView } from '../../shared/api/index.js';
import { splitAndVerify } from '../../shared/crypto/sign.js';
import { verifyEd25519 } from '../crypto/ed25519.js';
import { LIMITS } from '../../shared/protocol/wire.js';
import {
  executionOf,
  RequestParamError,
  resultOf,
  USE_KINDS,
  type KindOutput,
  type RequestKind,
} from '../../shared/requests/index.js';
import { type NodeContext, NodeService } from './context.js';
import type { GroupsService } from './groups.js';
import type { RequestsService } from './requests.js';

export class UsesService extends NodeService {
  /** The requester's ECDH results, by request (set by the ECDH service; memory only). */
  ecdhResult?: (id: string) => Uint8Array[] | undefined;

  constructor(
    ctx: NodeContext,
    private readonly requests: RequestsService,
    private readonly groups: GroupsService,
  ) {
    super(ctx);
  }

  createUseRequest(input: {
    group: string;
    kind: RequestKind;
    message: string;
    expiresInSec?: number;
    approve?: boolean;
  }): RequestView {
    if (!USE_KINDS.includes(input.kind))
      throw new ApiError('bad_input', `kind: ${input.kind} requests have their own operation`);
    const g = this.groups.findGroup(input.group);
    if (g.status !== 'ready')
      throw new ApiError('not_ready', `group ${g.name} is ${g.status}, not ready`);
    const bytes = hexToBytes(input.message.toLowerCase());
    if (bytes.length > LIMITS.message)
      throw new ApiError('bad_input', `message: at most ${LIMITS.message} bytes`);
    return this.requests.createRequest(g, input.kind, bytes, input.expiresInSec, input.approve);
  }

  requestResult(id: string): RequestResult {
    const r = this.requests.getRequest(id);
    const out: RequestResult = { id: r.id, kind: r.kind, status: r.status };
    if (r.status !== 'done') return out;
    const ctx = this.requests.contextOf(r);
    let output: KindOutput;
    try {
      const exec = executionOf(r.kind, r.message, ctx);
      if (exec.op === 'sign') {
        const pub = this.publicPackage(r.groupId);
        const sigs =
          pub && r.signature && splitAndVerify(pub, exec.parts, r.signature, verifyEd25519);
        if (!sigs)
          throw new ApiError('internal', `request ${r.id}: its signature does not verify here`);
        output = { signatures: sigs };
      } else if (exec.op === 'ecdh') {
        const points = this.ecdhResult?.(r.id);
        if (!points) {
          if (r.createdBy !== this.me.peerId)
            throw new ApiError(
              'conflict',
              `request ${r.id}: only its requester's node holds what it decrypted`,
            );
          throw new ApiError(
            'conflict',
            `request ${r.id}: its result is no longer here (it is kept in memory only, until the node stops)`,
          );
        }
        output = { ecdh: points };
      } else return out;
      const artifact = resultOf(r.kind, r.message, output, ctx);
      if (artifact) out.artifact = artifact;
      if ('ecdh' in output) out.ecdh = output.ecdh.map((p) => bytesToHex(p));
      return out;
    } catch (e) {
      if (e instanceof RequestParamError)
        throw new ApiError('internal', `request ${r.id}: cannot build its result: ${e.message}`);
      throw e;
    }
  }
}
