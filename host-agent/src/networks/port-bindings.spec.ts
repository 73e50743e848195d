import { describe, expect, it } from 'vitest';
import { parseHostPort, parsePortBindings, parsePortKey } from './port-bindings.js';

describe('parsePortKey', () => {
  it('reads port and protocol, tcp by default', () => {
    expect(parsePortKey('80')).toEqual({ port: 80, protocol: 'tcp' });
    expect(parsePortKey('53/udp')).toEqual({ port: 53, protocol: 'udp' });
  });

  it('refuses ports out of range and unknown protocols', () => {
    expect(() => parsePortKey('0/tcp')).toThrow(/invalid port/);
    expect(() => parsePortKey('70000')).toThrow(/invalid port/);
    expect(() => parsePortKey('80/icmp')).toThrow(/invalid port/);
    expect(() => parsePortKey('80/sctp')).toThrow(/sctp is not supported/);
  });
});

describe('parseHostPort', () => {
  it('reads a port, a range, or any', () => {
    expect(parseHostPort('8080')).toEqual({ first: 8080, last: 8080 });
    expect(parseHostPort('8000-8010')).toEqual({ first: 8000, last: 8010 });
    expect(parseHostPort('')).toEqual({ first: 0, last: 0 });
  });

  it('refuses reversed ranges and garbage', () => {
    expect(() => parseHostPort('8010-8000')).toThrow(/invalid host port/);
    expect(() => parseHostPort('http')).toThrow(/invalid host port/);
  });
});

describe('parsePortBindings', () => {
  it('turns -p ip:host:container/proto as the CLI sends it into requests', () => {
    expect(
      parsePortBindings(
        { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '53/udp': [{ HostIp: '', HostPort: '' }] },
        [],
        false,
      ),
    ).toEqual([
      { protocol: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortFirst: 8080, hostPortLast: 8080 },
      { protocol: 'udp', containerPort: 53, hostIp: '', hostPortFirst: 0, hostPortLast: 0 },
    ]);
  });

  it('publishes every exposed port not bound otherwise with -P', () => {
    const requests = parsePortBindings({ '80/tcp': [{ HostIp: '', HostPort: '8080' }] }, ['80/tcp', '443/tcp'], true);
    expect(requests.map((request) => [request.containerPort, request.hostPortFirst])).toEqual([
      [80, 8080],
      [443, 0],
    ]);
  });

  it('refuses a host address that is no IPv4 address and bindings of the wrong shape', () => {
    expect(() => parsePortBindings({ '80/tcp': [{ HostIp: 'example.com', HostPort: '1' }] }, [], false)).toThrow(
      /invalid host address/,
    );
    expect(() => parsePortBindings({ '80/tcp': 'x' }, [], false)).toThrow(/expected a list/);
    expect(() => parsePortBindings({ '80/tcp': [{ HostPort: 80 }] }, [], false)).toThrow(/HostPort/);
  });
});
