// groups.get keeps the rows it read (every message's handler reads its group; issue 12): what it
// answers must still be what the table holds after every kind of write the store makes, a rolled
// back one included, and a caller changing the row it got must not change the next answer.
import Database from 'libsql';
import { beforeEach, describe, expect, it } from 'vitest';
import type { GroupRow, Store } from '../../main/store/index.js';
import { tempFileStore } from '../node/fixtures.js';
import { groupRow } from './rows.js';

let store: Store;

beforeEach(() => {
  store = tempFileStore();
});

const group = (id: string, over: Partial<GroupRow> = {}): GroupRow => groupRow({ id, ...over });

describe('groups.get', () => {
  it('answers what the table holds after an insert, an update and a delete', () => {
    expect(store.groups.get('g1')).toBeUndefined();
    store.groups.insert(group('g1'));
    expect(store.groups.get('g1')!.status).toBe('forming');
    store.groups.update('g1', { status: 'ready', name: 'Vault' });
    expect(store.groups.get('g1')).toMatchObject({ status: 'ready', name: 'Vault' });
    store.groups.delete('g1');
    expect(store.groups.get('g1')).toBeUndefined();
  });

  it('does not keep what a rolled-back transaction wrote, nor what it read inside', () => {
    store.groups.insert(group('g1'));
    expect(() =>
      store.tx(() => {
        store.groups.update('g1', { status: 'dkg' });
        expect(store.groups.get('g1')!.status).toBe('dkg');
        store.groups.insert(group('g2'));
        expect(store.groups.get('g2')).toBeDefined();
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.groups.get('g1')!.status).toBe('forming');
    expect(store.groups.get('g2')).toBeUndefined();
  });

  it('a caller changing the row it got does not change what the next caller gets', () => {
    store.groups.insert(group('g1'));
    const first = store.groups.get('g1')!;
    first.status = 'failed';
    first.name = 'changed';
    expect(store.groups.get('g1')).toMatchObject({ status: 'forming', name: 'Treasury' });
  });

  it("a write by another connection shows once the store's own groups version moves", () => {
    store.groups.insert(group('g1'));
    expect(store.groups.get('g1')!.name).toBe('Treasury');
    const db = new Database(store.path);
    db.prepare('UPDATE groups SET name = ? WHERE id = ?').run('Renamed', 'g1');
    db.close();
    // Documented in Store.version: another connection's writes do not move it (the node is the
    // only writer of a running home; the test fixtures' plantGroupColumns moves it by hand).
    expect(store.groups.get('g1')!.name).toBe('Treasury');
    store.groups.update('g1', {});
    expect(store.groups.get('g1')!.name).toBe('Renamed');
  });

  it('keeps a bounded number of answers: many unknown ids still answer right', () => {
    store.groups.insert(group('g1'));
    for (let i = 0; i < 1000; i++) expect(store.groups.get(`nope-${i}`)).toBeUndefined();
    expect(store.groups.get('g1')!.id).toBe('g1');
  });
});
