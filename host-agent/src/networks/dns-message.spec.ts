import { describe, expect, it } from 'vitest';
import {
  DNS_RCODE,
  DNS_TYPE,
  encodeDnsAnswer,
  encodeDnsQuery,
  encodeName,
  parseDnsAnswer,
  parseDnsQuery,
} from './dns-message.js';

describe('DNS messages', () => {
  it('encodes names as length-prefixed labels', () => {
    expect(encodeName('web.local')).toEqual(Buffer.from([3, 119, 101, 98, 5, 108, 111, 99, 97, 108, 0]));
    expect(() => encodeName('a'.repeat(64))).toThrow(/too long/);
  });

  it('reads a query back', () => {
    const query = parseDnsQuery(encodeDnsQuery(0x1234, 'db.backend', DNS_TYPE.A));
    expect(query).toMatchObject({ id: 0x1234, rd: true, question: { name: 'db.backend', type: 1, class: 1 } });
  });

  it('answers with A records that point back at the question', () => {
    const query = parseDnsQuery(encodeDnsQuery(7, 'web', DNS_TYPE.A))!;
    const answer = encodeDnsAnswer(query, DNS_RCODE.noError, ['10.1.0.2', '10.1.0.3']);
    expect(answer.readUInt16BE(2) & 0x8000).toBe(0x8000);
    expect(parseDnsAnswer(answer)).toEqual({ id: 7, rcode: 0, addresses: ['10.1.0.2', '10.1.0.3'] });
  });

  it('says NXDOMAIN and SERVFAIL with no records', () => {
    const query = parseDnsQuery(encodeDnsQuery(9, 'nothing', DNS_TYPE.A))!;
    expect(parseDnsAnswer(encodeDnsAnswer(query, DNS_RCODE.nameError))).toEqual({ id: 9, rcode: 3, addresses: [] });
    expect(parseDnsAnswer(encodeDnsAnswer(query, DNS_RCODE.serverFailure)).rcode).toBe(2);
  });

  it('ignores responses, truncated packets and compressed questions', () => {
    const query = encodeDnsQuery(1, 'web', DNS_TYPE.A);
    const response = Buffer.from(query);
    response.writeUInt16BE(0x8100, 2);
    expect(parseDnsQuery(response)).toBeUndefined();
    expect(parseDnsQuery(query.subarray(0, 14))).toBeUndefined();
    const compressed = Buffer.from(query);
    compressed[12] = 0xc0;
    expect(parseDnsQuery(compressed)).toBeUndefined();
  });
});
