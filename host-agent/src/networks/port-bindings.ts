import { invalidArgument } from '../engine-error.js';
import { tryParseIpv4 } from './ipv4.js';

/** One published port as asked for: a host port, a range of them to choose from, or any (0). */
export interface PortRequest {
  protocol: 'tcp' | 'udp';
  containerPort: number;
  /** '' means every address. */
  hostIp: string;
  hostPortFirst: number;
  hostPortLast: number;
}

/** `80`, `80/tcp`, `53/udp` → port and protocol (the keys of ExposedPorts and PortBindings). */
export function parsePortKey(key: string): { port: number; protocol: 'tcp' | 'udp' } {
  const match = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(key.trim().toLowerCase());
  const port = match ? Number(match[1]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw invalidArgument(`invalid port ${JSON.stringify(key)}: expected port[/tcp|udp] with a port from 1 to 65535`);
  }
  if (match[2] === 'sctp') throw invalidArgument(`invalid port ${JSON.stringify(key)}: sctp is not supported`);
  return { port, protocol: (match[2] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
}

/** `8080`, `8000-8010` or '' (any free port) → the range of host ports. */
export function parseHostPort(text: string): { first: number; last: number } {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === '0') return { first: 0, last: 0 };
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(trimmed);
  const first = match ? Number(match[1]) : NaN;
  const last = match?.[2] ? Number(match[2]) : first;
  if (!match || first < 1 || last > 65535 || last < first) {
    throw invalidArgument(`invalid host port ${JSON.stringify(text)}: expected a port or a range such as 8000-8010`);
  }
  return { first, last };
}

/**
 * `HostConfig.PortBindings` (as the docker CLI sends `-p [ip:][hostPort:]containerPort[/proto]`,
 * one key per container port, ranges already split) and `PublishAllPorts` (`-P`: every exposed
 * port on a free host port). Checked before anything is created.
 */
export function parsePortBindings(
  bindings: unknown,
  exposedPorts: readonly string[],
  publishAll: boolean,
): PortRequest[] {
  const requests: PortRequest[] = [];
  const bound = new Set<string>();
  if (bindings !== undefined && bindings !== null) {
    if (typeof bindings !== 'object' || Array.isArray(bindings)) {
      throw invalidArgument('invalid HostConfig.PortBindings: expected an object of port to bindings');
    }
    for (const [key, list] of Object.entries(bindings as Record<string, unknown>)) {
      const { port, protocol } = parsePortKey(key);
      bound.add(`${port}/${protocol}`);
      if (list === null) continue;
      if (!Array.isArray(list)) throw invalidArgument(`invalid HostConfig.PortBindings[${key}]: expected a list`);
      for (const item of list as unknown[]) {
        const binding = (item ?? {}) as { HostIp?: unknown; HostPort?: unknown };
        if (
          typeof item !== 'object' ||
          (binding.HostIp !== undefined && typeof binding.HostIp !== 'string') ||
          (binding.HostPort !== undefined && typeof binding.HostPort !== 'string')
        ) {
          throw invalidArgument(`invalid HostConfig.PortBindings[${key}]: expected {"HostIp": "…", "HostPort": "…"}`);
        }
        const hostIp = parseHostIp(binding.HostIp ?? '');
        const range = parseHostPort(binding.HostPort ?? '');
        requests.push({ protocol, containerPort: port, hostIp, hostPortFirst: range.first, hostPortLast: range.last });
      }
    }
  }
  if (publishAll) {
    for (const key of exposedPorts) {
      const { port, protocol } = parsePortKey(key);
      if (bound.has(`${port}/${protocol}`)) continue;
      requests.push({ protocol, containerPort: port, hostIp: '', hostPortFirst: 0, hostPortLast: 0 });
    }
  }
  return requests;
}

function parseHostIp(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === '0.0.0.0') return '';
  if (trimmed === '::' || trimmed === '[::]') return '';
  if (tryParseIpv4(trimmed) === undefined) {
    throw invalidArgument(
      `invalid host address ${JSON.stringify(text)} for a published port: expected an IPv4 address`,
    );
  }
  return trimmed;
}
