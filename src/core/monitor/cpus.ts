// How many CPUs this process may really use. os.cpus() counts the machine's cores, but a container
// given 2 CPUs on a 16-core host (a cgroup CPU quota) or a process pinned to some cores (its affinity,
// e.g. `taskset`) can use fewer: sizing the pool by os.cpus() there starts more agents than can run.
// The count is the smaller of the affinity (os.availableParallelism()) and the cgroup quota.
// The quota is read from every cgroup level from the process's own up to the root that this process
// sees (a parent's quota caps its children): cgroup v2 `cpu.max` ("200000 100000" = 2 CPUs, "max"
// = no limit), and on machines that still mount the v1 cpu controller `cpu.cfs_quota_us` over
// `cpu.cfs_period_us` (-1 = no limit). A quota of 1.5 CPUs counts as 2. Whatever cannot be read
// counts as no limit: this only ever lowers the count.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Where the process's cgroup membership and mounts are listed (fixtures in tests). */
export interface CgroupSources {
  /** /proc/self/cgroup: `<id>:<controllers>:<path>` per line; `0::<path>` is cgroup v2. */
  cgroupFile: string;
  /** /proc/self/mountinfo: where each cgroup hierarchy is mounted, and which part of it. */
  mountinfoFile: string;
}

const OWN_CGROUP: CgroupSources = { cgroupFile: '/proc/self/cgroup', mountinfoFile: '/proc/self/mountinfo' };

/** The CPUs this process may use: at least 1. */
export function usableCpuCount(sources: CgroupSources = OWN_CGROUP): number {
  return Math.max(1, Math.min(os.availableParallelism(), cgroupCpuLimit(sources) ?? Infinity));
}

/**
 * The most CPUs one process this one starts can keep busy: the machine's cores capped by the cgroup
 * quota, which every descendant inherits. The affinity does not count: a child may widen its own.
 */
export function descendantCpuLimit(sources: CgroupSources = OWN_CGROUP): number {
  return Math.max(1, Math.min(os.cpus().length || 1, cgroupCpuLimit(sources) ?? Infinity));
}

/** The smallest CPU quota over this process's cgroups and their parents, in whole CPUs; undefined when there is none. */
export function cgroupCpuLimit(sources: CgroupSources = OWN_CGROUP): number | undefined {
  const memberships = readLines(sources.cgroupFile).map(parseMembership).filter((entry) => entry !== undefined);
  const mounts = readLines(sources.mountinfoFile).map(parseCgroupMount).filter((mount) => mount !== undefined);
  let limit: number | undefined;
  for (const mount of mounts) {
    const membership = memberships.find((entry) => (mount.version === 2 ? entry.version === 2 : entry.version === 1 && entry.controllers.includes('cpu')));
    if (!membership) continue;
    for (const dir of levelsUpToMount(mount, membership.path)) {
      const cpus = mount.version === 2 ? readCpuMax(dir) : readCfsQuota(dir);
      if (cpus !== undefined) limit = Math.min(limit ?? Infinity, cpus);
    }
  }
  return limit;
}

interface Membership {
  version: 1 | 2;
  controllers: string[];
  path: string;
}

function parseMembership(line: string): Membership | undefined {
  const match = /^(\d+):([^:]*):(\/.*)$/.exec(line);
  if (!match) return undefined;
  const controllers = match[2] === '' ? [] : match[2].split(',');
  return { version: match[1] === '0' && controllers.length === 0 ? 2 : 1, controllers, path: match[3] };
}

interface CgroupMount {
  version: 1 | 2;
  /** The cgroup this mount shows at its mount point (not `/` in a container without its own cgroup namespace). */
  root: string;
  mountPoint: string;
}

/** A cgroup v2 mount, or a v1 mount holding the cpu controller; undefined for any other line. */
function parseCgroupMount(line: string): CgroupMount | undefined {
  // `<id> <parent> <major:minor> <root> <mount point> <options> [optional fields] - <type> <source> <super options>`
  const [before, after] = line.split(' - ');
  if (after === undefined) return undefined;
  const fields = before.split(' ');
  const [type, , superOptions = ''] = after.split(' ');
  if (fields.length < 5) return undefined;
  const mount = { root: unescapeMountPath(fields[3]), mountPoint: unescapeMountPath(fields[4]) };
  if (type === 'cgroup2') return { version: 2, ...mount };
  if (type === 'cgroup' && superOptions.split(',').includes('cpu')) return { version: 1, ...mount };
  return undefined;
}

/** mountinfo writes a space, tab, newline and backslash in a path as octal escapes (`\040`). */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The folders of the process's cgroup and of each parent, up to the mount point, as the mount shows them. */
function levelsUpToMount(mount: CgroupMount, cgroupPath: string): string[] {
  let dir = path.join(mount.mountPoint, belowMountRoot(mount.root, cgroupPath));
  if (!isWithin(dir, mount.mountPoint)) dir = mount.mountPoint; // `..` in a crafted path stays in the mount
  const levels = [dir];
  while (path.relative(mount.mountPoint, dir) !== '') {
    dir = path.dirname(dir);
    levels.push(dir);
  }
  return levels;
}

/** The cgroup's path below the mount's root; '' (the mount point itself) for one outside what the mount shows. */
function belowMountRoot(root: string, cgroupPath: string): string {
  if (root === '/') return cgroupPath;
  if (cgroupPath === root) return '';
  return cgroupPath.startsWith(`${root}/`) ? cgroupPath.slice(root.length) : '';
}

function isWithin(dir: string, mountPoint: string): boolean {
  const relative = path.relative(mountPoint, dir);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** cgroup v2: `cpu.max` is "<quota> <period>" in microseconds, or "max <period>" for no limit. */
function readCpuMax(dir: string): number | undefined {
  const [quota, period] = readText(path.join(dir, 'cpu.max'))?.trim().split(/\s+/) ?? [];
  return cpusOf(quota, period);
}

/** cgroup v1: `cpu.cfs_quota_us` (-1 for no limit) over `cpu.cfs_period_us`. */
function readCfsQuota(dir: string): number | undefined {
  const quota = readText(path.join(dir, 'cpu.cfs_quota_us'))?.trim();
  if (quota === undefined || quota === '-1') return undefined;
  return cpusOf(quota, readText(path.join(dir, 'cpu.cfs_period_us'))?.trim());
}

function cpusOf(quota: string | undefined, period: string | undefined): number | undefined {
  if (!quota || !period || !/^\d+$/.test(quota) || !/^\d+$/.test(period)) return undefined; // "max", or unreadable
  const quotaUs = Number(quota);
  const periodUs = Number(period);
  return quotaUs > 0 && periodUs > 0 ? Math.ceil(quotaUs / periodUs) : undefined;
}

function readLines(file: string): string[] {
  return readText(file)?.split('\n') ?? [];
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined; // no such controller file, or not readable here: no limit known
  }
}
