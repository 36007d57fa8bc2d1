// "Use this key" on a ready group's page: exactly the uses its scheme supports, each with the key in
// its tool's form (computed as the node computes it) and commands that quote the group's name.
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { render, screen } from '@testing-library/svelte';
import { nip19 } from 'nostr-tools';
import { describe, expect, it } from 'vitest';
import type { GroupView } from '../../shared/api/index.js';
import UseKey from '../../renderer/components/UseKey.svelte';
import { shellQuote } from '../../renderer/lib/format.js';

function group(over: Partial<GroupView>): GroupView {
  return {
    id: 'ab'.repeat(16),
    name: 'ops',
    threshold: 2,
    size: 3,
    scheme: 'ed25519',
    status: 'ready',
    epoch: 0,
    members: [],
    createdAt: '2026-03-01T12:00:00Z',
    ...over,
  };
}

const titles = () =>
  screen.queryAllByRole('group').map((d) => d.querySelector('summary')?.textContent);

describe('Use this key', () => {
  it('an ed25519 group: SSH, age and X.509, with its age recipient', () => {
    const pub = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    render(UseKey, { group: group({ publicKey: bytesToHex(pub) }) });
    expect(titles()).toEqual([
      'SSH logins, certificates and signatures',
      'Decrypt age files',
      'X.509 certificate authority',
    ]);
    const recipient = screen.getByLabelText('age recipient').textContent!;
    expect(recipient).toMatch(/^age1[02-9ac-hj-np-z]{58}$/);
    expect(screen.getByLabelText('Commands for Decrypt age files').textContent).toContain(
      `age -r ${recipient} -o notes.txt.age notes.txt`,
    );
    // Its OpenSSH line is under "Group public key" on the same page, not shown twice.
    expect(screen.queryByText(/^ssh-ed25519 AAAA/)).toBeNull();
    expect(
      screen.getByText(/OpenSSH public key .* is under “Group public key” above/),
    ).toBeTruthy();
    expect(screen.queryByText('Nostr events')).toBeNull();
  });

  it('a taproot group: Nostr under the untweaked internal key', () => {
    const internal = schnorr.getPublicKey(schnorr.utils.randomSecretKey());
    render(UseKey, {
      group: group({
        scheme: 'taproot',
        publicKey: 'ee'.repeat(32),
        internalKey: bytesToHex(internal),
      }),
    });
    expect(titles()).toEqual(['Nostr events']);
    const npub = screen.getByLabelText('Nostr public key').textContent!;
    expect(nip19.decode(npub)).toEqual({ type: 'npub', data: bytesToHex(internal) });
  });

  it('a secp256k1 group: Nostr under its x-only key', () => {
    const pub = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true);
    render(UseKey, { group: group({ scheme: 'secp256k1', publicKey: bytesToHex(pub) }) });
    expect(titles()).toEqual(['Nostr events']);
    const npub = screen.getByLabelText('Nostr public key').textContent!;
    expect(nip19.decode(npub).data).toBe(bytesToHex(pub.slice(1)));
  });

  it('quotes a group name that a shell would read as code', () => {
    const name = "it's $(rm -rf ~)";
    const pub = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    render(UseKey, { group: group({ name, publicKey: bytesToHex(pub) }) });
    const cmds = screen.getByLabelText('Commands for X.509 certificate authority').textContent!;
    expect(cmds).toContain(`--group 'it'\\''s $(rm -rf ~)'`);
    expect(cmds).toContain(`--subject 'CN=it'\\''s $(rm -rf ~) CA'`);
    expect(shellQuote('treasury-2')).toBe('treasury-2');
    expect(shellQuote('')).toBe(`''`);
  });

  it('shows nothing before the key exists', () => {
    const { container } = render(UseKey, { group: group({ publicKey: undefined }) });
    expect(container.textContent?.trim()).toBe('');
  });
});
