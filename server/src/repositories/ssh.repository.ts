import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { DomainError } from '../errors/domain-error.js';

export interface SshAddress {
  address: string;
  port: number;
}

export interface SshLogin {
  username: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
}

export interface HostKey {
  /** `SHA256:<base64 without padding>`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** e.g. `ssh-ed25519`. */
  algorithm: string;
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the command's stdin, then stdin is closed (sudo -S reads its password from here). */
  stdin?: string;
  /** Each chunk of output as it arrives. */
  onOutput?: (text: string) => void;
  timeoutMs?: number;
}

/** An open, authenticated SSH connection. */
export interface SshSession {
  readonly hostKey: HostKey;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Uploads a local file over SFTP; `onProgress` gets bytes sent and the total. */
  upload(localPath: string, remotePath: string, onProgress?: (sent: number, total: number) => void): Promise<void>;
  /** Writes a small file over SFTP with the given mode (created with it, never readable by others on the way). */
  writeFile(remotePath: string, data: string | Buffer, mode: number): Promise<void>;
  close(): void;
}

/** Decides on the key a server offers: null accepts it, a string refuses the connection and says why. */
export type HostKeyCheck = (key: HostKey) => string | null;

const READY_TIMEOUT_MS = 20_000;
const DEFAULT_EXEC_TIMEOUT_MS = 10 * 60_000;

export function fingerprintOf(key: Buffer): HostKey {
  // An SSH public key blob starts with its algorithm name as an SSH string (uint32 length + bytes).
  const length = key.length >= 4 ? key.readUInt32BE(0) : 0;
  const algorithm = length > 0 && length < 64 ? key.subarray(4, 4 + length).toString('latin1') : 'unknown';
  return {
    fingerprint: `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`,
    algorithm,
  };
}

/** SSH to fleet hosts with ssh2: the host key first, then the login, commands and SFTP. */
@Injectable()
export class SshRepository {
  /** Connects only far enough to see the host key the server offers; no login is tried. */
  probe(target: SshAddress): Promise<HostKey> {
    return new Promise<HostKey>((resolve, reject) => {
      const client = new Client();
      let seen: HostKey | undefined;
      client.on('error', (error) => {
        client.end();
        if (seen) resolve(seen);
        else reject(connectionError(target, error));
      });
      client.on('ready', () => {
        client.end();
        if (seen) resolve(seen);
      });
      client.connect({
        host: target.address,
        port: target.port,
        username: 'skiff-probe',
        readyTimeout: READY_TIMEOUT_MS,
        hostVerifier: (key: Buffer) => {
          seen = fingerprintOf(key);
          return false;
        },
      });
    });
  }

  /** Connects and logs in, after `check` accepted the host key. */
  connect(target: SshAddress, login: SshLogin, check: HostKeyCheck): Promise<SshSession> {
    return new Promise<SshSession>((resolve, reject) => {
      const client = new Client();
      let offered: HostKey | undefined;
      let refusal: string | null = null;
      let settled = false;
      client.on('error', (error) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(refusal !== null ? new DomainError('conflict', refusal) : connectionError(target, error, login));
      });
      client.on('ready', () => {
        settled = true;
        resolve(new Ssh2Session(client, offered as HostKey));
      });
      const config: ConnectConfig = {
        host: target.address,
        port: target.port,
        username: login.username,
        readyTimeout: READY_TIMEOUT_MS,
        keepaliveInterval: 15_000,
        hostVerifier: (key: Buffer) => {
          offered = fingerprintOf(key);
          refusal = check(offered);
          return refusal === null;
        },
      };
      if (login.password !== undefined) config.password = login.password;
      if (login.privateKey !== undefined) config.privateKey = login.privateKey;
      if (login.passphrase !== undefined) config.passphrase = login.passphrase;
      try {
        client.connect(config);
      } catch (error) {
        // ssh2 throws synchronously for a key it cannot parse (or a wrong passphrase).
        settled = true;
        reject(
          new DomainError(
            'invalid-argument',
            `cannot use the private key: ${(error as Error).message} (check the key and its passphrase)`,
          ),
        );
      }
    });
  }
}

class Ssh2Session implements SshSession {
  private sftpSession: Promise<SFTPWrapper> | undefined;

  constructor(
    private readonly client: Client,
    readonly hostKey: HostKey,
  ) {}

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      this.client.exec(command, (error, channel) => {
        if (error) {
          reject(error);
          return;
        }
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => {
          channel.close();
          reject(
            new Error(`the command did not finish within ${(options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS) / 1000} s`),
          );
        }, options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS);
        channel.on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          stdout += text;
          options.onOutput?.(text);
        });
        channel.stderr.on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          stderr += text;
          options.onOutput?.(text);
        });
        channel.on('close', (code: number | null, signal: string | null) => {
          clearTimeout(timer);
          resolve({ code: code ?? null, signal: signal ?? null, stdout, stderr });
        });
        if (options.stdin !== undefined) channel.end(options.stdin);
        else channel.end();
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp)));
    });
    return this.sftpSession;
  }

  async upload(
    localPath: string,
    remotePath: string,
    onProgress?: (sent: number, total: number) => void,
  ): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) => {
      sftp.fastPut(
        localPath,
        remotePath,
        { mode: 0o600, step: (sent: number, _chunk: number, total: number) => onProgress?.(sent, total) },
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }

  async writeFile(remotePath: string, data: string | Buffer, mode: number): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) => {
      sftp.writeFile(remotePath, data, { mode, flag: 'wx' }, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    this.client.end();
  }
}

function connectionError(
  target: SshAddress,
  error: Error & { level?: string; code?: string },
  login?: SshLogin,
): Error {
  const where = `${target.address}:${target.port}`;
  if (error.level === 'client-authentication') {
    return new DomainError(
      'unauthenticated',
      `the SSH server ${where} refused the login of ${login?.username ?? 'the user'}: wrong password or key ` +
        '(check the user name and the credentials; the server may also forbid this user or password logins)',
    );
  }
  if (error.level === 'client-timeout') {
    return new DomainError(
      'unavailable',
      `no SSH answer from ${where} within ${READY_TIMEOUT_MS / 1000} s: check the address and firewall`,
    );
  }
  switch (error.code) {
    case 'ECONNREFUSED':
      return new DomainError('unavailable', `nothing listens on ${where}: is sshd running, and is the port right?`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return new DomainError('unavailable', `cannot reach ${where} (${error.code}): check the address and the network`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DomainError('invalid-argument', `cannot resolve the host name ${target.address}`);
    default:
      return new DomainError('unavailable', `SSH to ${where} failed: ${error.message}`);
  }
}
