import { describe, expect, it } from 'vitest';
import { parseMountOptions } from './mount-options.js';

describe(parseMountOptions.name, () => {
  it('passes filesystem options through as data, in order', () => {
    expect(parseMountOptions('size=100m,uid=1000')).toEqual({ flags: [], data: 'size=100m,uid=1000' });
  });

  it('takes flag words out of the data', () => {
    expect(parseMountOptions('ro,size=1m,nosuid,mode=1777,nodev,noexec')).toEqual({
      flags: ['ro', 'nosuid', 'nodev', 'noexec'],
      data: 'size=1m,mode=1777',
    });
  });

  it('reads bind and rbind as flags', () => {
    expect(parseMountOptions('bind')).toEqual({ flags: ['bind'], data: '' });
    expect(parseMountOptions('rbind,ro')).toEqual({ flags: ['ro', 'rbind'], data: '' });
  });

  it('lets rbind absorb bind, since it is MS_BIND|MS_REC', () => {
    expect(parseMountOptions('bind,rbind').flags).toEqual(['rbind']);
  });

  it('lets a later word clear an earlier flag, as mount(8) does', () => {
    expect(parseMountOptions('ro,rw').flags).toEqual([]);
    expect(parseMountOptions('rw,ro').flags).toEqual(['ro']);
    expect(parseMountOptions('nosuid,suid,nodev,dev,noexec,exec,sync,async,noatime,atime').flags).toEqual([]);
  });

  it('never passes a clearing word on as data', () => {
    expect(parseMountOptions('rw,exec,size=1m')).toEqual({ flags: [], data: 'size=1m' });
  });

  it('keeps propagation flags for the mounter', () => {
    expect(parseMountOptions('bind,rprivate,slave').flags).toEqual(['bind', 'rprivate', 'slave']);
  });

  it('drops defaults and empty words', () => {
    expect(parseMountOptions('defaults,,size=1m,')).toEqual({ flags: [], data: 'size=1m' });
    expect(parseMountOptions('')).toEqual({ flags: [], data: '' });
  });

  it('passes unknown bare words and NFS options on as data', () => {
    expect(parseMountOptions('addr=10.0.0.1,nfsvers=4,soft,rw')).toEqual({
      flags: [],
      data: 'addr=10.0.0.1,nfsvers=4,soft',
    });
  });

  it('treats names of Object.prototype as plain data', () => {
    expect(parseMountOptions('constructor,toString')).toEqual({ flags: [], data: 'constructor,toString' });
  });
});
