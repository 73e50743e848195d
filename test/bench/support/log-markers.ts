import { Worker } from 'node:worker_threads';

/*
 * The writes happen on a worker thread because they may block: while the container floods its
 * stdout, the pipe is often full, and a blocking write on the benchmark's own thread would stall
 * every reader it measures.
 */
const WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const { closeSync, openSync, writeSync } = require('node:fs');
const fd = openSync(workerData.path, 'a');
parentPort.on('message', (seq) => {
  if (seq === null) {
    closeSync(fd);
    parentPort.close();
    return;
  }
  writeSync(fd, 'MARK ' + seq + '\\n');
  parentPort.postMessage({ seq, at: Number(process.hrtime.bigint()) / 1e6 });
});
`;

/**
 * Marker lines written straight into a running container's stdout (the pipe its process 1
 * writes to, opened from the host through /proc), each timestamped when it entered the pipe,
 * so the time it takes to reach every log reader can be measured.
 */
export class LogMarkers {
  /** When each marker entered the pipe, on the clock of `nowMs()`. */
  readonly writtenAt = new Map<number, number>();
  /** Why the writer stopped (the container's stdout could not be opened, or it closed). */
  failure: Error | undefined;
  private readonly worker: Worker;
  private next = 0;

  constructor(containerPid: number) {
    this.worker = new Worker(WRITER, { eval: true, workerData: { path: `/proc/${containerPid}/fd/1` } });
    this.worker.on('message', ({ seq, at }: { seq: number; at: number }) => this.writtenAt.set(seq, at));
    this.worker.on('error', (error) => (this.failure = error));
  }

  /** Writes the next marker; returns its number. */
  write(): number {
    const seq = this.next++;
    this.worker.postMessage(seq);
    return seq;
  }

  /**
   * Writes a marker every 50-150 ms (100 on average) until the returned function is called. The
   * jitter keeps the markers from locking in step with a reader that polls at a fixed interval.
   */
  keepWriting(): () => void {
    let timer: NodeJS.Timeout;
    const next = () => {
      timer = setTimeout(
        () => {
          this.write();
          next();
        },
        50 + Math.random() * 100,
      );
    };
    next();
    return () => clearTimeout(timer);
  }

  async close(): Promise<void> {
    if (this.worker.threadId === -1) return; // already gone
    this.worker.postMessage(null);
    await new Promise((resolve) => this.worker.once('exit', resolve));
  }
}
