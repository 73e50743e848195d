import { describe, expect, it } from 'vitest';
import { mountPoints } from './mount-command-mounter.js';

describe(mountPoints.name, () => {
  it('reads the mount point of each line, decoding octal escapes', () => {
    const mountinfo = [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '42 22 0:39 / /var/lib/skiff/volumes/my\\040cache/_data rw,relatime - tmpfs tmpfs rw,size=1024k',
      '',
    ].join('\n');

    expect(mountPoints(mountinfo)).toEqual(['/', '/var/lib/skiff/volumes/my cache/_data']);
  });
});
