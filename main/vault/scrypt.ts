// node:crypto's scrypt for main/: the same function as noble's (same bytes for the same inputs), run
// by OpenSSL off the event loop, somewhat faster, and without keeping noble's 128 MiB buffer after.
import { scrypt as scryptCb, scryptSync, timingSafeEqual } from 'node:crypto';
import type { ScryptKdf, ScryptParams } from '../../shared/crypto/backup.js';

/**
 * The memory OpenSSL needs for these parameters, passed as maxmem (node's default of 32 MiB is below
 * the 128 MiB the default cost needs): the work array V of 128·r·(N+2) bytes plus the p blocks B of
 * 128·r bytes each (EVP_PBE_scrypt's Blen + Vlen). kdfProblem caps 128·N·r at 512 MiB beforehand.
 */
export function scryptMaxmem({ N, r, p }: ScryptParams): number {
  return 128 * r * (N + 2) + 128 * r * p;
}

const options = (k: ScryptParams) => ({ N: k.N, r: k.r, p: k.p, maxmem: scryptMaxmem(k) });
const bytes = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.length);

/** Synchronous, for shared/ code that takes a ScryptKdf (share backups). */
export const nodeScryptSync: ScryptKdf = (password, salt, k) =>
  bytes(scryptSync(password, salt, k.dkLen, options(k)));

function derive(
  password: Uint8Array,
  salt: Uint8Array,
  k: ScryptParams & { dkLen: number },
): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, k.dkLen, options(k), (err, key) =>
      err ? reject(err) : resolve(bytes(key)),
    ),
  );
}

/** One derivation started before it was asked for (startEarlyScrypt), until nodeScrypt takes it. */
let early:
  | { password: Uint8Array; salt: Uint8Array; params: string; result: Promise<Uint8Array> }
  | undefined;
const paramsOf = (k: ScryptParams & { dkLen: number }) => `${k.N}/${k.r}/${k.p}/${k.dkLen}`;
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && timingSafeEqual(a, b);

/**
 * Starts a derivation now, in the thread pool, for the nodeScrypt call with exactly these inputs
 * that is expected soon (`conclave start` opening its file vault while it loads the node): that
 * call then takes this result instead of deriving again. Not taken within a minute, it is dropped.
 */
export function startEarlyScrypt(
  password: Uint8Array,
  salt: Uint8Array,
  k: ScryptParams & { dkLen: number },
): void {
  // The same derivation already under way (the bundle's entry began it before the command's
  // modules loaded, and `start` asks again): one scrypt, not two at once.
  if (
    early &&
    early.params === paramsOf(k) &&
    same(early.salt, salt) &&
    same(early.password, password)
  )
    return;
  early?.password.fill(0); // one at a time: a newer start replaces it
  const mine = Uint8Array.from(password);
  const result = derive(mine, salt, k);
  result.catch(() => undefined); // whoever takes it sees the error
  early = { password: mine, salt: Uint8Array.from(salt), params: paramsOf(k), result };
  setTimeout(() => {
    if (early?.result !== result) return;
    early.password.fill(0);
    early = undefined;
  }, 60_000).unref();
}

/** In libuv's thread pool: the event loop goes on while it runs (opening the vault). */
export function nodeScrypt(
  password: Uint8Array,
  salt: Uint8Array,
  k: ScryptParams & { dkLen: number },
): Promise<Uint8Array> {
  const e = early;
  if (e && e.params === paramsOf(k) && same(e.salt, salt) && same(e.password, password)) {
    early = undefined;
    e.password.fill(0);
    return e.result;
  }
  return derive(password, salt, k);
}
