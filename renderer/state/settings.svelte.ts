// Settings: the theme, kept in the browser (following the OS unless the user picks one), and this
// custodian's preferences kept by the node (name for future groups, relays, notifications).
import type { Api, Settings } from '../../shared/api/index.js';
import { explain } from '../lib/errors.js';

export type Theme = 'system' | 'light' | 'dark';

const KEY = 'conclave.theme';

/** As the node accepts them: at most this many relays, each at most this long. */
export const MAX_RELAYS = 16;
const MAX_RELAY_CHARS = 512;
const MAX_NAME_CHARS = 64;

/** Why `addr` cannot be a relay address, as a sentence, or undefined when it can. */
export function relayProblem(addr: string, existing: readonly string[]): string | undefined {
  if (addr === '') return 'Enter the relay’s address first.';
  if (/\s/.test(addr)) return 'A relay address has no spaces in it.';
  if (addr.length > MAX_RELAY_CHARS)
    return `That address is too long: at most ${MAX_RELAY_CHARS} characters.`;
  if (!addr.startsWith('/'))
    return 'A relay address is a multiaddr: it starts with “/”, like /dns4/relay.example.org/tcp/4001/p2p/12D3KooW….';
  if (!/\/p2p\/[A-Za-z0-9]{10,}$/.test(addr))
    return 'A relay address must end in /p2p/ followed by the relay’s peer id, so your node knows it reached the right relay.';
  if (existing.includes(addr)) return 'That relay is already in the list.';
  if (existing.length >= MAX_RELAYS)
    return `You can keep at most ${MAX_RELAYS} relays. Remove one first.`;
  return undefined;
}

export class SettingsState {
  theme = $state<Theme>('system');
  /** The node's settings, once read. */
  node = $state<Settings | undefined>();
  loadError = $state<string | undefined>();
  nameDraft = $state('');
  nameError = $state<string | undefined>();
  nameSaved = $state<string | undefined>();
  savingName = $state(false);
  relayDraft = $state('');
  relayError = $state<string | undefined>();
  savingRelays = $state(false);
  notifyError = $state<string | undefined>();
  savingNotify = $state(false);

  constructor(
    private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | undefined,
    private readonly root: HTMLElement | undefined,
    private readonly api?: Pick<Api, 'settings.get' | 'settings.update'>,
    /** Called after the name changed, so the rest of the app shows it. */
    private readonly onRenamed?: () => void,
  ) {
    const saved = storage?.getItem(KEY);
    if (saved === 'light' || saved === 'dark' || saved === 'system') this.theme = saved;
    this.apply();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.storage?.setItem(KEY, theme);
    this.apply();
  }

  private apply(): void {
    if (!this.root) return;
    if (this.theme === 'system') delete this.root.dataset.theme;
    else this.root.dataset.theme = this.theme;
  }

  async load(): Promise<void> {
    if (!this.api) return;
    try {
      this.node = await this.api['settings.get']({});
      this.nameDraft = this.node.name;
      this.loadError = undefined;
    } catch (err) {
      this.loadError = explain(err, 'read your settings from your node');
    }
  }

  /** True when the name field differs from the saved name. */
  get nameChanged(): boolean {
    return this.node !== undefined && this.nameDraft.trim() !== this.node.name;
  }

  async saveName(): Promise<boolean> {
    if (!this.api) return false;
    this.nameSaved = undefined;
    const name = this.nameDraft.trim();
    if (name === '') {
      this.nameError = 'Enter a name: the other members see it next to your fingerprint.';
      return false;
    }
    if (name.length > MAX_NAME_CHARS) {
      this.nameError = `That name is too long: at most ${MAX_NAME_CHARS} characters.`;
      return false;
    }
    this.savingName = true;
    try {
      this.node = await this.api['settings.update']({ name });
      this.nameDraft = this.node.name;
      this.nameError = undefined;
      this.nameSaved = `Saved. Groups you form or join from now on show you as ${this.node.name}.`;
      this.onRenamed?.();
      return true;
    } catch (err) {
      this.nameError = explain(err, 'change your name');
      return false;
    } finally {
      this.savingName = false;
    }
  }

  async addRelay(): Promise<boolean> {
    if (!this.api || !this.node) return false;
    const addr = this.relayDraft.trim();
    const problem = relayProblem(addr, this.node.relays);
    if (problem) {
      this.relayError = problem;
      return false;
    }
    if (await this.saveRelays([...this.node.relays, addr], 'add the relay')) {
      this.relayDraft = '';
      return true;
    }
    return false;
  }

  async removeRelay(addr: string): Promise<boolean> {
    if (!this.api || !this.node) return false;
    return this.saveRelays(
      this.node.relays.filter((r) => r !== addr),
      'remove the relay',
    );
  }

  private async saveRelays(relays: string[], doing: string): Promise<boolean> {
    this.savingRelays = true;
    try {
      this.node = await this.api!['settings.update']({ relays });
      this.relayError = undefined;
      return true;
    } catch (err) {
      this.relayError = explain(err, doing);
      return false;
    } finally {
      this.savingRelays = false;
    }
  }

  async setNotifications(on: boolean): Promise<boolean> {
    if (!this.api || !this.node) return false;
    this.savingNotify = true;
    try {
      this.node = await this.api['settings.update']({ notifications: on });
      this.notifyError = undefined;
      return true;
    } catch (err) {
      this.notifyError = explain(err, on ? 'turn notifications on' : 'turn notifications off');
      return false;
    } finally {
      this.savingNotify = false;
    }
  }
}
