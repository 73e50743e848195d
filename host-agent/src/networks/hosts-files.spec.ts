import { describe, expect, it } from 'vitest';
import { hostsFile, parseExtraHosts, resolvConf } from './hosts-files.js';

describe('hostsFile', () => {
  it("lists localhost, --add-host entries and the container's own name", () => {
    const text = hostsFile({
      hostname: 'web',
      addresses: ['10.1.0.2'],
      extraHosts: parseExtraHosts(['db.example:10.9.9.9', 'gw:host-gateway'], '172.31.0.1'),
    });
    expect(text).toMatch(/^127\.0\.0\.1\tlocalhost$/m);
    expect(text).toMatch(/^10\.9\.9\.9\tdb\.example$/m);
    expect(text).toMatch(/^172\.31\.0\.1\tgw$/m);
    expect(text.trimEnd().split('\n').at(-1)).toBe('10.1.0.2\tweb');
  });

  it('refuses an --add-host without an address', () => {
    expect(() => parseExtraHosts(['justaname'], undefined)).toThrow(/invalid --add-host/);
    expect(() => parseExtraHosts(['x:not-an-ip'], undefined)).toThrow(/invalid --add-host/);
  });
});

describe('resolvConf', () => {
  const host = 'nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n';

  it("keeps the host's reachable servers and its search domains", () => {
    expect(resolvConf({ host, dns: [], dnsSearch: [], dnsOptions: [] })).toBe(
      'nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n',
    );
  });

  it("falls back to Google's servers when the host has only loopback ones", () => {
    expect(resolvConf({ host: 'nameserver 127.0.0.53\n', dns: [], dnsSearch: [], dnsOptions: [] })).toBe(
      'nameserver 8.8.8.8\nnameserver 8.8.4.4\n',
    );
  });

  it('uses --dns, --dns-search and --dns-option when given', () => {
    expect(resolvConf({ host, dns: ['10.0.0.53'], dnsSearch: ['a.example'], dnsOptions: ['ndots:2'] })).toBe(
      'nameserver 10.0.0.53\nsearch a.example\noptions ndots:2\n',
    );
    expect(() => resolvConf({ host, dns: ['dns.example'], dnsSearch: [], dnsOptions: [] })).toThrow(/invalid --dns/);
  });

  it('points containers on a user network at the embedded server', () => {
    expect(resolvConf({ host, dns: [], dnsSearch: [], dnsOptions: [], embedded: '172.24.0.1' })).toBe(
      'nameserver 172.24.0.1\nsearch corp.example\noptions ndots:0\n',
    );
  });
});
