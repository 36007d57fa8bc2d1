// The store's check of a group's public key package: every text is decoded before it is taken,
// except the exact text this process vouched for (a key generation's own result), which is taken
// without decoding it again (vouchForPackage; issue 12: every member wrote its package at once,
// the last step before 'ready', and decoding a 14-of-20 package checks 21 points).
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as keys from '../../shared/crypto/keys.js';
import { vouchForPackage, type GroupRow, type Store } from '../../main/store/index.js';
import { tempFileStore } from '../node/fixtures.js';
import { groupRow } from './rows.js';
import { dealerKeys } from '../crypto/helpers.js';

// The store's decoder, counted: the same function, called through a spy.
vi.mock('../../shared/crypto/keys.js', async (importOriginal) => {
  const real = await importOriginal<typeof keys>();
  return { ...real, publicPackageFromJSON: vi.fn(real.publicPackageFromJSON) };
});
const decode = vi.mocked(keys.publicPackageFromJSON);

let store: Store;

beforeEach(() => {
  store = tempFileStore();
  decode.mockClear();
});

const group = (id: string, publicPackage?: string): GroupRow =>
  groupRow({ id, status: 'ready', ...(publicPackage === undefined ? {} : { publicPackage }) });

const packageText = () =>
  JSON.stringify(keys.publicPackageToJSON(dealerKeys('ed25519', 2, 3)[0]!.public));

describe('vouchForPackage', () => {
  it('a package text nobody vouched for is decoded at every write', () => {
    const text = packageText();
    store.groups.insert(group('g1', text));
    store.groups.update('g1', { publicPackage: text });
    expect(decode).toHaveBeenCalledTimes(2);
    expect(store.groups.get('g1')!.publicPackage).toBe(text);
  });

  it('the vouched text is taken without decoding; any other text still is decoded', () => {
    const mine = packageText();
    vouchForPackage(mine);
    store.groups.insert(group('g1', mine));
    store.groups.update('g1', { publicPackage: mine });
    expect(decode).not.toHaveBeenCalled();
    expect(store.groups.get('g1')!.publicPackage).toBe(mine);

    // One character more (same meaning to JSON) is another text: decoded.
    store.groups.update('g1', { publicPackage: `${mine} ` });
    expect(decode).toHaveBeenCalledTimes(1);
    // A damaged text is refused as before, vouched packages or not.
    const damaged = mine.replace(/"groupKey":"[0-9a-f]{2}/, '"groupKey":"');
    expect(() => store.groups.update('g1', { publicPackage: damaged })).toThrow(
      /groups\.publicPackage is not a public key package/,
    );
  });

  it('remembers a few texts only: the oldest is decoded again once eight newer were vouched', () => {
    const texts = Array.from({ length: 9 }, packageText);
    for (const t of texts) vouchForPackage(t);
    store.groups.insert(group('g1', texts[8]));
    expect(decode).not.toHaveBeenCalled();
    store.groups.update('g1', { publicPackage: texts[0] });
    expect(decode).toHaveBeenCalledTimes(1);
  });
});
