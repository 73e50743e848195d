import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readlink, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A private test network: a bridge with a /24 of 10.213.0.0/16 that no other interface on this
 * machine uses, the machine's end at .1. Fleet hosts hang off it by veth pairs.
 */
export interface FleetNetwork {
  bridge: string;
  /** e.g. `10.213.57` */
  prefix: string;
  /** The machine's address on the bridge: where the server listens for the fleet. */
  gateway: string;
  close(): Promise<void>;
}

/**
 * A "fleet host": sshd with its own host key in its own network namespace (an address on the
 * test bridge) and its own mount namespace, chrooted into a root of its own: /usr is the
 * machine's (read-only), /etc an overlay on the machine's (so installs write only into the
 * host's copy), and /opt, /var, /tmp, /root and /run private (a tmpfs). No systemd runs there, so
 * installs take the supervised-process path, unless started with `systemd`: then systemd 252 is the
 * host's pid 1 in a pid namespace and cgroups (`skiff-<name>` in every hierarchy) of its own,
 * booting only sshd, and installs take the systemd unit path. What a host's processes see of its
 * files is at `/proc/<sshd or systemd pid>/root` (`path()`).
 */
export interface FleetHost {
  name: string;
  address: string;
  netns: string;
  /** The password of root and of SUDO_USER_NAME. */
  rootPassword: string;
  /** The host key's fingerprint as ssh-keygen -l prints it (SHA256:…). */
  fingerprint(): Promise<string>;
  /** A path inside the host's own root, seen from this machine. */
  path(inside: string): string;
  /** Replaces the host key and makes sshd use it (as after a reinstall of the host). */
  changeHostKey(): Promise<void>;
  /** The pid of sshd (of systemd on a systemd host): `nsenter -t <pid> -m -n -r` runs a command on the host. */
  sshdPid: number;
  /** Whether systemd is the host's pid 1 (installs take the systemd unit path). */
  systemd: boolean;
  /** Runs a command on the host (its mount, network and pid namespaces and root); resolves with stdout. */
  run(args: string[]): Promise<string>;
  /** The pid of a process of the host (e.g. the agent) from a pidfile inside it, or null. */
  pidFrom(pidfile: string): Promise<number | null>;
  close(): Promise<void>;
}

async function sh(command: string, args: string[]): Promise<string> {
  return (await run(command, args, { timeout: 30_000 })).stdout;
}

async function usedPrefixes(): Promise<Set<number>> {
  const out = await sh('ip', ['-4', '-o', 'addr', 'show']);
  const used = new Set<number>();
  for (const match of out.matchAll(/inet 10\.213\.(\d+)\./g)) used.add(Number(match[1]));
  return used;
}

export async function createFleetNetwork(): Promise<FleetNetwork> {
  if (process.getuid?.() !== 0) throw new Error('fleet hosts need root (network and mount namespaces): run as root');
  const used = await usedPrefixes();
  let third = randomInt(1, 255);
  for (let tries = 0; used.has(third) && tries < 300; tries += 1) third = randomInt(1, 255);
  if (used.has(third)) throw new Error('no free 10.213.x.0/24 test subnet');
  const prefix = `10.213.${third}`;
  const bridge = `skfbr${third}`;
  await sh('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
  try {
    await sh('ip', ['addr', 'add', `${prefix}.1/24`, 'dev', bridge]);
    await sh('ip', ['link', 'set', bridge, 'up']);
  } catch (error) {
    await sh('ip', ['link', 'del', bridge]).catch(() => undefined);
    throw error;
  }
  return {
    bridge,
    prefix,
    gateway: `${prefix}.1`,
    close: async () => {
      await sh('ip', ['link', 'del', bridge]).catch(() => undefined);
    },
  };
}

/** A user on every fleet host who is not root, with the root password, allowed to use sudo (asking it). */
export const SUDO_USER_NAME = 'deploy';

/** Runs inside the host's new mount namespace (already in its network namespace), then becomes sshd. */
const HOST_SETUP = `
set -eu
R=$1; ADDRESS=$2; PASSWORD_FILE=$3; KEY_DIR=$4; NO_OVERLAY=$5; SYSTEMD=$6; CGROUP=$7
mount --make-rprivate /
mount -t tmpfs -o mode=0755 fleet-root "$R"
mkdir -p "$R/usr" "$R/.etc-upper" "$R/.etc-work" "$R/etc" "$R/opt" "$R/var/lib" "$R/var/log" "$R/var/tmp" \\
  "$R/tmp" "$R/root" "$R/home" "$R/run/sshd" "$R/proc" "$R/sys" "$R/dev" "$R/mnt"
chmod 1777 "$R/tmp" "$R/var/tmp"
chmod 0700 "$R/root"
for link in bin lib lib64 sbin; do [ -L "/$link" ] && ln -s "$(readlink "/$link")" "$R/$link"; done
mount --bind /usr "$R/usr"
mount -o remount,bind,ro "$R/usr"
mount -t overlay fleet-etc -o "lowerdir=/etc,upperdir=$R/.etc-upper,workdir=$R/.etc-work" "$R/etc"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ]; then
  # cgroup v1: a tmpfs of its own with the machine's hierarchies bound in (links copied), so that
  # what the host's systemd makes there (directories for controllers it finds unmounted, links)
  # stays in this host and does not land in the machine's /sys/fs/cgroup.
  mount -t tmpfs -o mode=0755 fleet-cgroup "$R/sys/fs/cgroup"
  for h in /sys/fs/cgroup/*; do
    name=\${h##*/}
    if [ -L "$h" ]; then
      cp -P "$h" "$R/sys/fs/cgroup/$name"
    elif mountpoint -q "$h"; then
      mkdir "$R/sys/fs/cgroup/$name"
      mount --bind "$h" "$R/sys/fs/cgroup/$name"
    fi
  done
else
  mount --rbind /sys/fs/cgroup "$R/sys/fs/cgroup"
fi
mount --rbind /dev "$R/dev"
if [ "$NO_OVERLAY" = yes ]; then
  # This host's kernel "has no overlayfs": the file the preflight reads lists every other file system.
  grep -vw overlay /proc/filesystems >"$R/run/filesystems"
  mount --bind "$R/run/filesystems" "$R/proc/filesystems"
fi
rm -rf "$R/etc/skiff" "$R/etc/systemd/system/skiff-agent.service"
cp "$KEY_DIR/ssh_host_ed25519_key" "$R/etc/ssh/fleet_host_ed25519_key"
chmod 0600 "$R/etc/ssh/fleet_host_ed25519_key"
cat >"$R/etc/ssh/fleet_sshd_config" <<EOF
ListenAddress $ADDRESS
Port 22
HostKey /etc/ssh/fleet_host_ed25519_key
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
PidFile /run/sshd.pid
Subsystem sftp internal-sftp
EOF
printf 'root:%s\\n' "$(cat "$PASSWORD_FILE")" | chroot "$R" chpasswd
# A user who is not root and may use sudo with its password (the sudo path of provisioning).
chroot "$R" useradd -m -s /bin/sh ${SUDO_USER_NAME}
printf '${SUDO_USER_NAME}:%s\\n' "$(cat "$PASSWORD_FILE")" | chroot "$R" chpasswd
echo '${SUDO_USER_NAME} ALL=(ALL:ALL) ALL' >"$R/etc/sudoers.d/${SUDO_USER_NAME}"
chmod 0440 "$R/etc/sudoers.d/${SUDO_USER_NAME}"
if [ "$SYSTEMD" = yes ]; then
  # systemd as this host's pid 1 (a pid namespace of its own), booting only a target of ours: sshd
  # and nothing of the machine's own services. It runs in cgroups of its own in every hierarchy.
  cat >"$R/etc/systemd/system/fleet-sshd.service" <<EOF
[Unit]
Description=sshd of the fleet host
DefaultDependencies=no
[Service]
ExecStart=/usr/sbin/sshd -D -e -f /etc/ssh/fleet_sshd_config
RuntimeDirectory=sshd
RuntimeDirectoryMode=0755
ExecReload=/bin/kill -HUP \\$MAINPID
KillMode=process
EOF
  printf '[Unit]\nDescription=Skiff fleet host\nWants=fleet-sshd.service\n' >"$R/etc/systemd/system/fleet.target"
  hierarchies=/sys/fs/cgroup/*/
  [ -f /sys/fs/cgroup/cgroup.controllers ] && hierarchies=/sys/fs/cgroup/
  for h in $hierarchies; do
    [ -f "$h/cgroup.procs" ] || continue
    mkdir -p "$h/$CGROUP"
    if [ -f "$h/cpuset.cpus" ]; then
      cat "$h/cpuset.cpus" >"$h/$CGROUP/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h/$CGROUP/cpuset.mems"
    fi
    echo 0 >"$h/$CGROUP/cgroup.procs"
  done
  exec chroot "$R" env container=skiff-fleet /lib/systemd/systemd --system --unit=fleet.target
fi
exec chroot "$R" /usr/sbin/sshd -D -e -f /etc/ssh/fleet_sshd_config
`;

export async function startFleetHost(
  network: FleetNetwork,
  index: number,
  options: { noOverlay?: boolean; rootPassword?: string; systemd?: boolean } = {},
): Promise<FleetHost> {
  if (!existsSync('/usr/sbin/sshd'))
    throw new Error("fleet hosts need Debian's openssh-server: apt-get install openssh-server");
  const third = network.prefix.split('.')[2];
  const name = `fleet-${third}-${index}`;
  const netns = `skiff-${name}`;
  const address = `${network.prefix}.${10 + index}`;
  const outside = `skfv${third}h${index}`;
  const base = await mkdtemp(join(tmpdir(), `skiff-${name}-`));
  const rootDir = join(base, 'root');
  const keyDir = join(base, 'keys');
  const rootPassword = options.rootPassword ?? `fleet-${index}-${randomInt(1e9)}`;
  await mkdir(rootDir);
  await mkdir(keyDir, { mode: 0o700 });
  await writeFile(join(base, 'password'), rootPassword, { mode: 0o600 });
  await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(keyDir, 'ssh_host_ed25519_key')]);

  const cgroupName = `skiff-${name}`;
  await sh('ip', ['netns', 'add', netns]);
  let sshd: ChildProcess | undefined;
  let output = '';
  const teardown = async () => {
    // Every process of the host: those in its network namespace (sshd, the agent, its shims) and
    // those in its mount namespace.
    const pids = new Set<number>();
    const netPids = await sh('ip', ['netns', 'pids', netns]).catch(() => '');
    for (const pid of netPids.split('\n').filter(Boolean)) pids.add(Number(pid));
    const mountNs = sshd?.pid ? await readlink(`/proc/${sshd.pid}/ns/mnt`).catch(() => null) : null;
    if (mountNs) {
      for (const entry of await readdir('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        if ((await readlink(`/proc/${entry}/ns/mnt`).catch(() => null)) === mountNs) pids.add(Number(entry));
      }
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    await sh('ip', ['netns', 'del', netns]).catch(() => undefined);
    await sh('ip', ['link', 'del', outside]).catch(() => undefined);
    if (options.systemd) await removeCgroupTrees(cgroupName);
    await rm(base, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    await sh('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    await sh('ip', ['link', 'set', outside, 'master', network.bridge, 'up']);
    await sh('ip', ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', netns, 'route', 'add', 'default', 'via', network.gateway]);

    sshd = spawn(
      'nsenter',
      [
        `--net=/run/netns/${netns}`,
        'unshare',
        '--mount',
        '--propagation',
        'private',
        ...(options.systemd ? ['--pid', '--fork'] : []),
        'sh',
        '-c',
        HOST_SETUP,
        'fleet-host',
        rootDir,
        address,
        join(base, 'password'),
        keyDir,
        options.noOverlay ? 'yes' : 'no',
        options.systemd ? 'yes' : 'no',
        cgroupName,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    sshd.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    sshd.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (sshd.exitCode !== null) throw new Error(`sshd of ${name} exited: ${output}`);
      const listening = await sh('ip', ['netns', 'exec', netns, 'ss', '-ltn']).catch(() => '');
      if (listening.includes(`${address}:22`)) break;
      if (Date.now() > deadline) throw new Error(`sshd of ${name} did not listen on ${address}:22: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await teardown();
    throw error;
  }
  // Without systemd, the pid of sshd itself (nsenter and unshare exec, and the setup script ends
  // in exec); with it, systemd's, the one child of `unshare --fork`.
  const sshdPid = options.systemd
    ? Number((await readFile(`/proc/${sshd.pid}/task/${sshd.pid}/children`, 'utf8')).trim().split(' ')[0])
    : (sshd.pid as number);
  const path = (inside: string) => `/proc/${sshdPid}/root${inside}`;
  const inHost = async (args: string[]) =>
    (
      await run(
        'nsenter',
        ['-t', String(sshdPid), '-m', '-n', ...(options.systemd ? ['-p'] : []), '-r', '-w', '--', ...args],
        { timeout: 120_000 },
      )
    ).stdout;
  return {
    name,
    address,
    netns,
    rootPassword,
    sshdPid,
    path,
    fingerprint: async () => {
      const printed = await sh('ssh-keygen', ['-l', '-E', 'sha256', '-f', path('/etc/ssh/fleet_host_ed25519_key')]);
      return printed.split(' ')[1] ?? '';
    },
    changeHostKey: async () => {
      const fresh = join(base, 'keys', 'fresh_key');
      await rm(fresh, { force: true });
      await rm(`${fresh}.pub`, { force: true });
      await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}-reinstalled`, '-f', fresh]);
      await writeFile(path('/etc/ssh/fleet_host_ed25519_key'), await readFile(fresh), { mode: 0o600 });
      // SIGHUP: sshd re-executes itself and reads its host keys again.
      if (options.systemd) await inHost(['systemctl', 'reload', 'fleet-sshd.service']);
      else process.kill(sshdPid, 'SIGHUP');
      await new Promise((resolve) => setTimeout(resolve, 500));
    },
    systemd: options.systemd === true,
    run: inHost,
    pidFrom: async (pidfile) => {
      const text = await readFile(path(pidfile), 'utf8').catch(() => '');
      const pid = Number(text.trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    },
    close: teardown,
  };
}

/** Removes `<hierarchy>/<name>` and everything under it in every cgroup hierarchy, deepest first (its processes are gone). */
async function removeCgroupTrees(name: string): Promise<void> {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const hierarchies = v2 ? [''] : await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  for (const hierarchy of hierarchies) {
    const top = join('/sys/fs/cgroup', hierarchy, name);
    if (!existsSync(top)) continue;
    const dirs: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        if (entry.isDirectory()) await walk(join(dir, entry.name));
      }
      dirs.push(dir);
    };
    await walk(top);
    for (const dir of dirs) await rmdir(dir).catch(() => undefined);
  }
}
