import { describe, expect, it } from 'vitest';
import { HEALTH_DEFAULTS, healthProbe, mergeHealthcheck, parseHealthcheck } from './health-config.js';

const SECOND = 1_000_000_000;

describe('healthcheck configuration', () => {
  it('accepts the forms the docker CLI sends', () => {
    expect(parseHealthcheck({ Test: ['CMD-SHELL', 'test -f /ok'], Interval: 2 * SECOND, Retries: 2 })).toEqual({
      Test: ['CMD-SHELL', 'test -f /ok'],
      Interval: 2 * SECOND,
      Retries: 2,
    });
    expect(parseHealthcheck({ Test: ['NONE'] })).toEqual({ Test: ['NONE'] });
    expect(parseHealthcheck(null)).toBeNull();
  });

  it('refuses malformed healthchecks, naming the field', () => {
    expect(() => parseHealthcheck({ Test: ['RUN', 'x'] })).toThrow(/must start with NONE, CMD or CMD-SHELL/);
    expect(() => parseHealthcheck({ Test: ['CMD'] })).toThrow(/needs a command/);
    expect(() => parseHealthcheck({ Test: ['CMD-SHELL', 'a', 'b'] })).toThrow(/exactly one command line/);
    expect(() => parseHealthcheck({ Interval: 5 })).toThrow(/Interval must be at least 1ms/);
    expect(() => parseHealthcheck({ Timeout: -1 })).toThrow(/Timeout must be a whole number/);
    expect(() => parseHealthcheck({ Retries: 1.5 })).toThrow(/Retries/);
    expect(() => parseHealthcheck('curl')).toThrow(/must be an object/);
  });

  it("takes the image's fields where the request leaves them out", () => {
    const image = { Test: ['CMD', 'check'], Interval: 10 * SECOND, Retries: 5 };
    expect(mergeHealthcheck({ Interval: 1 * SECOND }, image)).toEqual({ ...image, Interval: 1 * SECOND });
    expect(mergeHealthcheck({ Test: ['NONE'] }, image)?.Test).toEqual(['NONE']);
    expect(mergeHealthcheck(null, image)).toEqual(image);
    expect(mergeHealthcheck(null, undefined)).toBeUndefined();
  });

  it("runs CMD as given, CMD-SHELL through the image's shell or /bin/sh -c, NONE not at all", () => {
    expect(healthProbe({ Test: ['CMD', 'ping', '-c1', 'db'] }, undefined)?.argv).toEqual(['ping', '-c1', 'db']);
    expect(healthProbe({ Test: ['CMD-SHELL', 'exit 1'] }, undefined)?.argv).toEqual(['/bin/sh', '-c', 'exit 1']);
    expect(healthProbe({ Test: ['CMD-SHELL', 'exit 1'] }, ['/bin/ash', '-ec'])?.argv).toEqual([
      '/bin/ash',
      '-ec',
      'exit 1',
    ]);
    expect(healthProbe({ Test: ['NONE'] }, undefined)).toBeUndefined();
    expect(healthProbe({ Interval: SECOND }, undefined)).toBeUndefined();
  });

  it("uses Docker's defaults for what is left out", () => {
    expect(healthProbe({ Test: ['CMD', 'true'] }, undefined)).toEqual({ argv: ['true'], ...HEALTH_DEFAULTS });
    expect(healthProbe({ Test: ['CMD', 'true'], Timeout: SECOND / 4 }, undefined)?.timeoutMs).toBe(250);
  });
});
