import { describe, expect, it } from 'vitest';
import type { AuditEventEntity } from '../entities/audit-event.entity.js';
import { csvCell, csvHeader, csvLine, ndjsonLine } from './audit-export.js';

const event: AuditEventEntity = {
  id: '42',
  at: new Date('2026-11-28T10:00:00.000Z'),
  actorType: 'user',
  actorId: 'u1',
  actorName: '=HYPERLINK("http://evil")',
  userId: 'u1',
  action: 'container.create',
  target: 'web, "one"',
  hostId: null,
  outcome: 'failure',
  status: 500,
  error: 'line one\nline two',
  durationMs: 12,
  address: '10.0.0.1',
  client: '-curl',
  details: { body: { Image: 'busybox' } },
  hashVersion: 2,
  prevHash: 'a'.repeat(64),
  hash: 'b'.repeat(64),
};

describe('csvCell', () => {
  it('quotes fields with a comma, a quote or a line break, doubling quotes (RFC 4180)', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('a\r\nb')).toBe('"a\r\nb"');
  });

  it('keeps a spreadsheet from reading a cell as a formula', () => {
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-1')).toBe("'-1");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('=A1,B1')).toBe(`"'=A1,B1"`);
  });
});

describe('csvLine', () => {
  it('writes one CRLF-terminated record with the columns of the header', () => {
    expect(csvHeader()).toBe(
      'id,at,actorType,actorId,actorName,userId,action,target,hostId,outcome,status,error,durationMs,address,client,details,prevHash,hash\r\n',
    );
    expect(csvLine(event)).toBe(
      [
        '42',
        '2026-11-28T10:00:00.000Z',
        'user',
        'u1',
        `"'=HYPERLINK(""http://evil"")"`,
        'u1',
        'container.create',
        '"web, ""one"""',
        '',
        'failure',
        '500',
        '"line one\nline two"',
        '12',
        '10.0.0.1',
        "'-curl",
        '"{""body"":{""Image"":""busybox""}}"',
        'a'.repeat(64),
        'b'.repeat(64),
      ].join(',') + '\r\n',
    );
  });
});

describe('ndjsonLine', () => {
  it('writes one JSON document and a newline, without the hash version', () => {
    const line = ndjsonLine(event);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    const parsed = JSON.parse(line);
    expect(parsed).toMatchObject({ id: '42', at: '2026-11-28T10:00:00.000Z', error: 'line one\nline two' });
    expect(parsed).not.toHaveProperty('hashVersion');
  });
});
