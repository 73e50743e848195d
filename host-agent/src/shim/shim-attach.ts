/**
 * The client side of skiff-shim's attach socket (`<stateDir>/attach.sock`; protocol in
 * host-agent/shim/PLAN-FORMAT.md, "Attach socket"). A container's shim and an exec's shim both
 * serve it, for as long as they run, to any number of clients: so the agent can restart and
 * attach again, and `docker run` can attach before the start (plans with `holdUntilStart`).
 *
 * Every frame has an 8-byte header `[type, 0, 0, 0, length as big-endian uint32]`. Output frames
 * are types 1 (stdout), 2 (stderr) and 3 (an error message of the shim), exactly Docker's stdcopy
 * frames, so without a TTY they can go to a hijacked HTTP connection unchanged.
 */
import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';

import { ShimError } from './shim-error.js';
import { SHIM_STATE_FILES } from './shim-plan.js';
import { readShimExitStatus, type ShimExitStatus } from './shim-state.js';

export const ATTACH_FRAME = {
  stdin: 0x00,
  stdout: 0x01,
  stderr: 0x02,
  systemerr: 0x03,
  closeStdin: 0x40,
  resize: 0x41,
  start: 0x42,
  hello: 0x80,
  exit: 0x81,
} as const;

export const ATTACH_HEADER_BYTES = 8;
/** The largest frame the shim accepts from a client; longer input is cut into several. */
export const ATTACH_MAX_CLIENT_PAYLOAD = 65536;
/** The shim's frames are at most 64 KiB; anything far larger means the stream is out of step. */
const MAX_SHIM_PAYLOAD = 16 << 20;

/** Output streams as Docker's stdcopy names them; `systemerr` carries a message of the shim itself. */
export type ShimOutputStream = 'stdout' | 'stderr' | 'systemerr';

/** The first frame of every connection. */
export interface ShimHello {
  version: number;
  /** The process's pid as the host sees it. */
  pid: number;
  tty: boolean;
  /** The process's stdin is open to attach input. */
  stdin: boolean;
  /** False while the process is held before execve, waiting for `start`. */
  running: boolean;
}

export function encodeAttachFrame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(ATTACH_HEADER_BYTES);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload], ATTACH_HEADER_BYTES + payload.length);
}

export interface AttachFrame {
  type: number;
  payload: Buffer;
}

/** Splits the shim's byte stream into frames, however it is cut. */
export class AttachFrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): AttachFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: AttachFrame[] = [];
    while (this.pending.length >= ATTACH_HEADER_BYTES) {
      const length = this.pending.readUInt32BE(4);
      if (length > MAX_SHIM_PAYLOAD) throw new Error(`attach: a frame of ${length} bytes: the stream is out of step`);
      if (this.pending.length < ATTACH_HEADER_BYTES + length) break;
      frames.push({
        type: this.pending[0],
        payload: this.pending.subarray(ATTACH_HEADER_BYTES, ATTACH_HEADER_BYTES + length),
      });
      this.pending = this.pending.subarray(ATTACH_HEADER_BYTES + length);
    }
    return frames;
  }
}

export function attachSocketPath(stateDir: string): string {
  return join(stateDir, SHIM_STATE_FILES.attachSocket);
}

function connectOnce(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    const onError = (error: Error) => reject(error);
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** sun_path holds 107 bytes; a longer path is reached through a descriptor of its directory. */
async function connectUnix(path: string): Promise<Socket> {
  if (Buffer.byteLength(path) < 108) return connectOnce(path);
  const dir = await open(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return await connectOnce(`/proc/self/fd/${dir.fd}/${basename(path)}`);
  } finally {
    await dir.close();
  }
}

interface ShimAttachmentEvents {
  /** Output of the process; with a TTY everything is `stdout`. */
  output: [stream: ShimOutputStream, data: Buffer];
  /** The process has ended; the connection closes next. */
  exit: [status: ShimExitStatus];
  /** The shim can take more input (after write returned false). */
  drain: [];
  /** The connection is gone: with the exit status if the process ended, undefined otherwise. */
  close: [status: ShimExitStatus | undefined];
}

/**
 * One connection to a shim's attach socket. Output arrives as `output` events from the moment
 * of the hello on (nothing earlier is replayed: the json-file log has it); a process held for
 * `start` begins once some client calls start().
 */
export class ShimAttachment extends EventEmitter<ShimAttachmentEvents> {
  /** Resolves when the connection is gone: the exit status, or undefined (detached, or the shim died). */
  readonly closed: Promise<ShimExitStatus | undefined>;
  private exitStatus: ShimExitStatus | undefined;
  private detached = false;
  private resolveClosed!: (status: ShimExitStatus | undefined) => void;

  private userPaused = false;

  /**
   * @internal use attachToShim. Takes over the socket (paused): events begin on the next turn of
   * the event loop, so listeners added right after `await attachToShim(…)` miss nothing, not
   * even frames that came with the hello.
   */
  constructor(
    readonly hello: ShimHello,
    private readonly socket: Socket | undefined,
    private readonly stateDir: string,
    decoder = new AttachFrameDecoder(),
    initial: AttachFrame[] = [],
  ) {
    super();
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    if (!socket) {
      setImmediate(() => {
        for (const frame of initial) this.receive(frame);
        void this.finish();
      });
      return;
    }
    let ready = false;
    let closedEarly = false;
    socket.pause();
    socket.on('drain', () => this.emit('drain'));
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) this.receive(frame);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('close', () => {
      if (ready) void this.finish();
      else closedEarly = true;
    });
    setImmediate(() => {
      for (const frame of initial) this.receive(frame);
      ready = true;
      if (closedEarly) void this.finish();
      else if (!this.userPaused) socket.resume();
    });
  }

  /** The exit status, once the process has ended. */
  get exit(): ShimExitStatus | undefined {
    return this.exitStatus;
  }

  /** Input for the process's stdin (dropped by the shim when stdin is not open). False: wait for `drain`. */
  write(data: Buffer | string): boolean {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let flushed = true;
    for (let at = 0; at < bytes.length; at += ATTACH_MAX_CLIENT_PAYLOAD) {
      flushed = this.send(ATTACH_FRAME.stdin, bytes.subarray(at, at + ATTACH_MAX_CLIENT_PAYLOAD));
    }
    return flushed;
  }

  /** EOF on the process's stdin once it has read what was written (ignored with a TTY, as by Docker). */
  closeStdin(): void {
    this.send(ATTACH_FRAME.closeStdin);
  }

  /** The terminal's new size (TIOCSWINSZ; the process gets SIGWINCH). Ignored without a TTY. */
  resize(rows: number, cols: number): void {
    this.send(ATTACH_FRAME.resize, resizePayload(rows, cols));
  }

  /** Lets a process held for attach go on to execve; harmless when it already runs. */
  start(): void {
    this.send(ATTACH_FRAME.start);
  }

  /** Stops output events (the shim then holds the container's output back): backpressure. */
  pause(): void {
    this.userPaused = true;
    this.socket?.pause();
  }

  resume(): void {
    this.userPaused = false;
    this.socket?.resume();
  }

  /** Leaves the process running; with stdinOnce, a client that sent stdin closes its stdin by going. */
  detach(): void {
    this.detached = true;
    this.socket?.end();
  }

  private send(type: number, payload?: Buffer): boolean {
    if (!this.socket || this.socket.destroyed || this.socket.writableEnded) return false;
    return this.socket.write(encodeAttachFrame(type, payload));
  }

  private receive(frame: AttachFrame): void {
    switch (frame.type) {
      case ATTACH_FRAME.stdout:
        if (!this.detached) this.emit('output', 'stdout', frame.payload);
        break;
      case ATTACH_FRAME.stderr:
        if (!this.detached) this.emit('output', 'stderr', frame.payload);
        break;
      case ATTACH_FRAME.systemerr:
        if (!this.detached) this.emit('output', 'systemerr', frame.payload);
        break;
      case ATTACH_FRAME.exit:
        this.exitStatus = JSON.parse(frame.payload.toString('utf8')) as ShimExitStatus;
        this.emit('exit', this.exitStatus);
        this.socket?.end(); // nothing follows the exit
        break;
      default:
        break; // a newer shim's frame
    }
  }

  /** The connection is gone; without an exit frame, exit.json may still tell. */
  private async finish(): Promise<void> {
    let status = this.exitStatus;
    if (!status && !this.detached) {
      status = await readShimExitStatus(this.stateDir).catch(() => undefined);
      if (status) {
        this.exitStatus = status;
        this.emit('exit', status);
      }
    }
    this.emit('close', status);
    this.resolveClosed(status);
  }
}

function resizePayload(rows: number, cols: number): Buffer {
  for (const [name, value] of [
    ['rows', rows],
    ['cols', cols],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
      throw new ShimError('invalid-argument', `terminal ${name} must be an integer from 0 to 65535: ${value}`);
    }
  }
  const payload = Buffer.alloc(4);
  payload.writeUInt16BE(rows, 0);
  payload.writeUInt16BE(cols, 2);
  return payload;
}

export interface AttachOptions {
  /** This client carries stdin: with the plan's stdinOnce, its going closes the process's stdin. */
  stdin?: boolean;
  /** How long to wait for the shim's hello; default 10 s. */
  timeoutMs?: number;
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET';
}

/** An attachment to a process that has already ended: it only reports the exit (on the next turn). */
function endedAttachment(stateDir: string, status: ShimExitStatus): ShimAttachment {
  return new ShimAttachment(
    { version: 1, pid: status.pid, tty: false, stdin: false, running: false },
    undefined,
    stateDir,
    undefined,
    [{ type: ATTACH_FRAME.exit, payload: Buffer.from(JSON.stringify(status)) }],
  );
}

/**
 * Connects to the shim of a container or exec by its state directory and resolves after the
 * shim's hello. A process that has already ended gives an attachment that only reports its
 * exit (from exit.json); a state directory without a running shim or an exit is `conflict`.
 */
export async function attachToShim(stateDir: string, options: AttachOptions = {}): Promise<ShimAttachment> {
  const path = attachSocketPath(stateDir);
  let socket: Socket;
  try {
    socket = await connectUnix(path);
  } catch (error) {
    if (!isGone(error)) throw new ShimError('unavailable', `cannot attach to ${path}: ${(error as Error).message}`);
    const status = await readShimExitStatus(stateDir);
    if (status) return endedAttachment(stateDir, status);
    throw new ShimError('conflict', `cannot attach: no process is running for ${stateDir}`);
  }

  const decoder = new AttachFrameDecoder();
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise<ShimAttachment>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ShimError('unavailable', `skiff-shim sent no hello on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      let frames: AttachFrame[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        socket.destroy(error as Error);
        return;
      }
      const at = frames.findIndex((frame) => frame.type === ATTACH_FRAME.hello);
      if (at < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      const hello = JSON.parse(frames[at].payload.toString('utf8')) as ShimHello;
      if (options.stdin) socket.write(encodeAttachFrame(ATTACH_FRAME.stdin));
      resolve(new ShimAttachment(hello, socket, stateDir, decoder, frames.slice(at + 1)));
    };
    const onClose = () => {
      clearTimeout(timer);
      // Accepted by the kernel but never by the shim: it was finishing, and exit.json is written by then.
      readShimExitStatus(stateDir).then(
        (status) =>
          status
            ? resolve(endedAttachment(stateDir, status))
            : reject(new ShimError('unavailable', `skiff-shim closed ${path} without a hello`)),
        (error: unknown) => reject(error instanceof Error ? error : new Error(String(error))),
      );
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', () => {
      // ECONNRESET and the like: 'close' follows, and exit.json says how the process ended
    });
  });
}

/**
 * Sets the terminal size of a container's or exec's process (Docker's resize endpoints),
 * through a short connection of its own. `conflict` when nothing runs there.
 */
export async function resizeShim(stateDir: string, rows: number, cols: number): Promise<void> {
  const payload = resizePayload(rows, cols);
  const path = attachSocketPath(stateDir);
  let socket: Socket;
  try {
    socket = await connectUnix(path);
  } catch (error) {
    if (isGone(error)) throw new ShimError('conflict', `cannot resize: no process is running for ${stateDir}`);
    throw new ShimError('unavailable', `cannot resize through ${path}: ${(error as Error).message}`);
  }
  await new Promise<void>((resolve) => {
    socket.on('error', () => {});
    socket.on('close', () => resolve());
    socket.resume(); // the hello is of no interest
    // The shim reads every frame before it sees the end of the connection.
    socket.end(encodeAttachFrame(ATTACH_FRAME.resize, payload));
  });
}
