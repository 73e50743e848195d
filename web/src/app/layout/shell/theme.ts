import { DOCUMENT } from '@angular/common';
import { Injectable, effect, inject, signal } from '@angular/core';

export type ThemeName = 'light' | 'dark';

const STORAGE_KEY = 'skiff.theme';

/**
 * Light or dark. Until the user picks one the browser's `prefers-color-scheme` decides (and keeps
 * deciding when it changes); a pick is remembered in localStorage. The choice is written to `<html>`
 * as `data-theme` and a `theme-light`/`theme-dark` class, which set `color-scheme` for Material.
 */
@Injectable({ providedIn: 'root' })
export class Theme {
  private readonly document = inject(DOCUMENT);
  private readonly media = this.document.defaultView?.matchMedia?.('(prefers-color-scheme: dark)');
  private readonly chosen = signal<ThemeName | null>(readStored());
  private readonly systemDark = signal(this.media?.matches ?? false);

  /** The theme in effect. */
  readonly current = () => this.chosen() ?? (this.systemDark() ? 'dark' : 'light');

  constructor() {
    this.media?.addEventListener('change', (event) => this.systemDark.set(event.matches));
    effect(() => {
      const theme = this.current();
      const root = this.document.documentElement;
      root.dataset['theme'] = theme;
      root.classList.toggle('theme-dark', theme === 'dark');
      root.classList.toggle('theme-light', theme === 'light');
    });
  }

  toggle(): void {
    const next: ThemeName = this.current() === 'dark' ? 'light' : 'dark';
    this.chosen.set(next);
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // Storage may be disabled (private mode): the choice then lasts for this page only.
    }
  }
}

function readStored(): ThemeName | null {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return stored === 'light' || stored === 'dark' ? stored : null;
  } catch {
    return null;
  }
}
