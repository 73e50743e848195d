/**
 * The JSON progress messages of pull and push, as dockerd writes them and the docker CLI draws
 * them: one line per event, `id` the layer's short digest, `progressDetail` with current and
 * total for a bar (the CLI draws it on a terminal and skips it otherwise), and `progress`, the
 * same bar as text for older clients.
 *
 *   {"status":"Pulling fs layer","progressDetail":{},"id":"8a3c2e1d5b4f"}
 *   {"status":"Downloading","progressDetail":{"current":524288,"total":2097152},"progress":"[===…>   ]  524.3kB/2.097MB","id":"8a3c2e1d5b4f"}
 */

export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  aux?: unknown;
}

/** A line without a bar or an id: `Digest: sha256:…`, `Status: Downloaded newer image for …`. */
export function statusMessage(status: string, id?: string): ProgressMessage {
  return id === undefined ? { status } : { status, id };
}

/** A layer's state change: `Pulling fs layer`, `Waiting`, `Pull complete`, `Layer already exists`. */
export function layerMessage(id: string, status: string): ProgressMessage {
  return { status, progressDetail: {}, id };
}

/** A layer's bar: `Downloading`, `Extracting`, `Pushing`. */
export function layerProgress(id: string, status: string, current: number, total: number): ProgressMessage {
  return { status, progressDetail: { current, total }, progress: progressBar(current, total), id };
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** Docker's `units.HumanSize`: decimal units, four significant digits: `1.235MB`, `512B`. */
export function humanSize(bytes: number): string {
  let size = Math.max(0, bytes);
  let unit = 0;
  while (size >= 1000 && unit < UNITS.length - 1) {
    size /= 1000;
    unit += 1;
  }
  return `${Number(size.toPrecision(4))}${UNITS[unit]}`;
}

const BAR_WIDTH = 50;

/** `[=========================>                         ]  10.49MB/20.97MB`, as dockerd's JSONProgress renders. */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return current > 0 ? humanSize(current) : '';
  const filled = Math.min(BAR_WIDTH, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = `[${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled)}] `;
  const numbers =
    current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return `${bar}${numbers}`;
}

/**
 * Decides when a bar is worth another line: at most every `intervalMs` per layer, and always at
 * the start and the end, so a fast local pull does not send thousands of lines.
 */
export class ProgressThrottle {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs = 100,
    private readonly now: () => number = () => Date.now(),
  ) {}

  due(id: string, current: number, total: number): boolean {
    const now = this.now();
    const last = this.last.get(id);
    if (last !== undefined && current < total && now - last < this.intervalMs) return false;
    this.last.set(id, now);
    return true;
  }
}
