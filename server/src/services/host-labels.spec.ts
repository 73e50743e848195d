import { describe, expect, it } from 'vitest';
import { MAX_HOST_LABELS, parseLabels } from './host-labels.js';

describe(parseLabels.name, () => {
  it('accepts Kubernetes- and Docker-style labels', () => {
    const labels = {
      env: 'prod',
      'com.example.tier': 'web',
      'example.com/team': 'payments_1',
      'topology.kubernetes.io/zone': 'eu-west-1a',
      empty: '',
    };
    expect(parseLabels(labels)).toEqual(labels);
  });

  it.each([
    [{ '': 'x' }, /label key ""/],
    [{ '-env': 'x' }, /label key "-env"/],
    [{ 'a b': 'x' }, /label key "a b"/],
    [{ ['k'.repeat(64)]: 'x' }, /label key/],
    [{ 'Example.com/x': 'x' }, /label key "Example\.com\/x"/],
    [{ 'example.com/': 'x' }, /label key/],
    [{ env: 'pro d' }, /value "pro d" of label "env"/],
    [{ env: 'v'.repeat(64) }, /of label "env"/],
    [{ env: 42 }, /label "env" must have a string value/],
  ])('refuses %j, naming what is wrong', (labels, message) => {
    expect(() => parseLabels(labels)).toThrow(message);
  });

  it('refuses anything but an object, and too many labels', () => {
    expect(() => parseLabels(['env'])).toThrow(/labels must be an object/);
    expect(() => parseLabels(null, 'selector')).toThrow(/selector must be an object/);
    const many = Object.fromEntries(Array.from({ length: MAX_HOST_LABELS + 1 }, (_, i) => [`k${i}`, 'v']));
    expect(() => parseLabels(many)).toThrow(/at most 64 labels, not 65/);
  });
});
