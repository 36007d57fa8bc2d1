// "Spend" on a taproot group's page: a pasted PSBT is read as the members' nodes will read it (what
// it sends, the change, the fee), refused when it has no input of the group, sent as a 'psbt'
// request with the exact bytes, and the signed PSBT and raw transaction are offered once done.
import { bytesToHex } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { Api, GroupView, RequestResult, RequestView } from '../../shared/api/index.js';
import { psbtMessage } from '../../shared/requests/psbt.js';
import SpendBitcoin from '../../renderer/components/SpendBitcoin.svelte';
import { DEST, spend, taprootKey } from '../bitcoin/fixtures.js';

const KEY = taprootKey(7);
const GROUP: GroupView = {
  id: 'ab'.repeat(16),
  name: 'vault',
  threshold: 2,
  size: 3,
  scheme: 'taproot',
  status: 'ready',
  publicKey: bytesToHex(KEY.output),
  internalKey: bytesToHex(KEY.internal),
  epoch: 0,
  members: [],
  createdAt: '2026-03-01T12:00:00Z',
};

function fakeApi(results: RequestResult[]) {
  const created: Parameters<Api['request.create']>[0][] = [];
  const api: Pick<Api, 'request.create' | 'request.result'> = {
    'request.create': async (input) => {
      created.push(input);
      return { id: 'req-1', kind: 'psbt', status: 'pending' } as RequestView;
    },
    'request.result': async () => results.shift()!,
  };
  return { api, created };
}

async function open(api: Pick<Api, 'request.create' | 'request.result'>, save = vi.fn()) {
  render(SpendBitcoin, { props: { api, group: GROUP, save } });
  await fireEvent.click(screen.getByRole('button', { name: 'Spend from this address…' }));
  return save;
}

describe('Spend from a taproot group', () => {
  it('shows what a pasted PSBT does, sends its exact bytes, and offers the signed result', async () => {
    const psbt = spend(KEY).toPSBT();
    const { api, created } = fakeApi([
      { id: 'req-1', kind: 'psbt', status: 'pending' },
      {
        id: 'req-1',
        kind: 'psbt',
        status: 'done',
        artifact: {
          name: 'signed.psbt',
          mediaType: 'application/octet-stream',
          base64: 'c2lnbmVk',
          fields: [{ label: 'Raw transaction (hex)', value: '0200aa' }],
        },
      },
    ]);
    const save = await open(api);
    const send = screen.getByRole('button', { name: 'Ask the group to sign' });
    expect((send as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(screen.getByLabelText('PSBT (base64 or hex)'), {
      target: { value: base64.encode(psbt) },
    });
    const preview = screen.getByLabelText('What this PSBT does');
    expect(preview.textContent).toMatch(/Sends 0.00070000 BTC \(70,000 sat\) to 1 output/);
    expect(preview.textContent).toMatch(/fee 0.00005000 BTC \(5,000 sat\)/);
    expect(preview.textContent).toContain(`${DEST}: 0.00070000 BTC (70,000 sat)`);
    expect(preview.textContent).toMatch(/\(change back to this group\)/);
    await fireEvent.click(send);
    await screen.findByText(/Sent to the group as request/);
    expect(created).toEqual([
      {
        group: GROUP.id,
        kind: 'psbt',
        message: bytesToHex(psbtMessage(psbt, 'bitcoin')),
        approve: true,
      },
    ]);
    await fireEvent.click(screen.getByRole('button', { name: 'Get the signed PSBT' }));
    await screen.findByText(/not signed yet/);
    await fireEvent.click(screen.getByRole('button', { name: 'Get the signed PSBT' }));
    await screen.findByText('The group signed its inputs.');
    expect(screen.getByText('0200aa')).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Save the signed PSBT' }));
    expect(save).toHaveBeenCalledWith('signed.psbt', 'c2lnbmVk', 'text/plain');
  });

  it('says why a PSBT cannot be sent (no input of the group) and sends nothing', async () => {
    const { api, created } = fakeApi([]);
    await open(api);
    await fireEvent.input(screen.getByLabelText('PSBT (base64 or hex)'), {
      target: { value: base64.encode(spend(taprootKey(8)).toPSBT()) },
    });
    expect(screen.getByRole('alert').textContent).toMatch(/has no input of this group/);
    expect(
      (screen.getByRole('button', { name: 'Ask the group to sign' }) as HTMLButtonElement).disabled,
    ).toBe(true);
    expect(created).toEqual([]);
  });
});
