import type { Duplex } from 'node:stream';
import { nowMs } from './latency-sample.js';

/**
 * Types into an interactive session one key at a time and times each key's echo: the session
 * runs `cat` on a raw-mode TTY, so every byte sent comes straight back. Keys cycle through the
 * letters, and what arrived before a key was sent is dropped, so an echo is never mistaken for
 * an earlier one.
 */
export class EchoProbe {
  private received = '';
  private waiting: { text: string; resolve: () => void; reject: (error: Error) => void } | undefined;
  private ended: Error | undefined;
  private key = 0;

  constructor(private readonly stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
      this.check();
    });
    const end = (why: string) => {
      this.ended ??= new Error(why);
      this.waiting?.reject(this.ended);
      this.waiting = undefined;
    };
    stream.once('error', (error) => end(`the session failed: ${error.message}`));
    stream.once('close', () => end('the session closed'));
    stream.once('end', () => end('the session ended'));
    stream.resume(); // An upgraded connection is handed over paused.
  }

  /** Resolves once `text` has arrived; drops everything up to its end. */
  waitFor(text: string): Promise<void> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.waiting = { text, resolve, reject };
      this.check();
    });
  }

  /** Sends one key and resolves with the milliseconds until its echo arrived. */
  async stroke(): Promise<number> {
    const key = String.fromCharCode(0x61 + (this.key++ % 26));
    this.received = '';
    const started = nowMs();
    const echoed = this.waitFor(key);
    this.stream.write(key);
    await echoed;
    return nowMs() - started;
  }

  private check(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    const at = this.received.indexOf(waiting.text);
    if (at < 0) return;
    this.received = this.received.slice(at + waiting.text.length);
    this.waiting = undefined;
    waiting.resolve();
  }
}
