/**
 * Starts a program in a session of its own with posix_spawn(3), which glibc runs with
 * clone(CLONE_VM | CLONE_VFORK): nothing of the agent's memory is copied, so a start costs the
 * same whatever the agent's size. child_process.spawn forks the whole Node.js process first,
 * about 1.5 ms at the agent's 70 MB, on every container start and exec.
 *
 * The child gets /dev/null on 0 and 1 and the given descriptors from 2 on; the pipes it is to
 * write to are made here. libuv reaps only the children it spawned itself, so this module reaps
 * its own: on SIGCHLD it asks waitpid(2) about each of them (never about others), and a slow
 * timer does the same as a safety net while any is running.
 */
import { Socket } from 'node:net';
import { constants } from 'node:os';
import koffi from 'koffi';

import { libcLibrary } from './libc-sys-calls.js';
import { SysError } from './sys-calls.js';

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CLOEXEC = 0o2000000;
const WNOHANG = 1;
const EINTR = 4;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
/** posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336 and sigset_t 128 on glibc (x86-64 and arm64). */
const OPAQUE_BYTES = 1024;
const SAFETY_NET_MS = 1000;

type Fn = (...args: unknown[]) => number;

interface SpawnLibc {
  posixSpawn: Fn;
  actionsInit: Fn;
  actionsDestroy: Fn;
  addDup2: Fn;
  addOpen: Fn;
  addClose: Fn;
  attrInit: Fn;
  attrDestroy: Fn;
  attrSetFlags: Fn;
  attrSetSigMask: Fn;
  attrSetSigDefault: Fn;
  sigEmptySet: Fn;
  sigFillSet: Fn;
  pipe2: Fn;
  close: Fn;
  waitpid: Fn;
}

let libc: SpawnLibc | undefined;

function loadLibc(): SpawnLibc {
  if (libc) return libc;
  const lib = libcLibrary();
  libc = {
    posixSpawn: lib.func(
      'int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)',
    ) as Fn,
    actionsInit: lib.func('int posix_spawn_file_actions_init(void *actions)') as Fn,
    actionsDestroy: lib.func('int posix_spawn_file_actions_destroy(void *actions)') as Fn,
    addDup2: lib.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)') as Fn,
    addOpen: lib.func(
      'int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int flags, uint32_t mode)',
    ) as Fn,
    addClose: lib.func('int posix_spawn_file_actions_addclose(void *actions, int fd)') as Fn,
    attrInit: lib.func('int posix_spawnattr_init(void *attr)') as Fn,
    attrDestroy: lib.func('int posix_spawnattr_destroy(void *attr)') as Fn,
    attrSetFlags: lib.func('int posix_spawnattr_setflags(void *attr, short flags)') as Fn,
    attrSetSigMask: lib.func('int posix_spawnattr_setsigmask(void *attr, void *set)') as Fn,
    attrSetSigDefault: lib.func('int posix_spawnattr_setsigdefault(void *attr, void *set)') as Fn,
    sigEmptySet: lib.func('int sigemptyset(void *set)') as Fn,
    sigFillSet: lib.func('int sigfillset(void *set)') as Fn,
    pipe2: lib.func('int pipe2(_Out_ int *fds, int flags)') as Fn,
    close: lib.func('int close(int fd)') as Fn,
    waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)') as Fn,
  };
  return libc;
}

export interface DetachedExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DetachedChild {
  pid: number;
  /** The read ends of the pipes the child got as `{ pipe: true }`, by the child's fd. */
  pipes: Map<number, Socket>;
  /** Resolves when the child has exited (and was reaped). */
  exited: Promise<DetachedExit>;
}

/** What the child gets on fd 2, 3, …: a new pipe to read from here, or a descriptor of ours. */
export type ChildFd = { pipe: true } | { fd: number };

/**
 * Runs `path` with `args` in a new session, with the agent's environment and working directory
 * (skiff-shim changes to / itself; posix_spawn_file_actions_addchdir_np needs glibc 2.29).
 */
export function spawnDetached(path: string, args: readonly string[], fds: readonly ChildFd[]): DetachedChild {
  const c = loadLibc();
  const made: { child: number; read: number; write: number }[] = [];
  const actions = Buffer.alloc(OPAQUE_BYTES);
  const attr = Buffer.alloc(OPAQUE_BYTES);
  let actionsReady = false;
  let attrReady = false;
  try {
    const sources = fds.map((wanted, index) => {
      if ('fd' in wanted) return wanted.fd;
      const ends = new Int32Array(2);
      check(c.pipe2(ends, O_CLOEXEC), 'pipe2', path);
      made.push({ child: 2 + index, read: ends[0], write: ends[1] });
      return ends[1];
    });
    check(c.actionsInit(actions), 'posix_spawn_file_actions_init', path);
    actionsReady = true;
    check(c.attrInit(attr), 'posix_spawnattr_init', path);
    attrReady = true;
    check(c.addOpen(actions, 0, '/dev/null', O_RDONLY, 0), 'posix_spawn_file_actions_addopen', path);
    check(c.addOpen(actions, 1, '/dev/null', O_WRONLY, 0), 'posix_spawn_file_actions_addopen', path);
    // Through spare descriptors first, so that no dup2 overwrites a source that a later one still
    // needs: the lowest run above the targets that holds no source (a number above every source
    // could pass the descriptor limit of a busy agent, and dup2 would fail there).
    let spare = 2 + fds.length;
    for (;;) {
      const inTheWay = sources.filter((source) => source >= spare && source < spare + sources.length);
      if (inTheWay.length === 0) break;
      spare = Math.max(...inTheWay) + 1;
    }
    sources.forEach((source, index) => check(c.addDup2(actions, source, spare + index), 'adddup2', path));
    sources.forEach((_source, index) => {
      check(c.addDup2(actions, spare + index, 2 + index), 'adddup2', path);
      check(c.addClose(actions, spare + index), 'addclose', path);
    });
    const signals = Buffer.alloc(OPAQUE_BYTES);
    c.sigFillSet(signals);
    check(c.attrSetSigDefault(attr, signals), 'posix_spawnattr_setsigdefault', path);
    c.sigEmptySet(signals);
    check(c.attrSetSigMask(attr, signals), 'posix_spawnattr_setsigmask', path);
    check(
      c.attrSetFlags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK),
      'posix_spawnattr_setflags',
      path,
    );
    const env = Object.entries(process.env).map(([key, value]) => `${key}=${value ?? ''}`);
    const pid = [0];
    const error = c.posixSpawn(pid, path, actions, attr, [path, ...args, null], [...env, null]);
    if (error !== 0) throw new SysError('posix_spawn', error, path);
    const pipes = new Map<number, Socket>();
    for (const pipe of made) {
      c.close(pipe.write);
      pipe.write = -1;
      pipes.set(pipe.child, new Socket({ fd: pipe.read, readable: true, writable: false }));
      pipe.read = -1;
    }
    const childPid = pid[0];
    return { pid: childPid, pipes, exited: reaper.watch(childPid) };
  } finally {
    for (const pipe of made) {
      if (pipe.read >= 0) c.close(pipe.read);
      if (pipe.write >= 0) c.close(pipe.write);
    }
    if (actionsReady) c.actionsDestroy(actions);
    if (attrReady) c.attrDestroy(attr);
  }
}

/** posix_spawn's helpers return an errno value rather than setting errno. */
function check(result: number, call: string, path: string): void {
  if (result !== 0) throw new SysError(call, result < 0 ? koffi.errno() : result, path);
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]),
);

/** Reaps the children spawned here, and only them. */
class Reaper {
  private readonly waiting = new Map<number, (exit: DetachedExit) => void>();
  private timer: NodeJS.Timeout | undefined;
  private readonly onSignal = () => this.reap();

  watch(pid: number): Promise<DetachedExit> {
    const exited = new Promise<DetachedExit>((resolve) => this.waiting.set(pid, resolve));
    if (this.waiting.size === 1) {
      process.on('SIGCHLD', this.onSignal);
      this.timer = setInterval(this.onSignal, SAFETY_NET_MS);
      this.timer.unref();
    }
    // It may have ended before the listener was there.
    this.reap();
    return exited;
  }

  private reap(): void {
    const { waitpid } = loadLibc();
    const status = [0];
    for (const [pid, resolve] of this.waiting) {
      let result: number;
      do result = waitpid(pid, status, WNOHANG);
      while (result < 0 && koffi.errno() === EINTR);
      if (result === 0) continue;
      this.waiting.delete(pid);
      // ECHILD (nothing else reaps these, so only if the pid was not ours): no status to give.
      resolve(result < 0 ? { code: null, signal: null } : decodeStatus(status[0]));
    }
    if (this.waiting.size === 0 && this.timer) {
      process.off('SIGCHLD', this.onSignal);
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

const reaper = new Reaper();

function decodeStatus(status: number): DetachedExit {
  const signal = status & 0x7f;
  if (signal === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: SIGNAL_NAMES.get(signal) ?? null };
}
