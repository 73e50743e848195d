import { ChangeDetectionStrategy, Component, computed, input } from '@angular/core';

/** Facts of an object as a definition list, and its raw JSON folded away. */
@Component({
  selector: 'skiff-json-view',
  template: `
    <dl class="facts">
      @for (fact of facts(); track fact.label) {
        <dt>{{ fact.label }}</dt>
        <dd>{{ fact.value }}</dd>
      }
    </dl>
    <details>
      <summary>Raw JSON</summary>
      <pre data-testid="raw-json">{{ raw() }}</pre>
    </details>
  `,
  styles: `
    .facts {
      display: grid;
      grid-template-columns: max-content 1fr;
      gap: 4px 16px;
      margin: 0 0 8px;
    }
    dt {
      color: var(--skiff-muted);
    }
    dd {
      margin: 0;
      word-break: break-all;
      white-space: pre-wrap;
    }
    pre {
      max-height: 400px;
      padding: 8px;
      overflow: auto;
      background: var(--mat-sys-surface-container);
    }
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class JsonView {
  readonly value = input.required<unknown>();
  readonly facts = input<readonly { label: string; value: string }[]>([]);
  protected readonly raw = computed(() => JSON.stringify(this.value(), null, 2));
}

/** A value of an inspect answer as one readable line (lists and maps joined). */
export function readable(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  if (Array.isArray(value)) return value.length ? value.map((item) => readable(item)).join('\n') : '—';
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return entries.length
      ? entries
          .map(([key, item]) =>
            item && typeof item === 'object' && !Object.keys(item).length ? key : `${key}=${readable(item)}`,
          )
          .join('\n')
      : '—';
  }
  return String(value);
}
