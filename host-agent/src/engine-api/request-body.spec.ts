import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseJsonBody, readBody } from './request-body.js';

describe(readBody.name, () => {
  it('joins the chunks of a body', async () => {
    expect((await readBody(Readable.from([Buffer.from('{"a"'), Buffer.from(':1}')]), 100)).toString()).toBe('{"a":1}');
  });

  it('refuses a body over the limit with 400 and stops reading it', async () => {
    const body = Readable.from([Buffer.alloc(600), Buffer.alloc(600)]);

    await expect(readBody(body, 1000)).rejects.toMatchObject({ kind: 'invalid-argument' });
    expect(body.destroyed).toBe(true);
  });

  it('says the limit in MiB', async () => {
    await expect(readBody(Readable.from([Buffer.alloc(2 * 1024 * 1024)]), 1024 * 1024)).rejects.toThrow(
      'request body is larger than 1 MiB',
    );
  });
});

describe(parseJsonBody.name, () => {
  it('parses JSON, unknown fields included', () => {
    expect(parseJsonBody(Buffer.from('{"Image":"busybox","ConsoleSize":[30,100]}'))).toEqual({
      Image: 'busybox',
      ConsoleSize: [30, 100],
    });
  });

  it('gives undefined for an empty body', () => {
    expect(parseJsonBody(Buffer.alloc(0))).toBeUndefined();
    expect(parseJsonBody(Buffer.from(' \n'))).toBeUndefined();
  });

  it('refuses malformed JSON with 400', () => {
    expect(() => parseJsonBody(Buffer.from('{"Image":'))).toThrow(/malformed JSON in request body/);
    try {
      parseJsonBody(Buffer.from('nope'));
    } catch (error) {
      expect(error).toMatchObject({ kind: 'invalid-argument' });
    }
  });
});
