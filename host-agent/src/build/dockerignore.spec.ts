import { describe, expect, it } from 'vitest';

import { DockerIgnore } from './dockerignore.js';

describe(DockerIgnore.name, () => {
  const ignore = DockerIgnore.parse(
    '# comment\n*.log\n/secret\nbuild/**/tmp\n!keep.log\nnode_modules\ndocs/*.md\n!docs/README.md\n',
  );

  it('excludes matching files and everything under a matching directory', () => {
    expect(ignore.excludes('debug.log')).toBe(true);
    expect(ignore.excludes('secret')).toBe(true);
    expect(ignore.excludes('secret/key.pem')).toBe(true);
    expect(ignore.excludes('node_modules/x/index.js')).toBe(true);
    expect(ignore.excludes('src/main.ts')).toBe(false);
  });

  it('keeps * within one path component and lets ** cross any number of them', () => {
    expect(ignore.excludes('sub/debug.log')).toBe(false);
    expect(ignore.excludes('build/tmp')).toBe(true);
    expect(ignore.excludes('build/a/b/tmp/file')).toBe(true);
  });

  it('takes paths back with !, the last matching pattern deciding', () => {
    expect(ignore.excludes('keep.log')).toBe(false);
    expect(ignore.excludes('docs/guide.md')).toBe(true);
    expect(ignore.excludes('docs/README.md')).toBe(false);
  });
});
