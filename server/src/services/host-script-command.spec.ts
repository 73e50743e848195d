import { describe, expect, it } from 'vitest';
import { hostScriptCommand, removeStagingCommand, shellQuote } from './host-script-command.js';

const STAGING = '/tmp/skiff-provision.Ab12Cd34Ef';
const SHA = 'a'.repeat(64);
const ROOT = { sudo: false, withPassword: false };

describe(hostScriptCommand.name, () => {
  it('runs a fixed subcommand of the staged script with its checked, quoted arguments', () => {
    expect(hostScriptCommand(STAGING, { subcommand: 'unpack', staging: STAGING, sha256: SHA }, ROOT)).toBe(
      `'sh' '${STAGING}/skiff-host.sh' 'unpack' '${STAGING}' '${SHA}'`,
    );
    expect(hostScriptCommand(STAGING, { subcommand: 'uninstall', keepData: true }, ROOT)).toBe(
      `'sh' '${STAGING}/skiff-host.sh' 'uninstall' '--keep-data'`,
    );
  });

  it('goes through sudo reading its password from stdin, or never asking for one', () => {
    expect(hostScriptCommand(STAGING, { subcommand: 'preflight' }, { sudo: true, withPassword: true })).toBe(
      `sudo -S -p '' -- 'sh' '${STAGING}/skiff-host.sh' 'preflight'`,
    );
    expect(hostScriptCommand(STAGING, { subcommand: 'start' }, { sudo: true, withPassword: false })).toMatch(
      /^sudo -n -- /,
    );
  });

  it('refuses a staging directory or checksum that is not what the server made', () => {
    expect(() => hostScriptCommand('/tmp/x; rm -rf /', { subcommand: 'preflight' }, ROOT)).toThrow(
      'unexpected staging directory',
    );
    expect(() =>
      hostScriptCommand(STAGING, { subcommand: 'verify', staging: STAGING, sha256: `${SHA}' ; reboot '` }, ROOT),
    ).toThrow('not a sha256');
    expect(() => removeStagingCommand('/')).toThrow('unexpected staging directory');
  });
});

describe(shellQuote.name, () => {
  it('keeps single quotes inside a word literal', () => {
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
  });
});
