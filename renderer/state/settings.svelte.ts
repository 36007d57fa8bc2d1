// Settings kept in the browser: the theme (following the OS unless the user picks one).
export type Theme = 'system' | 'light' | 'dark';

const KEY = 'conclave.theme';

export class SettingsState {
  theme = $state<Theme>('system');

  constructor(
    private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | undefined,
    private readonly root: HTMLElement | undefined,
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
}
