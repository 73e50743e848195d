import { describe, expect, it } from 'vitest';

import { applyChanges, words } from './image-changes.js';

describe(applyChanges.name, () => {
  it('sets CMD in exec form', () => {
    expect(applyChanges({}, ['CMD ["sh","-c","echo hi"]']).Cmd).toEqual(['sh', '-c', 'echo hi']);
  });

  it('wraps CMD in shell form in /bin/sh -c', () => {
    expect(applyChanges({}, ['CMD echo hi']).Cmd).toEqual(['/bin/sh', '-c', 'echo hi']);
  });

  it('sets ENTRYPOINT', () => {
    expect(applyChanges({}, ['ENTRYPOINT ["/bin/busybox"]']).Entrypoint).toEqual(['/bin/busybox']);
  });

  it('adds and replaces ENV variables, in both forms', () => {
    const config = applyChanges({ Env: ['A=1'] }, ['ENV A=2 B="two words"', 'ENV C plain value']);
    expect(config.Env).toEqual(['A=2', 'B=two words', 'C=plain value']);
  });

  it('collects EXPOSE ports with tcp as default', () => {
    expect(applyChanges({}, ['EXPOSE 80 53/udp']).ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {} });
  });

  it('resolves a relative WORKDIR against the previous one', () => {
    expect(applyChanges({}, ['WORKDIR /app', 'WORKDIR src']).WorkingDir).toBe('/app/src');
  });

  it('sets USER, VOLUME, LABEL, STOPSIGNAL and ONBUILD', () => {
    expect(
      applyChanges({}, [
        'USER nobody',
        'VOLUME ["/data"]',
        'VOLUME /logs',
        'LABEL a=b',
        'STOPSIGNAL SIGINT',
        'ONBUILD RUN true',
      ]),
    ).toEqual({
      User: 'nobody',
      Volumes: { '/data': {}, '/logs': {} },
      Labels: { a: 'b' },
      StopSignal: 'SIGINT',
      OnBuild: ['RUN true'],
    });
  });

  it('accepts instructions in lower case', () => {
    expect(applyChanges({}, ['cmd ["x"]']).Cmd).toEqual(['x']);
  });

  it('refuses instructions that are not changes', () => {
    expect(() => applyChanges({}, ['RUN rm -rf /'])).toThrow('run is not a valid change command');
  });

  it('refuses an EXPOSE that is not a port', () => {
    expect(() => applyChanges({}, ['EXPOSE http'])).toThrow('invalid port in EXPOSE: http');
  });
});

describe(words.name, () => {
  it('splits on spaces and honours quotes and escapes', () => {
    expect(words(`a "b c" 'd e' f\\ g`)).toEqual(['a', 'b c', 'd e', 'f g']);
  });

  it('refuses an unterminated quote', () => {
    expect(() => words('"open')).toThrow(/unterminated quote/);
  });
});
