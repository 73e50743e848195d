/** The small part of DNS (RFC 1035) the embedded server needs: read a query, write an answer. */

export const DNS_TYPE = { A: 1, AAAA: 28, ANY: 255 } as const;
export const DNS_RCODE = { noError: 0, formatError: 1, serverFailure: 2, nameError: 3 } as const;

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsQuery {
  id: number;
  /** Recursion desired. */
  rd: boolean;
  opcode: number;
  question: DnsQuestion;
  /** The question's bytes as sent (echoed in the answer). */
  questionBytes: Buffer;
}

/** A query with exactly one question, or undefined for anything else (a response, a truncated packet). */
export function parseDnsQuery(packet: Buffer): DnsQuery | undefined {
  if (packet.length < 12) return undefined;
  const flags = packet.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response
  if (packet.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= packet.length) return undefined;
    const length = packet[at];
    if (length === 0) {
      at += 1;
      break;
    }
    if (length > 63 || at + 1 + length > packet.length) return undefined; // no compression in a question
    labels.push(packet.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  if (at + 4 > packet.length) return undefined;
  return {
    id: packet.readUInt16BE(0),
    rd: (flags & 0x0100) !== 0,
    opcode: (flags >> 11) & 0xf,
    question: { name: labels.join('.'), type: packet.readUInt16BE(at), class: packet.readUInt16BE(at + 2) },
    questionBytes: packet.subarray(12, at + 4),
  };
}

/** Encodes a name as labels; throws on a label over 63 bytes. */
export function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean);
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const bytes = Buffer.from(part, 'latin1');
    if (bytes.length > 63) throw new Error(`dns label too long: ${part}`);
    chunks.push(Buffer.from([bytes.length]), bytes);
  }
  chunks.push(Buffer.from([0]));
  return Buffer.concat(chunks);
}

/** A query for `name` (used by the tests and by nothing else). */
export function encodeDnsQuery(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([header, encodeName(name), tail]);
}

/** The answer to a query: A records for `addresses` (IPv4, dotted), with the given rcode. */
export function encodeDnsAnswer(query: DnsQuery, rcode: number, addresses: readonly string[] = [], ttl = 600): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.id, 0);
  // QR, the query's opcode and RD, RA, rcode; authoritative for our own names.
  const flags =
    0x8000 |
    (query.opcode << 11) |
    (rcode === DNS_RCODE.noError && addresses.length ? 0x0400 : 0) |
    (query.rd ? 0x0100 : 0) |
    0x0080 |
    (rcode & 0xf);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // a pointer to the question's name
    record.writeUInt16BE(DNS_TYPE.A, 2);
    record.writeUInt16BE(1, 4);
    record.writeUInt32BE(ttl, 6);
    record.writeUInt16BE(4, 10);
    address.split('.').forEach((part, index) => record.writeUInt8(Number(part), 12 + index));
    return record;
  });
  return Buffer.concat([header, query.questionBytes, ...records]);
}

/** The A records of an answer (for the tests). */
export function parseDnsAnswer(packet: Buffer): { id: number; rcode: number; addresses: string[] } {
  const id = packet.readUInt16BE(0);
  const rcode = packet.readUInt16BE(2) & 0xf;
  const answers = packet.readUInt16BE(6);
  let at = 12;
  const skipName = () => {
    for (;;) {
      const length = packet[at];
      if ((length & 0xc0) === 0xc0) {
        at += 2;
        return;
      }
      at += 1 + length;
      if (length === 0) return;
    }
  };
  skipName();
  at += 4;
  const addresses: string[] = [];
  for (let index = 0; index < answers; index++) {
    skipName();
    const type = packet.readUInt16BE(at);
    const length = packet.readUInt16BE(at + 8);
    if (type === DNS_TYPE.A && length === 4) addresses.push([...packet.subarray(at + 10, at + 14)].join('.'));
    at += 10 + length;
  }
  return { id, rcode, addresses };
}
