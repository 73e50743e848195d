import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { busyboxRootfsTar } from '../../support/busybox-image.js';
import { runChecked } from './timed-command.js';

/**
 * An OCI bundle for `runc run` / `crun run`: the busybox image's root filesystem unpacked (the
 * same layer the engines load) and the config `runc spec` writes, running `true` without a
 * terminal. Everything else stays at runc's defaults: a read-only root, new pid, network, ipc,
 * uts and mount namespaces, and a cgroup named by the container's id.
 */
export async function makeBusyboxBundle(directory: string): Promise<string> {
  const rootfs = join(directory, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  await runChecked(['tar', '-x', '-C', rootfs], { input: await busyboxRootfsTar() });
  await runChecked(['runc', 'spec', '--bundle', directory]);
  const configPath = join(directory, 'config.json');
  const config = JSON.parse(await readFile(configPath, 'utf8')) as { process: { args: string[]; terminal: boolean } };
  config.process.args = ['true'];
  config.process.terminal = false;
  await writeFile(configPath, JSON.stringify(config, null, 2));
  return directory;
}
