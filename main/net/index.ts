// The network layer of a custodian node: libp2p host, relay server, identity helpers.
export {
  createHost,
  type DropReason,
  type Handler,
  type HandleOptions,
  type HandlerContext,
  type Host,
  type HostOptions,
  type HostStats,
  type RequestOptions,
} from './host.js';
export {
  advertisedAddrsFor,
  MAX_ADVERTISED_ADDR_LENGTH,
  MAX_ADVERTISED_ADDRS,
  type AdvertisedAddrOptions,
} from './addrs.js';
export {
  ConnectionGate,
  DEFAULT_CONNECTION_LIMITS,
  MEMBER_TAG,
  NOBODY,
  type ConnectionLimits,
  type GateStats,
  type PeerPolicy,
} from './gate.js';
export { createDropLog, DROP_LOG_INTERVAL_MS, type DropLog, type DropLogOptions } from './drops.js';
export {
  createRelay,
  RELAY_DATA_LIMIT_BYTES,
  RELAY_DURATION_LIMIT_MS,
  type Relay,
  type RelayOptions,
} from './relay.js';
export {
  generateIdentity,
  identityFromPrivateKey,
  peerIdFromPrivateKey,
  privateKeyFromBytes,
  privateKeyToBytes,
  publicKeyFromPeerId,
  type Identity,
} from './identity.js';
export { IdentityError, NetError, type IdentityErrorCode, type NetErrorCode } from './errors.js';
export { DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_MS, type RefusalCode } from './wire.js';
