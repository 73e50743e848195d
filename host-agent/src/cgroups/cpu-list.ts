/**
 * The list format of cpuset.cpus and cpuset.mems (and of Docker's --cpuset-cpus/--cpuset-mems):
 * comma-separated numbers and inclusive ranges, e.g. `0-3,8,10-11`.
 */

/** Large enough for any real machine, small enough that `0-4000000000` cannot exhaust memory. */
const MAX_LIST_ID = 65_535;

/** The sorted, distinct ids of a list, or an error message saying what is wrong with it. */
export function parseCpuList(text: string): { ids: number[] } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { ids: [] };
  const ids = new Set<number>();
  for (const part of trimmed.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) return { error: `"${part}" is neither a number nor a range such as 0-3` };
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) return { error: `the range "${part}" ends before it starts` };
    if (last > MAX_LIST_ID) return { error: `${last} is above the highest supported id ${MAX_LIST_ID}` };
    for (let id = first; id <= last; id++) ids.add(id);
  }
  return { ids: [...ids].sort((a, b) => a - b) };
}

/** The ids of a list the kernel wrote; an unreadable list counts as empty. */
export function cpuListIds(text: string): number[] {
  const parsed = parseCpuList(text);
  return 'ids' in parsed ? parsed.ids : [];
}
