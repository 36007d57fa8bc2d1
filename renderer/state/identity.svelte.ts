// First run: the custodian's name and where their key shares are kept (the OS keychain unless they
// explicitly choose a passphrase-protected file); and the passphrase that unlocks a file vault.
import { LIMITS } from '../../shared/api/schema.js';

export class IdentityForm {
  name = $state('');
  vault = $state<'keychain' | 'file'>('keychain');
  passphrase = $state('');
  confirm = $state('');
  busy = $state(false);
  error = $state<string | undefined>();
  /** Set when the node found no keychain service: the screen says so and offers only the file. */
  keychainMissing = $state<string | undefined>();

  readonly problem = $derived.by(() => {
    if (this.name.trim() === '') return 'Enter your name as the other members know you.';
    if (this.vault === 'file') {
      if ([...this.passphrase].length < LIMITS.minPassphraseChars) {
        return `The passphrase needs at least ${LIMITS.minPassphraseChars} characters.`;
      }
      if (this.passphrase !== this.confirm) return 'The two passphrases differ.';
    }
    return undefined;
  });
}

/** The unlock screen: a file vault's passphrase, typed once (it already exists). */
export class UnlockForm {
  passphrase = $state('');
  busy = $state(false);
  error = $state<string | undefined>();
}
