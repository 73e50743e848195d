import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  ATTACH_FRAME,
  AttachFrameDecoder,
  attachSocketPath,
  attachToShim,
  encodeAttachFrame,
  resizeShim,
  type AttachFrame,
  type ShimHello,
} from './shim-attach.js';
import type { ShimExitStatus } from './shim-state.js';

const HELLO: ShimHello = { version: 1, pid: 4242, tty: false, stdin: true, running: true };
const EXIT: ShimExitStatus = {
  pid: 4242,
  exitCode: 3,
  signal: 0,
  oomKilled: false,
  startedAt: '2024-05-01T10:00:00Z',
  finishedAt: '2024-05-01T10:00:01Z',
};

const frame = (type: number, payload: string | Buffer = '') =>
  encodeAttachFrame(type, typeof payload === 'string' ? Buffer.from(payload) : payload);

/** A stand-in for the shim's side of the socket: greets every client and records what it sends. */
class FakeShim {
  readonly frames: AttachFrame[] = [];
  readonly clients: Socket[] = [];
  private readonly server: Server;
  private readonly connected: ((socket: Socket) => void)[] = [];

  constructor(
    readonly stateDir: string,
    private readonly greeting: Buffer = frame(ATTACH_FRAME.hello, JSON.stringify(HELLO)),
  ) {
    this.server = createServer((socket) => {
      this.clients.push(socket);
      const decoder = new AttachFrameDecoder();
      socket.on('data', (chunk: Buffer) => this.frames.push(...decoder.push(chunk)));
      socket.on('error', () => {});
      if (this.greeting.length) socket.write(this.greeting);
      for (const wait of this.connected.splice(0)) wait(socket);
    });
  }

  async listen(): Promise<void> {
    const path = attachSocketPath(this.stateDir);
    await new Promise<void>((resolve) => this.server.listen(path, resolve));
  }

  nextClient(): Promise<Socket> {
    return new Promise((resolve) => this.connected.push(resolve));
  }

  async framesUntil(count: number): Promise<AttachFrame[]> {
    while (this.frames.length < count) await new Promise((r) => setTimeout(r, 5));
    return this.frames;
  }

  close(): Promise<void> {
    for (const client of this.clients) client.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let dir: string;
let shim: FakeShim | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-attach-'));
});

afterEach(async () => {
  await shim?.close();
  shim = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function fakeShim(stateDir = dir, greeting?: Buffer): Promise<FakeShim> {
  shim = new FakeShim(stateDir, greeting);
  await shim.listen();
  return shim;
}

describe(AttachFrameDecoder.name, () => {
  it('gives back the frames however the stream is cut', () => {
    const bytes = Buffer.concat([frame(ATTACH_FRAME.stdout, 'hello'), frame(ATTACH_FRAME.exit, '{}'), frame(0x42)]);
    const decoder = new AttachFrameDecoder();
    const frames = [...bytes].flatMap((byte) => decoder.push(Buffer.from([byte])));
    expect(frames.map((f) => [f.type, f.payload.toString()])).toEqual([
      [1, 'hello'],
      [0x81, '{}'],
      [0x42, ''],
    ]);
  });

  it('writes the header as type, three zero bytes and a big-endian length, like stdcopy', () => {
    expect([...frame(ATTACH_FRAME.stderr, 'ab')]).toEqual([2, 0, 0, 0, 0, 0, 0, 2, 0x61, 0x62]);
  });

  it('refuses a length no shim sends: the stream is out of step', () => {
    const header = Buffer.from([1, 0, 0, 0, 0x7f, 0, 0, 0]);
    expect(() => new AttachFrameDecoder().push(header)).toThrow('out of step');
  });
});

describe(attachToShim.name, () => {
  it("resolves with the shim's hello and reports output per stream, then the exit", async () => {
    const server = await fakeShim();
    const client = server.nextClient();
    const attachment = await attachToShim(dir);
    expect(attachment.hello).toEqual(HELLO);
    const output: [string, string][] = [];
    const exits: ShimExitStatus[] = [];
    attachment.on('output', (stream, data) => output.push([stream, data.toString()]));
    attachment.on('exit', (status) => exits.push(status));
    const socket = await client;
    socket.write(frame(ATTACH_FRAME.stdout, 'out'));
    socket.write(frame(ATTACH_FRAME.stderr, 'err'));
    socket.write(frame(ATTACH_FRAME.systemerr, 'exec: ENOEXEC'));
    socket.end(frame(ATTACH_FRAME.exit, JSON.stringify(EXIT)));
    await expect(attachment.closed).resolves.toEqual(EXIT);
    expect(output).toEqual([
      ['stdout', 'out'],
      ['stderr', 'err'],
      ['systemerr', 'exec: ENOEXEC'],
    ]);
    expect(exits).toEqual([EXIT]);
    expect(attachment.exit).toEqual(EXIT);
  });

  it('loses nothing that came in one piece with the hello', async () => {
    await fakeShim(
      dir,
      Buffer.concat([
        frame(ATTACH_FRAME.hello, JSON.stringify(HELLO)),
        frame(ATTACH_FRAME.stdout, 'early'),
        frame(ATTACH_FRAME.exit, JSON.stringify(EXIT)),
      ]),
    );
    const attachment = await attachToShim(dir);
    const output: string[] = [];
    attachment.on('output', (_stream, data) => output.push(data.toString()));
    expect(await attachment.closed).toEqual(EXIT);
    expect(output).toEqual(['early']);
  });

  it('sends input, close-stdin, resize and start as frames, cutting long input at 64 KiB', async () => {
    const server = await fakeShim();
    const attachment = await attachToShim(dir, { stdin: true });
    attachment.write('hi');
    attachment.write(Buffer.alloc(65536 + 10, 'x'));
    attachment.closeStdin();
    attachment.resize(40, 120);
    attachment.start();
    const frames = await server.framesUntil(7);
    expect(frames.map((f) => [f.type, f.payload.length])).toEqual([
      [ATTACH_FRAME.stdin, 0], // "this client carries stdin"
      [ATTACH_FRAME.stdin, 2],
      [ATTACH_FRAME.stdin, 65536],
      [ATTACH_FRAME.stdin, 10],
      [ATTACH_FRAME.closeStdin, 0],
      [ATTACH_FRAME.resize, 4],
      [ATTACH_FRAME.start, 0],
    ]);
    expect([...frames[5].payload]).toEqual([0, 40, 0, 120]);
  });

  it('reads exit.json when the connection ends without an exit frame', async () => {
    const server = await fakeShim();
    const client = server.nextClient();
    const attachment = await attachToShim(dir);
    writeFileSync(join(dir, 'exit.json'), JSON.stringify(EXIT));
    (await client).destroy();
    expect(await attachment.closed).toEqual(EXIT);
  });

  it('resolves closed with undefined after a detach: the process goes on', async () => {
    await fakeShim();
    const attachment = await attachToShim(dir);
    writeFileSync(join(dir, 'exit.json'), JSON.stringify(EXIT)); // of an earlier run: not this one's
    attachment.detach();
    expect(await attachment.closed).toBeUndefined();
  });

  it('gives an attachment that only reports the exit when the shim is already gone', async () => {
    writeFileSync(join(dir, 'exit.json'), JSON.stringify(EXIT));
    const attachment = await attachToShim(dir);
    const exits: ShimExitStatus[] = [];
    attachment.on('exit', (status) => exits.push(status));
    expect(await attachment.closed).toEqual(EXIT);
    expect(exits).toEqual([EXIT]);
    expect(attachment.write('lost')).toBe(false);
  });

  it('is a conflict where nothing runs and nothing ran', async () => {
    await expect(attachToShim(dir)).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('gives up on a shim that sends no hello', async () => {
    await fakeShim(dir, Buffer.alloc(0));
    await expect(attachToShim(dir, { timeoutMs: 50 })).rejects.toMatchObject({
      kind: 'unavailable',
      message: expect.stringContaining('no hello') as unknown,
    });
  });

  it('reaches a socket whose path is longer than sun_path allows', async () => {
    const long = join(dir, 'x'.repeat(60), 'y'.repeat(60));
    mkdirSync(long, { recursive: true });
    expect(Buffer.byteLength(attachSocketPath(long))).toBeGreaterThan(108);
    // The fake listens through the same trick: bind relative to the directory.
    const previous = process.cwd();
    process.chdir(long);
    const server = new FakeShim('.');
    try {
      await server.listen();
    } finally {
      process.chdir(previous);
    }
    shim = server;
    const attachment = await attachToShim(long);
    expect(attachment.hello.pid).toBe(4242);
  });
});

describe(resizeShim.name, () => {
  it('sends one resize frame on a connection of its own', async () => {
    const server = await fakeShim();
    await resizeShim(dir, 50, 132);
    const [resize] = await server.framesUntil(1);
    expect(resize?.type).toBe(ATTACH_FRAME.resize);
    expect([...(resize?.payload ?? [])]).toEqual([0, 50, 0, 132]);
  });

  it('is a conflict where nothing runs', async () => {
    await expect(resizeShim(dir, 24, 80)).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('refuses a size a terminal cannot have', async () => {
    await expect(resizeShim(dir, 70000, 80)).rejects.toMatchObject({ kind: 'invalid-argument' });
    await expect(resizeShim(dir, 24, -1)).rejects.toThrow('terminal cols must be an integer from 0 to 65535');
  });
});
