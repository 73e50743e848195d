import { describe, expect, it } from 'vitest';
import type { EngineEvent } from './engine-event.js';
import { eventMatches, parseEventFilters, stripTag } from './event-filter.js';

function event(
  partial: Partial<EngineEvent> & Pick<EngineEvent, 'Type' | 'Action'>,
  id = 'c0ffee1234',
  attributes: Record<string, string> = {},
): EngineEvent {
  return { Actor: { ID: id, Attributes: attributes }, scope: 'local', time: 1, timeNano: 1e9, ...partial };
}

const webStart = event({ Type: 'container', Action: 'start' }, 'c0ffee1234', {
  name: 'web-1',
  image: '127.0.0.1:5000/busybox:local',
  'com.docker.compose.project': 'peers',
});
const volumeCreate = event({ Type: 'volume', Action: 'create' }, 'data', { driver: 'local' });
const imagePull = event({ Type: 'image', Action: 'pull' }, 'busybox:local', { name: 'busybox' });
const execStart = event({ Type: 'container', Action: 'exec_start: sh -c echo hi' }, 'c0ffee1234', { name: 'web-1' });

const passes = (filters: string, subject: EngineEvent) => eventMatches(subject, parseEventFilters(filters));

describe(eventMatches.name, () => {
  it('lets everything through without filters', () => {
    expect([webStart, volumeCreate, imagePull].every((e) => passes('', e))).toBe(true);
  });

  it('filters by type', () => {
    expect(passes('{"type":["container"]}', webStart)).toBe(true);
    expect(passes('{"type":["container"]}', volumeCreate)).toBe(false);
    expect(passes('{"type":["container","volume"]}', volumeCreate)).toBe(true);
  });

  it('filters by action, and by prefix for the actions that carry a command', () => {
    expect(passes('{"event":["start"]}', webStart)).toBe(true);
    expect(passes('{"event":["stop","die"]}', webStart)).toBe(false);
    expect(passes('{"event":["exec_start"]}', execStart)).toBe(true);
    expect(passes('{"event":["exec"]}', execStart)).toBe(false);
  });

  it('filters containers by name or id prefix', () => {
    expect(passes('{"container":["web-1"]}', webStart)).toBe(true);
    expect(passes('{"container":["c0ffee"]}', webStart)).toBe(true);
    expect(passes('{"container":["db-1"]}', webStart)).toBe(false);
    // A container filter leaves out objects that are not that container.
    expect(passes('{"container":["web-1"]}', volumeCreate)).toBe(false);
  });

  it('filters volumes and networks by name', () => {
    expect(passes('{"volume":["data"]}', volumeCreate)).toBe(true);
    expect(passes('{"volume":["logs"]}', volumeCreate)).toBe(false);
    const connect = event({ Type: 'network', Action: 'connect' }, 'f00d', {
      name: 'peers_appnet',
      container: 'c0ffee',
    });
    expect(passes('{"network":["peers_appnet"]}', connect)).toBe(true);
    expect(passes('{"network":["other"]}', connect)).toBe(false);
  });

  it('filters images by reference with or without the tag, and containers by their image', () => {
    expect(passes('{"image":["busybox:local"]}', imagePull)).toBe(true);
    expect(passes('{"image":["busybox"]}', imagePull)).toBe(true);
    expect(passes('{"image":["alpine"]}', imagePull)).toBe(false);
    expect(passes('{"image":["127.0.0.1:5000/busybox"]}', webStart)).toBe(true);
    expect(passes('{"image":["127.0.0.1:5000/busybox:local"]}', webStart)).toBe(true);
    expect(passes('{"image":["busybox"]}', volumeCreate)).toBe(false);
  });

  it('filters by label as compose does', () => {
    expect(passes('{"label":["com.docker.compose.project=peers"]}', webStart)).toBe(true);
    expect(passes('{"label":["com.docker.compose.project=other"]}', webStart)).toBe(false);
    expect(passes('{"label":["com.docker.compose.project"]}', webStart)).toBe(true);
    expect(passes('{"label":["com.docker.compose.project=peers"]}', volumeCreate)).toBe(false);
  });

  it('needs every named filter to pass', () => {
    expect(passes('{"type":["container"],"event":["start"],"container":["web-1"]}', webStart)).toBe(true);
    expect(passes('{"type":["container"],"event":["stop"],"container":["web-1"]}', webStart)).toBe(false);
  });

  it('reads the old map form of filters too', () => {
    expect(passes('{"type":{"volume":true}}', volumeCreate)).toBe(true);
    expect(passes('{"type":{"volume":true}}', webStart)).toBe(false);
  });

  it('filters by scope, which is local for every engine event', () => {
    expect(passes('{"scope":["local"]}', webStart)).toBe(true);
    expect(passes('{"scope":["swarm"]}', webStart)).toBe(false);
  });
});

describe(parseEventFilters.name, () => {
  it('refuses a filter that events do not have, naming it', () => {
    expect(() => parseEventFilters('{"status":["running"]}')).toThrow("invalid filter 'status'");
  });
});

describe(stripTag.name, () => {
  it('drops a tag or digest but not a registry port', () => {
    expect(stripTag('busybox:local')).toBe('busybox');
    expect(stripTag('127.0.0.1:5000/busybox')).toBe('127.0.0.1:5000/busybox');
    expect(stripTag('127.0.0.1:5000/busybox:local')).toBe('127.0.0.1:5000/busybox');
    expect(stripTag('busybox@sha256:abc')).toBe('busybox');
    expect(stripTag(undefined)).toBeUndefined();
  });
});
