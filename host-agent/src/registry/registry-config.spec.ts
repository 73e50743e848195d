import { describe, expect, it } from 'vitest';

import { defaultRegistryConfig, hostOf, isInsecureRegistry, parseRegistryConfig } from './registry-config.js';

describe(parseRegistryConfig.name, () => {
  it('reads mirrors and insecure registries in daemon.json terms', () => {
    const config = parseRegistryConfig({
      'registry-mirrors': ['https://mirror.example.com'],
      'insecure-registries': ['Registry.LAN:5000', '10.0.0.0/8', 'fd00::/8'],
    });
    expect(config.mirrors.map((url) => url.origin)).toEqual(['https://mirror.example.com']);
    expect(config.insecureHosts).toEqual(['registry.lan:5000']);
    expect(config.insecureNetworks).toContainEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(config.insecureNetworks).toContainEqual({ address: 'fd00::', prefix: 8, family: 'ipv6' });
  });

  it('refuses unknown settings, mirrors with paths and malformed entries, naming them', () => {
    expect(() => parseRegistryConfig({ mirrors: [] })).toThrow('unknown setting "mirrors"');
    expect(() => parseRegistryConfig({ 'registry-mirrors': ['https://m.example/v2/'] })).toThrow('must have no path');
    expect(() => parseRegistryConfig({ 'registry-mirrors': ['ftp://m.example'] })).toThrow(
      'must be an http or https URL',
    );
    expect(() => parseRegistryConfig({ 'insecure-registries': ['http://r:5000'] })).toThrow('without a scheme');
    expect(() => parseRegistryConfig({ 'insecure-registries': ['10.0.0.0/40'] })).toThrow('not a valid CIDR network');
    expect(() => parseRegistryConfig({ 'insecure-registries': 'r:5000' })).toThrow('must be a list of strings');
  });
});

describe(isInsecureRegistry.name, () => {
  const resolveTo = (addresses: string[]) => () => Promise.resolve(addresses);

  it('treats loopback registries as insecure by default, as dockerd does', async () => {
    const config = defaultRegistryConfig();
    expect(await isInsecureRegistry(config, '127.0.0.1:5000')).toBe(true);
    expect(await isInsecureRegistry(config, '127.8.9.10')).toBe(true);
    expect(await isInsecureRegistry(config, '[::1]:5000')).toBe(true);
    expect(await isInsecureRegistry(config, 'localhost:5000', resolveTo(['127.0.0.1', '::1']))).toBe(true);
    expect(await isInsecureRegistry(config, 'registry.example.com', resolveTo(['93.184.216.34']))).toBe(false);
    expect(await isInsecureRegistry(config, '10.1.2.3:5000')).toBe(false);
  });

  it('follows the configured names and networks', async () => {
    const config = parseRegistryConfig({ 'insecure-registries': ['registry.lan:5000', '10.0.0.0/8'] });
    expect(await isInsecureRegistry(config, 'registry.lan:5000', resolveTo(['192.168.1.1']))).toBe(true);
    expect(await isInsecureRegistry(config, 'registry.lan:5001', resolveTo(['192.168.1.1']))).toBe(false);
    expect(await isInsecureRegistry(config, '10.1.2.3:5000')).toBe(true);
    expect(await isInsecureRegistry(config, 'build.lan', resolveTo(['10.9.9.9']))).toBe(true);
  });

  it('is secure when the name does not resolve', async () => {
    const config = defaultRegistryConfig();
    expect(await isInsecureRegistry(config, 'nowhere.invalid', () => Promise.reject(new Error('ENOTFOUND')))).toBe(
      false,
    );
  });
});

describe(hostOf.name, () => {
  it('drops the port, keeping IPv6 addresses whole', () => {
    expect(hostOf('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(hostOf('[::1]:5000')).toBe('::1');
    expect(hostOf('registry.lan')).toBe('registry.lan');
  });
});
