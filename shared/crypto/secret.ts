// Containers for secret material that refuse to print or serialise their contents by accident.

const inspectSymbol = Symbol.for('nodejs.util.inspect.custom');
const REDACTED = '<redacted>';

/**
 * Base class for anything holding secret material. `toJSON`, `toString` and Node's
 * `util.inspect` all print `<redacted>`; the secret is only reachable through explicit accessors.
 */
export abstract class Redacted {
  toJSON(): string {
    return REDACTED;
  }
  toString(): string {
    return REDACTED;
  }
  [inspectSymbol](): string {
    return `${this.constructor.name} ${REDACTED}`;
  }
}

/** Overwrites a byte array with zeros (best effort: JS engines may keep copies). */
export function wipe(...arrays: (Uint8Array | undefined)[]): void {
  for (const a of arrays) a?.fill(0);
}
