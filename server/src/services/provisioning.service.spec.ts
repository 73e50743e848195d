import { describe, expect, it } from 'vitest';
import type { ProvisioningJobEntity } from '../entities/provisioning-job.entity.js';
import { agentEnv, checkServerOrigin, jobView } from './provisioning.service.js';

describe(agentEnv.name, () => {
  it('writes the server, the one-time token and the name, one per line', () => {
    expect(agentEnv('http://10.0.0.1:8080', 'skj_abc-DEF_1', 'web-1')).toBe(
      'SKIFF_SERVER=http://10.0.0.1:8080\nSKIFF_JOIN_TOKEN=skj_abc-DEF_1\nSKIFF_HOST_NAME=web-1\n',
    );
  });

  it('refuses values that could add a line or a shell word to the file', () => {
    expect(() => agentEnv('http://a\nSKIFF_ROOT=/', 'skj_x', 'h')).toThrow('not a server origin');
    expect(() => agentEnv('http://a', 'skj_x\nX=1', 'h')).toThrow('unexpected join token');
    expect(() => agentEnv('http://a', 'skj_x', 'web $(id)')).toThrow('may hold letters');
  });
});

describe(jobView.name, () => {
  const job = (statuses: string[], status: ProvisioningJobEntity['status'] = 'running') =>
    ({
      id: 'j',
      batchId: 'b',
      kind: 'install',
      address: 'h',
      port: 22,
      status,
      steps: statuses.map((stepStatus, index) => ({ name: `s${index}`, title: '', status: stepStatus, output: '' })),
      error: null,
      hostId: null,
      targetId: null,
      createdAt: new Date(0),
      finishedAt: null,
    }) as unknown as ProvisioningJobEntity;

  it('counts finished steps and the running step’s share towards the progress', () => {
    expect(jobView(job(['succeeded', 'running', 'pending', 'pending']), 0.5).progress).toBe(37);
    expect(jobView(job(['succeeded', 'succeeded', 'succeeded', 'succeeded'], 'succeeded')).progress).toBe(100);
  });
});

describe(checkServerOrigin.name, () => {
  it('takes http(s)://host[:port] only: it goes into agent.env and a shell script', () => {
    expect(checkServerOrigin('https://skiff.example.com:8443')).toBe('https://skiff.example.com:8443');
    expect(() => checkServerOrigin("http://evil';reboot;'")).toThrow('not a server origin');
    expect(() => checkServerOrigin('http://host/path')).toThrow('not a server origin');
  });
});
