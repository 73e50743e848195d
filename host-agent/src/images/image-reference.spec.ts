import { describe, expect, it } from 'vitest';

import { familiarName, familiarString, formatReference, parseReference, withDefaultTag } from './image-reference.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const full = (input: string) => formatReference(withDefaultTag(parseReference(input)));

describe(parseReference.name, () => {
  it('puts a short name in docker.io/library with tag latest', () => {
    expect(full('busybox')).toBe('docker.io/library/busybox:latest');
  });

  it('keeps a given tag', () => {
    expect(full('busybox:1.36')).toBe('docker.io/library/busybox:1.36');
  });

  it('reads library/busybox as the official image', () => {
    expect(full('library/busybox')).toBe('docker.io/library/busybox:latest');
  });

  it('keeps a fully qualified name as it is', () => {
    expect(full('docker.io/library/busybox:latest')).toBe('docker.io/library/busybox:latest');
  });

  it('treats index.docker.io as docker.io', () => {
    expect(full('index.docker.io/library/busybox')).toBe('docker.io/library/busybox:latest');
  });

  it('keeps user repositories on Docker Hub without library/', () => {
    expect(full('someone/app:v2')).toBe('docker.io/someone/app:v2');
  });

  it('reads a first component with a port as a registry', () => {
    expect(parseReference('127.0.0.1:5000/busybox:local')).toEqual({
      domain: '127.0.0.1:5000',
      path: 'busybox',
      tag: 'local',
    });
  });

  it('reads localhost as a registry', () => {
    expect(parseReference('localhost/app')).toEqual({ domain: 'localhost', path: 'app' });
  });

  it('reads a dotted first component as a registry', () => {
    expect(parseReference('ghcr.io/org/tool:1')).toEqual({ domain: 'ghcr.io', path: 'org/tool', tag: '1' });
  });

  it('keeps a digest without adding a tag', () => {
    expect(full(`busybox@${DIGEST}`)).toBe(`docker.io/library/busybox@${DIGEST}`);
  });

  it('keeps both a tag and a digest', () => {
    expect(parseReference(`busybox:1@${DIGEST}`)).toMatchObject({ tag: '1', digest: DIGEST });
  });

  it('refuses upper case in the repository with dockerd’s message', () => {
    expect(() => parseReference('Busybox')).toThrow(
      'invalid reference format: repository name (library/Busybox) must be lowercase',
    );
  });

  it('refuses an empty tag', () => {
    expect(() => parseReference('busybox:')).toThrow('invalid reference format');
  });

  it('refuses a tag with invalid characters', () => {
    expect(() => parseReference('busybox:a/b')).toThrow('invalid reference format');
    expect(() => parseReference('busybox:-x')).toThrow('invalid reference format');
  });

  it('refuses a malformed digest', () => {
    expect(() => parseReference('busybox@sha256:abc')).toThrow('invalid reference format');
  });

  it('refuses a 64-hex name, which would be mistaken for an image id', () => {
    expect(() => parseReference('a'.repeat(64))).toThrow(/cannot specify 64-byte hexadecimal strings/);
  });

  it('refuses separators in the wrong places', () => {
    for (const bad of ['-busybox', 'busybox-', 'a..b', 'a//b', '/busybox', 'busybox/', 'a b', '']) {
      expect(() => parseReference(bad), bad).toThrow(/invalid reference format/);
    }
  });

  it('accepts double underscores and runs of dashes, as Docker does', () => {
    expect(parseReference('a__b/c---d').path).toBe('a__b/c---d');
  });

  it('refuses names longer than 255 characters', () => {
    expect(() => parseReference(`a/${'b'.repeat(260)}`)).toThrow(/must not be more than 255 characters/);
  });

  it('reports invalid input as invalid-argument', () => {
    expect(() => parseReference('UPPER')).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
  });
});

describe(familiarString.name, () => {
  it('prints official images without docker.io/library/', () => {
    expect(familiarString(withDefaultTag(parseReference('docker.io/library/busybox')))).toBe('busybox:latest');
  });

  it('prints user images without docker.io/', () => {
    expect(familiarString(parseReference('docker.io/someone/app:1'))).toBe('someone/app:1');
  });

  it('prints other registries in full', () => {
    expect(familiarString(parseReference('127.0.0.1:5000/busybox:local'))).toBe('127.0.0.1:5000/busybox:local');
  });

  it('keeps library/ on another registry', () => {
    expect(familiarName(parseReference('quay.io/library/x'))).toBe('quay.io/library/x');
  });

  it('prints a digest reference', () => {
    expect(familiarString(parseReference(`busybox@${DIGEST}`))).toBe(`busybox@${DIGEST}`);
  });
});
