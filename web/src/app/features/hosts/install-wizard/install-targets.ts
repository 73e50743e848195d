/** One SSH address of the wizard's list: `host`, `host:port`, `[v6]:port` or a bare IPv6 address. */
export interface TargetAddress {
  address: string;
  port: number;
}

const HOST = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/**
 * Reads the address list (one per line, or separated by commas or blanks). Throws with the line
 * that is not an address; duplicates are dropped.
 */
export function parseTargets(text: string): TargetAddress[] {
  const targets: TargetAddress[] = [];
  const seen = new Set<string>();
  for (const word of text.split(/[\s,]+/).filter(Boolean)) {
    const target = parseOne(word);
    const key = `${target.address}:${target.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    targets.push(target);
  }
  return targets;
}

function parseOne(word: string): TargetAddress {
  let address = word;
  let port = 22;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(word);
  if (bracketed) {
    address = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
    if (!IPV6.test(address)) throw new Error(`"${word}" is not an address`);
  } else if ((word.match(/:/g) ?? []).length === 1) {
    const [host, portText] = word.split(':');
    address = host ?? '';
    port = Number(portText);
    if (!HOST.test(address)) throw new Error(`"${word}" is not an address`);
  } else if (word.includes(':')) {
    if (!IPV6.test(word)) throw new Error(`"${word}" is not an address`);
  } else if (!HOST.test(word)) {
    throw new Error(`"${word}" is not an address`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${word}": the port must be 1 to 65535`);
  return { address, port };
}

export function targetLabel(target: TargetAddress): string {
  const host = target.address.includes(':') ? `[${target.address}]` : target.address;
  return target.port === 22 ? host : `${host}:${target.port}`;
}
