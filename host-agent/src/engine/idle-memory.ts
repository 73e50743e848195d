/**
 * Gives memory back when the engine falls quiet. A burst of calls (a hundred `docker run`s at
 * once) grows V8's heap, and V8 keeps those pages while nothing allocates: an idle agent would sit
 * at its high-water mark. Once no call has arrived for a while, and the heap has grown since the
 * last time, one full collection runs and V8 releases the pages it no longer needs.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mallocTrimmer } from '../sys/libc-sys-calls.js';

export interface IdleMemoryOptions {
  /** How long without a call counts as quiet. */
  quietMs?: number;
  /** How much the heap must have grown since the last collection here to be worth one. */
  growthBytes?: number;
  /** The V8 heap's size now (tests pass their own). */
  heapBytes?: () => number;
  /** Runs a full collection (tests pass their own). */
  collect?: () => void;
  /** Told what each collection gave back. */
  log?: (message: string) => void;
}

const DEFAULT_QUIET_MS = 3_000;
const DEFAULT_GROWTH_BYTES = 8 * 2 ** 20;
const MAX_ATTEMPTS = 4;

export class IdleMemory {
  private readonly quietMs: number;
  private readonly growthBytes: number;
  private readonly heapBytes: () => number;
  private readonly collect: () => void;
  private readonly log: (message: string) => void;
  private timer: NodeJS.Timeout | undefined;
  /** The smallest heap a collection here has left: what the engine needs when idle. */
  private floor = Infinity;
  /** Collections since the last call: work a call started may still hold memory, so look again later. */
  private attempts = 0;
  private closed = false;

  constructor(options: IdleMemoryOptions = {}) {
    this.quietMs = options.quietMs ?? DEFAULT_QUIET_MS;
    this.growthBytes = options.growthBytes ?? DEFAULT_GROWTH_BYTES;
    this.heapBytes = options.heapBytes ?? (() => process.memoryUsage().heapTotal);
    this.collect = options.collect ?? fullCollection();
    this.log = options.log ?? (() => undefined);
  }

  /** A call arrived: the quiet period starts again. */
  activity(): void {
    if (this.closed) return;
    // Every API call lands here: restart the pending quiet timer rather than make a new one.
    if (this.timer && this.attempts === 0) this.timer.refresh();
    else {
      this.attempts = 0;
      this.schedule(this.quietMs);
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.quiet(), delayMs);
    // The trim never keeps the agent alive on its own.
    this.timer.unref();
  }

  private quiet(): void {
    this.timer = undefined;
    const before = this.heapBytes();
    // Nothing collected yet: the first quiet period always collects (start-up leaves garbage).
    if (this.floor !== Infinity && before < this.floor + this.growthBytes) return;
    this.collect();
    const after = this.heapBytes();
    this.floor = Math.min(this.floor, after);
    this.attempts += 1;
    this.log(`idle: heap ${mib(before)} → ${mib(after)} after a full collection`);
    // Still well above the floor: what the last calls left is not garbage yet (an exit being
    // recorded, a stream winding down). Look again, later each time, three times at most.
    if (after >= this.floor + this.growthBytes && this.attempts < MAX_ATTEMPTS) {
      this.schedule(this.quietMs * 2 ** this.attempts);
    }
  }
}

/**
 * How far V8 lets the old generation grow past what the last full collection kept: four times
 * (V8 picks 1.1 to 4 by its own measure, and picks about 1.2 for the agent, whose live heap is
 * small). V8 starts marking whenever less room is left below that limit than its young generation
 * holds (16 MiB once busy), so at 1.2 × 10 MiB it marked without a pause for as long as a pull
 * streamed its layers: about 30 full collections and a quarter of the agent's CPU per 200 MB
 * pulled. The idle collection above still gives the memory back once the engine is quiet.
 */
const HEAP_GROWING_PERCENT = 300;

/** Sets V8's heap growing factor for this process (it is read at every full collection). */
export function setHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/** V8's own full collection, reached without starting Node.js with --expose-gc. */
export function v8Collector(): (() => void) | undefined {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  return typeof gc === 'function' ? (gc as () => void) : undefined;
}

function fullCollection(): () => void {
  const gc = v8Collector();
  const trim = mallocTrimmer();
  return () => {
    gc?.();
    trim?.();
  };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
