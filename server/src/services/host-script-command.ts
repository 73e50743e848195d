/**
 * The command lines run on fleet hosts. Only fixed subcommands of skiff-host.sh with arguments
 * checked here (a staging directory the server made, a sha256, a fixed flag); every word is
 * quoted all the same. Secrets never appear here: sudo's password goes over stdin.
 */
export type HostScriptCall =
  | { subcommand: 'preflight' | 'start' | 'stop' | 'status' | 'log' | 'rollback' }
  | { subcommand: 'verify' | 'unpack' | 'upgrade'; staging: string; sha256: string }
  | { subcommand: 'configure'; staging: string }
  | { subcommand: 'uninstall'; keepData: boolean };

export interface PrivilegeMode {
  /** Run through sudo (the login is not root). */
  sudo: boolean;
  /** Whether a password is written to sudo's stdin; without one sudo must not ask (-n). */
  withPassword: boolean;
}

const STAGING = /^\/tmp\/skiff-provision\.[A-Za-z0-9]{6,32}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** The command that makes the staging directory, as the login user (mode 0700). */
export const MAKE_STAGING_COMMAND = 'mktemp -d /tmp/skiff-provision.XXXXXXXXXX';

export function checkStaging(staging: string): string {
  if (!STAGING.test(staging)) throw new Error(`unexpected staging directory from mktemp: ${JSON.stringify(staging)}`);
  return staging;
}

/** POSIX single quotes: the word reaches the program exactly as given. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function hostScriptCommand(staging: string, call: HostScriptCall, privilege: PrivilegeMode): string {
  const words = ['sh', `${checkStaging(staging)}/skiff-host.sh`, call.subcommand];
  switch (call.subcommand) {
    case 'preflight':
    case 'start':
    case 'stop':
    case 'status':
    case 'log':
    case 'rollback':
      break;
    case 'verify':
    case 'unpack':
    case 'upgrade':
      if (!SHA256.test(call.sha256)) throw new Error(`not a sha256: ${call.sha256}`);
      words.push(checkStaging(call.staging), call.sha256);
      break;
    case 'configure':
      words.push(checkStaging(call.staging));
      break;
    case 'uninstall':
      if (call.keepData) words.push('--keep-data');
      break;
  }
  const command = words.map(shellQuote).join(' ');
  if (!privilege.sudo) return command;
  // -S reads the password from stdin, -p '' prints no prompt into the output; -n never waits for one.
  return `${privilege.withPassword ? "sudo -S -p ''" : 'sudo -n'} -- ${command}`;
}

/** Removes the staging directory (as the login user, who made it). */
export function removeStagingCommand(staging: string): string {
  return `rm -rf -- ${shellQuote(checkStaging(staging))}`;
}
