import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname } from 'node:path';

export interface ReportSection {
  title: string;
  /** What was measured and how, in a sentence or two. */
  method: string;
  headers: string[];
  rows: string[][];
  notes: string[];
}

export interface Goal {
  goal: string;
  measured: string;
  met: boolean;
}

/**
 * A benchmark's results as markdown: when and where it ran, whether each goal was met, and one
 * table per measure. Sections that failed say why instead of showing numbers.
 */
export class BenchReport {
  private readonly sections: Array<ReportSection | { title: string; failure: string }> = [];
  private readonly goals: Goal[] = [];
  private readonly facts: Array<[string, string]> = [];

  /** The machine's load when the benchmark began: others' work skews what it measures. */
  private readonly loadAtStart = loadavg();

  constructor(
    private readonly title: string,
    private readonly source: string,
    private readonly setting: string,
  ) {}

  /** True when every one of `titles` has a section (with numbers or with the reason it has none). */
  covers(titles: string[]): boolean {
    return titles.every((title) => this.sections.some((section) => section.title === title));
  }

  addSection(section: ReportSection): void {
    this.sections.push(section);
  }

  addFailure(title: string, error: unknown): void {
    this.sections.push({ title, failure: error instanceof Error ? error.message : String(error) });
  }

  addGoal(goal: Goal): void {
    this.goals.push(goal);
  }

  /** A line in the report's header, after the machine and the setting (a version, a host setting). */
  addFact(label: string, value: string): void {
    this.facts.push([label, value]);
  }

  render(date = new Date()): string {
    const processors = cpus();
    const lines = [
      `# ${this.title}`,
      '',
      `Measured ${date.toISOString()} by \`npm run bench\` (${this.source}). Speed is measured here, not asserted.`,
      '',
      `- Machine: ${processors.length} × ${processors[0]?.model.trim() ?? 'unknown CPU'}, ` +
        `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
      `- Kernel: Linux ${release()}`,
      `- Node.js: ${process.version}`,
      `- Load average (1, 5, 15 min) at the start: ${this.loadAtStart.map((load) => load.toFixed(2)).join(', ')}; ` +
        `at the end: ${loadavg()
          .map((load) => load.toFixed(2))
          .join(', ')}`,
      `- Setting: ${this.setting}`,
      ...this.facts.map(([label, value]) => `- ${label}: ${value}`),
      '',
      '## Goals',
      '',
      table(
        ['goal', 'measured', 'met'],
        this.goals.map((goal) => [goal.goal, goal.measured, goal.met ? 'yes' : '**no**']),
      ),
    ];
    // Sections in the order of their titles (1., 2., …), whatever order they ran in.
    const sections = [...this.sections].sort((a, b) => a.title.localeCompare(b.title));
    for (const section of sections) {
      lines.push('', `## ${section.title}`, '');
      if ('failure' in section) {
        lines.push(`Not measured: ${section.failure}`);
        continue;
      }
      lines.push(section.method, '', table(section.headers, section.rows));
      if (section.notes.length > 0) lines.push('', ...section.notes.map((note) => `- ${note}`));
    }
    return `${lines.join('\n')}\n`;
  }

  async write(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, this.render());
  }
}

function table(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Milliseconds for a table cell: two decimals below 10 ms, one above. */
export function ms(value: number): string {
  if (Number.isNaN(value)) return 'n/a';
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

/** Megabytes (10⁶ bytes) per second for a table cell. */
export function mbPerSecond(bytes: number, milliseconds: number): string {
  if (!(milliseconds > 0)) return 'n/a';
  return `${(bytes / 1e6 / (milliseconds / 1000)).toFixed(1)} MB/s`;
}
