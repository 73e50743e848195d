import { ChangeDetectionStrategy, Component, computed, input } from '@angular/core';

export interface ChartSeries {
  label: string;
  /** A CSS colour. */
  colour: string;
  values: readonly number[];
}

const WIDTH = 300;
const HEIGHT = 100;

/** A small line chart in plain SVG: each series scaled to the largest value shown. */
@Component({
  selector: 'skiff-line-chart',
  template: `
    <figure [attr.aria-label]="title()">
      <figcaption>
        <span class="title">{{ title() }}</span>
        @for (line of lines(); track line.label) {
          <span class="legend"
            ><span class="swatch" [style.background]="line.colour"></span>{{ line.label }}: {{ line.latest }}</span
          >
        }
      </figcaption>
      <svg
        [attr.viewBox]="'0 0 ' + width + ' ' + height"
        preserveAspectRatio="none"
        role="img"
        [attr.aria-label]="summary()"
        [attr.data-points]="pointCount()"
      >
        <line x1="0" [attr.y1]="height" [attr.x2]="width" [attr.y2]="height" class="axis" />
        <line x1="0" [attr.y1]="height / 2" [attr.x2]="width" [attr.y2]="height / 2" class="grid" />
        @for (line of lines(); track line.label) {
          <polyline
            [attr.points]="line.points"
            [attr.stroke]="line.colour"
            fill="none"
            vector-effect="non-scaling-stroke"
          />
        }
      </svg>
      <div class="scale">max {{ maxLabel() }}</div>
    </figure>
  `,
  styles: `
    :host {
      display: block;
    }
    figure {
      margin: 0;
      padding: 12px;
      border: 1px solid var(--mat-sys-outline-variant);
      border-radius: 12px;
    }
    figcaption {
      display: flex;
      flex-wrap: wrap;
      gap: 12px;
      margin-bottom: 6px;
    }
    .title {
      font: var(--mat-sys-title-small);
    }
    .legend {
      display: inline-flex;
      gap: 6px;
      align-items: center;
      color: var(--skiff-muted);
    }
    .swatch {
      width: 10px;
      height: 10px;
      border-radius: 2px;
    }
    svg {
      width: 100%;
      height: 120px;
    }
    polyline {
      stroke-width: 2;
    }
    .axis,
    .grid {
      stroke: var(--mat-sys-outline-variant);
      vector-effect: non-scaling-stroke;
    }
    .grid {
      stroke-dasharray: 4 4;
    }
    .scale {
      color: var(--skiff-muted);
      font: var(--mat-sys-label-small);
    }
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class LineChart {
  readonly title = input.required<string>();
  readonly series = input.required<readonly ChartSeries[]>();
  /** How many points fit across the chart. */
  readonly capacity = input(60);
  readonly format = input<(value: number) => string>((value) => value.toFixed(1));
  /** The scale never shrinks below this (e.g. 100 for a percentage would flatten small loads, so 1 %). */
  readonly minimumMax = input(1);

  protected readonly width = WIDTH;
  protected readonly height = HEIGHT;

  private readonly max = computed(() =>
    Math.max(this.minimumMax(), ...this.series().flatMap((series) => series.values)),
  );
  protected readonly maxLabel = computed(() => this.format()(this.max()));
  protected readonly pointCount = computed(() => Math.max(0, ...this.series().map((series) => series.values.length)));
  protected readonly lines = computed(() => {
    const max = this.max();
    const step = WIDTH / Math.max(1, this.capacity() - 1);
    return this.series().map((series) => {
      const offset = this.capacity() - series.values.length;
      const points = series.values
        .map(
          (value, index) => `${((offset + index) * step).toFixed(1)},${(HEIGHT - (value / max) * HEIGHT).toFixed(1)}`,
        )
        .join(' ');
      const last = series.values.at(-1);
      return {
        label: series.label,
        colour: series.colour,
        points,
        latest: last === undefined ? '–' : this.format()(last),
      };
    });
  });
  protected readonly summary = computed(
    () =>
      `${this.title()}: ${this.lines()
        .map((line) => `${line.label} ${line.latest}`)
        .join(', ')}`,
  );
}
