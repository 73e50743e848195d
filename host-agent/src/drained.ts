import type { EventEmitter } from 'node:events';

/** Resolves when a writable that said "wait" may take more ('drain'), or is gone ('close'). */
export function drainedOrClosed(stream: EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
