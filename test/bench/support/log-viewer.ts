import type { Readable } from 'node:stream';
import { nowMs } from './latency-sample.js';
import { StdcopyDemuxer } from './stdcopy-demuxer.js';

/** The byte every line the benchmark watches for starts with; the flood itself is only `x` and newlines. */
const TOKEN_START = 0x4d; // 'M'
const FLOOD_BYTE = 0x78; // 'x'

/**
 * One reader of a followed container log: counts the log bytes that reach it and notes when the
 * benchmark's lines arrive: `Mready` (the container is up), `MARK <n>` (a marker written into the
 * container's stdout at a known time) and `Mdone` (the flood is over).
 */
export class LogViewer {
  payloadBytes = 0;
  /** What arrived on the stream: its chunks (one per Socket.IO message on a console stream) and their bytes. */
  chunks = 0;
  wireBytes = 0;
  /** Bytes of the benchmark's own lines, newline included. */
  tokenBytes = 0;
  /** When each marker arrived, by its number. */
  readonly markerArrivals = new Map<number, number>();
  readyAt: number | undefined;
  /** The first flood byte after `expectFlood()`. */
  floodStartedAt: number | undefined;
  doneAt: number | undefined;
  /** Why the stream ended before `Mdone`, if it did, and when. */
  failure: string | undefined;
  failedAt: number | undefined;
  readonly settled: Promise<void>;

  private readonly demuxer = new StdcopyDemuxer((payload) => this.take(payload));
  private token: string | null = null;
  private floodExpected = false;
  private readonly waiters = new Set<() => void>();
  private settle!: () => void;

  constructor(readonly stream: Readable) {
    this.settled = new Promise((resolve) => (this.settle = resolve));
    stream.on('data', (chunk: Buffer) => {
      this.chunks += 1;
      this.wireBytes += chunk.length;
      this.demuxer.push(chunk);
    });
    const ended = (why: string) => {
      if (this.doneAt === undefined && this.failure === undefined) {
        this.failure = why;
        this.failedAt = nowMs();
      }
      this.settle();
      this.wake();
    };
    stream.once('end', () => ended('the log stream ended before the flood did'));
    stream.once('error', (error) => ended(error.message));
    stream.once('close', () => ended('the log stream closed before the flood ended'));
  }

  /** From now on the first `x` byte is the start of the flood. */
  expectFlood(): void {
    this.floodExpected = true;
  }

  get floodBytes(): number {
    return this.payloadBytes - this.tokenBytes;
  }

  /** Resolves once `condition` holds (or the stream ended; check `failure`). */
  async until(condition: (viewer: LogViewer) => boolean): Promise<void> {
    while (!condition(this) && this.failure === undefined) {
      await new Promise<void>((resolve) => this.waiters.add(resolve));
    }
  }

  private take(payload: Buffer): void {
    this.payloadBytes += payload.length;
    if (this.floodExpected && this.floodStartedAt === undefined && payload.includes(FLOOD_BYTE)) {
      this.floodStartedAt = nowMs();
    }
    let at = 0;
    if (this.token !== null) at = this.continueToken(payload, 0);
    for (;;) {
      const start = payload.indexOf(TOKEN_START, at);
      if (start < 0) return;
      this.token = '';
      at = this.continueToken(payload, start);
    }
  }

  /** Adds to the token being read until its newline; returns where the payload goes on after it. */
  private continueToken(payload: Buffer, from: number): number {
    const end = payload.indexOf(0x0a, from);
    const part = payload.toString('latin1', from, end < 0 ? payload.length : end);
    const token = (this.token ?? '') + part;
    this.tokenBytes += part.length;
    if (end < 0) {
      this.token = token;
      return payload.length;
    }
    this.tokenBytes += 1;
    this.token = null;
    this.onToken(token);
    return end + 1;
  }

  private onToken(token: string): void {
    const at = nowMs();
    if (token === 'Mready') this.readyAt ??= at;
    else if (token === 'Mdone') {
      this.doneAt = at;
      this.settle();
    } else if (token.startsWith('MARK ')) this.markerArrivals.set(Number(token.slice(5)), at);
    this.wake();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}
