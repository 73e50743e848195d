import { readFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';

import { statDevice } from './block-devices.js';
import { nodeCgroupFs } from './cgroup-fs.js';
import { detectCgroupLayout } from './cgroup-layout.js';
import type { CgroupContext, CgroupManager, CgroupManagerOptions } from './cgroup-manager.js';
import { checkCgroupParentName } from './cgroup-plan.js';
import { CgroupV1Manager } from './cgroup-v1-manager.js';
import { CgroupV2Manager } from './cgroup-v2-manager.js';

/**
 * Detects the host's cgroup layout, makes the parent cgroup (`skiff`) in every hierarchy (safe to
 * repeat) and returns the manager for that layout. Call once when the agent starts.
 */
export async function openCgroupManager(options: CgroupManagerOptions = {}): Promise<CgroupManager> {
  const parent = options.parent ?? 'skiff';
  checkCgroupParentName(parent);
  const fs = options.fs ?? nodeCgroupFs;
  const layout = await detectCgroupLayout(options.sysFsCgroup, {
    fs,
    ...(options.mountinfo === undefined ? {} : { mountinfo: options.mountinfo }),
  });
  const context: CgroupContext = {
    layout,
    parent,
    fs,
    statDevice: options.statDevice ?? statDevice,
    procStat: options.procStat ?? (() => readFile('/proc/stat', 'utf8')),
    machineMemory: options.machineMemory ?? totalmem(),
    cpuCount: options.cpuCount ?? availableParallelism(),
    kill: options.kill ?? ((pid, signal) => process.kill(pid, signal)),
    timeoutMs: options.timeoutMs ?? 10_000,
  };
  const manager = layout.version === 1 ? new CgroupV1Manager(context, layout) : new CgroupV2Manager(context, layout);
  await manager.prepare();
  return manager;
}
