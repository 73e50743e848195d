import { invalidArgument } from '../engine-error.js';
import { tryParseIpv4 } from './ipv4.js';

/** What a container's /etc/hosts, /etc/resolv.conf and /etc/hostname say. */
export interface HostsFileInput {
  hostname: string;
  domainname?: string;
  /** The container's own addresses (first is its main one). */
  addresses: string[];
  /** `--add-host name:ip` (already checked). */
  extraHosts: { name: string; address: string }[];
}

const LOCAL = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

export function hostsFile(input: HostsFileInput): string {
  const lines = [...LOCAL];
  for (const extra of input.extraHosts) lines.push(`${extra.address}\t${extra.name}`);
  const names = input.domainname ? `${input.hostname}.${input.domainname} ${input.hostname}` : input.hostname;
  for (const address of input.addresses) lines.push(`${address}\t${names}`);
  return `${lines.join('\n')}\n`;
}

/** `--add-host name:ip` (also `name=ip`); `host-gateway` stands for the given gateway. */
export function parseExtraHosts(entries: readonly string[], hostGateway: string | undefined) {
  return entries.map((entry) => {
    const separator = entry.search(/[:=]/);
    const name = separator < 0 ? '' : entry.slice(0, separator);
    let address = separator < 0 ? '' : entry.slice(separator + 1);
    if (address === 'host-gateway') {
      if (!hostGateway) throw invalidArgument(`cannot resolve host-gateway for --add-host ${entry}: no bridge`);
      address = hostGateway;
    }
    if (
      !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(name) ||
      (tryParseIpv4(address) === undefined && !/^[0-9a-fA-F:]+$/.test(address))
    ) {
      throw invalidArgument(`invalid --add-host ${JSON.stringify(entry)}: expected name:address`);
    }
    return { name, address };
  });
}

export interface ResolvConfInput {
  /** The host's /etc/resolv.conf. */
  host: string;
  /** `--dns`; when empty, the host's (or the embedded DNS server). */
  dns: readonly string[];
  dnsSearch: readonly string[];
  dnsOptions: readonly string[];
  /** The embedded DNS server's address for containers on user networks. */
  embedded?: string;
}

/**
 * As dockerd writes it: the host's servers without loopback ones (unreachable from the container),
 * Google's when none is left; on a user network, the embedded server (which forwards to the host's).
 */
export function resolvConf(input: ResolvConfInput): string {
  const hostLines = input.host.split('\n').map((line) => line.trim().split(/\s+/));
  const hostServers = hostLines.filter((words) => words[0] === 'nameserver' && words[1]).map((words) => words[1]);
  const hostSearch = hostLines
    .filter((words) => words[0] === 'search' || words[0] === 'domain')
    .flatMap((w) => w.slice(1));
  const hostOptions = hostLines.filter((words) => words[0] === 'options').flatMap((w) => w.slice(1));
  for (const server of input.dns) {
    if (tryParseIpv4(server) === undefined && !/^[0-9a-fA-F:]+$/.test(server)) {
      throw invalidArgument(`invalid --dns ${JSON.stringify(server)}: expected an IP address`);
    }
  }
  for (const word of [...input.dnsSearch, ...input.dnsOptions]) {
    if (!/^[\x21-\x7e]+$/.test(word))
      throw invalidArgument(`invalid DNS search domain or option ${JSON.stringify(word)}`);
  }
  let servers: string[];
  if (input.dns.length) servers = [...input.dns];
  else if (input.embedded) servers = [input.embedded];
  else {
    servers = hostServers.filter((server) => !server.startsWith('127.') && server !== '::1');
    if (!servers.length) servers = ['8.8.8.8', '8.8.4.4'];
  }
  const search = input.dnsSearch.length ? input.dnsSearch : hostSearch;
  const options = input.dnsOptions.length ? input.dnsOptions : input.embedded ? ['ndots:0'] : hostOptions;
  const lines = servers.map((server) => `nameserver ${server}`);
  if (search.length && !(search.length === 1 && search[0] === '.')) lines.push(`search ${search.join(' ')}`);
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}
