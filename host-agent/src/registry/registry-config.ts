/**
 * The engine's registry settings, in dockerd's daemon.json terms, from an optional JSON file
 * (`<root>/registries.json`, read at every pull, push or login, so a change needs no restart):
 *
 *   { "registry-mirrors": ["https://mirror.example.com"],
 *     "insecure-registries": ["registry.lan:5000", "10.0.0.0/8"] }
 *
 * Mirrors serve Docker Hub pulls, tried in order before Docker Hub itself. An insecure registry
 * is reached over HTTPS without certificate checks, or else over plain HTTP. Registries on
 * 127.0.0.0/8 and ::1 are insecure by default, as in dockerd.
 */
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';

import { invalidArgument } from '../engine-error.js';

export interface RegistryConfig {
  /** Docker Hub mirrors, e.g. `https://mirror.example.com` (no path). */
  mirrors: URL[];
  /** `host[:port]` names (lower case) reached insecurely. */
  insecureHosts: string[];
  /** Networks whose registries are reached insecurely (the loopback ones always). */
  insecureNetworks: { address: string; prefix: number; family: 'ipv4' | 'ipv6' }[];
}

const DEFAULT_INSECURE_NETWORKS: RegistryConfig['insecureNetworks'] = [
  { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
  { address: '::1', prefix: 128, family: 'ipv6' },
];

export function defaultRegistryConfig(): RegistryConfig {
  return { mirrors: [], insecureHosts: [], insecureNetworks: [...DEFAULT_INSECURE_NETWORKS] };
}

/** Checks and reads the JSON settings; `what` names the source in errors. */
export function parseRegistryConfig(value: unknown, what = 'registry settings'): RegistryConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`${what}: expected a JSON object`);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'registry-mirrors' && key !== 'insecure-registries') {
      throw invalidArgument(`${what}: unknown setting "${key}" (known: registry-mirrors, insecure-registries)`);
    }
  }
  const config = defaultRegistryConfig();
  for (const entry of stringList(record['registry-mirrors'], `${what}: registry-mirrors`)) {
    config.mirrors.push(parseMirror(entry, what));
  }
  for (const entry of stringList(record['insecure-registries'], `${what}: insecure-registries`)) {
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr !== null) {
      const address = cidr[1] ?? '';
      const prefix = Number(cidr[2]);
      const version = isIP(address);
      if (version === 0 || prefix > (version === 4 ? 32 : 128)) {
        throw invalidArgument(`${what}: insecure-registries entry "${entry}" is not a valid CIDR network`);
      }
      config.insecureNetworks.push({ address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' });
      continue;
    }
    if (/^[a-z]+:\/\//i.test(entry)) {
      throw invalidArgument(`${what}: insecure-registries entry "${entry}" must be host[:port], without a scheme`);
    }
    if (!/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/.test(entry)) {
      throw invalidArgument(`${what}: insecure-registries entry "${entry}" is not host[:port] or a CIDR network`);
    }
    config.insecureHosts.push(entry.toLowerCase());
  }
  return config;
}

function stringList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalidArgument(`${what} must be a list of strings`);
  }
  return value.map((item) => item.trim()).filter((item) => item !== '');
}

function parseMirror(entry: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw invalidArgument(`${what}: registry mirror "${entry}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidArgument(`${what}: registry mirror "${entry}" must be an http or https URL`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
    throw invalidArgument(`${what}: registry mirror "${entry}" must have no path, query or credentials`);
  }
  return url;
}

/** Reads the settings file; a missing file means the defaults. */
export async function loadRegistryConfig(path: string | undefined): Promise<RegistryConfig> {
  if (path === undefined) return defaultRegistryConfig();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultRegistryConfig();
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalidArgument(`registry settings ${path} are not valid JSON`);
  }
  return parseRegistryConfig(json, `registry settings ${path}`);
}

/** `127.0.0.1:5000` → `127.0.0.1`, `[::1]:5000` → `::1`, `registry.lan` → `registry.lan`. */
export function hostOf(registry: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(registry);
  if (bracketed !== null) return bracketed[1] ?? registry;
  const colon = registry.lastIndexOf(':');
  return colon === -1 ? registry : registry.slice(0, colon);
}

/** True when every address in `addresses` lies in one of the insecure networks. */
export function inInsecureNetwork(config: RegistryConfig, addresses: readonly string[]): boolean {
  if (addresses.length === 0) return false;
  const list = new BlockList();
  for (const network of config.insecureNetworks) list.addSubnet(network.address, network.prefix, network.family);
  return addresses.every((address) => {
    const version = isIP(address);
    return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  });
}

/** Whether a registry (`host[:port]`) is insecure: listed by name, or resolving into an insecure network. */
export async function isInsecureRegistry(
  config: RegistryConfig,
  registry: string,
  resolve: (host: string) => Promise<string[]> = resolveHost,
): Promise<boolean> {
  if (config.insecureHosts.includes(registry.toLowerCase())) return true;
  const host = hostOf(registry);
  if (isIP(host) !== 0) return inInsecureNetwork(config, [host]);
  try {
    return inInsecureNetwork(config, await resolve(host));
  } catch {
    return false;
  }
}

async function resolveHost(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((entry) => entry.address);
}
