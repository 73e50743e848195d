import { describe, expect, it } from 'vitest';
import { IdMap, OVERFLOW_ID, UnmappableIdError } from './id-map.js';
import {
  nextFreeStart,
  parseRemapSpec,
  parseSubordinateIds,
  remapFromFiles,
  RemapError,
  resolveRemap,
  type AccountFiles,
  type RemapHost,
  type SubordinateRange,
} from './userns-remap.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n';
const group = 'root:x:0:\nalice:x:1000:\nstaff:x:50:\n';

describe(parseRemapSpec.name, () => {
  it('reads default, a user, user:group and numeric ids', () => {
    expect(parseRemapSpec('default')).toEqual({ kind: 'default' });
    expect(parseRemapSpec('alice')).toEqual({ kind: 'user', user: 'alice' });
    expect(parseRemapSpec('alice:staff')).toEqual({ kind: 'user', user: 'alice', group: 'staff' });
    expect(parseRemapSpec('1000:50')).toEqual({ kind: 'user', user: '1000', group: '50' });
  });

  it('refuses root, odd names and extra fields', () => {
    expect(() => parseRemapSpec('root')).toThrow('--userns-remap cannot map containers to root');
    expect(() => parseRemapSpec('0')).toThrow(RemapError);
    expect(() => parseRemapSpec('a:b:c')).toThrow(/must be "default", a user, or user:group/);
    expect(() => parseRemapSpec('al ice')).toThrow(/not "al ice"/);
    expect(() => parseRemapSpec('')).toThrow(RemapError);
  });
});

describe(parseSubordinateIds.name, () => {
  it('reads owner:start:count lines and skips comments and broken lines', () => {
    expect(parseSubordinateIds('# ranges\nalice:100000:65536\nbroken\n1000:200000:10\nbob:x:1\n')).toEqual([
      { owner: 'alice', start: 100000, count: 65536 },
      { owner: '1000', start: 200000, count: 10 },
    ]);
  });

  it('places a new range after every range of both files, from 100000 at the lowest', () => {
    expect(nextFreeStart('', '')).toBe(100000);
    expect(nextFreeStart('alice:100000:65536\n', 'bob:300000:65536\n')).toBe(365536);
  });
});

describe(remapFromFiles.name, () => {
  const files = (subuid: string, subgid = subuid): AccountFiles => ({ passwd, group, subuid, subgid });

  it('maps container ids from 0 up onto the user’s ranges, in the order listed, by name or uid', () => {
    const map = remapFromFiles(
      { kind: 'user', user: 'alice' },
      files('alice:100000:65536\nbob:500000:65536\n1000:300000:1000\n'),
    );
    expect(map.uids).toEqual([
      { insideId: 0, outsideId: 100000, count: 65536 },
      { insideId: 65536, outsideId: 300000, count: 1000 },
    ]);
    expect(map.root).toEqual({ uid: 100000, gid: 100000 });
    expect(map.hostUid(65537)).toBe(300001);
  });

  it('takes the gid ranges of the group given, else those listed under the user', () => {
    const map = remapFromFiles(
      { kind: 'user', user: 'alice', group: 'staff' },
      files('alice:100000:65536\n', 'alice:100000:65536\nstaff:400000:65536\n'),
    );
    expect(map.root).toEqual({ uid: 100000, gid: 400000 });
  });

  it('names what to fix when the files do not allow the remapping', () => {
    expect(() => remapFromFiles({ kind: 'user', user: 'carol' }, files(''))).toThrow(
      '--userns-remap: no such user "carol" in /etc/passwd',
    );
    expect(() => remapFromFiles({ kind: 'user', user: 'alice' }, files('', 'alice:1:65536\n'))).toThrow(
      '--userns-remap: /etc/subuid has no range for alice: add a line "alice:<first id>:65536"',
    );
    expect(() => remapFromFiles({ kind: 'user', user: 'alice' }, files('alice:100000:1000\n'))).toThrow(
      '--userns-remap: alice has 1000 subordinate uids; a container needs 65536 (0 to 65535)',
    );
    expect(() => remapFromFiles({ kind: 'user', user: 'alice' }, files('alice:0:65536\n'))).toThrow(
      /starts at 0, which would map containers to root/,
    );
  });
});

describe(IdMap.name, () => {
  const map = new IdMap(
    [{ insideId: 0, outsideId: 100000, count: 65536 }],
    [{ insideId: 0, outsideId: 200000, count: 65536 }],
  );

  it('shifts ids both ways, showing an unmapped host id as nobody', () => {
    expect([map.hostUid(0), map.hostUid(1000), map.hostGid(1000)]).toEqual([100000, 101000, 201000]);
    expect([map.containerUid(101000), map.containerGid(201000)]).toEqual([1000, 1000]);
    expect(map.containerUid(0)).toBe(OVERFLOW_ID);
  });

  it('refuses an id beyond its ranges', () => {
    expect(() => map.hostUid(65536)).toThrow(UnmappableIdError);
    expect(() => map.hostGid(70000)).toThrow('container gid 70000 cannot be mapped to a host gid');
  });
});

/** /etc in memory, changed the way useradd and usermod would. */
class MemoryHost implements RemapHost {
  readonly calls: string[] = [];
  constructor(public files: AccountFiles) {}
  readAccountFiles(): Promise<AccountFiles> {
    return Promise.resolve({ ...this.files });
  }
  addSystemUser(name: string): Promise<void> {
    this.calls.push(`useradd ${name}`);
    this.files.passwd += `${name}:x:999:999::/nonexistent:/usr/sbin/nologin\n`;
    return Promise.resolve();
  }
  addSubordinateRanges(name: string, uids?: SubordinateRange, gids?: SubordinateRange): Promise<void> {
    this.calls.push(`usermod ${name} ${uids?.start ?? '-'} ${gids?.start ?? '-'}`);
    if (uids) this.files.subuid += `${name}:${uids.start}:${uids.count}\n`;
    if (gids) this.files.subgid += `${name}:${gids.start}:${gids.count}\n`;
    return Promise.resolve();
  }
}

describe(resolveRemap.name, () => {
  it('creates the default user and a free range the first time, and nothing the next', async () => {
    const host = new MemoryHost({ passwd, group, subuid: 'alice:100000:65536\n', subgid: 'alice:100000:65536\n' });
    const first = await resolveRemap({ kind: 'default' }, host);
    expect(host.calls).toEqual(['useradd skiffremap', 'usermod skiffremap 165536 165536']);
    expect(first.created).toEqual(['user skiffremap', 'subordinate ids 165536-231071']);
    expect(first.map.root).toEqual({ uid: 165536, gid: 165536 });

    const again = await resolveRemap({ kind: 'default' }, host);
    expect(again.created).toEqual([]);
    expect(host.calls).toHaveLength(2);
    expect(again.map.root).toEqual(first.map.root);
  });

  it('creates nothing for a named user', async () => {
    const host = new MemoryHost({ passwd, group, subuid: '', subgid: '' });
    await expect(resolveRemap({ kind: 'user', user: 'alice' }, host)).rejects.toThrow(/\/etc\/subuid has no range/);
    expect(host.calls).toEqual([]);
  });
});
