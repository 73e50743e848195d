import { ENGINE_PERMISSIONS, ENGINE_ROUTES, engineRoute, matchEngineRoute } from '@skiff/protocol';
import { describe, expect, it } from 'vitest';

const matched = (method: string, path: string) => {
  const match = matchEngineRoute(method, path);
  return match && { key: match.route.key, params: match.params, apiVersion: match.apiVersion };
};

describe('ENGINE_ROUTES', () => {
  it('holds every route the docker CLI and compose were seen to call', () => {
    // engine-api-endpoints.md, "All distinct endpoints (39)".
    const seen = [
      'HEAD /_ping',
      'GET /version',
      'GET /info',
      'POST /images/create',
      'GET /images/json',
      'POST /containers/create',
      'POST /containers/{id}/wait',
      'POST /containers/{id}/start',
      'POST /containers/{id}/attach',
      'POST /containers/{id}/resize',
      'GET /containers/json',
      'GET /containers/{id}/json',
      'GET /containers/{id}/logs',
      'POST /containers/{id}/exec',
      'POST /exec/{id}/start',
      'GET /exec/{id}/json',
      'POST /exec/{id}/resize',
      'POST /containers/{id}/stop',
      'DELETE /containers/{id}',
      'POST /volumes/create',
      'GET /volumes',
      'DELETE /volumes/{name}',
      'POST /networks/create',
      'GET /networks',
      'GET /networks/{id}',
      'DELETE /networks/{id}',
      'GET /images/{name}/json',
      'GET /containers/{id}/stats',
      'HEAD /containers/{id}/archive',
      'PUT /containers/{id}/archive',
      'GET /containers/{id}/archive',
      'POST /build',
      'POST /images/{name}/tag',
      'POST /images/{name}/push',
      'DELETE /images/{name}',
      'GET /events',
      'GET /volumes/{name}',
      'POST /networks/{id}/disconnect',
      'POST /networks/{id}/connect',
    ];
    const keys = ENGINE_ROUTES.map((route) => route.key as string);

    expect(seen.filter((key) => !keys.includes(key))).toEqual([]);
  });

  it('has one entry per method and path', () => {
    const keys = ENGINE_ROUTES.map((route) => route.key);

    expect(new Set(keys).size).toBe(keys.length);
  });

  it('names every key after its method and path, with a known permission', () => {
    for (const route of ENGINE_ROUTES) {
      expect(route.key).toBe(`${route.method} ${route.path}`);
      expect(ENGINE_PERMISSIONS).toContain(route.permission);
    }
  });

  it('audits every call that changes something and no GET or HEAD', () => {
    for (const route of ENGINE_ROUTES) {
      if (route.method === 'GET' || route.method === 'HEAD') {
        const auditedReads = ['GET /containers/{id}/archive', 'GET /containers/{id}/export'];
        expect(route.audit === null || auditedReads.includes(route.key), route.key).toBe(true);
      } else if (route.key !== 'POST /containers/{id}/wait') {
        expect(route.audit, route.key).not.toBeNull();
      }
    }
  });

  it('hijacks exactly attach and exec start', () => {
    const hijacked = ENGINE_ROUTES.filter((route) => route.stream === 'hijack').map((route) => route.key);

    expect(hijacked.sort()).toEqual(['POST /containers/{id}/attach', 'POST /exec/{id}/start']);
  });

  it('streams the request body of load, import, archive PUT and build', () => {
    for (const key of ['POST /images/load', 'POST /images/create', 'PUT /containers/{id}/archive', 'POST /build']) {
      expect(engineRoute(key)?.stream, key).toBe('upload');
    }
  });

  it('needs separate permissions for logs, exec and inspect', () => {
    expect(engineRoute('GET /containers/{id}/logs')?.permission).toBe('container.logs');
    expect(engineRoute('POST /containers/{id}/exec')?.permission).toBe('container.exec');
    expect(engineRoute('POST /containers/{id}/attach')?.permission).toBe('container.exec');
    expect(engineRoute('GET /containers/{id}/json')?.permission).toBe('container.inspect');
    expect(engineRoute('POST /containers/{id}/start')?.audit).toBe('container.start');
  });
});

describe(matchEngineRoute.name, () => {
  it('strips a /v1.NN prefix and reports the version', () => {
    expect(matched('GET', '/v1.41/containers/json')).toEqual({
      key: 'GET /containers/json',
      params: {},
      apiVersion: '1.41',
    });
  });

  it('matches an unversioned path with no version', () => {
    expect(matched('HEAD', '/_ping')).toEqual({ key: 'HEAD /_ping', params: {}, apiVersion: undefined });
    expect(matched('GET', '/version')?.apiVersion).toBeUndefined();
  });

  it('sets the query string aside', () => {
    expect(matched('POST', '/v1.41/containers/abc/wait?condition=next-exit')).toMatchObject({
      key: 'POST /containers/{id}/wait',
      params: { id: 'abc' },
    });
  });

  it('takes the container id or name from its segment', () => {
    expect(matched('POST', '/v1.41/containers/tr-bg/exec')).toMatchObject({
      key: 'POST /containers/{id}/exec',
      params: { id: 'tr-bg' },
    });
    expect(matched('DELETE', '/v1.41/containers/0c3e8623f329')).toMatchObject({
      key: 'DELETE /containers/{id}',
      params: { id: '0c3e8623f329' },
    });
  });

  it('prefers a fixed path to a template that could also match it', () => {
    expect(matched('GET', '/v1.41/images/json')?.key).toBe('GET /images/json');
    expect(matched('POST', '/v1.41/containers/create')?.key).toBe('POST /containers/create');
    expect(matched('POST', '/v1.41/volumes/create')?.key).toBe('POST /volumes/create');
    expect(matched('GET', '/v1.41/images/get')?.key).toBe('GET /images/get');
  });

  it('takes an image name with a registry port and path across slashes', () => {
    expect(matched('GET', '/v1.41/images/127.0.0.1:5000/busybox:local/json')).toMatchObject({
      key: 'GET /images/{name}/json',
      params: { name: '127.0.0.1:5000/busybox:local' },
    });
    expect(matched('POST', '/v1.41/images/127.0.0.1:5000/tr-built/push?tag=v1')).toMatchObject({
      key: 'POST /images/{name}/push',
      params: { name: '127.0.0.1:5000/tr-built' },
    });
    expect(matched('DELETE', '/v1.41/images/127.0.0.1:5000/tr-built:v1')).toMatchObject({
      key: 'DELETE /images/{name}',
      params: { name: '127.0.0.1:5000/tr-built:v1' },
    });
    expect(matched('GET', '/v1.41/images/library/busybox/history')?.params).toEqual({ name: 'library/busybox' });
    expect(matched('GET', '/images/a/b/c/get')?.params).toEqual({ name: 'a/b/c' });
  });

  it('reads an image named like a suffix as a name', () => {
    expect(matched('GET', '/v1.41/images/json/json')).toMatchObject({
      key: 'GET /images/{name}/json',
      params: { name: 'json' },
    });
  });

  it('decodes percent-encoded parameters', () => {
    expect(matched('GET', '/v1.41/images/busybox%3Alocal/json')?.params).toEqual({ name: 'busybox:local' });
    expect(matched('GET', '/v1.41/images/a%2Fb/json')?.params).toEqual({ name: 'a/b' });
  });

  it('keeps every other parameter to one segment', () => {
    expect(matched('GET', '/v1.41/containers/a/b/json')).toBeNull();
    expect(matched('DELETE', '/v1.41/volumes/a/b')).toBeNull();
    expect(matched('GET', '/v1.41/networks/a/b')).toBeNull();
  });

  it('returns null for a path outside the table', () => {
    expect(matched('GET', '/v1.41/swarm')).toBeNull();
    expect(matched('GET', '/v1.41/plugins')).toBeNull();
    expect(matched('POST', '/session')).toBeNull();
    expect(matched('GET', '/v1.41/containers/abc/unknown')).toBeNull();
    expect(matched('GET', '/')).toBeNull();
    expect(matched('GET', '/v1.41/')).toBeNull();
    expect(matched('GET', '/v1.41/containers/json/')).toBeNull();
  });

  it('returns null for a tabled path under another method', () => {
    expect(matched('POST', '/v1.41/containers/json')).toBeNull();
    expect(matched('GET', '/v1.41/containers/abc/start')).toBeNull();
    expect(matched('GET', '/v1.41/containers/abc')).toBeNull();
    expect(matched('HEAD', '/version')).toBeNull();
  });

  it('accepts the method in any case', () => {
    expect(matched('get', '/info')?.key).toBe('GET /info');
  });

  it('does not take a bare /v1.41 or a malformed prefix for a version', () => {
    expect(matched('GET', '/v1.41')).toBeNull();
    expect(matched('GET', '/vX/version')).toBeNull();
  });

  it('returns null for a parameter that is not valid percent-encoding', () => {
    expect(matched('GET', '/v1.41/containers/%E0%A4%A/json')).toBeNull();
  });

  it('needs a non-empty parameter', () => {
    expect(matched('GET', '/v1.41/images//json')).toBeNull();
    expect(matched('POST', '/v1.41/containers//start')).toBeNull();
  });
});
