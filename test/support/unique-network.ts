import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';

/**
 * A bridge name, a /24 for the default bridge and a /20 pool around it for user networks, none of
 * which the host routes yet (10.192.0.0/11 holds 512 such blocks), and an nftables table.
 */
export function uniqueNetwork(): { bridgeName: string; bridgeSubnet: string; pool: string; table: string } {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (let attempt = 0; attempt < 50; attempt++) {
    const second = 192 + randomInt(32);
    if (second === 213) continue; // the fleet tests' 10.213.x.0/24 subnets (fleet-host.ts)
    const third = randomInt(16) * 16;
    if (routes.includes(`10.${second}.${third}.`) || routes.includes(`10.${second}.0.0/16`)) continue;
    const suffix = randomBytes(4).toString('hex');
    return {
      bridgeName: `skt${suffix}`,
      bridgeSubnet: `10.${second}.${third}.0/24`,
      pool: `10.${second}.${third}.0/20`,
      table: `skiff_test_${suffix}`,
    };
  }
  throw new Error('no free 10.192.0.0/11 block for a test engine');
}
