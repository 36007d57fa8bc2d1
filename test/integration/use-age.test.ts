// age end to end on a 2-of-3 ed25519 group over real node processes: Debian's age encrypts to the
// group's recipient (alone, and with a second recipient age-keygen made), `conclave request
// decrypt` sends only the header, one other member approves from the card, and the file comes out
// byte for byte; age itself still opens the second file with the other key; the group's OpenSSH
// key (age -R) works too.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { formGroup, requestStatus, tempRoot, TestNode, waitFor } from './harness.js';

describe('age: decrypting a file encrypted to the group', () => {
  const tmp = tempRoot('conclave-age-');
  const [a, b, c] = ['alice', 'bob', 'carol'].map((n) => new TestNode(n, tmp.root));
  let recipient = '';

  afterAll(async () => {
    await Promise.all([a, b, c].map((n) => n.kill()));
    tmp.cleanup();
  });

  /** Alice decrypts `file` with `--approve`; bob approves once he sees the card. */
  async function decrypt(file: string, out: string): Promise<{ card: string; view: RequestView }> {
    const running = a.cli([
      'request',
      'decrypt',
      '--group',
      'vault',
      '--file',
      file,
      '--out',
      out,
      '--approve',
      '--wait',
      '120',
    ]);
    const pending = await waitFor('bob to see the age request', async () =>
      (await b.api('request.list', { pending: true })).find(
        (r) => r.kind === 'age' && r.status === 'pending',
      ),
    );
    const card = await b.cli(['request', 'show', pending.id]);
    expect(card.code, card.stderr).toBe(0);
    const approved = await b.cli(['approve', pending.id]);
    expect(approved.code, approved.stderr).toBe(0);
    const done = await running;
    expect(done.code, `${done.stdout}\n${done.stderr}\n${a.logs.slice(-3000)}`).toBe(0);
    expect(done.stdout).toMatch(/decrypted .* \(\d+ bytes\)/);
    return { card: card.stdout, view: pending };
  }

  it('prints the recipient, and decrypts what Debian age encrypted to it', async () => {
    await Promise.all([a, b, c].map((n) => n.init()));
    await Promise.all([a, b, c].map((n) => n.start()));
    await formGroup(a, [b, c], { name: 'vault', threshold: 2, scheme: 'ed25519' });

    const shown = await a.cli(['age', 'recipient', '--group', 'vault']);
    expect(shown.code, shown.stderr).toBe(0);
    recipient = shown.stdout.trim();
    expect(recipient).toMatch(/^age1[02-9ac-hj-np-z]{58}$/);
    // Every member derives the same recipient from the group key.
    expect((await b.cli(['age', 'recipient', '--group', 'vault'])).stdout.trim()).toBe(recipient);

    const plain = join(tmp.root, 'report.pdf');
    const bytes = new Uint8Array(150_000).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
    writeFileSync(plain, bytes);
    const enc = join(tmp.root, 'report.pdf.age');
    execFileSync('/usr/bin/age', ['-r', recipient, '-o', enc, plain]);

    const out = join(tmp.root, 'report-out.pdf');
    const { card } = await decrypt(enc, out);
    expect(card).toMatch(/alice asks to decrypt “report\.pdf\.age” \(150,000 bytes\)/);
    expect(card).toMatch(/file: +report\.pdf\.age\n/);
    expect(card).toContain(
      `${statSync(enc).size.toLocaleString('en-US')} bytes encrypted, 150,000 bytes once decrypted`,
    );
    expect(card).toMatch(/requested by: *alice \(/);
    expect(card).toMatch(/recipients in the header: *1, X25519/);
    expect(card).toMatch(/The one X25519 recipient must be this group/);
    expect(Buffer.compare(readFileSync(out), Buffer.from(bytes))).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  }, 240_000);

  it('decrypts a file with a second, non-group recipient (age still opens it with that key), and one to the group’s OpenSSH key', async () => {
    const key = join(tmp.root, 'other.key');
    execFileSync('/usr/bin/age-keygen', ['-o', key], { stdio: 'ignore' });
    const other = execFileSync('/usr/bin/age-keygen', ['-y', key]).toString().trim();
    const plain = join(tmp.root, 'minutes.txt');
    writeFileSync(plain, 'Board minutes: approve the budget.\n');
    const enc = join(tmp.root, 'minutes.txt.age');
    execFileSync('/usr/bin/age', ['-a', '-r', other, '-r', recipient, '-o', enc, plain]);

    const out = join(tmp.root, 'minutes-out.txt');
    const { card } = await decrypt(enc, out);
    expect(card).toMatch(/recipients in the header: *2, both X25519/);
    expect(card).toMatch(/One of the 2 X25519 recipients must be this group/);
    expect(readFileSync(out, 'utf8')).toBe('Board minutes: approve the budget.\n');
    expect(execFileSync('/usr/bin/age', ['-d', '-i', key, enc]).toString()).toBe(
      'Board minutes: approve the budget.\n',
    );
    // The group's OpenSSH key is a recipient too (age -R): the card says which stanza is the group's.
    const pub = await a.cli(['ssh', 'pubkey', '--group', 'vault']);
    expect(pub.code, pub.stderr).toBe(0);
    writeFileSync(join(tmp.root, 'vault.pub'), pub.stdout);
    const sshEnc = join(tmp.root, 'ssh.txt.age');
    execFileSync('/usr/bin/age', ['-R', join(tmp.root, 'vault.pub'), '-o', sshEnc, plain]);
    const sshOut = join(tmp.root, 'ssh-out.txt');
    const viaSsh = await decrypt(sshEnc, sshOut);
    expect(viaSsh.card).toMatch(/Yes: recipient 1 is this group’s SSH key/);
    expect(readFileSync(sshOut, 'utf8')).toBe('Board minutes: approve the budget.\n');

    // Every member sees it done; the result is the requester's alone.
    const ages = (await a.api('request.list', {})).filter((r) => r.kind === 'age');
    expect(ages.map((r) => r.status)).toEqual(['done', 'done', 'done']);
    for (const n of [b, c])
      for (const r of ages) {
        await requestStatus(n, r.id, 'done', 30_000);
        await expect(n.api('request.result', { id: r.id })).rejects.toThrow(/only its requester/);
      }
  }, 120_000);
});
