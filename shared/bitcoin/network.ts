// Bitcoin networks, addresses and amounts as a card shows them: an output script becomes the
// address a wallet would show on that network, an amount is BTC with all eight decimals and sats.
import { Address, OutScript } from '@scure/btc-signer';
import { bytesToHex } from '@noble/hashes/utils.js';

export const NETWORKS = ['bitcoin', 'testnet', 'regtest', 'signet'] as const;
export type BitcoinNetwork = (typeof NETWORKS)[number];

interface NetworkParams {
  bech32: string;
  pubKeyHash: number;
  scriptHash: number;
  wif: number;
}

// Signet shares testnet's prefixes (BIP 325); regtest has its own bech32 prefix only.
const PARAMS: Record<BitcoinNetwork, NetworkParams> = {
  bitcoin: { bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, wif: 0x80 },
  testnet: { bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef },
  regtest: { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef },
  signet: { bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef },
};

/** The network in words, for a card. */
export function networkName(n: BitcoinNetwork): string {
  return n === 'bitcoin' ? 'Bitcoin (mainnet)' : `Bitcoin ${n}`;
}

export function isNetwork(v: unknown): v is BitcoinNetwork {
  return typeof v === 'string' && (NETWORKS as readonly string[]).includes(v);
}

/** The largest amount that can exist (21 million BTC in sats, Bitcoin Core's MAX_MONEY). */
export const MAX_MONEY = 21_000_000n * 100_000_000n;

/** The key-path output script of a taproot output key: OP_1 <32-byte x-only key>. */
export function p2trScript(outputKey: Uint8Array): Uint8Array {
  if (outputKey.length !== 32)
    throw new Error(`a taproot output key is 32 bytes, got ${outputKey.length}`);
  const s = new Uint8Array(34);
  s[0] = 0x51;
  s[1] = 0x20;
  s.set(outputKey, 2);
  return s;
}

/** The address of an output script on a network, or undefined when it has none (OP_RETURN, odd scripts). */
export function addressOf(script: Uint8Array, network: BitcoinNetwork): string | undefined {
  try {
    const decoded = OutScript.decode(script);
    if (decoded.type === 'unknown' || decoded.type === 'ms' || decoded.type === 'pk')
      return undefined;
    if (decoded.type === 'tr_ns' || decoded.type === 'tr_ms') return undefined;
    return Address(PARAMS[network]).encode(decoded);
  } catch {
    return undefined;
  }
}

/** What an output without an address is, in words. */
export function describeScript(script: Uint8Array): string {
  if (script.length > 0 && script[0] === 0x6a)
    return `data only (OP_RETURN, ${script.length} bytes: ${bytesToHex(script).slice(0, 80)}${script.length > 40 ? '…' : ''})`;
  return `a script with no address (${bytesToHex(script).slice(0, 80)}${script.length > 40 ? '…' : ''})`;
}

/**
 * The output script an address pays to on a network; throws when the address is not one of that
 * network (a testnet address on mainnet is refused, not converted).
 */
export function scriptOf(address: string, network: BitcoinNetwork): Uint8Array {
  return OutScript.encode(Address(PARAMS[network]).decode(address));
}

/** The networks an address is valid on (a tb1 address is both testnet's and signet's). */
export function networksOf(address: string): BitcoinNetwork[] {
  return NETWORKS.filter((n) => {
    try {
      scriptOf(address, n);
      return true;
    } catch {
      return false;
    }
  });
}

/** An address as compared: bech32 addresses are case-insensitive, base58 ones are not. */
export function normalAddress(address: string): string {
  return /^(bc|tb|bcrt)1/i.test(address) ? address.toLowerCase() : address;
}

/** Sats as "0.00120000 BTC (120,000 sat)". */
export function formatSats(sats: bigint): string {
  const neg = sats < 0n;
  const a = neg ? -sats : sats;
  const btc = `${a / 100_000_000n}.${(a % 100_000_000n).toString().padStart(8, '0')}`;
  return `${neg ? '-' : ''}${btc} BTC (${neg ? '-' : ''}${groupDigits(a)} sat)`;
}

function groupDigits(n: bigint): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
